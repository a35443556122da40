package pebblestore

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

func TestMetaAndACLRecords(t *testing.T) {
	m := datatree.Meta{LastZxid: 0x100000005, Count: 12, DataSize: 345, Digest: 1<<63 + 9, Loading: true}
	got, err := decodeMeta(encodeMeta(m))
	if err != nil || got != m {
		t.Fatalf("meta %+v, %v", got, err)
	}
	e := wire.Encoder{}
	e.Long(3)
	acl := []wire.ACL{{Perms: 31, Id: wire.Id{Scheme: "digest", ID: "u:p"}}}
	wire.EncodeACLs(&e, acl)
	a, err := decodeACLEntry(e.B)
	if err != nil || a.Refs != 3 || !reflect.DeepEqual(a.List, acl) {
		t.Fatalf("ACL entry %+v, %v", a, err)
	}
	for _, bad := range [][]byte{nil, make([]byte, metaLen-1), append(make([]byte, metaLen-1), 2)} {
		if _, err := decodeMeta(bad); err == nil {
			t.Fatalf("decodeMeta(%x) accepted", bad)
		}
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(encodeMeta(datatree.Meta{LastZxid: 5, Count: 4}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err == nil && !bytes.Equal(encodeMeta(m), b) {
			t.Fatalf("meta %x re-encodes differently", b)
		}
	})
}

func FuzzDecodeACLEntry(f *testing.F) {
	e := wire.Encoder{}
	e.Long(1)
	wire.EncodeACLs(&e, datatree.OpenACL)
	f.Add(e.B)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeACLEntry(b)
		if err != nil {
			return
		}
		e := wire.Encoder{}
		e.Long(a.Refs)
		wire.EncodeACLs(&e, a.List)
		if !bytes.Equal(e.B, b) {
			t.Fatalf("ACL entry %x re-encodes as %x", b, e.B)
		}
	})
}

// TestCreateCostIndependentOfSiblings: creating under a node with many
// children writes the same keys as under a node with none (no child list
// is rewritten), measured as batch bytes per create.
func TestCreateCostIndependentOfSiblings(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), CacheSize: 8 << 20, BatchBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr := datatree.NewOn(s)
	z := int64(0)
	create := func(p string) int {
		z++
		before := s.b.Len()
		if r := tr.Apply(&wire.TxnHeader{Zxid: z}, &wire.Txn{Type: wire.OpCreate, Path: p, Data: []byte("0123456789"), ParentCVersion: -1}); r.Err != wire.ErrOK {
			t.Fatalf("%s: %v", p, r.Err)
		}
		return s.b.Len() - before
	}
	create("/big")
	create("/sml")
	start := time.Now()
	for i := 0; i < 20000; i++ {
		create(fmt.Sprintf("/big/c%08d", i))
	}
	t.Logf("20000 creates under one parent: %v", time.Since(start))
	if err := tr.Sync(); err != nil {
		t.Fatal(err)
	}
	big := create("/big/zzzzzzzz")
	small := create("/sml/zzzzzzzz")
	if big != small {
		t.Fatalf("create under a 20000-child node wrote %d batch bytes, under a childless one %d", big, small)
	}
	if n := tr.Get("/big").NumChildren(); n != 20001 {
		t.Fatalf("NumChildren %d", n)
	}
	if kids := tr.Children("/big"); len(kids) != 20001 || kids[0] != "c00000000" || kids[20000] != "zzzzzzzz" {
		t.Fatalf("%d children listed", len(kids))
	}
}
