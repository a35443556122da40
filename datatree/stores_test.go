package datatree

import "testing"

// storeCase is one store the tree tests run on.
type storeCase struct {
	name string
	// open returns an empty store, closed when the test ends.
	open func(tb testing.TB) Store
}

// tree returns a new tree (built-in nodes) on a new store.
func (sc storeCase) tree(tb testing.TB) *Tree { return NewOn(sc.open(tb)) }

// empty returns an empty tree for loading on a new store.
func (sc storeCase) empty(tb testing.TB) *Tree { return NewEmptyOn(sc.open(tb)) }

// testStores lists the stores every tree test runs on; other stores add
// themselves from external test files (see stores_ext_test.go).
var testStores = []storeCase{{name: "memory", open: func(testing.TB) Store { return NewMemoryStore() }}}

// eachStore runs f once per store.
func eachStore(t *testing.T, f func(t *testing.T, sc storeCase)) {
	for _, sc := range testStores {
		t.Run(sc.name, func(t *testing.T) { f(t, sc) })
	}
}

func eachStoreB(b *testing.B, f func(b *testing.B, newTree func() *Tree)) {
	for _, sc := range testStores {
		b.Run(sc.name, func(b *testing.B) {
			f(b, func() *Tree { return sc.tree(b) })
		})
	}
}
