package zabrun

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/zab"
)

// NewDiskLog reads a txnlog directory (dataLogDir/version-2) for sync.
func NewDiskLog(logDir string) zab.DiskLog { return txnDiskLog{dir: logDir} }

type txnDiskLog struct{ dir string }

// From picks the newest segment starting at or before zxid and every later
// one; their sizes on disk (preallocation included, as ZooKeeper counts
// File.length) make up totalBytes. ok is false when no segment starts at
// or before zxid or the first entry read is above zxid.
func (d txnDiskLog) From(zxid int64) (zab.EntryIterator, int64, bool, error) {
	segs, err := txnlog.Segments(d.dir)
	if err != nil {
		return nil, 0, false, err
	}
	idx := -1
	for i, s := range segs {
		if s.StartZxid <= zxid {
			idx = i
		}
	}
	if idx < 0 {
		return nil, 0, false, nil
	}
	var total int64
	for _, s := range segs[idx:] {
		st, err := os.Stat(s.Path)
		if err != nil {
			return nil, 0, false, fmt.Errorf("zab: txn log: %w", err)
		}
		total += st.Size()
	}
	it, err := txnlog.NewIterator(d.dir, segs[idx].StartZxid)
	if err != nil {
		return nil, 0, false, err
	}
	first, err := it.Next()
	if err != nil && !errors.Is(err, io.EOF) {
		it.Close()
		return nil, 0, false, err
	}
	if err == nil && first.Zxid > zxid {
		it.Close()
		return nil, 0, false, nil
	}
	return &diskIter{it: it, first: zab.Entry{Zxid: first.Zxid, Data: first.Data}, have: err == nil}, total, true, nil
}

// diskIter yields the entry From read ahead, then the rest.
type diskIter struct {
	it    *txnlog.Iterator
	first zab.Entry
	have  bool
}

func (d *diskIter) Next() (zab.Entry, error) {
	if d.have {
		d.have = false
		return d.first, nil
	}
	e, err := d.it.Next()
	if err != nil {
		return zab.Entry{}, err
	}
	return zab.Entry{Zxid: e.Zxid, Data: e.Data}, nil
}

func (d *diskIter) Close() error { return d.it.Close() }
