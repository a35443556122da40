package quorum

import (
	"sync"

	"github.com/zkserver/zkserver/admin"
	"github.com/zkserver/zkserver/server"
)

// adminState is what the AdminServer reads of a peer: the client-facing
// server of the current role and where the peer is in ZAB. The peer
// implements admin.Source with it.
type adminState struct {
	mu       sync.Mutex
	srv      *server.Server
	leader   int64
	decided  bool
	lastZxid int64
}

var _ admin.Source = (*Peer)(nil)

func (a *adminState) init() { a.leader = -1 }

// looking: an election starts; the role's server is gone.
func (a *adminState) looking(lastZxid int64) {
	a.mu.Lock()
	a.srv, a.decided, a.lastZxid = nil, false, lastZxid
	a.mu.Unlock()
}

// elected: the election chose leader; discovery and sync follow.
func (a *adminState) elected(leader int64) {
	a.mu.Lock()
	a.leader, a.decided = leader, true
	a.mu.Unlock()
}

// serverBuilt: the role built its client-facing server (after the sync).
func (a *adminState) serverBuilt(s *server.Server) {
	a.mu.Lock()
	a.srv = s
	a.mu.Unlock()
}

// Server is the current role's client-facing server, nil during an
// election.
func (p *Peer) Server() *server.Server {
	p.adm.mu.Lock()
	defer p.adm.mu.Unlock()
	return p.adm.srv
}

// Peer reports the leader and the ZAB phase: election until a leader is
// chosen, discovery until the role serves (the sync is part of it here:
// the roles do not tell the two apart), then broadcast.
func (p *Peer) Peer() *admin.PeerState {
	a := &p.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	st := &admin.PeerState{LeaderID: a.leader, ZabState: "election", LastZxid: a.lastZxid}
	switch {
	case a.srv != nil && a.srv.Running():
		st.ZabState = "broadcast"
	case a.decided:
		st.ZabState = "discovery"
	}
	return st
}
