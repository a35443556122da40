package zab

import (
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sync"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

const e1, e2 = int64(1) << 32, int64(2) << 32 // zxids of the new-epoch markers of epochs 1 and 2

// txnBytes is a txn as logged: a TxnHeader carrying zxid, then tag bytes
// (so entries from the disk log and the committed log can be told apart).
func txnBytes(zxid int64, tag string) []byte {
	h := wire.TxnHeader{ClientID: 0x42, Cxid: int32(zxid), Zxid: zxid, Time: 1_700_000_000_000 + zxid, Type: wire.OpSetData}
	e := &wire.Encoder{}
	h.Encode(e)
	return append(e.B, tag...)
}

func ents(tag string, zxids ...int64) []Entry {
	out := make([]Entry, len(zxids))
	for i, z := range zxids {
		out[i] = Entry{Zxid: z, Data: txnBytes(z, tag)}
	}
	return out
}

// span lists from..to.
func span(from, to int64) []int64 {
	var out []int64
	for z := from; z <= to; z++ {
		out = append(out, z)
	}
	return out
}

// pairs is the PROPOSAL/COMMIT queue for entries.
func pairs(es []Entry) []wire.QuorumPacket {
	var out []wire.QuorumPacket
	for _, e := range es {
		out = append(out,
			wire.QuorumPacket{Type: wire.PacketProposal, Zxid: e.Zxid, Data: e.Data},
			wire.QuorumPacket{Type: wire.PacketCommit, Zxid: e.Zxid})
	}
	return out
}

func describe(p SyncPlan) string {
	s := fmt.Sprintf("%s %#x lastQueued %#x [", wire.PacketTypeName(p.Kind), p.Zxid, p.LastQueued)
	for i, q := range p.Queue {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s %#x", wire.PacketTypeName(q.Type), q.Zxid)
		if len(q.Data) > 32 {
			s += "/" + string(q.Data[32:])
		}
	}
	return s + "]"
}

func requirePlan(t *testing.T, in SyncInput, want SyncPlan) SyncPlan {
	t.Helper()
	got, err := PlanSync(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != want.Kind || got.Zxid != want.Zxid || got.LastQueued != want.LastQueued ||
		!reflect.DeepEqual(got.Queue, want.Queue) {
		t.Fatalf("plan\n got  %s\n want %s", describe(got), describe(want))
	}
	return got
}

func snapPlan(z int64) SyncPlan { return SyncPlan{Kind: wire.PacketSnap, Zxid: z, LastQueued: z} }

// fakeDisk is a txn log of segments held in memory.
type fakeDisk struct {
	segs    []fakeSeg
	fromErr error
	iterErr error // returned by Next after failAfter entries
	failAt  int
	calls   int
	open    int // iterators not closed
}

type fakeSeg struct {
	size    int64
	entries []Entry
}

func (d *fakeDisk) From(zxid int64) (EntryIterator, int64, bool, error) {
	d.calls++
	if d.fromErr != nil {
		return nil, 0, false, d.fromErr
	}
	idx := -1
	for i, s := range d.segs {
		if len(s.entries) > 0 && s.entries[0].Zxid <= zxid {
			idx = i
		}
	}
	if idx < 0 {
		return nil, 0, false, nil
	}
	var all []Entry
	var total int64
	for _, s := range d.segs[idx:] {
		all = append(all, s.entries...)
		total += s.size
	}
	d.open++
	return &fakeIter{d: d, es: all}, total, true, nil
}

type fakeIter struct {
	d      *fakeDisk
	es     []Entry
	i      int
	closed bool
}

func (it *fakeIter) Next() (Entry, error) {
	if it.d.iterErr != nil && it.i == it.d.failAt {
		return Entry{}, it.d.iterErr
	}
	if it.i == len(it.es) {
		return Entry{}, io.EOF
	}
	it.i++
	return it.es[it.i-1], nil
}

func (it *fakeIter) Close() error {
	if !it.closed {
		it.closed = true
		it.d.open--
	}
	return nil
}

// The four cases verified live against ZooKeeper 3.8.0 (quorum-protocol.md §9.2).
func TestPlanSyncLiveCases(t *testing.T) {
	t.Run("peer 0, leader 0", func(t *testing.T) {
		requirePlan(t, SyncInput{PeerLastZxid: 0, LastProcessedZxid: 0, SnapshotSizeFactor: 0.33},
			SyncPlan{Kind: wire.PacketDiff, Zxid: 0, LastQueued: 0})
	})
	committed := ents("c", e1+1, e1+2, e1+3)
	in := SyncInput{LastProcessedZxid: e1 + 3, Committed: committed, SnapshotSizeFactor: 0.33}
	t.Run("peer 100000002 within the committed log", func(t *testing.T) {
		in := in
		in.PeerLastZxid = e1 + 2
		requirePlan(t, in, SyncPlan{Kind: wire.PacketDiff, Zxid: e1 + 3, Queue: pairs(committed[2:]), LastQueued: e1 + 3})
	})
	t.Run("peer 100000009 ahead", func(t *testing.T) {
		in := in
		in.PeerLastZxid = e1 + 9
		requirePlan(t, in, SyncPlan{Kind: wire.PacketTrunc, Zxid: e1 + 3, LastQueued: e1 + 3})
	})
	t.Run("peer 0x50 older than every log", func(t *testing.T) {
		in := in
		in.PeerLastZxid = 0x50
		requirePlan(t, in, snapPlan(e1+3))
		in.Disk = &fakeDisk{segs: []fakeSeg{{size: 100, entries: ents("d", e1+1, e1+2, e1+3)}}}
		requirePlan(t, in, snapPlan(e1+3))
	})
}

// Rows 1-4 and 6 of §9.2 and the branches of §9.3 on the committed log.
func TestPlanSyncCommittedLog(t *testing.T) {
	c := ents("c", e1+1, e1+2, e1+3)
	cases := []struct {
		name string
		in   SyncInput
		want SyncPlan
	}{
		{"row 1: forced snapshot even when in sync",
			SyncInput{PeerLastZxid: e1 + 3, LastProcessedZxid: e1 + 3, Committed: c, ForceSnap: true}, snapPlan(e1 + 3)},
		{"row 2: in sync, empty diff",
			SyncInput{PeerLastZxid: e1 + 3, LastProcessedZxid: e1 + 3, Committed: c}, SyncPlan{Kind: wire.PacketDiff, Zxid: e1 + 3, LastQueued: e1 + 3}},
		{"row 2: in sync at a new-epoch zxid",
			SyncInput{PeerLastZxid: e2, LastProcessedZxid: e2, Committed: c}, SyncPlan{Kind: wire.PacketDiff, Zxid: e2, LastQueued: e2}},
		{"row 3: peer ahead in the same epoch",
			SyncInput{PeerLastZxid: e1 + 4, LastProcessedZxid: e1 + 3, Committed: c}, SyncPlan{Kind: wire.PacketTrunc, Zxid: e1 + 3, LastQueued: e1 + 3}},
		{"row 3: peer ahead in a later epoch",
			SyncInput{PeerLastZxid: e2 + 7, LastProcessedZxid: e1 + 3, Committed: c}, SyncPlan{Kind: wire.PacketTrunc, Zxid: e1 + 3, LastQueued: e1 + 3}},
		{"row 3 with an empty committed log: the window is lastProcessed",
			SyncInput{PeerLastZxid: e1 + 9, LastProcessedZxid: e1 + 5}, SyncPlan{Kind: wire.PacketTrunc, Zxid: e1 + 5, LastQueued: e1 + 5}},
		{"row 3 skipped for a new-epoch peer zxid above the window: SNAP (row 6)",
			SyncInput{PeerLastZxid: e2, LastProcessedZxid: e1 + 3, Committed: c}, snapPlan(e1 + 3)},
		{"row 4: peer at the oldest entry",
			SyncInput{PeerLastZxid: e1 + 1, LastProcessedZxid: e1 + 3, Committed: c},
			SyncPlan{Kind: wire.PacketDiff, Zxid: e1 + 3, Queue: pairs(c[1:]), LastQueued: e1 + 3}},
		{"row 4: peer at the newest entry, leader established past it (lastProcessed = epoch marker)",
			SyncInput{PeerLastZxid: e1 + 3, LastProcessedZxid: e2, Committed: c},
			SyncPlan{Kind: wire.PacketDiff, Zxid: e1 + 3, LastQueued: e1 + 3}},
		{"row 4: peer missing from the log, same epoch: TRUNC to the previous entry",
			SyncInput{PeerLastZxid: e1 + 2, LastProcessedZxid: e1 + 4, Committed: ents("c", e1+1, e1+3, e1+4)},
			SyncPlan{Kind: wire.PacketTrunc, Zxid: e1 + 1, Queue: pairs(ents("c", e1+3, e1+4)), LastQueued: e1 + 4}},
		{"row 4: peer holds txns of an epoch the leader never saw: abandoned, SNAP",
			SyncInput{PeerLastZxid: e1 + 5, LastProcessedZxid: e2 + 2, Committed: ents("c", e1+1, e1+2, e2+1, e2+2)}, snapPlan(e2 + 2)},
		{"row 4: new-epoch peer zxid inside the window: DIFF then everything after it",
			SyncInput{PeerLastZxid: e2, LastProcessedZxid: e2 + 2, Committed: ents("c", e1+1, e1+2, e2+1, e2+2)},
			SyncPlan{Kind: wire.PacketDiff, Zxid: e2 + 2, Queue: pairs(ents("c", e2+1, e2+2)), LastQueued: e2 + 2}},
		{"row 4: duplicate entries queued once",
			SyncInput{PeerLastZxid: e1 + 1, LastProcessedZxid: e1 + 3, Committed: ents("c", e1+1, e1+2, e1+2, e1+3)},
			SyncPlan{Kind: wire.PacketDiff, Zxid: e1 + 3, Queue: pairs(ents("c", e1+2, e1+3)), LastQueued: e1 + 3}},
		{"row 5 without a disk log: SNAP",
			SyncInput{PeerLastZxid: e1, LastProcessedZxid: e1 + 3, Committed: c}, snapPlan(e1 + 3)},
		{"row 5 with an empty committed log: SNAP",
			SyncInput{PeerLastZxid: e1 + 2, LastProcessedZxid: e1 + 5}, snapPlan(e1 + 5)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { requirePlan(t, tc.in, tc.want) })
	}
	if _, err := PlanSync(SyncInput{PeerLastZxid: 1, LastProcessedZxid: 3, Committed: ents("c", 3, 2)}); err == nil {
		t.Fatal("committed log out of order accepted")
	}
}

// Row 5: the on-disk txn log, then the committed log.
func TestPlanSyncDiskLog(t *testing.T) {
	// disk: two segments, E+1..E+10 and E+11..E+20; committed: E+15..E+20
	disk := func() *fakeDisk {
		return &fakeDisk{segs: []fakeSeg{
			{size: 400, entries: ents("d", span(e1+1, e1+10)...)},
			{size: 600, entries: ents("d", span(e1+11, e1+20)...)},
		}}
	}
	committed := ents("c", span(e1+15, e1+20)...)
	base := SyncInput{PeerLastZxid: e1 + 5, LastProcessedZxid: e1 + 20, Committed: committed, SnapshotSizeFactor: 0.33, NewestSnapshotSize: 10000}
	// entries up to minCommitted come from the disk, later ones from the window
	wantDiff := SyncPlan{Kind: wire.PacketDiff, Zxid: e1 + 20,
		Queue:      append(pairs(ents("d", span(e1+6, e1+15)...)), pairs(ents("c", span(e1+16, e1+20)...))...),
		LastQueued: e1 + 20}

	t.Run("peer in the disk log", func(t *testing.T) {
		in := base
		d := disk()
		in.Disk = d
		requirePlan(t, in, wantDiff)
		if d.open != 0 || d.calls != 1 {
			t.Fatalf("From called %d times, %d iterators left open", d.calls, d.open)
		}
	})
	t.Run("peer in the second segment", func(t *testing.T) {
		in := base
		in.PeerLastZxid = e1 + 12
		in.Disk = disk()
		requirePlan(t, in, SyncPlan{Kind: wire.PacketDiff, Zxid: e1 + 20,
			Queue: append(pairs(ents("d", span(e1+13, e1+15)...)), pairs(ents("c", span(e1+16, e1+20)...))...), LastQueued: e1 + 20})
	})
	t.Run("gap between the disk log and the committed log", func(t *testing.T) {
		in := base
		d := &fakeDisk{segs: []fakeSeg{{size: 400, entries: ents("d", span(e1+1, e1+10)...)}}}
		in.Disk = d
		requirePlan(t, in, snapPlan(e1+20))
		if d.open != 0 {
			t.Fatal("iterator left open")
		}
	})
	t.Run("history gone: oldest entry above the peer", func(t *testing.T) {
		in := base
		in.PeerLastZxid = e1
		in.Disk = disk()
		requirePlan(t, in, snapPlan(e1+20))
	})
	t.Run("peer missing from the disk log, same epoch: TRUNC", func(t *testing.T) {
		in := base
		in.Disk = &fakeDisk{segs: []fakeSeg{{size: 100, entries: ents("d", append(span(e1+1, e1+4), span(e1+6, e1+15)...)...)}}}
		requirePlan(t, in, SyncPlan{Kind: wire.PacketTrunc, Zxid: e1 + 4,
			Queue: append(pairs(ents("d", span(e1+6, e1+15)...)), pairs(ents("c", span(e1+16, e1+20)...))...), LastQueued: e1 + 20})
	})
	t.Run("peer holds another epoch's txns: abandoned, SNAP", func(t *testing.T) {
		in := base
		in.LastProcessedZxid = e2 + 20
		in.Committed = ents("c", span(e2+15, e2+20)...)
		in.Disk = &fakeDisk{segs: []fakeSeg{{size: 100, entries: ents("d", append(span(e1+1, e1+4), span(e2+1, e2+15)...)...)}}}
		requirePlan(t, in, snapPlan(e2+20))
	})
	t.Run("new-epoch peer zxid below the window", func(t *testing.T) {
		in := base
		in.PeerLastZxid = e2
		in.LastProcessedZxid = e2 + 10
		in.Committed = ents("c", span(e2+8, e2+10)...)
		in.Disk = &fakeDisk{segs: []fakeSeg{{size: 100, entries: ents("d", append(span(e1+1, e1+3), span(e2+1, e2+10)...)...)}}}
		requirePlan(t, in, SyncPlan{Kind: wire.PacketDiff, Zxid: e2 + 10,
			Queue: append(pairs(ents("d", span(e2+1, e2+8)...)), pairs(ents("c", e2+9, e2+10))...), LastQueued: e2 + 10})
	})
	t.Run("size factor", func(t *testing.T) {
		// the files from the peer's segment on total 1000 bytes
		for _, c := range []struct {
			factor   float64
			snapSize int64
			diff     bool
		}{
			{0.33, 2000, false}, // limit 660
			{0.5, 2000, true},   // limit 1000: not above it
			{0.5, 1999, false},  // limit 999
			{0, 2000, true},     // 0: no limit
			{0.33, 0, true},     // no snapshot: no limit
			{0.33, 3031, true},  // limit (long)(1000.23) = 1000
			{5, 2000, false},    // above 1: the default 0.33
			{1, 1000, true},
		} {
			in := base
			in.SnapshotSizeFactor, in.NewestSnapshotSize = c.factor, c.snapSize
			d := disk()
			in.Disk = d
			want := snapPlan(e1 + 20)
			if c.diff {
				want = wantDiff
			}
			t.Run(fmt.Sprintf("%v×%d", c.factor, c.snapSize), func(t *testing.T) { requirePlan(t, in, want) })
			if d.open != 0 {
				t.Fatal("iterator left open after a refusal")
			}
		}
	})
	t.Run("negative factor disables disk sync", func(t *testing.T) {
		in := base
		in.SnapshotSizeFactor = -1
		d := disk()
		in.Disk = d
		requirePlan(t, in, snapPlan(e1+20))
		if d.calls != 0 {
			t.Fatal("disk log read although disabled")
		}
	})
	t.Run("disk errors fall back to SNAP", func(t *testing.T) {
		boom := errors.New("boom")
		in := base
		in.Disk = &fakeDisk{fromErr: boom}
		if p := requirePlan(t, in, snapPlan(e1+20)); !errors.Is(p.DiskErr, boom) {
			t.Fatalf("DiskErr %v", p.DiskErr)
		}
		d := disk()
		d.iterErr, d.failAt = boom, 7 // after E+7: before the window
		in.Disk = d
		if p := requirePlan(t, in, snapPlan(e1+20)); !errors.Is(p.DiskErr, boom) {
			t.Fatalf("DiskErr %v", p.DiskErr)
		}
		if d.open != 0 {
			t.Fatal("iterator left open")
		}
	})
}

func TestCommittedLog(t *testing.T) {
	c := NewCommittedLog(3)
	if _, _, ok := c.Bounds(); ok || c.Since(math.MinInt64) != nil {
		t.Fatal("new log not empty")
	}
	for z := int64(1); z <= 10; z++ {
		c.Add(Entry{Zxid: z, Data: []byte{byte(z)}})
		if want := int(min(z, 4)); c.Len() != want {
			t.Fatalf("after %d adds: %d entries, want %d", z, c.Len(), want)
		}
	}
	if lo, hi, ok := c.Bounds(); !ok || lo != 7 || hi != 10 {
		t.Fatalf("bounds %d %d %v", lo, hi, ok)
	}
	zx := func(es []Entry) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.Zxid)
		}
		return out
	}
	for from, want := range map[int64][]int64{math.MinInt64: {7, 8, 9, 10}, 8: {8, 9, 10}, 10: {10}, 11: nil, 0: {7, 8, 9, 10}} {
		if got := zx(c.Since(from)); !reflect.DeepEqual(got, want) {
			t.Errorf("Since(%d) = %v, want %v", from, got, want)
		}
	}
	s := c.Since(0)
	s[0].Zxid = 99
	if lo, _, _ := c.Bounds(); lo != 7 {
		t.Fatal("Since did not return a copy")
	}
	c.Reset()
	if _, _, ok := c.Bounds(); ok || c.Len() != 0 {
		t.Fatal("not empty after Reset")
	}
	c.Add(Entry{Zxid: 20})
	if lo, hi, ok := c.Bounds(); !ok || lo != 20 || hi != 20 {
		t.Fatalf("after Reset and Add: %d %d %v", lo, hi, ok)
	}
	// ZooKeeper's default window: commitLogCount 500 keeps 501 entries.
	d := NewCommittedLog(DefaultCommitLogCount)
	for z := int64(1); z <= 2000; z++ {
		d.Add(Entry{Zxid: z})
	}
	if lo, hi, _ := d.Bounds(); d.Len() != 501 || lo != 1500 || hi != 2000 {
		t.Fatalf("%d entries %d..%d", d.Len(), lo, hi)
	}
	neg := NewCommittedLog(-5) // as NewCommittedLog(0): one entry
	neg.Add(Entry{Zxid: 1})
	neg.Add(Entry{Zxid: 2})
	if lo, hi, _ := neg.Bounds(); neg.Len() != 1 || lo != 2 || hi != 2 {
		t.Fatalf("max -5: %d entries %d..%d", neg.Len(), lo, hi)
	}
}

// One writer, several readers (run with -race): every read is a
// contiguous window of at most max+1 entries.
func TestCommittedLogConcurrent(t *testing.T) {
	const max, n = 50, 20000
	c := NewCommittedLog(max)
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, 4)
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				lo, _, ok := c.Bounds()
				es := c.Since(lo)
				if !ok || len(es) == 0 {
					continue
				}
				if len(es) > max+1 {
					errs <- fmt.Errorf("%d entries", len(es))
					return
				}
				for i := 1; i < len(es); i++ {
					if es[i].Zxid != es[i-1].Zxid+1 || es[i].Data[0] != byte(es[i].Zxid) {
						errs <- fmt.Errorf("window not contiguous at %d", es[i].Zxid)
						return
					}
				}
			}
		}()
	}
	for z := int64(1); z <= n; z++ {
		c.Add(Entry{Zxid: z, Data: []byte{byte(z)}})
	}
	close(done)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if lo, hi, _ := c.Bounds(); lo != n-max || hi != n {
		t.Fatalf("final window %d..%d", lo, hi)
	}
}
