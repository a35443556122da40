package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseModeAndSettled(t *testing.T) {
	srvr := "Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nZxid: 0x100000002\nMode: follower\nNode count: 5\n"
	if m := parseMode(srvr); m != "follower" {
		t.Fatalf("parseMode = %q", m)
	}
	if m := parseMode("This ZooKeeper instance is not currently serving requests\n"); m != "" {
		t.Fatalf("parseMode(not serving) = %q", m)
	}
	for _, c := range []struct {
		modes  []string
		leader int
		ok     bool
	}{
		{[]string{"follower", "leader", "follower"}, 1, true},
		{[]string{"leader", "follower", "observer"}, 0, true},
		{[]string{"follower", "follower", "follower"}, -1, false},
		{[]string{"leader", "", "follower"}, -1, false},
		{[]string{"leader", "leader", "follower"}, -1, false},
		{[]string{"standalone"}, -1, false},
	} {
		l, ok := settled(c.modes)
		if ok != c.ok || (ok && l != c.leader) {
			t.Errorf("settled(%q) = %d, %v; want %d, %v", c.modes, l, ok, c.leader, c.ok)
		}
	}
	m := parseMntr("zk_version\t3.8.0\r\nzk_synced_followers\t2\nnot a pair\n")
	if m["zk_synced_followers"] != "2" || m["zk_version"] != "3.8.0" || len(m) != 2 {
		t.Fatalf("parseMntr = %v", m)
	}
}

func TestClientAddr(t *testing.T) {
	as := "127.0.0.1:1, 127.0.0.1:2,127.0.0.1:3"
	want := []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:1"}
	for i, w := range want {
		if got := clientAddr(as, i); got != w {
			t.Errorf("clientAddr(%d) = %q, want %q", i, got, w)
		}
	}
	if got := clientAddr("127.0.0.1:9", 5); got != "127.0.0.1:9" {
		t.Errorf("one address: %q", got)
	}
}

func TestFailoverRejectsBadInput(t *testing.T) {
	if _, err := Failover(FailoverConfig{Addrs: []string{"127.0.0.1:1"}, Pids: []int{1}}); err == nil {
		t.Error("one address accepted")
	}
	if _, err := Failover(FailoverConfig{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, Pids: []int{1}}); err == nil {
		t.Error("pid count mismatch accepted")
	}
	// Nothing listening: the ensemble never settles, and nothing is killed.
	killed := false
	r, err := Failover(FailoverConfig{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, Pids: []int{1, 2},
		Timeout: 200 * time.Millisecond, kill: func(int) error { killed = true; return nil }})
	if err == nil || killed || r.Killed != 0 {
		t.Errorf("no servers: %+v, %v, killed=%v", r, err, killed)
	}
}

func TestEnsembleReport(t *testing.T) {
	lines := []string{
		`{"kind":"meta","commit":"abc","date":"d"}`,
		`{"kind":"meta","setup":"ensemble3","ensemble":"3 members, load generator shares the cores"}`,
		`{"kind":"run","server":"zkserver","workload":"set","clients":64,"value_size":128,"ops_per_sec":9000,"p99_us":9000}`,
		`{"kind":"run","server":"zookeeper","workload":"set","clients":64,"value_size":128,"ops_per_sec":3000,"p99_us":9000}`,
	}
	for rep, v := range [][2]float64{{5000, 4000}, {6000, 1000}, {7000, 2000}} { // zkserver, zookeeper ops/s
		lines = append(lines,
			fmt.Sprintf(`{"kind":"run","server":"zkserver","setup":"ensemble3","workload":"create","clients":16,"value_size":128,"rep":%d,"ops_per_sec":%g,"p50_us":1000,"p99_us":4000}`, rep+1, v[0]),
			fmt.Sprintf(`{"kind":"run","server":"zookeeper","setup":"ensemble3","workload":"create","clients":16,"value_size":128,"rep":%d,"ops_per_sec":%g,"p50_us":2000,"p99_us":2000}`, rep+1, v[1]),
			fmt.Sprintf(`{"kind":"run","server":"zkserver","setup":"ensemble3","workload":"get","clients":16,"value_size":128,"rep":%d,"ops_per_sec":100,"p50_us":100,"p99_us":100}`, rep+1),
		)
	}
	for i, s := range []float64{0.3, 0.9, 0.35, 0.4, 0.5} {
		lines = append(lines, fmt.Sprintf(`{"kind":"failover","server":"zkserver","setup":"ensemble3","rep":%d,"killed":3,"new_leader":2,"seconds":%g,"all_seconds":%g,"elected_seconds":0.2}`, i+1, s, s+0.01))
	}
	for i, s := range []float64{1.0, 0.8, 2.0, 0.9, 0.7} {
		lines = append(lines, fmt.Sprintf(`{"kind":"failover","server":"zookeeper","setup":"ensemble3","rep":%d,"killed":2,"new_leader":3,"seconds":%g,"all_seconds":%g,"elected_seconds":0.5}`, i+1, s, s))
	}
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := writeReport(path, &out); err != nil {
		t.Fatal(err)
	}
	rep := out.String()
	standalone, ensemble, ok := strings.Cut(rep, "## Ensembles (ensemble3)")
	if !ok {
		t.Fatalf("no ensemble section:\n%s", rep)
	}
	// Standalone rows stay in the standalone table, ensemble meta in its section.
	if !strings.Contains(standalone, "| set | 64 | 128 | 3000 | 9000 | 3.00× |") || strings.Contains(standalone, "load generator shares") {
		t.Errorf("standalone part:\n%s", standalone)
	}
	for _, want := range []string{
		"- ensemble: 3 members, load generator shares the cores",
		// medians: zkserver 6000, ZooKeeper 2000 → 3.00×, goal met; p99 4 ms vs 2 ms → 2.00×, not met
		"| create | 16 | 128 | 2000 | 6000 | 3.00× | met | 2.00 | 1.00 | 2.00 | 4.00 | 2.00× | **not met** |",
		"| get | 16 | 128 | — | 100 | — | (read) |",
		"| kills | 5 | 5 | | |",
		// medians: zkserver 0.4, ZooKeeper 0.9 → 0.44×, met
		"| **first write acknowledged** | 0.900 | 0.400 | 0.44× | met |",
		"| a survivor's srvr says leader (polled every 20 ms) | 0.500 | 0.200 | 0.40× | |",
		"| zkserver | 2 | 3 | 2 | 0.900 | 0.910 | 0.200 |",
	} {
		if !strings.Contains(ensemble, want) {
			t.Errorf("ensemble section lacks %q:\n%s", want, ensemble)
		}
	}
}

// startEnsemble starts a 3-node zkserver ensemble on free loopback ports and
// returns the client addresses and the processes (killed at the end).
func startEnsemble(t *testing.T) ([]string, []*exec.Cmd) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zkserver")
	if out, err := exec.Command(goTool(), "build", "-o", bin, "github.com/zkserver/zkserver/cmd/zkserver").CombinedOutput(); err != nil {
		t.Fatalf("go build zkserver: %v\n%s", err, out)
	}
	const n = 3
	var cport, qport, eport [n]int
	for i := range n {
		cport[i], qport[i], eport[i] = freePort(t), freePort(t), freePort(t)
	}
	var addrs []string
	var cmds []*exec.Cmd
	logs := make([]*bytes.Buffer, n)
	for i := range n {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n", dir, cport[i])
		for j := range n {
			cfg += fmt.Sprintf("server.%d=127.0.0.1:%d:%d\n", j+1, qport[j], eport[j])
		}
		if err := os.WriteFile(filepath.Join(dir, "zoo.cfg"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "start", "--config", filepath.Join(dir, "zoo.cfg"))
		logs[i] = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = logs[i], logs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", cport[i]))
	}
	t.Cleanup(func() {
		for i, c := range cmds {
			c.Process.Kill()
			c.Wait()
			if t.Failed() {
				s := logs[i].String()
				if len(s) > 4000 {
					s = s[len(s)-4000:]
				}
				t.Logf("member %d log tail:\n%s", i+1, s)
			}
		}
	})
	return addrs, cmds
}

// TestEnsembleFailover runs the ensemble modes against a real 3-node
// zkserver ensemble: a write run spread over the members, ensemble-ready,
// then a leader kill.
func TestEnsembleFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts an ensemble")
	}
	addrs, cmds := startEnsemble(t)
	joined := strings.Join(addrs, ",")
	ready, err := waitEnsemble(addrs, 30*time.Second, "zkserver")
	if err != nil {
		t.Fatal(err)
	}
	if ready.Leader < 1 || ready.Leader > 3 || len(ready.Modes) != 3 {
		t.Fatalf("ready: %+v", ready)
	}

	// Sessions spread over all members, through followers too.
	rs := runJSON(t, "-addr", joined, "-workload", "create", "-clients", "3", "-duration", "300ms", "-ops", "3000", "-setup", "ensemble3", "-label", "zkserver")
	if len(rs) != 1 || rs[0].Setup != "ensemble3" || rs[0].Errors != 0 {
		t.Fatalf("create over the ensemble: %+v", rs)
	}
	runJSON(t, "-addr", joined, "-workload", "get", "-clients", "4", "-duration", "200ms", "-ops", "3000")

	pids := make([]int, len(cmds))
	for i, c := range cmds {
		pids[i] = c.Process.Pid
	}
	var killedPid int
	r, err := Failover(FailoverConfig{Addrs: addrs, Pids: pids, Path: "/zkbench/failover", ValueSize: 16,
		Interval: 5 * time.Millisecond, Stall: 2 * time.Second, Warmup: 200 * time.Millisecond, Timeout: 30 * time.Second,
		Label: "zkserver", Setup: "ensemble3", Rep: 1,
		kill: func(pid int) error { killedPid = pid; return syscall.Kill(pid, syscall.SIGKILL) }})
	if err != nil {
		t.Fatalf("failover: %v (%+v)", err, r)
	}
	if r.Killed != ready.Leader || r.KilledPid != pids[ready.Leader-1] || killedPid != r.KilledPid {
		t.Errorf("killed %d (pid %d, kill saw %d), want the leader %d (pid %d)", r.Killed, r.KilledPid, killedPid, ready.Leader, pids[ready.Leader-1])
	}
	if r.NewLeader == 0 || r.NewLeader == r.Killed {
		t.Errorf("new leader %d after killing %d", r.NewLeader, r.Killed)
	}
	if r.Seconds <= 0 || r.AllSeconds < r.Seconds || r.WritesPre < 10 || r.WritesPost < 1 || r.Via == addrs[r.Killed-1] {
		t.Errorf("implausible failover result %+v", r)
	}
	// The killed process is gone (Wait returns), the survivors serve.
	done := make(chan error, 1)
	go func() { done <- cmds[r.Killed-1].Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Errorf("killed member: wait = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("killed member still running")
	}
	var survivors []string
	for i, a := range addrs {
		if i != r.Killed-1 {
			survivors = append(survivors, a)
		}
	}
	if _, err := waitEnsemble(survivors, 10*time.Second, "zkserver"); err != nil {
		t.Error(err)
	}
}
