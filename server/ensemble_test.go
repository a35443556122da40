package server

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/wire"
)

// A mini ensemble without ZAB: the leader's commit path applies each batch
// at once and hands the logged bytes to every learner, in order; learners
// forward to the leader's SubmitForwarded. It exercises the server's side
// of the seam (forwarding, matching committed txns to waiting requests,
// sync, session owners) on its own.

type miniLeaderPath struct {
	ch       chan []*Proposal
	done     chan struct{}
	mu       sync.Mutex
	learners []*miniLearner
}

func (m *miniLeaderPath) Start(apply func([]*Proposal)) {
	go func() {
		defer close(m.done)
		for b := range m.ch {
			apply(b)
		}
	}()
}

func (m *miniLeaderPath) Propose(batch []*Proposal) {
	m.mu.Lock()
	for _, l := range m.learners {
		out := make([]*Proposal, len(batch))
		for i, p := range batch {
			cp, err := CommittedProposal(EncodeTxnDigest(&p.Hdr, &p.Txn, p.Digest))
			if err != nil {
				panic(err)
			}
			out[i] = cp
		}
		l.q <- out
	}
	m.mu.Unlock()
	m.ch <- batch
}

func (m *miniLeaderPath) Close() { close(m.ch); <-m.done }

// sync answers a learner's sync after everything proposed so far: the
// SyncDone goes into the learner's queue behind the commits already there.
func (m *miniLeaderPath) sync(l *miniLearner) {
	m.mu.Lock()
	l.q <- []*Proposal{SyncDoneProposal()}
	m.mu.Unlock()
}

type miniLearner struct {
	paused atomic.Bool // hold the commits (a learner lagging behind)
	sid    int64
	leader *Server
	path   *miniLeaderPath
	q      chan []*Proposal
	done   chan struct{}
}

func (l *miniLearner) Start(apply func([]*Proposal)) {
	go func() {
		defer close(l.done)
		for b := range l.q {
			for l.paused.Load() {
				time.Sleep(time.Millisecond)
			}
			apply(b)
		}
	}()
}
func (l *miniLearner) Propose([]*Proposal) {}
func (l *miniLearner) Close()              {}
func (l *miniLearner) Forward(f Forwarded) {
	f.From = l.sid
	if f.Op == wire.OpSync {
		l.path.sync(l)
		return
	}
	l.leader.SubmitForwarded(f)
}
func (l *miniLearner) Revalidate(session int64, timeout int32) bool {
	return l.leader.RevalidateSession(l.sid, session, timeout)
}

func startMini(t *testing.T, cfg *config.Config, opts Options) *Server {
	t.Helper()
	opts.Config = cfg
	s := New(opts)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); s.Serve() }()
	t.Cleanup(func() { s.Close(); <-served })
	return s
}

// miniEnsemble starts a leader (id 1) and n learners (ids 2..n+1).
func miniEnsemble(t *testing.T, n int) (*Server, []*Server) {
	leader, ls, _ := miniEnsembleL(t, n)
	return leader, ls
}

func miniEnsembleL(t *testing.T, n int) (*Server, []*Server, []*miniLearner) {
	t.Helper()
	cfg := config.Default()
	cfg.TickTime = 2000
	cfg.DataDir = t.TempDir()
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	cfg.ClientPortAddress, cfg.ClientPort = "127.0.0.1", 0
	path := &miniLeaderPath{ch: make(chan []*Proposal, 64), done: make(chan struct{})}
	leader := startMini(t, cfg, Options{Commit: path, ServerID: 1})
	var learners []*Server
	var paths []*miniLearner
	for i := 0; i < n; i++ {
		l := &miniLearner{sid: int64(i + 2), leader: leader, path: path, q: make(chan []*Proposal, 64), done: make(chan struct{})}
		path.mu.Lock()
		path.learners = append(path.learners, l)
		path.mu.Unlock()
		learners = append(learners, startMini(t, cfg, Options{Commit: l, ServerID: l.sid}))
		paths = append(paths, l)
	}
	return leader, learners, paths
}

func TestLearnerForwardsWritesAndAnswersOnCommit(t *testing.T) {
	leader, ls := miniEnsemble(t, 2)
	c := connect(t, ls[0])
	if c.sid>>56 != 2 {
		t.Fatalf("session id %x does not carry the learner's id 2 in its top byte", c.sid)
	}
	p, h := c.create("/a", []byte("x"), 0)
	if h.Err != wire.ErrOK || p != "/a" {
		t.Fatalf("create through learner: %q %v", p, h.Err)
	}
	// an error txn comes back as the client's error
	if _, h := c.create("/a", nil, 0); h.Err != wire.ErrNodeExists {
		t.Fatalf("second create: %v, want NODEEXISTS", h.Err)
	}
	e, h := c.create("/e", nil, wire.FlagEphemeral)
	if h.Err != wire.ErrOK {
		t.Fatalf("ephemeral: %v", h.Err)
	}
	// the other learner sees it after a sync
	c2 := connect(t, ls[1])
	var sr wire.PathRequest
	if h := c2.call(wire.OpSync, &wire.PathRequest{Path: "/"}, &sr); h.Err != wire.ErrOK || sr.Path != "/" {
		t.Fatalf("sync: %v %q", h.Err, sr.Path)
	}
	if d, h := c2.getData("/a"); h.Err != wire.ErrOK || string(d.Data) != "x" {
		t.Fatalf("read on the other learner after sync: %q %v", d.Data, h.Err)
	}
	// the leader has it, and the session, whose owner is learner 2
	var owner int64
	for deadline := time.Now().Add(ioWait); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		leader.treeMu.RLock()
		if n := leader.tree.Get(e); n != nil {
			owner = n.EphemeralOwner
		}
		leader.treeMu.RUnlock()
		if owner != 0 {
			break
		}
	}
	if owner != c.sid {
		t.Fatalf("ephemeral %s not on the leader with owner %x", e, c.sid)
	}
	// closing the session on the learner removes its ephemeral everywhere
	c.call(wire.OpCloseSession, nil, nil)
	c2.call(wire.OpSync, &wire.PathRequest{Path: "/"}, &sr)
	if _, h := c2.getData(e); h.Err != wire.ErrNoNode {
		t.Fatalf("ephemeral after close: %v, want NONODE", h.Err)
	}
}

func TestSessionMovedBetweenLearners(t *testing.T) {
	_, ls := miniEnsemble(t, 2)
	a := connect(t, ls[0])
	if _, h := a.create("/m", nil, 0); h.Err != wire.ErrOK {
		t.Fatal(h.Err)
	}
	// learner 3 applies the session before the client moves there
	c2 := connect(t, ls[1])
	c2.call(wire.OpSync, &wire.PathRequest{Path: "/"}, &wire.PathRequest{})
	// the same session resumed on learner 3: revalidated, owner moves
	b := dialRaw(t, ls[1])
	resp, err := b.handshake(wire.ConnectRequest{TimeOut: 10000, SessionID: a.sid, Passwd: a.passwd})
	if err != nil || resp.SessionID != a.sid {
		t.Fatalf("resume on learner 3: %v %+v", err, resp)
	}
	b.sid, b.passwd = resp.SessionID, resp.Passwd
	if _, h := b.create("/n", nil, 0); h.Err != wire.ErrOK {
		t.Fatalf("write after the move: %v", h.Err)
	}
	// the old connection on learner 2 is now refused by the leader
	if _, h := a.create("/o", nil, 0); h.Err != wire.ErrSessionMoved {
		t.Fatalf("write through the old server: %v, want SESSIONMOVED", h.Err)
	}
	// a wrong password is refused without asking the leader
	bad := dialRaw(t, ls[1])
	resp, err = bad.handshake(wire.ConnectRequest{TimeOut: 10000, SessionID: a.sid, Passwd: make([]byte, 16)})
	if err != nil || resp.SessionID != 0 && resp.TimeOut != 0 {
		t.Fatalf("bad password: %v %+v", err, resp)
	}
}

func TestLearnerReportsTouchedSessions(t *testing.T) {
	_, ls := miniEnsemble(t, 1)
	c := connect(t, ls[0])
	ls[0].TakeTouched() // the handshake's touches
	c.call(wire.OpExists, &wire.PathWatchRequest{Path: "/"}, nil)
	got := ls[0].TakeTouched()
	if to, ok := got[c.sid]; !ok || to != 10000 {
		t.Fatalf("touched = %v, want session %x with timeout 10000", got, c.sid)
	}
	if again := ls[0].TakeTouched(); len(again) != 0 {
		t.Fatalf("second take = %v, want empty", again)
	}
}

func TestResumeOnLearnerThatHasNotAppliedTheSession(t *testing.T) {
	_, ls, paths := miniEnsembleL(t, 2)
	paths[1].paused.Store(true)
	a := connect(t, ls[0])
	// learner 3 has not applied the createSession: the leader vouches
	b := dialRaw(t, ls[1])
	resp, err := b.handshake(wire.ConnectRequest{TimeOut: 10000, SessionID: a.sid, Passwd: a.passwd})
	paths[1].paused.Store(false)
	if err != nil || resp.SessionID != a.sid || resp.TimeOut == 0 {
		t.Fatalf("resume on a lagging learner: %v %+v", err, resp)
	}
	b.sid = resp.SessionID
	if _, h := b.create("/r", nil, 0); h.Err != wire.ErrOK {
		t.Fatalf("write after resuming: %v", h.Err)
	}
}
