// Package zabrun is the I/O shell of package zab: it runs the Leader and
// Learner cores on the quorum port's sockets, the txn log, the epoch files
// and the client-facing server (RunLeader, RunLearner), with the local
// state a role hands on to the next in Env.
package zabrun

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/metrics"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
	"github.com/zkserver/zkserver/zab"
)

// Env is the local state a role works on and hands on to the next role:
// the tree, the txn log directory, the epoch files and the committed-log
// window. A role may replace the tree (SNAP, TRUNC).
type Env struct {
	Cfg             *config.Config
	Log             *zap.Logger
	SnapDir, LogDir string
	Tree            *datatree.Tree
	Committed       *zab.CommittedLog
	Accepted        int64
	Current         int64
	// NewServer builds the client-facing server of a role (it is then
	// listened on and served by the role).
	NewServer func(tree *datatree.Tree, commit server.CommitPath, nextZxid int64, role server.Role) *server.Server
	// Rule decides when a snapshot is due (randomized snapCount).
	Rule *server.SnapshotRule
	// OnServing is told when a role starts serving clients in an epoch
	// (the election then answers with that epoch, as ZooKeeper's
	// updateElectionVote does).
	OnServing func(epoch int64)
}

// maxPacket bounds a quorum packet's data: jute.maxbuffer plus room, as
// ZooKeeper reads them.
func (e *Env) maxPacket() int { return e.Cfg.JuteMaxBuffer + 1<<20 }

func (e *Env) tick() time.Duration { return time.Duration(e.Cfg.TickTime) * time.Millisecond }

func (e *Env) openLog() (*txnlog.Log, error) {
	return txnlog.Open(txnlog.Options{
		Dir: e.LogDir, PreAllocSize: e.Cfg.PreAllocSizeKb * 1024, ForceSync: e.Cfg.ForceSync,
		FsyncWarn: time.Duration(e.Cfg.FsyncWarningThresholdMs) * time.Millisecond,
		MaxBatch:  e.Cfg.MaxBatchSize, Logger: e.Log, OnRound: metrics.Default().LogRoundFunc(),
	})
}

// appendLog logs entries with group commit (done gets the last zxid, or
// the error, once their fsync is over) and applies the randomized snapshot
// rule: when a snapshot is due the log is rolled for it and the serving
// server, srv's answer (nil before the role serves), takes it.
func (e *Env) appendLog(tl *txnlog.Log, entries []zab.Entry, srv func() *server.Server, done func(last int64, err error)) {
	le := make([]txnlog.Entry, len(entries))
	for i, en := range entries {
		le[i] = txnlog.Entry{Zxid: en.Zxid, Data: en.Data}
	}
	last := entries[len(entries)-1].Zxid
	tl.Commit(le, func(err error) { done(last, err) })
	snap := false
	for range entries {
		if e.Rule.Next(tl.CurrentSize()) {
			snap = true
		}
	}
	if !snap {
		return
	}
	tl.Roll()
	if s := srv(); s != nil {
		s.TakeSnapshot()
	}
}

func (e *Env) persistEpoch(a zab.PersistEpoch) error {
	if err := WriteEpoch(e.SnapDir, a.Name, a.Epoch); err != nil {
		return fmt.Errorf("writing %s: %w", a.Name, err)
	}
	if a.Name == zab.AcceptedEpochFile {
		e.Accepted = a.Epoch
	} else {
		e.Current = a.Epoch
	}
	return nil
}

// snapshotNow takes a snapshot of the tree synchronously (no server is
// using it): a snapshot file, or in pebble mode a checkpoint (after a tree
// received by SNAP has been put in place of the store).
func (e *Env) snapshotNow() error {
	tree, err := server.SnapshotTree(e.Cfg, e.Tree, e.Log)
	if err != nil {
		return err
	}
	e.Tree = tree
	return nil
}

// truncate cuts the log after zxid, drops snapshots past it and reloads
// the tree from what is left.
func (e *Env) truncate(zxid int64) error {
	tree, err := server.TruncateTree(e.Cfg, e.Tree, zxid, e.Log)
	if err != nil {
		return err
	}
	e.Tree = tree
	e.Committed.Reset()
	return nil
}

// InitConfigNode writes this server's view of the ensemble into
// /zookeeper/config, as ZooKeeper's ZKDatabase.initConfigInZKDatabase does
// when a peer starts and again when a learner has synced (after a SNAP it
// overwrites what the leader's snapshot carried): data = the config
// string, version -1, mzxid = the config version (0 for a static config),
// mtime = the local wall clock. It is not a txn, each server sets it
// locally, and /zookeeper/ children are outside the tree digest. The tree
// must not be serving yet.
func (e *Env) InitConfigNode() {
	e.Tree.SetConfigNode([]byte(e.Cfg.QuorumConfigString()), time.Now().UnixMilli())
}

// CatchUp applies to the tree, and adds to the committed window, every
// logged txn after the tree: what a role left logged but uncommitted counts
// for the next election, as ZooKeeper's fastForwardDataBase does.
func (e *Env) CatchUp() error {
	it, err := txnlog.NewIterator(e.LogDir, e.Tree.LastZxid+1)
	if err != nil {
		return err
	}
	defer it.Close()
	n := 0
	for {
		en, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if en.Zxid <= e.Tree.LastZxid {
			continue
		}
		p, err := server.CommittedProposal(en.Data)
		if err != nil {
			return fmt.Errorf("txn log %s: zxid %s: %w", e.LogDir, hex(en.Zxid), err)
		}
		e.Tree.Apply(&p.Hdr, &p.Txn)
		e.Committed.Add(zab.Entry{Zxid: en.Zxid, Data: en.Data})
		n++
	}
	if n > 0 {
		e.Log.Info("applied logged txns after the role ended", zap.Int("txns", n), zap.String("zxid", hex(e.Tree.LastZxid)))
	}
	return nil
}

// FillCommitted loads the logged txns replayed after the newest snapshot
// into the committed-log window, as ZooKeeper fills it while replaying at
// startup: older ones may lie before a hole the snapshot covers.
func (e *Env) FillCommitted() error {
	e.Committed.Reset()
	from := int64(0)
	if z, err := server.NewestSnapshotZxid(e.Cfg); err != nil {
		return err
	} else if z >= 0 {
		from = z + 1
	}
	it, err := txnlog.NewIterator(e.LogDir, from)
	if err != nil {
		return err
	}
	defer it.Close()
	for {
		en, err := it.Next()
		if err != nil || en.Zxid > e.Tree.LastZxid {
			return nil
		}
		if en.Zxid >= from {
			e.Committed.Add(zab.Entry{Zxid: en.Zxid, Data: en.Data})
		}
	}
}

// dropHistoryBefore removes the txn log and the snapshots older than the
// snapshot at zxid a SNAP sync has just written (server.DropHistoryBefore).
func (e *Env) dropHistoryBefore(zxid int64) error {
	return server.DropHistoryBefore(e.Cfg, zxid, e.Log)
}

// snapshotSize estimates the size of a snapshot of the tree, for the sync
// rule (snapshotSizeFactor).
func (e *Env) snapshotSize() int64 { return server.SnapshotSize(e.Cfg, e.Tree) }

// Close makes the tree durable and closes its store (pebble mode); the
// Env is unusable after.
func (e *Env) Close() error { return server.CloseTree(e.Tree) }

// peerConn is one quorum connection with an ordered send queue drained by
// a writer goroutine; the leader streams SNAP syncs through it.
type peerConn struct {
	sid  int64
	nc   net.Conn
	log  *zap.Logger
	mu   sync.Mutex
	q    []any // wire.QuorumPacket or SendSync
	wake chan struct{}
	done chan struct{}
	once sync.Once
	// snap writes a snapshot stream of the tree at zxid or later
	snap func(w *bufio.Writer, zxid int64) error

	// statistics for the AdminServer (ZooKeeper's LearnerHandler info)
	established          time.Time
	queued, queuedSize   atomic.Int64
	sent, received, reqs atomic.Int64
	lastZxid             atomic.Int64 // of the last packet sent with a zxid > 0
}

func newPeerConn(sid int64, nc net.Conn, log *zap.Logger) *peerConn {
	p := &peerConn{sid: sid, nc: nc, log: log, wake: make(chan struct{}, 1), done: make(chan struct{}), established: time.Now()}
	p.lastZxid.Store(-1)
	go p.writeLoop()
	return p
}

func (p *peerConn) push(item any) {
	if pkt, ok := item.(wire.QuorumPacket); ok {
		p.queuedSize.Add(int64(len(pkt.Data)))
	}
	p.queued.Add(1)
	p.mu.Lock()
	p.q = append(p.q, item)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *peerConn) close() {
	p.once.Do(func() {
		close(p.done)
		p.nc.Close()
	})
}

func (p *peerConn) writeLoop() {
	bw := bufio.NewWriterSize(p.nc, 64<<10)
	var buf []byte
	for {
		select {
		case <-p.wake:
		case <-p.done:
			return
		}
		for {
			p.mu.Lock()
			items := p.q
			p.q = nil
			p.mu.Unlock()
			if len(items) == 0 {
				break
			}
			for _, it := range items {
				var err error
				switch v := it.(type) {
				case wire.QuorumPacket:
					buf = wire.AppendQuorumPacket(buf[:0], &v)
					_, err = bw.Write(buf)
					p.queuedSize.Add(-int64(len(v.Data)))
					if v.Zxid > 0 {
						p.lastZxid.Store(v.Zxid)
					}
				case zab.SendSync:
					err = p.writeSync(bw, v)
				}
				p.queued.Add(-1)
				p.sent.Add(1)
				if err != nil {
					p.log.Info("quorum connection write failed", zap.Int64("sid", p.sid), zap.Error(err))
					p.close()
					return
				}
			}
		}
		if err := bw.Flush(); err != nil {
			p.close()
			return
		}
	}
}

func (p *peerConn) writeSync(bw *bufio.Writer, s zab.SendSync) error {
	start := time.Now()
	first := wire.QuorumPacket{Type: s.Plan.Kind, Zxid: s.Plan.Zxid}
	if _, err := bw.Write(wire.AppendQuorumPacket(nil, &first)); err != nil {
		return err
	}
	if s.Plan.Kind == wire.PacketSnap {
		if err := p.snap(bw, s.Plan.Zxid); err != nil {
			return err
		}
		e := wire.Encoder{}
		e.Str("BenWasHere")
		if _, err := bw.Write(e.B); err != nil {
			return err
		}
	}
	n := 0
	for i := range s.Plan.Queue {
		n += len(s.Plan.Queue[i].Data)
		if _, err := bw.Write(wire.AppendQuorumPacket(nil, &s.Plan.Queue[i])); err != nil {
			return err
		}
	}
	for i := range s.Then {
		if _, err := bw.Write(wire.AppendQuorumPacket(nil, &s.Then[i])); err != nil {
			return err
		}
	}
	p.log.Info("learner sync sent", zap.Int64("sid", p.sid), zap.String("mode", wire.PacketTypeName(s.Plan.Kind)),
		zap.String("zxid", hex(s.Plan.Zxid)), zap.Int("packets", len(s.Plan.Queue)), zap.Int("txn_bytes", n),
		zap.Duration("took", time.Since(start)))
	return nil
}

// hex formats a zxid for logs and errors as the cores do.
func hex(z int64) string { return fmt.Sprintf("0x%x", uint64(z)) }
