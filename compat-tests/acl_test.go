package compat

import (
	"crypto/sha1"
	"encoding/base64"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkserver/zkserver/wire"
)

// digestID returns the stored digest id for user:password.
func digestID(user, password string) string {
	h := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(h[:])
}

func digestACL(perms int32, user, password string) wire.ACL {
	return wire.ACL{Perms: perms, Id: wire.Id{Scheme: "digest", ID: digestID(user, password)}}
}

func worldACL(perms int32) wire.ACL {
	return wire.ACL{Perms: perms, Id: wire.Id{Scheme: "world", ID: "anyone"}}
}

func authRaw(t *testing.T, c *RawClient, scheme, cred string) {
	t.Helper()
	r, err := c.Auth(scheme, []byte(cred))
	if err != nil {
		t.Fatalf("auth %s: %v", scheme, err)
	}
	if r.Header.Xid != wire.XidAuth || r.Header.Err != 0 || r.Header.Zxid != 0 || len(r.Body) != 0 {
		t.Fatalf("auth %s reply %+v body %d bytes; want xid -4 zxid 0 err 0, no body", scheme, r.Header, len(r.Body))
	}
}

func TestDigestHash(t *testing.T) {
	if got := digestID("bob", "secret"); got != "bob:fyVmFCwVbTJYrznoSu1koqYEYF0=" {
		t.Fatalf("digest helper broken: %s", got)
	}
	if digestID("super", "secret") != SuperDigest {
		t.Fatalf("SuperDigest constant does not match super:secret")
	}
}

func TestGetSetACL(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	p := root + "/n"
	create2(t, c, p, nil, 0)
	code, acl, err := c.GetACL(p)
	mustOK(t, "getACL", code, err)
	if len(acl.ACL) != 1 || acl.ACL[0] != worldACL(31) {
		t.Errorf("getACL %+v", acl.ACL)
	}
	if acl.Stat != rawStat(t, c, p) {
		t.Errorf("getACL stat differs from exists")
	}
	code, _, err = c.SetACL(p, []wire.ACL{worldACL(wire.PermRead | wire.PermAdmin)}, 1)
	mustNoErr(t, err)
	wantCode(t, "setACL bad aversion", code, wire.ErrBadVersion)
	r := mr(t)(c.Call(wire.OpSetACL, &wire.SetACLRequest{Path: p, ACL: []wire.ACL{worldACL(wire.PermRead | wire.PermAdmin)}, Version: 0}))
	wantCode(t, "setACL", r.Header.Err, 0)
	var sr wire.StatResponse
	if err := wire.Unmarshal(r.Body, &sr); err != nil {
		t.Fatal(err)
	}
	wantFields(t, "after setACL", sr.Stat, statFields{Aversion: 1})
	if sr.Stat.Mzxid != sr.Stat.Czxid || sr.Stat.Pzxid != sr.Stat.Czxid {
		t.Errorf("setACL changed mzxid/pzxid: %+v", sr.Stat)
	}
	code, acl, err = c.GetACL(p)
	mustOK(t, "getACL", code, err)
	if len(acl.ACL) != 1 || acl.ACL[0] != worldACL(wire.PermRead|wire.PermAdmin) {
		t.Errorf("getACL after setACL %+v", acl.ACL)
	}
	code, st, err := c.SetACL(p, OpenACL(), -1)
	mustOK(t, "setACL any version", code, err)
	wantFields(t, "after second setACL", st, statFields{Aversion: 2})

	code, _, err = c.SetACL(p, []wire.ACL{}, -1)
	mustNoErr(t, err)
	wantCode(t, "setACL empty", code, wire.ErrInvalidACL)
	code, _, err = c.SetACL(p, []wire.ACL{{Perms: 31, Id: wire.Id{Scheme: "digest", ID: "nocolon"}}}, -1)
	mustNoErr(t, err)
	wantCode(t, "setACL bad digest", code, wire.ErrInvalidACL)
	code, _, err = c.SetACL(root+"/missing", OpenACL(), -1)
	mustNoErr(t, err)
	wantCode(t, "setACL missing", code, wire.ErrNoNode)
	code, _, err = c.GetACL(root + "/missing")
	mustNoErr(t, err)
	wantCode(t, "getACL missing", code, wire.ErrNoNode)

	// Duplicate entries are collapsed at create.
	r = mr(t)(c.Create(wire.OpCreate, root+"/dup", nil, []wire.ACL{worldACL(31), worldACL(31)}, 0))
	wantCode(t, "create with duplicate ACL", r.Header.Err, 0)
	code, acl, err = c.GetACL(root + "/dup")
	mustOK(t, "getACL dup", code, err)
	if len(acl.ACL) != 1 {
		t.Errorf("duplicate ACL entries kept: %+v", acl.ACL)
	}

	// go-zookeeper view.
	g := connectZK(t)
	acls, gst, err := g.GetACL(p)
	if err != nil || len(acls) != 1 || acls[0].Scheme != "world" || gst.Aversion != 2 {
		t.Errorf("go GetACL: %+v %+v %v", acls, gst, err)
	}
	_, err = g.SetACL(p, zk.WorldACL(zk.PermAll), 0)
	wantCode(t, "go SetACL bad version", zkCode(err), wire.ErrBadVersion)
	gst, err = g.SetACL(p, zk.WorldACL(zk.PermAll), 2)
	if err != nil || gst.Aversion != 3 {
		t.Errorf("go SetACL: %+v %v", gst, err)
	}
}

func TestGetACLDigestMasking(t *testing.T) {
	root := testRoot(t)
	admin := superRaw(t)
	bob := digestACL(wire.PermAll, "bob", "secret")
	// Readable by anyone, administrable only by bob: non-admin callers see the
	// digest masked.
	r := mr(t)(admin.Create(wire.OpCreate, root+"/masked", nil, []wire.ACL{bob, worldACL(wire.PermRead)}, 0))
	wantCode(t, "create masked", r.Header.Err, 0)
	// Anyone has ADMIN here: the digest is shown in full.
	r = mr(t)(admin.Create(wire.OpCreate, root+"/open", nil, []wire.ACL{bob, worldACL(wire.PermRead | wire.PermAdmin)}, 0))
	wantCode(t, "create open", r.Header.Err, 0)
	// Only ADMIN for anyone (no READ): getACL still allowed.
	r = mr(t)(admin.Create(wire.OpCreate, root+"/adminonly", nil, []wire.ACL{bob, worldACL(wire.PermAdmin)}, 0))
	wantCode(t, "create adminonly", r.Header.Err, 0)
	// Nothing for anyone: getACL denied.
	r = mr(t)(admin.Create(wire.OpCreate, root+"/closed", nil, []wire.ACL{bob}, 0))
	wantCode(t, "create closed", r.Header.Err, 0)

	anon := rawConnect(t)
	code, acl, err := anon.GetACL(root + "/masked")
	mustOK(t, "getACL masked", code, err)
	if len(acl.ACL) != 2 || acl.ACL[0].ID != "bob:x" || acl.ACL[0].Scheme != "digest" || acl.ACL[0].Perms != 31 || acl.ACL[1] != worldACL(wire.PermRead) {
		t.Errorf("masked ACL %+v, want [31 digest bob:x, 1 world anyone]", acl.ACL)
	}
	code, acl, err = anon.GetACL(root + "/open")
	mustOK(t, "getACL open", code, err)
	if len(acl.ACL) != 2 || acl.ACL[0] != bob {
		t.Errorf("unmasked ACL %+v", acl.ACL)
	}
	code, acl, err = anon.GetACL(root + "/adminonly")
	mustOK(t, "getACL adminonly", code, err)
	if len(acl.ACL) != 2 || acl.ACL[0] != bob {
		t.Errorf("adminonly ACL %+v", acl.ACL)
	}
	code, _, err = anon.GetACL(root + "/closed")
	mustNoErr(t, err)
	wantCode(t, "getACL closed", code, wire.ErrNoAuth)

	// bob himself has ADMIN: sees the full id.
	bc := rawConnect(t)
	authRaw(t, bc, "digest", "bob:secret")
	code, acl, err = bc.GetACL(root + "/masked")
	mustOK(t, "bob getACL", code, err)
	if len(acl.ACL) != 2 || acl.ACL[0] != bob {
		t.Errorf("bob sees %+v", acl.ACL)
	}
	// super sees the full id.
	code, acl, err = admin.GetACL(root + "/closed")
	mustOK(t, "super getACL", code, err)
	if len(acl.ACL) != 1 || acl.ACL[0] != bob {
		t.Errorf("super sees %+v", acl.ACL)
	}
}

func TestDigestAuthAndPermissions(t *testing.T) {
	root := testRoot(t)
	bc := rawConnect(t)
	authRaw(t, bc, "digest", "bob:secret")
	p := root + "/bob"
	r := mr(t)(bc.Create(wire.OpCreate, p, []byte("b"), []wire.ACL{digestACL(wire.PermAll, "bob", "secret")}, 0))
	wantCode(t, "bob create", r.Header.Err, 0)

	anon := rawConnect(t)
	code, _, err := anon.GetData(p, false)
	mustNoErr(t, err)
	wantCode(t, "anon getData", code, wire.ErrNoAuth)
	code, _, err = anon.GetChildren(p, false, false)
	mustNoErr(t, err)
	wantCode(t, "anon getChildren", code, wire.ErrNoAuth)
	code, _, err = anon.GetChildren(p, false, true)
	mustNoErr(t, err)
	wantCode(t, "anon getChildren2", code, wire.ErrNoAuth)
	code, _, err = anon.SetData(p, nil, -1)
	mustNoErr(t, err)
	wantCode(t, "anon setData", code, wire.ErrNoAuth)
	code, _, err = anon.SetACL(p, OpenACL(), -1)
	mustNoErr(t, err)
	wantCode(t, "anon setACL", code, wire.ErrNoAuth)
	rr := mr(t)(anon.Create(wire.OpCreate, p+"/c", nil, OpenACL(), 0))
	wantCode(t, "anon create child", rr.Header.Err, wire.ErrNoAuth)
	code, _, err = anon.GetAllChildrenNumber(p)
	mustNoErr(t, err)
	wantCode(t, "anon getAllChildrenNumber", code, wire.ErrNoAuth)
	// 3.8.0 does not check READ on exists.
	code, st, err := anon.Exists(p, false)
	mustOK(t, "anon exists", code, err)
	wantFields(t, "anon exists", st, statFields{DataLength: 1})
	// Deleting needs DELETE on the parent (open), not on the node.
	r = mr(t)(bc.Create(wire.OpCreate, p+"/kid", nil, OpenACL(), 0))
	wantCode(t, "bob create kid", r.Header.Err, 0)
	code, err = anon.Delete(p+"/kid", -1)
	mustNoErr(t, err)
	wantCode(t, "anon delete child of bob's node", code, wire.ErrNoAuth)

	// A different user is denied; bob and super are allowed.
	alice := rawConnect(t)
	authRaw(t, alice, "digest", "alice:secret")
	code, _, err = alice.GetData(p, false)
	mustNoErr(t, err)
	wantCode(t, "alice getData", code, wire.ErrNoAuth)
	// Wrong password for bob is accepted as an auth packet but does not match.
	wrong := rawConnect(t)
	authRaw(t, wrong, "digest", "bob:wrong")
	code, _, err = wrong.GetData(p, false)
	mustNoErr(t, err)
	wantCode(t, "bob with wrong password", code, wire.ErrNoAuth)
	code, gd, err := bc.GetData(p, false)
	mustOK(t, "bob getData", code, err)
	if string(gd.Data) != "b" {
		t.Errorf("bob reads %q", gd.Data)
	}
	su := superRaw(t)
	code, _, err = su.SetData(p, []byte("s"), -1)
	mustOK(t, "super setData", code, err)
	code, err = su.Delete(p+"/kid", -1)
	mustOK(t, "super delete", code, err)

	// Several auth ids on one connection: any match is enough.
	multi := rawConnect(t)
	authRaw(t, multi, "digest", "alice:secret")
	authRaw(t, multi, "digest", "bob:secret")
	code, _, err = multi.GetData(p, false)
	mustOK(t, "alice+bob getData", code, err)

	// The "auth" scheme expands to the caller's authenticated ids.
	r = mr(t)(multi.Create(wire.OpCreate, root+"/authacl", nil, []wire.ACL{{Perms: wire.PermRead | wire.PermAdmin, Id: wire.Id{Scheme: "auth", ID: "ignored"}}}, 0))
	wantCode(t, "create with auth ACL", r.Header.Err, 0)
	code, acl, err := multi.GetACL(root + "/authacl")
	mustOK(t, "getACL authacl", code, err)
	want := []string{digestID("alice", "secret"), digestID("bob", "secret")}
	var got []string
	for _, a := range acl.ACL {
		if a.Scheme != "digest" || a.Perms != wire.PermRead|wire.PermAdmin {
			t.Errorf("auth ACL entry %+v", a)
		}
		got = append(got, a.ID)
	}
	if !sameSet(got, want) {
		t.Errorf("auth ACL expanded to %v, want %v", got, want)
	}

	// Permission bits are checked one by one.
	r = mr(t)(su.Create(wire.OpCreate, root+"/ro", nil, []wire.ACL{worldACL(wire.PermRead)}, 0))
	wantCode(t, "create ro", r.Header.Err, 0)
	code, _, err = anon.SetData(root+"/ro", nil, -1)
	mustNoErr(t, err)
	wantCode(t, "setData on read-only node", code, wire.ErrNoAuth)
	rr = mr(t)(anon.Create(wire.OpCreate, root+"/ro/c", nil, OpenACL(), 0))
	wantCode(t, "create under read-only node", rr.Header.Err, wire.ErrNoAuth)
	r = mr(t)(su.Create(wire.OpCreate, root+"/cr", nil, []wire.ACL{worldACL(wire.PermCreate)}, 0))
	wantCode(t, "create cr", r.Header.Err, 0)
	rr = mr(t)(anon.Create(wire.OpCreate, root+"/cr/c", nil, OpenACL(), 0))
	wantCode(t, "create under create-only node", rr.Header.Err, 0)
	code, err = anon.Delete(root+"/cr/c", -1)
	mustNoErr(t, err)
	wantCode(t, "delete under create-only node", code, wire.ErrNoAuth)
	code, _, err = anon.GetData(root+"/cr", false)
	mustNoErr(t, err)
	wantCode(t, "read create-only node", code, wire.ErrNoAuth)
	// NONODE beats NOAUTH for a missing child of a protected node.
	code, _, err = anon.GetData(p+"/none", false)
	mustNoErr(t, err)
	wantCode(t, "missing child of protected node", code, wire.ErrNoNode)

	// go-zookeeper AddAuth path.
	g := connectZK(t)
	_, _, err = g.Get(p)
	wantCode(t, "go anon Get", zkCode(err), wire.ErrNoAuth)
	if err := g.AddAuth("digest", []byte("bob:secret")); err != nil {
		t.Fatalf("go AddAuth: %v", err)
	}
	data, _, err := g.Get(p)
	if err != nil || string(data) != "s" {
		t.Errorf("go Get after auth: %q %v", data, err)
	}
	_, err = g.Create(root+"/g", nil, 0, zk.DigestACL(zk.PermAll, "bob", "secret"))
	if err != nil {
		t.Errorf("go create with digest ACL: %v", err)
	}
}

func TestIPACL(t *testing.T) {
	root := testRoot(t)
	su := superRaw(t)
	mk := func(name, id string) {
		t.Helper()
		r := mr(t)(su.Create(wire.OpCreate, root+"/"+name, []byte("d"), []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "ip", ID: id}}}, 0))
		wantCode(t, "create "+name, r.Header.Err, 0)
	}
	mk("exact", "127.0.0.1")
	mk("net8", "127.0.0.0/8")
	mk("net24", "127.0.0.0/24")
	mk("other", "10.1.2.3")
	mk("othernet", "10.0.0.0/8")
	c := rawConnect(t)
	for _, tc := range []struct {
		name string
		want wire.Err
	}{{"exact", 0}, {"net8", 0}, {"net24", 0}, {"other", wire.ErrNoAuth}, {"othernet", wire.ErrNoAuth}} {
		code, _, err := c.GetData(root+"/"+tc.name, false)
		mustNoErr(t, err)
		wantCode(t, "ip ACL "+tc.name, code, tc.want)
	}
	// The ip scheme is not "authenticated": an auth ACL cannot use it.
	r := mr(t)(c.Create(wire.OpCreate, root+"/auth", nil, []wire.ACL{{Perms: 31, Id: wire.Id{Scheme: "auth"}}}, 0))
	wantCode(t, "auth ACL with only ip id", r.Header.Err, wire.ErrInvalidACL)
}

func TestAuthFailures(t *testing.T) {
	// Unknown scheme: AUTHFAILED (xid -4, zxid 0, no body), then the server
	// closes the connection. The session itself survives: it can be resumed.
	c := rawConnect(t)
	r, err := c.Auth("nosuchscheme", []byte("x"))
	if err != nil {
		t.Fatalf("auth unknown scheme: %v", err)
	}
	if r.Header.Xid != wire.XidAuth || r.Header.Zxid != 0 || r.Header.Err != wire.ErrAuthFailed || len(r.Body) != 0 {
		t.Errorf("unknown scheme reply %+v body %d; want xid -4 zxid 0 err -115 no body", r.Header, len(r.Body))
	}
	if !c.IsClosedWithin(3 * time.Second) {
		t.Errorf("connection still open after AUTHFAILED")
	}
	c2, err := ConnectRaw(addr, ConnectOpts{SessionID: c.SessionID, Passwd: c.Passwd, ReadOnlyByte: true})
	if err != nil {
		t.Errorf("resuming the session after AUTHFAILED: %v", err)
	} else {
		if c2.SessionID != c.SessionID {
			t.Errorf("resumed session %#x, want %#x", c2.SessionID, c.SessionID)
		}
		_, _ = c2.CloseSession()
		c2.Close()
	}

	// "world" has no auth provider: AUTHFAILED too.
	w := rawConnect(t)
	r, err = w.Auth("world", []byte("anyone"))
	if err != nil || r.Header.Err != wire.ErrAuthFailed {
		t.Errorf("auth world: %+v %v, want AUTHFAILED", r.Header, err)
	}
	if !w.IsClosedWithin(3 * time.Second) {
		t.Errorf("connection still open after AUTHFAILED (world)")
	}

	// Digest credentials are not validated for shape: "nocolon" is accepted
	// and the user name is the whole string.
	d := rawConnect(t)
	authRaw(t, d, "digest", "nocolon")
	code, info, err := d.WhoAmI()
	mustOK(t, "whoAmI", code, err)
	if !sameInfo(info, []wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "nocolon"}}) {
		t.Errorf("whoAmI after digest nocolon: %+v", info)
	}

	// The ip scheme ignores the bytes sent and uses the peer address.
	ip := rawConnect(t)
	authRaw(t, ip, "ip", "10.0.0.1")
	code, info, err = ip.WhoAmI()
	mustOK(t, "whoAmI", code, err)
	if !sameInfo(info, []wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}}) {
		t.Errorf("whoAmI after ip auth: %+v", info)
	}

	// go-zookeeper reports a failure for an unknown scheme.
	g := connectZK(t)
	errc := make(chan error, 1)
	go func() { errc <- g.AddAuth("nosuchscheme", []byte("x")) }()
	select {
	case err := <-errc:
		if err == nil {
			t.Errorf("go AddAuth unknown scheme succeeded")
		}
	case <-time.After(eventWait):
		t.Errorf("go AddAuth unknown scheme did not return")
	}
}

func TestWhoAmI(t *testing.T) {
	c := rawConnect(t)
	code, info, err := c.WhoAmI()
	mustOK(t, "whoAmI", code, err)
	if len(info) != 1 || info[0].AuthScheme != "ip" || info[0].User != "127.0.0.1" {
		t.Errorf("anonymous whoAmI %+v, want [ip 127.0.0.1]", info)
	}
	authRaw(t, c, "digest", "bob:secret")
	code, info, err = c.WhoAmI()
	mustOK(t, "whoAmI", code, err)
	if !sameInfo(info, []wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "bob"}}) {
		t.Errorf("whoAmI after digest %+v", info)
	}
	authRaw(t, c, "digest", "alice:pw")
	code, info, err = c.WhoAmI()
	mustOK(t, "whoAmI", code, err)
	if !sameInfo(info, []wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "bob"}, {AuthScheme: "digest", User: "alice"}}) {
		t.Errorf("whoAmI after two digests %+v", info)
	}
	s := rawConnect(t)
	authRaw(t, s, "digest", "super:secret")
	code, info, err = s.WhoAmI()
	mustOK(t, "whoAmI super", code, err)
	if !sameInfo(info, []wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "super", User: ""}, {AuthScheme: "digest", User: "super"}}) {
		t.Errorf("whoAmI super %+v", info)
	}
}

func sameInfo(a, b []wire.ClientInfo) bool {
	f := func(in []wire.ClientInfo) []string {
		var s []string
		for _, i := range in {
			s = append(s, i.AuthScheme+"|"+i.User)
		}
		return s
	}
	return sameSet(f(a), f(b))
}
