// Package sim is a deterministic simulator of a ZAB ensemble: the real
// election (election.Machine) and ZAB cores (zab.Leader, zab.Learner) and
// the real data tree, driven by one seeded random source and a virtual
// clock over an in-memory network and disk that delay, drop, reorder,
// duplicate, partition and crash (losing what was not fsynced).
//
// The shell here plays the part zabrun/run_leader.go, zabrun/run_learner.go,
// zabrun/env.go and quorum/peer.go play for real servers: it executes the
// cores' actions, loops election → role → election, and after a role ends
// applies every logged txn to the tree (Env.CatchUp). Invariants are
// checked on every step; the first violation stops the run with a trace of
// the last events.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/zkserver/zkserver/wire"
	"github.com/zkserver/zkserver/zab"
)

// Timing of the simulated servers (ZooKeeper's tickTime, initLimit,
// syncLimit, in virtual time).
const (
	TickTime  = 100 * time.Millisecond
	InitLimit = 10
	SyncLimit = 5
)

// Faults is how hostile the simulated world is during the fault phase.
type Faults struct {
	// Chaos is the mean time between fault events (crash, restart,
	// partition, heal, connection break); 0 disables them.
	Chaos time.Duration
	// ElectionDrop and ElectionDup are the probabilities that an election
	// notification is lost or delivered twice.
	ElectionDrop, ElectionDup float64
	// MaxDelay bounds network delays (a few are up to 10× longer);
	// MaxFsync bounds the time an append takes to become durable.
	MaxDelay, MaxFsync time.Duration
}

// Config describes one simulated run.
type Config struct {
	Seed      uint64
	Voters    int // participants, sids 1..Voters
	Observers int // observers, sids after the voters
	Faults    Faults
	// FaultTime is how long faults are injected; then everything heals
	// and, within HealTime, a leader must be established with every
	// server synced and a new write must commit everywhere.
	FaultTime, HealTime time.Duration
	// WriteEvery is the mean time between client writes.
	WriteEvery time.Duration
	// CommitLogCount sizes each server's committed-log window (small
	// values make syncs come from the txn log or by snapshot).
	CommitLogCount int
	// NoDiskSync makes leaders plan syncs without their txn log.
	NoDiskSync bool
	// ShellAsToday models zabrun/env.go as it is now instead of ZooKeeper:
	// the committed window after a restart holds logged txns older than
	// the snapshot (Env.FillCommitted), txns applied after a role ends do
	// not enter it (Env.CatchUp), and a leader syncs from log entries
	// older than a snapshot it received by SNAP (NewDiskLog), though the
	// txns between them are in no log.
	ShellAsToday bool
	// TraceLen is how many recent events a failure shows (default 80).
	TraceLen int
}

// Failure is an invariant violation, with the events before it.
type Failure struct {
	Seed  uint64
	At    time.Duration
	Msg   string
	Trace []string
}

func (f *Failure) Error() string {
	return fmt.Sprintf("seed %d at %v: %s\nlast events:\n  %s", f.Seed, f.At, f.Msg, strings.Join(f.Trace, "\n  "))
}

type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

type eventQueue []*event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || (q[i].at == q[j].at && q[i].seq < q[j].seq)
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type traceRec struct {
	at   time.Duration
	node int64
	what string
	a, b int64
}

type write struct {
	zxid int64
	data string
}

// World is one simulated ensemble.
type World struct {
	cfg   Config
	rng   *rand.Rand
	now   time.Duration
	seq   uint64
	q     eventQueue
	nodes []*node // index sid-1
	voter []int64
	obs   []int64

	// network
	cut     map[[2]int64]bool // partitioned pairs (a<b)
	connSeq int
	healed  bool
	quiet   bool // no more client writes

	// invariants
	fail         *Failure
	epochLeader  map[int64]int64 // established epoch → leader sid
	commitData   map[int64]string
	commitDigest map[int64]uint64
	committed    []int64 // every zxid committed anywhere, sorted
	acked        map[int64]string
	ackedList    []int64
	pathSeq      int
	clientSeq    int32

	trace   []traceRec
	traceAt int

	// stats
	Stats Stats
}

// Stats counts what a run did.
type Stats struct {
	Events, Commits, Acked, Elections, Established, Crashes int
	Syncs                                                   map[string]int
}

// New builds a world; nothing runs until Run or RunFor.
func New(cfg Config) *World {
	if cfg.TraceLen == 0 {
		cfg.TraceLen = 80
	}
	if cfg.CommitLogCount == 0 {
		cfg.CommitLogCount = zab.DefaultCommitLogCount
	}
	if cfg.Faults.MaxDelay == 0 {
		cfg.Faults.MaxDelay = 5 * time.Millisecond
	}
	if cfg.Faults.MaxFsync == 0 {
		cfg.Faults.MaxFsync = 5 * time.Millisecond
	}
	w := &World{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed_5eed_2ab)),
		cut: map[[2]int64]bool{}, epochLeader: map[int64]int64{}, commitData: map[int64]string{},
		commitDigest: map[int64]uint64{}, acked: map[int64]string{}, trace: make([]traceRec, cfg.TraceLen),
		Stats: Stats{Syncs: map[string]int{}}}
	for i := 1; i <= cfg.Voters+cfg.Observers; i++ {
		if i <= cfg.Voters {
			w.voter = append(w.voter, int64(i))
		} else {
			w.obs = append(w.obs, int64(i))
		}
	}
	for i := 1; i <= cfg.Voters+cfg.Observers; i++ {
		n := &node{w: w, id: int64(i), observer: i > cfg.Voters}
		w.nodes = append(w.nodes, n)
	}
	for _, n := range w.nodes {
		n.restart()
	}
	return w
}

// Now is the virtual time.
func (w *World) Now() time.Duration { return w.now }

// srv returns server sid.
func (w *World) srv(sid int64) *node { return w.nodes[sid-1] }

func (w *World) at(d time.Duration, fn func()) {
	w.seq++
	heap.Push(&w.q, &event{at: w.now + d, seq: w.seq, fn: fn})
}

func (w *World) tr(node int64, what string, a, b int64) {
	w.trace[w.traceAt%len(w.trace)] = traceRec{at: w.now, node: node, what: what, a: a, b: b}
	w.traceAt++
}

func (w *World) failf(format string, args ...any) {
	if w.fail != nil {
		return
	}
	f := &Failure{Seed: w.cfg.Seed, At: w.now, Msg: fmt.Sprintf(format, args...)}
	n := min(w.traceAt, len(w.trace))
	for i := w.traceAt - n; i < w.traceAt; i++ {
		r := w.trace[i%len(w.trace)]
		f.Trace = append(f.Trace, fmt.Sprintf("%10v n%d %-22s %s %s", r.at, r.node, r.what, hx(r.a), hx(r.b)))
	}
	w.fail = f
}

func hx(z int64) string {
	if z >= 0 && z < 1<<20 {
		return fmt.Sprint(z)
	}
	return fmt.Sprintf("0x%x", uint64(z))
}

// Err is the first invariant violation (nil when none).
func (w *World) Err() error {
	if w.fail == nil {
		return nil
	}
	return w.fail
}

// RunFor processes events for d of virtual time (or until a failure).
func (w *World) RunFor(d time.Duration) error {
	return w.RunUntil(d, nil)
}

// RunUntil processes events for at most d of virtual time, stopping early
// once cond (checked after every event) holds.
func (w *World) RunUntil(d time.Duration, cond func() bool) error {
	end := w.now + d
	for w.fail == nil && len(w.q) > 0 && w.q[0].at <= end {
		e := heap.Pop(&w.q).(*event)
		w.now = e.at
		e.fn()
		w.Stats.Events++
		if cond != nil && cond() {
			return w.Err()
		}
	}
	if w.fail == nil {
		w.now = end
	}
	return w.Err()
}

// Run is a whole randomized run: clients write throughout; faults for
// FaultTime; then everything heals and liveness is required.
func (w *World) Run() error {
	w.scheduleWrites()
	if w.cfg.Faults.Chaos > 0 {
		w.scheduleChaos()
	}
	if err := w.RunFor(w.cfg.FaultTime); err != nil {
		return err
	}
	w.Heal()
	w.healed = true
	for _, n := range w.nodes {
		if !n.up {
			n.restart()
		}
	}
	return w.CheckLive(w.cfg.HealTime)
}

// CheckLive requires, within d, one established leader followed by every
// other server, a new write committed on all of them and equal trees.
func (w *World) CheckLive(d time.Duration) error {
	var z int64
	var l *node
	start := w.now
	w.RunUntil(d, func() bool {
		if l == nil || !l.serving || l.role != roleLeader {
			l = w.syncedLeader()
			if l == nil {
				return false
			}
			z = l.propose(0, 0)
			if z == 0 {
				l = nil
			}
			return false
		}
		for _, n := range w.nodes {
			if n.tree.LastZxid < z {
				return false
			}
		}
		return true
	})
	if w.fail != nil {
		return w.fail
	}
	if l == nil || z == 0 {
		w.failf("liveness: no leader with every server synced within %v of healing (%s)", d, w.describe())
		return w.fail
	}
	for _, n := range w.nodes {
		if n.tree.LastZxid < z {
			w.failf("liveness: write %s from leader %d not applied by server %d within %v (%s)", hx(z), l.id, n.id, w.now-start, w.describe())
			return w.fail
		}
	}
	// clients stop; once the last writes are applied every tree is equal
	w.quiet = true
	w.RunUntil(5*time.Second, func() bool {
		for _, n := range w.nodes {
			if n.tree.LastZxid != l.tree.LastZxid {
				return false
			}
		}
		return true
	})
	for _, n := range w.nodes {
		if n.tree.LastZxid != l.tree.LastZxid || n.tree.Digest() != l.tree.Digest() {
			w.failf("after the liveness write server %d has %s digest %x, leader %d %s digest %x",
				n.id, hx(n.tree.LastZxid), n.tree.Digest(), l.id, hx(l.tree.LastZxid), l.tree.Digest())
			return w.fail
		}
	}
	return nil
}

// syncedLeader is a serving leader all of whose peers serve under it.
func (w *World) syncedLeader() *node {
	for _, n := range w.nodes {
		if !n.up || n.role != roleLeader || !n.serving {
			continue
		}
		all := true
		for _, m := range w.nodes {
			if m != n && (!m.up || m.role != roleLearner || !m.serving || m.leaderID != n.id) {
				all = false
				break
			}
		}
		if all {
			return n
		}
	}
	return nil
}

func (w *World) describe() string {
	var b strings.Builder
	for _, n := range w.nodes {
		fmt.Fprintf(&b, "n%d:%s", n.id, n.describe())
		b.WriteString(" ")
	}
	return b.String()
}

// --- network ---

func pair(a, b int64) [2]int64 {
	if a > b {
		a, b = b, a
	}
	return [2]int64{a, b}
}

// Linked reports whether a and b can talk.
func (w *World) Linked(a, b int64) bool { return !w.cut[pair(a, b)] }

// Cut partitions a from b (both directions) and breaks their quorum
// connections.
func (w *World) Cut(a, b int64) {
	w.cut[pair(a, b)] = true
	w.tr(a, "cut", b, 0)
	for _, n := range []*node{w.srv(a), w.srv(b)} {
		n.breakConnsWith(map[int64]bool{a: true, b: true})
	}
}

// Isolate cuts sid from every other server.
func (w *World) Isolate(sid int64) {
	for _, n := range w.nodes {
		if n.id != sid {
			w.Cut(sid, n.id)
		}
	}
}

// Heal removes every partition.
func (w *World) Heal() {
	w.cut = map[[2]int64]bool{}
	w.tr(0, "heal", 0, 0)
}

func (w *World) delay() time.Duration {
	max := w.cfg.Faults.MaxDelay
	d := time.Duration(w.rng.Int64N(int64(max))) + 100*time.Microsecond
	if w.rng.IntN(50) == 0 {
		d *= 10
	}
	return d
}

// sendVote carries an election notification: it may be lost, duplicated
// and reordered (each copy has its own delay).
func (w *World) sendVote(from, to int64, n wire.Notification) {
	if !w.Linked(from, to) || (!w.healed && w.rng.Float64() < w.cfg.Faults.ElectionDrop) {
		return
	}
	copies := 1
	if !w.healed && w.rng.Float64() < w.cfg.Faults.ElectionDup {
		copies = 2
	}
	for range copies {
		w.at(w.delay(), func() {
			t := w.srv(to)
			if !t.up || !w.Linked(from, to) {
				return
			}
			w.tr(to, "vote from", from, n.Leader)
			t.elOut(t.m.Receive(w.now, from, n))
		})
	}
}

// conn is a quorum connection between a learner and a leader: TCP-like,
// it delivers in order or breaks.
type conn struct {
	id              int
	learner, leader *node
	lInc, rInc      uint64 // incarnations (role generations) of both ends
	broken          bool
	last            [2]time.Duration // last delivery time per direction
}

type delivery struct {
	pkt  wire.QuorumPacket
	sync *zab.SendSync
	snap []zab.Entry // SNAP: the leader's tree as its history
}

func (c *conn) send(toLeader bool, d delivery) {
	if c.broken {
		return
	}
	w := c.learner.w
	dir := 0
	if !toLeader {
		dir = 1
	}
	at := max(w.now+w.delay(), c.last[dir])
	c.last[dir] = at
	w.at(at-w.now, func() {
		if c.broken {
			return
		}
		if toLeader {
			c.leader.fromLearner(c, d.pkt)
		} else {
			c.learner.fromLeader(c, d)
		}
	})
}

// close breaks the connection; each end finds out after a while.
func (c *conn) close(why string) {
	if c.broken {
		return
	}
	c.broken = true
	w := c.learner.w
	w.tr(c.learner.id, "conn broken: "+why, c.leader.id, int64(c.id))
	w.at(w.delay(), func() { c.leader.connGone(c) })
	w.at(w.delay(), func() { c.learner.connGone(c) })
}

// --- clients and chaos ---

func (w *World) scheduleWrites() {
	if w.cfg.WriteEvery == 0 {
		return
	}
	w.at(time.Duration(w.rng.Int64N(int64(2*w.cfg.WriteEvery))), func() {
		w.clientWrite()
		w.scheduleWrites()
	})
}

// clientWrite submits a write to a random serving server: the leader
// proposes it, a learner forwards it.
func (w *World) clientWrite() {
	n := w.nodes[w.rng.IntN(len(w.nodes))]
	if !n.up || !n.serving || w.quiet {
		return
	}
	w.clientSeq++
	if n.role == roleLeader {
		n.propose(int64(n.id)<<40|int64(w.clientSeq), w.clientSeq)
		return
	}
	if n.role == roleLearner && n.learner != nil {
		sess := int64(n.id)<<40 | int64(w.clientSeq)
		n.pendingFwd[sess] = true
		n.learnerOut(n.learner.Forward(zab.Request{Session: sess, Cxid: w.clientSeq, Op: wire.OpCreate}))
	}
}

func (w *World) scheduleChaos() {
	d := time.Duration(w.rng.Int64N(int64(2 * w.cfg.Faults.Chaos)))
	w.at(d, func() {
		if w.now >= w.cfg.FaultTime {
			return
		}
		w.chaos()
		w.scheduleChaos()
	})
}

func (w *World) chaos() {
	n := w.nodes[w.rng.IntN(len(w.nodes))]
	switch k := w.rng.IntN(10); {
	case k < 3: // crash, restart later
		if n.up {
			n.crash()
			w.at(time.Duration(w.rng.Int64N(int64(3*time.Second)))+50*time.Millisecond, func() {
				if !n.up {
					n.restart()
				}
			})
		}
	case k < 5: // a partition that heals later
		m := w.nodes[w.rng.IntN(len(w.nodes))]
		if m == n {
			w.Isolate(n.id)
		} else {
			w.Cut(n.id, m.id)
		}
		w.at(time.Duration(w.rng.Int64N(int64(4*time.Second)))+100*time.Millisecond, func() {
			if m == n {
				for _, o := range w.nodes {
					delete(w.cut, pair(n.id, o.id))
				}
			} else {
				delete(w.cut, pair(n.id, m.id))
			}
			w.tr(n.id, "unpartition", m.id, 0)
		})
	case k < 6: // split into two random groups
		side := make([]bool, len(w.nodes))
		for i := range side {
			side[i] = w.rng.IntN(2) == 0
		}
		for i, a := range w.nodes {
			for j, b := range w.nodes {
				if i < j && side[i] != side[j] {
					w.Cut(a.id, b.id)
				}
			}
		}
		w.at(time.Duration(w.rng.Int64N(int64(3*time.Second)))+100*time.Millisecond, w.Heal)
	case k < 8: // a connection breaks
		conns := n.allConns()
		if len(conns) > 0 {
			conns[w.rng.IntN(len(conns))].close("chaos")
		}
	default: // nothing: quiet for a while
	}
}

// --- invariants ---

// onCommit is called for every committed txn a server applies, after
// applying it: zxids increase strictly per tree, no committed txn is
// skipped, a zxid means the same txn everywhere, and every server has the
// same tree digest after it.
func (w *World) onCommit(n *node, e zab.Entry, prev int64) {
	w.Stats.Commits++
	if e.Zxid <= prev {
		w.failf("server %d applied committed %s after %s: zxids not strictly increasing", n.id, hx(e.Zxid), hx(prev))
		return
	}
	if d, ok := w.commitData[e.Zxid]; ok {
		if d != string(e.Data) {
			w.failf("server %d committed %s with different contents than another server", n.id, hx(e.Zxid))
			return
		}
	} else {
		w.commitData[e.Zxid] = string(e.Data)
		i := sort.Search(len(w.committed), func(i int) bool { return w.committed[i] >= e.Zxid })
		w.committed = append(w.committed, 0)
		copy(w.committed[i+1:], w.committed[i:])
		w.committed[i] = e.Zxid
	}
	// no committed txn between prev and this one that the server lacks
	i := sort.Search(len(w.committed), func(i int) bool { return w.committed[i] > prev })
	if w.committed[i] != e.Zxid {
		w.failf("server %d committed %s after %s but skipped committed %s", n.id, hx(e.Zxid), hx(prev), hx(w.committed[i]))
		return
	}
	dg := n.tree.Digest()
	if d, ok := w.commitDigest[e.Zxid]; ok {
		if d != dg {
			w.failf("server %d tree digest %x at %s differs from another server's %x", n.id, dg, hx(e.Zxid), d)
		}
	} else {
		w.commitDigest[e.Zxid] = dg
	}
}

func (w *World) onAck(n *node, e zab.Entry) {
	if _, ok := w.acked[e.Zxid]; ok {
		return
	}
	w.Stats.Acked++
	w.acked[e.Zxid] = string(e.Data)
	w.ackedList = append(w.ackedList, e.Zxid)
	w.tr(n.id, "client ack", e.Zxid, 0)
}

// onEstablished checks a leader that starts serving: one per epoch, and
// its history holds every acknowledged write.
func (w *World) onEstablished(n *node, epoch int64) {
	w.Stats.Established++
	if l, ok := w.epochLeader[epoch]; ok {
		w.failf("two leaders established in epoch %d: %d and %d", epoch, l, n.id)
		return
	}
	w.epochLeader[epoch] = n.id
	have := make(map[int64]string, len(n.hist))
	for _, e := range n.hist {
		have[e.Zxid] = string(e.Data)
	}
	for _, z := range w.ackedList {
		d, ok := have[z]
		if !ok {
			w.failf("leader %d established epoch %d without acknowledged write %s (its tree is at %s)", n.id, epoch, hx(z), hx(n.tree.LastZxid))
			return
		}
		if d != w.acked[z] {
			w.failf("leader %d established epoch %d with different contents for acknowledged write %s", n.id, epoch, hx(z))
			return
		}
	}
}

// onLearnerServing checks a learner that starts serving under a leader.
func (w *World) onLearnerServing(n *node, epoch int64) {
	if l, ok := w.epochLeader[epoch]; !ok || l != n.leaderID {
		w.failf("server %d serves under leader %d in epoch %d, but the established leader of that epoch is %d (%v)", n.id, n.leaderID, epoch, l, ok)
	}
}
