package pebblestore

import (
	"fmt"
	"testing"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// The store with its default options (256 MiB block cache, 64k decoded
// nodes, 4 MiB batches), 100k znodes of 100 B under 100 parents.
func benchStore(b *testing.B) (*datatree.Tree, []string) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	tr := datatree.NewOn(s)
	data := make([]byte, 100)
	var paths []string
	z := int64(0)
	apply := func(p string) {
		z++
		tr.Apply(&wire.TxnHeader{Zxid: z}, &wire.Txn{Type: wire.OpCreate, Path: p, Data: data, ParentCVersion: -1})
	}
	for i := 0; i < 100000; i++ {
		if i%1000 == 0 {
			apply(fmt.Sprintf("/d%d", i/1000))
		}
		p := fmt.Sprintf("/d%d/n%08d", i/1000, i)
		apply(p)
		paths = append(paths, p)
	}
	tr.Sync()
	return tr, paths
}

func BenchmarkCreate(b *testing.B) {
	tr, _ := benchStore(b)
	data := make([]byte, 100)
	z := tr.LastZxid
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Apply(&wire.TxnHeader{Zxid: z + int64(i) + 1}, &wire.Txn{Type: wire.OpCreate, Path: fmt.Sprintf("/d7/x%09d", i), Data: data, ParentCVersion: -1})
	}
}

func BenchmarkGetCached(b *testing.B) {
	tr, paths := benchStore(b)
	hot := paths[:10000]
	var st wire.Stat
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Get(hot[i%len(hot)]).Stat(&st)
	}
}

func BenchmarkGetUncached(b *testing.B) {
	tr, paths := benchStore(b)
	var st wire.Stat
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr.Get(paths[(i*7919)%len(paths)]).Stat(&st)
	}
}

func BenchmarkChildren1000(b *testing.B) {
	tr, _ := benchStore(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(tr.Children("/d5")) != 1000 {
			b.Fatal("children")
		}
	}
}
