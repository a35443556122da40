package compat

import (
	"bytes"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/zkserver/zkserver/wire"
)

func createOp(path string, data []byte, flags int32) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpCreate, Create: wire.CreateRequest{Path: path, Data: data, ACL: OpenACL(), Flags: flags}}
}

func setDataOp(path string, data []byte, version int32) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpSetData, SetData: wire.SetDataRequest{Path: path, Data: data, Version: version}}
}

func deleteOp(path string, version int32) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpDelete, Version: wire.PathVersionRequest{Path: path, Version: version}}
}

func checkOp(path string, version int32) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpCheck, Version: wire.PathVersionRequest{Path: path, Version: version}}
}

func getDataOp(path string) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpGetData, Read: wire.PathWatchRequest{Path: path}}
}

func getChildrenOp(path string) wire.MultiOp {
	return wire.MultiOp{Type: wire.OpGetChildren, Read: wire.PathWatchRequest{Path: path}}
}

func TestMultiSuccess(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	create2(t, c, root+"/existing", []byte("x"), 0)
	ops := []wire.MultiOp{
		createOp(root+"/a", []byte("1"), 0),
		{Type: wire.OpCreate2, Create: wire.CreateRequest{Path: root + "/b", ACL: OpenACL()}},
		{Type: wire.OpCreateContainer, Create: wire.CreateRequest{Path: root + "/c", ACL: OpenACL(), Flags: wire.FlagContainer}},
		{Type: wire.OpCreateTTL, Create: wire.CreateRequest{Path: root + "/t", ACL: OpenACL(), Flags: wire.FlagPersistentWithTTL, TTL: 60000}},
		createOp(root+"/s-", nil, wire.FlagPersistentSequential),
		setDataOp(root+"/existing", []byte("yy"), 0),
		checkOp(root+"/existing", 1),
		deleteOp(root+"/a", 0),
	}
	r := mr(t)(c.Call(wire.OpMulti, &wire.MultiRequest{Ops: ops}))
	wantCode(t, "multi", r.Header.Err, 0)
	var resp wire.MultiResponse
	if err := wire.Unmarshal(r.Body, &resp); err != nil {
		t.Fatalf("decode multi reply: %v", err)
	}
	z := r.Header.Zxid
	want := []struct {
		typ  wire.Op
		path string
	}{
		{wire.OpCreate, root + "/a"},
		{wire.OpCreate, root + "/b"}, // create2 inside multi is answered as create
		{wire.OpCreate2, root + "/c"},
		{wire.OpCreate2, root + "/t"},
		{wire.OpCreate, root + "/s-0000000005"},
		{wire.OpSetData, ""},
		{wire.OpCheck, ""},
		{wire.OpDelete, ""},
	}
	if len(resp.Results) != len(want) {
		t.Fatalf("multi returned %d results, want %d: %+v", len(resp.Results), len(want), resp.Results)
	}
	for i, w := range want {
		got := resp.Results[i]
		if got.Type != w.typ || got.Err != 0 || got.Path != w.path {
			t.Errorf("result %d: type %v err %v path %q, want type %v path %q", i, got.Type, got.Err, got.Path, w.typ, w.path)
		}
	}
	// Container and TTL results carry a Stat (czxid = the multi's zxid,
	// ephemeralOwner reported as 0).
	for _, i := range []int{2, 3} {
		st := resp.Results[i].Stat
		if st.Czxid != z || st.EphemeralOwner != 0 || st.Version != 0 {
			t.Errorf("result %d stat %+v (multi zxid %d)", i, st, z)
		}
	}
	sd := resp.Results[5].Stat
	if sd.Mzxid != z || sd.Version != 1 || sd.DataLength != 2 {
		t.Errorf("setData result stat %+v, want mzxid %d version 1 dataLength 2", sd, z)
	}
	// Everything in one multi shares one zxid.
	if st := rawStat(t, c, root+"/b"); st.Czxid != z {
		t.Errorf("/b czxid %d, multi zxid %d", st.Czxid, z)
	}
	code, _, err := c.Exists(root+"/a", false)
	mustNoErr(t, err)
	wantCode(t, "a deleted by multi", code, wire.ErrNoNode)
	// Parent: 1 + 5 creates, 1 delete; pzxid = multi zxid.
	pst := rawStat(t, c, root)
	if pst.Pzxid != z {
		t.Errorf("parent pzxid %d, want %d", pst.Pzxid, z)
	}
	wantFields(t, "parent", pst, statFields{Cversion: 7, NumChildren: 5})

	// Byte-level: create2 inside multi yields header type 1 + path only.
	r = mr(t)(c.Call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
		{Type: wire.OpCreate2, Create: wire.CreateRequest{Path: root + "/d", ACL: OpenACL()}},
	}}))
	var e wire.Encoder
	(&wire.MultiHeader{Type: wire.OpCreate, Done: false, Err: 0}).Encode(&e)
	e.Str(root + "/d")
	(&wire.MultiHeader{Type: -1, Done: true, Err: -1}).Encode(&e)
	if r.Header.Err != 0 || !bytes.Equal(r.Body, e.B) {
		t.Errorf("multi[create2] reply err %v body %x, want %x", r.Header.Err, r.Body, e.B)
	}

	// An empty multi succeeds with an empty result list.
	r = mr(t)(c.Call(wire.OpMulti, &wire.MultiRequest{}))
	e = wire.Encoder{}
	(&wire.MultiHeader{Type: -1, Done: true, Err: -1}).Encode(&e)
	if r.Header.Err != 0 || !bytes.Equal(r.Body, e.B) {
		t.Errorf("empty multi reply err %v body %x, want %x", r.Header.Err, r.Body, e.B)
	}
}

func TestMultiSeesEarlierOps(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	code, resp, err := c.Multi([]wire.MultiOp{
		createOp(root+"/x", nil, 0),
		createOp(root+"/x/y", []byte("a"), 0),
		setDataOp(root+"/x/y", []byte("b"), 0),
		checkOp(root+"/x/y", 1),
		setDataOp(root+"/x/y", []byte("c"), 1),
		deleteOp(root+"/x/y", 2),
		deleteOp(root+"/x", 0),
		createOp(root+"/x", []byte("again"), 0),
	})
	mustOK(t, "multi", code, err)
	for i, res := range resp.Results {
		if res.Type == wire.OpError {
			t.Errorf("op %d failed: %v", i, res.Err)
		}
	}
	code, gd, err := c.GetData(root+"/x", false)
	mustOK(t, "getData", code, err)
	if string(gd.Data) != "again" || gd.Stat.NumChildren != 0 || gd.Stat.Cversion != 0 {
		t.Errorf("final /x data %q stat %+v", gd.Data, gd.Stat)
	}
}

func TestMultiFailure(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	create2(t, c, root+"/a", []byte("orig"), 0)
	before := rawStat(t, c, root)
	prev := rawStatZxid(t, c)
	r := mr(t)(c.Call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
		createOp(root+"/new", nil, 0),
		setDataOp(root+"/a", []byte("changed"), 0),
		setDataOp(root+"/a", []byte("bad"), 7),
		createOp(root+"/new2", nil, 0),
		deleteOp(root+"/a", -1),
	}}))
	// The multi as a whole reports success; failures are per op.
	wantCode(t, "failed multi header err", r.Header.Err, 0)
	if r.Header.Zxid <= prev {
		t.Errorf("failed multi zxid %d did not advance past %d", r.Header.Zxid, prev)
	}
	var e wire.Encoder
	for _, code := range []wire.Err{0, 0, wire.ErrBadVersion, wire.ErrRuntimeInconsistency, wire.ErrRuntimeInconsistency} {
		(&wire.MultiHeader{Type: wire.OpError, Err: code}).Encode(&e)
		e.Int(int32(code))
	}
	(&wire.MultiHeader{Type: -1, Done: true, Err: -1}).Encode(&e)
	if !bytes.Equal(r.Body, e.B) {
		t.Errorf("failed multi body\n got %x\nwant %x", r.Body, e.B)
	}
	// Nothing was applied.
	code, _, err := c.Exists(root+"/new", false)
	mustNoErr(t, err)
	wantCode(t, "new after failed multi", code, wire.ErrNoNode)
	code, gd, err := c.GetData(root+"/a", false)
	mustOK(t, "getData", code, err)
	if string(gd.Data) != "orig" || gd.Stat.Version != 0 {
		t.Errorf("/a after failed multi: %q version %d", gd.Data, gd.Stat.Version)
	}
	if after := rawStat(t, c, root); after != before {
		t.Errorf("parent stat changed by failed multi: %+v -> %+v", before, after)
	}

	// Other failure kinds, first op failing.
	cases := []struct {
		name string
		op   wire.MultiOp
		want wire.Err
	}{
		{"create existing", createOp(root+"/a", nil, 0), wire.ErrNodeExists},
		{"create no parent", createOp(root+"/q/r", nil, 0), wire.ErrNoNode},
		{"create bad path", createOp(root+"/a/", nil, 0), wire.ErrBadArguments},
		{"create empty acl", wire.MultiOp{Type: wire.OpCreate, Create: wire.CreateRequest{Path: root + "/z", ACL: []wire.ACL{}}}, wire.ErrInvalidACL},
		{"check bad version", checkOp(root+"/a", 3), wire.ErrBadVersion},
		{"check missing", checkOp(root+"/missing", -1), wire.ErrNoNode},
		{"delete missing", deleteOp(root+"/missing", -1), wire.ErrNoNode},
		{"setData missing", setDataOp(root+"/missing", nil, -1), wire.ErrNoNode},
		{"delete /zookeeper", deleteOp("/zookeeper", -1), wire.ErrBadArguments},
	}
	for _, tc := range cases {
		code, resp, err := c.Multi([]wire.MultiOp{tc.op, createOp(root+"/later", nil, 0)})
		mustOK(t, tc.name, code, err)
		if len(resp.Results) != 2 ||
			resp.Results[0].Type != wire.OpError || resp.Results[0].Err != tc.want ||
			resp.Results[1].Type != wire.OpError || resp.Results[1].Err != wire.ErrRuntimeInconsistency {
			t.Errorf("%s: results %+v, want [%v, RUNTIMEINCONSISTENCY]", tc.name, resp.Results, tc.want)
		}
	}
	code, _, err = c.Exists(root+"/later", false)
	mustNoErr(t, err)
	wantCode(t, "later never created", code, wire.ErrNoNode)
}

func TestMultiGoClient(t *testing.T) {
	root := testRoot(t)
	g := connectZK(t)
	res, err := g.Multi(
		&zk.CreateRequest{Path: root + "/a", Data: []byte("1"), Acl: zk.WorldACL(zk.PermAll)},
		&zk.SetDataRequest{Path: root + "/a", Data: []byte("2"), Version: 0},
		&zk.CheckVersionRequest{Path: root + "/a", Version: 1},
		&zk.CreateRequest{Path: root + "/e", Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagEphemeral},
	)
	if err != nil || len(res) != 4 {
		t.Fatalf("go Multi: %v %+v", err, res)
	}
	if res[0].String != root+"/a" || res[3].String != root+"/e" || res[1].Stat == nil || res[1].Stat.Version != 1 {
		t.Errorf("go Multi results %+v", res)
	}
	_, st, err := g.Exists(root + "/e")
	if err != nil || st.EphemeralOwner != g.SessionID() {
		t.Errorf("ephemeral created by multi: %+v %v", st, err)
	}
	res, err = g.Multi(
		&zk.DeleteRequest{Path: root + "/e", Version: -1},
		&zk.CheckVersionRequest{Path: root + "/a", Version: 0},
	)
	if len(res) != 2 || zkCode(res[0].Error) != 0 || zkCode(res[1].Error) != wire.ErrBadVersion {
		t.Errorf("go failed Multi: %v %+v", err, res)
	}
	if ok, _, _ := g.Exists(root + "/e"); !ok {
		t.Errorf("failed multi deleted /e")
	}
}

func TestMultiMixedReadWrite(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	create2(t, c, root+"/a", nil, 0)
	r := mr(t)(c.Call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{
		createOp(root+"/b", nil, 0),
		getDataOp(root + "/a"),
	}}))
	wantCode(t, "multi with a read op", r.Header.Err, wire.ErrMarshallingError)
	if len(r.Body) != 0 {
		t.Errorf("error reply has %d-byte body", len(r.Body))
	}
	code, _, err := c.Exists(root+"/b", false)
	mustNoErr(t, err)
	wantCode(t, "b not created", code, wire.ErrNoNode)
	r = mr(t)(c.Call(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{
		getDataOp(root + "/a"),
		createOp(root+"/b", nil, 0),
	}}))
	wantCode(t, "multiRead with a write op", r.Header.Err, wire.ErrMarshallingError)
	// The connection is still usable.
	code, _, err = c.Exists(root+"/a", false)
	mustOK(t, "exists after marshalling error", code, err)
}

func TestMultiRead(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	_, a := create2(t, c, root+"/a", []byte("data-a"), 0)
	create2(t, c, root+"/a/k1", nil, 0)
	create2(t, c, root+"/a/k2", nil, 0)
	a.Stat = rawStat(t, c, root+"/a")
	code, resp, err := c.MultiRead([]wire.MultiOp{
		getDataOp(root + "/a"),
		getChildrenOp(root + "/a"),
		getDataOp(root + "/missing"),
		getChildrenOp(root + "/missing"),
		{Type: wire.OpGetData, Read: wire.PathWatchRequest{Path: root + "/a/k1", Watch: true}},
	})
	mustOK(t, "multiRead", code, err)
	if len(resp.Results) != 5 {
		t.Fatalf("multiRead results %+v", resp.Results)
	}
	r0 := resp.Results[0]
	if r0.Type != wire.OpGetData || string(r0.Data) != "data-a" || r0.Stat != a.Stat {
		t.Errorf("getData result %+v, want data-a with %+v", r0, a.Stat)
	}
	r1 := resp.Results[1]
	if r1.Type != wire.OpGetChildren || !sameSet(r1.Children, []string{"k1", "k2"}) {
		t.Errorf("getChildren result %+v", r1)
	}
	for i := 2; i <= 3; i++ {
		if resp.Results[i].Type != wire.OpError || resp.Results[i].Err != wire.ErrNoNode {
			t.Errorf("result %d: %+v, want error NONODE", i, resp.Results[i])
		}
	}
	if resp.Results[4].Type != wire.OpGetData || resp.Results[4].Data != nil {
		t.Errorf("result 4: %+v", resp.Results[4])
	}
	// multiRead never sets watches even with watch=true.
	code, _, err = c.SetData(root+"/a/k1", []byte("x"), -1)
	mustOK(t, "setData", code, err)
	noRawEvent(t, "after multiRead watch=true", c)

	// Errors do not stop later ops; NOAUTH per op.
	su := superRaw(t)
	r := mr(t)(su.Create(wire.OpCreate, root+"/secret", []byte("s"), []wire.ACL{digestACL(31, "bob", "secret")}, 0))
	wantCode(t, "create secret", r.Header.Err, 0)
	code, resp, err = c.MultiRead([]wire.MultiOp{getDataOp(root + "/secret"), getDataOp(root + "/a")})
	mustOK(t, "multiRead noauth", code, err)
	if len(resp.Results) != 2 || resp.Results[0].Err != wire.ErrNoAuth || resp.Results[0].Type != wire.OpError || resp.Results[1].Type != wire.OpGetData {
		t.Errorf("multiRead with NOAUTH op: %+v", resp.Results)
	}
	// Byte-level: error entry is header(-1,false,code) + int code.
	rr := mr(t)(c.Call(wire.OpMultiRead, &wire.MultiRequest{Ops: []wire.MultiOp{getChildrenOp(root + "/missing")}}))
	var e wire.Encoder
	(&wire.MultiHeader{Type: wire.OpError, Err: wire.ErrNoNode}).Encode(&e)
	e.Int(int32(wire.ErrNoNode))
	(&wire.MultiHeader{Type: -1, Done: true, Err: -1}).Encode(&e)
	if rr.Header.Err != 0 || !bytes.Equal(rr.Body, e.B) {
		t.Errorf("multiRead error body %x, want %x", rr.Body, e.B)
	}
	// A read does not consume a zxid.
	z := rawStatZxid(t, c)
	_, _, _ = c.MultiRead([]wire.MultiOp{getDataOp(root + "/a")})
	if z2 := rawStatZxid(t, c); z2 != z {
		t.Errorf("multiRead advanced zxid %d -> %d", z, z2)
	}
}
