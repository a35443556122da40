package wire

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// hx turns a hex string with optional whitespace into bytes.
func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// jstr is the jute ustring encoding of s.
func jstr(s string) []byte {
	var e Encoder
	e.Str(s)
	return e.B
}

// decodeAll decodes b into r and fails unless it succeeds and uses every byte.
func decodeAll(t *testing.T, b []byte, r Record) {
	t.Helper()
	d := NewDecoder(b)
	r.Decode(d)
	if d.Err() != nil {
		t.Fatalf("decode %T: %v", r, d.Err())
	}
	if d.Remaining() != 0 {
		t.Fatalf("decode %T: %d bytes left over", r, d.Remaining())
	}
}

// roundTrip encodes want, decodes the bytes into got (which the caller has
// prepared with any mode flags), checks they are equal and that encoding got
// gives the same bytes. It returns the encoding.
func roundTrip(t *testing.T, want, got Record) []byte {
	t.Helper()
	b := Marshal(want)
	decodeAll(t, b, got)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("round trip %T:\n want %+v\n got  %+v", want, want, got)
	}
	if b2 := Marshal(got); !bytes.Equal(b, b2) {
		t.Fatalf("re-encode %T differs:\n %x\n %x", want, b, b2)
	}
	return b
}

// checkBounded fails if any slice or string reachable from v is longer than
// n: a decoder must never produce more elements than it had input bytes.
func checkBounded(t testing.TB, v any, n int) {
	t.Helper()
	var walk func(rv reflect.Value, path string)
	walk = func(rv reflect.Value, path string) {
		switch rv.Kind() {
		case reflect.Pointer, reflect.Interface:
			if !rv.IsNil() {
				walk(rv.Elem(), path)
			}
		case reflect.Struct:
			for i := 0; i < rv.NumField(); i++ {
				walk(rv.Field(i), path+"."+rv.Type().Field(i).Name)
			}
		case reflect.Slice:
			if rv.Len() > n || rv.Cap() > n+64 {
				t.Fatalf("%s: slice len %d cap %d from %d input bytes", path, rv.Len(), rv.Cap(), n)
			}
			for i := 0; i < rv.Len(); i++ {
				walk(rv.Index(i), path+"[]")
			}
		case reflect.String:
			if rv.Len() > n {
				t.Fatalf("%s: string len %d from %d input bytes", path, rv.Len(), n)
			}
		}
	}
	walk(reflect.ValueOf(v), reflect.TypeOf(v).String())
}

// bytesAllocated runs f and returns roughly how many heap bytes it allocated.
func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// mustFailPrefixes checks that every strict prefix of b fails to decode,
// except the lengths listed in ok.
func mustFailPrefixes(t *testing.T, b []byte, newRec func() Record, ok ...int) {
	t.Helper()
	allowed := map[int]bool{}
	for _, n := range ok {
		allowed[n] = true
	}
	for i := 0; i < len(b); i++ {
		r := newRec()
		err := Unmarshal(b[:i], r)
		if allowed[i] {
			if err != nil {
				t.Fatalf("%T: prefix %d/%d should decode: %v", r, i, len(b), err)
			}
			continue
		}
		if err == nil {
			t.Fatalf("%T: prefix %d/%d decoded without error: %+v", r, i, len(b), r)
		}
	}
}

// sampleStat is a Stat with every field distinct.
var sampleStat = Stat{
	Czxid: 0x0102030405060708, Mzxid: 0x1112131415161718, Ctime: 0x000001a2057bb242,
	Mtime: 0x000001a2057bb300, Version: 1, Cversion: -2, Aversion: 3,
	EphemeralOwner: 0x01000057a04e0000, DataLength: 5, NumChildren: 6, Pzxid: 0x2122232425262728,
}

var worldAnyone = []ACL{{Perms: PermAll, Id: Id{Scheme: "world", ID: "anyone"}}}
