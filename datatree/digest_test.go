package datatree

import (
	"testing"

	"github.com/zkserver/zkserver/wire"
)

// Vectors verified against ZooKeeper 3.8.0 (reference/quorum-protocol.md §10.2).
func TestDigestVectors(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		if got := tr.Digest(); got != 0x51C6D660 {
			t.Fatalf("empty tree digest %#x, want 0x51c6d660", got)
		}
		hdr := wire.TxnHeader{ClientID: 1, Zxid: 0x100000002, Time: 0x1a2057ead98, Type: wire.OpCreate}
		r := tr.Apply(&hdr, &wire.Txn{Type: wire.OpCreate, Path: "/q", Data: []byte("hi"), ACL: OpenACL, ParentCVersion: 1})
		if r.Err != wire.ErrOK {
			t.Fatal(r.Err)
		}
		if got := tr.Digest(); got != 0x1E8037E9D {
			t.Fatalf("digest after create /q %#x, want 0x1e8037e9d", got)
		}
	})
}

// The incremental digest always equals a full recomputation.
func TestDigestIncrementalMatchesFull(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		z := int64(0)
		apply := func(txn wire.Txn) {
			z++
			hdr := wire.TxnHeader{ClientID: 7, Zxid: z, Time: 1000 + z, Type: txn.Type}
			tr.Apply(&hdr, &txn)
			got := tr.Digest()
			tr.recomputeDigest()
			if got != tr.Digest() {
				t.Fatalf("after %v %s: incremental %#x, full %#x", txn.Type, txn.Path, got, tr.Digest())
			}
		}
		apply(wire.Txn{Type: wire.OpCreateSession, TimeOut: 4000})
		apply(wire.Txn{Type: wire.OpCreate, Path: "/a", Data: []byte("x"), ACL: OpenACL, ParentCVersion: 1})
		apply(wire.Txn{Type: wire.OpCreate, Path: "/a/e", ACL: OpenACL, Ephemeral: true, ParentCVersion: 1})
		apply(wire.Txn{Type: wire.OpCreateContainer, Path: "/c", ACL: OpenACL, ParentCVersion: 3})
		apply(wire.Txn{Type: wire.OpSetData, Path: "/a", Data: []byte("yy"), Version: 1})
		apply(wire.Txn{Type: wire.OpSetACL, Path: "/a", ACL: []wire.ACL{{Perms: 1, Id: wire.Id{Scheme: "world", ID: "anyone"}}}, Version: 1})
		apply(wire.Txn{Type: wire.OpCreate, Path: "/a", ACL: OpenACL, ParentCVersion: 9}) // replay of an existing node
		apply(wire.Txn{Type: wire.OpSetData, Path: "/zookeeper/config", Data: []byte("cfg"), Version: -1})
		apply(wire.Txn{Type: wire.OpMulti, Ops: []wire.Txn{
			{Type: wire.OpCreate, Path: "/m", ACL: OpenACL, ParentCVersion: 10},
			{Type: wire.OpDelete, Path: "/c"},
		}})
		apply(wire.Txn{Type: wire.OpCloseSession})
		apply(wire.Txn{Type: wire.OpDelete, Path: "/a"})
	})
}
