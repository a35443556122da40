package snapshot

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// An ACL list created while the walk runs, on a node not yet visited: the
// ACL map written first lacks it, so Write must fall back and the file
// must still hold every list its nodes use.
func TestACLCreatedDuringWalk(t *testing.T) {
	tr := datatree.New()
	var mu sync.RWMutex
	zxid := int64(0)
	apply := func(txn wire.Txn) {
		zxid++
		hdr := wire.TxnHeader{ClientID: 1, Zxid: zxid, Time: zxid, Type: txn.Type}
		if r := tr.Apply(&hdr, &txn); r.Err != wire.ErrOK {
			t.Fatalf("%v %s: %v", txn.Type, txn.Path, r.Err)
		}
	}
	apply(wire.Txn{Type: wire.OpCreate, Path: "/a", ACL: datatree.OpenACL, ParentCVersion: 1})
	for i := 0; i < 3000; i++ {
		apply(wire.Txn{Type: wire.OpCreate, Path: fmt.Sprintf("/a/n%05d", i), ACL: datatree.OpenACL, ParentCVersion: int32(i + 1)})
	}
	apply(wire.Txn{Type: wire.OpCreate, Path: "/z", ACL: datatree.OpenACL, ParentCVersion: 3})
	fresh := []wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "digest", ID: "walk:x"}}}
	changed := false
	dir := t.TempDir()
	path, err := Write(dir, zxid, tr, &mu, WriteOptions{Progress: func(int) {
		if changed {
			return
		}
		changed = true
		mu.Lock()
		apply(wire.Txn{Type: wire.OpSetACL, Path: "/z", ACL: fresh, Version: 1})
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Fatal("the walk ran in one batch; the test needs several")
	}
	loaded, _, err := Load(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	z := loaded.Get("/z")
	if z == nil || !reflect.DeepEqual(loaded.ACL(z), fresh) {
		t.Fatalf("/z ACL after load: %+v", loaded.ACL(z))
	}
	if loaded.NodeCount() != tr.NodeCount() {
		t.Fatalf("nodes %d, want %d", loaded.NodeCount(), tr.NodeCount())
	}
}
