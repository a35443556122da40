package config

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkserver/zkserver/internal/testkit"
)

type oracleCase struct {
	name string
	myid string // "" = no myid file
	body string // zoo.cfg without dataDir
	// stricter marks configs ZooKeeper's QuorumPeerConfig accepts but this
	// package refuses on purpose (ZooKeeper fails later, at start).
	stricter bool
}

type oracleResult struct {
	err         string
	distributed bool
	id          int64
	peerType    string
	clientHost  string
	clientPort  int
	qv          string
}

// runOracle writes each case to its own directory and has ZooKeeper's
// QuorumPeerConfig parse them all in one JVM.
func runOracle(t *testing.T, cases []oracleCase) ([]string, map[string]oracleResult) {
	t.Helper()
	root := t.TempDir()
	var paths []string
	for i, c := range cases {
		dir := filepath.Join(root, strconv.Itoa(i))
		data := filepath.Join(dir, "data")
		if err := os.MkdirAll(data, 0o755); err != nil {
			t.Fatal(err)
		}
		if c.myid != "" {
			if err := os.WriteFile(filepath.Join(data, "myid"), []byte(c.myid), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(dir, "zoo.cfg")
		if err := os.WriteFile(p, []byte(c.body+"\ndataDir="+data+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	src, err := filepath.Abs(filepath.Join("testdata", "CfgOracle.java"))
	if err != nil {
		t.Fatal(err)
	}
	cp := testkit.ZKJar + ":/usr/share/java/slf4j-api.jar"
	cmd := exec.Command("java", append([]string{"-cp", cp, src}, paths...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatal("oracle timed out")
	}
	if err != nil {
		t.Fatalf("oracle: %v\n%s", err, stderr.String())
	}
	results := map[string]oracleResult{}
	sc := bufio.NewScanner(&stdout)
	var cur string
	var r oracleResult
	var qv []string
	inQV := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "== "):
			cur, r, qv, inQV = line[3:], oracleResult{}, nil, false
		case line == "==END":
			r.qv = strings.Join(qv, "\n")
			results[cur] = r
		case inQV:
			qv = append(qv, line)
		case strings.HasPrefix(line, "ERR "):
			r.err = line[4:]
		case strings.HasPrefix(line, "distributed="):
			r.distributed = line == "distributed=true"
		case strings.HasPrefix(line, "id="):
			r.id, _ = strconv.ParseInt(line[3:], 10, 64)
		case strings.HasPrefix(line, "type="):
			r.peerType = strings.ToLower(line[5:])
		case strings.HasPrefix(line, "clientHost="):
			r.clientHost = line[len("clientHost="):]
		case strings.HasPrefix(line, "clientPort="):
			r.clientPort, _ = strconv.Atoi(line[len("clientPort="):])
		case strings.HasPrefix(line, "qvlen="):
			inQV = true
		}
	}
	if len(results) != len(cases) {
		t.Fatalf("oracle answered %d of %d files\n%s", len(results), len(cases), stdout.String())
	}
	return paths, results
}

// TestOracleQuorumConfig parses the same files with ZooKeeper 3.8.0 and
// this package and compares the outcome: error or not, quorum mode, myid,
// peer type, client address and the config string byte for byte.
func TestOracleQuorumConfig(t *testing.T) {
	testkit.RequireZK(t, true)
	cases := fixedOracleCases()
	cases = append(cases, randomOracleCases(rand.New(rand.NewSource(1)), 60)...)
	paths, results := runOracle(t, cases)
	for i, tc := range cases {
		want := results[paths[i]]
		got, err := Load(paths[i])
		label := fmt.Sprintf("%s (%s)", tc.name, paths[i])
		if want.err != "" {
			if err == nil {
				t.Errorf("%s: ZooKeeper refuses (%s), we accept", label, want.err)
			}
			continue
		}
		if err != nil {
			if !tc.stricter {
				t.Errorf("%s: we refuse (%v), ZooKeeper accepts", label, err)
			}
			continue
		}
		if tc.stricter {
			t.Errorf("%s: marked stricter but accepted", label)
		}
		if got.Ensemble() != want.distributed {
			t.Errorf("%s: Ensemble() = %v, ZooKeeper isDistributed = %v", label, got.Ensemble(), want.distributed)
		}
		if got.MyID != want.id {
			t.Errorf("%s: MyID = %d, ZooKeeper %d", label, got.MyID, want.id)
		}
		if got.PeerType.String() != want.peerType {
			t.Errorf("%s: PeerType = %v, ZooKeeper %s", label, got.PeerType, want.peerType)
		}
		if want.clientPort >= 0 {
			host := strings.Trim(javaHostString(got.ClientPortAddress), "[]")
			if got.ClientPortAddress == "" {
				host = "0.0.0.0"
			}
			if got.ClientPort != want.clientPort || host != want.clientHost {
				t.Errorf("%s: client %s:%d, ZooKeeper %s:%d", label, host, got.ClientPort, want.clientHost, want.clientPort)
			}
		}
		if len(got.Servers) > 0 {
			if s := got.QuorumConfigString(); s != want.qv {
				t.Errorf("%s: config string\n%s\nZooKeeper\n%s", label, s, want.qv)
			}
		}
	}
}

func fixedOracleCases() []oracleCase {
	const lim = "tickTime=2000\ninitLimit=10\nsyncLimit=5\n"
	two := "server.1=127.0.0.1:22888:23888\nserver.2=127.0.0.1:22889:23889\n"
	return []oracleCase{
		{name: "live", myid: "1", body: lim + two},
		{name: "live, myid 2", myid: "2\n", body: lim + two},
		{name: "collisions and forms", myid: "1", body: lim + `server.1=[::1]:22888:23888;[fe80::0001]:2181
server.17=127.0.0.1:22889:23889;2182
server.2=localhost:22890:23890:observer
server.33=10.0.0.33:22891:23891
server.3=[::ffff:10.0.0.1]:22892:23892
server.49=[2001:DB8::7]:1:2:participant;10.1.1.1:3`},
		{name: "collisions, other key order", myid: "3", body: `server.33=10.0.0.33:22891:23891
server.3=10.0.0.3:22892:23892
` + lim + `server.17=127.0.0.1:22889:23889;2182
server.1=10.0.0.1:22888:23888
server.2=10.0.0.2:22890:23890`},
		{name: "client from line, no clientPort", myid: "1", body: lim + "server.1=10.0.0.1:1:2;2190\nserver.2=10.0.0.2:1:2;2191"},
		{name: "client host from line", myid: "1", body: lim + "server.1=10.0.0.1:1:2;10.0.0.1:2190\nserver.2=10.0.0.2:1:2"},
		{name: "client ipv6 from line", myid: "1", body: lim + "server.1=10.0.0.1:1:2;[::1]:2190\nserver.2=10.0.0.2:1:2"},
		{name: "clientPort agrees", myid: "1", body: lim + "clientPort=2190\nserver.1=10.0.0.1:1:2;2190\nserver.2=10.0.0.2:1:2"},
		{name: "clientPort wildcard, host on line", myid: "1", body: lim + "clientPort=2190\nserver.1=10.0.0.1:1:2;127.0.0.1:2190\nserver.2=10.0.0.2:1:2"},
		{name: "clientPort differs", myid: "1", body: lim + "clientPort=2181\nserver.1=10.0.0.1:1:2;2190\nserver.2=10.0.0.2:1:2"},
		{name: "clientPortAddress differs", myid: "1", body: lim + "clientPort=2190\nclientPortAddress=127.0.0.1\nserver.1=10.0.0.1:1:2;2190\nserver.2=10.0.0.2:1:2"},
		{name: "static client only", myid: "2", body: lim + "clientPort=2190\n" + two},
		{name: "one server: standalone", myid: "", body: "server.1=10.0.0.1:1:2"},
		{name: "one server with myid: standalone", myid: "1", body: "server.1=10.0.0.1:1:2;2195"},
		{name: "one server, standaloneEnabled=false", myid: "1", body: lim + "standaloneEnabled=false\nserver.1=10.0.0.1:1:2"},
		{name: "peerType differs from list", myid: "1", body: lim + "peerType=observer\n" + two},
		{name: "observer by list", myid: "3", body: lim + two + "server.3=127.0.0.1:22890:23890:observer"},
		{name: "observer agrees", myid: "3", body: lim + "peerType=observer\n" + two + "server.3=127.0.0.1:22890:23890:observer"},
		{name: "trailing separators", myid: "1", body: lim + "server.1=10.0.0.1:1:2:\nserver.2=10.0.0.2:1:2;"},
		{name: "uppercase type", myid: "1", body: lim + "server.1=10.0.0.1:1:2:OBSERVER\nserver.2=10.0.0.2:1:2\nserver.3=10.0.0.3:1:2"},
		{name: "four voters", myid: "4", body: lim + two + "server.3=10.0.0.3:1:2\nserver.4=10.0.0.4:1:2"},
		{name: "id 0", myid: "0", body: lim + "server.0=10.0.0.1:1:2\nserver.16=10.0.0.2:1:2"},
		{name: "properties table resize reverses a bin", myid: "1", body: chmResizeCase()},
		// refused by both
		{name: "observers only", myid: "1", body: lim + "server.1=10.0.0.1:1:2:observer\nserver.2=10.0.0.2:1:2:observer"},
		{name: "observer without quorum", myid: "1", body: lim + "server.1=10.0.0.1:1:2\nserver.2=10.0.0.2:1:2:observer"},
		{name: "standaloneEnabled=false, no servers", myid: "", body: "standaloneEnabled=false"},
		{name: "no initLimit", myid: "1", body: "syncLimit=2\n" + two},
		{name: "no syncLimit", myid: "1", body: "initLimit=2\n" + two},
		{name: "no myid", myid: "", body: lim + two},
		{name: "bad myid", myid: "x", body: lim + two},
		{name: "electionAlg 1", myid: "1", body: lim + "electionAlg=1\n" + two},
		{name: "bad peerType", myid: "1", body: lim + "peerType=leader\n" + two},
		{name: "same ports", myid: "1", body: lim + "server.1=10.0.0.1:1:1\nserver.2=10.0.0.2:1:2"},
		{name: "two ports", myid: "1", body: lim + "server.1=10.0.0.1:1\nserver.2=10.0.0.2:1:2"},
		{name: "five parts", myid: "1", body: lim + "server.1=10.0.0.1:1:2:observer:x\nserver.2=10.0.0.2:1:2"},
		{name: "bad type", myid: "1", body: lim + "server.1=10.0.0.1:1:2:voter\nserver.2=10.0.0.2:1:2"},
		{name: "multi-address", myid: "1", body: lim + "server.1=10.0.0.1:1:2|10.0.0.9:1:2\nserver.2=10.0.0.2:1:2"},
		{name: "bad port", myid: "1", body: lim + "server.1=10.0.0.1:x:2\nserver.2=10.0.0.2:1:2"},
		{name: "three client parts", myid: "1", body: lim + "server.1=10.0.0.1:1:2;a:b:3\nserver.2=10.0.0.2:1:2"},
		{name: "bad id", myid: "1", body: lim + "server.x=10.0.0.1:1:2\nserver.2=10.0.0.2:1:2"},
		{name: "bool syntax", myid: "1", body: lim + "syncEnabled=yes\n" + two},
		// refused here, accepted by QuorumPeerConfig (ZooKeeper fails later
		// or binds the same address twice)
		{name: "myid not listed", myid: "3", body: lim + two, stricter: true},
		{name: "same address twice", myid: "1", body: lim + "server.1=10.0.0.1:1:2\nserver.2=10.0.0.1:1:3", stricter: true},
	}
}

// chmResizeCase is a file in which two server keys change places when
// Java's Properties table grows (a ConcurrentHashMap transfer reverses
// part of a bin), and all ids share one HashMap bucket, so the printed
// order shows it. Found by search; the order is ZooKeeper's to decide.
func chmResizeCase() string {
	keys := []string{"initLimit", "syncLimit", "server.609", "k61", "k49", "server.2881", "k33", "k85", "k59",
		"k30", "server.481", "server.1", "k92", "k50", "server.1649", "k54", "k40", "server.1137", "k23", "k19",
		"k76", "server.2369", "k83", "server.1489", "k67", "k9", "k95", "k58"}
	var b strings.Builder
	for i, k := range keys {
		switch {
		case strings.HasPrefix(k, "server."):
			fmt.Fprintf(&b, "%s=10.0.%d.1:2888:3888\n", k, i)
		default:
			fmt.Fprintf(&b, "%s=5\n", k)
		}
	}
	return b.String() // dataDir follows, as in the search
}

// randomOracleCases builds ensembles with random ids (many sharing a
// HashMap bucket), roles, client parts and unrelated keys around the
// server lines (so that Java's Properties table grows and reorders).
func randomOracleCases(r *rand.Rand, n int) []oracleCase {
	var out []oracleCase
	for i := 0; i < n; i++ {
		count := 2 + r.Intn(20)
		used := map[int64]bool{}
		var lines []string
		var myid int64
		voters := 0
		for len(lines) < count {
			var id int64
			switch r.Intn(3) {
			case 0:
				id = int64(r.Intn(64))
			case 1:
				id = int64(r.Intn(5)*16 + r.Intn(3))
			default:
				id = r.Int63n(1 << 40)
			}
			if used[id] {
				continue
			}
			used[id] = true
			k := len(lines)
			l := fmt.Sprintf("server.%d=10.%d.%d.1:2888:3888", id, k/200, k%200)
			if r.Intn(4) == 0 && voters >= 2 { // at least two voters first
				l += ":observer"
			} else {
				if r.Intn(2) == 0 {
					l += ":participant"
				}
				voters++
			}
			switch r.Intn(3) {
			case 1:
				l += fmt.Sprintf(";%d", 3000+k)
			case 2:
				l += fmt.Sprintf(";10.200.%d.1:%d", k, 3000+k)
			}
			lines = append(lines, l)
			if k == 0 || r.Intn(count) == 0 {
				myid = id
			}
		}
		extra := []string{"tickTime=2000", "initLimit=10", "syncLimit=5"}
		for j := r.Intn(40); j > 0; j-- {
			extra = append(extra, fmt.Sprintf("custom.key%d=%d", r.Intn(1000), j))
		}
		all := append(extra, lines...)
		r.Shuffle(len(all), func(a, b int) { all[a], all[b] = all[b], all[a] })
		out = append(out, oracleCase{
			name: fmt.Sprintf("random %d", i),
			myid: strconv.FormatInt(myid, 10),
			body: strings.Join(all, "\n"),
		})
	}
	return out
}
