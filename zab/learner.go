package zab

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/zkserver/zkserver/wire"
)

var errTrailing = errors.New("zab: trailing bytes")

// LearnerConfig is what a follower or observer starts from.
type LearnerConfig struct {
	ID       int64
	Observer bool
	// AcceptedEpoch and CurrentEpoch are the epoch files; LastZxid the
	// last zxid of the tree (everything logged is applied before a role
	// starts).
	AcceptedEpoch, CurrentEpoch, LastZxid int64
	InitLimit, SyncLimit                  int // ticks
	// Touches returns the sessions touched since the last PING (nil before
	// serving); it fills the PING reply.
	Touches func() map[int64]int32
}

type learnerPhase int

const (
	phaseInfo      learnerPhase = iota // FOLLOWERINFO sent
	phaseSync                          // ACKEPOCH sent, receiving the sync stream
	phaseNewLeader                     // NEWLEADER acknowledged, waiting for UPTODATE
	phaseBroadcast                     // serving
)

// Learner is the core of a follower or observer.
type Learner struct {
	cfg   LearnerConfig
	phase learnerPhase

	newEpoch  int64
	accepted  int64
	current   int64
	truncated bool

	// proposals logged or being logged but not yet committed, in order
	pending []Entry
	// proposals appended in broadcast whose ACK waits for the fsync
	unacked []int64

	lastZxid  int64 // last txn received into the tree or the log
	now, seen int64 // half ticks
	stopped   bool
}

// NewLearner returns a learner core; call Start first.
func NewLearner(cfg LearnerConfig) *Learner {
	return &Learner{cfg: cfg, accepted: cfg.AcceptedEpoch, current: cfg.CurrentEpoch, lastZxid: cfg.LastZxid}
}

// Epoch is the epoch of the leader followed (0 before LEADERINFO).
func (f *Learner) Epoch() int64 { return f.newEpoch }

// LastZxid is the last txn this learner holds.
func (f *Learner) LastZxid() int64 { return f.lastZxid }

// Serving reports whether UPTODATE arrived.
func (f *Learner) Serving() bool { return f.phase == phaseBroadcast }

// Start sends FOLLOWERINFO (OBSERVERINFO for an observer).
func (f *Learner) Start() []Action {
	typ := wire.PacketFollowerInfo
	if f.cfg.Observer {
		typ = wire.PacketObserverInfo
	}
	li := wire.LearnerInfo{ServerID: f.cfg.ID, ProtocolVersion: ProtocolVersion, ConfigVersion: 0}
	return []Action{Send{Pkt: wire.QuorumPacket{Type: typ, Zxid: wire.MakeZxid(f.accepted, 0), Data: wire.Marshal(&li)}}}
}

func (f *Learner) stop(format string, args ...any) []Action {
	f.stopped = true
	return []Action{Stop{Reason: fmt.Sprintf(format, args...)}}
}

// Receive handles one packet from the leader.
func (f *Learner) Receive(p *wire.QuorumPacket) []Action {
	if f.stopped {
		return nil
	}
	f.seen = f.now
	switch p.Type {
	case wire.PacketLeaderInfo:
		if f.phase != phaseInfo {
			return f.stop("LEADERINFO out of order")
		}
		return f.leaderInfo(p)
	case wire.PacketPing:
		// never a null buffer: ZooKeeper's LearnerHandler reads the data
		// without a null check and drops the learner
		data := []byte{}
		if f.cfg.Touches != nil && f.phase == phaseBroadcast {
			data = EncodeTouches(f.cfg.Touches())
		}
		return []Action{Send{Pkt: wire.QuorumPacket{Type: wire.PacketPing, Zxid: p.Zxid, Data: data, AuthInfo: p.AuthInfo}}}
	}
	if f.phase == phaseInfo {
		return f.stop("%s before LEADERINFO", wire.PacketTypeName(p.Type))
	}
	switch p.Type {
	case wire.PacketDiff:
		return nil
	case wire.PacketTrunc:
		if f.phase != phaseSync {
			return f.stop("TRUNC after the sync")
		}
		f.truncated = true
		f.lastZxid = p.Zxid
		return []Action{Truncate{Zxid: p.Zxid}}
	case wire.PacketSnap:
		// the shell has read the snapshot stream and replaced the tree
		if f.phase != phaseSync {
			return f.stop("SNAP after the sync")
		}
		// snapshot at once: the snapshot replaces the history before it,
		// and what the sync sends next is logged after it
		f.lastZxid = p.Zxid
		return []Action{TakeSnapshot{}}
	case wire.PacketProposal:
		// a DIFF or TRUNC sync queues PROPOSAL+COMMIT pairs for observers
		// too (Learner.syncWithLeader); only broadcast uses INFORM
		if f.cfg.Observer && f.phase != phaseSync {
			return f.stop("PROPOSAL sent to an observer")
		}
		return f.proposal(Entry{Zxid: p.Zxid, Data: p.Data})
	case wire.PacketCommit:
		if f.cfg.Observer && f.phase != phaseSync {
			return f.stop("COMMIT sent to an observer")
		}
		return f.commit(p.Zxid)
	case wire.PacketInform:
		return f.inform(Entry{Zxid: p.Zxid, Data: p.Data})
	case wire.PacketNewLeader:
		return f.newLeader(p)
	case wire.PacketUpToDate:
		if f.phase != phaseNewLeader {
			return f.stop("UPTODATE before NEWLEADER")
		}
		f.phase = phaseBroadcast
		f.seen = f.now
		return []Action{
			Send{Pkt: wire.QuorumPacket{Type: wire.PacketAck, Zxid: wire.MakeZxid(f.newEpoch, 0)}},
			Serve{},
		}
	case wire.PacketSync:
		return []Action{ApplySyncDone{}}
	case wire.PacketRevalidate:
		return nil // answered by the shell
	}
	return f.stop("unexpected %s from the leader", wire.PacketTypeName(p.Type))
}

func (f *Learner) leaderInfo(p *wire.QuorumPacket) []Action {
	e := wire.ZxidEpoch(p.Zxid)
	var out []Action
	ce := int32(-1)
	switch {
	case e > f.accepted:
		out = append(out, PersistEpoch{Name: AcceptedEpochFile, Epoch: e})
		f.accepted = e
		ce = int32(f.current)
	case e == f.accepted:
	default:
		return f.stop("leader's epoch %d is below our accepted epoch %d", e, f.accepted)
	}
	f.newEpoch = e
	f.phase = phaseSync
	data := binary.BigEndian.AppendUint32(nil, uint32(ce))
	return append(out, Send{Pkt: wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: f.lastZxid, Data: data}})
}

func (f *Learner) proposal(e Entry) []Action {
	if e.Zxid <= f.lastZxid && f.phase != phaseSync {
		return f.stop("PROPOSAL %s not after %s", hex(e.Zxid), hex(f.lastZxid))
	}
	f.lastZxid = max(f.lastZxid, e.Zxid)
	f.pending = append(f.pending, e)
	if f.phase == phaseSync {
		// logged now, so the log never lags the tree; acknowledged after
		// NEWLEADER
		return []Action{Append{Entries: []Entry{e}}}
	}
	f.unacked = append(f.unacked, e.Zxid)
	return []Action{Append{Entries: []Entry{e}}}
}

func (f *Learner) commit(zxid int64) []Action {
	if len(f.pending) == 0 {
		return nil // ZooKeeper only logs this
	}
	head := f.pending[0]
	if head.Zxid != zxid {
		return f.stop("COMMIT %s does not match the oldest pending proposal %s", hex(zxid), hex(head.Zxid))
	}
	f.pending = f.pending[1:]
	return []Action{Apply{Entries: []Entry{head}}}
}

func (f *Learner) inform(e Entry) []Action {
	if !f.cfg.Observer {
		return f.stop("INFORM sent to a follower")
	}
	f.lastZxid = max(f.lastZxid, e.Zxid)
	return []Action{Append{Entries: []Entry{e}}, Apply{Entries: []Entry{e}}}
}

// newLeader waits until everything received is durable, then writes the
// epoch, then acknowledges: the newest (3.9.3) order, the safest.
func (f *Learner) newLeader(p *wire.QuorumPacket) []Action {
	if f.phase != phaseSync {
		return f.stop("NEWLEADER out of order")
	}
	if wire.ZxidEpoch(p.Zxid) != f.newEpoch {
		return f.stop("NEWLEADER epoch %d, LEADERINFO said %d", wire.ZxidEpoch(p.Zxid), f.newEpoch)
	}
	var out []Action
	if f.truncated {
		out = append(out, TakeSnapshot{})
	}
	// everything the sync sent is durable before the epoch and the ACK
	out = append(out, AppendSync{})
	f.current = f.newEpoch
	out = append(out, PersistEpoch{Name: CurrentEpochFile, Epoch: f.newEpoch},
		Send{Pkt: wire.QuorumPacket{Type: wire.PacketAck, Zxid: p.Zxid}})
	if !f.cfg.Observer {
		for _, e := range f.pending {
			out = append(out, Send{Pkt: wire.QuorumPacket{Type: wire.PacketAck, Zxid: e.Zxid}})
		}
	}
	f.phase = phaseNewLeader
	return out
}

// Durable reports the local log fsynced up to zxid: a follower ACKs
// every proposal it covers.
func (f *Learner) Durable(zxid int64) []Action {
	var out []Action
	for len(f.unacked) > 0 && f.unacked[0] <= zxid {
		if !f.cfg.Observer {
			out = append(out, Send{Pkt: wire.QuorumPacket{Type: wire.PacketAck, Zxid: f.unacked[0]}})
		}
		f.unacked = f.unacked[1:]
	}
	return out
}

// Forward sends a client request to the leader.
func (f *Learner) Forward(r Request) []Action {
	if f.stopped {
		return nil
	}
	return []Action{Send{Pkt: EncodeRequest(r)}}
}

// Tick is called every half tickTime; a leader silent for initLimit
// ticks during the sync, syncLimit ticks after it, is given up.
func (f *Learner) Tick() []Action {
	if f.stopped {
		return nil
	}
	f.now++
	limit := int64(f.cfg.SyncLimit)
	if f.phase < phaseNewLeader {
		limit = int64(f.cfg.InitLimit)
	}
	if f.now-f.seen > 2*limit {
		return f.stop("no packet from the leader for %d ticks", limit)
	}
	return nil
}
