package server

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/snapshot"
)

// TestPebbleSnapStreamWhileWriting: SNAP bodies streamed from a pebble-mode
// server while clients write are each exact at their zxid: the tree read
// back from a stream has the digest the store recorded at that zxid, and
// holds exactly the nodes whose creates are at or below it.
func TestPebbleSnapStreamWhileWriting(t *testing.T) {
	cfg := storageConfig(t, config.StoragePebble)
	s, c, stop := startDurable(t, cfg)
	defer stop()

	var wg sync.WaitGroup
	created := make(chan [2]int64, 1000) // index, czxid
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(created)
		for i := 0; i < 400; i++ {
			p := fmt.Sprintf("/w%04d", i)
			if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Error(err)
				return
			}
			_, st, err := c.Exists(p)
			if err != nil {
				t.Error(err)
				return
			}
			created <- [2]int64{int64(i), st.Czxid}
		}
	}()
	type got struct {
		zxid   int64
		digest uint64
		body   []byte
	}
	var streams []got
	czxid := map[string]int64{}
	for e := range created {
		czxid[fmt.Sprintf("w%04d", e[0])] = e[1]
		if len(czxid)%40 != 0 {
			continue
		}
		// the writer goes on meanwhile
		v, err := s.PebbleView()
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := snapshot.WriteStreamFrom(&b, v); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, got{v.LastZxid(), v.Digest(), b.Bytes()})
		v.Close()
	}
	wg.Wait()
	if len(czxid) != 400 {
		t.Fatalf("%d creates", len(czxid))
	}
	distinct := map[int64]bool{}
	for _, g := range streams {
		distinct[g.zxid] = true
	}
	if len(distinct) < 5 {
		t.Fatalf("only %d distinct stream zxids", len(distinct))
	}
	for _, g := range streams {
		tr, err := snapshot.ReadStream(bytes.NewReader(g.body))
		if err != nil {
			t.Fatal(err)
		}
		if tr.Digest() != g.digest {
			t.Fatalf("stream at %#x: digest %x, the store recorded %x", g.zxid, tr.Digest(), g.digest)
		}
		for name, z := range czxid {
			if (tr.Get("/"+name) != nil) != (z <= g.zxid) {
				t.Fatalf("stream at %#x: /%s (czxid %#x) present=%v", g.zxid, name, z, tr.Get("/"+name) != nil)
			}
		}
	}
	if zxid, err := s.WritePebbleSnapStream(&bytes.Buffer{}); err != nil || zxid < s.LastZxid() {
		t.Fatalf("WritePebbleSnapStream at %#x (last %#x): %v", zxid, s.LastZxid(), err)
	}

	mcfg := storageConfig(t, config.StorageMemory)
	ms, _, mstop := startDurable(t, mcfg)
	defer mstop()
	if _, err := ms.PebbleView(); !errors.Is(err, ErrNotPebble) {
		t.Fatalf("memory server: %v", err)
	}
}
