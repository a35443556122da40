package snapshot

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// ErrStreamACLChanged is returned by WriteStream when a node that existed
// before the walk started was given an ACL list created during the walk:
// the ACL map at the front of the stream lacks that list and a stream
// cannot be rewritten. The bytes already written are unusable; the caller
// drops the connection and the learner syncs again.
var ErrStreamACLChanged = errors.New("snapshot: ACL list created during the SNAP stream walk")

// streamName stands for the file name in ReadStream's errors.
const streamName = "SNAP stream"

// WriteStream writes what ZooKeeper's leader sends after a SNAP packet: the
// snapshot body (session count and sessions, ACL cache, node records, the
// "/" that ends them) with no file header, checksum or digest. The caller
// writes the "BenWasHere" ustring after it.
//
// It is fuzzy like Write and shares its walk: mu is read-locked for short
// batches only while the caller keeps applying txns under its write lock.
// The learner must then replay every txn after the tree's last zxid at the
// call (the SNAP packet's zxid must not be above it). Because the ACL map
// goes out before the nodes, a node using an ACL list created during the
// walk is left out when it was itself created during the walk (replaying
// its create restores it, with its subtree); otherwise WriteStream fails
// with ErrStreamACLChanged.
//
// w is written in chunks of up to 64 KiB; the caller flushes any buffer.
func WriteStream(w io.Writer, tree *datatree.Tree, mu *sync.RWMutex) error {
	head, err := captureHead(tree, mu)
	if err != nil {
		return err
	}
	var e wire.Encoder
	head.appendBody(&e, head.acls)
	if _, err := w.Write(e.B); err != nil {
		return fmt.Errorf("snapshot: writing SNAP stream: %w", err)
	}
	if _, _, err := writeNodes(w, tree, mu, walk{fixed: head.acls, since: head.zxid}); err != nil {
		return err
	}
	e.B = e.B[:0]
	e.Str(endOfNodes)
	if _, err := w.Write(e.B); err != nil {
		return fmt.Errorf("snapshot: writing SNAP stream: %w", err)
	}
	return nil
}

// ReadStream reads a snapshot body as WriteStream writes it (and as
// ZooKeeper's leader sends it after SNAP) and returns the tree, FinishLoad
// done. It never reads past the "/" that ends the node records, so r is
// left at the "BenWasHere" ustring that follows, for the caller to read.
// The tree's LastZxid is 0: the caller sets it to the SNAP packet's zxid.
// Every byte is read from r exactly as needed: pass a *bufio.Reader (the
// one the quorum packets are read from) rather than a bare connection.
//
// Lengths are checked before anything is allocated: negative counts and
// lengths are errors, and buffers grow with the bytes actually received,
// so a bogus length cannot allocate more than the input holds. Errors
// carry the byte offset within the stream.
func ReadStream(r io.Reader) (*datatree.Tree, error) {
	return readStream(r, nil, nil)
}

// ReadStreamInto is ReadStream filling t, a tree made empty for loading
// (datatree.NewEmptyOn a store), so a store-backed tree never holds the
// whole stream in memory; progress of large streams goes to log. On
// failure t holds part of the stream.
func ReadStreamInto(r io.Reader, t *datatree.Tree, log *zap.Logger) error {
	_, err := readStream(r, t, log)
	return err
}

func readStream(r io.Reader, into *datatree.Tree, log *zap.Logger) (*datatree.Tree, error) {
	if log == nil {
		log = zap.NewNop()
	}
	rd := &reader{in: r, size: -1, file: streamName, into: into}
	t, _ := rd.body(log, time.Now())
	if rd.err != nil {
		return nil, rd.err
	}
	if err := t.FinishLoad(); err != nil {
		return nil, &errAt{file: streamName, off: rd.off, msg: "after loading", err: err}
	}
	return t, nil
}
