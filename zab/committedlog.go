package zab

import "sync"

// DefaultCommitLogCount is zookeeper.commitLogCount's default (and, in
// ZooKeeper, its minimum): the committed log keeps this many + 1 entries.
const DefaultCommitLogCount = 500

// Entry is one committed txn: Data is the txn bytes (TxnHeader | txn |
// TxnDigest), exactly the data of its PROPOSAL packet and of its txn log
// record.
type Entry struct {
	Zxid int64
	Data []byte
}

// CommittedLog is the window of the most recent committed proposals every
// server keeps in memory for fast learner sync (ZooKeeper's
// ZKDatabase.committedLog): filled as txns are applied, in zxid order, it
// holds at most max+1 entries, dropping the oldest.
//
// It is safe for concurrent use: one writer (the apply path) and readers
// (sync planning). Entries' Data is shared, never copied: neither the
// writer nor readers may modify it after Add.
type CommittedLog struct {
	mu    sync.RWMutex
	ring  []Entry // capacity max+1
	start int     // index of the oldest entry
	n     int     // entries held
}

// NewCommittedLog returns an empty log keeping at most max+1 entries
// (ZooKeeper: commitLogCount, DefaultCommitLogCount). A negative max is 0.
func NewCommittedLog(max int) *CommittedLog {
	if max < 0 {
		max = 0
	}
	return &CommittedLog{ring: make([]Entry, max+1)}
}

// Add appends a committed txn; entries must come in increasing zxid order.
// When the log is full the oldest entry is dropped first.
func (c *CommittedLog) Add(e Entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == len(c.ring) {
		c.ring[c.start] = Entry{}
		c.start = (c.start + 1) % len(c.ring)
		c.n--
	}
	c.ring[(c.start+c.n)%len(c.ring)] = e
	c.n++
}

// at returns the i-th oldest entry; the caller holds mu.
func (c *CommittedLog) at(i int) Entry { return c.ring[(c.start+i)%len(c.ring)] }

// Bounds returns the zxids of the oldest and newest entries (ZooKeeper's
// minCommittedLog and maxCommittedLog); ok is false when the log is empty.
func (c *CommittedLog) Bounds() (min, max int64, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.n == 0 {
		return 0, 0, false
	}
	return c.at(0).Zxid, c.at(c.n - 1).Zxid, true
}

// Len is the number of entries held.
func (c *CommittedLog) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.n
}

// Since returns a copy of the entries with Zxid >= zxid, oldest first
// (nil when there are none). Since(math.MinInt64) is the whole window.
func (c *CommittedLog) Since(zxid int64) []Entry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i := c.n
	for i > 0 && c.at(i-1).Zxid >= zxid {
		i--
	}
	if i == c.n {
		return nil
	}
	out := make([]Entry, 0, c.n-i)
	for ; i < c.n; i++ {
		out = append(out, c.at(i))
	}
	return out
}

// Reset empties the log (after a TRUNC or SNAP sync replaced the history
// it described).
func (c *CommittedLog) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.ring)
	c.start, c.n = 0, 0
}
