// Package tlstest checks client and quorum TLS end to end: zkserver with
// the go-zookeeper client over a TLS dialer, ZooKeeper's Java client
// (netty, zookeeper.client.secure=true), kazoo (use_ssl), bad clients
// (plain on the TLS port, expired or untrusted certificates), certificate
// reload, and a mixed ensemble with Apache ZooKeeper 3.8.0 and
// sslQuorum=true.
package tlstest

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/internal/testkit"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/tlsconf"
	"github.com/zkserver/zkserver/tlsconf/certgen"
)

const zkJar = testkit.ZKJar

// requireInterop skips the tests with other clients and servers (tens of
// seconds to minutes) unless ZKSERVER_TLS_INTEROP is set: make
// tls-interop (in .ci/run) runs them.
func requireInterop(t *testing.T) {
	t.Helper()
	if os.Getenv("ZKSERVER_TLS_INTEROP") == "" {
		t.Skip("TLS interop with Java, kazoo and ZooKeeper ensembles: run with make tls-interop (part of .ci/run)")
	}
}

// requireZK skips without java, javac or ZooKeeper's jar unless
// ZKSERVER_REQUIRE_ZK is set (then it fails).
func requireZK(t *testing.T) {
	t.Helper()
	requireInterop(t)
	testkit.RequireZK(t, true)
}

// pki is a test CA with server and client certificates, written as
// stores in dir.
type pki struct {
	dir    string
	ca     *certgen.Cert
	server *certgen.Cert
	// files by name: "server.pem" (key store), "ca.pem" (trust store), ...
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	var err error
	if p.ca, err = certgen.New(certgen.Spec{Subject: pkix.Name{CommonName: "zkserver test CA"}, CA: true}, nil); err != nil {
		t.Fatal(err)
	}
	if p.server, err = certgen.Localhost("server", p.ca); err != nil {
		t.Fatal(err)
	}
	p.write(t, "server.pem", p.server.PEMKeyStore())
	p.write(t, "ca.pem", certgen.TrustPEM(p.ca))
	return p
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func (p *pki) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	if err := certgen.WriteFile(p.path(name), data); err != nil {
		t.Fatal(err)
	}
	return p.path(name)
}

// client makes a client certificate named cn signed by the CA and
// returns the PEM key store's path.
func (p *pki) client(t *testing.T, cn string) string {
	t.Helper()
	c, err := certgen.Localhost(cn, p.ca)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, cn+".pem", c.PEMKeyStore())
}

// source is a client-side TLS source with the key store (may be "") and
// the CA as trust store.
func (p *pki) source(t *testing.T, keyStore string) *tlsconf.Source {
	t.Helper()
	s, err := tlsconf.New(config.TLSSettings{KeyStoreLocation: keyStore, TrustStoreLocation: p.path("ca.pem")}, tlsconf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serverConfig is a standalone configuration with the ssl.* keys of p.
func (p *pki) serverConfig(t *testing.T, mod func(*config.Config)) *config.Config {
	t.Helper()
	c := config.Default()
	c.DataDir = t.TempDir()
	c.ClientPortAddress = "127.0.0.1"
	c.ClientPort = 0
	c.FourLetterWords = map[string]bool{"ruok": true, "stat": true, "srvr": true}
	c.ClientTLS = config.TLSSettings{KeyStoreLocation: p.path("server.pem"), TrustStoreLocation: p.path("ca.pem")}
	if mod != nil {
		mod(c)
	}
	if c.SecureClientPort != 0 {
		c.SecureClientPortAddress = "127.0.0.1"
	}
	if c.ClientPort == 0 {
		c.ClientPortAddress = ""
	}
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	return c
}

// running is an in-process server.
type running struct {
	srv  *server.Server
	logs *observer.ObservedLogs
}

// startServer runs an in-memory server until the test ends.
func startServer(t *testing.T, cfg *config.Config) *running {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	srv := server.New(server.Options{Config: cfg, Logger: zap.New(core)})
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return &running{srv: srv, logs: logs}
}

func (r *running) secureAddr() string { return r.srv.SecureAddr().String() }
func (r *running) plainAddr() string  { return r.srv.Addr().String() }

// logged reports whether a log message containing msg was written.
func (r *running) logged(msg string) string {
	for _, e := range r.logs.All() {
		if strings.Contains(e.Message, msg) {
			var b strings.Builder
			b.WriteString(e.Message)
			for _, f := range e.Context {
				fmt.Fprintf(&b, " %s=%v", f.Key, fieldValue(f))
			}
			return b.String()
		}
	}
	return ""
}

func fieldValue(f zap.Field) any {
	if f.Interface != nil {
		return f.Interface
	}
	if f.String != "" {
		return f.String
	}
	return f.Integer
}

// tlsDialer is a go-zookeeper dialer over src.
func tlsDialer(src *tlsconf.Source) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		return src.Dial(context.Background(), &net.Dialer{Timeout: timeout}, network, address)
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// connect opens a go-zookeeper session with the dialer (nil: plain) and
// waits until it has a session, or fails the test.
func connect(t *testing.T, addr string, dialer zk.Dialer) *zk.Conn {
	t.Helper()
	c, err := connectErr(addr, dialer, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// connectErr is connect returning an error when no session is made
// within wait.
func connectErr(addr string, dialer zk.Dialer, wait time.Duration) (*zk.Conn, error) {
	var c *zk.Conn
	var events <-chan zk.Event
	var err error
	if dialer != nil {
		c, events, err = zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(quietLogger{}), zk.WithDialer(dialer))
	} else {
		c, events, err = zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(quietLogger{}))
	}
	if err != nil {
		return nil, err
	}
	deadline := time.After(wait)
	for {
		select {
		case e := <-events:
			if e.State == zk.StateHasSession {
				return c, nil
			}
		case <-deadline:
			c.Close()
			return nil, fmt.Errorf("no session with %s within %v", addr, wait)
		}
	}
}

// fourLetter sends a four-letter word over plain TCP.
func fourLetter(addr, word string) string {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := nc.Write([]byte(word)); err != nil {
		return ""
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(nc)
	return buf.String()
}

// certgenClient makes a client certificate named cn signed by p's CA.
func certgenClient(p *pki, cn string) (*certgen.Cert, error) { return certgen.Localhost(cn, p.ca) }

func TestMain(m *testing.M) { testkit.Main(m) }
