package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func TestAppendFrame(t *testing.T) {
	b := AppendFrame(nil, func(e *Encoder) {
		(&ReplyHeader{Xid: XidPing, Zxid: 0x2c}).Encode(e)
	})
	if !bytes.Equal(b, hx(t, "00000010 fffffffe 000000000000002c 00000000")) {
		t.Fatalf("%x", b)
	}
	// Appending after existing bytes patches the right length.
	b = AppendFrame(b, func(e *Encoder) {
		(&ReplyHeader{Xid: 1, Zxid: 2, Err: ErrNoNode}).Encode(e)
	})
	if !bytes.Equal(b[20:], hx(t, "00000010 00000001 0000000000000002 ffffff9b")) {
		t.Fatalf("%x", b)
	}
	// Empty body.
	if b := AppendFrame([]byte{9}, func(*Encoder) {}); !bytes.Equal(b, hx(t, "09 00000000")) {
		t.Fatalf("%x", b)
	}
	// A body that outgrows dst's capacity.
	dst := make([]byte, 0, 6)
	big := bytes.Repeat([]byte{7}, 1000)
	b = AppendFrame(dst, func(e *Encoder) { e.B = append(e.B, big...) })
	if len(b) != 1004 || !bytes.Equal(b[:4], hx(t, "000003e8")) || !bytes.Equal(b[4:], big) {
		t.Fatalf("len %d %x", len(b), b[:8])
	}
}

func TestReadFrame(t *testing.T) {
	var stream []byte
	stream = AppendFrame(stream, func(e *Encoder) { e.Str("hello") })
	stream = AppendFrame(stream, func(*Encoder) {})
	stream = AppendFrame(stream, func(e *Encoder) { e.Long(1) })

	r := bytes.NewReader(stream)
	f, err := ReadFrame(r, DefaultMaxBuffer, nil)
	if err != nil || !bytes.Equal(f, jstr("hello")) {
		t.Fatalf("%v %x", err, f)
	}
	f, err = ReadFrame(r, DefaultMaxBuffer, nil)
	if err != nil || len(f) != 0 {
		t.Fatalf("%v %x", err, f)
	}
	f, err = ReadFrame(r, 8, nil)
	if err != nil || !bytes.Equal(f, hx(t, "0000000000000001")) {
		t.Fatalf("%v %x", err, f)
	}
	if _, err = ReadFrame(r, DefaultMaxBuffer, nil); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}

	// Byte-at-a-time readers work too.
	r2 := iotest.OneByteReader(bytes.NewReader(stream))
	f, err = ReadFrame(r2, DefaultMaxBuffer, nil)
	if err != nil || !bytes.Equal(f, jstr("hello")) {
		t.Fatalf("%v %x", err, f)
	}
}

func TestReadFrameReusesBuffer(t *testing.T) {
	stream := AppendFrame(nil, func(e *Encoder) { e.Str("abc") })
	buf := make([]byte, 0, 64)
	f, err := ReadFrame(bytes.NewReader(stream), 100, buf)
	if err != nil || !bytes.Equal(f, jstr("abc")) {
		t.Fatalf("%v %x", err, f)
	}
	if &f[0] != &buf[:1][0] {
		t.Fatal("buffer with enough capacity was not reused")
	}
	// Too small a buffer is replaced, not overrun.
	small := make([]byte, 2, 4)
	f, err = ReadFrame(bytes.NewReader(stream), 100, small)
	if err != nil || !bytes.Equal(f, jstr("abc")) {
		t.Fatalf("%v %x", err, f)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := ReadFrame(bytes.NewReader(stream), 100, buf); err != nil {
			t.Fatal(err)
		}
	}); n > 1 { // the bytes.Reader itself
		t.Fatalf("%v allocations per read with a reusable buffer", n)
	}
}

func TestReadFrameLimits(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int
	}{
		{"negative", "ffffffff", DefaultMaxBuffer},
		{"min int", "80000000", DefaultMaxBuffer},
		{"one over jute.maxbuffer", "00100000", DefaultMaxBuffer},
		{"max int", "7fffffff", DefaultMaxBuffer},
		{"over small max", "00000005 0102030405", 4},
		{"max zero", "00000001 00", 0},
		{"negative max", "00000000", -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := hx(t, c.in)
			var err error
			n := bytesAllocated(func() { _, err = ReadFrame(bytes.NewReader(in), c.max, nil) })
			if !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("err %v", err)
			}
			if n > 64<<10 { // far below the refused length; other goroutines may allocate meanwhile
				t.Fatalf("allocated %d bytes", n)
			}
		})
	}
	// Exactly max is fine; so is an empty frame with max 0.
	in := cat(hx(t, "000fffff"), make([]byte, DefaultMaxBuffer))
	if f, err := ReadFrame(bytes.NewReader(in), DefaultMaxBuffer, nil); err != nil || len(f) != DefaultMaxBuffer {
		t.Fatalf("%v %d", err, len(f))
	}
	if f, err := ReadFrame(bytes.NewReader(hx(t, "00000000")), 0, nil); err != nil || len(f) != 0 {
		t.Fatalf("%v %d", err, len(f))
	}
}

func TestReadFrameShort(t *testing.T) {
	for _, in := range []string{"00", "000000", "00000004", "00000004 010203"} {
		_, err := ReadFrame(bytes.NewReader(hx(t, in)), 100, nil)
		if err != io.ErrUnexpectedEOF {
			t.Errorf("%s: %v", in, err)
		}
	}
	if _, err := ReadFrame(bytes.NewReader(nil), 100, nil); err != io.EOF {
		t.Errorf("empty: %v", err)
	}
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(hx(t, "00000004 01")), iotest.ErrReader(boom))
	if _, err := ReadFrame(r, 100, nil); err != boom {
		t.Errorf("reader error: %v", err)
	}
}
