package snapshot

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// File header of snapshots.
const (
	Magic   int32 = 0x5A4B534E // "ZKSN"
	Version int32 = 2
	DBID    int64 = -1
)

// Digest is the optional zxid/tree-digest section that follows seal 1.
type Digest struct {
	Zxid    int64
	Version int32
	Value   int64
}

// Snapshot is a loaded snapshot file.
type Snapshot struct {
	Tree *datatree.Tree
	// Zxid comes from the file name; Tree.LastZxid is set to it.
	Zxid int64
	Path string
	// Digest is the digest section, nil when absent.
	Digest *Digest
	// LastProcessedZxid is the trailing section ZooKeeper 3.9 writes, -1
	// when absent.
	LastProcessedZxid int64
	Nodes             int
}

// Load reads the snapshot at path and returns its tree and the zxid from
// its file name. Progress of large files goes to zap's global logger.
func Load(path string) (*datatree.Tree, int64, error) {
	s, err := Read(path, zap.L())
	if err != nil {
		return nil, 0, err
	}
	return s.Tree, s.Zxid, nil
}

// Read reads the snapshot at path, checking seal 1 and, when present, the
// digest section and its seal (and the 3.9 trailing zxid and its seal).
// Errors name the file and the byte offset (of the uncompressed stream).
func Read(path string, log *zap.Logger) (*Snapshot, error) {
	return readFile(path, log, nil, false)
}

// ReadInto is Read filling t, a tree made empty for loading
// (datatree.NewEmptyOn a store), instead of a new in-memory tree: a
// store-backed tree then never holds the whole snapshot in memory. On
// failure t holds part of the snapshot.
func ReadInto(path string, t *datatree.Tree, log *zap.Logger) (*Snapshot, error) {
	return readFile(path, log, t, false)
}

// Verify reads the snapshot at path and checks it as Read does (format,
// seals, digest section) without building a tree: memory stays bounded
// whatever its size. The result's Tree is nil.
func Verify(path string, log *zap.Logger) (*Snapshot, error) {
	return readFile(path, log, nil, true)
}

func readFile(path string, log *zap.Logger, into *datatree.Tree, verify bool) (*Snapshot, error) {
	if log == nil {
		log = zap.NewNop()
	}
	name := filepath.Base(path)
	zxid := ZxidFromName(name, Prefix)
	if zxid == -1 {
		return nil, fmt.Errorf("snapshot %s: file name has no zxid", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	defer f.Close()
	var r io.Reader
	size := int64(-1)
	switch modeOf(name) {
	case modeGzip:
		gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: gzip: %w", path, err)
		}
		defer gz.Close()
		r = gz
	case modeSnappy:
		return nil, fmt.Errorf("snapshot %s: %w", path, ErrSnappyUnsupported)
	default:
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", path, err)
		}
		size = st.Size()
		r = f
	}
	if into != nil {
		// before FinishLoad: a store-backed tree records it with the load
		into.LastZxid = zxid
	}
	s, err := decode(r, size, path, log, into, verify)
	if err != nil {
		return nil, err
	}
	s.Zxid = zxid
	s.Path = path
	if s.Tree != nil {
		s.Tree.LastZxid = zxid
	}
	return s, nil
}

// errAt is a decoding failure at a byte offset.
type errAt struct {
	file string
	off  int64
	msg  string
	err  error
}

func (e *errAt) Error() string {
	s := fmt.Sprintf("snapshot %s: byte offset %d: %s", e.file, e.off, e.msg)
	if e.err != nil {
		s += ": " + e.err.Error()
	}
	return s
}

func (e *errAt) Unwrap() error { return e.err }

// reader reads jute values from a stream, keeping the Adler-32 of every
// byte consumed and the offset. The first error sticks.
type reader struct {
	in   io.Reader     // where bytes come from: br, or a caller's stream read exactly
	br   *bufio.Reader // nil when reading a caller's stream (atEOF unavailable)
	sum  hash.Hash32
	off  int64
	size int64 // total bytes, -1 when unknown (compressed)
	file string
	err  error
	tmp  [8]byte
	// into is the tree body fills (nil: a new in-memory tree); verify
	// parses and checks without building any tree
	into   *datatree.Tree
	verify bool
}

func (r *reader) fail(off int64, msg string, err error) {
	if r.err == nil {
		r.err = &errAt{file: r.file, off: off, msg: msg, err: err}
	}
}

func (r *reader) full(p []byte, what string) bool {
	if r.err != nil {
		return false
	}
	start := r.off
	n, err := io.ReadFull(r.in, p)
	if r.sum != nil {
		r.sum.Write(p[:n])
	}
	r.off += int64(n)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		r.fail(start, "reading "+what, err)
		return false
	}
	return true
}

func (r *reader) int(what string) int32 {
	if !r.full(r.tmp[:4], what) {
		return 0
	}
	return int32(binary.BigEndian.Uint32(r.tmp[:4]))
}

func (r *reader) long(what string) int64 {
	if !r.full(r.tmp[:8], what) {
		return 0
	}
	return int64(binary.BigEndian.Uint64(r.tmp[:8]))
}

// bytesN reads a length-prefixed value; -1 gives (nil, false). The
// allocation grows with the bytes actually read, so a corrupt length
// cannot make it larger than the input.
func (r *reader) bytesN(what string) ([]byte, bool) {
	start := r.off
	n := r.int(what + " length")
	if r.err != nil {
		return nil, false
	}
	if n == -1 {
		return nil, false
	}
	if n < 0 {
		r.fail(start, fmt.Sprintf("negative %s length %d", what, n), nil)
		return nil, false
	}
	if r.size >= 0 && int64(n) > r.size-r.off {
		r.fail(start, fmt.Sprintf("%s length %d exceeds the %d bytes left", what, n, r.size-r.off), nil)
		return nil, false
	}
	const chunk = 1 << 16
	if n <= chunk || r.size >= 0 {
		b := make([]byte, n)
		if !r.full(b, what) {
			return nil, false
		}
		return b, true
	}
	b := make([]byte, 0, chunk)
	for len(b) < int(n) {
		k := min(int(n)-len(b), chunk)
		b = slices.Grow(b, k)[:len(b)+k]
		if !r.full(b[len(b)-k:], what) {
			return nil, false
		}
	}
	return b, true
}

func (r *reader) str(what string) (string, bool) {
	b, ok := r.bytesN(what)
	return string(b), ok
}

// atEOF reports whether the stream has no more bytes.
func (r *reader) atEOF() bool {
	if r.err != nil {
		return false
	}
	_, err := r.br.Peek(1)
	if err == io.EOF {
		return true
	}
	if err != nil {
		r.fail(r.off, "reading", err)
	}
	return false
}

// seal checks a seal: long Adler-32 of everything before it, then a
// ustring (written as "/", not checked).
func (r *reader) seal(which string) {
	want := int64(r.sum.Sum32())
	start := r.off
	got := r.long(which)
	if r.err != nil {
		return
	}
	if got != want {
		r.fail(start, fmt.Sprintf("%s mismatch: file says %#x, content sums to %#x (corrupt snapshot)", which, uint64(got), want), nil)
		return
	}
	off := r.off
	if m, _ := r.str(which + " marker"); r.err == nil && m != "/" {
		r.fail(off, fmt.Sprintf("%s: marker %q, want \"/\"", which, m), nil)
	}
}

const progressEvery = 1 << 20

// decode parses a whole uncompressed snapshot stream. size is its length
// when known, else -1.
func decode(src io.Reader, size int64, file string, log *zap.Logger, into *datatree.Tree, verify bool) (*Snapshot, error) {
	br := bufio.NewReaderSize(src, 1<<16)
	r := &reader{in: br, br: br, sum: adler32.New(), size: size, file: file, into: into, verify: verify}
	start := time.Now()
	magic := r.int("magic")
	if r.err == nil && magic != Magic {
		return nil, &errAt{file: file, off: 0, msg: fmt.Sprintf("bad magic %#x, want %#x", uint32(magic), uint32(Magic))}
	}
	r.int("version")
	r.long("dbid")

	t, nodes := r.body(log, start)
	r.seal("seal 1 (Adler-32)")
	if r.err != nil {
		return nil, r.err
	}
	s := &Snapshot{Tree: t, Nodes: nodes, LastProcessedZxid: -1}

	// Optional digest section and seal 2.
	if !r.atEOF() && r.err == nil {
		d := &Digest{}
		d.Zxid = r.long("digest zxid")
		d.Version = r.int("digest version")
		if d.Version < 2 {
			off := r.off
			hex, ok := r.str("digest")
			if r.err == nil && ok {
				v, err := strconv.ParseUint(hex, 16, 64)
				if err != nil {
					r.fail(off, "digest", err)
				}
				d.Value = int64(v)
			}
		} else {
			d.Value = r.long("digest")
		}
		r.seal("seal 2 (Adler-32)")
		s.Digest = d
		// ZooKeeper 3.9: last processed zxid and seal 3.
		if !r.atEOF() && r.err == nil {
			s.LastProcessedZxid = r.long("last processed zxid")
			r.seal("seal 3 (Adler-32)")
			if !r.atEOF() && r.err == nil {
				log.Warn("ignoring unknown bytes at the end of snapshot", zap.String("file", file), zap.Int64("offset", r.off))
			}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if t == nil {
		return s, nil // verified only
	}
	if err := t.FinishLoad(); err != nil {
		return nil, &errAt{file: file, off: r.off, msg: "after loading", err: err}
	}
	if nodes >= 4096 {
		log.Info("loaded snapshot", zap.String("file", file), zap.Int("nodes", nodes),
			zap.Int64("bytes", r.off), zap.Duration("elapsed", time.Since(start)))
	}
	return s, nil
}

// body reads a snapshot body: the session table, the ACL cache and the node
// records up to and including the "/" that ends them. It returns the tree
// (FinishLoad not yet done) and the number of nodes; on failure r.err is
// set. Progress of large bodies goes to log.
func (r *reader) body(log *zap.Logger, start time.Time) (*datatree.Tree, int) {
	file := r.file
	t := r.into
	if t == nil && !r.verify {
		t = datatree.NewEmpty()
	}
	off := r.off
	nsess := r.int("session count")
	if r.err == nil && nsess < 0 {
		r.fail(off, fmt.Sprintf("negative session count %d", nsess), nil)
	}
	for i := int32(0); i < nsess && r.err == nil; i++ {
		id := r.long("session id")
		to := r.int("session timeout")
		if r.err == nil && t != nil {
			t.SetSession(id, to)
		}
	}

	off = r.off
	nacl := r.int("ACL cache count")
	if r.err == nil && nacl < 0 {
		r.fail(off, fmt.Sprintf("negative ACL cache count %d", nacl), nil)
	}
	seen := map[int64]bool{}
	for i := int32(0); i < nacl && r.err == nil; i++ {
		off = r.off
		id := r.long("ACL key")
		cnt := r.int("ACL list length")
		if r.err != nil {
			break
		}
		if cnt < 0 {
			r.fail(off, fmt.Sprintf("ACL key %d: list length %d (missing ACL list)", id, cnt), nil)
			break
		}
		if seen[id] {
			r.fail(off, fmt.Sprintf("ACL key %d listed twice", id), nil)
			break
		}
		seen[id] = true
		acl := []wire.ACL{}
		for j := int32(0); j < cnt && r.err == nil; j++ {
			perms := r.int("ACL perms")
			scheme, _ := r.str("ACL scheme")
			aid, _ := r.str("ACL id")
			acl = append(acl, wire.ACL{Perms: perms, Id: wire.Id{Scheme: scheme, ID: aid}})
		}
		if r.err == nil && t != nil {
			t.ACLs.Put(id, acl)
		}
	}

	nodes := 0
	lastLog := start
	for r.err == nil {
		off = r.off
		path, ok := r.str("node path")
		if r.err != nil {
			break
		}
		if !ok {
			r.fail(off, "null node path", nil)
			break
		}
		if path == endOfNodes {
			break
		}
		n := &datatree.Node{}
		n.Data, _ = r.bytesN("node data")
		n.ACL = r.long("node ACL key")
		n.Czxid = r.long("czxid")
		n.Mzxid = r.long("mzxid")
		n.Ctime = r.long("ctime")
		n.Mtime = r.long("mtime")
		n.Version = r.int("version")
		n.Cversion = r.int("cversion")
		n.Aversion = r.int("aversion")
		n.EphemeralOwner = r.long("ephemeralOwner")
		n.Pzxid = r.long("pzxid")
		if r.err != nil {
			break
		}
		if t != nil {
			if err := t.AddLoaded(path, n); err != nil {
				r.fail(off, "node", err)
				break
			}
		}
		nodes++
		if nodes%4096 == 0 {
			if now := time.Now(); nodes%progressEvery == 0 || now.Sub(lastLog) >= time.Second {
				lastLog = now
				log.Info("loading snapshot", zap.String("file", file), zap.Int("nodes", nodes),
					zap.Int64("offset", r.off), zap.Duration("elapsed", now.Sub(start)))
			}
		}
	}
	return t, nodes
}

// LoadLatest loads the newest usable snapshot of dir: it tries up to 100
// files that look valid, newest first, logging each one that fails and
// moving on to the next older. It returns the tree, the zxid from the
// file name and the file's path; ErrNoSnapshot when dir has no candidate.
func LoadLatest(dir string, log *zap.Logger) (*datatree.Tree, int64, string, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cands, err := ValidFiles(dir, 100)
	if err != nil {
		return nil, 0, "", fmt.Errorf("snapshot: listing %s: %w", dir, err)
	}
	if len(cands) == 0 {
		return nil, 0, "", ErrNoSnapshot
	}
	var errs []error
	for _, c := range cands {
		log.Info("reading snapshot", zap.String("file", c.Path))
		s, err := Read(c.Path, log)
		if err != nil {
			log.Warn("unusable snapshot, trying an older one", zap.String("file", c.Path), zap.Error(err))
			errs = append(errs, err)
			continue
		}
		return s.Tree, s.Zxid, c.Path, nil
	}
	return nil, 0, "", fmt.Errorf("snapshot: no valid snapshot in %s: %w", dir, errors.Join(errs...))
}
