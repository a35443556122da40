package config

import (
	"fmt"
	"strings"
)

// Storage engines (storageEngine).
const (
	StorageMemory = "memory"
	StoragePebble = "pebble"
)

// DefaultPebbleCacheSizeMB is pebbleCacheSizeMB's default.
const DefaultPebbleCacheSizeMB = 256

// StorageKeys lists the keys read here.
var StorageKeys = []string{"storageEngine", "pebbleCacheSizeMB", "pebbleWAL"}

func init() {
	options["storageEngine"] = option{false, func(c *Config, key, val string) error {
		v := strings.ToLower(strings.TrimSpace(val))
		if v != StorageMemory && v != StoragePebble {
			return fmt.Errorf("%s: %q is not memory or pebble", key, val)
		}
		c.StorageEngine = v
		return nil
	}}
	options["pebbleCacheSizeMB"] = option{false, func(c *Config, key, val string) error {
		n, err := parseInt(key, val, 32)
		if err != nil {
			return err
		}
		if n <= 0 {
			return fmt.Errorf("%s: %d is not a positive size", key, n)
		}
		c.PebbleCacheSizeMB = n
		return nil
	}}
	options["pebbleWAL"] = option{false, func(c *Config, key, val string) error {
		b, err := parseBool(key, val, true)
		if err != nil {
			return err
		}
		c.PebbleWALOn = b
		return nil
	}}
}

// PebbleWAL reports whether Pebble keeps its own WAL (pebbleWAL, default
// false); see pebblestore.Options.DisableWAL.
func (c *Config) PebbleWAL() bool { return c.PebbleWALOn }

// Storage returns the storage engine: StorageMemory (the default) or
// StoragePebble.
func (c *Config) Storage() string {
	if c.StorageEngine == "" {
		return StorageMemory
	}
	return c.StorageEngine
}

// PebbleCacheBytes is the Pebble block cache size in bytes.
func (c *Config) PebbleCacheBytes() int64 {
	mb := c.PebbleCacheSizeMB
	if mb <= 0 {
		mb = DefaultPebbleCacheSizeMB
	}
	return mb << 20
}
