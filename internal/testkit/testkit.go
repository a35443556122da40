// Package testkit holds what the tests that start processes share: the
// check that Apache ZooKeeper (and a JDK) is installed, a zkserver binary
// built once per test process, and loopback ports that are never handed
// out twice. Tests only; nothing in the server imports it.
package testkit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ZKJar is Apache ZooKeeper 3.8.0's jar as Debian's zookeeper package
// installs it.
const ZKJar = "/usr/share/java/zookeeper.jar"

// RequireEnv is the variable that turns a missing ZooKeeper or JDK from a
// skip into a failure (CI sets it, so nothing is skipped silently).
const RequireEnv = "ZKSERVER_REQUIRE_ZK"

// RequireZK skips t when java or ZooKeeper's jar is missing (also javac
// when withJavac is set), unless ZKSERVER_REQUIRE_ZK is set: then it
// fails.
func RequireZK(t testing.TB, withJavac bool) {
	t.Helper()
	require(t, withJavac, true)
}

// RequireJava is RequireZK without the jar: java, and javac when
// withJavac is set.
func RequireJava(t testing.TB, withJavac bool) {
	t.Helper()
	require(t, withJavac, false)
}

func require(t testing.TB, withJavac, jar bool) {
	t.Helper()
	var missing []string
	tools := []string{"java"}
	if withJavac {
		tools = append(tools, "javac")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if jar {
		if _, err := os.Stat(ZKJar); err != nil {
			missing = append(missing, ZKJar)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s is set but %s missing (apt-get install zookeeper default-jdk-headless)", RequireEnv, strings.Join(missing, " and "))
	}
	t.Skipf("%s missing; set %s=1 to make this a failure", strings.Join(missing, " and "), RequireEnv)
}

// RepoRoot is the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// ZkserverBinary builds ./cmd/zkserver once per test process and returns
// its path; Cleanup (from TestMain) removes it.
func ZkserverBinary(t testing.TB) string {
	t.Helper()
	bin, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Build is ZkserverBinary for a TestMain (no test to fail).
func Build() (string, error) {
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "zkserver-test-bin-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "zkserver")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/zkserver")
		cmd.Dir = RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/zkserver: %v\n%s", err, out)
		}
	})
	return buildBin, buildErr
}

// Cleanup removes what the package built; call it from TestMain after
// m.Run.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Main runs the tests and then Cleanup: func TestMain(m *testing.M) {
// testkit.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

var (
	portMu    sync.Mutex
	handedOut = map[int]bool{}
	portRng   = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
)

// ErrNoPort is returned when no free port was found.
var ErrNoPort = errors.New("testkit: no free port in 20000-31999")

// Port hands out a loopback port that is free now, from 20000-31999:
// outside the kernel's ephemeral range (32768-60999 by default), so
// neither an outgoing connection's source port nor a ":0" listener can
// take it between this check and the server binding it; never the same
// port twice per test process.
func Port() (int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	for i := 0; i < 4000; i++ {
		p := 20000 + portRng.IntN(12000)
		if handedOut[p] {
			continue
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		handedOut[p] = true
		return p, nil
	}
	return 0, ErrNoPort
}

// FreePort is Port failing t when none is found.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := Port()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// FreePorts returns n distinct ports (see Port).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		out[i] = FreePort(t)
	}
	return out
}
