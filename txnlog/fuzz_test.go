package txnlog

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var submitMu sync.Mutex // benchmark: zxids are assigned and submitted in order

// putZxid rewrites the zxid inside a TxnHeader (bytes 12..20).
func putZxid(d []byte, z int64) { binary.BigEndian.PutUint64(d[12:20], uint64(z)) }

// allocSlack covers the iterator's fixed costs (read buffer, file handle,
// directory listing); everything else it allocates must be bounded by the
// file size, whatever lengths the file claims.
const allocSlack = 256 << 10

func FuzzIterator(f *testing.F) {
	valid := fileHeader()
	for _, e := range entries(1, 3, 40) {
		valid = appendEntry(valid, e.Data)
	}
	f.Add(valid)
	f.Add(append(append([]byte{}, valid...), make([]byte, 5000)...))
	f.Add(valid[:len(valid)-7])
	f.Add(valid[:HeaderSize+12])
	huge := append([]byte{}, valid...)
	huge = append(huge, 0, 0, 0, 0, 0, 0, 0, 1, 0x03, 0xff, 0xff, 0xff, 1, 2, 3)
	f.Add(huge)
	neg := append(append([]byte{}, fileHeader()...), 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0, 9)
	f.Add(neg)
	f.Add([]byte{})
	f.Add([]byte("ZKLG"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "log.1")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		it, err := NewIterator(dir, math.MinInt64)
		if err != nil {
			t.Fatal(err)
		}
		var got []Entry
		var iterErr error
		for {
			e, err := it.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					iterErr = err
				}
				break
			}
			if len(got) > len(data)/entryOverhead {
				t.Fatalf("more entries than the file can hold")
			}
			got = append(got, e)
		}
		it.Close()
		runtime.ReadMemStats(&after)
		var payload uint64
		for _, e := range got {
			payload += uint64(len(e.Data))
		}
		if payload > uint64(len(data)) {
			t.Fatalf("returned %d payload bytes from a %d-byte file", payload, len(data))
		}
		// got's backing array is the test's own allocation.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(len(data))+uint64(cap(got))*48+allocSlack {
			t.Fatalf("allocated %d bytes reading a %d-byte file", alloc, len(data))
		}
		if iterErr != nil {
			var ce *CorruptError
			if !errors.As(iterErr, &ce) || ce.Path != path || ce.Offset < 0 || ce.Offset >= int64(len(data)) {
				t.Fatalf("error %v does not name a place in the file", iterErr)
			}
			return
		}
		// A cleanly readable file can be truncated to its last entry and
		// then reads back the same entries.
		maxZ := int64(math.MinInt64)
		for _, e := range got {
			maxZ = max(maxZ, e.Zxid)
		}
		if len(got) == 0 || maxZ < 1 {
			return
		}
		if err := Truncate(dir, maxZ); err != nil {
			t.Fatalf("truncate: %v", err)
		}
		again, err := readFrom(t, dir, math.MinInt64)
		if err != nil {
			t.Fatal(err)
		}
		// Truncate stops at the first entry above maxZ; there is none.
		if len(again) != len(got) {
			t.Fatalf("after truncate %d entries, before %d", len(again), len(got))
		}
	})
}

func BenchmarkCommit(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(map[int]string{100: "100B", 1000: "1KB"}[size], func(b *testing.B) {
			l := openLog(b, b.TempDir(), func(o *Options) { o.PreAllocSize = 0 })
			payload := txn(0, size)
			var zxid int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ch := make(chan error, 1)
				done := func(err error) { ch <- err }
				for pb.Next() {
					submitMu.Lock()
					zxid++
					d := append([]byte(nil), payload...)
					putZxid(d, zxid)
					l.Commit([]Entry{{Zxid: zxid, Data: d}}, done)
					submitMu.Unlock()
					if err := <-ch; err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			st := l.Stats()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			if st.Fsyncs > 0 {
				b.ReportMetric(float64(st.Entries)/float64(st.Fsyncs), "entries/fsync")
			}
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
