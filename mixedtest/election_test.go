package mixedtest

import (
	"fmt"
	"testing"
	"time"
)

// failover kills the leader with SIGKILL and waits until the rest serve
// under a new leader; it checks the winner is want and returns the time
// from the kill to every survivor serving.
func (c *cluster) failover(leader, want int, survivors ...int) time.Duration {
	c.t.Helper()
	got, d := c.failoverAny(leader, survivors...)
	if got != want {
		c.t.Fatalf("new leader is %s, want %s", c.members[got].name(), c.members[want].name())
	}
	return d
}

// failoverAny kills leader and returns whichever survivor leads after it:
// with writes in flight the one that logged the most wins, whatever its
// sid, so the winner is a matter of timing.
func (c *cluster) failoverAny(leader int, survivors ...int) (int, time.Duration) {
	c.t.Helper()
	t0 := time.Now()
	c.kill(leader)
	got := c.waitServing(survivors...)
	d := time.Since(t0)
	c.t.Logf("killed leader %s: %s leads after %v", c.members[leader].name(), c.members[got].name(), d.Round(time.Millisecond))
	return got, d
}

// restart starts sid again and waits until it serves under leader.
func (c *cluster) restart(sid, leader int, all ...int) {
	c.t.Helper()
	t0 := time.Now()
	c.start(sid)
	if got := c.waitServing(all...); got != leader {
		c.t.Fatalf("leader changed to %s when %s rejoined", c.members[got].name(), c.members[sid].name())
	}
	how := ""
	if c.members[sid].kind == Go {
		how = " by " + c.goSyncMode(sid)
	}
	c.t.Logf("%s rejoined%s after %v", c.members[sid].name(), how, time.Since(t0).Round(time.Millisecond))
}

// TestElectionsBothKindsWin: ZooKeeper 1 and 2, zkserver 3. zkserver wins
// the first election (highest sid, all empty); killed, ZooKeeper 2 wins;
// zkserver rejoins as its follower; ZooKeeper 2 killed, zkserver wins
// again over ZooKeeper 1 (same zxid, higher sid) and ZooKeeper 2 rejoins as
// its follower. After every step clients of each running server see the
// same tree, including what was written before each kill.
func TestElectionsBothKindsWin(t *testing.T) {
	c := newCluster(t, ZK, ZK, Go)
	electionRounds(c)
	c.checkLogsAgree(3, 1)
	c.checkLogs()
}

// TestElectionsTwoGo: zkserver 1 and 2, ZooKeeper 3. ZooKeeper wins first;
// killed, zkserver 2 leads zkserver 1; ZooKeeper 3 rejoins under it; then
// zkserver 2 is killed and ZooKeeper 3 wins over zkserver 1.
func TestElectionsTwoGo(t *testing.T) {
	c := newCluster(t, Go, Go, ZK)
	electionRounds(c)
	c.checkLogsAgree(3, 1, 2)
	c.checkLogs()
}

// electionRounds: 3 leads 1, then 2 joins; 3 killed, 2 wins and 3 rejoins;
// 2 killed, 3 wins and 2 rejoins. After every step clients of each running
// server see the same tree, including what was written before each kill.
func electionRounds(c *cluster) {
	t := c.t
	t.Helper()
	// 3 and 1 first (a JVM starts slower than zkserver: started together,
	// any two may settle before the third is up), then 2 joins
	c.start(3)
	c.start(1)
	if l := c.waitServing(1, 3); l != 3 {
		t.Fatalf("first leader is %s, want sid 3", c.members[l].name())
	}
	c.restart(2, 3, 1, 2, 3)
	c.writeSome("/e1", 30, 1, 2, 3)
	c.checkSameTree(1, 2, 3)

	c.failover(3, 2, 1, 2) // leader 3 killed: 2 wins
	c.writeSome("/e2", 30, 1, 2)
	c.checkSameTree(1, 2)
	c.restart(3, 2, 1, 2, 3)
	c.writeSome("/e3", 30, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	c.waitQuiet(1, 2, 3)

	c.failover(2, 3, 1, 3) // leader 2 killed: 3 wins
	c.writeSome("/e4", 30, 1, 3)
	c.checkSameTree(1, 3)
	c.restart(2, 3, 1, 2, 3)
	c.writeSome("/e5", 30, 1, 2, 3)
	tree := c.checkSameTree(1, 2, 3)
	for i := 1; i <= 5; i++ {
		if _, ok := tree[fmt.Sprintf("/e%d/n0029", i)]; !ok {
			t.Errorf("/e%d/n0029 is missing", i)
		}
	}
	c.waitQuiet(1, 2, 3)
}
