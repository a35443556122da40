package server

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/snapshot"
)

// TestSwitchPebbleToMemoryAndBack: a dataDir used in pebble mode (with its
// ZooKeeper log purged past the only ZooKeeper snapshot) starts in memory
// mode with every node, through a snapshot exported from the store, which
// is moved aside; memory mode writes more; pebble mode then imports the
// current ZooKeeper files and has everything.
func TestSwitchPebbleToMemoryAndBack(t *testing.T) {
	cfg := storageConfig(t, config.StoragePebble, func(c *config.Config) { c.SnapCount = 20; c.SnapRetainCount = 3 })
	create := func(c *zk.Conn, from, to int) {
		for i := from; i < to; i++ {
			if _, err := c.Create(fmt.Sprintf("/n%03d", i), []byte(fmt.Sprint(i)), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(c *zk.Conn, n int) {
		t.Helper()
		kids, _, err := c.Children("/")
		if err != nil || len(kids) != n+1 {
			t.Fatalf("children of /: %d, %v; want %d", len(kids), err, n+1)
		}
		for i := 0; i < n; i++ {
			if d, _, err := c.Get(fmt.Sprintf("/n%03d", i)); err != nil || string(d) != fmt.Sprint(i) {
				t.Fatalf("/n%03d: %q %v", i, d, err)
			}
		}
	}
	s, c, stop := startDurable(t, cfg)
	create(c, 0, 150)
	s.snapWG.Wait()
	s.Purge()
	stop()
	snapDir, logDir := Dirs(cfg)
	if segs, _ := os.ReadDir(logDir); len(segs) == 0 {
		t.Fatal("no log left")
	}
	if _, err := os.Stat(filepath.Join(logDir, "log.1")); err == nil {
		t.Fatal("purge kept log.1: the test does not cover a purged log")
	}

	cfg.StorageEngine = config.StorageMemory
	if err := PrepareMemoryStart(cfg, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if HasPebbleStore(cfg.DataDir) {
		t.Fatal("the pebble store was not moved aside")
	}
	if m, _ := filepath.Glob(filepath.Join(cfg.DataDir, "pebble-replaced.*", "pebble")); len(m) != 1 {
		t.Fatalf("moved-aside store: %v", m)
	}
	files, err := snapshot.ValidFiles(snapDir, 1)
	if err != nil || len(files) != 1 || files[0].Zxid < 150 {
		t.Fatalf("newest snapshot %v, %v", files, err)
	}
	if err := PrepareMemoryStart(cfg, zap.NewNop()); err != nil { // nothing to do now
		t.Fatal(err)
	}
	s, c, stop = startDurable(t, cfg)
	if s.pebbleStore() != nil {
		t.Fatal("not in memory mode")
	}
	check(c, 150)
	create(c, 150, 180)
	stop()

	cfg.StorageEngine = config.StoragePebble
	s, c, stop = startDurable(t, cfg)
	if s.pebbleStore() == nil {
		t.Fatal("not in pebble mode")
	}
	check(c, 180)
	stop()
}

// TestPrepareMemoryStartUnfinishedImport: a store left half-imported is
// moved aside without exporting anything (the ZooKeeper files are the
// tree), and memory mode starts from them.
func TestPrepareMemoryStartUnfinishedImport(t *testing.T) {
	cfg := storageConfig(t, config.StorageMemory)
	_, c, stop := startDurable(t, cfg) // memory mode: ZooKeeper files
	if _, err := c.Create("/kept", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	stop()
	pcfg := *cfg
	pcfg.StorageEngine = config.StoragePebble
	ps, err := openPebble(&pcfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	tr := datatree.NewEmptyOn(ps)
	if err := tr.AddLoaded("", &datatree.Node{ACL: datatree.OpenACLID, Data: []byte{}}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Flush(); err != nil {
		t.Fatal(err)
	}
	ps.Close()
	before, _ := snapshot.List(filepath.Join(cfg.DataDir, "version-2"))
	if err := PrepareMemoryStart(cfg, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	after, _ := snapshot.List(filepath.Join(cfg.DataDir, "version-2"))
	if HasPebbleStore(cfg.DataDir) || len(after) != len(before) {
		t.Fatalf("store still there (%v) or snapshots changed (%v -> %v)", HasPebbleStore(cfg.DataDir), before, after)
	}
	_, c, stop = startDurable(t, cfg)
	defer stop()
	if d, _, err := c.Get("/kept"); err != nil || string(d) != "x" {
		t.Fatalf("/kept: %q %v", d, err)
	}
}

// TestPrepareMemoryStartStaleStore: a pebble store older than the newest
// ZooKeeper snapshot (memory mode ran since it was last written) is moved
// aside unused, and memory mode keeps what it wrote.
func TestPrepareMemoryStartStaleStore(t *testing.T) {
	cfg := storageConfig(t, config.StoragePebble, func(c *config.Config) { c.SnapCount = 10; c.SnapRetainCount = 3 })
	create := func(c *zk.Conn, from, to int) {
		for i := from; i < to; i++ {
			if _, err := c.Create(fmt.Sprintf("/s%03d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
		}
	}
	s, c, stop := startDurable(t, cfg)
	create(c, 0, 10)
	s.snapWG.Wait()
	stop()
	stale := filepath.Join(t.TempDir(), "pebble")
	if err := os.Rename(PebbleDir(cfg), stale); err != nil { // as if memory mode ran beside it
		t.Fatal(err)
	}
	cfg.StorageEngine = config.StorageMemory
	s, c, stop = startDurable(t, cfg)
	for i := 10; i < 100; i += 10 {
		create(c, i, i+10)
		s.snapWG.Wait()
	}
	s.Purge()
	stop()
	if _, err := os.Stat(filepath.Join(logDirOf(cfg), "log.1")); err == nil {
		t.Fatal("memory mode kept log.1: the stale store would replay correctly")
	}
	if err := os.Rename(stale, PebbleDir(cfg)); err != nil {
		t.Fatal(err)
	}
	snapDir, _ := Dirs(cfg)
	before, _ := snapshot.List(snapDir)
	if err := PrepareMemoryStart(cfg, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	after, _ := snapshot.List(snapDir)
	if HasPebbleStore(cfg.DataDir) || len(after) != len(before) {
		t.Fatalf("store still there (%v) or snapshots changed (%v -> %v)", HasPebbleStore(cfg.DataDir), before, after)
	}
	_, c, stop = startDurable(t, cfg)
	defer stop()
	if kids, _, err := c.Children("/"); err != nil || len(kids) != 101 {
		t.Fatalf("%d children, %v", len(kids), err)
	}
}

func logDirOf(cfg *config.Config) string {
	_, d := Dirs(cfg)
	return d
}
