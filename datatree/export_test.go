package datatree

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

// AddTestStore makes every tree test also run on the stores open returns
// (external test files of this package add stores that import it).
func AddTestStore(name string, open func(tb testing.TB) Store) {
	testStores = append(testStores, storeCase{name: name, open: open})
}

// GenTxns returns n random valid txns (as txnGen makes them) in zxid order.
func GenTxns(seed int64, n int) ([]*wire.TxnHeader, []*wire.Txn) {
	g := &txnGen{rng: rand.New(rand.NewSource(seed)), tr: New()}
	var hs []*wire.TxnHeader
	var ts []*wire.Txn
	for i := 0; i < n; i++ {
		h, txn := g.next()
		g.tr.Apply(h, txn)
		hs, ts = append(hs, h), append(ts, txn)
	}
	return hs, ts
}

// DumpOf is everything observable about a tree (for comparisons).
func DumpOf(tr *Tree) any {
	return struct {
		D      dump
		Digest uint64
		Count  int
		Zxid   int64
	}{dumpTree(tr), tr.Digest(), tr.NodeCount(), tr.LastZxid}
}

// TestStoresAgree applies the same random txns to a memory tree and a
// tree on every other store: every observable result and the trees agree.
func TestStoresAgree(t *testing.T) {
	for _, sc := range testStores[1:] {
		t.Run(sc.name, func(t *testing.T) {
			hs, ts := GenTxns(7, 1500)
			a, b := New(), sc.tree(t)
			for i := range hs {
				ra, rb := a.Apply(hs[i], ts[i]), b.Apply(hs[i], ts[i])
				if !reflect.DeepEqual(ra, rb) {
					t.Fatalf("txn %d (%v %s): results differ\n%+v\n%+v", i, ts[i].Type, ts[i].Path, ra, rb)
				}
				if i%100 == 0 {
					sameDump(t, fmt.Sprint("after txn ", i), dumpTree(a), dumpTree(b))
				}
			}
			sameDump(t, "end", dumpTree(a), dumpTree(b))
			if a.Digest() != b.Digest() || a.NodeCount() != b.NodeCount() || a.DescendantCount("/") != b.DescendantCount("/") {
				t.Fatalf("digest %x/%x count %d/%d", a.Digest(), b.Digest(), a.NodeCount(), b.NodeCount())
			}
		})
	}
}
