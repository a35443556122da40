package zabrun

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"testing"

	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
	"github.com/zkserver/zkserver/zab"
)

// The helpers below are those of zab's sync planning tests
// (zab/syncplan_test.go), for the plans made over a real txn log.

const e1 = int64(1) << 32 // the zxid of the new-epoch marker of epoch 1

// txnBytes is a txn as logged: a TxnHeader carrying zxid, then tag bytes
// (so entries from the disk log and the committed log can be told apart).
func txnBytes(zxid int64, tag string) []byte {
	h := wire.TxnHeader{ClientID: 0x42, Cxid: int32(zxid), Zxid: zxid, Time: 1_700_000_000_000 + zxid, Type: wire.OpSetData}
	e := &wire.Encoder{}
	h.Encode(e)
	return append(e.B, tag...)
}

func ents(tag string, zxids ...int64) []zab.Entry {
	out := make([]zab.Entry, len(zxids))
	for i, z := range zxids {
		out[i] = zab.Entry{Zxid: z, Data: txnBytes(z, tag)}
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
func pairs(es []zab.Entry) []wire.QuorumPacket {
	var out []wire.QuorumPacket
	for _, e := range es {
		out = append(out,
			wire.QuorumPacket{Type: wire.PacketProposal, Zxid: e.Zxid, Data: e.Data},
			wire.QuorumPacket{Type: wire.PacketCommit, Zxid: e.Zxid})
	}
	return out
}

func describe(p zab.SyncPlan) string {
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

func requirePlan(t *testing.T, in zab.SyncInput, want zab.SyncPlan) zab.SyncPlan {
	t.Helper()
	got, err := zab.PlanSync(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != want.Kind || got.Zxid != want.Zxid || got.LastQueued != want.LastQueued ||
		!reflect.DeepEqual(got.Queue, want.Queue) {
		t.Fatalf("plan\n got  %s\n want %s", describe(got), describe(want))
	}
	return got
}

func snapPlan(z int64) zab.SyncPlan {
	return zab.SyncPlan{Kind: wire.PacketSnap, Zxid: z, LastQueued: z}
}

// A real txn log directory through NewDiskLog.
func TestNewDiskLog(t *testing.T) {
	dir := t.TempDir()
	if _, _, ok, err := NewDiskLog(dir).From(e1 + 5); ok || err != nil {
		t.Fatalf("empty dir: ok %v err %v", ok, err)
	}
	l, err := txnlog.Open(txnlog.Options{Dir: dir, PreAllocSize: 16 << 10, ForceSync: true})
	if err != nil {
		t.Fatal(err)
	}
	commit := func(es []zab.Entry) {
		t.Helper()
		var tes []txnlog.Entry
		for _, e := range es {
			tes = append(tes, txnlog.Entry{Zxid: e.Zxid, Data: e.Data})
		}
		ch := make(chan error, 1)
		l.Commit(tes, func(err error) { ch <- err })
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	all := ents("d", span(e1+1, e1+20)...)
	commit(all[:10])
	l.Roll()
	commit(all[10:])
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := txnlog.Segments(dir)
	if err != nil || len(segs) != 2 || segs[1].StartZxid != e1+11 {
		t.Fatalf("segments %+v %v", segs, err)
	}
	size := func(i int) int64 {
		st, err := os.Stat(segs[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	readAll := func(it zab.EntryIterator) []zab.Entry {
		t.Helper()
		var out []zab.Entry
		for {
			e, err := it.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	dl := NewDiskLog(dir)
	for _, c := range []struct {
		zxid  int64
		ok    bool
		from  int // index into all of the first entry
		total int64
	}{
		{e1, false, 0, 0},
		{e1 + 1, true, 0, size(0) + size(1)},
		{e1 + 5, true, 0, size(0) + size(1)},
		{e1 + 11, true, 10, size(1)},
		{e1 + 15, true, 10, size(1)},
		{e1 + 99, true, 10, size(1)},
	} {
		it, total, ok, err := dl.From(c.zxid)
		if err != nil || ok != c.ok {
			t.Fatalf("From(%#x): ok %v err %v", c.zxid, ok, err)
		}
		if !ok {
			continue
		}
		if total != c.total {
			t.Errorf("From(%#x): total %d, want %d", c.zxid, total, c.total)
		}
		if got := readAll(it); !reflect.DeepEqual(got, all[c.from:]) {
			t.Errorf("From(%#x): %d entries, want %d from %#x", c.zxid, len(got), len(all)-c.from, all[c.from].Zxid)
		}
	}

	committed := ents("c", span(e1+18, e1+20)...)
	in := zab.SyncInput{PeerLastZxid: e1 + 5, LastProcessedZxid: e1 + 20, Committed: committed, Disk: dl, SnapshotSizeFactor: 0.33}
	requirePlan(t, in, zab.SyncPlan{Kind: wire.PacketDiff, Zxid: e1 + 20,
		Queue: append(pairs(all[5:18]), pairs(committed[1:])...), LastQueued: e1 + 20})
	// files too large for the newest snapshot
	in.NewestSnapshotSize = (size(0) + size(1)) * 2
	requirePlan(t, in, snapPlan(e1+20))
	in.NewestSnapshotSize = (size(0) + size(1)) * 4
	requirePlan(t, in, zab.SyncPlan{Kind: wire.PacketDiff, Zxid: e1 + 20,
		Queue: append(pairs(all[5:18]), pairs(committed[1:])...), LastQueued: e1 + 20})
	// the log starts after the peer: history gone
	in.PeerLastZxid = e1
	requirePlan(t, in, snapPlan(e1+20))
}
