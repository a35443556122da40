// Package server serves the ZooKeeper client protocol: connections, prep,
// apply, watches, four-letter words and the standalone commit path. It does
// not know ZAB roles: the commit path is a seam (CommitPath).
package server

import (
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/metrics"
	"github.com/zkserver/zkserver/session"
	"github.com/zkserver/zkserver/wire"
)

// Version is the server version reported by four-letter words.
var Version = "3.8.0-zkserver-0.1"

// Options configure a Server.
type Options struct {
	Config *config.Config
	Logger *zap.Logger
	// Commit is the commit path; nil means in memory only.
	Commit CommitPath
	// Tree is the tree to serve (recovered from disk); nil means a new one.
	Tree *datatree.Tree
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ServerID is the id in the top byte of session ids (1 standalone).
	ServerID int64
	// NextZxid is the zxid of the first txn prepped here (0: the one after
	// the tree's last); a new leader starts at counter 1 of its epoch.
	NextZxid int64
	// Role is the server's place in an ensemble (nil: standalone).
	Role Role
	// SnapDir and LogDir enable snapshots and purging for a server whose
	// commit path logs (an ensemble member); OpenDurable sets its own.
	SnapDir, LogDir string
}

// Server is a standalone zkserver.
type Server struct {
	cfg    *config.Config
	log    *zap.Logger
	now    func() time.Time
	commit CommitPath
	// learner is commit when it is a follower's or observer's: writes are
	// forwarded and sessions expire on the leader
	learner Learner
	syncer  LocalSyncer // a leader's commit path
	role    Role

	fwdMu   sync.Mutex
	fwd     map[fwdKey]*request // forwarded, waiting for their txn
	syncs   []*request          // forwarded syncs, oldest first
	touched map[int64]int32     // learner: sessions touched since the last PING
	owners  map[int64]int64     // session -> the server its client uses (leader)
	id      int64               // this server's id

	treeMu   sync.RWMutex
	tree     *datatree.Tree
	lastZxid atomic.Int64 // last applied

	watches *watchManager

	mu       sync.Mutex
	tracker  *session.Tracker
	sessions map[int64]*conn // session -> its current connection
	conns    map[*conn]struct{}
	perIP    map[string]int

	prepCh      chan *request
	outstanding chan struct{}
	prep        *preparer

	snapDir     string
	logDir      string
	snapping    atomic.Bool
	snapOnStart bool
	// snapNotBefore is written by the snapshot goroutine and read by the
	// next TakeSnapshot, ordered through snapping
	snapNotBefore time.Time
	snapWG        sync.WaitGroup

	ln      net.Listener
	tls     serverTLS // client TLS (tls.go)
	closing chan struct{}
	wg      sync.WaitGroup
	stopped atomic.Bool
	started time.Time
	stats   stats

	// startedMs is started (ms) for readers outside the serving
	// goroutines (the AdminServer); 0 until Serve runs
	startedMs atomic.Int64
	// detachGauges withdraws this server as the gauge source; Close calls
	// it so the gauges are gone when Close returns, not when Serve does
	detachGauges atomic.Pointer[func()]
}

type stats struct {
	received, sent   atomic.Int64
	latMin, latMax   atomic.Int64
	latSum, latCount atomic.Int64
	digestMismatches atomic.Int64
	authFailed       atomic.Int64 // auth packets and SASL logins refused (auth_failed_count)
}

func (s *stats) reset() {
	s.received.Store(0)
	s.sent.Store(0)
	s.latMin.Store(0)
	s.latMax.Store(0)
	s.latSum.Store(0)
	s.latCount.Store(0)
}

func (s *stats) latency(ms int64) {
	s.latSum.Add(ms)
	if s.latCount.Add(1) == 1 || ms < s.latMin.Load() {
		s.latMin.Store(ms)
	}
	if ms > s.latMax.Load() {
		s.latMax.Store(ms)
	}
}

// New builds a server; Serve starts it.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Commit == nil {
		o.Commit = NewMemoryCommit()
	}
	if o.Tree == nil {
		o.Tree = datatree.New()
	}
	if o.ServerID == 0 {
		o.ServerID = 1
	}
	s := &Server{
		cfg: o.Config, log: o.Logger, now: o.Now, commit: o.Commit, tree: o.Tree,
		watches:  newWatchManager(),
		sessions: map[int64]*conn{}, conns: map[*conn]struct{}{}, perIP: map[string]int{},
		prepCh:      make(chan *request, 4096),
		outstanding: make(chan struct{}, max(o.Config.GlobalOutstandingLimit, 1)),
		closing:     make(chan struct{}),
		role:        o.Role,
		fwd:         map[fwdKey]*request{},
		touched:     map[int64]int32{},
		owners:      map[int64]int64{},
		id:          o.ServerID,
	}
	s.learner, _ = o.Commit.(Learner)
	s.syncer, _ = o.Commit.(LocalSyncer)
	s.snapDir, s.logDir = o.SnapDir, o.LogDir
	s.tracker = session.NewTracker(int64(o.Config.TickTime), o.ServerID, s.nowMs())
	s.lastZxid.Store(o.Tree.LastZxid)
	// sessions recovered from disk get a fresh timeout from now
	for id, to := range o.Tree.Sessions() {
		s.tracker.Add(id, to, s.nowMs())
	}
	s.prep = newPreparer(s, o.Tree)
	if o.NextZxid != 0 {
		s.prep.nextZxid = o.NextZxid
	}
	return s
}

func (s *Server) nowMs() int64 { return s.now().UnixMilli() }

// Listen binds the client port.
func (s *Server) Listen() error {
	if !s.plainPortWanted() {
		return s.listenTLS() // secureClientPort only
	}
	addr := net.JoinHostPort(s.cfg.ClientPortAddress, strconv.Itoa(s.cfg.ClientPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	return s.listenTLS()
}

// Addr is the bound client address.
// Addr is the bound client address: the plain port's, else the secure
// port's when only secureClientPort is configured; nil when neither.
func (s *Server) Addr() net.Addr {
	if s.ln != nil {
		return s.ln.Addr()
	}
	return s.SecureAddr()
}

// Serve runs the server until Close. Listen must have been called.
func (s *Server) Serve() error {
	s.started = s.now()
	s.startedMs.Store(s.started.UnixMilli())
	detach := metrics.Default().Attach(s) // ZooKeeper's gauges while serving
	s.detachGauges.Store(&detach)
	defer detach()
	s.commit.Start(s.applyBatch)
	if s.snapOnStart {
		s.takeSnapshot(true)
	}
	s.wg.Add(3)
	go s.trimLoop()
	go s.purgeLoop()
	go s.prepLoop()
	if ps := s.pebbleStore(); ps != nil {
		s.wg.Add(1)
		go s.pebbleFlushLoop(ps)
	}
	if s.learner == nil {
		// the leader (or a standalone server) expires sessions and reaps
		s.wg.Add(2)
		go s.expiryLoop()
		go s.reaperLoop()
	}
	s.serveTLS()
	if s.ln == nil {
		// no client port (a leader with leaderServes=no): the pipeline
		// still runs for the requests learners forward
		s.log.Info("running without a client port", zap.Int64("zxid", s.lastZxid.Load()))
		<-s.closing
		return nil
	}
	s.log.Info("serving", zap.String("addr", s.ln.Addr().String()), zap.Int64("zxid", s.lastZxid.Load()))
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.stopped.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.accept(nc)
	}
}

// Close stops accepting, closes every connection and stops the pipeline.
func (s *Server) Close() {
	if !s.stopped.CompareAndSwap(false, true) {
		return
	}
	close(s.closing)
	if d := s.detachGauges.Load(); d != nil {
		(*d)()
	}
	if s.ln != nil {
		s.ln.Close()
	}
	s.closeTLS()
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	s.commit.Close()
	s.failForwarded()
	s.snapWG.Wait()
}

func (s *Server) accept(nc net.Conn) {
	ip := ""
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		ip = ta.IP.String()
	}
	s.mu.Lock()
	if s.cfg.MaxClientCnxns > 0 && s.perIP[ip] >= s.cfg.MaxClientCnxns {
		s.mu.Unlock()
		metrics.Default().Connection(true)
		s.log.Warn("too many connections from one address", zap.String("ip", ip), zap.Int("max", s.cfg.MaxClientCnxns))
		nc.Close()
		return
	}
	s.perIP[ip]++
	c := newConn(s, nc, ip)
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	metrics.Default().Connection(false)
	go c.serve()
}

// submit queues a write (or session) request for prep.
func (s *Server) submit(r *request) {
	select {
	case s.prepCh <- r:
	case <-s.closing:
		r.finish(nil)
	}
}

func (s *Server) prepLoop() {
	defer s.wg.Done()
	var batch []*Proposal
	for {
		var r *request
		select {
		case r = <-s.prepCh:
		case <-s.closing:
			return
		}
		if s.learner != nil {
			s.forward(r)
			continue
		}
		batch = batch[:0:0]
		for more := true; more; {
			if r.op == wire.OpSync {
				// a leader's local sync: ordered behind every txn before it
				if len(batch) > 0 {
					s.commit.Propose(batch)
					batch = batch[:0:0]
				}
				s.syncer.SyncLocal(&Proposal{SyncDone: true, req: r})
			} else {
				if m := metrics.Default(); m != nil && !r.start.IsZero() {
					m.PrepQueued(s.now().Sub(r.start))
				}
				batch = append(batch, s.prep.prep(r))
			}
			if len(batch) >= 1000 {
				break
			}
			select {
			case r = <-s.prepCh:
			default:
				more = false
			}
		}
		if len(batch) > 0 {
			s.commit.Propose(batch)
		}
		s.prep.cleanup()
	}
}

// applyBatch applies committed txns in zxid order, fires watches and
// completes the requests.
func (s *Server) applyBatch(batch []*Proposal) {
	if m := metrics.Default(); m != nil {
		observeApplied(m, batch, time.Now())
	}
	s.treeMu.Lock()
	for _, p := range batch {
		if p.SyncDone {
			if p.req == nil {
				p.req = s.syncDone() // a learner's: the oldest forwarded
			} else {
				s.syncReply(p.req)
			}
			continue
		}
		if p.req == nil && s.learner != nil {
			s.claim(p)
		}
		res := s.tree.Apply(&p.Hdr, &p.Txn)
		s.lastZxid.Store(p.Hdr.Zxid)
		if p.HasDigest && p.Digest != s.tree.Digest() {
			s.digestMismatch(p.Hdr.Zxid, p.Digest, s.tree.Digest())
		}
		s.watches.trigger(res.Events)
		s.afterApply(p, &res)
		if p.req != nil {
			p.req.result(p, &res)
		}
	}
	s.treeMu.Unlock()
	for _, p := range batch {
		if p.req != nil {
			p.req.finish(p)
		}
	}
}

// digestMismatch reports a tree that differs from what prep predicted (a
// bug, never expected): logged and counted, as ZooKeeper does.
func (s *Server) digestMismatch(zxid int64, want, got uint64) {
	if s.stats.digestMismatches.Add(1) <= 10 {
		s.log.Error("tree digest mismatch after apply", zap.String("zxid", hex(zxid)),
			zap.String("predicted", hex(int64(want))), zap.String("tree", hex(int64(got))))
	}
}

// afterApply updates the session table for session txns.
func (s *Server) afterApply(p *Proposal, res *datatree.Result) {
	switch p.Txn.Type {
	case wire.OpCreateSession:
		s.mu.Lock()
		s.tracker.Add(p.Hdr.ClientID, p.Txn.TimeOut, s.nowMs())
		s.mu.Unlock()
	case wire.OpCloseSession:
		s.mu.Lock()
		s.tracker.Remove(p.Hdr.ClientID)
		delete(s.owners, p.Hdr.ClientID)
		c := s.sessions[p.Hdr.ClientID]
		delete(s.sessions, p.Hdr.ClientID)
		s.mu.Unlock()
		if c != nil && (p.req == nil || p.req.c != c) {
			// expired, or closed from elsewhere: drop the connection
			go c.close()
		}
	}
}

// touch records activity of a session; false if it is gone or closing.
func (s *Server) touch(id int64) bool {
	s.mu.Lock()
	ok := s.tracker.Touch(id, s.nowMs())
	if ok && s.learner != nil {
		if sess, found := s.tracker.Get(id); found {
			s.touched[id] = sess.Timeout
		}
	}
	s.mu.Unlock()
	return ok
}

// expiryLoop wakes on every tick boundary and closes expired sessions.
func (s *Server) expiryLoop() {
	defer s.wg.Done()
	tick := int64(s.cfg.TickTime)
	for {
		now := s.nowMs()
		next := (now/tick + 1) * tick
		t := time.NewTimer(time.Duration(next-now) * time.Millisecond)
		select {
		case <-s.closing:
			t.Stop()
			return
		case <-t.C:
		}
		s.mu.Lock()
		expired := s.tracker.Expired(s.nowMs())
		s.mu.Unlock()
		for _, id := range expired {
			s.log.Info("session expired", zap.String("session", hex(id)))
			metrics.Default().SessionExpired()
			s.submit(&request{session: id, op: wire.OpCloseSession})
		}
	}
}

// reaperLoop deletes empty containers and expired TTL nodes, as
// ZooKeeper's ContainerManager does.
func (s *Server) reaperLoop() {
	defer s.wg.Done()
	interval := time.Duration(s.cfg.ContainerCheckIntervalMs) * time.Millisecond
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-t.C:
		}
		paths := s.reapable()
		limit := s.cfg.ContainerMaxPerMinute
		for i, p := range paths {
			if i >= limit {
				break
			}
			s.submit(&request{op: wire.OpDeleteContainer, internalPath: p})
		}
	}
}

func (s *Server) reapable() []string {
	now := s.nowMs()
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	var out []string
	for _, p := range s.tree.Containers() {
		n := s.tree.Get(p)
		if n == nil || n.NumChildren() > 0 {
			continue
		}
		never := s.cfg.ContainerMaxNeverUsedIntervalMs
		if n.Cversion > 0 || (never > 0 && now-n.Mtime > never) {
			out = append(out, p)
		}
	}
	for _, p := range s.tree.TTLNodes() {
		n := s.tree.Get(p)
		if n == nil || n.NumChildren() > 0 {
			continue
		}
		if now-n.Mtime > datatree.TTLOf(n.EphemeralOwner) {
			out = append(out, p)
		}
	}
	return out
}

func hex(v int64) string { return "0x" + strconv.FormatUint(uint64(v), 16) }
