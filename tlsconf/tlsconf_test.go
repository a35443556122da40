package tlsconf

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/tlsconf/certgen"
)

func mustCert(t *testing.T, spec certgen.Spec, issuer *certgen.Cert) *certgen.Cert {
	t.Helper()
	c, err := certgen.New(spec, issuer)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ca(t *testing.T, name string) *certgen.Cert {
	return mustCert(t, certgen.Spec{Subject: pkix.Name{CommonName: name}, CA: true}, nil)
}

func leaf(t *testing.T, cn string, issuer *certgen.Cert) *certgen.Cert {
	t.Helper()
	c, err := certgen.Localhost(cn, issuer)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := certgen.WriteFile(p, data); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStoreType(t *testing.T) {
	for _, tt := range []struct{ typ, loc, want string }{
		{"", "/a/b.jks", TypeJKS}, {"", "k.pem", TypePEM}, {"", "k.p12", TypePKCS12},
		{"pkcs12", "k.pem", TypePKCS12}, {"Pem", "k", TypePEM}, {"", "k.pfx", ""}, {"", "k.PEM", ""},
		{"BCFKS", "k", ""}, {"", "k.bcfks", ""}, {"DER", "k.pem", ""},
	} {
		got, err := StoreType(tt.typ, tt.loc)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("StoreType(%q, %q) = %q, %v; want %q", tt.typ, tt.loc, got, err, tt.want)
		}
	}
}

func TestReadPassword(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "pw", []byte("s3cret\n"))
	if got, err := ReadPassword("other", p); err != nil || got != "s3cret" {
		t.Errorf("ReadPassword = %q, %v", got, err)
	}
	if got, _ := ReadPassword("direct", ""); got != "direct" {
		t.Errorf("ReadPassword without a file = %q", got)
	}
	if _, err := ReadPassword("", filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing password file gave no error")
	}
}

// TestKeyAndTrustStores reads every format, with and without passwords.
func TestKeyAndTrustStores(t *testing.T) {
	root := ca(t, "root")
	inter := mustCert(t, certgen.Spec{Subject: pkix.Name{CommonName: "intermediate"}, CA: true}, root)
	c := leaf(t, "server", inter)
	if len(c.Chain) != 2 {
		t.Fatalf("chain has %d certificates, want 2", len(c.Chain))
	}
	p12, err := c.PKCS12("pw")
	if err != nil {
		t.Fatal(err)
	}
	jks, err := c.JKS("changeit")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(c.Key)
	salt, iv := make([]byte, 16), make([]byte, 16)
	rand.Read(salt)
	rand.Read(iv)
	enc, err := encryptPKCS8(der, []byte("pempw"), salt, iv, 2048)
	if err != nil {
		t.Fatal(err)
	}
	encPEM := append(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: enc}), c.CertPEM()...)
	// the chain before the key, leaf last: the leaf is found by its key
	reversed := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: inter.Cert.Raw}), c.KeyPEM()...)
	reversed = append(reversed, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})...)

	for _, tt := range []struct {
		name, typ, pw string
		data          []byte
		wantErr       string
	}{
		{"pem", TypePEM, "", c.PEMKeyStore(), ""},
		{"pem reversed", TypePEM, "", reversed, ""},
		{"pem encrypted", TypePEM, "pempw", encPEM, ""},
		{"pem encrypted wrong password", TypePEM, "nope", encPEM, "wrong password"},
		{"pem no key", TypePEM, "", c.CertPEM(), "no private key"},
		{"pem no cert", TypePEM, "", c.KeyPEM(), "no certificate"},
		{"pkcs12", TypePKCS12, "pw", p12, ""},
		{"pkcs12 wrong password", TypePKCS12, "bad", p12, "PKCS12"},
		{"jks", TypeJKS, "changeit", jks, ""},
		{"jks wrong password", TypeJKS, "bad", jks, "JKS"},
		{"garbage", TypePKCS12, "", []byte("not a store"), "PKCS12"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := ParseKeyStore(tt.data, tt.typ, tt.pw)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !cert.Leaf.Equal(c.Cert) {
				t.Errorf("leaf is %q, want the server's", cert.Leaf.Subject)
			}
			if len(cert.Certificate) != 2 {
				t.Errorf("chain of %d, want 2", len(cert.Certificate))
			}
		})
	}

	tp12, err := certgen.TrustPKCS12("tpw", root, inter)
	if err != nil {
		t.Fatal(err)
	}
	tjks, err := certgen.TrustJKS("tpw", root, inter)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, typ, pw string
		data          []byte
		want          int
	}{
		{"pem", TypePEM, "", certgen.TrustPEM(root, inter), 2},
		{"pkcs12", TypePKCS12, "tpw", tp12, 2},
		{"pkcs12 with a key", TypePKCS12, "pw", p12, 2},
		{"jks", TypeJKS, "tpw", tjks, 2},
		{"jks with a key", TypeJKS, "changeit", jks, 2},
		{"empty pem", TypePEM, "", []byte("nothing"), 0},
	} {
		t.Run("trust "+tt.name, func(t *testing.T) {
			certs, err := ParseTrustStore(tt.data, tt.typ, tt.pw)
			if tt.want == 0 {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != tt.want {
				t.Errorf("%d certificates, want %d", len(certs), tt.want)
			}
		})
	}
}

// pair runs one handshake between a client and a server config over
// loopback and returns both sides' errors and states.
func pair(t *testing.T, server *tls.Config, client func(net.Addr) *tls.Config) (srvState tls.ConnectionState, srvErr, cliErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			srvErr = err
			return
		}
		defer c.Close()
		tc := tls.Server(c, server)
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		srvErr = tc.Handshake()
		if srvErr != nil {
			srvErr = errors.New("handshake: " + srvErr.Error())
		}
		if srvErr == nil {
			// read the client's byte so a client-side failure after the
			// server's Finished (TLS 1.3) shows up here too
			b := make([]byte, 1)
			if _, srvErr = tc.Read(b); srvErr == nil {
				_, srvErr = tc.Write(b)
			}
		}
		srvState = tc.ConnectionState()
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(raw, client(raw.RemoteAddr()))
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	cliErr = tc.Handshake()
	if cliErr == nil {
		if _, cliErr = tc.Write([]byte{1}); cliErr == nil {
			_, cliErr = tc.Read(make([]byte, 1))
		}
	}
	tc.Close()
	wg.Wait()
	return
}

type files struct{ key, trust string }

func pemFiles(t *testing.T, dir, prefix string, c *certgen.Cert, trusted ...*certgen.Cert) files {
	return files{
		key:   write(t, dir, prefix+"-key.pem", c.PEMKeyStore()),
		trust: write(t, dir, prefix+"-trust.pem", certgen.TrustPEM(trusted...)),
	}
}

func source(t *testing.T, f files, role Role, mod func(*config.TLSSettings)) *Source {
	t.Helper()
	set := config.TLSSettings{KeyStoreLocation: f.key, TrustStoreLocation: f.trust}
	if mod != nil {
		mod(&set)
	}
	s, err := New(set, Options{Role: role, LookupAddr: func(context.Context, string) ([]string, error) { return nil, errors.New("no DNS in tests") }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClientAuthModes(t *testing.T) {
	dir := t.TempDir()
	root := ca(t, "root")
	other := ca(t, "other")
	srv := pemFiles(t, dir, "srv", leaf(t, "server", root), root)
	good := pemFiles(t, dir, "good", leaf(t, "client", root), root)
	stranger := pemFiles(t, dir, "stranger", leaf(t, "stranger", other), root)
	expired := pemFiles(t, dir, "expired", mustCert(t, certgen.Spec{Subject: pkix.Name{CommonName: "old"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, root), root)
	noKey := files{trust: good.trust}

	for _, tt := range []struct {
		auth    string
		client  files
		ok      bool
		wantID  string
		wantErr string
	}{
		{"need", good, true, "CN=client,O=zkserver tests", ""},
		{"", good, true, "CN=client,O=zkserver tests", ""}, // need is the default
		{"need", noKey, false, "", "certificate"},
		{"need", stranger, false, "", "not trusted"},
		{"need", expired, false, "", "expired"},
		{"want", good, true, "CN=client,O=zkserver tests", ""},
		{"want", noKey, true, "", ""},
		{"want", stranger, false, "", "not trusted"},
		{"none", good, true, "", ""},
		{"none", stranger, true, "", ""},
	} {
		name := tt.auth + "/" + filepath.Base(tt.client.key)
		t.Run(name, func(t *testing.T) {
			s := source(t, srv, RoleClient, func(s *config.TLSSettings) { s.ClientAuth = tt.auth })
			c := source(t, tt.client, RoleClient, nil)
			st, srvErr, cliErr := pair(t, s.ServerConfig(), c.ClientConfig)
			if tt.ok {
				if srvErr != nil || cliErr != nil {
					t.Fatalf("server %v, client %v", srvErr, cliErr)
				}
				if got := PeerID(st); got != tt.wantID {
					t.Errorf("peer id %q, want %q", got, tt.wantID)
				}
				return
			}
			if srvErr == nil {
				t.Fatal("the server accepted the handshake")
			}
			if !strings.Contains(srvErr.Error(), tt.wantErr) {
				t.Errorf("server error %q, want it to mention %q", srvErr, tt.wantErr)
			}
		})
	}
}

func TestServerVerification(t *testing.T) {
	dir := t.TempDir()
	root, other := ca(t, "root"), ca(t, "other")
	noIP := pemFiles(t, dir, "noip", mustCert(t, certgen.Spec{Subject: pkix.Name{CommonName: "elsewhere"}, DNS: []string{"zk.example"}}, root), root)
	good := pemFiles(t, dir, "good", leaf(t, "server", root), root)
	cli := pemFiles(t, dir, "cli", leaf(t, "client", root), root)
	wrongCA := pemFiles(t, dir, "wrong", leaf(t, "client", root), other)

	// the client checks the server's address
	s := source(t, noIP, RoleClient, nil)
	_, _, cliErr := pair(t, s.ServerConfig(), source(t, cli, RoleClient, nil).ClientConfig)
	if cliErr == nil || !strings.Contains(cliErr.Error(), "does not name 127.0.0.1") {
		t.Errorf("client error %v, want a hostname verification failure", cliErr)
	}
	_, srvErr, cliErr := pair(t, s.ServerConfig(), source(t, cli, RoleClient, func(s *config.TLSSettings) { s.NoHostnameVerification = true }).ClientConfig)
	if srvErr != nil || cliErr != nil {
		t.Errorf("without hostname verification: server %v, client %v", srvErr, cliErr)
	}
	// a client trusting another CA refuses the server
	_, _, cliErr = pair(t, source(t, good, RoleClient, nil).ServerConfig(), source(t, wrongCA, RoleClient, nil).ClientConfig)
	if cliErr == nil || !strings.Contains(cliErr.Error(), "not trusted") {
		t.Errorf("client error %v, want not trusted", cliErr)
	}
	// quorum servers check the connecting peer's address too
	q := source(t, good, RoleQuorum, nil)
	_, srvErr, _ = pair(t, q.ServerConfig(), source(t, noIP, RoleQuorum, func(s *config.TLSSettings) { s.NoHostnameVerification = true }).ClientConfig)
	if srvErr == nil || !strings.Contains(srvErr.Error(), "does not name 127.0.0.1") {
		t.Errorf("quorum server error %v, want a hostname verification failure", srvErr)
	}
	// the client port does not
	_, srvErr, _ = pair(t, source(t, good, RoleClient, nil).ServerConfig(), source(t, noIP, RoleClient, func(s *config.TLSSettings) { s.NoHostnameVerification = true }).ClientConfig)
	if srvErr != nil {
		t.Errorf("client port server error %v, want none", srvErr)
	}
	// a reverse lookup name is accepted
	named := source(t, good, RoleQuorum, nil)
	named.opts.LookupAddr = func(context.Context, string) ([]string, error) { return []string{"zk.example."}, nil }
	_, srvErr, cliErr = pair(t, named.ServerConfig(), source(t, noIP, RoleQuorum, func(s *config.TLSSettings) { s.NoHostnameVerification = true }).ClientConfig)
	if srvErr != nil || cliErr != nil {
		t.Errorf("with a reverse lookup name: server %v, client %v", srvErr, cliErr)
	}
}

func TestProtocolsAndCiphers(t *testing.T) {
	dir := t.TempDir()
	root := ca(t, "root")
	srv := pemFiles(t, dir, "srv", leaf(t, "server", root), root)
	cli := pemFiles(t, dir, "cli", leaf(t, "client", root), root)
	s := source(t, srv, RoleClient, nil)
	st, srvErr, cliErr := pair(t, s.ServerConfig(), source(t, cli, RoleClient, nil).ClientConfig)
	if srvErr != nil || cliErr != nil {
		t.Fatalf("server %v, client %v", srvErr, cliErr)
	}
	if st.Version != tls.VersionTLS12 {
		t.Errorf("default protocol %x, want TLS 1.2 (ZooKeeper's default)", st.Version)
	}
	if name := tls.CipherSuiteName(st.CipherSuite); name != "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" {
		t.Errorf("cipher %s, want ZooKeeper's first default", name)
	}
	// a 1.3-only client cannot talk to the 1.2-only default server
	_, srvErr, _ = pair(t, s.ServerConfig(), source(t, cli, RoleClient, func(s *config.TLSSettings) { s.Protocol = "TLSv1.3" }).ClientConfig)
	if srvErr == nil {
		t.Error("TLSv1.3 client accepted by a TLSv1.2 server")
	}
	s13 := source(t, srv, RoleClient, func(s *config.TLSSettings) { s.EnabledProtocols = []string{"TLSv1.2", "TLSv1.3"} })
	st, srvErr, cliErr = pair(t, s13.ServerConfig(), source(t, cli, RoleClient, func(s *config.TLSSettings) { s.Protocol = "TLSv1.3" }).ClientConfig)
	if srvErr != nil || cliErr != nil || st.Version != tls.VersionTLS13 {
		t.Errorf("TLSv1.3: server %v, client %v, version %x", srvErr, cliErr, st.Version)
	}
	sCBC := source(t, srv, RoleClient, func(s *config.TLSSettings) {
		s.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"}
	})
	st, srvErr, cliErr = pair(t, sCBC.ServerConfig(), source(t, cli, RoleClient, nil).ClientConfig)
	if srvErr != nil || cliErr != nil || tls.CipherSuiteName(st.CipherSuite) != "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA" {
		t.Errorf("ciphersuites: server %v, client %v, suite %s", srvErr, cliErr, tls.CipherSuiteName(st.CipherSuite))
	}
	for _, bad := range []config.TLSSettings{
		{Protocol: "SSLv3"}, {EnabledProtocols: []string{"TLSv1.2", "TLSv9"}},
		{CipherSuites: []string{"TLS_NOT_A_SUITE"}}, {ClientAuth: "maybe"},
		{KeyStoreLocation: filepath.Join(dir, "missing.pem")},
		{KeyStoreLocation: filepath.Join(dir, "srv-key.pem"), KeyStoreType: "PKCS12"},
	} {
		if _, err := New(bad, Options{}); err == nil {
			t.Errorf("New(%+v) gave no error", bad)
		}
	}
}

// TestReload replaces the store files between handshakes.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	root1, root2 := ca(t, "root1"), ca(t, "root2")
	srvCert1, srvCert2 := leaf(t, "server-1", root1), leaf(t, "server-2", root2)
	srv := pemFiles(t, dir, "srv", srvCert1, root1)
	cli := pemFiles(t, dir, "cli", leaf(t, "client", root1), root1, root2)
	s := source(t, srv, RoleClient, nil)
	c := source(t, cli, RoleClient, nil)
	var seen string
	client := func(remote net.Addr) *tls.Config {
		cfg := c.ClientConfig(remote)
		verify := cfg.VerifyConnection
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			seen = cs.PeerCertificates[0].Subject.CommonName
			return verify(cs)
		}
		return cfg
	}
	if _, srvErr, cliErr := pair(t, s.ServerConfig(), client); srvErr != nil || cliErr != nil || seen != "server-1" {
		t.Fatalf("first: server %v, client %v, saw %q", srvErr, cliErr, seen)
	}
	// rotate the server's key store: the next handshake shows the new one
	write(t, dir, "srv-key.pem", srvCert2.PEMKeyStore())
	if _, srvErr, cliErr := pair(t, s.ServerConfig(), client); srvErr != nil || cliErr != nil || seen != "server-2" {
		t.Fatalf("after rotation: server %v, client %v, saw %q", srvErr, cliErr, seen)
	}
	// the client's certificate is from root1, which the server's trust
	// store keeps; replace it with root2 only: refused
	write(t, dir, "srv-trust.pem", certgen.TrustPEM(root2))
	if _, srvErr, _ := pair(t, s.ServerConfig(), client); srvErr == nil || !strings.Contains(srvErr.Error(), "not trusted") {
		t.Fatalf("after the trust store change: server %v, want not trusted", srvErr)
	}
	// a broken file keeps the old stores
	write(t, dir, "srv-key.pem", []byte("half written"))
	if _, err := s.Reload(); err == nil {
		t.Error("reloading a broken key store gave no error")
	}
	write(t, dir, "srv-trust.pem", certgen.TrustPEM(root1))
	if _, srvErr, cliErr := pair(t, s.ServerConfig(), client); srvErr != nil || cliErr != nil || seen != "server-2" {
		t.Fatalf("with a broken key store: server %v, client %v, saw %q (want the previous key)", srvErr, cliErr, seen)
	}
	// no reload when asked not to
	frozen, err := New(config.TLSSettings{KeyStoreLocation: filepath.Join(dir, "cli-key.pem")}, Options{NoReload: true})
	if err != nil {
		t.Fatal(err)
	}
	before := frozen.current().cert
	write(t, dir, "cli-key.pem", srvCert1.PEMKeyStore())
	if frozen.current().cert != before {
		t.Error("NoReload source reloaded")
	}
	if changed, err := frozen.Reload(); err != nil || !changed {
		t.Errorf("explicit Reload = %v, %v", changed, err)
	}
}

func TestSniffConn(t *testing.T) {
	dir := t.TempDir()
	root := ca(t, "root")
	srv := source(t, pemFiles(t, dir, "srv", leaf(t, "server", root), root), RoleClient, func(s *config.TLSSettings) {
		s.ClientAuth = "none"
		s.HandshakeDetectionTimeoutMs = 300
	})
	cli := source(t, pemFiles(t, dir, "cli", leaf(t, "client", root), root), RoleClient, nil)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewSniffListener(raw, srv, nil)
	defer ln.Close()
	type result struct {
		isTLS bool
		data  string
		err   error
	}
	results := make(chan result, 3)
	go func() {
		for i := 0; i < 3; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				sc := c.(*SniffConn)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				isTLS, err := sc.Detect()
				if err != nil {
					results <- result{err: err}
					return
				}
				b := make([]byte, 4)
				_, err = c.Read(b)
				if err == nil {
					c.Write([]byte("ok"))
				}
				results <- result{isTLS, string(b), err}
			}(c)
		}
	}()
	// plain
	pc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pc.Write([]byte("ruok"))
	if r := <-results; r.err != nil || r.isTLS || r.data != "ruok" {
		t.Errorf("plain: %+v", r)
	}
	pc.Close()
	// TLS
	tc, err := cli.Dial(context.Background(), &net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("stat"))
	if r := <-results; r.err != nil || !r.isTLS || r.data != "stat" {
		t.Errorf("TLS: %+v", r)
	}
	tc.Close()
	// silent: detection times out
	sc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	start := time.Now()
	r := <-results
	if r.err == nil {
		t.Errorf("silent client: %+v, want a timeout", r)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("detection took %v, want about the 300ms timeout", d)
	}
}

func TestQuorumListenDial(t *testing.T) {
	dir := t.TempDir()
	root := ca(t, "root")
	f := pemFiles(t, dir, "q", leaf(t, "server", root), root)
	for _, tt := range []struct {
		name               string
		ssl, unify         bool
		dialTLS, acceptTLS bool
	}{
		{"plain", false, false, false, false},
		{"ssl", true, false, true, true},
		{"ssl unified", true, true, true, true},
		{"unified only", false, true, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.SSLQuorum, cfg.QuorumPortUnification = tt.ssl, tt.unify
			cfg.QuorumTLS = config.TLSSettings{KeyStoreLocation: f.key, TrustStoreLocation: f.trust}
			q, err := ForQuorum(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if q2, _ := ForQuorum(cfg, nil); q2 != q {
				t.Error("ForQuorum built a second Quorum for the same config")
			}
			ln, err := q.Listen("tcp", "127.0.0.1:0", "election")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan string, 1)
			go func() {
				for i := 0; i < 2; i++ {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					b := make([]byte, 5)
					if _, err := io.ReadFull(c, b); err != nil {
						got <- err.Error()
					} else {
						got <- string(b)
					}
					c.Close()
				}
			}()
			c, err := q.Dial(context.Background(), &net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, isTLS := c.(*tls.Conn); isTLS != tt.dialTLS {
				t.Errorf("dialled TLS %v, want %v", isTLS, tt.dialTLS)
			}
			c.Write([]byte("hello"))
			if s := <-got; s != "hello" {
				t.Errorf("accepted side read %q", s)
			}
			// a plain peer against a TLS-only port fails; a unified port takes it
			if tt.ssl {
				pc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				pc.Write([]byte("hello"))
				s := <-got
				pc.Close()
				if tt.unify && s != "hello" {
					t.Errorf("unified port refused a plain peer: %q", s)
				}
				if !tt.unify && s == "hello" {
					t.Error("TLS-only port took a plain peer")
				}
			}
		})
	}
	cfg := config.Default()
	cfg.SSLQuorum = true
	if _, err := ForQuorum(cfg, nil); err == nil {
		t.Error("sslQuorum without a key store gave no error")
	}
}

func TestMain(m *testing.M) {
	os.Exit(m.Run())
}
