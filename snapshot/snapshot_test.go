package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// buildSample makes a tree with every kind of node and txn.
func buildSample(t *testing.T) *builder {
	b := newBuilder()
	b.createSession(0x100, 30000)
	b.createSession(0x200, 5000)
	b.createSession(0x300, 4000)
	b.create(1, "/a", []byte("x"), openACL, false)
	b.create(1, "/a/b", nil, openACL, false)
	b.create(1, "/a/c", []byte("c"), digestACL, false)
	b.create(1, "/a/nullacl", []byte("n"), nil, false)
	b.create(0x100, "/a/e1", []byte("eph"), openACL, true)
	b.create(0x200, "/e2", nil, readACL, true)
	b.apply(0x200, wire.Txn{Type: wire.OpCreate2, Path: "/e3", Data: []byte{}, ACL: ipACL, Ephemeral: true, ParentCVersion: b.parentCV("/e3")})
	b.container("/cont", []byte("container"), openACL)
	b.create(1, "/cont/kid", []byte("k"), digestACL2, false)
	b.ttl("/ttl", nil, digestACL, 5000)
	b.create(1, "/a/seq0000000007", []byte("s"), openACL, false)
	b.setData("/a", []byte("x2"))
	b.setData("/a", nil)
	b.setACL("/a/b", digestACL)
	b.setACL("/a/b", digestACL2)
	b.create(1, "/gone", []byte("bye"), ipACL, false)
	b.del("/gone")
	b.del("/a/c")
	b.create(0x300, "/e4", []byte("e4"), openACL, true)
	b.closeSession(0x300)
	b.apply(1, wire.Txn{Type: wire.OpMulti, Ops: []wire.Txn{
		{Type: wire.OpCreate, Path: "/m1", Data: []byte("1"), ACL: openACL, ParentCVersion: b.parentCV("/m1")},
		{Type: wire.OpCreate, Path: "/m1/m2", Data: nil, ACL: digestACL, ParentCVersion: 1},
		{Type: wire.OpSetData, Path: "/m1", Data: []byte("11"), Version: 1},
	}})
	b.setData("/zookeeper/config", []byte("server.1=127.0.0.1:2888:3888"))
	if b.t.Get("/m1/m2") == nil || b.t.Get("/e4") != nil || b.t.Get("/gone") != nil {
		t.Fatal("sample tree not built as intended")
	}
	return b
}

func writeTree(t *testing.T, dir string, tr *datatree.Tree, o WriteOptions) string {
	t.Helper()
	var mu sync.RWMutex
	path, err := Write(dir, tr.LastZxid, tr, &mu, o)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRoundTrip(t *testing.T) {
	for _, comp := range []string{"", "gz", "GZ"} {
		t.Run("compression="+comp, func(t *testing.T) {
			b := buildSample(t)
			dir := t.TempDir()
			path := writeTree(t, dir, b.t, WriteOptions{Compression: comp, Sync: comp == "", Logger: zaptest.NewLogger(t)})
			want := Name(b.zxid, strings.ToLower(comp))
			if filepath.Base(path) != want {
				t.Fatalf("file %s, want %s", path, want)
			}
			if !LooksValid(path) {
				t.Fatal("written snapshot does not look valid")
			}
			got, zxid, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if zxid != b.zxid || got.LastZxid != b.zxid {
				t.Fatalf("zxid %d, LastZxid %d, want %d", zxid, got.LastZxid, b.zxid)
			}
			requireSame(t, b.t, got)
			// ACL ids survive, and unused lists (ipACL of /gone) are gone.
			b.t.Walk(func(p string, n *datatree.Node) error {
				if g := got.Get(p); g.ACL != n.ACL {
					t.Errorf("%s ACL id %d, want %d", p, g.ACL, n.ACL)
				}
				return nil
			})
			if got.ACLs.Len() != b.t.ACLs.Len() {
				t.Errorf("ACL cache %d lists, want %d", got.ACLs.Len(), b.t.ACLs.Len())
			}
			if got.Get("/a").Data != nil || got.Get("/a/b").Data != nil || got.Get("/e3").Data == nil {
				t.Error("null/empty data not preserved")
			}
			if s := got.Sessions(); len(s) != 2 || s[0x100] != 30000 || s[0x200] != 5000 {
				t.Errorf("sessions %v", s)
			}
			// The loaded tree keeps working: new ACL lists get fresh ids.
			id := got.ACLs.Intern([]wire.ACL{{Perms: 3, Id: wire.Id{Scheme: "world", ID: "anyone"}}})
			got.ACLs.Each(func(other int64, _ []wire.ACL) {
				if other > id {
					t.Errorf("new ACL id %d not above loaded id %d", id, other)
				}
			})
			if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
				t.Error("temporary file left behind")
			}
			ents, _ := os.ReadDir(dir)
			if len(ents) != 1 {
				t.Errorf("dir holds %d files, want 1", len(ents))
			}
		})
	}
}

// enc builds expected bytes independently of the wire package.
type enc struct{ b []byte }

func (e *enc) i(v int32)  { e.b = binary.BigEndian.AppendUint32(e.b, uint32(v)) }
func (e *enc) l(v int64)  { e.b = binary.BigEndian.AppendUint64(e.b, uint64(v)) }
func (e *enc) s(v string) { e.i(int32(len(v))); e.b = append(e.b, v...) }
func (e *enc) node(path string, acl int64, aversion int32) {
	e.s(path)
	e.i(0) // empty data
	e.l(acl)
	e.l(0) // czxid
	e.l(0) // mzxid
	e.l(0) // ctime
	e.l(0) // mtime
	e.i(0) // version
	e.i(0) // cversion
	e.i(aversion)
	e.l(0) // ephemeralOwner
	e.l(0) // pzxid
}
func (e *enc) seal() { e.l(int64(adler32.Checksum(e.b))); e.s("/") }

// emptyStandalone is the layout of ZooKeeper 3.8.0's empty standalone
// snapshot (disk-format.md §5.2), with or without the digest part.
func emptyStandalone(digest bool) []byte {
	var e enc
	e.i(0x5A4B534E)
	e.i(2)
	e.l(-1)
	e.i(0) // sessions
	e.i(1) // ACL cache
	e.l(1)
	e.i(1)
	e.i(1)
	e.s("world")
	e.s("anyone")
	e.node("", -1, 0)
	e.node("/zookeeper", -1, 0)
	e.node("/zookeeper/config", 1, -1)
	e.node("/zookeeper/quota", -1, 0)
	e.s("/")
	e.seal()
	if digest {
		e.l(0) // zxid
		e.i(2) // digest version
		e.l(0) // digest
		e.seal()
	}
	return e.b
}

func TestGoldenEmptyStandalone(t *testing.T) {
	full := emptyStandalone(true)
	if len(full) != 457 {
		t.Fatalf("reference layout is %d bytes, want 457", len(full))
	}
	dir := t.TempDir()
	path := writeTree(t, dir, datatree.New(), WriteOptions{})
	if filepath.Base(path) != "snapshot.0" {
		t.Fatalf("name %s", path)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, full) {
		t.Fatalf("empty snapshot differs from ZooKeeper's 457 bytes\n got %x\nwant %x", got, full)
	}
	// A file with the digest part (as ZooKeeper 3.8 writes) loads too.
	p2 := filepath.Join(dir, "snapshot.5")
	if err := os.WriteFile(p2, full, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Read(p2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Digest == nil || s.Digest.Version != 2 || s.Zxid != 5 || s.Tree.LastZxid != 5 || s.LastProcessedZxid != -1 {
		t.Fatalf("%+v digest %+v", s, s.Digest)
	}
	requireSame(t, datatree.New(), s.Tree)
	// 3.9 trailer: last processed zxid and seal 3.
	e := enc{b: append([]byte(nil), full...)}
	e.l(0x42)
	e.seal()
	p3 := filepath.Join(dir, "snapshot.6")
	os.WriteFile(p3, e.b, 0o644)
	if s, err := Read(p3, nil); err != nil || s.LastProcessedZxid != 0x42 {
		t.Fatalf("3.9 file: %v %+v", err, s)
	}
	// Digest version 1 stores the digest as a hex string.
	e = enc{b: append([]byte(nil), emptyStandalone(false)...)}
	e.l(7)
	e.i(1)
	e.s("ff")
	e.seal()
	p4 := filepath.Join(dir, "snapshot.7")
	os.WriteFile(p4, e.b, 0o644)
	if s, err := Read(p4, nil); err != nil || s.Digest.Value != 0xff || s.Digest.Zxid != 7 {
		t.Fatalf("digest v1: %v %+v", err, s)
	}
}

func TestEveryByteFlipDetected(t *testing.T) {
	for _, digest := range []bool{false, true} {
		good := emptyStandalone(digest)
		dir := t.TempDir()
		path := filepath.Join(dir, "snapshot.1")
		for i := range good {
			bad := append([]byte(nil), good...)
			bad[i] ^= 0xff
			os.WriteFile(path, bad, 0o644)
			_, _, err := Load(path)
			if err == nil {
				t.Fatalf("digest=%v: flipping byte %d went unnoticed", digest, i)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "byte offset") {
				t.Fatalf("error does not name file and offset: %v", err)
			}
		}
	}
}

func TestCorruptionAndFallback(t *testing.T) {
	dir := t.TempDir()
	b := buildSample(t)
	old := writeTree(t, dir, b.t, WriteOptions{})
	oldZxid := b.zxid
	oldView := view(b.t)
	b.create(1, "/later", []byte("later"), openACL, false)
	newer := writeTree(t, dir, b.t, WriteOptions{})

	raw, _ := os.ReadFile(newer)
	off := len(raw) - 33 - 19 // last byte of the last node's pzxid (before the 33-byte digest part)
	raw[off] ^= 0x01
	os.WriteFile(newer, raw, 0o644)
	_, _, err := Load(newer)
	if err == nil || !strings.Contains(err.Error(), newer) || !strings.Contains(err.Error(), "byte offset") || !strings.Contains(err.Error(), "seal 1") {
		t.Fatalf("corrupt file: %v", err)
	}
	var ea *errAt
	if !errors.As(err, &ea) || ea.off != int64(len(raw)-33-13) {
		t.Fatalf("offset of error: %v", err)
	}

	// A truncated file (a crash mid-write) does not even look valid.
	trunc := filepath.Join(dir, Name(b.zxid+5, ""))
	os.WriteFile(trunc, raw[:len(raw)/2], 0o644)
	// An unreadable snappy file is tried and skipped.
	os.WriteFile(filepath.Join(dir, Name(b.zxid+6, "snappy")), append(append([]byte{}, snappyMagic...), 0, 0, 0, 1, 0, 0, 0, 1), 0o644)

	tr, zxid, p, err := LoadLatest(dir, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if p != old || zxid != oldZxid || tr.LastZxid != oldZxid {
		t.Fatalf("loaded %s zxid %d, want %s %d", p, zxid, old, oldZxid)
	}
	if tr.Get("/later") != nil || len(view(tr)) != len(oldView) {
		t.Fatal("fell back to the wrong content")
	}

	// Nothing valid at all.
	os.Remove(old)
	if _, _, _, err := LoadLatest(dir, nil); err == nil || errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("all candidates bad: %v", err)
	}
	if _, _, _, err := LoadLatest(t.TempDir(), nil); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("empty dir: %v", err)
	}
	if _, _, _, err := LoadLatest(filepath.Join(dir, "missing"), nil); !errors.Is(err, ErrNoSnapshot) {
		t.Fatalf("missing dir: %v", err)
	}
}

func TestInvalidTrees(t *testing.T) {
	build := func(f func(e *enc)) []byte {
		var e enc
		e.i(Magic)
		e.i(2)
		e.l(-1)
		e.i(1)
		e.l(0x55)
		e.i(3000)
		f(&e)
		e.s("/")
		e.seal()
		return e.b
	}
	cases := map[string][]byte{
		"parent of /a/b missing": build(func(e *enc) {
			e.i(0)
			e.node("", -1, 0)
			e.node("/a/b", -1, 0)
		}),
		"absent from the ACL cache": build(func(e *enc) {
			e.i(0)
			e.node("", -1, 0)
			e.node("/a", 4, 0)
		}),
		"no root": build(func(e *enc) { e.i(0) }),
		"bad path": build(func(e *enc) {
			e.i(0)
			e.node("", -1, 0)
			e.node("//a", -1, 0)
		}),
		"listed twice": build(func(e *enc) {
			e.i(0)
			e.node("", -1, 0)
			e.node("/a", -1, 0)
			e.node("/a", -1, 0)
		}),
		"missing ACL list": build(func(e *enc) {
			e.i(1)
			e.l(1)
			e.i(-1)
			e.node("", -1, 0)
		}),
	}
	dir := t.TempDir()
	for want, raw := range cases {
		p := filepath.Join(dir, "snapshot.3")
		os.WriteFile(p, raw, 0o644)
		_, _, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
	// A minimal tree (root only) gets the built-ins back; unused ACL
	// lists are dropped.
	raw := build(func(e *enc) {
		e.i(1)
		e.l(9)
		e.i(1)
		e.i(31)
		e.s("ip")
		e.s("10.0.0.1")
		e.node("", -1, 0)
	})
	p := filepath.Join(dir, "snapshot.4")
	os.WriteFile(p, raw, 0o644)
	tr, _, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{datatree.ZookeeperPath, datatree.QuotaPath, datatree.ConfigPath} {
		if tr.Get(b) == nil {
			t.Errorf("%s not restored", b)
		}
	}
	if tr.Get(datatree.ConfigPath).Aversion != -1 || tr.ACLs.Len() != 1 || tr.Sessions()[0x55] != 3000 {
		t.Errorf("config aversion %d, %d ACL lists, sessions %v", tr.Get(datatree.ConfigPath).Aversion, tr.ACLs.Len(), tr.Sessions())
	}
}

func TestFuzzyWrite(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		n := 20000
		if seed > 1 || testing.Short() {
			n = 4000
		}
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { fuzzyWrite(t, seed, n) })
	}
}

func fuzzyWrite(t *testing.T, seed uint64, n int) {
	b := newBuilder()
	r := newRandomOps(b, seed)
	for b.zxid < int64(n) {
		r.step()
	}
	var mu sync.RWMutex
	b.mu = &mu

	var stop atomic.Bool
	var steps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	applied := make(chan struct{}, 1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load() || i < 3000; i++ {
			r.step()
			steps.Add(1)
			if i == 200 {
				applied <- struct{}{}
			}
		}
	}()
	<-applied
	mu.RLock()
	zxid := b.t.LastZxid
	mu.RUnlock()
	batches := 0
	stalled := false
	path, err := Write(t.TempDir(), zxid, b.t, &mu, WriteOptions{Progress: func(int) {
		batches++
		if batches > 2 {
			return
		}
		// Mid-walk, the applier must be able to take the write lock:
		// wait for it to apply a few more txns.
		from := steps.Load()
		deadline := time.Now().Add(10 * time.Second)
		for steps.Load() < from+20 {
			if time.Now().After(deadline) {
				stalled = true
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}})
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if batches < 3 {
		t.Fatalf("only %d batches", batches)
	}
	if stalled {
		t.Fatal("no txn applied while the snapshot was written: lock held too long")
	}
	got, fz, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if fz != zxid {
		t.Fatalf("file zxid %d, want %d", fz, zxid)
	}
	replayed := 0
	for i := range b.log {
		if rc := &b.log[i]; rc.hdr.Zxid > fz {
			got.Apply(&rc.hdr, &rc.txn)
			replayed++
		}
	}
	t.Logf("snapshot at zxid %d of %d, %d nodes, %d txns replayed, %d batches", fz, b.zxid, b.t.NodeCount(), replayed, batches)
	if got.LastZxid != b.t.LastZxid {
		t.Fatalf("LastZxid %d, want %d", got.LastZxid, b.t.LastZxid)
	}
	requireSame(t, b.t, got)
}

func TestListNamesPurge(t *testing.T) {
	dir := t.TempDir()
	tr := datatree.New()
	var mu sync.RWMutex
	for _, z := range []int64{1, 0x2, 0xa, 0x10, 0x1f} {
		if _, err := Write(dir, z, tr, &mu, WriteOptions{Compression: map[bool]string{true: "gz"}[z == 0xa]}); err != nil {
			t.Fatal(err)
		}
	}
	junk := []string{"snapshot", "snapshot.", "snapshot.zz", "snapshot.-1", "log.5", "Snapshot.3", "tmp-snapnodes-1"}
	for _, j := range junk {
		os.WriteFile(filepath.Join(dir, j), []byte("junk"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "snapshot.20"), []byte("partial"), 0o644) // newest, invalid
	os.WriteFile(filepath.Join(dir, "snapshot.3.tmp"), []byte("x"), 0o644)

	files, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f.Path))
	}
	if got := strings.Join(names, " "); got != "snapshot.20 snapshot.1f snapshot.10 snapshot.a.gz snapshot.3.tmp snapshot.2 snapshot.1" {
		t.Fatalf("List: %s", got)
	}
	if files[0].Zxid != 0x20 || files[3].Zxid != 0xa {
		t.Fatalf("zxids %+v", files)
	}
	if ZxidFromName("snapshot.FF.gz", Prefix) != 255 || ZxidFromName("log.1", "log") != 1 || ZxidFromName("snapshot..1", Prefix) != -1 {
		t.Fatal("ZxidFromName")
	}

	oldest, removed, err := Purge(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if oldest != 0xa {
		t.Fatalf("oldest kept %#x", oldest)
	}
	for i := range removed {
		removed[i] = filepath.Base(removed[i])
	}
	if got := strings.Join(removed, " "); got != "snapshot.3.tmp snapshot.2 snapshot.1" {
		t.Fatalf("removed %s", got)
	}
	for _, keep := range append(junk, "snapshot.20", "snapshot.1f", "snapshot.10", "snapshot.a.gz") {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
	if o, rm, err := Purge(t.TempDir(), 3); o != -1 || rm != nil || err != nil {
		t.Fatal("purge of empty dir")
	}
	if _, _, err := Purge(dir, 0); err == nil {
		t.Fatal("retain 0 accepted")
	}
}

func TestSnappyUnsupported(t *testing.T) {
	var mu sync.RWMutex
	if _, err := Write(t.TempDir(), 1, datatree.New(), &mu, WriteOptions{Compression: "snappy"}); !errors.Is(err, ErrSnappyUnsupported) {
		t.Fatal(err)
	}
}

func TestLoadProgressLogged(t *testing.T) {
	if testing.Short() {
		t.Skip("large tree")
	}
	b := newBuilder()
	b.create(1, "/big", nil, nil, false)
	for i := 0; i < 1<<16; i++ {
		b.create(1, "/big/"+string(rune('a'+i%26))+itoa(i), nil, nil, false)
	}
	path := writeTree(t, t.TempDir(), b.t, WriteOptions{})
	core, logs := newObserver()
	s, err := Read(path, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if s.Nodes != b.t.NodeCount() {
		t.Fatalf("%d nodes, want %d", s.Nodes, b.t.NodeCount())
	}
	if logs() == 0 {
		t.Fatal("no log line for a large snapshot")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func FuzzLoad(f *testing.F) {
	f.Add(emptyStandalone(false))
	f.Add(emptyStandalone(true))
	b := newBuilder()
	b.createSession(7, 100)
	b.create(1, "/a", []byte("x"), digestACL, false)
	b.create(7, "/a/e", nil, nil, true)
	dir := f.TempDir()
	var mu sync.RWMutex
	p, err := Write(dir, 1, b.t, &mu, WriteOptions{})
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	f.Add(raw)
	f.Add(raw[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := decode(bytes.NewReader(data), int64(len(data)), "fuzz", zap.NewNop(), nil, false)
		runtime.ReadMemStats(&after)
		if err == nil && s.Tree.Get("/") == nil {
			t.Fatal("loaded a tree without root")
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20+64*uint64(len(data)) {
			t.Fatalf("%d bytes allocated for %d bytes of input", alloc, len(data))
		}
	})
}

func TestHugeLengthsDoNotAllocate(t *testing.T) {
	var e enc
	e.i(Magic)
	e.i(2)
	e.l(-1)
	e.i(0x7fffffff) // sessions
	blob1 := append([]byte(nil), e.b...)
	e = enc{}
	e.i(Magic)
	e.i(2)
	e.l(-1)
	e.i(0)
	e.i(0)
	e.i(0x7ffffff0) // root path length
	blob2 := e.b
	for _, blob := range [][]byte{blob1, blob2} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := decode(bytes.NewReader(blob), -1, "x", zap.NewNop(), nil, false) // size unknown, as for gzip
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatal("accepted")
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Fatalf("allocated %d bytes", alloc)
		}
	}
}

func TestVerifyAndReadInto(t *testing.T) {
	dir := t.TempDir()
	b := buildSample(t)
	path := writeTree(t, dir, b.t, WriteOptions{})
	// Verify checks everything Read does, without a tree
	s, err := Verify(path, nil)
	if err != nil || s.Tree != nil || s.Zxid != b.zxid {
		t.Fatalf("Verify: %v tree=%v zxid %#x", err, s != nil && s.Tree != nil, s.Zxid)
	}
	// ReadInto fills the tree it is given: the same tree as Read builds
	into := datatree.NewEmpty()
	s, err = ReadInto(path, into, nil)
	if err != nil || s.Tree != into {
		t.Fatalf("ReadInto: %v", err)
	}
	want, _, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if into.Digest() != want.Digest() || into.NodeCount() != want.NodeCount() || into.LastZxid != want.LastZxid {
		t.Fatalf("ReadInto tree differs: digest %x/%x nodes %d/%d", into.Digest(), want.Digest(), into.NodeCount(), want.NodeCount())
	}
	// a flipped byte fails Verify, with the file and offset
	raw, _ := os.ReadFile(path)
	raw[len(raw)-33-19] ^= 0x01
	os.WriteFile(path, raw, 0o644)
	if _, err := Verify(path, nil); err == nil || !strings.Contains(err.Error(), "seal 1") {
		t.Fatalf("Verify of a corrupt file: %v", err)
	}
}
