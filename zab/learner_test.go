package zab

import (
	"encoding/binary"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

// syncedLearner returns a learner that got LEADERINFO for epoch 2.
func syncedLearner(t *testing.T, observer bool) *Learner {
	t.Helper()
	f := NewLearner(LearnerConfig{ID: 4, Observer: observer, AcceptedEpoch: 1, CurrentEpoch: 1,
		LastZxid: wire.MakeZxid(1, 3), InitLimit: 10, SyncLimit: 5})
	f.Start()
	li := wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: wire.MakeZxid(2, 0), Data: binary.BigEndian.AppendUint32(nil, ProtocolVersion)}
	for _, a := range f.Receive(&li) {
		if s, ok := a.(Stop); ok {
			t.Fatalf("LEADERINFO: %s", s.Reason)
		}
	}
	return f
}

// An observer synced by DIFF gets the txns it lacks as PROPOSAL+COMMIT
// pairs, as a follower does (found by the simulator: the observer left
// the leader at every DIFF that carried txns).
func TestObserverDiffSyncCarriesProposals(t *testing.T) {
	f := syncedLearner(t, true)
	z := wire.MakeZxid(1, 4)
	var applied []int64
	for _, p := range []wire.QuorumPacket{
		{Type: wire.PacketDiff, Zxid: z},
		{Type: wire.PacketProposal, Zxid: z, Data: []byte("txn")},
		{Type: wire.PacketCommit, Zxid: z},
		{Type: wire.PacketNewLeader, Zxid: wire.MakeZxid(2, 0)},
	} {
		for _, a := range f.Receive(&p) {
			switch a := a.(type) {
			case Stop:
				t.Fatalf("%s: %s", wire.PacketTypeName(p.Type), a.Reason)
			case Apply:
				for _, e := range a.Entries {
					applied = append(applied, e.Zxid)
				}
			case Send:
				if a.Pkt.Type == wire.PacketAck && a.Pkt.Zxid != wire.MakeZxid(2, 0) {
					t.Errorf("observer acknowledged proposal %x", a.Pkt.Zxid)
				}
			}
		}
	}
	if len(applied) != 1 || applied[0] != z {
		t.Fatalf("applied %x, want [%x]", applied, z)
	}
	// in broadcast an observer only takes INFORM
	up := wire.QuorumPacket{Type: wire.PacketUpToDate}
	f.Receive(&up)
	p := wire.QuorumPacket{Type: wire.PacketProposal, Zxid: wire.MakeZxid(2, 1), Data: []byte("x")}
	acts := f.Receive(&p)
	if len(acts) != 1 {
		t.Fatalf("PROPOSAL in broadcast: %v", acts)
	}
	if _, ok := acts[0].(Stop); !ok {
		t.Fatalf("PROPOSAL in broadcast to an observer: %T, want Stop", acts[0])
	}
}
