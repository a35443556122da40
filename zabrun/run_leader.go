package zabrun

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/metrics"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/tlsconf"
	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
	"github.com/zkserver/zkserver/zab"
)

// ErrRoleEnded is wrapped by the error a role returns when it ends for a
// protocol reason (the server goes back to looking).
var ErrRoleEnded = errors.New("zab: role ended")

type lEvent struct {
	kind    int
	sid     int64
	pc      *peerConn
	pkt     *wire.QuorumPacket
	info    wire.LearnerInfo
	obs     bool
	zxid    int64
	props   []*server.Proposal
	entries []zab.Entry
}

const (
	evConnect = iota
	evPacket
	evGone
	evDurable
	evPropose
	evLogFailed
	evSyncLocal
)

// leaderRun is the leader's shell: sockets, the txn log and the server
// around the Leader core, all driven from one loop.
type leaderRun struct {
	env   *Env
	core  *zab.Leader
	ev    chan lEvent
	done  chan struct{}
	peers map[int64]*peerConn
	tl    *txnlog.Log
	srv   *server.Server
	mine  map[int64]*server.Proposal // local proposals by zxid, until applied
	// localSyncs are the syncs of the leader's own clients, oldest first
	localSyncs []*server.Proposal
	applyC     chan []*server.Proposal
	appWG      sync.WaitGroup
	metMu      sync.Mutex
	met        zab.LeaderMetrics
	// servingSince is when the leader was established (leader_uptime)
	servingSince time.Time
	// observers are the synced observers' connections (AdminServer)
	observers []*peerConn
	start     time.Time
}

// RunLeader runs the leader role until it ends (lost quorum, timeout,
// ctx cancelled); the server it started is closed before it returns.
func RunLeader(ctx context.Context, env *Env) error {
	cfg := env.Cfg
	self, _ := cfg.Self()
	host := self.Host
	if cfg.QuorumListenOnAllIPs {
		host = ""
	}
	ln, err := tlsconf.QuorumListen(cfg, env.Log, "tcp", net.JoinHostPort(host, strconv.Itoa(self.QuorumPort)), "quorum")
	if err != nil {
		return fmt.Errorf("leader: listening on the quorum port: %w", err)
	}
	defer ln.Close()
	tl, err := env.openLog()
	if err != nil {
		return err
	}
	r := &leaderRun{env: env, ev: make(chan lEvent, 4096), done: make(chan struct{}), peers: map[int64]*peerConn{},
		tl: tl, mine: map[int64]*server.Proposal{}, start: time.Now()}
	env.InitConfigNode()
	var voters, observers []int64
	for _, q := range cfg.Voters() {
		voters = append(voters, q.ID)
	}
	for _, q := range cfg.Observers() {
		observers = append(observers, q.ID)
	}
	r.core = zab.NewLeader(zab.LeaderConfig{
		ID: cfg.MyID, Voters: voters, Observers: observers,
		AcceptedEpoch: env.Accepted, CurrentEpoch: env.Current, LastZxid: env.Tree.LastZxid,
		InitLimit: cfg.InitLimit, SyncLimit: cfg.SyncLimit, ConfigString: cfg.QuorumConfigString(),
		Committed: env.Committed, Disk: NewDiskLog(env.LogDir), SnapshotSizeFactor: 0.33,
		NewestSnapshotSize: env.snapshotSize,
	})
	env.Log.Info("leading", zap.Int64("sid", cfg.MyID), zap.String("zxid", hex(env.Tree.LastZxid)),
		zap.String("quorum_addr", ln.Addr().String()))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.acceptLoop(ln) }()
	metrics.Default().Leading(true)
	defer metrics.Default().Leading(false)
	err = r.loop(ctx)
	close(r.done)
	ln.Close()
	for _, p := range r.peers {
		p.close()
	}
	if r.srv != nil {
		r.srv.Close() // closes the commit path: waits for the apply goroutine
	}
	tl.Sync()
	tl.Close()
	wg.Wait()
	return err
}

func (r *leaderRun) post(e lEvent) bool {
	select {
	case r.ev <- e:
		return true
	case <-r.done:
		return false
	}
}

func (r *leaderRun) acceptLoop(ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go r.handshake(nc)
	}
}

// handshake reads the learner's FOLLOWERINFO or OBSERVERINFO, then reads
// its packets for the loop.
func (r *leaderRun) handshake(nc net.Conn) {
	env := r.env
	limit := time.Duration(env.Cfg.InitLimit) * env.tick()
	nc.SetReadDeadline(time.Now().Add(limit))
	br := bufio.NewReaderSize(nc, 64<<10)
	p, err := wire.ReadQuorumPacket(br, env.maxPacket())
	if err != nil || (p.Type != wire.PacketFollowerInfo && p.Type != wire.PacketObserverInfo) {
		env.Log.Info("closing quorum connection: no FOLLOWERINFO or OBSERVERINFO",
			zap.String("remote", nc.RemoteAddr().String()), zap.Error(err))
		nc.Close()
		return
	}
	li, fields, err := wire.ParseLearnerInfo(p.Data)
	if err == nil && fields >= 2 && li.ProtocolVersion < zab.ProtocolVersion {
		err = fmt.Errorf("protocol version 0x%x is older than 0x%x (pre-3.4 learners are not supported)", li.ProtocolVersion, zab.ProtocolVersion)
	}
	if err != nil {
		env.Log.Info("closing quorum connection: bad LearnerInfo", zap.String("remote", nc.RemoteAddr().String()), zap.Error(err))
		nc.Close()
		return
	}
	if li.ConfigVersion > 0 {
		env.Log.Info("closing quorum connection: learner has a newer config version", zap.Int64("sid", li.ServerID))
		nc.Close()
		return
	}
	pc := newPeerConn(li.ServerID, nc, env.Log)
	pc.snap = r.snapStream
	if !r.post(lEvent{kind: evConnect, sid: li.ServerID, pc: pc, obs: p.Type == wire.PacketObserverInfo, zxid: p.Zxid}) {
		pc.close()
		return
	}
	for {
		// a learner is silent at most syncLimit ticks once synced (it
		// answers every PING); the core drops it past its deadline
		nc.SetReadDeadline(time.Now().Add(limit + time.Duration(env.Cfg.SyncLimit)*env.tick()))
		p, err := wire.ReadQuorumPacket(br, env.maxPacket())
		if err != nil {
			r.post(lEvent{kind: evGone, sid: li.ServerID, pc: pc})
			pc.close()
			return
		}
		pc.received.Add(1)
		if p.Type == wire.PacketRequest {
			pc.reqs.Add(1)
		}
		if !r.post(lEvent{kind: evPacket, sid: li.ServerID, pc: pc, pkt: p}) {
			return
		}
	}
}

// snapStream writes the tree for a SNAP sync once it has applied zxid.
func (r *leaderRun) snapStream(w *bufio.Writer, zxid int64) error {
	srv := r.server()
	if srv == nil {
		return server.WriteTreeSnapStream(w, r.env.Tree)
	}
	// (a new epoch's zxid, counter 0, names no txn: nothing to wait for)
	for wire.ZxidCounter(zxid) != 0 && srv.LastZxid() < zxid {
		select {
		case <-r.done:
			return ErrRoleEnded
		case <-time.After(time.Millisecond):
		}
	}
	_, err := srv.WriteSnapStream(w)
	return err
}

func (r *leaderRun) server() *server.Server {
	r.metMu.Lock()
	defer r.metMu.Unlock()
	return r.srv
}

func (r *leaderRun) loop(ctx context.Context) error {
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
			case evConnect:
				if r.peers[e.sid] != nil {
					// the learner already connected keeps its place; the
					// newcomer is the offender (a stale one is dropped by
					// its deadline, then the learner's retry gets in)
					r.env.Log.Warn("closing quorum connection: duplicate sid", zap.Int64("sid", e.sid),
						zap.String("remote", e.pc.nc.RemoteAddr().String()))
					e.pc.close()
					continue
				}
				r.peers[e.sid] = e.pc
				r.env.Log.Info("learner connected", zap.Int64("sid", e.sid), zap.Bool("observer", e.obs),
					zap.Int64("accepted_epoch", wire.ZxidEpoch(e.zxid)))
				acts = r.core.Connect(e.sid, e.obs, wire.ZxidEpoch(e.zxid))
			case evPacket:
				if r.peers[e.sid] != e.pc {
					continue
				}
				if ce := r.env.Log.Check(zap.DebugLevel, "quorum packet in"); ce != nil {
					ce.Write(zap.Int64("sid", e.sid), zap.Stringer("packet", e.pkt))
				}
				if e.pkt.Type == wire.PacketAck {
					metrics.Default().Acked(e.sid, e.pkt.Zxid)
				}
				acts = r.core.Receive(e.sid, e.pkt)
			case evGone:
				if r.peers[e.sid] != e.pc {
					continue
				}
				delete(r.peers, e.sid)
				metrics.Default().LearnerGone(e.sid)
				r.env.Log.Info("learner disconnected", zap.Int64("sid", e.sid))
				acts = r.core.Gone(e.sid)
			case evDurable:
				acts = r.core.Durable(e.zxid)
			case evPropose:
				for _, p := range e.props {
					r.mine[p.Hdr.Zxid] = p
				}
				acts = r.core.Propose(e.entries)
			case evSyncLocal:
				r.localSyncs = append(r.localSyncs, e.props[0])
				acts = r.core.SyncLocal()
			case evLogFailed:
				return fmt.Errorf("%w: txn log write failed", ErrRoleEnded)
			}
		}
		if err := r.exec(acts); err != nil {
			return err
		}
		r.metMu.Lock()
		r.met = r.core.Metrics()
		r.observers = r.observers[:0]
		for _, sid := range r.core.SyncedObservers() {
			if p := r.peers[sid]; p != nil {
				r.observers = append(r.observers, p)
			}
		}
		r.metMu.Unlock()
	}
}

func (r *leaderRun) exec(acts []zab.Action) error {
	env := r.env
	for _, a := range acts {
		switch a := a.(type) {
		case zab.Send:
			if ce := env.Log.Check(zap.DebugLevel, "quorum packet out"); ce != nil {
				ce.Write(zap.Int64("sid", a.To), zap.Stringer("packet", &a.Pkt), zap.Bool("connected", r.peers[a.To] != nil))
			}
			if p := r.peers[a.To]; p != nil {
				p.push(a.Pkt)
			}
		case zab.SendSync:
			if p := r.peers[a.To]; p != nil {
				p.push(a)
			}
		case zab.Append:
			r.append(a.Entries)
			if n := len(a.Entries); n > 0 {
				metrics.Default().Proposed(a.Entries[0].Zxid, a.Entries[n-1].Zxid, n)
			}
		case zab.Apply:
			props := make([]*server.Proposal, 0, len(a.Entries))
			for _, e := range a.Entries {
				p := r.mine[e.Zxid]
				delete(r.mine, e.Zxid)
				if p == nil {
					var err error
					if p, err = server.CommittedProposal(e.Data); err != nil {
						return fmt.Errorf("%w: undecodable committed txn %s: %v", ErrRoleEnded, hex(e.Zxid), err)
					}
				}
				props = append(props, p)
			}
			if n := len(a.Entries); n > 0 {
				metrics.Default().Committed(a.Entries[n-1].Zxid, n)
			}
			server.MarkCommitted(props)
			r.applyC <- props
		case zab.ApplySyncDone:
			p := r.localSyncs[0]
			r.localSyncs = r.localSyncs[1:]
			r.applyC <- []*server.Proposal{p}
		case zab.PersistEpoch:
			if err := env.persistEpoch(a); err != nil {
				return err
			}
		case zab.Serve:
			r.serve(a.NextZxid)
		case zab.Submit:
			if srv := r.srv; srv != nil {
				srv.SubmitForwarded(server.Forwarded{From: a.From, Session: a.Req.Session, Cxid: a.Req.Cxid, Op: a.Req.Op, Body: a.Req.Body, Auth: a.Req.Auth})
			}
		case zab.Touch:
			if r.srv != nil {
				r.srv.TouchSessions(a.Sessions)
			}
		case zab.Revalidate:
			metrics.Default().Revalidated()
			valid := r.srv != nil && r.srv.RevalidateSession(a.From, a.Session, a.Timeout)
			e := wire.Encoder{}
			e.Long(a.Session)
			e.Bool(valid)
			if p := r.peers[a.From]; p != nil {
				p.push(wire.QuorumPacket{Type: wire.PacketRevalidate, Zxid: -1, Data: e.B})
			}
		case zab.Drop:
			env.Log.Info("dropping learner", zap.Int64("sid", a.Sid), zap.String("reason", a.Reason))
			if p := r.peers[a.Sid]; p != nil {
				p.close()
				delete(r.peers, a.Sid)
			}
			r.core.Gone(a.Sid)
		case zab.Stop:
			env.Log.Warn("leader stepping down", zap.String("reason", a.Reason))
			return fmt.Errorf("%w: %s", ErrRoleEnded, a.Reason)
		}
	}
	return nil
}

// append logs entries with group commit; the fsync comes back as an
// event, and the snapshot rule may start a snapshot.
func (r *leaderRun) append(entries []zab.Entry) {
	r.env.appendLog(r.tl, entries, r.server, func(last int64, err error) {
		if err != nil {
			r.post(lEvent{kind: evLogFailed})
			return
		}
		r.post(lEvent{kind: evDurable, zxid: last})
	})
}

func (r *leaderRun) serve(next int64) {
	env := r.env
	r.applyC = make(chan []*server.Proposal, 1024)
	srv := env.NewServer(env.Tree, &leaderCommit{r: r}, next, &leaderRole{r: r})
	if env.Cfg.LeaderServes {
		if err := srv.Listen(); err != nil {
			env.Log.Error("leader: client port", zap.Error(err))
		}
	} else {
		env.Log.Info("leaderServes=no: the leader takes no client connections")
	}
	r.metMu.Lock()
	r.srv = srv
	r.servingSince = time.Now()
	r.metMu.Unlock()
	go srv.Serve()
	if env.OnServing != nil {
		env.OnServing(r.core.Epoch())
	}
	env.Log.Info("leader established: serving clients", zap.Int64("epoch", r.core.Epoch()),
		zap.Duration("took", time.Since(r.start)))
}

// leaderCommit is the server's commit path on the leader.
type leaderCommit struct {
	r    *leaderRun
	once sync.Once
}

func (c *leaderCommit) Start(apply func([]*server.Proposal)) {
	c.r.appWG.Add(1)
	go func() {
		defer c.r.appWG.Done()
		for b := range c.r.applyC {
			apply(b)
		}
	}()
}

func (c *leaderCommit) Propose(batch []*server.Proposal) {
	entries := make([]zab.Entry, len(batch))
	for i, p := range batch {
		data := server.EncodeTxn(&p.Hdr, &p.Txn)
		if p.HasDigest {
			data = server.EncodeTxnDigest(&p.Hdr, &p.Txn, p.Digest)
		}
		entries[i] = zab.Entry{Zxid: p.Hdr.Zxid, Data: data}
	}
	c.r.post(lEvent{kind: evPropose, props: batch, entries: entries})
}

// SyncLocal orders a sync of the leader's own client behind the commits.
func (c *leaderCommit) SyncLocal(p *server.Proposal) {
	c.r.post(lEvent{kind: evSyncLocal, props: []*server.Proposal{p}})
}

// Close runs when the server closes, after the role's loop has ended.
func (c *leaderCommit) Close() {
	c.once.Do(func() {
		close(c.r.applyC)
		c.r.appWG.Wait()
	})
}

type leaderRole struct{ r *leaderRun }

func (l *leaderRole) Mode() string { return "leader" }

// Observers lists the synced observers as ZooKeeper's LearnerHandler info
// (the AdminServer's observers command).
func (l *leaderRole) Observers() [][]server.KV {
	l.r.metMu.Lock()
	obs := append([]*peerConn(nil), l.r.observers...)
	l.r.metMu.Unlock()
	out := make([][]server.KV, 0, len(obs))
	for _, p := range obs {
		out = append(out, []server.KV{
			{Key: "remote_socket_address", Value: "/" + p.nc.RemoteAddr().String()},
			{Key: "sid", Value: p.sid},
			{Key: "established", Value: p.established.UnixMilli()},
			{Key: "queued_packets", Value: p.queued.Load()},
			{Key: "queued_packets_size", Value: p.queuedSize.Load()},
			{Key: "packets_received", Value: p.received.Load()},
			{Key: "packets_sent", Value: p.sent.Load()},
			{Key: "requests", Value: p.reqs.Load()},
			{Key: "last_zxid", Value: p.lastZxid.Load()},
		})
	}
	return out
}

func (l *leaderRole) Metrics() [][2]string {
	l.r.metMu.Lock()
	m := l.r.met
	up := time.Since(l.r.servingSince).Milliseconds()
	l.r.metMu.Unlock()
	i := strconv.Itoa
	// ZooKeeper 3.8's quorum gauges (zk_followers is 3.4's name, kept for
	// the scripts that still read it)
	return [][2]string{
		{"peer_state", "leading - broadcast"},
		{"quorum_size", i(m.Voters)},
		{"learners", i(m.Learners)},
		{"followers", i(m.Followers)},
		{"synced_followers", i(m.SyncedFollowers)},
		{"synced_non_voting_followers", "0"},
		{"synced_observers", i(m.SyncedObservers)},
		{"pending_syncs", i(m.PendingSyncs)},
		{"leader_uptime", strconv.FormatInt(up, 10)},
		{"last_proposal_size", i(m.LastProposalSize)},
		{"max_proposal_size", i(m.MaxProposalSize)},
		{"min_proposal_size", i(m.MinProposalSize)},
	}
}

var _ = config.Participant
