package admin

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/server"
)

// startServer runs an in-memory standalone server on 127.0.0.1 and an
// AdminServer for it; it returns the server, the AdminServer's base URL
// (with the command URL) and the zoo.cfg path.
func startServer(t *testing.T, tune func(*config.Config)) (*server.Server, *Admin, string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "zoo.cfg")
	text := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=2181\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.serverAddress=127.0.0.1\n", filepath.Join(dir, "data"))
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ClientPort = 0
	cfg.Admin.SetPort(0)
	if tune != nil {
		tune(cfg)
	}
	s := server.New(server.Options{Config: cfg})
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.Serve()
	}()
	a := New(Options{Config: cfg, ConfigPath: cfgPath, Source: Static{S: s}})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Close()
		s.Close()
		<-served
	})
	for !s.Running() {
		time.Sleep(time.Millisecond)
	}
	return s, a, cfgPath
}

func (a *Admin) base() string { return fmt.Sprintf("http://%s%s", a.Addr(), a.url) }

// client connects with go-zookeeper and returns the connection and its
// session id.
func client(t *testing.T, addr string) (*zk.Conn, int64) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for e := range ev {
		if e.State == zk.StateHasSession {
			break
		}
	}
	return c, c.SessionID()
}

// zkAnswers are Apache ZooKeeper 3.8.0's answers (standalone, and
// "<cmd>@leader" / "<cmd>@follower" from a 3-server ensemble), captured
// with the jetty and jackson jars on its class path.
func zkAnswers(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/zookeeper-3.8.0.json")
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(strings.NewReader(string(b)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// monitorCore are the monitor keys ZooKeeper's standalone server always
// has that zkserver must produce too (the rest of its 500 are metrics of
// its request processors; see docs/operators/admin.md).
var monitorCore = []string{
	"version", "server_state", "avg_latency", "max_latency", "min_latency", "packets_received",
	"packets_sent", "num_alive_connections", "outstanding_requests", "uptime", "znode_count",
	"watch_count", "ephemerals_count", "approximate_data_size", "global_sessions", "local_sessions",
	"open_file_descriptor_count", "max_file_descriptor_count", "connection_drop_probability",
	"last_client_response_size", "max_client_response_size", "min_client_response_size",
	"outstanding_tls_handshake", "auth_failed_count", "non_mtls_remote_conn_count",
	"non_mtls_local_conn_count", "command", "error",
}

// knownMonitorExtras are monitor keys zkserver's ZAB roles report (zab's
// Role.Metrics, shared with mntr) that ZooKeeper 3.8.0 does not have in
// that role; they are left to the zab package's owner.
var knownMonitorExtras = map[string]string{
	"followers":        "the leader's ZooKeeper 3.4 gauge, kept by zab for old scripts",
	"synced_observers": "reported by zab's follower role; ZooKeeper 3.8 has it only on the leader",
}

// compareAnswer checks one answer of ours against ZooKeeper's: the same
// shape, except where ZooKeeper reports JVM or metrics-provider keys
// zkserver has no counterpart for (monitor, environment and
// system_properties: our keys must be a subset with the same types).
func compareAnswer(t *testing.T, name string, zkAns, ours map[string]any) {
	t.Helper()
	want, got := shape(zkAns).(map[string]any), shape(ours).(map[string]any)
	switch name {
	case "monitor", "system_properties":
		for k, v := range got {
			w, ok := want[k]
			if !ok {
				if name == "system_properties" && strings.HasPrefix(k, "zookeeper.") {
					continue // zoo.cfg keys: depend on the file
				}
				if why, ok := knownMonitorExtras[k]; ok && name == "monitor" {
					t.Logf("monitor: extra key %q (%s)", k, why)
					continue
				}
				t.Errorf("%s: key %q is not in ZooKeeper's answer", name, k)
				continue
			}
			if d := shapeDiff(name+"."+k, w, v); len(d) > 0 {
				t.Errorf("%s", strings.Join(d, "\n"))
			}
		}
		if name == "monitor" {
			for _, k := range monitorCore {
				if _, ok := got[k]; !ok {
					t.Errorf("monitor lacks %q", k)
				}
			}
		}
		return
	}
	if d := shapeDiff(name, want, got); len(d) > 0 {
		t.Errorf("%s differs from ZooKeeper's:\n%s\nours: %v", name, strings.Join(d, "\n"), ours)
	}
}

// TestCommandsShapes runs every command on a server with a session, an
// ephemeral node and watches and compares each answer's shape with
// ZooKeeper 3.8.0's captured answers; it also checks the values the
// client's actions must show.
func TestCommandsShapes(t *testing.T) {
	s, a, cfgPath := startServer(t, nil)
	c, sid := client(t, s.Addr().String())
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
	zkm := zkAnswers(t)
	answers := map[string]map[string]any{}
	for _, name := range PrimaryNames() {
		if name == "connection_stat_reset" || name == "stat_reset" {
			continue // run last: they clear what the others show
		}
		code, body := get(t, a.base()+"/"+name)
		if code != http.StatusOK {
			t.Fatalf("%s: status %d", name, code)
		}
		m := decode(t, body)
		answers[name] = m
		if m["command"] != name {
			t.Errorf("%s: command = %v", name, m["command"])
		}
		zkAns, ok := zkm[name].(map[string]any)
		if !ok {
			t.Fatalf("no ZooKeeper answer for %s", name)
		}
		compareAnswer(t, name, zkAns, m)
	}
	for _, name := range []string{"connection_stat_reset", "stat_reset"} {
		_, body := get(t, a.base()+"/"+name)
		compareAnswer(t, name, zkm[name].(map[string]any), decode(t, body))
	}

	// values the session's actions must show
	sidStr := fmt.Sprint(sid)
	if w := answers["watches"]["session_id_to_watched_paths"].(map[string]any)[sidStr]; fmt.Sprint(w) != "[/a /e]" {
		t.Errorf("watches[%s] = %v", sidStr, w)
	}
	if w := answers["watches_by_path"]["path_to_session_ids"].(map[string]any)["/a"]; fmt.Sprint(w) != "["+sidStr+"]" {
		t.Errorf("watches_by_path[/a] = %v", w)
	}
	if e := answers["dump"]["session_id_to_ephemeral_paths"].(map[string]any)[sidStr]; fmt.Sprint(e) != "[/e]" {
		t.Errorf("dump ephemerals = %v", e)
	}
	found := false
	for _, ids := range answers["dump"]["expiry_time_to_session_ids"].(map[string]any) {
		found = found || strings.Contains(fmt.Sprint(ids), sidStr)
	}
	if !found {
		t.Errorf("dump: session %s in no expiry bucket: %v", sidStr, answers["dump"])
	}
	if ws := answers["watch_summary"]; fmt.Sprintf("%v %v %v", ws["num_connections"], ws["num_paths"], ws["num_total_watches"]) != "1 2 2" {
		t.Errorf("watch_summary = %v", ws)
	}
	conns := answers["connections"]["connections"].([]any)
	if len(conns) != 1 || fmt.Sprint(conns[0].(map[string]any)["session_id"]) != sidStr {
		t.Errorf("connections = %v", conns)
	}
	if n := answers["server_stats"]["node_count"]; fmt.Sprint(n) != "7" { // / /a /e /zookeeper ×3, root twice
		t.Errorf("node_count = %v", n)
	}
	if mon := answers["monitor"]; fmt.Sprintf("%v %v %v", mon["ephemerals_count"], mon["znode_count"], mon["server_state"]) != "1 7 standalone" {
		t.Errorf("monitor = %v", mon)
	}
	text, _ := os.ReadFile(cfgPath)
	if got := answers["initial_configuration"]["initial_configuration"]; got != string(text) {
		t.Errorf("initial_configuration = %q, want the file %q", got, text)
	}
	if got := answers["configuration"]["client_port"]; fmt.Sprint(got) != fmt.Sprint(s.Addr().(*net.TCPAddr).Port) {
		t.Errorf("configuration client_port = %v", got)
	}
	// standalone: no leader, empty voting view, no zab state
	if got := jsonCompact(t, mustBody(t, a, "leader")); got != `{"error":"server is not initialized","command":"leader"}` {
		t.Errorf("leader = %s", got)
	}
	if got := jsonCompact(t, mustBody(t, a, "zabstate")); got != `{"voting":false,"zabstate":"","command":"zabstate","error":null}` {
		t.Errorf("zabstate = %s", got)
	}
}

func mustBody(t *testing.T, a *Admin, cmd string) string {
	t.Helper()
	code, body := get(t, a.base()+"/"+cmd)
	if code != http.StatusOK {
		t.Fatalf("%s: status %d", cmd, code)
	}
	return body
}

// TestLayout checks Jackson's pretty-printed layout byte for byte on
// answers whose values are fixed.
func TestLayout(t *testing.T) {
	_, a, _ := startServer(t, nil)
	for cmd, want := range map[string]string{
		"ruok":        "{\n  \"command\" : \"ruok\",\n  \"error\" : null\n}",
		"isro":        "{\n  \"read_only\" : false,\n  \"command\" : \"is_read_only\",\n  \"error\" : null\n}",
		"voting_view": "{\n  \"current_config\" : { },\n  \"command\" : \"voting_view\",\n  \"error\" : null\n}",
		"hash":        "{\n  \"digests\" : [ ],\n  \"command\" : \"hash\",\n  \"error\" : null\n}",
		"nope":        "{\n  \"command\" : \"nope\",\n  \"error\" : \"Unknown command: nope\"\n}",
		"ruok/x":      "{\n  \"command\" : \"ruok/x\",\n  \"error\" : \"Unknown command: ruok/x\"\n}",
	} {
		if got := mustBody(t, a, cmd); got != want {
			t.Errorf("%s:\n%s\nwant\n%s", cmd, got, want)
		}
	}
}

// TestAliases: every name of a command answers with the primary name.
func TestAliases(t *testing.T) {
	_, a, _ := startServer(t, nil)
	for name, primary := range Names() {
		if primary == "connection_stat_reset" || primary == "stat_reset" || primary == "set_trace_mask" {
			continue
		}
		m := decode(t, mustBody(t, a, name))
		if m["command"] != primary || m["error"] != nil && primary != "leader" {
			t.Errorf("%s: command %v error %v, want %s", name, m["command"], m["error"], primary)
		}
	}
	if len(PrimaryNames()) != 26 {
		t.Errorf("%d commands, ZooKeeper 3.8.0 has 26", len(PrimaryNames()))
	}
}

// TestListing: /commands and /commands/ list every command as ZooKeeper's
// servlet does.
func TestListing(t *testing.T) {
	_, a, _ := startServer(t, nil)
	var want strings.Builder
	for _, n := range PrimaryNames() {
		fmt.Fprintf(&want, "<a href=\"/commands/%s\">%s</a>\n<br/>\n", n, n)
	}
	for _, u := range []string{a.base(), a.base() + "/"} {
		code, body := get(t, u)
		if code != 200 || body != want.String() {
			t.Errorf("%s: %d\n%s", u, code, body)
		}
	}
	if !strings.Contains(want.String(), `<a href="/commands/zabstate">zabstate</a>`) {
		t.Error("listing lacks zabstate")
	}
}

// TestTraceMask: set_trace_mask's argument checks and its effect on
// get_trace_mask.
func TestTraceMask(t *testing.T) {
	_, a, _ := startServer(t, nil)
	defer server.SetTraceMask(server.TraceMask())
	for q, want := range map[string]string{
		"":                `{"error":"setTraceMask requires long traceMask argument","command":"set_trace_mask"}`,
		"?traceMask=abc":  `{"error":"setTraceMask requires long traceMask argument, got abc","command":"set_trace_mask"}`,
		"?traceMask=1234": `{"tracemask":1234,"command":"set_trace_mask","error":null}`,
	} {
		if got := jsonCompact(t, mustBody(t, a, "set_trace_mask"+q)); got != want {
			t.Errorf("set_trace_mask%s = %s, want %s", q, got, want)
		}
	}
	if got := jsonCompact(t, mustBody(t, a, "gtmk")); got != `{"tracemask":1234,"command":"get_trace_mask","error":null}` {
		t.Errorf("gtmk = %s", got)
	}
}

// TestResets: stat_reset and connection_stat_reset clear the counters.
func TestResets(t *testing.T) {
	s, a, _ := startServer(t, nil)
	c, _ := client(t, s.Addr().String())
	for i := 0; i < 5; i++ {
		if _, _, err := c.Exists("/"); err != nil {
			t.Fatal(err)
		}
	}
	packets := func() (server, conn string) {
		st := decode(t, mustBody(t, a, "server_stats"))["server_stats"].(map[string]any)
		cs := decode(t, mustBody(t, a, "cons"))["connections"].([]any)[0].(map[string]any)
		return fmt.Sprint(st["packets_received"]), fmt.Sprint(cs["packets_received"])
	}
	if sv, cn := packets(); sv < "5" || cn == "0" {
		t.Fatalf("before reset: server %s, connection %s packets", sv, cn)
	}
	mustBody(t, a, "srst")
	if sv, _ := packets(); sv != "0" {
		t.Errorf("server packets after srst: %s", sv)
	}
	mustBody(t, a, "crst")
	if _, cn := packets(); cn != "0" {
		t.Errorf("connection packets after crst: %s", cn)
	}
}

// nilSource is an ensemble member between roles.
type nilSource struct{ peer *PeerState }

func (nilSource) Server() *server.Server { return nil }
func (n nilSource) Peer() *PeerState     { return n.peer }

// TestNotServing: without a running server the commands that need one
// answer ZooKeeper's error under the name asked for; the others answer.
func TestNotServing(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader("dataDir=/nonexistent\nclientPort=2181\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Admin.SetAddress("127.0.0.1")
	cfg.Admin.SetPort(0)
	a := New(Options{Config: cfg, Source: nilSource{}})
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for name, primary := range Names() {
		m := decode(t, mustBody(t, a, name))
		needs := byName[name].serverRequired
		switch {
		case needs && (m["command"] != name || m["error"] != notServing):
			t.Errorf("%s: %v", name, m)
		case !needs && m["command"] != primary:
			t.Errorf("%s: %v", name, m)
		}
	}
}

// TestHTTPMethods: the answers Jetty gives ZooKeeper's servlet for other
// methods and paths.
func TestHTTPMethods(t *testing.T) {
	_, a, _ := startServer(t, nil)
	for _, tc := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{"POST", "/ruok", 405, ""},
		{"PUT", "/ruok", 405, ""},
		{"DELETE", "/ruok", 405, ""},
		{"TRACE", "/ruok", 403, ""},
		{"OPTIONS", "/ruok", 200, "GET, HEAD, TRACE, OPTIONS"},
		{"HEAD", "/ruok", 200, ""},
		{"PATCH", "/ruok", 501, ""},
		{"GET", "/../x", 404, ""},
	} {
		u := a.base() + tc.path
		if tc.path == "/../x" {
			u = fmt.Sprintf("http://%s/x", a.Addr())
		}
		req, _ := http.NewRequest(tc.method, u, nil)
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.code, tc.allow)
		}
	}
	resp, err := httpClient.Get(a.base() + "/ruok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

// rawExchange sends raw bytes and reads the reply until the server closes
// the connection or 5 s pass.
func rawExchange(t *testing.T, addr string, msg []byte) (string, error) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(msg); err != nil {
		return "", err
	}
	b, err := io.ReadAll(nc)
	return string(b), err
}

// TestBadInput: malformed requests, huge headers and a slowloris client
// get an error or are cut, and the AdminServer keeps serving.
func TestBadInput(t *testing.T) {
	_, a, _ := startServer(t, func(c *config.Config) { c.Admin.SetIdleTimeout(500 * time.Millisecond) })
	addr := a.Addr().String()
	for name, msg := range map[string][]byte{
		"garbage":     []byte("\x00\x01\x02 not http at all\r\n\r\n"),
		"bad version": []byte("GET /commands/ruok HTTP/9.x\r\n\r\n"),
		"no host":     []byte("GET /commands/ruok HTTP/1.1\r\n\r\n"),
		"bad header":  []byte("GET /commands/ruok HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"),
		"huge header": []byte("GET /commands/ruok HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n"),
		"bad length":  []byte("GET /commands/ruok HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"),
	} {
		out, _ := rawExchange(t, addr, msg)
		if !strings.HasPrefix(out, "HTTP/1.1 4") {
			t.Errorf("%s: answer %q, want a 4xx", name, firstLine(out))
		}
	}

	// slowloris: a request line and then one header byte at a time; the
	// idle timeout cuts it while other clients are served
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	nc.Write([]byte("GET /commands/ruok HTTP/1.1\r\nHost: x\r\nX-Slow: "))
	cut := false
	for i := 0; i < 100 && !cut; i++ {
		if _, err := nc.Write([]byte("a")); err != nil {
			cut = true
			break
		}
		if code, _ := get(t, a.base()+"/ruok"); code != 200 {
			t.Fatalf("ruok during slowloris: %d", code)
		}
		nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		var buf [1]byte
		if _, err := nc.Read(buf[:]); err == io.EOF || err != nil && !isTimeout(err) {
			cut = true
		}
	}
	if !cut {
		t.Fatalf("slow client still connected after %v", time.Since(start))
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("slow client cut after %v (idle timeout 500ms)", el)
	}
	if code, _ := get(t, a.base()+"/ruok"); code != 200 {
		t.Fatalf("ruok after bad input: %d", code)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func firstLine(s string) string {
	l, _ := bufio.NewReader(strings.NewReader(s)).ReadString('\n')
	return strings.TrimSpace(l)
}

// TestDisabledAndTLS: the keys that turn the server off or ask for TLS.
func TestDisabledAndTLS(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader("dataDir=/x\nadmin.enableServer=false\nzookeeper.admin.forceHttps=TRUE\nadmin.serverPort=0x1F90\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Enabled() || !cfg.Admin.ForceHTTPS() || cfg.Admin.Port() != 8080 {
		t.Errorf("enabled %v forceHttps %v port %d", cfg.Admin.Enabled(), cfg.Admin.ForceHTTPS(), cfg.Admin.Port())
	}
	if err := New(Options{Config: cfg, Source: nilSource{}}).Start(); err != ErrTLSNotSupported {
		t.Errorf("Start with forceHttps: %v", err)
	}
}
