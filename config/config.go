// Package config reads zoo.cfg style configuration files.
//
// The file format follows java.util.Properties (comments introduced by '#'
// or '!', "key=value", "key:value" or "key value", backslash escapes and
// line continuations) and the key names and defaults follow ZooKeeper's
// standalone server. Keys that ZooKeeper itself reads as Java system
// properties (for example snapCount or 4lw.commands.whitelist) are accepted
// both in their bare form and with a "zookeeper." prefix, since ZooKeeper
// turns every zoo.cfg key it does not know into the system property
// "zookeeper."+key.
//
// Ensemble configuration (server.N lines, myid, initLimit and the other
// keys of ZooKeeper's QuorumPeerConfig) is in quorum.go; QuorumKeys lists
// the keys read there.
package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Config is the parsed server configuration.
type Config struct {
	TickTime                        int             // "tickTime", ms
	DataDir                         string          // "dataDir"
	DataLogDir                      string          // "dataLogDir", defaults to DataDir
	ClientPort                      int             // "clientPort"
	ClientPortAddress               string          // "clientPortAddress", "" = all interfaces
	MaxClientCnxns                  int             // "maxClientCnxns", 0 = unlimited
	MinSessionTimeout               int             // "minSessionTimeout", negative = 2*TickTime
	MaxSessionTimeout               int             // "maxSessionTimeout", negative = 20*TickTime
	GlobalOutstandingLimit          int             // "globalOutstandingLimit"
	JuteMaxBuffer                   int             // "jute.maxbuffer"
	FourLetterWords                 map[string]bool // "4lw.commands.whitelist"
	ExtendedTypesEnabled            bool            // "extendedTypesEnabled"
	SuperDigest                     string          // "DigestAuthenticationProvider.superDigest"
	SkipACL                         bool            // "skipACL"
	SnapCount                       int             // "snapCount", at least 2
	SnapSizeLimitInKb               int64           // "snapSizeLimitInKb"
	PreAllocSizeKb                  int64           // "preAllocSize", KiB
	ForceSync                       bool            // "forceSync"
	FsyncWarningThresholdMs         int             // "fsync.warningthresholdms"
	TxnLogSizeLimitInKb             int64           // "zookeeper.txnLogSizeLimitInKb", -1 = no limit
	MaxBatchSize                    int             // "zookeeper.maxBatchSize"
	SnapshotCompression             string          // "zookeeper.snapshot.compression.method": "", "gz" or "snappy"
	SnapRetainCount                 int             // "autopurge.snapRetainCount", at least 3
	PurgeInterval                   int             // "autopurge.purgeInterval", hours, 0 = disabled
	ContainerCheckIntervalMs        int             // "znode.container.checkIntervalMs"
	ContainerMaxPerMinute           int             // "znode.container.maxPerMinute"
	ContainerMaxNeverUsedIntervalMs int64           // "znode.container.maxNeverUsedIntervalMs"
	ReadOnlyModeEnabled             bool            // "readonlymode.enabled"

	// Ensemble settings (ZooKeeper's QuorumPeerConfig and the system
	// properties its quorum code reads); see quorum.go and QuorumKeys.
	Servers                         []QuorumServer // "server.N" lines, sorted by ID
	MyID                            int64          // from dataDir/myid; -1 = not known
	InitLimit                       int            // "initLimit", ticks; required in an ensemble
	SyncLimit                       int            // "syncLimit", ticks; required in an ensemble
	ConnectToLearnerMasterLimit     int            // "connectToLearnerMasterLimit", ticks; 0 = InitLimit
	ElectionAlg                     int            // "electionAlg", only 3
	PeerType                        PeerType       // "peerType"; after Resolve the server list's role for MyID
	QuorumListenOnAllIPs            bool           // "quorumListenOnAllIPs"
	SyncEnabled                     bool           // "syncEnabled" (observers log txns); "zookeeper.observer.syncEnabled" overrides
	StandaloneEnabled               bool           // "standaloneEnabled"
	ReconfigEnabled                 bool           // "reconfigEnabled"
	ObserverMasterPort              int            // "observerMasterPort", 0 = off
	LocalSessionsEnabled            bool           // "localSessionsEnabled"
	LocalSessionsUpgradingEnabled   bool           // "localSessionsUpgradingEnabled"
	MultiAddressEnabled             bool           // "multiAddress.enabled" (multi-address lines are refused anyway)
	CnxTimeoutMs                    int            // "zookeeper.cnxTimeout", election connect timeout
	QuorumCnxnTimeoutMs             int            // "zookeeper.quorumCnxnTimeoutMs", -1 = tickTime*syncLimit
	LeaderServes                    bool           // "zookeeper.leaderServes": false only for exactly "no"
	ElectionPortBindRetry           int            // "zookeeper.electionPortBindRetry", 0 = forever
	MinNotificationIntervalMs       int            // "zookeeper.fastleader.minNotificationInterval"
	MaxNotificationIntervalMs       int            // "zookeeper.fastleader.maxNotificationInterval"
	LeaderConnectDelayDuringRetryMs int            // "zookeeper.leaderConnectDelayDuringRetryMs"
	ObserverReconnectDelayMs        int64          // "zookeeper.observer.reconnectDelayMs"
	ObserverElectionDelayMs         int64          // "zookeeper.observer.election.DelayMs"
	TCPKeepAlive                    bool           // "zookeeper.tcpKeepAlive" (quorum sockets)
	ForceSnapshotSync               bool           // "zookeeper.forceSnapshotSync"
	MaxConcurrentSnapSyncs          int            // "zookeeper.leader.maxConcurrentSnapSyncs"
	MaxConcurrentDiffSyncs          int            // "zookeeper.leader.maxConcurrentDiffSyncs"
	MaxTimeToWaitForEpochMs         int            // "zookeeper.leader.maxTimeToWaitForEpoch", -1 = wait forever

	// TLS settings (see tls.go and the package tlsconf).
	SecureClientPort         int         // "secureClientPort", 0 = none
	SecureClientPortAddress  string      // "secureClientPortAddress", "" = all interfaces
	ClientPortUnification    bool        // "client.portUnification": the plain port also takes TLS
	ClientCertReload         bool        // "client.certReload" (ZooKeeper 3.9); client stores are reloaded anyway
	SSLQuorum                bool        // "sslQuorum": election and ZAB over TLS
	QuorumPortUnification    bool        // "portUnification": quorum ports also take the other kind
	SSLQuorumReloadCertFiles bool        // "sslQuorumReloadCertFiles"
	X509SuperUser            string      // "X509AuthenticationProvider.superUser"
	ClientTLS                TLSSettings // "ssl.*"
	QuorumTLS                TLSSettings // "ssl.quorum.*"

	// AdminServer settings (admin.* keys); see admin.go. The zero value
	// is ZooKeeper's defaults.
	Admin AdminConfig

	// SASL is the SASL DIGEST-MD5 settings for clients (sasl.go);
	// ResolveSASL completes them.
	SASL SASLConfig

	// Storage: where the tree lives (storage.go). The zero values are the
	// defaults: memory, a 256 MiB Pebble block cache, Pebble's WAL off.
	StorageEngine     string // "storageEngine": "memory" or "pebble"
	PebbleCacheSizeMB int64  // "pebbleCacheSizeMB"
	PebbleWALOn       bool   // "pebbleWAL=true"

	// Metrics is the "metricsProvider.*" keys (metrics.go).
	Metrics MetricsConfig

	// Unknown holds keys that are not recognised. The caller may log them;
	// they are not an error.
	Unknown map[string]string
	// Raw holds every key/value pair as read, after trimming.
	Raw map[string]string
	// Warnings collects non-fatal remarks made while parsing and resolving
	// (ignored whitelist words, values that were raised to a minimum).
	Warnings []string

	// Values filled in by the last Resolve, so that a later Resolve (after
	// the caller changed TickTime or DataDir) derives them again.
	autoMin, autoMax int
	autoLogDir       string
	hasAutoLogDir    bool

	// order lists the keys in the order of their first occurrence in the
	// file (see QuorumConfigString); observerSync is the value of
	// "zookeeper.observer.syncEnabled" if given.
	order        []string
	observerSync *bool
	// parseWarnings are the warnings made while reading the file; Resolve
	// starts from them, so resolving again does not repeat its own.
	parseWarnings []string
	// myidFromFile: MyID was read from dataDir/myid. autoClient*: the
	// client address last taken from this server's line.
	myidFromFile   bool
	hasAutoClient  bool
	autoClientPort int
	autoClientAddr string
	// declaredPeer is the peerType configured; autoPeer what Resolve last
	// put into PeerType from the server list.
	declaredPeer PeerType
	hasAutoPeer  bool
	autoPeer     PeerType
}

// KnownFourLetterWords lists the four letter words the whitelist may name.
var KnownFourLetterWords = []string{"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"}

// Default returns a configuration with every default applied and DataDir
// set to "./data". Derived values (session timeouts, DataLogDir) are left
// unset until Resolve is called.
func Default() *Config {
	return &Config{
		TickTime:                 3000,
		DataDir:                  "./data",
		ClientPort:               2181,
		MaxClientCnxns:           60,
		MinSessionTimeout:        -1,
		MaxSessionTimeout:        -1,
		GlobalOutstandingLimit:   1000,
		JuteMaxBuffer:            0xfffff,
		FourLetterWords:          map[string]bool{"srvr": true},
		SnapCount:                100000,
		SnapSizeLimitInKb:        4194304,
		PreAllocSizeKb:           65536,
		ForceSync:                true,
		FsyncWarningThresholdMs:  1000,
		TxnLogSizeLimitInKb:      -1,
		MaxBatchSize:             1000,
		SnapRetainCount:          3,
		ContainerCheckIntervalMs: 60000,
		ContainerMaxPerMinute:    10000,

		MyID:                            -1,
		ElectionAlg:                     3,
		SyncEnabled:                     true,
		StandaloneEnabled:               true,
		CnxTimeoutMs:                    5000,
		QuorumCnxnTimeoutMs:             -1,
		LeaderServes:                    true,
		ElectionPortBindRetry:           3,
		MinNotificationIntervalMs:       200,
		MaxNotificationIntervalMs:       60000,
		LeaderConnectDelayDuringRetryMs: 100,
		ObserverElectionDelayMs:         200,
		MaxConcurrentSnapSyncs:          10,
		MaxConcurrentDiffSyncs:          100,
		MaxTimeToWaitForEpochMs:         -1,

		Unknown: map[string]string{},
		Raw:     map[string]string{},
	}
}

// Load reads and parses the file at path. Unlike Parse it requires dataDir
// to be set. A relative dataDir is kept as written.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := parse(f)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.Raw["dataDir"]) == "" {
		return nil, fmt.Errorf("config: dataDir is not set")
	}
	if err := c.Resolve(); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse reads properties from r on top of Default() and returns the
// resolved and validated configuration. Later keys override earlier ones.
func Parse(r io.Reader) (*Config, error) {
	c, err := parse(r)
	if err != nil {
		return nil, err
	}
	if err := c.Resolve(); err != nil {
		return nil, err
	}
	return c, nil
}

func parse(r io.Reader) (*Config, error) {
	all, err := readProperties(r)
	if err != nil {
		return nil, err
	}
	pairs, order, err := dedup(all)
	if err != nil {
		return nil, err
	}
	c := Default()
	c.order = order
	for _, p := range pairs {
		c.Raw[p.key] = p.value
		if handled, err := c.setQuorumKey(p); handled || err != nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		opt := lookup(p.key)
		if opt == nil {
			c.Unknown[p.key] = p.value
			continue
		}
		if err := opt.set(c, p.key, p.value); err != nil {
			return nil, fmt.Errorf("config: line %d: %s", p.line, strings.TrimPrefix(err.Error(), "config: "))
		}
	}
	sortServers(c.Servers)
	c.parseWarnings = append([]string(nil), c.Warnings...)
	return c, nil
}

// dedup keeps the last value of every key, at the position of its last
// occurrence, as java.util.Properties does. It also returns the keys in the
// order of their first occurrence (the order in which ZooKeeper's Properties
// object first saw them), and refuses a server.N key given twice.
func dedup(all []pair) (pairs []pair, order []string, err error) {
	last := map[string]int{}
	for i, p := range all {
		if j, ok := last[p.key]; ok {
			if strings.HasPrefix(p.key, "server.") {
				return nil, nil, fmt.Errorf("config: line %d: %s is given twice (also on line %d)", p.line, p.key, all[j].line)
			}
		} else {
			order = append(order, p.key)
		}
		last[p.key] = i
	}
	for i, p := range all {
		if last[p.key] == i {
			pairs = append(pairs, p)
		}
	}
	return pairs, order, nil
}

// Resolve fills in derived defaults (session timeouts from TickTime,
// DataLogDir from DataDir, the always-enabled four letter words) and
// validates the configuration. It may be called again after fields were
// changed; values it derived earlier are derived again.
func (c *Config) Resolve() error {
	c.Warnings = append([]string(nil), c.parseWarnings...)
	if c.TickTime <= 0 {
		return fmt.Errorf("config: tickTime (%d) must be positive", c.TickTime)
	}
	if c.DataDir == "" {
		return fmt.Errorf("config: dataDir is not set")
	}
	if c.DataLogDir == "" || (c.hasAutoLogDir && c.DataLogDir == c.autoLogDir) {
		c.DataLogDir = c.DataDir
		c.autoLogDir, c.hasAutoLogDir = c.DataDir, true
	}
	if err := c.resolveEnsemble(); err != nil {
		return err
	}
	if c.ClientPort < 0 || c.ClientPort > 65535 {
		return fmt.Errorf("config: clientPort (%d) must be between 0 and 65535", c.ClientPort)
	}
	if c.ClientPort == 0 {
		if c.ClientPortAddress != "" {
			return fmt.Errorf("config: clientPortAddress is set but clientPort is not set")
		}
		if sp := strings.TrimSpace(c.Raw["secureClientPort"]); sp == "" || sp == "0" {
			return fmt.Errorf("config: clientPort is not set and there is no secureClientPort")
		}
	}
	if c.MaxClientCnxns < 0 {
		return fmt.Errorf("config: maxClientCnxns (%d) must not be negative", c.MaxClientCnxns)
	}
	if c.MinSessionTimeout < 0 || (c.autoMin != 0 && c.MinSessionTimeout == c.autoMin) {
		c.MinSessionTimeout = 2 * c.TickTime
		c.autoMin = c.MinSessionTimeout
	}
	if c.MaxSessionTimeout < 0 || (c.autoMax != 0 && c.MaxSessionTimeout == c.autoMax) {
		c.MaxSessionTimeout = 20 * c.TickTime
		c.autoMax = c.MaxSessionTimeout
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		return fmt.Errorf("config: minSessionTimeout (%d) must not be larger than maxSessionTimeout (%d)",
			c.MinSessionTimeout, c.MaxSessionTimeout)
	}
	if c.GlobalOutstandingLimit <= 0 {
		return fmt.Errorf("config: globalOutstandingLimit (%d) must be positive", c.GlobalOutstandingLimit)
	}
	if c.JuteMaxBuffer <= 0 {
		return fmt.Errorf("config: jute.maxbuffer (%d) must be positive", c.JuteMaxBuffer)
	}
	if c.SnapCount < 2 {
		c.warnf("snapCount %d is too small, using 2", c.SnapCount)
		c.SnapCount = 2
	}
	if c.PreAllocSizeKb < 0 {
		return fmt.Errorf("config: preAllocSize (%d) must not be negative", c.PreAllocSizeKb)
	}
	c.SnapshotCompression = strings.ToLower(strings.TrimSpace(c.SnapshotCompression))
	switch c.SnapshotCompression {
	case "", "gz", "snappy":
	default:
		return fmt.Errorf("config: zookeeper.snapshot.compression.method: %q is not one of \"\", \"gz\", \"snappy\"", c.SnapshotCompression)
	}
	if c.SnapRetainCount < 3 {
		c.warnf("autopurge.snapRetainCount %d is too small, using 3", c.SnapRetainCount)
		c.SnapRetainCount = 3
	}
	if c.ContainerCheckIntervalMs <= 0 {
		return fmt.Errorf("config: znode.container.checkIntervalMs (%d) must be positive", c.ContainerCheckIntervalMs)
	}
	if c.ContainerMaxPerMinute <= 0 {
		return fmt.Errorf("config: znode.container.maxPerMinute (%d) must be positive", c.ContainerMaxPerMinute)
	}
	if c.FourLetterWords == nil {
		c.FourLetterWords = map[string]bool{}
	}
	// As in ZooKeeper, srvr is always enabled (scripts rely on it) and
	// isro is enabled together with read-only mode.
	c.FourLetterWords["srvr"] = true
	if c.ReadOnlyModeEnabled {
		c.FourLetterWords["isro"] = true
	}
	if c.Unknown == nil {
		c.Unknown = map[string]string{}
	}
	if c.Raw == nil {
		c.Raw = map[string]string{}
	}
	return nil
}

// FourLetterWordAllowed reports whether the four letter word w may be
// executed. srvr is always allowed, and isro when read-only mode is on.
func (c *Config) FourLetterWordAllowed(w string) bool {
	w = strings.ToLower(strings.TrimSpace(w))
	switch {
	case w == "srvr":
		return true
	case w == "isro" && c.ReadOnlyModeEnabled:
		return true
	}
	return c.FourLetterWords[w]
}

func (c *Config) warnf(format string, args ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}

// option describes one recognised key.
type option struct {
	// sysprop marks keys ZooKeeper reads as system properties; they are
	// also accepted with a "zookeeper." prefix.
	sysprop bool
	set     func(c *Config, key, val string) error
}

func intOpt(sysprop bool, field func(*Config) *int) option {
	return option{sysprop, func(c *Config, key, val string) error {
		n, err := parseInt(key, val, 32)
		if err != nil {
			return err
		}
		*field(c) = int(n)
		return nil
	}}
}

func int64Opt(sysprop bool, field func(*Config) *int64) option {
	return option{sysprop, func(c *Config, key, val string) error {
		n, err := parseInt(key, val, 64)
		if err != nil {
			return err
		}
		*field(c) = n
		return nil
	}}
}

func strOpt(sysprop bool, field func(*Config) *string) option {
	return option{sysprop, func(c *Config, _, val string) error {
		*field(c) = val
		return nil
	}}
}

func boolOpt(sysprop, yesNo bool, field func(*Config) *bool) option {
	return option{sysprop, func(c *Config, key, val string) error {
		b, err := parseBool(key, val, yesNo)
		if err != nil {
			return err
		}
		*field(c) = b
		return nil
	}}
}

var options = map[string]option{
	"tickTime":                  intOpt(false, func(c *Config) *int { return &c.TickTime }),
	"dataDir":                   strOpt(false, func(c *Config) *string { return &c.DataDir }),
	"dataLogDir":                strOpt(false, func(c *Config) *string { return &c.DataLogDir }),
	"clientPort":                intOpt(false, func(c *Config) *int { return &c.ClientPort }),
	"clientPortAddress":         strOpt(false, func(c *Config) *string { return &c.ClientPortAddress }),
	"maxClientCnxns":            intOpt(false, func(c *Config) *int { return &c.MaxClientCnxns }),
	"minSessionTimeout":         intOpt(false, func(c *Config) *int { return &c.MinSessionTimeout }),
	"maxSessionTimeout":         intOpt(false, func(c *Config) *int { return &c.MaxSessionTimeout }),
	"autopurge.snapRetainCount": intOpt(false, func(c *Config) *int { return &c.SnapRetainCount }),
	"autopurge.purgeInterval":   intOpt(false, func(c *Config) *int { return &c.PurgeInterval }),

	"globalOutstandingLimit":                   intOpt(true, func(c *Config) *int { return &c.GlobalOutstandingLimit }),
	"jute.maxbuffer":                           intOpt(true, func(c *Config) *int { return &c.JuteMaxBuffer }),
	"4lw.commands.whitelist":                   {true, setWhitelist},
	"extendedTypesEnabled":                     boolOpt(true, false, func(c *Config) *bool { return &c.ExtendedTypesEnabled }),
	"DigestAuthenticationProvider.superDigest": strOpt(true, func(c *Config) *string { return &c.SuperDigest }),
	"skipACL":                                boolOpt(true, true, func(c *Config) *bool { return &c.SkipACL }),
	"snapCount":                              intOpt(true, func(c *Config) *int { return &c.SnapCount }),
	"snapSizeLimitInKb":                      int64Opt(true, func(c *Config) *int64 { return &c.SnapSizeLimitInKb }),
	"preAllocSize":                           int64Opt(true, func(c *Config) *int64 { return &c.PreAllocSizeKb }),
	"forceSync":                              boolOpt(true, true, func(c *Config) *bool { return &c.ForceSync }),
	"fsync.warningthresholdms":               intOpt(true, func(c *Config) *int { return &c.FsyncWarningThresholdMs }),
	"txnLogSizeLimitInKb":                    int64Opt(true, func(c *Config) *int64 { return &c.TxnLogSizeLimitInKb }),
	"maxBatchSize":                           intOpt(true, func(c *Config) *int { return &c.MaxBatchSize }),
	"snapshot.compression.method":            {true, setCompression},
	"znode.container.checkIntervalMs":        intOpt(true, func(c *Config) *int { return &c.ContainerCheckIntervalMs }),
	"znode.container.maxPerMinute":           intOpt(true, func(c *Config) *int { return &c.ContainerMaxPerMinute }),
	"znode.container.maxNeverUsedIntervalMs": int64Opt(true, func(c *Config) *int64 { return &c.ContainerMaxNeverUsedIntervalMs }),
	"readonlymode.enabled":                   boolOpt(true, false, func(c *Config) *bool { return &c.ReadOnlyModeEnabled }),
}

func lookup(key string) *option {
	if o, ok := options[key]; ok {
		return &o
	}
	if bare, ok := strings.CutPrefix(key, "zookeeper."); ok {
		if o, ok := options[bare]; ok && o.sysprop {
			return &o
		}
	}
	return nil
}

func setWhitelist(c *Config, _, val string) error {
	words := map[string]bool{}
	for _, w := range strings.Split(val, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		switch {
		case w == "":
		case w == "*":
			for _, k := range KnownFourLetterWords {
				words[k] = true
			}
		case isKnownWord(w):
			words[w] = true
		default:
			c.warnf("4lw.commands.whitelist: ignoring unknown four letter word %q", w)
		}
	}
	c.FourLetterWords = words
	return nil
}

func isKnownWord(w string) bool {
	for _, k := range KnownFourLetterWords {
		if k == w {
			return true
		}
	}
	return false
}

func setCompression(c *Config, key, val string) error {
	v := strings.ToLower(val)
	switch v {
	case "", "gz", "snappy":
		c.SnapshotCompression = v
		return nil
	}
	return fmt.Errorf("config: %s: %q is not one of \"\", \"gz\", \"snappy\"", key, val)
}

// parseInt parses a decimal integer with an optional sign; a "0x", "0X"
// or "#" prefix selects hexadecimal (as Java's Integer.decode allows).
func parseInt(key, val string, bits int) (int64, error) {
	s, sign := val, ""
	if s != "" && (s[0] == '+' || s[0] == '-') {
		sign, s = s[:1], s[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(s, "0x"), strings.HasPrefix(s, "0X"):
		base, s = 16, s[2:]
	case strings.HasPrefix(s, "#"):
		base, s = 16, s[1:]
	}
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("config: %s: %q is not an integer", key, val)
	}
	n, err := strconv.ParseInt(sign+s, base, bits)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("config: %s: %q is out of range", key, val)
		}
		return 0, fmt.Errorf("config: %s: %q is not an integer", key, val)
	}
	return n, nil
}

func parseBool(key, val string, yesNo bool) (bool, error) {
	switch v := strings.ToLower(val); {
	case v == "true", yesNo && v == "yes":
		return true, nil
	case v == "false", yesNo && v == "no":
		return false, nil
	}
	if yesNo {
		return false, fmt.Errorf("config: %s: %q is not a boolean (true, false, yes, no)", key, val)
	}
	return false, fmt.Errorf("config: %s: %q is not a boolean (true, false)", key, val)
}

type pair struct {
	key, value string
	line       int // line where the logical line starts
}

// readProperties splits r into key/value pairs the way
// java.util.Properties.load does, then trims keys and values as ZooKeeper
// does. Input is taken as UTF-8. Every pair is returned, in file order,
// including repeated keys (see dedup).
func readProperties(r io.Reader) ([]pair, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	var (
		pairs   []pair
		logical []byte // logical line being assembled
		cont    bool   // logical is continued by the next natural line
		start   int    // line number where logical started
	)
	emit := func() error {
		k, v, err := splitLine(logical)
		if err != nil {
			return fmt.Errorf("config: line %d: %w", start, err)
		}
		pairs = append(pairs, pair{strings.TrimSpace(k), strings.TrimSpace(v), start})
		return nil
	}
	lineNo := 0
	for len(data) > 0 {
		// Natural lines end in "\n", "\r" or "\r\n".
		var line []byte
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			crlf := data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n'
			line, data = data[:i], data[i+1:]
			if crlf {
				data = data[1:]
			}
		} else {
			line, data = data, nil
		}
		lineNo++
		line = bytes.TrimLeft(line, " \t\f")
		if !cont {
			if len(line) == 0 || line[0] == '#' || line[0] == '!' {
				continue
			}
			logical = logical[:0]
			start = lineNo
		}
		n := 0
		for n < len(line) && line[len(line)-1-n] == '\\' {
			n++
		}
		if n%2 == 1 {
			logical = append(logical, line[:len(line)-1]...)
			cont = true
			continue
		}
		logical = append(logical, line...)
		cont = false
		if err := emit(); err != nil {
			return nil, err
		}
	}
	if cont {
		if err := emit(); err != nil {
			return nil, err
		}
	}
	return pairs, nil
}

// splitLine separates a logical line into its key and value and resolves
// backslash escapes. The key ends at the first unescaped '=', ':' or
// whitespace; whitespace and at most one '=' or ':' separate it from the
// value.
func splitLine(line []byte) (key, value string, err error) {
	i, sep := 0, false
	for i < len(line) {
		ch := line[i]
		if ch == '\\' {
			i += 2
			continue
		}
		if ch == '=' || ch == ':' {
			sep = true
			break
		}
		if isSpace(ch) {
			break
		}
		i++
	}
	if i > len(line) {
		i = len(line)
	}
	keyPart := line[:i]
	j := i
	if sep {
		j++
	}
	for j < len(line) && isSpace(line[j]) {
		j++
	}
	if !sep && j < len(line) && (line[j] == '=' || line[j] == ':') {
		j++
		for j < len(line) && isSpace(line[j]) {
			j++
		}
	}
	if key, err = unescape(keyPart); err != nil {
		return "", "", err
	}
	if value, err = unescape(line[j:]); err != nil {
		return "", "", err
	}
	return key, value, nil
}

func isSpace(ch byte) bool { return ch == ' ' || ch == '\t' || ch == '\f' }

// unescape resolves \t, \n, \r, \f, \uXXXX and \x (= x) sequences.
func unescape(b []byte) (string, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			sb.WriteByte(b[i])
			continue
		}
		i++
		if i >= len(b) {
			break
		}
		switch b[i] {
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 'f':
			sb.WriteByte('\f')
		case 'u':
			r, n, err := hex4(b[i+1:])
			if err != nil {
				return "", err
			}
			i += n
			if utf16.IsSurrogate(r) && i+2 < len(b) && b[i+1] == '\\' && b[i+2] == 'u' {
				if r2, n2, err := hex4(b[i+3:]); err == nil {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 2 + n2
					}
				}
			}
			sb.WriteRune(r)
		default:
			// Keep multi-byte UTF-8 sequences intact.
			_, size := utf8.DecodeRune(b[i:])
			sb.Write(b[i : i+size])
			i += size - 1
		}
	}
	return sb.String(), nil
}

func hex4(b []byte) (rune, int, error) {
	if len(b) < 4 {
		return 0, 0, fmt.Errorf("malformed \\uxxxx escape")
	}
	v, err := strconv.ParseUint(string(b[:4]), 16, 16)
	if err != nil {
		return 0, 0, fmt.Errorf("malformed \\uxxxx escape")
	}
	return rune(v), 4, nil
}
