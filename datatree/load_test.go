package datatree

import (
	"strings"
	"testing"

	"github.com/zkserver/zkserver/wire"
)

func TestLoadAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, sc storeCase) {
		tr := sc.empty(t)
		if tr.NodeCount() != 0 {
			t.Fatal("NewEmpty has nodes")
		}
		digest := []wire.ACL{{Perms: wire.PermAll, Id: wire.Id{Scheme: "digest", ID: "u:h"}}}
		tr.ACLs.Put(3, digest)
		tr.ACLs.Put(5, []wire.ACL{{Perms: wire.PermRead, Id: wire.Id{Scheme: "ip", ID: "1.2.3.4"}}}) // unused
		if err := tr.AddLoaded("/a", &Node{}); err == nil || err.Error() != "invalid datatree: parent of /a missing" {
			t.Fatalf("orphan: %v", err)
		}
		must := func(path string, n *Node) {
			t.Helper()
			if err := tr.AddLoaded(path, n); err != nil {
				t.Fatal(err)
			}
		}
		must("", &Node{ACL: OpenACLID, Data: []byte{}})
		must("/a", &Node{ACL: 3, Data: []byte("abc")})
		must("/a/e", &Node{ACL: OpenACLID, EphemeralOwner: 0x77})
		must("/c", &Node{ACL: 3, EphemeralOwner: wire.ContainerEphemeralOwner})
		must("/t", &Node{ACL: OpenACLID, EphemeralOwner: wire.TTLMask | 500})
		for _, bad := range []string{"", "/a", "a", "/x/", "//x", "/"} {
			if err := tr.AddLoaded(bad, &Node{}); err == nil {
				t.Errorf("%q accepted", bad)
			}
		}
		tr.SetSession(0x77, 4000)
		if err := tr.FinishLoad(); err != nil {
			t.Fatal(err)
		}
		if got := tr.Ephemerals(0x77); len(got) != 1 || got[0] != "/a/e" {
			t.Errorf("ephemerals %v", got)
		}
		if c := tr.Containers(); len(c) != 1 || c[0] != "/c" {
			t.Errorf("containers %v", c)
		}
		if c := tr.TTLNodes(); len(c) != 1 || c[0] != "/t" {
			t.Errorf("ttls %v", c)
		}
		if tr.Sessions()[0x77] != 4000 {
			t.Error("session")
		}
		if got := tr.Get("/").Children(); strings.Join(got, ",") != "a,c,t,zookeeper" {
			t.Errorf("root children %v", got)
		}
		if tr.DataSize() != int64(len("/a")+3+len("/a/e")+len("/c")+len("/t")) {
			t.Errorf("data size %d", tr.DataSize())
		}
		// Unused id 5 dropped; 3 kept with two users; config list added.
		if tr.ACLs.Get(5) != nil || tr.ACLs.Len() != 2 {
			t.Errorf("ACL cache has %d lists", tr.ACLs.Len())
		}
		if tr.Get(ConfigPath) == nil || tr.Get(QuotaPath) == nil || tr.Get(ConfigPath).Aversion != -1 {
			t.Error("built-ins not restored")
		}
		if id := tr.Get(ConfigPath).ACL; id <= 5 {
			t.Errorf("config ACL id %d reuses a loaded id", id)
		}
		tr.ACLs.Release(3)
		if tr.ACLs.Get(3) == nil {
			t.Error("id 3 released too early")
		}
		tr.ACLs.Release(3)
		if tr.ACLs.Get(3) != nil {
			t.Error("id 3 kept after its last user")
		}
		if id := tr.ACLs.Intern(digest); id == 3 {
			t.Error("released list still found by value")
		}

		// a node whose ACL id the cache lacks is refused as it is added
		if err := sc.empty(t).AddLoaded("", &Node{ACL: 9}); err == nil || !strings.Contains(err.Error(), "ACL id 9") {
			t.Fatalf("missing ACL: %v", err)
		}
		if err := sc.empty(t).FinishLoad(); err == nil {
			t.Fatal("tree without root accepted")
		}
	})
}
