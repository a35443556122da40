package config

import (
	"strings"
	"testing"
)

func TestStorageKeys(t *testing.T) {
	c, err := Parse(strings.NewReader("dataDir=/tmp/x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage() != StorageMemory || c.PebbleCacheBytes() != 256<<20 || c.PebbleWAL() {
		t.Fatalf("defaults: %q %d WAL %v", c.Storage(), c.PebbleCacheBytes(), c.PebbleWAL())
	}
	c, err = Parse(strings.NewReader("dataDir=/tmp/x\nstorageEngine=Pebble\npebbleCacheSizeMB=64\npebbleWAL=yes\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage() != StoragePebble || c.PebbleCacheBytes() != 64<<20 || !c.PebbleWAL() {
		t.Fatalf("set: %q %d WAL %v", c.Storage(), c.PebbleCacheBytes(), c.PebbleWAL())
	}
	if _, ok := c.Unknown["storageEngine"]; ok {
		t.Fatal("storageEngine reported unknown")
	}
	for _, bad := range []string{"storageEngine=rocks\n", "pebbleCacheSizeMB=0\n", "pebbleCacheSizeMB=x\n", "pebbleWAL=maybe\n"} {
		if _, err := Parse(strings.NewReader("dataDir=/tmp/x\n" + bad)); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}
