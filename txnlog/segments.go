package txnlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Segment is one log file.
type Segment struct {
	Path      string
	StartZxid int64 // from the file name: the zxid of its first entry
}

// SegmentName is the file name of a segment starting at zxid
// (Long.toHexString style: lower-case hex, no leading zeros, no 0x).
func SegmentName(zxid int64) string {
	return filePrefix + strconv.FormatUint(uint64(zxid), 16)
}

// parseName returns the zxid of a "log.<hex>[.anything]" name.
func parseName(name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, filePrefix)
	if !ok {
		return 0, false
	}
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		rest = rest[:i]
	}
	z, err := strconv.ParseInt(rest, 16, 64)
	if err != nil {
		return 0, false
	}
	return z, true
}

// Segments lists the log files in dir sorted by StartZxid. Names that do not
// parse are ignored; a missing directory holds no segments.
func Segments(dir string) ([]Segment, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("txnlog: %w", err)
	}
	var segs []Segment
	for _, de := range des {
		if de.IsDir() {
			continue
		}
		z, ok := parseName(de.Name())
		if !ok {
			continue
		}
		segs = append(segs, Segment{Path: filepath.Join(dir, de.Name()), StartZxid: z})
	}
	sort.Slice(segs, func(i, j int) bool {
		if segs[i].StartZxid != segs[j].StartZxid {
			return segs[i].StartZxid < segs[j].StartZxid
		}
		return segs[i].Path < segs[j].Path
	})
	return segs, nil
}

// startIndex is the index of the newest segment whose start is <= zxid, or
// -1 if every segment starts after zxid.
func startIndex(segs []Segment, zxid int64) int {
	idx := -1
	for i, s := range segs {
		if s.StartZxid <= zxid {
			idx = i
		}
	}
	return idx
}

// PurgeBefore deletes the log segments that are not needed to replay from
// zxid (the zxid of the oldest snapshot being kept): it keeps the newest
// segment whose start is <= zxid and every later one, and removes the rest.
// It returns the paths it removed.
func PurgeBefore(dir string, zxid int64) (removed []string, err error) {
	segs, err := Segments(dir)
	if err != nil {
		return nil, err
	}
	keep := startIndex(segs, zxid)
	for i := 0; i < keep; i++ {
		if err := os.Remove(segs[i].Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("txnlog: purge: %w", err)
		}
		removed = append(removed, segs[i].Path)
	}
	if len(removed) > 0 {
		if err := syncDir(dir); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// syncDir makes directory entry changes (create, remove) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("txnlog: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("txnlog: sync dir %s: %w", dir, err)
	}
	return nil
}
