package sim

import (
	"testing"
	"time"

	"github.com/zkserver/zkserver/wire"
)

// quietWorld is a fault-free world without clients: the scenario drives it.
func quietWorld(t *testing.T, voters int, seed uint64) *World {
	t.Helper()
	return New(Config{Seed: seed, Voters: voters, HealTime: 20 * time.Second,
		Faults: Faults{MaxDelay: 2 * time.Millisecond, MaxFsync: 3 * time.Millisecond}})
}

func must(t *testing.T, w *World, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%v", err)
	}
	if err := w.Err(); err != nil {
		t.Fatalf("%v", err)
	}
}

// synced runs until one leader has every running server synced.
func synced(t *testing.T, w *World, up ...int64) *node {
	t.Helper()
	var l *node
	must(t, w, w.RunUntil(20*time.Second, func() bool {
		l = nil
		for _, n := range w.nodes {
			if n.up && n.role == roleLeader && n.serving {
				l = n
			}
		}
		if l == nil {
			return false
		}
		for _, sid := range up {
			n := w.srv(sid)
			if n != l && !(n.role == roleLearner && n.serving && n.leaderID == l.id) {
				return false
			}
		}
		return true
	}))
	if l == nil {
		t.Fatalf("no leader established: %s", w.describe())
	}
	return l
}

// commitEverywhere proposes a write on leader l and runs until the
// servers listed applied it.
func commitEverywhere(t *testing.T, w *World, l *node, up ...int64) int64 {
	t.Helper()
	z := l.propose(0, 0)
	if z == 0 {
		t.Fatal("leader cannot propose")
	}
	must(t, w, w.RunUntil(5*time.Second, func() bool {
		for _, sid := range up {
			if w.srv(sid).tree.LastZxid < z {
				return false
			}
		}
		return true
	}))
	for _, sid := range up {
		if w.srv(sid).tree.LastZxid < z {
			t.Fatalf("write %s not applied by %d: %s", hx(z), sid, w.describe())
		}
	}
	return z
}

func inHistory(n *node, z int64) bool {
	for _, e := range n.hist {
		if e.Zxid == z {
			return true
		}
	}
	return false
}

func inLog(n *node, z int64) bool {
	for _, e := range n.log {
		if e.Zxid == z {
			return true
		}
	}
	return false
}

// A proposal the old leader logged but never sent is discarded when that
// server rejoins: the new leader tells it to TRUNC.
func TestScenarioUnsentProposalTruncated(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		w := quietWorld(t, 3, seed)
		all := []int64{1, 2, 3}
		l := synced(t, w, all...)
		for range 3 {
			commitEverywhere(t, w, l, all...)
		}
		// cut off: the proposal is logged (and fsynced) but never sent
		w.Isolate(l.id)
		z := l.propose(0, 0)
		if z == 0 {
			t.Fatal("leader cannot propose")
		}
		must(t, w, w.RunFor(50*time.Millisecond))
		if !inLog(l, z) || l.durable < len(l.log) {
			t.Fatalf("seed %d: the old leader did not log %s durably", seed, hx(z))
		}
		w.Crash(l.id)
		// the others elect a leader of the next epoch
		var others []int64
		for _, sid := range all {
			if sid != l.id {
				others = append(others, sid)
			}
		}
		nl := synced(t, w, others...)
		if nl.leader.Epoch() != wire.ZxidEpoch(z)+1 {
			t.Fatalf("seed %d: new epoch %d after %d", seed, nl.leader.Epoch(), wire.ZxidEpoch(z))
		}
		truncs := w.Stats.Syncs["TRUNC"]
		w.Heal()
		w.Restart(l.id)
		synced(t, w, all...)
		if w.Stats.Syncs["TRUNC"] != truncs+1 {
			t.Fatalf("seed %d: the old leader rejoined without a TRUNC (syncs %v)", seed, w.Stats.Syncs)
		}
		if inLog(l, z) || inHistory(l, z) {
			t.Fatalf("seed %d: %s still on the old leader after its TRUNC", seed, hx(z))
		}
		must(t, w, w.CheckLive(10*time.Second))
		for _, n := range w.nodes {
			if inHistory(n, z) {
				t.Fatalf("seed %d: server %d applied the discarded proposal %s", seed, n.id, hx(z))
			}
		}
		if _, ok := w.commitData[z]; ok {
			t.Fatalf("seed %d: discarded proposal %s committed", seed, hx(z))
		}
	}
}

// A proposal that reached a quorum's logs but was never committed (the
// leader crashed before it counted the acknowledgements) survives into
// the new epoch.
func TestScenarioQuorumLoggedProposalSurvives(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		w := quietWorld(t, 3, seed)
		all := []int64{1, 2, 3}
		l := synced(t, w, all...)
		commitEverywhere(t, w, l, all...)
		// one follower is cut off, the other logs the proposal
		var a, b *node
		for _, n := range w.nodes {
			if n == l {
				continue
			}
			if a == nil {
				a = n
			} else {
				b = n
			}
		}
		w.Cut(l.id, b.id)
		must(t, w, w.RunFor(20*time.Millisecond))
		z := l.propose(0, 0)
		if z == 0 {
			t.Fatal("leader cannot propose")
		}
		must(t, w, w.RunUntil(time.Second, func() bool { return inLog(a, z) && a.durable == len(a.log) }))
		if !inLog(a, z) {
			t.Fatalf("seed %d: follower %d never logged %s", seed, a.id, hx(z))
		}
		// the ACK is on its way: the leader crashes before counting it
		w.Crash(l.id)
		if _, ok := w.commitData[z]; ok {
			t.Fatalf("seed %d: %s committed before the crash; the scenario needs it uncommitted", seed, hx(z))
		}
		w.Heal()
		nl := synced(t, w, a.id, b.id)
		if nl.leader.Epoch() <= wire.ZxidEpoch(z) {
			t.Fatalf("seed %d: new leader in epoch %d", seed, nl.leader.Epoch())
		}
		w.Restart(l.id)
		must(t, w, w.CheckLive(10*time.Second))
		if _, ok := w.commitData[z]; !ok {
			t.Fatalf("seed %d: %s, logged by a quorum, was not committed in the new epoch", seed, hx(z))
		}
		for _, n := range w.nodes {
			if !inHistory(n, z) {
				t.Fatalf("seed %d: server %d lacks %s", seed, n.id, hx(z))
			}
		}
	}
}

// A new leader's epoch is one above every epoch its quorum accepted, and
// its zxids restart at counter 0 of that epoch (the first txn is 1).
func TestScenarioNewEpochAboveQuorum(t *testing.T) {
	cases := []struct {
		accepted [2]int64 // of servers 1 and 2 (server 3 stays down)
		want     int64
	}{
		{[2]int64{9, 4}, 10}, // the follower accepted more than the leader
		{[2]int64{5, 7}, 8},
		{[2]int64{3, 3}, 4},
	}
	for i, c := range cases {
		w := quietWorld(t, 3, uint64(i+1))
		for _, n := range w.nodes {
			n.crash()
		}
		for j, sid := range []int64{1, 2} {
			n := w.srv(sid)
			n.accepted, n.current = c.accepted[j], 3
		}
		w.Restart(1)
		w.Restart(2)
		l := synced(t, w, 1, 2)
		if l.id != 2 {
			t.Fatalf("case %d: leader %d, want 2 (equal epochs and zxids: the higher sid)", i, l.id)
		}
		if e := l.leader.Epoch(); e != c.want {
			t.Fatalf("case %d: epoch %d with accepted epochs %v, want %d", i, e, c.accepted, c.want)
		}
		for _, sid := range []int64{1, 2} {
			if n := w.srv(sid); n.accepted != c.want || n.current != c.want {
				t.Fatalf("case %d: server %d has epochs accepted %d current %d, want %d", i, sid, n.accepted, n.current, c.want)
			}
		}
		z := commitEverywhere(t, w, l, 1, 2)
		if z != wire.MakeZxid(c.want, 1) {
			t.Fatalf("case %d: first txn of epoch %d is %s, want %s", i, c.want, hx(z), hx(wire.MakeZxid(c.want, 1)))
		}
		w.Restart(3)
		must(t, w, w.CheckLive(10*time.Second))
	}
}
