package server

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/sasl"
	"github.com/zkserver/zkserver/wire"
)

// startSASL runs a server with DIGEST-MD5 users bob and super; tune may
// change more settings.
func startSASL(t *testing.T, provider bool, tune func(*config.SASLConfig)) *Server {
	return startConfigured(t, func(c *config.Config) {
		c.SASL.Users = map[string]string{"bob": "bobsecret", "super": "adminsecret", "carol": "c"}
		c.SASL.Provider = provider
		if tune != nil {
			tune(&c.SASL)
		}
	})
}

// saslCall sends one SASL token and returns the reply header and token
// (nil for a null token).
func (c *rawClient) saslCall(token []byte) (wire.ReplyHeader, []byte) {
	c.t.Helper()
	var resp wire.BufferRecord
	h := c.call(wire.OpSASL, &wire.BufferRecord{Data: token}, &resp)
	return h, resp.Data
}

// saslLogin runs the whole exchange and fails the test unless it succeeds.
func (c *rawClient) saslLogin(user, password string) {
	c.t.Helper()
	cl := &sasl.Client{User: user, Password: password}
	h, ch := c.saslCall(cl.Start())
	if h.Err != wire.ErrOK || h.Zxid != 0 || ch == nil {
		c.t.Fatalf("challenge: %+v %q", h, ch)
	}
	resp, err := cl.Next(ch)
	if err != nil {
		c.t.Fatal(err)
	}
	h, fin := c.saslCall(resp)
	if h.Err != wire.ErrOK {
		c.t.Fatalf("response refused: %+v", h)
	}
	if tok, err := cl.Next(fin); err != nil || tok != nil || !cl.Complete() {
		c.t.Fatalf("rspauth %q: %v", fin, err)
	}
}

func (c *rawClient) whoAmI() []wire.ClientInfo {
	c.t.Helper()
	var resp wire.WhoAmIResponse
	if h := c.call(wire.OpWhoAmI, nil, &resp); h.Err != wire.ErrOK {
		c.t.Fatalf("whoAmI: %+v", h)
	}
	return resp.Info
}

func saslACL(id string) []wire.ACL {
	return []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "sasl", ID: id}}}
}

func TestSASLNotConfigured(t *testing.T) {
	s := startServer(t)
	c := connect(t, s)
	for _, tok := range [][]byte{{}, []byte("garbage"), nil} {
		if h, out := c.saslCall(tok); h.Err != wire.ErrOK || out != nil {
			t.Errorf("token %q: %+v %q", tok, h, out)
		}
	}
	// the sasl scheme is unknown without its provider
	if _, h := c.createACL("/x", saslACL("bob")); h.Err != wire.ErrInvalidACL {
		t.Errorf("sasl ACL without provider: %v", h.Err)
	}
}

func (c *rawClient) createACL(path string, acl []wire.ACL) (string, wire.ReplyHeader) {
	c.t.Helper()
	var resp wire.PathRequest
	h := c.call(wire.OpCreate, &wire.CreateRequest{Path: path, ACL: acl}, &resp)
	return resp.Path, h
}

func TestSASLLoginAndACL(t *testing.T) {
	s := startSASL(t, true, nil)
	bob := connect(t, s)
	bob.saslLogin("bob", "bobsecret")
	if got, want := bob.whoAmI(), []wire.ClientInfo{{AuthScheme: "sasl", User: "bob"}, {AuthScheme: "ip", User: "127.0.0.1"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("whoAmI %+v", got)
	}
	if _, h := bob.createACL("/bob", saslACL("bob")); h.Err != wire.ErrOK {
		t.Fatalf("create: %v", h.Err)
	}
	// "auth" expands to the sasl id
	if _, h := bob.createACL("/auth", []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "auth"}}}); h.Err != wire.ErrOK {
		t.Fatalf("create auth: %v", h.Err)
	}
	var acl wire.GetACLResponse
	if h := bob.call(wire.OpGetACL, &wire.PathRequest{Path: "/auth"}, &acl); h.Err != wire.ErrOK || !reflect.DeepEqual(acl.ACL, saslACL("bob")) {
		t.Errorf("auth ACL: %v %+v", h.Err, acl.ACL)
	}
	// invalid sasl ids
	if _, h := bob.createACL("/bad", saslACL("a@b@c")); h.Err != wire.ErrInvalidACL {
		t.Errorf("malformed sasl id: %v", h.Err)
	}
	if _, h := bob.getData("/bob"); h.Err != wire.ErrOK {
		t.Errorf("bob reads his node: %v", h.Err)
	}
	anon := connect(t, s)
	if _, h := anon.getData("/bob"); h.Err != wire.ErrNoAuth {
		t.Errorf("anonymous read: %v", h.Err)
	}
	carol := connect(t, s)
	carol.saslLogin("carol", "c")
	if _, h := carol.getData("/bob"); h.Err != wire.ErrNoAuth {
		t.Errorf("carol reads bob's node: %v", h.Err)
	}
	// a SASL super user (zookeeper.superUser) passes every ACL
	s2 := startSASL(t, true, func(c *config.SASLConfig) { c.SuperUsers = []string{"super"} })
	b2 := connect(t, s2)
	b2.saslLogin("bob", "bobsecret")
	b2.createACL("/bob", saslACL("bob"))
	sup := connect(t, s2)
	sup.saslLogin("super", "adminsecret")
	if got := sup.whoAmI(); len(got) != 3 || got[0].AuthScheme != "super" {
		t.Errorf("super whoAmI %+v", got)
	}
	if _, h := sup.getData("/bob"); h.Err != wire.ErrOK {
		t.Errorf("super reads: %v", h.Err)
	}
}

func TestSASLWithoutProvider(t *testing.T) {
	// users but no SASLAuthenticationProvider: login works, whoAmI shows
	// no user name and the scheme is not an ACL scheme (as in ZooKeeper)
	s := startSASL(t, false, nil)
	c := connect(t, s)
	c.saslLogin("bob", "bobsecret")
	if got := c.whoAmI(); !reflect.DeepEqual(got[0], wire.ClientInfo{AuthScheme: "sasl", User: ""}) {
		t.Errorf("whoAmI %+v", got)
	}
	if _, h := c.createACL("/x", saslACL("bob")); h.Err != wire.ErrInvalidACL {
		t.Errorf("sasl ACL without provider: %v", h.Err)
	}
}

func TestSASLLetAnyUserDoX(t *testing.T) {
	s := startSASL(t, true, func(c *config.SASLConfig) { c.LetAnyUserDoX = "anyone-sasl" })
	c := connect(t, s)
	c.saslLogin("carol", "c")
	if _, h := c.createACL("/x", saslACL("anyone-sasl")); h.Err != wire.ErrOK {
		t.Fatal(h.Err)
	}
	b := connect(t, s)
	b.saslLogin("bob", "bobsecret")
	if _, h := b.getData("/x"); h.Err != wire.ErrOK {
		t.Errorf("letAnySaslUserDoX: %v", h.Err)
	}
	if _, h := connect(t, s).getData("/x"); h.Err != wire.ErrNoAuth {
		t.Errorf("anonymous: %v", h.Err)
	}
}

// saslFails sends tokens and expects the last one to be answered code with
// a null token, then the connection closed.
func saslFails(t *testing.T, c *rawClient, code wire.Err, tokens ...[]byte) {
	t.Helper()
	for i, tok := range tokens {
		xid := c.send(wire.OpSASL, &wire.BufferRecord{Data: tok})
		h, body, err := c.readReply()
		if err != nil || h.Xid != xid {
			t.Fatalf("token %d: %+v %v", i, h, err)
		}
		if i < len(tokens)-1 {
			if h.Err != wire.ErrOK {
				t.Fatalf("token %d refused: %v", i, h.Err)
			}
			continue
		}
		if h.Err != code || !bytes.Equal(body, []byte{0xff, 0xff, 0xff, 0xff}) {
			t.Fatalf("last token: %+v body %x, want %v and a null token", h, body, code)
		}
	}
	c.expectClosed()
}

// response returns a digest-response to a fresh challenge on c.
func respondTo(t *testing.T, c *rawClient, user, pw string) []byte {
	t.Helper()
	cl := &sasl.Client{User: user, Password: pw}
	_, ch := c.saslCall(cl.Start())
	r, err := cl.Next(ch)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSASLBadTokens(t *testing.T) {
	s := startSASL(t, true, nil)
	good := connect(t, s)
	good.saslLogin("bob", "bobsecret")
	good.createACL("/keep", saslACL("bob"))
	check := func(name string) {
		t.Helper()
		if _, h := good.getData("/keep"); h.Err != wire.ErrOK {
			t.Fatalf("after %s: good client: %v", name, h.Err)
		}
	}

	saslFails(t, connect(t, s), wire.ErrAuthFailed, []byte{}, []byte("\x00\x01 not directives \""))
	check("garbage response")
	c := connect(t, s)
	saslFails(t, c, wire.ErrAuthFailed, respondTo(t, c, "bob", "wrong"))
	check("wrong password")
	c = connect(t, s)
	saslFails(t, c, wire.ErrAuthFailed, respondTo(t, c, "mallory", "x"))
	check("unknown user")
	// a response recorded on one connection does not work on another
	rec := connect(t, s)
	replay := respondTo(t, rec, "bob", "bobsecret")
	saslFails(t, connect(t, s), wire.ErrAuthFailed, []byte{}, replay)
	check("replay")
	saslFails(t, connect(t, s), wire.ErrAuthFailed, bytes.Repeat([]byte("x"), sasl.MaxResponse+1))
	check("oversized")
	// a token after a completed exchange
	c = connect(t, s)
	c.saslLogin("bob", "bobsecret")
	saslFails(t, c, wire.ErrAuthFailed, []byte{})
	check("token after completion")
	// a body that is not a buffer: closed without a reply
	c = connect(t, s)
	c.writeRaw(wire.AppendFrame(nil, func(e *wire.Encoder) {
		(&wire.RequestHeader{Xid: 1, Type: wire.OpSASL}).Encode(e)
		e.B = binary.BigEndian.AppendUint32(e.B, 1000)
	}))
	if got := c.expectClosed(); len(got) != 0 {
		t.Errorf("undecodable SASL request answered %x", got)
	}
	check("undecodable")
	// a null token: closed without a reply, as ZooKeeper does
	c = connect(t, s)
	c.send(wire.OpSASL, &wire.BufferRecord{})
	if got := c.expectClosed(); len(got) != 0 {
		t.Errorf("null token answered %x", got)
	}
	check("null token")
	// an initial response (a GSSAPI token, say) is ignored: the challenge
	c = connect(t, s)
	if h, ch := c.saslCall([]byte("\x60\x82 GSSAPI")); h.Err != wire.ErrOK || !bytes.HasPrefix(ch, []byte("realm=")) {
		t.Errorf("initial response: %+v %q", h, ch)
	}
	// mntr's zk_auth_failed_count counts the refused logins, as ZooKeeper's
	if got := s.stats.authFailed.Load(); got != 6 {
		t.Errorf("auth_failed_count %d after 6 refused logins", got)
	}
}

func TestSASLAllowFailedClients(t *testing.T) {
	s := startSASL(t, true, func(c *config.SASLConfig) { c.AllowFailedClients = true })
	c := connect(t, s)
	if h, out := c.saslCall(respondTo(t, c, "bob", "wrong")); h.Err != wire.ErrOK || out != nil {
		t.Fatalf("failed exchange: %+v %q", h, out)
	}
	if got := c.whoAmI(); len(got) != 1 || got[0].AuthScheme != "ip" {
		t.Errorf("whoAmI after failure %+v", got)
	}
}

func TestSASLRequired(t *testing.T) {
	s := startSASL(t, true, func(c *config.SASLConfig) {
		c.EnforceAuth, c.EnforceAuthSchemes, c.AllowFailedClients = true, []string{"sasl"}, true
	})
	// a request before authenticating
	c := connect(t, s)
	xid := c.send(wire.OpGetData, &wire.PathWatchRequest{Path: "/"})
	if h, _, err := c.readReply(); err != nil || h.Xid != xid || h.Err != wire.ErrSessionClosedRequireSASLAuth {
		t.Fatalf("unauthenticated request: %+v %v", h, err)
	}
	c.expectClosed()
	// a failed exchange (allowSaslFailedClients does not apply)
	c = connect(t, s)
	saslFails(t, c, wire.ErrSessionClosedRequireSASLAuth, respondTo(t, c, "bob", "wrong"))
	// authenticated: served
	c = connect(t, s)
	c.saslLogin("bob", "bobsecret")
	if _, h := c.getData("/"); h.Err != wire.ErrOK {
		t.Errorf("authenticated request: %v", h.Err)
	}
}
