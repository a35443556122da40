package server

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/metrics"
	"github.com/zkserver/zkserver/pebblestore"
	"github.com/zkserver/zkserver/snapshot"
	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
)

// Dirs returns the snapshot and txn-log directories of a config
// (<dataDir>/version-2 and <dataLogDir>/version-2).
func Dirs(cfg *config.Config) (snapDir, logDir string) {
	logRoot := cfg.DataLogDir
	if logRoot == "" {
		logRoot = cfg.DataDir
	}
	return filepath.Join(cfg.DataDir, "version-2"), filepath.Join(logRoot, "version-2")
}

// Recover loads the newest valid snapshot (falling back to older ones),
// replays the txn log after it and returns the tree. An empty data
// directory gets snapshot.0, as ZooKeeper writes on first start.
func Recover(cfg *config.Config, log *zap.Logger) (*datatree.Tree, error) {
	tree, _, err := recoverTree(cfg, log)
	return tree, err
}

// recoverTree is Recover that also reports how many logged txns it
// replayed; in pebble mode the tree is on Pebble (recoverPebble).
func recoverTree(cfg *config.Config, log *zap.Logger) (*datatree.Tree, int, error) {
	if cfg.Storage() == config.StoragePebble {
		return recoverPebble(cfg, log)
	}
	// a dataDir last run in pebble mode: its tree goes back into version-2
	// first (its log may be purged past the old snapshots)
	if err := PrepareMemoryStart(cfg, log); err != nil {
		return nil, 0, err
	}
	// what loading allocates stays live: collecting meanwhile is wasted work
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	snapDir, logDir := Dirs(cfg)
	for _, d := range []string{snapDir, logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, 0, err
		}
	}
	start := time.Now()
	tree, zxid, path, err := snapshot.LoadLatest(snapDir, log)
	switch {
	case errors.Is(err, snapshot.ErrNoSnapshot):
		segs, serr := txnlog.Segments(logDir)
		if serr != nil {
			return nil, 0, serr
		}
		if len(segs) > 0 {
			return nil, 0, fmt.Errorf("no snapshot found in %s, but there are log entries in %s", snapDir, logDir)
		}
		tree = datatree.New()
		var mu = new(rwMutex)
		if _, err := snapshot.Write(snapDir, 0, tree, &mu.RWMutex, snapshot.WriteOptions{Sync: true}); err != nil {
			return nil, 0, err
		}
		metrics.Default().Recovered(time.Since(start), time.Since(start), -1, -1) // nothing to replay
		log.Info("initialized empty data directory", zap.String("snapDir", snapDir), zap.String("logDir", logDir))
		return tree, 0, nil
	case err != nil:
		return nil, 0, err
	}
	log.Info("loaded snapshot", zap.String("file", path), zap.String("zxid", hex(zxid)),
		zap.Int("nodes", tree.NodeCount()), zap.Duration("took", time.Since(start)))
	snapLoaded := time.Since(start)
	n, err := Replay(tree, logDir, zxid+1, log)
	if err != nil {
		return nil, 0, err
	}
	// sessions owning ephemerals but absent from the session table are
	// gone: drop their ephemerals (ZooKeeper's loadData does the same)
	for _, sess := range tree.EphemeralSessions() {
		if _, ok := tree.Sessions()[sess]; !ok {
			hdr := wire.TxnHeader{ClientID: sess, Zxid: tree.LastZxid, Type: wire.OpCloseSession}
			tree.Apply(&hdr, &wire.Txn{Type: wire.OpCloseSession})
		}
	}
	metrics.Default().Recovered(time.Since(start), snapLoaded, time.Since(start)-snapLoaded, n)
	log.Info("recovered", zap.String("zxid", hex(tree.LastZxid)), zap.Int("replayed", n),
		zap.Int("nodes", tree.NodeCount()), zap.Int("sessions", len(tree.Sessions())), zap.Duration("took", time.Since(start)))
	return tree, n, nil
}

// Replay applies every logged txn with zxid >= from to tree.
func Replay(tree *datatree.Tree, logDir string, from int64, log *zap.Logger) (int, error) {
	it, err := txnlog.NewIterator(logDir, from)
	if err != nil {
		return 0, err
	}
	defer it.Close()
	n, mismatches := 0, 0
	last := time.Now()
	for {
		e, err := it.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if e.Zxid < from {
			continue
		}
		hdr, txn, digest, hasDigest, err := DecodeTxnDigest(e.Data)
		if err != nil {
			return n, fmt.Errorf("txn log %s: zxid %s: %w", logDir, hex(e.Zxid), err)
		}
		tree.Apply(&hdr, &txn)
		if hasDigest && digest != tree.Digest() {
			if mismatches++; mismatches <= 10 {
				log.Warn("tree digest mismatch during replay", zap.String("zxid", hex(hdr.Zxid)),
					zap.String("logged", hex(int64(digest))), zap.String("tree", hex(int64(tree.Digest()))))
			}
		}
		n++
		if time.Since(last) > time.Second {
			last = time.Now()
			log.Info("replaying txn log", zap.Int("txns", n), zap.String("zxid", hex(e.Zxid)))
		}
	}
}

// snapshotDuty bounds the share of time spent writing snapshots: after a
// snapshot that took d, the next one starts no sooner than
// (snapshotDuty-1)*d later. ZooKeeper only skips a snapshot while one runs,
// so with a large tree and a high write rate it snapshots back to back and
// the serialisation and page-cache writes take a core from the clients;
// deferring keeps recovery bounded (the log since the last snapshot) while
// writes keep most of the machine.
const snapshotDuty = 4

// TakeSnapshot starts a background snapshot unless one is running
// (ZooKeeper's "Too busy to snap, skipping") or the last one ended too
// recently (snapshotDuty).
func (s *Server) TakeSnapshot() {
	s.takeSnapshot(false)
}

func (s *Server) takeSnapshot(atStart bool) {
	if s.snapDir == "" {
		return
	}
	if ps := s.pebbleStore(); ps != nil {
		s.takePebbleSnapshot(ps)
		return
	}
	if !s.snapping.CompareAndSwap(false, true) {
		s.log.Warn("too busy to snap, skipping")
		return
	}
	if !atStart {
		if wait := time.Until(s.snapNotBefore); wait > 0 {
			s.snapping.Store(false)
			s.log.Info("snapshot deferred: the last one ended too recently", zap.Duration("for", wait))
			return
		}
	}
	s.snapWG.Add(1)
	go func() {
		defer s.snapWG.Done()
		defer s.snapping.Store(false)
		if atStart {
			// give back what recovery allocated before the snapshot adds to it
			debug.FreeOSMemory()
		}
		start := time.Now()
		zxid := s.lastZxid.Load()
		path, err := snapshot.Write(s.snapDir, zxid, s.tree, &s.treeMu, snapshot.WriteOptions{
			Compression: s.cfg.SnapshotCompression, Logger: s.log,
		})
		took := time.Since(start)
		s.snapNotBefore = time.Now().Add((snapshotDuty - 1) * took)
		if err != nil {
			s.log.Error("snapshot failed", zap.Error(err))
			return
		}
		s.log.Info("snapshot taken", zap.String("file", path), zap.Duration("took", took))
		observeSnapshot(path, took)
	}()
}

// purgeLoop keeps autopurge.snapRetainCount snapshots and the logs they
// need, at startup and every autopurge.purgeInterval hours.
func (s *Server) purgeLoop() {
	defer s.wg.Done()
	if s.cfg.PurgeInterval <= 0 || s.snapDir == "" {
		return
	}
	t := time.NewTicker(time.Duration(s.cfg.PurgeInterval) * time.Hour)
	defer t.Stop()
	for {
		s.Purge()
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
	}
}

// Purge removes snapshots beyond the retained count and the log segments
// no retained snapshot needs.
func (s *Server) Purge() {
	if ps := s.pebbleStore(); ps != nil {
		s.purgePebble(ps)
		return
	}
	oldest, removed, err := snapshot.Purge(s.snapDir, s.cfg.SnapRetainCount)
	if err != nil {
		s.log.Warn("purge of snapshots failed", zap.Error(err))
		return
	}
	logs, err := txnlog.PurgeBefore(s.logDir, oldest)
	if err != nil {
		s.log.Warn("purge of txn logs failed", zap.Error(err))
	}
	if len(removed)+len(logs) > 0 {
		s.log.Info("purged", zap.Strings("snapshots", removed), zap.Strings("logs", logs))
	}
}

// OpenDurable recovers the data directories and returns a server whose
// commit path is the txn log with group commit; snapshots follow
// ZooKeeper's randomized snapCount rule.
func OpenDurable(cfg *config.Config, log *zap.Logger) (*Server, error) {
	tree, replayed, err := recoverTree(cfg, log)
	if err != nil {
		return nil, err
	}
	snapDir, logDir := Dirs(cfg)
	tl, err := txnlog.Open(txnlog.Options{
		Dir: logDir, PreAllocSize: cfg.PreAllocSizeKb * 1024, ForceSync: cfg.ForceSync,
		FsyncWarn: time.Duration(cfg.FsyncWarningThresholdMs) * time.Millisecond,
		MaxBatch:  cfg.MaxBatchSize, Logger: log, OnRound: metrics.Default().LogRoundFunc(),
	})
	if err != nil {
		return nil, err
	}
	dc := &DurableCommit{
		Log: tl, Logger: log, SegmentLimit: cfg.TxnLogSizeLimitInKb * 1024,
		Rule: &SnapshotRule{SnapCount: cfg.SnapCount, SizeLimit: cfg.SnapSizeLimitInKb * 1024,
			Rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5a4b))},
	}
	var commit CommitPath = dc
	pc, _ := tree.Store().(*pebblestore.Store)
	if pc != nil {
		commit = &pebbleCommit{DurableCommit: dc, store: pc}
	}
	s := New(Options{Config: cfg, Logger: log, Commit: commit, Tree: tree})
	if pc != nil {
		commit.(*pebbleCommit).s = s
	}
	s.snapDir, s.logDir = snapDir, logDir
	// like ZooKeeper, snapshot what was recovered (in the background here)
	s.snapOnStart = replayed > 0
	dc.Snapshot = s.TakeSnapshot
	return s, nil
}

type rwMutex struct{ sync.RWMutex }
