//go:build linux && cgo

package main

/*
#include <malloc.h>
*/
import "C"

// Pebble allocates its block cache and memtables with C's calloc, from
// whichever threads read and write. glibc gives threads their own malloc
// arenas (up to 8 per core), and the memory freed in each stays there:
// with the cache churning under uniform reads that was tens of MiB of RSS
// above the cache's size. Two arenas keep it near what is allocated.
func init() { arenaMaxSet = C.mallopt(C.M_ARENA_MAX, 2) == 1 }

// arenaMaxSet reports whether glibc took the setting.
var arenaMaxSet bool
