package server

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/pebblestore"
	"github.com/zkserver/zkserver/snapshot"
	"github.com/zkserver/zkserver/txnlog"
)

// The storage operations an ensemble member needs between roles (zab's
// learner and leader shells call them with no server using the tree), in
// both storage modes. In memory mode a snapshot is a ZooKeeper snapshot
// file in version-2; in pebble mode it is a Pebble checkpoint, and a tree
// received from a leader (SNAP) or rebuilt for a TRUNC is assembled in
// <dataDir>/pebble.next and then put in place of <dataDir>/pebble:
//
//	pebble + pebble.next      pebble.next is unfinished: removed at start
//	pebble.old + pebble.next  renamed into place at start
//	pebble.old + pebble       pebble.old removed at start
//
// so a crash at any point leaves one whole store.

func pebbleNextDir(cfg *config.Config) string { return PebbleDir(cfg) + ".next" }
func pebbleOldDir(cfg *config.Config) string  { return PebbleDir(cfg) + ".old" }

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// settlePebbleDirs finishes or undoes a store swap a crash interrupted.
func settlePebbleDirs(cfg *config.Config, log *zap.Logger) error {
	cur, next, old := PebbleDir(cfg), pebbleNextDir(cfg), pebbleOldDir(cfg)
	if exists(next) {
		if exists(cur) {
			log.Warn("removing an unfinished pebble store (a SNAP or TRUNC the server did not finish)", zap.String("dir", next))
			if err := os.RemoveAll(next); err != nil {
				return err
			}
		} else {
			log.Warn("finishing an interrupted pebble store swap", zap.String("dir", next))
			if err := os.Rename(next, cur); err != nil {
				return err
			}
		}
	}
	if exists(old) {
		return os.RemoveAll(old)
	}
	return nil
}

// swapInPebble puts the closed store in pebble.next in place of the
// closed store in pebble.
func swapInPebble(cfg *config.Config) error {
	cur, next, old := PebbleDir(cfg), pebbleNextDir(cfg), pebbleOldDir(cfg)
	if err := syncDir(next); err != nil {
		return err
	}
	if exists(cur) {
		if err := os.Rename(cur, old); err != nil {
			return err
		}
	}
	if err := os.Rename(next, cur); err != nil {
		return err
	}
	if err := syncDir(cfg.DataDir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func pebbleOf(tree *datatree.Tree) *pebblestore.Store {
	ps, _ := tree.Store().(*pebblestore.Store)
	return ps
}

// CloseTree makes what tree has applied durable and closes its store
// (nothing to do for a tree in memory). The tree is unusable after.
func CloseTree(tree *datatree.Tree) error {
	ps := pebbleOf(tree)
	if ps == nil {
		return nil
	}
	err := tree.Sync()
	if err == nil {
		_, err = ps.Flush()
	}
	if cerr := ps.Close(); err == nil {
		err = cerr
	}
	return err
}

// DiscardTree drops a tree ReceiveSnapStream returned that is not going to
// be used (the role ended before it was installed): its store is closed
// and, being the unfinished pebble.next, removed.
func DiscardTree(cfg *config.Config, tree *datatree.Tree) {
	if ps := pebbleOf(tree); ps != nil {
		dir := ps.Dir()
		ps.Close()
		if dir == pebbleNextDir(cfg) {
			os.RemoveAll(dir)
		}
	}
}

// ReceiveSnapStream reads a SNAP body (as ReadStream) into a new tree
// whose last zxid is zxid. In pebble mode the tree is streamed into a new
// store in pebble.next, node by node; SnapshotTree later puts it in place.
func ReceiveSnapStream(cfg *config.Config, r io.Reader, zxid int64, log *zap.Logger) (*datatree.Tree, error) {
	if cfg.Storage() != config.StoragePebble {
		tree, err := snapshot.ReadStream(r)
		if err != nil {
			return nil, err
		}
		tree.LastZxid = zxid
		return tree, nil
	}
	dir := pebbleNextDir(cfg)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	ps, err := pebblestore.Open(pebbleOptions(cfg, dir, log))
	if err != nil {
		return nil, err
	}
	tree := datatree.NewEmptyOn(ps)
	tree.LastZxid = zxid
	if err := snapshot.ReadStreamInto(r, tree, log); err != nil {
		ps.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	if err := tree.Sync(); err != nil {
		ps.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return tree, nil
}

// SnapshotTree takes a snapshot of tree synchronously (no server is using
// it) and returns the tree to go on with: in memory mode the same tree and
// a snapshot file in version-2; in pebble mode a checkpoint, after the
// tree, when it was received from a leader, has been put in place of the
// store (then the returned tree is the reopened store's).
func SnapshotTree(cfg *config.Config, tree *datatree.Tree, log *zap.Logger) (*datatree.Tree, error) {
	snapDir, _ := Dirs(cfg)
	ps := pebbleOf(tree)
	if ps == nil {
		var mu sync.RWMutex
		path, err := snapshot.Write(snapDir, tree.LastZxid, tree, &mu, snapshot.WriteOptions{Sync: true, Logger: log})
		if err == nil {
			log.Info("snapshot taken", zap.String("file", path))
		}
		return tree, err
	}
	if ps.Dir() == pebbleNextDir(cfg) {
		start := time.Now()
		zxid := tree.LastZxid
		if err := CloseTree(tree); err != nil {
			return nil, err
		}
		if err := swapInPebble(cfg); err != nil {
			return nil, fmt.Errorf("installing the tree from the leader: %w", err)
		}
		var err error
		if ps, err = openPebble(cfg, log); err != nil {
			return nil, err
		}
		if tree, err = datatree.Open(ps); err != nil {
			ps.Close()
			return nil, err
		}
		log.Info("pebble store replaced by the tree from the leader", zap.String("zxid", hex(zxid)),
			zap.Int("nodes", tree.NodeCount()), zap.Duration("took", time.Since(start)))
	}
	if err := tree.Sync(); err != nil {
		return nil, err
	}
	if _, err := checkpointPebble(cfg, ps, log); err != nil {
		return nil, err
	}
	return tree, nil
}

// checkpointPebble writes a checkpoint of the store (flushed first) into
// pebble-checkpoints/checkpoint.<zxid> and returns the zxid.
func checkpointPebble(cfg *config.Config, ps *pebblestore.Store, log *zap.Logger) (int64, error) {
	start := time.Now()
	dir := PebbleCheckpointDir(cfg)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	tmp := filepath.Join(dir, fmt.Sprintf("tmp.%d", time.Now().UnixNano()))
	zxid, err := ps.Checkpoint(tmp)
	if err != nil {
		os.RemoveAll(tmp)
		return 0, err
	}
	final := filepath.Join(dir, "checkpoint."+strconv.FormatInt(zxid, 16))
	os.RemoveAll(final) // a checkpoint of the same zxid (nothing applied since)
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		return 0, err
	}
	log.Info("pebble checkpoint taken", zap.String("dir", final), zap.String("zxid", hex(zxid)), zap.Duration("took", time.Since(start)))
	return zxid, nil
}

// NewestSnapshotZxid is the zxid of the newest snapshot (pebble mode: of
// the newest checkpoint), or -1 without one.
func NewestSnapshotZxid(cfg *config.Config) (int64, error) {
	if cfg.Storage() == config.StoragePebble {
		zxids, err := pebbleCheckpoints(PebbleCheckpointDir(cfg))
		if err != nil || len(zxids) == 0 {
			return -1, err
		}
		return zxids[len(zxids)-1], nil
	}
	snapDir, _ := Dirs(cfg)
	files, err := snapshot.List(snapDir)
	if err != nil || len(files) == 0 {
		return -1, err
	}
	return files[0].Zxid, nil
}

// SnapshotSize estimates the size of a snapshot of the current tree (the
// newest snapshot file; pebble mode: the store's files), for the sync
// rule that sends the log only while it is smaller than a snapshot.
func SnapshotSize(cfg *config.Config, tree *datatree.Tree) int64 {
	if ps := pebbleOf(tree); ps != nil {
		return int64(ps.Metrics().DiskSpaceUsage())
	}
	snapDir, _ := Dirs(cfg)
	files, err := snapshot.List(snapDir)
	if err != nil || len(files) == 0 {
		return 0
	}
	st, err := os.Stat(files[0].Path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// TruncateTree cuts the txn log after zxid (a leader's TRUNC), drops the
// snapshots past it and returns the tree as of zxid, reloaded from what is
// left. In pebble mode, when the store has applied txns past zxid, it is
// rebuilt from the newest checkpoint at or before zxid plus the log.
func TruncateTree(cfg *config.Config, tree *datatree.Tree, zxid int64, log *zap.Logger) (*datatree.Tree, error) {
	snapDir, logDir := Dirs(cfg)
	pebbleMode := pebbleOf(tree) != nil
	past := tree.LastZxid > zxid
	if err := CloseTree(tree); err != nil {
		return nil, err
	}
	if err := txnlog.Truncate(logDir, zxid); err != nil {
		return nil, err
	}
	files, err := snapshot.List(snapDir)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if f.Zxid > zxid {
			log.Info("removing snapshot past the truncation point", zap.String("file", f.Path))
			if err := os.Remove(f.Path); err != nil {
				return nil, err
			}
		}
	}
	if pebbleMode {
		if err := dropCheckpoints(cfg, func(z int64) bool { return z > zxid }, log); err != nil {
			return nil, err
		}
		if past {
			if err := restoreCheckpoint(cfg, zxid, "a truncation", log); err != nil {
				return nil, err
			}
		}
	}
	return Recover(cfg, log)
}

// dropCheckpoints removes the checkpoints whose zxid drop accepts.
func dropCheckpoints(cfg *config.Config, drop func(int64) bool, log *zap.Logger) error {
	dir := PebbleCheckpointDir(cfg)
	zxids, err := pebbleCheckpoints(dir)
	if err != nil {
		return err
	}
	for _, z := range zxids {
		if drop(z) {
			p := filepath.Join(dir, "checkpoint."+strconv.FormatInt(z, 16))
			log.Info("removing pebble checkpoint", zap.String("dir", p))
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// restoreCheckpoint puts a copy of the newest checkpoint at or before
// zxid in place of the store (sstables hard-linked, the rest copied, so
// the checkpoint stays untouched); why is logged.
func restoreCheckpoint(cfg *config.Config, zxid int64, why string, log *zap.Logger) error {
	zxids, err := pebbleCheckpoints(PebbleCheckpointDir(cfg))
	if err != nil {
		return err
	}
	use := int64(-1)
	for _, z := range zxids {
		if z <= zxid {
			use = z
		}
	}
	if use < 0 {
		return fmt.Errorf("pebble store is past %s and no checkpoint at or before it is left to rebuild from", hex(zxid))
	}
	src := filepath.Join(PebbleCheckpointDir(cfg), "checkpoint."+strconv.FormatInt(use, 16))
	next := pebbleNextDir(cfg)
	if err := os.RemoveAll(next); err != nil {
		return err
	}
	if err := copyStoreDir(src, next); err != nil {
		return err
	}
	if err := swapInPebble(cfg); err != nil {
		return err
	}
	log.Info("pebble store rebuilt from a checkpoint for "+why, zap.String("checkpoint", src),
		zap.String("up_to", hex(zxid)))
	return nil
}

func copyStoreDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		s, d := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if strings.HasSuffix(e.Name(), ".sst") || strings.HasSuffix(e.Name(), ".blob") {
			if err := os.Link(s, d); err == nil {
				continue
			}
		}
		if err := copyFile(s, d); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// DropHistoryBefore removes every txn log segment and every snapshot (and
// pebble checkpoint) older than zxid, the snapshot a SNAP sync has just
// written: the old log ends before the txns that snapshot brought, so a
// later sync from it (or a recovery from an older snapshot) would skip
// them.
func DropHistoryBefore(cfg *config.Config, zxid int64, log *zap.Logger) error {
	snapDir, logDir := Dirs(cfg)
	segs, err := txnlog.Segments(logDir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if err := os.Remove(s.Path); err != nil {
			return err
		}
	}
	files, err := snapshot.List(snapDir)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.Zxid < zxid {
			if err := os.Remove(f.Path); err != nil {
				return err
			}
		}
	}
	if cfg.Storage() == config.StoragePebble {
		if err := dropCheckpoints(cfg, func(z int64) bool { return z < zxid }, log); err != nil {
			return err
		}
	}
	log.Info("dropped the txn log and snapshots older than the snapshot from the leader",
		zap.Int("segments", len(segs)), zap.String("zxid", hex(zxid)))
	return nil
}
