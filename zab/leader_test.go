package zab

import (
	"encoding/binary"
	"io"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

type testDisk []Entry

func (d testDisk) From(zxid int64) (EntryIterator, int64, bool, error) {
	if len(d) == 0 || d[0].Zxid > zxid {
		return nil, 0, false, nil
	}
	return &testIter{es: d}, 1, true, nil
}

type testIter struct{ es []Entry }

func (t *testIter) Next() (Entry, error) {
	if len(t.es) == 0 {
		return Entry{}, io.EOF
	}
	e := t.es[0]
	t.es = t.es[1:]
	return e, nil
}

func (t *testIter) Close() error { return nil }

// planFor runs discovery with one follower (sid 2 of voters 1..3) whose
// last zxid is peer and returns the sync the leader sends it.
func planFor(t *testing.T, cfg LeaderConfig, peer int64) SyncPlan {
	t.Helper()
	cfg.ID, cfg.Voters, cfg.InitLimit, cfg.SyncLimit = 1, []int64{1, 2, 3}, 10, 5
	l := NewLeader(cfg)
	l.Start()
	l.Connect(2, false, cfg.AcceptedEpoch)
	ack := wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: peer, Data: binary.BigEndian.AppendUint32(nil, uint32(cfg.CurrentEpoch))}
	for _, a := range l.Receive(2, &ack) {
		if s, ok := a.(SendSync); ok {
			return s.Plan
		}
	}
	t.Fatal("no sync sent")
	return SyncPlan{}
}

func entries(zs ...int64) []Entry {
	var es []Entry
	for _, z := range zs {
		es = append(es, Entry{Zxid: z, Data: []byte{byte(z)}})
	}
	return es
}

// A committed window that ends below the tree (here: filled from log
// entries a snapshot superseded) must not decide the sync: with it a
// follower holding committed txns the window lacks was told to TRUNC
// them away (found by the simulator).
func TestLeaderIgnoresWindowBelowTree(t *testing.T) {
	z := func(c int64) int64 { return wire.MakeZxid(1, c) }
	w := NewCommittedLog(10)
	for _, e := range entries(z(1), z(2), z(3), z(4)) {
		w.Add(e)
	}
	plan := planFor(t, LeaderConfig{AcceptedEpoch: 1, CurrentEpoch: 1, LastZxid: z(13), Committed: w}, z(11))
	if plan.Kind == wire.PacketTrunc {
		t.Fatalf("TRUNC to %x of a follower at %x below the leader's %x", plan.Zxid, z(11), z(13))
	}
	if plan.Kind != wire.PacketSnap {
		t.Fatalf("sync %s, want SNAP (nothing describes txns 5..13)", wire.PacketTypeName(plan.Kind))
	}
	// a window that ends at the tree is used
	w2 := NewCommittedLog(10)
	for _, e := range entries(z(10), z(11), z(12), z(13)) {
		w2.Add(e)
	}
	plan = planFor(t, LeaderConfig{AcceptedEpoch: 1, CurrentEpoch: 1, LastZxid: z(13), Committed: w2}, z(11))
	if plan.Kind != wire.PacketDiff || len(plan.Queue) != 4 {
		t.Fatalf("sync %s with %d packets, want DIFF with 2 txns", wire.PacketTypeName(plan.Kind), len(plan.Queue))
	}
}

// A txn log with a hole (a server synced by SNAP keeps its older log)
// makes the sync a SNAP, not a DIFF that skips the hole (found by the
// simulator).
func TestLeaderDiskSyncStopsAtLogHole(t *testing.T) {
	z1 := func(c int64) int64 { return wire.MakeZxid(1, c) }
	z2 := func(c int64) int64 { return wire.MakeZxid(2, c) }
	w := NewCommittedLog(2)
	for _, e := range entries(z2(8), z2(9), z2(10)) {
		w.Add(e)
	}
	disk := testDisk(entries(z1(1), z1(2), z1(3), z1(4), z2(7), z2(8), z2(9), z2(10)))
	plan := planFor(t, LeaderConfig{AcceptedEpoch: 2, CurrentEpoch: 2, LastZxid: z2(10), Committed: w, Disk: disk}, z1(3))
	if plan.Kind != wire.PacketSnap {
		t.Fatalf("sync %s with %d packets over a log missing %x..%x, want SNAP", wire.PacketTypeName(plan.Kind), len(plan.Queue), z2(1), z2(6))
	}
	// without the hole the log serves a DIFF
	disk = testDisk(entries(z1(1), z1(2), z1(3), z1(4), z2(1), z2(2), z2(3), z2(4), z2(5), z2(6), z2(7), z2(8), z2(9), z2(10)))
	plan = planFor(t, LeaderConfig{AcceptedEpoch: 2, CurrentEpoch: 2, LastZxid: z2(10), Committed: w, Disk: disk}, z1(3))
	if plan.Kind != wire.PacketDiff {
		t.Fatalf("sync %s over a whole log, want DIFF", wire.PacketTypeName(plan.Kind))
	}
}
