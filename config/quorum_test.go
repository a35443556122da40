package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// ensemble parses body with dataDir set to a fresh directory holding
// myid (no file when myid is ""). dataDir is appended, so line numbers in
// body are unchanged.
func ensemble(t *testing.T, myid, body string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	if myid != "" {
		if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(myid), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Parse(strings.NewReader(body + "\ndataDir=" + dir + "\n"))
}

func mustEnsemble(t *testing.T, myid, body string) *Config {
	t.Helper()
	c, err := ensemble(t, myid, body)
	if err != nil {
		t.Fatalf("Parse(%q): %v", body, err)
	}
	return c
}

const limits = "tickTime=2000\ninitLimit=10\nsyncLimit=5\n"

// The config string of quorum-protocol.md §2, captured live from a
// ZooKeeper 3.8.0 ensemble (95 bytes).
const liveConfigString = "server.1=127.0.0.1:22888:23888:participant\n" +
	"server.2=127.0.0.1:22889:23889:participant\n" +
	"version=0"

func TestQuorumConfigStringLive(t *testing.T) {
	if len(liveConfigString) != 95 {
		t.Fatalf("reference string is %d bytes", len(liveConfigString))
	}
	for _, body := range []string{
		limits + "server.1=127.0.0.1:22888:23888\nserver.2=127.0.0.1:22889:23889",
		"server.2=127.0.0.1:22889:23889:participant\n" + limits + "server.1=127.0.0.1:22888:23888",
		limits + "server.2 = 127.0.0.1:22889:23889\nserver.1 : 127.0.0.1:22888:23888:PARTICIPANT\nclientPort=2181",
	} {
		for _, myid := range []string{"1", "2\n"} {
			c := mustEnsemble(t, myid, body)
			if got := c.QuorumConfigString(); got != liveConfigString {
				t.Errorf("%q (myid %q):\n got %q\nwant %q", body, myid, got, liveConfigString)
			}
			if !c.Ensemble() {
				t.Errorf("%q: not an ensemble", body)
			}
		}
	}
}

func TestQuorumConfigStringForms(t *testing.T) {
	c := mustEnsemble(t, "1", limits+`
server.1=[::1]:2888:3888;[FE80::1]:2181
server.2=10.0.0.2:2888:3888:observer;2182
server.3=zk3.example:2888:3888;zk3.example:2183
server.4=[::ffff:10.0.0.4]:2888:3888
server.5=10.0.0.5:2888:3888
`)
	want := "server.1=[0:0:0:0:0:0:0:1]:2888:3888:participant;[fe80:0:0:0:0:0:0:1]:2181\n" +
		"server.2=10.0.0.2:2888:3888:observer;0.0.0.0:2182\n" +
		"server.3=zk3.example:2888:3888:participant;zk3.example:2183\n" +
		"server.4=10.0.0.4:2888:3888:participant\n" +
		"server.5=10.0.0.5:2888:3888:participant\n" +
		"version=0"
	if got := c.QuorumConfigString(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// The own line's client address is printed although it also became
	// the client port; a static clientPort is never printed.
	c = mustEnsemble(t, "1", limits+"clientPort=2181\nserver.1=10.0.0.1:2888:3888\nserver.2=10.0.0.2:2888:3888")
	if got := c.QuorumConfigString(); strings.Contains(got, ";") {
		t.Errorf("static client port printed: %q", got)
	}
}

// The member order is Java's HashMap order: ids sharing a bucket keep the
// order in which Java's Properties iterated their keys. Expected orders
// were printed by ZooKeeper 3.8.0 for the same files (see the oracle test).
func TestQuorumConfigStringJavaOrder(t *testing.T) {
	c := mustEnsemble(t, "1", limits+`
server.1=10.0.0.1:2888:3888
server.17=10.0.0.17:2888:3888
server.2=10.0.0.2:2888:3888:observer
server.33=10.0.0.33:2888:3888
server.3=10.0.0.3:2888:3888
`)
	var ids []string
	for _, l := range strings.Split(c.QuorumConfigString(), "\n") {
		k, _, _ := strings.Cut(l, "=")
		ids = append(ids, k)
	}
	want := []string{"server.33", "server.1", "server.17", "server.2", "server.3", "version"}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("order %v, want %v", ids, want)
	}

	// Java's Properties table grows twice while this file loads; the
	// second transfer reverses part of the bin holding server.2369 and
	// server.1137.
	c = mustEnsemble(t, "1", chmResizeCase())
	ids = nil
	for _, q := range c.javaMemberOrder() {
		ids = append(ids, strconv.FormatInt(q.ID, 10))
	}
	if got, want := strings.Join(ids, " "), "1649 609 1489 481 1 2369 1137 2881"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
}

// Expected orders are what Java 17 prints for HashMap<Long,_>.keySet()
// after putting the same ids in the same order.
func TestHashMapLongOrder(t *testing.T) {
	tests := []struct {
		in, want []int64
	}{
		{[]int64{3, 1, 2}, []int64{1, 2, 3}},
		{[]int64{17, 1, 2}, []int64{17, 1, 2}},
		{[]int64{1, 17, 2}, []int64{1, 17, 2}},
		// 13 entries: the table grows to 32, so 1 and 17 part.
		{[]int64{17, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 17}},
		// Nine ids in one bucket of a 16 table: treeifyBin grows it instead.
		{[]int64{0, 16, 32, 48, 64, 80, 96, 112, 128}, []int64{0, 32, 64, 96, 128, 16, 48, 80, 112}},
		// Ids above 2^32 fold their high half in.
		{[]int64{1 << 32, 1}, []int64{1 << 32, 1}},
	}
	for _, tt := range tests {
		if got := hashMapLongOrder(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("hashMapLongOrder(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestJavaStringHash(t *testing.T) {
	// Values of "...".hashCode() printed by Java 17.
	tests := map[string]int32{"": 0, "a": 97, "server.1": 1379102790, "tickTime": 1936851466, "\U0001F600": 1772899}
	for s, want := range tests {
		if got := javaStringHash(s); got != want {
			t.Errorf("hash(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestJavaHostString(t *testing.T) {
	tests := map[string]string{
		"127.0.0.1":        "127.0.0.1",
		"::1":              "[0:0:0:0:0:0:0:1]",
		"FE80::1:AB":       "[fe80:0:0:0:0:0:1:ab]",
		"::ffff:10.1.2.3":  "10.1.2.3",
		"::10.1.2.3":       "[0:0:0:0:0:0:a01:203]",
		"fe80::1%eth0":     "[fe80:0:0:0:0:0:0:1%eth0]",
		"Zk1.Example":      "Zk1.Example",
		"2001:db8::":       "[2001:db8:0:0:0:0:0:0]",
		"not:an:ip:at:all": "[not:an:ip:at:all]",
	}
	for in, want := range tests {
		if got := javaHostString(in); got != want {
			t.Errorf("javaHostString(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServerLines(t *testing.T) {
	tests := []struct {
		val  string
		want QuorumServer
	}{
		{"zk1:2888:3888", QuorumServer{Host: "zk1", QuorumPort: 2888, ElectionPort: 3888}},
		{"zk1:2888:3888:participant", QuorumServer{Host: "zk1", QuorumPort: 2888, ElectionPort: 3888}},
		{"zk1:2888:3888: Observer ", QuorumServer{Host: "zk1", QuorumPort: 2888, ElectionPort: 3888, Type: Observer}},
		{"zk1:2888:3888:observer;2181", QuorumServer{Host: "zk1", QuorumPort: 2888, ElectionPort: 3888, Type: Observer, ClientPort: 2181, HasClient: true}},
		{"zk1:2888:3888;0.0.0.0:2181", QuorumServer{Host: "zk1", QuorumPort: 2888, ElectionPort: 3888, ClientHost: "0.0.0.0", ClientPort: 2181, HasClient: true}},
		{"[::1]:2888:3888", QuorumServer{Host: "::1", QuorumPort: 2888, ElectionPort: 3888}},
		{"[fe80::1]:2888:3888:observer;[::1]:2181", QuorumServer{Host: "fe80::1", QuorumPort: 2888, ElectionPort: 3888, Type: Observer, ClientHost: "::1", ClientPort: 2181, HasClient: true}},
		// Java's String.split drops trailing empty parts.
		{"zk1:2888:3888:", QuorumServer{Host: "zk1", QuorumPort: 2888, ElectionPort: 3888}},
		{"zk1:2888:3888;", QuorumServer{Host: "zk1", QuorumPort: 2888, ElectionPort: 3888}},
		{"zk1:+2888:3888", QuorumServer{Host: "zk1", QuorumPort: 2888, ElectionPort: 3888}},
	}
	for _, tt := range tests {
		c := mustEnsemble(t, "7", limits+"server.7="+tt.val+"\nserver.8=other:1:2\nserver.9=third:1:2")
		tt.want.ID, tt.want.Line = 7, 4
		if got, _ := c.Server(7); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %+v, want %+v", tt.val, got, tt.want)
		}
	}
	q := QuorumServer{Host: "fe80::1", QuorumPort: 1, ElectionPort: 2, ClientPort: 3, HasClient: true}
	if q.QuorumAddr() != "[fe80::1]:1" || q.ElectionAddr() != "[fe80::1]:2" || q.ClientAddr() != "0.0.0.0:3" {
		t.Errorf("addresses: %s %s %s", q.QuorumAddr(), q.ElectionAddr(), q.ClientAddr())
	}
	q = QuorumServer{Host: "h", QuorumPort: 1, ElectionPort: 2, ClientHost: "::1", ClientPort: 3, HasClient: true}
	if q.QuorumAddr() != "h:1" || q.ClientAddr() != "[::1]:3" || (QuorumServer{}).ClientAddr() != "" {
		t.Errorf("addresses: %s %s", q.QuorumAddr(), q.ClientAddr())
	}
	if Participant.String() != "participant" || Observer.String() != "observer" || PeerType(5).String() != "PeerType(5)" {
		t.Error("PeerType.String")
	}
}

func TestEnsembleErrors(t *testing.T) {
	two := "server.1=10.0.0.1:2888:3888\nserver.2=10.0.0.2:2888:3888\n"
	tests := []struct {
		name, myid, body string
		want             []string // substrings of the error
	}{
		{"missing election port", "1", limits + "server.1=zk1:2888\n" + "server.2=zk2:2888:3888", []string{"line 4: server.1:", "is not host:quorumPort:electionPort"}},
		{"too many parts", "1", limits + "server.1=zk1:1:2:observer:x", []string{"line 4: server.1:", "is not host"}},
		{"unbracketed ipv6", "1", limits + "server.1=::1:2888:3888", []string{"line 4: server.1:"}},
		{"two semicolons", "1", limits + "server.1=zk1:1:2;3;4", []string{"line 4: server.1:"}},
		{"client host:port:x", "1", limits + "server.1=zk1:1:2;h:3:4", []string{"line 4: server.1:"}},
		{"multi-address", "1", limits + "server.1=zk1:1:2|zk1b:1:2", []string{"line 4: server.1:", "multiple addresses"}},
		{"bad port", "1", limits + "server.1=zk1:x:2", []string{"line 4: server.1: quorum port:", `"x"`}},
		{"port 0", "1", limits + "server.1=zk1:0:2", []string{"line 4: server.1: quorum port: 0 is not between 1 and 65535"}},
		{"port too big", "1", limits + "server.1=zk1:1:65536", []string{"line 4: server.1: election port:"}},
		{"negative port", "1", limits + "server.1=zk1:1:-2", []string{"line 4: server.1: election port:"}},
		{"bad client port", "1", limits + "server.1=zk1:1:2;h:p", []string{"line 4: server.1: client port:"}},
		{"empty client host", "1", limits + "server.1=zk1:1:2;:2181", []string{"line 4: server.1:", "client host is empty"}},
		{"same ports", "1", limits + "server.1=zk1:2888:2888", []string{"line 4: server.1:", "must be different"}},
		{"bad type", "1", limits + "server.1=zk1:1:2:voter", []string{"line 4: server.1:", `unrecognised peer type "voter"`}},
		{"no closing bracket", "1", limits + "server.1=[::1:1:2", []string{"line 4: server.1:", "no matching ']'"}},
		{"bracket without colon", "1", limits + "server.1=[::1]1:2", []string{"line 4: server.1:", "followed by ':'"}},
		{"bracket then colon only", "1", limits + "server.1=[::1]:", []string{"line 4: server.1:", "no port after the colon"}},
		{"empty host", "1", limits + "server.1=:1:2", []string{"line 4: server.1:", "host is empty"}},
		{"space in host", "1", limits + "server.1=zk 1:1:2", []string{"line 4: server.1:", `host "zk 1" is not a valid host`}},
		{"newline in client host", "1", limits + `server.1=zk1:1:2;a\nb:3`, []string{"line 4: server.1:", "is not a valid host"}},
		{"empty value", "1", limits + "server.1=", []string{"line 4: server.1:"}},
		{"bad id", "1", limits + "server.x=zk1:1:2", []string{"line 4: server.x:", `server id "x"`}},
		{"negative id", "1", limits + "server.-1=zk1:1:2", []string{"line 4: server.-1:"}},
		{"no id", "1", limits + "server.=zk1:1:2", []string{"line 4: server.:"}},
		{"same id twice", "1", limits + "server.1=zk1:1:2\nserver.01=zk2:1:2", []string{"line 5: server.01:", "server id 1 is already used on line 4"}},
		{"same key twice", "1", limits + "server.1=zk1:1:2\nserver.2=zk2:1:2\nserver.1=zk3:1:2", []string{"line 6: server.1 is given twice (also on line 4)"}},
		{"same quorum address", "1", limits + "server.1=zk1:1:2\nserver.2=ZK1:1:3", []string{"line 5: server.2: quorum address ZK1:1 is also the quorum address of line 4: server.1"}},
		{"election vs quorum", "1", limits + "server.1=10.0.0.1:1:2\nserver.2=10.0.0.1:2:3", []string{"line 5: server.2: quorum address 10.0.0.1:2 is also the election address of line 4: server.1"}},
		{"loopback clash", "1", limits + "server.1=127.0.0.1:1:2\nserver.2=127.0.0.1:3:2", []string{"line 5: server.2: election address"}},
		{"ipv6 spelling clash", "1", limits + "server.1=[::1]:1:2\nserver.2=[0:0::1]:1:3", []string{"line 5: server.2: quorum address [0:0::1]:1"}},
		{"client clash", "1", limits + "server.1=10.0.0.1:1:2;10.0.0.9:2181\nserver.2=10.0.0.2:1:2;10.0.0.9:2181", []string{"line 5: server.2: client address 10.0.0.9:2181 is also the client address of line 4: server.1"}},
		{"client on own quorum port", "1", limits + "server.1=10.0.0.1:1:2;1\nserver.2=10.0.0.2:1:2", []string{"line 4: server.1: client port 1"}},
		{"observers only", "1", limits + "server.1=zk1:1:2:observer\nserver.2=zk2:1:2:observer", []string{"line 4: server.1: observers without participants"}},
		{"one participant and an observer", "1", limits + "server.1=zk1:1:2\nserver.2=zk2:1:2:observer", []string{"line 5: server.2: observers without a quorum"}},
		{"standaloneEnabled=false without servers", "1", "standaloneEnabled=false", []string{"standaloneEnabled=false needs at least one participant"}},
		{"myid missing", "", limits + two, []string{"myid file is missing", "myid must hold"}},
		{"myid not listed", "3", limits + two, []string{"myid 3 (", "is not in the peer list: there is no server.3 line"}},
		{"myid not a number", "one", limits + two, []string{"myid: server id \"one\" is not a non-negative integer"}},
		{"myid empty", "\n", limits + two, []string{`server id "" is not`}},
		{"myid negative", "-1", limits + two, []string{`server id "-1" is not`}},
		{"myid malformed even standalone", "x", "server.1=zk1:1:2", []string{`server id "x"`}},
		{"initLimit missing", "1", "syncLimit=5\n" + two, []string{"config: initLimit is not set (required for an ensemble)"}},
		{"syncLimit missing", "1", "initLimit=5\n" + two, []string{"config: syncLimit is not set (required for an ensemble)"}},
		{"initLimit zero", "1", "initLimit=0\nsyncLimit=5\n" + two, []string{"initLimit is not set"}},
		{"initLimit negative", "1", "initLimit=-1\nsyncLimit=5\n" + two, []string{"initLimit (-1) must be positive"}},
		{"single-node quorum needs limits", "1", "standaloneEnabled=false\nserver.1=zk1:1:2", []string{"initLimit is not set"}},
		{"initLimit not a number", "1", "initLimit=ten\n" + two, []string{`line 1: initLimit: "ten" is not an integer`}},
		{"electionAlg 1", "1", limits + "electionAlg=1\n" + two, []string{"line 4: electionAlg: invalid value 1, only 3 is supported"}},
		{"electionAlg 0", "1", limits + "electionAlg=0\n" + two, []string{"electionAlg: invalid value 0"}},
		{"peerType bogus", "1", limits + "peerType=leader\n" + two, []string{`line 4: peerType: unrecognised peer type "leader"`}},
		{"bool syntax", "1", limits + "syncEnabled=yes\n" + two, []string{`line 4: syncEnabled: "yes" is not a boolean (true, false)`}},
		{"dynamicConfigFile", "1", limits + "dynamicConfigFile=/x\n", []string{"line 4: dynamicConfigFile: a separate dynamic config file is not supported"}},
		{"group", "1", limits + two + "group.1=1:2", []string{"line 6: group.1: hierarchical quorums"}},
		{"weight", "1", limits + two + "weight.1=2", []string{"line 6: weight.1: hierarchical quorums"}},
		{"oraclePath", "1", limits + "oraclePath=/x\n" + two, []string{"line 4: oraclePath"}},
		{"sasl", "1", limits + "quorum.auth.enableSasl=true\n" + two, []string{"line 4: quorum.auth.enableSasl: SASL between servers"}},
		{"cnxTimeout", "1", limits + "cnxTimeout=0\n" + two, []string{"cnxTimeout (0) must be positive"}},
		{"cnxTimeout syntax", "1", limits + "zookeeper.cnxTimeout=5s\n" + two, []string{`line 4: zookeeper.cnxTimeout: "5s" is not an integer`}},
		{"connectToLearnerMasterLimit", "1", limits + "connectToLearnerMasterLimit=-2\n" + two, []string{"connectToLearnerMasterLimit (-2) must not be negative"}},
		{"observerMasterPort", "1", limits + "observerMasterPort=70000\n" + two, []string{"observerMasterPort (70000)"}},
		{"client port differs", "1", limits + "clientPort=2181\nserver.1=10.0.0.1:1:2;2182\nserver.2=10.0.0.2:1:2",
			[]string{"line 5: server.1: client address 0.0.0.0:2182 differs from clientPort/clientPortAddress (0.0.0.0:2181)"}},
		{"client host differs", "1", limits + "clientPort=2181\nclientPortAddress=127.0.0.1\nserver.1=10.0.0.1:1:2;2181\nserver.2=10.0.0.2:1:2",
			[]string{"line 6: server.1: client address 0.0.0.0:2181 differs from clientPort/clientPortAddress (127.0.0.1:2181)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ensemble(t, tt.myid, tt.body)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("error %q lacks the config: prefix", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestEnsembleDefaults(t *testing.T) {
	for _, c := range []*Config{Default(), mustParse(t, "")} {
		tests := []struct {
			name      string
			got, want any
		}{
			{"Servers", len(c.Servers), 0},
			{"MyID", c.MyID, int64(-1)},
			{"InitLimit", c.InitLimit, 0},
			{"SyncLimit", c.SyncLimit, 0},
			{"ConnectToLearnerMasterLimit", c.ConnectToLearnerMasterLimit, 0},
			{"ElectionAlg", c.ElectionAlg, 3},
			{"PeerType", c.PeerType, Participant},
			{"QuorumListenOnAllIPs", c.QuorumListenOnAllIPs, false},
			{"SyncEnabled", c.SyncEnabled, true},
			{"StandaloneEnabled", c.StandaloneEnabled, true},
			{"ReconfigEnabled", c.ReconfigEnabled, false},
			{"ObserverMasterPort", c.ObserverMasterPort, 0},
			{"LocalSessionsEnabled", c.LocalSessionsEnabled, false},
			{"LocalSessionsUpgradingEnabled", c.LocalSessionsUpgradingEnabled, false},
			{"MultiAddressEnabled", c.MultiAddressEnabled, false},
			{"CnxTimeoutMs", c.CnxTimeoutMs, 5000},
			{"QuorumCnxnTimeoutMs", c.QuorumCnxnTimeoutMs, -1},
			{"LeaderServes", c.LeaderServes, true},
			{"ElectionPortBindRetry", c.ElectionPortBindRetry, 3},
			{"MinNotificationIntervalMs", c.MinNotificationIntervalMs, 200},
			{"MaxNotificationIntervalMs", c.MaxNotificationIntervalMs, 60000},
			{"LeaderConnectDelayDuringRetryMs", c.LeaderConnectDelayDuringRetryMs, 100},
			{"ObserverReconnectDelayMs", c.ObserverReconnectDelayMs, int64(0)},
			{"ObserverElectionDelayMs", c.ObserverElectionDelayMs, int64(200)},
			{"TCPKeepAlive", c.TCPKeepAlive, false},
			{"ForceSnapshotSync", c.ForceSnapshotSync, false},
			{"MaxConcurrentSnapSyncs", c.MaxConcurrentSnapSyncs, 10},
			{"MaxConcurrentDiffSyncs", c.MaxConcurrentDiffSyncs, 100},
			{"MaxTimeToWaitForEpochMs", c.MaxTimeToWaitForEpochMs, -1},
			{"Ensemble", c.Ensemble(), false},
			{"Voters", len(c.Voters()), 0},
		}
		for _, tt := range tests {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
			}
		}
		if _, ok := c.Self(); ok {
			t.Error("Self() found a line without servers")
		}
		if got := c.QuorumConfigString(); got != "version=0" {
			t.Errorf("QuorumConfigString() = %q", got)
		}
	}
}

func TestEnsembleKeys(t *testing.T) {
	c := mustEnsemble(t, " 2 \n", `tickTime=2000
initLimit=7
syncLimit=3
connectToLearnerMasterLimit=9
electionAlg=3
peerType=OBSERVER
quorumListenOnAllIPs=true
syncEnabled=false
standaloneEnabled=false
reconfigEnabled=TRUE
observerMasterPort=2191
localSessionsEnabled=true
localSessionsUpgradingEnabled=true
multiAddress.enabled=false
sslQuorum=false
quorum.auth.enableSasl=false
cnxTimeout=700
zookeeper.quorumCnxnTimeoutMs=900
leaderServes=no
electionPortBindRetry=0
zookeeper.fastleader.minNotificationInterval=50
fastleader.maxNotificationInterval=800
leaderConnectDelayDuringRetryMs=20
observer.reconnectDelayMs=30
zookeeper.observer.election.DelayMs=40
tcpKeepAlive=true
forceSnapshotSync=true
leader.maxConcurrentSnapSyncs=2
leader.maxConcurrentDiffSyncs=3
leader.maxTimeToWaitForEpoch=4000
server.1=10.0.0.1:2888:3888
server.2=10.0.0.2:2888:3888:observer
server.3=10.0.0.3:2888:3888
server.4=10.0.0.4:2888:3888`)
	tests := []struct {
		name      string
		got, want any
	}{
		{"MyID", c.MyID, int64(2)},
		{"InitLimit", c.InitLimit, 7},
		{"SyncLimit", c.SyncLimit, 3},
		{"ConnectToLearnerMasterLimit", c.ConnectToLearnerMasterLimit, 9},
		{"ElectionAlg", c.ElectionAlg, 3},
		{"PeerType", c.PeerType, Observer},
		{"QuorumListenOnAllIPs", c.QuorumListenOnAllIPs, true},
		{"SyncEnabled", c.SyncEnabled, false},
		{"StandaloneEnabled", c.StandaloneEnabled, false},
		{"ReconfigEnabled", c.ReconfigEnabled, true},
		{"ObserverMasterPort", c.ObserverMasterPort, 2191},
		{"LocalSessionsEnabled", c.LocalSessionsEnabled, true},
		{"LocalSessionsUpgradingEnabled", c.LocalSessionsUpgradingEnabled, true},
		{"CnxTimeoutMs", c.CnxTimeoutMs, 700},
		{"QuorumCnxnTimeoutMs", c.QuorumCnxnTimeoutMs, 900},
		{"LeaderServes", c.LeaderServes, false},
		{"ElectionPortBindRetry", c.ElectionPortBindRetry, 0},
		{"MinNotificationIntervalMs", c.MinNotificationIntervalMs, 50},
		{"MaxNotificationIntervalMs", c.MaxNotificationIntervalMs, 800},
		{"LeaderConnectDelayDuringRetryMs", c.LeaderConnectDelayDuringRetryMs, 20},
		{"ObserverReconnectDelayMs", c.ObserverReconnectDelayMs, int64(30)},
		{"ObserverElectionDelayMs", c.ObserverElectionDelayMs, int64(40)},
		{"TCPKeepAlive", c.TCPKeepAlive, true},
		{"ForceSnapshotSync", c.ForceSnapshotSync, true},
		{"MaxConcurrentSnapSyncs", c.MaxConcurrentSnapSyncs, 2},
		{"MaxConcurrentDiffSyncs", c.MaxConcurrentDiffSyncs, 3},
		{"MaxTimeToWaitForEpochMs", c.MaxTimeToWaitForEpochMs, 4000},
		{"Unknown", len(c.Unknown), 0},
		{"Ensemble", c.Ensemble(), true},
		{"Voters", ids(c.Voters()), []int64{1, 3, 4}},
		{"Observers", ids(c.Observers()), []int64{2}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
	if self, ok := c.Self(); !ok || self.ID != 2 || self.Type != Observer || self.Line != 32 {
		t.Errorf("Self() = %+v, %v", self, ok)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("Warnings = %q, want none (3 voters)", c.Warnings)
	}

	// observer.syncEnabled (a system property) overrides syncEnabled in
	// either order; odd leaderServes / electionPortBindRetry values.
	for _, body := range []string{
		"zookeeper.observer.syncEnabled=false\nsyncEnabled=true",
		"syncEnabled=true\nobserver.syncEnabled=false",
	} {
		if c := mustParse(t, body); c.SyncEnabled {
			t.Errorf("%q: SyncEnabled true", body)
		}
	}
	c = mustParse(t, "leaderServes=NO\nelectionPortBindRetry=-4")
	if !c.LeaderServes || c.ElectionPortBindRetry != 3 || len(c.Warnings) != 2 {
		t.Errorf("leaderServes=NO: %v, bind retry %d, warnings %q", c.LeaderServes, c.ElectionPortBindRetry, c.Warnings)
	}
	if c := mustParse(t, "zookeeper.leaderServes=yes"); !c.LeaderServes || len(c.Warnings) != 0 {
		t.Errorf("leaderServes=yes: %v %q", c.LeaderServes, c.Warnings)
	}
	for _, k := range QuorumKeys {
		if lookup(k) == nil {
			t.Errorf("QuorumKeys lists %q but it is not an option", k)
		}
	}
}

func ids(s []QuorumServer) []int64 {
	var out []int64
	for _, q := range s {
		out = append(out, q.ID)
	}
	return out
}

func TestStandaloneWithServerLines(t *testing.T) {
	// One server line and standaloneEnabled=true: ZooKeeper 3.8 runs
	// standalone; no limits, no myid needed.
	c := mustEnsemble(t, "", "server.1=zk1:2888:3888")
	if c.Ensemble() || c.MyID != -1 || len(c.Voters()) != 1 {
		t.Errorf("Ensemble %v MyID %d", c.Ensemble(), c.MyID)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "running standalone") {
		t.Errorf("Warnings = %q", c.Warnings)
	}
	// Its own client address still applies when myid names it.
	c = mustEnsemble(t, "1", "server.1=zk1:2888:3888;127.0.0.1:2190")
	if c.Ensemble() || c.MyID != 1 || c.ClientPort != 2190 || c.ClientPortAddress != "127.0.0.1" {
		t.Errorf("Ensemble %v MyID %d client %s:%d", c.Ensemble(), c.MyID, c.ClientPortAddress, c.ClientPort)
	}
	// standaloneEnabled=false: a one-member ensemble.
	c = mustEnsemble(t, "1", limits+"standaloneEnabled=false\nserver.1=zk1:2888:3888")
	if !c.Ensemble() || !c.IsQuorum([]int64{1}) {
		t.Errorf("single-member ensemble: Ensemble %v", c.Ensemble())
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "1 voting servers: no server failure will be tolerated") {
		t.Errorf("Warnings = %q", c.Warnings)
	}
}

func TestEnsembleWarnings(t *testing.T) {
	line := func(id string) string { return "server." + id + "=10.0.0." + id + ":2888:3888\n" }
	tests := []struct {
		body string
		want []string
	}{
		{line("1") + line("2"), []string{"2 voting servers: no server failure will be tolerated, you need at least 3 servers"}},
		{line("1") + line("2") + line("3"), nil},
		{line("1") + line("2") + line("3") + line("4"), []string{"4 voting servers: non-optimal configuration, consider an odd number of servers"}},
		{line("1") + line("2") + line("3") + "server.4=10.0.0.4:1:2:observer\n", nil},
		{line("1") + line("2") + line("3") + "peerType=observer\n", []string{"peerType=observer does not match the server list (participant for myid 1): using the server list"}},
	}
	for _, tt := range tests {
		c := mustEnsemble(t, "1", limits+tt.body)
		if !reflect.DeepEqual(c.Warnings, tt.want) {
			t.Errorf("%q: Warnings = %q, want %q", tt.body, c.Warnings, tt.want)
		}
		if c.PeerType != Participant {
			t.Errorf("%q: PeerType %v", tt.body, c.PeerType)
		}
	}
	// The server list also wins the other way round.
	c := mustEnsemble(t, "4", limits+line("1")+line("2")+line("3")+"server.4=10.0.0.4:1:2:observer\n")
	if c.PeerType != Observer || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "peerType=participant does not match the server list (observer for myid 4)") {
		t.Errorf("PeerType %v Warnings %q", c.PeerType, c.Warnings)
	}
}

func TestClientAddressFromServerLine(t *testing.T) {
	two := "server.2=10.0.0.2:2888:3888;2182\n"
	tests := []struct {
		name, body string
		port       int
		addr       string
	}{
		{"no clientPort: port from line", "server.1=10.0.0.1:2888:3888;2190\n" + two, 2190, ""},
		{"no clientPort: host and port from line", "server.1=10.0.0.1:2888:3888;10.0.0.1:2190\n" + two, 2190, "10.0.0.1"},
		{"no clientPort: ipv6", "server.1=10.0.0.1:2888:3888;[::1]:2190\n" + two, 2190, "::1"},
		{"line without client: static kept", "clientPort=2300\nserver.1=10.0.0.1:2888:3888\n" + two, 2300, ""},
		{"line without client, no clientPort: default", "server.1=10.0.0.1:2888:3888\n" + two, 2181, ""},
		{"both agree (wildcard)", "clientPort=2190\nserver.1=10.0.0.1:2888:3888;2190\n" + two, 2190, ""},
		{"wildcard static, host on line: line wins", "clientPort=2190\nserver.1=10.0.0.1:2888:3888;10.0.0.1:2190\n" + two, 2190, "10.0.0.1"},
		{"both agree (host)", "clientPort=2190\nclientPortAddress=10.0.0.1\nserver.1=10.0.0.1:2888:3888;10.0.0.1:2190\n" + two, 2190, "10.0.0.1"},
		{"clientPort=0 counts as unset", "clientPort=0\nserver.1=10.0.0.1:2888:3888;2190\n" + two, 2190, ""},
	}
	for _, tt := range tests {
		c := mustEnsemble(t, "1", limits+tt.body)
		if c.ClientPort != tt.port || c.ClientPortAddress != tt.addr {
			t.Errorf("%s: client %q:%d, want %q:%d", tt.name, c.ClientPortAddress, c.ClientPort, tt.addr, tt.port)
		}
		// Resolving again changes nothing.
		before := *c
		if err := c.Resolve(); err != nil || c.ClientPort != before.ClientPort || c.ClientPortAddress != before.ClientPortAddress || c.MyID != before.MyID {
			t.Errorf("%s: second Resolve: %v, client %q:%d", tt.name, err, c.ClientPortAddress, c.ClientPort)
		}
	}
}

func TestIsQuorum(t *testing.T) {
	c := mustEnsemble(t, "1", limits+`server.1=10.0.0.1:1:2
server.2=10.0.0.2:1:2
server.3=10.0.0.3:1:2
server.4=10.0.0.4:1:2
server.5=10.0.0.5:1:2
server.6=10.0.0.6:1:2:observer
server.7=10.0.0.7:1:2:observer`)
	tests := []struct {
		ids  []int64
		want bool
	}{
		{nil, false},
		{[]int64{1, 2}, false},
		{[]int64{1, 2, 3}, true},
		{[]int64{5, 4, 1}, true},
		{[]int64{1, 2, 6, 7}, false}, // observers do not count
		{[]int64{1, 1, 2, 2}, false}, // repeats do not count
		{[]int64{1, 2, 99}, false},   // unknown ids do not count
		{[]int64{1, 2, 3, 4, 5}, true},
	}
	for _, tt := range tests {
		if got := c.IsQuorum(tt.ids); got != tt.want {
			t.Errorf("IsQuorum(%v) = %v, want %v", tt.ids, got, tt.want)
		}
	}
	if !c.IsVoter(5) || c.IsVoter(6) || c.IsVoter(8) {
		t.Error("IsVoter")
	}
	four := mustEnsemble(t, "1", limits+"server.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\nserver.4=d:1:2")
	if four.IsQuorum([]int64{1, 2}) || !four.IsQuorum([]int64{1, 2, 4}) {
		t.Error("4 voters: quorum is 3")
	}
}

func TestProgrammaticEnsemble(t *testing.T) {
	// A Config built in code: MyID set by the caller without a myid file,
	// servers in any order; Resolve sorts and validates them.
	c := Default()
	c.DataDir = t.TempDir()
	c.InitLimit, c.SyncLimit, c.MyID = 5, 2, 2
	c.Servers = []QuorumServer{
		{ID: 3, Host: "127.0.0.1", QuorumPort: 3001, ElectionPort: 3002},
		{ID: 2, Host: "127.0.0.1", QuorumPort: 2001, ElectionPort: 2002, ClientPort: 2181, HasClient: true},
		{ID: 1, Host: "127.0.0.1", QuorumPort: 1001, ElectionPort: 1002},
	}
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids(c.Servers), []int64{1, 2, 3}) || c.MyID != 2 || !c.Ensemble() {
		t.Errorf("servers %v myid %d", ids(c.Servers), c.MyID)
	}
	want := "server.1=127.0.0.1:1001:1002:participant\n" +
		"server.2=127.0.0.1:2001:2002:participant;0.0.0.0:2181\n" +
		"server.3=127.0.0.1:3001:3002:participant\nversion=0"
	if got := c.QuorumConfigString(); got != want {
		t.Errorf("got %q", got)
	}
	// A myid file wins over the caller's value.
	if err := os.WriteFile(filepath.Join(c.DataDir, "myid"), []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Resolve(); err != nil || c.MyID != 3 {
		t.Errorf("myid file: %v, MyID %d", err, c.MyID)
	}
	c.Servers = append(c.Servers, QuorumServer{ID: 2, Host: "h", QuorumPort: 1, ElectionPort: 2})
	if err := c.Resolve(); err == nil || !strings.Contains(err.Error(), "server.2: server id 2 is already used") {
		t.Errorf("duplicate id: %v", err)
	}
	c.Servers = c.Servers[:3]
	c.Servers[0].ElectionPort = c.Servers[0].QuorumPort
	if err := c.Resolve(); err == nil || !strings.Contains(err.Error(), "server.1: the quorum port and the election port must be different") {
		t.Errorf("same ports: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte(limits + "server.1=127.0.0.1:22888:23888\nserver.2=127.0.0.1:22889:23889\n"))
	f.Add([]byte(limits + "server.1=[::1]:2888:3888:observer;[::1]:2181\nserver.2=h:1:2;3\nserver.3=h:4:5|h:6:7\n"))
	f.Add([]byte("a=x,\\\n  y\\\\\n\\u0041=\\ud83d\\ude00\r\n# c\n!d\n server.7 : zk:1:2:participant;h:3\n"))
	f.Add([]byte("standaloneEnabled=false\nserver.1=zk1:1:2\npeerType=observer\nsyncLimit=1\ninitLimit=1"))
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(strings.NewReader(string(data)))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		c.DataDir = dir
		if err := c.Resolve(); err != nil {
			return
		}
		for i := 1; i < len(c.Servers); i++ {
			if c.Servers[i-1].ID >= c.Servers[i].ID {
				t.Fatalf("servers not sorted/unique: %v", ids(c.Servers))
			}
		}
		s := c.QuorumConfigString()
		if n := strings.Count(s, "\n"); n != len(c.Servers) || !strings.HasSuffix(s, "version=0") {
			t.Fatalf("config string %q for %d servers", s, len(c.Servers))
		}
		// The printed lines parse back to the same members.
		back, err := parse(strings.NewReader(strings.TrimSuffix(s, "version=0")))
		if err != nil {
			t.Fatalf("config string %q does not parse: %v", s, err)
		}
		if len(back.Servers) != len(c.Servers) {
			t.Fatalf("%d servers back, want %d", len(back.Servers), len(c.Servers))
		}
		for i, q := range back.Servers {
			o := c.Servers[i]
			if q.ID != o.ID || q.Type != o.Type || q.QuorumPort != o.QuorumPort || q.ElectionPort != o.ElectionPort ||
				q.HasClient != o.HasClient || q.ClientPort != o.ClientPort || hostKey(q.Host) != hostKey(o.Host) {
				t.Fatalf("server %d: %+v back, want %+v", q.ID, q, o)
			}
		}
		if !c.IsQuorum(ids(c.Voters())) && len(c.Voters()) > 0 {
			t.Fatal("all voters are not a quorum")
		}
	})
}

func TestResolveAgainEnsemble(t *testing.T) {
	c := mustEnsemble(t, "1", limits+"peerType=observer\nleaderServes=maybe\nserver.1=10.0.0.1:1:2;2190\nserver.2=10.0.0.2:1:2")
	want := append([]string(nil), c.Warnings...)
	if len(want) != 3 { // leaderServes (parse), two voters, peerType
		t.Fatalf("Warnings = %q", want)
	}
	if err := c.Resolve(); err != nil || !reflect.DeepEqual(c.Warnings, want) {
		t.Errorf("second Resolve: %v, Warnings %q, want %q", err, c.Warnings, want)
	}
	// Another dataDir without myid: the id read before is dropped.
	c.DataDir = t.TempDir()
	if err := c.Resolve(); err == nil || !strings.Contains(err.Error(), "myid file is missing") || c.MyID != -1 {
		t.Errorf("new dataDir: %v, MyID %d", err, c.MyID)
	}
	// A caller changing the client port taken from the line: it now
	// counts as set, and differs from the line.
	c = mustEnsemble(t, "1", limits+"server.1=10.0.0.1:1:2;2190\nserver.2=10.0.0.2:1:2")
	c.ClientPort = 3000
	if err := c.Resolve(); err == nil || !strings.Contains(err.Error(), "differs from clientPort") {
		t.Errorf("changed client port: %v", err)
	}
	c.ClientPort, c.ClientPortAddress = 2190, "0.0.0.0"
	if err := c.Resolve(); err != nil || c.ClientPortAddress != "" {
		t.Errorf("same port on all interfaces: %v, address %q", err, c.ClientPortAddress)
	}
}
