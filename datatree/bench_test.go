package datatree

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

// benchTree builds a tree of n 100-byte znodes under /bench/dXX (1000
// children each).
func benchTree(b *testing.B, tr *Tree, n int) []string {
	data := make([]byte, 100)
	zxid := tr.LastZxid
	paths := make([]string, 0, n)
	apply := func(txn *wire.Txn) {
		zxid++
		if r := tr.Apply(&wire.TxnHeader{Zxid: zxid, Time: zxid}, txn); r.Err != wire.ErrOK {
			b.Fatalf("%s: %v", txn.Path, r.Err)
		}
	}
	apply(&wire.Txn{Type: wire.OpCreate, Path: "/bench", Data: data, ParentCVersion: -1})
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			apply(&wire.Txn{Type: wire.OpCreate, Path: fmt.Sprintf("/bench/d%d", i/1000), Data: data, ParentCVersion: -1})
		}
		p := fmt.Sprintf("/bench/d%d/node%010d", i/1000, i)
		apply(&wire.Txn{Type: wire.OpCreate, Path: p, Data: data, ParentCVersion: -1})
		paths = append(paths, p)
	}
	return paths
}

func BenchmarkApplyCreate(b *testing.B) {
	eachStoreB(b, func(b *testing.B, newTree func() *Tree) {
		tr := newTree()
		data := make([]byte, 100)
		tr.Apply(&wire.TxnHeader{Zxid: 1}, &wire.Txn{Type: wire.OpCreate, Path: "/b", Data: data, ParentCVersion: -1})
		paths := make([]string, b.N)
		for i := range paths {
			paths[i] = fmt.Sprintf("/b/n%010d", i)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			tr.Apply(&wire.TxnHeader{Zxid: int64(i + 2)}, &wire.Txn{Type: wire.OpCreate, Path: paths[i], Data: data, ParentCVersion: -1})
		}
	})
}

func BenchmarkApplySetData(b *testing.B) {
	eachStoreB(b, func(b *testing.B, newTree func() *Tree) {
		tr := newTree()
		paths := benchTree(b, tr, 10000)
		data := make([]byte, 100)
		z := tr.LastZxid
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			tr.Apply(&wire.TxnHeader{Zxid: z + int64(i) + 1}, &wire.Txn{Type: wire.OpSetData, Path: paths[i%len(paths)], Data: data, Version: int32(i)})
		}
	})
}

func BenchmarkGet(b *testing.B) {
	eachStoreB(b, func(b *testing.B, newTree func() *Tree) {
		tr := newTree()
		paths := benchTree(b, tr, 10000)
		tr.Sync()
		var s wire.Stat
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			n := tr.Get(paths[i%len(paths)])
			n.Stat(&s)
		}
	})
}

// BenchmarkHeapPerNode reports the live heap per 100-byte znode of an
// in-memory tree of 1M znodes.
func BenchmarkHeapPerNode(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tr := New()
		benchTree(b, tr, 1_000_000)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "heapB/node")
		runtime.KeepAlive(tr)
	}
}
