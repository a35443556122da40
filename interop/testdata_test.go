package interop

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/internal/testkit"
	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/snapshot"
	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
)

// testdata/zk38 holds files written by Apache ZooKeeper 3.8.0 (Debian
// package) during TestGenerateTestdata:
//
//	log.1          the whole txn log of buildTree("/g") (the ephemeral
//	               owner's session left open, then ZooKeeper SIGKILLed),
//	               with the zero-filled preallocated tail cut off after the
//	               last record
//	snapshot.<z>   the snapshot ZooKeeper wrote when it restarted on that
//	               directory (z = the last zxid of log.1): the full tree
//	tree.json      the tree as a client read it from the restarted server
const zkTestdata = "testdata/zk38"

// TestGenerateTestdata rewrites testdata/zk38; it runs only with
// INTEROP_GEN_TESTDATA=1 (and java + ZooKeeper's jar).
func TestGenerateTestdata(t *testing.T) {
	if os.Getenv("INTEROP_GEN_TESTDATA") == "" {
		t.Skip("set INTEROP_GEN_TESTDATA=1 to regenerate testdata/zk38 with Apache ZooKeeper")
	}
	testkit.RequireZK(t, false)
	work := t.TempDir()
	data := filepath.Join(work, "data")
	// no periodic snapshot: one log file holds every txn
	zk1 := startServer(t, "zookeeper", work, data, "snapCount=1000000")
	owner := buildTree(t, zk1.addr, "/g")
	zk1.stop(t, syscall.SIGKILL)
	owner.Close()
	logFile := filepath.Join(data, "version-2", "log.1")
	raw, err := os.ReadFile(logFile)
	must(t, "read log", err)
	trimmed := trimLog(t, raw)

	zk2 := startServer(t, "zookeeper", work, data, "snapCount=1000000")
	tree := readTree(t, zk2.addr)
	zk2.stop(t, syscall.SIGKILL)
	snaps, err := snapshot.List(filepath.Join(data, "version-2"))
	must(t, "list snapshots", err)
	var snapPath string
	for _, s := range snaps {
		if snapPath == "" || s.Zxid > snapshot.ZxidFromName(filepath.Base(snapPath), snapshot.Prefix) {
			snapPath = s.Path
		}
	}
	if snapPath == "" {
		t.Fatal("ZooKeeper wrote no snapshot")
	}
	snapBytes, err := os.ReadFile(snapPath)
	must(t, "read snapshot", err)

	must(t, "clean testdata", os.RemoveAll(zkTestdata))
	must(t, "mkdir testdata", os.MkdirAll(zkTestdata, 0o755))
	must(t, "write log", os.WriteFile(filepath.Join(zkTestdata, "log.1"), trimmed, 0o644))
	must(t, "write snapshot", os.WriteFile(filepath.Join(zkTestdata, filepath.Base(snapPath)), snapBytes, 0o644))
	js, err := json.MarshalIndent(tree, "", "\t")
	must(t, "marshal tree", err)
	must(t, "write tree", os.WriteFile(filepath.Join(zkTestdata, "tree.json"), append(js, '\n'), 0o644))
	t.Logf("wrote log.1 (%d of %d bytes), %s (%d bytes), tree.json (%d nodes)",
		len(trimmed), len(raw), filepath.Base(snapPath), len(snapBytes), len(tree))
}

// trimLog cuts a txn log file after its last complete record
// (checksum, length, txn, 'B'), dropping the zero-filled preallocation.
func trimLog(t *testing.T, b []byte) []byte {
	t.Helper()
	pos := txnlog.HeaderSize
	for pos+12 <= len(b) {
		n := int(int32(binary.BigEndian.Uint32(b[pos+8:])))
		if n <= 0 || pos+12+n+1 > len(b) || b[pos+12+n] != 'B' {
			break
		}
		pos += 12 + n + 1
	}
	if pos == txnlog.HeaderSize {
		t.Fatal("log has no records")
	}
	return b[:pos]
}

// zkLogEntries reads every entry of testdata/zk38/log.1 with our iterator.
func zkLogEntries(t *testing.T) []txnlog.Entry {
	t.Helper()
	it, err := txnlog.NewIterator(zkTestdata, 0)
	must(t, "NewIterator", err)
	defer it.Close()
	var out []txnlog.Entry
	for {
		e, err := it.Next()
		if err == io.EOF {
			break
		}
		must(t, "iterator", err)
		out = append(out, e)
	}
	if len(out) == 0 {
		t.Fatal("no entries in ZooKeeper's log")
	}
	return out
}

// TestZooKeeperTxnsReencode decodes every txn ZooKeeper logged and checks
// that re-encoding it gives ZooKeeper's bytes. ZooKeeper appends a 12-byte
// TxnDigest (int version 2, long treeDigest) after each record; our encoder
// does not write it, so the encoding must equal the bytes before it.
func TestZooKeeperTxnsReencode(t *testing.T) {
	entries := zkLogEntries(t)
	types := map[wire.Op]int{}
	subTypes := map[wire.Op]int{}
	digests := 0
	prevZxid := int64(0)
	for _, e := range entries {
		hdr, txn, err := server.DecodeTxn(e.Data)
		if err != nil {
			t.Errorf("zxid %#x: DecodeTxn: %v", e.Zxid, err)
			continue
		}
		if hdr.Zxid != e.Zxid || e.Zxid != prevZxid+1 {
			t.Errorf("zxid %#x: header zxid %#x, previous %#x", e.Zxid, hdr.Zxid, prevZxid)
		}
		prevZxid = e.Zxid
		types[hdr.Type]++
		for _, op := range txn.Ops {
			subTypes[op.Type]++
		}
		enc := server.EncodeTxn(&hdr, &txn)
		if !bytes.HasPrefix(e.Data, enc) {
			t.Errorf("zxid %#x (%v): re-encoding differs from ZooKeeper's bytes\n ours %x\n zk   %x", e.Zxid, hdr.Type, enc, e.Data)
			continue
		}
		// ZooKeeper 3.8.0 writes the digest after every txn except a
		// top-level error txn (a failed multi, type 14, has one).
		switch rest := e.Data[len(enc):]; {
		case len(rest) == 0 && hdr.Type == wire.OpError:
		case len(rest) == 12 && binary.BigEndian.Uint32(rest) == 2 && hdr.Type != wire.OpError:
			digests++
		default:
			t.Errorf("zxid %#x (%v): %d unexpected bytes after the record: %x", e.Zxid, hdr.Type, len(rest), rest)
		}
	}
	t.Logf("%d txns re-encoded byte for byte; %d carry ZooKeeper's 12-byte TxnDigest after the record, which EncodeTxn does not write (the %d error txns have none); types %v, multi sub-types %v",
		len(entries), digests, types[wire.OpError], types, subTypes)
	for _, op := range []wire.Op{wire.OpCreateSession, wire.OpCloseSession, wire.OpError, wire.OpCreate, wire.OpCreateContainer,
		wire.OpCreateTTL, wire.OpDelete, wire.OpSetData, wire.OpSetACL, wire.OpMulti} {
		if types[op] == 0 {
			t.Errorf("testdata has no %v txn", op)
		}
	}
	for _, op := range []wire.Op{wire.OpCreate, wire.OpSetData, wire.OpCheck, wire.OpDelete, wire.OpError} {
		if subTypes[op] == 0 {
			t.Errorf("testdata has no %v inside a multi", op)
		}
	}
}

// zkSnapshotPath is the one snapshot in testdata/zk38.
func zkSnapshotPath(t *testing.T) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(zkTestdata, "snapshot.*"))
	if len(m) != 1 {
		t.Fatalf("want one snapshot in %s, found %v", zkTestdata, m)
	}
	return m[0]
}

// TestZooKeeperSnapshotLoads loads ZooKeeper's snapshot with our package
// and checks every node against what a client read from ZooKeeper.
func TestZooKeeperSnapshotLoads(t *testing.T) {
	path := zkSnapshotPath(t)
	snap, err := snapshot.Read(path, nil)
	must(t, "snapshot.Read", err)
	if snap.Digest == nil {
		t.Errorf("%s: digest section not found (ZooKeeper 3.8.0 writes one)", path)
	} else if snap.Digest.Version != 2 {
		t.Errorf("%s: digest version %d, want 2", path, snap.Digest.Version)
	}
	tree, zxid, err := snapshot.Load(path)
	must(t, "snapshot.Load", err)
	if last := entriesLastZxid(t); zxid != last {
		t.Errorf("snapshot zxid %#x, last logged zxid %#x", zxid, last)
	}
	b, err := os.ReadFile(filepath.Join(zkTestdata, "tree.json"))
	must(t, "read tree.json", err)
	var want map[string]node
	must(t, "parse tree.json", json.Unmarshal(b, &want))
	compareTrees(t, "ZooKeeper's snapshot loaded by snapshot.Load vs the tree ZooKeeper served", want, clientView(t, tree))

	// the session left open owns the ephemerals and is in the snapshot
	owner := tree.Get("/g/eph").EphemeralOwner
	if to, ok := tree.Sessions()[owner]; !ok || to != int32(sessionTimeout.Milliseconds()) {
		t.Errorf("session %#x owning /g/eph: in snapshot %v, timeout %d", owner, ok, to)
	}
}

// TestZooKeeperLogReplay applies ZooKeeper's whole log to an empty tree with
// our datatree and expects exactly the tree of ZooKeeper's snapshot.
func TestZooKeeperLogReplay(t *testing.T) {
	tree := datatree.New()
	for _, e := range zkLogEntries(t) {
		hdr, txn, err := server.DecodeTxn(e.Data)
		must(t, fmt.Sprintf("decode %#x", e.Zxid), err)
		tree.Apply(&hdr, &txn)
	}
	snapTree, _, err := snapshot.Load(zkSnapshotPath(t))
	must(t, "snapshot.Load", err)
	compareTrees(t, "our replay of ZooKeeper's log vs ZooKeeper's snapshot", clientView(t, snapTree), clientView(t, tree))
	ws, gs := snapTree.Sessions(), tree.Sessions()
	if fmt.Sprint(ws) != fmt.Sprint(gs) {
		t.Errorf("sessions after replay %v, snapshot has %v", gs, ws)
	}
}

func entriesLastZxid(t *testing.T) int64 {
	e := zkLogEntries(t)
	return e[len(e)-1].Zxid
}

// clientView turns a datatree into what clients would read.
func clientView(t *testing.T, tr *datatree.Tree) map[string]node {
	t.Helper()
	out := map[string]node{}
	err := tr.Walk(func(p string, n *datatree.Node) error {
		if p == "" {
			p = "/"
		}
		var st wire.Stat
		n.Stat(&st)
		var acl []zk.ACL
		for _, a := range tr.ACL(n) {
			acl = append(acl, zk.ACL{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID})
		}
		out[p] = node{Data: n.Data, Null: n.Data == nil, ACL: acl, Stat: zk.Stat(st)}
		return nil
	})
	must(t, "walk", err)
	return out
}
