package election

import (
	"math"
	"testing"
	"time"

	"github.com/zkserver/zkserver/wire"
)

const ms = time.Millisecond

func looking(leader, zxid, round, peerEpoch int64) wire.Notification {
	return wire.Notification{State: wire.StateLooking, Leader: leader, Zxid: zxid, ElectionEpoch: round,
		PeerEpoch: peerEpoch, HasPeerEpoch: true, Version: 2, Config: "cfg"}
}

func withState(n wire.Notification, st int32) wire.Notification {
	n.State = st
	return n
}

func newM(t *testing.T, id int64, voters ...int64) *Machine {
	t.Helper()
	return NewMachine(Config{MyID: id, Voters: voters, ConfigString: "cfg"})
}

// sendsTo returns the notifications in out addressed to sid.
func sendsTo(out Output, sid int64) []wire.Notification {
	var r []wire.Notification
	for _, s := range out.Sends {
		if s.To == sid {
			r = append(r, s.Msg)
		}
	}
	return r
}

func TestVoteOrder(t *testing.T) {
	cases := []struct {
		name               string
		nID, nZxid, nEpoch int64
		cID, cZxid, cEpoch int64
		want               bool
	}{
		{"higher epoch beats higher zxid", 1, 5, 3, 2, 100, 2, true},
		{"lower epoch loses", 3, 100, 1, 1, 0, 2, false},
		{"same epoch higher zxid", 1, 10, 2, 3, 9, 2, true},
		{"same epoch lower zxid", 3, 9, 2, 1, 10, 2, false},
		{"all equal but sid higher", 3, 10, 2, 2, 10, 2, true},
		{"all equal sid lower", 1, 10, 2, 2, 10, 2, false},
		{"identical vote is not better", 2, 10, 2, 2, 10, 2, false},
		{"anything beats an observer's MIN vote", 1, -1, 0, math.MinInt64, math.MinInt64, math.MinInt64, true},
		{"negative zxid", 1, -1, 0, 2, 0, 0, false},
	}
	for _, c := range cases {
		if got := better(c.nID, c.nZxid, c.nEpoch, c.cID, c.cZxid, c.cEpoch); got != c.want {
			t.Errorf("%s: better = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestVoteEquality(t *testing.T) {
	v := Vote{Leader: 3, Zxid: 7, ElectionEpoch: 2, PeerEpoch: 1}
	w := v
	w.Zxid = 8
	cases := []struct {
		name string
		a, b tallied
		want bool
	}{
		{"looking compares all", tallied{v: v}, tallied{v: w}, false},
		{"looking identical", tallied{v: v}, tallied{v: v}, true},
		{"one side looking compares all", tallied{v: v, state: wire.StateFollowing, version: 2}, tallied{v: w}, false},
		{"both settled: leader+peerEpoch", tallied{v: v, state: wire.StateFollowing, version: 2},
			tallied{v: Vote{3, 99, 9, 1}, state: wire.StateLeading, version: 2}, true},
		{"both settled, epochs differ", tallied{v: v, state: wire.StateFollowing, version: 2},
			tallied{v: Vote{3, 7, 2, 4}, state: wire.StateLeading, version: 2}, false},
		{"version 0 vs 2: leader only", tallied{v: v, state: wire.StateFollowing, version: 0},
			tallied{v: Vote{3, 7, 2, 4}, state: wire.StateLeading, version: 2}, true},
		{"version 0 vs 2, leader differs", tallied{v: v, state: wire.StateFollowing},
			tallied{v: Vote{2, 7, 2, 1}, state: wire.StateLeading, version: 2}, false},
	}
	for _, c := range cases {
		if got := c.a.equal(c.b); got != c.want {
			t.Errorf("%s: equal = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestStartLookingBroadcasts(t *testing.T) {
	m := newM(t, 2, 1, 2, 3)
	out := m.StartLooking(0, 0x100000005, 1)
	if len(out.Sends) != 2 || len(sendsTo(out, 2)) != 0 {
		t.Fatalf("want one send to each other voter and none to self, got %+v", out.Sends)
	}
	for _, sid := range []int64{1, 3} {
		got := sendsTo(out, sid)
		want := looking(2, 0x100000005, 1, 1)
		if len(got) != 1 || got[0] != want {
			t.Fatalf("to %d: got %+v want %+v", sid, got, want)
		}
	}
	if m.LogicalClock() != 1 || m.State() != wire.StateLooking {
		t.Fatalf("clock %d state %d", m.LogicalClock(), m.State())
	}
	if d, ok := m.NextDeadline(); !ok || d != 200*ms {
		t.Fatalf("deadline %v %v", d, ok)
	}
}

// A three-server election seen from server 1: it adopts the best vote,
// waits finalizeWait after a quorum, then decides.
func TestElectionDecidesAfterFinalizeWait(t *testing.T) {
	m := newM(t, 1, 1, 2, 3)
	m.StartLooking(0, 0x100000005, 1)
	// 3 proposes itself with a higher zxid: better, adopt and re-broadcast.
	out := m.Receive(10*ms, 3, looking(3, 0x100000009, 1, 1))
	if got := sendsTo(out, 2); len(got) != 1 || got[0].Leader != 3 {
		t.Fatalf("adopting 3 must be re-broadcast, got %+v", out.Sends)
	}
	if m.Proposal().Leader != 3 {
		t.Fatalf("proposal %+v", m.Proposal())
	}
	// Our own (looped-back) vote for 3 plus 3's own vote is a quorum of 3:
	// the finalize wait starts.
	if d, ok := m.NextDeadline(); !ok || d != 210*ms {
		t.Fatalf("finalize deadline %v %v, want 210ms", d, ok)
	}
	if out := m.Tick(209 * ms); out.Decided != nil {
		t.Fatal("decided before finalize wait")
	}
	out = m.Tick(210 * ms)
	if out.Decided == nil || out.Decided.State != wire.StateFollowing || out.Decided.Vote != (Vote{3, 0x100000009, 1, 1}) {
		t.Fatalf("decision %+v", out.Decided)
	}
	if m.State() != wire.StateFollowing || m.CurrentVote() != out.Decided.Vote {
		t.Fatal("state/current vote not updated")
	}
	if _, ok := m.NextDeadline(); ok {
		t.Fatal("no deadline after deciding")
	}
}

func TestLeaderDecidesLeading(t *testing.T) {
	m := newM(t, 3, 1, 2, 3)
	m.StartLooking(0, 0x100000009, 1)
	out := m.Receive(5*ms, 1, looking(3, 0x100000009, 1, 1))
	if out.Decided != nil {
		t.Fatal("decided without the wait")
	}
	out = m.Tick(205 * ms)
	if out.Decided == nil || out.Decided.State != wire.StateLeading || out.Decided.Vote.Leader != 3 {
		t.Fatalf("decision %+v", out.Decided)
	}
}

func TestFinalizeWaitCancelledByBetterVote(t *testing.T) {
	m := newM(t, 1, 1, 2, 3)
	m.StartLooking(0, 0x100000005, 1)
	m.Receive(1*ms, 2, looking(2, 0x100000006, 1, 1))
	if m.Proposal().Leader != 2 {
		t.Fatal("should adopt 2")
	}
	if d, _ := m.NextDeadline(); d != 201*ms {
		t.Fatalf("finalize deadline %v", d)
	}
	// A vote that is not better is consumed and restarts the wait.
	m.Receive(100*ms, 2, looking(2, 0x100000006, 1, 1))
	if d, _ := m.NextDeadline(); d != 300*ms {
		t.Fatalf("finalize deadline after a non-better vote %v, want 300ms", d)
	}
	// 3 arrives with a better vote before the deadline: no decision for 2.
	out := m.Receive(150*ms, 3, looking(3, 0x100000007, 1, 1))
	if m.Proposal().Leader != 3 {
		t.Fatalf("proposal %+v", m.Proposal())
	}
	if len(sendsTo(out, 2)) != 1 {
		t.Fatal("new proposal not broadcast")
	}
	// Our vote and 3's now form a quorum for 3: a new wait from 150ms.
	if out := m.Tick(301 * ms); out.Decided != nil && out.Decided.Vote.Leader == 2 {
		t.Fatal("decided for 2 after a better vote arrived")
	}
	out = m.Tick(350 * ms)
	if out.Decided == nil || out.Decided.Vote.Leader != 3 {
		t.Fatalf("decision %+v", out.Decided)
	}
}

// A better vote that does not itself have a quorum cancels the wait: no
// decision until a quorum forms for the new proposal.
func TestFinalizeCancelledWithoutNewQuorum(t *testing.T) {
	m := newM(t, 1, 1, 2, 3, 4, 5)
	m.StartLooking(0, 0x100000001, 1)
	m.Receive(1*ms, 2, looking(2, 0x100000002, 1, 1))
	m.Receive(2*ms, 3, looking(2, 0x100000002, 1, 1))
	if d, _ := m.NextDeadline(); d != 202*ms {
		t.Fatalf("finalize deadline %v", d)
	}
	m.Receive(50*ms, 4, looking(4, 0x100000002, 1, 1))
	if m.Proposal().Leader != 4 {
		t.Fatalf("proposal %+v", m.Proposal())
	}
	// Only we and 4 vote for 4: back to the notification timeout.
	if d, _ := m.NextDeadline(); d != 250*ms {
		t.Fatalf("deadline %v, want the notification timeout 250ms", d)
	}
	if out := m.Tick(250 * ms); out.Decided != nil || !out.Timeout {
		t.Fatalf("tick %+v", out)
	}
	m.Receive(260*ms, 5, looking(4, 0x100000002, 1, 1))
	out := m.Tick(460 * ms)
	if out.Decided == nil || out.Decided.Vote.Leader != 4 {
		t.Fatalf("decision %+v", out.Decided)
	}
}

func TestEpochCatchUp(t *testing.T) {
	m := newM(t, 1, 1, 2, 3)
	m.StartLooking(0, 0x200000010, 2) // strong local vote
	// 2 is in round 5 and proposes itself with a worse vote: we jump to round
	// 5, drop recorded votes and propose our own initial vote again.
	out := m.Receive(10*ms, 2, looking(2, 0x100000001, 5, 1))
	if m.LogicalClock() != 5 {
		t.Fatalf("clock %d", m.LogicalClock())
	}
	if p := m.Proposal(); p.Leader != 1 || p.Zxid != 0x200000010 || p.PeerEpoch != 2 {
		t.Fatalf("proposal %+v", p)
	}
	if got := sendsTo(out, 2); len(got) != 1 || got[0].ElectionEpoch != 5 || got[0].Leader != 1 {
		t.Fatalf("sends %+v", out.Sends)
	}
	// A second jump to round 7 with a better vote: adopt it (compared with
	// our initial vote, not the current proposal).
	m.Receive(20*ms, 3, looking(3, 0x300000001, 7, 3))
	if p := m.Proposal(); p.Leader != 3 || p.ElectionEpoch != 7 || p.PeerEpoch != 3 {
		t.Fatalf("proposal %+v", p)
	}
	// recvset was cleared on the jump: 2's round-5 vote no longer counts;
	// ours (self loop) and 3's do.
	if len(m.recvset) != 2 || m.recvset[2] != (tallied{}) {
		t.Fatalf("recvset %+v", m.recvset)
	}
	// A stale LOOKING notification (round 5) is ignored by the election but
	// answered with our proposal and round.
	out = m.Receive(30*ms, 2, looking(2, 0x100000001, 5, 1))
	got := sendsTo(out, 2)
	if len(got) != 1 || got[0].ElectionEpoch != 7 || got[0].Leader != 3 || got[0].State != wire.StateLooking {
		t.Fatalf("answer to a lagging server %+v", out.Sends)
	}
	if _, in := m.recvset[2]; in {
		t.Fatal("stale vote recorded")
	}
}

func TestMinusOneZxidRule(t *testing.T) {
	// Our own zxid is -1: we ignore every LOOKING notification.
	m := newM(t, 1, 1, 2, 3)
	m.StartLooking(0, -1, 0)
	m.Receive(1*ms, 2, looking(2, 5, 1, 0))
	m.Receive(1*ms, 3, looking(3, 5, 1, 0))
	if m.Proposal().Leader != 1 || len(m.recvset) != 0 {
		t.Fatalf("a -1 server took part: proposal %+v recvset %v", m.Proposal(), m.recvset)
	}
	// ...but it still learns a settled leader from FOLLOWING/LEADING answers.
	m.Receive(2*ms, 3, withState(looking(3, 5, 1, 0), wire.StateLeading))
	out := m.Receive(2*ms, 2, withState(looking(3, 5, 1, 0), wire.StateFollowing))
	if out.Decided == nil || out.Decided.Vote.Leader != 3 || out.Decided.State != wire.StateFollowing {
		t.Fatalf("decision %+v", out.Decided)
	}

	// A notification whose zxid is -1 is ignored.
	m = newM(t, 1, 1, 2, 3)
	m.StartLooking(0, 0, 0)
	m.Receive(1*ms, 3, looking(3, -1, 1, 5))
	if m.Proposal().Leader != 1 {
		t.Fatalf("adopted a -1 vote: %+v", m.Proposal())
	}
	if _, in := m.recvset[3]; in {
		t.Fatal("recorded a -1 vote")
	}
}

func TestNonVotersIgnored(t *testing.T) {
	m := newM(t, 1, 1, 2, 3)
	m.StartLooking(0, 0, 0)
	// A vote for a non-member leader is ignored.
	m.Receive(1*ms, 2, looking(9, 100, 1, 9))
	if m.Proposal().Leader != 1 || len(m.recvset) != 1 {
		t.Fatalf("proposal %+v recvset %v", m.Proposal(), m.recvset)
	}
	// A message from a non-voter (observer 4) is answered with our current
	// vote, our round and our state, and has no other effect.
	out := m.Receive(2*ms, 4, looking(4, 100, 3, 9))
	got := sendsTo(out, 4)
	if len(got) != 1 || got[0].Leader != 1 || got[0].ElectionEpoch != 1 || got[0].State != wire.StateLooking || got[0].Zxid != 0 {
		t.Fatalf("answer to observer %+v", out.Sends)
	}
	if m.LogicalClock() != 1 {
		t.Fatal("a non-voter moved our clock")
	}
}

// A server joining an ensemble that already has a leader decides from the
// FOLLOWING/LEADING answers (out-of-election tally), taking their round.
func TestOutOfElectionJoin(t *testing.T) {
	m := newM(t, 1, 1, 2, 3)
	m.StartLooking(0, 0x100000003, 1)
	// The leader alone is not a quorum.
	out := m.Receive(5*ms, 3, withState(looking(3, 0x200000000, 4, 2), wire.StateLeading))
	if out.Decided != nil {
		t.Fatal("decided on one vote")
	}
	// A follower's answer for the same leader and epoch completes a quorum
	// (zxid and round may differ for settled servers).
	out = m.Receive(6*ms, 2, withState(looking(3, 0x200000005, 4, 2), wire.StateFollowing))
	if out.Decided == nil || out.Decided.State != wire.StateFollowing || out.Decided.Vote.Leader != 3 || out.Decided.Vote.PeerEpoch != 2 {
		t.Fatalf("decision %+v", out.Decided)
	}
	if m.LogicalClock() != 4 {
		t.Fatalf("clock %d, want the leader's round 4", m.LogicalClock())
	}
}

func TestOutOfElectionNeedsLeaderLeading(t *testing.T) {
	m := newM(t, 1, 1, 2, 3)
	m.StartLooking(0, 0, 0)
	// Two followers for 3, but 3 itself never said LEADING: checkLeader fails.
	m.Receive(1*ms, 2, withState(looking(3, 0, 4, 1), wire.StateFollowing))
	out := m.Receive(1*ms, 3, withState(looking(3, 0, 4, 1), wire.StateFollowing))
	if out.Decided != nil {
		t.Fatalf("decided without the leader LEADING: %+v", out.Decided)
	}
	// Followers disagreeing on the epoch do not form a quorum either.
	m2 := newM(t, 1, 1, 2, 3)
	m2.StartLooking(0, 0, 0)
	m2.Receive(1*ms, 3, withState(looking(3, 0, 4, 2), wire.StateLeading))
	out = m2.Receive(1*ms, 2, withState(looking(3, 0, 4, 1), wire.StateFollowing))
	if out.Decided != nil {
		t.Fatalf("decided with mismatched epochs: %+v", out.Decided)
	}
}

// In the same round a FOLLOWING notification counts in recvset together
// with LEADING: its vote is compared by leader only (recvset entries are
// version 0).
func TestSameRoundFollowing(t *testing.T) {
	m := newM(t, 1, 1, 2, 3, 4, 5)
	m.StartLooking(0, 0, 0)
	m.Receive(1*ms, 5, withState(looking(5, 0, 1, 0), wire.StateLeading))
	m.Receive(1*ms, 4, withState(looking(5, 0, 1, 0), wire.StateFollowing))
	out := m.Receive(1*ms, 3, withState(looking(5, 0, 1, 7), wire.StateFollowing))
	if out.Decided == nil || out.Decided.Vote.Leader != 5 {
		t.Fatalf("decision %+v", out.Decided)
	}
}

func TestAnswersWhileNotLooking(t *testing.T) {
	m := newM(t, 3, 1, 2, 3)
	m.StartLooking(0, 0x100000002, 1)
	m.Receive(1*ms, 2, looking(3, 0x100000002, 1, 1))
	if out := m.Tick(201 * ms); out.Decided == nil || out.Decided.State != wire.StateLeading {
		t.Fatalf("decision %+v", out.Decided)
	}
	// A restarted server 1 (round 1 again, or any round) is LOOKING: we
	// answer with our current vote and the vote's round, state LEADING.
	out := m.Receive(500*ms, 1, looking(1, 0, 9, 0))
	got := sendsTo(out, 1)
	want := wire.Notification{State: wire.StateLeading, Leader: 3, Zxid: 0x100000002, ElectionEpoch: 1,
		PeerEpoch: 1, HasPeerEpoch: true, Version: 2, Config: "cfg"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("answer %+v want %+v", got, want)
	}
	// After sync the vote's peerEpoch is updated; the zxid stays (as Java).
	m.UpdateVote(0x200000000, 2)
	got = sendsTo(m.Receive(600*ms, 1, looking(1, 0, 9, 0)), 1)
	if len(got) != 1 || got[0].PeerEpoch != 2 || got[0].Zxid != 0x100000002 {
		t.Fatalf("answer after UpdateVote %+v", got)
	}
	// Settled servers' notifications get no answer.
	if out := m.Receive(700*ms, 2, withState(looking(3, 0, 1, 1), wire.StateFollowing)); len(out.Sends) != 0 {
		t.Fatalf("answered a FOLLOWING server: %+v", out.Sends)
	}
}

func TestNotificationBackoffDoublesAndCaps(t *testing.T) {
	m := NewMachine(Config{MyID: 1, Voters: []int64{1, 2, 3}, MaxNotificationInterval: 1500 * ms})
	m.StartLooking(0, 0, 0)
	now := time.Duration(0)
	want := []time.Duration{200 * ms, 400 * ms, 800 * ms, 1500 * ms, 1500 * ms, 1500 * ms}
	for i, w := range want {
		d, ok := m.NextDeadline()
		if !ok || d-now != w {
			t.Fatalf("step %d: interval %v, want %v", i, d-now, w)
		}
		if out := m.Tick(d - 1); len(out.Sends) != 0 || out.Timeout {
			t.Fatalf("step %d: fired early", i)
		}
		out := m.Tick(d)
		if !out.Timeout || len(sendsTo(out, 2)) != 1 || len(sendsTo(out, 3)) != 1 {
			t.Fatalf("step %d: timeout output %+v", i, out)
		}
		now = d
	}
	// A received notification (here a stale one) restarts the current
	// interval.
	m.Receive(now+100*ms, 2, looking(2, 0, 0, 0))
	if d, _ := m.NextDeadline(); d != now+100*ms+1500*ms {
		t.Fatalf("deadline after receive %v", d-now)
	}
	// A new election starts from FinalizeWait again.
	m2 := newM(t, 1, 1, 2, 3)
	m2.StartLooking(0, 0, 0)
	m2.Tick(200 * ms)
	m2.Abandon()
	m2.StartLooking(time.Second, 0, 0)
	if d, _ := m2.NextDeadline(); d != time.Second+200*ms {
		t.Fatalf("new election deadline %v", d)
	}
}

func TestObserver(t *testing.T) {
	o := NewMachine(Config{MyID: 4, Voters: []int64{1, 2, 3}, Observer: true, ConfigString: "cfg"})
	out := o.StartLooking(0, 0x100000007, 1)
	if len(out.Sends) != 3 {
		t.Fatalf("observer must notify the 3 voters, got %+v", out.Sends)
	}
	for _, s := range out.Sends {
		if s.Msg.Leader != math.MinInt64 || s.Msg.Zxid != math.MinInt64 || s.Msg.PeerEpoch != math.MinInt64 {
			t.Fatalf("observer's initial vote %+v", s.Msg)
		}
	}
	// LOOKING voters' current votes reach it; it adopts the best but never
	// counts for itself.
	o.Receive(1*ms, 1, looking(2, 5, 1, 1))
	if o.Proposal().Leader != 2 {
		t.Fatalf("proposal %+v", o.Proposal())
	}
	// A settled ensemble: leader 2 and follower 1 answer.
	o.Receive(2*ms, 2, withState(looking(2, 5, 3, 1), wire.StateLeading))
	out = o.Receive(3*ms, 1, withState(looking(2, 5, 3, 1), wire.StateFollowing))
	if out.Decided == nil || out.Decided.State != wire.StateObserving || out.Decided.Vote.Leader != 2 {
		t.Fatalf("observer decision %+v", out.Decided)
	}

	// An observer can also decide from a LOOKING quorum of voters.
	o2 := NewMachine(Config{MyID: 4, Voters: []int64{1, 2, 3}, Observer: true})
	o2.StartLooking(0, 0, 0)
	o2.Receive(1*ms, 1, looking(3, 9, 1, 1))
	o2.Receive(1*ms, 3, looking(3, 9, 1, 1))
	out = o2.Tick(201 * ms)
	if out.Decided == nil || out.Decided.State != wire.StateObserving || out.Decided.Vote.Leader != 3 {
		t.Fatalf("observer decision %+v", out.Decided)
	}

	// A voter answers an observer (non-voter) in any state.
	v := newM(t, 1, 1, 2, 3)
	v.StartLooking(0, 0, 0)
	got := sendsTo(v.Receive(1*ms, 4, looking(math.MinInt64, math.MinInt64, 1, math.MinInt64)), 4)
	if len(got) != 1 || got[0].State != wire.StateLooking || got[0].Leader != 1 || got[0].ElectionEpoch != 1 {
		t.Fatalf("answer to observer %+v", got)
	}
	// Observer notifications never count in a voter's election.
	if len(v.recvset) != 1 { // only our own vote
		t.Fatalf("recvset %v", v.recvset)
	}
}

func TestBufferedBeforeStart(t *testing.T) {
	m := newM(t, 1, 1, 2, 3)
	// Before the election starts (state LOOKING) notifications are kept.
	if out := m.Receive(0, 3, looking(3, 10, 1, 1)); len(out.Sends) != 0 || out.Decided != nil {
		t.Fatalf("unexpected output before start %+v", out)
	}
	m.StartLooking(5*ms, 0, 0)
	if m.Proposal().Leader != 3 {
		t.Fatalf("buffered vote not processed: %+v", m.Proposal())
	}
	if d, _ := m.NextDeadline(); d != 205*ms {
		t.Fatalf("finalize deadline %v", d)
	}
}

// A peer that notices the leader's death first sends its LOOKING vote while
// we still follow: we answer it and, when our own election starts soon
// after, count it at once instead of waiting for the peer's timeout
// re-send (a 3-server ensemble then elects in one finalize wait).
func TestLookingVoteHeardWhileFollowingCounts(t *testing.T) {
	m := newM(t, 1, 1, 2, 3)
	m.StartLooking(0, 0x100000002, 1)
	m.Receive(1*ms, 3, looking(3, 0x100000002, 1, 1))
	if out := m.Tick(201 * ms); out.Decided == nil || out.Decided.Vote.Leader != 3 {
		t.Fatalf("first election: %+v", out.Decided)
	}
	// leader 3 dies; 2 starts round 2 a moment before we do
	out := m.Receive(5000*ms, 2, looking(2, 0x100000002, 2, 1))
	if got := sendsTo(out, 2); len(got) != 1 || got[0].State != wire.StateFollowing {
		t.Fatalf("answer while following: %+v", out.Sends)
	}
	out = m.StartLooking(5010*ms, 0x100000002, 1)
	// 2's vote beats ours: adopted and re-sent at once
	if got := sendsTo(out, 2); len(got) == 0 || got[len(got)-1].Leader != 2 {
		t.Fatalf("2's early vote not used: %+v", out.Sends)
	}
	// our vote and 2's make a quorum: decided one finalize wait later
	if out := m.Tick(5210 * ms); out.Decided == nil || out.Decided.Vote.Leader != 2 || out.Decided.State != wire.StateFollowing {
		t.Fatalf("decision %+v, want FOLLOWING 2 after one finalize wait", out.Decided)
	}
	// an early vote older than a second is not used
	m2 := newM(t, 1, 1, 2, 3)
	m2.StartLooking(0, 0x100000002, 1)
	m2.Receive(1*ms, 3, looking(3, 0x100000002, 1, 1))
	m2.Tick(201 * ms)
	m2.Receive(5000*ms, 2, looking(2, 0x100000002, 2, 1))
	if out := m2.StartLooking(7000*ms, 0x100000002, 1); len(sendsTo(out, 2)) != 1 || sendsTo(out, 2)[0].Leader != 1 {
		t.Fatalf("a stale early vote was used: %+v", out.Sends)
	}
}
