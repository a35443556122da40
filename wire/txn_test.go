package wire

import (
	"bytes"
	"errors"
	"hash/adler32"
	"reflect"
	"testing"
)

// decodeTxn decodes a TxnHeader and its body from b (top level, not in a
// multi) and returns how many bytes were left (the TxnDigest, if any).
func decodeTxn(b []byte) (TxnHeader, Txn, int, error) {
	d := NewDecoder(b)
	var h TxnHeader
	h.Decode(d)
	var t Txn
	if d.Err() == nil {
		t.DecodeBody(d, h.Type, false)
	}
	return h, t, d.Remaining(), d.Err()
}

func encodeTxn(h *TxnHeader, t *Txn) []byte {
	var e Encoder
	h.Encode(&e)
	t.EncodeBody(&e)
	return e.B
}

func TestCreateSessionTxnCapture(t *testing.T) {
	// First entry of a fresh 3.8.0 log: checksum, length, txn, 'B'.
	entry := hx(t, `00000000c0300a46 00000030
		0100 0057 a04e 0000  00000000  0000000000000001  000001a2057bb242  fffffff6
		00007530
		00000002 0000000051c6d660
		42`)
	d := NewDecoder(entry)
	sum := d.Long()
	txn := d.Buffer()
	end := d.Byte()
	if d.Err() != nil || d.Remaining() != 0 || end != 'B' || len(txn) != 48 {
		t.Fatalf("entry: %v rem %d end %x len %d", d.Err(), d.Remaining(), end, len(txn))
	}
	if got := int64(adler32.Checksum(txn)); got != sum {
		t.Fatalf("adler32 %x want %x", got, sum)
	}

	h, body, rest, err := decodeTxn(txn)
	if err != nil {
		t.Fatal(err)
	}
	wantH := TxnHeader{ClientID: 0x01000057a04e0000, Cxid: 0, Zxid: 1, Time: 0x000001a2057bb242, Type: OpCreateSession}
	if h != wantH {
		t.Fatalf("header %+v", h)
	}
	if !reflect.DeepEqual(body, Txn{Type: OpCreateSession, TimeOut: 30000}) {
		t.Fatalf("body %+v", body)
	}
	if rest != 12 {
		t.Fatalf("digest bytes left %d", rest)
	}
	if b := encodeTxn(&h, &body); !bytes.Equal(b, txn[:36]) {
		t.Fatalf("re-encode %x", b)
	}
	if b := Marshal(&h); len(b) != 32 {
		t.Fatalf("header %d bytes", len(b))
	}
	mustFailPrefixes(t, txn[:32], func() Record { return &TxnHeader{} })
}

func TestTxnBodyLayouts(t *testing.T) {
	aclBytes := hx(t, "00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65")
	cases := []struct {
		name string
		txn  Txn
		want []byte
	}{
		{"create", Txn{Type: OpCreate, Path: "/a", Data: []byte("hello"), ACL: worldAnyone, Ephemeral: false, ParentCVersion: 1},
			cat(jstr("/a"), hx(t, "00000005 68656c6c6f"), aclBytes, hx(t, "00 00000001"))},
		{"create2 ephemeral null data", Txn{Type: OpCreate2, Path: "/e", ACL: worldAnyone, Ephemeral: true, ParentCVersion: 7},
			cat(jstr("/e"), hx(t, "ffffffff"), aclBytes, hx(t, "01 00000007"))},
		{"createContainer", Txn{Type: OpCreateContainer, Path: "/cont", Data: []byte{}, ACL: worldAnyone, ParentCVersion: 3},
			cat(jstr("/cont"), hx(t, "00000000"), aclBytes, hx(t, "00000003"))},
		{"createTTL", Txn{Type: OpCreateTTL, Path: "/t", Data: []byte{}, ACL: worldAnyone, ParentCVersion: 2, TTL: 0x1000},
			cat(jstr("/t"), hx(t, "00000000"), aclBytes, hx(t, "00000002 0000000000001000"))},
		{"delete", Txn{Type: OpDelete, Path: "/a/s-0000000001"}, jstr("/a/s-0000000001")},
		{"deleteContainer", Txn{Type: OpDeleteContainer, Path: "/cont"}, jstr("/cont")},
		{"setData", Txn{Type: OpSetData, Path: "/a", Data: []byte("x"), Version: 1}, cat(jstr("/a"), hx(t, "00000001 78 00000001"))},
		{"reconfig", Txn{Type: OpReconfig, Path: "/zookeeper/config", Data: []byte("server.1=h:1:2"), Version: -1},
			cat(jstr("/zookeeper/config"), hx(t, "0000000e"), []byte("server.1=h:1:2"), hx(t, "ffffffff"))},
		{"setACL", Txn{Type: OpSetACL, Path: "/a", ACL: worldAnyone, Version: 1}, cat(jstr("/a"), aclBytes, hx(t, "00000001"))},
		{"createSession", Txn{Type: OpCreateSession, TimeOut: 30000}, hx(t, "00007530")},
		{"closeSession empty", Txn{Type: OpCloseSession, Paths: []string{}}, hx(t, "00000000")},
		{"closeSession", Txn{Type: OpCloseSession, Paths: []string{"/b"}}, hx(t, "00000001 00000002 2f62")},
		{"error", Txn{Type: OpError, Err: ErrBadVersion}, hx(t, "ffffff99")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e Encoder
			c.txn.EncodeBody(&e)
			if !bytes.Equal(e.B, c.want) {
				t.Fatalf("got  %x\nwant %x", e.B, c.want)
			}
			var got Txn
			d := NewDecoder(e.B)
			got.DecodeBody(d, c.txn.Type, false)
			if d.Err() != nil || d.Remaining() != 0 {
				t.Fatalf("decode: %v, %d left", d.Err(), d.Remaining())
			}
			if !reflect.DeepEqual(got, c.txn) {
				t.Fatalf("got  %+v\nwant %+v", got, c.txn)
			}
			// Full txn with header and a trailing digest.
			h := TxnHeader{ClientID: 0x01000057a04e0001, Cxid: 5, Zxid: 0x1b, Time: 1700000000000, Type: c.txn.Type}
			full := cat(encodeTxn(&h, &c.txn), hx(t, "00000002 0000000051c6d660"))
			h2, t2, rest, err := decodeTxn(full)
			if err != nil || h2 != h || rest != 12 || !reflect.DeepEqual(t2, c.txn) {
				t.Fatalf("full: %v %+v %d %+v", err, h2, rest, t2)
			}
		})
	}
}

func TestCreateTxnV0(t *testing.T) {
	// A create txn without parentCVersion (CreateTxnV0) reads as -1.
	v0 := cat(jstr("/a"), hx(t, "00000001 78 00000000 01"))
	var tx Txn
	d := NewDecoder(v0)
	tx.DecodeBody(d, OpCreate, false)
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	want := Txn{Type: OpCreate, Path: "/a", Data: []byte("x"), ACL: []ACL{}, Ephemeral: true, ParentCVersion: -1}
	if !reflect.DeepEqual(tx, want) {
		t.Fatalf("%+v", tx)
	}
	// Only type 1 has the legacy form.
	d = NewDecoder(v0)
	(&Txn{}).DecodeBody(d, OpCreate2, false)
	if !errors.Is(d.Err(), ErrShort) {
		t.Fatalf("create2 v0: %v", d.Err())
	}
	// Truncated inside the ephemeral flag is still an error.
	d = NewDecoder(v0[:len(v0)-1])
	(&Txn{}).DecodeBody(d, OpCreate, false)
	if d.Err() == nil {
		t.Fatal("truncated v0 decoded")
	}
}

func TestCloseSessionTxnNoBody(t *testing.T) {
	h := TxnHeader{ClientID: 0x01000057a04e0000, Zxid: 0x1a, Time: 1, Type: OpCloseSession}
	h2, tx, rest, err := decodeTxn(Marshal(&h))
	if err != nil || h2 != h || rest != 0 {
		t.Fatalf("%v %+v %d", err, h2, rest)
	}
	if tx.Type != OpCloseSession || tx.Paths != nil {
		t.Fatalf("%+v", tx)
	}
	// A null vector also reads as no paths.
	var t2 Txn
	d := NewDecoder(hx(t, "ffffffff"))
	t2.DecodeBody(d, OpCloseSession, false)
	if d.Err() != nil || t2.Paths != nil {
		t.Fatalf("%v %+v", d.Err(), t2)
	}
	// A partial count is an error, not "no body".
	d = NewDecoder(hx(t, "0000"))
	(&Txn{}).DecodeBody(d, OpCloseSession, false)
	if d.Err() == nil {
		t.Fatal("partial body decoded")
	}
}

func subTxn(typ Op, body []byte) []byte {
	var e Encoder
	e.Int(int32(typ))
	e.Buffer(body)
	return e.B
}

func TestMultiTxn(t *testing.T) {
	m := Txn{Type: OpMulti, Ops: []Txn{
		{Type: OpCreate, Path: "/m1", Data: []byte{}, ACL: worldAnyone, ParentCVersion: 4},
		{Type: OpCreateContainer, Path: "/mc", ACL: worldAnyone, ParentCVersion: 5},
		{Type: OpCreateTTL, Path: "/mt", ACL: worldAnyone, ParentCVersion: 6, TTL: 100},
		{Type: OpDelete, Path: "/d"},
		{Type: OpDeleteContainer, Path: "/dc"},
		{Type: OpSetData, Path: "/s", Data: []byte("v"), Version: 2},
		{Type: OpCheck, Path: "/k", Version: 3},
		{Type: OpError, Err: ErrNoNode},
		{Type: OpError, Err: ErrRuntimeInconsistency},
	}}
	var e Encoder
	m.EncodeBody(&e)
	// Layout: count, then (type, buffer(body)) per sub-txn.
	var sub0 Encoder
	m.Ops[0].EncodeBody(&sub0)
	prefix := cat(hx(t, "00000009"), subTxn(OpCreate, sub0.B))
	if !bytes.HasPrefix(e.B, prefix) {
		t.Fatalf("layout %x", e.B)
	}
	if !bytes.HasSuffix(e.B, cat(subTxn(OpError, hx(t, "ffffff9b")), subTxn(OpError, hx(t, "fffffffe")))) {
		t.Fatalf("layout tail %x", e.B)
	}
	var got Txn
	d := NewDecoder(e.B)
	got.DecodeBody(d, OpMulti, false)
	if d.Err() != nil || d.Remaining() != 0 {
		t.Fatal(d.Err(), d.Remaining())
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("got  %+v\nwant %+v", got, m)
	}
	for i := 0; i < len(e.B); i++ {
		d := NewDecoder(e.B[:i])
		(&Txn{}).DecodeBody(d, OpMulti, false)
		if d.Err() == nil {
			t.Fatalf("prefix %d decoded", i)
		}
	}

	// An empty multi.
	var em Txn
	d = NewDecoder(hx(t, "00000000"))
	em.DecodeBody(d, OpMulti, false)
	if d.Err() != nil || len(em.Ops) != 0 {
		t.Fatal(d.Err(), em)
	}
	// A sub-txn with a legacy create body inside the buffer.
	v0 := cat(jstr("/a"), hx(t, "00000000 00000000 00"))
	var mv Txn
	d = NewDecoder(cat(hx(t, "00000001"), subTxn(OpCreate, v0)))
	mv.DecodeBody(d, OpMulti, false)
	if d.Err() != nil || len(mv.Ops) != 1 || mv.Ops[0].ParentCVersion != -1 {
		t.Fatalf("%v %+v", d.Err(), mv)
	}
}

func TestTxnRejects(t *testing.T) {
	check := cat(jstr("/k"), hx(t, "00000001"))
	cases := map[string]struct {
		typ Op
		in  []byte
	}{
		"top-level check":        {OpCheck, check},
		"nested multi":           {OpMulti, cat(hx(t, "00000001"), subTxn(OpMulti, hx(t, "00000000")))},
		"unknown top-level":      {OpExists, jstr("/a")},
		"unknown sub-txn":        {OpMulti, cat(hx(t, "00000001"), subTxn(OpGetData, jstr("/a")))},
		"type 999":               {999, nil},
		"huge multi count":       {OpMulti, hx(t, "7fffffff 00000000 00000000")},
		"negative multi count":   {OpMulti, hx(t, "fffffffe")},
		"negative sub buffer":    {OpMulti, hx(t, "00000001 ffffffff fffffff0")},
		"huge sub buffer":        {OpMulti, hx(t, "00000001 ffffffff 7fffffff 00000000")},
		"sub body short":         {OpMulti, cat(hx(t, "00000001"), subTxn(OpSetData, jstr("/a")))},
		"huge ACL count":         {OpSetACL, cat(jstr("/a"), hx(t, "7fffffff 00000000"))},
		"huge closeSession list": {OpCloseSession, hx(t, "7fffffff 00000000")},
		"negative data length":   {OpSetData, cat(jstr("/a"), hx(t, "fffffffe 00000000"))},
		"short createSession":    {OpCreateSession, hx(t, "0000")},
		"short createTTL":        {OpCreateTTL, cat(jstr("/t"), hx(t, "ffffffff ffffffff 00000001 0000"))},
	}
	for name, c := range cases {
		var err error
		n := bytesAllocated(func() {
			d := NewDecoder(c.in)
			(&Txn{}).DecodeBody(d, c.typ, false)
			err = d.Err()
		})
		if err == nil {
			t.Errorf("%s: decoded", name)
		}
		if n > 64<<10 {
			t.Errorf("%s: allocated %d bytes", name, n)
		}
	}
	for _, name := range []string{"top-level check", "nested multi", "unknown top-level", "unknown sub-txn", "type 999"} {
		c := cases[name]
		d := NewDecoder(c.in)
		(&Txn{}).DecodeBody(d, c.typ, false)
		if !errors.Is(d.Err(), ErrUnknownTxn) {
			t.Errorf("%s: %v is not ErrUnknownTxn", name, d.Err())
		}
	}
	// check is fine inside a multi.
	var tx Txn
	d := NewDecoder(check)
	tx.DecodeBody(d, OpCheck, true)
	if d.Err() != nil || tx.Path != "/k" || tx.Version != 1 {
		t.Fatalf("%v %+v", d.Err(), tx)
	}
	// And a multi body is refused when decoded as a sub-txn.
	d = NewDecoder(hx(t, "00000000"))
	(&Txn{}).DecodeBody(d, OpMulti, true)
	if !errors.Is(d.Err(), ErrUnknownTxn) {
		t.Fatal(d.Err())
	}
}

func TestMultiTxnHugeCountBounded(t *testing.T) {
	in := cat(hx(t, "7fffffff"), make([]byte, 1<<20))
	var err error
	n := bytesAllocated(func() {
		d := NewDecoder(in)
		(&Txn{}).DecodeBody(d, OpMulti, false)
		err = d.Err()
	})
	if err == nil {
		t.Fatal("decoded")
	}
	if n > 8<<20 {
		t.Fatalf("allocated %d bytes", n)
	}
}
