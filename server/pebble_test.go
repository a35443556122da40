package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree/pebblestore"
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
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.SnapCount = 20
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	cfg.ClientPortAddress, cfg.ClientPort = "127.0.0.1", 0
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
