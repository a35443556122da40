package tlsconf

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
)

// recordTypeHandshake is the first byte of every TLS connection (a
// handshake record); a ZooKeeper client's first byte is the top byte of a
// frame length (0) or a four-letter word's first letter, and a quorum
// peer's the top byte of a long or int.
const recordTypeHandshake = 0x16

// SniffConn is a connection accepted on a port that takes both TLS and
// plain connections. On first use (Detect, Read or Write) it reads the
// first byte, waiting at most the detection timeout, and from then on is
// either a TLS server connection or the plain one.
type SniffConn struct {
	raw     net.Conn
	src     *Source
	timeout time.Duration
	log     *zap.Logger

	once  sync.Once
	inner net.Conn // *tls.Conn or the plain connection (with the peeked byte)
	isTLS bool
	err   error

	dlMu         sync.Mutex
	readDeadline time.Time
}

// NewSniffConn wraps raw; src gives the TLS configuration.
func NewSniffConn(raw net.Conn, src *Source, log *zap.Logger) *SniffConn {
	if log == nil {
		log = zap.NewNop()
	}
	return &SniffConn{raw: raw, src: src, timeout: src.DetectTimeout(), log: log}
}

// Detect decides the connection's kind: it reports whether the peer
// speaks TLS. An error means the peer sent nothing in time or closed.
func (c *SniffConn) Detect() (bool, error) {
	c.once.Do(func() {
		c.dlMu.Lock()
		restore := c.readDeadline
		c.dlMu.Unlock()
		dl := time.Now().Add(c.timeout)
		if !restore.IsZero() && restore.Before(dl) {
			dl = restore
		}
		c.raw.SetReadDeadline(dl)
		br := bufio.NewReaderSize(c.raw, 1024)
		first, err := br.Peek(1)
		c.raw.SetReadDeadline(restore)
		if err != nil {
			c.err = err
			c.inner = c.raw
			return
		}
		plain := &prefixConn{Conn: c.raw, r: br}
		if first[0] == recordTypeHandshake {
			c.isTLS = true
			c.inner = tls.Server(plain, c.src.ServerConfig())
		} else {
			c.inner = plain
		}
	})
	return c.isTLS, c.err
}

// TLS returns the TLS connection once Detect found one (nil otherwise).
func (c *SniffConn) TLS() *tls.Conn {
	if t, ok := c.inner.(*tls.Conn); ok && c.isTLS {
		return t
	}
	return nil
}

func (c *SniffConn) Read(p []byte) (int, error) {
	if _, err := c.Detect(); err != nil {
		return 0, err
	}
	return c.inner.Read(p)
}

func (c *SniffConn) Write(p []byte) (int, error) {
	if _, err := c.Detect(); err != nil {
		return 0, err
	}
	return c.inner.Write(p)
}

// Close closes the underlying connection.
func (c *SniffConn) Close() error { return c.raw.Close() }

// LocalAddr is the underlying connection's.
func (c *SniffConn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr is the underlying connection's.
func (c *SniffConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets both deadlines on the underlying connection.
func (c *SniffConn) SetDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.readDeadline = t
	c.dlMu.Unlock()
	return c.raw.SetDeadline(t)
}

// SetReadDeadline sets the underlying connection's read deadline.
func (c *SniffConn) SetReadDeadline(t time.Time) error {
	c.dlMu.Lock()
	c.readDeadline = t
	c.dlMu.Unlock()
	return c.raw.SetReadDeadline(t)
}

// SetWriteDeadline sets the underlying connection's write deadline.
func (c *SniffConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// prefixConn reads through a buffered reader that may hold peeked bytes.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// sniffListener wraps accepted connections in SniffConns.
type sniffListener struct {
	net.Listener
	src *Source
	log *zap.Logger
}

// NewSniffListener returns a listener whose connections may be TLS or
// plain (ZooKeeper's client.portUnification and the quorum's
// portUnification). Accept does not wait for the first byte.
func NewSniffListener(ln net.Listener, src *Source, log *zap.Logger) net.Listener {
	return &sniffListener{Listener: ln, src: src, log: log}
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return NewSniffConn(c, l.src, l.log), nil
}

// loggingConn runs a server-side TLS handshake on first use and logs its
// failure with the peer's address (the callers would only see a read
// error).
type loggingConn struct {
	*tls.Conn
	log  *zap.Logger
	what string
	once sync.Once
	err  error
}

func (c *loggingConn) handshake() error {
	c.once.Do(func() {
		if err := c.Conn.Handshake(); err != nil {
			c.err = err
			c.log.Warn("TLS handshake failed", zap.String("port", c.what),
				zap.String("remote", c.RemoteAddr().String()), zap.Error(err))
		}
	})
	return c.err
}

func (c *loggingConn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *loggingConn) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

type tlsListener struct {
	net.Listener
	src  *Source
	log  *zap.Logger
	what string
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &loggingConn{Conn: tls.Server(c, l.src.ServerConfig()), log: l.log, what: l.what}, nil
}

// Quorum makes the election and ZAB connections of one server: plain,
// or TLS with sslQuorum=true (and both kinds accepted with
// portUnification=true, as ZooKeeper's UnifiedServerSocket does).
type Quorum struct {
	src       *Source // nil: plain
	unified   bool
	dialPlain bool
	log       *zap.Logger
}

var (
	quorumMu    sync.Mutex
	quorumCache = map[*config.Config]*Quorum{}
)

// ForQuorum returns the Quorum for cfg, loading its ssl.quorum.* stores
// once per configuration (election and ZAB share it). Without sslQuorum
// and portUnification it is plain.
func ForQuorum(cfg *config.Config, log *zap.Logger) (*Quorum, error) {
	quorumMu.Lock()
	defer quorumMu.Unlock()
	if q, ok := quorumCache[cfg]; ok {
		return q, nil
	}
	if log == nil {
		log = zap.NewNop()
	}
	q := &Quorum{log: log, unified: cfg.QuorumPortUnification}
	if cfg.SSLQuorum || cfg.QuorumPortUnification {
		if cfg.QuorumTLS.KeyStoreLocation == "" {
			return nil, errors.New("sslQuorum and portUnification need ssl.quorum.keyStore.location")
		}
		src, err := New(cfg.QuorumTLS, Options{Role: RoleQuorum, Logger: log, NoReload: !cfg.SSLQuorumReloadCertFiles})
		if err != nil {
			return nil, err
		}
		q.src = src
		log.Info("quorum TLS", zap.Bool("sslQuorum", cfg.SSLQuorum), zap.Bool("portUnification", cfg.QuorumPortUnification),
			zap.String("clientAuth", src.ClientAuth()))
	}
	if !cfg.SSLQuorum {
		// portUnification alone: accept both, connect in plain
		q.unified = q.src != nil
		q.dialPlain = true
	}
	quorumCache[cfg] = q
	return q, nil
}

// Listen binds addr: TLS with sslQuorum, both kinds with portUnification.
// The listener also has a DialPeer method (q.Dial), so that code given
// only the listener makes its outgoing connections the same way.
func (q *Quorum) Listen(network, addr string, what string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	if q == nil || q.src == nil {
		return &quorumListener{Listener: ln, q: q}, nil
	}
	if q.unified {
		return &quorumListener{Listener: NewSniffListener(ln, q.src, q.log), q: q}, nil
	}
	return &quorumListener{Listener: &tlsListener{Listener: ln, src: q.src, log: q.log, what: what}, q: q}, nil
}

type quorumListener struct {
	net.Listener
	q *Quorum
}

// DialPeer connects to another server as the Quorum does.
func (l *quorumListener) DialPeer(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	return l.q.Dial(ctx, d, network, addr)
}

// Dial connects to addr: TLS with sslQuorum (the handshake is done before
// it returns), plain otherwise.
func (q *Quorum) Dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	if q == nil || q.src == nil || q.dialPlain {
		return d.DialContext(ctx, network, addr)
	}
	c, err := q.src.Dial(ctx, d, network, addr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// QuorumListen binds a quorum port (election or ZAB) for cfg: plain, TLS
// with sslQuorum, both kinds with portUnification. what names the port in
// logs.
func QuorumListen(cfg *config.Config, log *zap.Logger, network, addr, what string) (net.Listener, error) {
	q, err := ForQuorum(cfg, log)
	if err != nil {
		return nil, err
	}
	return q.Listen(network, addr, what)
}

// QuorumDial connects to another server's quorum port for cfg: over TLS
// with sslQuorum (handshake done), plain otherwise.
func QuorumDial(ctx context.Context, cfg *config.Config, log *zap.Logger, d *net.Dialer, network, addr string) (net.Conn, error) {
	q, err := ForQuorum(cfg, log)
	if err != nil {
		return nil, err
	}
	return q.Dial(ctx, d, network, addr)
}
