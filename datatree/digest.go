package datatree

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
)

// DigestVersion is the TxnDigest/snapshot digest version ZooKeeper 3.8 writes.
const DigestVersion = 2

// NodeDigest is ZooKeeper's per-node hash: CRC-32 (IEEE) over the path
// bytes, the data bytes and czxid, mzxid, pzxid, ctime, mtime, version,
// cversion (stored), aversion, ephemeralOwner, big-endian. The root hashes
// under the path "", and nodes below /zookeeper/ are left out. The tree
// digest is the sum of node digests mod 2^64.
func NodeDigest(path string, n *Node) uint64 {
	if strings.HasPrefix(path, "/zookeeper/") {
		return 0
	}
	if path == "/" {
		path = ""
	}
	var b [60]byte
	binary.BigEndian.PutUint64(b[0:], uint64(n.Czxid))
	binary.BigEndian.PutUint64(b[8:], uint64(n.Mzxid))
	binary.BigEndian.PutUint64(b[16:], uint64(n.Pzxid))
	binary.BigEndian.PutUint64(b[24:], uint64(n.Ctime))
	binary.BigEndian.PutUint64(b[32:], uint64(n.Mtime))
	binary.BigEndian.PutUint32(b[40:], uint32(n.Version))
	binary.BigEndian.PutUint32(b[44:], uint32(n.Cversion))
	binary.BigEndian.PutUint32(b[48:], uint32(n.Aversion))
	binary.BigEndian.PutUint64(b[52:], uint64(n.EphemeralOwner))
	crc := crc32.Update(0, crc32.IEEETable, []byte(path))
	crc = crc32.Update(crc, crc32.IEEETable, n.Data)
	crc = crc32.Update(crc, crc32.IEEETable, b[:])
	return uint64(crc)
}

// Digest is the tree digest after the last applied txn.
func (t *Tree) Digest() uint64 { return t.digest }

func (t *Tree) undigest(path string, n *Node) { t.digest -= NodeDigest(path, n) }
func (t *Tree) redigest(path string, n *Node) { t.digest += NodeDigest(path, n) }

// recomputeDigest sums every node's digest (after loading).
func (t *Tree) recomputeDigest() {
	t.digest = 0
	t.each(func(p string, n *Node) { t.digest += NodeDigest(p, n) })
}
