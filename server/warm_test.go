package server

import (
	"testing"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/wire"
)

// TestWarmWrite: in pebble mode a write's nodes are read from Pebble in
// the connection's goroutine (warmWrite), so prep's lookups find them
// cached and read nothing from disk; a bad path reads nothing.
func TestWarmWrite(t *testing.T) {
	cfg := storageConfig(t, config.StoragePebble)
	_, c, stop := startDurable(t, cfg)
	createNodes(t, c, "/w%02d", 20)
	stop()
	// reopened: nothing cached
	s, c, stop := startDurable(t, cfg)
	defer stop()
	ps := s.pebbleStore()
	if ps == nil {
		t.Fatal("not in pebble mode")
	}
	recs := []wire.Record{
		&wire.SetDataRequest{Path: "/w01", Data: []byte("y"), Version: -1},
		&wire.PathVersionRequest{Path: "/w02", Version: -1},
		&wire.CreateRequest{Path: "/w03/new"},
		&wire.CreateRequest{Path: "/w04/seq-", Flags: wire.FlagPersistentSequential},
		&wire.MultiRequest{Ops: []wire.MultiOp{{Type: wire.OpSetData, SetData: wire.SetDataRequest{Path: "/w05", Version: -1}}}},
		&wire.SetDataRequest{Path: "no/slash"}, // bad path: ignored
	}
	lookups := [][]string{{"/w01"}, {"/w02"}, {"/w03", "/w03/new"}, {"/w04"}, {"/w05"}}
	for i, r := range recs {
		before := ps.Reads()
		s.warmWrite(r)
		if i == len(recs)-1 {
			if ps.Reads() != before {
				t.Errorf("a bad path read %d nodes", ps.Reads()-before)
			}
			continue
		}
		if ps.Reads() == before {
			t.Errorf("%T %d: warmWrite read nothing", r, i)
		}
		before = ps.Reads()
		for _, p := range lookups[i] {
			s.prep.get(p, &localChanges{})
		}
		if ps.Reads() != before {
			t.Errorf("%T %d: prep read %d nodes from Pebble after warmWrite", r, i, ps.Reads()-before)
		}
	}
	// the writes themselves still work
	if _, err := c.Set("/w01", []byte("z"), -1); err != nil {
		t.Fatal(err)
	}
	if d, _, err := c.Get("/w01"); err != nil || string(d) != "z" {
		t.Fatalf("/w01 = %q, %v", d, err)
	}
}
