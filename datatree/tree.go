// Package datatree holds the dataNode tree: znodes with ZooKeeper's Stat
// rules, the ACL cache, ephemeral/container/TTL indexes and the session
// table that snapshots carry. Apply is deterministic: the same txns in the
// same order give the same tree. The tree is not safe for concurrent use;
// the server guards it (many readers, one applier).
package datatree

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/zkserver/zkserver/wire"
)

// Node is one znode. Cversion is the stored counter (child creates only);
// clients see 2*Cversion - numChildren.
type Node struct {
	Data           []byte
	ACL            int64
	Czxid          int64
	Mzxid          int64
	Pzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	numChildren    int32 // kept by the tree in the parent's record
	EphemeralOwner int64
	children       map[string]*Node // by name (memory store)
	ref            *nodeRef         // where the children are (other stores)
}

// nodeRef ties a node handed out by a store other than the memory store to
// its path, so the node can list its children through the store.
type nodeRef struct {
	l    ChildLister
	path string
}

// ChildLister is what a node handed out by a Store (other than the memory
// store) lists its children through.
type ChildLister interface {
	// Get returns the node at path, or nil.
	Get(path string) *Node
	// AppendChildNames appends the names of the children of the node at
	// path to dst.
	AppendChildNames(path string, dst []string) []string
}

// Bind makes n list its children through l as the node at path. Stores
// call it on every node they decode; nodes of the memory store hold their
// children themselves.
func (n *Node) Bind(l ChildLister, path string) {
	if n.ref == nil || n.ref.l != l || n.ref.path != path {
		n.ref = &nodeRef{l: l, path: path}
	}
}

// NumChildren is the current number of children.
func (n *Node) NumChildren() int { return int(n.numChildren) }

// Children returns the child names, sorted.
func (n *Node) Children() []string {
	out := n.AppendChildNames(make([]string, 0, n.numChildren))
	sort.Strings(out)
	return out
}

// Child returns the child called name, or nil.
func (n *Node) Child(name string) *Node {
	if n.ref != nil {
		return n.ref.l.Get(Join(n.ref.path, name))
	}
	return n.children[name]
}

// AppendChildNames appends the child names to dst in no particular order
// (cheaper than Children for walks that need no order).
func (n *Node) AppendChildNames(dst []string) []string {
	if n.ref != nil {
		return n.ref.l.AppendChildNames(n.ref.path, dst)
	}
	for c := range n.children {
		dst = append(dst, c)
	}
	return dst
}

// ClientEphemeralOwner is the owner clients see: containers and TTL nodes
// report 0.
func ClientEphemeralOwner(owner int64) int64 {
	if IsContainer(owner) || IsTTL(owner) {
		return 0
	}
	return owner
}

// IsContainer reports whether a stored ephemeralOwner marks a container.
func IsContainer(owner int64) bool { return owner == wire.ContainerEphemeralOwner }

// IsTTL reports whether a stored ephemeralOwner marks a TTL node.
func IsTTL(owner int64) bool {
	return owner != wire.ContainerEphemeralOwner && owner&wire.TTLMask == wire.TTLMask
}

// TTLOf returns the TTL (ms) of a TTL node's stored owner.
func TTLOf(owner int64) int64 { return owner &^ wire.TTLMask }

// IsEphemeral reports whether owner is a real session (not container/TTL).
func IsEphemeral(owner int64) bool { return owner != 0 && !IsContainer(owner) && !IsTTL(owner) }

// Stat fills the client-visible Stat of n.
func (n *Node) Stat(s *wire.Stat) {
	nc := n.numChildren
	*s = wire.Stat{
		Czxid: n.Czxid, Mzxid: n.Mzxid, Ctime: n.Ctime, Mtime: n.Mtime,
		Version: n.Version, Cversion: 2*n.Cversion - nc, Aversion: n.Aversion,
		EphemeralOwner: ClientEphemeralOwner(n.EphemeralOwner),
		DataLength:     int32(len(n.Data)), NumChildren: nc, Pzxid: n.Pzxid,
	}
}

// Tree is the dataNode tree.
type Tree struct {
	store      Store
	mem        *memStore // store, when it is the memory store
	dur        Durable   // store, when it is durable
	count      int
	ACLs       *ACLCache
	ephemerals map[int64]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	sessions   map[int64]int32
	dataSize   int64
	digest     uint64
	loading    bool // NewEmpty until FinishLoad
	// LastZxid is the zxid of the last applied txn.
	LastZxid int64
}

// Built-in paths.
const (
	ZookeeperPath = "/zookeeper"
	QuotaPath     = "/zookeeper/quota"
	ConfigPath    = "/zookeeper/config"
)

// New returns an in-memory tree holding ZooKeeper's built-in nodes.
func New() *Tree { return NewOn(NewMemoryStore()) }

// NewOn returns a tree holding ZooKeeper's built-in nodes in s, which must
// be empty.
func NewOn(s Store) *Tree {
	t := newTree(s)
	t.setRoot(&Node{ACL: OpenACLID, Data: []byte{}})
	t.addBuiltin(ZookeeperPath, OpenACLID)
	t.addBuiltin(QuotaPath, OpenACLID)
	cfgACL := t.ACLs.Intern([]wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "world", ID: "anyone"}}})
	t.addBuiltin(ConfigPath, cfgACL)
	n := t.lookup(ConfigPath)
	n.Aversion = -1
	t.store.Update(ConfigPath, n)
	t.recomputeDigest()
	t.commit(true)
	return t
}

func newTree(s Store) *Tree {
	t := &Tree{
		store:      s,
		ACLs:       NewACLCache(),
		ephemerals: map[int64]map[string]struct{}{},
		containers: map[string]struct{}{},
		ttls:       map[string]struct{}{},
		sessions:   map[int64]int32{},
	}
	t.mem, _ = s.(*memStore)
	if d, ok := s.(Durable); ok {
		t.dur = d
		t.ACLs.dirty = map[int64]struct{}{}
	}
	return t
}

func (t *Tree) setRoot(n *Node) {
	n.children, n.ref, n.numChildren = nil, nil, 0
	t.store.SetRoot(n)
	t.count = 1
}

// Store returns the store holding the nodes.
func (t *Tree) Store() Store { return t.store }

func (t *Tree) addBuiltin(path string, acl int64) {
	parent, name := Split(path)
	n := &Node{ACL: acl, Data: []byte{}}
	t.link(parent, t.lookup(parent), name, path, n)
	t.redigest(path, n)
}

// lookup finds path; nil when any component is missing or the path is not
// canonical (empty components, no leading '/').
func (t *Tree) lookup(path string) *Node {
	if t.mem != nil {
		return t.mem.Get(path)
	}
	if path == "" {
		path = "/"
	}
	if path[0] != '/' || path != "/" && (path[len(path)-1] == '/' || strings.Contains(path, "//")) {
		return nil
	}
	return t.store.Get(path)
}

// link adds the new node n as child name of p (at parentPath).
func (t *Tree) link(parentPath string, p *Node, name, path string, n *Node) {
	n.children, n.numChildren = nil, 0
	p.numChildren++
	t.store.Update(parentPath, p)
	t.store.Add(parentPath, p, name, path, n)
	t.count++
}

// unlink removes child name (node n) of p.
func (t *Tree) unlink(parentPath string, p *Node, name, path string, n *Node) {
	p.numChildren--
	t.store.Update(parentPath, p)
	t.store.Remove(parentPath, p, name, path, n)
	t.count--
}

// commit hands the counters to a durable store after a unit of changes.
func (t *Tree) commit(force bool) {
	if t.dur == nil {
		return
	}
	t.flushACLs()
	// errors stay with the store (which reports them on its next commit
	// and when asked): the txn log still holds every applied txn
	_ = t.dur.Commit(t.meta(), force)
}

func (t *Tree) meta() Meta {
	return Meta{LastZxid: t.LastZxid, Count: int64(t.count), DataSize: t.dataSize, Digest: t.digest, Loading: t.loading}
}

// Sync makes a durable store write everything applied so far (a no-op for
// the memory store). The caller holds the tree exclusively.
func (t *Tree) Sync() error {
	if t.dur == nil {
		return nil
	}
	t.flushACLs()
	return t.dur.Commit(t.meta(), true)
}

func (t *Tree) flushACLs() {
	c := t.ACLs
	for id := range c.dirty {
		if l, ok := c.byID[id]; ok {
			t.dur.PutACL(id, l, c.refs[id])
		} else {
			t.dur.DeleteACL(id)
		}
		delete(c.dirty, id)
	}
}

// Open returns the tree a durable store holds. A store that never
// committed gets ZooKeeper's built-in nodes (as New); one left in the
// middle of a load is an error.
func Open(d Durable) (*Tree, error) {
	st, err := d.Load()
	if err != nil {
		return nil, err
	}
	if st.Loading {
		return nil, ErrIncompleteLoad
	}
	if st.Count == 0 {
		return NewOn(d), nil
	}
	t := newTree(d)
	t.count, t.dataSize, t.digest, t.LastZxid = int(st.Count), st.DataSize, st.Digest, st.LastZxid
	for id, to := range st.Sessions {
		t.sessions[id] = to
	}
	c := t.ACLs
	for id, e := range st.ACLs {
		c.byID[id] = e.List
		c.byKey[aclKey(e.List)] = id
		c.refs[id] = e.Refs
		if id >= c.next {
			c.next = id + 1
		}
	}
	for p, owner := range st.Owned {
		t.index(p, owner)
	}
	if t.lookup("/") == nil {
		return nil, fmt.Errorf("invalid datatree: store has %d nodes but no root", st.Count)
	}
	return t, nil
}

// ErrIncompleteLoad is returned by Open for a store a load (import) was
// writing when it stopped: it holds part of a tree.
var ErrIncompleteLoad = errors.New("datatree: store holds an incomplete load")

// Split returns the parent path and the last component of path. The parent
// of a top-level node is "/".
func Split(path string) (parent, name string) {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/", path[i+1:]
	}
	return path[:i], path[i+1:]
}

// Join appends name to parent.
func Join(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// Get returns the node at path, or nil.
func (t *Tree) Get(path string) *Node { return t.lookup(path) }

// ACL returns the ACL list of a node.
func (t *Tree) ACL(n *Node) []wire.ACL { return t.ACLs.Get(n.ACL) }

// NodeCount is the number of znodes, the root included once.
func (t *Tree) NodeCount() int { return t.count }

// DataSize is the sum of path lengths and data lengths, as ZooKeeper's
// approximate data size.
func (t *Tree) DataSize() int64 { return t.dataSize }

// Ephemerals returns the ephemeral paths of a session, sorted.
func (t *Tree) Ephemerals(session int64) []string {
	set := t.ephemerals[session]
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// EphemeralSessions returns every session owning ephemerals, sorted.
func (t *Tree) EphemeralSessions() []int64 {
	out := make([]int64, 0, len(t.ephemerals))
	for s := range t.ephemerals {
		out = append(out, s)
	}
	sortInt64(out)
	return out
}

// EphemeralCount is the number of ephemeral znodes.
func (t *Tree) EphemeralCount() int {
	n := 0
	for _, s := range t.ephemerals {
		n += len(s)
	}
	return n
}

// Containers returns container paths, sorted.
func (t *Tree) Containers() []string { return sortedKeys(t.containers) }

// TTLNodes returns TTL node paths, sorted.
func (t *Tree) TTLNodes() []string { return sortedKeys(t.ttls) }

// Sessions returns the session table (id -> timeout) that snapshots carry.
func (t *Tree) Sessions() map[int64]int32 { return t.sessions }

// DescendantCount counts the nodes below path (all depths).
func (t *Tree) DescendantCount(path string) int {
	n := t.Get(path)
	if n == nil {
		return 0
	}
	if path == "" {
		path = "/"
	}
	var count func(p string, n *Node) int
	count = func(p string, n *Node) int {
		c := int(n.numChildren)
		if t.mem != nil {
			for _, cn := range n.children {
				if cn.numChildren > 0 {
					c += count("", cn)
				}
			}
			return c
		}
		for _, name := range n.AppendChildNames(nil) {
			cp := Join(p, name)
			if cn := t.store.Get(cp); cn != nil && cn.numChildren > 0 {
				c += count(cp, cn)
			}
		}
		return c
	}
	return count(path, n)
}

// Children returns the child names of path, sorted (nil when path is
// absent).
func (t *Tree) Children(path string) []string {
	if n := t.Get(path); n != nil {
		return n.Children()
	}
	return nil
}

// Walk visits every node in depth-first pre-order (parents before
// children, children sorted), as snapshots serialise them.
func (t *Tree) Walk(f func(path string, n *Node) error) error {
	var walk func(p string, n *Node) error
	walk = func(p string, n *Node) error {
		if err := f(p, n); err != nil {
			return err
		}
		for _, c := range n.Children() {
			cn := n.Child(c)
			if cn == nil {
				continue
			}
			if err := walk(Join(p, c), cn); err != nil {
				return err
			}
		}
		return nil
	}
	root := t.lookup("/")
	if root == nil {
		return nil
	}
	return walk("/", root)
}

// each visits every node in no particular order.
func (t *Tree) each(f func(path string, n *Node)) { t.store.Each(f) }

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortInt64(s []int64) { sort.Slice(s, func(i, j int) bool { return s[i] < s[j] }) }

// SetConfigNode stores the ensemble's config string in /zookeeper/config
// as ZooKeeper does on every server when it starts a role or finishes a
// SNAP or TRUNC sync: version -1, mzxid 0, mtime the local clock. The node
// is outside the digest (a /zookeeper/ child), so only the data size moves.
func (t *Tree) SetConfigNode(data []byte, mtime int64) {
	n := t.Get(ConfigPath)
	if n == nil {
		return
	}
	t.dataSize += int64(len(data) - len(n.Data))
	n.Data = data
	n.Version = -1
	n.Mzxid = 0
	n.Mtime = mtime
	t.store.Update(ConfigPath, n)
	t.commit(false)
}
