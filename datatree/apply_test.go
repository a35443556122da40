package datatree

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

const sess1 int64 = 0x0100000000000001
const sess2 int64 = 0x0100000000000002

// dumpNode is everything observable about one node.
type dumpNode struct {
	Path     string
	Node     Node // children cleared
	Null     bool
	ACL      []wire.ACL
	Children []string
	Stat     wire.Stat
}

type dump struct {
	Nodes      []dumpNode
	Sessions   map[int64]int32
	Ephemerals map[int64][]string
	Containers []string
	TTLs       []string
	DataSize   int64
	ACLs       map[int64][]wire.ACL
}

func dumpTree(tr *Tree) dump {
	var d dump
	tr.Walk(func(p string, n *Node) error {
		dn := dumpNode{Path: p, Node: *n, Null: n.Data == nil, ACL: tr.ACL(n), Children: n.Children()}
		dn.Node.children, dn.Node.ref = nil, nil
		n.Stat(&dn.Stat)
		d.Nodes = append(d.Nodes, dn)
		return nil
	})
	d.Sessions = map[int64]int32{}
	for k, v := range tr.Sessions() {
		d.Sessions[k] = v
	}
	d.Ephemerals = map[int64][]string{}
	for _, s := range tr.EphemeralSessions() {
		d.Ephemerals[s] = tr.Ephemerals(s)
	}
	d.Containers = tr.Containers()
	d.TTLs = tr.TTLNodes()
	d.DataSize = tr.DataSize()
	d.ACLs = map[int64][]wire.ACL{}
	tr.ACLs.Each(func(id int64, acl []wire.ACL) { d.ACLs[id] = acl })
	return d
}

func sameDump(t *testing.T, what string, a, b dump) {
	t.Helper()
	if !reflect.DeepEqual(a, b) {
		for i := 0; i < len(a.Nodes) && i < len(b.Nodes); i++ {
			if !reflect.DeepEqual(a.Nodes[i], b.Nodes[i]) {
				t.Fatalf("%s: first difference at node %d:\n%+v\n%+v", what, i, a.Nodes[i], b.Nodes[i])
			}
		}
		t.Fatalf("%s: trees differ:\n%+v\n%+v", what, a, b)
	}
}

func hdr(zxid int64, session int64) *wire.TxnHeader {
	return &wire.TxnHeader{ClientID: session, Cxid: int32(zxid), Zxid: zxid, Time: 1_000_000 + zxid*10}
}

func create(path string, data string, pcv int32) *wire.Txn {
	return &wire.Txn{Type: wire.OpCreate, Path: path, Data: []byte(data), ParentCVersion: pcv}
}

func mustApply(t *testing.T, tr *Tree, h *wire.TxnHeader, txn *wire.Txn) Result {
	t.Helper()
	r := tr.Apply(h, txn)
	if r.Err != wire.ErrOK {
		t.Fatalf("apply %v %s at zxid %d: %v", txn.Type, txn.Path, h.Zxid, r.Err)
	}
	return r
}

func TestApplyCreateStat(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		size0 := tr.DataSize()
		r := mustApply(t, tr, hdr(5, sess1), create("/a", "hello", 1))
		want := wire.Stat{Czxid: 5, Mzxid: 5, Pzxid: 5, Ctime: 1_000_050, Mtime: 1_000_050, DataLength: 5}
		if got := statOf(t, tr, "/a"); got != want {
			t.Fatalf("stat = %+v\nwant   %+v", got, want)
		}
		if r.Path != "/a" || r.Stat != want {
			t.Fatalf("result = %+v", r)
		}
		wantEv := []Event{{wire.EventNodeCreated, "/a"}, {wire.EventNodeChildrenChanged, "/"}}
		if !reflect.DeepEqual(r.Events, wantEv) {
			t.Fatalf("events = %v", r.Events)
		}
		root := tr.Get("/")
		if root.Cversion != 1 || root.Pzxid != 5 {
			t.Fatalf("root stored cversion %d pzxid %d", root.Cversion, root.Pzxid)
		}
		if s := statOf(t, tr, "/"); s.Cversion != 0 || s.NumChildren != 2 || s.Pzxid != 5 || s.Mzxid != 0 {
			t.Fatalf("root stat = %+v", s)
		}
		if got := tr.DataSize() - size0; got != int64(len("/a")+len("hello")) {
			t.Fatalf("DataSize grew by %d", got)
		}
		if tr.LastZxid != 5 {
			t.Fatalf("LastZxid = %d", tr.LastZxid)
		}
		// create2 is applied like create
		r = mustApply(t, tr, hdr(6, sess1), &wire.Txn{Type: wire.OpCreate2, Path: "/b", ParentCVersion: 2})
		if r.Path != "/b" || r.Stat.Czxid != 6 || r.Stat.EphemeralOwner != 0 {
			t.Fatalf("create2 result %+v", r)
		}
		if tr.Get("/b").Data != nil {
			t.Fatal("null data must stay null")
		}
		if s := statOf(t, tr, "/"); s.Cversion != 1 || s.NumChildren != 3 {
			t.Fatalf("root stat after 2 creates = %+v", s)
		}
	})
}

func TestApplyCreateKinds(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		mustApply(t, tr, hdr(1, sess1), &wire.Txn{Type: wire.OpCreate, Path: "/e", Ephemeral: true, ParentCVersion: 1})
		r := mustApply(t, tr, hdr(2, sess1), &wire.Txn{Type: wire.OpCreateContainer, Path: "/c", ParentCVersion: 2})
		if r.Stat.EphemeralOwner != 0 {
			t.Fatalf("container reports owner %#x", r.Stat.EphemeralOwner)
		}
		r = mustApply(t, tr, hdr(3, sess1), &wire.Txn{Type: wire.OpCreateTTL, Path: "/t", TTL: 7000, ParentCVersion: 3})
		if r.Stat.EphemeralOwner != 0 {
			t.Fatalf("ttl reports owner %#x", r.Stat.EphemeralOwner)
		}
		mustApply(t, tr, hdr(4, sess2), &wire.Txn{Type: wire.OpCreate2, Path: "/c/e2", Ephemeral: true, ParentCVersion: 1})
		mustApply(t, tr, hdr(5, sess1), &wire.Txn{Type: wire.OpCreate, Path: "/p", ParentCVersion: 4})

		if got := tr.Get("/e").EphemeralOwner; got != sess1 {
			t.Fatalf("ephemeral owner %#x", got)
		}
		if s := statOf(t, tr, "/e"); s.EphemeralOwner != sess1 {
			t.Fatalf("ephemeral reported owner %#x", s.EphemeralOwner)
		}
		if got := tr.Get("/c").EphemeralOwner; got != wire.ContainerEphemeralOwner {
			t.Fatalf("container stored owner %#x", got)
		}
		if got := tr.Get("/t").EphemeralOwner; got != wire.TTLMask|7000 || TTLOf(got) != 7000 {
			t.Fatalf("ttl stored owner %#x", got)
		}
		for _, p := range []string{"/c", "/t", "/p"} {
			if s := statOf(t, tr, p); s.EphemeralOwner != 0 {
				t.Errorf("%s reports owner %#x", p, s.EphemeralOwner)
			}
		}
		if got := tr.Containers(); !reflect.DeepEqual(got, []string{"/c"}) {
			t.Errorf("Containers = %v", got)
		}
		if got := tr.TTLNodes(); !reflect.DeepEqual(got, []string{"/t"}) {
			t.Errorf("TTLNodes = %v", got)
		}
		if got := tr.Ephemerals(sess1); !reflect.DeepEqual(got, []string{"/e"}) {
			t.Errorf("Ephemerals(1) = %v", got)
		}
		if got := tr.Ephemerals(sess2); !reflect.DeepEqual(got, []string{"/c/e2"}) {
			t.Errorf("Ephemerals(2) = %v", got)
		}
		if got := tr.EphemeralSessions(); !reflect.DeepEqual(got, []int64{sess1, sess2}) {
			t.Errorf("EphemeralSessions = %v", got)
		}
		if tr.EphemeralCount() != 2 {
			t.Errorf("EphemeralCount = %d", tr.EphemeralCount())
		}
		// deleting removes the index entries
		mustApply(t, tr, hdr(6, sess2), &wire.Txn{Type: wire.OpDelete, Path: "/c/e2"})
		mustApply(t, tr, hdr(7, 0), &wire.Txn{Type: wire.OpDeleteContainer, Path: "/c"})
		mustApply(t, tr, hdr(8, 0), &wire.Txn{Type: wire.OpDeleteContainer, Path: "/t"})
		mustApply(t, tr, hdr(9, sess1), &wire.Txn{Type: wire.OpDelete, Path: "/e"})
		if len(tr.Containers()) != 0 || len(tr.TTLNodes()) != 0 || tr.EphemeralCount() != 0 || len(tr.EphemeralSessions()) != 0 {
			t.Fatalf("indexes not emptied: %v %v %v", tr.Containers(), tr.TTLNodes(), tr.EphemeralSessions())
		}
	})
}

func TestApplyParentCversionAndPzxid(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		mustApply(t, tr, hdr(1, sess1), create("/a", "", 1))
		mustApply(t, tr, hdr(2, sess1), create("/a/x", "", 1))
		mustApply(t, tr, hdr(3, sess1), create("/a/y", "", 2))
		mustApply(t, tr, hdr(4, sess1), create("/a/z", "", 3))
		r := mustApply(t, tr, hdr(5, sess1), &wire.Txn{Type: wire.OpDelete, Path: "/a/y"})
		wantEv := []Event{{wire.EventNodeDeleted, "/a/y"}, {wire.EventNodeChildrenChanged, "/a"}}
		if !reflect.DeepEqual(r.Events, wantEv) {
			t.Fatalf("delete events = %v", r.Events)
		}
		a := tr.Get("/a")
		if a.Cversion != 3 || a.Pzxid != 5 || a.NumChildren() != 2 {
			t.Fatalf("/a stored cversion %d pzxid %d children %d", a.Cversion, a.Pzxid, a.NumChildren())
		}
		s := statOf(t, tr, "/a")
		if s.Cversion != 4 || s.NumChildren != 2 || s.Pzxid != 5 || s.Mzxid != 1 || s.Czxid != 1 {
			t.Fatalf("/a stat = %+v", s)
		}
		mustApply(t, tr, hdr(6, sess1), create("/a/w", "", 4))
		if s := statOf(t, tr, "/a"); s.Cversion != 5 || s.Pzxid != 6 {
			t.Fatalf("/a stat after another create = %+v", s)
		}
		// a delete at a lower zxid (replay) does not lower pzxid
		tr.Get("/a").Pzxid = 100
		mustApply(t, tr, hdr(7, sess1), &wire.Txn{Type: wire.OpDelete, Path: "/a/w"})
		if tr.Get("/a").Pzxid != 100 {
			t.Fatalf("pzxid lowered to %d", tr.Get("/a").Pzxid)
		}
		if tr.Get("/a/w") != nil {
			t.Fatal("not deleted")
		}
	})
}

func TestApplyLegacyParentCversion(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		mustApply(t, tr, hdr(1, sess1), create("/a", "", -1))
		if root := tr.Get("/"); root.Cversion != 1 || root.Pzxid != 1 {
			t.Fatalf("root cversion %d pzxid %d", root.Cversion, root.Pzxid)
		}
		mustApply(t, tr, hdr(2, sess1), create("/b", "", -1))
		if root := tr.Get("/"); root.Cversion != 2 || root.Pzxid != 2 {
			t.Fatalf("root cversion %d pzxid %d", root.Cversion, root.Pzxid)
		}
		// a legacy create of an existing node still bumps the parent, as
		// ZooKeeper's replay does with parentCVersion -1
		r := tr.Apply(hdr(3, sess1), create("/b", "", -1))
		if r.Err != wire.ErrNodeExists {
			t.Fatalf("err = %v", r.Err)
		}
		if root := tr.Get("/"); root.Cversion != 3 || root.Pzxid != 3 {
			t.Fatalf("root cversion %d pzxid %d", root.Cversion, root.Pzxid)
		}
	})
}

func TestApplyReplayTolerance(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		txn := create("/a", "v1", 1)
		mustApply(t, tr, hdr(1, sess1), txn)
		before := dumpTree(tr)
		r := tr.Apply(hdr(1, sess1), txn)
		if r.Err != wire.ErrNodeExists || len(r.Events) != 0 || r.Path != "" {
			t.Fatalf("replayed create: %+v", r)
		}
		sameDump(t, "same create twice", before, dumpTree(tr))

		// existing node, txn carrying a higher parent cversion: only the
		// parent's counter and pzxid move
		r = tr.Apply(hdr(9, sess1), create("/a", "other", 7))
		if r.Err != wire.ErrNodeExists {
			t.Fatalf("err = %v", r.Err)
		}
		after := dumpTree(tr)
		root := tr.Get("/")
		if root.Cversion != 7 || root.Pzxid != 9 {
			t.Fatalf("root cversion %d pzxid %d", root.Cversion, root.Pzxid)
		}
		if !reflect.DeepEqual(before.Nodes[1], after.Nodes[1]) {
			t.Fatalf("/a changed:\n%+v\n%+v", before.Nodes[1], after.Nodes[1])
		}
		if string(tr.Get("/a").Data) != "v1" || tr.DataSize() != before.DataSize {
			t.Fatal("existing node or data size touched")
		}
		// a lower parent cversion never lowers the counter
		tr.Apply(hdr(10, sess1), create("/a", "", 2))
		if root.Cversion != 7 || root.Pzxid != 9 {
			t.Fatalf("root cversion %d pzxid %d after a lower replay", root.Cversion, root.Pzxid)
		}
		// a fresh create with a lower carried value leaves the counter alone
		// but still creates the node
		mustApply(t, tr, hdr(11, sess1), create("/b", "", 3))
		if root.Cversion != 7 || root.Pzxid != 9 || tr.Get("/b") == nil {
			t.Fatalf("root cversion %d pzxid %d", root.Cversion, root.Pzxid)
		}

		// missing nodes: a delete (as ZooKeeper's DataTree.deleteNode,
		// for a child a fuzzy snapshot missed) still moves the parent's
		// pzxid, and nothing else
		for _, typ := range []wire.Op{wire.OpDelete, wire.OpDeleteContainer} {
			before = dumpTree(tr)
			if r := tr.Apply(hdr(12, sess1), &wire.Txn{Type: typ, Path: "/nope"}); r.Err != wire.ErrNoNode || len(r.Events) != 0 {
				t.Fatalf("%v missing: %+v", typ, r)
			}
			if root := tr.Get("/"); root.Pzxid != 12 || root.Cversion != 7 {
				t.Fatalf("%v missing: root cversion %d pzxid %d, want 7 and 12", typ, root.Cversion, root.Pzxid)
			}
			after := dumpTree(tr)
			if !reflect.DeepEqual(before.Nodes[1:], after.Nodes[1:]) || before.DataSize != after.DataSize {
				t.Fatalf("%v missing: nodes other than the parent changed", typ)
			}
		}
		before = dumpTree(tr)
		if r := tr.Apply(hdr(13, sess1), &wire.Txn{Type: wire.OpSetData, Path: "/nope", Data: []byte("x"), Version: 1}); r.Err != wire.ErrNoNode {
			t.Fatalf("setData missing: %v", r.Err)
		}
		if r := tr.Apply(hdr(14, sess1), &wire.Txn{Type: wire.OpSetACL, Path: "/nope", Version: 1}); r.Err != wire.ErrNoNode {
			t.Fatalf("setACL missing: %v", r.Err)
		}
		if r := tr.Apply(hdr(15, sess1), create("/nope/child", "", 1)); r.Err != wire.ErrNoNode {
			t.Fatalf("create under missing parent: %v", r.Err)
		}
		if r := tr.Apply(hdr(16, sess1), &wire.Txn{Type: wire.OpDelete, Path: "/"}); r.Err != wire.ErrNoNode {
			t.Fatalf("delete of the root: %v", r.Err)
		}
		sameDump(t, "failed applies", before, dumpTree(tr))
		if tr.LastZxid != 16 {
			t.Fatalf("LastZxid = %d", tr.LastZxid)
		}
		// LastZxid never goes down
		tr.Apply(hdr(3, sess1), &wire.Txn{Type: wire.OpError, Err: wire.ErrBadVersion})
		if tr.LastZxid != 16 {
			t.Fatalf("LastZxid went down to %d", tr.LastZxid)
		}
	})
}

func TestApplySetDataAndACL(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		mustApply(t, tr, hdr(1, sess1), create("/a", "abc", 1))
		size := tr.DataSize()
		r := mustApply(t, tr, hdr(2, sess1), &wire.Txn{Type: wire.OpSetData, Path: "/a", Data: []byte("hello world"), Version: 1})
		want := wire.Stat{Czxid: 1, Mzxid: 2, Pzxid: 1, Ctime: hdr(1, 0).Time, Mtime: hdr(2, 0).Time, Version: 1, DataLength: 11}
		if r.Stat != want || statOf(t, tr, "/a") != want {
			t.Fatalf("setData stat = %+v\nwant %+v", r.Stat, want)
		}
		if !reflect.DeepEqual(r.Events, []Event{{wire.EventNodeDataChanged, "/a"}}) {
			t.Fatalf("setData events = %v", r.Events)
		}
		if tr.DataSize()-size != 8 {
			t.Fatalf("DataSize delta = %d", tr.DataSize()-size)
		}
		// the txn carries the new version; apply takes it as is
		mustApply(t, tr, hdr(3, sess1), &wire.Txn{Type: wire.OpSetData, Path: "/a", Data: nil, Version: 7})
		if s := statOf(t, tr, "/a"); s.Version != 7 || s.DataLength != 0 || s.Mzxid != 3 {
			t.Fatalf("stat = %+v", s)
		}
		if tr.DataSize() != size-3 {
			t.Fatalf("DataSize = %d, want %d", tr.DataSize(), size-3)
		}
		// reconfig is a setData of /zookeeper/config with version -1
		mustApply(t, tr, hdr(4, 0), &wire.Txn{Type: wire.OpReconfig, Path: ConfigPath, Data: []byte("server.1=x"), Version: -1})
		if s := statOf(t, tr, ConfigPath); s.Version != -1 || s.Mzxid != 4 || string(tr.Get(ConfigPath).Data) != "server.1=x" {
			t.Fatalf("config stat = %+v", s)
		}

		acl := []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "digest", ID: "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="}}}
		before := statOf(t, tr, "/a")
		r = mustApply(t, tr, hdr(5, sess1), &wire.Txn{Type: wire.OpSetACL, Path: "/a", ACL: acl, Version: 1})
		if len(r.Events) != 0 {
			t.Fatalf("setACL events = %v", r.Events)
		}
		want = before
		want.Aversion = 1
		if r.Stat != want || statOf(t, tr, "/a") != want {
			t.Fatalf("setACL stat = %+v, want %+v (no zxid/time change)", r.Stat, want)
		}
		if !reflect.DeepEqual(tr.ACL(tr.Get("/a")), acl) {
			t.Fatalf("ACL = %v", tr.ACL(tr.Get("/a")))
		}
	})
}

func TestApplyCheckAndError(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		mustApply(t, tr, hdr(1, sess1), create("/a", "", 1))
		before := dumpTree(tr)
		if r := tr.Apply(hdr(2, sess1), &wire.Txn{Type: wire.OpCheck, Path: "/a", Version: 0}); r.Err != wire.ErrOK {
			t.Fatalf("check: %v", r.Err)
		}
		if r := tr.Apply(hdr(3, sess1), &wire.Txn{Type: wire.OpCheck, Path: "/b"}); r.Err != wire.ErrNoNode {
			t.Fatalf("check missing: %v", r.Err)
		}
		r := tr.Apply(hdr(4, sess1), &wire.Txn{Type: wire.OpError, Err: wire.ErrBadVersion})
		if r.Err != wire.ErrBadVersion || len(r.Events) != 0 {
			t.Fatalf("error txn: %+v", r)
		}
		sameDump(t, "check/error", before, dumpTree(tr))
		if tr.LastZxid != 4 {
			t.Fatalf("LastZxid = %d, error txns still count", tr.LastZxid)
		}
	})
}

func TestApplySessions(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		mustApply(t, tr, hdr(1, sess1), &wire.Txn{Type: wire.OpCreateSession, TimeOut: 4000})
		mustApply(t, tr, hdr(2, sess2), &wire.Txn{Type: wire.OpCreateSession, TimeOut: 6000})
		if !reflect.DeepEqual(tr.Sessions(), map[int64]int32{sess1: 4000, sess2: 6000}) {
			t.Fatalf("sessions = %v", tr.Sessions())
		}
		mustApply(t, tr, hdr(3, sess1), create("/p", "", 1))
		mustApply(t, tr, hdr(4, sess1), &wire.Txn{Type: wire.OpCreate, Path: "/p/e1", Ephemeral: true, ParentCVersion: 1})
		mustApply(t, tr, hdr(5, sess1), &wire.Txn{Type: wire.OpCreate, Path: "/p/e2", Ephemeral: true, ParentCVersion: 2})
		mustApply(t, tr, hdr(6, sess1), &wire.Txn{Type: wire.OpCreate, Path: "/e3", Ephemeral: true, ParentCVersion: 3})
		mustApply(t, tr, hdr(7, sess2), &wire.Txn{Type: wire.OpCreate, Path: "/p/other", Ephemeral: true, ParentCVersion: 3})
		cvBefore := statOf(t, tr, "/p").Cversion
		rootCV := statOf(t, tr, "/").Cversion

		// the txn lists only some of the session's ephemerals (and one that is
		// already gone); the rest must go too
		r := mustApply(t, tr, hdr(8, sess1), &wire.Txn{Type: wire.OpCloseSession, Paths: []string{"/p/e1", "/gone"}})
		for _, p := range []string{"/p/e1", "/p/e2", "/e3"} {
			if tr.Get(p) != nil {
				t.Errorf("%s survived closeSession", p)
			}
		}
		if tr.Get("/p/other") == nil {
			t.Fatal("another session's ephemeral deleted")
		}
		if _, ok := tr.Sessions()[sess1]; ok {
			t.Fatal("session not removed")
		}
		if len(tr.Ephemerals(sess1)) != 0 {
			t.Fatalf("Ephemerals = %v", tr.Ephemerals(sess1))
		}
		if got := tr.EphemeralSessions(); !reflect.DeepEqual(got, []int64{sess2}) {
			t.Fatalf("EphemeralSessions = %v", got)
		}
		p := statOf(t, tr, "/p")
		if p.Pzxid != 8 || p.Cversion != cvBefore+2 || p.NumChildren != 1 {
			t.Fatalf("/p stat = %+v (cversion before %d)", p, cvBefore)
		}
		if s := statOf(t, tr, "/"); s.Pzxid != 8 || s.Cversion != rootCV+1 {
			t.Fatalf("root stat = %+v", s)
		}
		deleted := map[string]bool{}
		for _, ev := range r.Events {
			if ev.Type == wire.EventNodeDeleted {
				deleted[ev.Path] = true
			}
		}
		if len(deleted) != 3 || !deleted["/p/e1"] || !deleted["/p/e2"] || !deleted["/e3"] {
			t.Fatalf("closeSession events = %v", r.Events)
		}
		// a closeSession without a body (old logs) still removes ephemerals
		mustApply(t, tr, hdr(9, sess2), &wire.Txn{Type: wire.OpCloseSession})
		if tr.Get("/p/other") != nil || len(tr.Sessions()) != 0 || tr.EphemeralCount() != 0 {
			t.Fatal("bodiless closeSession left state behind")
		}
	})
}

func TestApplyFailedMulti(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		mustApply(t, tr, hdr(1, sess1), create("/a", "x", 1))
		before := dumpTree(tr)
		txn := &wire.Txn{Type: wire.OpMulti, Ops: []wire.Txn{
			{Type: wire.OpCreate, Path: "/m1", ParentCVersion: 2},
			{Type: wire.OpSetData, Path: "/a", Data: []byte("y"), Version: 1},
			{Type: wire.OpError, Err: wire.ErrBadVersion},
			{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency},
			{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency},
		}}
		r := tr.Apply(hdr(2, sess1), txn)
		if r.Err != wire.ErrOK {
			t.Fatalf("failed multi is still OK as a whole, got %v", r.Err)
		}
		want := []wire.MultiResult{
			{Type: wire.OpError, Err: wire.ErrOK},
			{Type: wire.OpError, Err: wire.ErrOK},
			{Type: wire.OpError, Err: wire.ErrBadVersion},
			{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency},
			{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency},
		}
		if !reflect.DeepEqual(r.Multi, want) {
			t.Fatalf("results = %+v", r.Multi)
		}
		if len(r.Events) != 0 {
			t.Fatalf("events = %v", r.Events)
		}
		sameDump(t, "failed multi", before, dumpTree(tr))
		if tr.LastZxid != 2 {
			t.Fatalf("LastZxid = %d", tr.LastZxid)
		}
		// encoded as the server writes it, the failed multi gives the bytes
		// of the live capture (create ok, setData bad version)
		r = tr.Apply(hdr(3, sess1), &wire.Txn{Type: wire.OpMulti, Ops: []wire.Txn{
			{Type: wire.OpCreate, Path: "/m1", ParentCVersion: 2},
			{Type: wire.OpError, Err: wire.ErrBadVersion},
		}})
		var e wire.Encoder
		(&wire.MultiResponse{Results: r.Multi}).Encode(&e)
		got := fmt.Sprintf("%x", e.B)
		if wantHex := "ffffffff0000000000" + "00000000" + "ffffffff00ffffff99" + "ffffff99" + "ffffffff01ffffffff"; got != wantHex {
			t.Fatalf("encoded = %s\nwant      %s", got, wantHex)
		}
	})
}

func TestApplyMultiSuccess(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.tree(t)
		mustApply(t, tr, hdr(1, sess1), create("/a", "x", 1))
		mustApply(t, tr, hdr(2, sess1), create("/del", "", 2))
		txn := &wire.Txn{Type: wire.OpMulti, Ops: []wire.Txn{
			{Type: wire.OpCreate, Path: "/m", Data: []byte("d"), ParentCVersion: 3},
			{Type: wire.OpCreate2, Path: "/m/x", Ephemeral: true, ParentCVersion: 1},
			{Type: wire.OpCreateContainer, Path: "/c", ParentCVersion: 4},
			{Type: wire.OpCreateTTL, Path: "/t", TTL: 100, ParentCVersion: 5},
			{Type: wire.OpSetData, Path: "/a", Data: []byte("yy"), Version: 1},
			{Type: wire.OpCheck, Path: "/a", Version: 1},
			{Type: wire.OpDelete, Path: "/del"},
		}}
		r := mustApply(t, tr, hdr(3, sess1), txn)
		if len(r.Multi) != 7 {
			t.Fatalf("results = %+v", r.Multi)
		}
		types := []wire.Op{wire.OpCreate, wire.OpCreate, wire.OpCreate2, wire.OpCreate2, wire.OpSetData, wire.OpCheck, wire.OpDelete}
		for i, res := range r.Multi {
			if res.Type != types[i] || res.Err != wire.ErrOK {
				t.Errorf("result %d = %+v, want type %v", i, res, types[i])
			}
		}
		if r.Multi[0].Path != "/m" || r.Multi[1].Path != "/m/x" || r.Multi[2].Path != "/c" || r.Multi[3].Path != "/t" {
			t.Errorf("paths: %+v", r.Multi)
		}
		if r.Multi[0].Stat != (wire.Stat{}) || r.Multi[1].Stat != (wire.Stat{}) {
			t.Error("plain create results carry a Stat")
		}
		if s := r.Multi[2].Stat; s.Czxid != 3 || s.EphemeralOwner != 0 {
			t.Errorf("container stat %+v", s)
		}
		if s := r.Multi[3].Stat; s.Czxid != 3 || s.EphemeralOwner != 0 {
			t.Errorf("ttl stat %+v", s)
		}
		if s := r.Multi[4].Stat; s != statOf(t, tr, "/a") || s.Version != 1 || s.Mzxid != 3 {
			t.Errorf("setData stat %+v", s)
		}
		wantEv := []Event{
			{wire.EventNodeCreated, "/m"}, {wire.EventNodeChildrenChanged, "/"},
			{wire.EventNodeCreated, "/m/x"}, {wire.EventNodeChildrenChanged, "/m"},
			{wire.EventNodeCreated, "/c"}, {wire.EventNodeChildrenChanged, "/"},
			{wire.EventNodeCreated, "/t"}, {wire.EventNodeChildrenChanged, "/"},
			{wire.EventNodeDataChanged, "/a"},
			{wire.EventNodeDeleted, "/del"}, {wire.EventNodeChildrenChanged, "/"},
		}
		if !reflect.DeepEqual(r.Events, wantEv) {
			t.Fatalf("events = %v", r.Events)
		}
		if tr.Get("/m/x").EphemeralOwner != sess1 || tr.Get("/del") != nil {
			t.Fatal("multi effects missing")
		}
		if s := statOf(t, tr, "/"); s.Pzxid != 3 || s.NumChildren != 5 || s.Cversion != 2*5-5 {
			t.Fatalf("root stat %+v", s)
		}
	})
}

// randomTxns drives a model tree and returns valid txns in zxid order.
type txnGen struct {
	rng      *rand.Rand
	tr       *Tree
	zxid     int64
	sessions []int64
	nextSess int64
}

var genACLs = [][]wire.ACL{
	nil,
	{{Perms: wire.PermRead, Id: wire.Id{Scheme: "world", ID: "anyone"}}},
	{{Perms: wire.PermAll, Id: wire.Id{Scheme: "digest", ID: "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="}}},
	{{Perms: wire.PermAll, Id: wire.Id{Scheme: "ip", ID: "127.0.0.1"}}, {Perms: wire.PermRead, Id: wire.Id{Scheme: "world", ID: "anyone"}}},
}

func (g *txnGen) paths() []string {
	var out []string
	g.tr.Walk(func(p string, _ *Node) error { out = append(out, p); return nil })
	return out
}

func (g *txnGen) pick(ps []string) string { return ps[g.rng.Intn(len(ps))] }

func (g *txnGen) userPaths() []string {
	var out []string
	for _, p := range g.paths() {
		if p != "/" && p != ZookeeperPath && p != QuotaPath && p != ConfigPath {
			out = append(out, p)
		}
	}
	return out
}

// createOp makes a create-like txn under a random parent, updating nothing.
func (g *txnGen) createOp(taken map[string]bool, pcv map[string]int32) (wire.Txn, bool) {
	var parents []string
	for _, p := range g.paths() {
		n := g.tr.Get(p)
		if n != nil && !IsEphemeral(n.EphemeralOwner) && p != ConfigPath {
			parents = append(parents, p)
		}
	}
	parent := g.pick(parents)
	cv, ok := pcv[parent]
	if !ok {
		cv = g.tr.Get(parent).Cversion
	}
	name := fmt.Sprintf("n%d", g.rng.Intn(6))
	if g.rng.Intn(4) == 0 {
		name = fmt.Sprintf("s%010d", cv)
	}
	path := Join(parent, name)
	if g.tr.Get(path) != nil || taken[path] {
		return wire.Txn{}, false
	}
	var data []byte
	if g.rng.Intn(3) > 0 {
		data = make([]byte, g.rng.Intn(8))
		g.rng.Read(data)
	}
	txn := wire.Txn{Type: wire.OpCreate, Path: path, Data: data, ACL: genACLs[g.rng.Intn(len(genACLs))], ParentCVersion: cv + 1}
	switch g.rng.Intn(6) {
	case 0:
		txn.Type = wire.OpCreate2
	case 1:
		txn.Type = wire.OpCreateContainer
	case 2:
		txn.Type = wire.OpCreateTTL
		txn.TTL = int64(1 + g.rng.Intn(100000))
	case 3:
		if len(g.sessions) > 0 {
			txn.Ephemeral = true
		}
	}
	taken[path] = true
	pcv[parent] = cv + 1
	return txn, true
}

func (g *txnGen) leaf() (string, bool) {
	var leaves []string
	for _, p := range g.userPaths() {
		if g.tr.Get(p).NumChildren() == 0 {
			leaves = append(leaves, p)
		}
	}
	if len(leaves) == 0 {
		return "", false
	}
	return g.pick(leaves), true
}

func (g *txnGen) next() (*wire.TxnHeader, *wire.Txn) {
	g.zxid++
	h := &wire.TxnHeader{Zxid: g.zxid, Time: 1_700_000_000_000 + g.zxid*7, Cxid: int32(g.zxid)}
	if len(g.sessions) > 0 {
		h.ClientID = g.sessions[g.rng.Intn(len(g.sessions))]
	}
	for {
		switch g.rng.Intn(12) {
		case 0, 1, 2, 3:
			if txn, ok := g.createOp(map[string]bool{}, map[string]int32{}); ok {
				h.Type = txn.Type
				return h, &txn
			}
		case 4:
			if p, ok := g.leaf(); ok {
				return h, &wire.Txn{Type: wire.OpDelete, Path: p}
			}
		case 5:
			ps := g.userPaths()
			if len(ps) > 0 {
				p := g.pick(ps)
				return h, &wire.Txn{Type: wire.OpSetData, Path: p, Data: []byte(fmt.Sprint(g.zxid)), Version: g.tr.Get(p).Version + 1}
			}
		case 6:
			ps := g.userPaths()
			if len(ps) > 0 {
				p := g.pick(ps)
				return h, &wire.Txn{Type: wire.OpSetACL, Path: p, ACL: genACLs[g.rng.Intn(len(genACLs))], Version: g.tr.Get(p).Aversion + 1}
			}
		case 7:
			g.nextSess++
			id := 0x0100000000000000 + g.nextSess
			g.sessions = append(g.sessions, id)
			h.ClientID = id
			return h, &wire.Txn{Type: wire.OpCreateSession, TimeOut: int32(4000 + g.rng.Intn(1000))}
		case 8:
			if len(g.sessions) > 0 {
				i := g.rng.Intn(len(g.sessions))
				id := g.sessions[i]
				g.sessions = append(g.sessions[:i], g.sessions[i+1:]...)
				h.ClientID = id
				paths := g.tr.Ephemerals(id)
				if g.rng.Intn(2) == 0 && len(paths) > 0 {
					paths = paths[:len(paths)/2]
				}
				return h, &wire.Txn{Type: wire.OpCloseSession, Paths: paths}
			}
		case 9:
			return h, &wire.Txn{Type: wire.OpError, Err: wire.ErrBadVersion}
		case 10:
			// a successful multi of independent creates, or a failed one
			taken, pcv := map[string]bool{}, map[string]int32{}
			var ops []wire.Txn
			for i := 0; i < 1+g.rng.Intn(3); i++ {
				if txn, ok := g.createOp(taken, pcv); ok {
					if txn.Type == wire.OpCreate2 {
						txn.Type = wire.OpCreate
					}
					ops = append(ops, txn)
				}
			}
			if len(ops) == 0 {
				continue
			}
			if g.rng.Intn(3) == 0 {
				ops = append(ops, wire.Txn{Type: wire.OpError, Err: wire.ErrNoNode}, wire.Txn{Type: wire.OpError, Err: wire.ErrRuntimeInconsistency})
			}
			return h, &wire.Txn{Type: wire.OpMulti, Ops: ops}
		case 11:
			// replay-style noise: an existing create or a missing delete
			ps := g.userPaths()
			if len(ps) > 0 && g.rng.Intn(2) == 0 {
				p := g.pick(ps)
				parent, _ := Split(p)
				return h, &wire.Txn{Type: wire.OpCreate, Path: p, ParentCVersion: g.tr.Get(parent).Cversion + int32(g.rng.Intn(3))}
			}
			return h, &wire.Txn{Type: wire.OpDelete, Path: "/missing"}
		}
	}
}

func roundTrip(t *testing.T, txn *wire.Txn) *wire.Txn {
	t.Helper()
	var e wire.Encoder
	txn.EncodeBody(&e)
	var out wire.Txn
	d := wire.NewDecoder(e.B)
	out.DecodeBody(d, txn.Type, false)
	if d.Err() != nil || d.Remaining() != 0 {
		t.Fatalf("round trip of %v: %v (%d left)", txn.Type, d.Err(), d.Remaining())
	}
	return &out
}

func TestApplyDeterministicRandom(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		for _, seed := range []int64{1, 2, 3, 42, 2024} {
			t.Run(fmt.Sprint(seed), func(t *testing.T) {
				g := &txnGen{rng: rand.New(rand.NewSource(seed)), tr: sc.tree(t)}
				other := sc.tree(t)
				for i := 0; i < 600; i++ {
					h, txn := g.next()
					ra := g.tr.Apply(h, txn)
					// the second tree gets the txn as it comes back from the log
					rb := other.Apply(h, roundTrip(t, txn))
					if ra.Err != rb.Err || !reflect.DeepEqual(ra.Events, rb.Events) || ra.Stat != rb.Stat || len(ra.Multi) != len(rb.Multi) {
						t.Fatalf("step %d (%v %s): results differ\n%+v\n%+v", i, txn.Type, txn.Path, ra, rb)
					}
					if i%50 == 0 {
						sameDump(t, fmt.Sprintf("step %d", i), dumpTree(g.tr), dumpTree(other))
					}
				}
				sameDump(t, "end", dumpTree(g.tr), dumpTree(other))
				if g.tr.LastZxid != other.LastZxid || g.tr.LastZxid != g.zxid {
					t.Fatalf("LastZxid %d / %d, want %d", g.tr.LastZxid, other.LastZxid, g.zxid)
				}
				checkInvariants(t, g.tr)
			})
		}
	})
}

// checkInvariants cross-checks the indexes against a walk.
func checkInvariants(t *testing.T, tr *Tree) {
	t.Helper()
	var size int64
	count := 0
	eph := map[int64][]string{}
	var cont, ttl []string
	refs := map[int64]int{}
	tr.Walk(func(p string, n *Node) error {
		count++
		if p != "/" && p != ZookeeperPath && p != QuotaPath && p != ConfigPath {
			size += int64(len(p) + len(n.Data))
		}
		switch {
		case IsContainer(n.EphemeralOwner):
			cont = append(cont, p)
		case IsTTL(n.EphemeralOwner):
			ttl = append(ttl, p)
		case n.EphemeralOwner != 0:
			eph[n.EphemeralOwner] = append(eph[n.EphemeralOwner], p)
		}
		if n.ACL != OpenACLID {
			refs[n.ACL]++
			if tr.ACLs.Get(n.ACL) == nil {
				t.Errorf("%s: ACL id %d missing from the cache", p, n.ACL)
			}
		}
		return nil
	})
	if count != tr.NodeCount() {
		t.Errorf("walk saw %d nodes, NodeCount %d (orphans?)", count, tr.NodeCount())
	}
	if size != tr.DataSize() {
		t.Errorf("DataSize %d, walk says %d", tr.DataSize(), size)
	}
	if got := tr.Containers(); !reflect.DeepEqual(got, sortedCopy(cont)) {
		t.Errorf("Containers %v, walk %v", got, cont)
	}
	if got := tr.TTLNodes(); !reflect.DeepEqual(got, sortedCopy(ttl)) {
		t.Errorf("TTLNodes %v, walk %v", got, ttl)
	}
	for s, ps := range eph {
		if got := tr.Ephemerals(s); !reflect.DeepEqual(got, sortedCopy(ps)) {
			t.Errorf("Ephemerals(%#x) %v, walk %v", s, got, ps)
		}
	}
	if len(tr.EphemeralSessions()) != len(eph) {
		t.Errorf("EphemeralSessions %v, walk %v", tr.EphemeralSessions(), eph)
	}
	if tr.ACLs.Len() != len(refs) {
		t.Errorf("ACL cache holds %d lists, %d in use", tr.ACLs.Len(), len(refs))
	}
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sortStrings(out)
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
