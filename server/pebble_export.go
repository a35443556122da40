package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/pebblestore"
	"github.com/zkserver/zkserver/snapshot"
)

// HasPebbleStore reports whether dataDir holds a Pebble store
// (<dataDir>/pebble with files in it).
func HasPebbleStore(dataDir string) bool {
	ents, err := os.ReadDir(filepath.Join(dataDir, "pebble"))
	return err == nil && len(ents) > 0
}

// exportCacheBytes bounds the Pebble block cache of an export.
const exportCacheBytes = 32 << 20

// ExportResult describes a snapshot written by ExportSnapshot.
type ExportResult struct {
	Path    string
	Zxid    int64
	Nodes   int
	Bytes   int64
	Storage string // the storage engine the tree was read from
	Took    time.Duration
}

// ExportSnapshot recovers the tree of cfg's data directories (the server
// must be stopped) as a start would, replaying the log tail, and writes
// it as a ZooKeeper snapshot into outDir/version-2/snapshot.<zxid>, so
// that Apache ZooKeeper started with dataDir=outDir serves the tree. In
// pebble mode (cfg's storageEngine) the snapshot is streamed from a
// consistent Pebble view, node by node, without the tree in memory.
func ExportSnapshot(cfg *config.Config, outDir string, log *zap.Logger) (ExportResult, error) {
	start := time.Now()
	res := ExportResult{Storage: cfg.Storage()}
	dst := filepath.Join(outDir, "version-2")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return res, err
	}
	if ents, err := os.ReadDir(dst); err != nil {
		return res, err
	} else if len(ents) > 0 {
		return res, fmt.Errorf("export: %s is not empty", dst)
	}
	snapDir, _ := Dirs(cfg)
	if a, err := filepath.Abs(dst); err == nil {
		if b, err := filepath.Abs(snapDir); err == nil && a == b {
			return res, errors.New("export: the output directory is the data directory")
		}
	}
	if cfg.Storage() == config.StoragePebble && !HasPebbleStore(cfg.DataDir) {
		return res, fmt.Errorf("export: %s holds no pebble store (export it in memory mode)", cfg.DataDir)
	}
	if cfg.Storage() == config.StoragePebble && cfg.PebbleCacheBytes() > exportCacheBytes {
		// one pass over the store: a large block cache only adds RSS
		c := *cfg
		c.PebbleCacheSizeMB = exportCacheBytes >> 20
		cfg = &c
	}
	tree, _, err := recoverTree(cfg, log)
	if err != nil {
		return res, err
	}
	var src snapshot.Source = snapshot.TreeSource{T: tree}
	ps, _ := tree.Store().(*pebblestore.Store)
	if ps != nil {
		defer ps.Close()
		// keep what recovery replayed, so the next start replays nothing
		if err := tree.Sync(); err != nil {
			return res, err
		}
		if _, err := ps.Flush(); err != nil {
			return res, err
		}
		v, err := ps.View()
		if err != nil {
			return res, err
		}
		defer v.Close()
		src = v
	}
	last := time.Now()
	res.Path, err = snapshot.WriteFrom(dst, src, snapshot.WriteOptions{Sync: true, Logger: log,
		Progress: func(n int) {
			res.Nodes = n
			if time.Since(last) > 5*time.Second {
				last = time.Now()
				log.Info("exporting", zap.Int("nodes", n), zap.Int("of", tree.NodeCount()))
			}
		}})
	if err != nil {
		return res, fmt.Errorf("export: %w", err)
	}
	if fi, err := os.Stat(res.Path); err == nil {
		res.Bytes = fi.Size()
	}
	res.Zxid, res.Took = src.LastZxid(), time.Since(start)
	log.Info("exported snapshot", zap.String("file", res.Path), zap.String("storage", res.Storage),
		zap.String("zxid", hex(res.Zxid)), zap.Int("nodes", res.Nodes), zap.Int64("bytes", res.Bytes),
		zap.Duration("took", res.Took))
	return res, nil
}
