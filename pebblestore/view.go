package pebblestore

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// View is a consistent read-only view of the store's committed state (a
// Pebble snapshot): the tree as of the zxid of the last committed batch,
// whatever the writer does meanwhile. It implements snapshot.Source, so a
// ZooKeeper-format snapshot (or SNAP stream) can be written from it while
// the server keeps applying txns. Nodes are read from disk, never from the
// decoded-node cache, so a walk does not disturb it.
//
// A View must be closed before its store.
type View struct {
	snap *pebble.Snapshot
	meta datatree.Meta
}

// View opens a view of the committed state. To include everything the
// tree has applied, the caller holding the tree exclusively calls
// Tree.Sync first, then View, and may release the tree at once.
func (s *Store) View() (*View, error) {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	snap := s.db.NewSnapshot()
	v := &View{snap: snap}
	m, err := v.readMeta()
	if err != nil {
		snap.Close()
		return nil, err
	}
	if m.Loading {
		snap.Close()
		return nil, fmt.Errorf("pebblestore: the store holds an unfinished import")
	}
	v.meta = m
	return v, nil
}

// Close releases the Pebble snapshot.
func (v *View) Close() error { return v.snap.Close() }

// Meta is the tree's bookkeeping as of the view.
func (v *View) Meta() datatree.Meta { return v.meta }

// LastZxid is the zxid of the last txn the view holds.
func (v *View) LastZxid() int64 { return v.meta.LastZxid }

// Digest is the tree digest at LastZxid.
func (v *View) Digest() uint64 { return v.meta.Digest }

func (v *View) readMeta() (datatree.Meta, error) {
	b, closer, err := v.snap.Get([]byte{pMeta})
	if err == pebble.ErrNotFound {
		return datatree.Meta{}, nil
	}
	if err != nil {
		return datatree.Meta{}, fmt.Errorf("pebblestore: %w", err)
	}
	defer closer.Close()
	return decodeMeta(b)
}

func (v *View) scan(p byte, f func(k, val []byte) error) error {
	lo := []byte{p}
	it, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: upper(lo)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if err := f(it.Key()[1:], it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

// Sessions calls f for every session, ids ascending.
func (v *View) Sessions(f func(id int64, timeout int32) error) error {
	return v.scan(pSession, func(k, val []byte) error {
		if len(k) != 8 || len(val) != 4 {
			return fmt.Errorf("pebblestore: bad session record")
		}
		return f(int64(binary.BigEndian.Uint64(k)), int32(binary.BigEndian.Uint32(val)))
	})
}

// ACLs calls f for every ACL list, ids ascending (byte order of the
// big-endian ids; ZooKeeper's ids are positive).
func (v *View) ACLs(f func(id int64, acl []wire.ACL) error) error {
	return v.scan(pACL, func(k, val []byte) error {
		e, err := decodeACLEntry(val)
		if err != nil || len(k) != 8 {
			return fmt.Errorf("pebblestore: bad ACL record")
		}
		return f(int64(binary.BigEndian.Uint64(k)), e.List)
	})
}

// Walk calls f for every node in depth-first pre-order, parents before
// children and siblings in byte order: the order of ZooKeeper's
// snapshots. It keeps one child-index iterator per level of the path
// being visited, so its memory grows with the depth of the tree, not with
// its size or the number of siblings. It fails when the child index and
// the node records disagree (or on a count differing from the meta key).
func (v *View) Walk(f func(path string, n *datatree.Node) error) error {
	nodes, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{pNode}, UpperBound: []byte{pNode + 1}})
	if err != nil {
		return fmt.Errorf("pebblestore: %w", err)
	}
	defer nodes.Close()
	var key []byte
	get := func(path string) (*datatree.Node, error) {
		key = nodeKey(key, path)
		// a leaf's next sibling is usually the next node key: step to
		// it rather than seek
		found := nodes.Valid() && nodes.Next() && bytes.Equal(nodes.Key(), key)
		if !found && (!nodes.SeekGE(key) || !bytes.Equal(nodes.Key(), key)) {
			if err := nodes.Error(); err != nil {
				return nil, fmt.Errorf("pebblestore: %w", err)
			}
			return nil, fmt.Errorf("pebblestore: the child index lists %s but it has no node record", path)
		}
		val, err := nodes.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("pebblestore: %w", err)
		}
		n, err := datatree.DecodeRecord(val)
		if err != nil {
			return nil, fmt.Errorf("pebblestore: node %s: %w", path, err)
		}
		return n, nil
	}
	type frame struct {
		path string // "/" for the root
		it   *pebble.Iterator
		skip int // length of the child-index prefix
	}
	var stack []frame
	defer func() {
		for _, fr := range stack {
			fr.it.Close()
		}
	}()
	count := int64(0)
	visit := func(path string) error {
		n, err := get(path)
		if err != nil {
			return err
		}
		count++
		if err := f(path, n); err != nil {
			return err
		}
		if n.NumChildren() == 0 {
			return nil
		}
		lo := childPrefix(path)
		it, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: upper(lo)})
		if err != nil {
			return fmt.Errorf("pebblestore: %w", err)
		}
		it.First()
		stack = append(stack, frame{path: path, it: it, skip: len(lo)})
		return nil
	}
	if err := visit("/"); err != nil {
		return err
	}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if !top.it.Valid() {
			err := top.it.Close()
			stack = stack[:len(stack)-1]
			if err != nil {
				return fmt.Errorf("pebblestore: %w", err)
			}
			continue
		}
		child := datatree.Join(top.path, string(top.it.Key()[top.skip:]))
		top.it.Next()
		if err := visit(child); err != nil {
			return err
		}
	}
	if v.meta.Count != 0 && count != v.meta.Count {
		return fmt.Errorf("pebblestore: walked %d nodes, the meta key counts %d", count, v.meta.Count)
	}
	return nil
}
