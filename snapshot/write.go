package snapshot

import (
	"bufio"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// WriteOptions tune Write.
type WriteOptions struct {
	// Compression is "" (plain), "gz" or "snappy" (ErrSnappyUnsupported);
	// like ZooKeeper's zookeeper.snapshot.compression.method, matching is
	// case-insensitive and any other value means plain.
	Compression string
	// Sync fsyncs the file and its directory before and after the rename
	// (ZooKeeper does this for snapshots taken after a SNAP sync).
	Sync bool
	// Logger receives a line per finished snapshot; nil logs nothing.
	Logger *zap.Logger
	// Progress, when set, is called (without the lock held) with the
	// number of nodes written so far, after every batch.
	Progress func(nodes int)
}

// Batch limits: the read lock is released after this many nodes or bytes.
const (
	batchNodes = 1000
	batchBytes = 1 << 20
)

// Write serialises t into dir/snapshot.<hex zxid>[.gz] and returns the
// path. zxid is the last zxid applied when the call starts.
//
// The snapshot is fuzzy: the caller keeps applying txns (under mu's write
// lock) while Write walks the tree. Write holds mu's read lock only for
// short batches (at most batchNodes nodes / about batchBytes bytes): it
// copies the session table first, then visits nodes depth-first (parents
// before children, small sibling sets sorted), skipping nodes deleted meanwhile and
// missing nodes created after their parent was visited; replaying the log
// from zxid+1 repairs both. Nodes go to a temporary file while the ACL
// lists of every id they use are collected, so the ACL map written before
// the nodes holds exactly the ids the written nodes reference.
//
// The file is written as <name>.tmp and renamed into place, so a reader
// never sees a partial snapshot under the final name.
func Write(dir string, zxid int64, t *datatree.Tree, mu *sync.RWMutex, o WriteOptions) (string, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	comp, err := compressionOf(o.Compression)
	if err != nil {
		return "", err
	}
	start := time.Now()

	head, err := captureHead(t, mu)
	if err != nil {
		return "", err
	}
	known := head.acls

	sf, err := createSnapFile(dir, zxid, comp)
	if err != nil {
		return "", err
	}
	defer sf.abort()
	var nodes, ids int
	// begin (re)starts the file with the header, sessions and ACL map.
	begin := func(acls map[int64][]wire.ACL) error {
		if err := sf.begin(); err != nil {
			return err
		}
		var e wire.Encoder
		ids = head.appendBody(&e, acls)
		_, err := sf.cw.Write(e.B)
		return err
	}
	if err := begin(known); err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", sf.tmp, err)
	}
	used, n, err := writeNodes(sf.cw, t, mu, walk{progress: o.Progress})
	if err != nil {
		return "", err
	}
	nodes = n
	for id := range used {
		if _, have := known[id]; !have {
			// an ACL list created during the walk: the map written first
			// lacks it, so write the nodes aside, then the file again
			log.Info("snapshot: ACL lists changed during the walk; writing again with the nodes aside")
			if err := writeViaTemp(dir, t, mu, o.Progress, begin, func() *checkedWriter { return sf.cw }, &nodes); err != nil {
				return "", err
			}
			break
		}
	}
	var e wire.Encoder
	e.Str(endOfNodes)
	if _, err := sf.cw.Write(e.B); err != nil {
		return "", fmt.Errorf("snapshot: writing %s: %w", sf.tmp, err)
	}
	// The digest is the tree's at the last zxid applied when the walk
	// ended: the snapshot is exact once the log is replayed up to that
	// zxid, where a reader compares.
	mu.RLock()
	dzxid, digest := t.LastZxid, t.Digest()
	mu.RUnlock()
	final, err := sf.finish(dzxid, digest, o.Sync)
	if err != nil {
		return final, err
	}
	log.Info("snapshot written", zap.String("file", final), zap.Int("nodes", nodes),
		zap.Int("sessions", len(head.sessions)), zap.Int("acls", ids),
		zap.Int64("bytes", sf.cw.n), zap.Duration("elapsed", time.Since(start)))
	return final, nil
}

// endOfNodes is the path that ends the node records (no real node has it:
// the root is written as "").
const endOfNodes = "/"

// session is one entry of the session table.
type session struct {
	id      int64
	timeout int32
}

// bodyHead is what precedes the node records of a snapshot body, captured
// under one read lock at the start of a walk.
type bodyHead struct {
	sessions []session // sorted by id
	// acls holds every ACL list of the cache at the start; nodes walked
	// later almost always use only these.
	acls map[int64][]wire.ACL
	// zxid is the tree's last applied zxid at the start: every node with a
	// higher czxid was created during the walk.
	zxid int64
}

// captureHead copies the session table and the ACL cache of t.
func captureHead(t *datatree.Tree, mu *sync.RWMutex) (*bodyHead, error) {
	if _, durable := t.Store().(datatree.Durable); durable {
		return nil, ErrDurableTree
	}
	mu.RLock()
	if t.Get("/") == nil {
		mu.RUnlock()
		return nil, fmt.Errorf("snapshot: tree has no root")
	}
	h := &bodyHead{
		sessions: make([]session, 0, len(t.Sessions())),
		acls:     map[int64][]wire.ACL{},
		zxid:     t.LastZxid,
	}
	for id, to := range t.Sessions() {
		h.sessions = append(h.sessions, session{id, to})
	}
	t.ACLs.Each(func(id int64, l []wire.ACL) { h.acls[id] = append([]wire.ACL(nil), l...) })
	mu.RUnlock()
	sort.Slice(h.sessions, func(i, j int) bool { return h.sessions[i].id < h.sessions[j].id })
	return h, nil
}

// appendBody encodes the start of a snapshot body: the session count and
// sessions, then the ACL map acls (keys ascending). It returns the number
// of ACL lists.
func (h *bodyHead) appendBody(e *wire.Encoder, acls map[int64][]wire.ACL) int {
	e.Int(int32(len(h.sessions)))
	for _, s := range h.sessions {
		e.Long(s.id)
		e.Int(s.timeout)
	}
	ids := make([]int64, 0, len(acls))
	for id := range acls {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	e.Int(int32(len(ids)))
	for _, id := range ids {
		e.Long(id)
		l := acls[id]
		e.Int(int32(len(l)))
		for i := range l {
			l[i].Encode(e)
		}
	}
	return len(ids)
}

// walk tunes writeNodes.
type walk struct {
	// progress, when set, is called without the lock after every batch
	// with the number of nodes written so far.
	progress func(nodes int)
	// fixed, when set, is the ACL map already sent ahead of the nodes,
	// which cannot be rewritten (a SNAP stream). A node whose ACL id is
	// not in it got a list created during the walk: it is left out (with
	// its subtree) when its czxid is above since, as replaying the txns
	// after since recreates it; otherwise the walk fails with
	// ErrStreamACLChanged.
	fixed map[int64][]wire.ACL
	since int64
}

// writeNodes walks t in batches and writes the node records (path, data,
// ACL key, StatPersisted) to w. It returns the ACL list of every id the
// written nodes use and the number of nodes written.
func writeNodes(w io.Writer, t *datatree.Tree, mu *sync.RWMutex, o walk) (map[int64][]wire.ACL, int, error) {
	progress := o.progress
	bw := bufio.NewWriterSize(w, 1<<16)
	acls := map[int64][]wire.ACL{}
	type Node = datatree.Node
	// Each frame lists the children of one visited node still to write.
	// Between batches the tree changes: at the start of each batch every
	// frame's node is looked up again by path, and a frame whose node was
	// deleted (or replaced by a new one) is dropped, since replaying the log
	// recreates whatever was created after the walk began. Within a batch
	// the read lock holds the tree still, so children are found through
	// their parent, and a path is built only for nodes that have children.
	type frame struct {
		prefix string // "" for the root's children
		node   *Node
		path   string // the node's own path ("/" for the root)
		names  []string
	}
	root := t.Get("/")
	e := wire.Encoder{}
	writeNode := func(prefix, name string, n *Node) {
		// the path, written without building the string: prefix/name
		if n == root {
			e.Str("")
		} else {
			e.Int(int32(len(prefix) + 1 + len(name)))
			e.B = append(e.B, prefix...)
			e.B = append(e.B, '/')
			e.B = append(e.B, name...)
		}
		appendNodeFields(&e, n)
	}
	var stack []frame
	nodes := 0
	first := true
	for first || len(stack) > 0 {
		e.B = e.B[:0]
		count := 0
		var bad error
		mu.RLock()
		// revalidate the frames against the tree as it is now
		for i := range stack {
			if stack[i].node != nil && t.Get(stack[i].path) != stack[i].node {
				stack[i].node, stack[i].names = nil, nil
			}
		}
		for (first || len(stack) > 0) && count < batchNodes && len(e.B) < batchBytes {
			var n *Node
			var prefix, name string
			if first {
				first = false
				n = t.Get("/")
				if n == nil {
					break
				}
			} else {
				top := &stack[len(stack)-1]
				if len(top.names) == 0 || top.node == nil {
					stack = stack[:len(stack)-1]
					continue
				}
				name = top.names[0]
				top.names = top.names[1:]
				prefix = top.prefix
				if n = top.node.Child(name); n == nil {
					continue // deleted since its parent was visited
				}
			}
			if o.fixed != nil && n.ACL != datatree.OpenACLID {
				if _, have := o.fixed[n.ACL]; !have {
					if n.Czxid > o.since {
						continue // created during the walk: replay recreates it
					}
					bad = fmt.Errorf("%w: node %s/%s (czxid %#x) now uses ACL id %d", ErrStreamACLChanged, prefix, name, n.Czxid, n.ACL)
					break
				}
			}
			writeNode(prefix, name, n)
			if n.ACL != datatree.OpenACLID {
				if _, have := acls[n.ACL]; !have {
					l := t.ACLs.Get(n.ACL)
					if l == nil {
						bad = fmt.Errorf("snapshot: node %s/%s uses ACL id %d, absent from the ACL cache", prefix, name, n.ACL)
						break
					}
					acls[n.ACL] = append([]wire.ACL(nil), l...)
				}
			}
			count++
			if n.NumChildren() > 0 {
				kids := n.AppendChildNames(make([]string, 0, n.NumChildren()))
				if len(kids) <= 1024 {
					// small sets sorted (deterministic files); a huge one
					// is left unsorted, as ZooKeeper writes them, so the
					// read lock is not held for a sort
					sort.Strings(kids)
				}
				path, childPrefix := "/", ""
				if n != root {
					path = prefix + "/" + name
					childPrefix = path
				}
				stack = append(stack, frame{prefix: childPrefix, node: n, path: path, names: kids})
			}
		}
		mu.RUnlock()
		if bad != nil {
			return nil, 0, bad
		}
		if _, err := bw.Write(e.B); err != nil {
			return nil, 0, fmt.Errorf("snapshot: writing nodes: %w", err)
		}
		nodes += count
		if progress != nil {
			progress(nodes)
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, 0, fmt.Errorf("snapshot: writing nodes: %w", err)
	}
	return acls, nodes, nil
}

// checkedWriter writes through to w and keeps the Adler-32 of the
// (uncompressed) bytes and their count.
type checkedWriter struct {
	w   io.Writer
	sum hash.Hash32
	n   int64
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.sum.Write(p[:n])
	c.n += int64(n)
	return n, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeViaTemp writes the nodes to a temporary file while collecting the
// ACL lists they use, then restarts the snapshot with exactly those lists
// and copies the nodes in.
func writeViaTemp(dir string, t *datatree.Tree, mu *sync.RWMutex, progress func(int),
	begin func(map[int64][]wire.ACL) error, cw func() *checkedWriter, nodes *int) error {
	tmpNodes, err := os.CreateTemp(dir, "tmp-snapnodes-*")
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	defer func() {
		tmpNodes.Close()
		os.Remove(tmpNodes.Name())
	}()
	acls, n, err := writeNodes(tmpNodes, t, mu, walk{progress: progress})
	if err != nil {
		return err
	}
	*nodes = n
	if _, err := tmpNodes.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := begin(acls); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if _, err := io.Copy(cw(), bufio.NewReaderSize(tmpNodes, 1<<16)); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}
