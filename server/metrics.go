package server

import (
	"os"
	"strconv"
	"time"

	"github.com/zkserver/zkserver/metrics"
	"github.com/zkserver/zkserver/wire"
)

// This file is the server's side of the Prometheus metrics (package
// metrics): the gauges ZooKeeper registers (the numeric mntr values) and
// the small helpers the hot paths call. Everything records into
// metrics.Default(), which is nil (and free) when metrics are off.

// roleGauges are the mntr values of a role that ZooKeeper 3.8 also
// registers as gauges (QuorumZooKeeperServer, LeaderZooKeeperServer,
// FollowerZooKeeperServer); peer_state, observer_master_id and 3.4's
// followers are mntr-only there.
var roleGauges = map[string]bool{
	"quorum_size": true, "learners": true, "synced_followers": true, "synced_non_voting_followers": true,
	"synced_observers": true, "pending_syncs": true, "leader_uptime": true,
	"last_proposal_size": true, "max_proposal_size": true, "min_proposal_size": true,
}

// MetricGauges emits the gauges ZooKeeperServer.registerMetrics registers,
// with the values mntr prints, plus the role's and zkserver's average
// znode size. It implements metrics.GaugeSource.
func (s *Server) MetricGauges(emit func(name string, value float64)) {
	s.treeMu.RLock()
	nodes := s.tree.NodeCount() + 1 // root counted twice, as ZooKeeper does
	ephemerals := s.tree.EphemeralCount()
	dataSize := s.tree.DataSize()
	globalSessions := len(s.tree.Sessions())
	s.treeMu.RUnlock()

	lo, avg, hi := s.serverLatency()
	uptime := int64(0)
	if !s.started.IsZero() {
		uptime = s.now().Sub(s.started).Milliseconds()
	}
	f := func(v int64) float64 { return float64(v) }
	emit("avg_latency", avg)
	emit("max_latency", f(hi))
	emit("min_latency", f(lo))
	emit("packets_received", f(s.stats.received.Load()))
	emit("packets_sent", f(s.stats.sent.Load()))
	emit("num_alive_connections", float64(s.numConns()))
	emit("outstanding_requests", float64(len(s.outstanding)))
	emit("uptime", f(uptime))
	emit("znode_count", float64(nodes))
	emit("watch_count", float64(s.watches.count()))
	emit("ephemerals_count", float64(ephemerals))
	emit("approximate_data_size", f(dataSize))
	emit("global_sessions", float64(globalSessions))
	emit("local_sessions", 0)
	emit("open_file_descriptor_count", f(openFDs()))
	emit("max_file_descriptor_count", f(maxFDs()))
	emit("connection_drop_probability", 0)
	// as mntr: response sizes are not tracked, ZooKeeper's initial -1
	emit("last_client_response_size", -1)
	emit("max_client_response_size", -1)
	emit("min_client_response_size", -1)
	emit("digest_mismatches_count", f(s.stats.digestMismatches.Load()))
	if s.role != nil {
		for _, kv := range s.role.Metrics() {
			if !roleGauges[kv[0]] {
				continue
			}
			if v, err := strconv.ParseFloat(kv[1], 64); err == nil {
				emit(kv[0], v)
			}
		}
	}
	if nodes > 0 {
		emit("zkserver_znode_avg_bytes", float64(dataSize)/float64(nodes))
	}
}

// observeApplied records what a batch of applied txns tells the metrics:
// how long it waited after its commit and the sizes of the znodes written.
func observeApplied(m *metrics.Metrics, batch []*Proposal, now time.Time) {
	for _, p := range batch {
		if !p.committedAt.IsZero() {
			m.AppliedAfter(now.Sub(p.committedAt))
		}
		observeWrite(m, &p.Txn)
	}
}

func observeWrite(m *metrics.Metrics, t *wire.Txn) {
	switch t.Type {
	case wire.OpCreate, wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL, wire.OpSetData:
		m.ZnodeWritten(len(t.Data))
	case wire.OpMulti:
		for i := range t.Ops {
			observeWrite(m, &t.Ops[i])
		}
	}
}

// MarkCommitted stamps a committed batch with the time it is handed to
// the apply function (for zkserver_apply_queue_seconds); a no-op when
// metrics are off.
func MarkCommitted(batch []*Proposal) {
	if len(batch) > 0 && metrics.Default() != nil {
		batch[0].committedAt = time.Now()
	}
}

// observeSnapshot records a snapshot written to path in took.
func observeSnapshot(path string, took time.Duration) {
	m := metrics.Default()
	if m == nil {
		return
	}
	size := int64(-1)
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	m.Snapshot(took, size)
}
