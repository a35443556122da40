package server

import (
	"slices"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/sasl"
	"github.com/zkserver/zkserver/wire"
)

// saslProvider is the "sasl" ACL scheme (ZooKeeper's
// SASLAuthenticationProvider): the id is the authenticated user name; the
// id "super" matches everything, and so does every user for an ACL whose
// id is the configured letAnySaslUserDoX value.
type saslProvider struct{ anyUser string }

func (saslProvider) authenticated() bool   { return true }
func (saslProvider) valid(id string) bool  { return sasl.ValidID(id) }
func (saslProvider) user(id string) string { return id }
func (p saslProvider) matches(a, acl string) bool {
	return a == "super" || a == acl || (p.anyUser != "" && acl == p.anyUser)
}

// provider returns this server's provider of an ACL scheme (nil if none):
// the built-in ones, and "sasl" when an authProvider.N key names
// SASLAuthenticationProvider.
func (s *Server) provider(scheme string) authProvider {
	if scheme == "sasl" {
		if !s.cfg.SASL.Provider {
			return nil
		}
		return saslProvider{anyUser: s.cfg.SASL.LetAnyUserDoX}
	}
	return providers[scheme]
}

// fixupACL is fixupACLWith this server's providers.
func (s *Server) fixupACL(ids []wire.Id, acl []wire.ACL) ([]wire.ACL, wire.Err) {
	return fixupACLWith(s.provider, ids, acl)
}

// saslConfigured reports whether a JAAS server section was loaded: only
// then are SASL requests evaluated (else they get ZooKeeper's answer
// without SASL, OK with a null token).
func (s *Server) saslConfigured() bool { return s.cfg.SASL.Users != nil }

// saslRequired is ZooKeeper's isSaslAuthRequired.
func (s *Server) saslRequired() bool {
	return s.cfg.SASL.EnforceAuth && slices.Contains(s.cfg.SASL.EnforceAuthSchemes, "sasl")
}

// handleSASL evaluates one SASL token (opcode 102) on the reader
// goroutine, so the ids it grants hold for every later request; the reply
// is queued in order. False means the connection is to be closed.
func (c *conn) handleSASL(r *request) bool {
	s := c.s
	d := wire.NewDecoder(r.body)
	token := d.Buffer()
	if d.Err() != nil {
		// ZooKeeper fails to read the record and drops the connection
		s.log.Info("closing connection: bad SASL request", zap.String("remote", c.remote), zap.Error(d.Err()))
		return false
	}
	if token == nil {
		// ZooKeeper fails on a null token (a NullPointerException) and
		// drops the connection without a reply
		s.log.Info("closing connection: null SASL token", zap.String("remote", c.remote))
		return false
	}
	if c.saslSrv == nil {
		users := s.cfg.SASL.Users
		c.saslSrv = sasl.NewServer(sasl.ServerConfig{
			Password:  func(u string) (string, bool) { p, ok := users[u]; return p, ok },
			Authorize: sasl.ZooKeeperAuthorize,
		})
	}
	out, err := c.saslSrv.Evaluate(token)
	switch {
	case err != nil:
		s.log.Warn("client failed to SASL authenticate", zap.String("remote", c.remote), zap.Error(err))
		s.stats.authFailed.Add(1)
		if !s.cfg.SASL.AllowFailedClients || s.saslRequired() {
			code := wire.ErrAuthFailed
			if s.saslRequired() {
				code = wire.ErrSessionClosedRequireSASLAuth
			}
			r.reply = frame(&wire.ReplyHeader{Xid: r.xid, Err: code}, &wire.BufferRecord{})
			r.close = true
			c.enqueue(r)
			return false
		}
		s.log.Warn("keeping the client connected despite its SASL failure (allowSaslFailedClients)", zap.String("remote", c.remote))
		out = nil
	case c.saslSrv.Complete():
		id := c.saslSrv.AuthorizationID()
		s.log.Info("adding SASL authorization", zap.String("session", hex(c.session())),
			zap.String("id", id))
		c.addAuth(wire.Id{Scheme: "sasl", ID: id})
		if id != "" && slices.Contains(s.cfg.SASL.SuperUsers, id) {
			c.addAuth(wire.Id{Scheme: "super", ID: ""})
			s.log.Info("SASL user is a super user", zap.String("id", id))
		}
	}
	r.reply = frame(&wire.ReplyHeader{Xid: r.xid}, &wire.BufferRecord{Data: out})
	return c.enqueue(r)
}

// authEnforced applies zookeeper.enforce.auth.*: a request of a
// connection without an id of the enforced schemes is answered
// SESSIONCLOSEDREQUIRESASLAUTH and the connection closed (false).
func (c *conn) authEnforced(r *request) bool {
	sc := &c.s.cfg.SASL
	if !sc.EnforceAuth {
		return true
	}
	ids := c.authIDs()
	for _, id := range ids {
		if slices.Contains(sc.EnforceAuthSchemes, id.Scheme) {
			return true
		}
	}
	schemes := make([]string, len(ids))
	for i, id := range ids {
		schemes[i] = id.Scheme
	}
	c.s.log.Warn("client has not authenticated with an enforced scheme; closing the session's connection",
		zap.String("remote", c.remote), zap.Strings("schemes", schemes), zap.Strings("enforced", sc.EnforceAuthSchemes))
	r.reply = frame(&wire.ReplyHeader{Xid: r.xid, Err: wire.ErrSessionClosedRequireSASLAuth}, nil)
	r.close = true
	c.enqueue(r)
	return false
}
