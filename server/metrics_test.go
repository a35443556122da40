package server

import (
	"net/http"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/metrics"
)

// scrapeMetrics GETs /metrics and returns the families by name.
func scrapeMetrics(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// sample is a family's first value (count for summaries and histograms)
// with the given label value (any when label is "").
func sample(fs map[string]*dto.MetricFamily, name, label string) (float64, bool) {
	f := fs[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		if label != "" && (len(m.Label) == 0 || m.Label[0].GetValue() != label) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount()), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// startMetricsServer runs a durable standalone server (txn log, fsync,
// snapshots every few txns) with metrics on, and its /metrics endpoint.
func startMetricsServer(t *testing.T) (*Server, string) {
	t.Helper()
	m := metrics.New(metrics.Options{Runtime: true})
	metrics.SetDefault(m)
	t.Cleanup(func() { metrics.SetDefault(nil) })
	ms, err := metrics.Listen(m, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })

	cfg := config.Default()
	cfg.TickTime = 2000
	cfg.DataDir = t.TempDir()
	cfg.SnapCount = 20
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	cfg.ClientPortAddress, cfg.ClientPort = "127.0.0.1", 0
	s, err := OpenDurable(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); s.Serve() }()
	t.Cleanup(func() { s.Close(); <-served })
	return s, "http://" + ms.Addr().String()
}

func TestMetricsMoveWithTraffic(t *testing.T) {
	s, base := startMetricsServer(t)
	before := scrapeMetrics(t, base)
	if v, ok := sample(before, "znode_count", ""); !ok || v != 5 {
		// "/", "/zookeeper", quota and config, and the root counted twice
		t.Errorf("znode_count before %v (exported %v), want 5", v, ok)
	}
	// a new data directory: loaded (snapshot.0 written), nothing replayed
	if v, _ := sample(before, "dbinittime", ""); v != 1 {
		t.Errorf("dbinittime count %v, want 1 (the recovery)", v)
	}
	if v, _ := sample(before, "startup_txns_loaded", ""); v != 0 {
		t.Errorf("startup_txns_loaded count %v, want 0 (no log)", v)
	}

	conn, _, err := zk.Connect([]string{s.Addr().String()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const n = 40
	for i := 0; i < n; i++ {
		p := "/m" + itoa(int64(i))
		if _, err := conn.Create(p, make([]byte, 100), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := conn.Get(p); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, _, err := conn.ExistsW("/m0"); err != nil {
		t.Fatal(err)
	}
	// the snapshot started by snapCount=20 runs in the background
	var after map[string]*dto.MetricFamily
	for end := time.Now().Add(10 * time.Second); ; {
		after = scrapeMetrics(t, base)
		if v, _ := sample(after, "snapshottime", ""); v > 0 || time.Now().After(end) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}

	atLeast := func(name, label string, min float64) {
		t.Helper()
		v, ok := sample(after, name, label)
		if !ok {
			t.Errorf("%s{%s} not exported", name, label)
			return
		}
		if v < min {
			t.Errorf("%s{%s} = %v, want >= %v", name, label, v, min)
		}
	}
	atLeast("znode_count", "", 5+n)
	atLeast("approximate_data_size", "", 100*n)
	atLeast("watch_count", "", 1)
	atLeast("num_alive_connections", "", 1)
	atLeast("global_sessions", "", 1)
	atLeast("packets_received", "", 2*n)
	atLeast("readlatency", "", n)               // summary count
	atLeast("updatelatency", "", n)             // the creates
	atLeast("fsynctime", "", 1)                 // group-commit fsyncs
	atLeast("sync_processor_batch_size", "", 1) // group-commit rounds
	atLeast("prep_processor_queue_time_ms", "", n)
	atLeast("snapshottime", "", 1)
	atLeast("zkserver_snapshot_size_bytes", "", 100)
	atLeast("bytes_received_count", "", 50*n)
	atLeast("response_bytes", "", 20*n)
	atLeast("connection_request_count", "", 1)
	atLeast("zkserver_request_duration_seconds", "create", n)
	atLeast("zkserver_request_duration_seconds", "getData", n)
	atLeast("zkserver_request_duration_seconds", "exists", 1)
	atLeast("zkserver_fsync_duration_seconds", "", 1)
	atLeast("zkserver_group_commit_batch_size", "", 1)
	atLeast("zkserver_apply_queue_seconds", "", 1)
	atLeast("zkserver_znode_data_bytes", "", n)
	atLeast("zkserver_znode_avg_bytes", "", 50)
	atLeast("go_goroutines", "", 1)
	for _, name := range []string{"readlatency", "updatelatency"} {
		if v, _ := sample(before, name, ""); v != 0 {
			t.Errorf("%s count %v before any request", name, v)
		}
	}
	// the per-op histogram's buckets hold every sample
	f := after["zkserver_request_duration_seconds"]
	for _, m := range f.Metric {
		h := m.Histogram
		if last := h.Bucket[len(h.Bucket)-1]; last.GetCumulativeCount() > h.GetSampleCount() {
			t.Errorf("bucket count %d > sample count %d", last.GetCumulativeCount(), h.GetSampleCount())
		}
	}
	// a summary's _sum is in ms, as ZooKeeper's: well below 10 s per
	// request on loopback, and positive
	if sm := after["updatelatency"].Metric[0].Summary; sm.GetSampleSum() <= 0 || sm.GetSampleSum() > float64(n+1)*10000 {
		t.Errorf("updatelatency sum %v ms", sm.GetSampleSum())
	}
}

// TestMetricsGaugesFollowServer: the gauges are exported while a server
// serves and vanish when it closes (as ZooKeeper unregisters them).
func TestMetricsGaugesFollowServer(t *testing.T) {
	m := metrics.New(metrics.Options{})
	metrics.SetDefault(m)
	defer metrics.SetDefault(nil)
	s := startServer(t)
	has := func() bool {
		fs, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.GetName() == "uptime" {
				return true
			}
		}
		return false
	}
	for end := time.Now().Add(5 * time.Second); !has() && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if !has() {
		t.Fatal("uptime not exported while serving")
	}
	s.Close()
	if has() {
		t.Error("uptime still exported after Close")
	}
}
