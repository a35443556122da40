// Package election implements the rules of ZooKeeper 3.8's fast leader
// election (FLE).
//
// The rules live in Machine, a deterministic state machine with no
// goroutines, sockets or clocks: time is passed in as a time.Duration since
// an arbitrary origin, inputs are notifications and ticks, outputs are the
// notifications to send and, at most once per election, a Decision. The
// I/O shell is package electionrun: its Runner drives a Machine with the
// real clock over TCP, through the election-port connection manager
// (ZooKeeper's QuorumCnxManager).
package election

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/zkserver/zkserver/wire"
)

// Defaults of ZooKeeper 3.8 (FastLeaderElection.finalizeWait,
// zookeeper.fastleader.minNotificationInterval and
// zookeeper.fastleader.maxNotificationInterval).
const (
	DefaultFinalizeWait            = 200 * time.Millisecond
	DefaultMaxNotificationInterval = 60 * time.Second
)

// Config is what a Machine needs to know about the ensemble.
type Config struct {
	MyID int64
	// Voters are the participant sids (observers are not voters). A server
	// counts as a voting member iff its sid is listed here.
	Voters []int64
	// Observer marks this server as an observer (LearnerType.OBSERVER): its
	// initial vote carries no zxid or epoch and it decides OBSERVING.
	Observer bool
	// ConfigString is carried in every version-2 notification we send.
	ConfigString string
	// FinalizeWait is how long a quorum for our proposal must stand
	// unchallenged before we decide; it is also the first notification
	// timeout (minNotificationInterval). Default 200ms.
	FinalizeWait time.Duration
	// MaxNotificationInterval caps the doubling notification timeout.
	// Default 60s.
	MaxNotificationInterval time.Duration
}

// Vote is a (proposed or elected) leader and what it was chosen on.
type Vote struct {
	Leader, Zxid, ElectionEpoch, PeerEpoch int64
}

// Send is one notification to put on the wire to server To. Messages to
// ourselves never appear here: the Machine loops them back internally.
type Send struct {
	To  int64
	Msg wire.Notification
}

// Decision ends an election: State is wire.StateFollowing, StateLeading or
// StateObserving, Vote the elected leader (ElectionEpoch = the round the
// decision belongs to).
type Decision struct {
	State int32
	Vote  Vote
}

// Output is what one call into the Machine asks the shell to do.
type Output struct {
	Sends   []Send
	Decided *Decision
	// Timeout is set when the notification timeout expired (lookForLeader's
	// poll returned nothing). Sends then hold the re-broadcast of our
	// proposal. ZooKeeper only re-broadcasts when its connection manager
	// "has delivered" (some send queue is empty); otherwise it reconnects to
	// every peer it has a queue for instead and drops the re-broadcast. A
	// shell without queues may simply send.
	Timeout bool
}

// ReceivedVote is one entry of the tallies an election kept, for logging.
type ReceivedVote struct {
	From          int64
	State         int32
	Vote          Vote
	OutOfElection bool
}

// tallied is a Vote as stored in recvset/outofelection, with the two extra
// fields Vote.equals looks at.
type tallied struct {
	v       Vote
	state   int32
	version int32
}

// equal is ZooKeeper's Vote.equals: while either side is LOOKING all four
// numbers must match; otherwise the leader and peerEpoch, or the leader
// alone when exactly one side has message version 0.
func (a tallied) equal(b tallied) bool {
	if a.state == wire.StateLooking || b.state == wire.StateLooking {
		return a.v == b.v
	}
	if (a.version > 0) != (b.version > 0) {
		return a.v.Leader == b.v.Leader
	}
	return a.v.Leader == b.v.Leader && a.v.PeerEpoch == b.v.PeerEpoch
}

type queued struct {
	from int64
	n    wire.Notification
}

// maxBuffered bounds the notifications kept while LOOKING outside an
// election (ZooKeeper's recvqueue is unbounded; the oldest are dropped here).
const maxBuffered = 1024

// Machine is one server's fast-leader-election state. It is not safe for
// concurrent use.
//
// Messages to self: sendNotifications in ZooKeeper includes our own sid and
// the connection manager loops that message back into the receive path. The
// Machine does the same internally: a message to MyID is queued and
// processed (receiver rules, then election rules) before the call returns,
// after the message being handled. Output.Sends never addresses MyID.
type Machine struct {
	cfg    Config
	voters map[int64]bool
	half   int

	state        int32
	active       bool // inside lookForLeader
	logicalclock int64

	// proposal (proposedLeader, proposedZxid, proposedEpoch)
	propLeader, propZxid, propEpoch int64
	// what StartLooking was given
	lastZxid, currentEpoch int64

	current Vote // QuorumPeer.currentVote
	started bool // StartLooking has been called once

	recvset       map[int64]tallied
	outofelection map[int64]tallied
	lastTally     []ReceivedVote

	notTimeout  time.Duration
	notDeadline time.Duration

	finalizing       bool
	finalizeDeadline time.Duration

	buffered []queued // LOOKING but no election running (Java's recvqueue)
	selfq    []wire.Notification
	// earlyLooking keeps, per voter, the newest LOOKING notification that
	// arrived while we were not LOOKING (answered, then dropped by Java):
	// a peer that notices a dead leader a moment before we do would
	// otherwise not be heard until its next timeout re-send
	earlyLooking map[int64]earlyNote
}

type earlyNote struct {
	at time.Duration
	n  wire.Notification
}

// earlyWindow is how old an early LOOKING notification may be and still be
// used when our own election starts.
const earlyWindow = time.Second

// NewMachine returns a Machine in state LOOKING with no election running:
// until StartLooking it only answers (non-voters get our current vote) and
// buffers voters' notifications for the coming election, as ZooKeeper does
// between its start and lookForLeader.
func NewMachine(cfg Config) *Machine {
	if cfg.FinalizeWait <= 0 {
		cfg.FinalizeWait = DefaultFinalizeWait
	}
	if cfg.MaxNotificationInterval <= 0 {
		cfg.MaxNotificationInterval = DefaultMaxNotificationInterval
	}
	m := &Machine{cfg: cfg, voters: make(map[int64]bool, len(cfg.Voters)), state: wire.StateLooking,
		propLeader: -1, propZxid: -1,
		// Until StartLooking tells us our zxid and epoch, the vote we answer
		// with has zxid and epochs -1 (a -1 zxid makes receivers ignore it).
		current: Vote{Leader: cfg.MyID, Zxid: -1, ElectionEpoch: -1, PeerEpoch: -1}}
	for _, v := range cfg.Voters {
		m.voters[v] = true
	}
	m.half = len(m.voters) / 2
	return m
}

// State is the server state (wire.State*).
func (m *Machine) State() int32 { return m.state }

// Electing reports whether an election (lookForLeader) is running.
func (m *Machine) Electing() bool { return m.active }

// LogicalClock is the current election round.
func (m *Machine) LogicalClock() int64 { return m.logicalclock }

// CurrentVote is QuorumPeer's current vote: the last decision, or before
// the first one our own initial vote with electionEpoch -1 (before the first
// StartLooking, zxid and peerEpoch -1 too: they are not known yet). Non-voters
// are answered with it in every state, LOOKING servers while we are not
// LOOKING.
func (m *Machine) CurrentVote() Vote { return m.current }

// Proposal is our current proposal (valid while electing).
func (m *Machine) Proposal() Vote {
	return Vote{Leader: m.propLeader, Zxid: m.propZxid, ElectionEpoch: m.logicalclock, PeerEpoch: m.propEpoch}
}

// Tally lists the votes the last finished election had recorded when it
// decided (the round's votes, then the out-of-election ones), sorted by sid.
func (m *Machine) Tally() []ReceivedVote { return append([]ReceivedVote(nil), m.lastTally...) }

// UpdateVote is QuorumPeer.updateElectionVote, called after a successful
// sync so that servers joining later learn the new epoch. As in ZooKeeper
// only the vote's peerEpoch changes; zxid is accepted for symmetry with the
// caller's view and deliberately ignored (Java answers with the zxid that
// was elected).
func (m *Machine) UpdateVote(zxid, peerEpoch int64) {
	_ = zxid
	m.current.PeerEpoch = peerEpoch
}

func (m *Machine) isVoter(sid int64) bool { return m.voters[sid] }

func (m *Machine) initID() int64 {
	if m.isVoter(m.cfg.MyID) {
		return m.cfg.MyID
	}
	return math.MinInt64
}

func (m *Machine) initZxid() int64 {
	if m.cfg.Observer {
		return math.MinInt64
	}
	return m.lastZxid
}

func (m *Machine) initEpoch() int64 {
	if m.cfg.Observer {
		return math.MinInt64
	}
	return m.currentEpoch
}

// better is totalOrderPredicate for majority quorums (every weight is 1):
// higher peerEpoch, then higher zxid, then higher sid.
func better(newID, newZxid, newEpoch, curID, curZxid, curEpoch int64) bool {
	return newEpoch > curEpoch ||
		(newEpoch == curEpoch && (newZxid > curZxid || (newZxid == curZxid && newID > curID)))
}

func (m *Machine) note(state int32, leader, zxid, electionEpoch, peerEpoch int64) wire.Notification {
	return wire.Notification{State: state, Leader: leader, Zxid: zxid, ElectionEpoch: electionEpoch,
		PeerEpoch: peerEpoch, HasPeerEpoch: true, Version: wire.NotificationVersion, Config: m.cfg.ConfigString}
}

func (m *Machine) send(out *Output, to int64, n wire.Notification) {
	if to == m.cfg.MyID {
		m.selfq = append(m.selfq, n)
		return
	}
	out.Sends = append(out.Sends, Send{To: to, Msg: n})
}

// sendNotifications sends our proposal to every voter (ourselves included).
func (m *Machine) sendNotifications(out *Output) {
	for _, sid := range m.cfg.Voters {
		m.send(out, sid, m.note(wire.StateLooking, m.propLeader, m.propZxid, m.logicalclock, m.propEpoch))
	}
}

// StartLooking begins an election (lookForLeader): the round is incremented,
// the proposal becomes our initial vote and is sent to every voter. lastZxid
// is the last logged zxid, currentEpoch the currentEpoch file. Notifications
// buffered since the last election are processed afterwards.
func (m *Machine) StartLooking(now time.Duration, lastZxid, currentEpoch int64) Output {
	var out Output
	m.state = wire.StateLooking
	m.active = true
	m.lastZxid, m.currentEpoch = lastZxid, currentEpoch
	if !m.started {
		// QuorumPeer.startLeaderElection: new Vote(myid, lastLoggedZxid, currentEpoch)
		m.current = Vote{Leader: m.cfg.MyID, Zxid: lastZxid, ElectionEpoch: -1, PeerEpoch: currentEpoch}
		m.started = true
	}
	m.logicalclock++
	m.propLeader, m.propZxid, m.propEpoch = m.initID(), m.initZxid(), m.initEpoch()
	m.recvset = make(map[int64]tallied)
	m.outofelection = make(map[int64]tallied)
	m.finalizing = false
	m.notTimeout = m.cfg.FinalizeWait
	m.notDeadline = now + m.notTimeout
	m.sendNotifications(&out)
	pending := m.buffered
	m.buffered = nil
	if len(m.earlyLooking) > 0 {
		// as if delivered just now, oldest sid first for determinism
		ids := make([]int64, 0, len(m.earlyLooking))
		for id, e := range m.earlyLooking {
			if now-e.at <= earlyWindow {
				ids = append(ids, id)
			}
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		early := make([]queued, 0, len(ids))
		for _, id := range ids {
			early = append(early, queued{id, m.earlyLooking[id].n})
		}
		pending = append(early, pending...)
		m.earlyLooking = nil
	}
	for _, q := range pending {
		if !m.active {
			break
		}
		m.elect(now, q.from, q.n, &out)
	}
	m.drainSelf(now, &out)
	return out
}

// Abandon stops a running election without a decision (the caller gave up
// waiting). The state stays LOOKING; notifications are buffered again.
func (m *Machine) Abandon() {
	m.active = false
	m.finalizing = false
	m.selfq = nil
}

// Receive handles a notification from server from, in any state: the
// receiver-thread answers of ZooKeeper's WorkerReceiver, then, while an
// election runs, the lookForLeader rules.
func (m *Machine) Receive(now time.Duration, from int64, n wire.Notification) Output {
	var out Output
	m.receive(now, from, n, &out)
	m.drainSelf(now, &out)
	return out
}

func (m *Machine) drainSelf(now time.Duration, out *Output) {
	for len(m.selfq) > 0 {
		n := m.selfq[0]
		m.selfq = m.selfq[1:]
		m.receive(now, m.cfg.MyID, n, out)
	}
	m.selfq = nil
}

func (m *Machine) receive(now time.Duration, from int64, n wire.Notification, out *Output) {
	if !m.isVoter(from) {
		// A non-voting server (observer) gets our current vote right away,
		// stamped with our logical clock and state; its message goes no
		// further.
		c := m.current
		m.send(out, from, m.note(m.state, c.Leader, c.Zxid, m.logicalclock, c.PeerEpoch))
		return
	}
	if m.state == wire.StateLooking {
		if n.State == wire.StateLooking && n.ElectionEpoch < m.logicalclock {
			m.send(out, from, m.note(wire.StateLooking, m.propLeader, m.propZxid, m.logicalclock, m.propEpoch))
		}
		if m.active {
			m.elect(now, from, n, out)
		} else {
			if len(m.buffered) >= maxBuffered {
				m.buffered = m.buffered[1:]
			}
			m.buffered = append(m.buffered, queued{from, n})
		}
		return
	}
	if n.State == wire.StateLooking {
		c := m.current
		m.send(out, from, m.note(m.state, c.Leader, c.Zxid, c.ElectionEpoch, c.PeerEpoch))
		if m.earlyLooking == nil {
			m.earlyLooking = map[int64]earlyNote{}
		}
		m.earlyLooking[from] = earlyNote{at: now, n: n}
	}
}

// elect is one iteration of lookForLeader's loop for notification n.
func (m *Machine) elect(now time.Duration, from int64, n wire.Notification, out *Output) {
	// The poll returned a message: the notification timeout restarts.
	m.notDeadline = now + m.notTimeout
	if m.finalizing {
		// lookForLeader is draining the queue for finalizeWait: a better
		// vote ends the wait and is processed normally; anything else is
		// consumed and the wait starts over.
		if !better(n.Leader, n.Zxid, n.PeerEpoch, m.propLeader, m.propZxid, m.propEpoch) {
			m.finalizeDeadline = now + m.cfg.FinalizeWait
			return
		}
		m.finalizing = false
	}
	if !m.isVoter(from) || !m.isVoter(n.Leader) {
		return
	}
	switch n.State {
	case wire.StateLooking:
		if m.initZxid() == -1 || n.Zxid == -1 {
			return
		}
		switch {
		case n.ElectionEpoch > m.logicalclock:
			m.logicalclock = n.ElectionEpoch
			m.recvset = make(map[int64]tallied)
			if better(n.Leader, n.Zxid, n.PeerEpoch, m.initID(), m.initZxid(), m.initEpoch()) {
				m.propLeader, m.propZxid, m.propEpoch = n.Leader, n.Zxid, n.PeerEpoch
			} else {
				m.propLeader, m.propZxid, m.propEpoch = m.initID(), m.initZxid(), m.initEpoch()
			}
			m.sendNotifications(out)
		case n.ElectionEpoch < m.logicalclock:
			return
		case better(n.Leader, n.Zxid, n.PeerEpoch, m.propLeader, m.propZxid, m.propEpoch):
			m.propLeader, m.propZxid, m.propEpoch = n.Leader, n.Zxid, n.PeerEpoch
			m.sendNotifications(out)
		}
		m.recvset[from] = tallied{v: Vote{n.Leader, n.Zxid, n.ElectionEpoch, n.PeerEpoch}, state: wire.StateLooking}
		mine := tallied{v: m.Proposal(), state: wire.StateLooking}
		if m.hasQuorum(m.recvset, mine) {
			m.finalizing = true
			m.finalizeDeadline = now + m.cfg.FinalizeWait
		}
	case wire.StateObserving:
		// observers' notifications do not count
	case wire.StateFollowing, wire.StateLeading:
		m.receivedFollowing(from, n, out)
	}
}

// receivedFollowing handles a FOLLOWING or LEADING notification: it counts
// in this round if the round matches, and always in the out-of-election
// tally, which lets a server join an ensemble that already has a leader.
func (m *Machine) receivedFollowing(from int64, n wire.Notification, out *Output) {
	v := Vote{n.Leader, n.Zxid, n.ElectionEpoch, n.PeerEpoch}
	theirs := tallied{v: v, state: n.State, version: n.Version}
	if n.ElectionEpoch == m.logicalclock {
		m.recvset[from] = tallied{v: v, state: n.State} // stored with version 0, as ZooKeeper does
		if m.hasQuorum(m.recvset, theirs) && m.checkLeader(m.recvset, n.Leader, n.ElectionEpoch) {
			m.decide(n.Leader, v, out)
			return
		}
	}
	m.outofelection[from] = theirs
	if m.hasQuorum(m.outofelection, theirs) && m.checkLeader(m.outofelection, n.Leader, n.ElectionEpoch) {
		m.logicalclock = n.ElectionEpoch
		m.decide(n.Leader, v, out)
	}
}

// checkLeader: a leader other than us must be in votes as LEADING; if it is
// us, the round must be ours.
func (m *Machine) checkLeader(votes map[int64]tallied, leader, electionEpoch int64) bool {
	if leader != m.cfg.MyID {
		t, ok := votes[leader]
		return ok && t.state == wire.StateLeading
	}
	return m.logicalclock == electionEpoch
}

// hasQuorum counts the voters whose recorded vote equals v: more than half.
func (m *Machine) hasQuorum(votes map[int64]tallied, v tallied) bool {
	n := 0
	for sid, t := range votes {
		if m.isVoter(sid) && v.equal(t) {
			n++
		}
	}
	return n > m.half
}

func (m *Machine) decide(leader int64, v Vote, out *Output) {
	st := wire.StateFollowing
	if m.cfg.Observer {
		st = wire.StateObserving
	}
	if leader == m.cfg.MyID {
		st = wire.StateLeading
	}
	m.lastTally = m.lastTally[:0]
	for _, src := range []struct {
		set map[int64]tallied
		ooe bool
	}{{m.recvset, false}, {m.outofelection, true}} {
		sids := make([]int64, 0, len(src.set))
		for sid := range src.set {
			sids = append(sids, sid)
		}
		sort.Slice(sids, func(i, j int) bool { return sids[i] < sids[j] })
		for _, sid := range sids {
			t := src.set[sid]
			m.lastTally = append(m.lastTally, ReceivedVote{From: sid, State: t.state, Vote: t.v, OutOfElection: src.ooe})
		}
	}
	m.state = st
	m.active = false
	m.finalizing = false
	m.current = v
	m.selfq = nil // leaveInstance clears the queue
	m.buffered = nil
	m.earlyLooking = nil
	out.Decided = &Decision{State: st, Vote: v}
}

// Tick advances time: it decides when the finalize wait has expired and
// re-broadcasts (doubling the interval up to MaxNotificationInterval) when
// the notification timeout has.
func (m *Machine) Tick(now time.Duration) Output {
	var out Output
	if !m.active {
		return out
	}
	if m.finalizing {
		if now >= m.finalizeDeadline {
			v := m.Proposal()
			m.decide(v.Leader, v, &out)
		}
		return out
	}
	if now >= m.notDeadline {
		out.Timeout = true
		m.sendNotifications(&out)
		m.notTimeout = min(m.notTimeout*2, m.cfg.MaxNotificationInterval)
		m.notDeadline = now + m.notTimeout
		m.drainSelf(now, &out)
	}
	return out
}

// NextDeadline is when Tick must next be called; ok is false when no
// election is running.
func (m *Machine) NextDeadline() (time.Duration, bool) {
	if !m.active {
		return 0, false
	}
	if m.finalizing {
		return m.finalizeDeadline, true
	}
	return m.notDeadline, true
}

// NotificationInterval is the current notification timeout (for tests and
// logs).
func (m *Machine) NotificationInterval() time.Duration { return m.notTimeout }

// StateName is the name ZooKeeper gives a server state (wire.State*).
func StateName(s int32) string {
	switch s {
	case wire.StateLooking:
		return "LOOKING"
	case wire.StateFollowing:
		return "FOLLOWING"
	case wire.StateLeading:
		return "LEADING"
	case wire.StateObserving:
		return "OBSERVING"
	}
	return fmt.Sprintf("state(%d)", s)
}
