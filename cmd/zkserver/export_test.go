package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/snapshot"
)

const (
	exportZKJar = "/usr/share/java/zookeeper.jar"
	// digest of "super:secret": the tree is read as the super user
	exportSuperDigest = "super:lK75jTNcA+U9vtVEw5vB51mj/w4="
	exportSuperAuth   = "super:secret"
)

// haveZK reports whether Apache ZooKeeper can be started; without it the
// test skips that part, unless ZKSERVER_REQUIRE_ZK is set (then it fails).
func haveZK(t *testing.T) bool {
	t.Helper()
	_, jerr := exec.LookPath("java")
	_, ferr := os.Stat(exportZKJar)
	if jerr == nil && ferr == nil {
		return true
	}
	if os.Getenv("ZKSERVER_REQUIRE_ZK") != "" {
		t.Fatalf("ZKSERVER_REQUIRE_ZK is set but java or %s is missing", exportZKJar)
	}
	t.Logf("java or %s missing: not starting ZooKeeper on the export", exportZKJar)
	return false
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

func zkConnect(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, ch, err := zk.Connect([]string{addr}, 30*time.Second, zk.WithLogger(quietLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.State == zk.StateHasSession {
				go func() {
					for range ch {
					}
				}()
				if err := c.AddAuth("digest", []byte(exportSuperAuth)); err != nil {
					c.Close()
					t.Fatal(err)
				}
				return c
			}
		case <-deadline:
			c.Close()
			t.Fatalf("no session with %s", addr)
		}
	}
}

type seenNode struct {
	Data []byte
	ACL  []zk.ACL
	Stat zk.Stat
}

// clientTree reads every node through a client (as the super user).
func clientTree(t *testing.T, addr string) map[string]seenNode {
	t.Helper()
	c := zkConnect(t, addr)
	defer c.Close()
	out := map[string]seenNode{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		acl, _, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("getACL %s: %v", p, err)
		}
		out[p] = seenNode{Data: data, ACL: acl, Stat: *st}
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	return out
}

func sameTrees(t *testing.T, what string, want, got map[string]seenNode) {
	t.Helper()
	var bad []string
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			bad = append(bad, "missing "+p)
		case !reflect.DeepEqual(w, g):
			bad = append(bad, fmt.Sprintf("%s:\n  want %+v\n  got  %+v", p, w, g))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			bad = append(bad, "extra "+p)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		if len(bad) > 10 {
			bad = bad[:10]
		}
		t.Fatalf("%s: trees differ:\n%s", what, strings.Join(bad, "\n"))
	}
}

func testConfig(t *testing.T, dataDir, storage string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dataDir
	cfg.SnapCount = 30
	cfg.StorageEngine = storage
	cfg.SuperDigest = exportSuperDigest
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	cfg.ClientPortAddress, cfg.ClientPort = "127.0.0.1", 0
	return cfg
}

func runServer(t *testing.T, cfg *config.Config) (*server.Server, func()) {
	t.Helper()
	s, err := server.OpenDurable(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve() }()
	return s, func() { s.Close(); <-done }
}

// buildExportTree writes a tree with every kind of node through a client
// and returns the client, whose session (owning ephemerals) stays open.
func buildExportTree(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c := zkConnect(t, addr)
	world := zk.WorldACL(zk.PermAll)
	guarded := append(zk.DigestACL(zk.PermAll, "alice", "pw"), zk.WorldACL(zk.PermRead)...)
	secret := zk.DigestACL(zk.PermAll, "bob", "pw")
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 6; i++ {
		top := fmt.Sprintf("/app%d", i)
		must(c.Create(top, []byte(fmt.Sprint("top ", i)), 0, world))
		for _, n := range []string{"a", "a-b", "a.b", "b"} {
			must(c.Create(top+"/"+n, []byte(n), 0, guarded))
			must(c.Create(top+"/"+n+"/leaf", nil, 0, secret))
		}
		must(c.Create(top+"/eph", []byte("e"), zk.FlagEphemeral, world))
		must(c.Create(top+"/seq-", []byte("s"), zk.FlagSequence, world))
		must(c.CreateContainer(top+"/box", nil, zk.FlagContainer, world))
		must(c.Create(top+"/box/item", []byte("i"), 0, world))
		if _, err := c.Set(top+"/a", []byte("changed"), 0); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(top+"/b/leaf", -1); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// startZooKeeper starts Apache ZooKeeper 3.8.0 on dataDir until ruok; the
// returned func stops it.
func startZooKeeper(t *testing.T, dataDir string) (string, func() string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := t.TempDir()
	cfg := strings.Join([]string{"tickTime=2000", "admin.enableServer=false", "dataDir=" + dataDir,
		fmt.Sprintf("clientPort=%d", port), "clientPortAddress=127.0.0.1", "4lw.commands.whitelist=*",
		"extendedTypesEnabled=true", "DigestAuthenticationProvider.superDigest=" + exportSuperDigest}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(conf, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	props := "log4j.rootLogger=INFO, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n" +
		"log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n" +
		"log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n\n"
	if err := os.WriteFile(filepath.Join(conf, "log4j.properties"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	cp := strings.Join([]string{conf, exportZKJar, "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"}, ":")
	cmd := exec.Command("java", "-Xmx256m", "-Dlog4j.configuration=file:"+filepath.Join(conf, "log4j.properties"),
		"-Dzookeeper.admin.enableServer=false", "-cp", cp, "org.apache.zookeeper.server.quorum.QuorumPeerMain",
		filepath.Join(conf, "zoo.cfg"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &syncBuf{b: &out}, &syncBuf{b: &out}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() string {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		return out.String()
	}
	t.Cleanup(func() { stop() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(45 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("ZooKeeper exited during startup:\n%s", stop())
		default:
		}
		if ruok(addr) {
			return addr, stop
		}
	}
	t.Fatalf("ZooKeeper did not start:\n%s", stop())
	return "", nil
}

type syncBuf struct{ b *bytes.Buffer }

var syncBufMu = make(chan struct{}, 1)

func (s *syncBuf) Write(p []byte) (int, error) {
	syncBufMu <- struct{}{}
	defer func() { <-syncBufMu }()
	return s.b.Write(p)
}

func ruok(addr string) bool {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Write([]byte("ruok")); err != nil {
		return false
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(nc)
	return b.String() == "imok"
}

func runExport(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{Name: "zkserver", Writer: &out, ErrWriter: &out, Commands: []*cli.Command{snapshotCommand()}}
	if err := app.Run(append([]string{"zkserver", "snapshot", "export", "--log-level", "warn"}, args...)); err != nil {
		t.Fatalf("export %v: %v\n%s", args, err, out.String())
	}
	return out.String()
}

// TestSnapshotExport: a tree written to a server in pebble mode and one in
// memory mode, each exported from its stopped dataDir; the export is the
// tree a client read before the stop: through zkserver started on the
// export (memory mode), and through Apache ZooKeeper 3.8.0 when java is
// present. Exporting again into the same place is refused.
func TestSnapshotExport(t *testing.T) {
	withZK := haveZK(t)
	for _, storage := range []string{config.StoragePebble, config.StorageMemory} {
		t.Run(storage, func(t *testing.T) {
			data := t.TempDir()
			cfg := testConfig(t, data, storage)
			s, stop := runServer(t, cfg)
			owner := buildExportTree(t, s.Addr().String())
			want := clientTree(t, s.Addr().String())
			stop()
			owner.Close()
			if len(want) < 60 {
				t.Fatalf("only %d nodes read", len(want))
			}
			if got := server.HasPebbleStore(data); got != (storage == config.StoragePebble) {
				t.Fatalf("HasPebbleStore = %v", got)
			}

			out := t.TempDir()
			line := runExport(t, "--data-dir", data, "--out", out)
			if !strings.Contains(line, storage+" mode") {
				t.Fatalf("export says %q; want %s mode", line, storage)
			}
			files, err := snapshot.List(filepath.Join(out, "version-2"))
			if err != nil || len(files) != 1 {
				t.Fatalf("export wrote %v (%v)", files, err)
			}
			if err := (&cli.App{Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{}, Commands: []*cli.Command{snapshotCommand()}}).
				Run([]string{"zkserver", "snapshot", "export", "--log-level", "error", "--data-dir", data, "--out", out}); err == nil {
				t.Fatal("a second export into the same directory was accepted")
			}

			if storage == config.StorageMemory {
				err := (&cli.App{Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{}, Commands: []*cli.Command{snapshotCommand()}}).
					Run([]string{"zkserver", "snapshot", "export", "--log-level", "error", "--storage", "pebble", "--data-dir", data, "--out", t.TempDir()})
				if err == nil || server.HasPebbleStore(data) {
					t.Fatalf("a pebble-mode export of a memory dataDir: %v (store created: %v)", err, server.HasPebbleStore(data))
				}
			}

			// zkserver (memory mode) on the export serves the same tree
			zcfg := testConfig(t, out, config.StorageMemory)
			zs, zstop := runServer(t, zcfg)
			got := clientTree(t, zs.Addr().String())
			zstop()
			sameTrees(t, "zkserver on the export", want, got)

			if !withZK {
				return
			}
			zkOut := t.TempDir()
			runExport(t, "--data-dir", data, "--out", zkOut)
			addr, zkStop := startZooKeeper(t, zkOut)
			got = clientTree(t, addr)
			log := zkStop()
			t.Logf("ZooKeeper served the %d-node export", len(got))
			sameTrees(t, "ZooKeeper on the export", want, got)
			for _, l := range strings.Split(log, "\n") {
				ll := strings.ToLower(l)
				if strings.Contains(ll, "digests are not matching") || strings.Contains(ll, "digest mismatch") ||
					strings.Contains(ll, "failed to fetch acls") || strings.Contains(ll, "got eof exception while reading the digest") {
					t.Errorf("ZooKeeper logged: %s", l)
				}
			}
		})
	}
}
