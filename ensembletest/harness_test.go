package ensembletest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zkserver/zkserver/internal/testkit"
)

// bin is the zkserver binary built once by TestMain.
var bin string

// hardTimeout bounds the whole test binary: when it fires every process
// the tests started is killed and the binary exits with a failure, so a
// hung scenario never leaves servers behind (go test's own -timeout
// panics without running Cleanup).
const hardTimeout = 25 * time.Minute

// live tracks every started process so the watchdog can kill them all.
var live struct {
	sync.Mutex
	procs map[*os.Process]bool
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	defer testkit.Cleanup()
	var err error
	if bin, err = testkit.Build(); err != nil {
		fmt.Fprintln(os.Stderr, "ensembletest:", err)
		return 1
	}
	live.procs = map[*os.Process]bool{}
	limit := hardTimeout
	if s := os.Getenv("ENSEMBLE_TIMEOUT"); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			limit = d
		}
	}
	watchdog := time.AfterFunc(limit, func() {
		live.Lock()
		for p := range live.procs {
			_ = p.Signal(syscall.SIGCONT)
			_ = p.Kill()
		}
		live.Unlock()
		fmt.Fprintf(os.Stderr, "ensembletest: hard timeout %v reached; killed every zkserver and exiting\n", limit)
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		os.Stderr.Write(buf[:n])
		os.Exit(2)
	})
	defer watchdog.Stop()
	return m.Run()
}

const (
	readyWait = 30 * time.Second // start until an ensemble serves
	exitWait  = 10 * time.Second // SIGKILL until the process is reaped
)

// Timing of the test ensembles: short ticks so that leader loss is noticed
// quickly (syncLimit*tickTime = 1 s), sessions long enough to ride out an
// election.
const (
	tickMs    = 250
	initLimit = 20
	syncLimit = 4
)

// node is one ensemble member's process history: its ports and data
// directory stay fixed across restarts, every start gets its own log file.
type node struct {
	t        *testing.T
	c        *cluster
	id       int
	dir      string
	dataDir  string
	client   int // client port
	quorum   int // quorum port it listens on
	election int // election port it listens on

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	stopped bool // SIGSTOPped
	starts  int
	logs    []string
}

func (n *node) addr() string { return fmt.Sprintf("127.0.0.1:%d", n.client) }

// writeConfig writes zoo.cfg: its own server line holds its real ports,
// every other line the proxy (if any) that carries this node's traffic to
// that peer.
func (n *node) writeConfig() {
	t := n.t
	conf := []string{
		fmt.Sprintf("tickTime=%d", tickMs),
		"admin.enableServer=false",
		fmt.Sprintf("initLimit=%d", initLimit),
		fmt.Sprintf("syncLimit=%d", syncLimit),
		"dataDir=" + n.dataDir,
		fmt.Sprintf("clientPort=%d", n.client),
		"clientPortAddress=127.0.0.1",
		"4lw.commands.whitelist=*",
		"admin.enableServer=false",
		"maxSessionTimeout=20000",
	}
	// ZKSERVER_STORAGE=pebble runs every node in pebble mode (make
	// ensemble-pebble)
	if st := os.Getenv("ZKSERVER_STORAGE"); st != "" {
		conf = append(conf, "storageEngine="+st, "pebbleCacheSizeMB=16", "snapCount=400")
	}
	for _, p := range n.c.nodes {
		q, e := p.quorum, p.election
		if p != n && n.c.proxied {
			q, e = n.c.link(n.id, p.id).quorum.port(), n.c.link(n.id, p.id).election.port()
		}
		conf = append(conf, fmt.Sprintf("server.%d=127.0.0.1:%d:%d", p.id, q, e))
	}
	if err := os.WriteFile(filepath.Join(n.dir, "zoo.cfg"), []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// start launches the process (it serves only once an election settles).
func (n *node) start() {
	t := n.t
	t.Helper()
	if n.running() {
		t.Fatalf("server.%d already running", n.id)
	}
	n.writeConfig()
	n.starts++
	logPath := filepath.Join(n.dir, fmt.Sprintf("server-%d-%02d.log", n.id, n.starts))
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "start", "--config", filepath.Join(n.dir, "zoo.cfg"), "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("starting zkserver: %v", err)
	}
	live.Lock()
	live.procs[cmd.Process] = true
	live.Unlock()
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited, n.waitErr, n.stopped = cmd, exited, nil, false
	n.logs = append(n.logs, logPath)
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		out.Close()
		live.Lock()
		delete(live.procs, cmd.Process)
		live.Unlock()
		n.mu.Lock()
		n.waitErr = err
		n.mu.Unlock()
		close(exited)
	}()
}

func (n *node) running() bool {
	n.mu.Lock()
	ch := n.exited
	n.mu.Unlock()
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL (after SIGCONT if stopped) and waits until reaped.
func (n *node) kill() {
	n.mu.Lock()
	cmd, ch := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil || !n.running() {
		return
	}
	if err := cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		n.t.Errorf("SIGKILL server.%d: %v", n.id, err)
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-ch:
	case <-time.After(exitWait):
		n.t.Errorf("server.%d pid %d not reaped %v after SIGKILL", n.id, cmd.Process.Pid, exitWait)
	}
}

func (n *node) signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	if err := n.cmd.Process.Signal(sig); err != nil {
		n.t.Errorf("signal %v to server.%d: %v", sig, n.id, err)
	}
	n.stopped = sig == syscall.SIGSTOP
}

// tail returns the last max bytes of the node's current log.
func (n *node) tail(max int) string {
	n.mu.Lock()
	logs := append([]string(nil), n.logs...)
	n.mu.Unlock()
	var b strings.Builder
	for _, p := range logs {
		data, _ := os.ReadFile(p)
		s := string(data)
		if len(s) > max {
			s = "...\n" + s[len(s)-max:]
		}
		fmt.Fprintf(&b, "---- %s ----\n%s\n", p, s)
	}
	return b.String()
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

// srvrInfo is what srvr tells about a server.
type srvrInfo struct {
	mode string
	zxid int64
}

func (n *node) srvr() (srvrInfo, error) {
	ans, err := fourLetter(n.addr(), "srvr")
	if err != nil {
		return srvrInfo{}, err
	}
	var info srvrInfo
	for _, line := range strings.Split(ans, "\n") {
		if v, ok := strings.CutPrefix(line, "Mode: "); ok {
			info.mode = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "Zxid: "); ok {
			z, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(v), "0x"), 16, 64)
			if err != nil {
				return info, fmt.Errorf("srvr Zxid %q: %v", v, err)
			}
			info.zxid = int64(z)
		}
	}
	if info.mode == "" {
		return info, fmt.Errorf("srvr without Mode: %q", ans)
	}
	return info, nil
}

// mntr returns the key/value lines of mntr.
func (n *node) mntr() (map[string]string, error) {
	ans, err := fourLetter(n.addr(), "mntr")
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(ans, "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("mntr answered %q", ans)
	}
	return m, nil
}

// cluster is an ensemble of nodes, optionally with a proxy on every
// directed peer link.
type cluster struct {
	t       *testing.T
	nodes   []*node
	proxied bool
	links   map[[2]int]*peerLink
}

// peerLink is what node from uses to reach node to: one proxy for the
// quorum port and one for the election port.
type peerLink struct {
	quorum, election *proxy
}

func (c *cluster) link(from, to int) *peerLink { return c.links[[2]int{from, to}] }

// newCluster prepares (but does not start) size nodes.
func newCluster(t *testing.T, size int, proxied bool) *cluster {
	t.Helper()
	c := &cluster{t: t, proxied: proxied, links: map[[2]int]*peerLink{}}
	root := t.TempDir()
	if keep := os.Getenv("ENSEMBLE_LOGS"); keep != "" {
		// kept after the test for reading the nodes' debug logs
		dir := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		root = dir
		t.Logf("node directories and logs under %s", root)
	}
	for i := 1; i <= size; i++ {
		n := &node{t: t, c: c, id: i, dir: filepath.Join(root, fmt.Sprintf("n%d", i))}
		n.dataDir = filepath.Join(n.dir, "data")
		if err := os.MkdirAll(n.dataDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(n.dataDir, "myid"), []byte(strconv.Itoa(i)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*int{&n.client, &n.quorum, &n.election} {
			port, err := testkit.Port()
			if err != nil {
				t.Fatal(err)
			}
			*p = port
		}
		c.nodes = append(c.nodes, n)
	}
	if proxied {
		for _, a := range c.nodes {
			for _, b := range c.nodes {
				if a == b {
					continue
				}
				l := &peerLink{
					quorum:   newProxy(t, fmt.Sprintf("%d->%d quorum", a.id, b.id), fmt.Sprintf("127.0.0.1:%d", b.quorum)),
					election: newProxy(t, fmt.Sprintf("%d->%d election", a.id, b.id), fmt.Sprintf("127.0.0.1:%d", b.election)),
				}
				c.links[[2]int{a.id, b.id}] = l
			}
		}
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			n.kill()
		}
		if t.Failed() {
			for _, n := range c.nodes {
				t.Logf("server.%d log:\n%s", n.id, n.tail(40000))
			}
			t.Logf("logs kept under %s until the test ends", root)
		}
	})
	return c
}

func (c *cluster) node(id int) *node { return c.nodes[id-1] }

func (c *cluster) startAll() {
	for _, n := range c.nodes {
		n.start()
	}
}

// cut isolates the two nodes from each other in both directions; mode
// says what happens to open connections (see proxy.cut).
func (c *cluster) cut(a, b int, mode cutMode) {
	for _, l := range []*peerLink{c.link(a, b), c.link(b, a)} {
		l.quorum.cut(mode)
		l.election.cut(mode)
	}
}

func (c *cluster) restore(a, b int) {
	for _, l := range []*peerLink{c.link(a, b), c.link(b, a)} {
		l.quorum.restore()
		l.election.restore()
	}
}

// isolate cuts every link of node id.
func (c *cluster) isolate(id int, mode cutMode) {
	for _, n := range c.nodes {
		if n.id != id {
			c.cut(id, n.id, mode)
		}
	}
}

func (c *cluster) healAll() {
	for _, l := range c.links {
		l.quorum.restore()
		l.election.restore()
	}
}

// roles asks every running, not stopped node for srvr; nodes that do not
// answer are left out.
func (c *cluster) roles() map[int]srvrInfo {
	out := map[int]srvrInfo{}
	for _, n := range c.nodes {
		n.mu.Lock()
		stopped := n.stopped
		n.mu.Unlock()
		if !n.running() || stopped {
			continue
		}
		if info, err := n.srvr(); err == nil {
			out[n.id] = info
		}
	}
	return out
}

// waitLeader waits until one leader is serving and want nodes (counting
// the leader) answer srvr as leader or follower; it returns the leader.
// Nodes in exclude are not counted and may not be the leader.
func (c *cluster) waitLeader(want int, d time.Duration, exclude ...int) *node {
	c.t.Helper()
	deadline := time.Now().Add(d)
	var last map[int]srvrInfo
	for time.Now().Before(deadline) {
		last = c.roles()
		leaders, serving := []int{}, 0
		for id, info := range last {
			if contains(exclude, id) {
				continue
			}
			switch info.mode {
			case "leader":
				leaders = append(leaders, id)
				serving++
			case "follower":
				serving++
			}
		}
		if len(leaders) == 1 && serving >= want {
			return c.node(leaders[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("no leader with %d serving members within %v; last srvr modes: %v", want, d, last)
	return nil
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (c *cluster) followers(leader *node) []*node {
	var out []*node
	for _, n := range c.nodes {
		if n != leader {
			out = append(out, n)
		}
	}
	return out
}
