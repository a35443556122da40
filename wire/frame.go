package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrFrameTooLarge is returned by ReadFrame when a frame's length prefix is
// negative or larger than the allowed maximum.
var ErrFrameTooLarge = errors.New("wire: frame length out of range")

// ReadFrame reads one frame from r: a 4-byte big-endian signed length and
// then that many bytes. A length below 0 or above max is refused with
// ErrFrameTooLarge before anything is allocated for the body. buf is reused
// when its capacity is large enough; the returned slice may alias it.
//
// A clean end of stream before the length is returned as io.EOF; a stream
// that ends inside the length or the body gives io.ErrUnexpectedEOF.
func ReadFrame(r io.Reader, max int, buf []byte) ([]byte, error) {
	var lb []byte
	if cap(buf) >= 4 {
		lb = buf[:4]
	} else {
		lb = make([]byte, 4)
	}
	if _, err := io.ReadFull(r, lb); err != nil {
		return nil, err
	}
	n := int64(int32(binary.BigEndian.Uint32(lb)))
	if n < 0 || n > int64(max) {
		return nil, fmt.Errorf("%w: %d (max %d)", ErrFrameTooLarge, n, max)
	}
	if int64(cap(buf)) >= n {
		buf = buf[:n]
	} else {
		buf = make([]byte, n)
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// AppendFrame appends to dst a frame whose body is whatever body appends to
// the Encoder it is given. A placeholder length is written first and patched
// once the body is known. body must only append to e.B.
func AppendFrame(dst []byte, body func(e *Encoder)) []byte {
	start := len(dst)
	e := Encoder{B: append(dst, 0, 0, 0, 0)}
	body(&e)
	binary.BigEndian.PutUint32(e.B[start:], uint32(len(e.B)-start-4))
	return e.B
}
