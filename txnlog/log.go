package txnlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults for zero Options fields.
const (
	DefaultFsyncWarn = time.Second
	DefaultMaxBatch  = 1000
	queueLen         = 4096 // Commit/Roll/Sync calls waiting for the writer
	writeBufSize     = 64 << 10
)

// Options configure a Log.
type Options struct {
	// Dir holds the log.<hexzxid> files (<dataLogDir>/version-2); it is
	// created if missing.
	Dir string
	// PreAllocSize is the preallocation unit in bytes (0 = 64 MiB; negative
	// disables preallocation).
	PreAllocSize int64
	// ForceSync false means flush only, never fsync (unsafe).
	ForceSync bool
	// FsyncWarn: warn when one fsync takes longer (0 = 1s).
	FsyncWarn time.Duration
	// MaxBatch is the most entries written per group-commit round (0 = 1000).
	// A single Commit call is never split, so a round may exceed it.
	MaxBatch int
	Logger   *zap.Logger
	// OnRound, if set, is called on the writer goroutine after every
	// group-commit round that wrote entries, with their count and the
	// round's fsync time (negative when it made none: ForceSync off).
	OnRound func(entries int, fsync time.Duration)

	// beforeFsync, if set, runs on the writer goroutine before every fsync
	// of a segment file; an error stands in for a failed fsync (tests use it
	// to hold an fsync in flight or to inject failures).
	beforeFsync func() error
}

// Entry is one transaction: Data is the txn bytes (TxnHeader + record
// [+ digest]) and Zxid must equal the zxid in its TxnHeader.
type Entry struct {
	Zxid int64
	Data []byte
}

// Stats describes the writer's work so far.
type Stats struct {
	Fsyncs           int64         // fsyncs of segment files
	SlowFsyncs       int64         // fsyncs slower than FsyncWarn
	LastFsync        time.Duration // duration of the latest fsync
	MaxFsync         time.Duration
	TotalFsync       time.Duration
	Rounds           int64 // group-commit rounds that wrote entries
	Entries          int64 // entries written
	Bytes            int64 // record bytes written (headers, padding excluded)
	LastRoundEntries int   // entries written by the latest such round
	MaxRoundEntries  int
	SegmentsCreated  int64
}

type reqKind uint8

const (
	reqCommit reqKind = iota
	reqRoll
	reqSync
)

type request struct {
	kind    reqKind
	entries []Entry
	done    func(error)
	sync    chan error
	err     error
}

// Log appends entries to segment files through one writer goroutine that
// group-commits: each round takes everything queued (up to MaxBatch
// entries), writes it, flushes and fsyncs once, then reports to every
// caller of the round in submission order.
type Log struct {
	opts Options
	lg   *zap.Logger

	mu     sync.RWMutex // closed vs. sends on q
	closed bool
	q      chan *request
	exited chan struct{}
	runErr error // set by the writer before exited is closed

	size atomic.Int64 // CurrentSize

	statsMu sync.Mutex
	stats   Stats

	// Owned by the writer goroutine.
	f        *os.File
	bw       *bufio.Writer
	path     string
	pos      int64 // logical end of the segment (buffered bytes included)
	padSize  int64 // FilePadding's idea of the file size
	hasLast  bool
	lastZxid int64
	dirty    bool // written since the last flush/fsync
	dirDirty bool // a segment was created since the last directory fsync
	err      error
	head     [12]byte
	lastSync time.Duration // the latest fsync's duration (-1: none since the round began)
}

// Open prepares a Log writing to o.Dir. It never appends to an existing
// file: the first entry after Open (or after Roll) opens a new segment named
// after that entry's zxid.
func Open(o Options) (*Log, error) {
	if o.Dir == "" {
		return nil, errors.New("txnlog: Options.Dir is empty")
	}
	if o.PreAllocSize == 0 {
		o.PreAllocSize = DefaultPreAllocSize
	}
	if o.FsyncWarn <= 0 {
		o.FsyncWarn = DefaultFsyncWarn
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("txnlog: %w", err)
	}
	l := &Log{
		opts:   o,
		lg:     o.Logger.Named("txnlog"),
		q:      make(chan *request, queueLen),
		exited: make(chan struct{}),
		bw:     bufio.NewWriterSize(nil, writeBufSize),
	}
	if !o.ForceSync {
		l.lg.Warn("forceSync is off: txn log writes are flushed but never fsynced; a crash can lose acknowledged transactions",
			zap.String("dir", o.Dir))
	}
	go l.run()
	return l, nil
}

func (l *Log) send(r *request) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return false
	}
	l.q <- r
	return true
}

// Commit queues entries (ascending zxid, continuing above every entry
// committed before) for the writer. done, if not nil, is called once from
// the writer goroutine, in submission order, after the fsync covering all of
// the entries completed, or with the error that prevented it. A call whose
// entries are invalid (empty or oversized Data, Zxid not matching the
// TxnHeader, zxids not ascending) is rejected as a whole with an error and
// does not affect other calls. An empty call acts as a barrier.
//
// Commit does not wait for I/O; it blocks only while the queue is full. The
// caller must not modify entries until done is called; done must not call
// Sync or Close, and should not call Commit (the queue may be full).
// After Close, done(ErrClosed) is called on the caller's goroutine.
func (l *Log) Commit(entries []Entry, done func(error)) {
	if !l.send(&request{kind: reqCommit, entries: entries, done: done}) && done != nil {
		done(ErrClosed)
	}
}

// Roll makes the next committed entry start a new segment. It is ordered
// with Commit calls: entries committed before Roll go to the old segment.
func (l *Log) Roll() {
	l.send(&request{kind: reqRoll})
}

// Sync waits until everything committed so far is durable (or flushed, with
// ForceSync off) and returns the log's error, if it has failed.
func (l *Log) Sync() error {
	ch := make(chan error, 1)
	if !l.send(&request{kind: reqSync, sync: ch}) {
		return ErrClosed
	}
	return <-ch
}

// CurrentSize is the size of the current segment file including its
// preallocated tail; 0 when no segment is open (before the first entry, or
// right after a Roll). It reflects the writer's progress, so it may lag
// behind Commit calls still queued.
func (l *Log) CurrentSize() int64 { return l.size.Load() }

// Stats returns a snapshot of the writer's counters.
func (l *Log) Stats() Stats {
	l.statsMu.Lock()
	defer l.statsMu.Unlock()
	return l.stats
}

// Close finishes all queued work, makes it durable, closes the segment and
// stops the writer. It returns the first write or fsync error the log met.
func (l *Log) Close() error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.q)
	}
	l.mu.Unlock()
	<-l.exited
	return l.runErr
}

// run is the writer goroutine.
func (l *Log) run() {
	batch := make([]*request, 0, 64)
	open := true
	for open {
		r, ok := <-l.q
		if !ok {
			break
		}
		batch = append(batch[:0], r)
		n := len(r.entries)
	drain:
		for n < l.opts.MaxBatch {
			select {
			case r, ok := <-l.q:
				if !ok {
					open = false
					break drain
				}
				batch = append(batch, r)
				n += len(r.entries)
			default:
				break drain
			}
		}
		l.round(batch)
		clear(batch)
	}
	if l.f != nil {
		if err := l.closeSegment(); err != nil {
			l.fail(err)
		}
	}
	l.runErr = l.err
	close(l.exited)
}

// fail records the log's first write/fsync error; the log then rejects all
// further work with it, since the state of the file is unknown.
func (l *Log) fail(err error) {
	if l.err == nil {
		l.err = err
		l.lg.Error("txn log write failed; rejecting all further commits", zap.String("file", l.path), zap.Error(err))
	}
}

// round writes a batch of requests, makes it durable with one fsync (plus
// one per Roll inside the batch) and reports to every request in order.
func (l *Log) round(batch []*request) {
	durable := 0 // batch[:durable] is covered by a completed fsync
	written := 0
	l.lastSync = -1
	for i, r := range batch {
		switch r.kind {
		case reqCommit:
			if l.err != nil {
				r.err = l.err
				continue
			}
			if err := l.validate(r.entries); err != nil {
				r.err = err
				continue
			}
			for _, e := range r.entries {
				if err := l.append(e); err != nil {
					l.fail(err)
					break
				}
				written++
			}
		case reqRoll:
			if l.f != nil && l.err == nil {
				if err := l.closeSegment(); err != nil {
					l.fail(err)
				} else {
					durable = i + 1
				}
			}
		}
	}
	if l.err == nil && l.dirty {
		if err := l.syncSegment(); err != nil {
			l.fail(err)
		}
	}
	if l.err != nil {
		for _, r := range batch[durable:] {
			if r.err == nil {
				r.err = l.err
			}
		}
	}
	if written > 0 {
		l.statsMu.Lock()
		l.stats.Rounds++
		l.stats.LastRoundEntries = written
		l.stats.MaxRoundEntries = max(l.stats.MaxRoundEntries, written)
		l.statsMu.Unlock()
		if l.opts.OnRound != nil {
			l.opts.OnRound(written, l.lastSync)
		}
	}
	for _, r := range batch {
		if r.done != nil {
			r.done(r.err)
		}
		if r.sync != nil {
			r.sync <- r.err
		}
	}
}

func (l *Log) validate(entries []Entry) error {
	has, last := l.hasLast, l.lastZxid
	for i, e := range entries {
		if len(e.Data) == 0 {
			return fmt.Errorf("txnlog: entry %d (zxid %#x) has no data", i, e.Zxid)
		}
		if len(e.Data) > MaxEntrySize {
			return fmt.Errorf("txnlog: entry %d (zxid %#x) has %d bytes, more than %d", i, e.Zxid, len(e.Data), MaxEntrySize)
		}
		z, err := txnZxid(e.Data)
		if err != nil {
			return fmt.Errorf("txnlog: entry %d (zxid %#x): %w", i, e.Zxid, err)
		}
		if z != e.Zxid {
			return fmt.Errorf("txnlog: entry %d has zxid %#x but its TxnHeader says %#x", i, e.Zxid, z)
		}
		if has && e.Zxid <= last {
			return fmt.Errorf("txnlog: entry %d has zxid %#x, not above the previous %#x", i, e.Zxid, last)
		}
		has, last = true, e.Zxid
	}
	return nil
}

// append writes one validated entry into the buffer, opening a segment and
// growing the file as needed.
func (l *Log) append(e Entry) error {
	if l.f == nil {
		if err := l.newSegment(e.Zxid); err != nil {
			return err
		}
	}
	if err := l.pad(); err != nil {
		return err
	}
	binary.BigEndian.PutUint64(l.head[:8], uint64(checksum(e.Data)))
	binary.BigEndian.PutUint32(l.head[8:], uint32(len(e.Data)))
	l.bw.Write(l.head[:])
	l.bw.Write(e.Data)
	if err := l.bw.WriteByte(endOfRecord); err != nil {
		return fmt.Errorf("txnlog: write %s: %w", l.path, err)
	}
	n := int64(len(e.Data) + entryOverhead)
	l.pos += n
	l.hasLast, l.lastZxid = true, e.Zxid
	l.dirty = true
	l.size.Store(max(l.pos, l.padSize))
	l.statsMu.Lock()
	l.stats.Entries++
	l.stats.Bytes += n
	l.statsMu.Unlock()
	return nil
}

// pad applies ZooKeeper's FilePadding rule before an append: grow the file by
// writing a zero byte at newSize-1 (a sparse, zero-filled tail).
func (l *Log) pad() error {
	newSize := paddedSize(l.pos, l.padSize, l.opts.PreAllocSize)
	if newSize == l.padSize {
		return nil
	}
	if _, err := l.f.WriteAt([]byte{0}, newSize-1); err != nil {
		return fmt.Errorf("txnlog: preallocate %s: %w", l.path, err)
	}
	l.padSize = newSize
	l.size.Store(max(l.pos, l.padSize))
	return nil
}

// newSegment creates log.<zxid>, writes the file header and flushes it.
func (l *Log) newSegment(zxid int64) error {
	path := filepath.Join(l.opts.Dir, SegmentName(zxid))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		// Left by a crash before anything in it became durable? Then it
		// can go; never overwrite a file that holds entries.
		if has, herr := holdsEntries(path); herr != nil || has {
			if herr == nil {
				herr = errors.New("it already holds entries")
			}
			return fmt.Errorf("txnlog: cannot create %s: %w", path, herr)
		}
		l.lg.Warn("replacing txn log file without entries", zap.String("file", path))
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("txnlog: %w", err)
		}
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	}
	if err != nil {
		return fmt.Errorf("txnlog: %w", err)
	}
	l.f, l.path = f, path
	l.bw.Reset(f)
	l.bw.Write(fileHeader())
	if err := l.bw.Flush(); err != nil {
		return fmt.Errorf("txnlog: write %s: %w", path, err)
	}
	l.pos, l.padSize = HeaderSize, HeaderSize
	l.size.Store(HeaderSize)
	l.dirDirty = true
	l.dirty = true
	l.statsMu.Lock()
	l.stats.SegmentsCreated++
	l.statsMu.Unlock()
	l.lg.Info("created txn log segment", zap.String("file", path))
	return nil
}

// holdsEntries reports whether a segment file has at least one entry.
func holdsEntries(path string) (bool, error) {
	r, err := openSegment(path)
	if err != nil {
		return false, err
	}
	defer r.close()
	_, _, err = r.next()
	if err == io.EOF {
		return false, nil
	}
	return err == nil, err
}

// syncSegment flushes the buffer and (with ForceSync) fsyncs the segment and,
// after a segment was created, the directory.
func (l *Log) syncSegment() error {
	if err := l.bw.Flush(); err != nil {
		return fmt.Errorf("txnlog: write %s: %w", l.path, err)
	}
	l.dirty = false
	if !l.opts.ForceSync {
		return nil
	}
	start := time.Now()
	var err error
	if l.opts.beforeFsync != nil {
		err = l.opts.beforeFsync()
	}
	if err == nil {
		err = datasync(l.f)
	}
	d := time.Since(start)
	l.lastSync = d
	slow := d > l.opts.FsyncWarn
	l.statsMu.Lock()
	l.stats.Fsyncs++
	l.stats.LastFsync = d
	l.stats.MaxFsync = max(l.stats.MaxFsync, d)
	l.stats.TotalFsync += d
	if slow {
		l.stats.SlowFsyncs++
	}
	l.statsMu.Unlock()
	if slow {
		l.lg.Warn("fsync of txn log took longer than the warning threshold",
			zap.String("file", l.path), zap.Duration("took", d), zap.Duration("threshold", l.opts.FsyncWarn))
	}
	if err != nil {
		return fmt.Errorf("txnlog: fsync %s: %w", l.path, err)
	}
	if l.dirDirty {
		if err := syncDir(l.opts.Dir); err != nil {
			return err
		}
		l.dirDirty = false
	}
	return nil
}

// closeSegment makes the current segment durable and closes it.
func (l *Log) closeSegment() error {
	var err error
	if l.dirty && l.err == nil {
		err = l.syncSegment()
	}
	if cerr := l.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("txnlog: close %s: %w", l.path, cerr)
	}
	l.f, l.path = nil, ""
	l.bw.Reset(nil)
	l.size.Store(0)
	return err
}
