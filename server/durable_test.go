package server

import (
	"math/rand/v2"
	"testing"

	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
)

// The snapshot rule fires after snapCount/2 + rand(snapCount/2) txns, never
// earlier or later, and re-draws each time.
func TestSnapshotRuleRange(t *testing.T) {
	r := &SnapshotRule{SnapCount: 100, Rand: rand.New(rand.NewPCG(1, 2))}
	r.reset()
	for round := 0; round < 50; round++ {
		n := 0
		for !r.Next(0) {
			n++
			if n > 100 {
				t.Fatal("no snapshot after snapCount txns")
			}
		}
		if n+1 <= 50 || n+1 > 100 {
			t.Fatalf("round %d: snapshot after %d txns, want (50, 100]", round, n+1)
		}
	}
	// the size rule alone
	s := &SnapshotRule{SnapCount: 1 << 30, SizeLimit: 1000, Rand: rand.New(rand.NewPCG(3, 4))}
	s.reset()
	if s.Next(400) {
		t.Fatal("size rule fired below half the limit")
	}
	if !s.Next(1001) {
		t.Fatal("size rule did not fire past the limit")
	}
}

// txnLogSizeLimitInKb: the log rolls to a new segment once the current one
// passes the limit, without a snapshot.
func TestSegmentLimitRolls(t *testing.T) {
	dir := t.TempDir()
	tl, err := txnlog.Open(txnlog.Options{Dir: dir, PreAllocSize: 4096, ForceSync: false})
	if err != nil {
		t.Fatal(err)
	}
	snaps := 0
	d := &DurableCommit{Log: tl, SegmentLimit: 8192, Snapshot: func() { snaps++ },
		Rule: &SnapshotRule{SnapCount: 1 << 30, Rand: rand.New(rand.NewPCG(5, 6))}}
	applied := 0
	d.Start(func(b []*Proposal) { applied += len(b) })
	for z := int64(1); z <= 200; z++ {
		p := &Proposal{Hdr: wire.TxnHeader{ClientID: 1, Zxid: z, Time: z, Type: wire.OpSetData},
			Txn: wire.Txn{Type: wire.OpSetData, Path: "/a", Data: make([]byte, 200), Version: int32(z)}}
		d.Propose([]*Proposal{p})
		if err := tl.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	segs, err := txnlog.Segments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 3 || snaps != 0 || applied != 200 {
		t.Fatalf("%d segments, %d snapshots, %d applied; want several segments, no snapshot, 200 applied", len(segs), snaps, applied)
	}
}
