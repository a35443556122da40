package datatree_test

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/datatree/pebblestore"
	"github.com/zkserver/zkserver/wire"
)

// The tree tests run on the Pebble store too, with a tiny node cache and
// batch size so evictions and commits happen within the tests.
func init() {
	datatree.AddTestStore("pebble", func(tb testing.TB) datatree.Store {
		s, err := pebblestore.Open(pebblestore.Options{Dir: tb.TempDir(), CacheSize: 8 << 20, NodeCacheEntries: 16, BatchBytes: 4096})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	})
}

func openPebble(t *testing.T, dir string, batch int) *pebblestore.Store {
	t.Helper()
	s, err := pebblestore.Open(pebblestore.Options{Dir: dir, CacheSize: 8 << 20, NodeCacheEntries: 64, BatchBytes: batch})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reference applies the first n txns to a memory tree.
func reference(hs []*wire.TxnHeader, ts []*wire.Txn, upTo int64) *datatree.Tree {
	tr := datatree.New()
	for i := range hs {
		if hs[i].Zxid <= upTo {
			tr.Apply(hs[i], ts[i])
		}
	}
	return tr
}

// TestPebbleReopen: a store closed without a final Sync (as by a crash)
// reopens as the tree of some applied prefix at least as far as the last
// Sync+Flush, and replaying the txns after its zxid gives the full tree.
func TestPebbleReopen(t *testing.T) {
	for _, batch := range []int{1 << 30, 4096} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			dir := t.TempDir()
			hs, ts := datatree.GenTxns(11, 1200)
			s := openPebble(t, dir, batch)
			tr, err := datatree.Open(s)
			if err != nil {
				t.Fatal(err)
			}
			synced := hs[799].Zxid
			for i := range hs {
				tr.Apply(hs[i], ts[i])
				if i == 799 {
					if err := tr.Sync(); err != nil {
						t.Fatal(err)
					}
					if z, err := s.Flush(); err != nil || z != synced {
						t.Fatalf("Flush = %d, %v; want %d", z, err, synced)
					}
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openPebble(t, dir, batch)
			defer s.Close()
			tr2, err := datatree.Open(s)
			if err != nil {
				t.Fatal(err)
			}
			z := tr2.LastZxid
			if z < synced || z > hs[len(hs)-1].Zxid {
				t.Fatalf("reopened at zxid %d, synced %d", z, synced)
			}
			if got, want := datatree.DumpOf(tr2), datatree.DumpOf(reference(hs, ts, z)); !reflect.DeepEqual(got, want) {
				t.Fatalf("reopened tree at %d differs from the reference:\n%+v\n%+v", z, got, want)
			}
			for i := range hs {
				if hs[i].Zxid > z {
					tr2.Apply(hs[i], ts[i])
				}
			}
			if got, want := datatree.DumpOf(tr2), datatree.DumpOf(reference(hs, ts, hs[len(hs)-1].Zxid)); !reflect.DeepEqual(got, want) {
				t.Fatalf("replayed tree differs from the reference")
			}
		})
	}
}

// TestPebbleIncompleteLoad: a store a load stopped in is refused.
func TestPebbleIncompleteLoad(t *testing.T) {
	dir := t.TempDir()
	s := openPebble(t, dir, 1<<20)
	tr := datatree.NewEmptyOn(s)
	if err := tr.AddLoaded("", &datatree.Node{ACL: datatree.OpenACLID}); err != nil {
		t.Fatal(err)
	}
	tr.Sync()
	s.Flush()
	s.Close()
	s = openPebble(t, dir, 1<<20)
	defer s.Close()
	if _, err := datatree.Open(s); !errors.Is(err, datatree.ErrIncompleteLoad) {
		t.Fatalf("Open = %v", err)
	}
}

// TestPebbleConcurrentReads: readers (under the read lock, as the server
// holds it) race only with each other, and see a consistent tree.
func TestPebbleConcurrentReads(t *testing.T) {
	s := openPebble(t, t.TempDir(), 4096)
	defer s.Close()
	tr := datatree.NewOn(s)
	var mu sync.RWMutex
	hs, ts := datatree.GenTxns(5, 200)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.RLock()
				tr.Walk(func(p string, n *datatree.Node) error {
					if n.NumChildren() != len(n.Children()) {
						t.Errorf("%s: NumChildren %d, %d listed", p, n.NumChildren(), len(n.Children()))
					}
					return nil
				})
				mu.RUnlock()
			}
		}()
	}
	for i := range hs {
		mu.Lock()
		tr.Apply(hs[i], ts[i])
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
}
