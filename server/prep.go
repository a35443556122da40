package server

import (
	"fmt"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// record is the state of one path as prep sees it: the committed tree plus
// every change prepped but not applied yet (ZooKeeper's outstanding
// changes). Exists=false marks a pending delete.
type record struct {
	zxid        int64
	exists      bool
	node        datatree.Node // children not copied
	numChildren int
	acl         []wire.ACL
}

type pendingChange struct {
	zxid int64
	path string
}

// preparer turns write requests into txns. It runs on one goroutine and
// owns the overlay of outstanding changes.
type preparer struct {
	s        *Server
	overlay  map[string]*record
	queue    []pendingChange // in zxid order, for cleanup
	nextZxid int64
	digest   uint64 // the tree digest once every prepped txn is applied
}

func newPreparer(s *Server, tree *datatree.Tree) *preparer {
	return &preparer{s: s, overlay: map[string]*record{}, nextZxid: tree.LastZxid + 1, digest: tree.Digest()}
}

// get returns the current record for path, or nil when it does not exist.
func (p *preparer) get(path string, local *localChanges) *record {
	if path == "" {
		path = "/"
	}
	if r, ok := local.lookup(path); ok {
		if !r.exists {
			return nil
		}
		return r
	}
	if r, ok := p.overlay[path]; ok {
		if !r.exists {
			return nil
		}
		return r
	}
	s := p.s
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	n := s.tree.Get(path)
	if n == nil {
		return nil
	}
	r := &record{exists: true, node: *n, numChildren: n.NumChildren(), acl: s.tree.ACL(n)}
	return r
}

// cleanup drops overlay entries whose txns have been applied.
func (p *preparer) cleanup() {
	applied := p.s.lastZxid.Load()
	i := 0
	for ; i < len(p.queue) && p.queue[i].zxid <= applied; i++ {
		pc := p.queue[i]
		if r, ok := p.overlay[pc.path]; ok && r.zxid == pc.zxid {
			delete(p.overlay, pc.path)
		}
	}
	p.queue = p.queue[i:]
}

// localChanges are the records one txn changed, in order; txns touch few
// paths, so a slice beats a map.
type localChanges []struct {
	path string
	r    *record
}

func (l *localChanges) lookup(path string) (*record, bool) {
	for i := len(*l) - 1; i >= 0; i-- {
		if (*l)[i].path == path {
			return (*l)[i].r, true
		}
	}
	return nil, false
}

func (l *localChanges) set(path string, r *record) {
	for i := range *l {
		if (*l)[i].path == path {
			(*l)[i].r = r
			return
		}
	}
	*l = append(*l, struct {
		path string
		r    *record
	}{path, r})
}

// txnCtx collects the changes of one txn (a multi stacks several) so a
// failure can drop them all.
type txnCtx struct {
	local localChanges
	ids   []wire.Id
	zxid  int64
	time  int64
	sess  int64
	delta uint64 // change of the tree digest
}

// put records the new state of path for this txn and tracks the change
// of the tree digest it causes.
func (p *preparer) put(t *txnCtx, path string, r *record) {
	if path == "" {
		path = "/"
	}
	if old := p.get(path, &t.local); old != nil {
		t.delta -= datatree.NodeDigest(path, &old.node)
	}
	if r.exists {
		t.delta += datatree.NodeDigest(path, &r.node)
	}
	r.zxid = t.zxid
	t.local.set(path, r)
}

func (p *preparer) commitLocal(t *txnCtx) {
	p.digest += t.delta
	for _, c := range t.local {
		path := c.path
		p.overlay[path] = c.r
		p.queue = append(p.queue, pendingChange{t.zxid, path})
	}
}

func clone(r *record) *record { c := *r; return &c }

// prep builds the proposal for one write request. Failures become error
// txns, as in ZooKeeper: they consume a zxid and are logged.
func (p *preparer) prep(req *request) *Proposal {
	prop := &Proposal{req: req}
	prop.Hdr = wire.TxnHeader{ClientID: req.session, Cxid: req.xid, Zxid: p.nextZxid, Time: p.s.nowMs(), Type: req.op}
	p.nextZxid++
	t := &txnCtx{zxid: prop.Hdr.Zxid, time: prop.Hdr.Time, sess: req.session}
	t.ids = req.authIDs()
	var err wire.Err
	switch req.op {
	case wire.OpCreateSession:
		prop.Txn = wire.Txn{Type: wire.OpCreateSession, TimeOut: req.timeout}
		// tracked from prep on, as ZooKeeper does: a learner's client may
		// send its next request before this server has applied the txn
		p.s.mu.Lock()
		if _, ok := p.s.tracker.Get(req.session); !ok {
			p.s.tracker.Add(req.session, req.timeout, p.s.nowMs())
		}
		p.s.owners[req.session] = req.owner
		p.s.mu.Unlock()
	case wire.OpCloseSession:
		prop.Txn = p.closeSession(t, req.session)
	case wire.OpMulti:
		prop.Txn = p.multi(t, req)
		if prop.Txn.Type == wire.OpError {
			prop.Hdr.Type = wire.OpError
			return prop
		}
	default:
		if err = p.checkSession(req); err == wire.ErrOK {
			prop.Txn, err = p.single(t, req)
		}
	}
	if err != wire.ErrOK {
		prop.Hdr.Type = wire.OpError
		prop.Txn = wire.Txn{Type: wire.OpError, Err: err}
		return prop
	}
	p.commitLocal(t)
	prop.Digest, prop.HasDigest = p.digest, true
	return prop
}

func (p *preparer) checkSession(req *request) wire.Err {
	if req.session == 0 {
		return wire.ErrOK // internal (container reaper)
	}
	p.s.mu.Lock()
	sess, ok := p.s.tracker.Get(req.session)
	p.s.mu.Unlock()
	switch {
	case !ok:
		return wire.ErrSessionExpired
	case sess.Closing:
		return wire.ErrSessionExpired
	}
	p.s.mu.Lock()
	owner, known := p.s.owners[req.session]
	p.s.mu.Unlock()
	if known && owner != req.owner {
		return wire.ErrSessionMoved
	}
	return wire.ErrOK
}

// decodeWrite parses the body of a write request. It runs on the
// connection's reader goroutine, so the single prep goroutine does not
// decode; ok=false means MARSHALLINGERROR (still an error txn, as in
// ZooKeeper 3.8). Requests without a body give a nil record.
func decodeWrite(op wire.Op, body []byte) (rec wire.Record, ok bool) {
	switch op {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer:
		rec = &wire.CreateRequest{}
	case wire.OpCreateTTL:
		rec = &wire.CreateTTLRequest{}
	case wire.OpDelete:
		rec = &wire.PathVersionRequest{}
	case wire.OpDeleteContainer:
		// a client's body is the raw path bytes (ZooKeeper 3.8's encoding)
		return &wire.PathRequest{Path: string(body)}, true
	case wire.OpSetData:
		rec = &wire.SetDataRequest{}
	case wire.OpSetACL:
		rec = &wire.SetACLRequest{}
	case wire.OpMulti:
		rec = &wire.MultiRequest{}
	default:
		return nil, true
	}
	d := wire.NewDecoder(body)
	rec.Decode(d)
	return rec, d.Err() == nil
}

// single preps one decoded write.
func (p *preparer) single(t *txnCtx, req *request) (wire.Txn, wire.Err) {
	if req.bad {
		return wire.Txn{}, wire.ErrMarshallingError
	}
	op := req.op
	switch r := req.rec.(type) {
	case *wire.CreateRequest:
		return p.create(t, op, r)
	case *wire.CreateTTLRequest:
		return p.create(t, op, &r.CreateRequest)
	case *wire.PathVersionRequest:
		return p.delete(t, op, r)
	case *wire.PathRequest: // deleteContainer from a client
		return p.delete(t, op, &wire.PathVersionRequest{Path: r.Path, Version: -1})
	case *wire.SetDataRequest:
		return p.setData(t, r)
	case *wire.SetACLRequest:
		return p.setACL(t, r)
	}
	switch op {
	case wire.OpDeleteContainer: // internal: the reaper
		return p.delete(t, op, &wire.PathVersionRequest{Path: req.internalPath, Version: -1})
	case wire.OpReconfig:
		return wire.Txn{}, wire.ErrReconfigDisabled
	}
	return wire.Txn{}, wire.ErrUnimplemented
}

func (p *preparer) create(t *txnCtx, op wire.Op, cr *wire.CreateRequest) (wire.Txn, wire.Err) {
	flags := cr.Flags
	if flags < wire.FlagPersistent || flags > wire.FlagPersistentSequentialTTL {
		return wire.Txn{}, wire.ErrBadArguments
	}
	isTTL := flags == wire.FlagPersistentWithTTL || flags == wire.FlagPersistentSequentialTTL
	if op == wire.OpCreateTTL || isTTL {
		if !p.s.cfg.ExtendedTypesEnabled {
			return wire.Txn{}, wire.ErrUnimplemented
		}
	}
	if isTTL {
		if cr.TTL <= 0 || cr.TTL > wire.MaxTTL {
			return wire.Txn{}, wire.ErrBadArguments
		}
	} else if cr.TTL >= 0 {
		return wire.Txn{}, wire.ErrBadArguments
	}
	path := cr.Path
	slash := lastSlash(path)
	if slash < 0 || hasNUL(path) {
		return wire.Txn{}, wire.ErrBadArguments
	}
	parentPath := path[:slash]
	acl, err := p.s.fixupACL(t.ids, cr.ACL)
	if err != wire.ErrOK {
		return wire.Txn{}, err
	}
	parent := p.get(parentPath, &t.local)
	if parent == nil {
		return wire.Txn{}, wire.ErrNoNode
	}
	if err := p.s.checkACL(t.ids, parent.acl, wire.PermCreate); err != wire.ErrOK {
		return wire.Txn{}, err
	}
	sequential := flags == wire.FlagPersistentSequential || flags == wire.FlagEphemeralSequential || flags == wire.FlagPersistentSequentialTTL
	if sequential {
		path += fmt.Sprintf("%010d", parent.node.Cversion)
	}
	if err := validatePath(path); err != wire.ErrOK {
		return wire.Txn{}, err
	}
	if p.get(path, &t.local) != nil {
		return wire.Txn{}, wire.ErrNodeExists
	}
	if datatree.IsEphemeral(parent.node.EphemeralOwner) {
		return wire.Txn{}, wire.ErrNoChildrenForEphemerals
	}
	ephemeral := flags == wire.FlagEphemeral || flags == wire.FlagEphemeralSequential
	if ephemeral && t.sess == 0 {
		return wire.Txn{}, wire.ErrBadArguments
	}
	newCV := parent.node.Cversion + 1
	txn := wire.Txn{Type: op, Path: path, Data: cr.Data, ACL: acl, Ephemeral: ephemeral, ParentCVersion: newCV}
	var owner int64
	switch {
	case flags == wire.FlagContainer:
		txn.Type = wire.OpCreateContainer
		owner = wire.ContainerEphemeralOwner
	case isTTL:
		txn.Type = wire.OpCreateTTL
		txn.TTL = cr.TTL
		owner = wire.TTLMask | cr.TTL
	case ephemeral:
		owner = t.sess
	}
	if op == wire.OpCreateTTL && !isTTL {
		txn.Type = wire.OpCreate2
	}
	np := clone(parent)
	np.node.Cversion = newCV
	np.node.Pzxid = t.zxid
	np.numChildren++
	p.put(t, parentPath, np)
	p.put(t, path, &record{exists: true, acl: acl, node: datatree.Node{
		Data: cr.Data, Czxid: t.zxid, Mzxid: t.zxid, Pzxid: t.zxid, Ctime: t.time, Mtime: t.time,
		EphemeralOwner: owner,
	}})
	return txn, wire.ErrOK
}

func (p *preparer) delete(t *txnCtx, op wire.Op, r *wire.PathVersionRequest) (wire.Txn, wire.Err) {
	path := r.Path
	slash := lastSlash(path)
	if slash < 0 || hasNUL(path) || isSpecialPath(path) {
		return wire.Txn{}, wire.ErrBadArguments
	}
	parentPath := path[:slash]
	parent := p.get(parentPath, &t.local)
	if parent == nil {
		return wire.Txn{}, wire.ErrNoNode
	}
	node := p.get(path, &t.local)
	if node == nil {
		return wire.Txn{}, wire.ErrNoNode
	}
	if op == wire.OpDeleteContainer {
		if !datatree.IsContainer(node.node.EphemeralOwner) && !datatree.IsTTL(node.node.EphemeralOwner) {
			return wire.Txn{}, wire.ErrBadArguments
		}
	} else if err := p.s.checkACL(t.ids, parent.acl, wire.PermDelete); err != wire.ErrOK {
		return wire.Txn{}, err
	}
	if r.Version != -1 && r.Version != node.node.Version {
		return wire.Txn{}, wire.ErrBadVersion
	}
	if node.numChildren > 0 {
		return wire.Txn{}, wire.ErrNotEmpty
	}
	p.removeLocal(t, path, parentPath, parent)
	return wire.Txn{Type: op, Path: path}, wire.ErrOK
}

func (p *preparer) removeLocal(t *txnCtx, path, parentPath string, parent *record) {
	np := clone(parent)
	np.numChildren--
	if t.zxid > np.node.Pzxid {
		np.node.Pzxid = t.zxid
	}
	p.put(t, parentPath, np)
	p.put(t, path, &record{exists: false})
}

func (p *preparer) setData(t *txnCtx, r *wire.SetDataRequest) (wire.Txn, wire.Err) {
	if err := validatePath(r.Path); err != wire.ErrOK {
		return wire.Txn{}, err
	}
	node := p.get(r.Path, &t.local)
	if node == nil {
		return wire.Txn{}, wire.ErrNoNode
	}
	if err := p.s.checkACL(t.ids, node.acl, wire.PermWrite); err != wire.ErrOK {
		return wire.Txn{}, err
	}
	if r.Version != -1 && r.Version != node.node.Version {
		return wire.Txn{}, wire.ErrBadVersion
	}
	nn := clone(node)
	nn.node.Version++
	nn.node.Data = r.Data
	nn.node.Mzxid = t.zxid
	nn.node.Mtime = t.time
	p.put(t, r.Path, nn)
	return wire.Txn{Type: wire.OpSetData, Path: r.Path, Data: r.Data, Version: nn.node.Version}, wire.ErrOK
}

func (p *preparer) setACL(t *txnCtx, r *wire.SetACLRequest) (wire.Txn, wire.Err) {
	if err := validatePath(r.Path); err != wire.ErrOK {
		return wire.Txn{}, err
	}
	acl, err := p.s.fixupACL(t.ids, r.ACL)
	if err != wire.ErrOK {
		return wire.Txn{}, err
	}
	node := p.get(r.Path, &t.local)
	if node == nil {
		return wire.Txn{}, wire.ErrNoNode
	}
	if err := p.s.checkACL(t.ids, node.acl, wire.PermAdmin); err != wire.ErrOK {
		return wire.Txn{}, err
	}
	if r.Version != -1 && r.Version != node.node.Aversion {
		return wire.Txn{}, wire.ErrBadVersion
	}
	nn := clone(node)
	nn.node.Aversion++
	nn.acl = acl
	p.put(t, r.Path, nn)
	return wire.Txn{Type: wire.OpSetACL, Path: r.Path, ACL: acl, Version: nn.node.Aversion}, wire.ErrOK
}

func (p *preparer) check(t *txnCtx, r *wire.PathVersionRequest) (wire.Txn, wire.Err) {
	if err := validatePath(r.Path); err != wire.ErrOK {
		return wire.Txn{}, err
	}
	node := p.get(r.Path, &t.local)
	if node == nil {
		return wire.Txn{}, wire.ErrNoNode
	}
	if err := p.s.checkACL(t.ids, node.acl, wire.PermRead); err != wire.ErrOK {
		return wire.Txn{}, err
	}
	if r.Version != -1 && r.Version != node.node.Version {
		return wire.Txn{}, wire.ErrBadVersion
	}
	return wire.Txn{Type: wire.OpCheck, Path: r.Path, Version: r.Version}, wire.ErrOK
}

// multi preps every op against the changes of the ops before it. On the
// first failure the txn keeps the records before it, an error record for it
// and RUNTIMEINCONSISTENCY records after it; none of its changes stay.
func (p *preparer) multi(t *txnCtx, req *request) wire.Txn {
	txn := wire.Txn{Type: wire.OpMulti}
	mr, _ := req.rec.(*wire.MultiRequest)
	if req.bad || mr == nil || len(mr.Ops) > 0 && (mr.Ops[0].Type == wire.OpGetData || mr.Ops[0].Type == wire.OpGetChildren) {
		return wire.Txn{Type: wire.OpError, Err: wire.ErrMarshallingError}
	}
	failed := p.checkSession(req)
	for i := range mr.Ops {
		op := &mr.Ops[i]
		if failed != wire.ErrOK {
			code := wire.ErrRuntimeInconsistency
			if i == 0 {
				code = failed // the session check failed before any op
			}
			txn.Ops = append(txn.Ops, wire.Txn{Type: wire.OpError, Err: code})
			continue
		}
		var sub wire.Txn
		var err wire.Err
		switch op.Type {
		case wire.OpCreate, wire.OpCreateContainer, wire.OpCreateTTL:
			sub, err = p.create(t, op.Type, &op.Create)
			if err == wire.ErrOK && sub.Type == wire.OpCreate2 {
				sub.Type = wire.OpCreate
			}
		case wire.OpDelete:
			sub, err = p.delete(t, op.Type, &op.Version)
		case wire.OpSetData:
			sub, err = p.setData(t, &op.SetData)
		case wire.OpCheck:
			sub, err = p.check(t, &op.Version)
		}
		if err != wire.ErrOK {
			failed = err
			txn.Ops = append(txn.Ops, wire.Txn{Type: wire.OpError, Err: err})
			continue
		}
		txn.Ops = append(txn.Ops, sub)
	}
	if failed != wire.ErrOK {
		t.local = nil
		t.delta = 0
	}
	return txn
}

// closeSession lists the session's ephemerals, committed and pending, and
// marks them deleted.
func (p *preparer) closeSession(t *txnCtx, sess int64) wire.Txn {
	p.s.mu.Lock()
	p.s.tracker.SetClosing(sess)
	p.s.mu.Unlock()
	p.s.treeMu.RLock()
	paths := p.s.tree.Ephemerals(sess)
	p.s.treeMu.RUnlock()
	seen := map[string]bool{}
	var out []string
	for _, path := range paths {
		if r, ok := p.overlay[path]; ok && !r.exists {
			continue
		}
		seen[path] = true
		out = append(out, path)
	}
	for path, r := range p.overlay {
		if r.exists && r.node.EphemeralOwner == sess && !seen[path] {
			out = append(out, path)
		}
	}
	sortStrings(out)
	for _, path := range out {
		parentPath, _ := datatree.Split(path)
		if parent := p.get(parentPath, &t.local); parent != nil {
			p.removeLocal(t, path, parentPath, parent)
		}
	}
	if out == nil {
		out = []string{}
	}
	return wire.Txn{Type: wire.OpCloseSession, Paths: out}
}

func lastSlash(p string) int {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return i
		}
	}
	return -1
}

func hasNUL(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] == 0 {
			return true
		}
	}
	return false
}
