// Package session keeps the table of client sessions and their expiry
// bookkeeping.
//
// It is deterministic: it never reads a clock, and every time is passed in as
// milliseconds by the caller. A Tracker is not safe for concurrent use; the
// server serialises calls under its own lock.
//
// Expiry follows ZooKeeper's scheme: time is divided into buckets one tick
// wide, and touching a session with timeout T at time now places it in the
// bucket that ends at ((now+T)/tick + 1) * tick. When the clock reaches a
// bucket's time, every session still in it has expired.
package session

import (
	"math"
	"slices"
)

// ContainerMarker is the ephemeral-owner value that marks container znodes.
// It is never handed out as a session id.
const ContainerMarker int64 = math.MinInt64

// InitialID returns the first session id a server with the given id hands
// out when started at nowMs: the low 40 bits of the time occupy bits 16..55,
// the low 16 bits are zero and the server id fills the top byte. The
// container marker is avoided by adding one.
func InitialID(nowMs int64, serverID int64) int64 {
	id := int64(uint64(nowMs<<24)>>8) | serverID<<56
	if id == ContainerMarker {
		id++
	}
	return id
}

// NegotiateTimeout clamps the requested session timeout to [min, max].
func NegotiateTimeout(req, min, max int32) int32 {
	if req < min {
		req = min
	}
	if req > max {
		req = max
	}
	return req
}

// Session is one entry of the session table.
type Session struct {
	ID      int64
	Timeout int32 // negotiated timeout in ms
	Closing bool  // set once the session is being closed or has expired
	expiry  int64 // time of the bucket holding the session
}

// Expiry returns the time (ms) of the expiry bucket the session was last
// placed in.
func (s Session) Expiry() int64 { return s.expiry }

// Tracker is the session table.
type Tracker struct {
	tick     int64
	nextID   int64
	sessions map[int64]*Session
	// buckets maps a bucket time to the ids whose expiry is that time.
	buckets map[int64]map[int64]struct{}
}

// NewTracker returns an empty table whose expiry buckets are tickMs wide and
// whose first id is InitialID(nowMs, serverID). tickMs must be positive.
func NewTracker(tickMs int64, serverID int64, nowMs int64) *Tracker {
	if tickMs <= 0 {
		panic("session: tick must be positive")
	}
	return &Tracker{
		tick:     tickMs,
		nextID:   InitialID(nowMs, serverID),
		sessions: make(map[int64]*Session),
		buckets:  make(map[int64]map[int64]struct{}),
	}
}

// roundToNextTick returns the bucket time for a deadline: the next multiple
// of the tick strictly after t.
func (t *Tracker) roundToNextTick(ms int64) int64 {
	return (ms/t.tick + 1) * t.tick
}

// NextID returns a fresh session id and advances the counter, skipping the
// container marker.
func (t *Tracker) NextID() int64 {
	id := t.nextID
	if id == ContainerMarker {
		id++
	}
	t.nextID = id + 1
	return id
}

// Add inserts the session id with the given timeout, replacing any existing
// entry (which also clears its Closing flag), and touches it at nowMs.
func (t *Tracker) Add(id int64, timeout int32, nowMs int64) {
	if old, ok := t.sessions[id]; ok {
		t.unbucket(old)
	}
	s := &Session{ID: id, Timeout: timeout}
	t.sessions[id] = s
	t.place(s, nowMs)
}

// Touch records activity on session id at nowMs, moving it to the bucket for
// nowMs+timeout. It reports false if the session is unknown or closing.
func (t *Tracker) Touch(id int64, nowMs int64) bool {
	s, ok := t.sessions[id]
	if !ok || s.Closing {
		return false
	}
	t.place(s, nowMs)
	return true
}

// place moves s to the bucket for nowMs + its timeout.
func (t *Tracker) place(s *Session, nowMs int64) {
	exp := t.roundToNextTick(nowMs + int64(s.Timeout))
	if s.expiry == exp {
		if _, ok := t.buckets[exp][s.ID]; ok {
			return
		}
	}
	t.unbucket(s)
	b := t.buckets[exp]
	if b == nil {
		b = make(map[int64]struct{})
		t.buckets[exp] = b
	}
	b[s.ID] = struct{}{}
	s.expiry = exp
}

// unbucket removes s from its bucket, dropping the bucket if it empties.
func (t *Tracker) unbucket(s *Session) {
	b, ok := t.buckets[s.expiry]
	if !ok {
		return
	}
	delete(b, s.ID)
	if len(b) == 0 {
		delete(t.buckets, s.expiry)
	}
}

// Get returns a copy of session id.
func (t *Tracker) Get(id int64) (Session, bool) {
	s, ok := t.sessions[id]
	if !ok {
		return Session{}, false
	}
	return *s, true
}

// SetClosing marks session id as closing: it can no longer be touched and
// will not be reported by Expired. It stays in the table until Remove.
func (t *Tracker) SetClosing(id int64) {
	if s, ok := t.sessions[id]; ok {
		s.Closing = true
	}
}

// Remove deletes session id from the table.
func (t *Tracker) Remove(id int64) {
	s, ok := t.sessions[id]
	if !ok {
		return
	}
	t.unbucket(s)
	delete(t.sessions, id)
}

// Expired returns, in ascending order, the sessions whose bucket time is at
// or before nowMs and marks them closing, so each is reported once. The
// sessions stay in the table until Remove. Sessions already closing are not
// reported. The cost is proportional to the number of buckets plus the
// number of sessions in expired buckets.
func (t *Tracker) Expired(nowMs int64) []int64 {
	var out []int64
	for exp, b := range t.buckets {
		if exp > nowMs {
			continue
		}
		for id := range b {
			s := t.sessions[id]
			if !s.Closing {
				s.Closing = true
				out = append(out, id)
			}
		}
		delete(t.buckets, exp)
	}
	slices.Sort(out)
	return out
}

// NextExpiration returns the earliest bucket time, or 0 if no session is
// waiting to expire.
func (t *Tracker) NextExpiration() int64 {
	var min int64
	first := true
	for exp := range t.buckets {
		if first || exp < min {
			min, first = exp, false
		}
	}
	return min
}

// Len returns the number of sessions in the table, closing ones included.
func (t *Tracker) Len() int { return len(t.sessions) }

// All returns a copy of every session, sorted by id.
func (t *Tracker) All() []Session {
	out := make([]Session, 0, len(t.sessions))
	for _, s := range t.sessions {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b Session) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}
