package snapshot

import (
	"errors"
	"fmt"
	"io"
	"sort"
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
	comp, err := compressionOf(o.Compression)
	if err != nil {
		return "", err
	}
	start := time.Now()
	zxid := src.LastZxid()
	sf, err := createSnapFile(dir, zxid, comp)
	if err != nil {
		return "", err
	}
	defer sf.abort()
	if err := sf.begin(); err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", sf.tmp, err)
	}
	st, err := writeBodyFrom(sf.cw, src, o.Progress)
	if err != nil {
		return "", err
	}
	final, err := sf.finish(zxid, src.Digest(), o.Sync)
	if err != nil {
		return final, err
	}
	log.Info("snapshot written from a consistent view", zap.String("file", final), zap.Int("nodes", st.nodes),
		zap.Int("sessions", st.sessions), zap.Int("acls", st.acls),
		zap.Int64("bytes", sf.cw.n), zap.Duration("elapsed", time.Since(start)))
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
		appendNodeFields(&e, n)
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
