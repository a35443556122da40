package sasl_test

// The SASL interop test: zkserver and Apache ZooKeeper 3.8.0 get the same
// JAAS file and zoo.cfg; ZooKeeper's Java client, kazoo and raw protocol
// exchanges with good and bad tokens must see the same answers from both.
// It starts processes, so it runs only with ZKSERVER_SASL_INTEROP=1 (make
// sasl-interop, which installs what it needs); with ZKSERVER_REQUIRE_ZK set
// a missing java, jar or kazoo is a failure instead of a skip.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkserver/zkserver/internal/testkit"
	"github.com/zkserver/zkserver/sasl"
	"github.com/zkserver/zkserver/wire"
)

const (
	sysPython = "/usr/bin/python3" // Debian's python, where python3-kazoo lives
	ioWait    = 10 * time.Second
)

const serverJAAS = `Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="adminsecret"
    user_bob="bobsecret";
};
Client {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="bob"
    password="bobsecret";
};
BadClient {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="bob"
    password="wrong";
};
`

func need(t *testing.T, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("ZKSERVER_REQUIRE_ZK") != "" {
		t.Fatalf("ZKSERVER_REQUIRE_ZK is set but %s is missing (make sasl-interop installs it)", what)
	}
	t.Skipf("%s missing; set ZKSERVER_REQUIRE_ZK=1 to make this a failure", what)
}

func requireInterop(t *testing.T) {
	t.Helper()
	if os.Getenv("ZKSERVER_SASL_INTEROP") == "" {
		t.Skip("starts ZooKeeper, Java and kazoo processes: run with make sasl-interop (ZKSERVER_SASL_INTEROP=1)")
	}
	_, err := exec.LookPath("java")
	need(t, "java", err == nil)
	_, err = exec.LookPath("javac")
	need(t, "javac", err == nil)
	_, err = os.Stat(testkit.ZKJar)
	need(t, testkit.ZKJar, err == nil)
}

type server struct {
	kind, addr, log string
	cmd             *exec.Cmd
	done            chan struct{}
}

// start runs kind ("zookeeper" or "zkserver") with SASL configured as
// ZooKeeper is: the JAAS file named by the java.security.auth.login.config
// system property (for zkserver: -D in SERVER_JVMFLAGS) and the SASL
// authentication provider in zoo.cfg.
func start(t *testing.T, kind, work, jaas, bin string, extra ...string) *server {
	t.Helper()
	dir := filepath.Join(work, kind)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	port := testkit.FreePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	lines := append([]string{
		"tickTime=2000", "dataDir=" + filepath.Join(dir, "data"), fmt.Sprintf("clientPort=%d", port),
		"clientPortAddress=127.0.0.1", "admin.enableServer=false", "4lw.commands.whitelist=ruok,srvr",
		"authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
	}, extra...)
	if err := os.WriteFile(cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	if kind == "zookeeper" {
		props := "log4j.rootLogger=INFO, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n" +
			"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n" +
			"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n\n"
		os.WriteFile(filepath.Join(dir, "log4j.properties"), []byte(props), 0o644)
		cp := strings.Join([]string{dir, testkit.ZKJar, "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"}, ":")
		cmd = exec.Command("java", "-Xmx256m", "-Dlog4j.configuration=file:"+filepath.Join(dir, "log4j.properties"),
			"-Djava.security.auth.login.config="+jaas, "-cp", cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
	} else {
		cmd = exec.Command(bin, "start", "--config", cfg, "--log-level", "info")
		cmd.Env = append(os.Environ(), "SERVER_JVMFLAGS=-Xmx256m -Djava.security.auth.login.config="+jaas)
	}
	s := &server{kind: kind, addr: fmt.Sprintf("127.0.0.1:%d", port), log: filepath.Join(dir, "server.log"), cmd: cmd, done: make(chan struct{})}
	lf, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); lf.Close(); close(s.done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("%s log:\n%s", kind, b)
		}
	})
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("%s exited at start", kind)
		default:
		}
		// srvr, not ruok: ZooKeeper answers imok before its request
		// pipeline serves, and closes sessions until then
		if nc, err := net.DialTimeout("tcp", s.addr, time.Second); err == nil {
			nc.Write([]byte("srvr"))
			nc.SetReadDeadline(time.Now().Add(2 * time.Second))
			b, _ := io.ReadAll(nc)
			nc.Close()
			if strings.Contains(string(b), "Mode: ") {
				return s
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not start", kind)
	return nil
}

// both starts zkserver and ZooKeeper with the same settings.
func both(t *testing.T, extra ...string) (work, jaas string, servers []*server) {
	t.Helper()
	work = t.TempDir()
	jaas = filepath.Join(work, "jaas.conf")
	if err := os.WriteFile(jaas, []byte(serverJAAS), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := testkit.ZkserverBinary(t)
	return work, jaas, []*server{start(t, "zkserver", work, jaas, bin, extra...), start(t, "zookeeper", work, jaas, "", extra...)}
}

// rawConn is a client speaking the protocol directly.
type rawConn struct {
	t   *testing.T
	nc  net.Conn
	br  *bufio.Reader
	xid int32
}

func dial(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	req := wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}
	nc.SetDeadline(time.Now().Add(ioWait))
	nc.Write(wire.AppendFrame(nil, req.Encode))
	body, err := wire.ReadFrame(c.br, 1<<20, nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(body, &resp); err != nil || resp.SessionID == 0 {
		t.Fatalf("handshake: %v %+v", err, resp)
	}
	return c
}

// reply is what a request got: the header and body, or "closed".
type reply struct {
	Err    wire.Err
	Zxid   int64
	Body   []byte
	Closed bool
}

func (r reply) String() string {
	if r.Closed {
		return "connection closed"
	}
	return fmt.Sprintf("err=%d zxid=%d body=%x", r.Err, r.Zxid, r.Body)
}

func (c *rawConn) request(op wire.Op, body []byte) reply {
	c.xid++
	frame := wire.AppendFrame(nil, func(e *wire.Encoder) {
		(&wire.RequestHeader{Xid: c.xid, Type: op}).Encode(e)
		e.B = append(e.B, body...)
	})
	c.nc.SetDeadline(time.Now().Add(ioWait))
	if _, err := c.nc.Write(frame); err != nil {
		return reply{Closed: true}
	}
	b, err := wire.ReadFrame(c.br, 1<<20, nil)
	if err != nil {
		return reply{Closed: true}
	}
	var h wire.ReplyHeader
	d := wire.NewDecoder(b)
	h.Decode(d)
	if h.Xid != c.xid {
		c.t.Fatalf("reply xid %d, want %d", h.Xid, c.xid)
	}
	return reply{Err: h.Err, Zxid: h.Zxid, Body: b[16:]}
}

// closedAfter reports whether the server closes the connection (reading
// nothing more) within the I/O wait.
func (c *rawConn) closedAfter() bool {
	c.nc.SetReadDeadline(time.Now().Add(ioWait))
	_, err := c.br.ReadByte()
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func token(b []byte) []byte {
	if b == nil {
		return binary.BigEndian.AppendUint32(nil, 0xffffffff)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

func (c *rawConn) sasl(tok []byte) reply { return c.request(wire.OpSASL, token(tok)) }

func decodeToken(t *testing.T, r reply) []byte {
	t.Helper()
	var rec wire.BufferRecord
	if err := wire.Unmarshal(r.Body, &rec); err != nil {
		t.Fatalf("token in %v: %v", r, err)
	}
	return rec.Data
}

// scenario runs one raw exchange against a server and describes what the
// server did, in words that must be equal for both servers.
type scenario func(t *testing.T, addr string) string

func describe(r reply, closed func() bool) string {
	if r.Closed {
		return "closed without a reply"
	}
	s := fmt.Sprintf("err=%d zxid=%d body=%x", r.Err, r.Zxid, r.Body)
	if r.Err != 0 && closed != nil {
		if closed() {
			s += ", then closed"
		} else {
			s += ", left open"
		}
	}
	return s
}

func rawScenarios() map[string]scenario {
	login := func(t *testing.T, c *rawConn, user, pw string) (string, *sasl.Client) {
		cl := &sasl.Client{User: user, Password: pw}
		r := c.sasl(cl.Start())
		if r.Closed || r.Err != 0 {
			return "challenge: " + describe(r, nil), nil
		}
		ch := decodeToken(t, r)
		ds, err := sasl.ParseDirectives(ch)
		if err != nil {
			t.Fatalf("challenge %q: %v", ch, err)
		}
		keys := []string{}
		for _, d := range ds {
			v := string(d.Value)
			if d.Key == "nonce" {
				v = fmt.Sprintf("<%d bytes>", len(v))
			}
			keys = append(keys, d.Key+"="+v)
		}
		resp, err := cl.Next(ch)
		if err != nil {
			t.Fatal(err)
		}
		r = c.sasl(resp)
		out := "challenge " + strings.Join(keys, ",") + "; response: "
		if r.Closed || r.Err != 0 {
			return out + describe(r, c.closedAfter), nil
		}
		fin := decodeToken(t, r)
		if _, err := cl.Next(fin); err != nil {
			return out + "bad rspauth: " + err.Error(), nil
		}
		return out + "ok, rspauth verified", cl
	}
	whoami := func(c *rawConn) string {
		r := c.request(wire.OpWhoAmI, nil)
		var w wire.WhoAmIResponse
		if r.Closed || wire.Unmarshal(r.Body, &w) != nil {
			return describe(r, nil)
		}
		parts := []string{}
		for _, i := range w.Info {
			u := i.User
			if i.AuthScheme == "ip" {
				u = "<ip>"
			}
			parts = append(parts, i.AuthScheme+"="+u)
		}
		return strings.Join(parts, " ")
	}
	return map[string]scenario{
		"good login": func(t *testing.T, addr string) string {
			c := dial(t, addr)
			s, _ := login(t, c, "bob", "bobsecret")
			return s + "; whoAmI " + whoami(c)
		},
		"super login": func(t *testing.T, addr string) string {
			c := dial(t, addr)
			s, _ := login(t, c, "super", "adminsecret")
			return s + "; whoAmI " + whoami(c)
		},
		"wrong password": func(t *testing.T, addr string) string {
			s, _ := login(t, dial(t, addr), "bob", "nope")
			return s
		},
		"unknown user": func(t *testing.T, addr string) string {
			s, _ := login(t, dial(t, addr), "mallory", "x")
			return s
		},
		"garbage response": func(t *testing.T, addr string) string {
			c := dial(t, addr)
			c.sasl([]byte{})
			return describe(c.sasl([]byte("\x00garbage\"")), c.closedAfter)
		},
		"initial response (GSSAPI-like token)": func(t *testing.T, addr string) string {
			c := dial(t, addr)
			r := c.sasl([]byte("\x60\x82\x02\x00 a GSSAPI token"))
			if r.Closed || r.Err != 0 {
				return describe(r, c.closedAfter)
			}
			tok := decodeToken(t, r)
			return fmt.Sprintf("OK, challenge of %d bytes starting %q", len(tok), tok[:min(len(tok), 26)])
		},
		"oversized token": func(t *testing.T, addr string) string {
			c := dial(t, addr)
			return describe(c.sasl(bytes.Repeat([]byte("x"), 5000)), c.closedAfter)
		},
		"replayed response": func(t *testing.T, addr string) string {
			c1 := dial(t, addr)
			cl := &sasl.Client{User: "bob", Password: "bobsecret"}
			resp, err := cl.Next(decodeToken(t, c1.sasl(cl.Start())))
			if err != nil {
				t.Fatal(err)
			}
			if r := c1.sasl(resp); r.Err != 0 {
				t.Fatalf("first use refused: %v", r)
			}
			c2 := dial(t, addr)
			c2.sasl([]byte{})
			return describe(c2.sasl(resp), c2.closedAfter)
		},
		"token after completion": func(t *testing.T, addr string) string {
			c := dial(t, addr)
			login(t, c, "bob", "bobsecret")
			return describe(c.sasl([]byte{}), c.closedAfter)
		},
		"null token": func(t *testing.T, addr string) string {
			c := dial(t, addr)
			r := c.sasl(nil)
			s, _ := login(t, c, "bob", "bobsecret")
			return describe(r, nil) + "; then " + s
		},
		"sasl acl": func(t *testing.T, addr string) string {
			c := dial(t, addr)
			login(t, c, "bob", "bobsecret")
			var out []string
			for _, id := range []string{"bob", "a/b", "svc/host@REALM", "a@b@c", "x/y/z@R"} {
				body := wire.AppendFrame(nil, (&wire.CreateRequest{Path: "/acl-" + strings.NewReplacer("/", "_", "@", "_").Replace(id),
					ACL: []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "sasl", ID: id}}}}).Encode)[4:]
				r := c.request(wire.OpCreate, body)
				out = append(out, fmt.Sprintf("%s:%d", id, r.Err))
			}
			anon := dial(t, addr)
			r := anon.request(wire.OpGetData, wire.AppendFrame(nil, (&wire.PathWatchRequest{Path: "/acl-bob"}).Encode)[4:])
			out = append(out, fmt.Sprintf("anonymous read:%d", r.Err))
			return strings.Join(out, " ")
		},
	}
}

// TestSASLRawAgainstZooKeeper compares raw exchanges, byte for byte where
// the bytes are not random, and whether the connection is closed.
func TestSASLRawAgainstZooKeeper(t *testing.T) {
	requireInterop(t)
	_, _, servers := both(t)
	for name, sc := range rawScenarios() {
		t.Run(name, func(t *testing.T) {
			var got [2]string
			for i, s := range servers {
				got[i] = sc(t, s.addr)
			}
			t.Logf("ZooKeeper: %s", got[1])
			if got[0] != got[1] {
				t.Errorf("zkserver:  %s\nZooKeeper: %s", got[0], got[1])
			}
		})
	}
	// the servers serve others after all that
	for _, s := range servers {
		c := dial(t, s.addr)
		if r := c.request(wire.OpGetData, wire.AppendFrame(nil, (&wire.PathWatchRequest{Path: "/"}).Encode)[4:]); r.Closed || r.Err != 0 {
			t.Errorf("%s after the bad clients: %v", s.kind, r)
		}
	}
}

// TestSASLRequiredAgainstZooKeeper compares zookeeper.sessionRequireClientSASLAuth.
func TestSASLRequiredAgainstZooKeeper(t *testing.T) {
	requireInterop(t)
	_, _, servers := both(t, "sessionRequireClientSASLAuth=true")
	var got [2]string
	for i, s := range servers {
		c := dial(t, s.addr)
		r := c.request(wire.OpGetData, wire.AppendFrame(nil, (&wire.PathWatchRequest{Path: "/"}).Encode)[4:])
		a := describe(r, c.closedAfter)
		c = dial(t, s.addr)
		c.sasl([]byte{})
		b := describe(c.sasl([]byte("bad")), c.closedAfter)
		got[i] = "unauthenticated getData: " + a + "; failed SASL: " + b
	}
	t.Logf("ZooKeeper: %s", got[1])
	if got[0] != got[1] {
		t.Errorf("zkserver:  %s\nZooKeeper: %s", got[0], got[1])
	}
}

// TestSASLJavaClient runs ZooKeeper's Java client (a small program compiled
// here) against both servers.
func TestSASLJavaClient(t *testing.T) {
	requireInterop(t)
	work, jaas, servers := both(t)
	classes := filepath.Join(work, "classes")
	os.MkdirAll(classes, 0o755)
	src := filepath.Join(testkit.RepoRoot(), "sasl", "testdata", "SaslCheck.java")
	if out, err := exec.Command("javac", "-cp", testkit.ZKJar, "-d", classes, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	run := func(addr, path, mode, section string) string {
		args := []string{"-Xmx128m", "-Dzookeeper.admin.enableServer=false", "-cp", classes + ":" + testkit.ZKJar + ":/usr/share/java/slf4j-nop.jar"}
		if section == "" {
			args = append(args, "-Dzookeeper.sasl.client=false")
		} else {
			args = append(args, "-Djava.security.auth.login.config="+jaas, "-Dzookeeper.sasl.clientconfig="+section)
		}
		args = append(args, "SaslCheck", addr, path, mode)
		cmd := exec.Command("java", args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("java %s: %v\n%s%s", mode, err, out.String(), errb.String())
			}
		case <-time.After(90 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("java %s timed out\n%s", mode, out.String())
		}
		return out.String()
	}
	var got [2]string
	for i, s := range servers {
		got[i] = run(s.addr, "/java", "login", "Client") + run(s.addr, "/java", "anon", "") + run(s.addr, "/java", "fail", "BadClient")
	}
	t.Logf("ZooKeeper:\n%s", got[1])
	// A refused login ends in AUTHFAILED and the server closing the
	// connection (both servers: the raw-exchange test compares those bytes);
	// kazoo reports whichever of the two it handles first, so its error class
	// races with the close on either server.
	for i := range got {
		got[i] = strings.ReplaceAll(got[i], "create: ConnectionClosedError", "create: AuthFailedError")
	}
	if got[0] != got[1] {
		t.Errorf("zkserver:\n%s\nZooKeeper:\n%s", got[0], got[1])
	}
	if !strings.Contains(got[0], "SaslAuthenticated") || !strings.Contains(got[0], "whoAmI: sasl=bob") {
		t.Errorf("no SASL login seen:\n%s", got[0])
	}
}

// TestSASLKazoo runs kazoo (python3-kazoo with python3-pure-sasl) against
// both servers.
func TestSASLKazoo(t *testing.T) {
	requireInterop(t)
	err := exec.Command(sysPython, "-c", "import kazoo, puresasl").Run()
	need(t, "python3-kazoo and python3-pure-sasl", err == nil)
	_, _, servers := both(t)
	script := filepath.Join(testkit.RepoRoot(), "sasl", "testdata", "kazoo_check.py")
	run := func(addr, path, user, pw string) string {
		cmd := exec.Command(sysPython, script, addr, path, user, pw)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kazoo: %v\n%s%s", err, out.String(), errb.String())
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("kazoo timed out\n%s%s", out.String(), errb.String())
		}
		return out.String()
	}
	var got [2]string
	for i, s := range servers {
		got[i] = run(s.addr, "/kazoo", "bob", "bobsecret") + run(s.addr, "/kazoo2", "bob", "wrong")
	}
	t.Logf("ZooKeeper:\n%s", got[1])
	// A refused login ends in AUTHFAILED and the server closing the
	// connection (both servers: the raw-exchange test compares those bytes);
	// kazoo reports whichever of the two it handles first, so its error class
	// races with the close on either server.
	for i := range got {
		got[i] = strings.ReplaceAll(got[i], "create: ConnectionClosedError", "create: AuthFailedError")
	}
	if got[0] != got[1] {
		t.Errorf("zkserver:\n%s\nZooKeeper:\n%s", got[0], got[1])
	}
	if !strings.Contains(got[0], "acl: sasl:bob:31") {
		t.Errorf("no SASL ACL seen:\n%s", got[0])
	}
}

func TestMain(m *testing.M) { testkit.Main(m) }
