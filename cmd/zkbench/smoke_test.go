package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goTool returns the go command that runs this test.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startBinary builds pkg and runs it with args; the process is killed when
// the test ends. It waits until addr answers ruok.
func startBinary(t *testing.T, pkg, addr string, args ...string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	if out, err := exec.Command(goTool(), "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	var logBuf bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", pkg, logBuf.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !ruok(addr) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: no imok on %s", pkg, addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runJSON(t *testing.T, args ...string) []Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if rc := run(append([]string{"-json"}, args...), &stdout, &stderr); rc != 0 {
		t.Fatalf("zkbench %v: exit %d\n%s", args, rc, stderr.String())
	}
	if !strings.Contains(stderr.String(), "ops/s") {
		t.Errorf("zkbench %v: no table on stderr:\n%s", args, stderr.String())
	}
	var rs []Result
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("zkbench %v: bad JSON line %q: %v", args, sc.Text(), err)
		}
		if r.Kind != "run" || r.Ops <= 0 || r.OpsPerSec <= 0 || r.P50Us <= 0 || r.MaxUs < r.P99Us {
			t.Errorf("zkbench %v: implausible result %+v", args, r)
		}
		rs = append(rs, r)
	}
	return rs
}

// TestSmoke runs every workload briefly: against zkfake, and exists-watch
// (whose watches zkfake never fires) against a real zkserver.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts servers")
	}
	fakeAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startBinary(t, "github.com/zkserver/zkserver/cmd/zkfake", fakeAddr, "-addr", fakeAddr)
	zsPort := freePort(t)
	zsAddr := fmt.Sprintf("127.0.0.1:%d", zsPort)
	dir := t.TempDir()
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n", dir, zsPort)
	if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	startBinary(t, "github.com/zkserver/zkserver/cmd/zkserver", zsAddr, "start", "--config", filepath.Join(dir, "zoo.cfg"))

	var all []Result
	common := []string{"-duration", "300ms", "-ops", "3000", "-label", "smoke"}
	for _, wl := range []string{"create", "set", "get", "mixed", "ephemeral-churn"} {
		rs := runJSON(t, append([]string{"-addr", fakeAddr, "-workload", wl, "-clients", "1,4", "-value-size", "128"}, common...)...)
		if len(rs) != 2 {
			t.Fatalf("%s: %d results, want 2", wl, len(rs))
		}
		all = append(all, rs...)
	}
	all = append(all, runJSON(t, append([]string{"-addr", zsAddr, "-workload", "exists-watch", "-clients", "2"}, common...)...)...)
	// The op bound holds as well as the time bound.
	rs := runJSON(t, "-addr", fakeAddr, "-workload", "get", "-clients", "2", "-ops", "100", "-duration", "10s")
	if rs[0].Ops > 100 {
		t.Errorf("-ops 100: %d ops", rs[0].Ops)
	}
	// load: every znode created, and the last one is readable on a real server.
	rs = runJSON(t, "-addr", zsAddr, "-workload", "load", "-n", "1500", "-clients", "2", "-pipeline", "8", "-value-size", "100", "-duration", "20s")
	if rs[0].Ops != 1500 || rs[0].LastPath == "" {
		t.Fatalf("load: %+v", rs[0])
	}
	r, err := waitReady(zsAddr, rs[0].LastPath, time.Now(), 5*time.Second, "zkserver", 1500)
	if err != nil || r.Seconds <= 0 {
		t.Fatalf("ready: %+v, %v", r, err)
	}
	all = append(all, rs...)

	f, err := fsyncRate(t.TempDir(), 100*time.Millisecond)
	if err != nil || f.Fsyncs == 0 {
		t.Fatalf("fsync: %+v, %v", f, err)
	}

	// The report reads what was produced.
	var b bytes.Buffer
	for _, r := range all {
		printLine(&b, r)
	}
	printLine(&b, f)
	printLine(&b, r)
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeReport(path, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| create | 1 | 128 |", "| exists-watch | 2 | 128 |", "fsyncs/s", "| 1500 |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
