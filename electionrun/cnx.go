package electionrun

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/wire"
)

// DefaultCnxTimeout is zookeeper.cnxTimeout's default: the connect timeout
// and, here, also the read timeout for a connection's initial message.
const DefaultCnxTimeout = 5 * time.Second

// recvCapacity is QuorumCnxManager's RECV_CAPACITY: when the receive queue
// is full the oldest message is dropped.
const recvCapacity = 100

// inbound is one notification body received from a peer.
type inbound struct {
	from int64
	body []byte
}

// cnxManager is QuorumCnxManager: one TCP connection per peer on the
// election port, owned by the larger sid; per peer a send slot holding one
// message (the newest wins) and the last message sent, which is sent again
// when a new connection starts with nothing queued.
type cnxManager struct {
	myID       int64
	myAddr     string // advertised in our initial messages
	cnxTimeout time.Duration
	dial       func(addr string) (net.Conn, error)
	log        *zap.Logger
	ln         net.Listener

	recv   chan inbound
	recvMu sync.Mutex // serialises drop-oldest on recv

	mu         sync.Mutex
	addrs      map[int64]string // configured, plus addresses learned from initial messages
	configured map[int64]bool   // the members of the configuration (read-only)
	again      map[int64]bool   // a connection was wanted while one was being made
	senders    map[int64]*sender
	queues     map[int64]*sendSlot
	lastSent   map[int64][]byte
	connecting map[int64]bool
	conns      map[net.Conn]struct{} // every open socket, for Close
	closed     bool
	wg         sync.WaitGroup
	done       chan struct{}
}

// sendSlot is a send queue of capacity 1: put replaces what is there.
type sendSlot struct {
	msg    []byte
	notify chan struct{} // capacity 1
}

// sender is the SendWorker/RecvWorker pair of one connection.
type sender struct {
	sid  int64
	conn net.Conn
	stop chan struct{}
	once sync.Once
}

func (s *sender) finish() {
	s.once.Do(func() {
		close(s.stop)
		s.conn.Close()
	})
}

func newCnxManager(myID int64, ln net.Listener, myAddr string, peers map[int64]string, cnxTimeout time.Duration, log *zap.Logger) *cnxManager {
	c := &cnxManager{
		myID: myID, myAddr: myAddr, cnxTimeout: cnxTimeout, log: log, ln: ln,
		recv:       make(chan inbound, recvCapacity),
		addrs:      make(map[int64]string),
		senders:    make(map[int64]*sender),
		queues:     make(map[int64]*sendSlot),
		lastSent:   make(map[int64][]byte),
		connecting: make(map[int64]bool),
		again:      make(map[int64]bool),
		conns:      make(map[net.Conn]struct{}),
		done:       make(chan struct{}),
	}
	c.configured = make(map[int64]bool, len(peers))
	for sid, a := range peers {
		c.addrs[sid] = a
		c.configured[sid] = true
	}
	c.dial = func(addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: c.cnxTimeout}
		if pd, ok := ln.(peerDialer); ok {
			return pd.DialPeer(context.Background(), &d, "tcp", addr) // quorum TLS
		}
		return d.Dial("tcp", addr)
	}
	c.wg.Add(1)
	go c.acceptLoop()
	return c
}

// peerDialer is a listener that also makes the outgoing connections
// (tlsconf.Quorum's, for quorum TLS).
type peerDialer interface {
	DialPeer(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error)
}

func (c *cnxManager) track(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		conn.Close()
		return false
	}
	c.conns[conn] = struct{}{}
	return true
}

func (c *cnxManager) untrack(conn net.Conn) {
	c.mu.Lock()
	delete(c.conns, conn)
	c.mu.Unlock()
	conn.Close()
}

func (c *cnxManager) acceptLoop() {
	defer c.wg.Done()
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			select {
			case <-c.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			c.log.Warn("election listener stopped", zap.Error(err))
			return
		}
		if !c.track(conn) {
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.handleConnection(conn)
		}()
	}
}

// handleConnection reads an accepted connection's initial message and
// applies the tie-break: a connection from a smaller sid is closed and we
// connect back; one from a larger sid is kept.
func (c *cnxManager) handleConnection(conn net.Conn) {
	setNoDelay(conn)
	conn.SetReadDeadline(time.Now().Add(c.cnxTimeout))
	im, err := wire.ReadInitialMessage(conn)
	if err != nil {
		c.log.Warn("election: bad initial message, closing connection",
			zap.Stringer("remote", conn.RemoteAddr()), zap.Error(err))
		c.untrack(conn)
		return
	}
	conn.SetReadDeadline(time.Time{})
	sid := im.SID
	switch {
	case sid < c.myID:
		c.log.Debug("election: connection from smaller sid, closing and connecting back",
			zap.Int64("sid", sid), zap.Stringer("remote", conn.RemoteAddr()))
		c.mu.Lock()
		if s := c.senders[sid]; s != nil {
			s.finish()
		}
		if addrs := im.Addresses(); len(addrs) > 0 && c.addrs[sid] == "" {
			c.addrs[sid] = addrs[0]
		}
		c.mu.Unlock()
		c.untrack(conn)
		c.connectOne(sid)
	case sid == c.myID:
		c.log.Warn("election: connection from a server with our own sid; misconfiguration?",
			zap.Stringer("remote", conn.RemoteAddr()))
		c.untrack(conn)
	default:
		c.startWorkers(conn, sid)
	}
}

// connectOne starts connecting to sid unless a connection or an attempt
// already exists.
func (c *cnxManager) connectOne(sid int64) {
	c.mu.Lock()
	if c.closed || c.senders[sid] != nil {
		c.mu.Unlock()
		return
	}
	if c.connecting[sid] {
		// the attempt under way may have registered a connection that
		// has just been closed: it checks this flag when it ends
		c.again[sid] = true
		c.mu.Unlock()
		return
	}
	addr := c.addrs[sid]
	if addr == "" {
		c.mu.Unlock()
		c.log.Warn("election: no address for server", zap.Int64("sid", sid))
		return
	}
	c.connecting[sid] = true
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		for {
			c.initiate(sid, addr)
			c.mu.Lock()
			// again: someone wanted a connection while this attempt ran;
			// only a smaller sid's is ours to make (a larger one calls
			// us back)
			retry := c.again[sid] && sid < c.myID && c.senders[sid] == nil && !c.closed
			delete(c.again, sid)
			if !retry {
				delete(c.connecting, sid)
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
		}
	}()
}

func (c *cnxManager) initiate(sid int64, addr string) {
	conn, err := c.dial(addr)
	if err != nil {
		c.log.Debug("election: cannot connect", zap.Int64("sid", sid), zap.String("addr", addr), zap.Error(err))
		return
	}
	if !c.track(conn) {
		return
	}
	setNoDelay(conn)
	im := wire.InitialMessage{Version: wire.ElectionProtocolV1, SID: c.myID, Addr: c.myAddr}
	conn.SetWriteDeadline(time.Now().Add(c.cnxTimeout))
	if _, err := conn.Write(wire.Marshal(&im)); err != nil {
		c.log.Debug("election: writing initial message failed", zap.Int64("sid", sid), zap.Error(err))
		c.untrack(conn)
		return
	}
	conn.SetWriteDeadline(time.Time{})
	if sid > c.myID {
		// The larger sid owns the connection: it will call us back.
		c.untrack(conn)
		return
	}
	c.startWorkers(conn, sid)
}

// startWorkers registers conn as the connection to sid (replacing an older
// one) and starts its send and receive loops.
func (c *cnxManager) startWorkers(conn net.Conn, sid int64) {
	s := &sender{sid: sid, conn: conn, stop: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.untrack(conn)
		return
	}
	if old := c.senders[sid]; old != nil {
		old.finish()
	}
	c.senders[sid] = s
	q := c.slot(sid)
	c.wg.Add(2)
	c.mu.Unlock()
	c.log.Debug("election: connection up", zap.Int64("sid", sid), zap.Stringer("remote", conn.RemoteAddr()))
	go func() {
		defer c.wg.Done()
		c.sendLoop(s, q)
	}()
	go func() {
		defer c.wg.Done()
		c.recvLoop(s)
	}()
}

// slot returns sid's send slot; c.mu must be held.
func (c *cnxManager) slot(sid int64) *sendSlot {
	q := c.queues[sid]
	if q == nil {
		q = &sendSlot{notify: make(chan struct{}, 1)}
		c.queues[sid] = q
	}
	return q
}

func (c *cnxManager) done_(s *sender) {
	s.finish()
	c.mu.Lock()
	if c.senders[s.sid] == s {
		delete(c.senders, s.sid)
	}
	c.mu.Unlock()
	c.untrack(s.conn)
}

func (c *cnxManager) sendLoop(s *sender, q *sendSlot) {
	defer c.done_(s)
	c.mu.Lock()
	var first []byte
	if q.msg == nil {
		first = c.lastSent[s.sid]
	}
	c.mu.Unlock()
	if first != nil {
		if _, err := s.conn.Write(first); err != nil {
			c.log.Debug("election: send failed", zap.Int64("sid", s.sid), zap.Error(err))
			return
		}
	}
	for {
		c.mu.Lock()
		msg := q.msg
		q.msg = nil
		if msg != nil {
			c.lastSent[s.sid] = msg
		}
		c.mu.Unlock()
		if msg != nil {
			if _, err := s.conn.Write(msg); err != nil {
				c.log.Debug("election: send failed", zap.Int64("sid", s.sid), zap.Error(err))
				return
			}
			continue
		}
		select {
		case <-s.stop:
			return
		case <-q.notify:
		}
	}
}

func (c *cnxManager) recvLoop(s *sender) {
	defer func() {
		c.done_(s)
		if s.sid < c.myID && c.configured[s.sid] {
			// We own connections to smaller sids. When two servers start
			// together each may keep a different one of two connections
			// and the other end closes it: both sides then hold nothing
			// until a notification timeout. Calling back at once (a no-op
			// while a newer connection is up) keeps the election's
			// messages flowing; one lost on the closed connection is
			// re-sent on the new one (lastSent).
			c.connectOne(s.sid)
		}
	}()
	for {
		body, err := wire.ReadElectionMessage(s.conn, nil)
		if err != nil {
			select {
			case <-s.stop:
				return
			default:
			}
			if errors.Is(err, io.EOF) {
				c.log.Debug("election: connection closed by peer", zap.Int64("sid", s.sid))
			} else {
				c.log.Warn("election: connection broken, closing it", zap.Int64("sid", s.sid), zap.Error(err))
			}
			return
		}
		c.deliver(inbound{from: s.sid, body: body})
	}
}

// deliver queues a received message, dropping the oldest when full.
func (c *cnxManager) deliver(m inbound) {
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	for {
		select {
		case c.recv <- m:
			return
		default:
		}
		select {
		case <-c.recv:
		default:
		}
	}
}

// toSend puts a framed message in sid's slot (replacing an unsent one) and
// makes sure a connection is being made.
func (c *cnxManager) toSend(sid int64, framed []byte) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	q := c.slot(sid)
	q.msg = framed
	select {
	case q.notify <- struct{}{}:
	default:
	}
	c.mu.Unlock()
	c.connectOne(sid)
}

// connectAll connects to every server we have a send queue for.
func (c *cnxManager) connectAll() {
	c.mu.Lock()
	sids := make([]int64, 0, len(c.queues))
	for sid := range c.queues {
		sids = append(sids, sid)
	}
	c.mu.Unlock()
	for _, sid := range sids {
		c.connectOne(sid)
	}
}

// haveDelivered is QuorumCnxManager.haveDelivered: true when at least one
// send queue is empty (sic: ZooKeeper does not require all of them).
func (c *cnxManager) haveDelivered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, q := range c.queues {
		if q.msg == nil {
			return true
		}
	}
	return false
}

// connected reports whether a connection to sid is up.
func (c *cnxManager) connected(sid int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.senders[sid] != nil
}

func (c *cnxManager) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.done)
	c.ln.Close()
	for _, s := range c.senders {
		s.finish()
	}
	for conn := range c.conns {
		conn.Close()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func setNoDelay(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
}
