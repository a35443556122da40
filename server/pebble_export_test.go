package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/snapshot"
	"github.com/zkserver/zkserver/wire"
)

// TestExportLargeTree (ZKSERVER_EXPORT_NODES=N, e.g. 100000;
// ZKSERVER_EXPORT_STORAGE=memory for a memory-mode dataDir,
// ZKSERVER_EXPORT_DIR=D to build it in D and keep it) fills a
// pebble-mode dataDir with N znodes of 100 bytes, exports it and reports
// the time and size; the export must load as a tree of N+4 nodes with the
// store's digest. Not run by default (it is a measurement).
func TestExportLargeTree(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ZKSERVER_EXPORT_NODES"))
	if n <= 0 {
		t.Skip("set ZKSERVER_EXPORT_NODES to run")
	}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	if d := os.Getenv("ZKSERVER_EXPORT_DIR"); d != "" {
		cfg.DataDir = d // kept, for measuring the CLI on it
	}
	cfg.StorageEngine = config.StoragePebble
	if os.Getenv("ZKSERVER_EXPORT_STORAGE") == config.StorageMemory {
		cfg.StorageEngine = config.StorageMemory
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	tree, _, err := recoverTree(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 100)
	start := time.Now()
	for i := 0; i < n; i++ {
		parent := fmt.Sprintf("/d%03d", i%100)
		zxid := tree.LastZxid + 1
		if i < 100 {
			tree.Apply(&wire.TxnHeader{ClientID: 1, Zxid: zxid, Time: 1_700_000_000_000, Type: wire.OpCreate},
				&wire.Txn{Type: wire.OpCreate, Path: parent, Data: data, ACL: datatree.OpenACL, ParentCVersion: tree.Get("/").Cversion + 1})
			zxid++
		}
		p := fmt.Sprintf("%s/n%07d", parent, i)
		tree.Apply(&wire.TxnHeader{ClientID: 1, Zxid: zxid, Time: 1_700_000_000_000, Type: wire.OpCreate},
			&wire.Txn{Type: wire.OpCreate, Path: p, Data: data, ACL: datatree.OpenACL, ParentCVersion: tree.Get(parent).Cversion + 1})
	}
	want, digest := tree.NodeCount(), tree.Digest()
	if ps, ok := tree.Store().(interface {
		Flush() (int64, error)
		Close() error
	}); ok {
		if err := tree.Sync(); err != nil {
			t.Fatal(err)
		}
		if _, err := ps.Flush(); err != nil {
			t.Fatal(err)
		}
		ps.Close()
	} else {
		snapDir, _ := Dirs(cfg)
		if _, err := snapshot.Write(snapDir, tree.LastZxid, tree, &sync.RWMutex{}, snapshot.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("loaded %d znodes in %v", want, time.Since(start))
	out := t.TempDir()
	res, err := ExportSnapshot(cfg, out, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("export: %d nodes, %d bytes (%.1f MiB) in %v", res.Nodes, res.Bytes, float64(res.Bytes)/(1<<20), res.Took)
	back, _, err := snapshot.Load(filepath.Join(out, "version-2", snapshot.Name(res.Zxid, "")))
	if err != nil {
		t.Fatal(err)
	}
	if back.NodeCount() != want || back.Digest() != digest || res.Nodes != want {
		t.Fatalf("export holds %d nodes (digest %x), wrote %d; want %d (%x)", back.NodeCount(), back.Digest(), res.Nodes, want, digest)
	}
}
