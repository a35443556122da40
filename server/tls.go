package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/tlsconf"
	"github.com/zkserver/zkserver/wire"
)

// Client TLS: a second listener on secureClientPort, and with
// client.portUnification the plain port takes TLS connections too (a
// connection whose first byte starts a TLS handshake). The TLS handshake
// runs on the connection's own goroutine (conn.serve calls startTLS), so
// a slow or bad client holds up nobody else. Settings are the ssl.* keys
// (config.TLSSettings, built by tlsconf); the stores are reloaded when
// their files change.

// serverTLS is the client TLS state of a Server.
type serverTLS struct {
	src *tlsconf.Source
	ln  net.Listener // secureClientPort; nil without one
}

func init() {
	providers["x509"] = x509Provider{}
}

// x509Provider is ZooKeeper's X509AuthenticationProvider as an ACL
// scheme: the id is the subject of the client's certificate as Java
// prints it (RFC 2253), matched exactly.
type x509Provider struct{}

func (x509Provider) authenticated() bool        { return true }
func (x509Provider) valid(id string) bool       { return tlsconf.ValidName(id) }
func (x509Provider) matches(a, acl string) bool { return a == acl }
func (x509Provider) user(id string) string      { return id }

// listenTLS loads the ssl.* stores and binds secureClientPort, and wraps
// the plain listener when client.portUnification is on. Listen calls it
// after binding the plain port.
func (s *Server) listenTLS() error {
	cfg := s.cfg
	if cfg.SecureClientPort == 0 && !cfg.ClientPortUnification {
		return nil
	}
	if cfg.ClientTLS.KeyStoreLocation == "" {
		if s.ln != nil {
			s.ln.Close()
		}
		what := "secureClientPort"
		if cfg.SecureClientPort == 0 {
			what = "client.portUnification"
		}
		return fmt.Errorf("%s needs ssl.keyStore.location (the server's key and certificate)", what)
	}
	src, err := tlsconf.New(cfg.ClientTLS, tlsconf.Options{Role: tlsconf.RoleClient, Logger: s.log, Now: s.now})
	if err != nil {
		if s.ln != nil {
			s.ln.Close()
		}
		return err
	}
	s.tls.src = src
	if cfg.ClientPortUnification && s.ln != nil {
		s.ln = tlsconf.NewSniffListener(s.ln, src, s.log)
	}
	if cfg.SecureClientPort != 0 {
		addr := net.JoinHostPort(cfg.SecureClientPortAddress, strconv.Itoa(cfg.SecureClientPort))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if s.ln != nil {
				s.ln.Close()
			}
			return err
		}
		s.tls.ln = tls.NewListener(ln, src.ServerConfig())
	}
	s.log.Info("client TLS", zap.Int("secureClientPort", cfg.SecureClientPort),
		zap.Bool("portUnification", cfg.ClientPortUnification), zap.String("clientAuth", src.ClientAuth()))
	return nil
}

// plainPortWanted reports whether Listen binds the plain client port: not
// when only secureClientPort is configured (clientPort unset), as in
// ZooKeeper.
func (s *Server) plainPortWanted() bool {
	return s.cfg.ClientPort != 0 || s.cfg.SecureClientPort == 0
}

// SecureAddr is the bound secureClientPort address (nil without one).
func (s *Server) SecureAddr() net.Addr {
	if s.tls.ln == nil {
		return nil
	}
	return s.tls.ln.Addr()
}

// serveTLS starts accepting on secureClientPort; Serve calls it.
func (s *Server) serveTLS() {
	ln := s.tls.ln
	if ln == nil {
		return
	}
	s.log.Info("serving TLS", zap.String("addr", ln.Addr().String()))
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				if s.stopped.Load() {
					return
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				s.log.Error("secure client port stopped accepting", zap.Error(err))
				return
			}
			if s.stopped.Load() {
				nc.Close()
				return
			}
			s.accept(nc)
		}
	}()
}

// closeTLS closes secureClientPort; Close calls it.
func (s *Server) closeTLS() {
	if s.tls.ln != nil {
		s.tls.ln.Close()
	}
}

// startTLS runs the TLS handshake of a connection that speaks TLS (from
// secureClientPort, or a unified port's connection that starts with a
// handshake) and gives the connection its x509 id. It returns false if
// the connection is to be closed; failures are logged with the client's
// address.
func (c *conn) startTLS() bool {
	var tc *tls.Conn
	switch nc := c.nc.(type) {
	case *tls.Conn:
		tc = nc
		c.secure.Store(true) // from secureClientPort (ZooKeeper's secure factory)
	case *tlsconf.SniffConn:
		isTLS, err := nc.Detect()
		if err != nil {
			c.s.log.Debug("client sent nothing", zap.String("remote", c.remote), zap.Error(err))
			return false
		}
		if !isTLS {
			return true
		}
		tc = nc.TLS()
	default:
		return true
	}
	tc.SetDeadline(c.s.now().Add(sessionlessTimeout))
	err := tc.Handshake()
	tc.SetWriteDeadline(time.Time{})
	if err != nil {
		c.s.log.Warn("TLS handshake with a client failed", zap.String("remote", c.remote), zap.Error(err))
		return false
	}
	if c.s.tls.src == nil || c.s.tls.src.ClientAuth() == "none" {
		return true
	}
	id := tlsconf.PeerID(tc.ConnectionState())
	if id == "" {
		return true // "want" and no certificate: no x509 id
	}
	if su := c.s.cfg.X509SuperUser; su != "" && id == su {
		c.addAuth(wire.Id{Scheme: "super", ID: id})
		c.s.log.Info("authenticated as super user", zap.String("id", id), zap.String("remote", c.remote))
	}
	c.addAuth(wire.Id{Scheme: "x509", ID: id})
	c.s.log.Info("authenticated", zap.String("scheme", "x509"), zap.String("id", id), zap.String("remote", c.remote))
	return true
}

// secureClientPort is the bound secureClientPort, -1 without one (as
// ZooKeeper's conf prints it).
func (s *Server) secureClientPort() int {
	if a, ok := s.SecureAddr().(*net.TCPAddr); ok {
		return a.Port
	}
	return -1
}
