package server

import (
	"strings"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// execRead serves a read-side request against the tree and fills r.reply.
func (s *Server) execRead(c *conn, r *request) {
	switch r.op {
	case wire.OpPing:
		r.reply = frame(&wire.ReplyHeader{Xid: wire.XidPing, Zxid: s.lastZxid.Load()}, nil)
		return
	case wire.OpSASL:
		// No SASL configured: ZooKeeper answers OK with a null token.
		r.reply = frame(&wire.ReplyHeader{Xid: r.xid}, &wire.BufferRecord{})
		return
	}
	s.treeMu.RLock()
	body, err := s.read(c, r)
	zxid := s.tree.LastZxid
	s.treeMu.RUnlock()
	if err != wire.ErrOK {
		body = nil
	}
	r.reply = frame(&wire.ReplyHeader{Xid: r.xid, Zxid: zxid, Err: err}, body)
}

// read runs one read op; the tree is read-locked.
func (s *Server) read(c *conn, r *request) (wire.Record, wire.Err) {
	d := wire.NewDecoder(r.body)
	ids := c.authIDs()
	switch r.op {
	case wire.OpExists:
		var q wire.PathWatchRequest
		if q.Decode(d); d.Err() != nil {
			return nil, wire.ErrMarshallingError
		}
		if hasNUL(q.Path) {
			return nil, wire.ErrBadArguments
		}
		n := s.tree.Get(q.Path)
		if q.Watch {
			s.watches.addData(normPath(q.Path), c)
		}
		if n == nil {
			return nil, wire.ErrNoNode
		}
		var resp wire.StatResponse
		n.Stat(&resp.Stat)
		return &resp, wire.ErrOK
	case wire.OpGetData:
		var q wire.PathWatchRequest
		if q.Decode(d); d.Err() != nil {
			return nil, wire.ErrMarshallingError
		}
		n, err := s.readable(ids, q.Path)
		if err != wire.ErrOK {
			return nil, err
		}
		if q.Watch {
			s.watches.addData(normPath(q.Path), c)
		}
		resp := &wire.GetDataResponse{Data: n.Data}
		n.Stat(&resp.Stat)
		return resp, wire.ErrOK
	case wire.OpGetChildren, wire.OpGetChildren2:
		var q wire.PathWatchRequest
		if q.Decode(d); d.Err() != nil {
			return nil, wire.ErrMarshallingError
		}
		n, err := s.readable(ids, q.Path)
		if err != wire.ErrOK {
			return nil, err
		}
		if q.Watch {
			s.watches.addChild(normPath(q.Path), c)
		}
		resp := &wire.ChildrenResponse{Children: n.Children(), WithStat: r.op == wire.OpGetChildren2}
		n.Stat(&resp.Stat)
		return resp, wire.ErrOK
	case wire.OpGetACL:
		var q wire.PathRequest
		if q.Decode(d); d.Err() != nil {
			return nil, wire.ErrMarshallingError
		}
		n := s.tree.Get(q.Path)
		if n == nil {
			return nil, wire.ErrNoNode
		}
		acl := s.tree.ACL(n)
		if err := s.checkACL(ids, acl, wire.PermRead|wire.PermAdmin); err != wire.ErrOK {
			return nil, err
		}
		if s.checkACL(ids, acl, wire.PermAdmin) != wire.ErrOK {
			acl = maskDigests(acl)
		}
		resp := &wire.GetACLResponse{ACL: acl}
		n.Stat(&resp.Stat)
		return resp, wire.ErrOK
	case wire.OpSync:
		var q wire.PathRequest
		if q.Decode(d); d.Err() != nil {
			return nil, wire.ErrMarshallingError
		}
		return &q, wire.ErrOK
	case wire.OpGetAllChildrenNumber:
		var q wire.PathRequest
		if q.Decode(d); d.Err() != nil {
			return nil, wire.ErrMarshallingError
		}
		if _, err := s.readable(ids, q.Path); err != wire.ErrOK {
			return nil, err
		}
		return &wire.IntRecord{V: int32(s.tree.DescendantCount(q.Path))}, wire.ErrOK
	case wire.OpGetEphemerals:
		var q wire.PathRequest
		if q.Decode(d); d.Err() != nil {
			return nil, wire.ErrMarshallingError
		}
		all := s.tree.Ephemerals(c.session())
		prefix := strings.TrimSpace(q.Path)
		out := []string{}
		for _, p := range all {
			if prefix == "" || prefix == "/" || strings.HasPrefix(p, q.Path) {
				out = append(out, p)
			}
		}
		return &wire.ChildrenResponse{Children: out}, wire.ErrOK
	case wire.OpWhoAmI:
		resp := &wire.WhoAmIResponse{Info: []wire.ClientInfo{}}
		for _, id := range ids {
			user := "" // ZooKeeper's user for a scheme without a provider
			if p := s.provider(id.Scheme); p != nil {
				user = p.user(id.ID)
			}
			resp.Info = append(resp.Info, wire.ClientInfo{AuthScheme: id.Scheme, User: user})
		}
		return resp, wire.ErrOK
	case wire.OpMultiRead:
		return s.multiRead(ids, r.body)
	case wire.OpSetWatches, wire.OpSetWatches2:
		q := wire.SetWatches{V2: r.op == wire.OpSetWatches2}
		if q.Decode(d); d.Err() != nil || q.DataWatches == nil || q.ExistWatches == nil || q.ChildWatches == nil ||
			(q.V2 && (q.PersistentWatch == nil || q.PersistentRecurs == nil)) {
			return nil, wire.ErrMarshallingError
		}
		s.setWatches(c, &q)
		return nil, wire.ErrOK
	case wire.OpAddWatch:
		var q wire.PathModeRequest
		if q.Decode(d); d.Err() != nil {
			return nil, wire.ErrMarshallingError
		}
		switch q.Mode {
		case wire.AddWatchPersistent:
			s.watches.addPersistent(normPath(q.Path), c, false)
		case wire.AddWatchPersistentRecursive:
			s.watches.addPersistent(normPath(q.Path), c, true)
		default:
			return nil, wire.ErrMarshallingError
		}
		return &wire.IntRecord{V: 0}, wire.ErrOK
	case wire.OpCheckWatches, wire.OpRemoveWatches:
		var q wire.PathModeRequest
		if q.Decode(d); d.Err() != nil {
			return nil, wire.ErrMarshallingError
		}
		if q.Mode < wire.WatcherChildren || q.Mode > wire.WatcherAny {
			return nil, wire.ErrMarshallingError
		}
		if !s.watches.has(c, normPath(q.Path), q.Mode, r.op == wire.OpRemoveWatches) {
			return nil, wire.ErrNoWatcher
		}
		return nil, wire.ErrOK
	case wire.OpCreateSession:
		return nil, wire.ErrMarshallingError
	}
	return nil, wire.ErrUnimplemented
}

func normPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// readable looks up a node and checks READ on it.
func (s *Server) readable(ids []wire.Id, path string) (*datatree.Node, wire.Err) {
	n := s.tree.Get(path)
	if n == nil {
		return nil, wire.ErrNoNode
	}
	if err := s.checkACL(ids, s.tree.ACL(n), wire.PermRead); err != wire.ErrOK {
		return nil, err
	}
	return n, wire.ErrOK
}

// maskDigests hides digest hashes from callers without ADMIN.
func maskDigests(acl []wire.ACL) []wire.ACL {
	out := make([]wire.ACL, len(acl))
	for i, a := range acl {
		out[i] = a
		if a.Scheme == "digest" {
			if j := strings.IndexByte(a.ID, ':'); j >= 0 {
				out[i].ID = a.ID[:j] + ":x"
			}
		}
	}
	return out
}

func (s *Server) multiRead(ids []wire.Id, body []byte) (wire.Record, wire.Err) {
	var mr wire.MultiRequest
	d := wire.NewDecoder(body)
	mr.Decode(d)
	if d.Err() != nil {
		return nil, wire.ErrMarshallingError
	}
	resp := &wire.MultiResponse{}
	for _, op := range mr.Ops {
		if op.Type != wire.OpGetData && op.Type != wire.OpGetChildren {
			return nil, wire.ErrMarshallingError
		}
		n, err := s.readable(ids, op.Read.Path)
		if err != wire.ErrOK {
			resp.Results = append(resp.Results, wire.MultiResult{Type: wire.OpError, Err: err})
			continue
		}
		res := wire.MultiResult{Type: op.Type}
		if op.Type == wire.OpGetData {
			res.Data = n.Data
			n.Stat(&res.Stat)
		} else {
			res.Children = n.Children()
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, wire.ErrOK
}

// setWatches re-registers a reconnecting client's watches, firing at once
// those whose znodes changed after relativeZxid.
func (s *Server) setWatches(c *conn, q *wire.SetWatches) {
	rel := q.RelativeZxid
	// data and child watches: gone -> NodeDeleted, changed since rel -> the
	// change event, else registered again
	resume := func(paths []string, zxid func(*datatree.Node) int64, changed int32, add func(string, *conn)) {
		for _, p := range paths {
			n := s.tree.Get(p)
			switch {
			case n == nil:
				c.notify(wire.EventNodeDeleted, p)
			case zxid(n) > rel:
				c.notify(changed, p)
			default:
				add(normPath(p), c)
			}
		}
	}
	resume(q.DataWatches, func(n *datatree.Node) int64 { return n.Mzxid }, wire.EventNodeDataChanged, s.watches.addData)
	for _, p := range q.ExistWatches {
		if s.tree.Get(p) != nil {
			c.notify(wire.EventNodeCreated, p)
		} else {
			s.watches.addData(normPath(p), c)
		}
	}
	resume(q.ChildWatches, func(n *datatree.Node) int64 { return n.Pzxid }, wire.EventNodeChildrenChanged, s.watches.addChild)
	for _, p := range q.PersistentWatch {
		s.watches.addPersistent(normPath(p), c, false)
	}
	for _, p := range q.PersistentRecurs {
		s.watches.addPersistent(normPath(p), c, true)
	}
}
