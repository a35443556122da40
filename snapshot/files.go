// Package snapshot reads and writes ZooKeeper's snapshot files
// (version-2/snapshot.<hex zxid>[.gz|.snappy]): a FileHeader, the session
// table, the ACL cache, the dataNode tree in parent-before-child order and
// Adler-32 seals, byte for byte as ZooKeeper 3.8 writes them, so either
// server can start from the other's files.
//
// Writing is fuzzy: the tree keeps changing while it is walked, under a
// read lock taken for short batches only. The file is named by the last
// zxid applied when the walk started; replaying the txn log from the next
// zxid (tolerantly) makes the loaded tree exact.
package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Prefix is the file-name prefix of snapshots.
const Prefix = "snapshot"

// ErrNoSnapshot is returned by LoadLatest when the directory holds no
// snapshot file that looks valid.
var ErrNoSnapshot = errors.New("snapshot: no snapshot found")

// ErrSnappyUnsupported is returned for snappy-compressed snapshots, whose
// snappy-java stream framing this build does not implement.
var ErrSnappyUnsupported = errors.New("snapshot: snappy compression is not supported")

// File is a snapshot file found in a directory.
type File struct {
	Path string
	Zxid int64
}

// Name returns the file name of the snapshot of zxid with the extension of
// compression ("" or "gz"; "snappy" names a file this package cannot write).
func Name(zxid int64, compression string) string {
	n := Prefix + "." + strconv.FormatUint(uint64(zxid), 16)
	if compression != "" {
		n += "." + compression
	}
	return n
}

// javaSplitDot splits s on '.' the way Java's String.split("\\.") does:
// trailing empty parts are dropped.
func javaSplitDot(s string) []string {
	parts := strings.Split(s, ".")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// ZxidFromName parses the zxid from a file name as ZooKeeper does: the
// part after the first '.' up to the next one, in hex. It returns -1 when
// the name does not start with prefix + "." or the part does not parse.
func ZxidFromName(name, prefix string) int64 {
	parts := javaSplitDot(name)
	if len(parts) < 2 || parts[0] != prefix {
		return -1
	}
	z, err := strconv.ParseInt(parts[1], 16, 64)
	if err != nil {
		return -1
	}
	return z
}

type streamMode int

const (
	modePlain streamMode = iota
	modeGzip
	modeSnappy
)

// modeOf picks the stream kind from the last extension of a file name, as
// ZooKeeper does (case-insensitive; anything else is plain).
func modeOf(name string) streamMode {
	parts := javaSplitDot(name)
	if len(parts) < 2 {
		return modePlain
	}
	switch strings.ToLower(parts[len(parts)-1]) {
	case "gz":
		return modeGzip
	case "snappy":
		return modeSnappy
	}
	return modePlain
}

// snappyMagic starts every snappy-java stream.
var snappyMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// plainTail ends every complete plain snapshot: ustring "/" (int 1, '/').
var plainTail = []byte{0, 0, 0, 1, '/'}

// LooksValid is ZooKeeper's cheap candidate test: the name parses, and a
// plain file is at least 10 bytes long and ends with the "/" of a seal, a
// gzip file starts with the gzip magic, a snappy file with snappy-java's.
func LooksValid(path string) bool {
	if ZxidFromName(filepath.Base(path), Prefix) == -1 {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	switch modeOf(filepath.Base(path)) {
	case modeGzip:
		var b [2]byte
		if _, err := io.ReadFull(f, b[:]); err != nil {
			return false
		}
		return b[0] == 0x1f && b[1] == 0x8b
	case modeSnappy:
		b := make([]byte, len(snappyMagic))
		if _, err := io.ReadFull(f, b); err != nil {
			return false
		}
		return bytes.Equal(b, snappyMagic)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() < 10 {
		return false
	}
	b := make([]byte, len(plainTail))
	if _, err := f.ReadAt(b, st.Size()-int64(len(plainTail))); err != nil {
		return false
	}
	return bytes.Equal(b, plainTail)
}

// List returns every file in dir whose name parses as a snapshot name
// (valid-looking or not), newest (highest zxid) first; files of equal
// zxid are ordered by name. A missing dir gives an empty list.
func List(dir string) ([]File, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []File
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		z := ZxidFromName(e.Name(), Prefix)
		if z == -1 {
			continue
		}
		out = append(out, File{Path: filepath.Join(dir, e.Name()), Zxid: z})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Zxid != out[j].Zxid {
			return out[i].Zxid > out[j].Zxid
		}
		return out[i].Path < out[j].Path
	})
	return out, nil
}

// ValidFiles returns up to n snapshot files of dir that look valid, newest
// first (n <= 0: all).
func ValidFiles(dir string, n int) ([]File, error) {
	all, err := List(dir)
	if err != nil {
		return nil, err
	}
	var out []File
	for _, f := range all {
		if LooksValid(f.Path) {
			out = append(out, f)
			if n > 0 && len(out) == n {
				break
			}
		}
	}
	return out, nil
}

// Purge keeps the retain newest snapshots that look valid and deletes
// every snapshot file (by name: valid or not, temporaries included) whose
// zxid is below the oldest kept one. It returns that zxid, from which the
// caller keeps the txn logs needed to replay; -1 (and nothing removed)
// when no snapshot looks valid. ZooKeeper's own purge asks retain >= 3.
func Purge(dir string, retain int) (oldestKept int64, removed []string, err error) {
	if retain < 1 {
		return -1, nil, fmt.Errorf("snapshot: purge needs retain >= 1, got %d", retain)
	}
	keep, err := ValidFiles(dir, retain)
	if err != nil {
		return -1, nil, err
	}
	if len(keep) == 0 {
		return -1, nil, nil
	}
	oldest := keep[len(keep)-1].Zxid
	all, err := List(dir)
	if err != nil {
		return oldest, nil, err
	}
	var errs []error
	for _, f := range all {
		if f.Zxid >= oldest {
			continue
		}
		if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, f.Path)
	}
	return oldest, removed, errors.Join(errs...)
}
