package mixedtest

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// sessionTimeout stays below maxSessionTimeout (20 ticks).
const sessionTimeout = 15 * time.Second

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

// dial opens a session with one server (no other server in the list, so
// the client never moves); it is closed in t.Cleanup.
func dial(t *testing.T, addr string) (*zk.Conn, error) {
	t.Helper()
	c, ch, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.State == zk.StateHasSession {
				go func() {
					for range ch {
					}
				}()
				return c, nil
			}
		case <-deadline:
			c.Close()
			return nil, fmt.Errorf("no session with %s within 20s", addr)
		}
	}
}

func (c *cluster) connect(sid int) *zk.Conn {
	c.t.Helper()
	conn, err := dial(c.t, c.members[sid].clientAddr())
	if err != nil {
		c.t.Fatalf("%s: %v", c.members[sid].name(), err)
	}
	return conn
}

// znode is what a client sees of one node.
type znode struct {
	Data []byte
	ACL  []zk.ACL
	Stat zk.Stat
}

// readTree syncs with the leader, then reads every node below "/".
func readTree(conn *zk.Conn) (map[string]znode, error) {
	if _, err := conn.Sync("/"); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	tree := map[string]znode{}
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := conn.Get(p)
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		acl, _, err := conn.GetACL(p)
		if err != nil {
			return fmt.Errorf("getACL %s: %w", p, err)
		}
		tree[p] = znode{Data: data, ACL: acl, Stat: *st}
		kids, _, err := conn.Children(p)
		if err != nil {
			return fmt.Errorf("children %s: %w", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			cp := p + "/" + k
			if p == "/" {
				cp = "/" + k
			}
			if err := walk(cp); err != nil {
				return err
			}
		}
		return nil
	}
	return tree, walk("/")
}

// diffTrees describes how b differs from a (nil when identical), at most
// max lines.
func diffTrees(a, b map[string]znode, max int) []string {
	var out []string
	paths := map[string]bool{}
	for p := range a {
		paths[p] = true
	}
	for p := range b {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		if len(out) >= max {
			out = append(out, "...")
			break
		}
		x, inA := a[p]
		y, inB := b[p]
		switch {
		case !inA:
			out = append(out, fmt.Sprintf("%s: only in the second tree (%s)", p, statString(y.Stat)))
		case !inB:
			out = append(out, fmt.Sprintf("%s: only in the first tree (%s)", p, statString(x.Stat)))
		default:
			if !bytes.Equal(x.Data, y.Data) {
				out = append(out, fmt.Sprintf("%s: data %q vs %q", p, trunc(x.Data), trunc(y.Data)))
			}
			xs, ys := x.Stat, y.Stat
			if p == "/zookeeper/config" {
				// every ZooKeeper server stamps its own clock on this
				// node when it writes its config locally at startup:
				// two ZooKeeper servers disagree on its mtime too
				xs.Mtime, ys.Mtime = 0, 0
			}
			if xs != ys {
				out = append(out, fmt.Sprintf("%s: stat\n    %s\n vs %s", p, statString(x.Stat), statString(y.Stat)))
			}
			if fmt.Sprint(x.ACL) != fmt.Sprint(y.ACL) {
				out = append(out, fmt.Sprintf("%s: acl %v vs %v", p, x.ACL, y.ACL))
			}
		}
	}
	return out
}

func trunc(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

func statString(s zk.Stat) string {
	return fmt.Sprintf("czxid=%#x mzxid=%#x ctime=%d mtime=%d version=%d cversion=%d aversion=%d ephemeralOwner=%#x dataLength=%d numChildren=%d pzxid=%#x",
		s.Czxid, s.Mzxid, s.Ctime, s.Mtime, s.Version, s.Cversion, s.Aversion, s.EphemeralOwner, s.DataLength, s.NumChildren, s.Pzxid)
}

// checkSameTree reads the whole tree through a client of every listed
// member and fails on any difference (paths, data, ACLs, every Stat
// field). It retries briefly: a sync makes a server current with the
// leader, but sessions closing elsewhere may still commit meanwhile. It
// returns the agreed tree.
func (c *cluster) checkSameTree(sids ...int) map[string]znode {
	c.t.Helper()
	var last []string
	for attempt := 0; attempt < 5; attempt++ {
		trees := map[int]map[string]znode{}
		var err error
		for _, sid := range sids {
			conn, derr := dial(c.t, c.members[sid].clientAddr())
			if derr != nil {
				err = fmt.Errorf("%s: %w", c.members[sid].name(), derr)
				break
			}
			tr, rerr := readTree(conn)
			conn.Close()
			if rerr != nil {
				err = fmt.Errorf("%s: %w", c.members[sid].name(), rerr)
				break
			}
			trees[sid] = tr
		}
		if err != nil {
			last = []string{err.Error()}
			time.Sleep(time.Second)
			continue
		}
		last = nil
		first := sids[0]
		for _, sid := range sids[1:] {
			if d := diffTrees(trees[first], trees[sid], 40); d != nil {
				last = append(last, fmt.Sprintf("%s vs %s:\n  %s", c.members[first].name(), c.members[sid].name(), strings.Join(d, "\n  ")))
			}
		}
		if last == nil {
			c.t.Logf("same tree on %v: %d nodes", sids, len(trees[first]))
			return trees[first]
		}
		time.Sleep(time.Second)
	}
	c.t.Fatalf("trees differ:\n%s", strings.Join(last, "\n"))
	return nil
}

// writeSome creates n nodes under prefix (one writer per listed member,
// the nodes spread over them), then changes data, ACLs and children so
// every Stat field moves. Every error fails the test.
func (c *cluster) writeSome(prefix string, n int, sids ...int) {
	c.t.Helper()
	conns := map[int]*zk.Conn{}
	for _, sid := range sids {
		conns[sid] = c.connect(sid)
	}
	first := conns[sids[0]]
	if _, err := first.Create(prefix, []byte("dir"), 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
		c.t.Fatalf("create %s: %v", prefix, err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(sids))
	for i, sid := range sids {
		wg.Add(1)
		go func(i, sid int, conn *zk.Conn) {
			defer wg.Done()
			for j := i; j < n; j += len(sids) {
				p := fmt.Sprintf("%s/n%04d", prefix, j)
				if _, err := conn.Create(p, []byte(fmt.Sprintf("v%d via %d", j, sid)), 0, zk.WorldACL(zk.PermAll)); err != nil {
					errc <- fmt.Errorf("create %s via sid %d: %w", p, sid, err)
					return
				}
				switch j % 5 {
				case 1:
					if _, err := conn.Set(p, []byte("changed"), 0); err != nil {
						errc <- fmt.Errorf("set %s via sid %d: %w", p, sid, err)
						return
					}
				case 2:
					if _, err := conn.SetACL(p, zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermCreate|zk.PermDelete|zk.PermAdmin), 0); err != nil {
						errc <- fmt.Errorf("setACL %s via sid %d: %w", p, sid, err)
						return
					}
				case 3:
					if _, err := conn.Create(p+"/kid", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
						errc <- fmt.Errorf("create %s/kid via sid %d: %w", p, sid, err)
						return
					}
					if err := conn.Delete(p+"/kid", 0); err != nil {
						errc <- fmt.Errorf("delete %s/kid via sid %d: %w", p, sid, err)
						return
					}
				case 4:
					if _, err := conn.Create(p+"/seq-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
						errc <- fmt.Errorf("create sequential under %s via sid %d: %w", p, sid, err)
						return
					}
				}
			}
		}(i, sid, conns[sid])
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		c.t.Error(err)
	}
	for _, conn := range conns {
		conn.Close()
	}
	if c.t.Failed() {
		c.t.FailNow()
	}
}
