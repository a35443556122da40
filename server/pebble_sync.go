package server

import (
	"errors"
	"io"

	"github.com/zkserver/zkserver/datatree/pebblestore"
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
	v, err := s.PebbleView()
	if err != nil {
		return 0, err
	}
	defer v.Close()
	return v.LastZxid(), snapshot.WriteStreamFrom(w, v)
}
