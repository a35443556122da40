package crashtest

import (
	"errors"
	"fmt"
	"math/rand"
	"net"
	"os"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

const (
	tickMs         = 200
	sessionTimeout = 1600 * time.Millisecond // 8 ticks, within [2, 20] ticks
	ephParent      = "/crash-eph"
	// ephGrace is added to sessionTimeout + 2 ticks for process start,
	// the closeSession fsync and our polling on a loaded machine.
	ephGrace = 1500 * time.Millisecond
)

func envInt(t *testing.T, name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// writer owns the subtree /crash/w<id>; its model carries over rounds.
type writer struct {
	id    int
	root  string
	model tree
	ctr   int // unique name counter, never reused

	// per round
	conn      *zk.Conn
	dialOff   *atomic.Bool
	disturbed atomic.Int64 // unix nanos of the first disconnect/expiry, 0 = none
	acked     int
	inDoubt   *op
	eph       []ephemeral
	broken    error // a definite answer contradicting the model
}

type ephemeral struct {
	path  string
	acked bool
}

type roundStats struct {
	acked, failedMultis, inDoubt, inDoubtApplied int
}

func TestKillNineLosesNothingAcknowledged(t *testing.T) {
	rounds := int(envInt(t, "CRASH_ROUNDS", 8))
	nWriters := int(envInt(t, "CRASH_WRITERS", 8))
	seed := envInt(t, "CRASH_SEED", time.Now().UnixNano())
	t.Logf("CRASH_SEED=%d CRASH_ROUNDS=%d CRASH_WRITERS=%d", seed, rounds, nWriters)
	rng := rand.New(rand.NewSource(seed))
	began := time.Now()

	srv := newServer(t,
		fmt.Sprintf("tickTime=%d", tickMs),
		"snapCount=50",
		"preAllocSize=64",
		"autopurge.snapRetainCount=3",
		"autopurge.purgeInterval=1",
		"maxClientCnxns=0",
	)
	srv.start()

	// setup: roots of every writer, acknowledged before any kill
	ws := make([]*writer, nWriters)
	func() {
		c := connect(t, srv.addr, nil)
		defer c.Close()
		for _, p := range []string{"/crash", ephParent} {
			must(t, bounded(t, 10*time.Second, "create "+p, func() error {
				_, err := c.Create(p, nil, 0, openACL)
				return err
			}))
		}
		for i := range ws {
			w := &writer{id: i, root: fmt.Sprintf("/crash/w%d", i)}
			w.model = tree{w.root: {}}
			must(t, bounded(t, 10*time.Second, "create "+w.root, func() error {
				_, err := c.Create(w.root, payload(w.root, 0), 0, openACL)
				return err
			}))
			ws[i] = w
		}
	}()

	var total roundStats
	var ephRestored, ephChecked int
	var maxVanish time.Duration
	snapsSeen, logsSeen := map[string]bool{}, map[string]bool{}
	for round := 0; round < rounds; round++ {
		// ---- write until SIGKILL
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, w := range ws {
			w.beginRound(t, srv.addr)
			wg.Add(1)
			go func(w *writer, seed int64) {
				defer wg.Done()
				w.run(rand.New(rand.NewSource(seed)), round, stop)
			}(w, rng.Int63())
		}
		var delay time.Duration
		switch x := rng.Intn(10); {
		case x == 0:
			delay = time.Duration(rng.Intn(30)) * time.Millisecond // before much happens
		default:
			delay = 100*time.Millisecond + time.Duration(rng.Intn(1400))*time.Millisecond
		}
		time.Sleep(delay)
		killAt := time.Now()
		srv.kill()
		close(stop)
		closeAll(t, ws)
		waitGroup(t, &wg, 20*time.Second, "writers")

		// what the killed server left behind (the restart purges)
		for _, f := range []struct {
			dir, prefix string
			seen        map[string]bool
		}{{srv.snapDir(), "snapshot", snapsSeen}, {srv.txnDir(), "log", logsSeen}} {
			files, err := listZxidFiles(f.dir, f.prefix)
			must(t, err)
			for _, x := range files {
				f.seen[x.path] = true
			}
		}

		// ---- restart and verify
		srv.start()
		c := connect(t, srv.addr, nil)
		st := roundStats{}
		// ephemerals of sessions that were healthy at the kill were
		// acknowledged, and their sessions are restored with a fresh
		// timeout: they must exist while that timeout cannot have run out
		for _, w := range ws {
			if d := w.disturbed.Load(); d != 0 && d < killAt.UnixNano() {
				continue
			}
			for _, e := range w.eph {
				if !e.acked {
					continue
				}
				var ok bool
				must(t, bounded(t, 10*time.Second, "exists "+e.path, func() (err error) {
					ok, _, err = c.Exists(e.path)
					return err
				}))
				if time.Since(srv.started) > sessionTimeout-200*time.Millisecond {
					continue // too late to tell
				}
				ephChecked++
				if ok {
					ephRestored++
				} else {
					t.Errorf("round %d: acknowledged ephemeral %s of a live session is gone right after restart", round, e.path)
				}
			}
		}
		for _, w := range ws {
			if w.broken != nil {
				t.Errorf("round %d writer %d: %v", round, w.id, w.broken)
			}
			st.acked += w.acked
			got := readAll(t, c, w.root)
			a := w.model
			if w.inDoubt == nil {
				if d := diff(a, got); len(d) > 0 {
					t.Errorf("round %d writer %d: recovered state differs from the acknowledged one:\n  %s", round, w.id, joinMax(d))
				}
				continue
			}
			st.inDoubt++
			b := a.clone()
			apply(b, *w.inDoubt)
			da, db := diff(a, got), diff(b, got)
			switch {
			case len(da) == 0:
			case len(db) == 0:
				st.inDoubtApplied++
				w.model = b
			default:
				t.Errorf("round %d writer %d: recovered state is neither the acknowledged state nor it plus the in-doubt op %v\n vs acknowledged:\n  %s\n vs with in-doubt op:\n  %s",
					round, w.id, w.inDoubt, joinMax(da), joinMax(db))
			}
		}
		if t.Failed() {
			c.Close()
			srv.dumpLog()
			t.FailNow()
		}

		// ---- the killed sessions expire: their ephemerals go away
		deadline := srv.started.Add(sessionTimeout + 2*tickMs*time.Millisecond + ephGrace)
		var left []string
		for {
			must(t, bounded(t, 10*time.Second, "children "+ephParent, func() (err error) {
				left, _, err = c.Children(ephParent)
				return err
			}))
			if len(left) == 0 {
				if d := time.Since(srv.started); d > maxVanish {
					maxVanish = d
				}
				break
			}
			if time.Now().After(deadline) {
				c.Close()
				srv.dumpLog()
				t.Fatalf("round %d: ephemerals %v of killed sessions still exist %v after restart (session timeout %v, tick %dms)",
					round, left, time.Since(srv.started).Round(time.Millisecond), sessionTimeout, tickMs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// expiring sessions touched nothing persistent
		for _, w := range ws {
			if d := diff(w.model, readAll(t, c, w.root)); len(d) > 0 {
				t.Errorf("round %d writer %d: state changed after sessions expired:\n  %s", round, w.id, joinMax(d))
			}
		}
		c.Close()
		if t.Failed() {
			srv.dumpLog()
			t.FailNow()
		}
		t.Logf("round %d: killed after %v: %d ops acknowledged, %d in doubt (%d applied)",
			round, delay.Round(time.Millisecond), st.acked, st.inDoubt, st.inDoubtApplied)
		total.acked += st.acked
		total.inDoubt += st.inDoubt
		total.inDoubtApplied += st.inDoubtApplied
	}
	nodes := 0
	for _, w := range ws {
		nodes += len(w.model)
	}
	t.Logf("seed %d: %d rounds, %d writers, %d ops acknowledged, %d in doubt (%d applied), %d nodes at the end, ephemerals restored %d/%d, killed sessions gone within %v, %d snapshots and %d log segments written; took %v",
		seed, rounds, nWriters, total.acked, total.inDoubt, total.inDoubtApplied, nodes, ephRestored, ephChecked,
		maxVanish.Round(time.Millisecond), len(snapsSeen), len(logsSeen), time.Since(began).Round(time.Millisecond))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func joinMax(d []string) string {
	if len(d) > 12 {
		d = append(d[:12:12], fmt.Sprintf("... and %d more", len(d)-12))
	}
	s := ""
	for i, x := range d {
		if i > 0 {
			s += "\n  "
		}
		s += x
	}
	return s
}

// connect opens a session; dialOff, once set, makes every later dial fail
// so a closed client can never reconnect to the restarted server and keep
// its old session alive.
func connect(t *testing.T, addr string, w *writer) *zk.Conn {
	t.Helper()
	off := new(atomic.Bool)
	dialer := func(network, address string, timeout time.Duration) (net.Conn, error) {
		if off.Load() {
			return nil, errors.New("crashtest: dialing disabled")
		}
		nc, err := net.DialTimeout(network, address, timeout)
		if err == nil && off.Load() {
			nc.Close()
			return nil, errors.New("crashtest: dialing disabled")
		}
		return nc, err
	}
	var cb zk.EventCallback = func(zk.Event) {}
	if w != nil {
		w.dialOff = off
		cb = func(ev zk.Event) {
			if ev.Type == zk.EventSession && (ev.State == zk.StateDisconnected || ev.State == zk.StateExpired) {
				w.disturbed.CompareAndSwap(0, time.Now().UnixNano())
			}
		}
	}
	c, ch, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false),
		zk.WithDialer(dialer), zk.WithEventCallback(cb))
	if err != nil {
		t.Fatalf("zk.Connect: %v", err)
	}
	go func() {
		for range ch {
		}
	}()
	return c
}

func (w *writer) beginRound(t *testing.T, addr string) {
	w.acked, w.inDoubt, w.eph, w.broken = 0, nil, nil, nil
	w.disturbed.Store(0)
	w.conn = connect(t, addr, w)
}

// run issues ops one at a time until stop or the first failure; the op
// that fails with a non-definite error is the (single) in-doubt op.
func (w *writer) run(r *rand.Rand, round int, stop <-chan struct{}) {
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	// two ephemerals per session, outside the modelled subtree
	for i := 0; i < 2; i++ {
		if stopped() {
			return
		}
		p := fmt.Sprintf("%s/w%d-r%d-%d", ephParent, w.id, round, i)
		_, err := w.conn.Create(p, []byte(p), zk.FlagEphemeral, openACL)
		w.eph = append(w.eph, ephemeral{path: p, acked: err == nil})
		if err != nil {
			if definite(err) {
				w.broken = fmt.Errorf("create ephemeral %s: %w", p, err)
			}
			return
		}
	}
	for !stopped() {
		o := w.gen(r, w.model)
		got, err := do(w.conn, o)
		if err != nil {
			if definite(err) {
				w.broken = fmt.Errorf("%v: definite error %w contradicts the model", o, err)
				return
			}
			w.inDoubt = &o
			return
		}
		want := apply(w.model, o)
		w.acked++
		if (o.kind == opSeq || o.kind == opMulti) && !reflect.DeepEqual(got, want) {
			w.broken = fmt.Errorf("%v: created %v, want %v (sequence numbers must have no gaps)", o, got, want)
			return
		}
	}
}

func closeAll(t *testing.T, ws []*writer) {
	var wg sync.WaitGroup
	for _, w := range ws {
		w.dialOff.Store(true)
		wg.Add(1)
		go func(c *zk.Conn) {
			defer wg.Done()
			c.Close()
		}(w.conn)
	}
	waitGroup(t, &wg, 15*time.Second, "closing clients")
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, d time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not finish within %v", what, d)
	}
}

func readAll(t *testing.T, c *zk.Conn, root string) map[string]actualNode {
	t.Helper()
	var got map[string]actualNode
	must(t, bounded(t, 20*time.Second, "reading "+root, func() (err error) {
		got, err = readTree(c, root)
		return err
	}))
	return got
}
