package server

import (
	"encoding/binary"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkserver/zkserver/config"
)

func start4lwServer(t *testing.T, words map[string]bool) *Server {
	t.Helper()
	return startConfigured(t, func(cfg *config.Config) { cfg.FourLetterWords = words })
}

func allWords() map[string]bool {
	m := map[string]bool{}
	for _, w := range config.KnownFourLetterWords {
		m[w] = true
	}
	return m
}

// send4lw sends raw bytes and reads the reply until the server closes.
func send4lw(t *testing.T, s *Server, msg []byte) string {
	t.Helper()
	before := s.numConns()
	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(msg); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("%q: %v", msg, err)
	}
	// the server drops the connection from its table just after closing
	// it; wait so that the next word does not see it
	for end := time.Now().Add(5 * time.Second); s.numConns() > before && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	return string(out)
}

func word(t *testing.T, s *Server, w string) string {
	t.Helper()
	return send4lw(t, s, []byte(w))
}

// mustMatch checks out line by line against regexps (whole lines).
func mustMatch(t *testing.T, w, out string, lines ...string) {
	t.Helper()
	got := strings.Split(out, "\n")
	if len(got) != len(lines) {
		t.Fatalf("%s: %d lines, want %d:\n%s", w, len(got), len(lines), out)
	}
	for i, re := range lines {
		if !regexp.MustCompile("^" + re + "$").MatchString(got[i]) {
			t.Fatalf("%s: line %d %q does not match %q; output:\n%s", w, i, got[i], re, out)
		}
	}
}

func TestFourLetterWordsNotWhitelisted(t *testing.T) {
	s := start4lwServer(t, nil)
	for _, w := range []string{"dump", "ruok", "mntr", "stmk"} {
		if got, want := word(t, s, w), w+" is not executed because it is not in the whitelist.\n"; got != want {
			t.Errorf("%s: got %q want %q", w, got, want)
		}
	}
	// srvr is always allowed
	if got := word(t, s, "srvr"); !strings.HasPrefix(got, "Zookeeper version: "+Version+"\n") {
		t.Errorf("srvr: %q", got)
	}
}

func TestFourLetterWordsSimple(t *testing.T) {
	s := start4lwServer(t, allWords())
	for w, want := range map[string]string{
		"ruok": "imok",
		"isro": "rw",
		"gtmk": "306",
		"crst": "Connection stats reset.\n",
		"srst": "Server stats reset.\n",
		"hash": "",
		"wchc": "\n",
		"wchp": "\n",
		"wchs": "0 connections watching 0 paths\nTotal watches:0\n",
	} {
		if got := word(t, s, w); got != want {
			t.Errorf("%s: got %q want %q", w, got, want)
		}
	}
	// stmk takes an 8-byte mask and echoes it; gtmk then reports it
	msg := binary.BigEndian.AppendUint64([]byte("stmk"), 1234)
	if got := send4lw(t, s, msg); got != "1234" {
		t.Errorf("stmk: %q", got)
	}
	if got := word(t, s, "gtmk"); got != "1234" {
		t.Errorf("gtmk after stmk: %q", got)
	}
	traceMask.Store(defaultTraceMask)
}

func TestFourLetterWordsShapes(t *testing.T) {
	s := start4lwServer(t, allWords())
	ver := regexp.QuoteMeta(Version)

	mustMatch(t, "srvr", word(t, s, "srvr"),
		"Zookeeper version: "+ver,
		`Latency min/avg/max: 0/0\.0/0`,
		`Received: \d+`, `Sent: \d+`, `Connections: 1`, `Outstanding: 0`,
		`Zxid: 0x0`, `Mode: standalone`,
		`Node count: 5`, // four nodes, the root counted twice
		``)

	mustMatch(t, "stat", word(t, s, "stat"),
		"Zookeeper version: "+ver,
		`Clients:`,
		` /127\.0\.0\.1:\d+\[0\]\(queued=0,recved=1,sent=0\)`,
		``,
		`Latency min/avg/max: 0/0\.0/0`,
		`Received: \d+`, `Sent: \d+`, `Connections: 1`, `Outstanding: 0`,
		`Zxid: 0x0`, `Mode: standalone`, `Node count: 5`, ``)

	mustMatch(t, "conf", word(t, s, "conf"),
		`clientPort=\d+`, `secureClientPort=-1`,
		`dataDir=/.*/version-2`, `dataDirSize=0`,
		`dataLogDir=/.*/version-2`, `dataLogSize=0`,
		`tickTime=2000`, `maxClientCnxns=60`,
		`minSessionTimeout=4000`, `maxSessionTimeout=40000`,
		`clientPortListenBacklog=-1`, `serverId=0`, ``)

	mustMatch(t, "envi", word(t, s, "envi"),
		`Environment:`, "zookeeper.version="+ver, `host.name=.+`,
		`java.version=.+`, `java.vendor=.+`, `java.home=.+`, `java.class.path=.+`,
		`java.library.path=.+`, `java.io.tmpdir=.+`, `java.compiler=.+`,
		`os.name=.+`, `os.arch=.+`, `os.version=.+`,
		`user.name=.+`, `user.home=.+`, `user.dir=.+`,
		`os.memory.free=\d+MB`, `os.memory.max=\d+MB`, `os.memory.total=\d+MB`, ``)

	mustMatch(t, "dirs", word(t, s, "dirs"), `datadir_size: 0`, `logdir_size: 0`, ``)

	mustMatch(t, "dump", word(t, s, "dump"),
		`SessionTracker dump:`, `Session Sets \(0\)/\(0\):`,
		`ephemeral nodes dump:`, `Sessions with Ephemerals \(0\):`,
		`Connections dump:`, `Connections Sets \(1\)/\(1\):`,
		`1 expire at \w{3} \w{3} \d\d \d\d:\d\d:\d\d \S+ \d{4}:`,
		`\tip: /127\.0\.0\.1:\d+ sessionId: 0x0`, ``)

	mntr := word(t, s, "mntr")
	lines := strings.Split(strings.TrimSuffix(mntr, "\n"), "\n")
	if lines[0] != "zk_version\t"+Version || lines[1] != "zk_server_state\tstandalone" {
		t.Fatalf("mntr head:\n%s", mntr)
	}
	vals := map[string]string{}
	for _, l := range lines {
		k, v, ok := strings.Cut(l, "\t")
		if !ok || !strings.HasPrefix(k, "zk_") || strings.Contains(v, "\t") {
			t.Fatalf("mntr line %q", l)
		}
		vals[k] = v
	}
	for k, want := range map[string]string{
		"zk_avg_latency": `0\.0`, "zk_max_latency": `0`, "zk_min_latency": `0`,
		"zk_packets_received": `\d+`, "zk_packets_sent": `\d+`,
		"zk_num_alive_connections": `1`, "zk_outstanding_requests": `0`, "zk_uptime": `\d+`,
		"zk_znode_count": `5`, "zk_watch_count": `0`, "zk_ephemerals_count": `0`,
		"zk_approximate_data_size": `\d+`, "zk_global_sessions": `0`, "zk_local_sessions": `0`,
		"zk_open_file_descriptor_count": `-?\d+`, "zk_max_file_descriptor_count": `-?\d+`,
		"zk_connection_drop_probability": `0\.0`,
		"zk_last_client_response_size":   `-?\d+`, "zk_max_client_response_size": `-?\d+`,
		"zk_min_client_response_size": `-?\d+`, "zk_outstanding_tls_handshake": `0`,
		"zk_auth_failed_count": `0`, "zk_non_mtls_remote_conn_count": `0`, "zk_non_mtls_local_conn_count": `0`,
	} {
		v, ok := vals[k]
		if !ok || !regexp.MustCompile("^"+want+"$").MatchString(v) {
			t.Errorf("mntr %s = %q (present %v), want %s", k, v, ok, want)
		}
	}
}

// TestFourLetterWordsWithSession checks the words that describe sessions,
// watches and ephemerals against a connected client.
func TestFourLetterWordsWithSession(t *testing.T) {
	s := start4lwServer(t, allWords())
	zc, ev, err := zk.Connect([]string{s.Addr().String()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	deadline := time.After(5 * time.Second)
	for zc.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatal("no session")
		}
	}
	sid := hex(zc.SessionID())
	if _, err := zc.Create("/e", []byte("x"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := zc.GetW("/e"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := zc.ExistsW("/none"); err != nil {
		t.Fatal(err)
	}

	if got, want := word(t, s, "wchs"), "1 connections watching 2 paths\nTotal watches:2\n"; got != want {
		t.Errorf("wchs: %q want %q", got, want)
	}
	if got, want := word(t, s, "wchc"), sid+"\n\t/e\n\t/none\n\n"; got != want {
		t.Errorf("wchc: %q want %q", got, want)
	}
	if got, want := word(t, s, "wchp"), "/e\n\t"+sid+"\n/none\n\t"+sid+"\n\n"; got != want {
		t.Errorf("wchp: %q want %q", got, want)
	}

	cons := word(t, s, "cons")
	re := ` /127\.0\.0\.1:\d+\[1\]\(queued=0,recved=\d+,sent=\d+,sid=` + sid +
		`,lop=(EXIS|GETD|CREA|PING),est=\d+,to=10000,lcxid=0x[0-9a-f]+,lzxid=0x[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)`
	mustMatch(t, "cons", cons, re, ` /127\.0\.0\.1:\d+\[0\]\(queued=0,recved=1,sent=0\)`, ``, ``)

	if got := word(t, s, "crst"); got != "Connection stats reset.\n" {
		t.Errorf("crst: %q", got)
	}
	cons = word(t, s, "cons")
	re = ` /127\.0\.0\.1:\d+\[1\]\(queued=0,recved=0,sent=0,sid=` + sid +
		`,lop=NA,est=\d+,to=10000,lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,avglat=0,maxlat=0\)`
	mustMatch(t, "cons after crst", cons, re, ` /127\.0\.0\.1:\d+\[0\]\(queued=0,recved=1,sent=0\)`, ``, ``)

	mustMatch(t, "srvr", word(t, s, "srvr"),
		"Zookeeper version: "+regexp.QuoteMeta(Version),
		`Latency min/avg/max: \d+/\d+\.\d+(E-?\d+)?/\d+`,
		`Received: [1-9]\d*`, `Sent: [1-9]\d*`, `Connections: 2`, `Outstanding: 0`,
		`Zxid: 0x2`, `Mode: standalone`, `Node count: 6`, ``)

	dump := word(t, s, "dump")
	for _, want := range []string{
		"SessionTracker dump:\nSession Sets (1)/(1):\n",
		"\n\t" + sid + "\nephemeral nodes dump:\nSessions with Ephemerals (1):\n" + sid + ":\n\t/e\nConnections dump:\nConnections Sets (",
		"\tip: /127.0.0.1:",
		" sessionId: " + sid + "\n",
		" sessionId: 0x0\n",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("dump lacks %q:\n%s", want, dump)
		}
	}

	mntr := word(t, s, "mntr")
	for _, want := range []string{"\nzk_znode_count\t6\n", "\nzk_watch_count\t2\n", "\nzk_ephemerals_count\t1\n",
		"\nzk_global_sessions\t1\n", "\nzk_num_alive_connections\t2\n"} {
		if !strings.Contains(mntr, want) {
			t.Errorf("mntr lacks %q:\n%s", want, mntr)
		}
	}

	if got := word(t, s, "srst"); got != "Server stats reset.\n" {
		t.Errorf("srst: %q", got)
	}
	if got := word(t, s, "srvr"); !strings.Contains(got, "Latency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\n") {
		t.Errorf("srvr after srst:\n%s", got)
	}
}

func TestJavaDouble(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0.0", 1: "1.0", 2.5: "2.5", 1.3333: "1.3333", 0.001: "0.001",
		0.0001: "1.0E-4", 1.5e-4: "1.5E-4", 1e7: "1.0E7", 12345678.5: "1.23456785E7",
	} {
		if got := javaDouble(v); got != want {
			t.Errorf("javaDouble(%v) = %q want %q", v, got, want)
		}
	}
}
