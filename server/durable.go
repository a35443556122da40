package server

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
)

// EncodeTxn returns the txn bytes ZooKeeper logs: TxnHeader then record.
func EncodeTxn(hdr *wire.TxnHeader, txn *wire.Txn) []byte {
	// room for the header, the record and a TxnDigest in one allocation
	size := 96 + len(txn.Path) + len(txn.Data) + 32*len(txn.ACL)
	for i := range txn.Ops {
		size += 64 + len(txn.Ops[i].Path) + len(txn.Ops[i].Data) + 32*len(txn.Ops[i].ACL)
	}
	e := wire.Encoder{B: make([]byte, 0, size)}
	hdr.Encode(&e)
	txn.EncodeBody(&e)
	return e.B
}

// EncodeTxnDigest is EncodeTxn followed by a TxnDigest (version, digest).
func EncodeTxnDigest(hdr *wire.TxnHeader, txn *wire.Txn, digest uint64) []byte {
	e := wire.Encoder{B: EncodeTxn(hdr, txn)}
	e.Int(datatree.DigestVersion)
	e.Long(int64(digest))
	return e.B
}

// DecodeTxn parses txn bytes (a trailing TxnDigest is ignored).
func DecodeTxn(b []byte) (wire.TxnHeader, wire.Txn, error) {
	hdr, txn, _, _, err := DecodeTxnDigest(b)
	return hdr, txn, err
}

// DecodeTxnDigest parses txn bytes and the optional TxnDigest after them.
func DecodeTxnDigest(b []byte) (hdr wire.TxnHeader, txn wire.Txn, digest uint64, has bool, err error) {
	d := wire.NewDecoder(b)
	hdr.Decode(d)
	if d.Err() == nil {
		txn.DecodeBody(d, hdr.Type, false)
	}
	if d.Err() == nil && d.Remaining() >= 12 {
		if v := d.Int(); v == datatree.DigestVersion {
			digest, has = uint64(d.Long()), true
		}
	}
	return hdr, txn, digest, has, d.Err()
}

// SnapshotRule is ZooKeeper's randomized snapshot trigger: after
// snapCount/2 + rand(snapCount/2) txns, or when the log since the last
// snapshot passes snapSizeLimit/2 + rand(snapSizeLimit/2) bytes.
type SnapshotRule struct {
	SnapCount int
	SizeLimit int64 // bytes; <= 0 disables the size rule
	Rand      *rand.Rand

	count    int
	roll     int
	sizeRoll int64
}

func (r *SnapshotRule) reset() {
	half := r.SnapCount / 2
	if half < 1 {
		half = 1
	}
	r.roll = r.Rand.IntN(half)
	if r.SizeLimit > 0 {
		r.sizeRoll = r.Rand.Int64N(r.SizeLimit/2 + 1)
	}
	r.count = 0
}

// Next records one logged txn and reports whether a snapshot is due.
func (r *SnapshotRule) Next(logBytes int64) bool {
	r.count++
	if r.count > r.SnapCount/2+r.roll || (r.SizeLimit > 0 && logBytes > r.SizeLimit/2+r.sizeRoll) {
		r.reset()
		return true
	}
	return false
}

// DurableCommit is the standalone commit path: txns are appended to the
// txn log and applied once the group fsync covering them is done; a
// snapshot is started in the background by SnapshotRule.
type DurableCommit struct {
	Log      *txnlog.Log
	Rule     *SnapshotRule
	Snapshot func() // starts a background snapshot (skipped if one runs)
	// SegmentLimit rolls the log once a segment passes it (bytes, with
	// preallocation; <= 0: no limit), ZooKeeper's txnLogSizeLimitInKb.
	SegmentLimit int64
	Logger       *zap.Logger

	applyCh chan []*Proposal
	applied chan struct{}
	failed  atomic.Bool
	once    sync.Once
}

func (d *DurableCommit) Start(apply func([]*Proposal)) {
	d.Rule.reset()
	d.applyCh = make(chan []*Proposal, 1024)
	d.applied = make(chan struct{})
	go applyLoop(d.applyCh, apply, d.applied)
}

// Propose logs the batch; it is applied after its fsync.
func (d *DurableCommit) Propose(batch []*Proposal) {
	entries := make([]txnlog.Entry, len(batch))
	snap := false
	for i, p := range batch {
		data := EncodeTxn(&p.Hdr, &p.Txn)
		if p.HasDigest {
			data = EncodeTxnDigest(&p.Hdr, &p.Txn, p.Digest)
		}
		entries[i] = txnlog.Entry{Zxid: p.Hdr.Zxid, Data: data}
	}
	d.Log.Commit(entries, func(err error) {
		if err != nil {
			// A write we cannot make durable must never be acknowledged.
			if d.failed.CompareAndSwap(false, true) {
				d.Logger.Error("txn log write failed; no further writes are acknowledged", zap.Error(err))
			}
			return
		}
		// applied on its own goroutine, so the log starts the next
		// write + fsync while this batch is applied
		MarkCommitted(batch)
		d.applyCh <- batch
	})
	for range batch {
		if d.Rule.Next(d.Log.CurrentSize()) {
			snap = true
		}
	}
	switch {
	case snap:
		d.Log.Roll()
		if d.Snapshot != nil {
			d.Snapshot()
		}
	case d.SegmentLimit > 0 && d.Log.CurrentSize() > d.SegmentLimit:
		// zookeeper.txnLogSizeLimitInKb: a new segment, no snapshot
		d.Log.Roll()
	}
}

func (d *DurableCommit) Close() {
	d.once.Do(func() {
		d.Log.Sync()
		d.Log.Close() // every done callback has run
		close(d.applyCh)
		<-d.applied
	})
}
