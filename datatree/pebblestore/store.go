// Package pebblestore keeps a datatree on disk in Pebble (v2), with a
// bounded block cache and a small cache of decoded nodes, so a tree can be
// larger than memory and a restart reads a few keys instead of a snapshot.
//
// # Keys
//
//	"n" path                    node record (datatree.AppendRecord): Stat
//	                            fields, ACL id, child count, data
//	"c" parent 0x00 name        child index entry (empty value); the
//	                            children of a node are one prefix scan,
//	                            in byte order; 0x00 cannot occur in a path
//	"o" path                    ephemeralOwner (8 bytes) of ephemerals,
//	                            containers and TTL nodes
//	"s" id                      session timeout (id big-endian, 4 bytes)
//	"a" id                      ACL list: refs (8 bytes) + wire ACL vector
//	"m"                         meta: last applied zxid, node count, data
//	                            size, digest, loading flag
//
// A node's child count and stored cversion live in its own record, so
// neither needs a scan, and creating a child writes the parent's record,
// the child's record and one index key whatever the number of siblings.
//
// # Writes
//
// The tree mutates the node it got from Get in place and then calls Update
// (or Add/Remove); the store encodes the node into one open indexed batch
// right away (write-through per touched node) and keeps the node in its
// decoded-node cache. Reads go through the batch, so they see everything
// applied. datatree.Tree calls Commit after every txn: the store commits
// the batch (with the meta key: the last applied zxid and the tree's
// counters) once it holds BatchBytes, or when forced (Tree.Sync). Pebble's
// WAL is disabled: the ZooKeeper txn log is the write-ahead log. A crash
// loses the memtables, never part of a batch, so what Pebble holds after a
// restart is the tree as of the zxid in its meta key, and the server
// replays the log after it. Flush makes every committed batch durable and
// reports the zxid the log may be purged up to. Commit, Flush, Checkpoint
// and Close are serialised by the store; a closed store refuses them.
//
// # Views
//
// View opens a Pebble snapshot of the committed state (call Tree.Sync
// first, holding the tree, to include everything applied): a consistent
// tree at the zxid of its meta key, walked in ZooKeeper's snapshot order
// (depth first, siblings in byte order) from the child index, one
// iterator per level. It implements snapshot.Source: ZooKeeper-format
// snapshots and SNAP bodies are streamed from it (snapshot.WriteFrom,
// WriteStreamFrom), exact and byte-identical to a memory tree's, while the
// writer goes on. The live tree cannot be walked for that (snapshot.Write
// refuses it): its nodes are evicted and decoded again.
//
// # Concurrency
//
// As the tree: many readers (Get, AppendChildNames) or one writer. The
// decoded-node cache has its own lock.
package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// Options configure Open.
type Options struct {
	// Dir holds the Pebble files (<dataDir>/pebble).
	Dir string
	// CacheSize is the block cache size in bytes (default 256 MiB).
	CacheSize int64
	// NodeCacheEntries bounds the decoded-node cache (default 65536).
	NodeCacheEntries int
	// BatchBytes is the size at which a pending batch is committed
	// (default 4 MiB).
	BatchBytes int
	Logger     *zap.Logger
}

// Store is a datatree.Durable on Pebble.
type Store struct {
	db    *pebble.DB
	b     *pebble.Batch // open indexed batch
	opts  Options
	log   *zap.Logger
	meta  datatree.Meta // as of the last Commit call
	dirty bool          // meta changed since the batch was committed

	mu    sync.Mutex // guards cache
	cache map[string]*datatree.Node

	life   sync.Mutex // orders Commit, Flush, Checkpoint and Close
	closed bool

	committedZxid int64 // zxid of the last committed batch
	durableZxid   int64 // zxid made durable by the last Flush
	err           error // first write error (sticky)
	key           []byte
	val           []byte
}

var _ datatree.Durable = (*Store)(nil)

// Open opens (or creates) the store in o.Dir.
func Open(o Options) (*Store, error) {
	if o.CacheSize <= 0 {
		o.CacheSize = 256 << 20
	}
	if o.NodeCacheEntries <= 0 {
		o.NodeCacheEntries = 65536
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 4 << 20
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	cache := pebble.NewCache(o.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:              cache,
		DisableWAL:         true,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             o.Logger.WithOptions(zap.AddCallerSkip(1)).Sugar(),
	}
	// bloom filters: a create first looks its path up, and misses
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(o.Dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	s := &Store{db: db, opts: o, log: o.Logger, cache: map[string]*datatree.Node{}}
	s.b = db.NewIndexedBatch()
	st, err := s.readMeta()
	if err != nil {
		db.Close()
		return nil, err
	}
	s.meta = st
	s.committedZxid, s.durableZxid = st.LastZxid, st.LastZxid
	return s, nil
}

// Close commits nothing further and closes Pebble (what was not flushed is
// lost, as in a crash; call Tree.Sync and Flush first to keep it).
func (s *Store) Close() error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.b != nil {
		s.b.Close()
		s.b = nil
	}
	return s.db.Close()
}

// Err is the first write error the store met (its batches stop there; the
// txn log still has every txn).
func (s *Store) Err() error { return s.err }

// CommittedZxid is the last applied zxid in Pebble's committed state.
func (s *Store) CommittedZxid() int64 {
	s.life.Lock()
	defer s.life.Unlock()
	return s.committedZxid
}

// DurableZxid is the last applied zxid on disk as of the last Flush (or
// Open): the txn log up to it is not needed for recovery.
func (s *Store) DurableZxid() int64 {
	s.life.Lock()
	defer s.life.Unlock()
	return s.durableZxid
}

// Flush writes the committed batches to disk and returns the zxid they
// reach. It does not touch the open batch, so it may run concurrently
// with readers and the tree's writer.
func (s *Store) Flush() (int64, error) {
	s.life.Lock()
	defer s.life.Unlock()
	return s.flushLocked()
}

// ErrClosed is returned by a closed store.
var ErrClosed = errors.New("pebblestore: closed")

func (s *Store) flushLocked() (int64, error) {
	if s.closed {
		return 0, ErrClosed
	}
	zxid := s.committedZxid
	if err := s.db.Flush(); err != nil {
		return 0, fmt.Errorf("pebblestore: flush: %w", err)
	}
	s.durableZxid = zxid
	return zxid, nil
}

// Checkpoint flushes and writes a consistent copy of the store to dir
// (hard links where possible). It returns the zxid the copy holds.
func (s *Store) Checkpoint(dir string) (int64, error) {
	s.life.Lock()
	defer s.life.Unlock()
	zxid, err := s.flushLocked()
	if err != nil {
		return 0, err
	}
	if err := s.db.Checkpoint(dir); err != nil {
		return 0, fmt.Errorf("pebblestore: checkpoint: %w", err)
	}
	return zxid, nil
}

// Metrics returns Pebble's metrics.
func (s *Store) Metrics() *pebble.Metrics { return s.db.Metrics() }

// Keys.
const (
	pNode    = 'n'
	pChild   = 'c'
	pOwner   = 'o'
	pSession = 's'
	pACL     = 'a'
	pMeta    = 'm'
)

func nodeKey(dst []byte, path string) []byte {
	return append(append(dst[:0], pNode), path...)
}

func childKey(dst []byte, parent, name string) []byte {
	dst = append(append(dst[:0], pChild), parent...)
	return append(append(dst, 0), name...)
}

func childPrefix(parent string) []byte {
	return append(append([]byte{pChild}, parent...), 0)
}

func idKey(prefix byte, id int64) []byte {
	var k [9]byte
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], uint64(id))
	return k[:]
}

// upper returns the smallest key above every key with prefix p.
func upper(p []byte) []byte {
	u := append([]byte{}, p...)
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] < 0xff {
			u[i]++
			return u[:i+1]
		}
	}
	return nil
}

func (s *Store) fail(err error) {
	if err != nil && s.err == nil {
		s.err = err
		s.log.Error("pebble store write failed; the txn log keeps what follows", zap.Error(err))
	}
}

// Get returns the node at path (a canonical path, "/" for the root).
func (s *Store) Get(path string) *datatree.Node {
	s.mu.Lock()
	n := s.cache[path]
	s.mu.Unlock()
	if n != nil {
		return n
	}
	v, closer, err := s.b.Get(nodeKey(make([]byte, 0, len(path)+1), path))
	if err != nil {
		if !errors.Is(err, pebble.ErrNotFound) {
			s.log.Error("pebble store read failed", zap.String("path", path), zap.Error(err))
		}
		return nil
	}
	n, err = datatree.DecodeRecord(v)
	closer.Close()
	if err != nil {
		s.log.Error("bad node record", zap.String("path", path), zap.Error(err))
		return nil
	}
	n.Bind(s, path)
	s.mu.Lock()
	if c := s.cache[path]; c != nil {
		n = c // another reader decoded it first
	} else {
		s.cacheLocked(path, n)
	}
	s.mu.Unlock()
	return n
}

// cacheLocked inserts n, evicting about an eighth of the entries (in map
// order, which is random) when the cache is full.
func (s *Store) cacheLocked(path string, n *datatree.Node) {
	if len(s.cache) >= s.opts.NodeCacheEntries {
		drop := len(s.cache) / 8
		for k := range s.cache {
			if drop == 0 {
				break
			}
			delete(s.cache, k)
			drop--
		}
	}
	s.cache[path] = n
}

// AppendChildNames appends the children of path in byte order: one prefix
// scan of the child index.
func (s *Store) AppendChildNames(path string, dst []string) []string {
	lo := childPrefix(path)
	it, err := s.b.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: upper(lo)})
	if err != nil {
		s.log.Error("pebble store scan failed", zap.String("path", path), zap.Error(err))
		return dst
	}
	for ok := it.First(); ok; ok = it.Next() {
		dst = append(dst, string(it.Key()[len(lo):]))
	}
	if err := it.Close(); err != nil {
		s.log.Error("pebble store scan failed", zap.String("path", path), zap.Error(err))
	}
	return dst
}

func (s *Store) putNode(path string, n *datatree.Node) {
	s.key = nodeKey(s.key, path)
	s.val = datatree.AppendRecord(s.val[:0], n)
	s.fail(s.b.Set(s.key, s.val, nil))
}

// Update writes n through to the batch and makes it the cached node.
func (s *Store) Update(path string, n *datatree.Node) {
	s.putNode(path, n)
	n.Bind(s, path)
	s.mu.Lock()
	if s.cache[path] != n {
		s.cacheLocked(path, n)
	}
	s.mu.Unlock()
}

// Add writes the new node, its child index entry and its owner.
func (s *Store) Add(parentPath string, _ *datatree.Node, name, path string, n *datatree.Node) {
	path = string([]byte(path)) // the node must not pin the request
	s.Update(path, n)
	s.key = childKey(s.key, parentPath, name)
	s.fail(s.b.Set(s.key, nil, nil))
	if n.EphemeralOwner != 0 {
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(n.EphemeralOwner))
		s.key = append(append(s.key[:0], pOwner), path...)
		s.fail(s.b.Set(s.key, v[:], nil))
	}
}

// Remove deletes the node, its child index entry and its owner.
func (s *Store) Remove(parentPath string, _ *datatree.Node, name, path string, n *datatree.Node) {
	s.fail(s.b.Delete(nodeKey(s.key, path), nil))
	s.fail(s.b.Delete(childKey(s.key, parentPath, name), nil))
	if n.EphemeralOwner != 0 {
		s.key = append(append(s.key[:0], pOwner), path...)
		s.fail(s.b.Delete(s.key, nil))
	}
	s.mu.Lock()
	delete(s.cache, path)
	s.mu.Unlock()
}

// SetRoot writes the root.
func (s *Store) SetRoot(n *datatree.Node) { s.Update("/", n) }

// Each visits every node in path order.
func (s *Store) Each(f func(path string, n *datatree.Node)) {
	lo := []byte{pNode}
	it, err := s.b.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: upper(lo)})
	if err != nil {
		s.log.Error("pebble store scan failed", zap.Error(err))
		return
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		path := string(it.Key()[1:])
		n := s.Get(path)
		if n != nil {
			f(path, n)
		}
	}
}

// PutSession records a session.
func (s *Store) PutSession(id int64, timeout int32) {
	var v [4]byte
	binary.BigEndian.PutUint32(v[:], uint32(timeout))
	s.fail(s.b.Set(idKey(pSession, id), v[:], nil))
}

// DeleteSession forgets a session.
func (s *Store) DeleteSession(id int64) { s.fail(s.b.Delete(idKey(pSession, id), nil)) }

// PutACL records ACL list id and its reference count.
func (s *Store) PutACL(id int64, acl []wire.ACL, refs int64) {
	e := wire.Encoder{}
	e.Long(refs)
	wire.EncodeACLs(&e, acl)
	s.fail(s.b.Set(idKey(pACL, id), e.B, nil))
}

// DeleteACL forgets ACL list id.
func (s *Store) DeleteACL(id int64) { s.fail(s.b.Delete(idKey(pACL, id), nil)) }

// Commit records m; the batch is committed when forced or large.
func (s *Store) Commit(m datatree.Meta, force bool) error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.meta, s.dirty = m, true
	if !force && s.b.Len() < s.opts.BatchBytes {
		return s.err
	}
	return s.commitBatch()
}

func (s *Store) commitBatch() error {
	if s.err != nil {
		return s.err
	}
	if !s.dirty && s.b.Empty() {
		return nil
	}
	s.fail(s.b.Set([]byte{pMeta}, encodeMeta(s.meta), nil))
	s.fail(s.b.Commit(pebble.NoSync))
	if s.err != nil {
		return s.err
	}
	s.b.Close()
	s.b = s.db.NewIndexedBatch()
	s.committedZxid, s.dirty = s.meta.LastZxid, false
	return nil
}

const metaLen = 4*8 + 1

func encodeMeta(m datatree.Meta) []byte {
	b := make([]byte, metaLen)
	binary.BigEndian.PutUint64(b[0:], uint64(m.LastZxid))
	binary.BigEndian.PutUint64(b[8:], uint64(m.Count))
	binary.BigEndian.PutUint64(b[16:], uint64(m.DataSize))
	binary.BigEndian.PutUint64(b[24:], m.Digest)
	if m.Loading {
		b[32] = 1
	}
	return b
}

// ErrBadMeta is returned for a meta key that cannot be decoded.
var ErrBadMeta = errors.New("pebblestore: bad meta record")

func decodeMeta(b []byte) (datatree.Meta, error) {
	if len(b) != metaLen || b[32] > 1 {
		return datatree.Meta{}, ErrBadMeta
	}
	m := datatree.Meta{
		LastZxid: int64(binary.BigEndian.Uint64(b[0:])),
		Count:    int64(binary.BigEndian.Uint64(b[8:])),
		DataSize: int64(binary.BigEndian.Uint64(b[16:])),
		Digest:   binary.BigEndian.Uint64(b[24:]),
		Loading:  b[32] == 1,
	}
	if m.Count < 0 {
		return datatree.Meta{}, ErrBadMeta
	}
	return m, nil
}

func (s *Store) readMeta() (datatree.Meta, error) {
	v, closer, err := s.db.Get([]byte{pMeta})
	if errors.Is(err, pebble.ErrNotFound) {
		return datatree.Meta{}, nil
	}
	if err != nil {
		return datatree.Meta{}, fmt.Errorf("pebblestore: %w", err)
	}
	defer closer.Close()
	return decodeMeta(v)
}

// decodeACLEntry decodes an "a" value: refs and the list.
func decodeACLEntry(v []byte) (datatree.ACLEntry, error) {
	d := wire.NewDecoder(v)
	refs := d.Long()
	l := wire.DecodeACLs(d)
	if d.Err() != nil || d.Remaining() != 0 || l == nil {
		return datatree.ACLEntry{}, fmt.Errorf("pebblestore: bad ACL record")
	}
	return datatree.ACLEntry{List: l, Refs: refs}, nil
}

// Load reads the committed state besides the nodes: meta, sessions, ACL
// cache and owned nodes (a few prefix scans, independent of tree size).
func (s *Store) Load() (*datatree.State, error) {
	m, err := s.readMeta()
	if err != nil {
		return nil, err
	}
	st := &datatree.State{Meta: m, Sessions: map[int64]int32{}, ACLs: map[int64]datatree.ACLEntry{}, Owned: map[string]int64{}}
	scan := func(p byte, f func(k, v []byte) error) error {
		lo := []byte{p}
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: upper(lo)})
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
	err = scan(pSession, func(k, v []byte) error {
		if len(k) != 8 || len(v) != 4 {
			return fmt.Errorf("pebblestore: bad session record")
		}
		st.Sessions[int64(binary.BigEndian.Uint64(k))] = int32(binary.BigEndian.Uint32(v))
		return nil
	})
	if err == nil {
		err = scan(pACL, func(k, v []byte) error {
			e, err := decodeACLEntry(v)
			if err != nil || len(k) != 8 {
				return fmt.Errorf("pebblestore: bad ACL record")
			}
			st.ACLs[int64(binary.BigEndian.Uint64(k))] = e
			return nil
		})
	}
	if err == nil {
		err = scan(pOwner, func(k, v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("pebblestore: bad owner record")
			}
			st.Owned[string(k)] = int64(binary.BigEndian.Uint64(v))
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}
