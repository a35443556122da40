package session

import (
	"encoding/hex"
	"math"
	"math/rand"
	"slices"
	"testing"
)

func TestPasswordVector(t *testing.T) {
	got := hex.EncodeToString(Password(0x01000057a04e0000))
	if want := "f0a5f775bd785c9f4e0216cbce57fb97"; got != want {
		t.Fatalf("Password = %s, want %s", got, want)
	}
	if len(Password(-1)) != PasswordLen {
		t.Fatal("wrong length")
	}
	if hex.EncodeToString(Password(42)) != hex.EncodeToString(Password(42)) {
		t.Fatal("not deterministic")
	}
}

func TestJavaRandomPartialGroup(t *testing.T) {
	// A short buffer must equal the prefix of a longer one from the same seed.
	long := make([]byte, 8)
	short := make([]byte, 6)
	newJavaRandom(7).fill(long)
	newJavaRandom(7).fill(short)
	if hex.EncodeToString(long[:6]) != hex.EncodeToString(short) {
		t.Fatalf("%x vs %x", long, short)
	}
}

func TestInitialIDLayout(t *testing.T) {
	now := int64(0x0123456789AB) // more than 40 bits: the excess must be dropped
	id := InitialID(now, 1)
	if top := uint64(id) >> 56; top != 1 {
		t.Fatalf("server byte = %#x", top)
	}
	if id&0xFFFF != 0 {
		t.Fatalf("low 16 bits = %#x", id&0xFFFF)
	}
	if mid := (uint64(id) >> 16) & (1<<40 - 1); mid != uint64(now)&(1<<40-1) {
		t.Fatalf("time bits = %#x", mid)
	}
	if got, want := uint64(InitialID(now, 0xFF)), uint64(0xFF23456789AB0000); got != want {
		t.Fatalf("InitialID(,0xFF) = %#x, want %#x", got, want)
	}
	// The logical shift means a time with bit 39 set does not smear sign bits.
	if got, want := uint64(InitialID(1<<39, 0)), uint64(0x0080000000000000); got != want {
		t.Fatalf("got %#x want %#x", got, want)
	}
	// Server id 0x80 and time 0 would produce the container marker.
	if got := InitialID(0, 0x80); got != ContainerMarker+1 {
		t.Fatalf("container marker not avoided: %#x", uint64(got))
	}
}

func TestNextID(t *testing.T) {
	tr := NewTracker(2000, 1, 0x57a04e)
	first := tr.NextID()
	if first != InitialID(0x57a04e, 1) {
		t.Fatalf("first = %#x", first)
	}
	if second := tr.NextID(); second != first+1 {
		t.Fatalf("second = %#x", second)
	}
	tr.nextID = math.MaxInt64 // the next increment wraps onto the marker
	a, b := tr.NextID(), tr.NextID()
	if a != math.MaxInt64 || b != ContainerMarker+1 {
		t.Fatalf("marker not skipped: %#x %#x", uint64(a), uint64(b))
	}
}

func TestNegotiateTimeout(t *testing.T) {
	cases := []struct{ req, want int32 }{
		{1000, 4000}, {4000, 4000}, {10000, 10000}, {40000, 40000}, {90000, 40000}, {-5, 4000},
	}
	for _, c := range cases {
		if got := NegotiateTimeout(c.req, 4000, 40000); got != c.want {
			t.Errorf("NegotiateTimeout(%d) = %d, want %d", c.req, got, c.want)
		}
	}
}

func TestBucketRounding(t *testing.T) {
	tr := NewTracker(2000, 1, 0)
	tr.Add(1, 5000, 1000) // 6000 -> bucket 8000
	tr.Add(2, 5000, 1000+999)
	tr.Add(3, 4000, 2000) // exactly 6000 -> next tick 8000
	for _, id := range []int64{1, 2, 3} {
		s, _ := tr.Get(id)
		if s.Expiry() != 8000 {
			t.Errorf("session %d expiry %d, want 8000", id, s.Expiry())
		}
	}
	if n := tr.NextExpiration(); n != 8000 {
		t.Fatalf("NextExpiration = %d", n)
	}
	if len(tr.buckets) != 1 {
		t.Fatalf("buckets = %v", tr.buckets)
	}
}

func TestTouchMovesBucket(t *testing.T) {
	tr := NewTracker(1000, 1, 0)
	tr.Add(7, 3000, 0)      // bucket 4000
	if !tr.Touch(7, 2500) { // bucket 6000
		t.Fatal("touch failed")
	}
	if got := tr.Expired(4000); len(got) != 0 {
		t.Fatalf("expired at old bucket: %v", got)
	}
	if n := tr.NextExpiration(); n != 6000 {
		t.Fatalf("NextExpiration = %d", n)
	}
	if len(tr.buckets) != 1 {
		t.Fatalf("old bucket not dropped: %v", tr.buckets)
	}
	if got := tr.Expired(5999); len(got) != 0 {
		t.Fatalf("expired early: %v", got)
	}
	if got := tr.Expired(6000); !slices.Equal(got, []int64{7}) {
		t.Fatalf("Expired(6000) = %v", got)
	}
	if tr.Touch(99, 0) {
		t.Fatal("touched unknown session")
	}
}

func TestExpiredOnceAndSorted(t *testing.T) {
	tr := NewTracker(1000, 1, 0)
	for _, id := range []int64{5, -3, 9, 1} {
		tr.Add(id, 2000, 0) // bucket 3000
	}
	tr.Add(4, 10000, 0)
	if got := tr.Expired(2999); got != nil {
		t.Fatalf("Expired(2999) = %v", got)
	}
	got := tr.Expired(3500)
	if !slices.Equal(got, []int64{-3, 1, 5, 9}) {
		t.Fatalf("Expired = %v", got)
	}
	if again := tr.Expired(3500); again != nil {
		t.Fatalf("returned twice: %v", again)
	}
	if tr.Len() != 5 {
		t.Fatalf("Len = %d (expired sessions stay until Remove)", tr.Len())
	}
	s, ok := tr.Get(5)
	if !ok || !s.Closing {
		t.Fatalf("expired session not closing: %+v %v", s, ok)
	}
	if tr.Touch(5, 3500) {
		t.Fatal("expired session touched")
	}
	if n := tr.NextExpiration(); n != 11000 {
		t.Fatalf("NextExpiration = %d", n)
	}
	for _, id := range got {
		tr.Remove(id)
	}
	if tr.Len() != 1 {
		t.Fatalf("Len = %d", tr.Len())
	}
}

func TestClosing(t *testing.T) {
	tr := NewTracker(1000, 1, 0)
	tr.Add(1, 2000, 0)
	tr.SetClosing(1)
	tr.SetClosing(2) // unknown: no-op
	if tr.Touch(1, 500) {
		t.Fatal("closing session touched")
	}
	s, _ := tr.Get(1)
	if !s.Closing || s.Expiry() != 3000 {
		t.Fatalf("session = %+v", s)
	}
	// Already closing: not reported by Expired.
	if got := tr.Expired(10000); got != nil {
		t.Fatalf("Expired = %v", got)
	}
	if tr.NextExpiration() != 0 {
		t.Fatal("bucket left behind")
	}
	// Re-adding (e.g. session revalidated) clears the flag.
	tr.Add(1, 2000, 10000)
	if s, _ := tr.Get(1); s.Closing {
		t.Fatal("Add kept Closing")
	}
	if !tr.Touch(1, 10001) {
		t.Fatal("re-added session not touchable")
	}
}

func TestRemove(t *testing.T) {
	tr := NewTracker(1000, 1, 0)
	tr.Add(1, 2000, 0)
	tr.Add(2, 5000, 0)
	tr.Remove(1)
	tr.Remove(42) // unknown: no-op
	if _, ok := tr.Get(1); ok {
		t.Fatal("still present")
	}
	if tr.Len() != 1 {
		t.Fatalf("Len = %d", tr.Len())
	}
	if n := tr.NextExpiration(); n != 6000 {
		t.Fatalf("NextExpiration = %d (empty bucket kept?)", n)
	}
	if got := tr.Expired(100000); !slices.Equal(got, []int64{2}) {
		t.Fatalf("Expired = %v", got)
	}
	tr.Remove(2)
	if tr.Len() != 0 || tr.NextExpiration() != 0 || len(tr.buckets) != 0 {
		t.Fatal("not empty")
	}
}

func TestAll(t *testing.T) {
	tr := NewTracker(1000, 1, 0)
	tr.Add(30, 3000, 0)
	tr.Add(-1, 1000, 0)
	tr.Add(10, 2000, 0)
	tr.SetClosing(10)
	all := tr.All()
	ids := make([]int64, len(all))
	for i, s := range all {
		ids[i] = s.ID
	}
	if !slices.Equal(ids, []int64{-1, 10, 30}) {
		t.Fatalf("ids = %v", ids)
	}
	if all[1].Timeout != 2000 || !all[1].Closing || all[2].Expiry() != 4000 {
		t.Fatalf("All = %+v", all)
	}
	// Copies: mutating the result must not affect the table.
	all[0].Closing = true
	if s, _ := tr.Get(-1); s.Closing {
		t.Fatal("All returned aliases")
	}
}

func TestNewTrackerBadTick(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	NewTracker(0, 1, 0)
}

// TestPropertyAgainstModel drives random operations against a naive model
// that records, per session, its last touch and timeout, and considers a
// session expired once roundToNextTick(lastTouch+timeout) <= now.
func TestPropertyAgainstModel(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		runModel(t, seed)
	}
}

type modelSession struct {
	deadline int64 // bucket time
	closing  bool
}

func runModel(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	tick := int64(1 + rng.Intn(2000))
	tr := NewTracker(tick, 1, 0)
	model := map[int64]*modelSession{}
	timeouts := map[int64]int32{}
	round := func(ms int64) int64 { return (ms/tick + 1) * tick }
	now := int64(0)

	for step := 0; step < 3000; step++ {
		id := int64(rng.Intn(40)) - 5
		switch op := rng.Intn(10); {
		case op < 2: // Add
			to := int32(1 + rng.Intn(10000))
			tr.Add(id, to, now)
			timeouts[id] = to
			model[id] = &modelSession{deadline: round(now + int64(to))}
		case op < 5: // Touch
			m, ok := model[id]
			want := ok && !m.closing
			if got := tr.Touch(id, now); got != want {
				t.Fatalf("seed %d step %d: Touch(%d) = %v, want %v", seed, step, id, got, want)
			}
			if want {
				m.deadline = round(now + int64(timeouts[id]))
			}
		case op < 6: // Remove
			tr.Remove(id)
			delete(model, id)
		case op < 7: // SetClosing
			tr.SetClosing(id)
			if m, ok := model[id]; ok {
				m.closing = true
			}
		default: // advance time and collect expirations
			now += int64(rng.Intn(3000))
			var want []int64
			for mid, m := range model {
				if !m.closing && m.deadline <= now {
					want = append(want, mid)
					m.closing = true
				}
			}
			slices.Sort(want)
			got := tr.Expired(now)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d step %d now %d: Expired = %v, want %v", seed, step, now, got, want)
			}
		}

		// Invariants after every step.
		if tr.Len() != len(model) {
			t.Fatalf("seed %d step %d: Len = %d, want %d", seed, step, tr.Len(), len(model))
		}
		var minLive int64
		for mid, m := range model {
			s, ok := tr.Get(mid)
			if !ok || s.Closing != m.closing || s.Timeout != timeouts[mid] {
				t.Fatalf("seed %d step %d: Get(%d) = %+v %v, model %+v", seed, step, mid, s, ok, *m)
			}
			if !m.closing {
				if s.Expiry() != m.deadline {
					t.Fatalf("seed %d step %d: expiry(%d) = %d, want %d", seed, step, mid, s.Expiry(), m.deadline)
				}
				if minLive == 0 || m.deadline < minLive {
					minLive = m.deadline
				}
			}
		}
		// Closing sessions may still occupy a bucket, so NextExpiration is
		// never later than the earliest live deadline, and is 0 only when
		// nothing at all is waiting.
		ne := tr.NextExpiration()
		if minLive != 0 && (ne == 0 || ne > minLive) {
			t.Fatalf("seed %d step %d: NextExpiration = %d, earliest live %d", seed, step, ne, minLive)
		}
		for exp, b := range tr.buckets {
			if len(b) == 0 {
				t.Fatalf("seed %d step %d: empty bucket %d", seed, step, exp)
			}
		}
	}
}
