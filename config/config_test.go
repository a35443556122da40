package config

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(s))
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return c
}

func words(m map[string]bool) []string {
	var out []string
	for w, ok := range m {
		if ok {
			out = append(out, w)
		}
	}
	sort.Strings(out)
	return out
}

func TestDefaults(t *testing.T) {
	d := Default()
	if d.MinSessionTimeout != -1 || d.MaxSessionTimeout != -1 || d.DataLogDir != "" {
		t.Fatalf("Default should leave derived values unset: %+v", d)
	}
	c := mustParse(t, "")
	tests := []struct {
		name      string
		got, want any
	}{
		{"TickTime", c.TickTime, 3000},
		{"DataDir", c.DataDir, "./data"},
		{"DataLogDir", c.DataLogDir, "./data"},
		{"ClientPort", c.ClientPort, 2181},
		{"ClientPortAddress", c.ClientPortAddress, ""},
		{"MaxClientCnxns", c.MaxClientCnxns, 60},
		{"MinSessionTimeout", c.MinSessionTimeout, 6000},
		{"MaxSessionTimeout", c.MaxSessionTimeout, 60000},
		{"GlobalOutstandingLimit", c.GlobalOutstandingLimit, 1000},
		{"JuteMaxBuffer", c.JuteMaxBuffer, 0xfffff},
		{"FourLetterWords", words(c.FourLetterWords), []string{"srvr"}},
		{"ExtendedTypesEnabled", c.ExtendedTypesEnabled, false},
		{"SuperDigest", c.SuperDigest, ""},
		{"SkipACL", c.SkipACL, false},
		{"SnapCount", c.SnapCount, 100000},
		{"SnapSizeLimitInKb", c.SnapSizeLimitInKb, int64(4194304)},
		{"PreAllocSizeKb", c.PreAllocSizeKb, int64(65536)},
		{"ForceSync", c.ForceSync, true},
		{"FsyncWarningThresholdMs", c.FsyncWarningThresholdMs, 1000},
		{"TxnLogSizeLimitInKb", c.TxnLogSizeLimitInKb, int64(-1)},
		{"MaxBatchSize", c.MaxBatchSize, 1000},
		{"SnapshotCompression", c.SnapshotCompression, ""},
		{"SnapRetainCount", c.SnapRetainCount, 3},
		{"PurgeInterval", c.PurgeInterval, 0},
		{"ContainerCheckIntervalMs", c.ContainerCheckIntervalMs, 60000},
		{"ContainerMaxPerMinute", c.ContainerMaxPerMinute, 10000},
		{"ContainerMaxNeverUsedIntervalMs", c.ContainerMaxNeverUsedIntervalMs, int64(0)},
		{"ReadOnlyModeEnabled", c.ReadOnlyModeEnabled, false},
		{"Unknown", len(c.Unknown), 0},
		{"Raw", len(c.Raw), 0},
		{"Warnings", len(c.Warnings), 0},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
	if err := Default().Resolve(); err != nil {
		t.Errorf("Default().Resolve(): %v", err)
	}
}

const fullConfig = `
tickTime=2500
dataDir=/var/lib/zk
dataLogDir=/var/log/zk
clientPort=2281
clientPortAddress=127.0.0.1
maxClientCnxns=0
minSessionTimeout=3000
maxSessionTimeout=90000
globalOutstandingLimit=500
jute.maxbuffer=4194304
4lw.commands.whitelist=stat, RUOK ,conf
extendedTypesEnabled=true
DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
skipACL=yes
snapCount=5000
snapSizeLimitInKb=1024
preAllocSize=1024
forceSync=no
fsync.warningthresholdms=250
zookeeper.txnLogSizeLimitInKb=2048
zookeeper.maxBatchSize=77
zookeeper.snapshot.compression.method=snappy
autopurge.snapRetainCount=5
autopurge.purgeInterval=24
znode.container.checkIntervalMs=1000
znode.container.maxPerMinute=50
znode.container.maxNeverUsedIntervalMs=3600000
readonlymode.enabled=true
`

func TestEveryKey(t *testing.T) {
	c := mustParse(t, fullConfig)
	tests := []struct {
		name      string
		got, want any
	}{
		{"TickTime", c.TickTime, 2500},
		{"DataDir", c.DataDir, "/var/lib/zk"},
		{"DataLogDir", c.DataLogDir, "/var/log/zk"},
		{"ClientPort", c.ClientPort, 2281},
		{"ClientPortAddress", c.ClientPortAddress, "127.0.0.1"},
		{"MaxClientCnxns", c.MaxClientCnxns, 0},
		{"MinSessionTimeout", c.MinSessionTimeout, 3000},
		{"MaxSessionTimeout", c.MaxSessionTimeout, 90000},
		{"GlobalOutstandingLimit", c.GlobalOutstandingLimit, 500},
		{"JuteMaxBuffer", c.JuteMaxBuffer, 4194304},
		{"FourLetterWords", words(c.FourLetterWords), []string{"conf", "isro", "ruok", "srvr", "stat"}},
		{"ExtendedTypesEnabled", c.ExtendedTypesEnabled, true},
		{"SuperDigest", c.SuperDigest, "super:D/InIHSb7yEEbrWz8b9l71RjZJU="},
		{"SkipACL", c.SkipACL, true},
		{"SnapCount", c.SnapCount, 5000},
		{"SnapSizeLimitInKb", c.SnapSizeLimitInKb, int64(1024)},
		{"PreAllocSizeKb", c.PreAllocSizeKb, int64(1024)},
		{"ForceSync", c.ForceSync, false},
		{"FsyncWarningThresholdMs", c.FsyncWarningThresholdMs, 250},
		{"TxnLogSizeLimitInKb", c.TxnLogSizeLimitInKb, int64(2048)},
		{"MaxBatchSize", c.MaxBatchSize, 77},
		{"SnapshotCompression", c.SnapshotCompression, "snappy"},
		{"SnapRetainCount", c.SnapRetainCount, 5},
		{"PurgeInterval", c.PurgeInterval, 24},
		{"ContainerCheckIntervalMs", c.ContainerCheckIntervalMs, 1000},
		{"ContainerMaxPerMinute", c.ContainerMaxPerMinute, 50},
		{"ContainerMaxNeverUsedIntervalMs", c.ContainerMaxNeverUsedIntervalMs, int64(3600000)},
		{"ReadOnlyModeEnabled", c.ReadOnlyModeEnabled, true},
		{"Unknown", len(c.Unknown), 0},
		{"Raw", len(c.Raw), 28},
		{"Raw[4lw]", c.Raw["4lw.commands.whitelist"], "stat, RUOK ,conf"},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestKeyAliases(t *testing.T) {
	tests := []struct {
		in   string
		get  func(*Config) any
		want any
	}{
		{"zookeeper.snapCount=10", func(c *Config) any { return c.SnapCount }, 10},
		{"txnLogSizeLimitInKb=5", func(c *Config) any { return c.TxnLogSizeLimitInKb }, int64(5)},
		{"maxBatchSize=5", func(c *Config) any { return c.MaxBatchSize }, 5},
		{"snapshot.compression.method=GZ", func(c *Config) any { return c.SnapshotCompression }, "gz"},
		{"zookeeper.4lw.commands.whitelist=ruok", func(c *Config) any { return c.FourLetterWordAllowed("ruok") }, true},
		{"zookeeper.jute.maxbuffer=0x100", func(c *Config) any { return c.JuteMaxBuffer }, 256},
		{"zookeeper.DigestAuthenticationProvider.superDigest=super:x", func(c *Config) any { return c.SuperDigest }, "super:x"},
		{"zookeeper.readonlymode.enabled=TRUE", func(c *Config) any { return c.ReadOnlyModeEnabled }, true},
		// QuorumPeerConfig keys have no prefixed form.
		{"zookeeper.tickTime=5", func(c *Config) any { return c.Unknown["zookeeper.tickTime"] }, "5"},
	}
	for _, tt := range tests {
		c := mustParse(t, tt.in)
		if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestDerivedTimeouts(t *testing.T) {
	tests := []struct {
		in       string
		min, max int
	}{
		{"tickTime=2000", 4000, 40000},
		{"tickTime=3000", 6000, 60000},
		{"tickTime=2000\nminSessionTimeout=1000", 1000, 40000},
		{"tickTime=2000\nmaxSessionTimeout=5000", 4000, 5000},
		{"tickTime=2000\nminSessionTimeout=-1\nmaxSessionTimeout=-1", 4000, 40000},
	}
	for _, tt := range tests {
		c := mustParse(t, tt.in)
		if c.MinSessionTimeout != tt.min || c.MaxSessionTimeout != tt.max {
			t.Errorf("%q: timeouts %d/%d, want %d/%d", tt.in, c.MinSessionTimeout, c.MaxSessionTimeout, tt.min, tt.max)
		}
	}
}

func TestResolveAgain(t *testing.T) {
	c := mustParse(t, "tickTime=2000\nmaxSessionTimeout=50000\ndataDir=/a")
	c.TickTime = 1000
	c.DataDir = "/b"
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if c.MinSessionTimeout != 2000 || c.MaxSessionTimeout != 50000 || c.DataLogDir != "/b" {
		t.Errorf("after re-resolve: min %d max %d dataLogDir %q", c.MinSessionTimeout, c.MaxSessionTimeout, c.DataLogDir)
	}
	c = mustParse(t, "dataDir=/a\ndataLogDir=/l")
	c.DataDir = "/b"
	if err := c.Resolve(); err != nil || c.DataLogDir != "/l" {
		t.Errorf("explicit dataLogDir changed to %q (%v)", c.DataLogDir, err)
	}
}

func TestSyntax(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"equals", "a=1", map[string]string{"a": "1"}},
		{"colon", "a:1", map[string]string{"a": "1"}},
		{"space", "a 1", map[string]string{"a": "1"}},
		{"spaces around equals", "  a  =  1  ", map[string]string{"a": "1"}},
		{"spaces around colon", "\ta\t:\t1\t", map[string]string{"a": "1"}},
		{"only first separator", "a=b=c", map[string]string{"a": "b=c"}},
		{"space then equals in value", "a = =b", map[string]string{"a": "=b"}},
		{"colon value", "a=host:2181", map[string]string{"a": "host:2181"}},
		{"no value", "a", map[string]string{"a": ""}},
		{"empty value", "a=", map[string]string{"a": ""}},
		{"hash comment", "# a=1\nb=2", map[string]string{"b": "2"}},
		{"bang comment", "! a=1\nb=2", map[string]string{"b": "2"}},
		{"indented comment", "   # a=1\nb=2", map[string]string{"b": "2"}},
		{"hash inside value", "a=1#2", map[string]string{"a": "1#2"}},
		{"blank lines", "\n\n  \t\na=1\n\n", map[string]string{"a": "1"}},
		{"crlf", "a=1\r\nb=2\r\n", map[string]string{"a": "1", "b": "2"}},
		{"cr only", "a=1\rb=2", map[string]string{"a": "1", "b": "2"}},
		{"later wins", "a=1\nb=2\na=3", map[string]string{"a": "3", "b": "2"}},
		{"continuation", "a=x,\\\n    y,\\\n  z\nb=2", map[string]string{"a": "x,y,z", "b": "2"}},
		{"escaped backslash is not continuation", "a=x\\\\\nb=2", map[string]string{"a": `x\`, "b": "2"}},
		{"comment does not continue", "#a\\\nb=2", map[string]string{"b": "2"}},
		{"escaped separator in key", `a\=b\ c=1`, map[string]string{"a=b c": "1"}},
		{"escapes", `a=\u0041\t\q`, map[string]string{"a": "A\tq"}},
		{"surrogate pair", `a=\ud83d\ude00`, map[string]string{"a": "\U0001F600"}},
		{"utf8", "a=dätä", map[string]string{"a": "dätä"}},
		{"bom", "\ufeffa=1", map[string]string{"a": "1"}},
		{"windows path", `a=C:\\zk\\data`, map[string]string{"a": `C:\zk\data`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.in)
			if !reflect.DeepEqual(c.Raw, tt.want) {
				t.Errorf("Raw = %#v, want %#v", c.Raw, tt.want)
			}
		})
	}
	if _, err := Parse(strings.NewReader("a=1\nb=\\u12")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad \\u escape: err = %v", err)
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		in   string
		want string // substring of the error
	}{
		{"tickTime=abc", `config: line 1: tickTime: "abc" is not an integer`},
		{"tickTime=0", "config: tickTime (0) must be positive"},
		{"tickTime=-5", "tickTime"},
		{"tickTime=99999999999", `config: line 1: tickTime: "99999999999" is out of range`},
		{"tickTime=1.5", "tickTime"},
		{"tickTime=0x", "tickTime"},
		{"tickTime=--1", "tickTime"},
		{"clientPort=70000", "config: clientPort (70000) must be between 0 and 65535"},
		{"clientPort=-1", "clientPort"},
		{"clientPort=x", "clientPort"},
		{"clientPort=0", "clientPort is not set"},
		{"clientPort=0\nclientPortAddress=127.0.0.1", "clientPortAddress is set but clientPort is not set"},
		{"maxClientCnxns=-1", "maxClientCnxns"},
		{"minSessionTimeout=10000\nmaxSessionTimeout=4000",
			"config: minSessionTimeout (10000) must not be larger than maxSessionTimeout (4000)"},
		{"tickTime=2000\nminSessionTimeout=50000", "minSessionTimeout (50000) must not be larger than maxSessionTimeout (40000)"},
		{"maxSessionTimeout=abc", "maxSessionTimeout"},
		{"jute.maxbuffer=0", "jute.maxbuffer"},
		{"jute.maxbuffer=-1", "jute.maxbuffer"},
		{"globalOutstandingLimit=0", "globalOutstandingLimit"},
		{"dataDir=", "dataDir is not set"},
		{"forceSync=maybe", `config: line 1: forceSync: "maybe" is not a boolean`},
		{"skipACL=1", "skipACL"},
		{"extendedTypesEnabled=yes", "extendedTypesEnabled"},
		{"readonlymode.enabled=on", "readonlymode.enabled"},
		{"zookeeper.snapshot.compression.method=lz4", "zookeeper.snapshot.compression.method"},
		{"snapshot.compression.method=lz4", "snapshot.compression.method"},
		{"zookeeper.snapCount=lots", "zookeeper.snapCount"},
		{"snapSizeLimitInKb=big", "snapSizeLimitInKb"},
		{"preAllocSize=-1", "preAllocSize"},
		{"znode.container.checkIntervalMs=0", "znode.container.checkIntervalMs"},
		{"znode.container.maxPerMinute=0", "znode.container.maxPerMinute"},
		{"autopurge.purgeInterval=daily", "autopurge.purgeInterval"},
	}
	for _, tt := range tests {
		_, err := Parse(strings.NewReader(tt.in))
		if err == nil {
			t.Errorf("%q: no error, want %q", tt.in, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "config: ") {
			t.Errorf("%q: error %q, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestBooleansAndClamps(t *testing.T) {
	tests := []struct {
		in   string
		get  func(*Config) any
		want any
	}{
		{"forceSync=yes", func(c *Config) any { return c.ForceSync }, true},
		{"forceSync=NO", func(c *Config) any { return c.ForceSync }, false},
		{"forceSync=false", func(c *Config) any { return c.ForceSync }, false},
		{"skipACL=True", func(c *Config) any { return c.SkipACL }, true},
		{"skipACL=no", func(c *Config) any { return c.SkipACL }, false},
		{"extendedTypesEnabled=TRUE", func(c *Config) any { return c.ExtendedTypesEnabled }, true},
		{"snapCount=1", func(c *Config) any { return c.SnapCount }, 2},
		{"snapCount=-10", func(c *Config) any { return c.SnapCount }, 2},
		{"autopurge.snapRetainCount=1", func(c *Config) any { return c.SnapRetainCount }, 3},
		{"tickTime=abc\ntickTime=2000", func(c *Config) any { return c.TickTime }, 2000},
		{"jute.maxbuffer=#10", func(c *Config) any { return c.JuteMaxBuffer }, 16},
		{"tickTime=+0100", func(c *Config) any { return c.TickTime }, 100},
		{"clientPort=0\nsecureClientPort=2282", func(c *Config) any { return c.ClientPort }, 0},
	}
	for _, tt := range tests {
		c := mustParse(t, tt.in)
		if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %#v, want %#v", tt.in, got, tt.want)
		}
	}
	c := mustParse(t, "snapCount=1\nautopurge.snapRetainCount=0")
	if len(c.Warnings) != 2 {
		t.Errorf("Warnings = %q, want two", c.Warnings)
	}
}

func TestWhitelist(t *testing.T) {
	tests := []struct {
		in      string
		allowed []string
		denied  []string
	}{
		{"", []string{"srvr"}, []string{"ruok", "stat", "isro", "conf", "mntr"}},
		{"4lw.commands.whitelist=*", KnownFourLetterWords, []string{"xxxx", ""}},
		{"4lw.commands.whitelist= ruok , *", KnownFourLetterWords, nil},
		{"4lw.commands.whitelist=ruok,stat", []string{"ruok", "stat", "srvr", "RUOK", " stat "}, []string{"conf", "isro"}},
		{"4lw.commands.whitelist=Mntr,,  CONS ", []string{"mntr", "cons", "srvr"}, []string{"ruok"}},
		{"4lw.commands.whitelist=ruok,bogus", []string{"ruok"}, []string{"bogus"}},
		{"4lw.commands.whitelist=", []string{"srvr"}, []string{"ruok"}},
		{"readonlymode.enabled=true", []string{"srvr", "isro"}, []string{"ruok"}},
		{"4lw.commands.whitelist=ruok\n4lw.commands.whitelist=stat", []string{"stat"}, []string{"ruok"}},
	}
	for _, tt := range tests {
		c := mustParse(t, tt.in)
		for _, w := range tt.allowed {
			if !c.FourLetterWordAllowed(w) {
				t.Errorf("%q: %q not allowed", tt.in, w)
			}
		}
		for _, w := range tt.denied {
			if c.FourLetterWordAllowed(w) {
				t.Errorf("%q: %q allowed", tt.in, w)
			}
		}
		for w := range c.FourLetterWords {
			if !isKnownWord(w) {
				t.Errorf("%q: unknown word %q in FourLetterWords", tt.in, w)
			}
		}
	}
	c := mustParse(t, "4lw.commands.whitelist=ruok,bogus")
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "bogus") {
		t.Errorf("Warnings = %q", c.Warnings)
	}
	// A zero Config allows only srvr.
	var z Config
	if !z.FourLetterWordAllowed("srvr") || z.FourLetterWordAllowed("ruok") {
		t.Error("zero Config whitelist")
	}
}

func TestUnknownKeys(t *testing.T) {
	c := mustParse(t, `
tickTime=2000
initLimit=10
syncLimit=5
standaloneEnabled=true
admin.notAKey=8080
zookeeper.notAThing=1
zookeeper.initLimit=3
`)
	want := map[string]string{
		"admin.notAKey":       "8080",
		"zookeeper.notAThing": "1",
		// QuorumPeerConfig keys have no prefixed form.
		"zookeeper.initLimit": "3",
	}
	if !reflect.DeepEqual(c.Unknown, want) {
		t.Errorf("Unknown = %#v, want %#v", c.Unknown, want)
	}
	if len(c.Raw) != len(want)+4 || c.Raw["tickTime"] != "2000" {
		t.Errorf("Raw = %#v", c.Raw)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	c, err := Load(write("ok.cfg", "tickTime=2000\ndataDir=data/zk\nclientPort=2182\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "data/zk" || c.DataLogDir != "data/zk" || c.ClientPort != 2182 ||
		c.MinSessionTimeout != 4000 || c.MaxSessionTimeout != 40000 {
		t.Errorf("Load: %+v", c)
	}

	for _, body := range []string{"tickTime=2000\n", "dataDir=\n", "dataDir=  \n"} {
		_, err := Load(write("nodir.cfg", body))
		if err == nil || err.Error() != "config: dataDir is not set" {
			t.Errorf("Load(%q): err = %v, want dataDir is not set", body, err)
		}
	}

	if _, err := Load(write("bad.cfg", "dataDir=/x\ntickTime=abc\n")); err == nil ||
		err.Error() != `config: line 2: tickTime: "abc" is not an integer` {
		t.Errorf("Load bad tickTime: err = %v", err)
	}

	if _, err := Load(filepath.Join(dir, "missing.cfg")); err == nil {
		t.Error("Load of missing file succeeded")
	}
}
