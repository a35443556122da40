package pebblestore

// Dir is the directory the store's Pebble files live in.
func (s *Store) Dir() string { return s.opts.Dir }
