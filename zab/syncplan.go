package zab

import (
	"fmt"
	"io"
	"strconv"

	"github.com/zkserver/zkserver/wire"
)

// DefaultSnapshotSizeFactor is zookeeper.snapshotSizeFactor's default: the
// txn log files read for a sync may total at most this fraction of the
// newest snapshot file's size.
const DefaultSnapshotSizeFactor = 0.33

// DiskLog is the leader's on-disk txn log as sync planning reads it
// (zabrun.NewDiskLog adapts a txnlog directory).
type DiskLog interface {
	// From returns the entries from the start of the log file covering
	// zxid (the newest file starting at or before it) on, in order, plus
	// the total size of the files involved. ok is false (and it nil) when
	// the oldest available entry is above zxid: that history is gone.
	From(zxid int64) (it EntryIterator, totalBytes int64, ok bool, err error)
}

// EntryIterator yields log entries in order.
type EntryIterator interface {
	// Next returns the next entry, io.EOF after the last.
	Next() (Entry, error)
	Close() error
}

// SyncInput is what the leader knows when a learner's ACKEPOCH arrived.
type SyncInput struct {
	// PeerLastZxid is the learner's last logged zxid (ACKEPOCH's zxid);
	// LastProcessedZxid the leader's last applied one.
	PeerLastZxid, LastProcessedZxid int64
	// Committed is a snapshot of the committed log window, in zxid order.
	Committed []Entry
	// Disk is the leader's txn log; nil disables syncing from disk.
	Disk DiskLog
	// SnapshotSizeFactor is zookeeper.snapshotSizeFactor: negative
	// disables syncing from disk, 0 lifts the size limit, values above 1
	// mean DefaultSnapshotSizeFactor (as ZooKeeper reads the property).
	SnapshotSizeFactor float64
	// NewestSnapshotSize is the size in bytes of the newest snapshot file
	// (0 when there is none, which lifts the size limit).
	NewestSnapshotSize int64
	// ForceSnap is zookeeper.forceSnapshotSync (a test switch).
	ForceSnap bool
}

// SyncPlan is how to bring a learner up to date.
type SyncPlan struct {
	// Kind is the first packet: wire.PacketDiff, wire.PacketTrunc or
	// wire.PacketSnap; Zxid its zxid (for SNAP the LastProcessedZxid the
	// snapshot stream that follows must cover).
	Kind int32
	Zxid int64
	// Queue is what follows the first packet (and, for SNAP, the
	// snapshot): PROPOSAL/COMMIT pairs of the committed txns the learner
	// lacks, in zxid order. Empty for SNAP.
	Queue []wire.QuorumPacket
	// LastQueued is the highest zxid the learner will have once it
	// processed the plan: outstanding proposals above it are sent next
	// (ZooKeeper's startForwarding).
	LastQueued int64
	// DiskErr is a txn log failure that made the plan fall back to SNAP
	// (or end the disk walk early), for the caller to log; nil otherwise.
	DiskErr error
}

// PlanSync chooses DIFF, TRUNC or SNAP for a learner as ZooKeeper 3.8's
// LearnerHandler.syncFollower does (quorum-protocol.md §9.2, first
// matching row):
//
//  1. ForceSnap: SNAP.
//  2. peer == lastProcessed: DIFF(peer), nothing queued.
//  3. peer above the committed window (and not a new-epoch zxid, counter
//     0): TRUNC(maxCommitted).
//  4. peer within the window: walk the window (queueCommittedProposals,
//     §9.3).
//  5. peer below the window with disk sync enabled: walk the txn log from
//     the file covering peer up to minCommitted (refused when its oldest
//     entry is above peer or its files exceed factor × newest snapshot
//     size), then the window; a gap between the two means SNAP.
//  6. anything else: SNAP.
//
// An empty window counts as [lastProcessed, lastProcessed]. A walk that
// cannot choose DIFF or TRUNC (the learner holds txns of another epoch the
// leader never saw) falls back to SNAP, as ZooKeeper does. Txn log errors
// fall back the same way (reported in DiskErr). The only error is a
// Committed slice out of zxid order.
func PlanSync(in SyncInput) (SyncPlan, error) {
	for i := 1; i < len(in.Committed); i++ {
		if in.Committed[i].Zxid < in.Committed[i-1].Zxid {
			return SyncPlan{}, fmt.Errorf("zab: committed log out of order: %s after %s",
				hexZxid(in.Committed[i].Zxid), hexZxid(in.Committed[i-1].Zxid))
		}
	}
	peer, last := in.PeerLastZxid, in.LastProcessedZxid
	minC, maxC := last, last
	if n := len(in.Committed); n > 0 {
		minC, maxC = in.Committed[0].Zxid, in.Committed[n-1].Zxid
	}
	snap := SyncPlan{Kind: wire.PacketSnap, Zxid: last, LastQueued: last}
	factor := in.SnapshotSizeFactor
	if factor > 1 {
		factor = DefaultSnapshotSizeFactor
	}

	switch {
	case in.ForceSnap:
		return snap, nil
	case peer == last:
		return SyncPlan{Kind: wire.PacketDiff, Zxid: peer, LastQueued: peer}, nil
	case peer > maxC && !isNewEpochZxid(peer):
		return SyncPlan{Kind: wire.PacketTrunc, Zxid: maxC, LastQueued: maxC}, nil
	case minC <= peer && peer <= maxC:
		var q syncQueue
		queued, _ := q.walk(sliceEntries(in.Committed), peer, 0, false, maxC)
		if !q.decided {
			return snap, nil // another epoch's txns at the learner
		}
		return q.plan(queued), nil
	case peer < minC && factor >= 0 && in.Disk != nil:
		limit := int64(float64(in.NewestSnapshotSize) * factor)
		it, total, ok, err := in.Disk.From(peer)
		if err != nil {
			snap.DiskErr = err
			return snap, nil
		}
		if !ok {
			return snap, nil // history gone
		}
		defer it.Close()
		if limit > 0 && total > limit {
			return snap, nil // cheaper to send a snapshot
		}
		var q syncQueue
		queued, err := q.walk(it.Next, peer, minC, true, maxC)
		if queued < minC {
			snap.DiskErr = err
			return snap, nil // gap between the txn log and the window
		}
		queued, _ = q.walk(sliceEntries(in.Committed), queued, 0, false, maxC)
		if !q.decided {
			return snap, nil
		}
		p := q.plan(queued)
		p.DiskErr = err
		return p, nil
	default:
		return snap, nil
	}
}

// hexZxid formats like ZooKeeper's ZxidUtils.zxidToString
// (Long.toHexString: two's complement, lower case, no 0x).
func hexZxid(z int64) string { return strconv.FormatUint(uint64(z), 16) }

// isNewEpochZxid reports a zxid with counter 0: what a server sets its
// last processed zxid to on becoming leader, never the zxid of a txn.
func isNewEpochZxid(z int64) bool { return z&0xffffffff == 0 }

// syncQueue collects the packets of a DIFF or TRUNC sync.
type syncQueue struct {
	decided bool // DIFF or TRUNC chosen
	kind    int32
	zxid    int64
	pkts    []wire.QuorumPacket
}

func (q *syncQueue) op(kind int32, zxid int64) {
	q.decided, q.kind, q.zxid = true, kind, zxid
}

func (q *syncQueue) plan(lastQueued int64) SyncPlan {
	return SyncPlan{Kind: q.kind, Zxid: q.zxid, Queue: q.pkts, LastQueued: lastQueued}
}

// sliceEntries iterates over a slice.
func sliceEntries(es []Entry) func() (Entry, error) {
	i := 0
	return func() (Entry, error) {
		if i == len(es) {
			return Entry{}, io.EOF
		}
		i++
		return es[i-1], nil
	}
}

// walk is ZooKeeper's queueCommittedProposals: it queues PROPOSAL+COMMIT
// for the entries above peer (up to maxZxid when hasMax), choosing DIFF or
// TRUNC at the first entry at or above peer unless already chosen, and
// returns the highest zxid queued (peer when none). A learner holding a
// txn of another epoch that the leader lacks leaves the choice open and
// ends the walk. An iteration error ends the walk and is returned.
func (q *syncQueue) walk(next func() (Entry, error), peer, maxZxid int64, hasMax bool, lastCommitted int64) (int64, error) {
	newEpochPeer := isNewEpochZxid(peer)
	queued := peer
	prev := int64(-1)
	var err error
	for {
		var e Entry
		e, err = next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			break
		}
		if hasMax && e.Zxid > maxZxid {
			break
		}
		if e.Zxid < peer {
			prev = e.Zxid
			continue
		}
		if !q.decided {
			switch {
			case e.Zxid == peer:
				q.op(wire.PacketDiff, lastCommitted)
				continue // the learner has it
			case newEpochPeer:
				q.op(wire.PacketDiff, lastCommitted)
			case e.Zxid > peer:
				if wire.ZxidEpoch(e.Zxid) != wire.ZxidEpoch(peer) {
					return queued, nil // no TRUNC across epochs
				}
				q.op(wire.PacketTrunc, prev)
			}
		}
		if e.Zxid <= queued {
			continue
		}
		q.pkts = append(q.pkts,
			wire.QuorumPacket{Type: wire.PacketProposal, Zxid: e.Zxid, Data: e.Data},
			wire.QuorumPacket{Type: wire.PacketCommit, Zxid: e.Zxid})
		queued = e.Zxid
	}
	if !q.decided && newEpochPeer {
		q.op(wire.PacketDiff, lastCommitted)
	}
	return queued, err
}
