package ensembletest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/go-zookeeper/zk"
)

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// sessionTimeout is the clients' session timeout: longer than an election,
// so sessions survive failovers.
const sessionTimeout = 8 * time.Second

// dial connects a client to the given servers only.
func dial(t *testing.T, addrs ...string) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect(addrs, sessionTimeout, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatalf("zk.Connect %v: %v", addrs, err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// retry runs f until it returns nil or d passes.
func retry(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// seed returns ENSEMBLE_SEED or a fresh seed, logged so a run can be
// replayed (the client choices; process timing is not replayable).
func seed(t *testing.T) uint64 {
	if s := os.Getenv("ENSEMBLE_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ENSEMBLE_SEED=%q: %v", s, err)
		}
		return v
	}
	v := uint64(time.Now().UnixNano())
	t.Logf("workload seed %d (ENSEMBLE_SEED=%d replays the client choices)", v, v)
	return v
}

// numKeys is how many registers the workload writes (/reg/k0..).
const numKeys = 4

// regInput is a write to register key: setData with version -1, or a
// conditional setData expecting expect.
type regInput struct {
	key    int
	cas    bool
	expect int32
	value  string
}

// regOutput is what the client saw: the new data version, a BadVersion
// answer, or nothing definite (connection lost, session expired, ...).
type regOutput struct {
	version    int32
	badVersion bool
	unknown    bool
}

// regModel is a register whose state is its data version: a write that
// takes effect makes it version+1; a conditional write takes effect only
// when the version matches. Writes with unknown outcomes return at the end
// of the history, so "never happened" is covered by "happened last".
var regModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(regInput).key
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for k := 0; k < numKeys; k++ {
			if len(by[k]) > 0 {
				out = append(out, by[k])
			}
		}
		return out
	},
	Init: func() any { return int32(0) },
	Step: func(state, input, output any) (bool, any) {
		v := state.(int32)
		in, out := input.(regInput), output.(regOutput)
		if out.unknown {
			if in.cas && in.expect != v {
				return true, v
			}
			return true, v + 1
		}
		if out.badVersion {
			return in.cas && in.expect != v, v
		}
		if in.cas && in.expect != v {
			return false, v
		}
		return out.version == v+1, v + 1
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(regInput), output.(regOutput)
		op := fmt.Sprintf("set(k%d)", in.key)
		if in.cas {
			op = fmt.Sprintf("cas(k%d, %d)", in.key, in.expect)
		}
		switch {
		case out.unknown:
			return op + " -> ?"
		case out.badVersion:
			return op + " -> BadVersion"
		}
		return fmt.Sprintf("%s -> v%d", op, out.version)
	},
	DescribeState: func(state any) string { return fmt.Sprintf("v%d", state.(int32)) },
}

// definite reports whether err is an answer the server gave about the
// operation itself (so it certainly did or did not happen).
func definite(err error) bool {
	return err == nil || errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNoNode)
}

// workload runs one writer client per server and sync readers on every
// server, recording what they see.
type workload struct {
	t     *testing.T
	c     *cluster
	start time.Time

	mu         sync.Mutex
	ops        []porcupine.Operation
	unknownIdx []int          // indexes into ops whose outcome is unknown
	seqAcked   map[string]int // acknowledged sequential names -> writer
	seqDups    []string
	created    []string // acknowledged plain creates
	maxVersion [numKeys]int32
	syncBad    []string

	acked     atomic.Int64 // acknowledged writes of any kind
	syncLast  atomic.Int64 // highest /syncreg value acknowledged
	syncZxid  sync.Map     // /syncreg value -> zxid of its setData
	noSync    sync.Map     // server id -> true: its sync reads are not checked
	syncReads atomic.Int64 // sync+read checks done
	stopCh    chan struct{}
	wg        sync.WaitGroup
}

// prepare creates the nodes the workload uses (through any server).
func prepare(t *testing.T, c *cluster) {
	t.Helper()
	var addrs []string
	for _, n := range c.nodes {
		addrs = append(addrs, n.addr())
	}
	conn := dial(t, addrs...)
	paths := []string{"/reg", "/seq", "/acked", "/syncreg"}
	for k := 0; k < numKeys; k++ {
		paths = append(paths, fmt.Sprintf("/reg/k%d", k))
	}
	for _, p := range paths {
		data := []byte{}
		if p == "/syncreg" {
			data = []byte("0")
		}
		err := retry(20*time.Second, func() error {
			_, err := conn.Create(p, data, 0, zk.WorldACL(zk.PermAll))
			if errors.Is(err, zk.ErrNodeExists) {
				return nil
			}
			return err
		})
		if err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	conn.Close()
}

func startWorkload(t *testing.T, c *cluster, seed uint64) *workload {
	prepare(t, c)
	w := &workload{t: t, c: c, start: time.Now(), seqAcked: map[string]int{}, stopCh: make(chan struct{})}
	for i, n := range c.nodes {
		conn := dial(t, n.addr())
		w.wg.Add(1)
		go w.writer(i, conn, rand.New(rand.NewPCG(seed, uint64(i))))
	}
	// one /syncreg writer on server 1, a sync reader on every other server
	w.wg.Add(1)
	go w.syncWriter(dial(t, c.nodes[0].addr()))
	for _, n := range c.nodes[1:] {
		w.wg.Add(1)
		go w.syncReader(n.id, dial(t, n.addr()))
	}
	return w
}

func (w *workload) now() int64 { return int64(time.Since(w.start)) }

func (w *workload) stopped() bool {
	select {
	case <-w.stopCh:
		return true
	default:
		return false
	}
}

func (w *workload) writer(id int, conn *zk.Conn, rng *rand.Rand) {
	defer w.wg.Done()
	var seen [numKeys]int32
	for i := 0; !w.stopped(); i++ {
		// no requests while disconnected: they could only end unknown,
		// and every unknown outcome widens porcupine's search
		if conn.State() != zk.StateHasSession {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		switch r := rng.IntN(10); {
		case r < 6:
			in := regInput{key: rng.IntN(numKeys), value: fmt.Sprintf("w%d-%d", id, i)}
			ver := int32(-1)
			if r >= 3 {
				in.cas, in.expect = true, seen[in.key]
				ver = in.expect
			}
			call := w.now()
			st, err := conn.Set(fmt.Sprintf("/reg/k%d", in.key), []byte(in.value), ver)
			ret := w.now()
			var out regOutput
			switch {
			case err == nil:
				out.version = st.Version
				seen[in.key] = st.Version
				w.acked.Add(1)
			case errors.Is(err, zk.ErrBadVersion) && in.cas:
				out.badVersion = true
				// a guess of the current version for the next cas
				if _, st, err := conn.Exists(fmt.Sprintf("/reg/k%d", in.key)); err == nil && st != nil {
					seen[in.key] = st.Version
				}
			default:
				out.unknown = true
			}
			w.mu.Lock()
			if out.unknown {
				w.unknownIdx = append(w.unknownIdx, len(w.ops))
			}
			if err == nil && st.Version > w.maxVersion[in.key] {
				w.maxVersion[in.key] = st.Version
			}
			w.ops = append(w.ops, porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret})
			w.mu.Unlock()
		case r < 8:
			name, err := conn.Create("/seq/s-", []byte(strconv.Itoa(id)), zk.FlagSequence, zk.WorldACL(zk.PermAll))
			if err == nil {
				w.acked.Add(1)
				w.mu.Lock()
				if prev, dup := w.seqAcked[name]; dup {
					w.seqDups = append(w.seqDups, fmt.Sprintf("%s acknowledged to writer %d and writer %d", name, prev, id))
				}
				w.seqAcked[name] = id
				w.mu.Unlock()
			}
		default:
			p := fmt.Sprintf("/acked/c%d-%d", id, i)
			if _, err := conn.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err == nil {
				w.acked.Add(1)
				w.mu.Lock()
				w.created = append(w.created, p)
				w.mu.Unlock()
			}
		}
		time.Sleep(time.Duration(2+rng.IntN(6)) * time.Millisecond)
	}
}

// syncWriter sets /syncreg to 1, 2, 3, ... and publishes each value once
// it is acknowledged.
func (w *workload) syncWriter(conn *zk.Conn) {
	defer w.wg.Done()
	next := int64(1)
	for !w.stopped() {
		if st, err := conn.Set("/syncreg", []byte(strconv.FormatInt(next, 10)), -1); err == nil {
			w.syncZxid.Store(next, st.Mzxid)
			w.syncLast.Store(next)
			w.acked.Add(1)
			next++
		} else if !definite(err) {
			// the value may or may not be there; never reuse it
			next++
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// syncReader checks that sync followed by a read on its server sees every
// /syncreg write acknowledged before the sync was sent, and that the
// values it reads never go back.
func (w *workload) syncReader(server int, conn *zk.Conn) {
	defer w.wg.Done()
	var last int64
	for !w.stopped() {
		before := w.syncLast.Load()
		if _, err := conn.Sync("/syncreg"); err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		data, st, err := conn.Get("/syncreg")
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		v, err := strconv.ParseInt(string(data), 10, 64)
		if _, skip := w.noSync.Load(server); skip {
			continue
		}
		w.syncReads.Add(1)
		w.mu.Lock()
		switch {
		case err != nil:
			w.syncBad = append(w.syncBad, fmt.Sprintf("server.%d: /syncreg holds %q", server, data))
		case v < before:
			z, _ := w.syncZxid.Load(before)
			w.syncBad = append(w.syncBad, fmt.Sprintf("server.%d: read %d (mzxid 0x%x) after sync, but %d (mzxid 0x%x) was acknowledged before the sync began at %v",
				server, v, st.Mzxid, before, z, time.Now().Format("15:04:05.000")))
		case v < last:
			w.syncBad = append(w.syncBad, fmt.Sprintf("server.%d: read %d after having read %d (went back)", server, v, last))
		}
		w.mu.Unlock()
		if err == nil {
			last = max(last, v)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitProgress waits until n more writes are acknowledged.
func (w *workload) waitProgress(n int64, d time.Duration, what string) {
	w.t.Helper()
	from := w.acked.Load()
	deadline := time.Now().Add(d)
	for w.acked.Load() < from+n {
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: only %d of %d writes acknowledged within %v", what, w.acked.Load()-from, n, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the workload (bounded: clients blocked on a dead server are
// abandoned; their connections close in Cleanup).
func (w *workload) stop() {
	close(w.stopCh)
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * sessionTimeout):
		w.t.Errorf("workload clients did not stop within %v", 2*sessionTimeout)
	}
}

// snapshot of the tree as one server serves it: path -> data and versions.
type treeNode struct {
	data     string
	version  int32
	cversion int32
}

func readTree(conn *zk.Conn) (map[string]treeNode, error) {
	out := map[string]treeNode{}
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := conn.Get(p)
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		out[p] = treeNode{data: string(data), version: st.Version, cversion: st.Cversion}
		kids, _, err := conn.Children(p)
		if err != nil {
			return fmt.Errorf("children %s: %w", p, err)
		}
		for _, k := range kids {
			child := p + "/" + k
			if p == "/" {
				child = "/" + k
			}
			if child == "/zookeeper" {
				continue
			}
			if err := walk(child); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk("/")
}

// waitConverged waits until every node reports the same srvr Zxid.
func waitConverged(t *testing.T, c *cluster, d time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(d)
	var last map[int]srvrInfo
	for time.Now().Before(deadline) {
		last = c.roles()
		if len(last) == len(c.nodes) {
			z, same := last[1].zxid, true
			for _, info := range last {
				same = same && info.zxid == z
			}
			if same {
				return z
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("servers did not converge to one zxid within %v: %v", d, last)
	return 0
}

// verify stops the workload and checks everything the ensemble promised.
// All nodes must be running and the network healed.
func (w *workload) verify() {
	t, c := w.t, w.c
	t.Helper()
	w.stop()
	end := w.now()
	c.waitLeader(len(c.nodes), readyWait)
	zxid := waitConverged(t, c, 30*time.Second)
	t.Logf("converged at zxid 0x%x; %d register ops (%d unknown), %d sequential and %d plain creates acknowledged, %d sync reads",
		zxid, len(w.ops), len(w.unknownIdx), len(w.seqAcked), len(w.created), w.syncReads.Load())

	// srvr and mntr agree on every node's role
	for _, n := range c.nodes {
		info, err := n.srvr()
		if err != nil {
			t.Errorf("server.%d srvr: %v", n.id, err)
			continue
		}
		m, err := n.mntr()
		if err != nil {
			t.Errorf("server.%d mntr: %v", n.id, err)
			continue
		}
		if m["zk_server_state"] != info.mode {
			t.Errorf("server.%d: srvr Mode %q but mntr zk_server_state %q", n.id, info.mode, m["zk_server_state"])
		}
	}

	// every server serves the same tree holding every acknowledged write
	var first map[string]treeNode
	for _, n := range c.nodes {
		conn := dial(t, n.addr())
		var tree map[string]treeNode
		err := retry(15*time.Second, func() error {
			if _, err := conn.Sync("/"); err != nil {
				return err
			}
			var err error
			tree, err = readTree(conn)
			return err
		})
		conn.Close()
		if err != nil {
			t.Errorf("server.%d: reading the tree: %v", n.id, err)
			continue
		}
		var missing []string
		for _, p := range w.created {
			if _, ok := tree[p]; !ok {
				missing = append(missing, p)
			}
		}
		for p := range w.seqAcked {
			if _, ok := tree[p]; !ok {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			t.Errorf("server.%d lacks %d acknowledged creates: %v", n.id, len(missing), head(missing, 20))
		}
		for k := 0; k < numKeys; k++ {
			p := fmt.Sprintf("/reg/k%d", k)
			if got := tree[p].version; got < w.maxVersion[k] {
				t.Errorf("server.%d: %s at version %d, but version %d was acknowledged", n.id, p, got, w.maxVersion[k])
			}
		}
		if first == nil {
			first = tree
			continue
		}
		if diff := treeDiff(first, tree); diff != "" {
			t.Errorf("server.%d serves a different tree than server.1: %s", n.id, diff)
		}
	}
	if len(w.seqDups) > 0 {
		t.Errorf("sequential names repeated: %v", head(w.seqDups, 20))
	}
	if len(w.syncBad) > 0 {
		t.Errorf("%d reads after sync missed writes: %v", len(w.syncBad), head(w.syncBad, 20))
	}

	// the register histories are linearizable
	ops := append([]porcupine.Operation(nil), w.ops...)
	for _, i := range w.unknownIdx {
		ops[i].Return = end + int64(time.Hour)
	}
	res, info := porcupine.CheckOperationsVerbose(regModel, ops, 2*time.Minute)
	switch res {
	case porcupine.Illegal:
		path := fmt.Sprintf("%s/porcupine-%s.html", os.TempDir(), strings.ReplaceAll(t.Name(), "/", "_"))
		if err := porcupine.VisualizePath(regModel, info, path); err == nil {
			t.Errorf("register history is not linearizable; visualization: %s", path)
		} else {
			t.Errorf("register history is not linearizable (visualization failed: %v)", err)
		}
	case porcupine.Unknown:
		t.Logf("porcupine timed out on %d ops: linearizability not decided", len(ops))
	}
}

func treeDiff(a, b map[string]treeNode) string {
	var diffs []string
	for p, x := range a {
		y, ok := b[p]
		switch {
		case !ok:
			diffs = append(diffs, "missing "+p)
		case x != y:
			diffs = append(diffs, fmt.Sprintf("%s: %+v vs %+v", p, x, y))
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			diffs = append(diffs, "extra "+p)
		}
	}
	sort.Strings(diffs)
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprintf("%d differences: %v", len(diffs), head(diffs, 20))
}

func head(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("... (%d more)", len(s)-n))
	}
	return s
}
