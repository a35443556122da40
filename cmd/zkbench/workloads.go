package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

var acl = zk.WorldACL(zk.PermAll)

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// dial opens a session and waits (at most timeout) until it is established.
func dial(addr string, timeout time.Duration) (*zk.Conn, error) {
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second,
		zk.WithLogger(nopLogger{}), zk.WithLogInfo(false),
		zk.WithMaxConnBufferSize(256<<10), zk.WithMaxBufferSize(1<<20))
	if err != nil {
		return nil, err
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case e, ok := <-ev:
			if !ok {
				return nil, errors.New("connection closed before a session was established")
			}
			if e.State == zk.StateHasSession {
				return c, nil
			}
			if e.State == zk.StateExpired || e.State == zk.StateAuthFailed {
				c.Close()
				return nil, fmt.Errorf("session not established: %v", e.State)
			}
		case <-deadline.C:
			c.Close()
			return nil, fmt.Errorf("no session with %s within %v", addr, timeout)
		}
	}
}

// splitAddrs splits a comma list of host:port addresses.
func splitAddrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// clientAddr is the server of client i: clients are spread round-robin over
// the comma-separated addresses (one address: every client on it).
func clientAddr(addrs string, i int) string {
	as := splitAddrs(addrs)
	if len(as) == 0 {
		return addrs
	}
	return as[i%len(as)]
}

// dialN opens n sessions in parallel, session i on clientAddr(addrs, i).
func dialN(addrs string, n int, timeout time.Duration) ([]*zk.Conn, error) {
	conns := make([]*zk.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns[i], errs[i] = dial(clientAddr(addrs, i), timeout)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(conns)
		return nil, err
	}
	return conns, nil
}

func closeAll(conns []*zk.Conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		if c != nil {
			wg.Add(1)
			go func() { defer wg.Done(); c.Close() }()
		}
	}
	wg.Wait()
}

// ensure creates path and its missing ancestors; the last component gets
// data (set when the znode already exists and data is not nil).
func ensure(c *zk.Conn, path string, data []byte) error {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	cur := ""
	for i, p := range parts {
		cur += "/" + p
		var d []byte
		if i == len(parts)-1 {
			d = data
		}
		_, err := c.Create(cur, d, zk.FlagPersistent, acl)
		if errors.Is(err, zk.ErrNodeExists) {
			if d != nil {
				_, err = c.Set(cur, d, -1)
			} else {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", cur, err)
		}
	}
	return nil
}

// runState is shared by a run's workers.
type runState struct {
	cfg          Config
	data         []byte
	runID        string
	stop         atomic.Bool
	budget       atomic.Int64
	measureStart time.Time
}

// take reserves one operation; false once the run is out of time or ops.
func (s *runState) take() bool {
	return !s.stop.Load() && s.budget.Add(1) <= s.cfg.Ops
}

// worker holds one goroutine's measurements.
type worker struct {
	h        *hist
	ops      int64
	errs     int64
	firstErr error
	lastT    time.Time
	lastPath string
}

func (w *worker) done(s *runState, t0, t1 time.Time, err error) bool {
	if t0.Before(s.measureStart) {
		return false
	}
	if err != nil {
		w.errs++
		if w.firstErr == nil {
			w.firstErr = err
		}
		return false
	}
	w.ops++
	w.h.record(t1.Sub(t0).Nanoseconds())
	return true
}

// prepared is a workload ready to start: one loop per goroutine.
type prepared struct {
	loops   []func(w *worker)
	cleanup func()
}

var workloads = map[string]func(s *runState) (*prepared, error){
	"create":          prepCreate,
	"set":             prepPerClient(opSet),
	"get":             prepPerClient(opGet),
	"mixed":           prepPerClient(opMixed),
	"exists-watch":    prepExistsWatch,
	"ephemeral-churn": prepChurn,
	"load":            prepLoad,
}

// Workloads in report order.
var workloadOrder = []string{"create", "set", "get", "mixed", "exists-watch", "ephemeral-churn", "load"}

// Run performs one run.
func Run(c Config) (Result, error) {
	if c.Ops <= 0 || c.Duration <= 0 || c.Clients <= 0 || c.ValueSize < 0 {
		return Result{}, errors.New("-ops, -duration and -clients must be positive")
	}
	if c.Workload == "load" {
		c.Warmup = 0
	}
	s := &runState{cfg: c, data: make([]byte, c.ValueSize), runID: strconv.FormatInt(time.Now().UnixNano(), 36)}
	for i := range s.data {
		s.data[i] = byte('a' + i%26)
	}
	setup, err := dial(clientAddr(c.Addr, 0), c.OpTimeout)
	if err != nil {
		return Result{}, err
	}
	err = ensure(setup, c.Root, nil)
	setup.Close()
	if err != nil {
		return Result{}, err
	}
	prep := workloads[c.Workload]
	if c.Tree > 0 {
		prep = treeWorkloads[c.Workload]
	}
	if prep == nil {
		return Result{}, fmt.Errorf("unknown workload %q", c.Workload)
	}
	p, err := prep(s)
	if err != nil {
		return Result{}, err
	}
	ws := make([]*worker, len(p.loops))
	start := time.Now()
	s.measureStart = start.Add(c.Warmup)
	timer := time.AfterFunc(c.Warmup+c.Duration, func() { s.stop.Store(true) })
	defer timer.Stop()
	var wg sync.WaitGroup
	for i, loop := range p.loops {
		ws[i] = &worker{h: newHist()}
		wg.Add(1)
		go func() { defer wg.Done(); loop(ws[i]) }()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(c.Warmup + c.Duration + c.OpTimeout + 5*time.Second):
		// Leave the stragglers (and their sessions) to process exit.
		return Result{}, errors.New("workers did not stop in time (server not answering?)")
	}
	end := time.Now()
	p.cleanup()

	h := newHist()
	r := Result{Kind: "run", Server: c.Label, Setup: c.Setup, Workload: c.Workload, Clients: c.Clients, ValueSize: c.ValueSize, Rep: c.Rep}
	var lastT time.Time
	for _, w := range ws {
		h.merge(w.h)
		r.Ops += w.ops
		r.Errors += w.errs
		if w.firstErr != nil && r.FirstError == "" {
			r.FirstError = w.firstErr.Error()
		}
		if w.lastT.After(lastT) {
			lastT, r.LastPath = w.lastT, w.lastPath
		}
	}
	if c.Workload == "load" {
		r.N = c.N
	}
	r.Tree = c.Tree
	r.Seconds = max(end.Sub(s.measureStart).Seconds(), 1e-9)
	r.OpsPerSec = round1(float64(r.Ops) / r.Seconds)
	r.Seconds = round3(r.Seconds)
	us := func(ns int64) float64 { return round1(float64(ns) / 1e3) }
	r.MeanUs = round1(h.mean() / 1e3)
	r.P50Us = us(h.quantile(0.50))
	r.P90Us = us(h.quantile(0.90))
	r.P99Us = us(h.quantile(0.99))
	r.P999Us = us(h.quantile(0.999))
	r.MaxUs = us(h.max)
	if r.Ops == 0 {
		return r, fmt.Errorf("no successful operations (%d errors; first: %s)", r.Errors, r.FirstError)
	}
	return r, nil
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }

func prepCreate(s *runState) (*prepared, error) {
	conns, err := dialN(s.cfg.Addr, s.cfg.Clients, s.cfg.OpTimeout)
	if err != nil {
		return nil, err
	}
	parent := s.cfg.Root + "/create/" + s.runID
	if err := ensure(conns[0], parent, nil); err != nil {
		closeAll(conns)
		return nil, err
	}
	if err := syncAll(conns, parent); err != nil {
		closeAll(conns)
		return nil, err
	}
	p := &prepared{cleanup: func() { closeAll(conns) }}
	for i, c := range conns {
		p.loops = append(p.loops, func(w *worker) {
			for k := 0; s.take(); k++ {
				path, flags := fmt.Sprintf("%s/c%d-%d", parent, i, k), int32(zk.FlagPersistent)
				if s.cfg.Sequential {
					path, flags = parent+"/n-", zk.FlagSequence
				}
				t0 := time.Now()
				_, err := c.Create(path, s.data, flags, acl)
				w.done(s, t0, time.Now(), err)
			}
		})
	}
	return p, nil
}

type perClientOp func(s *runState, c *zk.Conn, path string, k int) error

func opSet(s *runState, c *zk.Conn, path string, _ int) error {
	_, err := c.Set(path, s.data, -1)
	return err
}

func opGet(s *runState, c *zk.Conn, path string, _ int) error {
	d, _, err := c.Get(path)
	if err == nil && len(d) != len(s.data) {
		err = fmt.Errorf("get %s: %d bytes, want %d", path, len(d), len(s.data))
	}
	return err
}

// opMixed is 90 % get and 10 % set, interleaved deterministically.
func opMixed(s *runState, c *zk.Conn, path string, k int) error {
	if k%10 == 9 {
		return opSet(s, c, path, k)
	}
	_, _, err := c.Get(path)
	return err
}

// prepPerClient gives each session its own znode of the value size under
// root/workload/ and runs op on it in a closed loop.
func prepPerClient(op perClientOp) func(s *runState) (*prepared, error) {
	return func(s *runState) (*prepared, error) {
		conns, err := dialN(s.cfg.Addr, s.cfg.Clients, s.cfg.OpTimeout)
		if err != nil {
			return nil, err
		}
		p := &prepared{cleanup: func() { closeAll(conns) }}
		for i, c := range conns {
			path := fmt.Sprintf("%s/%s/c%d", s.cfg.Root, s.cfg.Workload, i)
			if err := ensure(c, path, s.data); err != nil {
				closeAll(conns)
				return nil, err
			}
			p.loops = append(p.loops, func(w *worker) {
				for k := 0; s.take(); k++ {
					t0 := time.Now()
					err := op(s, c, path, k)
					w.done(s, t0, time.Now(), err)
				}
			})
		}
		return p, nil
	}
}

// prepExistsWatch pairs a watching session with a writing session per client:
// the watcher sets an exists watch, the writer calls setData, and the latency
// is from just before setData is sent until the watcher receives the event.
func prepExistsWatch(s *runState) (*prepared, error) {
	setters, err := dialN(s.cfg.Addr, s.cfg.Clients, s.cfg.OpTimeout)
	if err != nil {
		return nil, err
	}
	watchers, err := dialN(s.cfg.Addr, s.cfg.Clients, s.cfg.OpTimeout)
	if err != nil {
		closeAll(setters)
		return nil, err
	}
	p := &prepared{cleanup: func() { closeAll(setters); closeAll(watchers) }}
	for i := range setters {
		sc, wc := setters[i], watchers[i]
		path := fmt.Sprintf("%s/watch/c%d", s.cfg.Root, i)
		if err := ensure(sc, path, s.data); err != nil {
			p.cleanup()
			return nil, err
		}
		p.loops = append(p.loops, func(w *worker) {
			timer := time.NewTimer(s.cfg.OpTimeout)
			defer timer.Stop()
			for s.take() {
				_, _, ch, err := wc.ExistsW(path)
				if err != nil {
					w.done(s, time.Now(), time.Now(), err)
					continue
				}
				t0 := time.Now()
				if _, err := sc.Set(path, s.data, -1); err != nil {
					w.done(s, t0, time.Now(), err)
					continue
				}
				timer.Reset(s.cfg.OpTimeout)
				select {
				case ev := <-ch:
					t1 := time.Now()
					if ev.Type != zk.EventNodeDataChanged {
						err = fmt.Errorf("watch event %v, want %v", ev.Type, zk.EventNodeDataChanged)
					}
					w.done(s, t0, t1, err)
				case <-timer.C:
					w.done(s, t0, time.Now(), fmt.Errorf("no watch event within %v", s.cfg.OpTimeout))
				}
			}
		})
	}
	return p, nil
}

// syncAll makes every session's server catch up with the leader (sync) on
// path, so sessions on other ensemble members see what conns[0] created.
// One session per distinct server is enough; on a single server it is cheap.
func syncAll(conns []*zk.Conn, path string) error {
	seen := map[string]bool{}
	for _, c := range conns {
		srv := c.Server()
		if seen[srv] {
			continue
		}
		seen[srv] = true
		if _, err := c.Sync(path); err != nil {
			return fmt.Errorf("sync %s on %s: %w", path, srv, err)
		}
	}
	return nil
}

// prepChurn: each client loops connect → create ephemeral → close; the
// latency is the whole cycle.
func prepChurn(s *runState) (*prepared, error) {
	c, err := dial(clientAddr(s.cfg.Addr, 0), s.cfg.OpTimeout)
	if err != nil {
		return nil, err
	}
	parent := s.cfg.Root + "/churn/" + s.runID
	err = ensure(c, parent, nil)
	c.Close()
	if err != nil {
		return nil, err
	}
	p := &prepared{cleanup: func() {}}
	for i := range s.cfg.Clients {
		p.loops = append(p.loops, func(w *worker) {
			for k := 0; s.take(); k++ {
				t0 := time.Now()
				c, err := dial(clientAddr(s.cfg.Addr, i), s.cfg.OpTimeout)
				if err == nil {
					_, err = c.Create(fmt.Sprintf("%s/c%d-%d", parent, i, k), s.data, zk.FlagEphemeral, acl)
					c.Close()
				}
				w.done(s, t0, time.Now(), err)
			}
		})
	}
	return p, nil
}

const loadFanout = 1000

// LoadPath is the path of load znode i under root.
func LoadPath(root string, i int64) string {
	return fmt.Sprintf("%s/load/b%d/n%d", root, i/loadFanout, i)
}

// prepLoad fills root/load/b<i/1000>/n<i> for i in [Start, Start+N) with
// -pipeline goroutines sharing each of the -clients sessions (go-zookeeper
// pipelines concurrent requests on one connection). The bucket parents are
// created before the clock starts.
func prepLoad(s *runState) (*prepared, error) {
	if s.cfg.N <= 0 || s.cfg.Pipeline <= 0 {
		return nil, errors.New("load needs -n > 0 and -pipeline > 0")
	}
	conns, err := dialN(s.cfg.Addr, s.cfg.Clients, s.cfg.OpTimeout)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*prepared, error) { closeAll(conns); return nil, err }
	if err := ensure(conns[0], s.cfg.Root+"/load", nil); err != nil {
		return fail(err)
	}
	first, last := s.cfg.Start/loadFanout, (s.cfg.Start+s.cfg.N-1)/loadFanout
	var next atomic.Int64
	next.Store(first)
	var mu sync.Mutex
	var bucketErr error
	var wg sync.WaitGroup
	deadline := time.Now().Add(s.cfg.Duration)
	for _, c := range conns {
		for range s.cfg.Pipeline {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					b := next.Add(1) - 1
					if b > last {
						return
					}
					_, err := c.Create(fmt.Sprintf("%s/load/b%d", s.cfg.Root, b), nil, zk.FlagPersistent, acl)
					if err != nil && !errors.Is(err, zk.ErrNodeExists) {
						mu.Lock()
						bucketErr = err
						mu.Unlock()
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	if bucketErr != nil {
		return fail(fmt.Errorf("creating load buckets: %w", bucketErr))
	}
	if err := syncAll(conns, s.cfg.Root+"/load"); err != nil {
		return fail(err)
	}
	var idx atomic.Int64
	p := &prepared{cleanup: func() { closeAll(conns) }}
	for _, c := range conns {
		for range s.cfg.Pipeline {
			p.loops = append(p.loops, func(w *worker) {
				for s.take() {
					i := idx.Add(1) - 1
					if i >= s.cfg.N {
						return
					}
					path := LoadPath(s.cfg.Root, s.cfg.Start+i)
					t0 := time.Now()
					_, err := c.Create(path, s.data, zk.FlagPersistent, acl)
					if errors.Is(err, zk.ErrNodeExists) {
						err = nil
					}
					t1 := time.Now()
					if w.done(s, t0, t1, err) {
						w.lastT, w.lastPath = t1, path
					}
				}
			})
		}
	}
	return p, nil
}
