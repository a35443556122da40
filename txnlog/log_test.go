package txnlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestRoundTripAcrossRolls(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, nil)
	// Segments: 1..0x2b, 0x2c..0x40, 0x41..0x41, 0x42..0x100
	mustCommit(t, l, entries(1, 0x20, 100))
	mustCommit(t, l, entries(0x21, 0x2b, 3000))
	l.Roll()
	l.Roll() // a second Roll without entries in between changes nothing
	mustCommit(t, l, entries(0x2c, 0x40, 40))
	l.Roll()
	mustCommit(t, l, entries(0x41, 0x41, 500))
	l.Roll()
	for z := int64(0x42); z <= 0x100; z += 10 {
		mustCommit(t, l, entries(z, min(z+9, 0x100), 200))
	}
	mustClose(t, l)

	want := []string{"log.1", "log.2c", "log.41", "log.42"}
	if got := segNames(t, dir); !equalS(got, want) {
		t.Fatalf("segments %v, want %v", got, want)
	}
	all := mustReadFrom(t, dir, 0)
	if !equalZ(zxids(all), seq(1, 0x100)) {
		t.Fatalf("read back %v", zxids(all))
	}
	for _, e := range all {
		size := 100
		switch {
		case e.Zxid >= 0x21 && e.Zxid <= 0x2b:
			size = 3000
		case e.Zxid >= 0x2c && e.Zxid <= 0x40:
			size = 40
		case e.Zxid == 0x41:
			size = 500
		case e.Zxid >= 0x42:
			size = 200
		}
		if !bytes.Equal(e.Data, txn(e.Zxid, size)) {
			t.Fatalf("zxid %#x: data differs", e.Zxid)
		}
	}
	for _, from := range []int64{-5, 0, 1, 2, 0x10, 0x2b, 0x2c, 0x2d, 0x40, 0x41, 0x42, 0x43, 0xff, 0x100} {
		got := zxids(mustReadFrom(t, dir, from))
		if !equalZ(got, seq(max(from, 1), 0x100)) {
			t.Errorf("from %#x: got %v", from, got)
		}
	}
	for _, from := range []int64{0x101, 0x1000} {
		if got := mustReadFrom(t, dir, from); len(got) != 0 {
			t.Errorf("from %#x past the end: got %v", from, zxids(got))
		}
	}

	// Reopening never appends: the next entry starts log.101.
	sizes := map[string]int64{}
	for _, n := range want {
		sizes[n] = fileSize(t, filepath.Join(dir, n))
	}
	l = openLog(t, dir, nil)
	mustCommit(t, l, entries(0x101, 0x105, 60))
	mustClose(t, l)
	if got := segNames(t, dir); !equalS(got, append(want, "log.101")) {
		t.Fatalf("after reopen: %v", got)
	}
	for n, s := range sizes {
		if fs := fileSize(t, filepath.Join(dir, n)); fs != s {
			t.Errorf("%s changed size %d -> %d", n, s, fs)
		}
	}
	if got := zxids(mustReadFrom(t, dir, 0xfe)); !equalZ(got, seq(0xfe, 0x105)) {
		t.Fatalf("across reopen: %v", got)
	}
}

func TestSegmentsNaming(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"log.a", "log.10", "log.9", "log.100000003", "log.xyz", "log.", "snapshot.5",
		"log.2c.tmp", "LOG.7", "mylog.8", "log.-", "log.ffffffffffffffffff"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "log.3"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := []string{"log.9", "log.a", "log.10", "log.2c.tmp", "log.100000003"}
	if got := segNames(t, dir); !equalS(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if segs, err := Segments(filepath.Join(dir, "missing")); err != nil || len(segs) != 0 {
		t.Fatalf("missing dir: %v %v", segs, err)
	}
	for z, n := range map[int64]string{1: "log.1", 0x2c: "log.2c", 0x100000003: "log.100000003", -1: "log.ffffffffffffffff"} {
		if got := SegmentName(z); got != n {
			t.Errorf("SegmentName(%#x) = %s, want %s", z, got, n)
		}
	}
}

func TestFreshSegmentLayout(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, nil)
	if l.CurrentSize() != 0 {
		t.Fatalf("size before first entry: %d", l.CurrentSize())
	}
	first := txn(1, 48)
	mustCommit(t, l, []Entry{{Zxid: 1, Data: first}})
	path := filepath.Join(dir, "log.1")
	if got, want := fileSize(t, path), int64(16+testPrealloc); got != want {
		t.Fatalf("fresh segment size %d, want %d", got, want)
	}
	if l.CurrentSize() != 16+testPrealloc {
		t.Fatalf("CurrentSize %d", l.CurrentSize())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantHdr := []byte{0x5a, 0x4b, 0x4c, 0x47, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}
	if !bytes.Equal(b[:16], wantHdr) {
		t.Fatalf("header % x", b[:16])
	}
	var rec []byte
	rec = binary.BigEndian.AppendUint64(rec, uint64(adler32.Checksum(first)))
	rec = binary.BigEndian.AppendUint32(rec, 48)
	rec = append(rec, first...)
	rec = append(rec, 'B')
	if !bytes.Equal(b[16:16+len(rec)], rec) {
		t.Fatalf("first entry\n got % x\nwant % x", b[16:16+len(rec)], rec)
	}
	if len(rec) != 8+4+48+1 || rec[0] != 0 || rec[1] != 0 || rec[2] != 0 || rec[3] != 0 {
		t.Fatalf("record layout % x", rec)
	}
	for i, c := range b[16+len(rec):] {
		if c != 0 {
			t.Fatalf("preallocated tail not zero at %d", 16+len(rec)+i)
		}
	}
	mustClose(t, l)
}

func TestPreallocGrowth(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, nil)
	path := filepath.Join(dir, "log.1")
	// Records are 1013 bytes: after k entries the position is 16+1013k. The
	// file grows before the append at which position+4096 >= size, i.e.
	// after 61 entries (16+1013*61+4096 = 65905 >= 65552).
	const rec = 1000 + 13
	for k := int64(1); k <= 70; k++ {
		mustCommit(t, l, []Entry{{Zxid: k, Data: txn(k, 1000)}})
		want := int64(16 + testPrealloc)
		if k >= 62 {
			want = 16 + 2*testPrealloc
		}
		if got := fileSize(t, path); got != want {
			t.Fatalf("after %d entries (position %d): size %d, want %d", k, 16+rec*k, got, want)
		}
		if got := l.CurrentSize(); got != want {
			t.Fatalf("after %d entries: CurrentSize %d, want %d", k, got, want)
		}
	}
	// An entry bigger than the preallocation runs past the padded size; the
	// next append rounds position+prealloc down to a multiple of prealloc.
	big := txn(71, 200<<10)
	mustCommit(t, l, []Entry{{Zxid: 71, Data: big}})
	pos := int64(16+rec*70) + int64(len(big)) + 13
	if got := fileSize(t, path); got != pos {
		t.Fatalf("after big entry: size %d, want %d", got, pos)
	}
	if got := l.CurrentSize(); got != pos {
		t.Fatalf("after big entry: CurrentSize %d, want %d", got, pos)
	}
	mustCommit(t, l, []Entry{{Zxid: 72, Data: txn(72, 100)}})
	want := (pos + testPrealloc) - (pos+testPrealloc)%testPrealloc
	if got := fileSize(t, path); got != want {
		t.Fatalf("after growth past a big entry: size %d, want %d", got, want)
	}
	l.Roll()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if l.CurrentSize() != 0 {
		t.Fatalf("CurrentSize after Roll: %d", l.CurrentSize())
	}
	mustClose(t, l)
	if got := zxids(mustReadFrom(t, dir, 0)); !equalZ(got, seq(1, 72)) {
		t.Fatalf("read back %v", got)
	}
}

func TestPaddedSizeRule(t *testing.T) {
	const p = 1000
	for _, c := range []struct{ pos, size, want int64 }{
		{16, 16, 1016},       // fresh file
		{5000, 10000, 10000}, // plenty left
		{5903, 10000, 10000}, // 5903+4096 < 10000
		{5904, 10000, 11000}, // 5904+4096 >= 10000: grow by one unit
		{10000, 10000, 11000},
		{12345, 10000, 13000}, // past the end: round down to a multiple
		{13000, 10000, 14000},
	} {
		if got := paddedSize(c.pos, c.size, p); got != c.want {
			t.Errorf("paddedSize(%d, %d) = %d, want %d", c.pos, c.size, got, c.want)
		}
	}
	if got := paddedSize(100000, 16, -1); got != 16 {
		t.Errorf("disabled preallocation grew to %d", got)
	}
}

// holdFsync makes the first fsync wait until release is closed; entered is
// closed when it starts waiting.
type holdFsync struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func newHold() *holdFsync {
	return &holdFsync{entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *holdFsync) hook() error {
	h.once.Do(func() {
		close(h.entered)
		<-h.release
	})
	return nil
}

// waitQueued waits until n requests sit in the queue behind the held fsync.
func waitQueued(t *testing.T, l *Log, n int) {
	t.Helper()
	for len(l.q) < n {
		runtime.Gosched()
	}
}

func TestGroupCommitBatchesWhileFsyncInFlight(t *testing.T) {
	dir := t.TempDir()
	h := newHold()
	l := openLog(t, dir, func(o *Options) { o.beforeFsync = h.hook; o.MaxBatch = 10 })
	var order []int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	commit := func(z int64) {
		wg.Add(1)
		l.Commit([]Entry{{Zxid: z, Data: txn(z, 64)}}, func(err error) {
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			order = append(order, z)
			mu.Unlock()
			wg.Done()
		})
	}
	commit(1)
	<-h.entered
	for z := int64(2); z <= 26; z++ { // 25 calls queue behind the fsync
		commit(z)
	}
	waitQueued(t, l, 25)
	mu.Lock()
	if len(order) != 0 {
		t.Fatalf("done called before its fsync: %v", order)
	}
	mu.Unlock()
	close(h.release)
	wg.Wait()
	if !equalZ(order, seq(1, 26)) {
		t.Fatalf("done order %v", order)
	}
	st := l.Stats()
	// Round 1: zxid 1; then 25 queued entries in rounds of MaxBatch=10.
	if st.Fsyncs != 4 || st.Rounds != 4 || st.MaxRoundEntries != 10 || st.LastRoundEntries != 5 || st.Entries != 26 {
		t.Fatalf("stats %+v", st)
	}
	mustClose(t, l)
}

func TestRollOrderedWithCommits(t *testing.T) {
	dir := t.TempDir()
	h := newHold()
	l := openLog(t, dir, func(o *Options) { o.beforeFsync = h.hook })
	done := make(chan error, 10)
	cb := func(err error) { done <- err }
	l.Commit(entries(1, 1, 40), cb)
	<-h.entered
	l.Commit(entries(2, 3, 40), cb)
	l.Roll()
	l.Commit(entries(4, 5, 40), cb)
	l.Roll()
	l.Commit(entries(6, 6, 40), cb)
	waitQueued(t, l, 5)
	close(h.release)
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, l)
	if got := segNames(t, dir); !equalS(got, []string{"log.1", "log.4", "log.6"}) {
		t.Fatalf("segments %v", got)
	}
	segs, _ := Segments(dir)
	for i, w := range [][]int64{{1, 2, 3}, {4, 5}, {6}} {
		r, err := openSegment(segs[i].Path)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for {
			e, _, err := r.next()
			if err != nil {
				break
			}
			got = append(got, e.Zxid)
		}
		r.close()
		if !equalZ(got, w) {
			t.Errorf("%s holds %v, want %v", segs[i].Path, got, w)
		}
	}
}

func TestConcurrentCommitters(t *testing.T) {
	dir := t.TempDir()
	const G, K = 8, 40
	var firstSubmits atomic.Int32
	allFirst := make(chan struct{})
	var holdOnce sync.Once
	l := openLog(t, dir, func(o *Options) {
		o.PreAllocSize = 1 << 20
		// Hold the first fsync until every goroutine submitted once, so at
		// least one round provably carries several calls.
		o.beforeFsync = func() error {
			holdOnce.Do(func() { <-allFirst })
			return nil
		}
	})
	var (
		submitMu  sync.Mutex
		nextSeq   int64
		nextZxid  int64 = 1
		doneSeq   atomic.Int64
		calls     [G * K]atomic.Int32
		totalEnts atomic.Int64
	)
	var wg sync.WaitGroup
	for g := range G {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range K {
				n := 1 + (g+k)%3
				ch := make(chan error, 1)
				submitMu.Lock()
				s := nextSeq
				nextSeq++
				es := entries(nextZxid, nextZxid+int64(n)-1, 30+g)
				nextZxid += int64(n)
				totalEnts.Add(int64(n))
				l.Commit(es, func(err error) {
					calls[s].Add(1)
					if !doneSeq.CompareAndSwap(s, s+1) {
						t.Errorf("done for call %d out of order (expected %d)", s, doneSeq.Load())
					}
					// The entries must already be readable through another handle.
					got, rerr := readFrom(t, dir, es[0].Zxid)
					if rerr != nil || len(got) < len(es) {
						t.Errorf("call %d: entries not on disk in done: %v %v", s, zxids(got), rerr)
					} else {
						for i, e := range es {
							if got[i].Zxid != e.Zxid || !bytes.Equal(got[i].Data, e.Data) {
								t.Errorf("call %d: entry %d differs on disk", s, i)
							}
						}
					}
					ch <- err
				})
				submitMu.Unlock()
				if k == 0 && firstSubmits.Add(1) == G {
					close(allFirst)
				}
				if err := <-ch; err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	mustClose(t, l)
	for i := range calls {
		if c := calls[i].Load(); c != 1 {
			t.Fatalf("done of call %d ran %d times", i, c)
		}
	}
	st := l.Stats()
	if st.Entries != totalEnts.Load() || st.Fsyncs >= st.Entries || st.Fsyncs >= G*K {
		t.Fatalf("stats %+v for %d entries in %d calls", st, totalEnts.Load(), G*K)
	}
	t.Logf("%d entries, %d calls, %d fsyncs, max round %d entries", st.Entries, G*K, st.Fsyncs, st.MaxRoundEntries)
	if got := zxids(mustReadFrom(t, dir, 0)); !equalZ(got, seq(1, totalEnts.Load())) {
		t.Fatalf("read back %d entries", len(got))
	}
}

func TestInvalidCommitsRejected(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, nil)
	mustCommit(t, l, entries(1, 3, 40))
	bad := map[string][]Entry{
		"empty data":      {{Zxid: 4}},
		"short data":      {{Zxid: 4, Data: []byte("abc")}},
		"header mismatch": {{Zxid: 4, Data: txn(5, 40)}},
		"not ascending":   {{Zxid: 3, Data: txn(3, 40)}},
		"descending call": {{Zxid: 5, Data: txn(5, 40)}, {Zxid: 4, Data: txn(4, 40)}},
	}
	for name, es := range bad {
		if err := commitWait(t, l, es); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := commitWait(t, l, nil); err != nil {
		t.Fatalf("empty commit: %v", err)
	}
	mustCommit(t, l, entries(4, 5, 40)) // the log still works
	mustClose(t, l)
	if got := zxids(mustReadFrom(t, dir, 0)); !equalZ(got, seq(1, 5)) {
		t.Fatalf("read back %v", got)
	}
}

func TestFsyncFailureIsSticky(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("disk on fire")
	var fail atomic.Bool
	l := openLog(t, dir, func(o *Options) {
		o.beforeFsync = func() error {
			if fail.Load() {
				return boom
			}
			return nil
		}
	})
	mustCommit(t, l, entries(1, 2, 40))
	fail.Store(true)
	if err := commitWait(t, l, entries(3, 3, 40)); !errors.Is(err, boom) {
		t.Fatalf("commit during failing fsync: %v", err)
	}
	fail.Store(false)
	if err := commitWait(t, l, entries(4, 4, 40)); !errors.Is(err, boom) {
		t.Fatalf("commit after failure: %v", err)
	}
	if err := l.Sync(); !errors.Is(err, boom) {
		t.Fatalf("Sync after failure: %v", err)
	}
	if err := l.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close after failure: %v", err)
	}
}

func TestClosed(t *testing.T) {
	l := openLog(t, t.TempDir(), nil)
	mustCommit(t, l, entries(1, 1, 40))
	mustClose(t, l)
	mustClose(t, l) // idempotent
	if err := commitWait(t, l, entries(2, 2, 40)); !errors.Is(err, ErrClosed) {
		t.Fatalf("commit after close: %v", err)
	}
	if err := l.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("sync after close: %v", err)
	}
	l.Roll()
}

func TestNoForceSync(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, func(o *Options) { o.ForceSync = false })
	mustCommit(t, l, entries(1, 10, 40))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	// Flushed: visible to another reader even without fsync.
	if got := zxids(mustReadFrom(t, dir, 0)); !equalZ(got, seq(1, 10)) {
		t.Fatalf("read back %v", got)
	}
	if st := l.Stats(); st.Fsyncs != 0 || st.Entries != 10 {
		t.Fatalf("stats %+v", st)
	}
	mustClose(t, l)
}

func TestExistingSegmentName(t *testing.T) {
	dir := t.TempDir()
	// A file without entries (crash right after creation) is replaced.
	if err := os.WriteFile(filepath.Join(dir, "log.5"), fileHeader(), 0o644); err != nil {
		t.Fatal(err)
	}
	l := openLog(t, dir, nil)
	mustCommit(t, l, entries(5, 6, 40))
	mustClose(t, l)
	if got := zxids(mustReadFrom(t, dir, 0)); !equalZ(got, seq(5, 6)) {
		t.Fatalf("read back %v", got)
	}
	// A file with entries is never overwritten.
	l = openLog(t, dir, nil)
	err := commitWait(t, l, entries(5, 5, 40))
	if err == nil || !strings.Contains(err.Error(), "holds entries") {
		t.Fatalf("overwrite attempt: %v", err)
	}
	l.Close()
	if got := zxids(mustReadFrom(t, dir, 0)); !equalZ(got, seq(5, 6)) {
		t.Fatalf("after refused overwrite %v", got)
	}
}
