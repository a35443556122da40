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
// (or Add/Remove); the store keeps the node among its pending changes
// (node records by path, child index and owner changes, dropped subtrees)
// and in its decoded-node cache. The pending changes are authoritative over
// Pebble's committed state, so reads never go through a batch: Get looks
// in the cache, the pending changes, a small cache of paths found missing
// (a create looks its path up twice), then seeks a pooled iterator over
// the committed state with bloom filters on every level. datatree.Tree
// calls Commit after every txn: once the pending changes make about
// BatchBytes, or when forced (Tree.Sync), the store writes them in one
// batch with the meta key (the last applied zxid and the tree's counters),
// each touched node once however often the txns changed it.
//
// The ZooKeeper txn log is the write-ahead log of record: a txn is
// acknowledged once it is there, whatever Pebble holds. A crash loses a
// tail of the committed batches, never part of one, so what Pebble holds
// after a restart is the tree as of the zxid in its meta key, and the
// server replays the log after it. Without Pebble's WAL (Options
// DisableWAL, the server's default) a crash loses the memtables and Flush
// bounds that replay, so the server flushes often: small L0 files, each
// compacted over the levels below. With the WAL, batches go to it without
// an fsync and SyncWAL (one fsync, about once a second) bounds the replay,
// so memtables fill before they are flushed (at 1M znodes, set and create
// at 16 clients ran twice as fast; the full memtables cost RSS). Flush and
// SyncWAL report the zxid the txn log may be purged up to. Commit, Flush,
// SyncWAL, Checkpoint and Close are serialised by the store; a closed
// store refuses them.
//
// Deleting a node that still has children (only a log replayed over a
// fuzzy snapshot does) drops its subtree, as the memory store does: the
// commit writes range deletions for the subtree's records, child index
// and owner keys before the pending writes.
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
// decoded-node and missing-path caches have their own lock, the pooled
// iterators a channel.
package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	crerrors "github.com/cockroachdb/errors"
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
	// MemTableSize is Pebble's memtable size (default 32 MiB; Pebble
	// keeps up to two).
	MemTableSize int
	// DisableWAL runs Pebble without its WAL: a crash loses its memtables,
	// so only Flush makes batches durable (see the package comment).
	DisableWAL bool
	Logger     *zap.Logger
}

// Store is a datatree.Durable on Pebble.
type Store struct {
	db    *pebble.DB
	b     *pebble.Batch // open batch: sessions and ACLs
	opts  Options
	log   *zap.Logger
	meta  datatree.Meta // as of the last Commit call
	dirty bool          // meta changed since the batch was committed

	// Changes since the last committed batch, authoritative over Pebble's
	// committed state; the commit writes them. Only the writer changes
	// them (readers and the writer never run at once).
	pend      map[string]*datatree.Node  // path -> node (nil: deleted)
	kids      map[string]map[string]bool // parent -> name -> added/removed
	owners    map[string]int64           // path -> ephemeralOwner (0: deleted)
	gone      []string                   // nodes whose subtrees were dropped
	pendBytes int                        // about the size of the batch they make
	sorted    []string                   // commitBatch's buffers
	sorted2   []string

	shards    [cacheShards]cacheShard // decoded nodes, missing paths
	seed      maphash.Seed
	shardCap  int // decoded nodes per shard
	absentCap int // missing paths per shard

	iters chan *pointIter // idle point-read iterators
	gen   atomic.Uint64   // committed-state generation of the iterators
	reads atomic.Int64    // point reads of the committed state

	life    sync.Mutex // orders Commit, Flush, SyncWAL, Checkpoint and Close
	flushMu sync.Mutex // one Flush or SyncWAL at a time; Close waits for it
	closed  bool

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
	if o.MemTableSize <= 0 {
		o.MemTableSize = 32 << 20
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
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             o.Logger.WithOptions(zap.AddCallerSkip(1)).Sugar(),
		MemTableSize:       uint64(o.MemTableSize),
		DisableWAL:         o.DisableWAL,
	}
	// Pebble's default compaction settings: letting 16 L0 files gather
	// (and a 256 MiB Lbase) made writes on 1M znodes 30-50% faster but
	// writes on 10M slower and the peak RSS higher (528 vs 456 MiB):
	// bench/results/storage-pebble-01e25c7.md vs storage-pebble-defaults.md
	// bloom filters: a create first looks its path up, and misses
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(o.Dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebblestore: %w", err)
	}
	s := &Store{db: db, opts: o, log: o.Logger, iters: make(chan *pointIter, 8), seed: maphash.MakeSeed()}
	s.shardCap = max(1, o.NodeCacheEntries/cacheShards)
	s.absentCap = absentEntries / cacheShards
	for i := range s.shards {
		s.shards[i].nodes = map[string]*datatree.Node{}
		s.shards[i].absent = map[string]struct{}{}
	}
	s.b = db.NewBatch()
	s.resetPending()
	st, err := s.readMeta()
	if err != nil {
		db.Close()
		return nil, err
	}
	s.meta = st
	s.committedZxid, s.durableZxid = st.LastZxid, st.LastZxid
	return s, nil
}

// Close commits nothing further and closes Pebble (what was not committed
// is lost, as in a crash, and without the WAL so is what was not flushed;
// call Tree.Sync and Flush first to keep it).
func (s *Store) Close() error {
	s.flushMu.Lock() // no Flush is writing to Pebble
	defer s.flushMu.Unlock()
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.dropIters()
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

// DurableZxid is the last applied zxid on disk as of the last Flush or
// SyncWAL (or Open): the txn log up to it is not needed for recovery.
func (s *Store) DurableZxid() int64 {
	s.life.Lock()
	defer s.life.Unlock()
	return s.durableZxid
}

// Flush writes the committed batches to disk and returns the zxid they
// reach. It does not touch the open batch, so it may run concurrently
// with readers and the tree's writer.
func (s *Store) Flush() (int64, error) {
	// Pebble writes the memtable out while commits go on into a new one:
	// everything committed before this point is on disk after it
	return s.makeDurable("flush", s.db.Flush)
}

// SyncWAL makes every committed batch durable in Pebble's WAL (one fsync)
// and returns the zxid they reach. Unlike Flush it writes no memtable, so
// it adds no compaction work: Pebble flushes memtables when they fill.
// Like Flush it may run concurrently with readers and the tree's writer.
// Without the WAL (Options.DisableWAL) it is Flush.
func (s *Store) SyncWAL() (int64, error) {
	if s.opts.DisableWAL {
		return s.Flush()
	}
	// an empty WAL record written with Sync: everything committed before
	// it is on disk after it
	return s.makeDurable("sync WAL", func() error { return s.db.LogData(nil, pebble.Sync) })
}

// makeDurable runs write, which makes every batch committed before it
// durable, and advances the durable zxid to what they reach.
func (s *Store) makeDurable(what string, write func() error) (int64, error) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		return 0, ErrClosed
	}
	zxid := s.committedZxid
	s.life.Unlock()
	if err := write(); err != nil {
		return 0, fmt.Errorf("pebblestore: %s: %w", what, err)
	}
	s.dropIters()
	s.life.Lock()
	s.durableZxid = max(s.durableZxid, zxid)
	s.life.Unlock()
	return zxid, nil
}

// IsCorrupt reports whether err (from Open) is Pebble finding its files
// corrupt.
func IsCorrupt(err error) bool {
	// Pebble marks corruption with cockroachdb/errors, which the standard
	// errors.Is does not see through
	return err != nil && crerrors.Is(err, pebble.ErrCorruption)
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
	s.dropIters()
	s.durableZxid = max(s.durableZxid, zxid)
	return zxid, nil
}

// Checkpoint flushes and writes a consistent copy of the store to dir
// (hard links where possible). It returns the zxid the copy holds.
func (s *Store) Checkpoint(dir string) (int64, error) {
	// the bulk of the memtable first, without holding commits back; then,
	// with commits held, what came meanwhile, and the copy: its content is
	// exactly the state at the returned zxid
	if _, err := s.Flush(); err != nil {
		return 0, err
	}
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

// Reads is the number of point reads that went to Pebble (lookups the
// caches and the pending changes could not answer).
func (s *Store) Reads() int64 { return s.reads.Load() }

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

// Get returns the node at path (a canonical path, "/" for the root): from
// the decoded-node cache, else the pending changes, else Pebble.
func (s *Store) Get(path string) *datatree.Node {
	sh := s.shard(path)
	sh.mu.RLock()
	n := sh.nodes[path]
	_, no := sh.absent[path]
	sh.mu.RUnlock()
	if n != nil || no {
		return n
	}
	if n, ok := s.pend[path]; ok {
		if n != nil {
			s.cacheNode(path, n)
		}
		return n
	}
	if s.dropped(path, true) {
		return nil
	}
	var kb [64]byte
	n, err := s.read(nodeKey(kb[:0], path))
	if err != nil {
		s.log.Error("pebble store read failed", zap.String("path", path), zap.Error(err))
		return nil
	}
	if n == nil {
		s.noteAbsent(path)
		return nil
	}
	n.Bind(s, path)
	return s.cacheNode(path, n)
}

// absentEntries bounds the cache of missing paths.
const absentEntries = 4096

// noteAbsent remembers that path is missing from the committed state and
// the pending changes: a create looks its path up twice (the server's
// preparer, then the tree), and both miss. Adding a node forgets it, so an
// entry is never stale.
func (s *Store) noteAbsent(path string) {
	path = strings.Clone(path)
	sh := s.shard(path)
	sh.mu.Lock()
	evict(sh.absent, s.absentCap)
	sh.absent[path] = struct{}{}
	sh.mu.Unlock()
}

// The caches are sharded by path so that readers on different cores
// rarely share a lock.
const cacheShards = 16

type cacheShard struct {
	mu     sync.RWMutex
	nodes  map[string]*datatree.Node
	absent map[string]struct{} // paths found missing
	_      [24]byte            // one cache line each
}

func (s *Store) shard(path string) *cacheShard {
	return &s.shards[maphash.String(s.seed, path)%cacheShards]
}

// evict drops about an eighth of the entries of a full map (in map order,
// which is random).
func evict[V any](m map[string]V, limit int) {
	if len(m) < limit {
		return
	}
	drop := len(m)/8 + 1
	for k := range m {
		if drop == 0 {
			break
		}
		delete(m, k)
		drop--
	}
}

// pointIter is an idle iterator over the committed state for point reads.
type pointIter struct {
	it  *pebble.Iterator
	gen uint64
}

// read decodes the node record at key in the committed state (nil, nil
// when absent). It seeks a pooled iterator rather than calling Get: a Get
// builds an iterator stack per call and skips the bloom filters of the
// last level, where a create's existence check misses.
func (s *Store) read(key []byte) (*datatree.Node, error) {
	s.reads.Add(1)
	gen := s.gen.Load()
	var pi *pointIter
	select {
	case pi = <-s.iters:
		if pi.gen != gen {
			pi.it.Close()
			pi = nil
		}
	default:
	}
	if pi == nil {
		it, err := s.db.NewIter(&pebble.IterOptions{UseL6Filters: true})
		if err != nil {
			return nil, err
		}
		pi = &pointIter{it: it, gen: gen}
	}
	var n *datatree.Node
	var err error
	if pi.it.SeekPrefixGE(key) && bytes.Equal(pi.it.Key(), key) {
		var v []byte
		if v, err = pi.it.ValueAndErr(); err == nil {
			if n, err = datatree.DecodeRecord(v); err != nil {
				err = fmt.Errorf("%w (key %q)", err, key)
			}
		}
	} else {
		err = pi.it.Error()
	}
	if pi.gen != s.gen.Load() {
		pi.it.Close()
		return n, err
	}
	select {
	case s.iters <- pi:
	default:
		pi.it.Close()
	}
	return n, err
}

// dropIters closes the idle point-read iterators: after a commit they no
// longer see the committed state, after a flush they pin its memtable.
func (s *Store) dropIters() {
	s.gen.Add(1)
	for {
		select {
		case pi := <-s.iters:
			pi.it.Close()
		default:
			return
		}
	}
}

// cacheNode makes n the cached node at path unless another reader cached
// one first, and returns the cached node.
func (s *Store) cacheNode(path string, n *datatree.Node) *datatree.Node {
	sh := s.shard(path)
	sh.mu.Lock()
	if c := sh.nodes[path]; c != nil {
		n = c
	} else {
		s.cacheLocked(sh, path, n)
	}
	sh.mu.Unlock()
	return n
}

// cacheLocked inserts n into its shard (locked), evicting when the shard
// is full. Evicting a pending node loses nothing: s.pend holds it until
// the batch is committed.
func (s *Store) cacheLocked(sh *cacheShard, path string, n *datatree.Node) {
	evict(sh.nodes, s.shardCap)
	sh.nodes[path] = n
}

// dropped reports whether path lies in a subtree dropped since the last
// commit: strictly below a dropped node (strict), or below or at one
// (its committed children are gone too).
func (s *Store) dropped(path string, strict bool) bool {
	for _, g := range s.gone {
		if len(path) > len(g) && path[len(g)] == '/' && path[:len(g)] == g || !strict && path == g {
			return true
		}
	}
	return false
}

// AppendChildNames appends the children of path in byte order: one prefix
// scan of the committed child index merged with the pending changes.
func (s *Store) AppendChildNames(path string, dst []string) []string {
	kids := s.kids[path]
	var adds []string
	for name, add := range kids {
		if add {
			adds = append(adds, name)
		}
	}
	sort.Strings(adds)
	if !s.dropped(path, false) {
		lo := childPrefix(path)
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: upper(lo)})
		if err != nil {
			s.log.Error("pebble store scan failed", zap.String("path", path), zap.Error(err))
			return dst
		}
		for ok := it.First(); ok; ok = it.Next() {
			name := it.Key()[len(lo):]
			if kids != nil {
				if _, ok := kids[string(name)]; ok {
					continue // removed, or added again (in adds)
				}
			}
			for len(adds) > 0 && adds[0] < string(name) {
				dst, adds = append(dst, adds[0]), adds[1:]
			}
			dst = append(dst, string(name))
		}
		if err := it.Close(); err != nil {
			s.log.Error("pebble store scan failed", zap.String("path", path), zap.Error(err))
		}
	}
	return append(dst, adds...)
}

// Update records that n (at path) changed: it is pending until the next
// commit writes it, and cached.
func (s *Store) Update(path string, n *datatree.Node) {
	n.Bind(s, path)
	if old, ok := s.pend[path]; !ok || old == nil {
		s.pendBytes += 1 + len(path) + recordBytes + len(n.Data)
	}
	s.pend[path] = n
	sh := s.shard(path)
	sh.mu.RLock()
	c := sh.nodes[path]
	_, no := sh.absent[path]
	sh.mu.RUnlock()
	if c != n || no {
		sh.mu.Lock()
		delete(sh.absent, path)
		s.cacheLocked(sh, path, n)
		sh.mu.Unlock()
	}
}

// recordBytes is about the size of a record without its data.
const recordBytes = 74

// child records that parent gained (add) or lost child name. parent and
// name share the storage of path (Join(parent, name)), which must not pin
// a request.
func (s *Store) child(path string, parentLen, nameLen int, add bool) {
	parent, name := path[:parentLen], path[len(path)-nameLen:]
	m := s.kids[parent]
	if m == nil {
		m = map[string]bool{}
		s.kids[parent] = m
	}
	m[name] = add
	s.pendBytes += 2 + len(path)
}

// Add records the new node, its child index entry and its owner.
func (s *Store) Add(parentPath string, _ *datatree.Node, name, path string, n *datatree.Node) {
	path = strings.Clone(path) // the node must not pin the request
	s.Update(path, n)
	s.child(path, len(parentPath), len(name), true)
	if n.EphemeralOwner != 0 {
		s.owners[path] = n.EphemeralOwner
	}
}

// Remove deletes the node, its child index entry and its owner. A node
// with children (a log replayed over a fuzzy snapshot can delete one) goes
// with its whole subtree, as in the memory store.
func (s *Store) Remove(parentPath string, _ *datatree.Node, name, path string, n *datatree.Node) {
	path = strings.Clone(path)
	if n.NumChildren() > 0 {
		s.drop(path)
	}
	s.pend[path] = nil
	s.pendBytes += 1 + len(path)
	s.child(path, len(parentPath), len(name), false)
	if n.EphemeralOwner != 0 {
		s.owners[path] = 0
	}
	sh := s.shard(path)
	sh.mu.Lock()
	delete(sh.nodes, path)
	sh.mu.Unlock()
}

// drop removes every node below path: the commit deletes their keys with
// range deletions (before the pending writes), and nothing pending or
// cached below path survives.
func (s *Store) drop(path string) {
	below := func(p string) bool { return len(p) > len(path) && p[len(path)] == '/' && p[:len(path)] == path }
	for p := range s.pend {
		if below(p) {
			delete(s.pend, p)
		}
	}
	for p := range s.kids {
		if p == path || below(p) {
			delete(s.kids, p)
		}
	}
	for p := range s.owners {
		if below(p) {
			delete(s.owners, p)
		}
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for p := range sh.nodes {
			if below(p) {
				delete(sh.nodes, p)
			}
		}
		sh.mu.Unlock()
	}
	if !s.dropped(path, false) {
		s.gone = append(s.gone, path)
		s.pendBytes += 8 * len(path)
	}
}

// SetRoot writes the root.
func (s *Store) SetRoot(n *datatree.Node) { s.Update("/", n) }

// Each visits every node, in no particular order.
func (s *Store) Each(f func(path string, n *datatree.Node)) {
	lo := []byte{pNode}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: upper(lo)})
	if err != nil {
		s.log.Error("pebble store scan failed", zap.Error(err))
		return
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		path := string(it.Key()[1:])
		if _, ok := s.pend[path]; ok || s.dropped(path, true) {
			continue // pending: visited below
		}
		if n := s.Get(path); n != nil {
			f(path, n)
		}
	}
	for path, n := range s.pend {
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
	if !force && s.pendBytes+s.b.Len() < s.opts.BatchBytes {
		return s.err
	}
	return s.commitBatch()
}

// commitBatch writes the pending changes (subtree range deletions first,
// so later writes below a dropped node survive them) and the meta key in
// one batch.
func (s *Store) commitBatch() error {
	if s.err != nil {
		return s.err
	}
	if !s.dirty && s.b.Empty() && s.pendBytes == 0 {
		return nil
	}
	b := s.b
	for _, g := range s.gone {
		for _, p := range []byte{pNode, pChild, pOwner} {
			lo := append(append([]byte{p}, g...), '/')
			s.fail(b.DeleteRange(lo, upper(lo), nil))
		}
		lo := childPrefix(g)
		s.fail(b.DeleteRange(lo, upper(lo), nil))
	}
	// keys in ascending order (child index, meta, nodes, owners): the
	// memtable inserts them at the end of the previous one's splice
	for _, parent := range sortedKeys(s.kids, &s.sorted) {
		m := s.kids[parent]
		for _, name := range sortedKeys(m, &s.sorted2) {
			s.key = childKey(s.key, parent, name)
			if m[name] {
				s.fail(b.Set(s.key, nil, nil))
			} else {
				s.fail(b.Delete(s.key, nil))
			}
		}
	}
	s.fail(b.Set([]byte{pMeta}, encodeMeta(s.meta), nil))
	for _, path := range sortedKeys(s.pend, &s.sorted) {
		s.key = nodeKey(s.key, path)
		n := s.pend[path]
		if n == nil {
			s.fail(b.Delete(s.key, nil))
			continue
		}
		s.val = datatree.AppendRecord(s.val[:0], n)
		s.fail(b.Set(s.key, s.val, nil))
	}
	for _, path := range sortedKeys(s.owners, &s.sorted) {
		s.key = append(append(s.key[:0], pOwner), path...)
		owner := s.owners[path]
		if owner == 0 {
			s.fail(b.Delete(s.key, nil))
			continue
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(owner))
		s.fail(b.Set(s.key, v[:], nil))
	}
	clear(s.sorted)
	clear(s.sorted2)
	s.fail(b.Commit(pebble.NoSync))
	if s.err != nil {
		// the pending changes stay authoritative for readers; the
		// store writes nothing more
		return s.err
	}
	b.Close()
	s.dropIters()
	s.b = s.db.NewBatch()
	s.resetPending()
	s.committedZxid, s.dirty = s.meta.LastZxid, false
	return nil
}

// sortedKeys returns the keys of m in ascending order, in (*buf)[:0].
func sortedKeys[V any](m map[string]V, buf *[]string) []string {
	keys := (*buf)[:0]
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	*buf = keys
	return keys
}

// resetPending empties the pending changes (reusing the maps unless a
// large batch grew them).
func (s *Store) resetPending() {
	if len(s.pend) > 1<<16 || s.pend == nil {
		s.pend = map[string]*datatree.Node{}
	} else {
		clear(s.pend)
	}
	if len(s.kids) > 1<<12 || s.kids == nil {
		s.kids = map[string]map[string]bool{}
	} else {
		clear(s.kids)
	}
	if len(s.owners) > 1<<12 || s.owners == nil {
		s.owners = map[string]int64{}
	} else {
		clear(s.owners)
	}
	s.gone, s.pendBytes = s.gone[:0], 0
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
