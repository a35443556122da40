package interop

import (
	"bytes"
	"testing"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/wire"
)

// TestZooKeeperTxnDigests replays ZooKeeper's log from an empty tree and
// checks, after every txn, that our tree digest equals the TxnDigest
// ZooKeeper logged, and that EncodeTxnDigest reproduces the whole entry.
func TestZooKeeperTxnDigests(t *testing.T) {
	tree := datatree.New()
	checked := 0
	for _, e := range zkLogEntries(t) {
		hdr, txn, digest, has, err := server.DecodeTxnDigest(e.Data)
		if err != nil {
			t.Fatalf("zxid %#x: %v", e.Zxid, err)
		}
		tree.Apply(&hdr, &txn)
		if !has {
			if hdr.Type != wire.OpError {
				t.Errorf("zxid %#x (%v): no digest", e.Zxid, hdr.Type)
			}
			continue
		}
		if got := tree.Digest(); got != digest {
			t.Fatalf("zxid %#x (%v): tree digest %#x, ZooKeeper logged %#x", e.Zxid, hdr.Type, got, digest)
		}
		if enc := server.EncodeTxnDigest(&hdr, &txn, digest); !bytes.Equal(enc, e.Data) {
			t.Fatalf("zxid %#x: EncodeTxnDigest differs from ZooKeeper's entry", e.Zxid)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no digests checked")
	}
	t.Logf("%d txn digests match ZooKeeper's", checked)
}
