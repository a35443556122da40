package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
)

// addSeeds adds each valid encoding to the corpus together with truncated
// and corrupted variants of it.
func addSeeds(f *testing.F, valid ...[]byte) {
	f.Helper()
	for _, b := range valid {
		for _, v := range variants(b) {
			f.Add(v)
		}
	}
}

// variants returns b, some of its prefixes, and copies with bytes or
// 4-byte words overwritten by values that trip length handling.
func variants(b []byte) [][]byte {
	out := [][]byte{b}
	if len(b) > 0 {
		out = append(out, b[:len(b)-1], b[:len(b)/2])
	}
	if len(b) > 4 {
		out = append(out, b[:4])
	}
	for _, off := range []int{0, 4, 8, 12, len(b) / 2, len(b) - 5} {
		if off < 0 || off+4 > len(b) {
			continue
		}
		for _, w := range []uint32{0xffffffff, 0x7fffffff, 0xfffffffe, 0x00000000, 0x00000005} {
			c := bytes.Clone(b)
			binary.BigEndian.PutUint32(c[off:], w)
			out = append(out, c)
		}
	}
	if len(b) > 0 {
		c := bytes.Clone(b)
		c[len(c)/3] ^= 0xff
		out = append(out, c, append(bytes.Clone(b), 0x01, 0x00, 0x00))
	}
	return out
}

// fuzzRecord decodes in with a fresh record. It must not panic; if it
// succeeds, no slice or string may be longer than the input, and encoding
// then decoding must be stable. strict also requires the second decode to
// equal the first (some records normalise fields the encoder does not
// write, for those only the bytes are compared).
func fuzzRecord(t *testing.T, in []byte, newRec func() Record, strict bool) {
	r1 := newRec()
	d := NewDecoder(in)
	r1.Decode(d)
	if d.Err() != nil {
		return
	}
	if d.Offset() > len(in) || d.Remaining() < 0 {
		t.Fatalf("offset %d remaining %d for %d bytes", d.Offset(), d.Remaining(), len(in))
	}
	checkBounded(t, r1, len(in))
	b1 := Marshal(r1)
	r2 := newRec()
	d2 := NewDecoder(b1)
	r2.Decode(d2)
	if d2.Err() != nil || d2.Remaining() != 0 {
		t.Fatalf("re-decode of %x: err %v, %d left\nvalue %+v", b1, d2.Err(), d2.Remaining(), r1)
	}
	if strict && !reflect.DeepEqual(r1, r2) {
		t.Fatalf("re-decode differs:\n first  %+v\n second %+v", r1, r2)
	}
	if b2 := Marshal(r2); !bytes.Equal(b1, b2) {
		t.Fatalf("re-encode differs:\n %x\n %x", b1, b2)
	}
}

func FuzzConnectRequest(f *testing.F) {
	pw := make([]byte, 16)
	addSeeds(f,
		Marshal(&ConnectRequest{TimeOut: 30000, Passwd: pw}),
		Marshal(&ConnectRequest{TimeOut: 30000, Passwd: pw, HasReadOnly: true}),
		Marshal(&ConnectRequest{LastZxidSeen: 0x2c, TimeOut: 4000, SessionID: 0x01000057a04e0000, Passwd: pw, HasReadOnly: true, ReadOnly: true}),
		Marshal(&ConnectRequest{}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &ConnectRequest{} }, true)
	})
}

func FuzzConnectResponse(f *testing.F) {
	pw := make([]byte, 16)
	addSeeds(f,
		Marshal(&ConnectResponse{TimeOut: 30000, SessionID: 1, Passwd: pw}),
		Marshal(&ConnectResponse{Passwd: pw, HasReadOnly: true}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &ConnectResponse{} }, true)
	})
}

func FuzzRequestHeader(f *testing.F) {
	addSeeds(f,
		Marshal(&RequestHeader{Xid: XidPing, Type: OpPing}),
		Marshal(&RequestHeader{Xid: 1, Type: OpCreate}),
		Marshal(&ReplyHeader{Xid: 1, Zxid: 2, Err: ErrNoNode}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &RequestHeader{} }, true)
		fuzzRecord(t, in, func() Record { return &ReplyHeader{} }, true)
		fuzzRecord(t, in, func() Record { return &MultiHeader{} }, true)
	})
}

func FuzzCreateRequest(f *testing.F) {
	addSeeds(f,
		Marshal(&CreateRequest{Path: "/a", Data: []byte("hello"), ACL: worldAnyone, Flags: FlagEphemeral}),
		Marshal(&CreateRequest{Path: "/a", ACL: []ACL{}}),
		Marshal(&CreateRequest{Path: "/a", Data: []byte{}, ACL: []ACL{worldAnyone[0], {Perms: 1, Id: Id{"digest", "u:x"}}}, Flags: FlagContainer}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &CreateRequest{} }, true)
	})
}

func FuzzCreateTTLRequest(f *testing.F) {
	addSeeds(f,
		Marshal(&CreateTTLRequest{CreateRequest{Path: "/t", Data: []byte("x"), ACL: worldAnyone, Flags: FlagPersistentWithTTL, TTL: 1000}}),
		Marshal(&CreateTTLRequest{CreateRequest{Path: "/t", Flags: FlagPersistentSequentialTTL, TTL: -1}}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &CreateTTLRequest{} }, true)
	})
}

func FuzzSetDataRequest(f *testing.F) {
	addSeeds(f,
		Marshal(&SetDataRequest{Path: "/a", Data: []byte("x"), Version: 3}),
		Marshal(&SetDataRequest{Path: "/a", Version: -1}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &SetDataRequest{} }, true)
	})
}

func FuzzSetACLRequest(f *testing.F) {
	addSeeds(f,
		Marshal(&SetACLRequest{Path: "/a", ACL: worldAnyone, Version: 1}),
		Marshal(&SetACLRequest{Path: "/a", ACL: []ACL{}, Version: -1}),
		Marshal(&GetACLResponse{ACL: worldAnyone, Stat: sampleStat}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &SetACLRequest{} }, true)
		fuzzRecord(t, in, func() Record { return &GetACLResponse{} }, true)
	})
}

func FuzzSetWatches(f *testing.F) {
	v1 := SetWatches{RelativeZxid: 9, DataWatches: []string{"/a", "/b"}, ExistWatches: []string{}, ChildWatches: []string{"/c"}}
	v2 := v1
	v2.V2 = true
	v2.PersistentWatch = []string{"/p"}
	for _, b := range [][]byte{Marshal(&v1), Marshal(&v2), Marshal(&SetWatches{})} {
		for _, v := range variants(b) {
			f.Add(v, false)
			f.Add(v, true)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, isV2 bool) {
		fuzzRecord(t, in, func() Record { return &SetWatches{V2: isV2} }, true)
	})
}

func FuzzMultiRequest(f *testing.F) {
	writes := MultiRequest{Ops: []MultiOp{
		{Type: OpCreate, Create: CreateRequest{Path: "/a", Data: []byte("x"), ACL: worldAnyone}},
		{Type: OpCreateContainer, Create: CreateRequest{Path: "/c", ACL: worldAnyone, Flags: FlagContainer}},
		{Type: OpCreateTTL, Create: CreateRequest{Path: "/t", ACL: worldAnyone, Flags: FlagPersistentWithTTL, TTL: 5}},
		{Type: OpDelete, Version: PathVersionRequest{Path: "/d", Version: 2}},
		{Type: OpCheck, Version: PathVersionRequest{Path: "/k"}},
		{Type: OpSetData, SetData: SetDataRequest{Path: "/s", Data: []byte("v"), Version: -1}},
	}}
	reads := MultiRequest{Ops: []MultiOp{
		{Type: OpGetData, Read: PathWatchRequest{Path: "/a"}},
		{Type: OpGetChildren, Read: PathWatchRequest{Path: "/"}},
	}}
	create2 := cat(opHeader(OpCreate2), createBody("/p", 0), multiEnd)
	mixed := cat(opHeader(OpDelete), Marshal(&PathVersionRequest{Path: "/a"}), opHeader(OpGetData), Marshal(&PathWatchRequest{Path: "/a"}), multiEnd)
	ttlAsCreate := cat(opHeader(OpCreate), createBody("/p", FlagPersistentWithTTL), multiEnd)
	addSeeds(f, Marshal(&writes), Marshal(&reads), Marshal(&MultiRequest{}), create2, mixed, ttlAsCreate)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &MultiRequest{} }, true)
	})
}

func FuzzMultiResponse(f *testing.F) {
	ok := MultiResponse{Results: []MultiResult{
		{Type: OpCreate, Path: "/a"},
		{Type: OpCreate2, Path: "/c", Stat: sampleStat},
		{Type: OpDelete}, {Type: OpCheck},
		{Type: OpSetData, Stat: sampleStat},
	}}
	read := MultiResponse{Results: []MultiResult{
		{Type: OpGetData, Data: []byte("v"), Stat: sampleStat},
		{Type: OpGetChildren, Children: []string{"x"}},
		{Type: OpError, Err: ErrNoNode},
	}}
	failed := []byte{
		0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff, 0xff, 0x99, 0xff, 0xff, 0xff, 0x99,
		0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff,
	}
	addSeeds(f, Marshal(&ok), Marshal(&read), failed)
	f.Fuzz(func(t *testing.T, in []byte) {
		// Not strict: the header err of a successful result is not re-encoded.
		fuzzRecord(t, in, func() Record { return &MultiResponse{} }, false)
	})
}

func FuzzTxn(f *testing.F) {
	hdr := func(typ Op) TxnHeader {
		return TxnHeader{ClientID: 0x01000057a04e0000, Cxid: 3, Zxid: 0x1b, Time: 0x000001a2057bb242, Type: typ}
	}
	txns := []Txn{
		{Type: OpCreate, Path: "/a", Data: []byte("hello"), ACL: worldAnyone, ParentCVersion: 1},
		{Type: OpCreate2, Path: "/e", ACL: worldAnyone, Ephemeral: true, ParentCVersion: 7},
		{Type: OpCreateContainer, Path: "/c", Data: []byte{}, ACL: worldAnyone, ParentCVersion: 3},
		{Type: OpCreateTTL, Path: "/t", ACL: worldAnyone, ParentCVersion: 2, TTL: 100},
		{Type: OpDelete, Path: "/d"},
		{Type: OpDeleteContainer, Path: "/dc"},
		{Type: OpSetData, Path: "/s", Data: []byte("x"), Version: 1},
		{Type: OpReconfig, Path: "/zookeeper/config", Data: []byte("s"), Version: -1},
		{Type: OpSetACL, Path: "/a", ACL: worldAnyone, Version: 1},
		{Type: OpCheck, Path: "/k", Version: 1},
		{Type: OpCreateSession, TimeOut: 30000},
		{Type: OpCloseSession, Paths: []string{"/b"}},
		{Type: OpError, Err: ErrBadVersion},
		{Type: OpMulti, Ops: []Txn{
			{Type: OpCreate, Path: "/m1", Data: []byte{}, ACL: worldAnyone, ParentCVersion: 4},
			{Type: OpCheck, Path: "/k", Version: 3},
			{Type: OpError, Err: ErrNoNode},
		}},
	}
	for _, tx := range txns {
		h := hdr(tx.Type)
		b := encodeTxn(&h, &tx)
		for _, v := range variants(b) {
			f.Add(v, false)
		}
		f.Add(cat(b, []byte{0, 0, 0, 2, 0, 0, 0, 0, 0x51, 0xc6, 0xd6, 0x60}), false)
		var e Encoder
		tx.EncodeBody(&e)
		f.Add(cat(Marshal(&h), e.B), true)
	}
	h := hdr(OpCloseSession)
	f.Add(Marshal(&h), false)
	f.Fuzz(func(t *testing.T, in []byte, inMulti bool) {
		d := NewDecoder(in)
		var h TxnHeader
		h.Decode(d)
		if d.Err() != nil {
			return
		}
		var t1 Txn
		t1.DecodeBody(d, h.Type, inMulti)
		if d.Err() != nil {
			if (h.Type == OpCheck && !inMulti) && !errors.Is(d.Err(), ErrUnknownTxn) {
				t.Fatalf("top-level check: %v", d.Err())
			}
			return
		}
		if h.Type == OpCheck && !inMulti {
			t.Fatal("top-level check accepted")
		}
		if h.Type == OpMulti && inMulti {
			t.Fatal("nested multi accepted")
		}
		for _, sub := range t1.Ops {
			if sub.Type == OpMulti {
				t.Fatal("multi inside multi accepted")
			}
		}
		checkBounded(t, &t1, len(in))
		b1 := encodeTxn(&h, &t1)
		h2, t2, rest, err := func() (TxnHeader, Txn, int, error) {
			d := NewDecoder(b1)
			var h TxnHeader
			var tx Txn
			h.Decode(d)
			tx.DecodeBody(d, h.Type, inMulti)
			return h, tx, d.Remaining(), d.Err()
		}()
		if err != nil || rest != 0 {
			t.Fatalf("re-decode of %x: %v, %d left", b1, err, rest)
		}
		if h2 != h || !reflect.DeepEqual(t1, t2) {
			t.Fatalf("re-decode differs:\n %+v %+v\n %+v %+v", h, t1, h2, t2)
		}
		if b2 := encodeTxn(&h2, &t2); !bytes.Equal(b1, b2) {
			t.Fatalf("re-encode differs:\n %x\n %x", b1, b2)
		}
	})
}

func FuzzAuthPacket(f *testing.F) {
	addSeeds(f,
		Marshal(&AuthPacket{Scheme: "digest", Auth: []byte("u:p")}),
		Marshal(&AuthPacket{Scheme: "ip"}),
		Marshal(&BufferRecord{Data: []byte("token")}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &AuthPacket{} }, true)
		fuzzRecord(t, in, func() Record { return &BufferRecord{} }, true)
	})
}

func FuzzWhoAmIResponse(f *testing.F) {
	addSeeds(f,
		Marshal(&WhoAmIResponse{Info: []ClientInfo{{"digest", "u"}, {"ip", "127.0.0.1"}}}),
		Marshal(&WhoAmIResponse{}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &WhoAmIResponse{} }, true)
	})
}

func FuzzPathRequest(f *testing.F) {
	addSeeds(f, Marshal(&PathRequest{Path: "/zookeeper/config"}), Marshal(&PathRequest{}), []byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &PathRequest{} }, true)
	})
}

func FuzzPathWatchRequest(f *testing.F) {
	addSeeds(f, Marshal(&PathWatchRequest{Path: "/a", Watch: true}), Marshal(&PathWatchRequest{}))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &PathWatchRequest{} }, true)
	})
}

func FuzzPathModeRequest(f *testing.F) {
	addSeeds(f,
		Marshal(&PathModeRequest{Path: "/a", Mode: AddWatchPersistentRecursive}),
		Marshal(&PathVersionRequest{Path: "/a", Version: -1}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &PathModeRequest{} }, true)
		fuzzRecord(t, in, func() Record { return &PathVersionRequest{} }, true)
	})
}

func FuzzWatcherEvent(f *testing.F) {
	addSeeds(f, Marshal(&WatcherEvent{Type: EventNodeCreated, State: StateSyncConnected, Path: "/a"}))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &WatcherEvent{} }, true)
	})
}

func FuzzReconfigRequest(f *testing.F) {
	addSeeds(f, Marshal(&ReconfigRequest{JoiningServers: "server.4=h:1:2;3", LeavingServers: "2", CurConfigID: -1}))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &ReconfigRequest{} }, true)
	})
}

func FuzzResponses(f *testing.F) {
	addSeeds(f,
		Marshal(&GetDataResponse{Data: []byte("v"), Stat: sampleStat}),
		Marshal(&GetDataResponse{Stat: sampleStat}),
		Marshal(&Create2Response{Path: "/a", Stat: sampleStat}),
		Marshal(&ChildrenResponse{Children: []string{"a", "b"}, Stat: sampleStat, WithStat: true}),
		Marshal(&StatResponse{Stat: sampleStat}),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &GetDataResponse{} }, true)
		fuzzRecord(t, in, func() Record { return &Create2Response{} }, true)
		fuzzRecord(t, in, func() Record { return &ChildrenResponse{} }, true)
		fuzzRecord(t, in, func() Record { return &ChildrenResponse{WithStat: true} }, true)
		fuzzRecord(t, in, func() Record { return &StatResponse{} }, true)
		fuzzRecord(t, in, func() Record { return &IntRecord{} }, true)
	})
}

func FuzzReadFrame(f *testing.F) {
	frame := AppendFrame(nil, func(e *Encoder) { (&ReplyHeader{Xid: 1, Zxid: 2}).Encode(e) })
	for _, v := range variants(frame) {
		f.Add(v, uint32(DefaultMaxBuffer), false)
		f.Add(v, uint32(16), true)
	}
	f.Add([]byte{0, 0, 0, 0}, uint32(0), false)
	f.Add([]byte{0x80, 0, 0, 0}, uint32(DefaultMaxBuffer), false)
	f.Add([]byte{0, 0x10, 0, 0}, uint32(DefaultMaxBuffer), true)
	f.Fuzz(func(t *testing.T, in []byte, max32 uint32, reuse bool) {
		max := int(max32 % (DefaultMaxBuffer + 2))
		var buf []byte
		if reuse {
			buf = make([]byte, 0, 32)
		}
		out, err := ReadFrame(bytes.NewReader(in), max, buf)
		if len(in) < 4 {
			if err == nil {
				t.Fatal("frame without a full length accepted")
			}
			return
		}
		n := int64(int32(binary.BigEndian.Uint32(in)))
		switch {
		case n < 0 || n > int64(max):
			if !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("length %d max %d: %v", n, max, err)
			}
		case int64(len(in)-4) < n:
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("short body: %v", err)
			}
		default:
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(out)) != n || !bytes.Equal(out, in[4:4+n]) {
				t.Fatalf("body %x", out)
			}
			again := AppendFrame(nil, func(e *Encoder) { e.B = append(e.B, out...) })
			if !bytes.Equal(again, in[:4+n]) {
				t.Fatalf("AppendFrame %x", again)
			}
		}
	})
}
