package compat

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/zkserver/zkserver/wire"
)

const (
	evCreated  = wire.EventNodeCreated
	evDeleted  = wire.EventNodeDeleted
	evData     = wire.EventNodeDataChanged
	evChildren = wire.EventNodeChildrenChanged
)

func evKey(typ int32, path string) string { return fmt.Sprintf("%d %s", typ, path) }

// collectEvents reads exactly n events (bounded) and returns them as keys.
func collectEvents(t *testing.T, c *RawClient, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		ev := rawEvent(t, fmt.Sprintf("event %d of %d", i+1, n), c)
		out = append(out, evKey(ev.Type, ev.Path))
	}
	return out
}

func TestDataWatches(t *testing.T) {
	root := testRoot(t)
	w := rawConnect(t) // watcher
	m := rawConnect(t) // mutator
	p := root + "/n"
	create2(t, m, p, []byte("a"), 0)

	// getData watch: one-shot NodeDataChanged.
	code, _, err := w.GetData(p, true)
	mustOK(t, "getData watch", code, err)
	code, _, err = m.SetData(p, []byte("b"), -1)
	mustOK(t, "setData", code, err)
	wantRawEvent(t, "data watch on setData", w, evData, p)
	code, _, err = m.SetData(p, []byte("c"), -1)
	mustOK(t, "setData 2", code, err)
	noRawEvent(t, "one-shot data watch", w)

	// Registering twice still yields one event.
	_, _, _ = w.GetData(p, true)
	_, _, _ = w.GetData(p, true)
	_, _, _ = w.Exists(p, true)
	code, _, err = m.SetData(p, []byte("d"), -1)
	mustOK(t, "setData 3", code, err)
	wantRawEvent(t, "deduplicated data watch", w, evData, p)
	noRawEvent(t, "only one event per trigger", w)

	// setACL fires nothing (data or child watch).
	_, _, _ = w.GetData(p, true)
	_, _, _ = w.GetChildren(p, true, false)
	code, _, err = m.SetACL(p, OpenACL(), -1)
	mustOK(t, "setACL", code, err)
	noRawEvent(t, "setACL", w)

	// Creating a child fires no data watch on the parent; the parent's child
	// watch gets NodeChildrenChanged.
	create2(t, m, p+"/kid", nil, 0)
	wantRawEvent(t, "child watch on child create", w, evChildren, p)
	noRawEvent(t, "no data event for child create", w)

	// Data watch then delete: NodeDeleted.
	code, err = m.Delete(p+"/kid", -1)
	mustOK(t, "delete kid", code, err)
	code, err = m.Delete(p, -1)
	mustOK(t, "delete", code, err)
	wantRawEvent(t, "data watch on delete", w, evDeleted, p)
	noRawEvent(t, "after delete", w)

	// exists on a missing node sets a watch (NONODE reply) that fires on create.
	code, _, err = w.Exists(p, true)
	mustNoErr(t, err)
	wantCode(t, "exists missing", code, wire.ErrNoNode)
	create2(t, m, p, nil, 0)
	wantRawEvent(t, "exists watch on create", w, evCreated, p)
	// getData on a missing node sets no watch.
	code, _, err = w.GetData(root+"/ghost", true)
	mustNoErr(t, err)
	wantCode(t, "getData missing", code, wire.ErrNoNode)
	create2(t, m, root+"/ghost", nil, 0)
	noRawEvent(t, "getData watch on missing node", w)
	// exists watch on an existing node: setData then nothing more.
	_, _, _ = w.Exists(p, true)
	_, _, _ = m.SetData(p, nil, -1)
	wantRawEvent(t, "exists watch on setData", w, evData, p)
}

func TestNotificationBytes(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	p := root + "/n"
	create2(t, c, p, nil, 0)
	code, _, err := c.GetData(p, true)
	mustOK(t, "getData watch", code, err)
	// The watcher's own write: the notification precedes the write's reply.
	r := mr(t)(c.Call(wire.OpSetData, &wire.SetDataRequest{Path: p, Data: []byte("x"), Version: -1}))
	wantCode(t, "setData", r.Header.Err, 0)
	evs := c.PendingEvents()
	if len(evs) != 1 {
		t.Fatalf("%d notifications before the setData reply, want 1", len(evs))
	}
	ev := evs[0]
	// 3.8 sends zxid -1 in notification headers.
	if ev.Zxid != -1 || ev.Type != evData || ev.State != wire.StateSyncConnected || ev.Path != p {
		t.Errorf("notification %+v", ev)
	}
	// Byte-level frame check.
	_, _, _ = c.GetData(p, true)
	m := rawConnect(t)
	_, _, _ = m.SetData(p, nil, -1)
	b, err := c.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	var e wire.Encoder
	(&wire.ReplyHeader{Xid: -1, Zxid: -1, Err: 0}).Encode(&e)
	(&wire.WatcherEvent{Type: evData, State: 3, Path: p}).Encode(&e)
	if !bytes.Equal(b, e.B) {
		t.Errorf("notification frame %x, want %x", b, e.B)
	}
}

func TestChildWatches(t *testing.T) {
	root := testRoot(t)
	w := rawConnect(t)
	m := rawConnect(t)
	q := root + "/q"
	create2(t, m, q, nil, 0)

	for _, withStat := range []bool{false, true} {
		code, _, err := w.GetChildren(q, true, withStat)
		mustOK(t, "getChildren watch", code, err)
		create2(t, m, q+"/c", nil, 0)
		wantRawEvent(t, "child watch on create", w, evChildren, q)
		create2(t, m, q+"/c2", nil, 0)
		noRawEvent(t, "one-shot child watch", w)

		_, _, _ = w.GetChildren(q, true, withStat)
		// setData on the parent or on a child, and grandchild creation, fire nothing.
		_, _, _ = m.SetData(q, []byte("x"), -1)
		_, _, _ = m.SetData(q+"/c", []byte("x"), -1)
		create2(t, m, q+"/c/g", nil, 0)
		noRawEvent(t, "unrelated changes", w)
		code, err = m.Delete(q+"/c/g", -1)
		mustOK(t, "delete grandchild", code, err)
		code, err = m.Delete(q+"/c", -1)
		mustOK(t, "delete child", code, err)
		wantRawEvent(t, "child watch on delete", w, evChildren, q)
		code, err = m.Delete(q+"/c2", -1)
		mustOK(t, "delete c2", code, err)
		noRawEvent(t, "after one-shot", w)
	}

	// Deleting the watched node itself: NodeDeleted to its child watch, and
	// NodeChildrenChanged to the parent's child watch.
	_, _, _ = w.GetChildren(q, true, false)
	_, _, _ = w.GetChildren(root, true, false)
	code, err := m.Delete(q, -1)
	mustOK(t, "delete q", code, err)
	got := collectEvents(t, w, 2)
	if !sameSet(got, []string{evKey(evDeleted, q), evKey(evChildren, root)}) {
		t.Errorf("events on delete %v", got)
	}
	noRawEvent(t, "after delete", w)

	// Data and child watch on the same node: delete gives a single NodeDeleted.
	create2(t, m, q, nil, 0)
	_, _, _ = w.GetChildren(q, true, false)
	_, _, _ = w.GetData(q, true)
	code, err = m.Delete(q, -1)
	mustOK(t, "delete q again", code, err)
	wantRawEvent(t, "delete with data+child watch", w, evDeleted, q)
	noRawEvent(t, "single NodeDeleted", w)

	// Ephemeral child removed by closeSession fires the parent's child watch.
	create2(t, m, q, nil, 0)
	e := rawConnect(t)
	create2(t, e, q+"/eph", nil, wire.FlagEphemeral)
	_, _, _ = w.GetChildren(q, true, false)
	_, _, _ = w.Exists(q+"/eph", true)
	before := rawStat(t, m, q)
	r, err := e.CloseSession()
	if err != nil || r.Header.Err != 0 {
		t.Fatalf("closeSession: %+v %v", r.Header, err)
	}
	got = collectEvents(t, w, 2)
	if !sameSet(got, []string{evKey(evChildren, q), evKey(evDeleted, q+"/eph")}) {
		t.Errorf("events on session close %v", got)
	}
	after := rawStat(t, m, q)
	if after.Pzxid <= before.Pzxid || after.Cversion != before.Cversion+1 || after.NumChildren != 0 {
		t.Errorf("parent after ephemeral removal %+v (before %+v)", after, before)
	}
}

func TestWatchesManySessions(t *testing.T) {
	root := testRoot(t)
	m := rawConnect(t)
	p := root + "/n"
	create2(t, m, p, nil, 0)
	var ws []*RawClient
	for i := 0; i < 3; i++ {
		w := rawConnect(t)
		code, _, err := w.GetData(p, true)
		mustOK(t, "getData watch", code, err)
		ws = append(ws, w)
	}
	_, _, _ = m.SetData(p, []byte("x"), -1)
	for i, w := range ws {
		wantRawEvent(t, fmt.Sprintf("watcher %d", i), w, evData, p)
	}
}

func TestGoClientWatches(t *testing.T) {
	root := testRoot(t)
	g := connectZK(t)
	m := connectZK(t)
	p := root + "/n"
	ok, _, ch, err := g.ExistsW(p)
	if err != nil || ok {
		t.Fatalf("ExistsW: %v %v", ok, err)
	}
	if _, err := m.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	wantZkEvent(t, "ExistsW", ch, zk.EventNodeCreated, p)
	_, _, ch, err = g.GetW(p)
	mustNoErr(t, err)
	_, _ = m.Set(p, []byte("x"), -1)
	wantZkEvent(t, "GetW", ch, zk.EventNodeDataChanged, p)
	_, _, ch, err = g.ChildrenW(p)
	mustNoErr(t, err)
	_, _ = m.Create(p+"/c", nil, 0, zk.WorldACL(zk.PermAll))
	wantZkEvent(t, "ChildrenW", ch, zk.EventNodeChildrenChanged, p)
	_, _, ch, err = g.GetW(p + "/c")
	mustNoErr(t, err)
	_ = m.Delete(p+"/c", -1)
	wantZkEvent(t, "GetW delete", ch, zk.EventNodeDeleted, p+"/c")
	_, _, ch, err = g.GetW(p)
	mustNoErr(t, err)
	_, _ = m.SetACL(p, zk.WorldACL(zk.PermAll), -1)
	noZkEvent(t, "SetACL", ch)
}

func TestPersistentWatch(t *testing.T) {
	root := testRoot(t)
	w := rawConnect(t)
	m := rawConnect(t)
	p := root + "/p"
	create2(t, m, p, nil, 0)
	code, body, err := w.AddWatch(p, wire.AddWatchPersistent)
	mustOK(t, "addWatch", code, err)
	// The reply carries an ErrorResponse with err 0.
	if !bytes.Equal(body, []byte{0, 0, 0, 0}) {
		t.Errorf("addWatch reply body %x, want 00000000", body)
	}
	for i := 0; i < 2; i++ { // not removed after firing
		_, _, _ = m.SetData(p, []byte("x"), -1)
		wantRawEvent(t, "persistent setData", w, evData, p)
	}
	create2(t, m, p+"/c", nil, 0)
	wantRawEvent(t, "persistent child create", w, evChildren, p)
	_, _, _ = m.SetData(p+"/c", nil, -1)
	create2(t, m, p+"/c/g", nil, 0)
	noRawEvent(t, "persistent is not recursive", w)
	_, _ = m.Delete(p+"/c/g", -1)
	_, _ = m.Delete(p+"/c", -1)
	wantRawEvent(t, "persistent child delete", w, evChildren, p)
	_, _ = m.Delete(p, -1)
	wantRawEvent(t, "persistent node delete", w, evDeleted, p)
	create2(t, m, p, nil, 0)
	wantRawEvent(t, "persistent node re-create", w, evCreated, p)
	noRawEvent(t, "after re-create", w)
	// setACL fires nothing.
	_, _, _ = m.SetACL(p, OpenACL(), -1)
	noRawEvent(t, "persistent setACL", w)

	// addWatch on a path that does not exist is fine.
	code, _, err = w.AddWatch(root+"/later", wire.AddWatchPersistent)
	mustOK(t, "addWatch missing path", code, err)
	create2(t, m, root+"/later", nil, 0)
	wantRawEvent(t, "persistent on missing path", w, evCreated, root+"/later")
	// An unknown mode is rejected.
	code, _, err = w.AddWatch(p, 7)
	mustNoErr(t, err)
	wantCode(t, "addWatch mode 7", code, wire.ErrMarshallingError)
}

func TestPersistentRecursiveWatch(t *testing.T) {
	root := testRoot(t)
	w := rawConnect(t)
	m := rawConnect(t)
	p := root + "/r"
	create2(t, m, p, nil, 0)
	code, _, err := w.AddWatch(p, wire.AddWatchPersistentRecursive)
	mustOK(t, "addWatch recursive", code, err)
	create2(t, m, p+"/a", nil, 0)
	wantRawEvent(t, "recursive child create", w, evCreated, p+"/a")
	create2(t, m, p+"/a/b", nil, 0)
	wantRawEvent(t, "recursive grandchild create", w, evCreated, p+"/a/b")
	_, _, _ = m.SetData(p+"/a/b", []byte("x"), -1)
	wantRawEvent(t, "recursive grandchild setData", w, evData, p+"/a/b")
	_, _, _ = m.SetData(p, []byte("x"), -1)
	wantRawEvent(t, "recursive self setData", w, evData, p)
	_, _ = m.Delete(p+"/a/b", -1)
	wantRawEvent(t, "recursive grandchild delete", w, evDeleted, p+"/a/b")
	_, _, _ = m.SetACL(p+"/a", OpenACL(), -1)
	noRawEvent(t, "recursive: setACL and no NodeChildrenChanged", w)
	// Nodes outside the subtree (including a sibling sharing the prefix).
	create2(t, m, p+"x", nil, 0)
	create2(t, m, root+"/other", nil, 0)
	noRawEvent(t, "outside the subtree", w)
	// A one-shot child watch registered AFTER the recursive watch on the same
	// node still fires alongside (the later registration's mode wins).
	_, _, _ = w.GetChildren(p, true, false)
	_, _ = m.Delete(p+"/a", -1)
	got := collectEvents(t, w, 2)
	if !sameSet(got, []string{evKey(evDeleted, p+"/a"), evKey(evChildren, p)}) {
		t.Errorf("events %v", got)
	}
	noRawEvent(t, "after delete", w)

	// Reverse order: a one-shot child watch first, then a recursive watch on
	// the same node; the child watch is shadowed and NodeChildrenChanged is
	// never delivered.
	q := root + "/q"
	create2(t, m, q, nil, 0)
	_, _, _ = w.GetChildren(q, true, false)
	code, _, err = w.AddWatch(q, wire.AddWatchPersistentRecursive)
	mustOK(t, "addWatch recursive on q", code, err)
	create2(t, m, q+"/k", nil, 0)
	wantRawEvent(t, "recursive on q", w, evCreated, q+"/k")
	noRawEvent(t, "shadowed child watch", w)
}

func TestCheckAndRemoveWatches(t *testing.T) {
	root := testRoot(t)
	w := rawConnect(t)
	m := rawConnect(t)
	p := root + "/n"
	create2(t, m, p, nil, 0)
	for _, typ := range []int32{wire.WatcherChildren, wire.WatcherData, wire.WatcherAny} {
		code, err := w.CheckWatches(p, typ)
		mustNoErr(t, err)
		wantCode(t, fmt.Sprintf("checkWatches type %d, no watch", typ), code, wire.ErrNoWatcher)
		code, err = w.RemoveWatches(p, typ)
		mustNoErr(t, err)
		wantCode(t, fmt.Sprintf("removeWatches type %d, no watch", typ), code, wire.ErrNoWatcher)
	}
	code, err := w.CheckWatches(root+"/missing", wire.WatcherAny)
	mustNoErr(t, err)
	wantCode(t, "checkWatches missing path", code, wire.ErrNoWatcher)

	_, _, _ = w.GetData(p, true)
	code, err = w.CheckWatches(p, wire.WatcherData)
	mustNoErr(t, err)
	wantCode(t, "checkWatches data", code, 0)
	code, err = w.CheckWatches(p, wire.WatcherAny)
	mustNoErr(t, err)
	wantCode(t, "checkWatches any", code, 0)
	code, err = w.CheckWatches(p, wire.WatcherChildren)
	mustNoErr(t, err)
	wantCode(t, "checkWatches children", code, wire.ErrNoWatcher)
	// ZooKeeper 3.8.0 quirk: checkWatches answers OK when ANY session has a
	// watch of that kind on the exact path (the watcher itself is not
	// compared), while removeWatches only removes the caller's own watches.
	code, err = m.CheckWatches(p, wire.WatcherData)
	mustNoErr(t, err)
	wantCode(t, "checkWatches data, watch held by another session", code, 0)
	code, err = m.CheckWatches(p, wire.WatcherAny)
	mustNoErr(t, err)
	wantCode(t, "checkWatches any, watch held by another session", code, 0)
	code, err = m.CheckWatches(p, wire.WatcherChildren)
	mustNoErr(t, err)
	wantCode(t, "checkWatches children, data watch held by another session", code, wire.ErrNoWatcher)
	code, err = m.RemoveWatches(p, wire.WatcherData)
	mustNoErr(t, err)
	wantCode(t, "removeWatches of another session's watch", code, wire.ErrNoWatcher)

	code, err = w.RemoveWatches(p, wire.WatcherData)
	mustNoErr(t, err)
	wantCode(t, "removeWatches data", code, 0)
	noRawEvent(t, "removeWatches sends no event", w)
	_, _, _ = m.SetData(p, nil, -1)
	noRawEvent(t, "removed watch does not fire", w)
	code, err = w.RemoveWatches(p, wire.WatcherData)
	mustNoErr(t, err)
	wantCode(t, "removeWatches twice", code, wire.ErrNoWatcher)

	// Any removes both kinds.
	_, _, _ = w.GetData(p, true)
	_, _, _ = w.GetChildren(p, true, false)
	code, err = w.RemoveWatches(p, wire.WatcherChildren)
	mustNoErr(t, err)
	wantCode(t, "removeWatches children", code, 0)
	code, err = w.CheckWatches(p, wire.WatcherData)
	mustNoErr(t, err)
	wantCode(t, "data watch survives children removal", code, 0)
	_, _, _ = w.GetChildren(p, true, false)
	code, err = w.RemoveWatches(p, wire.WatcherAny)
	mustNoErr(t, err)
	wantCode(t, "removeWatches any", code, 0)
	code, err = w.CheckWatches(p, wire.WatcherAny)
	mustNoErr(t, err)
	wantCode(t, "after removing any", code, wire.ErrNoWatcher)
	create2(t, m, p+"/c", nil, 0)
	_, _, _ = m.SetData(p, nil, -1)
	noRawEvent(t, "all removed", w)

	// An exists watch on a missing node is a data watch.
	_, _, _ = w.Exists(root+"/ghost", true)
	code, err = w.CheckWatches(root+"/ghost", wire.WatcherData)
	mustNoErr(t, err)
	wantCode(t, "exists watch on missing node", code, 0)

	// Invalid watcher types (3.8 knows only 1..3).
	for _, typ := range []int32{0, wire.WatcherPersistent, wire.WatcherPersistentRecursive, 9} {
		code, err = w.CheckWatches(p, typ)
		mustNoErr(t, err)
		wantCode(t, fmt.Sprintf("checkWatches type %d", typ), code, wire.ErrMarshallingError)
	}
}

func TestRemovePersistentWatches(t *testing.T) {
	root := testRoot(t)
	w := rawConnect(t)
	m := rawConnect(t)
	p := root + "/n"
	create2(t, m, p, nil, 0)
	code, _, err := w.AddWatch(p, wire.AddWatchPersistent)
	mustOK(t, "addWatch", code, err)
	for _, typ := range []int32{wire.WatcherData, wire.WatcherChildren, wire.WatcherAny} {
		code, err = w.CheckWatches(p, typ)
		mustNoErr(t, err)
		wantCode(t, fmt.Sprintf("checkWatches %d on persistent", typ), code, 0)
	}
	code, err = w.RemoveWatches(p, wire.WatcherData)
	mustNoErr(t, err)
	wantCode(t, "remove data part of persistent", code, 0)
	_, _, _ = m.SetData(p, nil, -1)
	noRawEvent(t, "data part removed", w)
	create2(t, m, p+"/c", nil, 0)
	wantRawEvent(t, "child part still there", w, evChildren, p)
	code, err = w.RemoveWatches(p, wire.WatcherAny)
	mustNoErr(t, err)
	wantCode(t, "remove rest of persistent", code, 0)
	create2(t, m, p+"/d", nil, 0)
	noRawEvent(t, "all removed", w)

	code, _, err = w.AddWatch(p, wire.AddWatchPersistentRecursive)
	mustOK(t, "addWatch recursive", code, err)
	code, err = w.CheckWatches(p, wire.WatcherAny)
	mustNoErr(t, err)
	wantCode(t, "check recursive", code, 0)
	code, err = w.RemoveWatches(p, wire.WatcherAny)
	mustNoErr(t, err)
	wantCode(t, "remove recursive", code, 0)
	create2(t, m, p+"/e", nil, 0)
	noRawEvent(t, "recursive removed", w)
}

func TestSetWatchesOnReconnect(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v2=%v", v2), func(t *testing.T) { testSetWatches(t, v2) })
	}
}

func testSetWatches(t *testing.T, v2 bool) {
	root := testRoot(t)
	m := rawConnect(t)
	n := func(s string) string { return root + "/" + s }
	for _, s := range []string{"dataChanged", "deleted", "kids", "kidsDeleted", "quiet", "quietKids", "existsPresent"} {
		create2(t, m, n(s), nil, 0)
	}
	create2(t, m, n("kidsDeleted")+"/k", nil, 0)
	w := rawConnect(t)
	rel := rawStatZxid(t, w)
	w.Close() // drop the TCP connection, keep the session

	// Changes made while the watcher is away.
	_, _, _ = m.SetData(n("dataChanged"), []byte("x"), -1)
	_, _ = m.Delete(n("deleted"), -1)
	create2(t, m, n("created"), nil, 0)
	create2(t, m, n("kids")+"/k", nil, 0)
	_, _ = m.Delete(n("kidsDeleted")+"/k", -1)

	w2, err := ConnectRaw(addr, ConnectOpts{SessionID: w.SessionID, Passwd: w.Passwd, LastZxidSeen: rel, ReadOnlyByte: true})
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	t.Cleanup(func() { w2.Close() })
	sw := &wire.SetWatches{
		RelativeZxid: rel,
		DataWatches:  []string{n("dataChanged"), n("deleted"), n("quiet"), n("neverThere")},
		ExistWatches: []string{n("created"), n("stillMissing"), n("existsPresent")},
		ChildWatches: []string{n("kids"), n("kidsDeleted"), n("quietKids"), n("neverThereKids")},
		V2:           v2,
	}
	if v2 {
		sw.PersistentWatch = []string{n("quiet")}
		sw.PersistentRecurs = []string{n("quietKids")}
	}
	r, err := w2.SetWatches(wire.XidSetWatches, sw)
	if err != nil {
		t.Fatalf("setWatches: %v", err)
	}
	if r.Header.Xid != wire.XidSetWatches || r.Header.Err != 0 || len(r.Body) != 0 {
		t.Errorf("setWatches reply %+v body %d bytes; want xid -8 err 0 no body", r.Header, len(r.Body))
	}
	// Events for changes made since rel are sent before the reply.
	got := w2.PendingEvents()
	var keys []string
	for _, ev := range got {
		keys = append(keys, evKey(ev.Type, ev.Path))
	}
	want := []string{
		evKey(evData, n("dataChanged")),
		evKey(evDeleted, n("deleted")),
		evKey(evDeleted, n("neverThere")),
		evKey(evCreated, n("created")),
		evKey(evCreated, n("existsPresent")),
		evKey(evChildren, n("kids")),
		evKey(evChildren, n("kidsDeleted")),
		evKey(evDeleted, n("neverThereKids")),
	}
	if !sameSet(keys, want) {
		t.Errorf("immediate events\n got %v\nwant %v", sorted(keys), sorted(want))
	}
	// Registered watches fire later.
	_, _, _ = m.SetData(n("quiet"), []byte("x"), -1)
	wantRawEvent(t, "registered data watch", w2, evData, n("quiet"))
	create2(t, m, n("stillMissing"), nil, 0)
	wantRawEvent(t, "registered exist watch", w2, evCreated, n("stillMissing"))
	create2(t, m, n("quietKids")+"/k", nil, 0)
	if v2 {
		// setWatches2 registers the persistent-recursive watch after the
		// one-shot child watch on the same path; ZooKeeper keeps one mode
		// per (connection, path) and the later registration wins, so the
		// child watch no longer yields NodeChildrenChanged (it still shows
		// up in checkWatches).
		wantRawEvent(t, "recursive watch set by setWatches2", w2, evCreated, n("quietKids")+"/k")
		noRawEvent(t, "child watch shadowed by recursive mode", w2)
		code, err := w2.CheckWatches(n("quietKids"), wire.WatcherChildren)
		mustNoErr(t, err)
		wantCode(t, "shadowed child watch still listed", code, 0)
		// The persistent watch keeps firing.
		_, _, _ = m.SetData(n("quiet"), []byte("y"), -1)
		wantRawEvent(t, "persistent watch set by setWatches2", w2, evData, n("quiet"))
	} else {
		wantRawEvent(t, "registered child watch", w2, evChildren, n("quietKids"))
		_, _, _ = m.SetData(n("quiet"), []byte("y"), -1)
		noRawEvent(t, "one-shot watch used up", w2)
	}
}

func TestSetWatchesNormalXid(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	create2(t, c, root+"/a", nil, 0)
	z := rawStatZxid(t, c)
	xid := c.NextXid()
	// Null watch lists are rejected as undecodable.
	r, err := c.SetWatches(xid, &wire.SetWatches{RelativeZxid: z, DataWatches: []string{root + "/a"}})
	if err != nil || r.Header.Xid != xid || r.Header.Err != wire.ErrMarshallingError || len(r.Body) != 0 {
		t.Fatalf("setWatches with null lists: %+v body %d, %v; want MARSHALLINGERROR", r.Header, len(r.Body), err)
	}
	_, _ = c.Send(wire.OpPing, nil) // keep our xid counter in step
	_, _ = c.ReadReply()
	xid = c.NextXid()
	r, err = c.SetWatches(xid, &wire.SetWatches{RelativeZxid: z, DataWatches: []string{root + "/a"}, ExistWatches: []string{}, ChildWatches: []string{}})
	if err != nil || r.Header.Xid != xid || r.Header.Err != 0 {
		t.Fatalf("setWatches with xid %d: %+v %v", xid, r.Header, err)
	}
	if r.Header.Zxid != z {
		t.Errorf("setWatches reply zxid %d, want %d", r.Header.Zxid, z)
	}
	_, _ = c.Send(wire.OpPing, nil) // keep our xid counter in step
	_, _ = c.ReadReply()
	m := rawConnect(t)
	_, _, _ = m.SetData(root+"/a", nil, -1)
	wantRawEvent(t, "watch set by setWatches on a live connection", c, evData, root+"/a")
}
