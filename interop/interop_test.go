package interop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkserver/zkserver/internal/testkit"
	"github.com/zkserver/zkserver/snapshot"
)

// dataFiles lists the log.* and snapshot.* files in dataDir/version-2.
func dataFiles(t *testing.T, dataDir string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dataDir, "version-2"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "log.") || strings.HasPrefix(e.Name(), "snapshot.") {
			out[e.Name()] = true
		}
	}
	return out
}

// newFiles returns the sorted names in after that are not in before.
func newFiles(before, after map[string]bool) []string {
	var out []string
	for n := range after {
		if !before[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func runJava(t *testing.T, class string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "java", append([]string{"-cp", testkit.ZKJar + ":/usr/share/java/slf4j-nop.jar", class}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var (
	eofRE   = regexp.MustCompile(`EOF reached after (\d+) txns\.\s*$`)
	countRE = regexp.MustCompile(`ZNode Details \(count=(\d+)\):`)
)

// checkWithZKTools runs ZooKeeper's TxnLogToolkit on every log and
// SnapshotFormatter on every snapshot among names (in dataDir/version-2).
func checkWithZKTools(t *testing.T, dataDir string, names []string) {
	t.Helper()
	testkit.RequireZK(t, false)
	logs, snaps := 0, 0
	for _, n := range names {
		p := filepath.Join(dataDir, "version-2", n)
		switch {
		case strings.HasPrefix(n, "log."):
			logs++
			out, err := runJava(t, "org.apache.zookeeper.server.persistence.TxnLogToolkit", p)
			m := eofRE.FindStringSubmatch(out)
			switch {
			case err != nil:
				t.Errorf("TxnLogToolkit %s: %v\n%s", n, err, tail(out, 20))
			case strings.Contains(out, "CRC ERROR"):
				t.Errorf("TxnLogToolkit %s reports CRC errors:\n%s", n, tail(out, 20))
			case m == nil:
				t.Errorf("TxnLogToolkit %s: output does not end with \"EOF reached after N txns.\":\n%s", n, tail(out, 20))
			case m[1] == "0":
				t.Errorf("TxnLogToolkit %s: no txns read:\n%s", n, tail(out, 20))
			case strings.Contains(out, "Exception"):
				t.Errorf("TxnLogToolkit %s printed an exception:\n%s", n, tail(out, 20))
			default:
				t.Logf("TxnLogToolkit %s: %s", n, strings.TrimSpace(m[0]))
			}
		case strings.HasPrefix(n, "snapshot."):
			snaps++
			out, err := runJava(t, "org.apache.zookeeper.server.SnapshotFormatter", p)
			m := countRE.FindStringSubmatch(out)
			switch {
			case err != nil:
				t.Errorf("SnapshotFormatter %s: %v\n%s", n, err, tail(out, 20))
			case m == nil:
				t.Errorf("SnapshotFormatter %s: no \"ZNode Details (count=N):\" line:\n%s", n, tail(out, 20))
			case strings.Contains(out, "Exception"):
				t.Errorf("SnapshotFormatter %s printed an exception:\n%s", n, tail(out, 20))
			default:
				// SnapshotFormatter counts the root twice.
				snap, lerr := snapshot.Read(p, nil)
				if lerr != nil {
					t.Errorf("snapshot.Read %s: %v", n, lerr)
					continue
				}
				if got, _ := strconv.Atoi(m[1]); got != snap.Tree.NodeCount()+1 {
					t.Errorf("SnapshotFormatter %s: count=%d, our loader sees %d nodes (+1 expected)", n, got, snap.Tree.NodeCount())
				}
				t.Logf("SnapshotFormatter %s: %s", n, m[0])
				// ZooKeeper 3.8.0 (zookeeper.digest.enabled=true, the
				// default) always writes the digest section and its seal
				// after seal 1 (disk-format.md §5.2 parts 9-10); loading a
				// file without it, ZooKeeper warns "Got EOF exception while
				// reading the digest, likely due to the reading an older
				// snapshot" and cannot check its tree against the file.
				if snap.Digest == nil {
					t.Errorf("%s: no digest section (zxid, digestVersion, treeDigest + seal 2) after seal 1; ZooKeeper 3.8.0 writes one in every snapshot", n)
				}
			}
		}
	}
	if logs == 0 || snaps == 0 {
		t.Errorf("expected zkserver to have written logs and snapshots, got %d logs and %d snapshots among %v", logs, snaps, names)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestZooKeeperToZkserver: Apache ZooKeeper writes a data directory;
// zkserver starts on it and serves the identical tree, writes more, and
// ZooKeeper started on it again serves zkserver's tree identically.
func TestZooKeeperToZkserver(t *testing.T) {
	testkit.RequireZK(t, false)
	work := t.TempDir()
	data := filepath.Join(work, "data")

	zk1 := startServer(t, "zookeeper", work, data)
	owner := buildTree(t, zk1.addr, "/a")
	want := readTree(t, zk1.addr)
	zk1.stop(t, syscall.SIGKILL)
	owner.Close()
	checkZKLog(t, zk1)
	zkFiles := dataFiles(t, data)
	t.Logf("ZooKeeper wrote %v", sortedKeys(zkFiles))

	zks := startServer(t, "zkserver", work, data)
	got := readTree(t, zks.addr)
	compareTrees(t, "ZooKeeper's dataDir served by zkserver", want, got)

	owner2 := writeMore(t, zks.addr, "/a", "/b")
	want2 := readTree(t, zks.addr)
	zks.stop(t, syscall.SIGTERM)
	owner2.Close()
	ours := newFiles(zkFiles, dataFiles(t, data))
	t.Logf("zkserver wrote %v", ours)
	checkWithZKTools(t, data, ours)

	zk2 := startServer(t, "zookeeper", work, data)
	got2 := readTree(t, zk2.addr)
	compareTrees(t, "zkserver's writes served by ZooKeeper", want2, got2)
	zk2.stop(t, syscall.SIGTERM)
	checkZKLog(t, zk2)
}

// TestZkserverToZooKeeper: zkserver writes a fresh data directory and is
// stopped (SIGTERM, or SIGKILL as a crash); ZooKeeper started on it serves
// the identical tree, and ZooKeeper's tools read every file zkserver wrote.
func TestZkserverToZooKeeper(t *testing.T) {
	testkit.RequireZK(t, false)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(strings.ToUpper(strings.TrimPrefix(sig.String(), "")), func(t *testing.T) {
			work := t.TempDir()
			data := filepath.Join(work, "data")
			zks := startServer(t, "zkserver", work, data)
			owner := buildTree(t, zks.addr, "/a")
			want := readTree(t, zks.addr)
			zks.stop(t, sig)
			owner.Close()
			ours := dataFiles(t, data)
			t.Logf("zkserver wrote %v", sortedKeys(ours))
			checkWithZKTools(t, data, sortedKeys(ours))

			zk := startServer(t, "zookeeper", work, data)
			got := readTree(t, zk.addr)
			compareTrees(t, "zkserver's dataDir served by ZooKeeper", want, got)
			zk.stop(t, syscall.SIGTERM)
			checkZKLog(t, zk)
		})
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
