package mixedtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zkserver/zkserver/internal/testkit"
)

// TestZKFollowersOfGoLeader: two ZooKeeper servers (sids 1, 2) and
// zkserver (sid 3) start empty together; zkserver wins on its sid. Clients
// write through every server; all see the same tree. Then the txn logs of
// all three are read by ZooKeeper's TxnLogToolkit: no CRC error, every file
// read to its end, and the same text for every zxid on every server (and
// the raw txn bytes identical).
func TestZKFollowersOfGoLeader(t *testing.T) {
	c := newCluster(t, ZK, ZK, Go)
	t0 := time.Now()
	c.start(3)
	c.start(1)
	c.start(2)
	leader := c.waitServing(1, 2, 3)
	t.Logf("ensemble serving after %v, leader sid %d", time.Since(t0).Round(time.Millisecond), leader)
	if leader != 3 {
		t.Fatalf("leader is sid %d, want zkserver (sid 3)", leader)
	}
	c.writeSome("/a", 60, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	c.writeSome("/b", 60, 1, 2)
	c.checkSameTree(1, 2, 3)
	c.waitQuiet(1, 2, 3)
	c.checkLogsAgree(3, 1, 2)
	c.checkLogs()

	// ZooKeeper's tool on every log file
	texts := map[int]map[string]string{}
	for _, sid := range c.sids {
		texts[sid] = c.txnLogToolkit(sid)
	}
	ref := texts[3]
	for _, sid := range []int{1, 2} {
		diffs := 0
		for z, line := range ref {
			if got, ok := texts[sid][z]; !ok {
				t.Errorf("TxnLogToolkit: zxid %s in zkserver's log, not in %s's", z, c.members[sid].name())
				diffs++
			} else if got != line {
				t.Errorf("TxnLogToolkit zxid %s:\n  zkserver: %s\n  %s: %s", z, line, c.members[sid].name(), got)
				diffs++
			}
			if diffs > 10 {
				t.FailNow()
			}
		}
		for z := range texts[sid] {
			if _, ok := ref[z]; !ok {
				t.Errorf("TxnLogToolkit: zxid %s in %s's log, not in zkserver's", z, c.members[sid].name())
			}
		}
	}
	t.Logf("TxnLogToolkit prints the same %d txns for every server", len(ref))
}

var (
	toolEOF  = regexp.MustCompile(`EOF reached after (\d+) txns\.`)
	toolZxid = regexp.MustCompile(`\bzxid (0x[0-9a-f]+)\b`)
)

// txnLogToolkit runs ZooKeeper's TxnLogToolkit on each log file of sid and
// returns its txn lines by zxid (the tool prints one line per txn).
func (c *cluster) txnLogToolkit(sid int) map[string]string {
	c.t.Helper()
	dir := filepath.Join(c.members[sid].data, "version-2")
	ents, err := os.ReadDir(dir)
	if err != nil {
		c.t.Fatal(err)
	}
	var files []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "log.") {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		c.t.Fatalf("%s has no txn log", c.members[sid].name())
	}
	out := map[string]string{}
	for _, f := range files {
		text, err := runJava(c.t, "org.apache.zookeeper.server.persistence.TxnLogToolkit", filepath.Join(dir, f))
		m := toolEOF.FindStringSubmatch(text)
		switch {
		case err != nil:
			c.t.Errorf("TxnLogToolkit %s/%s: %v\n%s", c.members[sid].name(), f, err, tail(text, 20))
		case strings.Contains(text, "CRC ERROR") || strings.Contains(text, "Exception"):
			c.t.Errorf("TxnLogToolkit %s/%s:\n%s", c.members[sid].name(), f, tail(text, 20))
		case m == nil:
			c.t.Errorf("TxnLogToolkit %s/%s did not read to the end:\n%s", c.members[sid].name(), f, tail(text, 20))
		default:
			c.t.Logf("TxnLogToolkit %s/%s: %s", c.members[sid].name(), f, m[0])
		}
		for _, l := range strings.Split(text, "\n") {
			if z := toolZxid.FindStringSubmatch(l); z != nil {
				out[z[1]] = strings.TrimSpace(l)
			}
		}
	}
	return out
}

func runJava(t *testing.T, class string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "java", append([]string{"-XX:TieredStopAtLevel=1", "-cp", testkit.ZKJar + ":/usr/share/java/slf4j-nop.jar", class}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
