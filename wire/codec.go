// Package wire holds every byte format zkserver speaks: the jute binary
// encoding, the client protocol records, the txn records and (later) the
// quorum packets and file headers. It knows nothing about sockets or state.
//
// Jute encodes a record as its fields back to back, big-endian, with no tags
// or padding: int 4 bytes, long 8, boolean 1, buffer/ustring an int32 length
// (-1 = null) then the bytes, vector an int32 count (-1 = null) then the
// elements.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// DefaultMaxBuffer is ZooKeeper's default jute.maxbuffer (0xfffff).
const DefaultMaxBuffer = 0xfffff

// ErrShort is returned when a record needs more bytes than the input holds.
var ErrShort = errors.New("wire: record truncated")

// Decoder reads jute values from a byte slice. The first error sticks: later
// reads return zero values and Err reports it. Lengths are checked against
// the bytes left before anything is allocated.
type Decoder struct {
	b   []byte
	off int
	err error
}

// NewDecoder returns a decoder over b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err is the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Remaining is the number of bytes not yet read.
func (d *Decoder) Remaining() int { return len(d.b) - d.off }

// Offset is the number of bytes read so far.
func (d *Decoder) Offset() int { return d.off }

// Fail records err as the decoder's error unless one is already set.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.err = ErrShort
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

// Int reads a jute int.
func (d *Decoder) Int() int32 {
	p := d.take(4)
	if p == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(p))
}

// Long reads a jute long.
func (d *Decoder) Long() int64 {
	p := d.take(8)
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

// Byte reads one raw byte.
func (d *Decoder) Byte() byte {
	p := d.take(1)
	if p == nil {
		return 0
	}
	return p[0]
}

// Bool reads a jute boolean (any non-zero byte is true, as Java reads it).
func (d *Decoder) Bool() bool { return d.Byte() != 0 }

func (d *Decoder) length() (int, bool) {
	n := d.Int()
	if d.err != nil {
		return 0, false
	}
	if n == -1 {
		return -1, true
	}
	if n < 0 {
		d.err = fmt.Errorf("wire: negative length %d", n)
		return 0, false
	}
	if int(n) > len(d.b)-d.off {
		d.err = ErrShort
		return 0, false
	}
	return int(n), true
}

// Buffer reads a jute buffer; a null buffer (-1) is returned as nil, an
// empty one as a non-nil empty slice. The result is a copy.
func (d *Decoder) Buffer() []byte {
	n, ok := d.length()
	if !ok || n < 0 {
		return nil
	}
	p := d.take(n)
	out := make([]byte, n)
	copy(out, p)
	return out
}

// Str reads a jute ustring; null reads as "".
func (d *Decoder) Str() string {
	s, _ := d.NullableStr()
	return s
}

// NullableStr reads a jute ustring and reports whether it was non-null.
func (d *Decoder) NullableStr() (string, bool) {
	n, ok := d.length()
	if !ok || n < 0 {
		return "", false
	}
	return string(d.take(n)), true
}

// count reads a vector count; each element needs at least min bytes, which
// bounds the count by the bytes left before any allocation.
func (d *Decoder) count(min int) int {
	n := d.Int()
	if d.err != nil {
		return 0
	}
	if n == -1 {
		return -1
	}
	if n < 0 {
		d.err = fmt.Errorf("wire: negative vector count %d", n)
		return 0
	}
	if min > 0 && int(n) > (len(d.b)-d.off)/min {
		d.err = ErrShort
		return 0
	}
	return int(n)
}

// Strings reads a vector<ustring>; null reads as nil.
func (d *Decoder) Strings() []string {
	n := d.count(4)
	if n <= 0 {
		if n == 0 && d.err == nil {
			return []string{}
		}
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, d.Str())
	}
	return out
}

// Encoder appends jute values to B.
type Encoder struct {
	B []byte
}

// Int appends a jute int.
func (e *Encoder) Int(v int32) { e.B = binary.BigEndian.AppendUint32(e.B, uint32(v)) }

// Long appends a jute long.
func (e *Encoder) Long(v int64) { e.B = binary.BigEndian.AppendUint64(e.B, uint64(v)) }

// Byte appends one raw byte.
func (e *Encoder) Byte(v byte) { e.B = append(e.B, v) }

// Bool appends a jute boolean.
func (e *Encoder) Bool(v bool) {
	if v {
		e.B = append(e.B, 1)
	} else {
		e.B = append(e.B, 0)
	}
}

// Buffer appends a jute buffer; nil is written as null (-1).
func (e *Encoder) Buffer(v []byte) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	e.B = append(e.B, v...)
}

// Str appends a jute ustring.
func (e *Encoder) Str(v string) {
	e.Int(int32(len(v)))
	e.B = append(e.B, v...)
}

// Strings appends a vector<ustring>; nil is written as null (-1).
func (e *Encoder) Strings(v []string) {
	if v == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(v)))
	for _, s := range v {
		e.Str(s)
	}
}

// Record is a jute record.
type Record interface {
	Encode(e *Encoder)
	Decode(d *Decoder)
}

// Marshal encodes r into a new byte slice.
func Marshal(r Record) []byte {
	var e Encoder
	r.Encode(&e)
	return e.B
}

// Unmarshal decodes r from b and returns the decoder's error.
func Unmarshal(b []byte, r Record) error {
	d := NewDecoder(b)
	r.Decode(d)
	return d.Err()
}
