package sasl

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ZooKeeper's fixed DIGEST-MD5 names: the client's digest-uri is
// Protocol + "/" + ServerName and the realm is the server name.
const (
	Protocol   = "zookeeper"
	ServerName = "zk-sasl-md5"
)

// ErrIllegalState is returned for a token sent after the exchange ended
// (completed or failed).
var ErrIllegalState = errors.New("DIGEST-MD5: server at illegal state")

// ServerConfig configures a DIGEST-MD5 server exchange.
type ServerConfig struct {
	// Protocol and ServerName make the digest-uri the client must name;
	// ServerName is also the realm offered. Empty means ZooKeeper's
	// "zookeeper" and "zk-sasl-md5".
	Protocol, ServerName string
	// Password returns the password of a user; ok is false for an
	// unknown user.
	Password func(user string) (password string, ok bool)
	// Authorize maps the authenticated user and the authorization id the
	// client asked for ("" if none) to the id the session is granted; nil
	// grants the asked id, or the user when none was asked.
	Authorize func(user, authzid string) (string, error)
	// Rand is the source of nonces; nil means crypto/rand.
	Rand io.Reader
}

// Server is one DIGEST-MD5 exchange on the server side (one per client
// connection). It is not safe for concurrent use.
type Server struct {
	cfg      ServerConfig
	uri      string
	step     int // 1: expects the opening token, 3: the digest-response, 0: ended
	nonce    []byte
	complete bool
	user     string
	authz    string
}

// NewServer starts an exchange.
func NewServer(cfg ServerConfig) *Server {
	if cfg.Protocol == "" {
		cfg.Protocol = Protocol
	}
	if cfg.ServerName == "" {
		cfg.ServerName = ServerName
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Server{cfg: cfg, uri: cfg.Protocol + "/" + cfg.ServerName, step: 1}
}

// Complete reports whether the client was authenticated.
func (s *Server) Complete() bool { return s.complete }

// User is the authenticated user name ("" before completion).
func (s *Server) User() string {
	if !s.complete {
		return ""
	}
	return s.user
}

// AuthorizationID is the id the session is granted ("" before completion).
func (s *Server) AuthorizationID() string {
	if !s.complete {
		return ""
	}
	return s.authz
}

// Evaluate processes one client token and returns the server's next token.
// An error ends the exchange; the caller refuses the client.
func (s *Server) Evaluate(resp []byte) ([]byte, error) {
	if len(resp) > MaxResponse {
		return nil, fmt.Errorf("DIGEST-MD5: invalid digest response length %d (at most %d)", len(resp), MaxResponse)
	}
	switch s.step {
	case 1:
		// An initial response (RFC 2831 subsequent authentication, or a
		// token of another mechanism) is ignored and the challenge sent,
		// as the JDK 17 server under ZooKeeper does.
		nonce, err := newNonce(s.cfg.Rand)
		if err != nil {
			s.step = 0
			return nil, fmt.Errorf("DIGEST-MD5: nonce: %w", err)
		}
		s.nonce = nonce
		s.step = 3
		return s.challenge(), nil
	case 3:
		s.step = 0
		out, err := s.validate(resp)
		if err != nil {
			return nil, err
		}
		s.complete = true
		return out, nil
	}
	return nil, ErrIllegalState
}

// newNonce is 30 random bytes in base64 (40 characters), as the JDK makes
// them.
func newNonce(r io.Reader) ([]byte, error) {
	raw := make([]byte, 30)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, err
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(len(raw)))
	base64.StdEncoding.Encode(out, raw)
	return out, nil
}

func (s *Server) challenge() []byte {
	var b bytes.Buffer
	b.WriteString(`realm="`)
	b.Write(quote([]byte(s.cfg.ServerName)))
	b.WriteString(`",nonce="`)
	b.Write(quote(s.nonce))
	b.WriteString(`",charset=utf-8,algorithm=md5-sess`)
	return b.Bytes()
}

var responseKeys = []string{"username", "realm", "nonce", "cnonce", "nonce-count", "qop",
	"digest-uri", "response", "maxbuf", "charset", "cipher", "authzid", "auth-param"}

func (s *Server) validate(resp []byte) ([]byte, error) {
	ds, err := ParseDirectives(resp)
	if err != nil {
		return nil, fmt.Errorf("DIGEST-MD5: %w", err)
	}
	v, err := pick(ds, responseKeys...)
	if err != nil {
		return nil, fmt.Errorf("DIGEST-MD5: %w", err)
	}
	if cs, ok := v["charset"]; ok && string(cs) != "utf-8" {
		return nil, fmt.Errorf("DIGEST-MD5: incompatible charset %q", cs)
	}
	if mb, ok := v["maxbuf"]; ok {
		if _, err := strconv.ParseInt(string(mb), 10, 32); err != nil {
			return nil, fmt.Errorf("DIGEST-MD5: bad maxbuf %q", mb)
		}
	}
	userB, ok := v["username"]
	if !ok {
		return nil, errors.New("DIGEST-MD5: missing username")
	}
	user := javaUTF8(userB)
	realm := javaUTF8(v["realm"])
	if realm != s.cfg.ServerName {
		return nil, fmt.Errorf("DIGEST-MD5: nonexistent realm %q", realm)
	}
	nonce, ok := v["nonce"]
	if !ok {
		return nil, errors.New("DIGEST-MD5: missing nonce")
	}
	if !bytes.Equal(nonce, s.nonce) {
		return nil, errors.New("DIGEST-MD5: mismatched nonce")
	}
	cnonce, ok := v["cnonce"]
	if !ok {
		return nil, errors.New("DIGEST-MD5: missing cnonce")
	}
	// The JDK looks for "nonce-count" while clients send "nc", so the
	// count is never checked; the digest is computed with count 1, which
	// fails any other count sent.
	qop := "auth"
	if q, ok := v["qop"]; ok {
		qop = javaUTF8(q)
	}
	switch qop {
	case "auth":
	case "auth-int", "auth-conf":
		return nil, fmt.Errorf("DIGEST-MD5: server does not support qop %s", qop)
	default:
		return nil, fmt.Errorf("DIGEST-MD5: invalid qop %q", qop)
	}
	uriB, ok := v["digest-uri"]
	uri := javaUTF8(uriB)
	if !ok || !strings.EqualFold(uri, s.uri) {
		return nil, fmt.Errorf("DIGEST-MD5: mismatched digest-uri %q; expecting %q", uri, s.uri)
	}
	got, ok := v["response"]
	if !ok {
		return nil, errors.New("DIGEST-MD5: missing response")
	}
	authzB, hasAuthz := v["authzid"]
	authz := user
	if hasAuthz {
		authz = javaUTF8(authzB)
	} else {
		authzB = nil
	}
	pw, ok := "", false
	if s.cfg.Password != nil {
		pw, ok = s.cfg.Password(user)
	}
	if !ok {
		return nil, fmt.Errorf("DIGEST-MD5: cannot acquire password for %s in realm %s", user, realm)
	}
	want := ResponseValue("AUTHENTICATE", uri, user, realm, pw, s.nonce, cnonce, authzB)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return nil, errors.New("DIGEST-MD5: mismatched response")
	}
	id := authz
	if s.cfg.Authorize != nil {
		if !hasAuthz {
			authz = ""
		}
		if id, err = s.cfg.Authorize(user, authz); err != nil {
			return nil, err
		}
	}
	s.user, s.authz = user, id
	rsp := ResponseValue("", uri, user, realm, pw, s.nonce, cnonce, authzB)
	return append([]byte("rspauth="), rsp...), nil
}

// javaUTF8 decodes bytes as UTF-8 with each malformed byte replaced by
// U+FFFD (close to Java's new String(b, UTF_8)).
func javaUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// latin1 encodes s in ISO-8859-1 when every character fits, else in
// UTF-8 (RFC 2831's rule for user names, realms and passwords).
func latin1(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return []byte(s)
		}
		out = append(out, byte(r))
	}
	return out
}

// ResponseValue computes RFC 2831's response-value for qop "auth" and
// nonce count 1: method is "AUTHENTICATE" for the client's response and
// "" for the server's rspauth. authzid nil means none was sent.
func ResponseValue(method, uri, user, realm, password string, nonce, cnonce, authzid []byte) []byte {
	a2 := md5.Sum([]byte(method + ":" + uri))
	var k bytes.Buffer
	k.Write(latin1(user))
	k.WriteByte(':')
	k.Write(latin1(realm))
	k.WriteByte(':')
	k.Write(latin1(password))
	h := md5.Sum(k.Bytes())
	var a1 bytes.Buffer
	a1.Write(h[:])
	a1.WriteByte(':')
	a1.Write(nonce)
	a1.WriteByte(':')
	a1.Write(cnonce)
	if authzid != nil {
		a1.WriteByte(':')
		a1.Write(authzid)
	}
	ha1 := md5.Sum(a1.Bytes())
	var kd bytes.Buffer
	kd.WriteString(hex.EncodeToString(ha1[:]))
	kd.WriteByte(':')
	kd.Write(nonce)
	kd.WriteString(":00000001:")
	kd.Write(cnonce)
	kd.WriteString(":auth:")
	kd.WriteString(hex.EncodeToString(a2[:]))
	sum := md5.Sum(kd.Bytes())
	return []byte(hex.EncodeToString(sum[:]))
}
