// Package metrics holds zkserver's Prometheus metrics: the names, types and
// labels ZooKeeper 3.8's PrometheusMetricsProvider exports (so dashboards
// built for ZooKeeper keep working) and zkserver's own additions under the
// zkserver_ prefix (latency per opcode, fsync time, group-commit batch
// size, proposal-to-commit time, apply queue time, follower lag, snapshot
// duration and size, znode sizes), plus the Go runtime and process
// collectors in place of ZooKeeper's JVM ones.
//
// A nil *Metrics is valid and records nothing: every hook is a method that
// returns at once on a nil receiver, so instrumented code calls
// Default().Xxx(...) unconditionally and pays one atomic load and a nil
// check when metrics are off.
package metrics

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/zkserver/zkserver/wire"
)

// Options configure New.
type Options struct {
	// Runtime adds the Go runtime, GC and process collectors (what
	// metricsProvider.exportJvmInfo turns on in ZooKeeper, for the JVM).
	Runtime bool
	// Now is the clock for proposal-to-commit times; nil means time.Now.
	Now func() time.Time
}

// ZooKeeper's summary quantiles: BASIC summaries report the median,
// ADVANCED ones the median, 90th and 99th percentiles (with the error
// bounds PrometheusMetricsProvider gives them).
var (
	basicObjectives    = map[float64]float64{0.5: 0.05}
	advancedObjectives = map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}
)

// Metrics is one registry with every metric zkserver exports.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	// ZooKeeper counters (ServerMetrics)
	bytesReceived, responseBytes          prometheus.Counter
	commitCount, proposalCount            prometheus.Counter
	learnerProposals, learnerCommits      prometheus.Counter
	lookingCount                          prometheus.Counter
	connRequests, connRejected            prometheus.Counter
	staleSessionsExpired, revalidateCount prometheus.Counter
	connRevalidate                        prometheus.Counter

	// ZooKeeper summaries, observed in ZooKeeper's units (ms, counts)
	readLatency, updateLatency             prometheus.Summary
	fsyncTime, syncBatchSize, snapshotTime prometheus.Summary
	dbInitTime, snapLoadTime               prometheus.Summary
	txnsLoadTime, txnsLoaded               prometheus.Summary
	electionTime                           prometheus.Summary
	followerSyncTime, observerSyncTime     prometheus.Summary
	quorumAckLatency                       prometheus.Summary
	prepQueueTime                          prometheus.Summary

	// zkserver's own, in base units (seconds, bytes)
	opLatency      map[wire.Op]prometheus.Observer
	opOther        prometheus.Observer
	fsyncSeconds   prometheus.Histogram
	batchEntries   prometheus.Histogram
	proposeCommit  prometheus.Histogram
	applyQueue     prometheus.Histogram
	snapSeconds    prometheus.Histogram
	snapBytes      prometheus.Gauge
	znodeDataBytes prometheus.Histogram

	// leader state behind zkserver_proposal_commit_seconds and
	// zkserver_follower_lag_zxids
	leadMu       sync.Mutex
	inflight     []proposed // oldest first
	lastProposed int64
	acked        map[int64]int64 // follower sid -> last zxid it acknowledged
	leading      bool

	src atomic.Pointer[sourceBox]
}

type proposed struct {
	first, last int64
	at          time.Time
}

// GaugeSource is what a serving server offers for ZooKeeper's gauges; it
// is called on every scrape with emit for each (name, value) it has.
type GaugeSource interface {
	MetricGauges(emit func(name string, value float64))
}

type sourceBox struct{ s GaugeSource }

var def atomic.Pointer[Metrics]

// Default is the process's metrics (nil when metrics are off).
func Default() *Metrics { return def.Load() }

// SetDefault makes m the process's metrics (nil turns them off).
func SetDefault(m *Metrics) { def.Store(m) }

// New builds a registry with every metric registered.
func New(o Options) *Metrics {
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), now: o.Now, acked: map[int64]int64{}}
	counter := func(name string) prometheus.Counter {
		// ZooKeeper's provider uses the name as the help text too
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: name})
		m.reg.MustRegister(c)
		return c
	}
	summary := func(name string, advanced bool) prometheus.Summary {
		obj := basicObjectives
		if advanced {
			obj = advancedObjectives
		}
		s := prometheus.NewSummary(prometheus.SummaryOpts{Name: name, Help: name, Objectives: obj})
		m.reg.MustRegister(s)
		return s
	}
	m.bytesReceived = counter("bytes_received_count")
	m.responseBytes = counter("response_bytes")
	m.commitCount = counter("commit_count")
	m.proposalCount = counter("proposal_count")
	m.learnerProposals = counter("learner_proposal_received_count")
	m.learnerCommits = counter("learner_commit_received_count")
	m.lookingCount = counter("looking_count")
	m.connRequests = counter("connection_request_count")
	m.connRejected = counter("connection_rejected")
	m.staleSessionsExpired = counter("stale_sessions_expired")
	m.revalidateCount = counter("revalidate_count")
	m.connRevalidate = counter("connection_revalidate_count")

	m.readLatency = summary("readlatency", true)
	m.updateLatency = summary("updatelatency", true)
	m.fsyncTime = summary("fsynctime", false)
	m.syncBatchSize = summary("sync_processor_batch_size", false)
	m.snapshotTime = summary("snapshottime", false)
	m.dbInitTime = summary("dbinittime", false)
	m.snapLoadTime = summary("startup_snap_load_time", false)
	m.txnsLoadTime = summary("startup_txns_load_time", false)
	m.txnsLoaded = summary("startup_txns_loaded", false)
	m.electionTime = summary("election_time", false)
	m.followerSyncTime = summary("follower_sync_time", false)
	m.observerSyncTime = summary("observer_sync_time", false)
	m.quorumAckLatency = summary("quorum_ack_latency", true)
	m.prepQueueTime = summary("prep_processor_queue_time_ms", true)

	latBuckets := prometheus.ExponentialBuckets(50e-6, 2, 18) // 50µs .. ~6.5s
	opVec := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "zkserver_request_duration_seconds", Help: "Time from reading a request to queueing its reply, by opcode.",
		Buckets: latBuckets,
	}, []string{"op"})
	m.reg.MustRegister(opVec)
	m.opLatency = map[wire.Op]prometheus.Observer{}
	for op := wire.Op(-20); op <= 200; op++ {
		if op.Known() && op != wire.OpError && op != wire.OpNotification {
			m.opLatency[op] = opVec.WithLabelValues(op.String())
		}
	}
	m.opOther = opVec.WithLabelValues("other")
	hist := func(name, help string, buckets []float64) prometheus.Histogram {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
		m.reg.MustRegister(h)
		return h
	}
	m.fsyncSeconds = hist("zkserver_fsync_duration_seconds", "Duration of each fsync of the txn log.", latBuckets)
	m.batchEntries = hist("zkserver_group_commit_batch_size", "Txns written by each group-commit round (one fsync).",
		prometheus.ExponentialBuckets(1, 2, 11)) // 1 .. 1024
	m.proposeCommit = hist("zkserver_proposal_commit_seconds", "Leader: time from proposing a txn to its quorum commit.", latBuckets)
	m.applyQueue = hist("zkserver_apply_queue_seconds", "Time a committed batch waits before it is applied to the tree.", latBuckets)
	m.snapSeconds = hist("zkserver_snapshot_duration_seconds", "Time to write a snapshot.",
		prometheus.ExponentialBuckets(1e-3, 4, 10)) // 1ms .. ~4.4min
	m.snapBytes = prometheus.NewGauge(prometheus.GaugeOpts{Name: "zkserver_snapshot_size_bytes", Help: "Size of the newest snapshot file written."})
	m.reg.MustRegister(m.snapBytes)
	m.znodeDataBytes = hist("zkserver_znode_data_bytes", "Data size of each znode written (create, setData).",
		prometheus.ExponentialBuckets(16, 4, 9)) // 16B .. 1MiB
	m.reg.MustRegister(&lagCollector{m: m})
	m.reg.MustRegister(&gaugeCollector{m: m})
	if o.Runtime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry is the registry behind the metrics (for tests and handlers).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Attach makes src the source of ZooKeeper's gauges until the returned
// function is called (a later Attach replaces it). Without a source, as in
// ZooKeeper between roles, the gauges are not exported.
func (m *Metrics) Attach(src GaugeSource) (detach func()) {
	if m == nil {
		return func() {}
	}
	b := &sourceBox{s: src}
	m.src.Store(b)
	return func() { m.src.CompareAndSwap(b, nil) }
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Request records one answered client request: ZooKeeper's readlatency or
// updatelatency (ms) and zkserver_request_duration_seconds{op}.
func (m *Metrics) Request(op wire.Op, write bool, d time.Duration) {
	if m == nil {
		return
	}
	if write {
		m.updateLatency.Observe(ms(d))
	} else {
		m.readLatency.Observe(ms(d))
	}
	o, ok := m.opLatency[op]
	if !ok {
		o = m.opOther
	}
	o.Observe(d.Seconds())
}

// BytesIn counts request bytes read from clients (bytes_received_count).
func (m *Metrics) BytesIn(n int) {
	if m != nil {
		m.bytesReceived.Add(float64(n))
	}
}

// BytesOut counts reply bytes queued for clients (response_bytes).
func (m *Metrics) BytesOut(n int) {
	if m != nil {
		m.responseBytes.Add(float64(n))
	}
}

// Connection counts an accepted client connection, or a refused one
// (connection_request_count, connection_rejected).
func (m *Metrics) Connection(rejected bool) {
	if m == nil {
		return
	}
	m.connRequests.Inc()
	if rejected {
		m.connRejected.Inc()
	}
}

// SessionExpired counts a session closed by its timeout.
func (m *Metrics) SessionExpired() {
	if m != nil {
		m.staleSessionsExpired.Inc()
	}
}

// Revalidated counts a session a learner asked the leader about
// (revalidate_count, on the leader).
func (m *Metrics) Revalidated() {
	if m != nil {
		m.revalidateCount.Inc()
	}
}

// SessionResumed counts a client reconnecting with an existing session
// (connection_revalidate_count).
func (m *Metrics) SessionResumed() {
	if m != nil {
		m.connRevalidate.Inc()
	}
}

// PrepQueued records how long a write waited before prep
// (prep_processor_queue_time_ms).
func (m *Metrics) PrepQueued(d time.Duration) {
	if m != nil {
		m.prepQueueTime.Observe(ms(d))
	}
}

// LogRoundFunc returns the txn log's per-round hook (nil when m is nil):
// entries written by one group-commit round and its fsync time (negative
// when no fsync was made, forceSync=no).
func (m *Metrics) LogRoundFunc() func(entries int, fsync time.Duration) {
	if m == nil {
		return nil
	}
	return m.LogRound
}

// LogRound records one group-commit round (fsynctime,
// sync_processor_batch_size and the zkserver histograms).
func (m *Metrics) LogRound(entries int, fsync time.Duration) {
	if m == nil {
		return
	}
	m.syncBatchSize.Observe(float64(entries))
	m.batchEntries.Observe(float64(entries))
	if fsync >= 0 {
		m.fsyncTime.Observe(ms(fsync))
		m.fsyncSeconds.Observe(fsync.Seconds())
	}
}

// Snapshot records a snapshot written in d, size bytes long (size < 0:
// unknown).
func (m *Metrics) Snapshot(d time.Duration, size int64) {
	if m == nil {
		return
	}
	m.snapshotTime.Observe(ms(d))
	m.snapSeconds.Observe(d.Seconds())
	if size >= 0 {
		m.snapBytes.Set(float64(size))
	}
}

// Recovered records loading the data directory at start: the whole
// (dbinittime), the snapshot part and the log replay with its txn count
// (txns < 0: no log to replay, so no replay samples, as in ZooKeeper).
func (m *Metrics) Recovered(total, snapLoad, replay time.Duration, txns int) {
	if m == nil {
		return
	}
	m.dbInitTime.Observe(ms(total))
	m.snapLoadTime.Observe(ms(snapLoad))
	if txns >= 0 {
		m.txnsLoadTime.Observe(ms(replay))
		m.txnsLoaded.Observe(float64(txns))
	}
}

// Looking counts entering leader election (looking_count).
func (m *Metrics) Looking() {
	if m != nil {
		m.lookingCount.Inc()
	}
}

// Elected records the time an election took (election_time).
func (m *Metrics) Elected(d time.Duration) {
	if m != nil {
		m.electionTime.Observe(ms(d))
	}
}

// LearnerSynced records how long a learner took to sync with its leader
// (follower_sync_time or observer_sync_time).
func (m *Metrics) LearnerSynced(observer bool, d time.Duration) {
	if m == nil {
		return
	}
	if observer {
		m.observerSyncTime.Observe(ms(d))
	} else {
		m.followerSyncTime.Observe(ms(d))
	}
}

// LearnerReceived counts a PROPOSAL (proposal true) or COMMIT a learner
// received.
func (m *Metrics) LearnerReceived(proposal bool) {
	if m == nil {
		return
	}
	if proposal {
		m.learnerProposals.Inc()
	} else {
		m.learnerCommits.Inc()
	}
}

// ZnodeWritten records the data size of a created or set znode.
func (m *Metrics) ZnodeWritten(size int) {
	if m != nil {
		m.znodeDataBytes.Observe(float64(size))
	}
}

// AppliedAfter records how long a committed batch waited to be applied.
func (m *Metrics) AppliedAfter(d time.Duration) {
	if m != nil {
		m.applyQueue.Observe(d.Seconds())
	}
}

// Enabled reports whether m records anything (m is not nil).
func (m *Metrics) Enabled() bool { return m != nil }

// Leading starts (true) or ends (false) a leader's term: proposal times
// and follower acknowledgements are forgotten either way.
func (m *Metrics) Leading(on bool) {
	if m == nil {
		return
	}
	m.leadMu.Lock()
	m.leading = on
	m.inflight = nil
	m.lastProposed = 0
	clear(m.acked)
	m.leadMu.Unlock()
}

// Proposed records that the leader proposed the txns first..last (one
// batch, consecutive zxids) now (proposal_count).
func (m *Metrics) Proposed(first, last int64, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.proposalCount.Add(float64(n))
	now := m.now()
	m.leadMu.Lock()
	m.inflight = append(m.inflight, proposed{first: first, last: last, at: now})
	m.lastProposed = max(m.lastProposed, last)
	m.leadMu.Unlock()
}

// Committed records that the leader committed n txns up to zxid
// (commit_count, quorum_ack_latency and zkserver_proposal_commit_seconds:
// one observation per txn).
func (m *Metrics) Committed(zxid int64, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.commitCount.Add(float64(n))
	now := m.now()
	m.leadMu.Lock()
	i := 0
	for ; i < len(m.inflight); i++ {
		p := &m.inflight[i]
		if p.first > zxid {
			break
		}
		d := now.Sub(p.at)
		done := min(p.last, zxid) - p.first + 1 // same epoch: consecutive counters
		for range max(min(done, 1024), 1) {
			m.proposeCommit.Observe(d.Seconds())
			m.quorumAckLatency.Observe(ms(d))
		}
		if p.last > zxid {
			p.first = zxid + 1
			break
		}
	}
	m.inflight = slices.Delete(m.inflight, 0, i)
	m.leadMu.Unlock()
}

// Acked records the newest zxid a follower acknowledged (sid's lag is
// the leader's last proposal minus it).
func (m *Metrics) Acked(sid, zxid int64) {
	if m == nil {
		return
	}
	m.leadMu.Lock()
	if zxid > m.acked[sid] {
		m.acked[sid] = zxid
	}
	m.leadMu.Unlock()
}

// LearnerGone forgets a follower that left.
func (m *Metrics) LearnerGone(sid int64) {
	if m == nil {
		return
	}
	m.leadMu.Lock()
	delete(m.acked, sid)
	m.leadMu.Unlock()
}

// zxidLag is how many txns acked is behind last: the counter difference
// within an epoch; an ack of an older epoch is behind by all of last's.
func zxidLag(last, acked int64) int64 {
	if acked >= last {
		return 0
	}
	if wire.ZxidEpoch(acked) != wire.ZxidEpoch(last) {
		return wire.ZxidCounter(last)
	}
	return last - acked
}

var lagDesc = prometheus.NewDesc("zkserver_follower_lag_zxids",
	"Leader: txns proposed that a follower has not acknowledged yet.", []string{"sid"}, nil)

type lagCollector struct{ m *Metrics }

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.leadMu.Lock()
	type row struct{ sid, lag int64 }
	rows := make([]row, 0, len(m.acked))
	if m.leading {
		for sid, z := range m.acked {
			rows = append(rows, row{sid, zxidLag(m.lastProposed, z)})
		}
	}
	m.leadMu.Unlock()
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(r.lag), itoa(r.sid))
	}
}

// sourceCounters are the values a source emits that ZooKeeper registers
// as counters (the server keeps them itself for mntr).
var sourceCounters = map[string]bool{"digest_mismatches_count": true}

// gaugeCollector exports the attached source's gauges. It is unchecked
// (describes nothing): the set depends on the server's role.
type gaugeCollector struct{ m *Metrics }

func (c *gaugeCollector) Describe(chan<- *prometheus.Desc) {}

func (c *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.m.src.Load()
	if b == nil {
		return
	}
	seen := map[string]bool{}
	b.s.MetricGauges(func(name string, v float64) {
		if seen[name] || !validName(name) {
			return
		}
		seen[name] = true
		typ := prometheus.GaugeValue
		if sourceCounters[name] {
			typ = prometheus.CounterValue
		}
		d := prometheus.NewDesc(name, name, nil, nil)
		ch <- prometheus.MustNewConstMetric(d, typ, v)
	})
}

// validName reports whether s is a Prometheus metric name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_', r == ':':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// LearnerPacket counts the quorum packets ZooKeeper's learner counters
// cover: PROPOSAL (learner_proposal_received_count) and COMMIT or INFORM
// (learner_commit_received_count).
func (m *Metrics) LearnerPacket(typ int32) {
	if m == nil {
		return
	}
	switch typ {
	case wire.PacketProposal:
		m.learnerProposals.Inc()
	case wire.PacketCommit, wire.PacketInform:
		m.learnerCommits.Inc()
	}
}
