package crashtest

import (
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// On-disk txn log format (ZooKeeper's): a 16-byte file header (magic
// "ZKLG", version, dbid), then per entry an 8-byte Adler-32 checksum, a
// 4-byte length, the txn (starting with a 32-byte TxnHeader whose zxid is at
// bytes 12..20) and the end-of-record byte 'B'. The preallocated rest of the
// file is zeros; a zero length ends the segment.
const (
	logHeaderSize = 16
	logMagic      = 0x5A4B4C47
)

type logFile struct {
	path string
	zxid int64 // from the name: log.<hex zxid>
}

// listZxidFiles lists <dir>/<prefix>.<hex>[.suffix] ordered by zxid.
func listZxidFiles(dir, prefix string) ([]logFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []logFile
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefix+".") {
			continue
		}
		hex, _, _ := strings.Cut(strings.TrimPrefix(name, prefix+"."), ".")
		z, err := strconv.ParseInt(hex, 16, 64)
		if err != nil {
			continue
		}
		out = append(out, logFile{path: filepath.Join(dir, name), zxid: z})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].zxid < out[j].zxid })
	return out, nil
}

type record struct {
	file string
	off  int64 // offset of the checksum
	n    int   // txn length
	zxid int64
}

// parseSegment returns the complete, checksum-valid records of a segment
// and the offset just past the last one. It stops at a zero length, at the
// end of the file, or at the first record that does not parse (which is
// reported: the test only parses files it expects to be clean).
func parseSegment(path string) ([]record, int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	if len(b) < logHeaderSize || binary.BigEndian.Uint32(b) != logMagic {
		return nil, 0, fmt.Errorf("%s: bad header", path)
	}
	var recs []record
	off := int64(logHeaderSize)
	for off+12 <= int64(len(b)) {
		sum := binary.BigEndian.Uint64(b[off:])
		n := int64(int32(binary.BigEndian.Uint32(b[off+8:])))
		if n == 0 {
			break
		}
		end := off + 12 + n + 1
		if n < 32 || end > int64(len(b)) {
			return recs, off, fmt.Errorf("%s: offset %d: bad length %d", path, off, n)
		}
		data := b[off+12 : off+12+n]
		if b[end-1] != 'B' {
			return recs, off, fmt.Errorf("%s: offset %d: no end-of-record byte", path, off)
		}
		if uint64(adler32.Checksum(data)) != sum {
			return recs, off, fmt.Errorf("%s: offset %d: checksum mismatch", path, off)
		}
		recs = append(recs, record{file: path, off: off, n: int(n), zxid: int64(binary.BigEndian.Uint64(data[12:20]))})
		off = end
	}
	return recs, off, nil
}
