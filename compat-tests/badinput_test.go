package compat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/zkserver/zkserver/wire"
)

// bystander is a healthy session whose data must survive other clients'
// bad input.
type bystander struct {
	t    *testing.T
	g    *zk.Conn
	path string
	data []byte
}

func newBystander(t *testing.T, root string) *bystander {
	g := connectZK(t)
	b := &bystander{t: t, g: g, path: root + "/bystander", data: []byte("intact-data")}
	if _, err := g.Create(b.path, b.data, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("bystander create: %v", err)
	}
	return b
}

func (b *bystander) check(after string) {
	b.t.Helper()
	data, st, err := b.g.Get(b.path)
	if err != nil || !bytes.Equal(data, b.data) || st.Version != 0 {
		b.t.Errorf("after %s: bystander read %q %+v %v", after, data, st, err)
	}
	if _, err := b.g.Set(b.path, b.data, 0); err != nil {
		b.t.Errorf("after %s: bystander write: %v", after, err)
	}
	// Put the version back where we expect it.
	_ = b.g.Delete(b.path, 1)
	if _, err := b.g.Create(b.path, b.data, 0, zk.WorldACL(zk.PermAll)); err != nil {
		b.t.Errorf("after %s: bystander re-create: %v", after, err)
	}
}

// readUntilClosed returns what the server sends until it closes the
// connection; closed is false if it is still open after d.
func readUntilClosed(nc net.Conn, d time.Duration) (data []byte, closed bool) {
	_ = nc.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(nc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return b, false
	}
	return b, true
}

func dialT(t *testing.T) net.Conn {
	t.Helper()
	nc, err := DialRaw(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

func frame(body []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	return append(out, body...)
}

func TestBadInputBeforeHandshake(t *testing.T) {
	root := testRoot(t)
	by := newBystander(t, root)
	getData := func() []byte {
		var e wire.Encoder
		(&wire.RequestHeader{Xid: 1, Type: wire.OpGetData}).Encode(&e)
		(&wire.PathWatchRequest{Path: "/"}).Encode(&e)
		return e.B
	}
	cases := []struct {
		name  string
		bytes []byte
	}{
		{"garbage frame", frame([]byte("hello"))},
		{"random bytes", []byte("\x00\x00\x00\x10\xde\xad\xbe\xef\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c")},
		{"huge length", []byte{0x7f, 0xff, 0xff, 0xff}},
		{"negative length", []byte{0xff, 0xff, 0xff, 0xf0}},
		{"length over maxbuffer", binary.BigEndian.AppendUint32(nil, wire.DefaultMaxBuffer+1)},
		{"request before handshake", frame(getData())},
		{"unknown four-letter word", []byte("xyzw")},
		{"empty frame", frame(nil)},
	}
	for _, tc := range cases {
		nc := dialT(t)
		if _, err := nc.Write(tc.bytes); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		got, closed := readUntilClosed(nc, 5*time.Second)
		if !closed {
			t.Errorf("%s: connection still open", tc.name)
		}
		if len(got) != 0 {
			t.Errorf("%s: server sent %x before closing, want nothing", tc.name, got)
		}
		by.check(tc.name)
	}

	// A truncated ConnectRequest frame: the server waits for the rest.
	nc := dialT(t)
	req := wire.Marshal(&wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	f := frame(req)
	_, _ = nc.Write(f[:len(f)-10])
	if got, closed := readUntilClosed(nc, 500*time.Millisecond); closed || len(got) != 0 {
		t.Errorf("truncated connect frame: got %x closed %v; want the server to wait", got, closed)
	}
	// Completing it later yields a normal session.
	_, _ = nc.Write(f[len(f)-10:])
	c := &RawClient{Conn: nc, IOTimeout: DefaultIOTimeout}
	body, err := c.ReadFrame()
	var cr wire.ConnectResponse
	if err != nil || wire.Unmarshal(body, &cr) != nil || cr.TimeOut != 10000 {
		t.Errorf("completed connect: %+v %v", cr, err)
	}
	by.check("truncated connect frame")
}

func TestBadInputAfterHandshake(t *testing.T) {
	root := testRoot(t)
	by := newBystander(t, root)
	hdr := func(xid int32, op wire.Op) []byte {
		var e wire.Encoder
		(&wire.RequestHeader{Xid: xid, Type: op}).Encode(&e)
		return e.B
	}
	closing := []struct {
		name  string
		bytes []byte
	}{
		{"huge length", []byte{0x7f, 0xff, 0xff, 0xff}},
		{"negative length", []byte{0xff, 0xff, 0xff, 0xff}},
		{"length over maxbuffer", binary.BigEndian.AppendUint32(nil, wire.DefaultMaxBuffer+1)},
		{"frame shorter than a request header", frame([]byte{0, 0, 0, 9})},
		{"four-letter word after handshake", []byte("ruok")},
	}
	for _, tc := range closing {
		c := rawConnect(t)
		mustNoErr(t, c.WriteRaw(tc.bytes))
		got, closed := readUntilClosed(c.Conn, 5*time.Second)
		if !closed || len(got) != 0 {
			t.Errorf("%s: got %x closed %v; want close without reply", tc.name, got, closed)
		}
		by.check(tc.name)
	}

	// Unknown opcodes: UNIMPLEMENTED with zxid -1 and no body, then close.
	for _, op := range []wire.Op{999, 0, -1, 10, 23, 108} {
		c := rawConnect(t)
		mustNoErr(t, c.WriteFrame(hdr(7, op)))
		b, err := c.ReadFrame()
		mustNoErr(t, err)
		var e wire.Encoder
		(&wire.ReplyHeader{Xid: 7, Zxid: -1, Err: wire.ErrUnimplemented}).Encode(&e)
		if !bytes.Equal(b, e.B) {
			t.Errorf("opcode %d: reply %x, want %x", op, b, e.B)
		}
		if got, closed := readUntilClosed(c.Conn, 5*time.Second); !closed || len(got) != 0 {
			t.Errorf("opcode %d: after UNIMPLEMENTED got %x closed %v", op, got, closed)
		}
		by.check("unknown opcode")
	}

	// Undecodable bodies: MARSHALLINGERROR, connection stays usable. A read
	// does not consume a zxid; a write does (it becomes an error txn).
	c := rawConnect(t)
	z := rawStatZxid(t, c)
	bad := append(hdr(101, wire.OpGetData), 0, 0, 0, 100, 'a', 'b', 'c')
	mustNoErr(t, c.WriteFrame(bad))
	r, err := c.ReadReply()
	mustNoErr(t, err)
	if r.Header.Xid != 101 || r.Header.Err != wire.ErrMarshallingError || r.Header.Zxid != z || len(r.Body) != 0 {
		t.Errorf("truncated getData: %+v body %d; want xid 101 MARSHALLINGERROR zxid %d", r.Header, len(r.Body), z)
	}
	bad = append(hdr(102, wire.OpSetData), 0, 0, 0, 100, 'a', 'b', 'c')
	mustNoErr(t, c.WriteFrame(bad))
	r, err = c.ReadReply()
	mustNoErr(t, err)
	if r.Header.Xid != 102 || r.Header.Err != wire.ErrMarshallingError || r.Header.Zxid <= z || len(r.Body) != 0 {
		t.Errorf("truncated setData: %+v body %d; want xid 102 MARSHALLINGERROR zxid > %d", r.Header, len(r.Body), z)
	}
	mustNoErr(t, c.WriteFrame(hdr(103, wire.OpCreate)))
	r, err = c.ReadReply()
	mustNoErr(t, err)
	if r.Header.Xid != 103 || r.Header.Err != wire.ErrMarshallingError {
		t.Errorf("create without body: %+v", r.Header)
	}
	// Trailing bytes after a valid body are ignored.
	ok := append(hdr(104, wire.OpExists), wire.Marshal(&wire.PathWatchRequest{Path: "/"})...)
	mustNoErr(t, c.WriteFrame(append(ok, "trailing"...)))
	r, err = c.ReadReply()
	mustNoErr(t, err)
	if r.Header.Xid != 104 || r.Header.Err != 0 || len(r.Body) != 68 {
		t.Errorf("exists with trailing bytes: %+v body %d", r.Header, len(r.Body))
	}
	p, err := c.Ping()
	if err != nil || p.Header.Err != 0 {
		t.Errorf("ping after marshalling errors: %+v %v", p.Header, err)
	}
	by.check("marshalling errors")

	// A truncated frame on an established session: the server waits.
	c = rawConnect(t)
	f := frame(append(hdr(1, wire.OpExists), wire.Marshal(&wire.PathWatchRequest{Path: "/"})...))
	mustNoErr(t, c.WriteRaw(f[:len(f)-3]))
	if got, closed := readUntilClosed(c.Conn, 500*time.Millisecond); closed || len(got) != 0 {
		t.Errorf("truncated frame: got %x closed %v; want the server to wait", got, closed)
	}
	mustNoErr(t, c.WriteRaw(f[len(f)-3:]))
	r, err = c.ReadReply()
	if err != nil || r.Header.Xid != 1 || r.Header.Err != 0 {
		t.Errorf("completed frame: %+v %v", r.Header, err)
	}
	by.check("truncated frame")
}

func TestOddOpcodes(t *testing.T) {
	root := testRoot(t)
	by := newBystander(t, root)
	c := rawConnect(t)
	create2(t, c, root+"/a", []byte("x"), 0)

	// deleteContainer from a client: BADARGUMENTS, connection stays.
	code, err := c.Do(wire.OpDeleteContainer, &wire.PathRequest{Path: root + "/a"}, nil)
	mustNoErr(t, err)
	wantCode(t, "client deleteContainer", code, wire.ErrBadArguments)
	// createSession as a request: MARSHALLINGERROR.
	code, err = c.Do(wire.OpCreateSession, nil, nil)
	mustNoErr(t, err)
	wantCode(t, "createSession request", code, wire.ErrMarshallingError)
	// reconfig on a standalone server without reconfigEnabled.
	r := mr(t)(c.Call(wire.OpReconfig, &wire.ReconfigRequest{CurConfigID: -1}))
	if r.Header.Err != wire.ErrReconfigDisabled || len(r.Body) != 0 {
		t.Errorf("reconfig: %+v body %d; want RECONFIGDISABLED", r.Header, len(r.Body))
	}
	// sasl without SASL configured: OK with a null token, zxid 0.
	r = mr(t)(c.Call(wire.OpSASL, &wire.BufferRecord{Data: []byte("x")}))
	if r.Header.Err != 0 || r.Header.Zxid != 0 || !bytes.Equal(r.Body, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Errorf("sasl: %+v body %x; want OK zxid 0 body ffffffff", r.Header, r.Body)
	}
	// The getConfig view of a standalone server: empty /zookeeper/config.
	code, gd, err := c.GetData("/zookeeper/config", false)
	mustOK(t, "getConfig", code, err)
	if len(gd.Data) != 0 {
		t.Errorf("standalone /zookeeper/config = %q", gd.Data)
	}
	g := connectZK(t)
	_, err = g.IncrementalReconfig([]string{"server.2=127.0.0.1:2888:3888:participant;2182"}, nil, -1)
	wantCode(t, "go IncrementalReconfig", zkCode(err), wire.ErrReconfigDisabled)

	// Top-level check (valid only inside multi). ZooKeeper 3.8.0 fails
	// building the reply and sends nothing for it, keeping the connection; a
	// compatible server may instead answer with an error. Never a success,
	// never a change, and the connection (if still open) and other clients
	// keep working.
	c.IOTimeout = 2 * time.Second
	xid, err := c.Send(wire.OpCheck, &wire.PathVersionRequest{Path: root + "/a", Version: 0})
	mustNoErr(t, err)
	r, err = c.ReadReply()
	switch {
	case err == nil && r.Header.Xid == xid && r.Header.Err != 0:
		// Error reply: acceptable.
	case err == nil:
		t.Errorf("top-level check answered %+v body %x", r.Header, r.Body)
	default:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			// Closed connection: acceptable too.
			break
		}
		// No reply (ZooKeeper 3.8.0): the connection still serves requests.
		code, st, err := c.Exists(root+"/a", false)
		mustOK(t, "exists after top-level check", code, err)
		wantFields(t, "node after top-level check", st, statFields{DataLength: 1})
	}
	by.check("top-level check")
}

func TestLargeData(t *testing.T) {
	root := testRoot(t)
	by := newBystander(t, root)
	c := rawConnect(t)
	p := root + "/big"
	create2(t, c, p, nil, 0)
	// setData frame: header 8 + path (4+len) + data (4+n) + version 4.
	overhead := 8 + 4 + len(p) + 4 + 4
	n := wire.DefaultMaxBuffer - overhead // frame length exactly jute.maxbuffer
	data := bytes.Repeat([]byte{'z'}, n)
	code, st, err := c.SetData(p, data, -1)
	mustOK(t, "setData at the limit", code, err)
	if st.DataLength != int32(n) {
		t.Errorf("dataLength %d, want %d", st.DataLength, n)
	}
	code, gd, err := c.GetData(p, false)
	mustOK(t, "getData of large node", code, err)
	if !bytes.Equal(gd.Data, data) {
		t.Errorf("large data read back wrong (%d bytes)", len(gd.Data))
	}
	// go-zookeeper can read it back too.
	g := connectZK(t)
	got, _, err := g.Get(p)
	if err != nil || len(got) != n {
		t.Errorf("go Get large: %d bytes, %v", len(got), err)
	}

	// One byte more: the frame exceeds jute.maxbuffer, connection closed
	// without a reply, data unchanged.
	c2 := rawConnect(t)
	_, err = c2.Send(wire.OpSetData, &wire.SetDataRequest{Path: p, Data: append(data, 'y'), Version: -1})
	if err == nil {
		if got, closed := readUntilClosed(c2.Conn, 5*time.Second); !closed || len(got) != 0 {
			t.Errorf("oversized setData: got %x closed %v; want close without reply", got, closed)
		}
	}
	code, st2, err := c.Exists(p, false)
	mustOK(t, "exists after oversized write", code, err)
	if st2.Version != st.Version || st2.DataLength != int32(n) {
		t.Errorf("oversized write changed the node: %+v", st2)
	}
	// Create at the limit works too.
	q := root + "/bigc"
	acl := OpenACL()
	aclLen := 4 + 4 + 4 + len(acl[0].Scheme) + 4 + len(acl[0].ID)
	cn := wire.DefaultMaxBuffer - (8 + 4 + len(q) + 4 + aclLen + 4)
	r := mr(t)(c.Create(wire.OpCreate, q, bytes.Repeat([]byte{'c'}, cn), acl, 0))
	wantCode(t, "create at the limit", r.Header.Err, 0)
	by.check("large data")
}
