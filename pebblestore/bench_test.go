package pebblestore

import (
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// Benchmarks run each workload on the memory store and on the Pebble store
// with its default options (256 MiB block cache, 64k decoded nodes, 4 MiB
// batches), so the two can be compared line by line:
//
//	go test -run XXX -bench . -benchtime 200000x ./pebblestore/
//
// The scale benchmarks (10M znodes) are in scale_test.go.

// benchStores are the stores the benchmarks compare.
var benchStores = []struct {
	name string
	open func(b *testing.B) datatree.Store
}{
	{"memory", func(*testing.B) datatree.Store { return datatree.NewMemoryStore() }},
	{"pebble", func(b *testing.B) datatree.Store {
		s, err := Open(Options{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}},
}

// benchPath is the path of znode i of a tree of 100-byte znodes spread
// 1000 per parent (/dN/nI).
func benchPath(i int) string {
	return "/d" + strconv.Itoa(i/1000) + "/n" + fmt.Sprintf("%08d", i)
}

// benchTree fills a new tree on s with n znodes (benchPath) and syncs it.
func benchTree(b *testing.B, s datatree.Store, n int) *datatree.Tree {
	tr := datatree.NewOn(s)
	data := make([]byte, 100)
	z := tr.LastZxid
	apply := func(p string) {
		z++
		if r := tr.Apply(&wire.TxnHeader{Zxid: z}, &wire.Txn{Type: wire.OpCreate, Path: p, Data: data, ParentCVersion: -1}); r.Err != wire.ErrOK {
			b.Fatalf("create %s: %v", p, r.Err)
		}
	}
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			apply("/d" + strconv.Itoa(i/1000))
		}
		apply(benchPath(i))
	}
	if err := tr.Sync(); err != nil {
		b.Fatal(err)
	}
	return tr
}

func eachBenchStore(b *testing.B, f func(b *testing.B, s datatree.Store)) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) { f(b, bs.open(b)) })
	}
}

// benchCreates applies b.N creates of 100-byte znodes under parent (the
// paths are made before the timer starts). Each create looks the parent
// and the new path up first, as the server's preparer does before it
// makes the txn.
func benchCreates(b *testing.B, tr *datatree.Tree, parent string) {
	data := make([]byte, 100)
	paths := make([]string, b.N)
	for i := range paths {
		paths[i] = parent + "/x" + fmt.Sprintf("%09d", i)
	}
	z := tr.LastZxid
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for i := 0; i < b.N; i++ {
		if tr.Get(parent) == nil || tr.Get(paths[i]) != nil {
			b.Fatal("lookup")
		}
		tr.Apply(&wire.TxnHeader{Zxid: z + int64(i) + 1}, &wire.Txn{Type: wire.OpCreate, Path: paths[i], Data: data, ParentCVersion: -1})
	}
	if err := tr.Sync(); err != nil {
		b.Fatal(err)
	}
	reportCPU(b, cpu)
}

// cpuTime is the CPU time (user and system) the process used so far: the
// benchmark's goroutine, Pebble's flushes and compactions, and the GC.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process CPU time per op since start (what the
// work costs on a machine whose cores are shared, background work
// included).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkCreate: creates under a parent with 1000 children, in a tree
// of 100k znodes.
func BenchmarkCreate(b *testing.B) {
	eachBenchStore(b, func(b *testing.B, s datatree.Store) {
		benchCreates(b, benchTree(b, s, 100000), "/d7")
	})
}

// BenchmarkCreateBigParent: creates under a parent that already has 200k
// children.
func BenchmarkCreateBigParent(b *testing.B) {
	eachBenchStore(b, func(b *testing.B, s datatree.Store) {
		tr := datatree.NewOn(s)
		data := make([]byte, 100)
		tr.Apply(&wire.TxnHeader{Zxid: 1}, &wire.Txn{Type: wire.OpCreate, Path: "/big", Data: data, ParentCVersion: -1})
		for i := 0; i < 200000; i++ {
			tr.Apply(&wire.TxnHeader{Zxid: int64(i) + 2}, &wire.Txn{Type: wire.OpCreate, Path: "/big/m" + strconv.Itoa(i), Data: data, ParentCVersion: -1})
		}
		benchCreates(b, tr, "/big")
	})
}

// BenchmarkSetData: setData on 100k znodes in turn.
func BenchmarkSetData(b *testing.B) {
	eachBenchStore(b, func(b *testing.B, s datatree.Store) {
		const n = 100000
		tr := benchTree(b, s, n)
		paths := make([]string, n)
		for i := range paths {
			paths[i] = benchPath(i)
		}
		data := make([]byte, 100)
		z := tr.LastZxid
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			tr.Apply(&wire.TxnHeader{Zxid: z + int64(i) + 1}, &wire.Txn{Type: wire.OpSetData, Path: paths[(i*7919)%n], Data: data, Version: 1})
		}
	})
}

// BenchmarkGetCached: Get+Stat of 10k hot znodes (all in the decoded-node
// cache) of a 100k-znode tree.
func BenchmarkGetCached(b *testing.B) {
	eachBenchStore(b, func(b *testing.B, s datatree.Store) {
		tr := benchTree(b, s, 100000)
		hot := make([]string, 10000)
		for i := range hot {
			hot[i] = benchPath(i * 10)
			tr.Get(hot[i])
		}
		var st wire.Stat
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			tr.Get(hot[i%len(hot)]).Stat(&st)
		}
	})
}

// BenchmarkGetCachedParallel: as BenchmarkGetCached from every core (the
// server's readers share the tree's read lock).
func BenchmarkGetCachedParallel(b *testing.B) {
	eachBenchStore(b, func(b *testing.B, s datatree.Store) {
		tr := benchTree(b, s, 100000)
		hot := make([]string, 10000)
		for i := range hot {
			hot[i] = benchPath(i * 10)
			tr.Get(hot[i])
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var st wire.Stat
			for i := 0; pb.Next(); i++ {
				tr.Get(hot[i%len(hot)]).Stat(&st)
			}
		})
	})
}

// BenchmarkGetMissing: Get of absent paths (a create's existence check)
// in a 1M-znode tree.
func BenchmarkGetMissing(b *testing.B) {
	eachBenchStore(b, func(b *testing.B, s datatree.Store) {
		const n = 1000000
		tr := benchTree(b, s, n)
		paths := make([]string, n)
		for i := range paths {
			paths[i] = benchPath(i) + "x"
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			if tr.Get(paths[(i*7919)%n]) != nil {
				b.Fatal("found")
			}
		}
		reportCPU(b, cpu)
	})
}

// BenchmarkGetUncached: Get+Stat all over a 1M-znode tree (the
// decoded-node cache holds 64k).
func BenchmarkGetUncached(b *testing.B) {
	eachBenchStore(b, func(b *testing.B, s datatree.Store) {
		const n = 1000000
		tr := benchTree(b, s, n)
		paths := make([]string, n)
		for i := range paths {
			paths[i] = benchPath(i)
		}
		var st wire.Stat
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			tr.Get(paths[(i*7919)%n]).Stat(&st)
		}
	})
}

// BenchmarkChildren1000: sorted child list of a node with 1000 children.
func BenchmarkChildren1000(b *testing.B) {
	eachBenchStore(b, func(b *testing.B, s datatree.Store) {
		tr := benchTree(b, s, 100000)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if len(tr.Children("/d5")) != 1000 {
				b.Fatal("children")
			}
		}
	})
}
