package txnlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

const readBufSize = 32 << 10

// CorruptError reports damage that is not a torn tail: a complete record
// whose checksum does not match, an impossible length followed by non-zero
// bytes, a bad file magic, or a checksummed txn too short for its header.
type CorruptError struct {
	Path   string
	Offset int64
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("txnlog: %s: offset %d: %s", e.Path, e.Offset, e.Reason)
}

// segReader reads the records of one segment file in order.
type segReader struct {
	path string
	f    *os.File
	br   *bufio.Reader
	size int64 // file size when opened; reads never go past it
	off  int64 // offset of the next record
	done bool  // end of this segment reached (EOF, zero fill or torn tail)
}

func openSegment(path string) (*segReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("txnlog: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("txnlog: %w", err)
	}
	r := &segReader{path: path, f: f, size: st.Size()}
	if r.size < HeaderSize {
		// The header itself was torn while the file was being created:
		// nothing was ever committed in it.
		r.done = true
		r.off = r.size
		return r, nil
	}
	r.br = bufio.NewReaderSize(io.LimitReader(f, r.size), readBufSize)
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("txnlog: %s: reading header: %w", path, err)
	}
	if m := binary.BigEndian.Uint32(hdr[:4]); m != Magic {
		f.Close()
		return nil, &CorruptError{Path: path, Offset: 0, Reason: fmt.Sprintf("bad magic %#x", m)}
	}
	r.off = HeaderSize
	return r, nil
}

func (r *segReader) close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

func (r *segReader) corrupt(off int64, format string, args ...any) error {
	r.done = true
	return &CorruptError{Path: r.path, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// torn ends the segment quietly.
func (r *segReader) torn() error {
	r.done = true
	return io.EOF
}

// restIsZero reports whether every unread byte of the file is zero.
func (r *segReader) restIsZero() (bool, error) {
	buf := make([]byte, 4096)
	for {
		n, err := r.br.Read(buf)
		for _, c := range buf[:n] {
			if c != 0 {
				return false, nil
			}
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("txnlog: %s: %w", r.path, err)
		}
	}
}

// next returns the next entry and the offset just past it; io.EOF at the end
// of the segment (including a torn tail).
func (r *segReader) next() (Entry, int64, error) {
	if r.done {
		return Entry{}, 0, io.EOF
	}
	start := r.off
	remain := r.size - start
	if remain < 12 {
		return Entry{}, 0, r.torn() // EOF inside checksum/length
	}
	var head [12]byte
	if _, err := io.ReadFull(r.br, head[:]); err != nil {
		return Entry{}, 0, r.readErr(err)
	}
	sum := int64(binary.BigEndian.Uint64(head[:8]))
	n := int64(int32(binary.BigEndian.Uint32(head[8:])))
	switch {
	case n == 0:
		return Entry{}, 0, r.torn() // zero-filled preallocated area
	case n < 0 || n > MaxEntrySize:
		zero, err := r.restIsZero()
		if err != nil {
			r.done = true
			return Entry{}, 0, err
		}
		if zero {
			return Entry{}, 0, r.torn()
		}
		return Entry{}, 0, r.corrupt(start, "invalid length %d", n)
	case n+1 > remain-12:
		return Entry{}, 0, r.torn() // EOF inside the record
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r.br, data); err != nil {
		return Entry{}, 0, r.readErr(err)
	}
	eor, err := r.br.ReadByte()
	if err != nil {
		return Entry{}, 0, r.readErr(err)
	}
	if eor != endOfRecord {
		return Entry{}, 0, r.torn() // partial last write
	}
	if got := checksum(data); got != sum {
		return Entry{}, 0, r.corrupt(start, "checksum mismatch (stored %#x, computed %#x)", sum, got)
	}
	zxid, err := txnZxid(data)
	if err != nil {
		return Entry{}, 0, r.corrupt(start, "%v", err)
	}
	r.off = start + 12 + n + 1
	return Entry{Zxid: zxid, Data: data}, r.off, nil
}

// readErr maps a short read (the file shrank under us) to a torn tail.
func (r *segReader) readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return r.torn()
	}
	r.done = true
	return fmt.Errorf("txnlog: %s: %w", r.path, err)
}

// Iterator reads entries across segments in zxid order.
type Iterator struct {
	segs []Segment
	next int
	from int64
	cur  *segReader
	err  error
}

// NewIterator returns an iterator over the entries with zxid >= from. It
// starts with the newest segment whose start zxid is <= from (or the oldest
// segment if all start later) and continues through every later segment.
// A torn tail ends a segment quietly; damage elsewhere is a *CorruptError.
// Segments should not be appended to while being read (read a live log only
// up to what Sync has made durable, and expect its tail to look torn).
func NewIterator(dir string, from int64) (*Iterator, error) {
	segs, err := Segments(dir)
	if err != nil {
		return nil, err
	}
	i := startIndex(segs, from)
	if i < 0 {
		i = 0
	}
	return &Iterator{segs: segs[i:], from: from}, nil
}

// Next returns the next entry, or io.EOF after the last one. After an error
// every further call returns the same error.
func (it *Iterator) Next() (Entry, error) {
	for it.err == nil {
		if it.cur == nil {
			if it.next >= len(it.segs) {
				it.err = io.EOF
				break
			}
			r, err := openSegment(it.segs[it.next].Path)
			it.next++
			if err != nil {
				it.err = err
				break
			}
			it.cur = r
		}
		e, _, err := it.cur.next()
		if err == io.EOF {
			it.cur.close()
			it.cur = nil
			continue
		}
		if err != nil {
			it.err = err
			it.cur.close()
			it.cur = nil
			break
		}
		if e.Zxid < it.from {
			continue
		}
		return e, nil
	}
	return Entry{}, it.err
}

// Close releases the open file, if any.
func (it *Iterator) Close() error {
	if it.err == nil {
		it.err = errors.New("txnlog: iterator closed")
	}
	if it.cur != nil {
		err := it.cur.close()
		it.cur = nil
		return err
	}
	return nil
}

// Truncate removes every entry with zxid > z: the segment holding z is cut
// right after its last entry with zxid <= z (dropping the preallocated tail)
// and every later segment is deleted. It fails if dir holds no segment, or
// if every segment starts after z. No Log may be writing to dir meanwhile.
func Truncate(dir string, z int64) error {
	segs, err := Segments(dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return fmt.Errorf("txnlog: truncate to zxid %#x: no log files in %s", z, dir)
	}
	i := startIndex(segs, z)
	if i < 0 {
		return fmt.Errorf("txnlog: truncate to zxid %#x: every log file in %s starts after it", z, dir)
	}
	r, err := openSegment(segs[i].Path)
	if err != nil {
		return err
	}
	cut := r.off
	for {
		e, end, err := r.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			r.close()
			return err
		}
		if e.Zxid > z {
			break
		}
		cut = end
	}
	r.close()
	// Newest first, so an interruption never leaves a gap between segments.
	for j := len(segs) - 1; j > i; j-- {
		if err := os.Remove(segs[j].Path); err != nil {
			return fmt.Errorf("txnlog: truncate: %w", err)
		}
	}
	f, err := os.OpenFile(segs[i].Path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("txnlog: truncate: %w", err)
	}
	err = f.Truncate(cut)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("txnlog: truncate %s: %w", segs[i].Path, err)
	}
	return syncDir(dir)
}
