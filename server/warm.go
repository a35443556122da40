package server

import (
	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/pebblestore"
	"github.com/zkserver/zkserver/wire"
)

// warmWrite reads the nodes a write will look up (its path and its
// parent) into a Pebble store's decoded-node cache, in the connection's
// goroutine. Prep is one goroutine for every write; with the tree on disk
// its lookups would each wait for a block read there, one after another,
// holding the tree's read lock. Warmed, prep finds the nodes decoded and
// the disk reads of many connections overlap (a leader warms what its
// learners forward in each learner's goroutine). A memory store needs
// none of this. The lookups change nothing: a node changed meanwhile is
// simply looked up again. A multi warms its first warmMultiOps paths, so
// a huge one does not hold the read lock (and so the writer) for long.
func (s *Server) warmWrite(rec wire.Record) {
	if s.cfg.Storage() != config.StoragePebble {
		return
	}
	var buf [4]string
	paths := buf[:0]
	switch r := rec.(type) {
	case *wire.CreateRequest:
		paths = append(paths, createLookup(r))
	case *wire.CreateTTLRequest:
		paths = append(paths, createLookup(&r.CreateRequest))
	case *wire.PathVersionRequest:
		paths = append(paths, r.Path)
	case *wire.SetDataRequest:
		paths = append(paths, r.Path)
	case *wire.SetACLRequest:
		paths = append(paths, r.Path)
	case *wire.MultiRequest:
		for i := range r.Ops[:min(len(r.Ops), warmMultiOps)] {
			paths = append(paths, r.Ops[i].Path())
		}
	default:
		return
	}
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	if _, onDisk := s.tree.Store().(*pebblestore.Store); !onDisk {
		return
	}
	for _, p := range paths {
		if validatePath(p) != wire.ErrOK || p == "/" {
			continue
		}
		parent, _ := datatree.Split(p)
		s.tree.Get(p)
		s.tree.Get(parent)
	}
}

// warmMultiOps bounds the ops of a multi that warmWrite reads.
const warmMultiOps = 64

// createLookup is the path to warm for a create: its own, or for a
// sequential create, whose name is not known yet, its parent's.
func createLookup(r *wire.CreateRequest) string {
	switch r.Flags {
	case wire.FlagPersistentSequential, wire.FlagEphemeralSequential, wire.FlagPersistentSequentialTTL:
		parent, _ := datatree.Split(r.Path)
		return parent
	}
	return r.Path
}
