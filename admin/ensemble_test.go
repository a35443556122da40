package admin

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkserver/zkserver/internal/testkit"
)

// TestEnsembleAgainstZooKeeper starts a 3-server ensemble of Apache
// ZooKeeper 3.8.0 and one of zkserver (two participants and an observer
// each) and compares, role by role, every command's answer shape. It runs
// only with ZKSERVER_ADMIN_ENSEMBLE=1 (make admin-test): it takes half a
// minute or more.
func TestEnsembleAgainstZooKeeper(t *testing.T) {
	if os.Getenv("ZKSERVER_ADMIN_ENSEMBLE") == "" {
		t.Skip("set ZKSERVER_ADMIN_ENSEMBLE=1 (make admin-test) to compare ensembles")
	}
	testkit.RequireZK(t, false)
	zk := startEnsemble(t, "zookeeper", startZooKeeper)
	ours := startEnsemble(t, "zkserver", startZkserver)

	byRole := func(e []member) map[string]member {
		m := map[string]member{}
		for _, x := range e {
			st := waitAdmin(t, x.p, x.base, "zabstate", func(m map[string]any) bool { return m["zabstate"] == "broadcast" })
			role := "follower"
			switch {
			case st["is_leader"] == true:
				role = "leader"
			case st["voting"] == false:
				role = "observer"
			}
			m[role] = x
		}
		if len(m) != 3 {
			t.Fatalf("roles %v", m)
		}
		return m
	}
	zr, or := byRole(zk), byRole(ours)
	for _, role := range []string{"leader", "follower", "observer"} {
		for _, name := range PrimaryNames() {
			if name == "connection_stat_reset" || name == "stat_reset" {
				continue
			}
			zm := decode(t, mustGet(t, zr[role].base+"/"+name))
			om := decode(t, mustGet(t, or[role].base+"/"+name))
			if (zm["error"] == nil) != (om["error"] == nil) {
				t.Errorf("%s %s: error %v, ZooKeeper %v", role, name, om["error"], zm["error"])
				continue
			}
			if name == "environment" {
				continue // compared standalone (the same code)
			}
			before := t.Failed()
			compareAnswer(t, name, zm, om)
			if !before && t.Failed() {
				t.Logf("in the %s's answer", role)
			}
		}
		// the values that tell the roles apart
		zl := decode(t, mustGet(t, zr[role].base+"/leader"))
		ol := decode(t, mustGet(t, or[role].base+"/leader"))
		if fmt.Sprint(zl["is_leader"]) != fmt.Sprint(ol["is_leader"]) || ol["leader_ip"] != "127.0.0.1" {
			t.Errorf("%s: leader %v, ZooKeeper %v", role, ol, zl)
		}
		ov := decode(t, mustGet(t, or[role].base+"/voting_view"))["current_config"].(map[string]any)
		if len(ov) != 2 || ov["1"] == nil || ov["2"] == nil {
			t.Errorf("%s: voting_view %v, want servers 1 and 2", role, ov)
		}
		mon := decode(t, mustGet(t, or[role].base+"/monitor"))
		if mon["server_state"] != role {
			t.Errorf("%s: monitor server_state %v", role, mon["server_state"])
		}
	}
}

type member struct {
	p    *proc
	base string
}

// startEnsemble writes the configs of a 3-server ensemble (server 3 an
// observer) and starts it with start.
func startEnsemble(t *testing.T, kind string, start func(*testing.T, string) *proc) []member {
	t.Helper()
	ports := testkit.FreePorts(t, 12)
	root := t.TempDir()
	var lines []string
	for i := 0; i < 3; i++ {
		typ := "participant"
		if i == 2 {
			typ = "observer"
		}
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d:%s;127.0.0.1:%d", i+1, ports[i*4+1], ports[i*4+2], typ, ports[i*4]))
	}
	var out []member
	for i := 0; i < 3; i++ {
		dir := filepath.Join(root, fmt.Sprintf("%s%d", kind, i+1))
		writeCfg(t, dir, fmt.Sprintf("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
			"4lw.commands.whitelist=*\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n%s\n",
			filepath.Join(dir, "data"), ports[i*4], ports[i*4+3], strings.Join(lines, "\n")))
		if err := os.WriteFile(filepath.Join(dir, "data", "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		dir := filepath.Join(root, fmt.Sprintf("%s%d", kind, i+1))
		out = append(out, member{p: start(t, dir), base: fmt.Sprintf("http://127.0.0.1:%d/commands", ports[i*4+3])})
	}
	return out
}
