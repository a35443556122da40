package txnlog

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

const testPrealloc = 64 << 10

// txn builds txn bytes: a TxnHeader carrying zxid, then size-32 payload bytes.
func txn(zxid int64, size int) []byte {
	if size < TxnHeaderSize {
		size = TxnHeaderSize
	}
	h := wire.TxnHeader{ClientID: 0x1234, Cxid: int32(zxid), Zxid: zxid, Time: 1700000000000, Type: wire.Op(1)}
	e := &wire.Encoder{}
	h.Encode(e)
	b := e.B
	for len(b) < size {
		b = append(b, byte(zxid+int64(len(b))))
	}
	return b
}

func entries(from, to int64, size int) []Entry {
	var es []Entry
	for z := from; z <= to; z++ {
		es = append(es, Entry{Zxid: z, Data: txn(z, size)})
	}
	return es
}

func openLog(t testing.TB, dir string, mod func(*Options)) *Log {
	t.Helper()
	o := Options{Dir: dir, PreAllocSize: testPrealloc, ForceSync: true}
	if mod != nil {
		mod(&o)
	}
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// commitWait commits and waits for done.
func commitWait(t testing.TB, l *Log, es []Entry) error {
	t.Helper()
	ch := make(chan error, 1)
	l.Commit(es, func(err error) { ch <- err })
	return <-ch
}

func mustCommit(t testing.TB, l *Log, es []Entry) {
	t.Helper()
	if err := commitWait(t, l, es); err != nil {
		t.Fatal(err)
	}
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// readFrom iterates dir from zxid to the end; err is the iterator's final
// non-EOF error, if any.
func readFrom(t testing.TB, dir string, from int64) ([]Entry, error) {
	t.Helper()
	it, err := NewIterator(dir, from)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []Entry
	for {
		e, err := it.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
}

func mustReadFrom(t testing.TB, dir string, from int64) []Entry {
	t.Helper()
	es, err := readFrom(t, dir, from)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func zxids(es []Entry) []int64 {
	var z []int64
	for _, e := range es {
		z = append(z, e.Zxid)
	}
	return z
}

func seq(from, to int64) []int64 {
	var z []int64
	for i := from; i <= to; i++ {
		z = append(z, i)
	}
	return z
}

func equalZ(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func segNames(t testing.TB, dir string) []string {
	t.Helper()
	segs, err := Segments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, s := range segs {
		n = append(n, filepath.Base(s.Path))
	}
	return n
}

func equalS(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeSegment writes a raw segment file: header then records for es, with
// no preallocation. It returns the start offset of every record.
func writeSegment(t testing.TB, path string, es []Entry) []int64 {
	t.Helper()
	b := fileHeader()
	var offs []int64
	for _, e := range es {
		offs = append(offs, int64(len(b)))
		b = appendEntry(b, e.Data)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return offs
}
