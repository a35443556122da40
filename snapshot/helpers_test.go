package snapshot

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// rec is one applied txn.
type rec struct {
	hdr wire.TxnHeader
	txn wire.Txn
}

// builder applies txns to a tree the way the server's prep step would
// produce them (absolute versions, parentCVersion) and records them.
type builder struct {
	t    *datatree.Tree
	zxid int64
	log  []rec
	mu   *sync.RWMutex // when set, held for writing around Apply
}

func newBuilder() *builder { return &builder{t: datatree.New()} }

func (b *builder) apply(client int64, txn wire.Txn) datatree.Result {
	b.zxid++
	hdr := wire.TxnHeader{ClientID: client, Cxid: int32(b.zxid), Zxid: b.zxid, Time: 1_700_000_000_000 + b.zxid, Type: txn.Type}
	if b.mu != nil {
		b.mu.Lock()
	}
	r := b.t.Apply(&hdr, &txn)
	if b.mu != nil {
		b.mu.Unlock()
	}
	b.log = append(b.log, rec{hdr, txn})
	return r
}

func (b *builder) parentCV(path string) int32 {
	parent, _ := datatree.Split(path)
	return b.t.Get(parent).Cversion + 1
}

func (b *builder) create(client int64, path string, data []byte, acl []wire.ACL, ephemeral bool) datatree.Result {
	return b.apply(client, wire.Txn{Type: wire.OpCreate, Path: path, Data: data, ACL: acl, Ephemeral: ephemeral, ParentCVersion: b.parentCV(path)})
}

func (b *builder) container(path string, data []byte, acl []wire.ACL) datatree.Result {
	return b.apply(1, wire.Txn{Type: wire.OpCreateContainer, Path: path, Data: data, ACL: acl, ParentCVersion: b.parentCV(path)})
}

func (b *builder) ttl(path string, data []byte, acl []wire.ACL, ttl int64) datatree.Result {
	return b.apply(1, wire.Txn{Type: wire.OpCreateTTL, Path: path, Data: data, ACL: acl, ParentCVersion: b.parentCV(path), TTL: ttl})
}

func (b *builder) setData(path string, data []byte) datatree.Result {
	return b.apply(1, wire.Txn{Type: wire.OpSetData, Path: path, Data: data, Version: b.t.Get(path).Version + 1})
}

func (b *builder) setACL(path string, acl []wire.ACL) datatree.Result {
	return b.apply(1, wire.Txn{Type: wire.OpSetACL, Path: path, ACL: acl, Version: b.t.Get(path).Aversion + 1})
}

func (b *builder) del(path string) datatree.Result {
	return b.apply(1, wire.Txn{Type: wire.OpDelete, Path: path})
}

func (b *builder) createSession(id int64, timeout int32) {
	b.apply(id, wire.Txn{Type: wire.OpCreateSession, TimeOut: timeout})
}

func (b *builder) closeSession(id int64) datatree.Result {
	return b.apply(id, wire.Txn{Type: wire.OpCloseSession, Paths: b.t.Ephemerals(id)})
}

var (
	openACL   = []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "world", ID: "anyone"}}}
	readACL   = []wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "world", ID: "anyone"}}}
	digestACL = []wire.ACL{
		{Perms: wire.PermAll, Id: wire.Id{Scheme: "digest", ID: "alice:XDW0Xl2pVgBmkAPH/LjMvxWbTb8="}},
		{Perms: wire.PermRead, Id: wire.Id{Scheme: "world", ID: "anyone"}},
	}
	digestACL2 = []wire.ACL{{Perms: wire.PermRead | wire.PermWrite, Id: wire.Id{Scheme: "digest", ID: "bob:6bM2fC7nbnvsn4+LXKo6Wj+3k9Q="}}}
	ipACL      = []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "ip", ID: "127.0.0.1"}}}
)

// nodeView is everything observable about one node.
type nodeView struct {
	Data     []byte
	ACL      []wire.ACL
	Children []string
	stat
}

type stat struct {
	DataNil  bool
	Czxid    int64
	Mzxid    int64
	Pzxid    int64
	Ctime    int64
	Mtime    int64
	Version  int32
	Cversion int32
	Aversion int32
	Owner    int64
}

func view(t *datatree.Tree) map[string]nodeView {
	out := map[string]nodeView{}
	t.Walk(func(p string, n *datatree.Node) error {
		out[p] = nodeView{
			Data: n.Data, ACL: t.ACL(n), Children: n.Children(),
			stat: stat{
				DataNil: n.Data == nil,
				Czxid:   n.Czxid, Mzxid: n.Mzxid, Pzxid: n.Pzxid, Ctime: n.Ctime, Mtime: n.Mtime,
				Version: n.Version, Cversion: n.Cversion, Aversion: n.Aversion, Owner: n.EphemeralOwner,
			},
		}
		return nil
	})
	return out
}

func aclEqual(a, b []wire.ACL) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// diffTrees reports every difference between two trees (nodes, ACL
// lists, sessions, ephemeral/container/TTL indexes, node count).
func diffTrees(want, got *datatree.Tree) []string {
	var d []string
	wv, gv := view(want), view(got)
	var paths []string
	for p := range wv {
		paths = append(paths, p)
	}
	for p := range gv {
		if _, ok := wv[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		w, okw := wv[p]
		g, okg := gv[p]
		switch {
		case !okw:
			d = append(d, "extra node "+p)
		case !okg:
			d = append(d, "missing node "+p)
		default:
			if !bytes.Equal(w.Data, g.Data) || w.DataNil != g.DataNil {
				d = append(d, fmt.Sprintf("%s data %q (nil %v) vs %q (nil %v)", p, w.Data, w.DataNil, g.Data, g.DataNil))
			}
			if !aclEqual(w.ACL, g.ACL) {
				d = append(d, fmt.Sprintf("%s ACL %v vs %v", p, w.ACL, g.ACL))
			}
			if w.stat != g.stat {
				d = append(d, fmt.Sprintf("%s stat %+v vs %+v", p, w.stat, g.stat))
			}
			if fmt.Sprint(w.Children) != fmt.Sprint(g.Children) {
				d = append(d, fmt.Sprintf("%s children %v vs %v", p, w.Children, g.Children))
			}
		}
	}
	if fmt.Sprint(want.Sessions()) != fmt.Sprint(got.Sessions()) {
		d = append(d, fmt.Sprintf("sessions %v vs %v", want.Sessions(), got.Sessions()))
	}
	if fmt.Sprint(want.EphemeralSessions()) != fmt.Sprint(got.EphemeralSessions()) {
		d = append(d, fmt.Sprintf("ephemeral sessions %v vs %v", want.EphemeralSessions(), got.EphemeralSessions()))
	}
	for _, s := range want.EphemeralSessions() {
		if fmt.Sprint(want.Ephemerals(s)) != fmt.Sprint(got.Ephemerals(s)) {
			d = append(d, fmt.Sprintf("ephemerals of %#x %v vs %v", s, want.Ephemerals(s), got.Ephemerals(s)))
		}
	}
	if fmt.Sprint(want.Containers()) != fmt.Sprint(got.Containers()) {
		d = append(d, fmt.Sprintf("containers %v vs %v", want.Containers(), got.Containers()))
	}
	if fmt.Sprint(want.TTLNodes()) != fmt.Sprint(got.TTLNodes()) {
		d = append(d, fmt.Sprintf("ttl nodes %v vs %v", want.TTLNodes(), got.TTLNodes()))
	}
	if want.NodeCount() != got.NodeCount() {
		d = append(d, fmt.Sprintf("node count %d vs %d", want.NodeCount(), got.NodeCount()))
	}
	return d
}

func requireSame(t *testing.T, want, got *datatree.Tree) {
	t.Helper()
	d := diffTrees(want, got)
	for i, s := range d {
		if i == 20 {
			t.Errorf("... %d more", len(d)-20)
			break
		}
		t.Error(s)
	}
	if len(d) > 0 {
		t.FailNow()
	}
}

// randomOps drives a builder with a random workload: creates of every
// kind, setData, setACL, deletes, sessions and multis. paths tracks the
// live non-built-in nodes.
type randomOps struct {
	b        *builder
	rng      *rand.Rand
	paths    []string
	idx      map[string]int
	sessions []int64
	nextSess int64
	seq      int
}

func newRandomOps(b *builder, seed uint64) *randomOps {
	return &randomOps{b: b, rng: rand.New(rand.NewPCG(seed, 7)), idx: map[string]int{}, nextSess: 0x1000000000000}
}

func (r *randomOps) add(p string) {
	if _, ok := r.idx[p]; ok {
		return
	}
	r.idx[p] = len(r.paths)
	r.paths = append(r.paths, p)
}

func (r *randomOps) remove(p string) {
	i, ok := r.idx[p]
	if !ok {
		return
	}
	last := r.paths[len(r.paths)-1]
	r.paths[i] = last
	r.idx[last] = i
	r.paths = r.paths[:len(r.paths)-1]
	delete(r.idx, p)
}

func (r *randomOps) track(res datatree.Result) {
	for _, ev := range res.Events {
		switch ev.Type {
		case wire.EventNodeCreated:
			r.add(ev.Path)
		case wire.EventNodeDeleted:
			r.remove(ev.Path)
		}
	}
}

func (r *randomOps) pick() string {
	if len(r.paths) == 0 || r.rng.IntN(8) == 0 {
		return "/"
	}
	return r.paths[r.rng.IntN(len(r.paths))]
}

func (r *randomOps) acl() []wire.ACL {
	switch r.rng.IntN(6) {
	case 0:
		return nil
	case 1:
		return digestACL
	case 2:
		return digestACL2
	case 3:
		return ipACL
	case 4:
		return readACL
	}
	return openACL
}

func (r *randomOps) data() []byte {
	switch r.rng.IntN(5) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	return fmt.Appendf(nil, "d%d", r.rng.IntN(1000))
}

// childOf returns a fresh child path under a parent that may have children.
func (r *randomOps) childOf() (string, bool) {
	p := r.pick()
	n := r.b.t.Get(p)
	if n == nil || datatree.IsEphemeral(n.EphemeralOwner) {
		return "", false
	}
	r.seq++
	return datatree.Join(p, fmt.Sprintf("n%d", r.seq)), true
}

func (r *randomOps) step() {
	b := r.b
	switch k := r.rng.IntN(20); {
	case k < 6:
		c, ok := r.childOf()
		if !ok {
			return
		}
		r.track(b.create(1, c, r.data(), r.acl(), false))
	case k == 6:
		c, ok := r.childOf()
		if !ok || len(r.sessions) == 0 {
			return
		}
		s := r.sessions[r.rng.IntN(len(r.sessions))]
		r.track(b.create(s, c, r.data(), r.acl(), true))
	case k == 7:
		if c, ok := r.childOf(); ok {
			r.track(b.container(c, r.data(), r.acl()))
		}
	case k == 8:
		if c, ok := r.childOf(); ok {
			r.track(b.ttl(c, r.data(), r.acl(), int64(1000+r.rng.IntN(1000))))
		}
	case k < 12:
		if p := r.pick(); p != "/" {
			r.track(b.setData(p, r.data()))
		}
	case k < 14:
		if p := r.pick(); p != "/" {
			r.track(b.setACL(p, r.acl()))
		}
	case k < 17:
		if p := r.pick(); p != "/" && b.t.Get(p).NumChildren() == 0 {
			r.track(b.del(p))
		}
	case k == 17:
		r.nextSess++
		r.sessions = append(r.sessions, r.nextSess)
		b.createSession(r.nextSess, int32(4000+r.rng.IntN(1000)))
	case k == 18:
		if len(r.sessions) > 0 {
			i := r.rng.IntN(len(r.sessions))
			s := r.sessions[i]
			r.sessions = append(r.sessions[:i], r.sessions[i+1:]...)
			r.track(b.closeSession(s))
		}
	default:
		// multi: two creates under one parent, then setData of the first.
		c, ok := r.childOf()
		if !ok {
			return
		}
		parent, _ := datatree.Split(c)
		cv := b.t.Get(parent).Cversion
		c2 := c + "x"
		r.track(b.apply(1, wire.Txn{Type: wire.OpMulti, Ops: []wire.Txn{
			{Type: wire.OpCreate, Path: c, Data: r.data(), ACL: r.acl(), ParentCVersion: cv + 1},
			{Type: wire.OpCreate, Path: c2, Data: nil, ACL: r.acl(), ParentCVersion: cv + 2},
			{Type: wire.OpSetData, Path: c, Data: []byte("m"), Version: 1},
		}}))
	}
}
