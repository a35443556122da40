// Package datatree holds the dataNode tree: znodes with ZooKeeper's Stat
// rules, the ACL cache, ephemeral/container/TTL indexes and the session
// table that snapshots carry. Apply is deterministic: the same txns in the
// same order give the same tree. The tree is not safe for concurrent use;
// the server guards it (many readers, one applier).
package datatree

import (
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
	EphemeralOwner int64
	children       map[string]*Node // by name
}

// NumChildren is the current number of children.
func (n *Node) NumChildren() int { return len(n.children) }

// Children returns the child names, sorted.
func (n *Node) Children() []string {
	out := make([]string, 0, len(n.children))
	for c := range n.children {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Child returns the child called name, or nil.
func (n *Node) Child(name string) *Node { return n.children[name] }

// AppendChildNames appends the child names to dst in no particular order
// (cheaper than Children for walks that need no order).
func (n *Node) AppendChildNames(dst []string) []string {
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
	nc := int32(len(n.children))
	*s = wire.Stat{
		Czxid: n.Czxid, Mzxid: n.Mzxid, Ctime: n.Ctime, Mtime: n.Mtime,
		Version: n.Version, Cversion: 2*n.Cversion - nc, Aversion: n.Aversion,
		EphemeralOwner: ClientEphemeralOwner(n.EphemeralOwner),
		DataLength:     int32(len(n.Data)), NumChildren: nc, Pzxid: n.Pzxid,
	}
}

// Tree is the dataNode tree.
type Tree struct {
	root       *Node
	count      int
	ACLs       *ACLCache
	ephemerals map[int64]map[string]struct{}
	containers map[string]struct{}
	ttls       map[string]struct{}
	sessions   map[int64]int32
	dataSize   int64
	digest     uint64
	// LastZxid is the zxid of the last applied txn.
	LastZxid int64
}

// Built-in paths.
const (
	ZookeeperPath = "/zookeeper"
	QuotaPath     = "/zookeeper/quota"
	ConfigPath    = "/zookeeper/config"
)

// New returns a tree holding ZooKeeper's built-in nodes.
func New() *Tree {
	t := &Tree{
		ACLs:       NewACLCache(),
		ephemerals: map[int64]map[string]struct{}{},
		containers: map[string]struct{}{},
		ttls:       map[string]struct{}{},
		sessions:   map[int64]int32{},
	}
	t.root, t.count = &Node{ACL: OpenACLID, Data: []byte{}}, 1
	t.addBuiltin(ZookeeperPath, OpenACLID)
	t.addBuiltin(QuotaPath, OpenACLID)
	cfgACL := t.ACLs.Intern([]wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "world", ID: "anyone"}}})
	t.addBuiltin(ConfigPath, cfgACL)
	t.lookup(ConfigPath).Aversion = -1
	t.recomputeDigest()
	return t
}

func (t *Tree) addBuiltin(path string, acl int64) {
	parent, name := Split(path)
	n := &Node{ACL: acl, Data: []byte{}}
	t.link(t.lookup(parent), name, n)
	t.redigest(path, n)
}

// lookup walks path from the root; nil when any component is missing or
// the path is not canonical (empty components, no leading '/').
func (t *Tree) lookup(path string) *Node {
	if path == "/" || path == "" {
		return t.root
	}
	if path[0] != '/' {
		return nil
	}
	n := t.root
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

// link adds child n under parent p. The name is copied so the node does
// not pin the request's path.
func (t *Tree) link(p *Node, name string, n *Node) {
	if p.children == nil {
		p.children = map[string]*Node{}
	}
	p.children[strings.Clone(name)] = n
	t.count++
}

// unlink removes child name of p.
func (t *Tree) unlink(p *Node, name string) {
	delete(p.children, name)
	if len(p.children) == 0 {
		p.children = nil
	}
	t.count--
}

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
	var count func(n *Node) int
	count = func(n *Node) int {
		c := len(n.children)
		for _, cn := range n.children {
			if len(cn.children) > 0 {
				c += count(cn)
			}
		}
		return c
	}
	return count(n)
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
			if err := walk(Join(p, c), n.children[c]); err != nil {
				return err
			}
		}
		return nil
	}
	return walk("/", t.root)
}

// each visits every node in no particular order.
func (t *Tree) each(f func(path string, n *Node)) {
	var walk func(p string, n *Node)
	walk = func(p string, n *Node) {
		f(p, n)
		for c, cn := range n.children {
			walk(Join(p, c), cn)
		}
	}
	walk("/", t.root)
}

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
}
