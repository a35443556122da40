package server

import (
	"sort"
	"sync"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/wire"
)

// watchMode is how a connection watches a path in one table.
type watchMode uint8

const (
	modeStandard   watchMode = iota // one-shot
	modePersistent                  // stays after firing
	modeRecursive                   // stays, and fires for descendants too
)

// watchTable is one of ZooKeeper's two watch tables (data or child). As in
// ZooKeeper 3.8, a persistent or recursive addWatch registers in both, the
// latest registration of a (connection, path) sets its mode, and removal
// works per table.
type watchTable struct {
	m          map[string]map[*conn]watchMode
	nRecursive int
}

func newWatchTable() *watchTable { return &watchTable{m: map[string]map[*conn]watchMode{}} }

func (t *watchTable) add(path string, c *conn, mode watchMode) {
	set := t.m[path]
	if set == nil {
		set = map[*conn]watchMode{}
		t.m[path] = set
	}
	if old, ok := set[c]; ok && old == modeRecursive {
		t.nRecursive--
	}
	set[c] = mode
	if mode == modeRecursive {
		t.nRecursive++
	}
}

func (t *watchTable) remove(path string, c *conn) bool {
	set := t.m[path]
	old, ok := set[c]
	if !ok {
		return false
	}
	if old == modeRecursive {
		t.nRecursive--
	}
	delete(set, c)
	if len(set) == 0 {
		delete(t.m, path)
	}
	return true
}

// trigger collects the watchers an event on path reaches into fired (a
// connection at most once) and drops the one-shot ones. Recursive watchers
// on path or an ancestor get every event but NodeChildrenChanged.
func (t *watchTable) trigger(path string, typ int32, fired map[*conn]bool) {
	for c, mode := range t.m[path] {
		if mode == modeRecursive && typ == wire.EventNodeChildrenChanged {
			continue
		}
		if _, seen := fired[c]; !seen {
			fired[c] = true
		}
		if mode == modeStandard {
			t.remove(path, c)
		}
	}
	if t.nRecursive == 0 || typ == wire.EventNodeChildrenChanged || path == "/" {
		return
	}
	for p := path; p != "/"; {
		p, _ = datatree.Split(p)
		for c, mode := range t.m[p] {
			if mode == modeRecursive {
				if _, seen := fired[c]; !seen {
					fired[c] = true
				}
			}
		}
	}
}

// watchManager holds the data and child watch tables.
type watchManager struct {
	mu    sync.Mutex
	data  *watchTable
	child *watchTable
}

func newWatchManager() *watchManager {
	return &watchManager{data: newWatchTable(), child: newWatchTable()}
}

func (w *watchManager) addData(path string, c *conn) {
	w.mu.Lock()
	w.data.add(path, c, modeStandard)
	w.mu.Unlock()
}

func (w *watchManager) addChild(path string, c *conn) {
	w.mu.Lock()
	w.child.add(path, c, modeStandard)
	w.mu.Unlock()
}

func (w *watchManager) addPersistent(path string, c *conn, recursive bool) {
	mode := modePersistent
	if recursive {
		mode = modeRecursive
	}
	w.mu.Lock()
	w.data.add(path, c, mode)
	w.child.add(path, c, mode)
	w.mu.Unlock()
}

// trigger delivers the watch events of one applied txn.
func (w *watchManager) trigger(events []datatree.Event) {
	if len(events) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ev := range events {
		fired := map[*conn]bool{}
		switch ev.Type {
		case wire.EventNodeChildrenChanged:
			w.child.trigger(ev.Path, ev.Type, fired)
		case wire.EventNodeDeleted:
			w.data.trigger(ev.Path, ev.Type, fired)
			w.child.trigger(ev.Path, ev.Type, fired)
		default: // created, data changed
			w.data.trigger(ev.Path, ev.Type, fired)
		}
		for c := range fired {
			c.notify(ev.Type, ev.Path)
		}
	}
}

// removeConn drops every watch of a connection.
func (w *watchManager) removeConn(c *conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range []*watchTable{w.data, w.child} {
		for p, set := range t.m {
			if _, ok := set[c]; ok {
				t.remove(p, c)
			}
		}
	}
}

// has reports, for removeWatches (remove set), whether c watched path in
// the tables typ names, deleting those watches. For checkWatches it
// reports whether any connection does: ZooKeeper 3.8 does not compare the
// watcher there.
func (w *watchManager) has(c *conn, path string, typ int32, remove bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	found := false
	for _, t := range w.tables(typ) {
		if !remove && len(t.m[path]) > 0 {
			found = true
			continue
		}
		if _, ok := t.m[path][c]; ok {
			found = true
			if remove {
				t.remove(path, c)
			}
		}
	}
	return found
}

func (w *watchManager) tables(typ int32) []*watchTable {
	switch typ {
	case wire.WatcherData:
		return []*watchTable{w.data}
	case wire.WatcherChildren:
		return []*watchTable{w.child}
	}
	return []*watchTable{w.data, w.child}
}

// summary counts the data table as ZooKeeper's wchs does: connections
// watching, paths, watches.
func (w *watchManager) summary() (conns, paths, total int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[*conn]struct{}{}
	for _, set := range w.data.m {
		paths++
		total += len(set)
		for c := range set {
			seen[c] = struct{}{}
		}
	}
	return len(seen), paths, total
}

// byPath returns path -> sorted session ids watching it (data table).
func (w *watchManager) byPath() map[string][]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]int64{}
	for p, set := range w.data.m {
		for c := range set {
			out[p] = append(out[p], c.session())
		}
		sort.Slice(out[p], func(i, j int) bool { return out[p][i] < out[p][j] })
	}
	return out
}

// count is the number of watches in both tables.
func (w *watchManager) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, t := range []*watchTable{w.data, w.child} {
		for _, set := range t.m {
			n += len(set)
		}
	}
	return n
}
