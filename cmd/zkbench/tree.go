package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-zookeeper/zk"
)

// Workloads on a tree filled earlier by `load` (-tree N: znodes
// root/load/b<i/1000>/n<i> for i in [0, N), bench/storage.sh):
//
//	create   new znodes under the loaded bucket parents, spread over them
//	set      setData of loaded znodes picked uniformly over the whole tree
//	get      getData of loaded znodes picked uniformly over the whole tree
//	get-hot  getData of -hot loaded znodes spread evenly over the tree (a
//	         working set small enough for any cache: "cached reads")
//
// Each session draws its own deterministic sequence of indices.
var treeWorkloads = map[string]func(s *runState) (*prepared, error){
	"create":  prepTreeCreate,
	"set":     prepTreeOp(false, opSet),
	"get":     prepTreeOp(false, opGet),
	"get-hot": prepTreeOp(true, opGet),
}

// treeBuckets is the number of bucket parents of a loaded tree of n znodes.
func treeBuckets(n int64) int64 { return (n + loadFanout - 1) / loadFanout }

// treeIndex draws a loaded-znode index: uniform over [0, tree), or (hot >
// 0) uniform over hot indices evenly spaced across it.
func treeIndex(rng *rand.Rand, tree, hot int64) int64 {
	if hot <= 0 || hot >= tree {
		return rng.Int64N(tree)
	}
	return rng.Int64N(hot) * (tree / hot)
}

// checkTree fails unless the first and last znodes of the loaded tree exist.
func checkTree(c *zk.Conn, s *runState) error {
	for _, i := range []int64{0, s.cfg.Tree - 1} {
		p := LoadPath(s.cfg.Root, i)
		ok, _, err := c.Exists(p)
		if err != nil {
			return fmt.Errorf("checking the loaded tree at %s: %w", p, err)
		}
		if !ok {
			return fmt.Errorf("-tree %d: %s does not exist (load the tree first)", s.cfg.Tree, p)
		}
	}
	return nil
}

func prepTreeCreate(s *runState) (*prepared, error) {
	conns, err := dialN(s.cfg.Addr, s.cfg.Clients, s.cfg.OpTimeout)
	if err != nil {
		return nil, err
	}
	if err := checkTree(conns[0], s); err != nil {
		closeAll(conns)
		return nil, err
	}
	buckets := treeBuckets(s.cfg.Tree)
	p := &prepared{cleanup: func() { closeAll(conns) }}
	n := int64(len(conns))
	for i, c := range conns {
		p.loops = append(p.loops, func(w *worker) {
			for k := int64(0); s.take(); k++ {
				b := (int64(i) + k*n) % buckets
				path := fmt.Sprintf("%s/load/b%d/t%s-c%d-%d", s.cfg.Root, b, s.runID, i, k)
				t0 := time.Now()
				_, err := c.Create(path, s.data, zk.FlagPersistent, acl)
				t1 := time.Now()
				if w.done(s, t0, t1, err) {
					w.lastT, w.lastPath = t1, path
				}
			}
		})
	}
	return p, nil
}

func prepTreeOp(hot bool, op perClientOp) func(s *runState) (*prepared, error) {
	return func(s *runState) (*prepared, error) {
		if hot && s.cfg.Hot <= 0 {
			return nil, fmt.Errorf("%s needs -hot > 0", s.cfg.Workload)
		}
		conns, err := dialN(s.cfg.Addr, s.cfg.Clients, s.cfg.OpTimeout)
		if err != nil {
			return nil, err
		}
		if err := checkTree(conns[0], s); err != nil {
			closeAll(conns)
			return nil, err
		}
		h := int64(0)
		if hot {
			h = s.cfg.Hot
		}
		p := &prepared{cleanup: func() { closeAll(conns) }}
		for i, c := range conns {
			rng := rand.New(rand.NewPCG(uint64(i)+1, 0x7a6b62656e6368))
			p.loops = append(p.loops, func(w *worker) {
				for k := 0; s.take(); k++ {
					path := LoadPath(s.cfg.Root, treeIndex(rng, s.cfg.Tree, h))
					t0 := time.Now()
					err := op(s, c, path, k)
					w.done(s, t0, time.Now(), err)
				}
			})
		}
		return p, nil
	}
}
