package server

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/txnlog"
)

// storageConfig is a resolved config in a new dataDir with the storage
// engine and whatever set changes, serving on a free loopback port.
func storageConfig(t *testing.T, engine string, set ...func(*config.Config)) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.StorageEngine = engine
	for _, f := range set {
		f(cfg)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	cfg.ClientPortAddress, cfg.ClientPort = "127.0.0.1", 0
	return cfg
}

// writeNodes creates /n0../n<count-1> on a durable server in cfg's
// dataDir and returns their czxids.
func writeNodes(t *testing.T, cfg *config.Config, count int) []int64 {
	t.Helper()
	_, c, stop := startDurable(t, cfg)
	defer stop()
	var czxids []int64
	for i := 0; i < count; i++ {
		p := fmt.Sprintf("/n%d", i)
		if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		_, st, err := c.Exists(p)
		if err != nil {
			t.Fatal(err)
		}
		czxids = append(czxids, st.Czxid)
	}
	return czxids
}

// TestTruncateTree: a leader's TRUNC to the zxid of the 5th of 10 creates
// leaves, in both storage modes, the tree of the log replayed up to there
// (digest, nodes, last zxid) and the log ending there; in pebble mode the store, which had applied
// all ten, is rebuilt from its first checkpoint, and a restart after the
// truncation finds the truncated tree.
func TestTruncateTree(t *testing.T) {
	for _, engine := range []string{config.StorageMemory, config.StoragePebble} {
		t.Run(engine, func(t *testing.T) {
			cfg := storageConfig(t, engine)
			czxids := writeNodes(t, cfg, 10)
			log := zap.NewNop()
			tree, err := Recover(cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			if tree.LastZxid < czxids[9] {
				t.Fatalf("recovered at %#x, want at least %#x", tree.LastZxid, czxids[9])
			}
			to := czxids[4]
			tree, err = TruncateTree(cfg, tree, to, log)
			if err != nil {
				t.Fatal(err)
			}
			check := func(tree *datatree.Tree, when string) {
				t.Helper()
				if tree.LastZxid != to {
					t.Fatalf("%s: tree at %#x, want %#x", when, tree.LastZxid, to)
				}
				for i := 0; i < 10; i++ {
					if got := tree.Get(fmt.Sprintf("/n%d", i)) != nil; got != (i <= 4) {
						t.Fatalf("%s: /n%d present=%v", when, i, got)
					}
				}
			}
			check(tree, "after TruncateTree")
			// the same tree as the truncated log replayed from scratch
			_, logDir := Dirs(cfg)
			fresh := datatree.New()
			if _, err := Replay(fresh, logDir, 1, log); err != nil {
				t.Fatal(err)
			}
			if fresh.Digest() != tree.Digest() || fresh.LastZxid != to {
				t.Fatalf("digest %x, the log replayed gives %x at %#x", tree.Digest(), fresh.Digest(), fresh.LastZxid)
			}
			it, err := txnlog.NewIterator(logDir, 0)
			if err != nil {
				t.Fatal(err)
			}
			last := int64(0)
			for {
				e, err := it.Next()
				if err != nil {
					break
				}
				last = e.Zxid
			}
			it.Close()
			if last != to {
				t.Fatalf("log ends at %#x, want %#x", last, to)
			}
			if engine == config.StoragePebble {
				zs, err := pebbleCheckpoints(PebbleCheckpointDir(cfg))
				if err != nil {
					t.Fatal(err)
				}
				for _, z := range zs {
					if z > to {
						t.Fatalf("checkpoint %#x past the truncation point survived", z)
					}
				}
			}
			if err := CloseTree(tree); err != nil {
				t.Fatal(err)
			}
			again, err := Recover(cfg, log)
			if err != nil {
				t.Fatal(err)
			}
			check(again, "after restart")
			if err := CloseTree(again); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestTruncateTreeNoCheckpoint: a pebble store past the truncation point
// with no checkpoint at or before it cannot be rebuilt: a clear error.
func TestTruncateTreeNoCheckpoint(t *testing.T) {
	cfg := storageConfig(t, config.StoragePebble)
	czxids := writeNodes(t, cfg, 4)
	if err := os.RemoveAll(PebbleCheckpointDir(cfg)); err != nil {
		t.Fatal(err)
	}
	tree, err := Recover(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TruncateTree(cfg, tree, czxids[1], zap.NewNop()); err == nil {
		t.Fatal("truncation without a checkpoint succeeded")
	}
}

// TestReceiveSnapIntoPebble: a SNAP body from a pebble-mode tree is
// received into pebble.next while the member's own store stays in place,
// SnapshotTree puts it in place (checkpoint at its zxid), the history
// before it is dropped, and a restart opens the received tree.
func TestReceiveSnapIntoPebble(t *testing.T) {
	log := zap.NewNop()
	src := storageConfig(t, config.StoragePebble)
	czxids := writeNodes(t, src, 30)
	srcTree, err := Recover(src, log)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	if err := WriteTreeSnapStream(&body, srcTree); err != nil {
		t.Fatal(err)
	}
	want, zxid := srcTree.Digest(), srcTree.LastZxid
	CloseTree(srcTree)
	if zxid < czxids[29] {
		t.Fatalf("source at %#x", zxid)
	}

	dst := storageConfig(t, config.StoragePebble)
	writeNodes(t, dst, 3) // its own, older history
	old, err := Recover(dst, log)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReceiveSnapStream(dst, &body, zxid, log)
	if err != nil {
		t.Fatal(err)
	}
	if !exists(pebbleNextDir(dst)) || old.Get("/n29") != nil {
		t.Fatal("the received tree is not kept apart until its snapshot")
	}
	if got.Digest() != want || got.LastZxid != zxid {
		t.Fatalf("received digest %x at %#x, want %x at %#x", got.Digest(), got.LastZxid, want, zxid)
	}
	if err := CloseTree(old); err != nil {
		t.Fatal(err)
	}
	got, err = SnapshotTree(dst, got, log)
	if err != nil {
		t.Fatal(err)
	}
	if exists(pebbleNextDir(dst)) || pebbleOf(got).Dir() != PebbleDir(dst) {
		t.Fatal("the received tree was not put in place")
	}
	if err := DropHistoryBefore(dst, got.LastZxid, log); err != nil {
		t.Fatal(err)
	}
	zs, err := pebbleCheckpoints(PebbleCheckpointDir(dst))
	if err != nil || len(zs) != 1 || zs[0] != zxid {
		t.Fatalf("checkpoints %x (%v), want only %#x", zs, err, zxid)
	}
	if err := CloseTree(got); err != nil {
		t.Fatal(err)
	}
	again, err := Recover(dst, log)
	if err != nil {
		t.Fatal(err)
	}
	defer CloseTree(again)
	if again.Digest() != want || again.LastZxid != zxid || again.Get("/n29") == nil {
		t.Fatalf("after restart: digest %x at %#x, want %x at %#x", again.Digest(), again.LastZxid, want, zxid)
	}
}

// TestSettlePebbleDirs: each state a crash can leave during a store swap
// settles to one store.
func TestSettlePebbleDirs(t *testing.T) {
	mark := func(t *testing.T, dir, name string) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name      string
		cur, next string // marker file names, "" = no dir
		old       bool
		want      string // marker in pebble after settling
	}{
		{"unfinished next", "cur", "next", false, "cur"},
		{"between the renames", "", "next", true, "next"},
		{"old left behind", "cur", "", true, "cur"},
		{"nothing to do", "cur", "", false, "cur"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := storageConfig(t, config.StoragePebble)
			if c.cur != "" {
				mark(t, PebbleDir(cfg), c.cur)
			}
			if c.next != "" {
				mark(t, pebbleNextDir(cfg), c.next)
			}
			if c.old {
				mark(t, pebbleOldDir(cfg), "old")
			}
			if err := settlePebbleDirs(cfg, zap.NewNop()); err != nil {
				t.Fatal(err)
			}
			if exists(pebbleNextDir(cfg)) || exists(pebbleOldDir(cfg)) {
				t.Fatal("a side directory is left")
			}
			if !exists(filepath.Join(PebbleDir(cfg), c.want)) {
				t.Fatalf("pebble does not hold %q", c.want)
			}
		})
	}
}

// TestPebbleFlushLoop: in pebble mode what the server applied reaches
// disk without a snapshot or a shutdown (Pebble runs without its WAL, so
// a crash replays the log after the flushed zxid: the loop bounds that).
func TestPebbleFlushLoop(t *testing.T) {
	cfg := storageConfig(t, config.StoragePebble)
	s, c, stop := startDurable(t, cfg)
	defer stop()
	for i := 0; i < 50; i++ {
		if _, err := c.Create(fmt.Sprintf("/f%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	ps := s.pebbleStore()
	deadline := time.Now().Add(20 * time.Second)
	for ps.DurableZxid() < s.LastZxid() {
		if time.Now().After(deadline) {
			t.Fatalf("flushed zxid %#x, applied %#x", ps.DurableZxid(), s.LastZxid())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPebbleCorruptStore (pebbleWAL=true): after a crash, a WAL whose tail is mangled (as
// a power loss can leave its unsynced part) loses only that tail, which
// the txn log replays; a store Pebble refuses to open as corrupt (here a
// mangled MANIFEST) is moved aside and rebuilt from the newest checkpoint
// plus the txn log. Every write survives both.
func TestPebbleCorruptStore(t *testing.T) {
	cfg := storageConfig(t, config.StoragePebble, func(c *config.Config) { c.PebbleWALOn = true })
	s, c, stop := startDurable(t, cfg)
	createNodes(t, c, "/c%02d", 50)
	ps := s.pebbleStore()
	for end := time.Now().Add(10 * time.Second); ps.DurableZxid() < s.LastZxid(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("WAL synced to %#x, applied %#x", ps.DurableZxid(), s.LastZxid())
		}
	}
	// the files as a crash would leave them
	img := t.TempDir()
	if err := copyTree(cfg.DataDir, img); err != nil {
		t.Fatal(err)
	}
	stop()
	for _, tc := range []struct {
		name, glob string
		at         int64 // where 64 bytes are mangled, in 1/4s of the file
		rebuilt    bool
	}{{"wal", "*.log", 2, false}, {"manifest", "MANIFEST-*", 0, true}} {
		t.Run(tc.name, func(t *testing.T) {
			crashed := *cfg
			crashed.DataDir = t.TempDir()
			if err := copyTree(img, crashed.DataDir); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(PebbleDir(&crashed), tc.glob))
			mangled := 0
			for _, w := range files {
				fi, err := os.Stat(w)
				if err != nil || fi.Size() < 100 {
					continue
				}
				f, err := os.OpenFile(w, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(bytes.Repeat([]byte{0xab}, 64), fi.Size()*tc.at/4); err != nil {
					t.Fatal(err)
				}
				f.Close()
				mangled++
			}
			if mangled == 0 {
				t.Fatalf("nothing to mangle in %v", files)
			}
			tree, _, err := recoverTree(&crashed, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			defer CloseTree(tree)
			for i := 0; i < 50; i++ {
				if tree.Get(fmt.Sprintf("/c%02d", i)) == nil {
					t.Fatalf("/c%02d lost", i)
				}
			}
			if aside, _ := filepath.Glob(PebbleDir(&crashed) + ".corrupt.*"); (len(aside) == 1) != tc.rebuilt {
				t.Fatalf("corrupt store kept as %v; want rebuilt %v", aside, tc.rebuilt)
			}
		})
	}
}

// createNodes creates n znodes named by format and their number.
func createNodes(t *testing.T, c *zk.Conn, format string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := c.Create(fmt.Sprintf(format, i), []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
}

// copyTree copies the files below src to dst.
func copyTree(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}
