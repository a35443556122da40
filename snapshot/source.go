package snapshot

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// ErrDurableTree is returned by Write and WriteStream for a tree on a
// durable store (Pebble): their fuzzy walk tells nodes apart by identity,
// which a store that evicts and decodes nodes again does not keep. Write
// such a tree with WriteFrom or WriteStreamFrom from a consistent view.
var ErrDurableTree = errors.New("snapshot: a tree on a durable store is written from a consistent view (WriteFrom), not walked live")

// Source is a consistent, read-only view of a whole tree that does not
// change while it is read (a Pebble snapshot, a stopped tree). Unlike
// Write's fuzzy walk of a live tree, a snapshot written from a Source is
// exact: it holds the tree as of LastZxid and nothing else.
type Source interface {
	// LastZxid is the zxid of the last txn the view holds.
	LastZxid() int64
	// Digest is the tree digest at LastZxid.
	Digest() uint64
	// Sessions calls f for every session, in any order.
	Sessions(f func(id int64, timeout int32) error) error
	// ACLs calls f for every list of the ACL cache, in any order.
	ACLs(f func(id int64, acl []wire.ACL) error) error
	// Walk calls f for every node in depth-first pre-order, parents
	// before children and siblings in byte order of their names; path is
	// "/" for the root. n is only valid during the call.
	Walk(f func(path string, n *datatree.Node) error) error
}

// WriteFrom writes the snapshot of src into dir/snapshot.<hex LastZxid>
// [.gz] (through a .tmp file renamed into place) and returns its path.
// The file has what Write would write for the same tree: header, session
// table (ids ascending), ACL cache (ids ascending), nodes (root first,
// depth first, siblings sorted), the seals and the digest section.
// o.Progress is called every batchNodes nodes.
func WriteFrom(dir string, src Source, o WriteOptions) (string, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	comp := ""
	switch strings.ToLower(o.Compression) {
	case "gz":
		comp = "gz"
	case "snappy":
		return "", ErrSnappyUnsupported
	}
	start := time.Now()
	zxid := src.LastZxid()
	final := filepath.Join(dir, Name(zxid, comp))
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	var sink io.Writer = bw
	var gz *gzip.Writer
	if comp == "gz" {
		gz = gzip.NewWriter(bw)
		sink = gz
	}
	sum := adler32.New()
	cw := &checkedWriter{w: sink, sum: sum}
	var e wire.Encoder
	e.Int(Magic)
	e.Int(Version)
	e.Long(DBID)
	if _, err := cw.Write(e.B); err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", tmp, err)
	}
	st, err := writeBodyFrom(cw, src, o.Progress)
	if err != nil {
		return "", err
	}
	e.B = e.B[:0]
	e.Long(int64(sum.Sum32()))
	e.Str("/")
	digest := src.Digest()
	if zxid == 0 {
		digest = 0 // as Write: nothing applied yet
	}
	e.Long(zxid)
	e.Int(datatree.DigestVersion)
	e.Long(int64(digest))
	if _, err := cw.Write(e.B); err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", tmp, err)
	}
	e.B = e.B[:0]
	e.Long(int64(sum.Sum32()))
	e.Str("/")
	if _, err := cw.Write(e.B); err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", tmp, err)
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return "", fmt.Errorf("snapshot: writing %s: %w", tmp, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", tmp, err)
	}
	if o.Sync {
		if err := f.Sync(); err != nil {
			return "", fmt.Errorf("snapshot: fsync %s: %w", tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("snapshot: closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	ok = true
	if o.Sync {
		if err := syncDir(dir); err != nil {
			return final, fmt.Errorf("snapshot: fsync %s: %w", dir, err)
		}
	}
	log.Info("snapshot written from a consistent view", zap.String("file", final), zap.Int("nodes", st.nodes),
		zap.Int("sessions", st.sessions), zap.Int("acls", st.acls),
		zap.Int64("bytes", cw.n), zap.Duration("elapsed", time.Since(start)))
	return final, nil
}

// WriteStreamFrom writes the body of a SNAP sync from src, as WriteStream
// does from a live tree: sessions, ACL cache, nodes and the "/" that ends
// them. The SNAP packet's zxid is src.LastZxid(); the learner replays
// nothing older. w is written in chunks of up to 64 KiB.
func WriteStreamFrom(w io.Writer, src Source) error {
	_, err := writeBodyFrom(w, src, nil)
	return err
}

type bodyStats struct{ nodes, sessions, acls int }

// writeBodyFrom writes sessions, ACL map and nodes (with the "/" after
// them) of src to w. It fails when a node uses an ACL id the cache lacks.
func writeBodyFrom(w io.Writer, src Source, progress func(int)) (bodyStats, error) {
	var st bodyStats
	head := &bodyHead{acls: map[int64][]wire.ACL{}, zxid: src.LastZxid()}
	err := src.Sessions(func(id int64, timeout int32) error {
		head.sessions = append(head.sessions, session{id, timeout})
		return nil
	})
	if err == nil {
		err = src.ACLs(func(id int64, l []wire.ACL) error {
			head.acls[id] = append([]wire.ACL(nil), l...)
			return nil
		})
	}
	if err != nil {
		return st, fmt.Errorf("snapshot: reading the source: %w", err)
	}
	sort.Slice(head.sessions, func(i, j int) bool { return head.sessions[i].id < head.sessions[j].id })
	st.sessions = len(head.sessions)
	var e wire.Encoder
	st.acls = head.appendBody(&e, head.acls)
	flush := func() error {
		if _, err := w.Write(e.B); err != nil {
			return fmt.Errorf("snapshot: writing: %w", err)
		}
		e.B = e.B[:0]
		return nil
	}
	if err := flush(); err != nil {
		return st, err
	}
	sawRoot := false
	err = src.Walk(func(path string, n *datatree.Node) error {
		if path == "/" {
			if sawRoot || st.nodes != 0 {
				return fmt.Errorf("snapshot: the source's walk visits the root twice or late")
			}
			sawRoot = true
			e.Str("")
		} else {
			if !sawRoot {
				return fmt.Errorf("snapshot: the source's walk visits %s before the root", path)
			}
			e.Str(path)
		}
		if n.ACL != datatree.OpenACLID {
			if _, have := head.acls[n.ACL]; !have {
				return fmt.Errorf("snapshot: node %s uses ACL id %d, absent from the ACL cache", path, n.ACL)
			}
		}
		e.Buffer(n.Data)
		e.Long(n.ACL)
		e.Long(n.Czxid)
		e.Long(n.Mzxid)
		e.Long(n.Ctime)
		e.Long(n.Mtime)
		e.Int(n.Version)
		e.Int(n.Cversion)
		e.Int(n.Aversion)
		e.Long(n.EphemeralOwner)
		e.Long(n.Pzxid)
		st.nodes++
		if len(e.B) >= 1<<16 {
			if err := flush(); err != nil {
				return err
			}
		}
		if progress != nil && st.nodes%batchNodes == 0 {
			progress(st.nodes)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if !sawRoot {
		return st, fmt.Errorf("snapshot: the source has no root")
	}
	e.Str(endOfNodes)
	if err := flush(); err != nil {
		return st, err
	}
	if progress != nil {
		progress(st.nodes)
	}
	return st, nil
}

// TreeSource is the Source of a tree nobody changes while it is read (a
// recovered tree before the server starts, a test's tree).
type TreeSource struct{ T *datatree.Tree }

// LastZxid implements Source.
func (s TreeSource) LastZxid() int64 { return s.T.LastZxid }

// Digest implements Source.
func (s TreeSource) Digest() uint64 { return s.T.Digest() }

// Sessions implements Source.
func (s TreeSource) Sessions(f func(int64, int32) error) error {
	for id, to := range s.T.Sessions() {
		if err := f(id, to); err != nil {
			return err
		}
	}
	return nil
}

// ACLs implements Source.
func (s TreeSource) ACLs(f func(int64, []wire.ACL) error) error {
	var err error
	s.T.ACLs.Each(func(id int64, l []wire.ACL) {
		if err == nil {
			err = f(id, l)
		}
	})
	return err
}

// Walk implements Source.
func (s TreeSource) Walk(f func(string, *datatree.Node) error) error { return s.T.Walk(f) }
