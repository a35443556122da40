package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/metrics"
	"github.com/zkserver/zkserver/sasl"
	"github.com/zkserver/zkserver/session"
	"github.com/zkserver/zkserver/wire"
)

// sessionlessTimeout closes connections that never complete a handshake
// (zookeeper.nio.sessionlessCnxnTimeout).
const sessionlessTimeout = 10 * time.Second

// request is one client request (or an internal one when c is nil).
type request struct {
	c            *conn
	session      int64
	xid          int32
	op           wire.Op
	body         []byte      // reads: the request body
	rec          wire.Record // writes: the decoded body
	bad          bool        // writes: the body did not decode
	write        bool
	read         bool      // executed by the replier (counts in pendingReads)
	timeout      int32     // createSession
	internalPath string    // deleteContainer
	raw          []byte    // a learner's writes: the body as received, for the leader
	remoteAuth   []wire.Id // forwarded by a learner: the client's auth ids
	owner        int64     // the server the client is connected to (this one: its id)
	start        time.Time

	ready atomic.Bool // a write was applied and reply is set
	reply []byte      // the encoded reply frame
	close bool        // close the connection after the reply
	done  chan struct{}
	zxid  int64
}

// authIDs are the auth ids the request is checked with.
func (r *request) authIDs() []wire.Id {
	if r.c != nil {
		return r.c.authIDs()
	}
	return r.remoteAuth
}

// result builds the reply of a write once it is applied (tree locked).
func (r *request) result(p *Proposal, res *datatree.Result) {
	r.zxid = p.Hdr.Zxid
	if r.c == nil || r.op == wire.OpCreateSession {
		return
	}
	hdr := wire.ReplyHeader{Xid: r.xid, Zxid: p.Hdr.Zxid, Err: res.Err}
	var body wire.Record
	if p.Hdr.Type == wire.OpError {
		hdr.Err = p.Txn.Err
	} else {
		switch r.op {
		case wire.OpCreate:
			body = &wire.PathRequest{Path: res.Path}
		case wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
			body = &wire.Create2Response{Path: res.Path, Stat: res.Stat}
		case wire.OpSetData, wire.OpSetACL:
			body = &wire.StatResponse{Stat: res.Stat}
		case wire.OpMulti:
			hdr.Err = wire.ErrOK
			body = &wire.MultiResponse{Results: res.Multi}
		case wire.OpCloseSession:
			r.close = true
		}
		if hdr.Err != wire.ErrOK {
			body = nil
		}
	}
	r.reply = frame(&hdr, body)
}

// finish marks a write answered: the handshake waits on done; a
// connection's replier is woken when its queue head may be ready.
func (r *request) finish(*Proposal) {
	if r.done != nil {
		close(r.done)
		return
	}
	if r.c != nil {
		r.ready.Store(true)
		r.c.signal()
	}
}

// frame encodes a length-prefixed reply.
func frame(hdr wire.Record, body wire.Record) []byte {
	e := wire.Encoder{B: make([]byte, 4, 64)}
	hdr.Encode(&e)
	if body != nil {
		body.Encode(&e)
	}
	binary.BigEndian.PutUint32(e.B, uint32(len(e.B)-4))
	return e.B
}

// conn is one client connection: a reader, an in-order replier and a
// writer goroutine.
type conn struct {
	s        *Server
	nc       net.Conn
	remote   string
	ip       string
	sid      atomic.Int64
	timeout  int32
	created  time.Time
	readOnly bool        // client sent the readOnly byte
	secure   atomic.Bool // accepted on secureClientPort

	authMu sync.Mutex
	auth   []wire.Id
	// saslSrv is the connection's SASL exchange (sasl.go); reader only
	saslSrv *sasl.Server

	// queue holds the requests in arrival order until answered; the
	// replier is woken (wake) when its head may be ready or output waits
	qMu        sync.Mutex
	queue      []*request
	readerDone bool
	// reads queued but not yet executed; a later write of the session waits
	// for them so a read never sees a write sent after it
	pendingReads atomic.Int64
	readSignal   chan struct{}

	outMu     sync.Mutex
	out       []byte
	spare     []byte
	finishing bool
	wake      chan struct{}

	closed    chan struct{}
	closeOnce sync.Once

	received, sent atomic.Int64
	lastOp         atomic.Int32
	lastCxid       atomic.Int32
	lastZxid       atomic.Int64
	lastResp       atomic.Int64
	lastLat        atomic.Int64
	latMin, latMax atomic.Int64
	latSum, latCnt atomic.Int64
}

func newConn(s *Server, nc net.Conn, ip string) *conn {
	c := &conn{
		s: s, nc: nc, ip: ip, created: s.now(),
		wake:       make(chan struct{}, 1),
		readSignal: make(chan struct{}, 1),
		closed:     make(chan struct{}),
	}
	c.remote = nc.RemoteAddr().String()
	c.auth = []wire.Id{{Scheme: "ip", ID: ip}}
	c.lastOp.Store(-999)
	return c
}

func (c *conn) session() int64 { return c.sid.Load() }

func (c *conn) authIDs() []wire.Id {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	out := make([]wire.Id, len(c.auth))
	copy(out, c.auth)
	return out
}

func (c *conn) addAuth(id wire.Id) {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	for _, a := range c.auth {
		if a == id {
			return
		}
	}
	// user ids first, the ip id last, as ZooKeeper lists them
	c.auth = append([]wire.Id{id}, c.auth...)
}

// send queues bytes for the writer.
func (c *conn) send(b []byte) {
	c.outMu.Lock()
	c.out = append(c.out, b...)
	c.outMu.Unlock()
	c.sent.Add(1)
	c.s.stats.sent.Add(1)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// notify queues a watch event (ZooKeeper 3.8 sends zxid -1).
func (c *conn) notify(typ int32, path string) {
	select {
	case <-c.closed:
		return
	default:
	}
	c.send(frame(&wire.ReplyHeader{Xid: wire.XidNotification, Zxid: -1}, &wire.WatcherEvent{Type: typ, State: wire.StateSyncConnected, Path: path}))
}

// finish closes the connection once everything queued is written.
func (c *conn) finish() {
	c.outMu.Lock()
	c.finishing = true
	c.outMu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// queue1 appends a reply for the replier's next flush (no wake-up: only
// the replier calls it).
func (c *conn) queue1(b []byte) {
	c.outMu.Lock()
	c.out = append(c.out, b...)
	c.outMu.Unlock()
	c.sent.Add(1)
	c.s.stats.sent.Add(1)
}

// flush writes everything queued. It returns false once the connection is
// closed (a write failed, or finish was asked and all is written).
func (c *conn) flush() bool {
	for {
		c.outMu.Lock()
		buf := c.out
		if len(buf) > 0 {
			c.out, c.spare = c.spare[:0], nil
		}
		fin := c.finishing
		c.outMu.Unlock()
		if len(buf) == 0 {
			if fin {
				c.close()
				return false
			}
			return true
		}
		if _, err := c.nc.Write(buf); err != nil {
			c.close()
			return false
		}
		if cap(buf) <= 1<<20 {
			c.spare = buf
		} else {
			c.spare = nil
		}
		if !fin {
			return true
		}
	}
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.nc.Close()
		s := c.s
		s.mu.Lock()
		delete(s.conns, c)
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
		if id := c.session(); id != 0 && s.sessions[id] == c {
			delete(s.sessions, id)
		}
		s.mu.Unlock()
		s.watches.removeConn(c)
	})
}

func (c *conn) serve() {
	nc := c.nc
	br := bufio.NewReaderSize(nc, 64<<10)
	nc.SetReadDeadline(c.s.now().Add(sessionlessTimeout))
	if !c.startTLS() {
		c.close()
		return
	}
	if head, err := br.Peek(4); err == nil {
		if word := string(head); isFourLetterWord(word) {
			c.fourLetterWord(word, br)
			c.close()
			return
		}
	}
	if !c.handshake(br) {
		c.close()
		return
	}
	nc.SetReadDeadline(time.Time{})
	go c.replyLoop()
	c.readLoop(br)
}

func (c *conn) maxFrame() int { return c.s.cfg.JuteMaxBuffer }

// handshake reads the ConnectRequest and opens or resumes the session.
func (c *conn) handshake(br *bufio.Reader) bool {
	s := c.s
	body, err := wire.ReadFrame(br, c.maxFrame(), nil)
	if err != nil {
		return false
	}
	var req wire.ConnectRequest
	if err := wire.Unmarshal(body, &req); err != nil {
		s.log.Debug("bad connect request", zap.String("remote", c.remote), zap.Error(err))
		return false
	}
	c.readOnly = req.HasReadOnly
	if req.LastZxidSeen > s.lastZxid.Load() {
		s.log.Info("client has seen a newer zxid; refusing", zap.String("remote", c.remote),
			zap.String("client_zxid", hex(req.LastZxidSeen)), zap.String("our_zxid", hex(s.lastZxid.Load())))
		return false
	}
	timeout := session.NegotiateTimeout(req.TimeOut, int32(s.cfg.MinSessionTimeout), int32(s.cfg.MaxSessionTimeout))
	c.timeout = timeout
	resp := wire.ConnectResponse{HasReadOnly: req.HasReadOnly}
	if req.SessionID == 0 {
		s.mu.Lock()
		id := s.tracker.NextID()
		s.mu.Unlock()
		r := &request{c: c, session: id, op: wire.OpCreateSession, timeout: timeout, write: true, done: make(chan struct{}), owner: s.id}
		s.submit(r)
		<-r.done
		if r.zxid == 0 {
			return false
		}
		c.bind(id)
		resp.TimeOut, resp.SessionID, resp.Passwd = timeout, id, session.Password(id)
	} else {
		metrics.Default().SessionResumed()
		id := req.SessionID
		s.mu.Lock()
		old := s.sessions[id]
		sess, ok := s.tracker.Get(id)
		s.mu.Unlock()
		if old != nil && old != c {
			old.close()
		}
		if s.learner != nil && bytes.Equal(req.Passwd, session.Password(id)) {
			// the leader owns sessions: it says whether this one lives,
			// even if this learner has not applied its creation yet
			ok, sess.Closing = s.learner.Revalidate(id, timeout), false
		}
		if !ok || sess.Closing || !bytes.Equal(req.Passwd, session.Password(id)) {
			resp.Passwd = make([]byte, 16)
			c.write(frameNoHeader(&resp))
			return false
		}
		s.mu.Lock()
		s.tracker.Add(id, timeout, s.nowMs())
		s.owners[id] = s.id
		s.mu.Unlock()
		c.bind(id)
		resp.TimeOut, resp.SessionID, resp.Passwd = timeout, id, session.Password(id)
	}
	return c.write(frameNoHeader(&resp))
}

func (c *conn) bind(id int64) {
	c.sid.Store(id)
	c.s.mu.Lock()
	c.s.sessions[id] = c
	c.s.mu.Unlock()
}

// write sends directly (before the writer goroutine runs).
func (c *conn) write(b []byte) bool {
	_, err := c.nc.Write(b)
	return err == nil
}

func frameNoHeader(r wire.Record) []byte {
	e := wire.Encoder{B: make([]byte, 4, 64)}
	r.Encode(&e)
	binary.BigEndian.PutUint32(e.B, uint32(len(e.B)-4))
	return e.B
}

// awaitReads blocks until every read queued before now has executed.
func (c *conn) awaitReads() bool {
	for c.pendingReads.Load() > 0 {
		select {
		case <-c.readSignal:
		case <-c.closed:
			return false
		}
	}
	return true
}

// enqueue appends a request to the connection's ordered queue; false if
// the connection is closed. Reads and pre-built replies are ready at once;
// a write becomes ready when applied.
func (c *conn) enqueue(r *request) bool {
	select {
	case c.s.outstanding <- struct{}{}:
	case <-c.closed:
		return false
	}
	c.qMu.Lock()
	c.queue = append(c.queue, r)
	c.qMu.Unlock()
	if !r.write {
		c.signal()
	}
	return true
}

// signal wakes the replier.
func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// next pops the queue head if it is ready to answer.
func (c *conn) next() (r *request, more bool) {
	c.qMu.Lock()
	defer c.qMu.Unlock()
	if len(c.queue) == 0 {
		return nil, !c.readerDone
	}
	r = c.queue[0]
	if r.write && !r.ready.Load() {
		return nil, true
	}
	c.queue[0] = nil
	c.queue = c.queue[1:]
	if len(c.queue) == 0 {
		c.queue = c.queue[:0:0]
	}
	return r, true
}

func (c *conn) readLoop(br *bufio.Reader) {
	s := c.s
	defer func() {
		c.qMu.Lock()
		c.readerDone = true
		c.qMu.Unlock()
		c.signal()
	}()
	var buf []byte
	for {
		body, err := wire.ReadFrame(br, c.maxFrame(), buf)
		if err != nil {
			if err != io.EOF {
				s.log.Debug("closing connection", zap.String("remote", c.remote), zap.Error(err))
			}
			return
		}
		if len(body) < 8 {
			return
		}
		c.received.Add(1)
		s.stats.received.Add(1)
		metrics.Default().BytesIn(len(body) + 4)
		var hdr wire.RequestHeader
		d := wire.NewDecoder(body)
		hdr.Decode(d)
		buf = body[:0] // the frame buffer is reused: requests keep copies
		r := &request{c: c, session: c.session(), xid: hdr.Xid, op: hdr.Type, body: body[8:], start: s.now(), owner: s.id}
		if hdr.Type == wire.OpAuth {
			if !c.handleAuth(r) {
				return
			}
			continue
		}
		if hdr.Type == wire.OpSASL && s.saslConfigured() {
			if !c.handleSASL(r) {
				return
			}
			continue
		}
		if hdr.Type != wire.OpSASL && !c.authEnforced(r) {
			return
		}
		if !s.touch(r.session) && hdr.Type != wire.OpCloseSession {
			r.reply = frame(&wire.ReplyHeader{Xid: r.xid, Zxid: s.lastZxid.Load(), Err: wire.ErrSessionExpired}, nil)
			r.close = true
			c.enqueue(r)
			return
		}
		switch hdr.Type {
		case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL, wire.OpDelete,
			wire.OpSetData, wire.OpSetACL, wire.OpMulti, wire.OpReconfig, wire.OpCloseSession, wire.OpDeleteContainer:
			r.write = true
			var ok bool
			r.rec, ok = decodeWrite(r.op, r.body)
			if s.learner != nil {
				r.raw = append([]byte(nil), r.body...)
			}
			r.bad, r.body = !ok, nil
			if ok && s.learner == nil {
				s.warmWrite(r.rec)
			}
			if !c.awaitReads() || !c.enqueue(r) {
				return
			}
			s.submit(r)
			if hdr.Type == wire.OpCloseSession {
				return
			}
		case wire.OpSync:
			if s.learner == nil && s.syncer == nil {
				r.read = true
				r.body = append([]byte(nil), r.body...)
				c.pendingReads.Add(1)
				if !c.enqueue(r) {
					return
				}
				break
			}
			// an ensemble member's sync waits for the commit path: a
			// learner's for the leader's SYNC, a leader's for its commits
			r.write = true
			r.raw, r.body = append([]byte(nil), r.body...), nil
			if !c.awaitReads() || !c.enqueue(r) {
				return
			}
			s.submit(r)
		case wire.OpPing, wire.OpExists, wire.OpGetData, wire.OpGetChildren, wire.OpGetChildren2,
			wire.OpGetACL, wire.OpSetWatches, wire.OpSetWatches2, wire.OpAddWatch,
			wire.OpRemoveWatches, wire.OpCheckWatches, wire.OpWhoAmI, wire.OpMultiRead,
			wire.OpGetEphemerals, wire.OpGetAllChildrenNumber, wire.OpSASL, wire.OpCreateSession:
			r.read = true
			r.body = append([]byte(nil), r.body...)
			c.pendingReads.Add(1)
			if !c.enqueue(r) {
				return
			}
		default:
			// unknown opcodes and a top-level check: UNIMPLEMENTED, then close
			r.reply = frame(&wire.ReplyHeader{Xid: r.xid, Zxid: -1, Err: wire.ErrUnimplemented}, nil)
			r.close = true
			c.enqueue(r)
			return
		}
	}
}

// replyLoop answers requests in arrival order and writes the socket. A
// read waits for the session's earlier writes because it runs only when it
// reaches the head of the queue. Replies are written once nothing more is
// ready, so pipelined replies share one write.
func (c *conn) replyLoop() {
	s := c.s
	defer func() {
		// release the outstanding-request slots of what was not answered
		c.qMu.Lock()
		n := len(c.queue)
		c.queue = nil
		c.qMu.Unlock()
		for i := 0; i < n; i++ {
			<-s.outstanding
		}
	}()
	for {
		select {
		case <-c.wake:
		case <-c.closed:
			return
		}
		for {
			r, more := c.next()
			if r == nil {
				if !more { // the reader is gone and everything is answered
					c.finish()
					c.flush()
					return
				}
				break
			}
			if !r.write && r.reply == nil {
				s.execRead(c, r)
			}
			if r.read {
				c.pendingReads.Add(-1)
				select {
				case c.readSignal <- struct{}{}:
				default:
				}
			}
			<-s.outstanding
			if r.reply != nil {
				now := s.now()
				c.lastResp.Store(now.UnixMilli())
				c.lastOp.Store(int32(r.op))
				c.lastCxid.Store(r.xid)
				if r.zxid != 0 {
					c.lastZxid.Store(r.zxid)
				}
				if !r.start.IsZero() {
					lat := now.Sub(r.start).Milliseconds()
					c.recordLatency(lat)
					s.stats.latency(lat)
					if m := metrics.Default(); m != nil {
						m.Request(r.op, r.write, now.Sub(r.start))
						m.BytesOut(len(r.reply))
					}
				}
				c.queue1(r.reply)
			}
			if r.close {
				c.finish()
				c.flush()
				return
			}
		}
		if !c.flush() {
			return
		}
	}
}

func (c *conn) recordLatency(ms int64) {
	c.lastLat.Store(ms)
	c.latSum.Add(ms)
	if c.latCnt.Add(1) == 1 || ms < c.latMin.Load() {
		c.latMin.Store(ms)
	}
	if ms > c.latMax.Load() {
		c.latMax.Store(ms)
	}
}

// handleAuth processes an auth packet at once (not queued). False means
// the connection is to be closed.
func (c *conn) handleAuth(r *request) bool {
	s := c.s
	var ap wire.AuthPacket
	err := wire.Unmarshal(r.body, &ap)
	ok := err == nil
	if ok {
		switch ap.Scheme {
		case "digest":
			id := DigestID(string(ap.Auth))
			if s.cfg.SuperDigest != "" && id == s.cfg.SuperDigest {
				c.addAuth(wire.Id{Scheme: "super", ID: ""})
			}
			c.addAuth(wire.Id{Scheme: "digest", ID: id})
		case "ip":
			c.addAuth(wire.Id{Scheme: "ip", ID: c.ip})
		default:
			ok = false
		}
	}
	if !ok {
		s.log.Info("auth failed", zap.String("remote", c.remote), zap.String("scheme", ap.Scheme))
		s.stats.authFailed.Add(1)
		c.send(frame(&wire.ReplyHeader{Xid: r.xid, Err: wire.ErrAuthFailed}, nil))
		c.finish()
		return false
	}
	c.send(frame(&wire.ReplyHeader{Xid: r.xid}, nil))
	return true
}

// queued is the number of requests not answered yet.
func (c *conn) queued() int {
	c.qMu.Lock()
	defer c.qMu.Unlock()
	return len(c.queue)
}
