package crashtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestTornTailRecovery: a partial record after the last complete one in
// the newest log segment (a torn write) is ignored on recovery, both inside
// the preallocated zeros and at the very end of a truncated file; a flipped
// byte inside an older complete record stops the server with a message
// naming the file and the offset.
func TestTornTailRecovery(t *testing.T) {
	seed := envInt(t, "CRASH_SEED", time.Now().UnixNano())
	t.Logf("CRASH_SEED=%d", seed)
	rng := rand.New(rand.NewSource(seed))
	srv := newServer(t, fmt.Sprintf("tickTime=%d", tickMs), "preAllocSize=64")
	want := map[string][]byte{} // every acknowledged node and its data

	srv.start()
	writeAcked(t, srv, "/torn-a", 150, rng.Int63(), want)
	srv.kill()
	tear(t, srv, rng, false)

	srv.start()
	checkAcked(t, srv, want)
	writeAcked(t, srv, "/torn-b", 100, rng.Int63(), want)
	srv.kill()
	tear(t, srv, rng, true)

	srv.start()
	checkAcked(t, srv, want)
	writeAcked(t, srv, "/torn-c", 60, rng.Int63(), want)
	srv.kill()

	// flip one byte in the middle of an older complete record that
	// recovery must replay (newer than every snapshot)
	var snapZxid int64 = -1
	snaps, err := listZxidFiles(srv.snapDir(), "snapshot")
	must(t, err)
	for _, s := range snaps {
		snapZxid = max(snapZxid, s.zxid)
	}
	segs, err := listZxidFiles(srv.txnDir(), "log")
	must(t, err)
	var replay []record
	for _, s := range segs {
		recs, _, err := parseSegment(s.path)
		if err != nil {
			t.Logf("parsing %s: %v (torn tail left behind)", s.path, err)
		}
		for _, r := range recs {
			if r.zxid > snapZxid {
				replay = append(replay, r)
			}
		}
	}
	// an older record: in the first half of what recovery replays, with
	// a payload after its 32-byte TxnHeader worth flipping a byte of
	var older []record
	for _, r := range replay[:len(replay)/2] {
		if r.n >= 100 {
			older = append(older, r)
		}
	}
	if len(older) == 0 {
		t.Fatalf("no record of >= 100 bytes among the first %d of %d log records newer than snapshot %#x", len(replay)/2, len(replay), snapZxid)
	}
	victim := older[rng.Intn(len(older))]
	flipAt := victim.off + 12 + 32 + int64(victim.n-32)/2
	orig := flipByte(t, victim.file, flipAt, 0)
	t.Logf("%d segments, %d records after snapshot %#x; flipped byte at %s offset %d (record at offset %d, zxid %#x, %d bytes)",
		len(segs), len(replay), snapZxid, filepath.Base(victim.file), flipAt, victim.off, victim.zxid, victim.n)

	if os.Getenv("ZKSERVER_STORAGE") == "pebble" {
		// Pebble has applied the older records already, so a restart reads
		// only the log after its zxid and never meets the flipped byte:
		// drop the store, so the start imports snapshot + the whole log
		// again and must stop at the corrupt record
		for _, d := range []string{"pebble", "pebble-checkpoints"} {
			if err := os.RemoveAll(filepath.Join(srv.dataDir, d)); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv.launch()
	if err := srv.waitReady(); err == nil {
		checkAckedSoft(t, srv, want)
		srv.dumpLog()
		t.Fatalf("server started although %s has a corrupt record at offset %d", victim.file, victim.off)
	}
	if !srv.waitExit(exitWait) {
		t.Fatalf("server neither served nor exited")
	}
	out := srv.output()
	if srv.exitErr() == nil {
		t.Errorf("server exited with status 0 on a corrupt log")
	}
	offsetRE := regexp.MustCompile(fmt.Sprintf(`\b(%d|%d|0x%x|0x%x)\b`, victim.off, flipAt, victim.off, flipAt))
	if !bytes.Contains([]byte(out), []byte(filepath.Base(victim.file))) || !offsetRE.MatchString(out) {
		srv.dumpLog()
		t.Errorf("refusal does not name the file %s and offset %d (record) or %d (byte)", filepath.Base(victim.file), victim.off, flipAt)
	} else {
		t.Logf("refused as required: %s", lastLines(out, 1))
	}

	// repaired, everything acknowledged is back
	flipByte(t, victim.file, flipAt, orig)
	srv.start()
	checkAcked(t, srv, want)
	t.Logf("%d acknowledged nodes survived two torn tails and a repaired corruption", len(want))
}

func lastLines(s string, n int) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte(" | ")))
}

// flipByte XORs the byte at off with 0xff (restore: pass the original,
// which is written back) and returns the original byte.
func flipByte(t *testing.T, path string, off int64, restore byte) byte {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	var b [1]byte
	_, err = f.ReadAt(b[:], off)
	must(t, err)
	orig := b[0]
	if restore != 0 || orig == 0 {
		b[0] = restore
	}
	if restore == 0 {
		b[0] = orig ^ 0xff
	}
	_, err = f.WriteAt(b[:], off)
	must(t, err)
	must(t, f.Sync())
	return orig
}

// tear writes a partial record right after the last complete record of
// the newest segment: checksum and a plausible length, then fewer payload
// bytes than that length. truncate also cuts the file right there (EOF
// inside the record) instead of leaving the preallocated zeros after it.
func tear(t *testing.T, srv *server, rng *rand.Rand, truncate bool) {
	t.Helper()
	segs, err := listZxidFiles(srv.txnDir(), "log")
	must(t, err)
	if len(segs) == 0 {
		t.Fatalf("no log segment in %s", srv.txnDir())
	}
	newest := segs[len(segs)-1].path
	recs, end, err := parseSegment(newest)
	must(t, err)
	if len(recs) == 0 {
		t.Fatalf("%s holds no record", newest)
	}
	st, err := os.Stat(newest)
	must(t, err)
	n := 64 + rng.Intn(400)
	torn := make([]byte, 12+rng.Intn(n))
	rng.Read(torn)
	binary.BigEndian.PutUint32(torn[8:], uint32(n))
	f, err := os.OpenFile(newest, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	_, err = f.WriteAt(torn, end)
	must(t, err)
	if truncate {
		must(t, f.Truncate(end+int64(len(torn))))
	}
	must(t, f.Sync())
	t.Logf("tore %s (%d records, %d bytes, was %d): %d bytes of a %d-byte record at offset %d, truncated=%v",
		filepath.Base(newest), len(recs), end, st.Size(), len(torn)-12, n, end, truncate)
}

// writeAcked creates n nodes under prefix (4 clients in parallel), then
// sets new data on a third of them; every op must be acknowledged.
func writeAcked(t *testing.T, srv *server, prefix string, n int, seed int64, want map[string][]byte) {
	t.Helper()
	c := connect(t, srv.addr, nil)
	defer c.Close()
	must(t, bounded(t, 10*time.Second, "create "+prefix, func() error {
		_, err := c.Create(prefix, nil, 0, openACL)
		return err
	}))
	want[prefix] = []byte{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for k := 0; k < 4; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			wc := connect(t, srv.addr, nil)
			defer wc.Close()
			r := rand.New(rand.NewSource(seed + int64(k)))
			for i := k; i < n; i += 4 {
				p := fmt.Sprintf("%s/n%04d", prefix, i)
				data := payload(p, 0)
				if _, err := wc.Create(p, data, 0, openACL); err != nil {
					errs <- fmt.Errorf("create %s: %w", p, err)
					return
				}
				mu.Lock()
				want[p] = data
				mu.Unlock()
				if r.Intn(3) == 0 {
					data = payload(p, 1)
					if _, err := wc.Set(p, data, 0); err != nil {
						errs <- fmt.Errorf("set %s: %w", p, err)
						return
					}
					mu.Lock()
					want[p] = data
					mu.Unlock()
				}
			}
		}(k)
	}
	waitGroup(t, &wg, 60*time.Second, "writing "+prefix)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func checkAcked(t *testing.T, srv *server, want map[string][]byte) {
	t.Helper()
	if missing := compareAcked(t, srv, want); len(missing) > 0 {
		srv.dumpLog()
		t.Fatalf("%d of %d acknowledged nodes lost or wrong after recovery:\n  %s", len(missing), len(want), joinMax(missing))
	}
}

func checkAckedSoft(t *testing.T, srv *server, want map[string][]byte) {
	t.Helper()
	if missing := compareAcked(t, srv, want); len(missing) > 0 {
		t.Errorf("%d of %d acknowledged nodes lost or wrong:\n  %s", len(missing), len(want), joinMax(missing))
	}
}

func compareAcked(t *testing.T, srv *server, want map[string][]byte) []string {
	t.Helper()
	c := connect(t, srv.addr, nil)
	defer c.Close()
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var bad []string
	must(t, bounded(t, 30*time.Second, "reading acknowledged nodes", func() error {
		for _, p := range paths {
			data, _, err := c.Get(p)
			switch {
			case err == zk.ErrNoNode:
				bad = append(bad, p+" missing")
			case err != nil:
				return fmt.Errorf("get %s: %w", p, err)
			case !bytes.Equal(data, want[p]):
				bad = append(bad, fmt.Sprintf("%s data %.40q, want %.40q", p, data, want[p]))
			}
		}
		return nil
	}))
	return bad
}
