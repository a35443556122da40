package zab

import "github.com/zkserver/zkserver/wire"

// The ZAB cores (Leader, Learner) are state machines: each input (a packet,
// a tick, a durable-write notice, a local proposal) returns the actions the
// shell must carry out, in order. The real shell runs them on sockets, the
// txn log and the server; the simulator on an in-memory network and disk.

// Action is one thing a core asks its shell to do.
type Action interface{ isAction() }

// Send queues a packet for a peer (the leader for a learner). Packets to
// one peer leave in the order they were queued.
type Send struct {
	To  int64
	Pkt wire.QuorumPacket
}

// SendSync queues a sync stream for a learner: the plan's first packet
// (for SNAP followed by a snapshot of the tree at Plan.Zxid and
// "BenWasHere"), the plan's queue, then Then (outstanding proposals and
// NEWLEADER).
type SendSync struct {
	To   int64
	Plan SyncPlan
	Then []wire.QuorumPacket
}

// Append logs entries in the local txn log; each is reported durable with
// the core's Durable input (group commit).
type Append struct{ Entries []Entry }

// AppendSync logs entries (none: only a barrier) and waits until they and
// everything appended before are durable before the next action.
type AppendSync struct{ Entries []Entry }

// Apply hands committed entries, in zxid order, to the tree: through the
// serving server once Serve has run, directly to the tree before.
type Apply struct{ Entries []Entry }

// ApplySyncDone answers the oldest sync forwarded by this learner, in order
// with the commits applied before it.
type ApplySyncDone struct{}

// PersistEpoch writes an epoch file (acceptedEpoch or currentEpoch)
// atomically before the next action.
type PersistEpoch struct {
	Name  string
	Epoch int64
}

// Truncate cuts the local txn log after Zxid and reloads the tree from
// snapshot and log (a learner told TRUNC).
type Truncate struct{ Zxid int64 }

// TakeSnapshot writes a snapshot of the tree now (a learner after a SNAP or
// TRUNC sync, before acknowledging NEWLEADER).
type TakeSnapshot struct{}

// Serve starts serving clients; a leader's first txn gets NextZxid.
type Serve struct{ NextZxid int64 }

// Submit hands a request forwarded by a learner to the leader's server.
type Submit struct {
	From int64
	Req  Request
}

// Touch records the session activity a learner reported with a PING.
type Touch struct{ Sessions map[int64]int32 }

// Revalidate asks the leader's server whether a session lives; the shell
// answers the learner with a REVALIDATE packet.
type Revalidate struct {
	From    int64
	Session int64
	Timeout int32
}

// Drop closes the connection of one learner.
type Drop struct {
	Sid    int64
	Reason string
}

// Stop ends the role (the server goes back to looking).
type Stop struct{ Reason string }

func (Send) isAction()          {}
func (SendSync) isAction()      {}
func (Append) isAction()        {}
func (AppendSync) isAction()    {}
func (Apply) isAction()         {}
func (ApplySyncDone) isAction() {}
func (PersistEpoch) isAction()  {}
func (Truncate) isAction()      {}
func (TakeSnapshot) isAction()  {}
func (Serve) isAction()         {}
func (Submit) isAction()        {}
func (Touch) isAction()         {}
func (Revalidate) isAction()    {}
func (Drop) isAction()          {}
func (Stop) isAction()          {}

// Request is a client request a learner forwarded (REQUEST packet).
type Request struct {
	Session int64
	Cxid    int32
	Op      wire.Op
	Body    []byte
	Auth    []wire.Id
}

// EncodeRequest builds a REQUEST packet.
func EncodeRequest(r Request) wire.QuorumPacket {
	e := wire.Encoder{B: make([]byte, 0, 16+len(r.Body))}
	e.Long(r.Session)
	e.Int(r.Cxid)
	e.Int(int32(r.Op))
	e.B = append(e.B, r.Body...)
	auth := r.Auth
	if auth == nil {
		auth = []wire.Id{}
	}
	return wire.QuorumPacket{Type: wire.PacketRequest, Zxid: -1, Data: e.B, AuthInfo: auth}
}

// DecodeRequest parses a REQUEST packet's data.
func DecodeRequest(p *wire.QuorumPacket) (Request, error) {
	d := wire.NewDecoder(p.Data)
	r := Request{Session: d.Long(), Cxid: d.Int(), Op: wire.Op(d.Int()), Auth: p.AuthInfo}
	if err := d.Err(); err != nil {
		return r, err
	}
	r.Body = p.Data[16:]
	return r, nil
}

// EncodeTouches builds a learner's PING reply data: {long session, int
// timeout} for each session touched.
func EncodeTouches(t map[int64]int32) []byte {
	e := wire.Encoder{B: make([]byte, 0, 12*len(t))}
	for id, to := range t {
		e.Long(id)
		e.Int(to)
	}
	return e.B
}

// DecodeTouches parses a PING reply's data.
func DecodeTouches(b []byte) (map[int64]int32, error) {
	d := wire.NewDecoder(b)
	m := map[int64]int32{}
	for d.Remaining() >= 12 && d.Err() == nil {
		id := d.Long()
		m[id] = d.Int()
	}
	if d.Remaining() != 0 {
		return m, errTrailing
	}
	return m, d.Err()
}
