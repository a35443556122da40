package admin

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkserver/zkserver/internal/testkit"
)

// Processes for the comparisons with Apache ZooKeeper 3.8.0: ZooKeeper
// with its AdminServer (the jetty, jackson and servlet jars of
// /usr/share/java on its class path) and the zkserver binary.

// adminJars are what ZooKeeper's JettyAdminServer needs besides its jar.
var adminJars = []string{"slf4j-log4j12", "log4j-1.2", "jetty9-server", "jetty9-servlet", "jetty9-http", "jetty9-io",
	"jetty9-util", "jetty9-security", "jackson-databind", "jackson-core", "jackson-annotations", "servlet-api"}

// proc is a started server process, stopped at the test's end.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startProc starts cmd in dir with its output in dir/out.log and stops
// (SIGTERM, then SIGKILL) it when the test ends.
func startProc(t *testing.T, dir string, name string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, "out.log")
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil && len(b) > 0 {
				tail := string(b)
				if len(tail) > 3000 {
					tail = tail[len(tail)-3000:]
				}
				t.Logf("%s %s output (tail):\n%s", name, dir, tail)
			}
		}
	})
	return p
}

// startZooKeeper starts ZooKeeper 3.8.0 on dir/zoo.cfg.
func startZooKeeper(t *testing.T, dir string) *proc {
	t.Helper()
	log4j := filepath.Join(dir, "log4j.properties")
	os.WriteFile(log4j, []byte("log4j.rootLogger=INFO, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n"+
		"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\nlog4j.appender.CONSOLE.layout.ConversionPattern=%d %-5p [%t] - %m%n\n"), 0o644)
	cp := []string{dir, testkit.ZKJar}
	for _, j := range adminJars {
		cp = append(cp, "/usr/share/java/"+j+".jar")
	}
	return startProc(t, dir, "java", "-Xmx256m", "-Dlog4j.configuration=file:"+log4j,
		"-cp", strings.Join(cp, ":"), "org.apache.zookeeper.server.quorum.QuorumPeerMain", filepath.Join(dir, "zoo.cfg"))
}

// startZkserver starts the zkserver binary on dir/zoo.cfg.
func startZkserver(t *testing.T, dir string) *proc {
	t.Helper()
	return startProc(t, dir, testkit.ZkserverBinary(t), "start", "-c", filepath.Join(dir, "zoo.cfg"))
}

// waitAdmin waits until cmd on the AdminServer at base answers without
// an error and ok accepts the answer.
func waitAdmin(t *testing.T, p *proc, base, cmd string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("server exited while waiting for %s/%s", base, cmd)
		default:
		}
		resp, err := httpClient.Get(base + "/" + cmd)
		if err == nil {
			var b strings.Builder
			buf := make([]byte, 4096)
			for {
				n, rerr := resp.Body.Read(buf)
				b.WriteString(string(buf[:n]))
				if rerr != nil {
					break
				}
			}
			resp.Body.Close()
			last = b.String()
			if resp.StatusCode == 200 {
				m := decode(t, last)
				if m["error"] == nil && (ok == nil || ok(m)) {
					return m
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s/%s: no good answer within 60s; last %q", base, cmd, last)
	return nil
}

// writeCfg writes dir/zoo.cfg.
func writeCfg(t *testing.T, dir, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMain(m *testing.M) { testkit.Main(m) }
