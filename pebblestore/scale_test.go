package pebblestore

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// BenchmarkScale loads a tree of n znodes of 100 B (distinct data per
// node) through datatree.Tree on a store with the default options: the
// first tenth under one parent (/big), the rest 1000 per parent. It
// reports:
//
//	load-ns/node, load-cpu-ns/node  the load, wall and process CPU time
//	heap-MiB       Go heap in use after a GC, loaded
//	rss-MiB        resident set size, loaded; peak-rss-MiB the peak
//	big-cpu-ns, small-cpu-ns  CPU per create (as benchCreates) under
//	               /big and under a parent with 1000 children
//	children-us    sorted getChildren of a 1000-child parent
//	close-ms       Close (it waits for running compactions)
//	open-ms        Open and datatree.Open of the store (the store's part
//	               of a restart; the server then replays the log after
//	               the store's zxid); open-store-ms Open alone
//	disk-MiB       size of the store's directory
//
// One iteration is the whole run, so use -benchtime 1x:
//
//	go test -run XXX -bench 'Scale/10M' -benchtime 1x -timeout 60m ./pebblestore/
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("%dM", n/1_000_000), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				scale(b, n)
			}
		})
	}
}

func scale(b *testing.B, n int) {
	dir := b.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { s.Close() }()
	tr := datatree.NewOn(s)
	big := n / 10
	var rnd uint64 = 88172645463325252
	data := make([]byte, 100)
	z := tr.LastZxid
	create := func(p string) {
		for j := 0; j < len(data); j += 8 {
			rnd ^= rnd << 13
			rnd ^= rnd >> 7
			rnd ^= rnd << 17
			for k := 0; k < 8 && j+k < len(data); k++ {
				data[j+k] = byte(rnd >> (8 * k))
			}
		}
		z++
		// the tree keeps the txn's data: give each node its own
		d := append([]byte(nil), data...)
		if r := tr.Apply(&wire.TxnHeader{Zxid: z, Time: z}, &wire.Txn{Type: wire.OpCreate, Path: p, Data: d, ParentCVersion: -1}); r.Err != wire.ErrOK {
			b.Fatalf("create %s: %v", p, r.Err)
		}
	}
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	create("/big")
	for i := 0; i < n; i++ {
		if i < big {
			create("/big/n" + strconv.Itoa(i))
			continue
		}
		j := i - big
		if j%1000 == 0 {
			create("/d" + strconv.Itoa(j/1000))
		}
		create("/d" + strconv.Itoa(j/1000) + "/n" + strconv.Itoa(j))
	}
	if err := tr.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(start))/float64(n), "load-ns/node")
	b.ReportMetric(float64(cpuTime()-cpu)/float64(n), "load-cpu-ns/node")
	b.StopTimer()

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	rss, _ := procStatus("VmRSS")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")

	creates := func(parent string, k int) float64 {
		cpu := cpuTime()
		for i := 0; i < k; i++ {
			p := parent + "/y" + strconv.Itoa(i)
			if tr.Get(parent) == nil || tr.Get(p) != nil {
				b.Fatalf("lookup %s", p)
			}
			create(p)
		}
		if err := tr.Sync(); err != nil {
			b.Fatal(err)
		}
		return float64(cpuTime()-cpu) / float64(k)
	}
	b.ReportMetric(creates("/big", 20000), "big-cpu-ns")
	b.ReportMetric(creates("/d7", 20000), "small-cpu-ns")

	t0 := time.Now()
	if len(tr.Children("/d5")) != 1000 {
		b.Fatal("children of /d5")
	}
	b.ReportMetric(float64(time.Since(t0))/1e3, "children-us")

	if _, err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	want := tr.NodeCount()
	t0 = time.Now()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(t0))/1e6, "close-ms")
	t0 = time.Now()
	s, err = Open(Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(t0))/1e6, "open-store-ms")
	tr, err = datatree.Open(s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(t0))/1e6, "open-ms")
	if tr.NodeCount() != want || tr.Get("/big").NumChildren() != big+20000 {
		b.Fatalf("reopened with %d nodes, want %d", tr.NodeCount(), want)
	}
	peak, _ := procStatus("VmHWM")
	b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(dirSize(dir))/(1<<20), "disk-MiB")
}

// procStatus returns a field of /proc/self/status in bytes.
func procStatus(field string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == field {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
