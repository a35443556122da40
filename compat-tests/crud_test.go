package compat

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkserver/zkserver/wire"
)

// create2 creates a node with op create2 and returns the reply and stat.
func create2(t *testing.T, c *RawClient, path string, data []byte, flags int32) (Reply, wire.Create2Response) {
	t.Helper()
	r := mr(t)(c.Create(wire.OpCreate2, path, data, OpenACL(), flags))
	var resp wire.Create2Response
	if r.Header.Err != 0 {
		t.Fatalf("create2 %s: err %v", path, r.Header.Err)
	}
	if err := wire.Unmarshal(r.Body, &resp); err != nil {
		t.Fatalf("create2 %s: decode: %v", path, err)
	}
	return r, resp
}

// rawStatZxid returns the server's current last zxid, as carried by a ping
// reply.
func rawStatZxid(t *testing.T, c *RawClient) int64 {
	t.Helper()
	r, err := c.Ping()
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	return r.Header.Zxid
}

func rawStat(t *testing.T, c *RawClient, path string) wire.Stat {
	t.Helper()
	code, st, err := c.Exists(path, false)
	mustOK(t, "exists "+path, code, err)
	return st
}

func TestCreatePersistentStat(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	before := rawStat(t, c, root)
	p := root + "/p"
	r, resp := create2(t, c, p, []byte("hello"), wire.FlagPersistent)
	if resp.Path != p {
		t.Errorf("create2 path %q, want %q", resp.Path, p)
	}
	st := resp.Stat
	z := r.Header.Zxid
	if st.Czxid != z || st.Mzxid != z || st.Pzxid != z {
		t.Errorf("czxid/mzxid/pzxid %d/%d/%d, want all = reply zxid %d", st.Czxid, st.Mzxid, st.Pzxid, z)
	}
	if st.Ctime != st.Mtime || st.Ctime == 0 {
		t.Errorf("ctime %d mtime %d: want equal and non-zero", st.Ctime, st.Mtime)
	}
	if d := time.Since(time.UnixMilli(st.Ctime)); d < -time.Minute || d > time.Minute {
		t.Errorf("ctime %d is not near now", st.Ctime)
	}
	wantFields(t, "new node", st, statFields{DataLength: 5})
	if got := rawStat(t, c, p); got != st {
		t.Errorf("exists stat %+v differs from create2 stat %+v", got, st)
	}
	after := rawStat(t, c, root)
	if after.Pzxid != z {
		t.Errorf("parent pzxid %d, want child's czxid %d", after.Pzxid, z)
	}
	if after.Mzxid != before.Mzxid || after.Version != before.Version {
		t.Errorf("parent mzxid/version changed by child create: %+v -> %+v", before, after)
	}
	wantFields(t, "parent", after, statFields{Cversion: 1, NumChildren: 1})

	// Plain create answers with the path only (no Stat).
	r = mr(t)(c.Create(wire.OpCreate, root+"/q", nil, OpenACL(), 0))
	if r.Header.Err != 0 {
		t.Fatalf("create: %v", r.Header.Err)
	}
	var e wire.Encoder
	e.Str(root + "/q")
	if !bytes.Equal(r.Body, e.B) {
		t.Errorf("create reply body %x, want just the path %x", r.Body, e.B)
	}
	if r.Header.Zxid <= z {
		t.Errorf("second create zxid %d not after %d", r.Header.Zxid, z)
	}
	// Null data reads back as a null buffer; dataLength 0.
	code, gd, err := c.GetData(root+"/q", false)
	mustOK(t, "getData", code, err)
	if gd.Data != nil {
		t.Errorf("null data read back as %q (non-null)", gd.Data)
	}
	wantFields(t, "null-data node", gd.Stat, statFields{})
	// Empty (non-null) data reads back as empty, non-null.
	create2(t, c, root+"/e", []byte{}, 0)
	code, gd, err = c.GetData(root+"/e", false)
	mustOK(t, "getData", code, err)
	if gd.Data == nil || len(gd.Data) != 0 {
		t.Errorf("empty data read back as %v", gd.Data)
	}
}

func TestCreateWithGoClient(t *testing.T) {
	root := testRoot(t)
	c := connectZK(t)
	p, err := c.Create(root+"/a", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	if err != nil || p != root+"/a" {
		t.Fatalf("create: %q %v", p, err)
	}
	_, err = c.Create(root+"/a", nil, 0, zk.WorldACL(zk.PermAll))
	wantCode(t, "create existing", zkCode(err), wire.ErrNodeExists)
	_, err = c.Create(root+"/missing/a", nil, 0, zk.WorldACL(zk.PermAll))
	wantCode(t, "create under missing parent", zkCode(err), wire.ErrNoNode)
	p, err = c.Create(root+"/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatalf("create ephemeral: %v", err)
	}
	ok, st, err := c.Exists(p)
	if err != nil || !ok {
		t.Fatalf("exists ephemeral: %v %v", ok, err)
	}
	if st.EphemeralOwner != c.SessionID() {
		t.Errorf("ephemeralOwner %#x, want session %#x", st.EphemeralOwner, c.SessionID())
	}
	_, err = c.Create(root+"/e/child", nil, 0, zk.WorldACL(zk.PermAll))
	wantCode(t, "child of ephemeral", zkCode(err), wire.ErrNoChildrenForEphemerals)
	p, err = c.Create(root+"/es-", nil, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatalf("create ephemeral sequential: %v", err)
	}
	// /a, /e were created before: the parent's counter is 2.
	if p != root+"/es-0000000002" {
		t.Errorf("ephemeral sequential name %q, want %q", p, root+"/es-0000000002")
	}
}

func TestSequentialNames(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	name := func(path string, flags int32) string {
		t.Helper()
		r := mr(t)(c.Create(wire.OpCreate, path, nil, OpenACL(), flags))
		if r.Header.Err != 0 {
			t.Fatalf("create %s: %v", path, r.Header.Err)
		}
		var resp wire.PathRequest
		if err := wire.Unmarshal(r.Body, &resp); err != nil {
			t.Fatal(err)
		}
		return resp.Path
	}
	want := func(got, w string) {
		t.Helper()
		if got != w {
			t.Errorf("created %q, want %q", got, w)
		}
	}
	want(name(root+"/s-", wire.FlagPersistentSequential), root+"/s-0000000000")
	want(name(root+"/s-", wire.FlagPersistentSequential), root+"/s-0000000001")
	want(name(root+"/plain", 0), root+"/plain") // bumps the counter too
	want(name(root+"/s-", wire.FlagPersistentSequential), root+"/s-0000000003")
	code, err := c.Delete(root+"/s-0000000003", -1)
	mustOK(t, "delete", code, err)
	// Deletes do not lower the counter.
	want(name(root+"/s-", wire.FlagEphemeralSequential), root+"/s-0000000004")
	// A sequential prefix may end with '/'.
	want(name(root+"/", wire.FlagPersistentSequential), root+"/0000000005")
	// stored counter 6, children 5: reported cversion 2*6-5 = 7 (6 creates + 1 delete).
	wantFields(t, "parent", rawStat(t, c, root), statFields{Cversion: 7, NumChildren: 5})
	// Sequential suffix under a brand-new parent starts at zero again.
	want(name(root+"/plain/", wire.FlagPersistentSequential), root+"/plain/0000000000")
}

func TestCreateContainerAndTTL(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	r := mr(t)(c.Create(wire.OpCreateContainer, root+"/c", []byte("d"), OpenACL(), wire.FlagContainer))
	if r.Header.Err != 0 {
		t.Fatalf("createContainer: %v", r.Header.Err)
	}
	var resp wire.Create2Response
	if err := wire.Unmarshal(r.Body, &resp); err != nil || resp.Path != root+"/c" {
		t.Fatalf("createContainer reply: %+v %v", resp, err)
	}
	// Containers report ephemeralOwner 0.
	wantFields(t, "container", resp.Stat, statFields{DataLength: 1})
	if resp.Stat.Czxid != r.Header.Zxid {
		t.Errorf("container czxid %d, reply zxid %d", resp.Stat.Czxid, r.Header.Zxid)
	}
	// Children may be created under a container.
	create2(t, c, root+"/c/x", nil, wire.FlagEphemeral)

	// TTL nodes (extendedTypesEnabled=true). The disabled case (createTTL
	// answered with UNIMPLEMENTED -6 when zookeeper.extendedTypesEnabled is
	// false) cannot be exercised: the suite's servers run with it enabled.
	r = mr(t)(c.CreateTTL(root+"/ttl", []byte("ab"), OpenACL(), wire.FlagPersistentWithTTL, 60000))
	if r.Header.Err != 0 {
		t.Fatalf("createTTL: %v", r.Header.Err)
	}
	resp = wire.Create2Response{}
	if err := wire.Unmarshal(r.Body, &resp); err != nil || resp.Path != root+"/ttl" {
		t.Fatalf("createTTL reply: %+v %v", resp, err)
	}
	wantFields(t, "ttl node", resp.Stat, statFields{DataLength: 2})
	create2(t, c, root+"/ttl/child", nil, 0) // TTL parents may have children
	r = mr(t)(c.CreateTTL(root+"/ttls-", nil, OpenACL(), wire.FlagPersistentSequentialTTL, 60000))
	if r.Header.Err != 0 {
		t.Fatalf("createTTL sequential: %v", r.Header.Err)
	}
	resp = wire.Create2Response{}
	_ = wire.Unmarshal(r.Body, &resp)
	if resp.Path != root+"/ttls-0000000002" {
		t.Errorf("TTL sequential path %q", resp.Path)
	}

	bad := []struct {
		name  string
		flags int32
		ttl   int64
		want  wire.Err
	}{
		{"ttl 0", wire.FlagPersistentWithTTL, 0, wire.ErrBadArguments},
		{"ttl negative", wire.FlagPersistentWithTTL, -5, wire.ErrBadArguments},
		{"ttl too large", wire.FlagPersistentWithTTL, wire.MaxTTL + 1, wire.ErrBadArguments},
		{"non-ttl mode via createTTL", wire.FlagPersistent, 1000, wire.ErrBadArguments},
		{"ephemeral via createTTL", wire.FlagEphemeral, 1000, wire.ErrBadArguments},
	}
	for _, b := range bad {
		r := mr(t)(c.CreateTTL(root+"/bad", nil, OpenACL(), b.flags, b.ttl))
		wantCode(t, b.name, r.Header.Err, b.want)
		if len(r.Body) != 0 {
			t.Errorf("%s: error reply has a %d-byte body", b.name, len(r.Body))
		}
	}
	// Max TTL is accepted.
	r = mr(t)(c.CreateTTL(root+"/maxttl", nil, OpenACL(), wire.FlagPersistentWithTTL, wire.MaxTTL))
	wantCode(t, "max ttl", r.Header.Err, 0)

	// go-zookeeper helpers reach the same ops.
	g := connectZK(t)
	if _, err := g.CreateContainer(root+"/gc", nil, zk.FlagTTL&0|4, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("go CreateContainer: %v", err)
	}
	if _, err := g.CreateTTL(root+"/gt", nil, zk.FlagTTL, zk.WorldACL(zk.PermAll), time.Minute); err != nil {
		t.Errorf("go CreateTTL: %v", err)
	}
}

func TestCreateErrors(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	create2(t, c, root+"/a", nil, 0)
	create2(t, c, root+"/eph", nil, wire.FlagEphemeral)
	cases := []struct {
		name  string
		op    wire.Op
		path  string
		acl   []wire.ACL
		flags int32
		want  wire.Err
	}{
		{"exists", wire.OpCreate, root + "/a", OpenACL(), 0, wire.ErrNodeExists},
		{"exists create2", wire.OpCreate2, root + "/a", OpenACL(), 0, wire.ErrNodeExists},
		{"root", wire.OpCreate, "/", OpenACL(), 0, wire.ErrNodeExists},
		{"no parent", wire.OpCreate, root + "/x/y", OpenACL(), 0, wire.ErrNoNode},
		{"ephemeral parent", wire.OpCreate, root + "/eph/c", OpenACL(), 0, wire.ErrNoChildrenForEphemerals},
		{"ephemeral parent seq", wire.OpCreate, root + "/eph/c", OpenACL(), wire.FlagPersistentSequential, wire.ErrNoChildrenForEphemerals},
		{"empty path", wire.OpCreate, "", OpenACL(), 0, wire.ErrBadArguments},
		{"relative", wire.OpCreate, "abc", OpenACL(), 0, wire.ErrBadArguments},
		// The parent is looked up (NONODE) before the full path is
		// validated: an invalid path only gives BADARGUMENTS when the
		// text before its last '/' names an existing node.
		{"trailing slash", wire.OpCreate, root + "/a/", OpenACL(), 0, wire.ErrBadArguments},
		{"trailing slash, no parent", wire.OpCreate, root + "/b/", OpenACL(), 0, wire.ErrNoNode},
		{"double slash at top", wire.OpCreate, "//b", OpenACL(), 0, wire.ErrBadArguments},
		{"double slash, no parent", wire.OpCreate, root + "//b", OpenACL(), 0, wire.ErrNoNode},
		{"dot component, no parent", wire.OpCreate, root + "/./b", OpenACL(), 0, wire.ErrNoNode},
		{"dotdot component, no parent", wire.OpCreate, root + "/../b", OpenACL(), 0, wire.ErrNoNode},
		{"dot last", wire.OpCreate, root + "/.", OpenACL(), 0, wire.ErrBadArguments},
		{"dotdot last", wire.OpCreate, root + "/..", OpenACL(), 0, wire.ErrBadArguments},
		{"nul", wire.OpCreate, root + "/b\x00c", OpenACL(), 0, wire.ErrBadArguments},
		{"control char", wire.OpCreate, root + "/b\x01", OpenACL(), 0, wire.ErrBadArguments},
		{"DEL char", wire.OpCreate, root + "/b\x7f", OpenACL(), 0, wire.ErrBadArguments},
		{"C1 char", wire.OpCreate, root + "/b\u0085", OpenACL(), 0, wire.ErrBadArguments},
		{"private use char", wire.OpCreate, root + "/b\ue000", OpenACL(), 0, wire.ErrBadArguments},
		{"noncharacter", wire.OpCreate, root + "/b\ufffe", OpenACL(), 0, wire.ErrBadArguments},
		{"non-BMP char", wire.OpCreate, root + "/b\U0001F600", OpenACL(), 0, wire.ErrBadArguments},
		{"flags 7", wire.OpCreate, root + "/f", OpenACL(), 7, wire.ErrBadArguments},
		{"flags -1", wire.OpCreate, root + "/f", OpenACL(), -1, wire.ErrBadArguments},
		{"flags 100", wire.OpCreate, root + "/f", OpenACL(), 100, wire.ErrBadArguments},
		{"TTL flag via create", wire.OpCreate, root + "/f", OpenACL(), wire.FlagPersistentWithTTL, wire.ErrBadArguments},
		{"container flag via create", wire.OpCreate, root + "/f", OpenACL(), wire.FlagContainer, 0},
		{"empty acl", wire.OpCreate, root + "/g", []wire.ACL{}, 0, wire.ErrInvalidACL},
		{"null acl", wire.OpCreate, root + "/g", nil, 0, wire.ErrInvalidACL},
		{"digest id without colon", wire.OpCreate, root + "/g", []wire.ACL{{Perms: 31, Id: wire.Id{Scheme: "digest", ID: "bob"}}}, 0, wire.ErrInvalidACL},
		{"digest id two colons", wire.OpCreate, root + "/g", []wire.ACL{{Perms: 31, Id: wire.Id{Scheme: "digest", ID: "bob:a:b"}}}, 0, wire.ErrInvalidACL},
		{"unknown scheme", wire.OpCreate, root + "/g", []wire.ACL{{Perms: 31, Id: wire.Id{Scheme: "nope", ID: "x"}}}, 0, wire.ErrInvalidACL},
		{"auth scheme unauthenticated", wire.OpCreate, root + "/g", []wire.ACL{{Perms: 31, Id: wire.Id{Scheme: "auth", ID: ""}}}, 0, wire.ErrInvalidACL},
		{"bad ip", wire.OpCreate, root + "/g", []wire.ACL{{Perms: 31, Id: wire.Id{Scheme: "ip", ID: "not-an-ip"}}}, 0, wire.ErrInvalidACL},
	}
	for _, tc := range cases {
		prev := rawStatZxid(t, c)
		r := mr(t)(c.Create(tc.op, tc.path, nil, tc.acl, tc.flags))
		wantCode(t, tc.name, r.Header.Err, tc.want)
		if tc.want != 0 {
			if len(r.Body) != 0 {
				t.Errorf("%s: error reply carries a %d-byte body", tc.name, len(r.Body))
			}
			// A failed write still consumes a zxid.
			if r.Header.Zxid <= prev {
				t.Errorf("%s: error reply zxid %d did not advance", tc.name, r.Header.Zxid)
			}
		}
	}
}

func TestFailedWriteConsumesZxid(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	r1, _ := create2(t, c, root+"/a", nil, 0)
	r2 := mr(t)(c.Create(wire.OpCreate, root+"/a", nil, OpenACL(), 0))
	wantCode(t, "dup", r2.Header.Err, wire.ErrNodeExists)
	if r2.Header.Zxid <= r1.Header.Zxid {
		t.Errorf("failed create zxid %d, want > %d", r2.Header.Zxid, r1.Header.Zxid)
	}
	code, st, err := c.SetData(root+"/a", []byte("x"), 5)
	wantCode(t, "bad version", code, wire.ErrBadVersion)
	_ = st
	if err != nil {
		t.Fatal(err)
	}
	z3 := c.LastZxid
	if z3 <= r2.Header.Zxid {
		t.Errorf("failed setData zxid %d, want > %d", z3, r2.Header.Zxid)
	}
	// A read answers with the current last zxid and does not advance it.
	rr := mr(t)(c.Call(wire.OpGetData, &wire.PathWatchRequest{Path: root + "/a"}))
	if rr.Header.Zxid != z3 {
		t.Errorf("read reply zxid %d, want last zxid %d", rr.Header.Zxid, z3)
	}
	rr = mr(t)(c.Call(wire.OpGetData, &wire.PathWatchRequest{Path: root + "/zz"}))
	wantCode(t, "getData missing", rr.Header.Err, wire.ErrNoNode)
	if rr.Header.Zxid != z3 || len(rr.Body) != 0 {
		t.Errorf("read error reply zxid %d body %d bytes, want zxid %d and no body", rr.Header.Zxid, len(rr.Body), z3)
	}
	p, err := c.Ping()
	if err != nil || p.Header.Xid != wire.XidPing || p.Header.Zxid != z3 || p.Header.Err != 0 || len(p.Body) != 0 {
		t.Errorf("ping reply %+v body %d, err %v; want xid -2 zxid %d", p.Header, len(p.Body), err, z3)
	}
}

func TestDelete(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	create2(t, c, root+"/a", nil, 0)
	create2(t, c, root+"/a/b", nil, 0)
	code, err := c.Delete(root+"/a", -1)
	mustNoErr(t, err)
	wantCode(t, "delete non-empty", code, wire.ErrNotEmpty)
	code, err = c.Delete(root+"/a/b", 3)
	mustNoErr(t, err)
	wantCode(t, "delete bad version", code, wire.ErrBadVersion)
	code, err = c.Delete(root+"/nothere", -1)
	mustNoErr(t, err)
	wantCode(t, "delete missing", code, wire.ErrNoNode)
	code, err = c.Delete(root+"/nothere", 7)
	mustNoErr(t, err)
	wantCode(t, "delete missing with version", code, wire.ErrNoNode)
	code, err = c.Delete("/zookeeper", -1)
	mustNoErr(t, err)
	wantCode(t, "delete /zookeeper", code, wire.ErrBadArguments)
	code, err = c.Delete("/", -1)
	mustNoErr(t, err)
	wantCode(t, "delete /", code, wire.ErrBadArguments)
	// delete looks the node up before validating the path.
	code, err = c.Delete(root+"/a/", -1)
	mustNoErr(t, err)
	wantCode(t, "delete trailing slash", code, wire.ErrNoNode)
	code, err = c.Delete(root+"/a/..", -1)
	mustNoErr(t, err)
	wantCode(t, "delete dotdot", code, wire.ErrNoNode)

	code, st, err := c.SetData(root+"/a/b", []byte("v"), 0)
	mustOK(t, "setData", code, err)
	parentBefore := rawStat(t, c, root+"/a")
	r := mr(t)(c.Call(wire.OpDelete, &wire.PathVersionRequest{Path: root + "/a/b", Version: st.Version}))
	wantCode(t, "delete with right version", r.Header.Err, 0)
	if len(r.Body) != 0 {
		t.Errorf("delete reply has a %d-byte body", len(r.Body))
	}
	parent := rawStat(t, c, root+"/a")
	if parent.Pzxid != r.Header.Zxid {
		t.Errorf("parent pzxid %d after delete, want delete zxid %d", parent.Pzxid, r.Header.Zxid)
	}
	// reported cversion goes up on delete (stored counter stays, numChildren drops).
	wantFields(t, "parent after delete", parent, statFields{Cversion: parentBefore.Cversion + 1})
	if parent.Mzxid != parentBefore.Mzxid {
		t.Errorf("parent mzxid changed by child delete")
	}
	code, err = c.Delete(root+"/a", 0)
	mustOK(t, "delete emptied parent", code, err)

	// go-zookeeper view of the same errors.
	g := connectZK(t)
	_, err = g.Create(root+"/g", nil, 0, zk.WorldACL(zk.PermAll))
	mustNoErr(t, err)
	wantCode(t, "go delete bad version", zkCode(g.Delete(root+"/g", 1)), wire.ErrBadVersion)
	wantCode(t, "go delete", zkCode(g.Delete(root+"/g", 0)), 0)
	wantCode(t, "go delete again", zkCode(g.Delete(root+"/g", -1)), wire.ErrNoNode)
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestExistsGetSetData(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	p := root + "/n"
	code, _, err := c.Exists(p, false)
	mustNoErr(t, err)
	wantCode(t, "exists missing", code, wire.ErrNoNode)
	cr, created := create2(t, c, p, []byte("one"), 0)
	code, gd, err := c.GetData(p, false)
	mustOK(t, "getData", code, err)
	if string(gd.Data) != "one" || gd.Stat != created.Stat {
		t.Errorf("getData %q %+v, want %q %+v", gd.Data, gd.Stat, "one", created.Stat)
	}
	code, _, err = c.SetData(p, []byte("two"), 1)
	mustNoErr(t, err)
	wantCode(t, "setData bad version", code, wire.ErrBadVersion)
	code, _, err = c.SetData(root+"/missing", []byte("two"), -1)
	mustNoErr(t, err)
	wantCode(t, "setData missing", code, wire.ErrNoNode)
	code, _, err = c.SetData(root+"/missing", []byte("two"), 4)
	mustNoErr(t, err)
	wantCode(t, "setData missing with version", code, wire.ErrNoNode)

	r := mr(t)(c.Call(wire.OpSetData, &wire.SetDataRequest{Path: p, Data: []byte("second"), Version: 0}))
	wantCode(t, "setData", r.Header.Err, 0)
	var sr wire.StatResponse
	if err := wire.Unmarshal(r.Body, &sr); err != nil || len(r.Body) != 68 {
		t.Fatalf("setData body %d bytes: %v", len(r.Body), err)
	}
	st := sr.Stat
	if st.Czxid != cr.Header.Zxid || st.Mzxid != r.Header.Zxid || st.Pzxid != cr.Header.Zxid {
		t.Errorf("after setData czxid/mzxid/pzxid %d/%d/%d, want %d/%d/%d", st.Czxid, st.Mzxid, st.Pzxid, cr.Header.Zxid, r.Header.Zxid, cr.Header.Zxid)
	}
	if st.Ctime != created.Stat.Ctime || st.Mtime < st.Ctime {
		t.Errorf("ctime %d->%d, mtime %d", created.Stat.Ctime, st.Ctime, st.Mtime)
	}
	wantFields(t, "after setData", st, statFields{Version: 1, DataLength: 6})
	code, st, err = c.SetData(p, nil, -1)
	mustOK(t, "setData any version", code, err)
	wantFields(t, "after setData null", st, statFields{Version: 2, DataLength: 0})
	code, gd, err = c.GetData(p, false)
	mustOK(t, "getData", code, err)
	if gd.Data != nil {
		t.Errorf("data after setData(null) = %v, want null", gd.Data)
	}
	code, st2, err := c.Exists(p, false)
	mustOK(t, "exists", code, err)
	if st2 != st {
		t.Errorf("exists %+v, want %+v", st2, st)
	}
	// The root is also reachable as "" for reads.
	code, rs, err := c.Exists("", false)
	mustNoErr(t, err)
	wantCode(t, "exists \"\"", code, 0)
	if rs != rawStat(t, c, "/") {
		t.Errorf("exists(\"\") differs from exists(\"/\")")
	}

	// go-zookeeper path: Get / Set / Exists.
	g := connectZK(t)
	data, gst, err := g.Get(p)
	if err != nil || data != nil && len(data) != 0 || gst.Version != 2 {
		t.Errorf("go Get: %q %+v %v", data, gst, err)
	}
	_, err = g.Set(p, []byte("x"), 0)
	wantCode(t, "go Set bad version", zkCode(err), wire.ErrBadVersion)
	s3, err := g.Set(p, []byte("x"), 2)
	if err != nil || s3.Version != 3 || s3.DataLength != 1 {
		t.Errorf("go Set: %+v %v", s3, err)
	}
	ok, _, err := g.Exists(root + "/nope")
	if err != nil || ok {
		t.Errorf("go Exists missing: %v %v", ok, err)
	}
	_, _, err = g.Get(root + "/nope")
	wantCode(t, "go Get missing", zkCode(err), wire.ErrNoNode)
}

func TestBuiltinNodes(t *testing.T) {
	c := rawConnect(t)
	code, ch, err := c.GetChildren("/zookeeper", false, false)
	mustOK(t, "getChildren /zookeeper", code, err)
	if !sameSet(ch.Children, []string{"quota", "config"}) {
		t.Errorf("/zookeeper children %v", ch.Children)
	}
	code, acl, err := c.GetACL("/zookeeper/config")
	mustOK(t, "getACL /zookeeper/config", code, err)
	if len(acl.ACL) != 1 || acl.ACL[0].Perms != wire.PermRead || acl.ACL[0].Scheme != "world" || acl.ACL[0].ID != "anyone" {
		t.Errorf("/zookeeper/config ACL %+v", acl.ACL)
	}
	if acl.Stat.Aversion != -1 {
		t.Errorf("/zookeeper/config aversion %d, want -1", acl.Stat.Aversion)
	}
	code, _, err = c.SetData("/zookeeper/config", []byte("x"), -1)
	mustNoErr(t, err)
	wantCode(t, "setData /zookeeper/config", code, wire.ErrNoAuth)
	code, st, err := c.Exists("/zookeeper", false)
	mustOK(t, "exists /zookeeper", code, err)
	if st.Czxid != 0 || st.Mzxid != 0 || st.Ctime != 0 || st.EphemeralOwner != 0 {
		t.Errorf("/zookeeper stat %+v: want zero zxids and times", st)
	}
	// 2 children, stored counter 0: reported cversion -2.
	wantFields(t, "/zookeeper", st, statFields{Cversion: -2, NumChildren: 2})
}

func TestChildren(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	code, ch, err := c.GetChildren(root, false, false)
	mustOK(t, "getChildren empty", code, err)
	if ch.Children == nil || len(ch.Children) != 0 {
		t.Errorf("children of empty node %#v, want empty non-null list", ch.Children)
	}
	names := []string{"a", "b", "c", "dd", "zz9"}
	for _, n := range names {
		create2(t, c, root+"/"+n, nil, 0)
	}
	create2(t, c, root+"/a/deep", nil, 0)
	code, ch, err = c.GetChildren(root, false, false)
	mustOK(t, "getChildren", code, err)
	if !sameSet(ch.Children, names) {
		t.Errorf("children %v, want %v (as a set)", ch.Children, names)
	}
	code, ch2, err := c.GetChildren(root, false, true)
	mustOK(t, "getChildren2", code, err)
	if !sameSet(ch2.Children, names) {
		t.Errorf("children2 %v", ch2.Children)
	}
	if st := rawStat(t, c, root); ch2.Stat != st {
		t.Errorf("getChildren2 stat %+v, exists %+v", ch2.Stat, st)
	}
	wantFields(t, "parent", ch2.Stat, statFields{Cversion: 5, NumChildren: 5})
	code, _, err = c.GetChildren(root+"/none", false, false)
	mustNoErr(t, err)
	wantCode(t, "getChildren missing", code, wire.ErrNoNode)
	code, _, err = c.GetChildren(root+"/none", false, true)
	mustNoErr(t, err)
	wantCode(t, "getChildren2 missing", code, wire.ErrNoNode)

	g := connectZK(t)
	kids, st, err := g.Children(root)
	if err != nil || !sameSet(kids, names) || st.NumChildren != 5 {
		t.Errorf("go Children: %v %+v %v", kids, st, err)
	}
	_, _, err = g.Children(root + "/none")
	wantCode(t, "go Children missing", zkCode(err), wire.ErrNoNode)
}

func TestSync(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	var resp wire.PathRequest
	code, err := c.Do(wire.OpSync, &wire.PathRequest{Path: root}, &resp)
	mustOK(t, "sync", code, err)
	if resp.Path != root {
		t.Errorf("sync echoed %q, want %q", resp.Path, root)
	}
	g := connectZK(t)
	p, err := g.Sync(root)
	if err != nil || p != root {
		t.Errorf("go Sync: %q %v", p, err)
	}
}

// be32 is a helper for byte-level expectations.
func be32(v int32) []byte {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(v))
	return b[:]
}
