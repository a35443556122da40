package snapshot

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const (
	zkJar    = "/usr/share/java/zookeeper.jar"
	slf4jNop = "/usr/share/java/slf4j-nop.jar"
)

// TestZooKeeperFormatterReadsOurFiles runs Apache ZooKeeper's own
// SnapshotFormatter (Debian package zookeeper) over files we wrote.
func TestZooKeeperFormatterReadsOurFiles(t *testing.T) {
	if _, err := os.Stat(zkJar); err != nil {
		t.Skipf("ZooKeeper jar %s absent (Debian package zookeeper): %v", zkJar, err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Skip("java not installed")
	}
	cp := zkJar
	if _, err := os.Stat(slf4jNop); err == nil {
		cp += ":" + slf4jNop
	}
	b := buildSample(t)
	r := newRandomOps(b, 3)
	for b.zxid < 3000 {
		r.step()
	}
	dir := t.TempDir()
	for _, comp := range []string{"", "gz"} {
		path := writeTree(t, dir, b.t, WriteOptions{Compression: comp})
		for _, args := range [][]string{{path}, {"-d", path}, {"-json", path}} {
			cmd := exec.Command(java, append([]string{"-cp", cp, "org.apache.zookeeper.server.SnapshotFormatter"}, args...)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("SnapshotFormatter %v: %v\n%s", args, err, out)
			}
			if args[0] == "-json" {
				if !strings.HasPrefix(string(out), "[1,0,") {
					t.Fatalf("json output: %.200s", out)
				}
				continue
			}
			s := string(out)
			// The formatter counts the root twice ("" and "/").
			if want := fmt.Sprintf("ZNode Details (count=%d):", b.t.NodeCount()+1); !strings.Contains(s, want) {
				t.Fatalf("%v: no %q in output:\n%.2000s", args, want, s)
			}
			if want := fmt.Sprintf("Last zxid: 0x%x", b.zxid); !strings.Contains(s, want) {
				t.Fatalf("%v: no %q in output", args, want)
			}
			for id := range b.t.Sessions() {
				if want := fmt.Sprintf("0x%014x, %d, %d", id, b.t.Sessions()[id], len(b.t.Ephemerals(id))); !strings.Contains(s, want) {
					t.Fatalf("%v: no session line %q", args, want)
				}
			}
		}
	}
}
