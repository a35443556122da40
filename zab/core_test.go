package zab

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

func ackEpochPkt(lastZxid int64, curEpoch int32) *wire.QuorumPacket {
	return &wire.QuorumPacket{Type: wire.PacketAckEpoch, Zxid: lastZxid, Data: binary.BigEndian.AppendUint32(nil, uint32(curEpoch))}
}

func sends(acts []Action) []Send {
	var out []Send
	for _, a := range acts {
		if s, ok := a.(Send); ok {
			out = append(out, s)
		}
	}
	return out
}

func find[T Action](acts []Action) (T, bool) {
	for _, a := range acts {
		if v, ok := a.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// establish runs a 3-voter leader (sid 3) through discovery and sync with
// followers 1 and 2, all at lastZxid.
func establish(t *testing.T, lastZxid int64, accepted ...int64) *Leader {
	t.Helper()
	l := NewLeader(LeaderConfig{ID: 3, Voters: []int64{1, 2, 3}, Observers: []int64{4}, AcceptedEpoch: accepted[2],
		CurrentEpoch: accepted[2], LastZxid: lastZxid, InitLimit: 10, SyncLimit: 5, ConfigString: "cfg"})
	if acts := l.Start(); len(acts) != 0 {
		t.Fatalf("start with one of three voters: %v", acts)
	}
	// the leader and follower 1 are a quorum of 3: the epoch is fixed
	// then, one above both accepted epochs (follower 2's comes too late)
	acts := l.Connect(1, false, accepted[0])
	pe, ok := find[PersistEpoch](acts)
	want := max(accepted[0], accepted[2]) + 1
	if !ok || pe.Name != AcceptedEpochFile || pe.Epoch != want {
		t.Fatalf("epoch fixed by a quorum: %v, want acceptedEpoch %d", acts, want)
	}
	if s := sends(l.Connect(2, false, accepted[1])); len(s) != 1 || s[0].Pkt.Type != wire.PacketLeaderInfo || s[0].Pkt.Zxid != wire.MakeZxid(want, 0) {
		t.Fatalf("LEADERINFO to a later learner: %v", s)
	}
	// the followers' current epochs are not above the leader's
	acts = l.Receive(1, ackEpochPkt(lastZxid, int32(accepted[2])))
	if pe, ok := find[PersistEpoch](acts); !ok || pe.Name != CurrentEpochFile || pe.Epoch != want {
		t.Fatalf("epoch acked by a quorum: %v", acts)
	}
	if ss, ok := find[SendSync](acts); !ok || ss.To != 1 || ss.Plan.Kind != wire.PacketDiff {
		t.Fatalf("sync of follower 1: %v", acts)
	}
	if ss, ok := find[SendSync](l.Receive(2, ackEpochPkt(lastZxid, -1))); !ok || ss.To != 2 {
		t.Fatal("a follower acking the epoch later is synced at once")
	}
	nl := wire.MakeZxid(want, 0)
	acts = l.Receive(1, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: nl})
	sv, ok := find[Serve](acts)
	if !ok || sv.NextZxid != nl+1 {
		t.Fatalf("NEWLEADER acked by a quorum: %v, want Serve at %x", acts, nl+1)
	}
	if s := sends(l.Receive(2, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: nl})); len(s) != 1 || s[0].Pkt.Type != wire.PacketUpToDate {
		t.Fatalf("a later NEWLEADER ack gets UPTODATE at once: %v", s)
	}
	return l
}

func TestLeaderNewEpochIsOneAboveEveryAccepted(t *testing.T) {
	l := establish(t, wire.MakeZxid(4, 7), 5, 7, 4)
	if l.Epoch() != 6 {
		t.Fatalf("epoch %d, want 6", l.Epoch())
	}
}

func TestLeaderStopsWhenFollowerIsAhead(t *testing.T) {
	l := NewLeader(LeaderConfig{ID: 3, Voters: []int64{1, 2, 3}, AcceptedEpoch: 2, CurrentEpoch: 2,
		LastZxid: wire.MakeZxid(2, 5), InitLimit: 10, SyncLimit: 5})
	l.Start()
	l.Connect(1, false, 2)
	acts := l.Receive(1, ackEpochPkt(wire.MakeZxid(2, 9), 2))
	if st, ok := find[Stop](acts); !ok || !strings.Contains(st.Reason, "ahead") {
		t.Fatalf("follower with a newer zxid in the same epoch: %v, want Stop", acts)
	}
}

func TestLeaderCommitsInOrderOnQuorum(t *testing.T) {
	l := establish(t, 0, 0, 0, 0)
	z1, z2 := wire.MakeZxid(1, 1), wire.MakeZxid(1, 2)
	acts := l.Propose([]Entry{{Zxid: z1, Data: []byte("a")}, {Zxid: z2, Data: []byte("b")}})
	if _, ok := find[Append](acts); !ok || len(sends(acts)) != 4 {
		t.Fatalf("propose: %v, want Append and 2 PROPOSALs to each follower", acts)
	}
	// a follower's ACK of z2 alone with the leader's fsync of z2 commits
	// both, in order (the ACK covers z1: followers log in order)
	l.Durable(z2)
	acts = l.Receive(1, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: z2})
	ap, ok := find[Apply](acts)
	if !ok || len(ap.Entries) != 2 || ap.Entries[0].Zxid != z1 || ap.Entries[1].Zxid != z2 {
		t.Fatalf("commit: %v", acts)
	}
	var commits []int64
	for _, s := range sends(acts) {
		if s.Pkt.Type == wire.PacketCommit && s.To == 2 {
			commits = append(commits, s.Pkt.Zxid)
		}
	}
	if !reflect.DeepEqual(commits, []int64{z1, z2}) {
		t.Fatalf("COMMITs to follower 2: %x, want in order", commits)
	}
	// late and duplicate ACKs are ignored
	if acts := l.Receive(2, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: z1}); len(acts) != 0 {
		t.Fatalf("late ACK: %v", acts)
	}
}

func TestLeaderWithoutFollowerAcksDoesNotCommit(t *testing.T) {
	l := establish(t, 0, 0, 0, 0)
	z := wire.MakeZxid(1, 1)
	l.Propose([]Entry{{Zxid: z, Data: []byte("a")}})
	if acts := l.Durable(z); len(acts) != 0 {
		t.Fatalf("the leader alone is no quorum of 3: %v", acts)
	}
	// an observer's ACK never counts
	l.Connect(4, true, 1)
	if acts := l.Receive(4, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: z}); len(acts) != 0 {
		t.Fatalf("observer ACK: %v", acts)
	}
}

func TestLeaderSyncWaitsForOutstanding(t *testing.T) {
	l := establish(t, 0, 0, 0, 0)
	req := EncodeRequest(Request{Session: 7, Cxid: 1, Op: wire.OpSync, Body: []byte{0, 0, 0, 1, '/'}})
	if acts := l.Receive(1, &req); len(acts) != 1 || acts[0].(Send).Pkt.Type != wire.PacketSync {
		t.Fatalf("sync with nothing outstanding: %v", acts)
	}
	z := wire.MakeZxid(1, 1)
	l.Propose([]Entry{{Zxid: z, Data: []byte("a")}})
	if acts := l.Receive(1, &req); len(acts) != 0 {
		t.Fatalf("sync with a proposal outstanding answered early: %v", acts)
	}
	l.Durable(z)
	acts := l.Receive(2, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: z})
	var order []int32
	for _, s := range sends(acts) {
		if s.To == 1 {
			order = append(order, s.Pkt.Type)
		}
	}
	if !reflect.DeepEqual(order, []int32{wire.PacketCommit, wire.PacketSync}) {
		t.Fatalf("to the syncing learner: %v, want COMMIT then SYNC", order)
	}
}

func TestLeaderStepsDownBeforeTheCounterRollsOver(t *testing.T) {
	l := establish(t, 0, 0, 0, 0)
	last, over := wire.MakeZxid(1, 0xfffffffe), wire.MakeZxid(1, 0xffffffff)
	acts := l.Propose([]Entry{{Zxid: last, Data: []byte("a")}, {Zxid: over, Data: []byte("b")}})
	ap, ok := find[Append](acts)
	if !ok || len(ap.Entries) != 1 || ap.Entries[0].Zxid != last {
		t.Fatalf("proposed: %v, want only %x", acts, last)
	}
	for _, s := range sends(acts) {
		if s.Pkt.Zxid == over {
			t.Fatalf("counter 0xffffffff sent: %v", s)
		}
	}
	if _, ok := find[Stop](acts); !ok {
		t.Fatalf("no step down at the rollover: %v", acts)
	}
	if acts := l.Propose([]Entry{{Zxid: wire.MakeZxid(2, 0), Data: []byte("c")}}); len(acts) != 0 {
		t.Fatalf("proposing after stepping down: %v", acts)
	}
}

func TestLeaderLocalSyncFollowsCommits(t *testing.T) {
	l := establish(t, 0, 0, 0, 0)
	if acts := l.SyncLocal(); len(acts) != 1 {
		t.Fatalf("local sync with nothing outstanding: %v", acts)
	} else if _, ok := acts[0].(ApplySyncDone); !ok {
		t.Fatalf("local sync with nothing outstanding: %v", acts)
	}
	z := wire.MakeZxid(1, 1)
	l.Propose([]Entry{{Zxid: z, Data: []byte("a")}})
	if acts := l.SyncLocal(); len(acts) != 0 {
		t.Fatalf("local sync answered before the outstanding commit: %v", acts)
	}
	l.Durable(z)
	acts := l.Receive(1, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: z})
	var kinds []string
	for _, a := range acts {
		if _, ok := a.(Send); !ok {
			kinds = append(kinds, reflect.TypeOf(a).Name())
		}
	}
	if !reflect.DeepEqual(kinds, []string{"Apply", "ApplySyncDone"}) {
		t.Fatalf("after the commit: %v, want Apply then ApplySyncDone", kinds)
	}
}

func TestLeaderInformsObservers(t *testing.T) {
	l := establish(t, 0, 0, 0, 0)
	l.Connect(4, true, 0)
	l.Receive(4, ackEpochPkt(0, -1))
	l.Receive(4, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: wire.MakeZxid(1, 0)})
	z := wire.MakeZxid(1, 1)
	acts := l.Propose([]Entry{{Zxid: z, Data: []byte("a")}})
	for _, s := range sends(acts) {
		if s.To == 4 {
			t.Fatalf("observer got a PROPOSAL: %v", s)
		}
	}
	l.Durable(z)
	acts = l.Receive(1, &wire.QuorumPacket{Type: wire.PacketAck, Zxid: z})
	got := false
	for _, s := range sends(acts) {
		if s.To == 4 && s.Pkt.Type == wire.PacketInform && s.Pkt.Zxid == z && string(s.Pkt.Data) == "a" {
			got = true
		}
	}
	if !got {
		t.Fatalf("no INFORM to the observer: %v", acts)
	}
}

func TestLeaderStepsDownWithoutQuorum(t *testing.T) {
	l := establish(t, 0, 0, 0, 0)
	l.Gone(1)
	l.Gone(2)
	var stop bool
	for i := 0; i < 4 && !stop; i++ {
		_, stop = find[Stop](l.Tick())
	}
	if !stop {
		t.Fatal("leader alone kept leading")
	}
}

func TestLeaderDiscoveryTimesOut(t *testing.T) {
	l := NewLeader(LeaderConfig{ID: 3, Voters: []int64{1, 2, 3}, InitLimit: 2, SyncLimit: 1})
	l.Start()
	for i := 0; i < 4; i++ {
		if _, ok := find[Stop](l.Tick()); ok {
			t.Fatalf("stopped after %d half ticks, before initLimit", i+1)
		}
	}
	if st, ok := find[Stop](l.Tick()); !ok || !strings.Contains(st.Reason, "epoch") {
		t.Fatal("no timeout after initLimit ticks")
	}
}

func TestLearnerSyncOrder(t *testing.T) {
	f := NewLearner(LearnerConfig{ID: 1, AcceptedEpoch: 1, CurrentEpoch: 1, LastZxid: wire.MakeZxid(1, 9), InitLimit: 10, SyncLimit: 5})
	if s := sends(f.Start()); len(s) != 1 || s[0].Pkt.Type != wire.PacketFollowerInfo || s[0].Pkt.Zxid != wire.MakeZxid(1, 0) {
		t.Fatalf("start: %v", s)
	}
	acts := f.Receive(&wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: wire.MakeZxid(2, 0)})
	pe, _ := find[PersistEpoch](acts)
	ae := sends(acts)
	if pe.Name != AcceptedEpochFile || pe.Epoch != 2 || len(ae) != 1 || ae[0].Pkt.Zxid != wire.MakeZxid(1, 9) ||
		int32(binary.BigEndian.Uint32(ae[0].Pkt.Data)) != 1 {
		t.Fatalf("LEADERINFO: %v", acts)
	}
	// TRUNC to 1:7, then a committed proposal and an uncommitted one
	if tr, ok := find[Truncate](f.Receive(&wire.QuorumPacket{Type: wire.PacketTrunc, Zxid: wire.MakeZxid(1, 7)})); !ok || tr.Zxid != wire.MakeZxid(1, 7) {
		t.Fatal("no Truncate")
	}
	// proposals of the sync are logged as they come, acknowledged later
	if acts := f.Receive(&wire.QuorumPacket{Type: wire.PacketProposal, Zxid: wire.MakeZxid(1, 8), Data: []byte("p8")}); len(sends(acts)) != 0 {
		t.Fatalf("sync proposal: %v", acts)
	} else if ap, ok := find[Append](acts); !ok || ap.Entries[0].Zxid != wire.MakeZxid(1, 8) {
		t.Fatalf("sync proposal not logged at once: %v", acts)
	}
	if ap, ok := find[Apply](f.Receive(&wire.QuorumPacket{Type: wire.PacketCommit, Zxid: wire.MakeZxid(1, 8)})); !ok || ap.Entries[0].Zxid != wire.MakeZxid(1, 8) {
		t.Fatal("commit during sync not applied")
	}
	f.Receive(&wire.QuorumPacket{Type: wire.PacketProposal, Zxid: wire.MakeZxid(2, 1), Data: []byte("q1")})
	acts = f.Receive(&wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: wire.MakeZxid(2, 0)})
	// snapshot (after TRUNC), wait until the log is durable, currentEpoch,
	// then ACK NEWLEADER, then ACK the held uncommitted proposal
	var kinds []string
	for _, a := range acts {
		kinds = append(kinds, reflect.TypeOf(a).Name())
	}
	if !reflect.DeepEqual(kinds, []string{"TakeSnapshot", "AppendSync", "PersistEpoch", "Send", "Send"}) {
		t.Fatalf("NEWLEADER actions: %v", kinds)
	}

	if s := acts[4].(Send); s.Pkt.Type != wire.PacketAck || s.Pkt.Zxid != wire.MakeZxid(2, 1) {
		t.Fatalf("held proposal ack: %v", s)
	}
	acts = f.Receive(&wire.QuorumPacket{Type: wire.PacketUpToDate, Zxid: -1})
	if _, ok := find[Serve](acts); !ok {
		t.Fatalf("UPTODATE: %v", acts)
	}
	// broadcast: append, ACK after fsync, commit in order
	acts = f.Receive(&wire.QuorumPacket{Type: wire.PacketProposal, Zxid: wire.MakeZxid(2, 2), Data: []byte("q2")})
	if _, ok := find[Append](acts); !ok || len(sends(acts)) != 0 {
		t.Fatalf("proposal acked before fsync: %v", acts)
	}
	if s := sends(f.Durable(wire.MakeZxid(2, 2))); len(s) != 1 || s[0].Pkt.Zxid != wire.MakeZxid(2, 2) {
		t.Fatalf("ACK after fsync: %v", s)
	}
	// COMMIT out of order ends the role, as ZooKeeper exits
	if _, ok := find[Stop](f.Receive(&wire.QuorumPacket{Type: wire.PacketCommit, Zxid: wire.MakeZxid(2, 2)})); !ok {
		t.Fatal("COMMIT of 2:2 while 2:1 is pending was accepted")
	}
}

func TestLearnerSnapshotsAtOnceOnSNAP(t *testing.T) {
	f := NewLearner(LearnerConfig{ID: 1, InitLimit: 10, SyncLimit: 5})
	f.Start()
	f.Receive(&wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: wire.MakeZxid(1, 0)})
	if _, ok := find[TakeSnapshot](f.Receive(&wire.QuorumPacket{Type: wire.PacketSnap, Zxid: 42})); !ok {
		t.Fatal("SNAP: no snapshot before the sync goes on")
	}
	acts := f.Receive(&wire.QuorumPacket{Type: wire.PacketNewLeader, Zxid: wire.MakeZxid(1, 0)})
	if _, ok := find[TakeSnapshot](acts); ok {
		t.Fatalf("a second snapshot at NEWLEADER: %v", acts)
	}
	if f.LastZxid() != 42 {
		t.Fatalf("last zxid %x after SNAP 42", f.LastZxid())
	}
}

func TestLearnerPingReplyIsNeverNull(t *testing.T) {
	f := NewLearner(LearnerConfig{ID: 1, InitLimit: 10, SyncLimit: 5})
	f.Start()
	f.Receive(&wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: wire.MakeZxid(1, 0)})
	s := sends(f.Receive(&wire.QuorumPacket{Type: wire.PacketPing, Zxid: 7}))
	if len(s) != 1 || s[0].Pkt.Data == nil || s[0].Pkt.Zxid != 7 {
		t.Fatalf("PING reply during the sync: %+v, want zxid 7 and an empty (not null) buffer", s)
	}
}

func TestLearnerRefusesOlderEpoch(t *testing.T) {
	f := NewLearner(LearnerConfig{ID: 1, AcceptedEpoch: 5, CurrentEpoch: 4, InitLimit: 10, SyncLimit: 5})
	f.Start()
	if _, ok := find[Stop](f.Receive(&wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: wire.MakeZxid(4, 0)})); !ok {
		t.Fatal("LEADERINFO with an older epoch accepted")
	}
	g := NewLearner(LearnerConfig{ID: 1, AcceptedEpoch: 5, CurrentEpoch: 4, InitLimit: 10, SyncLimit: 5})
	g.Start()
	s := sends(g.Receive(&wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: wire.MakeZxid(5, 0)}))
	if len(s) != 1 || int32(binary.BigEndian.Uint32(s[0].Pkt.Data)) != -1 {
		t.Fatalf("same epoch: ACKEPOCH should carry -1: %v", s)
	}
}

func TestLearnerGivesUpOnSilentLeader(t *testing.T) {
	f := NewLearner(LearnerConfig{ID: 1, InitLimit: 3, SyncLimit: 2})
	f.Start()
	for i := 0; i < 6; i++ {
		if _, ok := find[Stop](f.Tick()); ok {
			t.Fatalf("gave up after %d half ticks (initLimit 3 ticks)", i+1)
		}
	}
	if _, ok := find[Stop](f.Tick()); !ok {
		t.Fatal("still waiting after initLimit")
	}
}

func TestRequestAndTouchCodecs(t *testing.T) {
	r := Request{Session: 0x0102, Cxid: 9, Op: wire.OpCreate, Body: []byte{1, 2, 3}, Auth: []wire.Id{{Scheme: "ip", ID: "127.0.0.1"}}}
	p := EncodeRequest(r)
	got, err := DecodeRequest(&p)
	if err != nil || !reflect.DeepEqual(got, r) {
		t.Fatalf("request round trip: %+v %v", got, err)
	}
	if _, err := DecodeRequest(&wire.QuorumPacket{Data: []byte{1, 2}}); err == nil {
		t.Fatal("short REQUEST decoded")
	}
	m := map[int64]int32{1: 3000, 2: 4000}
	back, err := DecodeTouches(EncodeTouches(m))
	if err != nil || !reflect.DeepEqual(back, m) {
		t.Fatalf("touches: %v %v", back, err)
	}
	if _, err := DecodeTouches([]byte{1, 2, 3}); err == nil {
		t.Fatal("trailing bytes accepted")
	}
}

func FuzzLeaderReceive(f *testing.F) {
	f.Add(int32(wire.PacketRequest), int64(-1), []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1})
	f.Add(int32(wire.PacketPing), int64(1), []byte{1, 2, 3})
	f.Add(int32(wire.PacketRevalidate), int64(-1), []byte{0})
	f.Fuzz(func(t *testing.T, typ int32, zxid int64, data []byte) {
		l := establish(t, 0, 0, 0, 0)
		// any packet from a learner is handled or drops that learner; it
		// never panics
		l.Receive(1, &wire.QuorumPacket{Type: typ, Zxid: zxid, Data: data})
		l.Receive(2, &wire.QuorumPacket{Type: wire.PacketPing, Zxid: zxid, Data: data})
	})
}

func FuzzLearnerReceive(f *testing.F) {
	f.Add(int32(wire.PacketCommit), int64(5), []byte{})
	f.Add(int32(wire.PacketNewLeader), int64(1<<32), []byte("cfg"))
	f.Fuzz(func(t *testing.T, typ int32, zxid int64, data []byte) {
		l := NewLearner(LearnerConfig{ID: 1, InitLimit: 3, SyncLimit: 2})
		l.Start()
		l.Receive(&wire.QuorumPacket{Type: wire.PacketLeaderInfo, Zxid: 1 << 32})
		l.Receive(&wire.QuorumPacket{Type: typ, Zxid: zxid, Data: data})
		l.Receive(&wire.QuorumPacket{Type: typ, Zxid: zxid + 1, Data: data})
	})
}
