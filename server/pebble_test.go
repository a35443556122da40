package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/pebblestore"
	"github.com/zkserver/zkserver/snapshot"
)

func startDurable(t *testing.T, cfg *config.Config) (*Server, *zk.Conn, func()) {
	t.Helper()
	s, err := OpenDurable(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); s.Serve() }()
	conn, _, err := zk.Connect([]string{s.Addr().String()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	return s, conn, func() { conn.Close(); s.Close(); <-served }
}

// TestPebbleModeImportAndRestart: a dataDir written in memory mode is
// imported into Pebble (snapshot + log), writes in pebble mode take
// checkpoints, and a restart opens Pebble and replays nothing.
func TestPebbleModeImportAndRestart(t *testing.T) {
	cfg := storageConfig(t, config.StorageMemory, func(c *config.Config) { c.SnapCount = 20 })
	create := func(c *zk.Conn, from, to int) {
		for i := from; i < to; i++ {
			if _, err := c.Create(fmt.Sprintf("/n%03d", i), []byte(fmt.Sprint(i)), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(c *zk.Conn, n int) {
		kids, st, err := c.Children("/")
		if err != nil || len(kids) != n+1 || st.NumChildren != int32(n+1) {
			t.Fatalf("children of /: %d (stat %d), %v; want %d", len(kids), st.NumChildren, err, n+1)
		}
		for i := 0; i < n; i++ {
			if d, _, err := c.Get(fmt.Sprintf("/n%03d", i)); err != nil || string(d) != fmt.Sprint(i) {
				t.Fatalf("/n%03d: %q %v", i, d, err)
			}
		}
	}
	_, c, stop := startDurable(t, cfg)
	create(c, 0, 30)
	stop()

	cfg.StorageEngine = config.StoragePebble
	s, c, stop := startDurable(t, cfg)
	if s.pebbleStore() == nil {
		t.Fatal("not in pebble mode")
	}
	check(c, 30)
	create(c, 30, 100)
	check(c, 100)
	stop()
	if zxids, err := pebbleCheckpoints(PebbleCheckpointDir(cfg)); err != nil || len(zxids) == 0 {
		t.Fatalf("checkpoints %v, %v", zxids, err)
	}

	tree, replayed, err := recoverTree(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if replayed != 0 || tree.NodeCount() != 104 {
		t.Fatalf("restart replayed %d txns, %d nodes", replayed, tree.NodeCount())
	}
	tree.Store().(*pebblestore.Store).Close()

	_, c, stop = startDurable(t, cfg)
	check(c, 100)
	stop()
}

// TestPebbleImportReplaysOnlyAfterTheSnapshot: the import streams the
// newest snapshot into the store and records its zxid with it, so only the
// log after the snapshot is replayed (a store stamped 0 would replay the
// whole log over the snapshot's state).
func TestPebbleImportReplaysOnlyAfterTheSnapshot(t *testing.T) {
	cfg := storageConfig(t, config.StorageMemory, func(c *config.Config) { c.SnapCount = 20 })
	_, c, stop := startDurable(t, cfg)
	for i := 0; i < 50; i++ {
		if _, err := c.Create(fmt.Sprintf("/m%03d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	snapDir, _ := Dirs(cfg)
	files, err := snapshot.List(snapDir)
	if err != nil || len(files) == 0 {
		t.Fatalf("snapshots: %v %v", files, err)
	}
	mem, err := Recover(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	snapZxid, last := files[0].Zxid, mem.LastZxid
	if snapZxid == 0 || snapZxid >= last {
		t.Fatalf("want a snapshot inside the history: snapshot %#x, last %#x", snapZxid, last)
	}
	cfg.StorageEngine = config.StoragePebble
	tree, replayed, err := recoverTree(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer tree.Store().(*pebblestore.Store).Close()
	if int64(replayed) != last-snapZxid || tree.LastZxid != last || tree.Digest() != mem.Digest() {
		t.Fatalf("import replayed %d txns (want %d), zxid %#x (want %#x), digest equal %v",
			replayed, last-snapZxid, tree.LastZxid, last, tree.Digest() == mem.Digest())
	}
}
