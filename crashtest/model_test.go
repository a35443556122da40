package crashtest

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand"
	"path"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"
)

// znode is the model of one persistent node: its data is always
// payload(path, version), so the data version fully determines the data.
type znode struct {
	version int32 // Stat.Version (number of setData applied)
	creates int32 // children ever created under it (ZooKeeper's stored cversion)
}

// tree models one writer's subtree: full path -> node, root included.
type tree map[string]znode

func (tr tree) clone() tree {
	c := make(tree, len(tr))
	for k, v := range tr {
		c[k] = v
	}
	return c
}

func (tr tree) children(p string) []string {
	var out []string
	for k := range tr {
		if k != p && path.Dir(k) == p {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// payload is the deterministic data of path at a data version; sizes vary
// from a few bytes to several KiB so log segments fill and roll.
func payload(p string, version int32) []byte {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s@%d", p, version)
	sum := h.Sum64()
	n := int(sum % 700)
	if sum%13 == 0 {
		n = 3000 + int(sum%5000)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s@v%d:", p, version)
	r := rand.New(rand.NewSource(int64(sum)))
	for i := 0; i < n; i++ {
		b.WriteByte(byte('a' + r.Intn(26)))
	}
	return b.Bytes()
}

type opKind int

const (
	opCreate opKind = iota // persistent create of path
	opSeq                  // persistent sequential create, path is the prefix
	opSet                  // setData
	opDelete               // delete
	opCheck                // check version (multi only)
	opMulti                // multi of sub
)

type op struct {
	kind    opKind
	path    string
	data    []byte
	version int32 // request version for set/delete/check (-1 = any)
	sub     []op  // multi
	failing bool  // multi that must fail with ErrBadVersion (bad check last)
	want    []string
}

func (o op) String() string {
	switch o.kind {
	case opCreate:
		return "create " + o.path
	case opSeq:
		return fmt.Sprintf("create-seq %s (expect %v)", o.path, o.want)
	case opSet:
		return fmt.Sprintf("setData %s version=%d (%d bytes)", o.path, o.version, len(o.data))
	case opDelete:
		return fmt.Sprintf("delete %s version=%d", o.path, o.version)
	case opCheck:
		return fmt.Sprintf("check %s version=%d", o.path, o.version)
	}
	parts := make([]string, len(o.sub))
	for i, s := range o.sub {
		parts[i] = s.String()
	}
	f := ""
	if o.failing {
		f = " (must fail)"
	}
	return "multi" + f + "[" + strings.Join(parts, "; ") + "]"
}

// apply applies o to tr as the server must if o is applied; it returns the
// paths o creates (in order), which for sequential creates is the only
// correct name given the parent's create counter.
func apply(tr tree, o op) []string {
	switch o.kind {
	case opCreate:
		tr[o.path] = znode{}
		par := tr[path.Dir(o.path)]
		par.creates++
		tr[path.Dir(o.path)] = par
		return []string{o.path}
	case opSeq:
		parent := path.Dir(o.path)
		par := tr[parent]
		name := fmt.Sprintf("%s%010d", o.path, par.creates)
		par.creates++
		tr[parent] = par
		tr[name] = znode{}
		return []string{name}
	case opSet:
		n := tr[o.path]
		n.version++
		tr[o.path] = n
	case opDelete:
		delete(tr, o.path)
	case opMulti:
		if o.failing {
			return nil
		}
		var out []string
		for _, s := range o.sub {
			out = append(out, apply(tr, s)...)
		}
		return out
	}
	return nil
}

var openACL = zk.WorldACL(zk.PermAll)

// do sends o and returns the created paths. For a multi that must fail,
// nil is returned when it failed as required (an acknowledged failure).
func do(c *zk.Conn, o op) ([]string, error) {
	switch o.kind {
	case opCreate:
		p, err := c.Create(o.path, o.data, 0, openACL)
		return []string{p}, err
	case opSeq:
		p, err := c.Create(o.path, o.data, zk.FlagSequence, openACL)
		return []string{p}, err
	case opSet:
		_, err := c.Set(o.path, o.data, o.version)
		return nil, err
	case opDelete:
		return nil, c.Delete(o.path, o.version)
	}
	reqs := make([]any, len(o.sub))
	for i, s := range o.sub {
		switch s.kind {
		case opCreate:
			reqs[i] = &zk.CreateRequest{Path: s.path, Data: s.data, Acl: openACL}
		case opSeq:
			reqs[i] = &zk.CreateRequest{Path: s.path, Data: s.data, Acl: openACL, Flags: zk.FlagSequence}
		case opSet:
			reqs[i] = &zk.SetDataRequest{Path: s.path, Data: s.data, Version: s.version}
		case opDelete:
			reqs[i] = &zk.DeleteRequest{Path: s.path, Version: s.version}
		case opCheck:
			reqs[i] = &zk.CheckVersionRequest{Path: s.path, Version: s.version}
		}
	}
	res, err := c.Multi(reqs...)
	if o.failing {
		if errors.Is(err, zk.ErrBadVersion) {
			return nil, nil
		}
		if err == nil {
			for _, r := range res {
				if errors.Is(r.Error, zk.ErrBadVersion) {
					return nil, nil
				}
			}
			return nil, fmt.Errorf("multi that must fail succeeded: %w", errUnexpected)
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for i, s := range o.sub {
		if (s.kind == opCreate || s.kind == opSeq) && i < len(res) {
			out = append(out, res[i].String)
		}
	}
	return out, nil
}

var errUnexpected = errors.New("unexpected result")

// definite reports whether err is a definite answer from the server (the op
// was certainly not applied), as opposed to a lost or unknown outcome.
func definite(err error) bool {
	for _, e := range []error{zk.ErrNoNode, zk.ErrNodeExists, zk.ErrBadVersion, zk.ErrNotEmpty,
		zk.ErrNoChildrenForEphemerals, zk.ErrBadArguments, zk.ErrInvalidACL, zk.ErrNoAuth, errUnexpected} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// gen picks the writer's next op from its model (it does not change tr).
func (w *writer) gen(r *rand.Rand, tr tree) op {
	x := r.Intn(100)
	if len(tr) > 60 && r.Intn(2) == 0 {
		x = 60 // half deletes while the subtree is large
	}
	switch {
	case x < 25:
		return w.genCreate(r, tr)
	case x < 50:
		return w.genSet(r, tr)
	case x < 68:
		if o, ok := w.genDelete(r, tr); ok {
			return o
		}
		return w.genSet(r, tr)
	case x < 80:
		return w.genSeq(tr)
	default:
		return w.genMulti(r, tr)
	}
}

func (w *writer) genCreate(r *rand.Rand, tr tree) op {
	w.ctr++
	parent := w.root
	if r.Intn(3) == 0 {
		var ns []string
		for _, k := range tr.children(w.root) {
			if strings.HasPrefix(path.Base(k), "n") {
				ns = append(ns, k)
			}
		}
		if len(ns) > 0 {
			parent = ns[r.Intn(len(ns))]
		}
	}
	prefix := "n"
	if parent != w.root {
		prefix = "c"
	}
	p := fmt.Sprintf("%s/%s%d", parent, prefix, w.ctr)
	return op{kind: opCreate, path: p, data: payload(p, 0)}
}

func (w *writer) genSeq(tr tree) op {
	prefix := w.root + "/s-"
	name := fmt.Sprintf("%s%010d", prefix, tr[w.root].creates)
	return op{kind: opSeq, path: prefix, data: payload(name, 0), want: []string{name}}
}

func pick(r *rand.Rand, tr tree) string {
	keys := make([]string, 0, len(tr))
	for k := range tr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[r.Intn(len(keys))]
}

func (w *writer) genSet(r *rand.Rand, tr tree) op {
	p := pick(r, tr)
	if r.Intn(4) == 0 {
		p = w.root // never deleted: its version keeps growing across rounds
	}
	n := tr[p]
	v := int32(-1)
	if r.Intn(2) == 0 {
		v = n.version
	}
	return op{kind: opSet, path: p, data: payload(p, n.version+1), version: v}
}

func (w *writer) genDelete(r *rand.Rand, tr tree) (op, bool) {
	var leaves []string
	for k := range tr {
		if k != w.root && len(tr.children(k)) == 0 {
			leaves = append(leaves, k)
		}
	}
	if len(leaves) == 0 {
		return op{}, false
	}
	sort.Strings(leaves)
	p := leaves[r.Intn(len(leaves))]
	v := int32(-1)
	if r.Intn(2) == 0 {
		v = tr[p].version
	}
	return op{kind: opDelete, path: p, version: v}, true
}

// genMulti builds 2-5 sub-ops valid in sequence; one multi in five ends
// with a check on a wrong version and must fail as a whole.
func (w *writer) genMulti(r *rand.Rand, tr tree) op {
	work := tr.clone()
	m := op{kind: opMulti}
	for i, n := 0, 2+r.Intn(4); i < n; i++ {
		var s op
		switch r.Intn(5) {
		case 0, 1:
			s = w.genCreate(r, work)
		case 2:
			s = w.genSet(r, work)
		case 3:
			var ok bool
			if s, ok = w.genDelete(r, work); !ok {
				s = w.genSet(r, work)
			}
		default:
			s = w.genSeq(work)
		}
		s.want = apply(work, s)
		m.sub = append(m.sub, s)
		m.want = append(m.want, s.want...)
	}
	if r.Intn(5) == 0 {
		p := pick(r, work)
		m.sub = append(m.sub, op{kind: opCheck, path: p, version: work[p].version + 7})
		m.failing = true
		m.want = nil
	} else if r.Intn(3) == 0 {
		p := pick(r, work)
		m.sub = append(m.sub, op{kind: opCheck, path: p, version: work[p].version})
	}
	return m
}

// actualNode is what the server holds for one node.
type actualNode struct {
	data []byte
	stat zk.Stat
}

// readTree reads the whole subtree under root.
func readTree(c *zk.Conn, root string) (map[string]actualNode, error) {
	out := map[string]actualNode{}
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := c.Get(p)
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		out[p] = actualNode{data: data, stat: *st}
		kids, _, err := c.Children(p)
		if err != nil {
			return fmt.Errorf("children %s: %w", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			if err := walk(path.Join(p, k)); err != nil {
				return err
			}
		}
		return nil
	}
	return out, walk(root)
}

// diff lists every difference between the expected model and the actual
// subtree (empty when they agree exactly).
func diff(want tree, got map[string]actualNode) []string {
	var d []string
	for _, p := range sortedKeys(want) {
		n := want[p]
		a, ok := got[p]
		if !ok {
			d = append(d, fmt.Sprintf("%s missing (want version %d)", p, n.version))
			continue
		}
		nc := int32(len(want.children(p)))
		st := a.stat
		if !bytes.Equal(a.data, payload(p, n.version)) {
			d = append(d, fmt.Sprintf("%s data %.40q is not the payload of version %d (stat version %d)", p, a.data, n.version, st.Version))
		}
		if st.Version != n.version {
			d = append(d, fmt.Sprintf("%s version %d, want %d", p, st.Version, n.version))
		}
		if st.NumChildren != nc {
			d = append(d, fmt.Sprintf("%s numChildren %d, want %d", p, st.NumChildren, nc))
		}
		if cv := 2*n.creates - nc; st.Cversion != cv {
			d = append(d, fmt.Sprintf("%s cversion %d, want %d", p, st.Cversion, cv))
		}
		if st.EphemeralOwner != 0 {
			d = append(d, fmt.Sprintf("%s ephemeralOwner %#x on a persistent node", p, st.EphemeralOwner))
		}
	}
	var extra []string
	for p := range got {
		if _, ok := want[p]; !ok {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	for _, p := range extra {
		d = append(d, fmt.Sprintf("%s exists but must not (version %d)", p, got[p].stat.Version))
	}
	return d
}

func sortedKeys(tr tree) []string {
	keys := make([]string, 0, len(tr))
	for k := range tr {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
