//go:build linux && cgo

package main

import "testing"

func TestMallocArenaMax(t *testing.T) {
	if !arenaMaxSet {
		t.Fatal("mallopt(M_ARENA_MAX, 2) was refused")
	}
}
