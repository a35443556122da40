package server

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// closeWrite half-closes so the server sees EOF after what was sent.
func (c *rawClient) closeWrite() {
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// TestBadInput runs each bad client next to a well-behaved one, which must
// keep working with its data intact.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name    string
		run     func(t *testing.T, s *Server, good *rawClient, bad *rawClient) []byte
		noReply bool
	}{
		{"garbage before handshake", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			bad.writeRaw([]byte("GARBAGE!\x00\x01\x02\x03 this is not a frame at all"))
			bad.closeWrite()
			return bad.expectClosed()
		}, true},
		{"garbage after handshake", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			handshakeOK(t, bad)
			bad.writeRaw([]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8})
			bad.closeWrite()
			return bad.expectClosed()
		}, true},
		{"truncated connect request then close", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			full := wire.AppendFrame(nil, (&wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}).Encode)
			bad.writeRaw(full[:len(full)-7])
			bad.closeWrite()
			return bad.expectClosed()
		}, true},
		{"truncated request frame then close", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			handshakeOK(t, bad)
			fr := reqFrame(1, wire.OpCreate, &wire.CreateRequest{Path: "/trunc", ACL: OpenACLForTest()})
			bad.writeRaw(fr[:len(fr)-5])
			bad.closeWrite()
			return bad.expectClosed()
		}, true},
		{"length 0x7fffffff before handshake", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			bad.writeRaw(be32(0x7fffffff))
			return bad.expectClosed()
		}, true},
		{"negative length before handshake", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			bad.writeRaw(be32(0xffffffff))
			return bad.expectClosed()
		}, true},
		{"length 0x7fffffff after handshake", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			handshakeOK(t, bad)
			bad.writeRaw(be32(0x7fffffff))
			return bad.expectClosed()
		}, true},
		{"negative length after handshake", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			handshakeOK(t, bad)
			bad.writeRaw(be32(0x80000000))
			return bad.expectClosed()
		}, true},
		{"request frame shorter than a header", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			handshakeOK(t, bad)
			bad.writeRaw(append(be32(3), 0, 0, 1))
			return bad.expectClosed()
		}, true},
		{"request instead of a connect request", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			bad.writeRaw(reqFrame(1, wire.OpGetData, &wire.PathWatchRequest{Path: "/keep"}))
			return bad.expectClosed()
		}, true},
		{"four-letter word after the handshake", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			handshakeOK(t, bad)
			bad.writeRaw([]byte("ruok"))
			return bad.expectClosed()
		}, true},
		{"unknown opcode 999", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			handshakeOK(t, bad)
			bad.writeRaw(reqFrame(7, wire.Op(999), nil))
			got := bad.expectClosed()
			want := append(be32(16), append(be32(7), append(binary.BigEndian.AppendUint64(nil, ^uint64(0)), be32(uint32(0xfffffffa))...)...)...)
			if !bytes.Equal(got, want) {
				t.Fatalf("reply %x, want %x", got, want)
			}
			return nil
		}, false},
		{"opcode 0 (notification)", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			handshakeOK(t, bad)
			bad.writeRaw(reqFrame(9, wire.OpNotification, nil))
			got := bad.expectClosed()
			var h wire.ReplyHeader
			if len(got) != 20 || wire.Unmarshal(got[4:], &h) != nil || h != (wire.ReplyHeader{Xid: 9, Zxid: -1, Err: wire.ErrUnimplemented}) {
				t.Fatalf("reply %x", got)
			}
			return nil
		}, false},
		{"lastZxidSeen ahead of the server", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			req := wire.ConnectRequest{LastZxidSeen: s.lastZxid.Load() + 1000, TimeOut: 10000, Passwd: make([]byte, 16)}
			bad.writeRaw(wire.AppendFrame(nil, req.Encode))
			return bad.expectClosed()
		}, true},
		{"reconnect with a wrong password", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			victim := connect(t, s)
			if _, h := victim.create("/victim", nil, wire.FlagEphemeral); h.Err != wire.ErrOK {
				t.Fatal(h.Err)
			}
			wrong := append([]byte(nil), victim.passwd...)
			wrong[0] ^= 0xff
			resp, err := bad.handshake(wire.ConnectRequest{SessionID: victim.sid, TimeOut: 10000, Passwd: wrong})
			if err != nil {
				t.Fatalf("no ConnectResponse: %v", err)
			}
			if resp.TimeOut != 0 || resp.SessionID != 0 || !bytes.Equal(resp.Passwd, make([]byte, 16)) {
				t.Fatalf("response %+v", resp)
			}
			if rest := bad.expectClosed(); len(rest) != 0 {
				t.Fatalf("more after the refusal: %x", rest)
			}
			// the attempt also drops the session's current connection,
			// but the session lives on and the right password resumes it
			victim.expectClosed()
			again := dialRaw(t, s)
			resp, err = again.handshake(wire.ConnectRequest{SessionID: victim.sid, TimeOut: 10000, Passwd: victim.passwd, LastZxidSeen: s.lastZxid.Load()})
			if err != nil || resp.SessionID != victim.sid || resp.TimeOut == 0 {
				t.Fatalf("resume: %v %+v", err, resp)
			}
			again.sid = victim.sid
			if _, h := again.getData("/victim"); h.Err != wire.ErrOK {
				t.Fatalf("ephemeral gone after a refused reconnect: %v", h.Err)
			}
			return nil
		}, false},
		{"undecodable read body keeps the connection", func(t *testing.T, s *Server, _, bad *rawClient) []byte {
			handshakeOK(t, bad)
			bad.writeRaw(wire.AppendFrame(nil, func(e *wire.Encoder) {
				(&wire.RequestHeader{Xid: 1, Type: wire.OpGetData}).Encode(e)
				e.Int(100) // a string length with nothing after it
			}))
			bad.xid = 1
			h := bad.mustReply(1, nil)
			if h.Err != wire.ErrMarshallingError {
				t.Fatalf("err %v", h.Err)
			}
			if gd, h := bad.getData("/keep"); h.Err != wire.ErrOK || string(gd.Data) != "intact" {
				t.Fatalf("connection unusable: %v", h.Err)
			}
			return nil
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t)
			good := connect(t, s)
			if _, h := good.create("/keep", []byte("intact"), 0); h.Err != wire.ErrOK {
				t.Fatal(h.Err)
			}
			bad := dialRaw(t, s)
			got := c.run(t, s, good, bad)
			if c.noReply && len(got) != 0 {
				t.Fatalf("expected no reply, got %x", got)
			}
			// the good client is unaffected
			gd, h := good.getData("/keep")
			if h.Err != wire.ErrOK || string(gd.Data) != "intact" || gd.Stat.Version != 0 {
				t.Fatalf("good client: %v %q %+v", h.Err, gd.Data, gd.Stat)
			}
			if _, h := good.create("/after", []byte("x"), 0); h.Err != wire.ErrOK {
				t.Fatalf("good client create: %v", h.Err)
			}
			var ch wire.ChildrenResponse
			if h := good.call(wire.OpGetChildren, &wire.PathWatchRequest{Path: "/"}, &ch); h.Err != wire.ErrOK {
				t.Fatal(h.Err)
			}
			for _, name := range ch.Children {
				if name == "trunc" {
					t.Fatal("a truncated request was applied")
				}
			}
			// and a new client can still connect
			late := connect(t, s)
			if gd, h := late.getData("/after"); h.Err != wire.ErrOK || string(gd.Data) != "x" {
				t.Fatalf("new client: %v", h.Err)
			}
		})
	}
}

func handshakeOK(t *testing.T, c *rawClient) {
	t.Helper()
	resp, err := c.handshake(wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil || resp.SessionID == 0 {
		t.Fatalf("handshake: %v %+v", err, resp)
	}
	c.sid, c.passwd = resp.SessionID, resp.Passwd
}
