package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

var multiEnd = []byte{0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff}

// opHeader is a request-side MultiHeader(type, false, -1).
func opHeader(typ Op) []byte {
	return Marshal(&MultiHeader{Type: typ, Err: -1})
}

func createBody(path string, flags int32) []byte {
	return Marshal(&CreateRequest{Path: path, Data: []byte("d"), ACL: worldAnyone, Flags: flags})
}

func TestMultiRequestLayout(t *testing.T) {
	r := MultiRequest{Ops: []MultiOp{
		{Type: OpCreate, Create: CreateRequest{Path: "/a", Data: []byte("d"), ACL: worldAnyone, TTL: -1}},
		{Type: OpDelete, Version: PathVersionRequest{Path: "/b", Version: -1}},
	}}
	b := Marshal(&r)
	want := cat(
		hx(t, "00000001 00 ffffffff"), createBody("/a", 0),
		hx(t, "00000002 00 ffffffff 00000002 2f62 ffffffff"),
		hx(t, "ffffffff 01 ffffffff"),
	)
	if !bytes.Equal(b, want) {
		t.Fatalf("got  %x\nwant %x", b, want)
	}
	var got MultiRequest
	decodeAll(t, b, &got)
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("%+v", got)
	}
}

func TestMultiRequestRoundTrip(t *testing.T) {
	writes := MultiRequest{Ops: []MultiOp{
		{Type: OpCreate, Create: CreateRequest{Path: "/a", Data: []byte("x"), ACL: worldAnyone, Flags: FlagPersistentSequential, TTL: -1}},
		{Type: OpCreate, Create: CreateRequest{Path: "/e", ACL: worldAnyone, Flags: FlagEphemeral, TTL: -1}},
		{Type: OpCreateContainer, Create: CreateRequest{Path: "/c", Data: []byte{}, ACL: worldAnyone, Flags: FlagContainer, TTL: -1}},
		{Type: OpCreateTTL, Create: CreateRequest{Path: "/t", Data: []byte("t"), ACL: worldAnyone, Flags: FlagPersistentWithTTL, TTL: 60000}},
		{Type: OpCreateTTL, Create: CreateRequest{Path: "/ts", ACL: worldAnyone, Flags: FlagPersistentSequentialTTL, TTL: 1}},
		{Type: OpDelete, Version: PathVersionRequest{Path: "/d", Version: 2}},
		{Type: OpCheck, Version: PathVersionRequest{Path: "/k", Version: 0}},
		{Type: OpSetData, SetData: SetDataRequest{Path: "/s", Data: []byte("v"), Version: -1}},
		{Type: OpSetData, SetData: SetDataRequest{Path: "/s"}},
	}}
	b := roundTrip(t, &writes, &MultiRequest{})
	mustFailPrefixes(t, b, func() Record { return &MultiRequest{} })

	reads := MultiRequest{Ops: []MultiOp{
		{Type: OpGetData, Read: PathWatchRequest{Path: "/a"}},
		{Type: OpGetChildren, Read: PathWatchRequest{Path: "/", Watch: true}},
	}}
	b = roundTrip(t, &reads, &MultiRequest{})
	mustFailPrefixes(t, b, func() Record { return &MultiRequest{} })

	roundTrip(t, &MultiRequest{}, &MultiRequest{})
	if b := Marshal(&MultiRequest{}); !bytes.Equal(b, multiEnd) {
		t.Fatalf("empty multi %x", b)
	}

	for _, op := range append(writes.Ops, reads.Ops...) {
		o := op
		want := map[Op]string{OpCreate: o.Create.Path, OpCreateContainer: o.Create.Path, OpCreateTTL: o.Create.Path,
			OpDelete: o.Version.Path, OpCheck: o.Version.Path, OpSetData: o.SetData.Path,
			OpGetData: o.Read.Path, OpGetChildren: o.Read.Path}[o.Type]
		if o.Path() != want {
			t.Fatalf("%v: Path() = %q want %q", o.Type, o.Path(), want)
		}
	}
}

func TestMultiRequestNormalisesCreate(t *testing.T) {
	ttlBody := func(path string, flags int32, ttl int64) []byte {
		return Marshal(&CreateTTLRequest{CreateRequest{Path: path, Data: []byte("d"), ACL: worldAnyone, Flags: flags, TTL: ttl}})
	}
	cases := []struct {
		name    string
		in      []byte
		typ     Op
		flags   int32
		ttl     int64
		comment string
	}{
		{"create2 is create", cat(opHeader(OpCreate2), createBody("/p", 0)), OpCreate, 0, -1, ""},
		{"create2 ephemeral is create", cat(opHeader(OpCreate2), createBody("/p", FlagEphemeral)), OpCreate, FlagEphemeral, -1, ""},
		{"create flags 4 is container", cat(opHeader(OpCreate), createBody("/p", FlagContainer)), OpCreateContainer, FlagContainer, -1, ""},
		{"create2 flags 4 is container", cat(opHeader(OpCreate2), createBody("/p", FlagContainer)), OpCreateContainer, FlagContainer, -1, ""},
		{"createContainer flags 4", cat(opHeader(OpCreateContainer), createBody("/p", FlagContainer)), OpCreateContainer, FlagContainer, -1, ""},
		{"createContainer flags 0 is create", cat(opHeader(OpCreateContainer), createBody("/p", 0)), OpCreate, 0, -1, ""},
		{"unknown flags are create", cat(opHeader(OpCreate), createBody("/p", 7)), OpCreate, 7, -1, ""},
		{"createTTL flags 5", cat(opHeader(OpCreateTTL), ttlBody("/p", FlagPersistentWithTTL, 1000)), OpCreateTTL, FlagPersistentWithTTL, 1000, ""},
		{"createTTL flags 6", cat(opHeader(OpCreateTTL), ttlBody("/p", FlagPersistentSequentialTTL, 42)), OpCreateTTL, FlagPersistentSequentialTTL, 42, ""},
		{"createTTL flags 0 is create without ttl", cat(opHeader(OpCreateTTL), ttlBody("/p", 0, 1000)), OpCreate, 0, -1, ""},
		{"create with TTL flags is createTTL, no ttl read", cat(opHeader(OpCreate), createBody("/p", FlagPersistentWithTTL)), OpCreateTTL, FlagPersistentWithTTL, -1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A trailing op proves the body was consumed exactly.
			in := cat(c.in, opHeader(OpDelete), Marshal(&PathVersionRequest{Path: "/z", Version: 1}), multiEnd)
			var r MultiRequest
			decodeAll(t, in, &r)
			if len(r.Ops) != 2 {
				t.Fatalf("ops %+v", r.Ops)
			}
			op := r.Ops[0]
			if op.Type != c.typ || op.Create.Flags != c.flags || op.Create.TTL != c.ttl || op.Create.Path != "/p" || string(op.Create.Data) != "d" {
				t.Fatalf("got %v flags %d ttl %d %+v", op.Type, op.Create.Flags, op.Create.TTL, op.Create)
			}
			if r.Ops[1].Type != OpDelete || r.Ops[1].Version.Path != "/z" {
				t.Fatalf("second op %+v", r.Ops[1])
			}
			// Decoding the normalised form again gives the same value.
			var r2 MultiRequest
			decodeAll(t, Marshal(&r), &r2)
			if !reflect.DeepEqual(r, r2) {
				t.Fatalf("re-decode:\n %+v\n %+v", r, r2)
			}
		})
	}
}

func TestMultiRequestRejects(t *testing.T) {
	getData := cat(opHeader(OpGetData), Marshal(&PathWatchRequest{Path: "/a"}))
	getChildren := cat(opHeader(OpGetChildren), Marshal(&PathWatchRequest{Path: "/a"}))
	del := cat(opHeader(OpDelete), Marshal(&PathVersionRequest{Path: "/a", Version: -1}))
	check := cat(opHeader(OpCheck), Marshal(&PathVersionRequest{Path: "/a", Version: 1}))
	setData := cat(opHeader(OpSetData), Marshal(&SetDataRequest{Path: "/a"}))
	create := cat(opHeader(OpCreate), createBody("/a", 0))
	pathOnly := Marshal(&PathWatchRequest{Path: "/a"})

	bad := map[string][]byte{
		"write then read":      cat(create, getData, multiEnd),
		"read then write":      cat(getChildren, del, multiEnd),
		"check then getData":   cat(check, getData, multiEnd),
		"getData then setData": cat(getData, setData, multiEnd),
		"exists op":            cat(opHeader(OpExists), pathOnly, multiEnd),
		"getChildren2 op":      cat(opHeader(OpGetChildren2), pathOnly, multiEnd),
		"sync op":              cat(opHeader(OpSync), jstr("/a"), multiEnd),
		"nested multi":         cat(opHeader(OpMulti), multiEnd, multiEnd),
		"multiRead op":         cat(opHeader(OpMultiRead), multiEnd),
		"error op":             cat(opHeader(OpError), hx(t, "00000000"), multiEnd),
		"notification op":      cat(opHeader(OpNotification), multiEnd),
		"unknown op":           cat(opHeader(999), multiEnd),
	}
	for name, in := range bad {
		var r MultiRequest
		if err := Unmarshal(in, &r); !errors.Is(err, ErrBadMulti) {
			t.Errorf("%s: err %v, ops %+v", name, err, r.Ops)
		}
	}

	// Missing terminator, or a truncated header.
	for name, in := range map[string][]byte{
		"no terminator":        create,
		"empty":                nil,
		"partial terminator":   cat(del, multiEnd[:5]),
		"huge path in op":      cat(opHeader(OpDelete), hx(t, "7fffffff 00000000")),
		"negative data in op":  cat(opHeader(OpSetData), jstr("/a"), hx(t, "fffffff0 00000000"), multiEnd),
		"huge ACL count in op": cat(opHeader(OpCreate), jstr("/a"), hx(t, "ffffffff 7fffffff 00000000"), multiEnd),
	} {
		if err := Unmarshal(in, &MultiRequest{}); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}

	// Only the done flag ends the list; the terminator's type and err are
	// not checked.
	var r MultiRequest
	decodeAll(t, cat(check, setData, hx(t, "00000001 01 00000000")), &r)
	if len(r.Ops) != 2 || r.Ops[0].Type != OpCheck || r.Ops[1].Type != OpSetData {
		t.Fatalf("%+v", r.Ops)
	}
	// Any non-zero done byte ends it, and bytes after it are left alone.
	d := NewDecoder(cat(del, hx(t, "ffffffff 07 ffffffff abcd")))
	r = MultiRequest{}
	r.Decode(d)
	if d.Err() != nil || len(r.Ops) != 1 || d.Remaining() != 2 {
		t.Fatalf("%v %+v %d", d.Err(), r.Ops, d.Remaining())
	}
}

func TestMultiResponseFailedCapture(t *testing.T) {
	// Captured from ZooKeeper 3.8.0: multi [create ok, setData bad version].
	in := hx(t, "ffffffff 00 00000000 00000000  ffffffff 00 ffffff99 ffffff99  ffffffff 01 ffffffff")
	var r MultiResponse
	decodeAll(t, in, &r)
	want := MultiResponse{Results: []MultiResult{
		{Type: OpError, Err: ErrOK},
		{Type: OpError, Err: ErrBadVersion},
	}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("%+v", r)
	}
	if b := Marshal(&want); !bytes.Equal(b, in) {
		t.Fatalf("re-encode\n got  %x\n want %x", b, in)
	}
	mustFailPrefixes(t, in, func() Record { return &MultiResponse{} })

	// An op after the failing one is reported as RUNTIMEINCONSISTENCY.
	three := MultiResponse{Results: []MultiResult{
		{Type: OpError, Err: ErrOK}, {Type: OpError, Err: ErrNoNode}, {Type: OpError, Err: ErrRuntimeInconsistency},
	}}
	b := roundTrip(t, &three, &MultiResponse{})
	if !bytes.Equal(b, hx(t, `ffffffff 00 00000000 00000000 ffffffff 00 ffffff9b ffffff9b
		ffffffff 00 fffffffe fffffffe ffffffff 01 ffffffff`)) {
		t.Fatalf("%x", b)
	}
}

func TestMultiResponseContainerCapture(t *testing.T) {
	// multi [createContainer /mc, ephemeral create /mc/x]: the container
	// result is reported as create2 (15) with a Stat, the plain create as
	// create (1) with the path only.
	st := Stat{Czxid: 0x20, Mzxid: 0x20, Ctime: 0x000001a2057bb242, Mtime: 0x000001a2057bb242,
		Version: 0, Cversion: 0, Aversion: 0, EphemeralOwner: 0, DataLength: 0, NumChildren: 0, Pzxid: 0x20}
	in := cat(
		hx(t, "0000000f 00 00000000"), jstr("/mc"),
		hx(t, `0000000000000020 0000000000000020 000001a2057bb242 000001a2057bb242
			00000000 00000000 00000000 0000000000000000 00000000 00000000 0000000000000020`),
		hx(t, "00000001 00 00000000"), jstr("/mc/x"),
		hx(t, "ffffffff 01 ffffffff"),
	)
	var r MultiResponse
	decodeAll(t, in, &r)
	want := MultiResponse{Results: []MultiResult{
		{Type: OpCreate2, Path: "/mc", Stat: st},
		{Type: OpCreate, Path: "/mc/x"},
	}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("%+v", r)
	}
	if b := Marshal(&want); !bytes.Equal(b, in) {
		t.Fatalf("re-encode\n got  %x\n want %x", b, in)
	}
	mustFailPrefixes(t, in, func() Record { return &MultiResponse{} })
}

func TestMultiReadResponse(t *testing.T) {
	// multiRead: getChildren of a missing node gives an error entry, the
	// others their own results.
	r := MultiResponse{Results: []MultiResult{
		{Type: OpGetData, Data: []byte("v"), Stat: sampleStat},
		{Type: OpError, Err: ErrNoNode},
		{Type: OpGetChildren, Children: []string{"x", "y"}},
		{Type: OpGetData, Stat: sampleStat},
		{Type: OpGetData, Data: []byte{}, Stat: sampleStat},
		{Type: OpGetChildren, Children: []string{}},
	}}
	b := roundTrip(t, &r, &MultiResponse{})
	mustFailPrefixes(t, b, func() Record { return &MultiResponse{} })
	errEntry := hx(t, "ffffffff 00 ffffff9b ffffff9b")
	if !bytes.Contains(b, errEntry) {
		t.Fatalf("no error entry in %x", b)
	}
	getData := cat(hx(t, "00000004 00 00000000 00000001 76"), Marshal(&sampleStat))
	if !bytes.HasPrefix(b, cat(getData, errEntry, hx(t, "00000008 00 00000000 00000002 00000001 78 00000001 79"))) {
		t.Fatalf("layout %x", b)
	}
}

func TestMultiResponseRoundTrip(t *testing.T) {
	r := MultiResponse{Results: []MultiResult{
		{Type: OpCreate, Path: "/a"},
		{Type: OpCreate2, Path: "/c", Stat: sampleStat},
		{Type: OpDelete},
		{Type: OpCheck},
		{Type: OpSetData, Stat: sampleStat},
	}}
	b := roundTrip(t, &r, &MultiResponse{})
	want := cat(
		hx(t, "00000001 00 00000000"), jstr("/a"),
		hx(t, "0000000f 00 00000000"), jstr("/c"), Marshal(&sampleStat),
		hx(t, "00000002 00 00000000"),
		hx(t, "0000000d 00 00000000"),
		hx(t, "00000005 00 00000000"), Marshal(&sampleStat),
		multiEnd,
	)
	if !bytes.Equal(b, want) {
		t.Fatalf("got  %x\nwant %x", b, want)
	}
	mustFailPrefixes(t, b, func() Record { return &MultiResponse{} })

	// Empty response is just the terminator.
	roundTrip(t, &MultiResponse{}, &MultiResponse{})

	for name, in := range map[string][]byte{
		"unknown type":     cat(hx(t, "00000003 00 00000000"), multiEnd),
		"exists type":      cat(hx(t, "0000000c 00 00000000"), multiEnd),
		"huge children":    cat(hx(t, "00000008 00 00000000 7fffffff"), multiEnd),
		"negative data":    cat(hx(t, "00000004 00 00000000 fffffffe"), Marshal(&sampleStat), multiEnd),
		"missing terminal": hx(t, "00000002 00 00000000"),
	} {
		if err := Unmarshal(in, &MultiResponse{}); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if err := Unmarshal(cat(hx(t, "00000003 00 00000000"), multiEnd), &MultiResponse{}); !errors.Is(err, ErrBadMulti) {
		t.Errorf("unknown type: %v", err)
	}
}

func TestMultiManyOpsBounded(t *testing.T) {
	// 100k delete results are 900k bytes; the decoder must cope and the
	// result count is bounded by the input.
	var e Encoder
	for i := 0; i < 100000; i++ {
		(&MultiHeader{Type: OpDelete}).Encode(&e)
	}
	e.B = append(e.B, multiEnd...)
	var r MultiResponse
	decodeAll(t, e.B, &r)
	if len(r.Results) != 100000 {
		t.Fatal(len(r.Results))
	}
	checkBounded(t, &r, len(e.B))
}
