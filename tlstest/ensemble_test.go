package tlstest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkserver/zkserver/internal/testkit"
	"github.com/zkserver/zkserver/tlsconf/certgen"
	"github.com/zkserver/zkserver/wire"
)

// member is one server of a mixed ensemble run as a process.
type member struct {
	sid                      int
	java                     bool // Apache ZooKeeper, else zkserver
	quorum, election, client int
	dir, cfg, logPath        string
	cmd                      *exec.Cmd
	done                     chan struct{}
}

func (m *member) name() string {
	if m.java {
		return fmt.Sprintf("ZooKeeper sid %d", m.sid)
	}
	return fmt.Sprintf("zkserver sid %d", m.sid)
}

func (m *member) clientAddr() string { return fmt.Sprintf("127.0.0.1:%d", m.client) }

type ensemble struct {
	t       *testing.T
	members []*member
	extra   []string
}

// newEnsemble lays out members (true = ZooKeeper) with extra zoo.cfg
// lines; every process is killed when the test ends and the logs are
// printed if it failed.
func newEnsemble(t *testing.T, extra []string, java ...bool) *ensemble {
	t.Helper()
	e := &ensemble{t: t, extra: extra}
	base := t.TempDir()
	if keep := os.Getenv("TLSTEST_KEEP"); keep != "" {
		// keep the logs for a look after the test
		base = filepath.Join(keep, t.Name())
		os.RemoveAll(base)
	}
	for i, j := range java {
		m := &member{sid: i + 1, java: j, quorum: testkit.FreePort(t), election: testkit.FreePort(t), client: testkit.FreePort(t)}
		m.dir = filepath.Join(base, fmt.Sprintf("n%d", m.sid))
		m.cfg, m.logPath = filepath.Join(m.dir, "zoo.cfg"), filepath.Join(m.dir, "server.log")
		if err := os.MkdirAll(filepath.Join(m.dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(m.dir, "data", "myid"), []byte(fmt.Sprintf("%d\n", m.sid)), 0o644); err != nil {
			t.Fatal(err)
		}
		e.members = append(e.members, m)
	}
	t.Cleanup(func() {
		for _, m := range e.members {
			e.kill(m)
		}
		if t.Failed() {
			for _, m := range e.members {
				b, _ := os.ReadFile(m.logPath)
				var lines []string
				for _, l := range strings.Split(string(b), "\n") {
					if !strings.Contains(l, "Processing srvr command") {
						lines = append(lines, l)
					}
				}
				if len(lines) > 120 {
					lines = lines[len(lines)-120:]
				}
				t.Logf("==== %s log:\n%s", m.name(), strings.Join(lines, "\n"))
			}
		}
	})
	return e
}

func (e *ensemble) start(m *member) {
	t := e.t
	lines := []string{"tickTime=1000", "initLimit=10", "syncLimit=5", "dataDir=" + filepath.Join(m.dir, "data"),
		fmt.Sprintf("clientPort=%d", m.client), "clientPortAddress=127.0.0.1", "4lw.commands.whitelist=*",
		"admin.enableServer=false"}
	lines = append(lines, e.extra...)
	for _, o := range e.members {
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", o.sid, o.quorum, o.election))
	}
	if err := os.WriteFile(m.cfg, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m.java {
		props := "log4j.rootLogger=INFO, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n" +
			"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n" +
			"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n\n"
		if err := os.WriteFile(filepath.Join(m.dir, "log4j.properties"), []byte(props), 0o644); err != nil {
			t.Fatal(err)
		}
		m.cmd = exec.Command("java", "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
			"-Dlog4j.configuration=file:"+filepath.Join(m.dir, "log4j.properties"), "-Dzookeeper.admin.enableServer=false",
			// netty-codec and friends: ZooKeeper's TLS code needs them and
			// the jar's manifest does not name them all
			"-cp", m.dir+":"+strings.ReplaceAll(javaClasspath, "/usr/share/java/slf4j-nop.jar", "/usr/share/java/slf4j-log4j12.jar")+":/usr/share/java/log4j-1.2.jar",
			"org.apache.zookeeper.server.quorum.QuorumPeerMain", m.cfg)
	} else {
		level := "info"
		if os.Getenv("TLSTEST_DEBUG") != "" {
			level = "debug"
		}
		m.cmd = exec.Command(testkit.ZkserverBinary(t), "start", "--config", m.cfg, "--log-level", level)
	}
	lf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	m.cmd.Stdout, m.cmd.Stderr = lf, lf
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		lf.Close()
		t.Fatal(err)
	}
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		lf.Close()
		close(done)
	}(m.cmd, m.done)
}

func (e *ensemble) kill(m *member) {
	if m.cmd == nil {
		return
	}
	select {
	case <-m.done:
		return
	default:
	}
	syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		e.t.Errorf("%s did not exit after SIGKILL", m.name())
	}
}

func (m *member) mode() string {
	for _, l := range strings.Split(fourLetter(m.clientAddr(), "srvr"), "\n") {
		if v, ok := strings.CutPrefix(l, "Mode: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// waitServing waits for the running members to serve with one leader and
// returns it.
func (e *ensemble) waitServing(ms ...*member) *member {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var modes []string
	for time.Now().Before(deadline) {
		modes = modes[:0]
		var leader *member
		leaders, ok := 0, true
		for _, m := range ms {
			select {
			case <-m.done:
				e.t.Fatalf("%s exited", m.name())
			default:
			}
			md := m.mode()
			modes = append(modes, fmt.Sprintf("%s=%q", m.name(), md))
			switch md {
			case "leader":
				leader = m
				leaders++
			case "follower":
			default:
				ok = false
			}
		}
		if ok && leaders == 1 {
			return leader
		}
		time.Sleep(250 * time.Millisecond)
	}
	e.t.Fatalf("no ensemble with one leader within 90s: %v", modes)
	return nil
}

func (m *member) log() string {
	b, _ := os.ReadFile(m.logPath)
	return string(b)
}

// TestMixedEnsembleSSLQuorum runs Apache ZooKeeper 3.8.0 and zkserver in
// one ensemble with sslQuorum=true (PEM stores, clientAuth need, hostname
// verification on): they elect, sync and replicate over TLS, survive the
// leader's death, and a plain peer on a member's election port is turned
// away while the ensemble keeps serving.
func TestMixedEnsembleSSLQuorum(t *testing.T) {
	requireZK(t)
	// with equal data the largest sid leads first: a zkserver, then a
	// ZooKeeper
	t.Run("ZooKeeper,zkserver,zkserver", func(t *testing.T) { mixedSSL(t, true, false, false) })
	t.Run("zkserver,zkserver,ZooKeeper", func(t *testing.T) { mixedSSL(t, false, false, true) })
}

func mixedSSL(t *testing.T, kinds ...bool) {
	p := newPKI(t)
	extra := []string{
		"sslQuorum=true",
		"ssl.quorum.keyStore.location=" + p.path("server.pem"),
		"ssl.quorum.trustStore.location=" + p.path("ca.pem"),
	}
	e := newEnsemble(t, extra, kinds...)
	for _, m := range e.members {
		e.start(m)
	}
	leader := e.waitServing(e.members...)
	t.Logf("leader: %s", leader.name())

	// TLS is in use on both kinds
	for _, m := range e.members {
		if m.java && !strings.Contains(m.log(), "SSL handshake complete") {
			t.Errorf("%s logged no TLS handshake", m.name())
		}
		if !m.java && !strings.Contains(m.log(), "quorum TLS") {
			t.Errorf("%s did not log its quorum TLS set-up", m.name())
		}
	}

	write := func(via *member, path, data string) {
		t.Helper()
		c := connect(t, via.clientAddr(), nil)
		if _, err := c.Create(path, []byte(data), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s via %s: %v", path, via.name(), err)
		}
		c.Close()
	}
	read := func(via *member, path, want string) {
		t.Helper()
		c := connect(t, via.clientAddr(), nil)
		defer c.Close()
		if _, err := c.Sync(path); err != nil {
			t.Fatalf("sync via %s: %v", via.name(), err)
		}
		d, _, err := c.Get(path)
		if err != nil || string(d) != want {
			t.Fatalf("get %s via %s: %q, %v; want %q", path, via.name(), d, err, want)
		}
	}
	for i, m := range e.members {
		write(m, fmt.Sprintf("/n%d", i), m.name())
	}
	for _, m := range e.members {
		for i, w := range e.members {
			read(m, fmt.Sprintf("/n%d", i), w.name())
		}
	}

	// a plain peer on a zkserver member's election port: an initial
	// message in clear text gets no answer and the connection ends
	target := e.members[1] // a zkserver in both layouts
	nc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", target.election))
	if err != nil {
		t.Fatal(err)
	}
	msg := wire.Marshal(&wire.InitialMessage{Version: wire.ElectionProtocolV1, SID: 9, Addr: "127.0.0.1:1"})
	nc.Write(msg)
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64)
	_, err = nc.Read(buf)
	nc.Close()
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Errorf("plain peer on a TLS election port: %v, want the connection closed", err)
	}

	// the leader dies: the other two elect a new one over TLS
	e.kill(leader)
	var rest []*member
	for _, m := range e.members {
		if m != leader {
			rest = append(rest, m)
		}
	}
	newLeader := e.waitServing(rest...)
	t.Logf("new leader: %s", newLeader.name())
	write(rest[0], "/after", "failover")
	read(rest[1], "/after", "failover")
	// and it comes back and catches up
	e.start(leader)
	e.waitServing(e.members...)
	read(leader, "/after", "failover")
}

// TestEnsembleCertMismatch: a zkserver member whose quorum certificate is
// from a CA the others do not trust cannot join; the other two (a
// ZooKeeper and a zkserver) serve without it.
func TestEnsembleCertMismatch(t *testing.T) {
	requireZK(t)
	if os.Getenv("ZKSERVER_MIXED") == "" && os.Getenv("ZKSERVER_TLS_INTEROP") == "" {
		t.Skip("run with make tls-interop")
	}
	p := newPKI(t)
	otherCA, err := certgen.New(certgen.Spec{CA: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := certgen.Localhost("rogue", otherCA)
	if err != nil {
		t.Fatal(err)
	}
	p.write(t, "rogue.pem", rogue.PEMKeyStore())
	e := newEnsemble(t, nil, true, false, false)
	common := []string{"sslQuorum=true", "ssl.quorum.trustStore.location=" + p.path("ca.pem")}
	e.extra = append(common, "ssl.quorum.keyStore.location="+p.path("server.pem"))
	e.start(e.members[0])
	e.start(e.members[1])
	e.extra = append(common, "ssl.quorum.keyStore.location="+p.path("rogue.pem"))
	e.start(e.members[2])
	e.waitServing(e.members[0], e.members[1])
	time.Sleep(3 * time.Second)
	if md := e.members[2].mode(); md == "leader" || md == "follower" {
		t.Errorf("the member with an untrusted certificate is serving as %s", md)
	}
	if !strings.Contains(e.members[1].log(), "TLS handshake failed") {
		t.Error("zkserver did not log the refused handshake")
	}
}
