package interop

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkserver/zkserver/internal/testkit"
)

const (
	// superDigest is the digest of "super:secret" (SHA-1, base64), the same
	// super user scripts/zk-oracle.sh configures; the tree reader
	// authenticates as super so it can read every node whatever its ACL.
	superDigest = "super:lK75jTNcA+U9vtVEw5vB51mj/w4="
	superAuth   = "super:secret"

	// startWait bounds a server start (until it answers ruok with imok).
	startWait = 45 * time.Second
	// stopWait bounds the wait for a signalled server to exit before it is
	// killed.
	stopWait = 15 * time.Second
)

// zooCfg is the configuration both servers get: the same keys, only the
// client port changes between starts.
func zooCfg(dataDir string, port int, extra ...string) string {
	lines := []string{
		"tickTime=2000",
		"admin.enableServer=false",
		"dataDir=" + dataDir,
		fmt.Sprintf("clientPort=%d", port),
		"clientPortAddress=127.0.0.1",
		"maxClientCnxns=60",
		"4lw.commands.whitelist=*",
		"extendedTypesEnabled=true",
		"admin.enableServer=false",
		"DigestAuthenticationProvider.superDigest=" + superDigest,
		"snapCount=20",
	}
	lines = append(lines, extra...)
	return strings.Join(lines, "\n") + "\n"
}

// proc is one running server process.
type proc struct {
	name    string // "zookeeper" or "zkserver"
	addr    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// startServer writes zoo.cfg into a fresh config directory under work and
// starts kind ("zookeeper" or "zkserver") on dataDir, waiting until it
// answers ruok. The process is killed in t.Cleanup if still running.
func startServer(t *testing.T, kind, work, dataDir string, extra ...string) *proc {
	t.Helper()
	if kind == "zookeeper" {
		testkit.RequireZK(t, false)
	}
	port := testkit.FreePort(t)
	conf, err := os.MkdirTemp(work, kind+"-conf-")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(conf, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(zooCfg(dataDir, port, extra...)), 0o644); err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	switch kind {
	case "zookeeper":
		props := "log4j.rootLogger=INFO, CONSOLE\n" +
			"log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n" +
			"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n" +
			"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n\n"
		if err := os.WriteFile(filepath.Join(conf, "log4j.properties"), []byte(props), 0o644); err != nil {
			t.Fatal(err)
		}
		cp := strings.Join([]string{conf, testkit.ZKJar, "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"}, ":")
		cmd = exec.Command("java", "-Xmx256m",
			"-Dlog4j.configuration=file:"+filepath.Join(conf, "log4j.properties"),
			"-Dzookeeper.admin.enableServer=false",
			"-cp", cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
	case "zkserver":
		cmd = exec.Command(testkit.ZkserverBinary(t), "start", "--config", cfg, "--log-level", "info", "--log-json")
	default:
		t.Fatalf("unknown server kind %q", kind)
	}
	logPath := filepath.Join(conf, "server.log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatalf("start %s: %v", kind, err)
	}
	s := &proc{name: kind, addr: fmt.Sprintf("127.0.0.1:%d", port), logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		lf.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("%s log (%s), last lines:\n%s", kind, s.addr, s.logTail(25))
		}
		if os.Getenv("INTEROP_SHOW_DIGEST_LOG") != "" {
			for _, l := range strings.Split(s.log(), "\n") {
				if strings.Contains(strings.ToLower(l), "digest") {
					t.Logf("%s: %s", kind, l)
				}
			}
		}
	})

	deadline := time.Now().Add(startWait)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			t.Fatalf("%s exited during startup (%v); log:\n%s", kind, s.waitErr, s.logTail(60))
		default:
		}
		if fourLetter(s.addr, "ruok") == "imok" {
			t.Logf("%s up on %s (pid %d, data %s)", kind, s.addr, cmd.Process.Pid, dataDir)
			return s
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.kill()
	t.Fatalf("%s gave no imok within %v; log:\n%s", kind, startWait, s.logTail(60))
	return nil
}

// stop sends sig and waits (bounded) for the process to exit; it is killed
// with SIGKILL if it does not.
func (s *proc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	select {
	case <-s.done:
		t.Fatalf("%s had already exited (%v); log:\n%s", s.name, s.waitErr, s.logTail(40))
	default:
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(stopWait):
		t.Errorf("%s did not exit within %v of %v; killing it", s.name, stopWait, sig)
		s.kill()
	}
	t.Logf("%s stopped with %v (%v)", s.name, sig, s.waitErr)
}

// kill ends the process group (the server and anything it started) and
// waits for the process to be reaped.
func (s *proc) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.done:
	case <-time.After(stopWait):
	}
}

func (s *proc) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func (s *proc) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(s.log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// checkZKLog fails on what ZooKeeper logs when the files it loaded disagree
// with themselves or lack what it writes itself: tree digests that do not
// match the digests recorded in the snapshot/log, a snapshot digest the log
// does not reach, a snapshot without its digest section, or an ACL id
// missing from the snapshot's ACL cache.
func checkZKLog(t *testing.T, s *proc) {
	t.Helper()
	for _, line := range strings.Split(s.log(), "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, "digests are not matching") || strings.Contains(l, "digest mismatch") ||
			strings.Contains(l, "might lead to inconsistent state") || strings.Contains(l, "failed to fetch acls") ||
			strings.Contains(l, "got eof exception while reading the digest") {
			t.Errorf("ZooKeeper logged: %s", line)
		}
	}
}

// fourLetter sends a four-letter word and returns the answer ("" on error).
func fourLetter(addr, word string) string {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Write([]byte(word)); err != nil {
		return ""
	}
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(nc)
	return buf.String()
}

func TestMain(m *testing.M) { testkit.Main(m) }
