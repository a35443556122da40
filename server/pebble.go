package server

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
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

// Pebble mode (storageEngine=pebble): the tree lives in <dataDir>/pebble
// (pebblestore). The txn log stays the write-ahead log; Pebble
// holds the tree as of the zxid in its meta key, so recovery replays only
// the log after it. A snapshot is a Pebble checkpoint in
// <dataDir>/pebble-checkpoints/checkpoint.<zxid>, and the log is purged
// only up to the oldest retained checkpoint (all of which Pebble has
// flushed).

// PebbleDir is where the Pebble store of a config lives.
func PebbleDir(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "pebble") }

// PebbleCheckpointDir holds the checkpoints of pebble mode.
func PebbleCheckpointDir(cfg *config.Config) string {
	return filepath.Join(cfg.DataDir, "pebble-checkpoints")
}

func openPebble(cfg *config.Config, log *zap.Logger) (*pebblestore.Store, error) {
	return pebblestore.Open(pebbleOptions(cfg, PebbleDir(cfg), log))
}

// pebbleOptions are the store options cfg gives, for a store in dir.
func pebbleOptions(cfg *config.Config, dir string, log *zap.Logger) pebblestore.Options {
	return pebblestore.Options{Dir: dir, CacheSize: cfg.PebbleCacheBytes(), DisableWAL: !cfg.PebbleWAL(), Logger: log.Named("pebble")}
}

// recoverPebble opens the Pebble store, importing ZooKeeper's files when it
// is new, and replays the log after the zxid it holds.
func recoverPebble(cfg *config.Config, log *zap.Logger) (*datatree.Tree, int, error) {
	snapDir, logDir := Dirs(cfg)
	for _, d := range []string{snapDir, logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, 0, err
		}
	}
	if err := settlePebbleDirs(cfg, log); err != nil {
		return nil, 0, err
	}
	start := time.Now()
	ps, err := openPebble(cfg, log)
	if pebblestore.IsCorrupt(err) {
		ps, err = rebuildCorruptPebble(cfg, err, log)
	}
	if err != nil {
		return nil, 0, err
	}
	fail := func(err error) (*datatree.Tree, int, error) {
		ps.Close()
		return nil, 0, err
	}
	st, err := ps.Load()
	if err != nil {
		return fail(err)
	}
	if st.Loading {
		// an import stopped half way: start it again from scratch
		log.Warn("pebble store holds an unfinished import; importing again", zap.String("dir", PebbleDir(cfg)))
		ps.Close()
		if err := os.RemoveAll(PebbleDir(cfg)); err != nil {
			return nil, 0, err
		}
		if ps, err = openPebble(cfg, log); err != nil {
			return nil, 0, err
		}
		st = &datatree.State{}
	}
	var tree *datatree.Tree
	if st.Count == 0 {
		tree, err = importIntoPebble(ps, snapDir, logDir, log)
		if err == nil {
			// the first checkpoint: a truncation (TRUNC from a leader)
			// can always rebuild the store from one at or before it
			_, err = checkpointPebble(cfg, ps, log)
		}
	} else {
		tree, err = datatree.Open(ps)
		if err == nil {
			log.Info("opened pebble store", zap.String("dir", PebbleDir(cfg)), zap.String("zxid", hex(tree.LastZxid)),
				zap.Int("nodes", tree.NodeCount()), zap.Duration("took", time.Since(start)))
		}
	}
	if err != nil {
		return fail(err)
	}
	opened := time.Since(start)
	n, err := Replay(tree, logDir, tree.LastZxid+1, log)
	if err != nil {
		return fail(err)
	}
	for _, sess := range tree.EphemeralSessions() {
		if _, ok := tree.Sessions()[sess]; !ok {
			hdr := wire.TxnHeader{ClientID: sess, Zxid: tree.LastZxid, Type: wire.OpCloseSession}
			tree.Apply(&hdr, &wire.Txn{Type: wire.OpCloseSession})
		}
	}
	if err := tree.Sync(); err != nil {
		return fail(err)
	}
	metrics.Default().Recovered(time.Since(start), opened, time.Since(start)-opened, n)
	log.Info("recovered (pebble)", zap.String("zxid", hex(tree.LastZxid)), zap.Int("replayed", n),
		zap.Int("nodes", tree.NodeCount()), zap.Int("sessions", len(tree.Sessions())), zap.Duration("took", time.Since(start)))
	return tree, n, nil
}

// rebuildCorruptPebble handles a store Pebble refuses to open as corrupt
// (the unsynced tail of its WAL after a power loss can be torn): the store
// is moved aside to pebble.corrupt.<time> and rebuilt from the newest
// checkpoint; the caller replays the txn log after it, which purging keeps
// back to the oldest checkpoint. Nothing acknowledged is lost: the txn log
// is the write-ahead log of record.
func rebuildCorruptPebble(cfg *config.Config, cause error, log *zap.Logger) (*pebblestore.Store, error) {
	aside := PebbleDir(cfg) + ".corrupt." + time.Now().UTC().Format("20060102T150405")
	log.Error("pebble store does not open: moving it aside and rebuilding it from the newest checkpoint and the txn log",
		zap.String("dir", PebbleDir(cfg)), zap.String("moved_to", aside), zap.Error(cause))
	if err := os.Rename(PebbleDir(cfg), aside); err != nil {
		return nil, fmt.Errorf("%w (moving it aside: %v)", cause, err)
	}
	if err := restoreCheckpoint(cfg, math.MaxInt64, "a store that did not open", log); err != nil {
		return nil, fmt.Errorf("%w (rebuilding it: %v)", cause, err)
	}
	return openPebble(cfg, log)
}

// importIntoPebble fills a new store: from the newest ZooKeeper snapshot
// when there is one (the caller replays the log after it), else the
// built-in nodes (and snapshot.0, as ZooKeeper writes on first start, so
// the dataDir stays one ZooKeeper can read).
func importIntoPebble(ps *pebblestore.Store, snapDir, logDir string, log *zap.Logger) (*datatree.Tree, error) {
	start := time.Now()
	cands, err := snapshot.ValidFiles(snapDir, 100)
	if err != nil {
		return nil, err
	}
	if len(cands) == 0 {
		segs, serr := txnlog.Segments(logDir)
		if serr != nil {
			return nil, serr
		}
		if len(segs) > 0 {
			return nil, fmt.Errorf("no snapshot found in %s, but there are log entries in %s", snapDir, logDir)
		}
		if _, err := snapshot.Write(snapDir, 0, datatree.New(), &new(rwMutex).RWMutex, snapshot.WriteOptions{Sync: true}); err != nil {
			return nil, err
		}
		log.Info("initialized empty data directory (pebble)", zap.String("snapDir", snapDir), zap.String("logDir", logDir))
		tree := datatree.NewOn(ps)
		return tree, tree.Sync()
	}
	// the newest snapshot that reads back whole (checked first without
	// building a tree, so memory stays bounded), then streamed node by
	// node into the store: the tree is never in memory as a whole
	var errs []error
	for _, c := range cands {
		if _, err := snapshot.Verify(c.Path, log); err != nil {
			log.Warn("unusable snapshot, trying an older one", zap.String("file", c.Path), zap.Error(err))
			errs = append(errs, err)
			continue
		}
		log.Info("importing snapshot into pebble", zap.String("file", c.Path), zap.String("zxid", hex(c.Zxid)))
		tree := datatree.NewEmptyOn(ps)
		s, err := snapshot.ReadInto(c.Path, tree, log)
		if err != nil {
			return nil, fmt.Errorf("import into pebble: %w", err)
		}
		if _, err := ps.Flush(); err != nil {
			return nil, err
		}
		log.Info("imported snapshot into pebble", zap.Int("nodes", s.Nodes), zap.String("zxid", hex(s.Zxid)),
			zap.Duration("took", time.Since(start)))
		return tree, nil
	}
	return nil, fmt.Errorf("snapshot: no valid snapshot in %s: %w", snapDir, errors.Join(errs...))
}

// pebbleStore is the Pebble store of a server in pebble mode, else nil.
func (s *Server) pebbleStore() *pebblestore.Store {
	if s.tree == nil {
		return nil
	}
	ps, _ := s.tree.Store().(*pebblestore.Store)
	return ps
}

// takePebbleSnapshot commits what is applied, then flushes and checkpoints
// Pebble in the background (the log was rolled by the caller's rule).
func (s *Server) takePebbleSnapshot(ps *pebblestore.Store) {
	if !s.snapping.CompareAndSwap(false, true) {
		s.log.Warn("too busy to snap, skipping")
		return
	}
	s.snapWG.Add(1)
	go func() {
		defer s.snapWG.Done()
		defer s.snapping.Store(false)
		s.treeMu.Lock()
		err := s.tree.Sync()
		s.treeMu.Unlock()
		if err != nil {
			s.log.Error("pebble snapshot: commit failed", zap.Error(err))
			return
		}
		if _, err := checkpointPebble(s.cfg, ps, s.log); err != nil {
			s.log.Error("pebble snapshot failed", zap.Error(err))
		}
	}()
}

// pebbleCheckpoints lists the checkpoints, oldest first.
func pebbleCheckpoints(dir string) ([]int64, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var zxids []int64
	for _, e := range ents {
		if z, ok := strings.CutPrefix(e.Name(), "checkpoint."); ok {
			if v, err := strconv.ParseInt(z, 16, 64); err == nil {
				zxids = append(zxids, v)
			}
		}
	}
	sort.Slice(zxids, func(i, j int) bool { return zxids[i] < zxids[j] })
	return zxids, nil
}

// purgePebble keeps autopurge.snapRetainCount checkpoints and the log from
// the oldest kept one on (never past what Pebble has flushed).
func (s *Server) purgePebble(ps *pebblestore.Store) {
	dir := PebbleCheckpointDir(s.cfg)
	zxids, err := pebbleCheckpoints(dir)
	if err != nil {
		s.log.Warn("purge of pebble checkpoints failed", zap.Error(err))
		return
	}
	var removed []string
	for len(zxids) > s.cfg.SnapRetainCount {
		p := filepath.Join(dir, "checkpoint."+strconv.FormatInt(zxids[0], 16))
		if err := os.RemoveAll(p); err != nil {
			s.log.Warn("purge of pebble checkpoints failed", zap.Error(err))
			return
		}
		removed, zxids = append(removed, p), zxids[1:]
	}
	if len(zxids) == 0 {
		return
	}
	upTo := min(zxids[0], ps.DurableZxid())
	logs, err := txnlog.PurgeBefore(s.logDir, upTo)
	if err != nil {
		s.log.Warn("purge of txn logs failed", zap.Error(err))
	}
	if len(removed)+len(logs) > 0 {
		s.log.Info("purged", zap.Strings("checkpoints", removed), zap.Strings("logs", logs))
	}
}

// pebbleCommit is the durable commit path of pebble mode: on Close it
// commits and flushes what was applied, so the next start replays nothing,
// and closes the store.
type pebbleCommit struct {
	*DurableCommit
	store *pebblestore.Store
	s     *Server
}

func (p *pebbleCommit) Close() {
	p.DurableCommit.Close() // every logged txn is applied
	p.s.treeMu.Lock()
	err := p.s.tree.Sync()
	p.s.treeMu.Unlock()
	if err == nil {
		_, err = p.store.Flush()
	}
	if err != nil {
		p.Logger.Error("pebble store: final flush failed (the txn log has everything)", zap.Error(err))
	}
	p.store.Close()
}

// What is applied but not durable in Pebble (pending in the store, or in
// its WAL or memtables without an fsync) is replayed from the txn log at
// the next start. pebbleFlushLoop bounds that replay (and so the restart
// time): it commits the pending changes and syncs Pebble's WAL (without
// the WAL: flushes its memtable) once pebbleFlushTxns txns or
// pebbleFlushInterval have gone by since the last time, whichever comes
// first. Commits go on meanwhile.
const (
	pebbleFlushTxns     = 20000
	pebbleFlushInterval = time.Second
)

func (s *Server) pebbleFlushLoop(ps *pebblestore.Store) {
	defer s.wg.Done()
	t := time.NewTicker(pebbleFlushInterval / 10)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
		applied, durable := s.lastZxid.Load(), ps.DurableZxid()
		if applied <= durable {
			last = time.Now()
			continue
		}
		sameEpoch := wire.ZxidEpoch(applied) == wire.ZxidEpoch(durable)
		if sameEpoch && applied-durable < pebbleFlushTxns && time.Since(last) < pebbleFlushInterval {
			continue
		}
		s.treeMu.Lock()
		err := s.tree.Sync()
		s.treeMu.Unlock()
		if err == nil {
			_, err = ps.SyncWAL()
		}
		if err != nil {
			s.log.Warn("pebble WAL sync failed (the txn log has everything)", zap.Error(err))
		}
		last = time.Now()
	}
}
