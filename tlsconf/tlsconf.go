// Package tlsconf builds TLS configurations from ZooKeeper's ssl.* and
// ssl.quorum.* keys (config.TLSSettings): key and trust stores of type
// PEM, PKCS12 or JKS, client authentication none/want/need, protocols and
// cipher suites, and hostname verification as ZooKeeper's ZKTrustManager
// does it (the peer's certificate must name the IP address connected to,
// or a name that address resolves back to).
//
// A Source reloads its stores when their files change: every handshake
// first reads the files (they are small) and parses them again only when
// their contents changed. A store that fails to load keeps the previous
// one in use (and is logged).
package tlsconf

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
)

// Role says which side of the verification a Source's settings describe.
type Role int

const (
	// RoleClient is the client port (ClientX509Util): the server does not check
	// the connecting client's address against its certificate.
	RoleClient Role = iota
	// RoleQuorum is server-to-server traffic (QuorumX509Util): with hostname
	// verification on, both ends check the other's address.
	RoleQuorum
)

// DefaultCipherSuites is ZooKeeper's list for Java 9 and later (GCM first,
// then CBC); those Go does not implement are skipped.
var DefaultCipherSuites = []string{
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
}

// DefaultHandshakeDetectionTimeout is ZooKeeper's default for
// handshakeDetectionTimeoutMillis.
const DefaultHandshakeDetectionTimeout = 5 * time.Second

// Options tune a Source beyond the settings.
type Options struct {
	Role   Role
	Logger *zap.Logger
	// Prefix names the keys in messages: "ssl." or "ssl.quorum.".
	Prefix string
	// Now is the clock certificates are checked against; nil = time.Now.
	Now func() time.Time
	// NoReload turns off reloading on file changes.
	NoReload bool
	// LookupAddr resolves an address back to names for hostname
	// verification; nil = net.DefaultResolver.LookupAddr.
	LookupAddr func(ctx context.Context, addr string) ([]string, error)
}

// Source hands out TLS configurations for one set of settings.
type Source struct {
	set  config.TLSSettings
	opts Options
	log  *zap.Logger

	minVer, maxVer uint16
	suites         []uint16
	clientAuth     string // none, want, need
	detect         time.Duration

	mu      sync.Mutex
	cur     material
	keySt   fileStamp
	trustSt fileStamp
}

// material is what the stores hold.
type material struct {
	cert  *tls.Certificate // nil without a key store
	roots *x509.CertPool   // nil: the system's roots
}

type fileStamp struct {
	sum [32]byte
}

// New checks the settings and loads the stores.
func New(set config.TLSSettings, opts Options) (*Source, error) {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Prefix == "" {
		opts.Prefix = "ssl."
		if opts.Role == RoleQuorum {
			opts.Prefix = "ssl.quorum."
		}
	}
	if opts.LookupAddr == nil {
		opts.LookupAddr = net.DefaultResolver.LookupAddr
	}
	s := &Source{set: set, opts: opts, log: opts.Logger}
	var err error
	if s.minVer, s.maxVer, err = protocols(set); err != nil {
		return nil, fmt.Errorf("%s%w", opts.Prefix, err)
	}
	if s.suites, err = cipherSuites(set.CipherSuites); err != nil {
		return nil, fmt.Errorf("%sciphersuites: %w", opts.Prefix, err)
	}
	switch s.clientAuth = strings.ToLower(set.ClientAuth); s.clientAuth {
	case "":
		s.clientAuth = "need"
	case "none", "want", "need":
	default:
		return nil, fmt.Errorf("%sclientAuth: %q is not one of none, want, need", opts.Prefix, set.ClientAuth)
	}
	s.detect = DefaultHandshakeDetectionTimeout
	if set.HandshakeDetectionTimeoutMs > 0 {
		s.detect = time.Duration(set.HandshakeDetectionTimeoutMs) * time.Millisecond
	}
	if _, err := s.reload(true); err != nil {
		return nil, err
	}
	return s, nil
}

// HasKey reports whether a key store is configured (a server needs one).
func (s *Source) HasKey() bool { return s.set.KeyStoreLocation != "" }

// ClientAuth is "none", "want" or "need".
func (s *Source) ClientAuth() string { return s.clientAuth }

// DetectTimeout is the handshake detection timeout of unified ports.
func (s *Source) DetectTimeout() time.Duration { return s.detect }

// Reload checks the store files now and reloads what changed. It reports
// whether anything was reloaded.
func (s *Source) Reload() (bool, error) { return s.reload(false) }

// current returns the stores in use, reloading changed files first.
func (s *Source) current() material {
	if !s.opts.NoReload {
		if _, err := s.reload(false); err != nil {
			s.log.Warn("TLS stores changed but could not be reloaded; the previous ones stay in use", zap.Error(err))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

func (s *Source) reload(first bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// each store is replaced on its own: a broken key store does not hold
	// back a good new trust store
	keyChanged, keyErr := s.reloadKey(first)
	trustChanged, trustErr := s.reloadTrust(first)
	changed := keyChanged || trustChanged
	if changed && !first {
		s.log.Info("reloaded TLS stores", zap.String("keys", s.opts.Prefix+"*"),
			zap.Bool("keyStore", keyChanged), zap.Bool("trustStore", trustChanged))
	}
	if keyErr != nil {
		return changed, keyErr
	}
	return changed, trustErr
}

func (s *Source) reloadKey(first bool) (bool, error) {
	loc := s.set.KeyStoreLocation
	if loc == "" {
		return false, nil
	}
	data, st, ok, err := readIfChanged(loc, s.keySt, first)
	if err != nil {
		return false, fmt.Errorf("%skeyStore.location: %w", s.opts.Prefix, err)
	}
	if !ok {
		s.keySt = st
		return false, nil
	}
	typ, err := StoreType(s.set.KeyStoreType, loc)
	if err != nil {
		return false, fmt.Errorf("%skeyStore.type: %w", s.opts.Prefix, err)
	}
	pw, err := ReadPassword(s.set.KeyStorePassword, s.set.KeyStorePasswordPath)
	if err != nil {
		return false, fmt.Errorf("%skeyStore.passwordPath: %w", s.opts.Prefix, err)
	}
	cert, err := ParseKeyStore(data, typ, pw)
	if err != nil {
		return false, fmt.Errorf("%skeyStore.location %s: %w", s.opts.Prefix, loc, err)
	}
	s.cur.cert, s.keySt = cert, st
	return true, nil
}

func (s *Source) reloadTrust(first bool) (bool, error) {
	loc := s.set.TrustStoreLocation
	if loc == "" {
		if first {
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			s.cur.roots = pool
		}
		return false, nil
	}
	data, st, ok, err := readIfChanged(loc, s.trustSt, first)
	if err != nil {
		return false, fmt.Errorf("%strustStore.location: %w", s.opts.Prefix, err)
	}
	if !ok {
		s.trustSt = st
		return false, nil
	}
	typ, err := StoreType(s.set.TrustStoreType, loc)
	if err != nil {
		return false, fmt.Errorf("%strustStore.type: %w", s.opts.Prefix, err)
	}
	pw, err := ReadPassword(s.set.TrustStorePassword, s.set.TrustStorePasswordPath)
	if err != nil {
		return false, fmt.Errorf("%strustStore.passwordPath: %w", s.opts.Prefix, err)
	}
	certs, err := ParseTrustStore(data, typ, pw)
	if err != nil {
		return false, fmt.Errorf("%strustStore.location %s: %w", s.opts.Prefix, loc, err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	s.cur.roots, s.trustSt = pool, st
	return true, nil
}

// readIfChanged reads the file and reports whether its contents differ
// from st's (always true with force). The contents are compared, not the
// modification time, whose granularity can hide a quick rewrite; store
// files are small.
func readIfChanged(path string, st fileStamp, force bool) ([]byte, fileStamp, bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, st, false, err
	}
	next := fileStamp{sum: sha256.Sum256(data)}
	if !force && next.sum == st.sum {
		return nil, next, false, nil
	}
	return data, next, true, nil
}

func protocols(set config.TLSSettings) (uint16, uint16, error) {
	names := set.EnabledProtocols
	key := "enabledProtocols"
	if names == nil {
		p := set.Protocol
		if p == "" {
			p = "TLSv1.2"
		}
		names, key = []string{p}, "protocol"
	}
	var lo, hi uint16
	for _, n := range names {
		var v, v2 uint16
		switch strings.TrimSpace(n) {
		case "TLSv1":
			v = tls.VersionTLS10
		case "TLSv1.1":
			v = tls.VersionTLS11
		case "TLSv1.2":
			v = tls.VersionTLS12
		case "TLSv1.3":
			v = tls.VersionTLS13
		case "TLS":
			v, v2 = tls.VersionTLS12, tls.VersionTLS13
		default:
			return 0, 0, fmt.Errorf("%s: %q is not a supported protocol (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)", key, n)
		}
		if v2 == 0 {
			v2 = v
		}
		if lo == 0 || v < lo {
			lo = v
		}
		if v2 > hi {
			hi = v2
		}
	}
	if lo == 0 {
		return 0, 0, fmt.Errorf("%s: no protocol", key)
	}
	return lo, hi, nil
}

func cipherSuites(names []string) ([]uint16, error) {
	if names == nil {
		names = DefaultCipherSuites
	}
	byName := map[string]uint16{}
	for _, c := range tls.CipherSuites() {
		byName[c.Name] = c.ID
	}
	for _, c := range tls.InsecureCipherSuites() {
		byName[c.Name] = c.ID
	}
	var ids []uint16
	tls13 := false
	for _, n := range names {
		n = strings.TrimSpace(n)
		if id, ok := byName[n]; ok {
			ids = append(ids, id)
			continue
		}
		switch n {
		case "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256":
			// TLS 1.3 suites: Go always offers them with TLS 1.3
			tls13 = true
		}
	}
	if len(ids) == 0 && !tls13 {
		return nil, fmt.Errorf("none of %q is a cipher suite Go implements", names)
	}
	return ids, nil
}

// base is the part of every configuration that does not depend on the
// stores or the peer.
func (s *Source) base() *tls.Config {
	return &tls.Config{
		MinVersion:    s.minVer,
		MaxVersion:    s.maxVer,
		CipherSuites:  s.suites,
		Renegotiation: tls.RenegotiateNever,
		Time:          s.opts.Now,
	}
}

// ServerConfig returns the configuration for accepting connections. Each
// handshake takes the current stores; the client's certificate is checked
// against the trust store (and, for Quorum with hostname verification,
// against the client's address).
func (s *Source) ServerConfig() *tls.Config {
	cfg := s.base()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		m := s.current()
		c := s.base()
		if m.cert != nil {
			c.Certificates = []tls.Certificate{*m.cert}
		}
		switch s.clientAuth {
		case "none":
			c.ClientAuth = tls.NoClientCert
		case "want":
			c.ClientAuth = tls.RequestClientCert
		default:
			c.ClientAuth = tls.RequireAnyClientCert
		}
		var remote net.Addr
		if hello.Conn != nil {
			remote = hello.Conn.RemoteAddr()
		}
		verifyHost := s.opts.Role == RoleQuorum && !s.set.NoHostnameVerification
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil // none asked for, or "want" and none given
			}
			return s.verify(cs.PeerCertificates, m.roots, x509.ExtKeyUsageClientAuth, remote, verifyHost)
		}
		return c, nil
	}
	return cfg
}

// ClientConfig returns the configuration for connecting to remote (the
// address dialled, used for hostname verification): our certificate from
// the key store, the server's checked against the trust store.
func (s *Source) ClientConfig(remote net.Addr) *tls.Config {
	m := s.current()
	c := s.base()
	// the chain and the host are checked in VerifyConnection, the way
	// ZooKeeper checks them (by address, not by the name dialled)
	c.InsecureSkipVerify = true
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if m.cert == nil {
			return &tls.Certificate{}, nil
		}
		return m.cert, nil
	}
	verifyHost := !s.set.NoHostnameVerification
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		return s.verify(cs.PeerCertificates, m.roots, x509.ExtKeyUsageServerAuth, remote, verifyHost)
	}
	return c
}

// Dial connects to addr over TCP with d and runs the TLS handshake (within
// d.Timeout, if set).
func (s *Source) Dial(ctx context.Context, d *net.Dialer, network, addr string) (*tls.Conn, error) {
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	tc := tls.Client(raw, s.ClientConfig(raw.RemoteAddr()))
	hctx := ctx
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// verify checks a peer's chain against roots for the usage, its validity
// period against the clock, and, with verifyHost, that the leaf names the
// peer's address.
func (s *Source) verify(chain []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage, remote net.Addr, verifyHost bool) error {
	if len(chain) == 0 {
		return errors.New("the peer sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: s.opts.Now(), KeyUsages: []x509.ExtKeyUsage{usage}}
	if _, err := chain[0].Verify(opts); err != nil {
		return fmt.Errorf("certificate %q not trusted: %w", subject(chain[0]), err)
	}
	if verifyHost {
		return s.verifyHost(chain[0], remote)
	}
	return nil
}

// verifyHost is ZooKeeper's ZKTrustManager.performHostVerification: the
// certificate must match the peer's IP address, or else a name found by
// a reverse lookup of it.
func (s *Source) verifyHost(leaf *x509.Certificate, remote net.Addr) error {
	ta, ok := remote.(*net.TCPAddr)
	if !ok || ta == nil {
		return errors.New("hostname verification: no peer address")
	}
	ip := ta.IP.String()
	if leaf.VerifyHostname(ip) == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names, _ := s.opts.LookupAddr(ctx, ip)
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		if leaf.VerifyHostname(n) == nil {
			return nil
		}
		// Java's verifier falls back to the common name when the
		// certificate has no DNS names
		if len(leaf.DNSNames) == 0 && strings.EqualFold(leaf.Subject.CommonName, n) {
			return nil
		}
	}
	return fmt.Errorf("hostname verification: certificate %q does not name %s (nor %v); set %shostnameVerification=false to skip this check",
		subject(leaf), ip, names, s.opts.Prefix)
}

func subject(c *x509.Certificate) string {
	if n, err := JavaName(c.RawSubject); err == nil {
		return n
	}
	return c.Subject.String()
}

// PeerID returns the x509 id of a verified TLS connection: the subject of
// the peer's certificate as Java prints it, "" if it sent none.
func PeerID(cs tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return ""
	}
	return subject(cs.PeerCertificates[0])
}
