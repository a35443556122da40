package mixedtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkserver/zkserver/server"
	"github.com/zkserver/zkserver/txnlog"
	"github.com/zkserver/zkserver/wire"
)

// goFollowerOfZK starts ZooKeeper as sids 2 and 3, waits for them to
// settle, then starts zkserver as sid 1 (the lowest sid: it never wins a
// tie) and waits until it follows. It returns the ZooKeeper leader's sid.
func goFollowerOfZK(t *testing.T, zkProps ...string) (*cluster, int) {
	c := newCluster(t, Go, ZK, ZK)
	c.zkProps = zkProps
	t0 := time.Now()
	c.start(2)
	c.start(3)
	leader := c.waitServing(2, 3)
	t.Logf("ZooKeeper pair serving after %v, leader sid %d", time.Since(t0).Round(time.Millisecond), leader)
	c.start(1)
	if l := c.waitServing(1, 2, 3); l != leader {
		t.Fatalf("leader changed from %d to %d when zkserver joined", leader, l)
	}
	t.Logf("zkserver joined as follower (%s sync) after %v", c.goSyncMode(1), time.Since(t0).Round(time.Millisecond))
	return c, leader
}

// srvrZxid is the Zxid line of sid's srvr answer (-1 if unavailable).
func (c *cluster) srvrZxid(sid int) int64 {
	for _, l := range strings.Split(fourLetter(c.members[sid].clientAddr(), "srvr"), "\n") {
		if v, ok := strings.CutPrefix(l, "Zxid: "); ok {
			z, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(v), "0x"), 16, 64)
			if err == nil {
				return int64(z)
			}
		}
	}
	return -1
}

// waitQuiet waits until every listed member reports the same zxid twice
// in a row (no session still closing anywhere) and returns it.
func (c *cluster) waitQuiet(sids ...int) int64 {
	c.t.Helper()
	prev := int64(-2)
	var zs []int64
	for i := 0; i < 100; i++ {
		zs = zs[:0]
		same := true
		for _, sid := range sids {
			zs = append(zs, c.srvrZxid(sid))
			if zs[len(zs)-1] != zs[0] || zs[0] < 0 {
				same = false
			}
		}
		if same && zs[0] == prev {
			return prev
		}
		if same {
			prev = zs[0]
		} else {
			prev = -2
		}
		time.Sleep(300 * time.Millisecond)
	}
	c.t.Fatalf("members %v never agreed on a zxid: %v", sids, zs)
	return 0
}

// rejoin restarts zkserver sid 1 and checks it synced with want.
func (c *cluster) rejoin(leader int, want string) {
	c.t.Helper()
	t0 := time.Now()
	before := len(c.zkSyncLines(leader, 1))
	c.start(1)
	if l := c.waitServing(1, 2, 3); l != leader {
		c.t.Fatalf("leader changed from %d to %d when zkserver rejoined", leader, l)
	}
	got := c.goSyncMode(1)
	c.t.Logf("zkserver rejoined by %s after %v", got, time.Since(t0).Round(time.Millisecond))
	for _, l := range c.zkSyncLines(leader, 1)[before:] {
		c.t.Logf("ZooKeeper leader: %s", l)
	}
	if got != want {
		c.t.Fatalf("zkserver synced by %q, want %s", got, want)
	}
}

// TestFollowerSyncDIFF: zkserver follows a ZooKeeper pair, is stopped, a
// few writes happen, and it comes back by DIFF; every server sees the same
// tree before and after.
func TestFollowerSyncDIFF(t *testing.T) {
	c, leader := goFollowerOfZK(t)
	c.writeSome("/a", 30, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	c.waitQuiet(1, 2, 3)
	c.stop(1)
	c.writeSome("/b", 20, 2, 3)
	c.rejoin(leader, "DIFF")
	c.checkSameTree(1, 2, 3)
	c.writeSome("/c", 20, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	c.waitQuiet(1, 2, 3)
	c.checkLogsAgree(leader, 1)
	c.checkLogs()
}

// TestFollowerSyncSNAP: while zkserver is down the pair commits more than
// ZooKeeper's committed-log window (500 + 1) and on-disk txn sync is off
// (zookeeper.snapshotSizeFactor=-1), so the leader must send a snapshot.
func TestFollowerSyncSNAP(t *testing.T) {
	c, leader := goFollowerOfZK(t, "-Dzookeeper.snapshotSizeFactor=-1")
	c.writeSome("/a", 20, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	c.waitQuiet(1, 2, 3)
	c.stop(1)
	c.writeSome("/big", 300, 2, 3) // ~600 txns
	c.rejoin(leader, "SNAP")
	c.checkSameTree(1, 2, 3)
	c.expectPebbleLog(1, "pebble store replaced by the tree from the leader")
	// it goes on following: new writes through it, then a DIFF rejoin
	// from the snapshot it took
	c.writeSome("/c", 20, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	c.waitQuiet(1, 2, 3)
	c.stop(1)
	c.writeSome("/d", 10, 2, 3)
	c.rejoin(leader, "DIFF")
	c.checkSameTree(1, 2, 3)
	c.waitQuiet(1, 2, 3)
	c.checkLogsAgree(leader, 1)
	c.checkLogs()
}

// TestFollowerSyncTRUNC: zkserver holds txns the ensemble never committed
// — what a leader killed right after logging its proposals leaves behind
// (made here by appending them to its stopped log, in the current epoch,
// past the ensemble's last zxid). ZooKeeper's leader answers TRUNC and
// the ghost nodes disappear.
func TestFollowerSyncTRUNC(t *testing.T) {
	c, leader := goFollowerOfZK(t)
	c.writeSome("/a", 20, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	last := c.waitQuiet(1, 2, 3)
	c.stop(1)
	logDir := filepath.Join(c.members[1].data, "version-2")
	if got := lastLogged(t, logDir); got != last {
		t.Fatalf("zkserver's log ends at %#x, the ensemble at %#x", got, last)
	}
	appendGhosts(t, logDir, last, 3)
	c.rejoin(leader, "TRUNC")
	tree := c.checkSameTree(1, 2, 3)
	c.expectPebbleLog(1, "pebble store rebuilt from a checkpoint for a truncation")
	noGhosts(t, tree)
	c.writeSome("/c", 20, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	c.waitQuiet(1, 2, 3)
	// the ghosts' zxids were reused by the ensemble: zkserver's log must
	// hold the leader's txns there, byte for byte
	c.checkLogsAgree(leader, 1)
	c.checkLogs()
}

// readLog returns every txn of a txn log directory by zxid.
func readLog(t *testing.T, dir string) (map[int64][]byte, []int64) {
	t.Helper()
	it, err := txnlog.NewIterator(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	m := map[int64][]byte{}
	var order []int64
	for {
		e, err := it.Next()
		if errors.Is(err, io.EOF) {
			return m, order
		}
		if err != nil {
			t.Fatalf("reading %s: %v", dir, err)
		}
		if _, dup := m[e.Zxid]; !dup {
			order = append(order, e.Zxid)
		}
		m[e.Zxid] = e.Data
	}
}

// checkLogsAgree fails unless every txn in each other member's log is in
// ref's log under the same zxid with the same bytes (TxnHeader, record
// and TxnDigest), and the logs end at the same zxid.
func (c *cluster) checkLogsAgree(ref int, others ...int) {
	c.t.Helper()
	dir := func(sid int) string { return filepath.Join(c.members[sid].data, "version-2") }
	want, wantOrder := readLog(c.t, dir(ref))
	for _, sid := range others {
		got, order := readLog(c.t, dir(sid))
		bad := 0
		for _, z := range order {
			if len(wantOrder) > 0 && z < wantOrder[0] {
				// before the reference's log begins: a zkserver that synced
				// by SNAP keeps only the log after that snapshot (it drops
				// the older log, which ends before the snapshot's txns)
				continue
			}
			w, ok := want[z]
			switch {
			case !ok:
				c.t.Errorf("%s logged %#x, which %s's log lacks", c.members[sid].name(), z, c.members[ref].name())
				bad++
			case !bytes.Equal(w, got[z]):
				c.t.Errorf("txn %#x differs:\n  %s: %x\n  %s: %x", z, c.members[ref].name(), w, c.members[sid].name(), got[z])
				bad++
			}
			if bad > 10 {
				c.t.FailNow()
			}
		}
		if len(order) == 0 || len(wantOrder) == 0 || order[len(order)-1] != wantOrder[len(wantOrder)-1] {
			c.t.Errorf("%s's log (%d txns) and %s's (%d txns) do not end at the same zxid", c.members[sid].name(), len(order), c.members[ref].name(), len(wantOrder))
		} else {
			c.t.Logf("%s's log: %d txns, all byte-identical to %s's, up to %#x", c.members[sid].name(), len(order), c.members[ref].name(), order[len(order)-1])
		}
	}
}

// lastLogged is the zxid of the last txn in a txn log directory.
func lastLogged(t *testing.T, dir string) int64 {
	t.Helper()
	it, err := txnlog.NewIterator(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	last := int64(0)
	for {
		e, err := it.Next()
		if errors.Is(err, io.EOF) {
			return last
		}
		if err != nil {
			t.Fatalf("reading %s: %v", dir, err)
		}
		last = e.Zxid
	}
}

// appendGhosts logs n creates of /ghostN after zxid in dir, as a leader
// logs its own proposals before sending them.
func appendGhosts(t *testing.T, dir string, after int64, n int) {
	t.Helper()
	l, err := txnlog.Open(txnlog.Options{Dir: dir, ForceSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var entries []txnlog.Entry
	for i := 1; i <= n; i++ {
		z := after + int64(i)
		hdr := wire.TxnHeader{ClientID: 0, Cxid: int32(i), Zxid: z, Time: time.Now().UnixMilli(), Type: wire.OpCreate}
		txn := wire.Txn{Type: wire.OpCreate, Path: fmt.Sprintf("/ghost%d", i), Data: []byte("never committed"),
			ACL: []wire.ACL{{Perms: 31, Id: wire.Id{Scheme: "world", ID: "anyone"}}}, ParentCVersion: 1000 + int32(i)}
		entries = append(entries, txnlog.Entry{Zxid: z, Data: server.EncodeTxn(&hdr, &txn)})
	}
	errc := make(chan error, 1)
	l.Commit(entries, func(err error) { errc <- err })
	if err := <-errc; err != nil {
		t.Fatalf("appending ghost txns: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("logged %d uncommitted txns %#x..%#x in %s", n, after+1, after+int64(n), dir)
}

var zkLearnerSyncRE = regexp.MustCompile(`Getting a (diff|snapshot) from (?:the )?leader|Truncating log to get in sync with the leader`)

// zkSyncMode is how ZooKeeper member sid synced on its latest start
// (DIFF, SNAP or TRUNC; "" if it logged none of them).
func (c *cluster) zkSyncMode(sid int) string {
	ms := zkLearnerSyncRE.FindAllStringSubmatch(c.logSinceStart(sid), -1)
	if len(ms) == 0 {
		return ""
	}
	switch m := ms[len(ms)-1]; m[1] {
	case "diff":
		return "DIFF"
	case "snapshot":
		return "SNAP"
	default:
		return "TRUNC"
	}
}

// rejoinZK restarts ZooKeeper member sid under leader and checks how it
// synced.
func (c *cluster) rejoinZK(sid, leader int, want string) {
	c.t.Helper()
	t0 := time.Now()
	before := strings.Count(c.log(leader), "learner sync sent")
	c.start(sid)
	if l := c.waitServing(c.sids...); l != leader {
		c.t.Fatalf("leader changed from %d to %d when %s rejoined", leader, l, c.members[sid].name())
	}
	got := c.zkSyncMode(sid)
	c.t.Logf("%s rejoined by %s after %v", c.members[sid].name(), got, time.Since(t0).Round(time.Millisecond))
	n := 0
	for _, l := range strings.Split(c.log(leader), "\n") {
		if !strings.Contains(l, "learner sync sent") {
			continue
		}
		if n++; n > before && strings.Contains(l, fmt.Sprintf(`"sid": %d,`, sid)) {
			c.t.Logf("zkserver leader: %s", l)
		}
	}
	if got != want {
		c.t.Fatalf("%s synced by %q, want %s", c.members[sid].name(), got, want)
	}
}

// TestZKFollowerSyncsFromGo: ZooKeeper 1 follows a zkserver leader (sid 3,
// with ZooKeeper 2 as the other follower) and rejoins it by DIFF, by SNAP
// (more than the leader's committed window written meanwhile) and by
// TRUNC (uncommitted txns appended to its own log while it was down).
func TestZKFollowerSyncsFromGo(t *testing.T) {
	c := newCluster(t, ZK, ZK, Go)
	c.start(3)
	c.start(2)
	if l := c.waitServing(2, 3); l != 3 {
		t.Fatalf("leader is %s, want zkserver sid 3", c.members[l].name())
	}
	c.start(1)
	c.waitServing(1, 2, 3)
	t.Logf("ZooKeeper 1 joined by %s", c.zkSyncMode(1))
	c.writeSome("/a", 20, 1, 2, 3)
	c.checkSameTree(1, 2, 3)

	// DIFF
	c.waitQuiet(1, 2, 3)
	c.stop(1)
	c.writeSome("/b", 20, 2, 3)
	c.rejoinZK(1, 3, "DIFF")
	c.checkSameTree(1, 2, 3)

	// SNAP
	c.waitQuiet(1, 2, 3)
	c.stop(1)
	c.writeSome("/big", 300, 2, 3)
	c.rejoinZK(1, 3, "SNAP")
	c.checkSameTree(1, 2, 3)
	c.expectPebbleLog(3, "pebble view opened for a SNAP")

	// TRUNC
	last := c.waitQuiet(1, 2, 3)
	c.stop(1)
	logDir := filepath.Join(c.members[1].data, "version-2")
	if got := lastLogged(t, logDir); got != last {
		t.Fatalf("ZooKeeper 1's log ends at %#x, the ensemble at %#x", got, last)
	}
	appendGhosts(t, logDir, last, 3)
	c.rejoinZK(1, 3, "TRUNC")
	tree := c.checkSameTree(1, 2, 3)
	noGhosts(t, tree)
	c.writeSome("/c", 20, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	c.waitQuiet(1, 2, 3)
	c.checkLogsAgree(3, 2)
	c.checkLogs()
}

// expectPebbleLog checks, when the zkserver members run in pebble mode
// (ZKSERVER_STORAGE=pebble), that sid's log shows the pebble path ran.
func (c *cluster) expectPebbleLog(sid int, msg string) {
	c.t.Helper()
	if os.Getenv("ZKSERVER_STORAGE") != "pebble" {
		return
	}
	if !strings.Contains(c.log(sid), msg) {
		c.t.Errorf("%s: pebble mode, but its log lacks %q", c.members[sid].name(), msg)
	}
}

// noGhosts fails t when a node appendGhosts logged survived a TRUNC.
func noGhosts(t *testing.T, tree map[string]znode) {
	t.Helper()
	for p := range tree {
		if strings.HasPrefix(p, "/ghost") {
			t.Errorf("uncommitted node %s survived the TRUNC", p)
		}
	}
}
