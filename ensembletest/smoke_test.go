package ensembletest

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestSmoke runs in make test: a 3-node ensemble elects a leader, a write
// through a follower is read on every server after sync, the leader is
// killed with SIGKILL, the other two elect a new one, a write succeeds
// again, and the old leader rejoins and catches up.
func TestSmoke(t *testing.T) {
	began := time.Now()
	c := newCluster(t, 3, false)
	c.startAll()
	leader := c.waitLeader(3, readyWait)
	t.Logf("leader server.%d after %v", leader.id, time.Since(began).Round(time.Millisecond))
	fs := c.followers(leader)

	w := dial(t, fs[0].addr())
	if err := retry(10*time.Second, func() error {
		_, err := w.Create("/smoke", []byte("one"), 0, zk.WorldACL(zk.PermAll))
		return err
	}); err != nil {
		t.Fatalf("create through follower server.%d: %v", fs[0].id, err)
	}
	for _, n := range c.nodes {
		expectData(t, n, "/smoke", "one")
	}

	leader.kill()
	killed := time.Now()
	next := c.waitLeader(2, readyWait, leader.id)
	t.Logf("new leader server.%d %v after kill -9 of server.%d", next.id, time.Since(killed).Round(time.Millisecond), leader.id)

	var other *node
	for _, n := range c.nodes {
		if n != leader && n != next {
			other = n
		}
	}
	w2 := dial(t, other.addr())
	if err := retry(15*time.Second, func() error {
		_, err := w2.Set("/smoke", []byte("two"), -1)
		return err
	}); err != nil {
		t.Fatalf("write after failover through server.%d: %v", other.id, err)
	}
	leader.start()
	c.waitLeader(3, readyWait)
	for _, n := range c.nodes {
		expectData(t, n, "/smoke", "two")
	}
	waitConverged(t, c, 15*time.Second)
	t.Logf("smoke done in %v", time.Since(began).Round(time.Millisecond))
}

// expectData syncs a client of n alone and reads path.
func expectData(t *testing.T, n *node, path, want string) {
	t.Helper()
	conn := dial(t, n.addr())
	defer conn.Close()
	var got string
	err := retry(10*time.Second, func() error {
		if _, err := conn.Sync(path); err != nil {
			return err
		}
		data, _, err := conn.Get(path)
		if err != nil {
			return err
		}
		got = string(data)
		if got != want {
			return errors.New("stale")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("server.%d: %s = %q after sync, want %q (%v)", n.id, path, got, want, err)
	}
}
