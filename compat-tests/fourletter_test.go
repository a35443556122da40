package compat

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func flw(t *testing.T, word string) string {
	t.Helper()
	out, err := fourLetter(addr, word)
	if err != nil {
		t.Fatalf("%s: %v", word, err)
	}
	return out
}

// wantLines checks that out, split into lines, matches the regexps in order
// (each pattern must match one whole line; extra lines are allowed only where
// a pattern is "*", which skips any number of lines).
func wantLines(t *testing.T, word, out string, patterns ...string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for pi := 0; pi < len(patterns); pi++ {
		p := patterns[pi]
		if p == "*" {
			next := ""
			if pi+1 < len(patterns) {
				next = patterns[pi+1]
			}
			re := regexp.MustCompile("^(?:" + next + ")$")
			for i < len(lines) && (next == "" || !re.MatchString(lines[i])) {
				i++
			}
			continue
		}
		re := regexp.MustCompile("^(?:" + p + ")$")
		if i >= len(lines) || !re.MatchString(lines[i]) {
			got := "<end>"
			if i < len(lines) {
				got = lines[i]
			}
			t.Errorf("%s: line %d = %q, want /%s/\nfull output:\n%s", word, i, got, p, out)
			return
		}
		i++
	}
	if i != len(lines) {
		t.Errorf("%s: %d unexpected trailing lines %q\nfull output:\n%s", word, len(lines)-i, lines[i:], out)
	}
}

const num = `-?\d+`
const dbl = `-?\d+(?:\.\d+)?(?:E-?\d+)?`

var srvrBody = []string{
	`Latency min/avg/max: ` + num + `/` + dbl + `/` + num,
	`Received: ` + num,
	`Sent: ` + num,
	`Connections: ` + num,
	`Outstanding: ` + num,
	`Zxid: 0x[0-9a-f]+`,
	`Mode: standalone`,
	`Node count: ` + num,
	``,
}

func TestFourLetterSimple(t *testing.T) {
	if got := flw(t, "ruok"); got != "imok" {
		t.Errorf("ruok = %q, want imok", got)
	}
	if got := flw(t, "isro"); got != "rw" {
		t.Errorf("isro = %q, want rw", got)
	}
	if got := flw(t, "srst"); got != "Server stats reset.\n" {
		t.Errorf("srst = %q", got)
	}
	if got := flw(t, "crst"); got != "Connection stats reset.\n" {
		t.Errorf("crst = %q", got)
	}
	gt := flw(t, "gtmk")
	if _, err := strconv.ParseInt(gt, 10, 64); err != nil {
		t.Errorf("gtmk = %q, want a decimal number without newline", gt)
	}
	// stmk takes an 8-byte mask and echoes it in decimal; set it back to the
	// value gtmk reported.
	mask, _ := strconv.ParseInt(gt, 10, 64)
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	mustNoErr(t, err)
	defer nc.Close()
	b := append([]byte("stmk"), make([]byte, 8)...)
	for i := 0; i < 8; i++ {
		b[4+i] = byte(uint64(mask) >> (56 - 8*i))
	}
	_, _ = nc.Write(b)
	out, _ := readUntilClosed(nc, 5*time.Second)
	if string(out) != gt {
		t.Errorf("stmk %d echoed %q", mask, out)
	}
	if got := flw(t, "dirs"); !regexp.MustCompile(`^datadir_size: \d+\nlogdir_size: \d+\n$`).MatchString(got) {
		t.Errorf("dirs = %q", got)
	}
}

func TestFourLetterSrvrStat(t *testing.T) {
	c := rawConnect(t)
	z := rawStatZxid(t, c)
	out := flw(t, "srvr")
	wantLines(t, "srvr", out, append([]string{`Zookeeper version: .+`}, srvrBody...)...)
	m := regexp.MustCompile(`Zxid: 0x([0-9a-f]+)`).FindStringSubmatch(out)
	if m != nil {
		if v, _ := strconv.ParseInt(m[1], 16, 64); v < z {
			t.Errorf("srvr zxid %#x < last seen %#x", v, z)
		}
	}
	out = flw(t, "stat")
	// After "Clients:", one line per connection followed by an empty line.
	conn := ` /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+.*\)`
	wantLines(t, "stat", out, append([]string{`Zookeeper version: .+`, `Clients:`, "*", `Latency min/avg/max: .*`}, srvrBody[1:]...)...)
	clients := out[strings.Index(out, "Clients:\n")+len("Clients:\n") : strings.Index(out, "Latency")]
	for _, l := range strings.Split(strings.TrimSuffix(clients, "\n"), "\n") {
		if l != "" && !regexp.MustCompile("^"+conn+"$").MatchString(l) {
			t.Errorf("stat client line %q", l)
		}
	}
	if !strings.HasSuffix(clients, "\n\n") {
		t.Errorf("stat client block %q does not end with an empty line", clients)
	}
}

func TestFourLetterCons(t *testing.T) {
	c := rawConnect(t)
	code, _, err := c.Exists("/", false)
	mustOK(t, "exists", code, err)
	out := flw(t, "cons")
	if !strings.HasSuffix(out, "\n\n") {
		t.Errorf("cons does not end with an empty line: %q", out)
	}
	sid := fmt.Sprintf("sid=0x%x,", c.SessionID)
	full := regexp.MustCompile(`^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+,sid=0x[0-9a-f]+,lop=[A-Z]+,est=\d+,to=30000,lcxid=0x[0-9a-f]+,lzxid=0x[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)$`)
	found := false
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if strings.Contains(l, sid) {
			found = true
			if !full.MatchString(l) {
				t.Errorf("cons line for our session %q does not match %s", l, full)
			}
		}
	}
	if !found {
		t.Errorf("cons has no line with %s:\n%s", sid, out)
	}
}

func TestFourLetterMntr(t *testing.T) {
	out := flw(t, "mntr")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("mntr does not end with a newline")
	}
	keys := map[string]string{}
	for i, l := range lines {
		k, v, ok := strings.Cut(l, "\t")
		if !ok || !strings.HasPrefix(k, "zk_") {
			t.Errorf("mntr line %d %q is not zk_<key>\\t<value>", i, l)
			continue
		}
		keys[k] = v
	}
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "zk_version\t") || lines[1] != "zk_server_state\tstandalone" {
		t.Errorf("mntr must start with zk_version then zk_server_state standalone: %q", lines[:min(2, len(lines))])
	}
	for _, k := range []string{
		"zk_avg_latency", "zk_max_latency", "zk_min_latency", "zk_packets_received", "zk_packets_sent",
		"zk_num_alive_connections", "zk_outstanding_requests", "zk_znode_count", "zk_watch_count",
		"zk_ephemerals_count", "zk_approximate_data_size", "zk_open_file_descriptor_count",
		"zk_max_file_descriptor_count", "zk_uptime", "zk_global_sessions", "zk_local_sessions",
		"zk_connection_drop_probability", "zk_auth_failed_count",
	} {
		v, ok := keys[k]
		if !ok {
			t.Errorf("mntr lacks %s", k)
			continue
		}
		if !regexp.MustCompile("^" + dbl + "$").MatchString(v) {
			t.Errorf("mntr %s = %q, not a number", k, v)
		}
	}
}

func TestFourLetterConfEnvi(t *testing.T) {
	_, port, _ := net.SplitHostPort(addr)
	wantLines(t, "conf", flw(t, "conf"),
		`clientPort=`+port,
		`secureClientPort=-1`,
		`dataDir=.+`,
		`dataDirSize=\d+`,
		`dataLogDir=.+`,
		`dataLogSize=\d+`,
		`tickTime=2000`,
		`maxClientCnxns=60`,
		`minSessionTimeout=4000`,
		`maxSessionTimeout=40000`,
		`clientPortListenBacklog=-?\d+`,
		`serverId=0`,
		``)
	wantLines(t, "envi", flw(t, "envi"),
		`Environment:`,
		`zookeeper\.version=.+`,
		`host\.name=.*`,
		`java\.version=.*`,
		`java\.vendor=.*`,
		`java\.home=.*`,
		`java\.class\.path=.*`,
		`java\.library\.path=.*`,
		`java\.io\.tmpdir=.*`,
		`java\.compiler=.*`,
		`os\.name=.*`,
		`os\.arch=.*`,
		`os\.version=.*`,
		`user\.name=.*`,
		`user\.home=.*`,
		`user\.dir=.*`,
		`os\.memory\.free=\d+MB`,
		`os\.memory\.max=\d+MB`,
		`os\.memory\.total=\d+MB`,
		``)
}

func TestFourLetterWatches(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	create2(t, c, root+"/w1", nil, 0)
	create2(t, c, root+"/w2", nil, 0)
	_, _, _ = c.GetData(root+"/w1", true)
	_, _, _ = c.GetData(root+"/w2", true)
	_, _, _ = c.GetChildren(root, true, false)

	wchs := flw(t, "wchs")
	m := regexp.MustCompile(`^(\d+) connections watching (\d+) paths\nTotal watches:(\d+)\n$`).FindStringSubmatch(wchs)
	if m == nil {
		t.Errorf("wchs = %q", wchs)
	} else {
		conns, _ := strconv.Atoi(m[1])
		paths, _ := strconv.Atoi(m[2])
		total, _ := strconv.Atoi(m[3])
		// Only the data-watch table is counted: our child watch is not.
		if conns < 1 || paths < 2 || total < 2 {
			t.Errorf("wchs = %q, want at least 1 connection, 2 paths, 2 watches", wchs)
		}
	}
	sid := fmt.Sprintf("0x%x", c.SessionID)
	// wchc: session line, then tab-indented paths. Like wchs it lists only
	// the data-watch table: the child watch on root is not shown.
	wchc := flw(t, "wchc")
	block := wchBlock(wchc, sid)
	if block == nil || !sameSet(block, []string{root + "/w1", root + "/w2"}) {
		t.Errorf("wchc block for %s = %v\n%s", sid, block, wchc)
	}
	if !strings.HasSuffix(wchc, "\n") {
		t.Errorf("wchc does not end with a newline: %q", wchc)
	}
	// wchp: path line, then tab-indented session ids.
	wchp := flw(t, "wchp")
	for _, p := range []string{root + "/w1", root + "/w2"} {
		if b := wchBlock(wchp, p); b == nil || !contains(b, sid) {
			t.Errorf("wchp block for %s = %v\n%s", p, b, wchp)
		}
	}
	if b := wchBlock(wchp, root); b != nil {
		t.Errorf("wchp lists the child-watched path %s: %v", root, b)
	}
	dump := flw(t, "dump")
	for _, want := range []string{"SessionTracker dump:\n", "ephemeral nodes dump:\n", "Connections dump:\n"} {
		if !strings.Contains(dump, want) {
			t.Errorf("dump lacks %q:\n%s", want, dump)
		}
	}
	if !strings.HasPrefix(dump, "SessionTracker dump:\n") {
		t.Errorf("dump does not start with the session tracker section")
	}
}

// wchBlock returns the tab-indented lines that follow the line equal to head.
func wchBlock(out, head string) []string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if l != head {
			continue
		}
		var b []string
		for _, x := range lines[i+1:] {
			if !strings.HasPrefix(x, "\t") {
				break
			}
			b = append(b, strings.TrimPrefix(x, "\t"))
		}
		if b == nil {
			b = []string{}
		}
		return b
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestFourLetterEmptyWatchLists(t *testing.T) {
	// Our own session has no watches: it must not appear in wchc.
	c := rawConnect(t)
	sid := fmt.Sprintf("0x%x", c.SessionID)
	if b := wchBlock(flw(t, "wchc"), sid); b != nil {
		t.Errorf("session without watches listed in wchc: %v", b)
	}
	// Known word with no whitelisting problem: "hash" prints digest lines.
	if out := flw(t, "hash"); out != "" && !regexp.MustCompile(`^([0-9a-f]+: \d+\n)*$`).MatchString(out) {
		t.Errorf("hash = %q", out)
	}
}

// A known word that is not whitelisted cannot be tested here: the suite runs
// with 4lw.commands.whitelist=*. ZooKeeper answers such a word with
// "<word> is not executed because it is not in the whitelist.\n".
