package zabrun

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/metrics"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/tlsconf"
	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
	"github.com/zkserver/zkserver/zab"
)

type fEvent struct {
	kind int
	pkt  *wire.QuorumPacket
	tree *datatree.Tree // SNAP: the tree read from the stream
	zxid int64
	req  *zab.Request
	err  error
}

const (
	fePacket = iota
	feDurable
	feForward
	feGone
	feLogFailed
)

// learnerRun is the shell of a follower or observer.
type learnerRun struct {
	env      *Env
	core     *zab.Learner
	observer bool
	ev       chan fEvent
	done     chan struct{}
	pc       *peerConn
	tl       *txnlog.Log
	srvMu    sync.Mutex
	srv      *server.Server
	applyC   chan []*server.Proposal
	appWG    sync.WaitGroup
	start    time.Time
	syncKind int32
	// prevTree is the tree a SNAP replaced, until the snapshot of the
	// new one is taken (it is what the disk holds until then)
	prevTree *datatree.Tree

	revMu sync.Mutex
	revs  map[int64]chan bool
}

// RunLearner follows (or observes) the leader at addr until the role ends.
func RunLearner(ctx context.Context, env *Env, leaderID int64, addr string, observer bool) error {
	start := time.Now()
	nc, err := dialLeader(ctx, env, addr)
	if err != nil {
		return fmt.Errorf("%w: connecting to leader %d at %s: %v", ErrRoleEnded, leaderID, addr, err)
	}
	tl, err := env.openLog()
	if err != nil {
		nc.Close()
		return err
	}
	r := &learnerRun{env: env, observer: observer, ev: make(chan fEvent, 4096), done: make(chan struct{}),
		tl: tl, start: start, revs: map[int64]chan bool{}}
	r.core = zab.NewLearner(zab.LearnerConfig{ID: env.Cfg.MyID, Observer: observer, AcceptedEpoch: env.Accepted,
		CurrentEpoch: env.Current, LastZxid: env.Tree.LastZxid, InitLimit: env.Cfg.InitLimit,
		SyncLimit: env.Cfg.SyncLimit, Touches: r.touches})
	r.pc = newPeerConn(leaderID, nc, env.Log)
	env.InitConfigNode()
	mode := "following"
	if observer {
		mode = "observing"
	}
	env.Log.Info(mode, zap.Int64("leader", leaderID), zap.String("addr", addr), zap.String("zxid", hex(env.Tree.LastZxid)))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.readLoop(nc) }()
	err = r.loop(ctx)
	close(r.done)
	r.pc.close()
	if srv := r.server(); srv != nil {
		srv.Close()
	}
	r.tl.Sync()
	r.tl.Close()
	wg.Wait()
	r.dropUnsnapped()
	return err
}

// dropUnsnapped forgets trees received by SNAP that the role ended
// before snapshotting: the tree goes back to the one on disk.
func (r *learnerRun) dropUnsnapped() {
	for {
		select {
		case e := <-r.ev:
			if e.tree != nil {
				server.DiscardTree(r.env.Cfg, e.tree)
			}
			continue
		default:
		}
		break
	}
	if r.prevTree != nil {
		r.env.Log.Warn("the role ended between a SNAP and its snapshot: going on with the tree on disk")
		server.DiscardTree(r.env.Cfg, r.env.Tree)
		r.env.Tree = r.prevTree
		r.prevTree = nil
	}
}

func dialLeader(ctx context.Context, env *Env, addr string) (net.Conn, error) {
	deadline := time.Now().Add(time.Duration(env.Cfg.InitLimit) * env.tick())
	var last error
	for attempt := 0; attempt < 5 && time.Now().Before(deadline); attempt++ {
		d := net.Dialer{Timeout: time.Until(deadline)}
		nc, err := tlsconf.QuorumDial(ctx, env.Cfg, env.Log, &d, "tcp", addr)
		if err == nil {
			if tc, ok := nc.(*net.TCPConn); ok {
				tc.SetNoDelay(true)
			}
			return nc, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, last
}

func (r *learnerRun) post(e fEvent) bool {
	select {
	case r.ev <- e:
		return true
	case <-r.done:
		return false
	}
}

func (r *learnerRun) readLoop(nc net.Conn) {
	env := r.env
	br := bufio.NewReaderSize(nc, 64<<10)
	for {
		limit := time.Duration(env.Cfg.InitLimit) * env.tick()
		if r.core != nil && r.serving() {
			limit = time.Duration(env.Cfg.SyncLimit) * env.tick()
		}
		nc.SetReadDeadline(time.Now().Add(limit))
		p, err := wire.ReadQuorumPacket(br, env.maxPacket())
		if err != nil {
			r.post(fEvent{kind: feGone, err: err})
			return
		}
		e := fEvent{kind: fePacket, pkt: p}
		switch p.Type {
		case wire.PacketSnap:
			start := time.Now()
			tree, err := server.ReceiveSnapStream(env.Cfg, br, p.Zxid, env.Log)
			if err == nil {
				var tag string
				d := wire.Decoder{}
				tag, err = readUstring(br, &d)
				if err == nil && tag != "BenWasHere" {
					err = fmt.Errorf("snapshot stream ends with %q, not BenWasHere", tag)
				}
			}
			if err != nil {
				if tree != nil {
					server.DiscardTree(env.Cfg, tree)
				}
				r.post(fEvent{kind: feGone, err: fmt.Errorf("reading SNAP stream: %w", err)})
				return
			}
			env.Log.Info("snapshot received from the leader", zap.String("zxid", hex(p.Zxid)),
				zap.Int("nodes", tree.NodeCount()), zap.Duration("took", time.Since(start)))
			e.tree = tree
		case wire.PacketRevalidate:
			d := wire.NewDecoder(p.Data)
			id, valid := d.Long(), d.Bool()
			if d.Err() == nil {
				r.revMu.Lock()
				ch := r.revs[id]
				delete(r.revs, id)
				r.revMu.Unlock()
				if ch != nil {
					ch <- valid
				}
			}
			continue
		}
		if !r.post(e) {
			return
		}
	}
}

func readUstring(br *bufio.Reader, _ *wire.Decoder) (string, error) {
	var l [4]byte
	if _, err := io.ReadFull(br, l[:]); err != nil {
		return "", err
	}
	n := int32(uint32(l[0])<<24 | uint32(l[1])<<16 | uint32(l[2])<<8 | uint32(l[3]))
	if n < 0 || n > 1024 {
		return "", fmt.Errorf("bad string length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// server is the server the role started (nil before it serves).
func (r *learnerRun) server() *server.Server {
	r.srvMu.Lock()
	defer r.srvMu.Unlock()
	return r.srv
}

func (r *learnerRun) serving() bool { return r.server() != nil }

func (r *learnerRun) touches() map[int64]int32 {
	srv := r.server()
	if srv == nil {
		return nil
	}
	return srv.TakeTouched()
}

func (r *learnerRun) loop(ctx context.Context) error {
	t := time.NewTicker(r.env.tick() / 2)
	defer t.Stop()
	if err := r.exec(r.core.Start()); err != nil {
		return err
	}
	for {
		var acts []zab.Action
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			acts = r.core.Tick()
		case e := <-r.ev:
			switch e.kind {
			case fePacket:
				if e.tree != nil {
					// the tree on disk stays the old one until the
					// snapshot that follows a SNAP
					if r.prevTree == nil {
						r.prevTree = r.env.Tree
					} else {
						server.DiscardTree(r.env.Cfg, r.env.Tree)
					}
					r.env.Tree = e.tree
					r.env.Committed.Reset()
					r.env.InitConfigNode()
				}
				switch e.pkt.Type {
				case wire.PacketDiff, wire.PacketTrunc, wire.PacketSnap:
					r.syncKind = e.pkt.Type
				}
				if ce := r.env.Log.Check(zap.DebugLevel, "quorum packet in"); ce != nil {
					ce.Write(zap.Stringer("packet", e.pkt))
				}
				metrics.Default().LearnerPacket(e.pkt.Type)
				acts = r.core.Receive(e.pkt)
			case feDurable:
				acts = r.core.Durable(e.zxid)
			case feForward:
				acts = r.core.Forward(*e.req)
			case feGone:
				return fmt.Errorf("%w: connection to the leader lost: %v", ErrRoleEnded, e.err)
			case feLogFailed:
				return fmt.Errorf("%w: txn log write failed", ErrRoleEnded)
			}
		}
		if err := r.exec(acts); err != nil {
			return err
		}
	}
}

func (r *learnerRun) exec(acts []zab.Action) error {
	env := r.env
	for _, a := range acts {
		switch a := a.(type) {
		case zab.Send:
			if a.Pkt.Type == wire.PacketPing && a.Pkt.Data == nil {
				// ZooKeeper's LearnerHandler reads a PING's touch table
				// with new ByteArrayInputStream(data) and no null check:
				// a null buffer (-1) kills the learner's connection
				// (NPE), so an empty table goes out as zero bytes, as
				// Learner.ping sends it
				a.Pkt.Data = []byte{}
			}
			if ce := env.Log.Check(zap.DebugLevel, "quorum packet out"); ce != nil {
				ce.Write(zap.Stringer("packet", &a.Pkt))
			}
			r.pc.push(a.Pkt)
		case zab.Append:
			r.append(a.Entries)
		case zab.AppendSync:
			if len(a.Entries) > 0 {
				r.append(a.Entries)
			}
			if err := r.tl.Sync(); err != nil {
				return fmt.Errorf("%w: txn log: %v", ErrRoleEnded, err)
			}
		case zab.Apply:
			if err := r.apply(a.Entries); err != nil {
				return err
			}
		case zab.ApplySyncDone:
			if r.applyC != nil {
				r.applyC <- []*server.Proposal{server.SyncDoneProposal()}
			}
		case zab.PersistEpoch:
			if err := env.persistEpoch(a); err != nil {
				return err
			}
		case zab.Truncate:
			env.Log.Info("truncating the txn log at the leader's request", zap.String("zxid", hex(a.Zxid)))
			r.tl.Sync()
			r.tl.Close()
			if err := env.truncate(a.Zxid); err != nil {
				return fmt.Errorf("truncating to %s: %w", hex(a.Zxid), err)
			}
			env.InitConfigNode()
			tl, err := env.openLog()
			if err != nil {
				return err
			}
			r.tl = tl
		case zab.TakeSnapshot:
			if r.syncKind != wire.PacketSnap {
				if err := env.snapshotNow(); err != nil {
					return err
				}
				break
			}
			// a SNAP sync: the snapshot replaces the history before it
			r.tl.Sync()
			r.tl.Close()
			if r.prevTree != nil {
				if err := server.CloseTree(r.prevTree); err != nil {
					env.Log.Warn("closing the tree a SNAP replaced", zap.Error(err))
				}
				r.prevTree = nil
			}
			if err := env.snapshotNow(); err != nil {
				return err
			}
			if err := env.dropHistoryBefore(env.Tree.LastZxid); err != nil {
				return err
			}
			tl, err := env.openLog()
			if err != nil {
				return err
			}
			r.tl = tl
		case zab.Serve:
			r.serve()
		case zab.Stop:
			env.Log.Warn("leaving the leader", zap.String("reason", a.Reason))
			return fmt.Errorf("%w: %s", ErrRoleEnded, a.Reason)
		}
	}
	return nil
}

// append logs entries with group commit; the fsync comes back as an
// event, and the snapshot rule may start a snapshot.
func (r *learnerRun) append(entries []zab.Entry) {
	r.env.appendLog(r.tl, entries, r.server, func(last int64, err error) {
		if err != nil {
			r.post(fEvent{kind: feLogFailed})
			return
		}
		r.post(fEvent{kind: feDurable, zxid: last})
	})
}

// apply hands committed txns to the server, or to the tree while syncing.
func (r *learnerRun) apply(entries []zab.Entry) error {
	props := make([]*server.Proposal, 0, len(entries))
	for _, e := range entries {
		r.env.Committed.Add(e)
		p, err := server.CommittedProposal(e.Data)
		if err != nil {
			return fmt.Errorf("%w: undecodable committed txn %s: %v", ErrRoleEnded, hex(e.Zxid), err)
		}
		if r.applyC == nil {
			r.env.Tree.Apply(&p.Hdr, &p.Txn)
			continue
		}
		props = append(props, p)
	}
	if len(props) > 0 {
		server.MarkCommitted(props)
		r.applyC <- props
	}
	return nil
}

func (r *learnerRun) serve() {
	env := r.env
	r.applyC = make(chan []*server.Proposal, 1024)
	role := &learnerRole{mode: "follower", voters: len(env.Cfg.Voters()), leader: r.pc.sid}
	if r.observer {
		role.mode = "observer"
	}
	srv := env.NewServer(env.Tree, &learnerCommit{r: r}, 0, role)
	if err := srv.Listen(); err != nil {
		env.Log.Error("learner: client port", zap.Error(err))
	}
	r.srvMu.Lock()
	r.srv = srv
	r.srvMu.Unlock()
	go srv.Serve()
	metrics.Default().LearnerSynced(r.observer, time.Since(r.start))
	if env.OnServing != nil {
		env.OnServing(r.core.Epoch())
	}
	env.Log.Info("synced with the leader: serving clients", zap.String("sync", wire.PacketTypeName(r.syncKind)),
		zap.Int64("epoch", r.core.Epoch()), zap.String("zxid", hex(env.Tree.LastZxid)), zap.Duration("took", time.Since(r.start)))
}

// learnerCommit is the server's commit path on a learner.
type learnerCommit struct {
	r    *learnerRun
	once sync.Once
}

func (c *learnerCommit) Start(apply func([]*server.Proposal)) {
	c.r.appWG.Add(1)
	go func() {
		defer c.r.appWG.Done()
		for b := range c.r.applyC {
			apply(b)
		}
	}()
}

func (c *learnerCommit) Propose([]*server.Proposal) {}

func (c *learnerCommit) Forward(f server.Forwarded) {
	c.r.post(fEvent{kind: feForward, req: &zab.Request{Session: f.Session, Cxid: f.Cxid, Op: f.Op, Body: f.Body, Auth: f.Auth}})
}

func (c *learnerCommit) Revalidate(session int64, timeout int32) bool {
	r := c.r
	ch := make(chan bool, 1)
	r.revMu.Lock()
	r.revs[session] = ch
	r.revMu.Unlock()
	e := wire.Encoder{}
	e.Long(session)
	e.Int(timeout)
	r.pc.push(wire.QuorumPacket{Type: wire.PacketRevalidate, Zxid: -1, Data: e.B})
	select {
	case v := <-ch:
		return v
	case <-r.done:
		return false
	case <-time.After(time.Duration(r.env.Cfg.SyncLimit) * r.env.tick()):
		return false
	}
}

func (c *learnerCommit) Close() {
	c.once.Do(func() {
		close(c.r.applyC)
		c.r.appWG.Wait()
	})
}

type learnerRole struct {
	mode   string
	voters int
	leader int64
}

func (l *learnerRole) Mode() string { return l.mode }

// Metrics are ZooKeeper 3.8's quorum gauges of a learner.
func (l *learnerRole) Metrics() [][2]string {
	if l.mode == "observer" {
		return [][2]string{
			{"peer_state", "observing - broadcast"},
			{"quorum_size", strconv.Itoa(l.voters)},
			{"observer_master_id", strconv.FormatInt(l.leader, 10)},
		}
	}
	return [][2]string{
		{"peer_state", "following - broadcast"},
		{"quorum_size", strconv.Itoa(l.voters)},
	}
}
