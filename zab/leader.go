package zab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/zkserver/zkserver/wire"
)

// ProtocolVersion is what LEADERINFO and LearnerInfo carry (0x10000).
const ProtocolVersion = 0x10000

// LeaderConfig is what a leader starts from.
type LeaderConfig struct {
	ID        int64
	Voters    []int64 // participant sids, this one included
	Observers []int64
	// AcceptedEpoch and CurrentEpoch are this server's epoch files;
	// LastZxid the last zxid of its tree (everything logged is applied
	// before a role starts).
	AcceptedEpoch, CurrentEpoch, LastZxid int64
	InitLimit, SyncLimit                  int // in ticks
	ConfigString                          string
	// Committed is the window of recent committed txns (sync by DIFF);
	// Disk the txn log (sync by DIFF from disk); either may be empty.
	Committed          *CommittedLog
	Disk               DiskLog
	SnapshotSizeFactor float64
	NewestSnapshotSize func() int64
}

type learnerStage int

const (
	stageInfo      learnerStage = iota // FOLLOWERINFO received
	stageLeaderInf                     // LEADERINFO sent
	stageAckEpoch                      // ACKEPOCH received, waiting for the epoch quorum
	stageSyncing                       // sync stream and NEWLEADER queued; gets broadcasts
	stageNewLeader                     // NEWLEADER acknowledged
	stageUpToDate                      // UPTODATE sent
)

type learnerState struct {
	observer      bool
	acceptedEpoch int64
	stage         learnerStage
	lastZxid      int64
	deadline      int64 // in half ticks
}

type proposal struct {
	zxid int64
	data []byte
	acks map[int64]bool
}

type pendingSync struct {
	sid  int64
	zxid int64
}

// Leader is the leader's core: discovery (epoch agreement), the sync of
// each learner and broadcast. Inputs come from one goroutine.
type Leader struct {
	cfg       LeaderConfig
	voters    map[int64]bool
	observers map[int64]bool

	now      int64 // half ticks since the role started
	learners map[int64]*learnerState

	epochSet    map[int64]bool // voters whose FOLLOWERINFO counted (self included)
	maxAccepted int64
	newEpoch    int64 // 0 until fixed
	epochAcks   map[int64]bool
	epochAcked  bool
	nlAcks      map[int64]bool
	established bool

	outstanding   []*proposal
	lastProposed  int64
	lastCommitted int64
	durable       int64 // local log fsynced up to here
	syncs         []pendingSync
	stopped       bool
	// windowFrom is the oldest zxid of the committed window a sync may
	// use: everything, unless the window handed over did not end at the
	// tree's last zxid; then only what this leader commits.
	windowFrom int64

	// stats
	LastProposalSize, MinProposalSize, MaxProposalSize int
}

// NewLeader returns a leader core; call Start first.
func NewLeader(cfg LeaderConfig) *Leader {
	l := &Leader{cfg: cfg, voters: map[int64]bool{}, observers: map[int64]bool{},
		learners: map[int64]*learnerState{}, epochSet: map[int64]bool{}, epochAcks: map[int64]bool{},
		nlAcks: map[int64]bool{}, lastCommitted: cfg.LastZxid, lastProposed: cfg.LastZxid, durable: cfg.LastZxid,
		// ZooKeeper's proposal size statistics start at -1
		LastProposalSize: -1, MinProposalSize: -1, MaxProposalSize: -1}
	for _, v := range cfg.Voters {
		l.voters[v] = true
	}
	for _, o := range cfg.Observers {
		l.observers[o] = true
	}
	if l.cfg.Committed == nil {
		l.cfg.Committed = NewCommittedLog(500)
	}
	// The window must be the txns right below the tree's last zxid, as
	// ZooKeeper's committedLog is (filled by every apply, by the replay
	// after the snapshot at startup, by the fast-forward after a role).
	// A window that ends below (txns applied to the tree without entering
	// it) or was filled from log entries a snapshot superseded would make
	// a DIFF skip txns or a TRUNC cut committed ones; such a window is not
	// used, and syncs below this leader's own commits come from the txn
	// log or a snapshot.
	l.windowFrom = math.MinInt64
	if _, max, ok := l.cfg.Committed.Bounds(); ok && max != cfg.LastZxid {
		l.windowFrom = cfg.LastZxid + 1
	}
	return l
}

// quorum reports whether ids hold a majority of the voters.
func (l *Leader) quorum(ids map[int64]bool) bool {
	n := 0
	for id, ok := range ids {
		if ok && l.voters[id] {
			n++
		}
	}
	return n > len(l.voters)/2
}

// Epoch is the new epoch (0 until a quorum agreed on it).
func (l *Leader) Epoch() int64 { return l.newEpoch }

// Established reports whether a quorum acknowledged NEWLEADER.
func (l *Leader) Established() bool { return l.established }

// Start contributes this server's own epoch.
func (l *Leader) Start() []Action {
	l.epochSet[l.cfg.ID] = true
	l.maxAccepted = l.cfg.AcceptedEpoch
	l.epochAcks[l.cfg.ID] = true
	l.nlAcks[l.cfg.ID] = true
	return l.tryFixEpoch(nil)
}

func (l *Leader) tryFixEpoch(out []Action) []Action {
	if l.newEpoch != 0 || !l.quorum(l.epochSet) {
		return out
	}
	l.newEpoch = l.maxAccepted + 1
	out = append(out, PersistEpoch{Name: AcceptedEpochFile, Epoch: l.newEpoch})
	for _, sid := range l.sortedLearners() {
		if ls := l.learners[sid]; ls.stage == stageInfo {
			out = l.sendLeaderInfo(out, sid, ls)
		}
	}
	return out
}

func (l *Leader) sendLeaderInfo(out []Action, sid int64, ls *learnerState) []Action {
	ls.stage = stageLeaderInf
	data := binary.BigEndian.AppendUint32(nil, ProtocolVersion)
	return append(out, Send{To: sid, Pkt: wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: wire.MakeZxid(l.newEpoch, 0), Data: data}})
}

func (l *Leader) sortedLearners() []int64 {
	ids := make([]int64, 0, len(l.learners))
	for id := range l.learners {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Connect registers a learner whose FOLLOWERINFO (or OBSERVERINFO) arrived
// with its accepted epoch (the epoch of the packet's zxid). A learner
// already known under that sid is replaced.
func (l *Leader) Connect(sid int64, observer bool, acceptedEpoch int64) []Action {
	if l.stopped {
		return nil
	}
	var out []Action
	if !observer && !l.voters[sid] {
		return append(out, Drop{Sid: sid, Reason: fmt.Sprintf("server %d is not a voting member", sid)})
	}
	if observer && !l.observers[sid] && !l.voters[sid] {
		return append(out, Drop{Sid: sid, Reason: fmt.Sprintf("server %d is not in the configuration", sid)})
	}
	ls := &learnerState{observer: observer, acceptedEpoch: acceptedEpoch, lastZxid: -1,
		deadline: l.now + 2*int64(l.cfg.InitLimit+l.cfg.SyncLimit)}
	l.learners[sid] = ls
	if l.newEpoch == 0 {
		if !observer {
			l.epochSet[sid] = true
			l.maxAccepted = max(l.maxAccepted, acceptedEpoch)
		}
		return l.tryFixEpoch(out)
	}
	return l.sendLeaderInfo(out, sid, ls)
}

// Gone forgets a learner whose connection ended.
func (l *Leader) Gone(sid int64) []Action {
	delete(l.learners, sid)
	return nil
}

// Receive handles one packet from a registered learner.
func (l *Leader) Receive(sid int64, p *wire.QuorumPacket) []Action {
	ls := l.learners[sid]
	if ls == nil || l.stopped {
		return nil
	}
	if ls.stage >= stageNewLeader {
		ls.deadline = l.now + 2*int64(l.cfg.SyncLimit)
	} else {
		ls.deadline = l.now + 2*int64(l.cfg.InitLimit+l.cfg.SyncLimit)
	}
	switch p.Type {
	case wire.PacketAckEpoch:
		return l.ackEpoch(sid, ls, p)
	case wire.PacketAck:
		if wire.ZxidCounter(p.Zxid) == 0 {
			return l.ackNewLeader(sid, ls, p.Zxid)
		}
		if ls.observer {
			return nil
		}
		return l.ack(sid, p.Zxid)
	case wire.PacketPing:
		if len(p.Data) == 0 {
			return nil
		}
		t, err := DecodeTouches(p.Data)
		if err != nil {
			return []Action{Drop{Sid: sid, Reason: "bad PING data: " + err.Error()}}
		}
		return []Action{Touch{Sessions: t}}
	case wire.PacketRequest:
		r, err := DecodeRequest(p)
		if err != nil {
			return []Action{Drop{Sid: sid, Reason: "bad REQUEST: " + err.Error()}}
		}
		if r.Op == wire.OpSync {
			return l.sync(sid)
		}
		return []Action{Submit{From: sid, Req: r}}
	case wire.PacketRevalidate:
		d := wire.NewDecoder(p.Data)
		id, to := d.Long(), d.Int()
		if d.Err() != nil {
			return []Action{Drop{Sid: sid, Reason: "bad REVALIDATE"}}
		}
		return []Action{Revalidate{From: sid, Session: id, Timeout: to}}
	default:
		return []Action{Drop{Sid: sid, Reason: "unexpected " + wire.PacketTypeName(p.Type)}}
	}
}

func (l *Leader) ackEpoch(sid int64, ls *learnerState, p *wire.QuorumPacket) []Action {
	if ls.stage != stageLeaderInf {
		return []Action{Drop{Sid: sid, Reason: "ACKEPOCH out of order"}}
	}
	if len(p.Data) < 4 {
		return []Action{Drop{Sid: sid, Reason: "short ACKEPOCH"}}
	}
	ce := int64(int32(binary.BigEndian.Uint32(p.Data)))
	ls.lastZxid = p.Zxid
	ls.stage = stageAckEpoch
	if l.epochAcked {
		return l.syncLearner(nil, sid, ls)
	}
	if ce != -1 && !ls.observer {
		if ce > l.cfg.CurrentEpoch || (ce == l.cfg.CurrentEpoch && p.Zxid > l.cfg.LastZxid) {
			l.stopped = true
			return []Action{Stop{Reason: fmt.Sprintf("follower %d is ahead of the leader: epoch %d zxid %s", sid, ce, hex(p.Zxid))}}
		}
	}
	if !ls.observer && p.Zxid != -1 {
		l.epochAcks[sid] = true
	}
	if !l.quorum(l.epochAcks) {
		return nil
	}
	l.epochAcked = true
	out := []Action{PersistEpoch{Name: CurrentEpochFile, Epoch: l.newEpoch}}
	for _, id := range l.sortedLearners() {
		if s := l.learners[id]; s.stage == stageAckEpoch {
			out = l.syncLearner(out, id, s)
		}
	}
	return out
}

// syncLearner plans and queues the sync stream of one learner, then adds
// it to the broadcast set.
func (l *Leader) syncLearner(out []Action, sid int64, ls *learnerState) []Action {
	snapSize := int64(0)
	if l.cfg.NewestSnapshotSize != nil {
		snapSize = l.cfg.NewestSnapshotSize()
	}
	min, _, ok := l.cfg.Committed.Bounds()
	var committed []Entry
	if ok {
		committed = l.cfg.Committed.Since(max(min, l.windowFrom))
	}
	plan, err := PlanSync(SyncInput{
		PeerLastZxid: ls.lastZxid, LastProcessedZxid: l.lastCommitted, Committed: committed,
		Disk: gapCheckedDisk(l.cfg.Disk), SnapshotSizeFactor: l.cfg.SnapshotSizeFactor, NewestSnapshotSize: snapSize,
	})
	if err != nil {
		return append(out, Drop{Sid: sid, Reason: "planning sync: " + err.Error()})
	}
	var then []wire.QuorumPacket
	if !ls.observer {
		for _, p := range l.outstanding {
			if p.zxid > plan.LastQueued {
				then = append(then, wire.QuorumPacket{Type: wire.PacketProposal, Zxid: p.zxid, Data: p.data})
			}
		}
	}
	then = append(then, wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: wire.MakeZxid(l.newEpoch, 0), Data: []byte(l.cfg.ConfigString)})
	ls.stage = stageSyncing
	return append(out, SendSync{To: sid, Plan: plan, Then: then})
}

func (l *Leader) ackNewLeader(sid int64, ls *learnerState, zxid int64) []Action {
	if zxid != wire.MakeZxid(l.newEpoch, 0) || ls.stage != stageSyncing {
		return nil // the UPTODATE ack, or a stale one
	}
	ls.stage = stageNewLeader
	ls.deadline = l.now + 2*int64(l.cfg.SyncLimit)
	if l.established {
		ls.stage = stageUpToDate
		return []Action{Send{To: sid, Pkt: wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1}}}
	}
	if !ls.observer {
		l.nlAcks[sid] = true
	}
	if !l.quorum(l.nlAcks) {
		return nil
	}
	l.established = true
	start := wire.MakeZxid(l.newEpoch, 0)
	l.lastProposed, l.lastCommitted, l.durable = start, start, start
	out := []Action{Serve{NextZxid: start + 1}}
	for _, id := range l.sortedLearners() {
		if s := l.learners[id]; s.stage == stageNewLeader {
			s.stage = stageUpToDate
			out = append(out, Send{To: id, Pkt: wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1}})
		}
	}
	return out
}

// Propose takes txns prepped by the leader's server, in zxid order.
func (l *Leader) Propose(entries []Entry) []Action {
	if l.stopped || !l.established {
		return nil
	}
	// ZooKeeper's rollover rule: a txn whose counter would be 0xffffffff
	// is not proposed; the leader steps down so the election starts a
	// new epoch (clients of this server reconnect elsewhere, sessions live)
	var rollover bool
	for i, e := range entries {
		if wire.ZxidEpoch(e.Zxid) != l.newEpoch || wire.ZxidCounter(e.Zxid) == 0xffffffff {
			entries, rollover = entries[:i], true
			break
		}
	}
	var out []Action
	if len(entries) > 0 {
		out = append(out, Append{Entries: entries})
	}
	for _, e := range entries {
		if e.Zxid <= l.lastProposed {
			l.stopped = true
			return []Action{Stop{Reason: fmt.Sprintf("proposal %s out of order after %s", hex(e.Zxid), hex(l.lastProposed))}}
		}
		l.outstanding = append(l.outstanding, &proposal{zxid: e.Zxid, data: e.Data, acks: map[int64]bool{}})
		l.lastProposed = e.Zxid
		l.LastProposalSize = len(e.Data)
		if len(e.Data) > l.MaxProposalSize {
			l.MaxProposalSize = len(e.Data)
		}
		if l.MinProposalSize < 0 || len(e.Data) < l.MinProposalSize {
			l.MinProposalSize = len(e.Data)
		}
		for _, sid := range l.sortedLearners() {
			if ls := l.learners[sid]; !ls.observer && ls.stage >= stageSyncing {
				out = append(out, Send{To: sid, Pkt: wire.QuorumPacket{Type: wire.PacketProposal, Zxid: e.Zxid, Data: e.Data}})
			}
		}
	}
	if rollover {
		out = append(out, Stop{Reason: "zxid counter exhausted: stepping down so a new epoch starts"})
		l.stopped = true
	}
	return out
}

// Durable reports that the local log is fsynced up to zxid: the leader's
// own acknowledgement.
func (l *Leader) Durable(zxid int64) []Action {
	if zxid > l.durable {
		l.durable = zxid
	}
	for _, p := range l.outstanding {
		if p.zxid > zxid {
			break
		}
		p.acks[l.cfg.ID] = true
	}
	return l.tryCommit(nil)
}

func (l *Leader) ack(sid, zxid int64) []Action {
	if zxid <= l.lastCommitted || len(l.outstanding) == 0 {
		return nil
	}
	i := sort.Search(len(l.outstanding), func(i int) bool { return l.outstanding[i].zxid >= zxid })
	if i == len(l.outstanding) || l.outstanding[i].zxid != zxid {
		return nil
	}
	// an ACK covers what the follower logged before it too (its log is
	// in order)
	for j := 0; j <= i; j++ {
		l.outstanding[j].acks[sid] = true
	}
	return l.tryCommit(nil)
}

func (l *Leader) tryCommit(out []Action) []Action {
	var committed []Entry
	for len(l.outstanding) > 0 && l.quorum(l.outstanding[0].acks) {
		p := l.outstanding[0]
		l.outstanding[0] = nil
		l.outstanding = l.outstanding[1:]
		l.lastCommitted = p.zxid
		e := Entry{Zxid: p.zxid, Data: p.data}
		l.cfg.Committed.Add(e)
		committed = append(committed, e)
		for _, sid := range l.sortedLearners() {
			ls := l.learners[sid]
			if ls.stage < stageSyncing {
				continue
			}
			if ls.observer {
				out = append(out, Send{To: sid, Pkt: wire.QuorumPacket{Type: wire.PacketInform, Zxid: p.zxid, Data: p.data}})
			} else {
				out = append(out, Send{To: sid, Pkt: wire.QuorumPacket{Type: wire.PacketCommit, Zxid: p.zxid}})
			}
		}
	}
	if len(committed) == 0 {
		return out
	}
	out = append(out, Apply{Entries: committed})
	for len(l.syncs) > 0 && l.syncs[0].zxid <= l.lastCommitted {
		s := l.syncs[0]
		l.syncs = l.syncs[1:]
		if s.sid == localSync {
			out = append(out, ApplySyncDone{})
		} else if _, ok := l.learners[s.sid]; ok {
			out = append(out, Send{To: s.sid, Pkt: wire.QuorumPacket{Type: wire.PacketSync, Zxid: 0}})
		}
	}
	return out
}

// localSync marks a pending sync of the leader's own client.
const localSync = -1

// SyncLocal orders a sync of one of the leader's own clients: it is
// applied (ApplySyncDone) once everything proposed so far is committed.
func (l *Leader) SyncLocal() []Action {
	if len(l.outstanding) == 0 {
		return []Action{ApplySyncDone{}}
	}
	l.syncs = append(l.syncs, pendingSync{sid: localSync, zxid: l.lastProposed})
	return nil
}

// sync answers a learner's forwarded sync once everything proposed so far
// is committed.
func (l *Leader) sync(sid int64) []Action {
	if len(l.outstanding) == 0 {
		return []Action{Send{To: sid, Pkt: wire.QuorumPacket{Type: wire.PacketSync, Zxid: 0}}}
	}
	l.syncs = append(l.syncs, pendingSync{sid: sid, zxid: l.lastProposed})
	return nil
}

// Tick is called every half tickTime: PINGs go out, learners past their
// deadline are dropped, and every tick the leader checks it still has a
// synced quorum.
func (l *Leader) Tick() []Action {
	if l.stopped {
		return nil
	}
	l.now++
	var out []Action
	if !l.established {
		if l.now > 2*int64(l.cfg.InitLimit) {
			l.stopped = true
			what := "epoch from a quorum"
			switch {
			case l.epochAcked:
				what = "NEWLEADER acknowledgements from a quorum"
			case l.newEpoch != 0:
				what = "epoch acknowledgements from a quorum"
			}
			return []Action{Stop{Reason: "timeout while waiting for " + what}}
		}
	}
	for _, sid := range l.sortedLearners() {
		ls := l.learners[sid]
		if ls.deadline < l.now {
			out = append(out, Drop{Sid: sid, Reason: "no packet within the sync limit"})
			delete(l.learners, sid)
			continue
		}
		if ls.stage >= stageSyncing {
			out = append(out, Send{To: sid, Pkt: wire.QuorumPacket{Type: wire.PacketPing, Zxid: l.lastProposed}})
		}
	}
	if l.established && l.now%2 == 0 {
		synced := map[int64]bool{l.cfg.ID: true}
		for sid, ls := range l.learners {
			if !ls.observer && ls.stage >= stageNewLeader {
				synced[sid] = true
			}
		}
		if !l.quorum(synced) {
			l.stopped = true
			out = append(out, Stop{Reason: "not enough followers synced, only " + fmt.Sprint(len(synced)) + " of " + fmt.Sprint(len(l.voters))})
		}
	}
	return out
}

// Metrics for mntr.
type LeaderMetrics struct {
	Learners, SyncedFollowers, Followers, SyncedObservers, PendingSyncs, Outstanding int
	LastProposalSize, MinProposalSize, MaxProposalSize                               int
	Voters                                                                           int
}

// SyncedObservers lists the observers that acknowledged NEWLEADER.
func (l *Leader) SyncedObservers() []int64 {
	var out []int64
	for _, sid := range l.sortedLearners() {
		if ls := l.learners[sid]; ls.observer && ls.stage >= stageNewLeader {
			out = append(out, sid)
		}
	}
	return out
}

// Metrics reports the leader's counts.
func (l *Leader) Metrics() LeaderMetrics {
	m := LeaderMetrics{Learners: len(l.learners), PendingSyncs: len(l.syncs), Outstanding: len(l.outstanding),
		LastProposalSize: l.LastProposalSize, MinProposalSize: l.MinProposalSize, MaxProposalSize: l.MaxProposalSize,
		Voters: len(l.voters)}
	for _, ls := range l.learners {
		if ls.observer {
			if ls.stage >= stageNewLeader {
				m.SyncedObservers++
			}
			continue
		}
		m.Followers++
		if ls.stage >= stageNewLeader {
			m.SyncedFollowers++
		}
	}
	return m
}

func hex(z int64) string { return fmt.Sprintf("0x%x", uint64(z)) }

// errLogGap ends a sync walk over the txn log at a hole.
var errLogGap = errors.New("zab: txn log has a gap")

// gapCheckedDisk makes a walk over the txn log stop at a hole: a server
// synced by SNAP keeps its older log files, and the txns between them and
// the snapshot are in no log (ZOOKEEPER-2418 is the same hole between the
// log and the committed window). Within an epoch zxids are consecutive
// and an epoch's first txn has counter 1, so a txn that is neither the
// next of its epoch nor the first of a later one shows the hole; the sync
// then falls back to SNAP. (A hole spanning whole epochs cannot be seen
// from the zxids alone.)
func gapCheckedDisk(d DiskLog) DiskLog {
	if d == nil {
		return nil
	}
	return gapDisk{d}
}

type gapDisk struct{ DiskLog }

func (g gapDisk) From(zxid int64) (EntryIterator, int64, bool, error) {
	it, total, ok, err := g.DiskLog.From(zxid)
	if it == nil {
		return it, total, ok, err
	}
	return &gapIter{it: it, prev: -1}, total, ok, err
}

type gapIter struct {
	it   EntryIterator
	prev int64
}

func (g *gapIter) Next() (Entry, error) {
	e, err := g.it.Next()
	if err != nil {
		return e, err
	}
	if p := g.prev; p != -1 {
		next := e.Zxid == p+1 && wire.ZxidEpoch(e.Zxid) == wire.ZxidEpoch(p)
		first := wire.ZxidEpoch(e.Zxid) > wire.ZxidEpoch(p) && wire.ZxidCounter(e.Zxid) == 1
		if !next && !first {
			return Entry{}, fmt.Errorf("%w: %s after %s", errLogGap, hex(e.Zxid), hex(p))
		}
	}
	g.prev = e.Zxid
	return e, nil
}

func (g *gapIter) Close() error { return g.it.Close() }
