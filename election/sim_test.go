package election

import (
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/zkserver/zkserver/wire"
)

// sim is an in-memory ensemble of Machines with a seeded random network:
// every message is delivered once, after a random delay below maxDelay
// (shorter than FinalizeWait, as on a healthy network).
type sim struct {
	t        *testing.T
	rng      *rand.Rand
	now      time.Duration
	maxDelay time.Duration
	cfgs     map[int64]Config
	ms       map[int64]*Machine
	inflight []simMsg
	decided  map[int64]Decision
	seq      int
}

type simMsg struct {
	from, to int64
	n        wire.Notification
	at       time.Duration
	seq      int
}

func newSim(t *testing.T, seed int64, voters, observers []int64) *sim {
	s := &sim{t: t, rng: rand.New(rand.NewSource(seed)), maxDelay: 50 * ms,
		cfgs: map[int64]Config{}, ms: map[int64]*Machine{}, decided: map[int64]Decision{}}
	for _, id := range voters {
		s.cfgs[id] = Config{MyID: id, Voters: voters, ConfigString: "cfg"}
	}
	for _, id := range observers {
		s.cfgs[id] = Config{MyID: id, Voters: voters, Observer: true, ConfigString: "cfg"}
	}
	for id, c := range s.cfgs {
		s.ms[id] = NewMachine(c)
	}
	return s
}

func (s *sim) apply(from int64, out Output) {
	for _, snd := range out.Sends {
		if snd.To == from {
			s.t.Fatalf("machine %d emitted a send to itself", from)
		}
		if _, ok := s.ms[snd.To]; !ok {
			continue
		}
		s.seq++
		d := time.Duration(s.rng.Int63n(int64(s.maxDelay)))
		s.inflight = append(s.inflight, simMsg{from, snd.To, snd.Msg, s.now + d, s.seq})
	}
	if out.Decided != nil {
		if _, dup := s.decided[from]; dup {
			s.t.Fatalf("machine %d decided twice", from)
		}
		s.decided[from] = *out.Decided
	}
}

func (s *sim) start(id int64, lastZxid, epoch int64) {
	delete(s.decided, id)
	s.apply(id, s.ms[id].StartLooking(s.now, lastZxid, epoch))
}

// run processes events in time order until every machine has decided.
func (s *sim) run(limit time.Duration) {
	ids := make([]int64, 0, len(s.ms))
	for id := range s.ms {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for len(s.decided) < len(s.ms) {
		if s.now > limit {
			s.t.Fatalf("no decision within %v: decided %v", limit, s.decided)
		}
		next := time.Duration(-1)
		for _, id := range ids {
			if d, ok := s.ms[id].NextDeadline(); ok && (next < 0 || d < next) {
				next = d
			}
		}
		mi := -1
		for i, m := range s.inflight {
			if (next < 0 || m.at <= next) && (mi < 0 || m.at < s.inflight[mi].at ||
				(m.at == s.inflight[mi].at && m.seq < s.inflight[mi].seq)) {
				mi = i
			}
		}
		if mi >= 0 {
			m := s.inflight[mi]
			s.inflight = append(s.inflight[:mi], s.inflight[mi+1:]...)
			s.now = max(s.now, m.at)
			s.apply(m.to, s.ms[m.to].Receive(s.now, m.from, m.n))
			continue
		}
		if next < 0 {
			s.t.Fatalf("stuck: nothing in flight, no deadlines, decided %v", s.decided)
		}
		s.now = max(s.now, next)
		for _, id := range ids {
			if d, ok := s.ms[id].NextDeadline(); ok && d <= s.now {
				s.apply(id, s.ms[id].Tick(s.now))
			}
		}
	}
}

type simServer struct{ id, zxid, epoch int64 }

// bestOf is the expected winner, computed independently of the Machine's
// comparison: the largest (peerEpoch, zxid, sid).
func bestOf(servers []simServer) simServer {
	s := append([]simServer(nil), servers...)
	sort.Slice(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.epoch != b.epoch {
			return a.epoch > b.epoch
		}
		if a.zxid != b.zxid {
			return a.zxid > b.zxid
		}
		return a.id > b.id
	})
	return s[0]
}

func (s *sim) check(leader int64, observers map[int64]bool) {
	s.t.Helper()
	for id, d := range s.decided {
		want := wire.StateFollowing
		switch {
		case observers[id]:
			want = wire.StateObserving
		case id == leader:
			want = wire.StateLeading
		}
		if d.Vote.Leader != leader || d.State != want {
			s.t.Fatalf("server %d decided %s for %d, want %s for %d (all: %v)", id, StateName(d.State),
				d.Vote.Leader, StateName(want), leader, s.decided)
		}
	}
}

func TestSimulatedElections(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 50
	}
	for _, shape := range []struct {
		voters, observers int
	}{{3, 0}, {5, 0}, {3, 1}, {5, 1}} {
		for seed := int64(1); seed <= int64(seeds); seed++ {
			name := fmt.Sprintf("%dv%do/seed%d", shape.voters, shape.observers, seed)
			var voters, obs []int64
			for i := 1; i <= shape.voters; i++ {
				voters = append(voters, int64(i))
			}
			obsSet := map[int64]bool{}
			for i := 0; i < shape.observers; i++ {
				id := int64(shape.voters + 1 + i)
				obs = append(obs, id)
				obsSet[id] = true
			}
			s := newSim(t, seed, voters, obs)
			var servers []simServer
			// epochs 1..2 and small counters, so ties on (epoch, zxid) happen
			for _, id := range voters {
				e := 1 + s.rng.Int63n(2)
				servers = append(servers, simServer{id, e<<32 | s.rng.Int63n(3), e})
			}
			order := s.rng.Perm(len(voters) + len(obs))
			for _, i := range order {
				if i < len(voters) {
					s.start(servers[i].id, servers[i].zxid, servers[i].epoch)
				} else {
					s.start(obs[i-len(voters)], 5, 1)
				}
			}
			s.run(10 * time.Minute)
			best := bestOf(servers)
			func() {
				defer func() {
					if t.Failed() {
						t.Logf("%s: servers %+v", name, servers)
					}
				}()
				s.check(best.id, obsSet)
				for id, d := range s.decided {
					if !obsSet[id] && (d.Vote.Zxid != best.zxid || d.Vote.PeerEpoch != best.epoch) {
						t.Fatalf("%s: server %d elected %+v, want zxid %x epoch %d", name, id, d.Vote, best.zxid, best.epoch)
					}
				}
			}()
			if t.Failed() {
				return
			}

			// Restart one non-leader voter: it must rejoin through the
			// settled servers' answers and follow the same leader.
			var pick int64
			for _, sv := range servers {
				if sv.id != best.id {
					pick = sv.id
					break
				}
			}
			s.ms[pick] = NewMachine(s.cfgs[pick])
			s.now += time.Second
			var sv simServer
			for _, x := range servers {
				if x.id == pick {
					sv = x
				}
			}
			s.start(pick, sv.zxid, sv.epoch)
			s.run(s.now + 10*time.Minute)
			if d := s.decided[pick]; d.Vote.Leader != best.id || d.State != wire.StateFollowing {
				t.Fatalf("%s: restarted %d decided %+v, want FOLLOWING %d", name, pick, d, best.id)
			}
		}
	}
}
