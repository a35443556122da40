package server

import (
	"sort"
	"time"

	"github.com/zkserver/zkserver/wire"
)

// Proposal is one prepped txn on its way through the commit path.
type Proposal struct {
	Hdr wire.TxnHeader
	Txn wire.Txn
	// Digest is the tree digest after this txn (TxnDigest); error txns
	// carry none, as in ZooKeeper.
	Digest    uint64
	HasDigest bool
	// SyncDone marks no txn: on a learner it answers the oldest forwarded
	// sync, in order with the commits before it.
	SyncDone bool
	req      *request // nil for internal txns
	// committedAt is when the batch it heads was committed (set only
	// with metrics on: MarkCommitted)
	committedAt time.Time
}

// CommitPath is the seam between prep and apply. Prep hands it txns in zxid
// order; it calls apply with them, in the same order, once they are
// committed (standalone: durable in the txn log; ensemble: acknowledged by
// a quorum). Nothing above it knows which.
type CommitPath interface {
	// Start is called once before the first Propose.
	Start(apply func([]*Proposal))
	// Propose takes a batch of txns in zxid order.
	Propose(batch []*Proposal)
	// Close stops the path after the txns proposed so far are applied.
	Close()
}

// MemoryCommit commits every txn at once: the tree lives only in memory.
type MemoryCommit struct {
	ch   chan []*Proposal
	done chan struct{}
}

// NewMemoryCommit returns the in-memory commit path.
func NewMemoryCommit() *MemoryCommit {
	return &MemoryCommit{ch: make(chan []*Proposal, 1024), done: make(chan struct{})}
}

func (m *MemoryCommit) Start(apply func([]*Proposal)) { go applyLoop(m.ch, apply, m.done) }

// applyLoop applies committed batches in order until ch is closed, folding
// whatever is already queued into one call, then closes done.
func applyLoop(ch <-chan []*Proposal, apply func([]*Proposal), done chan<- struct{}) {
	defer close(done)
	for b := range ch {
		for more := true; more; {
			select {
			case nb, ok := <-ch:
				if !ok {
					more = false
					break
				}
				b = append(b, nb...)
			default:
				more = false
			}
		}
		apply(b)
	}
}

func (m *MemoryCommit) Propose(batch []*Proposal) { m.ch <- batch }

func (m *MemoryCommit) Close() {
	close(m.ch)
	<-m.done
}

func sortStrings(s []string) { sort.Strings(s) }
