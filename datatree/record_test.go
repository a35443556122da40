package datatree

import (
	"bytes"
	"reflect"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, n := range []*Node{
		{},
		{Data: []byte{}, ACL: OpenACLID, numChildren: 3},
		{Data: []byte("hello"), ACL: 7, Czxid: 1, Mzxid: 2, Pzxid: 3, Ctime: 4, Mtime: 5, Version: -1, Cversion: 6, Aversion: 7, EphemeralOwner: -8, numChildren: 1 << 30},
	} {
		got, err := DecodeRecord(AppendRecord(nil, n))
		if err != nil {
			t.Fatal(err)
		}
		if (got.Data == nil) != (n.Data == nil) || !bytes.Equal(got.Data, n.Data) {
			t.Fatalf("data %q, want %q", got.Data, n.Data)
		}
		got.Data, n.Data = nil, nil
		if !reflect.DeepEqual(got, n) {
			t.Fatalf("got %+v, want %+v", got, n)
		}
	}
	for _, bad := range [][]byte{nil, {1}, append([]byte{2}, make([]byte, recordFixed)...), append([]byte{1, 1}, make([]byte, recordFixed)...)} {
		if _, err := DecodeRecord(bad); err == nil {
			t.Fatalf("DecodeRecord(%x) accepted", bad)
		}
	}
}

// FuzzDecodeRecord: any accepted record re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(AppendRecord(nil, &Node{Data: []byte("x"), ACL: 3, numChildren: 2}))
	f.Add(AppendRecord(nil, &Node{}))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeRecord(b)
		if err != nil {
			return
		}
		if again := AppendRecord(nil, n); !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, read %x", again, b)
		}
	})
}
