package compat

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkserver/zkserver/wire"
)

func TestHandshake(t *testing.T) {
	// With the readOnly byte: 37-byte response body with a trailing flag.
	nc, err := DialRaw(addr)
	mustNoErr(t, err)
	c := &RawClient{Conn: nc, IOTimeout: DefaultIOTimeout}
	t.Cleanup(func() { c.Close() })
	req := wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), HasReadOnly: true}
	body := wire.Marshal(&req)
	if len(body) != 45 {
		t.Fatalf("request body %d bytes", len(body))
	}
	mustNoErr(t, c.WriteFrame(body))
	resp, err := c.ReadFrame()
	mustNoErr(t, err)
	if len(resp) != 37 {
		t.Errorf("response body %d bytes, want 37", len(resp))
	}
	var cr wire.ConnectResponse
	mustNoErr(t, wire.Unmarshal(resp, &cr))
	if cr.ProtocolVersion != 0 || cr.TimeOut != 10000 || cr.SessionID == 0 || len(cr.Passwd) != 16 || cr.ReadOnly {
		t.Errorf("connect response %+v", cr)
	}
	// Standalone server id 1 in the top byte.
	if cr.SessionID>>56 != 1 {
		t.Errorf("session id %#x: top byte %d, want 1", cr.SessionID, cr.SessionID>>56)
	}
	c.SessionID, c.Passwd = cr.SessionID, cr.Passwd
	code, _, err := c.Exists("/", false)
	mustOK(t, "exists after handshake", code, err)

	// Without the readOnly byte: 36-byte response.
	c2 := rawConnectOpts(t, ConnectOpts{TimeoutMs: 10000})
	if c2.Resp.HasReadOnly {
		t.Errorf("response carries readOnly byte although the request did not")
	}
	// Trailing junk after the readOnly byte is ignored.
	nc3, err := DialRaw(addr)
	mustNoErr(t, err)
	c3 := &RawClient{Conn: nc3, IOTimeout: DefaultIOTimeout}
	t.Cleanup(func() { c3.Close() })
	mustNoErr(t, c3.WriteFrame(append(wire.Marshal(&req), 1, 2, 3, 4, 5)))
	resp, err = c3.ReadFrame()
	mustNoErr(t, err)
	if len(resp) != 37 {
		t.Errorf("response to padded request %d bytes, want 37", len(resp))
	}
}

func TestTimeoutNegotiation(t *testing.T) {
	for _, tc := range []struct{ ask, want int32 }{
		{100, 4000}, {4000, 4000}, {5555, 5555}, {40000, 40000}, {100000, 40000}, {-5, 4000},
	} {
		c := rawConnectOpts(t, ConnectOpts{TimeoutMs: tc.ask, ReadOnlyByte: true})
		if c.Resp.TimeOut != tc.want {
			t.Errorf("asked %d ms, got %d, want %d", tc.ask, c.Resp.TimeOut, tc.want)
		}
		_, _ = c.CloseSession()
	}
}

func TestLastZxidAhead(t *testing.T) {
	c := rawConnect(t)
	z := rawStatZxid(t, c)
	nc, err := DialRaw(addr)
	mustNoErr(t, err)
	defer nc.Close()
	r := &RawClient{Conn: nc, IOTimeout: 3 * time.Second}
	err = r.Handshake(ConnectOpts{LastZxidSeen: z + 1000, ReadOnlyByte: true})
	if err == nil {
		t.Fatalf("handshake with lastZxidSeen ahead of the server succeeded: %+v", r.Resp)
	}
	if errors.Is(err, ErrSessionRefused) {
		t.Errorf("got a refusal response; ZooKeeper closes without replying")
	}
}

func TestCloseSession(t *testing.T) {
	root := testRoot(t)
	e := rawConnect(t)
	create2(t, e, root+"/eph", nil, wire.FlagEphemeral)
	create2(t, e, root+"/seq-", nil, wire.FlagEphemeralSequential)
	m := rawConnect(t)
	before := rawStat(t, m, root)
	r, err := e.CloseSession()
	if err != nil || r.Header.Err != 0 || len(r.Body) != 0 {
		t.Fatalf("closeSession: %+v %d %v", r.Header, len(r.Body), err)
	}
	if r.Header.Zxid <= before.Pzxid {
		t.Errorf("closeSession zxid %d, want > %d", r.Header.Zxid, before.Pzxid)
	}
	if !e.IsClosedWithin(3 * time.Second) {
		t.Errorf("connection open after closeSession")
	}
	code, ch, err := m.GetChildren(root, false, true)
	mustOK(t, "getChildren", code, err)
	if len(ch.Children) != 0 {
		t.Errorf("ephemerals left after closeSession: %v", ch.Children)
	}
	// Both ephemerals removed in the closeSession txn: pzxid = its zxid,
	// reported cversion 2 creates + 2 deletes.
	if ch.Stat.Pzxid != r.Header.Zxid {
		t.Errorf("parent pzxid %d, closeSession zxid %d", ch.Stat.Pzxid, r.Header.Zxid)
	}
	wantFields(t, "parent", ch.Stat, statFields{Cversion: 4})
	// The session is gone: resuming it is refused.
	c2, err := ConnectRaw(addr, ConnectOpts{SessionID: e.SessionID, Passwd: e.Passwd, ReadOnlyByte: true})
	if c2 != nil {
		defer c2.Close()
	}
	if !errors.Is(err, ErrSessionRefused) {
		t.Fatalf("resume closed session: %v", err)
	}
	wantRefusal(t, c2)
}

func wantRefusal(t *testing.T, c *RawClient) {
	t.Helper()
	if c.Resp.TimeOut != 0 || c.Resp.SessionID != 0 || !bytes.Equal(c.Resp.Passwd, make([]byte, 16)) {
		t.Errorf("refusal response %+v, want timeout 0, session 0, zero password", c.Resp)
	}
	if !c.IsClosedWithin(3 * time.Second) {
		t.Errorf("connection open after refusal")
	}
}

func TestSessionResume(t *testing.T) {
	root := testRoot(t)
	a := rawConnectOpts(t, ConnectOpts{TimeoutMs: 10000, ReadOnlyByte: true})
	create2(t, a, root+"/eph", nil, wire.FlagEphemeral)
	// Resume on a second connection with the right password: same session;
	// the first connection is closed by the server.
	b, err := ConnectRaw(addr, ConnectOpts{TimeoutMs: 10000, SessionID: a.SessionID, Passwd: a.Passwd, ReadOnlyByte: true})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if b.SessionID != a.SessionID || !bytes.Equal(b.Passwd, a.Passwd) || b.Resp.TimeOut != 10000 {
		t.Errorf("resumed %#x/%x timeout %d, want %#x/%x", b.SessionID, b.Passwd, b.Resp.TimeOut, a.SessionID, a.Passwd)
	}
	if !a.IsClosedWithin(3 * time.Second) {
		t.Errorf("old connection still open after the session moved to a new one")
	}
	code, st, err := b.Exists(root+"/eph", false)
	mustOK(t, "ephemeral kept", code, err)
	if st.EphemeralOwner != a.SessionID {
		t.Errorf("ephemeralOwner %#x", st.EphemeralOwner)
	}
	code, eph, err := b.GetEphemerals("/")
	mustOK(t, "getEphemerals", code, err)
	if !sameSet(eph, []string{root + "/eph"}) {
		t.Errorf("getEphemerals after resume %v", eph)
	}

	// Wrong password: refused, and the session's live connection is kicked
	// too, but the session survives.
	bad := append([]byte(nil), b.Passwd...)
	bad[0] ^= 0xff
	c, err := ConnectRaw(addr, ConnectOpts{SessionID: b.SessionID, Passwd: bad, ReadOnlyByte: true})
	if c != nil {
		defer c.Close()
	}
	if !errors.Is(err, ErrSessionRefused) {
		t.Fatalf("wrong password: %v", err)
	}
	wantRefusal(t, c)
	if !b.IsClosedWithin(3 * time.Second) {
		t.Errorf("live connection not closed by a bad-password attempt")
	}
	d, err := ConnectRaw(addr, ConnectOpts{SessionID: b.SessionID, Passwd: b.Passwd, ReadOnlyByte: true})
	if err != nil {
		t.Fatalf("resume after bad password attempt: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	code, _, err = d.Exists(root+"/eph", false)
	mustOK(t, "ephemeral survives", code, err)
	_, _ = d.CloseSession()

	// Unknown session id: refused.
	u, err := ConnectRaw(addr, ConnectOpts{SessionID: 0x0100000000001234, Passwd: make([]byte, 16), ReadOnlyByte: true})
	if u != nil {
		defer u.Close()
	}
	if !errors.Is(err, ErrSessionRefused) {
		t.Fatalf("unknown session: %v", err)
	}
	wantRefusal(t, u)
}

func TestSessionExpiry(t *testing.T) {
	root := testRoot(t)
	// A 4000 ms session (the minimum with tickTime 2000) that goes silent.
	e := rawConnectOpts(t, ConnectOpts{TimeoutMs: 4000, ReadOnlyByte: true})
	if e.Resp.TimeOut != 4000 {
		t.Fatalf("negotiated %d", e.Resp.TimeOut)
	}
	create2(t, e, root+"/eph", nil, wire.FlagEphemeral)
	create2(t, e, root+"/p", nil, 0)

	w := rawConnect(t)
	code, _, err := w.Exists(root+"/eph", true)
	mustOK(t, "exists watch", code, err)
	code, _, err = w.GetChildren(root, true, false)
	mustOK(t, "child watch", code, err)

	// go-zookeeper watcher on another session too.
	g := connectZK(t)
	_, _, gch, err := g.GetW(root + "/eph")
	mustNoErr(t, err)

	start := time.Now()
	// Expiry must happen within timeout + a tick or two; allow generous slack.
	ev1, err := w.NextEvent(15 * time.Second)
	if err != nil {
		t.Fatalf("no event after session expiry: %v", err)
	}
	ev2 := rawEvent(t, "second expiry event", w)
	got := []string{evKey(ev1.Type, ev1.Path), evKey(ev2.Type, ev2.Path)}
	if !sameSet(got, []string{evKey(evDeleted, root+"/eph"), evKey(evChildren, root)}) {
		t.Errorf("expiry events %v", got)
	}
	if el := time.Since(start); el < 3*time.Second {
		t.Errorf("session expired after only %v (timeout 4 s)", el)
	}
	wantZkEvent(t, "go watcher on expiry", gch, zk.EventNodeDeleted, root+"/eph")
	code, _, err = w.Exists(root+"/eph", false)
	mustNoErr(t, err)
	wantCode(t, "ephemeral after expiry", code, wire.ErrNoNode)
	code, _, err = w.Exists(root+"/p", false)
	mustOK(t, "persistent node survives", code, err)

	// The expired session's connection is closed and it cannot be resumed.
	if !e.IsClosedWithin(3 * time.Second) {
		t.Errorf("expired session's connection still open")
	}
	c, err := ConnectRaw(addr, ConnectOpts{SessionID: e.SessionID, Passwd: e.Passwd, ReadOnlyByte: true})
	if c != nil {
		defer c.Close()
	}
	if !errors.Is(err, ErrSessionRefused) {
		t.Fatalf("resume expired session: %v", err)
	}
	wantRefusal(t, c)
}

func TestPingKeepsSessionAlive(t *testing.T) {
	root := testRoot(t)
	e := rawConnectOpts(t, ConnectOpts{TimeoutMs: 4000, ReadOnlyByte: true})
	create2(t, e, root+"/eph", nil, wire.FlagEphemeral)
	deadline := time.Now().Add(7 * time.Second)
	for time.Now().Before(deadline) {
		r, err := e.Ping()
		if err != nil || r.Header.Xid != wire.XidPing || r.Header.Err != 0 {
			t.Fatalf("ping: %+v %v", r.Header, err)
		}
		time.Sleep(1 * time.Second)
	}
	code, _, err := e.Exists(root+"/eph", false)
	mustOK(t, "ephemeral alive after pings", code, err)
}

func TestGoClientCloseRemovesEphemerals(t *testing.T) {
	root := testRoot(t)
	g, ch := connectZKEvents(t, 4*time.Second)
	if _, err := g.Create(root+"/eph", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	m := rawConnect(t)
	code, _, err := m.Exists(root+"/eph", true)
	mustOK(t, "exists watch", code, err)
	g.Close() // sends closeSession
	wantRawEvent(t, "ephemeral removed by go client Close", m, evDeleted, root+"/eph")
	code, _, err = m.Exists(root+"/eph", false)
	mustNoErr(t, err)
	wantCode(t, "ephemeral after Close", code, wire.ErrNoNode)
	for range ch {
	}
}

func TestGetEphemerals(t *testing.T) {
	root := testRoot(t)
	a := rawConnect(t)
	b := rawConnect(t)
	create2(t, a, root+"/a1", nil, wire.FlagEphemeral)
	create2(t, a, root+"/dir", nil, 0)
	create2(t, a, root+"/dir/a2", nil, wire.FlagEphemeral)
	create2(t, a, root+"/dirx", nil, wire.FlagEphemeral)
	create2(t, b, root+"/b1", nil, wire.FlagEphemeral)

	check := func(c *RawClient, prefix string, want []string) {
		t.Helper()
		code, got, err := c.GetEphemerals(prefix)
		mustOK(t, "getEphemerals "+prefix, code, err)
		// Filter to this test's root when the prefix is global.
		var mine []string
		for _, p := range got {
			if len(p) >= len(root) && p[:len(root)] == root {
				mine = append(mine, p)
			}
		}
		if !sameSet(mine, want) {
			t.Errorf("getEphemerals(%q) = %v, want %v", prefix, mine, want)
		}
	}
	check(a, "/", []string{root + "/a1", root + "/dir/a2", root + "/dirx"})
	check(a, "", []string{root + "/a1", root + "/dir/a2", root + "/dirx"})
	check(a, root+"/dir", []string{root + "/dir/a2", root + "/dirx"}) // plain string prefix
	check(a, root+"/dir/", []string{root + "/dir/a2"})
	check(a, root+"/nothing", nil)
	check(b, "/", []string{root + "/b1"})
	code, got, err := rawConnect(t).GetEphemerals("/")
	mustOK(t, "getEphemerals fresh", code, err)
	if len(got) != 0 {
		t.Errorf("fresh session has ephemerals %v", got)
	}
	if got == nil {
		t.Errorf("empty getEphemerals decoded as null list")
	}
}

func TestGetAllChildrenNumber(t *testing.T) {
	root := testRoot(t)
	c := rawConnect(t)
	count := func(p string) int32 {
		t.Helper()
		code, n, err := c.GetAllChildrenNumber(p)
		mustOK(t, "getAllChildrenNumber "+p, code, err)
		return n
	}
	if n := count(root); n != 0 {
		t.Errorf("empty root: %d", n)
	}
	for _, p := range []string{"/a", "/a/b", "/a/b/c", "/a/d", "/e", "/ab"} {
		create2(t, c, root+p, nil, 0)
	}
	if n := count(root); n != 6 {
		t.Errorf("root: %d, want 6", n)
	}
	if n := count(root + "/a"); n != 3 {
		t.Errorf("/a: %d, want 3 (not counting /ab)", n)
	}
	if n := count(root + "/a/b/c"); n != 0 {
		t.Errorf("leaf: %d", n)
	}
	code, _, err := c.GetAllChildrenNumber(root + "/zz")
	mustNoErr(t, err)
	wantCode(t, "missing", code, wire.ErrNoNode)
	// "/" counts everything including /zookeeper, /zookeeper/quota and
	// /zookeeper/config: at least our 7 nodes plus those 3.
	if n := count("/"); n < 10 {
		t.Errorf("/: %d", n)
	}
	if n := count("/zookeeper"); n != 2 {
		t.Errorf("/zookeeper: %d, want 2", n)
	}
}
