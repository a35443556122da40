package datatree

import (
	"fmt"
	"strings"

	"github.com/zkserver/zkserver/wire"
)

// This file is the loading side of snapshots: a tree is built empty, nodes
// are added parent before child as a snapshot lists them, and FinishLoad
// checks the result and restores what a usable tree needs.

// NewEmpty returns a tree with no nodes at all, not even the root, ready
// for AddLoaded. Its ACL cache is empty too: callers fill it with
// ACLs.Put before adding nodes.
func NewEmpty() *Tree { return NewEmptyOn(NewMemoryStore()) }

// NewEmptyOn is NewEmpty with the nodes in s, which must be empty. A
// durable store records the tree as loading until FinishLoad.
func NewEmptyOn(s Store) *Tree {
	t := newTree(s)
	t.loading = true
	return t
}

// validLoadPath reports whether path is a snapshot node path: "" (the
// root) or "/" followed by non-empty components separated by single
// slashes.
func validLoadPath(path string) bool {
	if path == "" {
		return true
	}
	if path[0] != '/' || path == "/" || strings.HasSuffix(path, "/") || strings.Contains(path, "//") {
		return false
	}
	return true
}

// AddLoaded adds node n read from a snapshot at path; "" is the root. The
// parent must already be present. The node's children (if any) are
// ignored: children are linked as they are added. It indexes ephemerals,
// containers and TTL nodes, counts the data size and takes a reference on
// the node's ACL id. The tree keeps n.
func (t *Tree) AddLoaded(path string, n *Node) error {
	if n == nil {
		return fmt.Errorf("invalid datatree: nil node for %q", path)
	}
	if !validLoadPath(path) {
		return fmt.Errorf("invalid datatree: bad path %q", path)
	}
	aclMissing := func() error {
		if n.ACL != OpenACLID {
			if _, ok := t.ACLs.byID[n.ACL]; !ok {
				return fmt.Errorf("invalid datatree: node %s uses ACL id %d, absent from the ACL cache", path, n.ACL)
			}
		}
		return nil
	}
	n.children, n.ref, n.numChildren = nil, nil, 0
	root := t.lookup("/")
	if path == "" {
		if root != nil {
			return fmt.Errorf("invalid datatree: root listed twice")
		}
		if err := aclMissing(); err != nil {
			return err
		}
		t.setRoot(n)
	} else {
		parentPath, name := Split(path)
		parent := t.lookup(parentPath)
		if root == nil || parent == nil {
			return fmt.Errorf("invalid datatree: parent of %s missing", path)
		}
		if t.child(parent, name, path) != nil {
			return fmt.Errorf("invalid datatree: %s listed twice", path)
		}
		if err := aclMissing(); err != nil {
			return err
		}
		t.link(parentPath, parent, name, path, n)
		t.index(path, n.EphemeralOwner)
	}
	t.dataSize += int64(len(path) + len(n.Data))
	t.digest += NodeDigest(path, n)
	t.ACLs.AddRef(n.ACL)
	t.commit(false)
	return nil
}

// SetSession records a session (id -> timeout) read from a snapshot.
func (t *Tree) SetSession(id int64, timeout int32) {
	t.sessions[id] = timeout
	if t.dur != nil {
		t.dur.PutSession(id, timeout)
	}
}

// FinishLoad ends loading: the root must be present, and every ACL id a
// node holds (other than OpenACLID) must be in the cache. Cache entries no
// node uses are dropped. Missing built-in nodes (/zookeeper,
// /zookeeper/quota, /zookeeper/config) are added as New adds them.
func (t *Tree) FinishLoad() error {
	if t.lookup("/") == nil {
		return fmt.Errorf("invalid datatree: no root node")
	}
	c := t.ACLs
	for id, acl := range c.byID {
		if c.refs[id] > 0 {
			continue
		}
		if k := aclKey(acl); c.byKey[k] == id {
			delete(c.byKey, k)
		}
		delete(c.byID, id)
		delete(c.refs, id)
		c.markDirty(id)
	}
	// Two ids holding the same list: make the lookup by value point at a
	// surviving id.
	for id, acl := range c.byID {
		k := aclKey(acl)
		if _, ok := c.byID[c.byKey[k]]; !ok {
			c.byKey[k] = id
		}
	}
	if t.lookup(ZookeeperPath) == nil {
		t.addBuiltin(ZookeeperPath, OpenACLID)
	}
	if t.lookup(QuotaPath) == nil {
		t.addBuiltin(QuotaPath, OpenACLID)
	}
	if t.lookup(ConfigPath) == nil {
		cfgACL := t.ACLs.Intern([]wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "world", ID: "anyone"}}})
		t.addBuiltin(ConfigPath, cfgACL)
		n := t.lookup(ConfigPath)
		t.undigest(ConfigPath, n)
		n.Aversion = -1
		t.redigest(ConfigPath, n)
		t.store.Update(ConfigPath, n)
	}
	t.loading = false
	t.commit(true)
	return nil
}
