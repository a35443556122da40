package metrics

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/wire"
)

// families gathers m's registry.
func families(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, f := range fs {
		out[f.GetName()] = f
	}
	return out
}

// value is the value of a metric without labels (a counter's or gauge's
// value, a summary's or histogram's count).
func value(t *testing.T, fs map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f := fs[name]
	if f == nil || len(f.Metric) == 0 {
		t.Fatalf("%s not exported", name)
	}
	mt := f.Metric[0]
	switch f.GetType() {
	case dto.MetricType_COUNTER:
		return mt.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return mt.GetGauge().GetValue()
	case dto.MetricType_SUMMARY:
		return float64(mt.GetSummary().GetSampleCount())
	case dto.MetricType_HISTOGRAM:
		return float64(mt.GetHistogram().GetSampleCount())
	}
	t.Fatalf("%s: type %v", name, f.GetType())
	return 0
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	// every hook must be callable on nil (metrics off)
	m.Request(wire.OpGetData, false, time.Millisecond)
	m.BytesIn(1)
	m.BytesOut(1)
	m.Connection(true)
	m.SessionExpired()
	m.Revalidated()
	m.SessionResumed()
	m.PrepQueued(time.Millisecond)
	m.LogRound(3, time.Millisecond)
	m.Snapshot(time.Second, 10)
	m.Recovered(1, 1, 1, 1)
	m.Looking()
	m.Elected(time.Millisecond)
	m.LearnerSynced(true, time.Millisecond)
	m.LearnerReceived(true)
	m.LearnerPacket(wire.PacketCommit)
	m.ZnodeWritten(5)
	m.AppliedAfter(time.Millisecond)
	m.Leading(true)
	m.Proposed(1, 2, 2)
	m.Committed(2, 2)
	m.Acked(2, 1)
	m.LearnerGone(2)
	m.Attach(nil)()
	if m.LogRoundFunc() != nil {
		t.Error("LogRoundFunc of nil metrics is not nil")
	}
	if m.Enabled() {
		t.Error("nil metrics enabled")
	}
}

func TestZooKeeperTypesAndQuantiles(t *testing.T) {
	m := New(Options{})
	m.Request(wire.OpGetData, false, 3*time.Millisecond)
	m.Request(wire.OpCreate, true, 5*time.Millisecond)
	m.LogRound(7, 2*time.Millisecond)
	m.LogRound(1, -1) // no fsync (forceSync=no): only the batch size
	fs := families(t, m)
	cases := []struct {
		name      string
		typ       dto.MetricType
		quantiles []float64
	}{
		{"commit_count", dto.MetricType_COUNTER, nil},
		{"bytes_received_count", dto.MetricType_COUNTER, nil},
		{"readlatency", dto.MetricType_SUMMARY, []float64{0.5, 0.9, 0.99}},
		{"updatelatency", dto.MetricType_SUMMARY, []float64{0.5, 0.9, 0.99}},
		{"fsynctime", dto.MetricType_SUMMARY, []float64{0.5}},
		{"sync_processor_batch_size", dto.MetricType_SUMMARY, []float64{0.5}},
		{"zkserver_request_duration_seconds", dto.MetricType_HISTOGRAM, nil},
	}
	for _, c := range cases {
		f := fs[c.name]
		if f == nil {
			t.Errorf("%s missing", c.name)
			continue
		}
		if f.GetType() != c.typ {
			t.Errorf("%s: type %v, want %v", c.name, f.GetType(), c.typ)
		}
		if c.quantiles != nil {
			var got []float64
			for _, q := range f.Metric[0].GetSummary().GetQuantile() {
				got = append(got, q.GetQuantile())
			}
			if fmt.Sprint(got) != fmt.Sprint(c.quantiles) {
				t.Errorf("%s: quantiles %v, want %v", c.name, got, c.quantiles)
			}
		}
	}
	if v := value(t, fs, "fsynctime"); v != 1 {
		t.Errorf("fsynctime count %v, want 1 (a round without fsync is no sample)", v)
	}
	if v := value(t, fs, "sync_processor_batch_size"); v != 2 {
		t.Errorf("sync_processor_batch_size count %v, want 2", v)
	}
	if s := fs["sync_processor_batch_size"].Metric[0].GetSummary().GetSampleSum(); s != 8 {
		t.Errorf("sync_processor_batch_size sum %v, want 8", s)
	}
	if s := fs["readlatency"].Metric[0].GetSummary().GetSampleSum(); s != 3 {
		t.Errorf("readlatency sum %v ms, want 3", s)
	}
	// per opcode, labelled with ZooKeeper's op names
	ops := map[string]uint64{}
	for _, mt := range fs["zkserver_request_duration_seconds"].Metric {
		ops[mt.GetLabel()[0].GetValue()] = mt.GetHistogram().GetSampleCount()
	}
	if ops["getData"] != 1 || ops["create"] != 1 || ops["setData"] != 0 {
		t.Errorf("per-op counts %v", ops)
	}
	// no gauges without a serving server (as ZooKeeper unregisters them)
	if fs["znode_count"] != nil {
		t.Error("znode_count exported with no source attached")
	}
}

type fakeSource map[string]float64

func (f fakeSource) MetricGauges(emit func(string, float64)) {
	for k, v := range f {
		emit(k, v)
	}
	emit("bad name", 1) // dropped
}

func TestAttachedGauges(t *testing.T) {
	m := New(Options{})
	detach := m.Attach(fakeSource{"znode_count": 5, "digest_mismatches_count": 2})
	fs := families(t, m)
	if v := value(t, fs, "znode_count"); v != 5 {
		t.Errorf("znode_count %v", v)
	}
	if f := fs["znode_count"]; f.GetType() != dto.MetricType_GAUGE {
		t.Errorf("znode_count type %v", f.GetType())
	}
	if f := fs["digest_mismatches_count"]; f == nil || f.GetType() != dto.MetricType_COUNTER {
		t.Errorf("digest_mismatches_count is not a counter: %v", f)
	}
	// a newer source replaces it; the older one's detach leaves it alone
	detach2 := m.Attach(fakeSource{"znode_count": 9})
	detach()
	if v := value(t, families(t, m), "znode_count"); v != 9 {
		t.Errorf("znode_count %v after replacing the source", v)
	}
	detach2()
	if families(t, m)["znode_count"] != nil {
		t.Error("gauges still exported after detach")
	}
}

func TestProposalCommitAndLag(t *testing.T) {
	now := time.Unix(1000, 0)
	m := New(Options{Now: func() time.Time { return now }})
	m.Leading(true)
	z := func(c int64) int64 { return wire.MakeZxid(3, c) }
	m.Proposed(z(1), z(4), 4)
	now = now.Add(10 * time.Millisecond)
	m.Proposed(z(5), z(5), 1)
	m.Acked(2, z(2))
	m.Acked(4, wire.MakeZxid(2, 9)) // still on the old epoch
	now = now.Add(10 * time.Millisecond)
	m.Committed(z(2), 2) // half the first batch: 20ms
	fs := families(t, m)
	h := fs["zkserver_proposal_commit_seconds"].Metric[0].GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() < 0.039 || h.GetSampleSum() > 0.041 {
		t.Errorf("after the first commit: count %d sum %v, want 2 and 0.04", h.GetSampleCount(), h.GetSampleSum())
	}
	lags := map[string]float64{}
	for _, mt := range fs["zkserver_follower_lag_zxids"].Metric {
		lags[mt.GetLabel()[0].GetValue()] = mt.GetGauge().GetValue()
	}
	if lags["2"] != 3 || lags["4"] != 5 || len(lags) != 2 {
		t.Errorf("lags %v, want sid 2: 3, sid 4: 5", lags)
	}
	now = now.Add(30 * time.Millisecond)
	m.Committed(z(5), 3) // the rest of the first batch (50ms) and the second (40ms)
	m.LearnerGone(4)
	m.Acked(2, z(5))
	fs = families(t, m)
	h = fs["zkserver_proposal_commit_seconds"].Metric[0].GetHistogram()
	if h.GetSampleCount() != 5 || h.GetSampleSum() < 0.04+0.1+0.04-0.001 || h.GetSampleSum() > 0.181 {
		t.Errorf("count %d sum %v, want 5 and 0.18", h.GetSampleCount(), h.GetSampleSum())
	}
	if v := value(t, fs, "commit_count"); v != 5 {
		t.Errorf("commit_count %v", v)
	}
	if v := value(t, fs, "proposal_count"); v != 5 {
		t.Errorf("proposal_count %v", v)
	}
	if f := fs["zkserver_follower_lag_zxids"]; f == nil || len(f.Metric) != 1 || f.Metric[0].GetGauge().GetValue() != 0 {
		t.Errorf("lag after catching up: %v", f)
	}
	m.Leading(false)
	if f := families(t, m)["zkserver_follower_lag_zxids"]; f != nil {
		t.Errorf("lag exported by a server that is not leading: %v", f)
	}
}

// scrape GETs url and parses the text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("content type %q", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// rawHTTP sends raw bytes and returns the status line of the answer.
func rawHTTP(t *testing.T, addr, req string) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		return "write failed: " + err.Error()
	}
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil {
		return "read failed: " + err.Error()
	}
	return strings.TrimSpace(line)
}

func TestEndpointAndBadInput(t *testing.T) {
	m := New(Options{Runtime: true})
	srv, err := Listen(m, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr := srv.Addr().String()
	base := "http://" + addr

	m.BytesIn(100)
	fs := scrape(t, base+"/metrics")
	if v := value(t, fs, "bytes_received_count"); v != 100 {
		t.Errorf("bytes_received_count %v", v)
	}
	// exportJvmInfo: Go runtime, GC and process collectors
	for _, n := range []string{"go_goroutines", "go_gc_duration_seconds", "process_open_fds"} {
		if fs[n] == nil {
			t.Errorf("%s missing", n)
		}
	}
	// the text exposition keeps ZooKeeper's counter names (no _total)
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "\n# TYPE commit_count counter\ncommit_count 0\n") {
		t.Errorf("commit_count not exported as ZooKeeper names it")
	}

	bad := []struct{ name, req, want string }{
		{"post", "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "405"},
		{"other path", "GET /commands HTTP/1.1\r\nHost: x\r\n\r\n", "404"},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n", "400"},
		{"bad request line", "GET\r\n\r\n", "400"},
		{"huge header", "GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", "431"},
		{"bad version", "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n", "505"},
	}
	for _, b := range bad {
		if got := rawHTTP(t, addr, b.req); !strings.Contains(got, " "+b.want+" ") && !strings.HasSuffix(got, " "+b.want) {
			t.Errorf("%s: got %q, want status %s", b.name, got, b.want)
		}
	}
	// a client that connects and sends nothing does not block the others
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if fs := scrape(t, base+"/metrics"); fs["bytes_received_count"] == nil {
				t.Error("concurrent scrape without bytes_received_count")
			}
		}()
	}
	wg.Wait()
	if got := rawHTTP(t, addr, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); !strings.Contains(got, " 200") {
		t.Errorf("HEAD: %q", got)
	}
}

func TestStartFromConfig(t *testing.T) {
	defer SetDefault(nil)
	cfg, err := config.Parse(strings.NewReader("dataDir=/tmp/x\nclientPort=2181\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Start(cfg, nil); s != nil || err != nil || Default() != nil {
		t.Fatalf("started without the provider configured: %v %v", s, err)
	}
	cfg, err = config.Parse(strings.NewReader("dataDir=/tmp/x\nclientPort=2181\n" +
		"metricsProvider.className=" + config.PrometheusProviderClass + "\n" +
		"metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort=0\nmetricsProvider.exportJvmInfo=false\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(cfg, zapNop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if Default() == nil {
		t.Fatal("Default not set")
	}
	fs := scrape(t, "http://"+s.Addr().String()+"/metrics")
	if fs["go_goroutines"] != nil {
		t.Error("Go runtime exported with exportJvmInfo=false")
	}
	if fs["readlatency"] == nil {
		t.Error("readlatency missing")
	}
	// a port in use is an error, as ZooKeeper fails to start then
	cfg.Metrics.HTTPPort = s.Addr().(*net.TCPAddr).Port
	if s2, err := Start(cfg, zapNop()); err == nil {
		s2.Close()
		t.Error("second endpoint on the same port started")
	}
}

func zapNop() *zap.Logger { return zap.NewNop() }

// BenchmarkRequestHook is the per-request cost on the hot path: one
// summary and one histogram observation, plus the reply bytes.
func BenchmarkRequestHook(b *testing.B) {
	m := New(Options{})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Request(wire.OpGetData, false, 150*time.Microsecond)
			m.BytesOut(100)
		}
	})
}

// BenchmarkRequestHookOff is the same with metrics off (a nil *Metrics).
func BenchmarkRequestHookOff(b *testing.B) {
	var m *Metrics
	for b.Loop() {
		if mm := Default(); mm != nil {
			mm.Request(wire.OpGetData, false, 150*time.Microsecond)
		}
		m.BytesOut(100)
	}
}
