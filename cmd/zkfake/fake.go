package main

import (
	"bufio"
	"encoding/binary"
	"net"
	"sync/atomic"

	"github.com/zkserver/zkserver/wire"
)

const maxFrame = 1 << 20 // jute.maxbuffer's default, plus headers fit below it

// Fake is the fixed-reply server. It is safe for concurrent use.
type Fake struct {
	data    []byte
	stat    wire.Stat
	session atomic.Int64
}

// New returns a Fake whose getData replies carry dataSize bytes.
func New(dataSize int) *Fake {
	f := &Fake{data: make([]byte, dataSize)}
	for i := range f.data {
		f.data[i] = 'x'
	}
	f.stat = wire.Stat{Czxid: 1, Mzxid: 1, Ctime: 1, Mtime: 1, DataLength: int32(dataSize), Pzxid: 1}
	f.session.Store(0x1000000000000)
	return f
}

// Serve accepts connections on ln until it fails (e.g. is closed).
func (f *Fake) Serve(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go f.handle(c)
	}
}

var fourLetter = map[string]string{"ruok": "imok", "srvr": "Zookeeper version: zkfake\nMode: standalone\n", "stat": "Zookeeper version: zkfake\nMode: standalone\n"}

func (f *Fake) handle(c net.Conn) {
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriterSize(c, 64<<10)
	// A four-letter word instead of a length prefix?
	if p, err := r.Peek(4); err == nil {
		if ans, ok := fourLetter[string(p)]; ok {
			w.WriteString(ans)
			w.Flush()
			return
		}
	}
	buf := make([]byte, 0, 4096)
	frame, err := wire.ReadFrame(r, maxFrame, buf)
	if err != nil {
		return
	}
	var creq wire.ConnectRequest
	if err := wire.Unmarshal(frame, &creq); err != nil {
		return
	}
	passwd := make([]byte, 16)
	resp := wire.ConnectResponse{
		TimeOut:     creq.TimeOut,
		SessionID:   f.session.Add(1),
		Passwd:      passwd,
		HasReadOnly: creq.HasReadOnly,
	}
	out := wire.AppendFrame(nil, resp.Encode)
	if _, err := w.Write(out); err != nil || w.Flush() != nil {
		return
	}
	for {
		frame, err = wire.ReadFrame(r, maxFrame, buf[:0])
		if err != nil {
			return
		}
		if cap(frame) > cap(buf) {
			buf = frame[:0]
		}
		if len(frame) < 8 {
			return
		}
		xid := int32(binary.BigEndian.Uint32(frame))
		op := wire.Op(int32(binary.BigEndian.Uint32(frame[4:])))
		d := wire.NewDecoder(frame[8:])
		closing := false
		out = wire.AppendFrame(out[:0], func(e *wire.Encoder) {
			h := wire.ReplyHeader{Xid: xid, Zxid: 1}
			switch op {
			case wire.OpPing, wire.OpDelete, wire.OpSetWatches, wire.OpSetWatches2, wire.OpAuth:
				h.Encode(e)
			case wire.OpCloseSession:
				h.Encode(e)
				closing = true
			case wire.OpGetData:
				h.Encode(e)
				e.Buffer(f.data)
				f.stat.Encode(e)
			case wire.OpExists, wire.OpSetData:
				h.Encode(e)
				f.stat.Encode(e)
			case wire.OpCreate, wire.OpSync:
				h.Encode(e)
				e.Str(d.Str())
			case wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
				h.Encode(e)
				e.Str(d.Str())
				f.stat.Encode(e)
			case wire.OpGetChildren:
				h.Encode(e)
				e.Strings([]string{})
			case wire.OpGetChildren2:
				h.Encode(e)
				e.Strings([]string{})
				f.stat.Encode(e)
			default:
				h.Err = wire.ErrUnimplemented
				h.Encode(e)
			}
		})
		if _, err := w.Write(out); err != nil {
			return
		}
		// Flush only when no further request is already buffered, so that
		// pipelined requests are answered with one write.
		if r.Buffered() == 0 || closing {
			if w.Flush() != nil {
				return
			}
		}
		if closing {
			return
		}
	}
}
