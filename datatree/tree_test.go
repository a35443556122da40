package datatree

import (
	"reflect"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

func statOf(t *testing.T, tr *Tree, path string) wire.Stat {
	t.Helper()
	n := tr.Get(path)
	if n == nil {
		t.Fatalf("%s: missing", path)
	}
	var s wire.Stat
	n.Stat(&s)
	return s
}

func TestNewBuiltins(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		if got := tr.NodeCount(); got != 4 {
			t.Fatalf("NodeCount = %d, want 4", got)
		}
		if tr.Get("") != tr.Get("/") || tr.Get("/") == nil {
			t.Fatal(`"" must alias the root`)
		}
		for _, p := range []string{"/", ZookeeperPath, QuotaPath, ConfigPath} {
			n := tr.Get(p)
			if n == nil {
				t.Fatalf("%s missing", p)
			}
			if len(n.Data) != 0 {
				t.Errorf("%s data = %q", p, n.Data)
			}
			if n.Czxid != 0 || n.Mzxid != 0 || n.Pzxid != 0 || n.Ctime != 0 || n.Mtime != 0 || n.Version != 0 || n.EphemeralOwner != 0 {
				t.Errorf("%s: non-zero stat %+v", p, n)
			}
		}
		for _, p := range []string{"/", ZookeeperPath, QuotaPath} {
			n := tr.Get(p)
			if n.ACL != OpenACLID {
				t.Errorf("%s ACL id = %d, want %d", p, n.ACL, OpenACLID)
			}
			if !reflect.DeepEqual(tr.ACL(n), OpenACL) {
				t.Errorf("%s ACL = %v", p, tr.ACL(n))
			}
			if n.Aversion != 0 {
				t.Errorf("%s aversion = %d", p, n.Aversion)
			}
		}
		cfg := tr.Get(ConfigPath)
		wantCfg := []wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "world", ID: "anyone"}}}
		if !reflect.DeepEqual(tr.ACL(cfg), wantCfg) {
			t.Errorf("config ACL = %v", tr.ACL(cfg))
		}
		if cfg.Aversion != -1 {
			t.Errorf("config aversion = %d, want -1", cfg.Aversion)
		}
		if s := statOf(t, tr, ConfigPath); s.Aversion != -1 {
			t.Errorf("config reported aversion = %d", s.Aversion)
		}
		root := statOf(t, tr, "/")
		if root != (wire.Stat{Cversion: -1, NumChildren: 1}) {
			t.Errorf("root stat = %+v", root)
		}
		zk := statOf(t, tr, ZookeeperPath)
		if zk != (wire.Stat{Cversion: -2, NumChildren: 2}) {
			t.Errorf("/zookeeper stat = %+v", zk)
		}
		if got := tr.Get("/").Children(); !reflect.DeepEqual(got, []string{"zookeeper"}) {
			t.Errorf("root children = %v", got)
		}
		if got := tr.Get(ZookeeperPath).Children(); !reflect.DeepEqual(got, []string{"config", "quota"}) {
			t.Errorf("/zookeeper children = %v", got)
		}
		if tr.LastZxid != 0 {
			t.Errorf("LastZxid = %d", tr.LastZxid)
		}
		if tr.ACLs.Len() != 1 {
			t.Errorf("ACL cache holds %d lists, want 1", tr.ACLs.Len())
		}
		if len(tr.Sessions()) != 0 || len(tr.Containers()) != 0 || len(tr.TTLNodes()) != 0 || tr.EphemeralCount() != 0 {
			t.Error("fresh tree has sessions or special nodes")
		}
	})
}

func TestSplitJoin(t *testing.T) {
	for _, c := range []struct{ path, parent, name string }{
		{"/a", "/", "a"},
		{"/a/b", "/a", "b"},
		{"/a/b/c", "/a/b", "c"},
	} {
		p, n := Split(c.path)
		if p != c.parent || n != c.name {
			t.Errorf("Split(%q) = %q, %q", c.path, p, n)
		}
		if j := Join(p, n); j != c.path {
			t.Errorf("Join(%q, %q) = %q", p, n, j)
		}
	}
}

func TestSpecialOwners(t *testing.T) {
	if !IsContainer(wire.ContainerEphemeralOwner) || IsTTL(wire.ContainerEphemeralOwner) || IsEphemeral(wire.ContainerEphemeralOwner) {
		t.Error("container owner misclassified")
	}
	ttl := wire.TTLMask | 5000
	if !IsTTL(ttl) || IsContainer(ttl) || IsEphemeral(ttl) || TTLOf(ttl) != 5000 {
		t.Error("ttl owner misclassified")
	}
	if !IsEphemeral(0x0100000000000001) || IsEphemeral(0) {
		t.Error("session owner misclassified")
	}
	for _, o := range []int64{wire.ContainerEphemeralOwner, ttl, 0} {
		if ClientEphemeralOwner(o) != 0 {
			t.Errorf("ClientEphemeralOwner(%#x) != 0", o)
		}
	}
	if ClientEphemeralOwner(42) != 42 {
		t.Error("session owner must be reported as is")
	}
}

func TestACLCacheInterning(t *testing.T) {
	c := NewACLCache()
	a := []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "digest", ID: "bob:x"}}}
	b := []wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "digest", ID: "bob:x"}}}
	if c.Intern(nil) != OpenACLID {
		t.Fatal("nil list must map to OpenACLID")
	}
	ida := c.Intern(a)
	// same value, different slice: same id
	ida2 := c.Intern([]wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "digest", ID: "bob:x"}}})
	if ida != ida2 {
		t.Fatalf("equal lists got ids %d and %d", ida, ida2)
	}
	idb := c.Intern(b)
	if idb == ida {
		t.Fatal("different lists share an id")
	}
	// order matters
	ab := c.Intern(append(append([]wire.ACL{}, a...), b...))
	ba := c.Intern(append(append([]wire.ACL{}, b...), a...))
	if ab == ba {
		t.Fatal("lists differing in order share an id")
	}
	if c.Len() != 4 {
		t.Fatalf("Len = %d, want 4", c.Len())
	}
	// the cache keeps its own copy
	a[0].Perms = 1
	if c.Get(ida)[0].Perms != wire.PermAll {
		t.Fatal("cache aliases the caller's slice")
	}
	c.Release(ida)
	if c.Get(ida) == nil {
		t.Fatal("released too early")
	}
	c.Release(ida)
	if c.Get(ida) != nil || c.Len() != 3 {
		t.Fatalf("not dropped at zero refs: %v len %d", c.Get(ida), c.Len())
	}
	// a dropped list interned again gets a fresh id, never a reused one
	idNew := c.Intern([]wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "digest", ID: "bob:x"}}})
	if idNew == ida || idNew == idb || idNew == ab || idNew == ba {
		t.Fatalf("id %d reused", idNew)
	}
	c.Release(OpenACLID) // no-op
	if !reflect.DeepEqual(c.Get(OpenACLID), OpenACL) {
		t.Fatal("OpenACLID lookup")
	}
	var ids []int64
	c.Each(func(id int64, _ []wire.ACL) { ids = append(ids, id) })
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Fatalf("Each not ascending: %v", ids)
		}
	}
}

func TestACLCacheThroughTree(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		base := tr.ACLs.Len()
		acl := []wire.ACL{{Perms: wire.PermRead | wire.PermWrite, Id: wire.Id{Scheme: "digest", ID: "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="}}}
		other := []wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "ip", ID: "10.0.0.0/8"}}}
		zx := int64(0)
		next := func() *wire.TxnHeader { zx++; return &wire.TxnHeader{Zxid: zx, Time: 100 * zx} }
		mk := func(path string, acl []wire.ACL) {
			parent, _ := Split(path)
			cv := tr.Get(parent).Cversion + 1
			cp := append([]wire.ACL(nil), acl...)
			if r := tr.Apply(next(), &wire.Txn{Type: wire.OpCreate, Path: path, ACL: cp, ParentCVersion: cv}); r.Err != wire.ErrOK {
				t.Fatalf("create %s: %v", path, r.Err)
			}
		}
		mk("/a", acl)
		mk("/b", acl)
		if tr.Get("/a").ACL != tr.Get("/b").ACL {
			t.Fatal("equal ACLs not shared")
		}
		id := tr.Get("/a").ACL
		if tr.ACLs.Len() != base+1 {
			t.Fatalf("Len = %d", tr.ACLs.Len())
		}
		// re-applying the create of an existing node must not add a reference
		tr.Apply(next(), &wire.Txn{Type: wire.OpCreate, Path: "/a", ACL: acl, ParentCVersion: 1})
		tr.Apply(next(), &wire.Txn{Type: wire.OpDelete, Path: "/a"})
		if !reflect.DeepEqual(tr.ACLs.Get(id), acl) {
			t.Fatal("list dropped while /b still uses it")
		}
		// setACL moves /b to another list; the old one has no users left
		tr.Apply(next(), &wire.Txn{Type: wire.OpSetACL, Path: "/b", ACL: other, Version: 1})
		if tr.ACLs.Get(id) != nil {
			t.Fatal("unused list kept after setACL")
		}
		if !reflect.DeepEqual(tr.ACL(tr.Get("/b")), other) {
			t.Fatalf("/b ACL = %v", tr.ACL(tr.Get("/b")))
		}
		tr.Apply(next(), &wire.Txn{Type: wire.OpDelete, Path: "/b"})
		if tr.ACLs.Len() != base {
			t.Fatalf("Len = %d after deleting every user, want %d", tr.ACLs.Len(), base)
		}
		// a node with the open ACL (nil list) does not enter the cache
		mk("/c", nil)
		if tr.Get("/c").ACL != OpenACLID || tr.ACLs.Len() != base {
			t.Fatal("nil ACL interned")
		}
	})
}

func TestDescendantCount(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		if got := tr.DescendantCount("/"); got != 3 {
			t.Fatalf(`DescendantCount("/") = %d, want 3`, got)
		}
		zx := int64(0)
		for _, p := range []string{"/a", "/a/b", "/a/b/c", "/a/d", "/e"} {
			zx++
			parent, _ := Split(p)
			tr.Apply(&wire.TxnHeader{Zxid: zx}, &wire.Txn{Type: wire.OpCreate, Path: p, ParentCVersion: tr.Get(parent).Cversion + 1})
		}
		for _, c := range []struct {
			path string
			want int
		}{{"/", 8}, {"", 8}, {"/a", 3}, {"/a/b", 1}, {"/a/b/c", 0}, {"/e", 0}, {"/zookeeper", 2}, {"/missing", 0}} {
			if got := tr.DescendantCount(c.path); got != c.want {
				t.Errorf("DescendantCount(%q) = %d, want %d", c.path, got, c.want)
			}
		}
	})
}

func TestWalkOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		zx := int64(0)
		for _, p := range []string{"/b", "/a", "/a/z", "/a/y"} {
			zx++
			parent, _ := Split(p)
			tr.Apply(&wire.TxnHeader{Zxid: zx}, &wire.Txn{Type: wire.OpCreate, Path: p, ParentCVersion: tr.Get(parent).Cversion + 1})
		}
		var got []string
		tr.Walk(func(p string, _ *Node) error { got = append(got, p); return nil })
		want := []string{"/", "/a", "/a/y", "/a/z", "/b", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Walk = %v, want %v", got, want)
		}
	})
}

func TestSetConfigNode(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		before := tr.DataSize()
		d := tr.Digest()
		tr.SetConfigNode([]byte("server.1=a:1:2:participant\nversion=0"), 1234)
		n := tr.Get(ConfigPath)
		if string(n.Data) != "server.1=a:1:2:participant\nversion=0" || n.Version != -1 || n.Mzxid != 0 || n.Mtime != 1234 {
			t.Fatalf("config node: %+v", n)
		}
		if got := tr.DataSize() - before; got != int64(len(n.Data)) {
			t.Fatalf("data size grew by %d, want %d", got, len(n.Data))
		}
		if tr.Digest() != d {
			t.Fatal("the config node moved the digest")
		}
	})
}
