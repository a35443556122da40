package mixedtest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// writer creates sequential nodes /w/<sid>-<n> through one server until
// stopped, remembering every create the server acknowledged.
type writer struct {
	sid   int
	conn  *zk.Conn
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	acked []string
	fails int
}

func (c *cluster) startWriter(sid int) *writer {
	c.t.Helper()
	w := &writer{sid: sid, conn: c.connect(sid), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			p, err := w.conn.Create(fmt.Sprintf("/w/%d-", sid), []byte(fmt.Sprint(i)), zk.FlagSequence, zk.WorldACL(zk.PermAll))
			w.mu.Lock()
			if err == nil {
				w.acked = append(w.acked, p)
			} else {
				w.fails++
			}
			w.mu.Unlock()
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	return w
}

func (w *writer) halt() {
	close(w.stop)
	<-w.done
	w.conn.Close()
}

// TestWritesThroughFailover: clients write through every server while the
// zkserver leader is killed (ZooKeeper takes over), then while the
// ZooKeeper leader is killed (zkserver takes over, unless the other
// ZooKeeper logged more before the kill). Every acknowledged
// create exists on every server at the end, sequential names never
// repeat, and all trees are equal.
func TestWritesThroughFailover(t *testing.T) {
	c := newCluster(t, ZK, ZK, Go)
	c.start(3)
	c.start(1)
	if l := c.waitServing(1, 3); l != 3 {
		t.Fatalf("leader is %s, want zkserver sid 3", c.members[l].name())
	}
	c.restart(2, 3, 1, 2, 3)
	conn := c.connect(1)
	if _, err := conn.Create("/w", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	conn.Close()

	var all []*writer
	run := func(sids ...int) []*writer {
		var ws []*writer
		for _, sid := range sids {
			ws = append(ws, c.startWriter(sid))
		}
		all = append(all, ws...)
		return ws
	}
	halt := func(ws []*writer) {
		for _, w := range ws {
			w.halt()
		}
	}

	ws := run(1, 2, 3)
	time.Sleep(2 * time.Second)
	// zkserver leader killed while writes flow: a ZooKeeper takes over
	// (the one that logged the most; sid 2 when they are even)
	zkLeader, _ := c.failoverAny(3, 1, 2)
	time.Sleep(2 * time.Second)
	halt(ws)
	c.restart(3, zkLeader, 1, 2, 3)
	if m := c.goSyncMode(3); m != "" {
		t.Logf("zkserver rejoined by %s", m)
	}

	// ZooKeeper leader killed while writes flow: zkserver 3 takes over
	// unless the other ZooKeeper logged more before the kill
	other := 3 - zkLeader // the ZooKeeper that follows: 1 or 2
	ws = run(1, 2, 3)
	time.Sleep(2 * time.Second)
	next, _ := c.failoverAny(zkLeader, other, 3)
	time.Sleep(2 * time.Second)
	halt(ws)
	c.restart(zkLeader, next, 1, 2, 3)

	tree := c.checkSameTree(1, 2, 3)
	acked, fails := 0, 0
	for _, w := range all {
		fails += w.fails
		for _, p := range w.acked {
			acked++
			if _, ok := tree[p]; !ok {
				t.Errorf("acknowledged create %s (via %s) is missing", p, c.members[w.sid].name())
			}
		}
	}
	seqs := map[string]bool{}
	for p := range tree {
		if !strings.HasPrefix(p, "/w/") {
			continue
		}
		seq := p[strings.LastIndex(p, "-")+1:]
		if seqs[seq] {
			t.Errorf("sequence number %s used twice under /w", seq)
		}
		seqs[seq] = true
	}
	t.Logf("%d creates acknowledged (%d failed during elections), %d nodes under /w", acked, fails, len(seqs))
	if acked == 0 {
		t.Fatal("no write was acknowledged")
	}
	c.waitQuiet(1, 2, 3)
	c.checkLogsAgree(3, 1, 2)
	c.checkLogs()
}
