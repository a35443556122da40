package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// Live capture: the initial message our peer (sid 2) sent and Java accepted.
const liveInitial = "ffffffffffff0000 0000000000000002 0000000f 3132372e302e302e313a3233383839"

// The 95-byte config string seen live in notifications and NEWLEADER.
const liveConfig = "server.1=127.0.0.1:22888:23888:participant\n" +
	"server.2=127.0.0.1:22889:23889:participant\n" +
	"version=0"

func TestInitialMessageLive(t *testing.T) {
	b := hx(t, liveInitial)
	var m InitialMessage
	decodeAll(t, b, &m)
	want := InitialMessage{Version: ElectionProtocolV1, SID: 2, Addr: "127.0.0.1:23889"}
	if m != want {
		t.Fatalf("got %+v", m)
	}
	if !bytes.Equal(Marshal(&want), b) {
		t.Fatal("encode differs from live bytes")
	}
	if v := ElectionProtocolV1; ElectionProtocolV1 != -65536 || uint64(v) != 0xffffffffffff0000 {
		t.Fatal("V1 constant")
	}
	mustFailPrefixes(t, b, func() Record { return &InitialMessage{} })
	got, err := ReadInitialMessage(bytes.NewReader(b))
	if err != nil || *got != want {
		t.Fatalf("ReadInitialMessage: %+v %v", got, err)
	}
	for i := 1; i < len(b); i++ {
		if _, err := ReadInitialMessage(bytes.NewReader(b[:i])); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	if _, err := ReadInitialMessage(bytes.NewReader(nil)); err != io.EOF {
		t.Fatalf("empty: %v", err)
	}
}

func TestInitialMessageForms(t *testing.T) {
	v2 := &InitialMessage{Version: ElectionProtocolV2, SID: 7, Addr: "10.0.0.1:3888|[::1]:3888"}
	b := roundTrip(t, v2, &InitialMessage{})
	if !bytes.Equal(b[:8], hx(t, "ffffffffffff0001")) {
		t.Fatalf("V2 prefix %x", b[:8])
	}
	if got := v2.Addresses(); !reflect.DeepEqual(got, []string{"10.0.0.1:3888", "[::1]:3888"}) {
		t.Fatalf("Addresses %q", got)
	}
	// Pre-3.5 form: the first long is the sid and nothing follows.
	old := roundTrip(t, &InitialMessage{SID: 3}, &InitialMessage{})
	if !bytes.Equal(old, hx(t, "0000000000000003")) {
		t.Fatalf("old form %x", old)
	}
	if m, err := ReadInitialMessage(bytes.NewReader(old)); err != nil || m.SID != 3 || m.Version != ElectionProtocolOld {
		t.Fatalf("old stream: %+v %v", m, err)
	}
	// Longest allowed address.
	roundTrip(t, &InitialMessage{Version: ElectionProtocolV1, SID: 1, Addr: strings.Repeat("a", MaxInitialAddressLen)}, &InitialMessage{})
}

func TestInitialMessageRejects(t *testing.T) {
	cases := []struct {
		hex string
		err error
	}{
		{"fffffffffffeffff 0000000000000002 0000000f", ErrElectionVersion},
		{"ffffffffffffffff", ErrElectionVersion},
		{"ffffffffffff0002 0000000000000002 00000001 41", ErrElectionVersion},
		{"ffffffffffff0000 0000000000000002 00000000", ErrElectionAddressLen},
		{"ffffffffffff0000 0000000000000002 ffffffff", ErrElectionAddressLen},
		{"ffffffffffff0000 0000000000000002 00000801", ErrElectionAddressLen},
		{"ffffffffffff0001 0000000000000002 7fffffff", ErrElectionAddressLen},
	}
	for _, c := range cases {
		b := hx(t, c.hex)
		var err error
		alloc := bytesAllocated(func() { err = Unmarshal(b, &InitialMessage{}) })
		if !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.hex, err, c.err)
		}
		if alloc > 16<<10 {
			t.Errorf("%s: allocated %d", c.hex, alloc)
		}
		// The stream reader checks before reading or allocating the address.
		alloc = bytesAllocated(func() { _, err = ReadInitialMessage(bytes.NewReader(b)) })
		if !errors.Is(err, c.err) {
			t.Errorf("stream %s: %v, want %v", c.hex, err, c.err)
		}
		if alloc > 16<<10 {
			t.Errorf("stream %s: allocated %d", c.hex, alloc)
		}
	}
}

// liveNotification is Java sid 1's first notification as a fresh server:
// LOOKING, leader 1, zxid 0, electionEpoch 1, peerEpoch 0, version 2.
func liveNotification(t testing.TB) []byte {
	return cat(hx(t, `00000000 0000000000000001 0000000000000000 0000000000000001
		0000000000000000 00000002 0000005f`), []byte(liveConfig))
}

func TestNotificationLive(t *testing.T) {
	if len(liveConfig) != 95 {
		t.Fatalf("config is %d bytes", len(liveConfig))
	}
	b := liveNotification(t)
	if len(b) != 139 {
		t.Fatalf("message is %d bytes", len(b))
	}
	var n Notification
	decodeAll(t, b, &n)
	want := Notification{State: StateLooking, Leader: 1, ElectionEpoch: 1, HasPeerEpoch: true, Version: NotificationVersion, Config: liveConfig}
	if n != want {
		t.Fatalf("got %+v", n)
	}
	if !bytes.Equal(Marshal(&want), b) {
		t.Fatal("encode differs from live bytes")
	}
	// Framed on the election port.
	framed := AppendElectionMessage(nil, &want)
	if !bytes.Equal(framed[:4], hx(t, "0000008b")) || !bytes.Equal(framed[4:], b) {
		t.Fatalf("framed %x", framed[:4])
	}
	body, err := ReadElectionMessage(bytes.NewReader(framed), nil)
	if err != nil || !bytes.Equal(body, b) {
		t.Fatalf("ReadElectionMessage: %v", err)
	}
}

func TestNotificationOldForms(t *testing.T) {
	head := hx(t, "00000001 0000000000000003 0000000500000007 0000000000000009")
	// 28 bytes: peerEpoch from the zxid.
	var n Notification
	decodeAll(t, head, &n)
	if n != (Notification{State: StateFollowing, Leader: 3, Zxid: 0x500000007, ElectionEpoch: 9, PeerEpoch: 5}) {
		t.Fatalf("28: %+v", n)
	}
	if !bytes.Equal(Marshal(&n), head) {
		t.Fatal("28: re-encode")
	}
	// 40 bytes: peerEpoch, then a word that is ignored (version 0).
	b40 := cat(head, hx(t, "0000000000000004 00000001"))
	decodeAll(t, b40, &n)
	if n != (Notification{State: StateFollowing, Leader: 3, Zxid: 0x500000007, ElectionEpoch: 9, PeerEpoch: 4, HasPeerEpoch: true}) {
		t.Fatalf("40: %+v", n)
	}
	if got := Marshal(&n); !bytes.Equal(got, cat(head, hx(t, "0000000000000004 00000000"))) {
		t.Fatalf("40: re-encode %x", got)
	}
	// 44 bytes with version 1: version read, no config.
	b44 := cat(head, hx(t, "0000000000000004 00000001 00000000"))
	decodeAll(t, b44, &n)
	if n.Version != 1 || n.Config != "" || n.PeerEpoch != 4 {
		t.Fatalf("44: %+v", n)
	}
	if !bytes.Equal(Marshal(&n), b44) {
		t.Fatal("44: re-encode")
	}
	// Version 2 with an empty config.
	roundTrip(t, &Notification{State: StateLeading, Leader: 1, HasPeerEpoch: true, Version: 2}, &Notification{})
	// A later version still carries a config.
	roundTrip(t, &Notification{State: StateObserving, Leader: 1, HasPeerEpoch: true, Version: 3, Config: "x"}, &Notification{})
	// Trailing bytes after the config are ignored.
	decodeAll(t, cat(liveNotification(t), []byte{1, 2, 3}), &n)
	if n.Config != liveConfig {
		t.Fatal("trailing bytes")
	}
}

func TestNotificationRejects(t *testing.T) {
	live := liveNotification(t)
	for i := 0; i < len(live); i++ {
		err := Unmarshal(live[:i], &Notification{})
		switch {
		case i == 28 || i == 40:
			if err != nil {
				t.Fatalf("prefix %d: %v", i, err)
			}
		case i < 28:
			if !errors.Is(err, ErrNotificationShort) {
				t.Fatalf("prefix %d: %v", i, err)
			}
		default:
			if err == nil {
				t.Fatalf("prefix %d accepted", i)
			}
		}
	}
	bad := func(off int, word string) []byte {
		c := bytes.Clone(live)
		copy(c[off:], hx(t, word))
		return c
	}
	for _, c := range []struct {
		b   []byte
		err error
	}{
		{bad(0, "00000004"), ErrNotificationState},
		{bad(0, "ffffffff"), ErrNotificationState},
		{bad(40, "ffffffff"), ErrNotificationConfig},
		{bad(40, "0000008c"), ErrNotificationConfig}, // 140 > message size 139
		{bad(40, "7fffffff"), ErrNotificationConfig},
		{bad(40, "00000060"), ErrShort}, // within the size but past the end
	} {
		var err error
		alloc := bytesAllocated(func() { err = Unmarshal(c.b, &Notification{}) })
		if !errors.Is(err, c.err) {
			t.Errorf("%x: %v, want %v", c.b[:44], err, c.err)
		}
		if alloc > 16<<10 {
			t.Errorf("allocated %d", alloc)
		}
	}
}

func TestElectionFrameLimits(t *testing.T) {
	for _, h := range []string{"00000000", "ffffffff", "00080001", "7fffffff"} {
		var err error
		alloc := bytesAllocated(func() { _, err = ReadElectionMessage(bytes.NewReader(hx(t, h)), nil) })
		if !errors.Is(err, ErrElectionFrame) {
			t.Errorf("%s: %v", h, err)
		}
		if alloc > 16<<10 {
			t.Errorf("%s: allocated %d", h, alloc)
		}
	}
	max := append(hx(t, "00080000"), make([]byte, MaxElectionMessage)...)
	if b, err := ReadElectionMessage(bytes.NewReader(max), nil); err != nil || len(b) != MaxElectionMessage {
		t.Fatalf("max frame: %v", err)
	}
	if _, err := ReadElectionMessage(bytes.NewReader(hx(t, "00000005 0102")), nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short body: %v", err)
	}
}

func FuzzInitialMessage(f *testing.F) {
	addSeeds(f, hx(f, liveInitial),
		Marshal(&InitialMessage{Version: ElectionProtocolV2, SID: 9, Addr: "a:1|b:2"}),
		Marshal(&InitialMessage{SID: 4}))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &InitialMessage{} }, true)
		m, err := ReadInitialMessage(bytes.NewReader(in))
		var d InitialMessage
		derr := Unmarshal(in, &d)
		if (err == nil) != (derr == nil) {
			t.Fatalf("stream err %v, decode err %v", err, derr)
		}
		if err == nil && *m != d {
			t.Fatalf("stream %+v, decode %+v", *m, d)
		}
	})
}

func FuzzNotification(f *testing.F) {
	live := liveNotification(f)
	addSeeds(f, live, live[:28], live[:40], live[:44],
		Marshal(&Notification{State: StateLeading, Leader: 5, HasPeerEpoch: true, Version: 1}))
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzRecord(t, in, func() Record { return &Notification{} }, true)
	})
}
