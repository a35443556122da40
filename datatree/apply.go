package datatree

import "github.com/zkserver/zkserver/wire"

// Event is a watch trigger produced by applying a txn: Type happened to
// Path. NodeCreated, NodeDeleted and NodeDataChanged address the node;
// NodeChildrenChanged addresses the parent.
type Event struct {
	Type int32
	Path string
}

// Result is what applying one txn produced.
type Result struct {
	Err    wire.Err
	Path   string    // created path (create*)
	Stat   wire.Stat // create2/container/TTL, setData, setACL
	Multi  []wire.MultiResult
	Events []Event
}

// Apply applies one txn in zxid order. It tolerates what replaying a log
// over a fuzzy snapshot produces (existing creates, missing deletes).
func (t *Tree) Apply(hdr *wire.TxnHeader, txn *wire.Txn) Result {
	var r Result
	r.Err = t.apply(hdr, txn, &r)
	if hdr.Zxid > t.LastZxid {
		t.LastZxid = hdr.Zxid
	}
	t.commit(false)
	return r
}

func (t *Tree) apply(hdr *wire.TxnHeader, txn *wire.Txn, r *Result) wire.Err {
	switch txn.Type {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
		var owner int64
		switch {
		case txn.Type == wire.OpCreateContainer:
			owner = wire.ContainerEphemeralOwner
		case txn.Type == wire.OpCreateTTL:
			owner = wire.TTLMask | txn.TTL
		case txn.Ephemeral:
			owner = hdr.ClientID
		}
		return t.create(hdr, txn, owner, r)
	case wire.OpDelete, wire.OpDeleteContainer:
		return t.delete(txn.Path, hdr.Zxid, r)
	case wire.OpSetData, wire.OpReconfig:
		n := t.lookup(txn.Path)
		if n == nil {
			return wire.ErrNoNode
		}
		t.dataSize += int64(len(txn.Data) - len(n.Data))
		t.undigest(txn.Path, n)
		defer t.redigest(txn.Path, n)
		n.Data = txn.Data
		n.Version = txn.Version
		n.Mzxid = hdr.Zxid
		n.Mtime = hdr.Time
		t.store.Update(txn.Path, n)
		n.Stat(&r.Stat)
		r.Events = append(r.Events, Event{wire.EventNodeDataChanged, txn.Path})
	case wire.OpSetACL:
		n := t.lookup(txn.Path)
		if n == nil {
			return wire.ErrNoNode
		}
		t.undigest(txn.Path, n)
		defer t.redigest(txn.Path, n)
		t.ACLs.Release(n.ACL)
		n.ACL = t.ACLs.Intern(txn.ACL)
		n.Aversion = txn.Version
		t.store.Update(txn.Path, n)
		n.Stat(&r.Stat)
	case wire.OpCheck:
		if t.lookup(txn.Path) == nil {
			return wire.ErrNoNode
		}
	case wire.OpCreateSession:
		t.sessions[hdr.ClientID] = txn.TimeOut
		if t.dur != nil {
			t.dur.PutSession(hdr.ClientID, txn.TimeOut)
		}
	case wire.OpCloseSession:
		for _, p := range txn.Paths {
			t.delete(p, hdr.Zxid, r)
		}
		for _, p := range t.Ephemerals(hdr.ClientID) {
			t.delete(p, hdr.Zxid, r)
		}
		delete(t.sessions, hdr.ClientID)
		if t.dur != nil {
			t.dur.DeleteSession(hdr.ClientID)
		}
	case wire.OpError:
		return txn.Err
	case wire.OpMulti:
		t.applyMulti(hdr, txn, r)
	}
	return wire.ErrOK
}

func (t *Tree) create(hdr *wire.TxnHeader, txn *wire.Txn, owner int64, r *Result) wire.Err {
	parentPath, name := Split(txn.Path)
	parent := t.lookup(parentPath)
	if parent == nil || name == "" {
		return wire.ErrNoNode
	}
	cv := txn.ParentCVersion
	if cv == -1 {
		cv = parent.Cversion + 1
	}
	raise := func() {
		if cv > parent.Cversion {
			t.undigest(parentPath, parent)
			parent.Cversion = cv
			parent.Pzxid = hdr.Zxid
			t.redigest(parentPath, parent)
			t.store.Update(parentPath, parent)
		}
	}
	if t.child(parent, name, txn.Path) != nil {
		raise()
		return wire.ErrNodeExists
	}
	raise()
	n := &Node{
		Data: txn.Data, ACL: t.ACLs.Intern(txn.ACL),
		Czxid: hdr.Zxid, Mzxid: hdr.Zxid, Pzxid: hdr.Zxid, Ctime: hdr.Time, Mtime: hdr.Time,
		EphemeralOwner: owner,
	}
	t.link(parentPath, parent, name, txn.Path, n)
	t.redigest(txn.Path, n)
	t.dataSize += int64(len(txn.Path) + len(txn.Data))
	t.index(txn.Path, owner)
	r.Path = txn.Path
	n.Stat(&r.Stat)
	r.Events = append(r.Events, Event{wire.EventNodeCreated, txn.Path}, Event{wire.EventNodeChildrenChanged, parentPath})
	return wire.ErrOK
}

// child returns child name of parent, whose path is path.
func (t *Tree) child(parent *Node, name, path string) *Node {
	if t.mem != nil {
		return parent.children[name]
	}
	if name == "" || parent.numChildren == 0 {
		return nil // no lookup for the first child
	}
	return t.store.Get(path)
}

func (t *Tree) index(path string, owner int64) {
	switch {
	case owner == 0:
	case IsContainer(owner):
		t.containers[path] = struct{}{}
	case IsTTL(owner):
		t.ttls[path] = struct{}{}
	default:
		set := t.ephemerals[owner]
		if set == nil {
			set = map[string]struct{}{}
			t.ephemerals[owner] = set
		}
		set[path] = struct{}{}
	}
}

func (t *Tree) unindex(path string, owner int64) {
	switch {
	case owner == 0:
	case IsContainer(owner):
		delete(t.containers, path)
	case IsTTL(owner):
		delete(t.ttls, path)
	default:
		if set := t.ephemerals[owner]; set != nil {
			delete(set, path)
			if len(set) == 0 {
				delete(t.ephemerals, owner)
			}
		}
	}
}

func (t *Tree) delete(path string, zxid int64, r *Result) wire.Err {
	if path == "/" || path == "" {
		return wire.ErrNoNode
	}
	parentPath, name := Split(path)
	parent := t.lookup(parentPath)
	if parent == nil {
		return wire.ErrNoNode
	}
	n := t.child(parent, name, path)
	if zxid > parent.Pzxid {
		t.undigest(parentPath, parent)
		parent.Pzxid = zxid
		t.redigest(parentPath, parent)
	}
	if n == nil {
		// a child deleted while a fuzzy snapshot was written is missing
		// from it: replaying its delete still moves the parent's pzxid,
		// as ZooKeeper's DataTree.deleteNode does before its NoNode
		t.store.Update(parentPath, parent)
		return wire.ErrNoNode
	}
	t.unlink(parentPath, parent, name, path, n) // records the parent
	t.undigest(path, n)
	t.dataSize -= int64(len(path) + len(n.Data))
	t.ACLs.Release(n.ACL)
	t.unindex(path, n.EphemeralOwner)
	r.Events = append(r.Events, Event{wire.EventNodeDeleted, path}, Event{wire.EventNodeChildrenChanged, parentPath})
	return wire.ErrOK
}

// applyMulti applies every sub-txn, or none when one of them is an error:
// then ops before the first error report OK, the error its code, and later
// ops RUNTIMEINCONSISTENCY, as ZooKeeper reports a failed multi.
func (t *Tree) applyMulti(hdr *wire.TxnHeader, txn *wire.Txn, r *Result) {
	failed := -1
	for i := range txn.Ops {
		if txn.Ops[i].Type == wire.OpError {
			failed = i
			break
		}
	}
	if failed >= 0 {
		for i := range txn.Ops {
			code := wire.ErrOK
			switch {
			case i == failed:
				code = txn.Ops[i].Err
			case i > failed:
				code = wire.ErrRuntimeInconsistency
				if txn.Ops[i].Type == wire.OpError {
					code = txn.Ops[i].Err
				}
			}
			r.Multi = append(r.Multi, wire.MultiResult{Type: wire.OpError, Err: code})
		}
		return
	}
	for i := range txn.Ops {
		sub := &txn.Ops[i]
		var sr Result
		err := t.apply(hdr, sub, &sr)
		r.Events = append(r.Events, sr.Events...)
		res := wire.MultiResult{Type: sub.Type, Err: err}
		if err != wire.ErrOK {
			res.Type = wire.OpError
		}
		switch res.Type {
		case wire.OpCreate, wire.OpCreate2:
			res.Type = wire.OpCreate
			res.Path = sr.Path
		case wire.OpCreateContainer, wire.OpCreateTTL:
			res.Type = wire.OpCreate2
			res.Path = sr.Path
			res.Stat = sr.Stat
		case wire.OpSetData:
			res.Stat = sr.Stat
		}
		r.Multi = append(r.Multi, res)
	}
}
