package sasl

import (
	"bytes"
	"strings"
	"testing"
)

// fixedRand yields the same byte forever (deterministic nonces).
type fixedRand byte

func (f fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f)
	}
	return len(p), nil
}

func TestResponseValueRFC2831(t *testing.T) {
	// the example of RFC 2831 section 4
	nonce, cnonce := []byte("OA6MG9tEQGm2hh"), []byte("OA6MHXh6VqTrRk")
	got := ResponseValue("AUTHENTICATE", "imap/elwood.innosoft.com", "chris", "elwood.innosoft.com", "secret", nonce, cnonce, nil)
	if string(got) != "d388dad90d4bbd760a152321f2143af7" {
		t.Errorf("response = %s", got)
	}
	got = ResponseValue("", "imap/elwood.innosoft.com", "chris", "elwood.innosoft.com", "secret", nonce, cnonce, nil)
	if string(got) != "ea40f60335c427b5527b84dbabcdfffd" {
		t.Errorf("rspauth = %s", got)
	}
}

func users(m map[string]string) func(string) (string, bool) {
	return func(u string) (string, bool) { p, ok := m[u]; return p, ok }
}

func newTestServer() *Server {
	return NewServer(ServerConfig{Password: users(map[string]string{"bob": "secret", "süper": "pässword", "alice@EXAMPLE.COM": "pw"}),
		Authorize: ZooKeeperAuthorize, Rand: fixedRand(7)})
}

func exchange(t *testing.T, s *Server, c *Client) error {
	t.Helper()
	ch, err := s.Evaluate(c.Start())
	if err != nil {
		t.Fatalf("first evaluate: %v", err)
	}
	resp, err := c.Next(ch)
	if err != nil {
		t.Fatalf("client response: %v", err)
	}
	final, err := s.Evaluate(resp)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(final, []byte("rspauth=")) {
		t.Fatalf("final token %q", final)
	}
	if tok, err := c.Next(final); err != nil || tok != nil {
		t.Fatalf("client final: %q, %v", tok, err)
	}
	return nil
}

func TestExchange(t *testing.T) {
	for _, c := range []struct{ user, pw, authz, want string }{
		{"bob", "secret", "", "bob"},
		{"süper", "pässword", "", "süper"},
		{"bob", "secret", "someone", "bob"}, // ZooKeeper grants the user name
		{"alice@EXAMPLE.COM", "pw", "", "alice@EXAMPLE.COM"},
		{"alice@EXAMPLE.COM", "pw", "al", "al"},
	} {
		s := newTestServer()
		cl := &Client{User: c.user, Password: c.pw, Authzid: c.authz, Rand: fixedRand(9)}
		if err := exchange(t, s, cl); err != nil {
			t.Errorf("%s: %v", c.user, err)
			continue
		}
		if !s.Complete() || !cl.Complete() || s.AuthorizationID() != c.want || s.User() != c.user {
			t.Errorf("%s: complete %v/%v id %q user %q", c.user, s.Complete(), cl.Complete(), s.AuthorizationID(), s.User())
		}
		if _, err := s.Evaluate(nil); err != ErrIllegalState {
			t.Errorf("token after completion: %v", err)
		}
	}
}

func TestChallengeShape(t *testing.T) {
	s := NewServer(ServerConfig{Rand: fixedRand(0)})
	ch, err := s.Evaluate([]byte{})
	if err != nil {
		t.Fatal(err)
	}
	want := `realm="zk-sasl-md5",nonce="` + strings.Repeat("A", 40) + `",charset=utf-8,algorithm=md5-sess`
	if string(ch) != want {
		t.Errorf("challenge %q\nwant      %q", ch, want)
	}
}

// response builds a digest-response to s's challenge with fields replaced.
func response(t *testing.T, s *Server, edit func(string) string) []byte {
	t.Helper()
	ch, err := s.Evaluate(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{User: "bob", Password: "secret", Rand: fixedRand(1)}
	r, err := c.Next(ch)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(edit(string(r)))
}

func TestBadResponses(t *testing.T) {
	same := func(s string) string { return s }
	cases := []struct {
		name string
		edit func(string) string
		want string
	}{
		{"ok", same, ""},
		{"wrong digest", func(s string) string {
			i := strings.Index(s, "response=") + len("response=")
			d := byte('0')
			if s[i] == '0' {
				d = '1'
			}
			return s[:i] + string(d) + s[i+1:]
		}, "mismatched response"},
		{"no username", func(s string) string { return strings.Replace(s, `username="bob",`, "", 1) }, "missing username"},
		{"unknown user", func(s string) string { return strings.Replace(s, `username="bob"`, `username="eve"`, 1) }, "cannot acquire password"},
		{"realm", func(s string) string { return strings.Replace(s, `realm="zk-sasl-md5"`, `realm="other"`, 1) }, "nonexistent realm"},
		{"no realm", func(s string) string { return strings.Replace(s, `realm="zk-sasl-md5",`, ``, 1) }, "nonexistent realm"},
		{"nonce", func(s string) string { return strings.Replace(s, `nonce="BwcH`, `nonce="CwcH`, 1) }, "mismatched nonce"},
		{"uri", func(s string) string { return strings.Replace(s, `zookeeper/zk-sasl-md5`, `zookeeper/other`, 1) }, "mismatched digest-uri"},
		{"uri case", func(s string) string { return strings.Replace(s, `zookeeper/zk-sasl-md5`, `ZooKeeper/ZK-SASL-MD5`, 1) }, "mismatched response"},
		{"no uri", func(s string) string { return strings.Replace(s, `digest-uri="zookeeper/zk-sasl-md5",`, ``, 1) }, "mismatched digest-uri"},
		{"qop auth-int", func(s string) string { return strings.Replace(s, `qop=auth`, `qop=auth-int`, 1) }, "does not support qop"},
		{"qop other", func(s string) string { return strings.Replace(s, `qop=auth`, `qop=x`, 1) }, "invalid qop"},
		{"charset", func(s string) string { return strings.Replace(s, `charset=utf-8`, `charset=UTF-8`, 1) }, "charset"},
		{"maxbuf", func(s string) string { return strings.Replace(s, `maxbuf=65536`, `maxbuf=x`, 1) }, "maxbuf"},
		{"duplicate", func(s string) string { return s + `,username="bob"` }, "more than one"},
		{"unknown directive", func(s string) string { return s + `,foo="bar"` }, ""},
		{"nc ignored", func(s string) string { return strings.Replace(s, `nc=00000001`, `nc=zz`, 1) }, ""},
		{"garbage", func(string) string { return "\x00\x01\"garbage" }, "DIGEST-MD5"},
		{"empty", func(string) string { return "" }, "missing username"},
	}
	for _, c := range cases {
		s := newTestServer()
		r := response(t, s, c.edit)
		_, err := s.Evaluate(r)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if c.want != "" && s.Complete() {
			t.Errorf("%s: complete after failure", c.name)
		}
		if _, err := s.Evaluate(r); err != ErrIllegalState {
			t.Errorf("%s: second response: %v", c.name, err)
		}
	}
}

func TestWrongPassword(t *testing.T) {
	s := newTestServer()
	c := &Client{User: "bob", Password: "not-secret"}
	ch, _ := s.Evaluate(nil)
	r, _ := c.Next(ch)
	if _, err := s.Evaluate(r); err == nil || !strings.Contains(err.Error(), "mismatched response") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestReplayedResponse(t *testing.T) {
	// a response recorded from one exchange fails on another: each has its
	// own nonce
	s1 := NewServer(ServerConfig{Password: users(map[string]string{"bob": "secret"}), Rand: fixedRand(1)})
	c := &Client{User: "bob", Password: "secret"}
	ch, _ := s1.Evaluate(nil)
	r, _ := c.Next(ch)
	if _, err := s1.Evaluate(r); err != nil {
		t.Fatal(err)
	}
	s2 := NewServer(ServerConfig{Password: users(map[string]string{"bob": "secret"}), Rand: fixedRand(2)})
	s2.Evaluate(nil)
	if _, err := s2.Evaluate(r); err == nil || !strings.Contains(err.Error(), "mismatched nonce") {
		t.Errorf("replay: %v", err)
	}
}

func TestInitialResponseAndSize(t *testing.T) {
	s := newTestServer()
	if _, err := s.Evaluate(bytes.Repeat([]byte("a"), MaxResponse+1)); err == nil {
		t.Error("oversized token accepted")
	}
	// an initial response is ignored: the challenge comes back
	if ch, err := s.Evaluate([]byte("x")); err != nil || !bytes.HasPrefix(ch, []byte(`realm="zk-sasl-md5",nonce=`)) {
		t.Errorf("initial response: %q %v", ch, err)
	}
}

func TestParseDirectives(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []Directive
		bad  bool
	}{
		{`a=b`, []Directive{{"a", []byte("b")}}, false},
		{` , a = "x\"y" ,, b=c d=e`, []Directive{{"a", []byte(`x"y`)}, {"b", []byte("c")}, {"d", []byte("e")}}, false},
		{`a="b"c`, nil, true},
		{`a="b`, nil, true},
		{`a=`, nil, true},
		{`=b`, nil, true},
		{`a b=c`, nil, true},
		{`a,b=c`, nil, true},
		{`lonely`, []Directive{{"lonely", []byte{}}}, false},
	} {
		got, err := ParseDirectives([]byte(c.in))
		if (err != nil) != c.bad {
			t.Errorf("%q: err %v", c.in, err)
			continue
		}
		if c.bad {
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%q: got %q", c.in, got)
			continue
		}
		for i := range got {
			if got[i].Key != c.want[i].Key || !bytes.Equal(got[i].Value, c.want[i].Value) {
				t.Errorf("%q: got %q want %q", c.in, got, c.want)
			}
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"bob": true, "a/b": true, "bob@R": true, "svc/host@R": true, "": true,
		"a@b@c": false, "a/b/c@R": false, "a@R/x": false,
	} {
		if ValidID(id) != want {
			t.Errorf("ValidID(%q) = %v", id, !want)
		}
	}
}

func FuzzParseDirectives(f *testing.F) {
	f.Add([]byte(`realm="zk-sasl-md5",nonce="abc",charset=utf-8,algorithm=md5-sess`))
	f.Add([]byte(`username="bob",realm="zk-sasl-md5",nonce="x\"y",nc=00000001,response=abc,qop=auth`))
	f.Add([]byte(`a = "\`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := ParseDirectives(b)
		if err != nil {
			return
		}
		// writing the directives back quoted parses to the same list
		var out []byte
		for i, d := range ds {
			if d.Key == "" || strings.ContainsAny(d.Key, ",= \t\r\n") {
				t.Fatalf("bad key %q from %q", d.Key, b)
			}
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, d.Key...)
			out = append(out, '=', '"')
			out = append(out, quote(d.Value)...)
			out = append(out, '"')
		}
		again, err := ParseDirectives(out)
		if err != nil || len(again) != len(ds) {
			t.Fatalf("reparse of %q: %v %q", out, err, again)
		}
		for i := range ds {
			if again[i].Key != ds[i].Key || !bytes.Equal(again[i].Value, ds[i].Value) {
				t.Fatalf("reparse of %q: %q != %q", out, again, ds)
			}
		}
	})
}

// FuzzServerResponse feeds arbitrary digest-responses to a server that sent
// its challenge: it must fail cleanly or, only for a response carrying the
// right digest, succeed.
func FuzzServerResponse(f *testing.F) {
	s := newTestServer()
	ch, _ := s.Evaluate(nil)
	c := &Client{User: "bob", Password: "secret", Rand: fixedRand(3)}
	good, _ := c.Next(ch)
	f.Add(good)
	f.Add([]byte("garbage"))
	f.Add([]byte(`username="bob",realm="zk-sasl-md5"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := newTestServer()
		if _, err := s.Evaluate(nil); err != nil {
			t.Fatal(err)
		}
		out, err := s.Evaluate(b)
		if err != nil {
			if s.Complete() || out != nil {
				t.Fatalf("failed but complete=%v out=%q", s.Complete(), out)
			}
			return
		}
		if !s.Complete() || !bytes.HasPrefix(out, []byte("rspauth=")) {
			t.Fatalf("success without completion: %q", out)
		}
		if !bytes.Contains(b, ResponseValue("AUTHENTICATE", "zookeeper/zk-sasl-md5", s.User(), "zk-sasl-md5",
			map[string]string{"bob": "secret", "süper": "pässword", "alice@EXAMPLE.COM": "pw"}[s.User()],
			s.nonce, mustCnonce(t, b), authzOf(t, b))) {
			t.Fatalf("accepted %q without its digest", b)
		}
	})
}

func mustCnonce(t *testing.T, b []byte) []byte {
	ds, _ := ParseDirectives(b)
	v, _ := pick(ds, "cnonce")
	return v["cnonce"]
}

func authzOf(t *testing.T, b []byte) []byte {
	ds, _ := ParseDirectives(b)
	v, _ := pick(ds, "authzid")
	return v["authzid"]
}
