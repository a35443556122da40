package txnlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// preallocated writes entries 1..n through a Log (so the segment has its
// zero-filled tail) and returns the path and the start offset of each record.
func preallocated(t *testing.T, dir string, n int64, size int) (string, []int64) {
	t.Helper()
	l := openLog(t, dir, nil)
	mustCommit(t, l, entries(1, n, size))
	mustClose(t, l)
	var offs []int64
	off := int64(HeaderSize)
	for range n {
		offs = append(offs, off)
		off += int64(size + entryOverhead)
	}
	return filepath.Join(dir, "log.1"), offs
}

func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func expectEntries(t *testing.T, dir string, want []int64) {
	t.Helper()
	got, err := readFrom(t, dir, 0)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !equalZ(zxids(got), want) {
		t.Fatalf("got %v, want %v", zxids(got), want)
	}
}

func expectCorrupt(t *testing.T, dir, path string, off int64, want []int64) {
	t.Helper()
	got, err := readFrom(t, dir, 0)
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("want CorruptError, got %v (entries %v)", err, zxids(got))
	}
	if ce.Path != path || ce.Offset != off {
		t.Fatalf("error at %s:%d, want %s:%d", ce.Path, ce.Offset, path, off)
	}
	if s := err.Error(); !strings.Contains(s, path) || !strings.Contains(s, fmt.Sprintf("offset %d:", off)) {
		t.Fatalf("message %q does not name file and offset", s)
	}
	if !equalZ(zxids(got), want) {
		t.Fatalf("entries before the error: %v, want %v", zxids(got), want)
	}
}

func TestTornTails(t *testing.T) {
	const n, size = 5, 100
	rec := int64(size + entryOverhead)
	cases := []struct {
		name   string
		damage func(t *testing.T, path string, offs []int64)
		want   []int64
	}{
		{"zero-filled tail", func(*testing.T, string, []int64) {}, seq(1, 5)},
		{"cut inside checksum", func(t *testing.T, p string, o []int64) { os.Truncate(p, o[4]+5) }, seq(1, 4)},
		{"cut inside length", func(t *testing.T, p string, o []int64) { os.Truncate(p, o[4]+10) }, seq(1, 4)},
		{"cut inside payload", func(t *testing.T, p string, o []int64) { os.Truncate(p, o[4]+40) }, seq(1, 4)},
		{"cut before B", func(t *testing.T, p string, o []int64) { os.Truncate(p, o[4]+rec-1) }, seq(1, 4)},
		{"cut after B", func(t *testing.T, p string, o []int64) { os.Truncate(p, o[4]+rec) }, seq(1, 5)},
		{"cut after header", func(t *testing.T, p string, o []int64) { os.Truncate(p, HeaderSize) }, nil},
		{"torn header", func(t *testing.T, p string, o []int64) { os.Truncate(p, 7) }, nil},
		{"empty file", func(t *testing.T, p string, o []int64) { os.Truncate(p, 0) }, nil},
		{"garbage instead of B", func(t *testing.T, p string, o []int64) { patch(t, p, o[4]+rec-1, []byte{'X'}) }, seq(1, 4)},
		{"zeroed last record", func(t *testing.T, p string, o []int64) { patch(t, p, o[4], make([]byte, rec)) }, seq(1, 4)},
		{"only the length written", func(t *testing.T, p string, o []int64) {
			patch(t, p, o[4], make([]byte, rec))
			patch(t, p, o[4]+8, []byte{0, 0, 0, 100})
		}, seq(1, 4)},
		{"huge length then zeros", func(t *testing.T, p string, o []int64) {
			patch(t, p, o[4], make([]byte, rec))
			patch(t, p, o[4]+8, []byte{0x7f, 0xff, 0xff, 0xff})
		}, seq(1, 4)},
		{"negative length then zeros", func(t *testing.T, p string, o []int64) {
			patch(t, p, o[4], make([]byte, rec))
			patch(t, p, o[4]+8, []byte{0xff, 0xff, 0xff, 0xff})
		}, seq(1, 4)},
		{"length past the end of the file", func(t *testing.T, p string, o []int64) {
			os.Truncate(p, o[4]+rec)
			patch(t, p, o[4]+8, []byte{0, 0, 1, 0})
		}, seq(1, 4)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path, offs := preallocated(t, dir, n, size)
			c.damage(t, path, offs)
			expectEntries(t, dir, c.want)
		})
	}
}

func TestCorruption(t *testing.T) {
	const n, size = 5, 100
	rec := int64(size + entryOverhead)
	cases := []struct {
		name   string
		damage func(t *testing.T, path string, offs []int64)
		at     int // index of the damaged record
	}{
		{"flipped payload byte", func(t *testing.T, p string, o []int64) { patch(t, p, o[2]+12+50, []byte{0xee}) }, 2},
		{"flipped checksum byte", func(t *testing.T, p string, o []int64) { patch(t, p, o[2]+7, []byte{0xee}) }, 2},
		{"checksum high bits set", func(t *testing.T, p string, o []int64) { patch(t, p, o[0], []byte{1}) }, 0},
		{"flipped last record", func(t *testing.T, p string, o []int64) { patch(t, p, o[4]+12+99, []byte{0xee}) }, 4},
		{"huge length mid-file", func(t *testing.T, p string, o []int64) { patch(t, p, o[1]+8, []byte{0x7f, 0, 0, 0}) }, 1},
		{"negative length mid-file", func(t *testing.T, p string, o []int64) { patch(t, p, o[1]+8, []byte{0x80, 0, 0, 0}) }, 1},
		{"garbage after a huge length", func(t *testing.T, p string, o []int64) {
			patch(t, p, o[4], make([]byte, rec))
			patch(t, p, o[4]+8, []byte{0x7f, 0xff, 0xff, 0xff})
			patch(t, p, o[4]+20000, []byte{1})
		}, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path, offs := preallocated(t, dir, n, size)
			c.damage(t, path, offs)
			expectCorrupt(t, dir, path, offs[c.at], seq(1, int64(c.at)))
		})
	}

	t.Run("bad magic", func(t *testing.T) {
		dir := t.TempDir()
		path, _ := preallocated(t, dir, n, size)
		patch(t, path, 0, []byte("ZKSN"))
		expectCorrupt(t, dir, path, 0, nil)
	})
	t.Run("txn shorter than its header", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "log.1")
		b := appendEntry(fileHeader(), []byte("0123456789"))
		os.WriteFile(path, b, 0o644)
		expectCorrupt(t, dir, path, HeaderSize, nil)
	})
	t.Run("error repeats", func(t *testing.T) {
		dir := t.TempDir()
		path, offs := preallocated(t, dir, n, size)
		patch(t, path, offs[0]+20, []byte{0xee})
		it, err := NewIterator(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		_, err1 := it.Next()
		_, err2 := it.Next()
		if err1 == nil || err1 != err2 {
			t.Fatalf("errors %v / %v", err1, err2)
		}
	})
}

func TestTornTailInOlderSegmentContinues(t *testing.T) {
	dir := t.TempDir()
	offs := writeSegment(t, filepath.Join(dir, "log.1"), entries(1, 5, 50))
	// Half of zxid 5 made it to disk before a crash; the restart began log.5.
	os.Truncate(filepath.Join(dir, "log.1"), offs[4]+30)
	writeSegment(t, filepath.Join(dir, "log.5"), entries(5, 8, 50))
	expectEntries(t, dir, seq(1, 8))
	if got := zxids(mustReadFrom(t, dir, 4)); !equalZ(got, seq(4, 8)) {
		t.Fatalf("from 4: %v", got)
	}
}

func TestIteratorEmptyDir(t *testing.T) {
	dir := t.TempDir()
	expectEntries(t, dir, nil)
	expectEntries(t, filepath.Join(dir, "nope"), nil)
	it, _ := NewIterator(dir, 0)
	it.Close()
	if _, err := it.Next(); err == nil {
		t.Fatal("Next after Close succeeded")
	}
}

// threeSegments writes log.1 (1..10), log.b (11..20), log.15 (21..30).
func threeSegments(t *testing.T, dir string) {
	t.Helper()
	l := openLog(t, dir, nil)
	mustCommit(t, l, entries(1, 10, 70))
	l.Roll()
	mustCommit(t, l, entries(11, 20, 70))
	l.Roll()
	mustCommit(t, l, entries(21, 30, 70))
	mustClose(t, l)
}

func TestTruncate(t *testing.T) {
	const rec = 70 + entryOverhead
	for _, c := range []struct {
		z     int64
		segs  []string
		size  int64 // of the last remaining segment
		lastZ int64
	}{
		{5, []string{"log.1"}, HeaderSize + 5*rec, 5},
		{1, []string{"log.1"}, HeaderSize + rec, 1},
		{10, []string{"log.1"}, HeaderSize + 10*rec, 10},
		{11, []string{"log.1", "log.b"}, HeaderSize + rec, 11},
		{25, []string{"log.1", "log.b", "log.15"}, HeaderSize + 5*rec, 25},
		{30, []string{"log.1", "log.b", "log.15"}, HeaderSize + 10*rec, 30},
		{1000, []string{"log.1", "log.b", "log.15"}, HeaderSize + 10*rec, 30},
	} {
		t.Run(fmt.Sprint(c.z), func(t *testing.T) {
			dir := t.TempDir()
			threeSegments(t, dir)
			if err := Truncate(dir, c.z); err != nil {
				t.Fatal(err)
			}
			if got := segNames(t, dir); !equalS(got, c.segs) {
				t.Fatalf("segments %v, want %v", got, c.segs)
			}
			if got := fileSize(t, filepath.Join(dir, c.segs[len(c.segs)-1])); got != c.size {
				t.Fatalf("size %d, want %d", got, c.size)
			}
			expectEntries(t, dir, seq(1, c.lastZ))
			// Writing continues with a new segment after the truncation point.
			l := openLog(t, dir, nil)
			mustCommit(t, l, entries(c.lastZ+1, c.lastZ+3, 70))
			mustClose(t, l)
			if got := segNames(t, dir); !equalS(got, append(c.segs, SegmentName(c.lastZ+1))) {
				t.Fatalf("after new commits: %v", got)
			}
			expectEntries(t, dir, seq(1, c.lastZ+3))
		})
	}
}

func TestTruncateBetweenZxids(t *testing.T) {
	dir := t.TempDir()
	es := []Entry{{1, txn(1, 40)}, {2, txn(2, 40)}, {0x100000001, txn(0x100000001, 40)}, {0x100000002, txn(0x100000002, 40)}}
	l := openLog(t, dir, nil)
	mustCommit(t, l, es)
	mustClose(t, l)
	// z is not in the log: keep everything <= z, nothing above it.
	if err := Truncate(dir, 0x100000000); err != nil {
		t.Fatal(err)
	}
	expectEntries(t, dir, []int64{1, 2})
	if got := fileSize(t, filepath.Join(dir, "log.1")); got != HeaderSize+2*(40+entryOverhead) {
		t.Fatalf("size %d", got)
	}
}

func TestTruncateErrors(t *testing.T) {
	dir := t.TempDir()
	if err := Truncate(dir, 5); err == nil {
		t.Fatal("truncate of an empty dir succeeded")
	}
	writeSegment(t, filepath.Join(dir, "log.10"), entries(0x10, 0x12, 40))
	if err := Truncate(dir, 5); err == nil {
		t.Fatal("truncate below the first segment succeeded")
	}
	path := filepath.Join(dir, "log.20")
	offs := writeSegment(t, path, entries(0x20, 0x22, 40))
	patch(t, path, offs[1]+15, []byte{0xee})
	err := Truncate(dir, 0x21)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Offset != offs[1] {
		t.Fatalf("truncate through damage: %v", err)
	}
}

func TestTruncateTornSegment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log.1")
	offs := writeSegment(t, path, entries(1, 6, 40))
	os.Truncate(path, offs[5]+20)
	if err := Truncate(dir, 100); err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, path); got != offs[5] {
		t.Fatalf("torn tail not cut: size %d, want %d", got, offs[5])
	}
	expectEntries(t, dir, seq(1, 5))
}

func TestPurgeBefore(t *testing.T) {
	dir := t.TempDir()
	threeSegments(t, dir)
	for _, n := range []string{"snapshot.0", "log.zz", "other"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	check := func(z int64, removed, left []string) {
		t.Helper()
		got, err := PurgeBefore(dir, z)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range got {
			names = append(names, filepath.Base(p))
		}
		if !equalS(names, removed) {
			t.Fatalf("PurgeBefore(%#x) removed %v, want %v", z, names, removed)
		}
		if s := segNames(t, dir); !equalS(s, left) {
			t.Fatalf("PurgeBefore(%#x) left %v, want %v", z, s, left)
		}
	}
	check(0, nil, []string{"log.1", "log.b", "log.15"})
	check(0xa, nil, []string{"log.1", "log.b", "log.15"})
	check(0xb, []string{"log.1"}, []string{"log.b", "log.15"})
	check(0x14, nil, []string{"log.b", "log.15"})
	check(0x100, []string{"log.b"}, []string{"log.15"})
	check(0x100, nil, []string{"log.15"})
	for _, n := range []string{"snapshot.0", "log.zz", "other"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("%s touched: %v", n, err)
		}
	}
	expectEntries(t, dir, seq(21, 30))
}

func TestChecksumIsUnsignedAdler(t *testing.T) {
	// A payload whose Adler-32 has the top bit set must be stored as a
	// positive long (upper 32 bits zero).
	for z := int64(1); z < 200; z++ {
		d := txn(z, 64+int(z))
		if checksum(d) < 1<<31 {
			continue
		}
		b := appendEntry(nil, d)
		if binary.BigEndian.Uint32(b[:4]) != 0 || int64(binary.BigEndian.Uint64(b[:8])) != checksum(d) {
			t.Fatalf("stored checksum % x", b[:8])
		}
		return
	}
	t.Skip("no payload with a high Adler-32 found")
}
