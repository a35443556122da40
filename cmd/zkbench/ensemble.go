package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zkserver/zkserver/wire"
)

// fourLetter sends a four-letter word and returns the whole answer.
func fourLetter(addr, word string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(io.LimitReader(c, 64<<10))
	return string(b), err
}

// parseMode returns the value of srvr's "Mode: " line ("" if none: a
// server between roles answers that it is not serving).
func parseMode(srvr string) string {
	for _, l := range strings.Split(srvr, "\n") {
		if v, ok := strings.CutPrefix(l, "Mode: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// parseMntr returns mntr's key/value lines.
func parseMntr(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimRight(l, "\r"), "\t"); ok {
			m[k] = v
		}
	}
	return m
}

func mode(addr string) string {
	s, err := fourLetter(addr, "srvr", time.Second)
	if err != nil {
		return ""
	}
	return parseMode(s)
}

// modes asks every address for its srvr Mode.
func modes(addrs []string) []string {
	out := make([]string, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = mode(a) }()
	}
	wg.Wait()
	return out
}

// settled tells whether ms is one leader and otherwise only followers and
// observers (every member serving in the ensemble); it returns the
// leader's index.
func settled(ms []string) (int, bool) {
	leader := -1
	for i, m := range ms {
		switch m {
		case "leader":
			if leader >= 0 {
				return -1, false
			}
			leader = i
		case "follower", "observer":
		default:
			return -1, false
		}
	}
	return leader, leader >= 0
}

// EnsembleReady is the outcome of -workload ensemble-ready.
type EnsembleReady struct {
	Kind    string   `json:"kind"` // "ensemble-ready"
	Server  string   `json:"server,omitempty"`
	Leader  int      `json:"leader"` // 1-based index into -addr
	Modes   []string `json:"modes"`
	Seconds float64  `json:"seconds"`
}

// waitEnsemble waits (at most timeout) until every address serves, one as
// leader, and the leader counts all the others as synced learners when its
// mntr says (zk_synced_followers + zk_synced_observers).
func waitEnsemble(addrs []string, timeout time.Duration, label string) (EnsembleReady, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	var ms []string
	for time.Now().Before(deadline) {
		ms = modes(addrs)
		if l, ok := settled(ms); ok && leaderSynced(addrs[l], len(addrs)-1) {
			return EnsembleReady{Kind: "ensemble-ready", Server: label, Leader: l + 1, Modes: ms,
				Seconds: round3(time.Since(start).Seconds())}, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return EnsembleReady{}, fmt.Errorf("ensemble not settled within %v: modes %q", timeout, ms)
}

func leaderSynced(addr string, learners int) bool {
	s, err := fourLetter(addr, "mntr", time.Second)
	if err != nil {
		return false
	}
	m := parseMntr(s)
	f, okF := m["zk_synced_followers"]
	if !okF {
		return true // not reported: srvr's modes are all there is
	}
	nf, _ := strconv.Atoi(f)
	no, _ := strconv.Atoi(m["zk_synced_observers"])
	return nf+no >= learners
}

// FailoverResult is one leader kill: the time from SIGKILL of the leader
// until a write sent after the kill is acknowledged.
type FailoverResult struct {
	Kind       string `json:"kind"` // "failover"
	Server     string `json:"server,omitempty"`
	Setup      string `json:"setup,omitempty"`
	Rep        int    `json:"rep,omitempty"`
	Killed     int    `json:"killed"` // 1-based index into -addr of the leader killed
	KilledPid  int    `json:"killed_pid"`
	NewLeader  int    `json:"new_leader"` // 1-based index, 0 if not seen
	Via        string `json:"via"`        // the survivor that acknowledged first
	WritesPre  int64  `json:"writes_before_kill"`
	WritesPost int64  `json:"writes_after_kill"`
	// Seconds: kill → first acknowledged write sent after the kill (by any
	// survivor's writer); AllSeconds: until every survivor's writer has had
	// one; ElectedSeconds: until a survivor's srvr first says leader.
	Seconds        float64 `json:"seconds"`
	AllSeconds     float64 `json:"all_seconds"`
	ElectedSeconds float64 `json:"elected_seconds"`
	Reconnects     int64   `json:"reconnects"`
}

// rawWriter keeps one session on one server and pipelines setData requests
// on it, one every interval (at most 64 outstanding). It reconnects at
// once when the connection fails (with the same session, as a client
// library does; a new one if that expired), and when no reply has come for
// stall while requests are outstanding. It is written on the raw protocol
// because go-zookeeper sleeps a second between reconnect rounds.
type rawWriter struct {
	addr     string
	path     string
	data     []byte
	interval time.Duration
	stall    time.Duration
	killAt   *atomic.Int64 // Unix ns of the kill, 0 before

	acked      atomic.Int64 // acknowledged writes sent before the kill
	ackedPost  atomic.Int64 // acknowledged writes sent after the kill
	firstPost  atomic.Int64 // Unix ns of the first ack of a write sent after the kill
	reconnects atomic.Int64
	errs       atomic.Int64
	lastErr    atomic.Value // string
}

func (w *rawWriter) run(stop <-chan struct{}) {
	var sid int64
	passwd := make([]byte, 16)
	var lastZxid atomic.Int64
	for {
		select {
		case <-stop:
			return
		default:
		}
		c, err := net.DialTimeout("tcp", w.addr, 500*time.Millisecond)
		if err != nil {
			w.note(err)
			sleepOrStop(stop, 5*time.Millisecond)
			continue
		}
		resp, err := handshake(c, sid, passwd, lastZxid.Load())
		if err != nil {
			c.Close()
			w.note(err)
			sleepOrStop(stop, 5*time.Millisecond)
			continue
		}
		if resp.SessionID == 0 { // expired: next attempt opens a new session
			c.Close()
			sid, passwd = 0, make([]byte, 16)
			w.note(errors.New("session expired"))
			continue
		}
		sid, passwd = resp.SessionID, resp.Passwd
		w.session(c, stop, &lastZxid)
		c.Close()
		w.reconnects.Add(1)
	}
}

func (w *rawWriter) note(err error) {
	w.errs.Add(1)
	w.lastErr.Store(err.Error())
}

func sleepOrStop(stop <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
	case <-t.C:
	}
}

func handshake(c net.Conn, sid int64, passwd []byte, lastZxid int64) (wire.ConnectResponse, error) {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	defer c.SetDeadline(time.Time{})
	req := wire.ConnectRequest{LastZxidSeen: lastZxid, TimeOut: 10000, SessionID: sid, Passwd: passwd}
	if _, err := c.Write(wire.AppendFrame(nil, req.Encode)); err != nil {
		return wire.ConnectResponse{}, err
	}
	buf, err := wire.ReadFrame(c, 1<<20, nil)
	if err != nil {
		return wire.ConnectResponse{}, fmt.Errorf("handshake: %w", err)
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(buf, &resp); err != nil {
		return wire.ConnectResponse{}, err
	}
	return resp, nil
}

// session pipelines writes on an established session until the connection
// fails, stalls, or stop.
func (w *rawWriter) session(c net.Conn, stop <-chan struct{}, lastZxid *atomic.Int64) {
	var mu sync.Mutex
	sent := map[int32]int64{} // xid → Unix ns sent
	var lastReply atomic.Int64
	lastReply.Store(time.Now().UnixNano())
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var buf []byte
		for {
			var err error
			buf, err = wire.ReadFrame(c, 1<<20, buf)
			if err != nil {
				w.note(err)
				return
			}
			now := time.Now().UnixNano()
			d := wire.NewDecoder(buf)
			var h wire.ReplyHeader
			h.Decode(d)
			if d.Err() != nil {
				w.note(d.Err())
				return
			}
			if h.Xid <= 0 {
				continue // ping, notification
			}
			lastReply.Store(now)
			if h.Zxid > lastZxid.Load() {
				lastZxid.Store(h.Zxid)
			}
			mu.Lock()
			at, ok := sent[h.Xid]
			delete(sent, h.Xid)
			mu.Unlock()
			if !ok {
				continue
			}
			if h.Err != 0 {
				w.note(fmt.Errorf("setData: %w", h.Err))
				continue
			}
			if k := w.killAt.Load(); k != 0 && at > k {
				w.ackedPost.Add(1)
				w.firstPost.CompareAndSwap(0, now)
			} else {
				w.acked.Add(1)
			}
		}
	}()
	defer func() { c.Close(); <-readerDone }()
	tick := time.NewTicker(w.interval)
	defer tick.Stop()
	var xid int32
	for {
		select {
		case <-stop:
			return
		case <-readerDone:
			return
		case <-tick.C:
		}
		mu.Lock()
		outstanding := len(sent)
		mu.Unlock()
		if outstanding > 0 && time.Since(time.Unix(0, lastReply.Load())) > w.stall {
			w.note(fmt.Errorf("no reply for %v with %d requests outstanding", w.stall, outstanding))
			return
		}
		if outstanding >= 64 {
			continue
		}
		xid++
		frame := wire.AppendFrame(nil, func(e *wire.Encoder) {
			h := wire.RequestHeader{Xid: xid, Type: wire.OpSetData}
			h.Encode(e)
			(&wire.SetDataRequest{Path: w.path, Data: w.data, Version: -1}).Encode(e)
		})
		mu.Lock()
		sent[xid] = time.Now().UnixNano()
		mu.Unlock()
		if outstanding == 0 {
			lastReply.Store(time.Now().UnixNano()) // the stall clock starts with the first outstanding request
		}
		c.SetWriteDeadline(time.Now().Add(w.stall))
		if _, err := c.Write(frame); err != nil {
			w.note(err)
			return
		}
	}
}

// FailoverConfig describes one leader kill.
type FailoverConfig struct {
	Addrs     []string
	Pids      []int
	Path      string
	ValueSize int
	Interval  time.Duration // between writes, per server
	Stall     time.Duration // reconnect when no reply for this long
	Warmup    time.Duration // writes acknowledged on every server, then this long, before the kill
	Timeout   time.Duration // give up waiting for recovery after this long
	Label     string
	Setup     string
	Rep       int
	// kill sends SIGKILL to pid (replaceable in tests).
	kill func(pid int) error
}

// Failover finds the leader (srvr), runs a writer on every server, kills
// the leader's process and measures until writes sent after the kill are
// acknowledged through the survivors.
func Failover(fc FailoverConfig) (FailoverResult, error) {
	r := FailoverResult{Kind: "failover", Server: fc.Label, Setup: fc.Setup, Rep: fc.Rep}
	if len(fc.Addrs) < 2 || len(fc.Pids) != len(fc.Addrs) {
		return r, fmt.Errorf("failover needs ≥2 addresses and one pid per address (%d addresses, %d pids)", len(fc.Addrs), len(fc.Pids))
	}
	if fc.kill == nil {
		fc.kill = func(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
	}
	ready, err := waitEnsemble(fc.Addrs, fc.Timeout, fc.Label)
	if err != nil {
		return r, err
	}
	leader := ready.Leader - 1
	data := make([]byte, fc.ValueSize)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	setup, err := dial(fc.Addrs[0], 10*time.Second)
	if err != nil {
		return r, err
	}
	err = ensure(setup, fc.Path, data) // every writer's setData goes through the leader
	setup.Close()
	if err != nil {
		return r, err
	}

	var killAt atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	ws := make([]*rawWriter, len(fc.Addrs))
	for i, a := range fc.Addrs {
		ws[i] = &rawWriter{addr: a, path: fc.Path, data: data, interval: fc.Interval, stall: fc.Stall, killAt: &killAt}
		wg.Add(1)
		go func() { defer wg.Done(); ws[i].run(stop) }()
	}
	defer func() { close(stop); wg.Wait() }()

	// Every writer has been acknowledged, then the warm-up.
	deadline := time.Now().Add(fc.Timeout)
	for {
		ok := true
		for _, w := range ws {
			ok = ok && w.acked.Load() >= 10
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return r, fmt.Errorf("writers not acknowledged on every server within %v: %s", fc.Timeout, writerErrs(ws))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(fc.Warmup)
	if ms := modes(fc.Addrs); ms[leader] != "leader" {
		return r, fmt.Errorf("leader moved before the kill: modes %q", ms)
	}

	t0 := time.Now()
	killAt.Store(t0.UnixNano())
	if err := fc.kill(fc.Pids[leader]); err != nil {
		return r, fmt.Errorf("kill %d: %w", fc.Pids[leader], err)
	}
	r.Killed, r.KilledPid = leader+1, fc.Pids[leader]
	for i, w := range ws {
		if i != leader {
			r.WritesPre += w.acked.Load()
		}
	}

	var survivors []string
	var survivorIdx []int
	for i, a := range fc.Addrs {
		if i != leader {
			survivors = append(survivors, a)
			survivorIdx = append(survivorIdx, i)
		}
	}
	deadline = t0.Add(fc.Timeout)
	var elected time.Time
	for k := 0; time.Now().Before(deadline); k++ {
		if elected.IsZero() && k%4 == 0 { // srvr every 20 ms: polling costs the survivors CPU

			for j, m := range modes(survivors) {
				if m == "leader" {
					elected, r.NewLeader = time.Now(), survivorIdx[j]+1
				}
			}
		}
		all := true
		for _, i := range survivorIdx {
			all = all && ws[i].firstPost.Load() != 0
		}
		if all && !elected.IsZero() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	first, last := int64(0), int64(0)
	for _, i := range survivorIdx {
		w := ws[i]
		f := w.firstPost.Load()
		r.WritesPost += w.ackedPost.Load()
		r.Reconnects += w.reconnects.Load()
		if f == 0 {
			last = -1
			continue
		}
		if first == 0 || f < first {
			first, r.Via = f, w.addr
		}
		if last >= 0 && f > last {
			last = f
		}
	}
	if !elected.IsZero() {
		r.ElectedSeconds = round3(elected.Sub(t0).Seconds())
	}
	if first == 0 {
		return r, fmt.Errorf("no write acknowledged within %v of the kill: %s", fc.Timeout, writerErrs(ws))
	}
	r.Seconds = round3(time.Unix(0, first).Sub(t0).Seconds())
	if last > 0 {
		r.AllSeconds = round3(time.Unix(0, last).Sub(t0).Seconds())
	}
	return r, nil
}

func writerErrs(ws []*rawWriter) string {
	var b strings.Builder
	for _, w := range ws {
		e, _ := w.lastErr.Load().(string)
		fmt.Fprintf(&b, "[%s: %d acked, %d errors, last %q] ", w.addr, w.acked.Load()+w.ackedPost.Load(), w.errs.Load(), e)
	}
	return b.String()
}
