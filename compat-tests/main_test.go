package compat

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zkserver/zkserver/internal/testkit"
)

// addr is the server under test, host:port.
var addr string

// SuperDigest is the digest of "super:secret"; both the oracle and zkserver
// are configured with it as DigestAuthenticationProvider.superDigest.
const SuperDigest = "super:lK75jTNcA+U9vtVEw5vB51mj/w4="

// TestMain selects the server under test: ZK_ADDR if set (e.g. the Apache
// ZooKeeper oracle started by `make compat-zk`), otherwise a zkserver binary
// built from ../cmd/zkserver and started on a free loopback port.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if a := os.Getenv("ZK_ADDR"); a != "" {
		addr = a
		if ans, err := fourLetter(addr, "ruok"); err != nil || ans != "imok" {
			fmt.Fprintf(os.Stderr, "compat: server %s not answering ruok (%q, %v)\n", addr, ans, err)
			return 1
		}
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "zkserver-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	defer testkit.Cleanup()
	bin, err := testkit.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	port, err := testkit.Port()
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	cfg := filepath.Join(tmp, "zoo.cfg")
	dataDir := filepath.Join(tmp, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	conf := strings.Join([]string{
		"tickTime=2000",
		"admin.enableServer=false",
		"dataDir=" + dataDir,
		fmt.Sprintf("clientPort=%d", port),
		"clientPortAddress=127.0.0.1",
		"maxClientCnxns=60",
		"4lw.commands.whitelist=*",
		"extendedTypesEnabled=true",
		"admin.enableServer=false",
		"DigestAuthenticationProvider.superDigest=" + SuperDigest,
	}, "\n") + "\n"
	// ZKSERVER_STORAGE=pebble runs the tests against a server in pebble mode
	if st := os.Getenv("ZKSERVER_STORAGE"); st != "" {
		conf += "storageEngine=" + st + "\n"
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	logf, err := os.Create(filepath.Join(tmp, "zkserver.log"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	defer logf.Close()
	srv := exec.Command(bin, "start", "--config", cfg)
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "compat: starting zkserver:", err)
		return 1
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	defer func() {
		_ = srv.Process.Kill()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	}()
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ans, err := fourLetter(addr, "ruok"); err == nil && ans == "imok" {
			break
		}
		select {
		case err := <-exited:
			fmt.Fprintln(os.Stderr, "compat: zkserver exited early:", err)
			dumpLog(logf.Name())
			return 1
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "compat: zkserver did not answer ruok within 20s")
			dumpLog(logf.Name())
			return 1
		}
	}
	code := m.Run()
	if code != 0 {
		dumpLog(logf.Name())
	}
	return code
}

func dumpLog(name string) {
	b, err := os.ReadFile(name)
	if err != nil {
		return
	}
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	fmt.Fprintf(os.Stderr, "---- zkserver log (tail) ----\n%s\n", b)
}
