package pebblestore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/snapshot"
	"github.com/zkserver/zkserver/wire"
)

// gen applies random valid txns (as the server's prep step would produce
// them) to several trees at once, with fixed zxids and times.
type gen struct {
	rng   *rand.Rand
	trees []*datatree.Tree
	ref   *datatree.Tree // trees[0]
	zxid  int64
	live  []string // paths of nodes that may get children or be changed
	sess  []int64
}

var (
	readACL   = []wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "world", ID: "anyone"}}}
	digestACL = []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "digest", ID: "alice:XDW0Xl2pVgBmkAPH/LjMvxWbTb8="}},
		{Perms: wire.PermRead, Id: wire.Id{Scheme: "world", ID: "anyone"}}}
	ipACL = []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "ip", ID: "127.0.0.1"}}}
	acls  = [][]wire.ACL{nil, datatree.OpenACL, readACL, digestACL, ipACL}
	// names whose byte order differs from the order of their paths'
	// bytes ('-' and '.' sort before '/')
	names = []string{"a", "a-b", "a.b", "b", "zz", "a0", "ä", "x y"}
)

func (g *gen) apply(client int64, txn wire.Txn) {
	g.zxid++
	hdr := wire.TxnHeader{ClientID: client, Cxid: int32(g.zxid), Zxid: g.zxid, Time: 1_700_000_000_000 + g.zxid, Type: txn.Type}
	for _, t := range g.trees {
		c := txn
		t.Apply(&hdr, &c)
	}
}

func (g *gen) step() {
	r := g.rng.IntN(100)
	switch {
	case r < 5 || len(g.sess) == 0:
		id := int64(0x1000 + g.zxid)
		g.apply(id, wire.Txn{Type: wire.OpCreateSession, TimeOut: int32(3000 + g.rng.IntN(5000))})
		g.sess = append(g.sess, id)
	case r < 8 && len(g.sess) > 1:
		i := g.rng.IntN(len(g.sess))
		id := g.sess[i]
		g.sess = append(g.sess[:i], g.sess[i+1:]...)
		g.apply(id, wire.Txn{Type: wire.OpCloseSession, Paths: g.ref.Ephemerals(id)})
	case r < 70:
		parent := "/"
		if len(g.live) > 0 && g.rng.IntN(4) > 0 {
			parent = g.live[g.rng.IntN(len(g.live))]
		}
		path := datatree.Join(parent, fmt.Sprintf("%s%d", names[g.rng.IntN(len(names))], g.rng.IntN(3)))
		p := g.ref.Get(parent)
		if p == nil || p.EphemeralOwner != 0 || g.ref.Get(path) != nil {
			return
		}
		var data []byte
		if g.rng.IntN(5) > 0 {
			data = []byte(fmt.Sprintf("data-%d", g.zxid))
		}
		txn := wire.Txn{Type: wire.OpCreate, Path: path, Data: data, ACL: acls[g.rng.IntN(len(acls))], ParentCVersion: p.Cversion + 1}
		client := int64(1)
		switch g.rng.IntN(8) {
		case 0:
			txn.Ephemeral = true
			client = g.sess[g.rng.IntN(len(g.sess))]
		case 1:
			txn.Type = wire.OpCreateContainer
		}
		g.apply(client, txn)
		if !txn.Ephemeral {
			g.live = append(g.live, path)
		}
	case r < 85 && len(g.live) > 0:
		path := g.live[g.rng.IntN(len(g.live))]
		if n := g.ref.Get(path); n != nil {
			g.apply(1, wire.Txn{Type: wire.OpSetData, Path: path, Data: []byte(fmt.Sprint(g.zxid)), Version: n.Version + 1})
		}
	case r < 90 && len(g.live) > 0:
		path := g.live[g.rng.IntN(len(g.live))]
		if n := g.ref.Get(path); n != nil {
			g.apply(1, wire.Txn{Type: wire.OpSetACL, Path: path, ACL: acls[1+g.rng.IntN(len(acls)-1)], Version: n.Aversion + 1})
		}
	case len(g.live) > 0:
		i := g.rng.IntN(len(g.live))
		path := g.live[i]
		if n := g.ref.Get(path); n != nil && n.NumChildren() == 0 {
			g.apply(1, wire.Txn{Type: wire.OpDelete, Path: path})
			g.live = append(g.live[:i], g.live[i+1:]...)
		}
	}
}

func memSnapshot(t *testing.T, tr *datatree.Tree) []byte {
	t.Helper()
	dir := t.TempDir()
	p, err := snapshot.Write(dir, tr.LastZxid, tr, &sync.RWMutex{}, snapshot.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func viewSnapshot(t *testing.T, src snapshot.Source) []byte {
	t.Helper()
	dir := t.TempDir()
	p, err := snapshot.WriteFrom(dir, src, snapshot.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := snapshot.Name(src.LastZxid(), ""); p[len(p)-len(want):] != want {
		t.Fatalf("file %s, want name %s", p, want)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestViewSnapshotMatchesMemory: the same txns applied to a memory tree
// and a Pebble tree (tiny node cache, so nodes are evicted and decoded
// again) give byte-identical ZooKeeper snapshots, the Pebble one streamed
// from a View; a View keeps its bytes while the tree goes on changing; the
// SNAP stream body agrees too; and the file loads back as the tree.
func TestViewSnapshotMatchesMemory(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), CacheSize: 8 << 20, NodeCacheEntries: 8, BatchBytes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mem := datatree.New()
	pt, err := datatree.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	g := &gen{rng: rand.New(rand.NewPCG(3, 4)), trees: []*datatree.Tree{mem, pt}, ref: mem}
	for i := 0; i < 3000; i++ {
		g.step()
	}
	if mem.NodeCount() < 200 || len(mem.Sessions()) < 3 || mem.ACLs.Len() < 3 {
		t.Fatalf("generated tree too small: %d nodes, %d sessions, %d ACLs", mem.NodeCount(), len(mem.Sessions()), mem.ACLs.Len())
	}
	if err := pt.Sync(); err != nil {
		t.Fatal(err)
	}
	v, err := s.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.LastZxid() != mem.LastZxid || v.Digest() != mem.Digest() {
		t.Fatalf("view at %#x digest %x; memory at %#x digest %x", v.LastZxid(), v.Digest(), mem.LastZxid, mem.Digest())
	}
	if _, err := snapshot.Write(t.TempDir(), pt.LastZxid, pt, &sync.RWMutex{}, snapshot.WriteOptions{}); !errors.Is(err, snapshot.ErrDurableTree) {
		t.Fatalf("Write walked a Pebble tree live: %v", err)
	}
	if err := snapshot.WriteStream(&bytes.Buffer{}, pt, &sync.RWMutex{}); !errors.Is(err, snapshot.ErrDurableTree) {
		t.Fatalf("WriteStream walked a Pebble tree live: %v", err)
	}
	want := memSnapshot(t, mem)
	got := viewSnapshot(t, v)
	if !bytes.Equal(got, want) {
		t.Fatalf("pebble view snapshot (%d bytes) differs from memory snapshot (%d bytes) at byte %d", len(got), len(want), firstDiff(got, want))
	}
	if b := viewSnapshot(t, snapshot.TreeSource{T: mem}); !bytes.Equal(b, want) {
		t.Fatalf("TreeSource snapshot differs from Write's at byte %d", firstDiff(b, want))
	}
	var ws, vs bytes.Buffer
	if err := snapshot.WriteStream(&ws, mem, &sync.RWMutex{}); err != nil {
		t.Fatal(err)
	}
	if err := snapshot.WriteStreamFrom(&vs, v); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ws.Bytes(), vs.Bytes()) {
		t.Fatalf("SNAP stream bodies differ at byte %d", firstDiff(ws.Bytes(), vs.Bytes()))
	}

	// the tree changes (and commits); the view does not
	g.trees = []*datatree.Tree{mem, pt}
	for i := 0; i < 500; i++ {
		g.step()
	}
	if err := pt.Sync(); err != nil {
		t.Fatal(err)
	}
	if again := viewSnapshot(t, v); !bytes.Equal(again, want) {
		t.Fatalf("the view changed with the tree (byte %d)", firstDiff(again, want))
	}
	v2, err := s.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	want2 := memSnapshot(t, mem)
	if bytes.Equal(want2, want) {
		t.Fatal("500 more txns did not change the snapshot")
	}
	if got2 := viewSnapshot(t, v2); !bytes.Equal(got2, want2) {
		t.Fatalf("second view differs at byte %d", firstDiff(got2, want2))
	}

	// the file loads as the tree
	dir := t.TempDir()
	p, err := snapshot.WriteFrom(dir, v2, snapshot.WriteOptions{Compression: "gz"})
	if err != nil {
		t.Fatal(err)
	}
	back, zxid, err := snapshot.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if zxid != mem.LastZxid || back.Digest() != mem.Digest() || back.NodeCount() != mem.NodeCount() {
		t.Fatalf("loaded %#x digest %x count %d; want %#x %x %d", zxid, back.Digest(), back.NodeCount(), mem.LastZxid, mem.Digest(), mem.NodeCount())
	}
}

// TestViewWalkDetectsBrokenIndex: a child index entry without its node
// record is an error, not a silently shorter snapshot.
func TestViewWalkDetectsBrokenIndex(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), CacheSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr, err := datatree.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	g := &gen{rng: rand.New(rand.NewPCG(5, 6)), trees: []*datatree.Tree{tr}, ref: tr}
	for i := 0; i < 200; i++ {
		g.step()
	}
	if err := tr.Sync(); err != nil {
		t.Fatal(err)
	}
	v, err := s.View()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Walk(func(string, *datatree.Node) error { return nil }); err != nil {
		t.Fatalf("intact store: %v", err)
	}
	v.Close()
	// drop one node record behind the tree's back
	if err := s.db.Delete(nodeKey(nil, "/zookeeper/quota"), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	v, err = s.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := snapshot.WriteFrom(t.TempDir(), v, snapshot.WriteOptions{}); err == nil {
		t.Fatal("a snapshot was written from a store missing a node record")
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
