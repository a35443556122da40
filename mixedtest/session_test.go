package mixedtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// shortSession is just above minSessionTimeout (2 ticks): a session the
// leader does not hear about for that long expires.
const shortSession = 3 * time.Second

// ephemeralVia opens a short session with sid and creates an ephemeral
// node path through it.
func (c *cluster) ephemeralVia(sid int, path string) *zk.Conn {
	c.t.Helper()
	conn, ch, err := zk.Connect([]string{c.members[sid].clientAddr()}, shortSession, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(conn.Close)
	deadline := time.After(20 * time.Second)
wait:
	for {
		select {
		case ev := <-ch:
			if ev.State == zk.StateHasSession {
				break wait
			}
		case <-deadline:
			c.t.Fatalf("no session with %s", c.members[sid].name())
		}
	}
	go func() {
		for range ch {
		}
	}()
	if _, err := conn.Create(path, []byte(fmt.Sprint(sid)), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		c.t.Fatalf("create ephemeral %s via %s: %v", path, c.members[sid].name(), err)
	}
	return conn
}

// exists reports whether path exists as seen through sid (after a sync).
func (c *cluster) exists(sid int, path string) (bool, *zk.Stat) {
	c.t.Helper()
	conn := c.connect(sid)
	defer conn.Close()
	if _, err := conn.Sync(path); err != nil && err != zk.ErrNoNode {
		c.t.Fatalf("sync via %s: %v", c.members[sid].name(), err)
	}
	ok, st, err := conn.Exists(path)
	if err != nil {
		c.t.Fatalf("exists %s via %s: %v", path, c.members[sid].name(), err)
	}
	return ok, st
}

// waitGone waits until path is gone on every listed member.
func (c *cluster) waitGone(path string, within time.Duration, sids ...int) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := 0
		for _, sid := range sids {
			if ok, _ := c.exists(sid, path); ok {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s still exists on %d of %v after %v", path, left, sids, within)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestSessionsAcrossKinds: sessions whose owner is a follower stay alive
// only if the follower reports their activity to the leader in its PING
// replies, and die when that follower does. Checked with a ZooKeeper
// leader over a zkserver follower, then with a zkserver leader over a
// ZooKeeper follower.
func TestSessionsAcrossKinds(t *testing.T) {
	c := newCluster(t, ZK, ZK, Go)
	c.start(2)
	c.start(1)
	if l := c.waitServing(1, 2); l != 2 {
		t.Fatalf("leader is %s, want ZooKeeper sid 2", c.members[l].name())
	}
	c.restart(3, 2, 1, 2, 3)

	// ZooKeeper leader, sessions on a zkserver follower and a ZooKeeper one
	goConn := c.ephemeralVia(3, "/eph-on-go")
	zkConn := c.ephemeralVia(1, "/eph-on-zk")
	idle := 4 * shortSession
	time.Sleep(idle)
	for _, p := range []string{"/eph-on-go", "/eph-on-zk"} {
		for _, sid := range c.sids {
			ok, st := c.exists(sid, p)
			if !ok {
				t.Fatalf("%s gone on %s after %v idle: its session expired (touches not reaching the leader?)", p, c.members[sid].name(), idle)
			}
			if sid == 3 && p == "/eph-on-go" && st.EphemeralOwner != goConn.SessionID() {
				t.Errorf("%s owner %#x, session %#x", p, st.EphemeralOwner, goConn.SessionID())
			}
		}
	}
	t.Logf("both sessions alive after %v idle under a ZooKeeper leader", idle)
	// a client closing through zkserver removes its ephemeral everywhere
	goConn.Close()
	c.waitGone("/eph-on-go", 5*time.Second, 1, 2, 3)
	// the zkserver follower dies with a session on it: the ZooKeeper
	// leader expires the session
	c.ephemeralVia(3, "/eph-orphan")
	c.kill(3)
	c.waitGone("/eph-orphan", 4*shortSession, 1, 2)
	c.restart(3, 2, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	zkConn.Close()
	c.waitGone("/eph-on-zk", 5*time.Second, 1, 2, 3)

	// zkserver leader: kill the ZooKeeper leader (3 and 1 are level, 3
	// has the higher sid)
	c.waitQuiet(1, 2, 3)
	c.failover(2, 3, 1, 3)
	c.restart(2, 3, 1, 2, 3)
	zkConn = c.ephemeralVia(1, "/eph-on-zk2")
	goConn = c.ephemeralVia(3, "/eph-on-go2")
	time.Sleep(idle)
	for _, p := range []string{"/eph-on-zk2", "/eph-on-go2"} {
		for _, sid := range c.sids {
			if ok, _ := c.exists(sid, p); !ok {
				t.Fatalf("%s gone on %s after %v idle under a zkserver leader", p, c.members[sid].name(), idle)
			}
		}
	}
	t.Logf("both sessions alive after %v idle under a zkserver leader", idle)
	zkConn.Close()
	c.waitGone("/eph-on-zk2", 5*time.Second, 1, 2, 3)
	c.ephemeralVia(2, "/eph-orphan2")
	c.kill(2)
	c.waitGone("/eph-orphan2", 4*shortSession, 1, 3)
	c.restart(2, 3, 1, 2, 3)
	goConn.Close()
	c.waitGone("/eph-on-go2", 5*time.Second, 1, 2, 3)
	c.checkSameTree(1, 2, 3)
	c.checkLogs()
}
