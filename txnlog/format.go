// Package txnlog stores ZooKeeper-format transaction log segments
// (<dataLogDir>/version-2/log.<hexzxid>): preallocated files, a group-commit
// writer, an iterator starting at a zxid, truncation and purge helpers.
//
// The package treats each transaction as opaque bytes; the only part it looks
// at is the zxid inside the 32-byte TxnHeader at the start of those bytes.
package txnlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"

	"github.com/zkserver/zkserver/wire"
)

// File format constants (disk-format.md §2).
const (
	// Magic is the first int of every log file ("ZKLG").
	Magic = 0x5A4B4C47
	// Version is the file header version written by ZooKeeper 3.x.
	Version = 2
	// HeaderSize is the size of the FileHeader (magic, version, dbid).
	HeaderSize = 16
	// DefaultPreAllocSize is ZooKeeper's default preAllocSize (65536 KiB).
	DefaultPreAllocSize = 64 << 20
	// MaxEntrySize bounds the txn bytes of a single entry. Longer lengths
	// found while reading are treated as damage, never allocated.
	MaxEntrySize = 64 << 20
	// TxnHeaderSize is the size of the jute TxnHeader that starts every txn.
	TxnHeaderSize = 32

	// paddingMargin: grow the file when fewer than this many bytes of
	// preallocated space are left before an append.
	paddingMargin = 4096
	// entryOverhead is checksum(8) + length(4) + end-of-record(1).
	entryOverhead = 13
	endOfRecord   = 'B'
	filePrefix    = "log."
)

// ErrClosed is returned for work submitted after Close.
var ErrClosed = errors.New("txnlog: log closed")

// fileHeader returns the 16 header bytes of a new segment.
func fileHeader() []byte {
	b := make([]byte, 0, HeaderSize)
	b = binary.BigEndian.AppendUint32(b, Magic)
	b = binary.BigEndian.AppendUint32(b, Version)
	b = binary.BigEndian.AppendUint64(b, 0) // dbid, never used
	return b
}

// checksum is the value stored before each txn: Adler-32 as an unsigned
// 32-bit value widened to a long.
func checksum(data []byte) int64 { return int64(adler32.Checksum(data)) }

// appendEntry appends the on-disk form of one txn to b.
func appendEntry(b []byte, data []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(checksum(data)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	return append(b, endOfRecord)
}

// txnZxid extracts the zxid from the TxnHeader at the start of data.
func txnZxid(data []byte) (int64, error) {
	if len(data) < TxnHeaderSize {
		return 0, fmt.Errorf("txn of %d bytes is shorter than its %d-byte header", len(data), TxnHeaderSize)
	}
	var h wire.TxnHeader
	d := wire.NewDecoder(data[:TxnHeaderSize])
	h.Decode(d)
	if err := d.Err(); err != nil {
		return 0, err
	}
	return h.Zxid, nil
}

// paddedSize is FilePadding's rule: the file size to grow to before writing
// at position pos when the file is currently size bytes long.
func paddedSize(pos, size, prealloc int64) int64 {
	if prealloc <= 0 || pos+paddingMargin < size {
		return size
	}
	if pos > size {
		n := pos + prealloc
		return n - n%prealloc
	}
	return size + prealloc
}
