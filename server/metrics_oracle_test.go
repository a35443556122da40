package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	dto "github.com/prometheus/client_model/go"

	"github.com/zkserver/zkserver/internal/testkit"
)

// zkCounters are the metrics ZooKeeper 3.8.0's ServerMetrics creates
// with getCounter: mntr prints them like gauges, Prometheus types them
// as counters.
var zkCounters = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`add_dead_watcher_stall_time bytes_received_count
		cnxn_closed_without_zk_server_running commit_count connection_drop_count connection_rejected
		connection_request_count connection_revalidate_count dead_watchers_cleared dead_watchers_queued
		diff_count digest_mismatches_count ensemble_auth_fail ensemble_auth_skip ensemble_auth_success
		insecure_admin_count large_requests_rejected learner_commit_received_count
		learner_proposal_received_count looking_count outstanding_changes_queued
		outstanding_changes_removed prep_processor_request_queued proposal_count
		quit_leading_due_to_disloyal_voter request_commit_queued request_throttle_wait_count
		response_bytes response_packet_cache_hits response_packet_cache_misses
		response_packet_get_children_cache_hits response_packet_get_children_cache_misses
		revalidate_count sessionless_connections_expired skip_learner_request_to_next_processor_count
		snap_count stale_replies stale_requests stale_requests_dropped stale_sessions_expired
		sync_processor_request_queued throttled_ops tls_handshake_exceeded unrecoverable_error_count
		unsuccessful_handshake watch_bytes`) {
		zkCounters[n] = true
	}
}

// mntrKind is what ZooKeeper's mntr says about one metric name.
type mntrKind struct {
	summary  bool
	advanced bool // a summary with percentiles (p50_...)
	counter  bool
}

// parseMntr turns ZooKeeper's mntr output (default metrics provider)
// into metric names: a summary X prints avg_X, min_X, max_X, cnt_X and
// sum_X (and p50_X... when ADVANCED); non-numeric values (version,
// server_state) are not metrics.
func parseMntr(out string) map[string]mntrKind {
	vals := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if !ok || !strings.HasPrefix(k, "zk_") {
			continue
		}
		vals[strings.TrimPrefix(k, "zk_")] = v
	}
	kinds := map[string]mntrKind{}
	// summary sets print one summary per key: <key>_read_per_namespace
	// is read_per_namespace{key="<key>"} in Prometheus
	for k, v := range vals {
		for _, set := range []string{"read_per_namespace", "write_per_namespace"} {
			if strings.HasSuffix(k, "_"+set) {
				delete(vals, k)
				vals[strings.Replace(k, k[strings.Index(k, "_")+1:], set, 1)] = v
			}
		}
	}
	for k := range vals {
		if name, ok := strings.CutPrefix(k, "cnt_"); ok {
			if _, has := vals["sum_"+name]; has {
				_, adv := vals["p50_"+name]
				kinds[name] = mntrKind{summary: true, advanced: adv}
			}
		}
	}
	num := regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?(E-?[0-9]+)?$`)
	for k, v := range vals {
		if !num.MatchString(v) {
			continue
		}
		part := false
		for _, p := range []string{"avg_", "min_", "max_", "cnt_", "sum_", "p50_", "p95_", "p99_", "p999_"} {
			if name, ok := strings.CutPrefix(k, p); ok && kinds[name].summary {
				part = true
			}
		}
		if !part {
			kinds[k] = mntrKind{counter: zkCounters[k]}
		}
	}
	return kinds
}

// zookeeperMntr starts Apache ZooKeeper 3.8.0 standalone on loopback,
// runs a few requests and returns its mntr output.
func zookeeperMntr(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := filepath.Join(dir, "zoo.cfg")
	body := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"4lw.commands.whitelist=*\nadmin.enableServer=false\n", filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "zk.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cp := strings.Join([]string{testkit.ZKJar, "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar"}, ":")
	cmd := exec.Command("java", "-Xmx256m", "-Dzookeeper.admin.enableServer=false", "-cp", cp,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for end := time.Now().Add(60 * time.Second); ; {
		// ruok answers imok before the server serves; srvr tells
		if strings.Contains(fourLetterTo(addr, "srvr"), "Mode: standalone") {
			break
		}
		select {
		case <-done:
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("ZooKeeper exited:\n%s", log)
		default:
		}
		if time.Now().After(end) {
			t.Fatal("ZooKeeper did not serve within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	conn, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/m", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.Get("/m"); err != nil {
		t.Fatal(err)
	}
	return fourLetterTo(addr, "mntr")
}

func fourLetterTo(addr, word string) string {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return ""
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(nc, word); err != nil {
		return ""
	}
	b, _ := io.ReadAll(bufio.NewReader(nc))
	return string(b)
}

// quantilesOf lists a summary family's quantiles.
func quantilesOf(f *dto.MetricFamily) []float64 {
	var qs []float64
	for _, q := range f.Metric[0].GetSummary().GetQuantile() {
		qs = append(qs, q.GetQuantile())
	}
	return qs
}

func TestMetricNamesAgainstZooKeeper(t *testing.T) {
	testkit.RequireZK(t, false)
	out := zookeeperMntr(t)
	if !strings.Contains(out, "zk_version\t3.8.0") {
		t.Fatalf("not ZooKeeper 3.8.0's mntr:\n%s", out)
	}
	zkKinds := parseMntr(out)
	if len(zkKinds) < 100 || !zkKinds["readlatency"].advanced || !zkKinds["fsynctime"].summary || !zkKinds["commit_count"].counter {
		t.Fatalf("unexpected mntr from ZooKeeper (%d metrics): %v", len(zkKinds), zkKinds)
	}

	s, base := startMetricsServer(t)
	conn, _, err := zk.Connect([]string{s.Addr().String()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Create("/m", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conn.Get("/m"); err != nil {
		t.Fatal(err)
	}
	ours := scrapeMetrics(t, base)

	exported := map[string]bool{}
	for name, f := range ours {
		if strings.HasPrefix(name, "zkserver_") || strings.HasPrefix(name, "go_") ||
			strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
			continue
		}
		exported[name] = true
		k, ok := zkKinds[name]
		if !ok {
			t.Errorf("%s: exported under a name ZooKeeper's mntr does not have", name)
			continue
		}
		switch {
		case k.summary:
			if f.GetType() != dto.MetricType_SUMMARY {
				t.Errorf("%s: %v, ZooKeeper has a summary", name, f.GetType())
				continue
			}
			want := []float64{0.5}
			if k.advanced {
				want = []float64{0.5, 0.9, 0.99}
			}
			if got := quantilesOf(f); !slices.Equal(got, want) {
				t.Errorf("%s: quantiles %v, ZooKeeper's provider has %v", name, got, want)
			}
		case k.counter:
			if f.GetType() != dto.MetricType_COUNTER {
				t.Errorf("%s: %v, ZooKeeper has a counter", name, f.GetType())
			}
		default:
			if f.GetType() != dto.MetricType_GAUGE {
				t.Errorf("%s: %v, ZooKeeper has a gauge", name, f.GetType())
			}
		}
		for _, m := range f.Metric {
			if len(m.Label) != 0 {
				t.Errorf("%s: labels %v; ZooKeeper's are unlabelled", name, m.Label)
			}
		}
	}
	docs, err := os.ReadFile("../docs/operators/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for name := range zkKinds {
		if !exported[name] {
			missing = append(missing, name)
			if !strings.Contains(string(docs), "`"+name+"`") {
				t.Errorf("%s: in ZooKeeper's mntr, not exported, and not listed in docs/operators/metrics.md", name)
			}
		}
	}
	slices.Sort(missing)
	t.Logf("ZooKeeper 3.8.0 mntr: %d metrics; zkserver exports %d of them; not produced: %s",
		len(zkKinds), len(exported), strings.Join(missing, " "))
}
