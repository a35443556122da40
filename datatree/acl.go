package datatree

import (
	"strconv"
	"strings"

	"github.com/zkserver/zkserver/wire"
)

// OpenACLID is the cache key ZooKeeper uses for a null ACL list, read as
// world:anyone with all permissions (the built-in nodes carry it).
const OpenACLID int64 = -1

// OpenACL is world:anyone with every permission.
var OpenACL = []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "world", ID: "anyone"}}}

// ACLCache interns ACL lists: nodes hold a small integer id, as ZooKeeper's
// snapshot format does, and identical lists are stored once.
type ACLCache struct {
	byID  map[int64][]wire.ACL
	byKey map[string]int64
	refs  map[int64]int64
	next  int64
	// dirty, when not nil, collects the ids changed since a durable store
	// last heard of them.
	dirty map[int64]struct{}
}

func (c *ACLCache) markDirty(id int64) {
	if c.dirty != nil && id != OpenACLID {
		c.dirty[id] = struct{}{}
	}
}

// NewACLCache returns an empty cache.
func NewACLCache() *ACLCache {
	return &ACLCache{byID: map[int64][]wire.ACL{}, byKey: map[string]int64{}, refs: map[int64]int64{}, next: 1}
}

func aclKey(acl []wire.ACL) string {
	var b strings.Builder
	for _, a := range acl {
		b.WriteString(strconv.Itoa(int(a.Perms)))
		b.WriteByte(0)
		b.WriteString(a.Scheme)
		b.WriteByte(0)
		b.WriteString(a.ID)
		b.WriteByte(0)
	}
	return b.String()
}

// Intern returns the id of acl, adding it (and a reference) to the cache.
func (c *ACLCache) Intern(acl []wire.ACL) int64 {
	if acl == nil {
		return OpenACLID
	}
	k := aclKey(acl)
	id, ok := c.byKey[k]
	if !ok {
		id = c.next
		c.next++
		cp := make([]wire.ACL, len(acl))
		copy(cp, acl)
		c.byID[id] = cp
		c.byKey[k] = id
	}
	c.refs[id]++
	c.markDirty(id)
	return id
}

// Put installs an ACL list under a given id (snapshot loading).
func (c *ACLCache) Put(id int64, acl []wire.ACL) {
	c.byID[id] = acl
	c.byKey[aclKey(acl)] = id
	if id >= c.next {
		c.next = id + 1
	}
	c.markDirty(id)
}

// AddRef records one more user of id (snapshot loading).
func (c *ACLCache) AddRef(id int64) {
	if id != OpenACLID {
		c.refs[id]++
		c.markDirty(id)
	}
}

// Release drops one reference; the list is forgotten at zero.
func (c *ACLCache) Release(id int64) {
	if id == OpenACLID {
		return
	}
	c.refs[id]--
	c.markDirty(id)
	if c.refs[id] <= 0 {
		if acl, ok := c.byID[id]; ok {
			if k := aclKey(acl); c.byKey[k] == id {
				delete(c.byKey, k)
			}
		}
		delete(c.byID, id)
		delete(c.refs, id)
	}
}

// Get returns the list for id.
func (c *ACLCache) Get(id int64) []wire.ACL {
	if id == OpenACLID {
		return OpenACL
	}
	return c.byID[id]
}

// Len is the number of distinct lists held (OpenACL not counted).
func (c *ACLCache) Len() int { return len(c.byID) }

// Each calls f for every cached list in ascending id order.
func (c *ACLCache) Each(f func(id int64, acl []wire.ACL)) {
	ids := make([]int64, 0, len(c.byID))
	for id := range c.byID {
		ids = append(ids, id)
	}
	sortInt64(ids)
	for _, id := range ids {
		f(id, c.byID[id])
	}
}
