package server

import (
	"encoding/binary"
	"io"

	"github.com/zkserver/zkserver/snapshot"
	"github.com/zkserver/zkserver/wire"
	"go.uber.org/zap"
)

// This file holds what the server offers a replicated commit path without
// knowing its role: a learner's commit path forwards writes and feeds back
// committed txns; a leader's hands the server the requests its learners
// forwarded, their session touches and revalidations.

// Forwarded is a client request a learner sends on to the leader (the
// REQUEST packet): Body is the request body exactly as the client sent it
// after its RequestHeader (createSession: the 4-byte negotiated timeout).
type Forwarded struct {
	// From is the learner that forwarded it (the session's owner there).
	From    int64
	Session int64
	Cxid    int32
	Op      wire.Op
	Body    []byte
	Auth    []wire.Id
}

// Learner is the commit path of a follower or observer. Writes, session
// creation and closing, and syncs are handed to Forward (in arrival order,
// from one goroutine) instead of being prepped here; they come back through
// the apply function as committed Proposals (matched to the waiting request
// by session and cxid) or, for a sync, as a Proposal with SyncDone set.
type Learner interface {
	CommitPath
	Forward(f Forwarded)
	// Revalidate asks the leader whether a session a client resumes here is
	// still alive (and makes this server its owner); it blocks.
	Revalidate(session int64, timeout int32) bool
}

// LocalSyncer is the commit path of a leader: a sync from one of its own
// clients is answered once everything proposed before it is committed and
// applied here (ZooKeeper sends it through the leader's pipeline), so it
// sees every write acknowledged anywhere before it began. SyncLocal gets
// the sync in order with Propose; the path applies p when that holds.
type LocalSyncer interface {
	CommitPath
	SyncLocal(p *Proposal)
}

// Role describes the server's place in an ensemble for four-letter words
// and mntr; nil means standalone.
type Role interface {
	Mode() string         // "leader", "follower" or "observer"
	Metrics() [][2]string // extra mntr lines (key without the zk_ prefix, value)
}

// CommittedProposal decodes a logged txn (TxnHeader | record | TxnDigest)
// into a Proposal for the apply function of a commit path.
func CommittedProposal(data []byte) (*Proposal, error) {
	hdr, txn, digest, has, err := DecodeTxnDigest(data)
	if err != nil {
		return nil, err
	}
	return &Proposal{Hdr: hdr, Txn: txn, Digest: digest, HasDigest: has}, nil
}

// SyncDoneProposal is what a learner's commit path applies when the leader
// answers the oldest forwarded sync.
func SyncDoneProposal() *Proposal { return &Proposal{SyncDone: true} }

type fwdKey struct {
	session int64
	cxid    int32
}

// forward hands a request to the learner's commit path, remembering it so
// the committed txn (or the SYNC) can answer it.
func (s *Server) forward(r *request) {
	f := Forwarded{Session: r.session, Cxid: r.xid, Op: r.op, Body: r.raw}
	if r.c != nil {
		f.Auth = r.c.authIDs()
	}
	switch r.op {
	case wire.OpCreateSession:
		f.Body = binary.BigEndian.AppendUint32(nil, uint32(r.timeout))
		f.Cxid = 0
	case wire.OpCloseSession:
		f.Body = nil
	}
	s.fwdMu.Lock()
	if r.op == wire.OpSync {
		s.syncs = append(s.syncs, r)
	} else {
		s.fwd[fwdKey{f.Session, f.Cxid}] = r
	}
	s.fwdMu.Unlock()
	s.learner.Forward(f)
}

// claim attaches the waiting local request to a committed txn of a
// learner.
func (s *Server) claim(p *Proposal) {
	k := fwdKey{p.Hdr.ClientID, p.Hdr.Cxid}
	if p.Hdr.Type == wire.OpCreateSession {
		k.cxid = 0
	}
	s.fwdMu.Lock()
	if r, ok := s.fwd[k]; ok {
		delete(s.fwd, k)
		p.req = r
	}
	s.fwdMu.Unlock()
}

// syncDone answers the oldest forwarded sync.
func (s *Server) syncDone() *request {
	s.fwdMu.Lock()
	defer s.fwdMu.Unlock()
	if len(s.syncs) == 0 {
		s.log.Warn("SYNC from the leader with no sync pending")
		return nil
	}
	r := s.syncs[0]
	s.syncs = s.syncs[1:]
	s.syncReply(r)
	return r
}

// syncReply builds a sync's reply (tree locked, everything before it
// applied).
func (s *Server) syncReply(r *request) {
	d := wire.NewDecoder(r.raw)
	var q wire.PathRequest
	q.Decode(d)
	r.zxid = s.lastZxid.Load()
	if d.Err() != nil {
		r.reply = frame(&wire.ReplyHeader{Xid: r.xid, Zxid: r.zxid, Err: wire.ErrMarshallingError}, nil)
	} else {
		r.reply = frame(&wire.ReplyHeader{Xid: r.xid, Zxid: r.zxid}, &q)
	}
}

// failForwarded ends every request still waiting for the leader: the
// connections are closed with the server, as ZooKeeper drops its clients
// when a learner loses its leader.
func (s *Server) failForwarded() {
	s.fwdMu.Lock()
	var rs []*request
	for k, r := range s.fwd {
		rs = append(rs, r)
		delete(s.fwd, k)
	}
	rs = append(rs, s.syncs...)
	s.syncs = nil
	s.fwdMu.Unlock()
	for _, r := range rs {
		if r.c != nil {
			go r.c.close()
		}
		if r.done != nil {
			close(r.done)
		}
	}
}

// SubmitForwarded queues a request a learner forwarded for prep, as if a
// local client had sent it; its reply goes out on the learner.
func (s *Server) SubmitForwarded(f Forwarded) {
	r := &request{session: f.Session, xid: f.Cxid, op: f.Op, write: true, remoteAuth: f.Auth, owner: f.From}
	if r.remoteAuth == nil {
		r.remoteAuth = []wire.Id{}
	}
	switch f.Op {
	case wire.OpCreateSession:
		if len(f.Body) >= 4 {
			r.timeout = int32(binary.BigEndian.Uint32(f.Body))
		}
	case wire.OpCloseSession:
	default:
		var ok bool
		r.rec, ok = decodeWrite(f.Op, f.Body)
		r.bad = !ok
		if ok {
			s.warmWrite(r.rec)
		}
	}
	s.submit(r)
}

// TouchSessions records the activity a learner reported with its PING.
func (s *Server) TouchSessions(touches map[int64]int32) {
	now := s.nowMs()
	s.mu.Lock()
	for id := range touches {
		s.tracker.Touch(id, now)
	}
	s.mu.Unlock()
}

// RevalidateSession tells learner from whether a session a client resumes
// on it is alive, touching it and making from its owner if so.
func (s *Server) RevalidateSession(from, id int64, timeout int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.tracker.Get(id)
	if !ok || sess.Closing {
		return false
	}
	s.tracker.Touch(id, s.nowMs())
	s.owners[id] = from
	return true
}

// setOwner records which server a session's client is connected to (the
// leader's view; requests arriving through another are SESSIONMOVED).
func (s *Server) setOwner(id, owner int64) {
	s.mu.Lock()
	s.owners[id] = owner
	s.mu.Unlock()
}

// TakeTouched returns the sessions touched on this learner since the last
// call, with their timeouts (what a learner's PING reply carries).
func (s *Server) TakeTouched() map[int64]int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.touched
	s.touched = map[int64]int32{}
	return t
}

// WriteSnapStream writes the tree as a SNAP sync stream (fuzzy, like a
// snapshot) and returns the zxid it was started at.
func (s *Server) WriteSnapStream(w io.Writer) (int64, error) {
	if s.pebbleStore() != nil {
		// exact, from a consistent Pebble view (see WritePebbleSnapStream)
		return s.WritePebbleSnapStream(w)
	}
	zxid := s.lastZxid.Load()
	return zxid, snapshot.WriteStream(w, s.tree, &s.treeMu)
}

// LastZxid is the zxid of the last applied txn.
func (s *Server) LastZxid() int64 { return s.lastZxid.Load() }

// Logger is the server's logger.
func (s *Server) Logger() *zap.Logger { return s.log }
