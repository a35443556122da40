package datatree_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/pebblestore"
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
	return openPebbleWAL(t, dir, batch, true)
}

func openPebbleWAL(t *testing.T, dir string, batch int, wal bool) *pebblestore.Store {
	t.Helper()
	s, err := pebblestore.Open(pebblestore.Options{Dir: dir, CacheSize: 8 << 20, NodeCacheEntries: 64, BatchBytes: batch, DisableWAL: !wal})
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
// Sync+SyncWAL (or Sync+Flush), and replaying the txns after its zxid
// gives the full tree. With Pebble's WAL, a committed batch survives the
// close without an fsync or a flush (the OS has it, as after a kill -9).
func TestPebbleReopen(t *testing.T) {
	for _, wal := range []bool{true, false} {
		for _, batch := range []int{1 << 30, 4096} {
			t.Run(fmt.Sprintf("wal=%v/%d", wal, batch), func(t *testing.T) { testPebbleReopen(t, wal, batch) })
		}
	}
}

func testPebbleReopen(t *testing.T, wal bool, batch int) {
	dir := t.TempDir()
	hs, ts := datatree.GenTxns(11, 1200)
	s := openPebbleWAL(t, dir, batch, wal)
	tr, err := datatree.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	synced, committed := hs[799].Zxid, hs[999].Zxid
	for i := range hs {
		tr.Apply(hs[i], ts[i])
		switch i {
		case 799:
			if err := tr.Sync(); err != nil {
				t.Fatal(err)
			}
			sync := s.SyncWAL
			if batch == 4096 {
				sync = s.Flush // a flush makes the batches durable either way
			}
			if z, err := sync(); err != nil || z != synced || s.DurableZxid() != synced {
				t.Fatalf("sync = %d, %v (durable %d); want %d", z, err, s.DurableZxid(), synced)
			}
		case 999:
			if err := tr.Sync(); err != nil { // committed, not synced
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openPebbleWAL(t, dir, batch, wal)
	defer s.Close()
	tr2, err := datatree.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	z := tr2.LastZxid
	if z < synced || z > hs[len(hs)-1].Zxid {
		t.Fatalf("reopened at zxid %d, synced %d", z, synced)
	}
	if wal && z < committed {
		t.Fatalf("with the WAL, reopened at zxid %d before the last committed batch %d", z, committed)
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

// walkOf lists every node a walk from the root reaches: path, Stat,
// data and sorted children.
func walkOf(tr *datatree.Tree) []string {
	var out []string
	tr.Walk(func(p string, n *datatree.Node) error {
		var st wire.Stat
		n.Stat(&st)
		out = append(out, fmt.Sprintf("%s %+v %q %v", p, st, n.Data, n.Children()))
		return nil
	})
	return out
}

// TestDropSubtree: a delete of a node that still has children (a log
// replayed over a fuzzy snapshot can hold one) drops the whole subtree, as
// the memory store does: both trees agree after every txn, nodes created
// again below the dropped node in the same batch survive, and the store
// keeps no node record, child index entry or owner key of a dropped node,
// before and after a reopen.
func TestDropSubtree(t *testing.T) {
	for _, batch := range []int{1 << 30, 1} {
		t.Run(fmt.Sprint(batch), func(t *testing.T) {
			dir := t.TempDir()
			s, err := pebblestore.Open(pebblestore.Options{Dir: dir, CacheSize: 8 << 20, NodeCacheEntries: 4, BatchBytes: batch})
			if err != nil {
				t.Fatal(err)
			}
			mem, pt := datatree.New(), datatree.NewOn(s)
			z := int64(0)
			apply := func(typ wire.Op, path string, eph bool) {
				z++
				h := &wire.TxnHeader{Zxid: z, ClientID: 5, Time: z}
				txn := &wire.Txn{Type: typ, Path: path, Data: []byte(path), Ephemeral: eph, ParentCVersion: -1}
				ra, rb := mem.Apply(h, txn), pt.Apply(h, txn)
				if !reflect.DeepEqual(ra, rb) {
					t.Fatalf("%d %s: results differ\n%+v\n%+v", typ, path, ra, rb)
				}
				if a, b := datatree.DumpOf(mem), datatree.DumpOf(pt); !reflect.DeepEqual(a, b) {
					t.Fatalf("after %d %s: trees differ\n%+v\n%+v", typ, path, a, b)
				}
			}
			create := func(p string) { apply(wire.OpCreate, p, false) }
			for _, p := range []string{"/a", "/a/b", "/a/b/c", "/a/b/c/d", "/a/e", "/ab", "/ab/f", "/a0"} {
				create(p)
			}
			apply(wire.OpCreate, "/a/b/g", true)
			pt.Sync()
			apply(wire.OpDelete, "/a", false) // with its children
			create("/a")
			create("/a/b") // below the dropped node, same batch
			create("/a/b/h")
			apply(wire.OpDelete, "/a/b", false) // pending children
			create("/a/b")
			create("/a/x")
			apply(wire.OpDelete, "/ab/f", false)
			for _, p := range []string{"/a/b/c", "/a/b/h", "/a/e", "/a/b/g"} {
				if pt.Get(p) != nil {
					t.Fatalf("%s survived its ancestor", p)
				}
			}
			if err := pt.Sync(); err != nil {
				t.Fatal(err)
			}
			// checkKeys reads the closed store's keys with Pebble
			checkKeys := func() {
				t.Helper()
				nodes := map[string]bool{}
				var kids, owners []string
				db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: zap.NewNop().Sugar()})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				it, err := db.NewIter(nil)
				if err != nil {
					t.Fatal(err)
				}
				for ok := it.First(); ok; ok = it.Next() {
					k := string(it.Key())
					switch k[0] {
					case 'n':
						nodes[k[1:]] = true
					case 'c':
						i := strings.IndexByte(k, 0)
						kids = append(kids, datatree.Join(k[1:i], k[i+1:]))
					case 'o':
						owners = append(owners, k[1:])
					}
				}
				it.Close()
				want := map[string]bool{}
				for _, l := range walkOf(mem) {
					want[l[:strings.IndexByte(l, ' ')]] = true
				}
				if !reflect.DeepEqual(nodes, want) {
					t.Fatalf("node records %v, want %v", nodes, want)
				}
				for _, k := range append(kids, owners...) {
					if !nodes[k] {
						t.Fatalf("orphan index or owner key for %s", k)
					}
				}
				if len(kids) != len(nodes)-1 {
					t.Fatalf("%d child index keys for %d nodes", len(kids), len(nodes))
				}
			}
			if _, err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			checkKeys()
			s, err = pebblestore.Open(pebblestore.Options{Dir: dir, CacheSize: 8 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			re, err := datatree.Open(s)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := walkOf(mem), walkOf(re); !reflect.DeepEqual(a, b) {
				t.Fatalf("reopened tree differs\n%q\n%q", a, b)
			}
		})
	}
}
