package interop

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// sessionTimeout is long enough that sessions left open when a server is
// stopped outlive the restart on the other server (maxSessionTimeout is
// 20*tickTime = 40s).
const sessionTimeout = 30 * time.Second

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}

// connect opens a session (bounded wait) that is closed in t.Cleanup unless
// the caller closes it first.
func connect(t *testing.T, addr string, auth ...string) *zk.Conn {
	t.Helper()
	c, ch, err := zk.Connect([]string{addr}, sessionTimeout, zk.WithLogger(nopLogger{}), zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("zk.Connect %s: %v", addr, err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(15 * time.Second)
wait:
	for {
		select {
		case ev := <-ch:
			if ev.State == zk.StateHasSession {
				break wait
			}
		case <-deadline:
			c.Close()
			t.Fatalf("no session with %s within 15s", addr)
		}
	}
	go func() {
		for range ch {
		}
	}()
	for _, a := range auth {
		if err := c.AddAuth("digest", []byte(a)); err != nil {
			t.Fatalf("addAuth %s: %v", a, err)
		}
	}
	return c
}

// node is what a client sees of one znode.
type node struct {
	Data []byte
	Null bool // data is null (length -1), as opposed to empty
	ACL  []zk.ACL
	Stat zk.Stat
}

// readTree reads every node below "/" (the root and /zookeeper included)
// as the super user.
func readTree(t *testing.T, addr string) map[string]node {
	t.Helper()
	c := connect(t, addr, superAuth)
	defer c.Close()
	tree := map[string]node{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("get %s: %v", p, err)
		}
		acl, st2, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("getACL %s: %v", p, err)
		}
		if *st != *st2 {
			t.Fatalf("%s: stat changed between get and getACL: %+v vs %+v", p, *st, *st2)
		}
		tree[p] = node{Data: data, Null: data == nil, ACL: acl, Stat: *st}
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		sort.Strings(kids)
		if int32(len(kids)) != st.NumChildren {
			t.Fatalf("%s: %d children listed, stat numChildren %d", p, len(kids), st.NumChildren)
		}
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	return tree
}

// diffTrees lists every difference between want (recorded on one server)
// and got (read from the other), field by field.
func diffTrees(want, got map[string]node) []string {
	var paths []string
	seen := map[string]bool{}
	for p := range want {
		paths, seen[p] = append(paths, p), true
	}
	for p := range got {
		if !seen[p] {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	var out []string
	for _, p := range paths {
		w, wok := want[p]
		g, gok := got[p]
		switch {
		case !gok:
			out = append(out, fmt.Sprintf("%s: missing", p))
			continue
		case !wok:
			out = append(out, fmt.Sprintf("%s: unexpected node (stat %+v)", p, g.Stat))
			continue
		}
		if w.Null != g.Null || !bytes.Equal(w.Data, g.Data) {
			out = append(out, fmt.Sprintf("%s: data %s, want %s", p, showData(g), showData(w)))
		}
		if fmt.Sprint(w.ACL) != fmt.Sprint(g.ACL) {
			out = append(out, fmt.Sprintf("%s: acl %v, want %v", p, g.ACL, w.ACL))
		}
		ws, gs := w.Stat, g.Stat
		for _, f := range []struct {
			name      string
			got, want int64
		}{
			{"czxid", gs.Czxid, ws.Czxid},
			{"mzxid", gs.Mzxid, ws.Mzxid},
			{"pzxid", gs.Pzxid, ws.Pzxid},
			{"ctime", gs.Ctime, ws.Ctime},
			{"mtime", gs.Mtime, ws.Mtime},
			{"version", int64(gs.Version), int64(ws.Version)},
			{"cversion", int64(gs.Cversion), int64(ws.Cversion)},
			{"aversion", int64(gs.Aversion), int64(ws.Aversion)},
			{"ephemeralOwner", gs.EphemeralOwner, ws.EphemeralOwner},
			{"dataLength", int64(gs.DataLength), int64(ws.DataLength)},
			{"numChildren", int64(gs.NumChildren), int64(ws.NumChildren)},
		} {
			if f.got != f.want {
				out = append(out, fmt.Sprintf("%s: %s %#x, want %#x", p, f.name, f.got, f.want))
			}
		}
	}
	return out
}

func showData(n node) string {
	if n.Null {
		return "null"
	}
	if len(n.Data) > 24 {
		return fmt.Sprintf("%q...(%d bytes)", n.Data[:24], len(n.Data))
	}
	return fmt.Sprintf("%q", n.Data)
}

// compareTrees fails the test on any difference between the tree recorded
// on one server and the tree read from the other.
func compareTrees(t *testing.T, what string, want, got map[string]node) {
	t.Helper()
	d := diffTrees(want, got)
	if len(d) == 0 {
		t.Logf("%s: %d nodes identical (data, ACL, all Stat fields)", what, len(want))
		return
	}
	t.Errorf("%s: %d differences:\n  %s", what, len(d), strings.Join(d, "\n  "))
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustCreate(t *testing.T, c *zk.Conn, p string, data []byte, flags int32, acl []zk.ACL) string {
	t.Helper()
	got, err := c.Create(p, data, flags, acl)
	must(t, "create "+p, err)
	return got
}

func mustSet(t *testing.T, c *zk.Conn, p string, data []byte, version int32) {
	t.Helper()
	_, err := c.Set(p, data, version)
	must(t, "set "+p, err)
}

var (
	openACL  = zk.WorldACL(zk.PermAll)
	aliceACL = zk.DigestACL(zk.PermAll, "alice", "pw")
)

// buildTree creates, below prefix, one of every kind of node and runs every
// kind of write ZooKeeper logs: persistent, sequential, ephemeral (owned by
// the returned session, which the caller keeps open until the server is
// stopped), ephemeral sequential, containers, TTL nodes, null/empty/binary
// data, digest/auth/ip/world-read-only ACLs, setData and setACL several
// times, deletes, a closeSession deleting ephemerals, failed writes, a multi
// and a failed multi, and enough nodes to cross several snapCount=20
// snapshots and log rolls.
func buildTree(t *testing.T, addr, prefix string) (owner *zk.Conn) {
	t.Helper()
	c := connect(t, addr, "alice:pw")
	defer c.Close()
	P := prefix
	mustCreate(t, c, P, []byte("top"), zk.FlagPersistent, openACL)
	mustCreate(t, c, P+"/null", nil, zk.FlagPersistent, openACL)
	mustCreate(t, c, P+"/empty", []byte{}, zk.FlagPersistent, openACL)
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	mustCreate(t, c, P+"/bin", bin, zk.FlagPersistent, openACL)
	mustSet(t, c, P+"/bin", []byte{0, 0xff, 0, 0x42}, 0)
	mustSet(t, c, P+"/bin", bytes.Repeat([]byte{0xa5}, 1000), 1)
	mustSet(t, c, P+"/bin", []byte("\x00binary\x00\x01"), -1)
	mustSet(t, c, P+"/empty", []byte{}, 0) // setData to empty, version 1
	mustSet(t, c, P+"/null", nil, 0)       // setData to null, version 1
	// a failed write is logged as an error txn
	if _, err := c.Set(P+"/bin", []byte("x"), 0); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("set with a stale version: %v, want ErrBadVersion", err)
	}
	if _, err := c.Create(P+"/bin", nil, 0, openACL); !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("create existing: %v, want ErrNodeExists", err)
	}

	// sequential children, one deleted (cversion != numChildren)
	mustCreate(t, c, P+"/seq", nil, zk.FlagPersistent, openACL)
	var seqs []string
	for i := 0; i < 5; i++ {
		seqs = append(seqs, mustCreate(t, c, P+"/seq/s-", []byte(fmt.Sprint(i)), zk.FlagSequence, openACL))
	}
	must(t, "delete "+seqs[1], c.Delete(seqs[1], 0))

	// ACLs
	mustCreate(t, c, P+"/acl-digest", []byte("d"), zk.FlagPersistent, aliceACL)
	mustCreate(t, c, P+"/acl-auth", []byte("a"), zk.FlagPersistent, zk.AuthACL(zk.PermRead|zk.PermWrite|zk.PermAdmin))
	mustCreate(t, c, P+"/acl-ip", []byte("i"), zk.FlagPersistent, []zk.ACL{
		{Perms: zk.PermAll, Scheme: "ip", ID: "127.0.0.1"},
		{Perms: zk.PermRead, Scheme: "ip", ID: "10.0.0.0/8"},
	})
	mustCreate(t, c, P+"/acl-world-ro", []byte("r"), zk.FlagPersistent, zk.WorldACL(zk.PermRead))
	mustCreate(t, c, P+"/acl-mixed", nil, zk.FlagPersistent, append(zk.DigestACL(zk.PermAll, "alice", "pw"), zk.WorldACL(zk.PermRead)...))
	mustCreate(t, c, P+"/acl-set", []byte("s"), zk.FlagPersistent, openACL)
	_, err := c.SetACL(P+"/acl-set", aliceACL, 0)
	must(t, "setACL 1", err)
	_, err = c.SetACL(P+"/acl-set", zk.WorldACL(zk.PermRead|zk.PermWrite), 1)
	must(t, "setACL 2", err)
	_, err = c.SetACL(P+"/acl-digest", append(zk.DigestACL(zk.PermAll, "alice", "pw"), zk.DigestACL(zk.PermRead, "bob", "pw2")...), -1)
	must(t, "setACL 3", err)
	mustSet(t, c, P+"/acl-digest", []byte("d2"), 0)

	// containers: one with a child, one never used; TTL nodes
	_, err = c.CreateContainer(P+"/cont", []byte("c"), zk.FlagContainer, openACL)
	must(t, "createContainer", err)
	mustCreate(t, c, P+"/cont/child", []byte("cc"), zk.FlagPersistent, openACL)
	_, err = c.CreateContainer(P+"/cont-unused", nil, zk.FlagContainer, openACL)
	must(t, "createContainer unused", err)
	_, err = c.CreateTTL(P+"/ttl", []byte("t"), zk.FlagTTL, openACL, time.Hour)
	must(t, "createTTL", err)
	_, err = c.CreateTTL(P+"/seq/ttl-", nil, zk.FlagPersistentSequentialWithTTL, aliceACL, 2*time.Hour)
	must(t, "createTTL sequential", err)
	mustSet(t, c, P+"/ttl", []byte("t2"), 0)

	// deletes
	mustCreate(t, c, P+"/gone", nil, zk.FlagPersistent, openACL)
	mustCreate(t, c, P+"/gone/x", []byte("x"), zk.FlagPersistent, aliceACL)
	must(t, "delete gone/x", c.Delete(P+"/gone/x", -1))
	must(t, "delete gone", c.Delete(P+"/gone", 0))
	if err := c.Delete(P+"/seq", -1); !errors.Is(err, zk.ErrNotEmpty) {
		t.Fatalf("delete non-empty: %v, want ErrNotEmpty", err)
	}

	// multi, and a failed multi
	_, err = c.Multi(
		&zk.CreateRequest{Path: P + "/m", Data: []byte("m"), Acl: openACL},
		&zk.CreateRequest{Path: P + "/m/child", Data: nil, Acl: aliceACL, Flags: zk.FlagSequence},
		&zk.SetDataRequest{Path: P + "/bin", Data: []byte("multi"), Version: 3},
		&zk.CheckVersionRequest{Path: P + "/empty", Version: 1},
		&zk.DeleteRequest{Path: seqs[2], Version: -1},
	)
	must(t, "multi", err)
	if _, err := c.Multi(
		&zk.CreateRequest{Path: P + "/mfail", Acl: openACL},
		&zk.CheckVersionRequest{Path: P, Version: 99},
		&zk.SetDataRequest{Path: P + "/bin", Data: []byte("no"), Version: -1},
	); err == nil {
		t.Fatal("failed multi succeeded")
	}

	// a session that owns ephemerals and closes (closeSession with paths)
	gone := connect(t, addr)
	mustCreate(t, gone, P+"/eph-closed", []byte("e"), zk.FlagEphemeral, openACL)
	mustCreate(t, gone, P+"/seq/eph-closed-", nil, zk.FlagEphemeralSequential, openACL)
	gone.Close()

	// ephemerals whose session stays open while the server goes down
	owner = connect(t, addr, "alice:pw")
	mustCreate(t, owner, P+"/eph", []byte("e"), zk.FlagEphemeral, openACL)
	mustCreate(t, owner, P+"/eph-null", nil, zk.FlagEphemeral, aliceACL)
	mustCreate(t, owner, P+"/seq/eph-", []byte("es"), zk.FlagEphemeralSequential, openACL)

	// bulk: enough txns for several snapshots and log rolls
	mustCreate(t, c, P+"/bulk", nil, zk.FlagPersistent, openACL)
	for i := 0; i < 30; i++ {
		p := fmt.Sprintf("%s/bulk/n%02d", P, i)
		mustCreate(t, c, p, []byte(p), zk.FlagPersistent, openACL)
		if i%3 == 0 {
			mustSet(t, c, p, []byte(fmt.Sprint(i)), 0)
		}
		if i%5 == 0 {
			must(t, "delete "+p, c.Delete(p, -1))
		}
	}
	mustSet(t, c, P, []byte("top-done"), 0)
	return owner
}

// writeMore changes nodes the other server wrote (prefix old) and adds new
// ones below prefix; the returned session owns ephemerals and is to be kept
// open until the server is stopped.
func writeMore(t *testing.T, addr, old, prefix string) (owner *zk.Conn) {
	t.Helper()
	c := connect(t, addr, "alice:pw", superAuth)
	defer c.Close()
	mustSet(t, c, old+"/bin", []byte("rewritten"), -1)
	mustSet(t, c, old+"/null", []byte{}, 1)
	_, err := c.SetACL(old+"/acl-world-ro", zk.WorldACL(zk.PermRead|zk.PermCreate), 0)
	must(t, "setACL", err)
	mustCreate(t, c, old+"/seq/s-", []byte("later"), zk.FlagSequence, openACL)
	mustCreate(t, c, old+"/cont/second", nil, zk.FlagPersistent, openACL)
	must(t, "delete", c.Delete(old+"/bulk/n01", -1))
	// the ephemeral nodes of the previous server's open session stay
	// untouched; build a fresh tree of every kind below the new prefix
	owner = buildTree(t, addr, prefix)
	_, err = c.Multi(
		&zk.DeleteRequest{Path: old + "/m/child0000000000", Version: -1},
		&zk.SetDataRequest{Path: old + "/m", Data: nil, Version: 0},
		&zk.CreateRequest{Path: old + "/m/again", Data: []byte{}, Acl: openACL},
	)
	must(t, "multi on old nodes", err)
	return owner
}
