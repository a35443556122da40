package sim

import (
	"fmt"
	"io"
	"time"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/election"
	"github.com/zkserver/zkserver/wire"
	"github.com/zkserver/zkserver/zab"
)

type roleKind int

const (
	roleDown roleKind = iota
	roleLooking
	roleLeader
	roleLearner
	rolePause // between a role and the next election
)

var roleNames = [...]string{"down", "looking", "leader", "learner", "pause"}

// node is one simulated server: a disk that survives crashes (txn log with
// a durable prefix, epoch files, a snapshot) and memory that does not.
type node struct {
	w        *World
	id       int64
	observer bool

	// disk
	log      []zab.Entry
	durable  int         // log[:durable] is fsynced
	snap     []zab.Entry // the snapshot: the history of the tree it holds
	snapZxid int64
	hasSnap  bool
	// diskFrom: log[diskFrom:] is what a leader's sync may read; a
	// snapshot received by SNAP leaves a hole before it (see
	// Config.ShellAsToday)
	diskFrom, snapLogAt int
	accepted, current   int64

	// memory
	up        bool
	gen       uint64 // bumped at every crash and role change
	tree      *datatree.Tree
	hist      []zab.Entry // what tree holds, in apply order
	committed *zab.CommittedLog
	m         *election.Machine
	elTickAt  time.Duration
	elTickSet bool
	role      roleKind
	serving   bool
	fsyncAt   time.Duration

	leader   *zab.Leader
	lconns   map[int64]*conn
	nextZxid int64
	mine     map[int64]bool // leader: zxids of its own clients' writes

	learner    *zab.Learner
	conn       *conn
	leaderID   int64
	pendingFwd map[int64]bool // learner: sessions of forwarded writes
}

func (n *node) describe() string {
	if !n.up {
		return "down"
	}
	s := roleNames[n.role]
	if n.role == roleLearner {
		s += fmt.Sprintf("(of %d)", n.leaderID)
	}
	if n.serving {
		s += "+serving"
	}
	return fmt.Sprintf("%s@%s/e%d", s, hx(n.tree.LastZxid), n.current)
}

// --- lifecycle ---

// restart boots the server from its disk: the snapshot, then every logged
// txn after it (server.Recover), the committed window from the log
// (Env.FillCommitted), then an election.
func (n *node) restart() {
	w := n.w
	n.up = true
	n.gen++
	n.tree, n.hist = datatree.New(), nil
	n.loadSnap()
	from := len(n.hist)
	n.replay(n.log)
	n.committed = zab.NewCommittedLog(w.cfg.CommitLogCount)
	if w.cfg.ShellAsToday {
		// Env.FillCommitted: every logged txn up to the tree's last zxid,
		// older than the snapshot or not
		for _, e := range n.log {
			if e.Zxid <= n.tree.LastZxid && e.Zxid > lastZxidOf(n.committed) {
				n.committed.Add(e)
			}
		}
	} else {
		// ZooKeeper: the txns replayed on top of the snapshot
		for _, e := range n.hist[from:] {
			n.committed.Add(e)
		}
	}
	if n.current < wire.ZxidEpoch(n.tree.LastZxid) {
		w.failf("server %d would not start: currentEpoch %d is older than its last zxid %s", n.id, n.current, hx(n.tree.LastZxid))
		return
	}
	n.m = election.NewMachine(election.Config{MyID: n.id, Voters: w.voter, Observer: n.observer,
		MaxNotificationInterval: 2 * time.Second})
	n.elTickSet = false
	n.fsyncAt = 0
	w.tr(n.id, "start", n.tree.LastZxid, n.current)
	n.startLooking()
}

// loadSnap sets the tree to the snapshot (an empty tree without one).
func (n *node) loadSnap() {
	n.tree, n.hist = datatree.New(), nil
	if n.hasSnap {
		n.replay(n.snap)
		n.tree.LastZxid = n.snapZxid
	}
}

func lastZxidOf(c *zab.CommittedLog) int64 {
	_, max, ok := c.Bounds()
	if !ok {
		return -1
	}
	return max
}

// replay applies the txns after the tree's last zxid (recovery, catch-up).
func (n *node) replay(es []zab.Entry) int {
	k := 0
	for _, e := range es {
		if e.Zxid > n.tree.LastZxid {
			n.applyTxn(e)
			k++
		}
	}
	return k
}

func (n *node) applyTxn(e zab.Entry) {
	hdr, txn, err := decodeTxn(e.Data)
	if err != nil {
		n.w.failf("server %d: undecodable txn %s: %v", n.id, hx(e.Zxid), err)
		return
	}
	n.tree.Apply(&hdr, &txn)
	n.tree.LastZxid = max(n.tree.LastZxid, e.Zxid)
	n.hist = append(n.hist, e)
}

func (n *node) crash() {
	w := n.w
	w.Stats.Crashes++
	w.tr(n.id, "CRASH", int64(len(n.log)-n.durable), 0)
	n.closeConns("crash")
	n.up = false
	n.gen++
	n.role = roleDown
	n.serving = false
	n.log = n.log[:n.durable:n.durable]
	n.diskFrom = min(n.diskFrom, n.durable)
	n.tree, n.hist, n.committed, n.m = nil, nil, nil, nil
	n.leader, n.learner, n.lconns, n.conn = nil, nil, nil, nil
}

// Crash crashes server sid (its unsynced log suffix is lost).
func (w *World) Crash(sid int64) { w.srv(sid).crash() }

// Restart boots a crashed server.
func (w *World) Restart(sid int64) {
	if n := w.srv(sid); !n.up {
		n.restart()
	}
}

func (n *node) closeConns(why string) {
	for _, c := range n.allConns() {
		c.close(why)
	}
}

func (n *node) allConns() []*conn {
	var cs []*conn
	if n.conn != nil {
		cs = append(cs, n.conn)
	}
	for _, sid := range n.w.voter {
		if c := n.lconns[sid]; c != nil {
			cs = append(cs, c)
		}
	}
	for _, sid := range n.w.obs {
		if c := n.lconns[sid]; c != nil {
			cs = append(cs, c)
		}
	}
	return cs
}

func (n *node) breakConnsWith(ids map[int64]bool) {
	for _, c := range n.allConns() {
		if ids[c.learner.id] && ids[c.leader.id] {
			c.close("partition")
		}
	}
}

func (n *node) startLooking() {
	n.role = roleLooking
	n.serving = false
	n.gen++
	n.w.Stats.Elections++
	n.w.tr(n.id, "looking", n.tree.LastZxid, n.current)
	n.elOut(n.m.StartLooking(n.w.now, n.tree.LastZxid, n.current))
}

// elOut carries out what the election machine asked.
func (n *node) elOut(out election.Output) {
	w := n.w
	for _, s := range out.Sends {
		w.sendVote(n.id, s.To, s.Msg)
	}
	if out.Decided != nil && n.role == roleLooking {
		d := out.Decided
		w.tr(n.id, "decided "+stateName(d.State), d.Vote.Leader, d.Vote.Zxid)
		switch d.State {
		case wire.StateLeading:
			n.lead()
		default:
			n.follow(d.Vote.Leader)
		}
	}
	if dl, ok := n.m.NextDeadline(); ok && (!n.elTickSet || dl != n.elTickAt) {
		n.elTickAt, n.elTickSet = dl, true
		m := n.m
		w.at(max(dl-w.now, 0), func() {
			if n.m != m || !n.elTickSet || n.elTickAt != dl {
				return
			}
			n.elTickSet = false
			n.elOut(m.Tick(w.now))
		})
	}
}

func stateName(s int32) string {
	switch s {
	case wire.StateLeading:
		return "LEADING"
	case wire.StateFollowing:
		return "FOLLOWING"
	case wire.StateObserving:
		return "OBSERVING"
	}
	return "LOOKING"
}

// endRole goes back to looking: connections close, the log is synced,
// every logged txn is applied to the tree (Env.CatchUp) and after a short
// pause an election starts.
func (n *node) endRole(why string) {
	w := n.w
	w.tr(n.id, "role ends: "+why, n.tree.LastZxid, 0)
	n.closeConns("role ended")
	n.leader, n.learner, n.lconns, n.conn = nil, nil, nil, nil
	n.serving = false
	n.role = rolePause
	n.gen++
	n.durable = len(n.log)
	// ZooKeeper's fastForwardDataBase: the logged txns go to the tree and
	// to the committed window (a txn in the tree but missing from the
	// window is skipped by a later DIFF). Env.CatchUp today only applies
	// them (Config.ShellAsToday).
	from := len(n.hist)
	n.replay(n.log)
	if !w.cfg.ShellAsToday {
		for _, e := range n.hist[from:] {
			n.committed.Add(e)
		}
	}
	g := n.gen
	w.at(100*time.Millisecond, func() {
		if n.up && n.gen == g {
			n.startLooking()
		}
	})
}

// roleTicks calls tick every half tickTime while the role lasts.
func (n *node) roleTicks(tick func()) {
	g := n.gen
	var next func()
	next = func() {
		if !n.up || n.gen != g {
			return
		}
		tick()
		if n.up && n.gen == g {
			n.w.at(TickTime/2, next)
		}
	}
	n.w.at(TickTime/2, next)
}

// --- disk ---

// appendLog logs entries; with sync they are durable at once, otherwise
// after a random fsync delay (group commit: fsyncs finish in order), when
// durable is called with the last zxid.
func (n *node) appendLog(es []zab.Entry, sync bool, durable func(int64)) {
	w := n.w
	n.log = append(n.log, es...)
	if sync {
		n.durable = len(n.log)
		return
	}
	upto, last := len(n.log), es[len(es)-1].Zxid
	at := max(w.now+time.Duration(w.rng.Int64N(int64(w.cfg.Faults.MaxFsync)))+50*time.Microsecond, n.fsyncAt)
	n.fsyncAt = at
	g := n.gen
	w.at(at-w.now, func() {
		if !n.up {
			return
		}
		if upto <= len(n.log) && upto > n.durable {
			n.durable = upto
		}
		if n.gen == g {
			durable(last)
		}
	})
}

// simDisk is the leader's txn log as sync planning reads it.
type simDisk struct{ n *node }

func (d simDisk) From(zxid int64) (zab.EntryIterator, int64, bool, error) {
	log := d.n.log
	if !d.n.w.cfg.ShellAsToday {
		log = log[min(d.n.diskFrom, len(log)):]
	}
	if len(log) == 0 || log[0].Zxid > zxid {
		return nil, 0, false, nil
	}
	var total int64
	for _, e := range log {
		total += int64(len(e.Data))
	}
	return &sliceIter{es: log}, total, true, nil
}

type sliceIter struct{ es []zab.Entry }

func (s *sliceIter) Next() (zab.Entry, error) {
	if len(s.es) == 0 {
		return zab.Entry{}, io.EOF
	}
	e := s.es[0]
	s.es = s.es[1:]
	return e, nil
}

func (s *sliceIter) Close() error { return nil }

// commit applies committed txns to the tree and checks the invariants.
func (n *node) commit(es []zab.Entry, addWindow bool) {
	w := n.w
	for _, e := range es {
		prev := n.tree.LastZxid
		n.applyTxn(e)
		if addWindow {
			n.committed.Add(e)
		}
		w.onCommit(n, e, prev)
		if n.mine[e.Zxid] {
			delete(n.mine, e.Zxid)
			w.onAck(n, e)
		}
		if n.pendingFwd != nil {
			if hdr, _, err := decodeTxn(e.Data); err == nil && n.pendingFwd[hdr.ClientID] {
				delete(n.pendingFwd, hdr.ClientID)
				w.onAck(n, e)
			}
		}
	}
}

// --- leader ---

func (n *node) lead() {
	w := n.w
	n.role = roleLeader
	n.gen++
	n.lconns = map[int64]*conn{}
	n.mine = map[int64]bool{}
	var disk zab.DiskLog
	if !w.cfg.NoDiskSync {
		disk = simDisk{n}
	}
	n.leader = zab.NewLeader(zab.LeaderConfig{ID: n.id, Voters: w.voter, Observers: w.obs,
		AcceptedEpoch: n.accepted, CurrentEpoch: n.current, LastZxid: n.tree.LastZxid,
		InitLimit: InitLimit, SyncLimit: SyncLimit, Committed: n.committed, Disk: disk})
	l := n.leader
	n.roleTicks(func() { n.leaderOut(l.Tick()) })
	n.leaderOut(l.Start())
}

func (n *node) leaderOut(acts []zab.Action) {
	w := n.w
	l := n.leader
	for _, a := range acts {
		if n.leader != l || !n.up {
			return
		}
		switch a := a.(type) {
		case zab.Send:
			if c := n.lconns[a.To]; c != nil {
				c.send(false, delivery{pkt: a.Pkt})
			}
		case zab.SendSync:
			c := n.lconns[a.To]
			if c == nil {
				continue
			}
			w.Stats.Syncs[wire.PacketTypeName(a.Plan.Kind)]++
			w.tr(n.id, "sync "+wire.PacketTypeName(a.Plan.Kind), a.To, a.Plan.Zxid)
			d := delivery{sync: &a}
			if a.Plan.Kind == wire.PacketSnap {
				// the shell streams the tree once it has applied Plan.Zxid;
				// here it is applied already unless Plan.Zxid starts an epoch
				if wire.ZxidCounter(a.Plan.Zxid) != 0 && n.tree.LastZxid != a.Plan.Zxid {
					w.failf("leader %d: SNAP at %s but its tree is at %s", n.id, hx(a.Plan.Zxid), hx(n.tree.LastZxid))
					return
				}
				d.snap = append([]zab.Entry(nil), n.hist...)
			}
			c.send(false, d)
		case zab.Append:
			n.appendLog(a.Entries, false, func(z int64) {
				if n.leader == l {
					n.leaderOut(l.Durable(z))
				}
			})
		case zab.AppendSync:
			n.appendLog(a.Entries, true, nil)
		case zab.Apply:
			n.commit(a.Entries, false)
		case zab.PersistEpoch:
			n.persistEpoch(a)
		case zab.Serve:
			n.serving = true
			n.nextZxid = a.NextZxid
			w.tr(n.id, "LEADER SERVES", l.Epoch(), a.NextZxid)
			w.onEstablished(n, l.Epoch())
			n.m.UpdateVote(n.tree.LastZxid, l.Epoch())
		case zab.Submit:
			if n.serving {
				n.propose(a.Req.Session, a.Req.Cxid)
			}
		case zab.Drop:
			w.tr(n.id, "drop "+a.Reason, a.Sid, 0)
			if c := n.lconns[a.Sid]; c != nil {
				delete(n.lconns, a.Sid)
				c.close("dropped")
			}
			l.Gone(a.Sid)
		case zab.Stop:
			n.endRole("leader: " + a.Reason)
			return
		case zab.Touch, zab.Revalidate:
		default:
			w.failf("leader %d: unexpected action %T", n.id, a)
			return
		}
	}
}

// propose preps a write as the leader's server would and proposes it;
// session 0 is a write of the simulator itself (not acknowledged to a
// client). It returns the zxid (0 when the leader cannot propose).
func (n *node) propose(session int64, cxid int32) int64 {
	w := n.w
	if n.role != roleLeader || !n.serving || n.leader == nil {
		return 0
	}
	z := n.nextZxid
	n.nextZxid++
	w.pathSeq++
	hdr := wire.TxnHeader{ClientID: session, Cxid: cxid, Zxid: z, Time: int64(w.now / time.Millisecond)}
	var txn wire.Txn
	switch k := w.rng.IntN(10); {
	case k < 6 || w.pathSeq < 3:
		txn = wire.Txn{Type: wire.OpCreate, Path: fmt.Sprintf("/p%d", w.pathSeq), Data: []byte(fmt.Sprintf("d%x", z)),
			ACL: datatree.OpenACL, ParentCVersion: -1}
	case k < 9:
		txn = wire.Txn{Type: wire.OpSetData, Path: fmt.Sprintf("/p%d", 1+w.rng.IntN(w.pathSeq)),
			Data: []byte(fmt.Sprintf("s%x", z)), Version: int32(w.rng.IntN(100))}
	default:
		txn = wire.Txn{Type: wire.OpDelete, Path: fmt.Sprintf("/p%d", 1+w.rng.IntN(w.pathSeq))}
	}
	hdr.Type = txn.Type
	e := zab.Entry{Zxid: z, Data: encodeTxn(&hdr, &txn)}
	if session != 0 && session>>40 == n.id {
		n.mine[z] = true
	}
	w.tr(n.id, "propose", z, session)
	n.leaderOut(n.leader.Propose([]zab.Entry{e}))
	return z
}

func (n *node) persistEpoch(a zab.PersistEpoch) {
	if a.Name == zab.AcceptedEpochFile {
		n.accepted = a.Epoch
	} else {
		n.current = a.Epoch
	}
	n.w.tr(n.id, "epoch "+a.Name, a.Epoch, 0)
}

// fromLearner handles a packet from a learner's connection; the first is
// its FOLLOWERINFO or OBSERVERINFO (the shell's handshake).
func (n *node) fromLearner(c *conn, p wire.QuorumPacket) {
	if !n.up || n.leader == nil || c.rInc != n.gen {
		return
	}
	sid := c.learner.id
	if p.Type == wire.PacketFollowerInfo || p.Type == wire.PacketObserverInfo {
		li, _, err := wire.ParseLearnerInfo(p.Data)
		if err != nil || li.ServerID != sid {
			c.close("bad learner info")
			return
		}
		if old := n.lconns[sid]; old != nil && old != c {
			delete(n.lconns, sid)
			old.close("replaced")
			n.leaderOut(n.leader.Gone(sid))
			if n.leader == nil {
				return
			}
		}
		n.lconns[sid] = c
		n.leaderOut(n.leader.Connect(sid, p.Type == wire.PacketObserverInfo, wire.ZxidEpoch(p.Zxid)))
		return
	}
	if n.lconns[sid] != c {
		return
	}
	n.leaderOut(n.leader.Receive(sid, &p))
}

func (n *node) connGone(c *conn) {
	if !n.up {
		return
	}
	if c.leader == n && n.leader != nil && n.lconns[c.learner.id] == c {
		delete(n.lconns, c.learner.id)
		n.leaderOut(n.leader.Gone(c.learner.id))
	}
	if c.learner == n && n.conn == c {
		n.endRole("connection to the leader lost")
	}
}

// --- learner ---

// follow dials the elected leader (five tries, 100ms apart, within
// initLimit) and runs the learner core over the connection.
func (n *node) follow(leader int64) {
	w := n.w
	n.role = roleLearner
	n.gen++
	n.snapLogAt = -1
	n.leaderID = leader
	n.pendingFwd = map[int64]bool{}
	g := n.gen
	deadline := w.now + InitLimit*TickTime
	var dial func(try int)
	dial = func(try int) {
		if !n.up || n.gen != g {
			return
		}
		t := w.srv(leader)
		if t.up && t.role == roleLeader && t.leader != nil && w.Linked(n.id, leader) {
			n.connected(t)
			return
		}
		if try >= 4 || w.now+100*time.Millisecond > deadline {
			n.endRole(fmt.Sprintf("cannot connect to leader %d", leader))
			return
		}
		w.at(100*time.Millisecond, func() { dial(try + 1) })
	}
	w.at(w.delay(), func() { dial(0) })
}

func (n *node) connected(t *node) {
	w := n.w
	w.connSeq++
	c := &conn{id: w.connSeq, learner: n, leader: t, lInc: n.gen, rInc: t.gen}
	n.conn = c
	n.learner = zab.NewLearner(zab.LearnerConfig{ID: n.id, Observer: n.observer, AcceptedEpoch: n.accepted,
		CurrentEpoch: n.current, LastZxid: n.tree.LastZxid, InitLimit: InitLimit, SyncLimit: SyncLimit})
	f := n.learner
	w.tr(n.id, "connected", t.id, int64(c.id))
	n.roleTicks(func() { n.learnerOut(f.Tick()) })
	n.learnerOut(f.Start())
}

func (n *node) fromLeader(c *conn, d delivery) {
	if !n.up || n.conn != c || n.learner == nil {
		return
	}
	f := n.learner
	if d.sync == nil {
		n.learnerOut(f.Receive(&d.pkt))
		return
	}
	s := d.sync
	first := wire.QuorumPacket{Type: s.Plan.Kind, Zxid: s.Plan.Zxid}
	if s.Plan.Kind == wire.PacketSnap {
		n.tree, n.hist = datatree.New(), nil
		n.replay(d.snap)
		n.tree.LastZxid = s.Plan.Zxid
		n.committed.Reset()
		n.snapLogAt = len(n.log)
	}
	pkts := append([]wire.QuorumPacket{first}, s.Plan.Queue...)
	pkts = append(pkts, s.Then...)
	for i := range pkts {
		if n.learner != f || !n.up {
			return
		}
		n.learnerOut(f.Receive(&pkts[i]))
	}
}

func (n *node) learnerOut(acts []zab.Action) {
	w := n.w
	f := n.learner
	for _, a := range acts {
		if n.learner != f || !n.up {
			return
		}
		switch a := a.(type) {
		case zab.Send:
			n.conn.send(true, delivery{pkt: a.Pkt})
		case zab.Append:
			n.appendLog(a.Entries, false, func(z int64) {
				if n.learner == f {
					n.learnerOut(f.Durable(z))
				}
			})
		case zab.AppendSync:
			n.appendLog(a.Entries, true, nil)
		case zab.Apply:
			n.commit(a.Entries, true)
		case zab.ApplySyncDone:
		case zab.PersistEpoch:
			n.persistEpoch(a)
		case zab.Truncate:
			n.truncate(a.Zxid)
		case zab.TakeSnapshot:
			n.snap, n.snapZxid, n.hasSnap = append([]zab.Entry(nil), n.hist...), n.tree.LastZxid, true
			if n.snapLogAt >= 0 {
				n.diskFrom, n.snapLogAt = n.snapLogAt, -1
			}
			w.tr(n.id, "snapshot", n.tree.LastZxid, 0)
		case zab.Serve:
			n.serving = true
			w.tr(n.id, "LEARNER SERVES", f.Epoch(), n.tree.LastZxid)
			w.onLearnerServing(n, f.Epoch())
			n.m.UpdateVote(n.tree.LastZxid, f.Epoch())
		case zab.Stop:
			n.endRole("learner: " + a.Reason)
			return
		default:
			w.failf("learner %d: unexpected action %T", n.id, a)
			return
		}
	}
}

// truncate cuts the log after zxid, drops a snapshot past it and reloads
// the tree from what is left (Env.truncate).
func (n *node) truncate(zxid int64) {
	w := n.w
	i := 0
	for i < len(n.log) && n.log[i].Zxid <= zxid {
		i++
	}
	w.tr(n.id, "TRUNC", zxid, int64(len(n.log)-i))
	n.log = n.log[:i:i]
	n.durable = len(n.log)
	n.diskFrom = min(n.diskFrom, i)
	if n.hasSnap && n.snapZxid > zxid {
		n.snap, n.hasSnap = nil, false
	}
	n.loadSnap()
	n.replay(n.log)
	n.committed.Reset()
}

// --- txns ---

func encodeTxn(hdr *wire.TxnHeader, txn *wire.Txn) []byte {
	e := wire.Encoder{}
	hdr.Encode(&e)
	txn.EncodeBody(&e)
	return e.B
}

func decodeTxn(b []byte) (wire.TxnHeader, wire.Txn, error) {
	var hdr wire.TxnHeader
	var txn wire.Txn
	d := wire.NewDecoder(b)
	hdr.Decode(d)
	if d.Err() == nil {
		txn.DecodeBody(d, hdr.Type, false)
	}
	return hdr, txn, d.Err()
}
