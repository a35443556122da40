package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/pebblestore"
	"github.com/zkserver/zkserver/snapshot"
)

// PrepareMemoryStart readies a dataDir last used in pebble mode for a
// start in memory mode (cfg's storageEngine is memory). In pebble mode the
// ZooKeeper files of version-2 are not kept current: the snapshots there
// are the ones imported (or snapshot.0) and the log may be purged past
// them, so loading them could miss txns. When <dataDir>/pebble holds a
// store, this recovers it (replaying the log tail), writes its tree as a
// ZooKeeper snapshot into version-2 (streamed from a consistent Pebble
// view) unless a snapshot there already reaches its zxid, and moves the
// store and its checkpoints aside to <dataDir>/pebble-replaced.<zxid>, so
// a later start in pebble mode imports the then current ZooKeeper files
// instead of opening a store that memory mode left behind. Everything is
// logged. It does nothing in pebble mode or without a store; a store left
// in the middle of an import, or older than the newest ZooKeeper snapshot
// (memory mode ran since), is only moved aside: the ZooKeeper files are
// the truth then.
func PrepareMemoryStart(cfg *config.Config, log *zap.Logger) error {
	if cfg.Storage() != config.StorageMemory {
		return nil
	}
	if err := settlePebbleDirs(cfg, log); err != nil {
		return err
	}
	if !HasPebbleStore(cfg.DataDir) {
		return nil
	}
	start := time.Now()
	pcfg := *cfg
	pcfg.StorageEngine = config.StoragePebble
	ps, err := openPebble(&pcfg, log)
	if err != nil {
		return err
	}
	st, err := ps.Load()
	if err != nil {
		ps.Close()
		return err
	}
	if st.Loading || st.Count == 0 {
		ps.Close()
		log.Warn("memory mode: the pebble store holds no finished tree; moving it aside", zap.String("dir", PebbleDir(cfg)))
		_, err := movePebbleAside(cfg, st.LastZxid, log)
		return err
	}
	ps.Close()
	snapDir, _ := Dirs(cfg)
	newest, err := snapshot.ValidFiles(snapDir, 1)
	if err != nil {
		return err
	}
	if len(newest) == 1 && newest[0].Zxid > st.LastZxid {
		// memory mode ran after the store was last written (and may
		// have purged the log the store would need): the ZooKeeper
		// files are newer than the store
		log.Warn("memory mode: the pebble store is older than the newest ZooKeeper snapshot; moving it aside unused",
			zap.String("dir", PebbleDir(cfg)), zap.String("storeZxid", hex(st.LastZxid)), zap.String("snapshot", newest[0].Path))
		_, err := movePebbleAside(cfg, st.LastZxid, log)
		return err
	}
	log.Info("memory mode on a dataDir with a pebble store: writing its tree as a ZooKeeper snapshot first",
		zap.String("dir", PebbleDir(cfg)), zap.String("storeZxid", hex(st.LastZxid)))
	tree, replayed, err := recoverPebble(&pcfg, log)
	if err != nil {
		return fmt.Errorf("memory mode: recovering the pebble store: %w", err)
	}
	ps = tree.Store().(*pebblestore.Store)
	zxid, path, err := exportStore(cfg, ps, log)
	if cerr := ps.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("memory mode: exporting the pebble store: %w", err)
	}
	aside, err := movePebbleAside(cfg, zxid, log)
	if err != nil {
		return err
	}
	log.Info("switched the dataDir from pebble to memory mode", zap.String("snapshot", path),
		zap.String("zxid", hex(zxid)), zap.Int("replayed", replayed), zap.String("storeMovedTo", aside),
		zap.Duration("took", time.Since(start)))
	return nil
}

// exportStore flushes ps and writes its tree into the snapshot directory
// unless a valid snapshot there already has its zxid or a later one. It
// returns the zxid and the snapshot written ("" when none was needed).
func exportStore(cfg *config.Config, ps *pebblestore.Store, log *zap.Logger) (int64, string, error) {
	if _, err := ps.Flush(); err != nil {
		return 0, "", err
	}
	v, err := ps.View()
	if err != nil {
		return 0, "", err
	}
	defer v.Close()
	snapDir, _ := Dirs(cfg)
	newest, err := snapshot.ValidFiles(snapDir, 1)
	if err != nil {
		return 0, "", err
	}
	if len(newest) == 1 && newest[0].Zxid >= v.LastZxid() {
		log.Info("a ZooKeeper snapshot already reaches the pebble store's zxid", zap.String("file", newest[0].Path))
		return v.LastZxid(), "", nil
	}
	comp := ""
	if cfg.SnapshotCompression == "gz" {
		comp = "gz" // snappy is not written: plain then
	}
	path, err := snapshot.WriteFrom(snapDir, v, snapshot.WriteOptions{Sync: true, Logger: log, Compression: comp})
	return v.LastZxid(), path, err
}

// movePebbleAside renames <dataDir>/pebble and pebble-checkpoints into
// <dataDir>/pebble-replaced.<zxid>[.n] and returns that directory.
func movePebbleAside(cfg *config.Config, zxid int64, log *zap.Logger) (string, error) {
	base := filepath.Join(cfg.DataDir, "pebble-replaced."+strconv.FormatInt(zxid, 16))
	aside := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(aside); os.IsNotExist(err) {
			break
		}
		aside = base + "." + strconv.Itoa(i)
	}
	if err := os.MkdirAll(aside, 0o755); err != nil {
		return "", err
	}
	for _, d := range []string{PebbleDir(cfg), PebbleCheckpointDir(cfg)} {
		if _, err := os.Lstat(d); os.IsNotExist(err) {
			continue
		}
		if err := os.Rename(d, filepath.Join(aside, filepath.Base(d))); err != nil {
			return "", fmt.Errorf("moving the pebble store aside: %w", err)
		}
	}
	if d, err := os.Open(cfg.DataDir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return "", err
		}
	}
	log.Info("moved the pebble store aside (delete it once memory mode is trusted)", zap.String("to", aside))
	return aside, nil
}
