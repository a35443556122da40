package server

import (
	"errors"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/datatree"
	"github.com/zkserver/zkserver/pebblestore"
	"github.com/zkserver/zkserver/snapshot"
)

// ErrNotPebble is returned by the pebble-mode snapshot helpers for a
// server whose tree is in memory.
var ErrNotPebble = errors.New("server: not in pebble mode")

// PebbleView commits everything the server has applied to its Pebble
// store and opens a consistent view of it: the tree as of the returned
// view's LastZxid, unchanged by later txns. The tree is held exclusively
// only for the commit. The caller closes the view (before the server).
func (s *Server) PebbleView() (*pebblestore.View, error) {
	ps := s.pebbleStore()
	if ps == nil {
		return nil, ErrNotPebble
	}
	s.treeMu.Lock()
	defer s.treeMu.Unlock()
	if err := s.tree.Sync(); err != nil {
		return nil, err
	}
	return ps.View()
}

// WritePebbleSnapStream writes a SNAP sync body (snapshot.WriteStreamFrom)
// from a consistent Pebble view and returns the zxid it is exact at, at
// least the last zxid applied when called. Unlike WriteSnapStream's fuzzy
// walk it is exact, and the tree is never walked under its lock; a
// learner that replays txns the view already holds gets the same tree, as
// after a fuzzy snapshot.
func (s *Server) WritePebbleSnapStream(w io.Writer) (int64, error) {
	start := time.Now()
	v, err := s.PebbleView()
	if err != nil {
		return 0, err
	}
	defer v.Close()
	s.log.Info("pebble view opened for a SNAP", zap.String("zxid", hex(v.LastZxid())))
	if err := snapshot.WriteStreamFrom(w, v); err != nil {
		return 0, err
	}
	s.log.Info("SNAP stream written from the pebble view", zap.String("zxid", hex(v.LastZxid())),
		zap.Duration("took", time.Since(start)))
	return v.LastZxid(), nil
}

// WriteTreeSnapStream writes a SNAP sync body of a tree no server is
// using: from a consistent Pebble view in pebble mode, else the walk of
// snapshot.WriteStream.
func WriteTreeSnapStream(w io.Writer, tree *datatree.Tree) error {
	ps := pebbleOf(tree)
	if ps == nil {
		var mu sync.RWMutex
		return snapshot.WriteStream(w, tree, &mu)
	}
	if err := tree.Sync(); err != nil {
		return err
	}
	v, err := ps.View()
	if err != nil {
		return err
	}
	defer v.Close()
	return snapshot.WriteStreamFrom(w, v)
}
