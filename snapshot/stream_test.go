package snapshot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// benWasHere is the ustring a leader sends right after the SNAP stream.
var benWasHere = []byte{0, 0, 0, 10, 'B', 'e', 'n', 'W', 'a', 's', 'H', 'e', 'r', 'e'}

func streamOf(t testing.TB, tr *datatree.Tree) []byte {
	t.Helper()
	var buf bytes.Buffer
	var mu sync.RWMutex
	if err := WriteStream(&buf, tr, &mu); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fileBody is the part of a snapshot file written by Write between the
// 16-byte file header and seal 1: seal 1 (long + ustring "/", 13 bytes),
// the digest section (20 bytes) and seal 2 (13 bytes) follow it.
func fileBody(t *testing.T, raw []byte) []byte {
	t.Helper()
	const tail = 13 + 20 + 13
	if len(raw) < 16+tail {
		t.Fatalf("snapshot file of %d bytes", len(raw))
	}
	return raw[16 : len(raw)-tail]
}

func TestStreamRoundTrip(t *testing.T) {
	b := buildSample(t)
	stream := streamOf(t, b.t)
	for _, kind := range []string{"bufio", "exact"} {
		t.Run(kind, func(t *testing.T) {
			in := append(append([]byte(nil), stream...), benWasHere...)
			in = append(in, 0xAB) // the next quorum packet would start here
			var r io.Reader = bytes.NewReader(in)
			if kind == "bufio" {
				r = bufio.NewReaderSize(r, 16) // small buffer: many refills
			}
			got, err := ReadStream(r)
			if err != nil {
				t.Fatal(err)
			}
			requireSame(t, b.t, got)
			if got.LastZxid != 0 {
				t.Errorf("LastZxid %d, want 0 (set by the caller)", got.LastZxid)
			}
			if got.Digest() != b.t.Digest() {
				t.Errorf("digest %#x, want %#x", got.Digest(), b.t.Digest())
			}
			rest, _ := io.ReadAll(r)
			if want := append(append([]byte(nil), benWasHere...), 0xAB); !bytes.Equal(rest, want) {
				t.Fatalf("left %x after the stream, want %x", rest, want)
			}
		})
	}
}

// The stream is exactly the body of the file Write produces for the same
// tree, for the sample tree and for one that needs several batches.
func TestStreamIsFileBody(t *testing.T) {
	wide := newBuilder()
	for p := 0; p < 5; p++ {
		parent := fmt.Sprintf("/p%d", p)
		wide.create(1, parent, []byte(parent), digestACL, false)
		for i := 0; i < 700; i++ { // under 1024 siblings: written sorted
			acl := openACL
			if i%7 == 0 {
				acl = ipACL
			}
			wide.create(1, parent+"/c"+strconv.Itoa(i), []byte(strconv.Itoa(i)), acl, false)
		}
	}
	wide.createSession(0x55, 3000)
	for name, tr := range map[string]*datatree.Tree{
		"empty":  datatree.New(),
		"sample": buildSample(t).t,
		"wide":   wide.t,
	} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(writeTree(t, t.TempDir(), tr, WriteOptions{}))
			if err != nil {
				t.Fatal(err)
			}
			body := fileBody(t, raw)
			if got := streamOf(t, tr); !bytes.Equal(got, body) {
				t.Fatalf("stream (%d bytes) differs from the file body (%d bytes)", len(got), len(body))
			}
		})
	}
	// The empty tree's stream is the body of ZooKeeper's empty snapshot,
	// built independently of the encoder.
	ref := emptyStandalone(false)
	if got := streamOf(t, datatree.New()); !bytes.Equal(got, ref[16:len(ref)-13]) {
		t.Fatalf("empty stream\n got %x\nwant %x", got, ref[16:len(ref)-13])
	}
}

// The body of a snapshot file written by ZooKeeper 3.8.0 reads as a stream
// into the same tree as the file.
func TestReadStreamZooKeeperBody(t *testing.T) {
	path := "../interop/testdata/zk38/snapshot.63"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Read(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Digest == nil || s.LastProcessedZxid != -1 {
		t.Fatalf("expected a 3.8 file with a digest section: %+v", s)
	}
	got, err := ReadStream(bytes.NewReader(fileBody(t, raw)))
	if err != nil {
		t.Fatal(err)
	}
	requireSame(t, s.Tree, got)
}

func TestReadStreamErrors(t *testing.T) {
	stream := streamOf(t, buildSample(t).t)
	// Every strict prefix fails, naming an offset within the stream.
	for n := 0; n < len(stream); n++ {
		_, err := ReadStream(bytes.NewReader(stream[:n]))
		var ea *errAt
		if !errors.As(err, &ea) {
			t.Fatalf("prefix %d: error %v", n, err)
		}
		if ea.off < 0 || ea.off > int64(n) || ea.file != streamName {
			t.Fatalf("prefix %d: %v", n, err)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("prefix %d: %v, want unexpected EOF", n, err)
		}
	}
	var e enc
	e.i(-1) // sessions
	if _, err := ReadStream(bytes.NewReader(e.b)); err == nil {
		t.Fatal("negative session count accepted")
	}
	e = enc{}
	e.i(0)
	e.i(0)
	e.s("/") // no root
	if _, err := ReadStream(bytes.NewReader(e.b)); err == nil {
		t.Fatal("stream without a root accepted")
	}
	e = enc{}
	e.i(0)
	e.i(0)
	e.node("", 5, 0) // ACL id not in the map
	e.s("/")
	if _, err := ReadStream(bytes.NewReader(e.b)); err == nil {
		t.Fatal("unknown ACL id accepted")
	}
	// Huge lengths with little input allocate little.
	for _, blob := range [][]byte{
		func() []byte { e = enc{}; e.i(0x7fffffff); return e.b }(),
		func() []byte { e = enc{}; e.i(0); e.i(0); e.i(0x7ffffff0); return e.b }(),
		func() []byte {
			e = enc{}
			e.i(0)
			e.i(1)
			e.l(1)
			e.i(0x7fffffff)
			return e.b
		}(),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := ReadStream(bytes.NewReader(blob))
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatal("accepted")
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Fatalf("allocated %d bytes for %d bytes of input", alloc, len(blob))
		}
	}
}

// hookWriter calls hook before the first write reaches the buffer (after
// WriteStream captured the sessions and ACL map, before any node is read).
type hookWriter struct {
	bytes.Buffer
	hook func()
	done bool
}

func (h *hookWriter) Write(p []byte) (int, error) {
	if !h.done {
		h.done = true
		h.hook()
	}
	return h.Buffer.Write(p)
}

// replayAfter loads a stream and replays the builder's txns after zxid.
func replayAfter(t *testing.T, b *builder, stream []byte, zxid int64) *datatree.Tree {
	t.Helper()
	got, err := ReadStream(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	got.LastZxid = zxid
	for i := range b.log {
		if rc := &b.log[i]; rc.hdr.Zxid > zxid {
			got.Apply(&rc.hdr, &rc.txn)
		}
	}
	return got
}

func TestStreamACLCreatedDuringWalk(t *testing.T) {
	fresh := []wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "digest", ID: "walk:x"}}}
	setup := func() (*builder, *sync.RWMutex, int64) {
		b := newBuilder()
		var mu sync.RWMutex
		b.mu = &mu
		b.create(1, "/z", []byte("z"), openACL, false)
		b.create(1, "/z/kid", nil, openACL, false)
		b.create(1, "/w", nil, digestACL, false)
		return b, &mu, b.zxid
	}
	t.Run("new node left out, replay restores it", func(t *testing.T) {
		b, mu, zxid := setup()
		w := &hookWriter{hook: func() {
			b.create(1, "/y", []byte("y"), fresh, false)
			b.create(1, "/y/under", []byte("u"), openACL, false)
			b.setACL("/w", openACL) // a list already in the map: written as is
		}}
		if err := WriteStream(w, b.t, mu); err != nil {
			t.Fatal(err)
		}
		direct, err := ReadStream(bytes.NewReader(w.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if direct.Get("/y") != nil || direct.Get("/y/under") != nil || direct.Get("/w") == nil {
			t.Fatal("node with a list created during the walk (or its subtree) was written, or /w was not")
		}
		requireSame(t, b.t, replayAfter(t, b, w.Bytes(), zxid))
	})
	t.Run("old node with a new list fails", func(t *testing.T) {
		b, mu, _ := setup()
		w := &hookWriter{hook: func() { b.setACL("/z", fresh) }}
		if err := WriteStream(w, b.t, mu); !errors.Is(err, ErrStreamACLChanged) {
			t.Fatalf("error %v, want ErrStreamACLChanged", err)
		}
	})
}

// WriteStream while txns keep being applied: the stream plus the txns
// after the zxid at the start rebuild the final tree.
func TestStreamFuzzy(t *testing.T) {
	b := newBuilder()
	r := newRandomOps(b, 11)
	n := 8000
	if testing.Short() {
		n = 3000
	}
	for b.zxid < int64(n) {
		r.step()
	}
	var mu sync.RWMutex
	b.mu = &mu
	var stop atomic.Bool
	var steps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			r.step()
			steps.Add(1)
		}
	}()
	mu.RLock()
	zxid := b.t.LastZxid
	mu.RUnlock()
	writes, stalled := 0, false
	w := &funcWriter{f: func(p []byte) {
		// chunks reach w outside the read lock: the applier must get in
		writes++
		from := steps.Load()
		deadline := time.Now().Add(10 * time.Second)
		for writes <= 4 && steps.Load() < from+10 {
			if time.Now().After(deadline) {
				stalled = true
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}}
	err := WriteStream(w, b.t, &mu)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if stalled {
		t.Fatal("no txn applied while the stream was written")
	}
	if writes < 3 {
		t.Fatalf("only %d writes: the test needs a tree of several chunks", writes)
	}
	got := replayAfter(t, b, w.buf.Bytes(), zxid)
	t.Logf("stream %d bytes in %d writes, %d txns after zxid %d", w.buf.Len(), writes, b.zxid-zxid, zxid)
	requireSame(t, b.t, got)
}

type funcWriter struct {
	buf bytes.Buffer
	f   func([]byte)
}

func (w *funcWriter) Write(p []byte) (int, error) {
	w.f(p)
	return w.buf.Write(p)
}

func FuzzReadStream(f *testing.F) {
	ref := emptyStandalone(false)
	f.Add(ref[16 : len(ref)-13])
	b := newBuilder()
	b.createSession(7, 100)
	b.create(1, "/a", []byte("x"), digestACL, false)
	b.create(7, "/a/e", nil, nil, true)
	b.ttl("/t", nil, ipACL, 10)
	s := streamOf(f, b.t)
	f.Add(s)
	f.Add(s[:40])
	f.Add(append(append([]byte(nil), s...), benWasHere...))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tr, err := ReadStream(r)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20+64*uint64(len(data)) {
			t.Fatalf("%d bytes allocated for %d bytes of input", alloc, len(data))
		}
		if err != nil {
			return
		}
		if tr.Get("/") == nil {
			t.Fatal("loaded a tree without root")
		}
		// Consumed exactly up to the end of the node records: the bytes
		// read end with the terminating ustring "/".
		used := data[:len(data)-r.Len()]
		if !bytes.HasSuffix(used, []byte{0, 0, 0, 1, '/'}) {
			t.Fatalf("stream read up to %d, not ending at the terminator", len(used))
		}
		// What was loaded writes and reads back stably.
		once := streamOf(t, tr)
		tr2, err := ReadStream(bytes.NewReader(once))
		if err != nil {
			t.Fatalf("re-reading our own stream: %v", err)
		}
		if twice := streamOf(t, tr2); !bytes.Equal(once, twice) {
			t.Fatal("stream not stable across a round trip")
		}
	})
}
