package server

import (
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkserver/zkserver/config"
)

func startReaperServer(t *testing.T) *Server {
	t.Helper()
	return startConfigured(t, func(cfg *config.Config) {
		cfg.ExtendedTypesEnabled = true
		cfg.ContainerCheckIntervalMs = 50
	})
}

// waitGone polls (bounded) until path no longer exists.
func waitGone(t *testing.T, c *zk.Conn, path string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ok, _, err := c.Exists(path)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s was not reaped", path)
}

func TestReaperContainersAndTTL(t *testing.T) {
	s := startReaperServer(t)
	c, _, err := zk.Connect([]string{s.Addr().String()}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acl := zk.WorldACL(zk.PermAll)

	// A container never used stays (maxNeverUsedIntervalMs = 0).
	if _, err := c.CreateContainer("/never", nil, zk.FlagContainer, acl); err != nil {
		t.Fatal(err)
	}
	// A container that had a child and lost it is reaped.
	if _, err := c.CreateContainer("/box", nil, zk.FlagContainer, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/box/x", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // several reaper passes: a non-empty container stays
	if ok, _, _ := c.Exists("/box"); !ok {
		t.Fatal("container with a child was reaped")
	}
	if err := c.Delete("/box/x", -1); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c, "/box")
	if ok, _, _ := c.Exists("/never"); !ok {
		t.Fatal("never-used container was reaped")
	}

	// A TTL node is reaped once its TTL has passed without changes.
	if _, err := c.CreateTTL("/ttl", []byte("x"), zk.FlagTTL, acl, 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := c.Exists("/ttl"); !ok {
		t.Fatal("TTL node missing right after create")
	}
	waitGone(t, c, "/ttl")
	// the deletions were txns: the zxid moved past them
	if s.lastZxid.Load() < 6 {
		t.Fatalf("zxid %d: reaper deletions are not txns", s.lastZxid.Load())
	}
}
