package crashtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkserver/zkserver/internal/testkit"
)

// bin is the zkserver binary built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	defer testkit.Cleanup()
	var err error
	if bin, err = testkit.Build(); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		return 1
	}
	return m.Run()
}

const (
	readyWait = 20 * time.Second // start until ruok answers imok
	exitWait  = 10 * time.Second // SIGKILL until the process is reaped
)

// server is one zkserver process history on a fixed pair of directories:
// every start writes a fresh zoo.cfg (new free port) and its own log file.
type server struct {
	t       *testing.T
	dir     string
	dataDir string
	logDir  string // dataLogDir
	extra   []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	addr    string
	started time.Time
	starts  int
	logPath string
}

func newServer(t *testing.T, extra ...string) *server {
	dir := t.TempDir()
	s := &server{t: t, dir: dir, dataDir: filepath.Join(dir, "data"), logDir: filepath.Join(dir, "datalog"), extra: extra}
	for _, d := range []string{s.dataDir, s.logDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if s.running() {
			s.kill()
		}
	})
	return s
}

// snapDir and txnDir are the version-2 directories the server writes.
func (s *server) snapDir() string { return filepath.Join(s.dataDir, "version-2") }
func (s *server) txnDir() string  { return filepath.Join(s.logDir, "version-2") }

// launch starts the process without waiting for it to serve.
func (s *server) launch() {
	t := s.t
	t.Helper()
	port, err := testkit.Port()
	if err != nil {
		t.Fatal(err)
	}
	conf := append([]string{
		"dataDir=" + s.dataDir,
		"dataLogDir=" + s.logDir,
		fmt.Sprintf("clientPort=%d", port),
		"clientPortAddress=127.0.0.1",
		"4lw.commands.whitelist=*",
		"admin.enableServer=false",
	}, s.extra...)
	// ZKSERVER_STORAGE=pebble runs the crash tests in pebble mode
	if st := os.Getenv("ZKSERVER_STORAGE"); st != "" {
		conf = append(conf, "storageEngine="+st)
	}
	cfg := filepath.Join(s.dir, "zoo.cfg")
	if err := os.WriteFile(cfg, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.starts++
	s.logPath = filepath.Join(s.dir, fmt.Sprintf("server-%03d.log", s.starts))
	out, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "start", "--config", cfg)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("starting zkserver: %v", err)
	}
	exited := make(chan struct{})
	s.mu.Lock()
	s.cmd, s.exited, s.waitErr = cmd, exited, nil
	s.addr = fmt.Sprintf("127.0.0.1:%d", port)
	s.started = time.Now()
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		out.Close()
		s.mu.Lock()
		s.waitErr = err
		s.mu.Unlock()
		close(exited)
	}()
}

// start launches the server and waits until it answers ruok with imok.
func (s *server) start() {
	s.t.Helper()
	s.launch()
	if err := s.waitReady(); err != nil {
		s.dumpLog()
		s.t.Fatal(err)
	}
}

func (s *server) waitReady() error {
	deadline := time.Now().Add(readyWait)
	for {
		if ans, err := fourLetter(s.addr, "ruok"); err == nil && ans == "imok" {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("zkserver exited before serving: %v", s.exitErr())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zkserver did not answer ruok within %v", readyWait)
		}
	}
}

func (s *server) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waitErr
}

func (s *server) running() bool {
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits (bounded) until the process is reaped.
func (s *server) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Errorf("SIGKILL: %v", err)
	}
	select {
	case <-s.exited:
	case <-time.After(exitWait):
		s.t.Errorf("zkserver pid %d not reaped %v after SIGKILL", s.cmd.Process.Pid, exitWait)
	}
}

// waitExit waits (bounded) for the process to exit by itself.
func (s *server) waitExit(d time.Duration) (exited bool) {
	select {
	case <-s.exited:
		return true
	case <-time.After(d):
		return false
	}
}

func (s *server) output() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

func (s *server) dumpLog() {
	b := s.output()
	if len(b) > 6000 {
		b = "..." + b[len(b)-6000:]
	}
	s.t.Logf("---- zkserver log %s (tail) ----\n%s", s.logPath, b)
}

// fourLetter sends a four-letter word and returns the whole answer.
func fourLetter(addr, word string) (string, error) {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(nc)
	return string(b), err
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// bounded runs f and fails the test if it does not return within d (the
// goroutine is abandoned; the server is killed by Cleanup, which unblocks it).
func bounded(t *testing.T, d time.Duration, what string, f func() error) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(d):
		t.Fatalf("%s: no answer within %v", what, d)
		return nil
	}
}
