package datatree

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/zkserver/zkserver/wire"
)

// Store keeps the nodes of a Tree by path. The Tree owns the ZooKeeper
// rules (Stat fields, child counts and cversion in the parent's record,
// digest, indexes); a store only finds, links, unlinks and records nodes.
//
// Nodes are mutated in place by the tree: every change to a node handed
// out by Get is followed by Update (or Add/Remove) before the tree calls
// the store again, so a store that keeps its nodes elsewhere (on disk)
// writes them through there, and one that keeps live nodes (the memory
// store) does nothing.
//
// A store is used as the tree is: many readers (Get, AppendChildNames) or
// one writer at a time.
type Store interface {
	ChildLister
	// Add links the new node n (no children) as child name of parent,
	// which is at parentPath; path is Join(parentPath, name). The parent's
	// record (its child count among others) has already been updated.
	Add(parentPath string, parent *Node, name, path string, n *Node)
	// Remove unlinks the childless node n at path from parent (at
	// parentPath), whose record has already been updated.
	Remove(parentPath string, parent *Node, name, path string, n *Node)
	// Update records that the fields of n (at path) changed.
	Update(path string, n *Node)
	// SetRoot installs the root node (new or loading trees).
	SetRoot(n *Node)
	// Each visits every node in no particular order.
	Each(f func(path string, n *Node))
}

// Durable is a Store that keeps the whole tree state (not only the nodes)
// and outlives the process. The tree tells it about the session table and
// the ACL cache as they change, and calls Commit after every applied txn
// and every loaded node.
type Durable interface {
	Store
	PutSession(id int64, timeout int32)
	DeleteSession(id int64)
	// PutACL stores ACL list id with its reference count; DeleteACL
	// forgets it.
	PutACL(id int64, acl []wire.ACL, refs int64)
	DeleteACL(id int64)
	// Commit ends a unit of changes with the tree's counters: the store
	// makes it part of its next atomic write (now when force is set, or
	// when its pending batch is large enough). Loading marks a tree
	// being built from a snapshot, not yet usable.
	Commit(m Meta, force bool) error
	// Load returns the state recorded by the last Commit (Count == 0 for
	// a store that never committed).
	Load() (*State, error)
}

// Meta is the tree's bookkeeping a Durable store records with each batch.
type Meta struct {
	LastZxid int64
	Count    int64
	DataSize int64
	Digest   uint64
	Loading  bool
}

// ACLEntry is one ACL cache entry as a Durable store keeps it.
type ACLEntry struct {
	List []wire.ACL
	Refs int64
}

// State is what a Durable store holds besides its nodes.
type State struct {
	Meta
	Sessions map[int64]int32
	ACLs     map[int64]ACLEntry
	// Owned lists every node with a non-zero ephemeralOwner (sessions'
	// ephemerals, containers, TTL nodes) with that owner.
	Owned map[string]int64
}

// memStore is the in-memory store: every node holds its children by name,
// and lookup walks the path from the root.
type memStore struct {
	root *Node
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() Store { return &memStore{} }

func (m *memStore) Get(path string) *Node {
	if path == "/" || path == "" {
		return m.root
	}
	if path[0] != '/' {
		return nil
	}
	n := m.root
	for rest := path[1:]; n != nil; {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return n.children[rest]
		}
		n = n.children[rest[:i]]
		rest = rest[i+1:]
	}
	return nil
}

func (m *memStore) AppendChildNames(path string, dst []string) []string {
	if n := m.Get(path); n != nil {
		return n.AppendChildNames(dst)
	}
	return dst
}

// Add copies the name so the node does not pin the request's path.
func (m *memStore) Add(_ string, p *Node, name, _ string, n *Node) {
	if p.children == nil {
		p.children = map[string]*Node{}
	}
	p.children[strings.Clone(name)] = n
}

func (m *memStore) Remove(_ string, p *Node, name, _ string, _ *Node) {
	delete(p.children, name)
	if len(p.children) == 0 {
		p.children = nil
	}
}

func (m *memStore) Update(string, *Node) {}

func (m *memStore) SetRoot(n *Node) { m.root = n }

func (m *memStore) Each(f func(path string, n *Node)) {
	if m.root == nil {
		return
	}
	var walk func(p string, n *Node)
	walk = func(p string, n *Node) {
		f(p, n)
		for c, cn := range n.children {
			walk(Join(p, c), cn)
		}
	}
	walk("/", m.root)
}

// Node records: how a store other than the memory one keeps a node.
//
//	byte    format (1)
//	byte    flags (1: data is null)
//	int64   ACL id, czxid, mzxid, pzxid, ctime, mtime
//	int32   version, cversion (stored), aversion
//	int64   ephemeralOwner
//	int32   number of children
//	...     data (the rest)
const (
	recordFormat = 1
	recordFixed  = 2 + 6*8 + 3*4 + 8 + 4
)

// ErrBadRecord is returned for a node record that cannot be decoded.
var ErrBadRecord = errors.New("datatree: bad node record")

// AppendRecord appends the record of n to dst.
func AppendRecord(dst []byte, n *Node) []byte {
	var b [recordFixed]byte
	b[0] = recordFormat
	if n.Data == nil {
		b[1] = 1
	}
	be := binary.BigEndian
	be.PutUint64(b[2:], uint64(n.ACL))
	be.PutUint64(b[10:], uint64(n.Czxid))
	be.PutUint64(b[18:], uint64(n.Mzxid))
	be.PutUint64(b[26:], uint64(n.Pzxid))
	be.PutUint64(b[34:], uint64(n.Ctime))
	be.PutUint64(b[42:], uint64(n.Mtime))
	be.PutUint32(b[50:], uint32(n.Version))
	be.PutUint32(b[54:], uint32(n.Cversion))
	be.PutUint32(b[58:], uint32(n.Aversion))
	be.PutUint64(b[62:], uint64(n.EphemeralOwner))
	be.PutUint32(b[70:], uint32(n.numChildren))
	dst = append(dst, b[:]...)
	return append(dst, n.Data...)
}

// DecodeRecord decodes a record written by AppendRecord into a new node;
// the node's data is a copy.
func DecodeRecord(b []byte) (*Node, error) {
	if len(b) < recordFixed || b[0] != recordFormat || b[1] > 1 {
		return nil, ErrBadRecord
	}
	be := binary.BigEndian
	n := &Node{
		ACL:            int64(be.Uint64(b[2:])),
		Czxid:          int64(be.Uint64(b[10:])),
		Mzxid:          int64(be.Uint64(b[18:])),
		Pzxid:          int64(be.Uint64(b[26:])),
		Ctime:          int64(be.Uint64(b[34:])),
		Mtime:          int64(be.Uint64(b[42:])),
		Version:        int32(be.Uint32(b[50:])),
		Cversion:       int32(be.Uint32(b[54:])),
		Aversion:       int32(be.Uint32(b[58:])),
		EphemeralOwner: int64(be.Uint64(b[62:])),
		numChildren:    int32(be.Uint32(b[70:])),
	}
	if n.numChildren < 0 {
		return nil, ErrBadRecord
	}
	if b[1] == 1 {
		if len(b) > recordFixed {
			return nil, ErrBadRecord
		}
	} else {
		n.Data = append([]byte{}, b[recordFixed:]...)
	}
	return n, nil
}
