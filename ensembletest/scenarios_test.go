package ensembletest

import (
	"math/rand/v2"
	"os"
	"syscall"
	"testing"
	"time"
)

// long skips unless ZKSERVER_ENSEMBLE is set (make ensemble-test sets it).
func long(t *testing.T) {
	t.Helper()
	if os.Getenv("ZKSERVER_ENSEMBLE") == "" {
		t.Skip("long ensemble scenario; run with ZKSERVER_ENSEMBLE=1 (make ensemble-test)")
	}
}

// Phases of a scenario: the workload runs warm before the fault, and
// after healing it must make progress again before everything is checked.
const (
	warm       = 2 * time.Second
	faultHold  = 3 * time.Second
	progressN  = 50
	progressIn = 30 * time.Second
)

// scenario starts a size-node ensemble (peers behind proxies when
// proxied), runs the workload, applies fault (which must leave every node
// running and the network healed) and verifies.
func scenario(t *testing.T, size int, proxied bool, fault func(c *cluster, w *workload)) {
	long(t)
	began := time.Now()
	c := newCluster(t, size, proxied)
	c.startAll()
	leader := c.waitLeader(size, readyWait)
	t.Logf("%d nodes up, leader server.%d, after %v", size, leader.id, time.Since(began).Round(time.Millisecond))
	w := startWorkload(t, c, seed(t))
	w.waitProgress(progressN, progressIn, "before the fault")
	time.Sleep(warm)
	fault(c, w)
	for _, n := range c.nodes {
		if !n.running() {
			t.Fatalf("fault left server.%d down", n.id)
		}
	}
	c.waitLeader(size, readyWait)
	w.waitProgress(progressN, progressIn, "after healing")
	time.Sleep(warm)
	w.verify()
	t.Logf("scenario done in %v", time.Since(began).Round(time.Millisecond))
}

// failover waits for a new leader among the others and for writes to flow
// through it, and reports how long that took.
func failover(t *testing.T, c *cluster, w *workload, gone *node, since time.Time, alive int) *node {
	t.Helper()
	next := c.waitLeader(alive, readyWait, gone.id)
	t.Logf("new leader server.%d %v after losing server.%d", next.id, time.Since(since).Round(time.Millisecond), gone.id)
	w.waitProgress(progressN, progressIn, "after failover")
	return next
}

func killLeader(t *testing.T, size int) {
	scenario(t, size, false, func(c *cluster, w *workload) {
		l := c.waitLeader(size, readyWait)
		l.kill()
		failover(t, c, w, l, time.Now(), size-1)
		time.Sleep(faultHold)
		l.start()
	})
}

func TestKillLeader3(t *testing.T) { killLeader(t, 3) }
func TestKillLeader5(t *testing.T) { killLeader(t, 5) }

func killFollower(t *testing.T, size int) {
	scenario(t, size, false, func(c *cluster, w *workload) {
		l := c.waitLeader(size, readyWait)
		f := c.followers(l)[0]
		f.kill()
		w.waitProgress(progressN, progressIn, "with a follower down")
		time.Sleep(faultHold)
		f.start()
	})
}

func TestKillFollower3(t *testing.T) { killFollower(t, 3) }
func TestKillFollower5(t *testing.T) { killFollower(t, 5) }

// TestKillLeaderRepeated3 kills the leader of a 3-node ensemble with
// SIGKILL again and again, restarting it each time once a new leader
// serves, so every round runs a new epoch with a rejoining old leader.
func TestKillLeaderRepeated3(t *testing.T) {
	scenario(t, 3, false, func(c *cluster, w *workload) {
		for round := 0; round < 4; round++ {
			l := c.waitLeader(3, readyWait)
			l.kill()
			failover(t, c, w, l, time.Now(), 2)
			l.start()
		}
	})
}

// TestKillLeaderAndFollower5 kills two of five at once (the leader and a
// follower): the remaining three are a quorum and must carry on.
func TestKillLeaderAndFollower5(t *testing.T) {
	scenario(t, 5, false, func(c *cluster, w *workload) {
		l := c.waitLeader(5, readyWait)
		f := c.followers(l)[0]
		l.kill()
		f.kill()
		next := c.waitLeader(3, readyWait, l.id, f.id)
		t.Logf("new leader server.%d", next.id)
		w.waitProgress(progressN, progressIn, "with two of five down")
		time.Sleep(faultHold)
		l.start()
		f.start()
	})
}

// TestKillAll kills every node at once under load and restarts them all:
// nothing acknowledged may be lost.
func TestKillAll3(t *testing.T) {
	scenario(t, 3, false, func(c *cluster, w *workload) {
		for _, n := range c.nodes {
			n.kill()
		}
		time.Sleep(500 * time.Millisecond)
		for _, n := range c.nodes {
			n.start()
		}
	})
}

func TestKillAll5(t *testing.T) {
	scenario(t, 5, false, func(c *cluster, w *workload) {
		for _, n := range c.nodes {
			n.kill()
		}
		for _, n := range c.nodes {
			n.start()
		}
	})
}

// TestStopLeader freezes the leader with SIGSTOP for longer than
// syncLimit ticks, so the others elect a new leader; after SIGCONT the
// old leader must notice it lost leadership and rejoin as a follower.
func TestStopLeader3(t *testing.T) {
	scenario(t, 3, false, func(c *cluster, w *workload) {
		l := c.waitLeader(3, readyWait)
		// A deposed leader answers sync from its own state until it notices
		// it lost its quorum (ZooKeeper's leader does the same: sync is not
		// a quorum operation), so its sync reads are not checked from the
		// freeze until it serves as a follower again.
		w.noSync.Store(l.id, true)
		l.signal(syscall.SIGSTOP)
		failover(t, c, w, l, time.Now(), 2)
		time.Sleep(time.Duration(syncLimit*tickMs)*time.Millisecond + faultHold)
		l.signal(syscall.SIGCONT)
		waitNotLeader(t, l, readyWait)
		c.waitLeader(3, readyWait)
		w.noSync.Delete(l.id)
	})
}

// waitNotLeader waits until n no longer calls itself leader.
func waitNotLeader(t *testing.T, n *node, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last srvrInfo
	var err error
	for time.Now().Before(deadline) {
		last, err = n.srvr()
		if err != nil || last.mode != "leader" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("isolated server.%d still says it leads %v after losing its quorum (srvr %+v)", n.id, d, last)
}

// isolateLeader cuts every peer link of the leader; the majority elects a
// new leader and the isolated one must step down within syncLimit ticks.
func isolateLeader(t *testing.T, size int, mode cutMode) {
	scenario(t, size, true, func(c *cluster, w *workload) {
		l := c.waitLeader(size, readyWait)
		c.isolate(l.id, mode)
		cutAt := time.Now()
		failover(t, c, w, l, cutAt, size-1)
		waitNotLeader(t, l, time.Duration(syncLimit*tickMs)*time.Millisecond+5*time.Second)
		t.Logf("isolated server.%d no longer leading %v after the cut (checked after the failover)", l.id, time.Since(cutAt).Round(time.Millisecond))
		time.Sleep(faultHold)
		c.healAll()
	})
}

func TestPartitionLeaderReset3(t *testing.T)     { isolateLeader(t, 3, cutReset) }
func TestPartitionLeaderBlackhole3(t *testing.T) { isolateLeader(t, 3, cutBlackhole) }
func TestPartitionLeaderBlackhole5(t *testing.T) { isolateLeader(t, 5, cutBlackhole) }

// TestPartitionFollower3 isolates a follower (silent links): the leader
// keeps its quorum, writes flow; the follower rejoins after healing.
func TestPartitionFollower3(t *testing.T) {
	scenario(t, 3, true, func(c *cluster, w *workload) {
		l := c.waitLeader(3, readyWait)
		f := c.followers(l)[0]
		c.isolate(f.id, cutBlackhole)
		w.waitProgress(progressN, progressIn, "with a follower cut off")
		time.Sleep(faultHold)
		c.healAll()
	})
}

// TestPartitionMinority5 splits 5 nodes into the leader with one follower
// against the other three: the three elect a leader and take writes, the
// old leader steps down, and after healing everyone agrees.
func TestPartitionMinority5(t *testing.T) {
	scenario(t, 5, true, func(c *cluster, w *workload) {
		l := c.waitLeader(5, readyWait)
		fs := c.followers(l)
		minority := []*node{l, fs[0]}
		majority := fs[1:]
		for _, a := range minority {
			for _, b := range majority {
				c.cut(a.id, b.id, cutBlackhole)
			}
		}
		cutAt := time.Now()
		next := c.waitLeader(3, readyWait, l.id, fs[0].id)
		t.Logf("majority leader server.%d %v after the split", next.id, time.Since(cutAt).Round(time.Millisecond))
		w.waitProgress(progressN, progressIn, "majority side")
		waitNotLeader(t, l, time.Duration(syncLimit*tickMs)*time.Millisecond+5*time.Second)
		time.Sleep(faultHold)
		c.healAll()
	})
}

// TestPartitionFlaky3 cuts and restores random single links of a 3-node
// ensemble for a while (one link at a time, so a quorum always exists).
func TestPartitionFlaky3(t *testing.T) {
	scenario(t, 3, true, func(c *cluster, w *workload) {
		pairs := [][2]int{{1, 2}, {2, 3}, {1, 3}}
		for i := 0; i < 8; i++ {
			p := pairs[i%len(pairs)]
			mode := cutReset
			if i%2 == 1 {
				mode = cutBlackhole
			}
			c.cut(p[0], p[1], mode)
			time.Sleep(1500 * time.Millisecond)
			c.restore(p[0], p[1])
			time.Sleep(500 * time.Millisecond)
		}
	})
}

// TestSyncOnLeader3 is the sync check under load without faults, the
// reader on the leader and the /syncreg writer on a follower: a write the
// follower acknowledged is committed, so a sync on the leader issued
// afterwards must see it. It targets a suspected race (server/conn.go
// answers OpSync on a leader, s.learner == nil, as an immediate local
// read, not ordered after the txns the leader has committed but not yet
// applied) seen as off-by-one sync reads in TestStopLeader3, TestKillAll3
// and TestKillLeaderRepeated3; it has not reproduced here without faults.
func TestSyncOnLeader3(t *testing.T) {
	long(t)
	c := newCluster(t, 3, false)
	c.startAll()
	l := c.waitLeader(3, readyWait)
	f := c.followers(l)[0]
	prepare(t, c)
	w := &workload{t: t, c: c, start: time.Now(), seqAcked: map[string]int{}, stopCh: make(chan struct{})}
	for i, n := range c.nodes { // load, so the leader's apply loop lags
		w.wg.Add(1)
		go w.writer(i, dial(t, n.addr()), rand.New(rand.NewPCG(uint64(i), 7)))
	}
	w.wg.Add(2)
	go w.syncWriter(dial(t, f.addr()))
	go w.syncReader(l.id, dial(t, l.addr()))
	time.Sleep(8 * time.Second)
	w.stop()
	t.Logf("%d sync reads on leader server.%d, writes through server.%d up to %d", w.syncReads.Load(), l.id, f.id, w.syncLast.Load())
	if w.syncReads.Load() == 0 {
		t.Fatal("no sync read completed")
	}
	if len(w.syncBad) > 0 {
		t.Errorf("%d reads after sync on the leader missed writes: %v", len(w.syncBad), head(w.syncBad, 10))
	}
}
