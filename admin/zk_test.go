package admin

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/zkserver/zkserver/internal/testkit"
)

// TestAgainstZooKeeper starts Apache ZooKeeper 3.8.0 with its AdminServer
// and a zkserver, does the same client actions on both, and compares every
// command's answer (key sets and value types), the error answers and the
// HTTP statuses of other methods and paths.
func TestAgainstZooKeeper(t *testing.T) {
	testkit.RequireZK(t, false)
	ports := testkit.FreePorts(t, 2)
	dir := t.TempDir()
	writeCfg(t, dir, fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n",
		filepath.Join(dir, "data"), ports[0], ports[1]))
	zp := startZooKeeper(t, dir)
	zkBase := fmt.Sprintf("http://127.0.0.1:%d/commands", ports[1])
	waitAdmin(t, zp, zkBase, "ruok", nil)

	s, a, _ := startServer(t, nil)
	ourBase := a.base()
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", ports[0]), s.Addr().String()} {
		c, _ := client(t, addr)
		if _, err := c.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create("/e", []byte("x"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.GetW("/a"); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.ExistsW("/e"); err != nil {
			t.Fatal(err)
		}
	}

	// ZooKeeper's own listing is the list of commands
	_, zkList := get(t, zkBase)
	_, ourList := get(t, ourBase)
	if zkList != ourList {
		t.Errorf("listing differs:\nZooKeeper:\n%s\nzkserver:\n%s", zkList, ourList)
	}

	names := append(PrimaryNames(), "nope", "set_trace_mask?traceMask=x", "set_trace_mask?traceMask=306")
	for name, primary := range Names() {
		if name != primary {
			names = append(names, name)
		}
	}
	for _, name := range names {
		if name == "connection_stat_reset" || name == "crst" || name == "stat_reset" || name == "srst" {
			continue
		}
		zc, zb := get(t, zkBase+"/"+name)
		oc, ob := get(t, ourBase+"/"+name)
		if zc != oc {
			t.Errorf("%s: status %d, ZooKeeper %d", name, oc, zc)
			continue
		}
		zm, om := decode(t, zb), decode(t, ob)
		if zm["command"] != om["command"] || (zm["error"] == nil) != (om["error"] == nil) {
			t.Errorf("%s: command/error %v/%v, ZooKeeper %v/%v", name, om["command"], om["error"], zm["command"], zm["error"])
		}
		cmd := strings.SplitN(name, "?", 2)[0]
		if p, ok := Names()[cmd]; ok {
			cmd = p
		}
		if cmd == "environment" {
			if d := shapeDiff(cmd, shape(zm), shape(om)); len(d) > 0 {
				t.Errorf("environment keys differ:\n%s", strings.Join(d, "\n"))
			}
			continue
		}
		compareAnswer(t, cmd, zm, om)
	}
	for _, name := range []string{"crst", "srst"} {
		zm, om := decode(t, mustGet(t, zkBase+"/"+name)), decode(t, mustGet(t, ourBase+"/"+name))
		compareAnswer(t, Names()[name], zm, om)
	}

	// other methods and paths: the same statuses
	for _, tc := range [][2]string{{"POST", "/ruok"}, {"PUT", "/ruok"}, {"DELETE", "/ruok"}, {"TRACE", "/ruok"},
		{"OPTIONS", "/ruok"}, {"HEAD", "/ruok"}, {"GET", "/../nothing"}, {"GET", "/"}} {
		var codes [2]int
		var allows [2]string
		for i, base := range []string{zkBase, ourBase} {
			u := base + tc[1]
			if tc[1] == "/../nothing" {
				u = strings.TrimSuffix(base, "/commands") + "/nothing"
			}
			req, _ := http.NewRequest(tc[0], u, nil)
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			codes[i], allows[i] = resp.StatusCode, resp.Header.Get("Allow")
		}
		if codes[0] != codes[1] || allows[0] != allows[1] {
			t.Errorf("%s %s: zkserver %d %q, ZooKeeper %d %q", tc[0], tc[1], codes[1], allows[1], codes[0], allows[0])
		}
	}
	if t.Failed() {
		if b, err := os.ReadFile(zp.log); err == nil {
			t.Logf("ZooKeeper log size %d", len(b))
		}
	}
}

func mustGet(t *testing.T, u string) string {
	t.Helper()
	code, body := get(t, u)
	if code != 200 {
		t.Fatalf("%s: %d", u, code)
	}
	return body
}
