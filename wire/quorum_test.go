package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestPacketTypeNumbers(t *testing.T) {
	want := map[int32]string{
		1: "REQUEST", 2: "PROPOSAL", 3: "ACK", 4: "COMMIT", 5: "PING", 6: "REVALIDATE",
		7: "SYNC", 8: "INFORM", 9: "COMMITANDACTIVATE", 10: "NEWLEADER", 11: "FOLLOWERINFO",
		12: "UPTODATE", 13: "DIFF", 14: "TRUNC", 15: "SNAP", 16: "OBSERVERINFO",
		17: "LEADERINFO", 18: "ACKEPOCH", 19: "INFORMANDACTIVATE",
	}
	for code, name := range want {
		if got := PacketTypeName(code); got != name {
			t.Errorf("PacketTypeName(%d) = %q, want %q", code, got, name)
		}
	}
	for _, c := range []int32{0, 20, -1} {
		if got := PacketTypeName(c); got[:7] != "UNKNOWN" {
			t.Errorf("PacketTypeName(%d) = %q", c, got)
		}
	}
	if PacketInformAndActivate != 19 || PacketAckEpoch != 18 || PacketNewLeader != 10 {
		t.Fatal("constants drifted")
	}
}

func TestZxidHelpers(t *testing.T) {
	z := MakeZxid(1, 1)
	if z != 0x100000001 || ZxidEpoch(z) != 1 || ZxidCounter(z) != 1 {
		t.Fatalf("zxid helpers: %x", z)
	}
	if ZxidEpoch(-1) != -1 || ZxidCounter(-1) != 0xffffffff {
		t.Fatal("zxid -1")
	}
}

// Live capture: the FOLLOWERINFO data our peer (sid 2) sent to Java 3.8.0.
const liveLearnerInfo = "0000000000000002 00010000 0000000000000000"

func TestLearnerInfoLive(t *testing.T) {
	b := hx(t, liveLearnerInfo)
	var li LearnerInfo
	decodeAll(t, b, &li)
	if li != (LearnerInfo{ServerID: 2, ProtocolVersion: QuorumProtocolVersion}) {
		t.Fatalf("got %+v", li)
	}
	if !bytes.Equal(Marshal(&li), b) {
		t.Fatal("re-encode differs")
	}
	mustFailPrefixes(t, b, func() Record { return &LearnerInfo{} })

	li2, n, err := ParseLearnerInfo(b)
	if err != nil || n != 3 || li2 != li {
		t.Fatalf("ParseLearnerInfo: %+v %d %v", li2, n, err)
	}
	for _, c := range []struct{ len, fields int }{{8, 1}, {11, 1}, {12, 2}, {19, 2}, {20, 3}} {
		got, n, err := ParseLearnerInfo(b[:c.len])
		if err != nil || n != c.fields || got.ServerID != 2 {
			t.Fatalf("prefix %d: %+v %d %v", c.len, got, n, err)
		}
	}
	if _, _, err := ParseLearnerInfo(b[:7]); err == nil {
		t.Fatal("7 bytes accepted")
	}
	if _, n, err := ParseLearnerInfo(append(bytes.Clone(b), 1, 2, 3)); err != nil || n != 3 {
		t.Fatal("trailing bytes should be ignored")
	}
}

func TestQuorumPacketLive(t *testing.T) {
	// FOLLOWERINFO as sent live: zxid acceptedEpoch<<32 (0 here), data =
	// LearnerInfo, authinfo null.
	fi := cat(hx(t, "0000000b 0000000000000000 00000014"), hx(t, liveLearnerInfo), hx(t, "ffffffff"))
	var p QuorumPacket
	decodeAll(t, fi, &p)
	if p.Type != PacketFollowerInfo || p.Zxid != 0 || p.AuthInfo != nil || len(p.Data) != 20 {
		t.Fatalf("got %v", &p)
	}
	if !bytes.Equal(Marshal(&p), fi) {
		t.Fatal("re-encode differs")
	}

	// LEADERINFO seen live: zxid 0x100000000, data 00010000.
	lp := hx(t, "00000011 0000000100000000 00000004 00010000 ffffffff")
	decodeAll(t, lp, &p)
	if p.Type != PacketLeaderInfo || p.Zxid != 0x100000000 || ZxidEpoch(p.Zxid) != 1 {
		t.Fatalf("got %v", &p)
	}
	var li LeaderInfo
	decodeAll(t, p.Data, &li)
	if li.ProtocolVersion != QuorumProtocolVersion {
		t.Fatalf("leader info %+v", li)
	}
	want := QuorumPacket{Type: PacketLeaderInfo, Zxid: MakeZxid(1, 0), Data: Marshal(&LeaderInfo{ProtocolVersion: QuorumProtocolVersion})}
	if !bytes.Equal(Marshal(&want), lp) {
		t.Fatalf("LEADERINFO encode %x", Marshal(&want))
	}

	// UPTODATE zxid -1, DIFF zxid 0: null data and authinfo.
	for _, c := range []struct {
		hex string
		typ int32
		z   int64
	}{
		{"0000000c ffffffffffffffff ffffffff ffffffff", PacketUpToDate, -1},
		{"0000000d 0000000000000000 ffffffff ffffffff", PacketDiff, 0},
		{"00000005 0000000100000000 ffffffff ffffffff", PacketPing, 0x100000000},
	} {
		b := hx(t, c.hex)
		decodeAll(t, b, &p)
		if p.Type != c.typ || p.Zxid != c.z || p.Data != nil || p.AuthInfo != nil {
			t.Fatalf("%s: %v", c.hex, &p)
		}
		if got := Marshal(&QuorumPacket{Type: c.typ, Zxid: c.z}); !bytes.Equal(got, b) {
			t.Fatalf("encode %x want %x", got, b)
		}
	}
}

func TestAckEpoch(t *testing.T) {
	for _, c := range []struct {
		v   int32
		hex string
	}{{AckEpochNoChange, "ffffffff"}, {0, "00000000"}, {4, "00000004"}} {
		b := roundTrip(t, &AckEpoch{CurrentEpoch: c.v}, &AckEpoch{})
		if !bytes.Equal(b, hx(t, c.hex)) {
			t.Fatalf("%d: %x", c.v, b)
		}
	}
	mustFailPrefixes(t, hx(t, "00000001"), func() Record { return &AckEpoch{} })
	mustFailPrefixes(t, hx(t, "00010000"), func() Record { return &LeaderInfo{} })
}

func sampleQuorumPackets() []*QuorumPacket {
	return []*QuorumPacket{
		{Type: PacketAck, Zxid: 0x100000001},
		{Type: PacketProposal, Zxid: 0x100000001, Data: []byte{1, 2, 3}},
		{Type: PacketPing, Zxid: 5, Data: []byte{}, AuthInfo: []Id{}},
		{Type: PacketRequest, Zxid: -1, Data: []byte("x"), AuthInfo: []Id{{Scheme: "digest", ID: "u:p"}, {Scheme: "ip", ID: "127.0.0.1"}}},
		{Type: PacketSnap, Zxid: 7, AuthInfo: []Id{{}}},
	}
}

func TestQuorumPacketRoundTrip(t *testing.T) {
	for _, p := range sampleQuorumPackets() {
		b := roundTrip(t, p, &QuorumPacket{})
		mustFailPrefixes(t, b, func() Record { return &QuorumPacket{} })
		got, err := ReadQuorumPacket(bytes.NewReader(b), DefaultQuorumMaxBuffer)
		if err != nil {
			t.Fatalf("ReadQuorumPacket: %v", err)
		}
		if !bytes.Equal(Marshal(got), b) {
			t.Fatalf("stream read %v differs", got)
		}
		for i := 1; i < len(b); i++ {
			if _, err := ReadQuorumPacket(bytes.NewReader(b[:i]), DefaultQuorumMaxBuffer); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("prefix %d: %v", i, err)
			}
		}
	}
	if _, err := ReadQuorumPacket(bytes.NewReader(nil), 10); err != io.EOF {
		t.Fatalf("empty stream: %v", err)
	}
	// Several packets back to back on one stream, no framing.
	var stream []byte
	for _, p := range sampleQuorumPackets() {
		stream = AppendQuorumPacket(stream, p)
	}
	r := bytes.NewReader(stream)
	for _, p := range sampleQuorumPackets() {
		got, err := ReadQuorumPacket(r, DefaultQuorumMaxBuffer)
		if err != nil || !bytes.Equal(Marshal(got), Marshal(p)) {
			t.Fatalf("stream: %v %v", got, err)
		}
	}
	if r.Len() != 0 {
		t.Fatal("stream not consumed")
	}
}

func TestQuorumPacketHugeLengths(t *testing.T) {
	cases := [][]byte{
		hx(t, "00000002 0000000000000001 7fffffff"),                   // huge data
		hx(t, "00000002 0000000000000001 ffffffff 7fffffff"),          // huge authinfo count
		hx(t, "00000002 0000000000000001 ffffffff 00000001 7fffffff"), // huge scheme
		hx(t, "00000002 0000000000000001 fffffffe"),                   // negative data length
		hx(t, "00000002 0000000000000001 ffffffff 80000000"),          // negative count
		hx(t, "00000002 0000000000000001 ffffffff 00000002 00000000 00000000"),
	}
	for _, b := range cases {
		var err error
		alloc := bytesAllocated(func() { err = Unmarshal(b, &QuorumPacket{}) })
		if err == nil {
			t.Fatalf("%x decoded", b)
		}
		if alloc > 64<<10 {
			t.Fatalf("%x: decode allocated %d bytes", b, alloc)
		}
		alloc = bytesAllocated(func() { _, err = ReadQuorumPacket(bytes.NewReader(b), DefaultQuorumMaxBuffer) })
		if err == nil {
			t.Fatalf("%x: stream read ok", b)
		}
		if alloc > 64<<10 {
			t.Fatalf("%x: stream read allocated %d bytes", b, alloc)
		}
	}
	// A data buffer over the limit is refused before it is read.
	big := Marshal(&QuorumPacket{Type: PacketProposal, Data: make([]byte, 100)})
	if _, err := ReadQuorumPacket(bytes.NewReader(big), 99); !errors.Is(err, ErrQuorumPacketTooLarge) {
		t.Fatalf("over max: %v", err)
	}
	if _, err := ReadQuorumPacket(bytes.NewReader(big), 100); err != nil {
		t.Fatalf("at max: %v", err)
	}
}

func FuzzQuorumPacket(f *testing.F) {
	var seeds [][]byte
	for _, p := range sampleQuorumPackets() {
		seeds = append(seeds, Marshal(p))
	}
	addSeeds(f, seeds...)
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &QuorumPacket{} }, true)
		p, err := ReadQuorumPacket(bytes.NewReader(in), len(in))
		var q QuorumPacket
		derr := Unmarshal(in, &q)
		if (err == nil) != (derr == nil) {
			t.Fatalf("stream err %v, decode err %v", err, derr)
		}
		if err == nil {
			checkBounded(t, p, len(in))
			if !bytes.Equal(Marshal(p), Marshal(&q)) {
				t.Fatalf("stream and slice decode differ")
			}
		}
	})
}

func FuzzLearnerInfo(f *testing.F) {
	addSeeds(f, Marshal(&LearnerInfo{ServerID: 2, ProtocolVersion: QuorumProtocolVersion}),
		Marshal(&LearnerInfo{ServerID: -1, ProtocolVersion: 1, ConfigVersion: 0x100000000}))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &LearnerInfo{} }, true)
		li, n, err := ParseLearnerInfo(in)
		if (err == nil) != (len(in) >= 8) || (err == nil && (n < 1 || n > 3)) {
			t.Fatalf("ParseLearnerInfo(%d bytes): %d %v", len(in), n, err)
		}
		if n == 3 && !bytes.Equal(Marshal(&li), in[:20]) {
			t.Fatal("parse/encode mismatch")
		}
	})
}

func FuzzAckEpoch(f *testing.F) {
	addSeeds(f, hx(f, "ffffffff"), hx(f, "00010000"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &AckEpoch{} }, true)
		fuzzRecord(t, in, func() Record { return &LeaderInfo{} }, true)
	})
}
