package tlstest

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/internal/testkit"
	"github.com/zkserver/zkserver/tlsconf/certgen"
)

const clientID = "CN=client,O=zkserver tests"

// authID returns the x509 id the server gave the session: it creates a
// node with the "auth" ACL (expanded to the caller's authenticated ids)
// and reads the ACL back. "" if the session has none.
func authID(t *testing.T, c *zk.Conn, path string) string {
	t.Helper()
	_, err := c.Create(path, nil, 0, zk.AuthACL(zk.PermAll))
	if errors.Is(err, zk.ErrInvalidACL) {
		return ""
	}
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	acl, _, err := c.GetACL(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range acl {
		ids = append(ids, a.Scheme+":"+a.ID)
	}
	return strings.Join(ids, ",")
}

// TestGoClientNeed: clientAuth=need (the default) on secureClientPort.
func TestGoClientNeed(t *testing.T) {
	p := newPKI(t)
	r := startServer(t, p.serverConfig(t, func(c *config.Config) { c.SecureClientPort = testkit.FreePort(t); c.ClientPort = testkit.FreePort(t) }))
	client := connect(t, r.secureAddr(), tlsDialer(p.source(t, p.client(t, "client"))))
	if id := authID(t, client, "/mine"); id != "x509:"+clientID {
		t.Fatalf("auth ACL is %q, want x509:%s", id, clientID)
	}
	if _, err := client.Set("/mine", []byte("v"), -1); err != nil {
		t.Fatal(err)
	}
	// another certificate is another id: no access
	other := connect(t, r.secureAddr(), tlsDialer(p.source(t, p.client(t, "other"))))
	if _, _, err := other.Get("/mine"); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("other client's get: %v, want ErrNoAuth", err)
	}
	// an explicit x509 ACL
	if _, err := client.Create("/shared", []byte("s"), 0, []zk.ACL{{Perms: zk.PermRead, Scheme: "x509", ID: "CN=other,O=zkserver tests"}}); err != nil {
		t.Fatal(err)
	}
	if d, _, err := other.Get("/shared"); err != nil || string(d) != "s" {
		t.Errorf("other's get of /shared: %q, %v", d, err)
	}
	if _, err := client.Create("/bad", nil, 0, []zk.ACL{{Perms: zk.PermRead, Scheme: "x509", ID: "not a name"}}); !errors.Is(err, zk.ErrInvalidACL) {
		t.Errorf("x509 ACL with a malformed name: %v, want ErrInvalidACL", err)
	}
	// the plain port serves plain clients
	plain := connect(t, r.plainAddr(), nil)
	if _, _, err := plain.Get("/shared"); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("plain client's get: %v, want ErrNoAuth", err)
	}
	// four-letter words over TLS
	tc, err := p.source(t, p.client(t, "client")).Dial(context.Background(), &net.Dialer{Timeout: 5 * time.Second}, "tcp", r.secureAddr())
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("ruok"))
	tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(tc)
	tc.Close()
	if string(b) != "imok" {
		t.Errorf("ruok over TLS: %q", b)
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e, ok := v.(error); ok {
		return e.Error()
	}
	return ""
}

func waitLogged(t *testing.T, r *running, msg string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.logged(msg) == "" {
		if time.Now().After(deadline) {
			t.Fatalf("nothing logged like %q", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClientAuthWantAndNone.
func TestClientAuthWantAndNone(t *testing.T) {
	p := newPKI(t)
	want := startServer(t, p.serverConfig(t, func(c *config.Config) {
		c.SecureClientPort = testkit.FreePort(t)
		c.ClientPort = testkit.FreePort(t)
		c.ClientTLS.ClientAuth = "want"
	}))
	anon := connect(t, want.secureAddr(), tlsDialer(p.source(t, "")))
	if id := authID(t, anon, "/anon"); id != "" {
		t.Errorf("want, no certificate: auth ACL %q, want none", id)
	}
	named := connect(t, want.secureAddr(), tlsDialer(p.source(t, p.client(t, "client"))))
	if id := authID(t, named, "/named"); id != "x509:"+clientID {
		t.Errorf("want, certificate: auth ACL %q", id)
	}
	none := startServer(t, p.serverConfig(t, func(c *config.Config) {
		c.SecureClientPort = testkit.FreePort(t)
		c.ClientPort = testkit.FreePort(t)
		c.ClientTLS.ClientAuth = "none"
	}))
	c := connect(t, none.secureAddr(), tlsDialer(p.source(t, p.client(t, "client"))))
	if id := authID(t, c, "/x"); id != "" {
		t.Errorf("none: auth ACL %q, want none (no certificate is asked for)", id)
	}
}

// TestSuperUser: X509AuthenticationProvider.superUser names a subject
// that may do anything.
func TestSuperUser(t *testing.T) {
	p := newPKI(t)
	r := startServer(t, p.serverConfig(t, func(c *config.Config) {
		c.SecureClientPort = testkit.FreePort(t)
		c.ClientPort = testkit.FreePort(t)
		c.X509SuperUser = "CN=admin,O=zkserver tests"
	}))
	c := connect(t, r.secureAddr(), tlsDialer(p.source(t, p.client(t, "client"))))
	if _, err := c.Create("/private", []byte("p"), 0, zk.AuthACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	admin := connect(t, r.secureAddr(), tlsDialer(p.source(t, p.client(t, "admin"))))
	if d, _, err := admin.Get("/private"); err != nil || string(d) != "p" {
		t.Errorf("super user's get: %q, %v", d, err)
	}
}

// TestPortUnification: client.portUnification takes TLS and plain
// clients (and four-letter words) on the plain port.
func TestPortUnification(t *testing.T) {
	p := newPKI(t)
	r := startServer(t, p.serverConfig(t, func(c *config.Config) {
		c.ClientPort = testkit.FreePort(t)
		c.ClientPortUnification = true
	}))
	if r.srv.SecureAddr() != nil {
		t.Error("a secure port without secureClientPort")
	}
	secure := connect(t, r.plainAddr(), tlsDialer(p.source(t, p.client(t, "client"))))
	if id := authID(t, secure, "/t"); id != "x509:"+clientID {
		t.Errorf("TLS on the unified port: auth ACL %q", id)
	}
	plain := connect(t, r.plainAddr(), nil)
	if _, _, err := plain.Get("/t"); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("plain on the unified port: %v, want ErrNoAuth", err)
	}
	if got := fourLetter(r.plainAddr(), "ruok"); got != "imok" {
		t.Errorf("ruok on the unified port: %q", got)
	}
}

// TestSecureOnly: clientPort unset, only secureClientPort.
func TestSecureOnly(t *testing.T) {
	p := newPKI(t)
	cfg := p.serverConfig(t, func(c *config.Config) {
		c.ClientPort = 0
		c.SecureClientPort = testkit.FreePort(t)
		c.Raw["secureClientPort"] = strconv.Itoa(c.SecureClientPort)
	})
	r := startServer(t, cfg)
	c := connect(t, r.secureAddr(), tlsDialer(p.source(t, p.client(t, "client"))))
	if _, err := c.Create("/only", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if r.logged("running without a client port") == "" {
		t.Error("a plain client port was bound")
	}
}

// TestHotReload: replacing the key and trust store files changes what new
// handshakes use; sessions already open keep going.
func TestHotReload(t *testing.T) {
	p := newPKI(t)
	r := startServer(t, p.serverConfig(t, func(c *config.Config) { c.SecureClientPort = testkit.FreePort(t); c.ClientPort = testkit.FreePort(t) }))
	serverCN := func() string {
		var cn string
		src := p.source(t, p.client(t, "client"))
		c, err := src.Dial(context.Background(), &net.Dialer{Timeout: 5 * time.Second}, "tcp", r.secureAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cn = c.ConnectionState().PeerCertificates[0].Subject.CommonName
		return cn
	}
	if cn := serverCN(); cn != "server" {
		t.Fatalf("server certificate %q", cn)
	}
	old := connect(t, r.secureAddr(), tlsDialer(p.source(t, p.client(t, "client"))))
	rotated, err := certgen.Localhost("server-rotated", p.ca)
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, "server.pem", rotated.PEMKeyStore())
	if cn := serverCN(); cn != "server-rotated" {
		t.Errorf("after rotation the server shows %q", cn)
	}
	if _, err := old.Create("/still", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("the session opened before the rotation: %v", err)
	}
	// a new client CA: refused until the trust store names it
	newCA, _ := certgen.New(certgen.Spec{Subject: pkix.Name{CommonName: "new CA"}, CA: true}, nil)
	newClient, _ := certgen.Localhost("client", newCA)
	newKS := p.write(t, "newclient.pem", newClient.PEMKeyStore())
	if c, err := connectErr(r.secureAddr(), tlsDialer(p.source(t, newKS)), 2*time.Second); err == nil {
		c.Close()
		t.Error("a client of the new CA was served before the trust store named it")
	}
	p.write(t, "ca.pem", certgen.TrustPEM(p.ca, newCA))
	c := connect(t, r.secureAddr(), tlsDialer(p.source(t, newKS)))
	if _, _, err := c.Get("/still"); err != nil {
		t.Errorf("client of the new CA: %v", err)
	}
	waitLogged(t, r, "reloaded TLS stores")
}

// TestConfReportsSecurePort: conf prints the bound secure port.
func TestConfReportsSecurePort(t *testing.T) {
	p := newPKI(t)
	port := testkit.FreePort(t)
	r := startServer(t, p.serverConfig(t, func(c *config.Config) {
		c.SecureClientPort = port
		c.ClientPort = testkit.FreePort(t)
		c.FourLetterWords["conf"] = true
	}))
	if got := fourLetter(r.plainAddr(), "conf"); !strings.Contains(got, "secureClientPort="+strconv.Itoa(port)+"\n") {
		t.Errorf("conf:\n%s", got)
	}
}

// TestSecureConnectionsListedApart: the AdminServer's cons lists clients of
// secureClientPort as secure_connections, plain ones (and TLS ones on a
// unified plain port) as connections, as ZooKeeper's two factories do.
func TestSecureConnectionsListedApart(t *testing.T) {
	p := newPKI(t)
	r := startServer(t, p.serverConfig(t, func(c *config.Config) {
		c.ClientPort = testkit.FreePort(t)
		c.SecureClientPort = testkit.FreePort(t)
	}))
	connect(t, r.secureAddr(), tlsDialer(p.source(t, p.client(t, "client"))))
	connect(t, r.plainAddr(), nil)
	connect(t, r.plainAddr(), nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		plain, secure := len(r.srv.Connections(true)), len(r.srv.SecureConnections(true))
		if plain == 2 && secure == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections %d, secure_connections %d; want 2 and 1", plain, secure)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
