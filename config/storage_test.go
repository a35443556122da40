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
	if c.Storage() != StorageMemory || c.PebbleCacheBytes() != 256<<20 {
		t.Fatalf("defaults: %q %d", c.Storage(), c.PebbleCacheBytes())
	}
	c, err = Parse(strings.NewReader("dataDir=/tmp/x\nstorageEngine=Pebble\npebbleCacheSizeMB=64\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage() != StoragePebble || c.PebbleCacheBytes() != 64<<20 {
		t.Fatalf("set: %q %d", c.Storage(), c.PebbleCacheBytes())
	}
	if _, ok := c.Unknown["storageEngine"]; ok {
		t.Fatal("storageEngine reported unknown")
	}
	for _, bad := range []string{"storageEngine=rocks\n", "pebbleCacheSizeMB=0\n", "pebbleCacheSizeMB=x\n"} {
		if _, err := Parse(strings.NewReader("dataDir=/tmp/x\n" + bad)); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}
