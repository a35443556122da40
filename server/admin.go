package server

import (
	"net"
	"os"
	"slices"
	"strconv"

	"github.com/zkserver/zkserver/snapshot"
	"github.com/zkserver/zkserver/wire"
)

// This file holds the read-only views of the server the AdminServer
// (package admin) turns into ZooKeeper's JSON command answers. They reuse
// what the four-letter words compute; keys and value types are those of
// ZooKeeper 3.8's Commands.

// KV is one entry of an ordered JSON object. Values are nil, bool, string,
// int64, float64, []KV, [][]KV, []int64, []string or []any.
type KV struct {
	Key   string
	Value any
}

// Running reports whether the server has started serving and is not
// closed (ZooKeeper's isRunning).
func (s *Server) Running() bool { return s.startedMs.Load() != 0 && !s.stopped.Load() }

// LastProcessedZxid is the zxid of the last txn applied.
func (s *Server) LastProcessedZxid() int64 { return s.lastZxid.Load() }

// Mode is "standalone", "leader", "follower" or "observer".
func (s *Server) Mode() string { return s.mode() }

// RoleValue returns a gauge of the server's role (a key of its mntr
// lines without zk_) and whether it has one.
func (s *Server) RoleValue(key string) (string, bool) {
	if s.role == nil {
		return "", false
	}
	for _, e := range s.role.Metrics() {
		if e[0] == key {
			return e[1], true
		}
	}
	return "", false
}

// JavaDouble formats v as Java's Double.toString (and Jackson) do.
func JavaDouble(v float64) string { return javaDouble(v) }

// MonitorValues are the mntr keys (without zk_) with typed values: int64,
// float64 or string.
func (s *Server) MonitorValues() []KV { return s.monitorValues() }

// EnvValues are the envi keys and values.
func EnvValues() [][2]string { return envValues() }

// TraceMask is the trace mask gtmk reports.
func TraceMask() int64 { return traceMask.Load() }

// SetTraceMask sets the trace mask, as stmk does.
func SetTraceMask(m int64) { traceMask.Store(m) }

// NodeCount is the znode count as ZooKeeper reports it.
func (s *Server) NodeCount() int64 { return int64(s.nodeCount()) }

// DirSizes are the sizes dirs reports: the txn-log directory's
// (datadir_size) and the snapshot directory's (logdir_size), as ZooKeeper
// names them.
func (s *Server) DirSizes() (dataDir, logDir int64) {
	return dirSize(versionDir(s.cfg.DataLogDir)), dirSize(versionDir(s.cfg.DataDir))
}

// ClientResponseStats are the last, min and max response sizes; they are
// not tracked yet, so they keep ZooKeeper's initial -1.
func (s *Server) ClientResponseStats() []KV {
	return []KV{{"last_buffer_size", int64(-1)}, {"min_buffer_size", int64(-1)}, {"max_buffer_size", int64(-1)}}
}

// ServerStats is ZooKeeper's ServerStats object as the server_stats
// command serializes it.
func (s *Server) ServerStats() []KV {
	lo, avg, hi := s.serverLatency()
	dataSize, logSize := s.DirSizes()
	uptime := int64(0)
	if ms := s.startedMs.Load(); ms != 0 {
		uptime = s.nowMs() - ms
	}
	return []KV{
		{"packets_sent", s.stats.sent.Load()},
		{"packets_received", s.stats.received.Load()},
		{"fsync_threshold_exceed_count", int64(0)},
		{"client_response_stats", s.ClientResponseStats()},
		{"provider_null", false},
		{"server_state", s.mode()},
		{"outstanding_requests", int64(len(s.outstanding))},
		{"min_latency", lo},
		{"avg_latency", avg},
		{"max_latency", hi},
		{"data_dir_size", dataSize},
		{"log_dir_size", logSize},
		{"last_processed_zxid", s.lastZxid.Load()},
		{"num_alive_client_connections", int64(s.numConns())},
		{"auth_failed_count", s.stats.authFailed.Load()},
		{"non_mtlsremote_conn_count", int64(0)},
		{"non_mtlslocal_conn_count", int64(0)},
		{"uptime", uptime},
	}
}

// Conf is ZooKeeperServerConf as the configuration command serializes
// it: directories as absolute version-2 paths, server_id 0 standalone.
func (s *Server) Conf() []KV {
	cfg := s.cfg
	id := int64(0)
	if s.role != nil {
		id = s.id
	}
	return []KV{
		{"client_port", int64(s.clientPort())},
		{"data_dir", javaPath(cfg.DataDir)},
		{"data_log_dir", javaPath(cfg.DataLogDir)},
		{"tick_time", int64(cfg.TickTime)},
		{"max_client_cnxns", int64(cfg.MaxClientCnxns)},
		{"min_session_timeout", int64(cfg.MinSessionTimeout)},
		{"max_session_timeout", int64(cfg.MaxSessionTimeout)},
		{"server_id", id},
		{"client_port_listen_backlog", int64(-1)},
	}
}

// Connections is ZooKeeper's getAllConnectionInfo: one object per client
// connection, brief for stat.
func (s *Server) Connections(brief bool) [][]KV { return s.connections(brief, false) }

// SecureConnections is Connections for the connections accepted on
// secureClientPort (ZooKeeper lists them apart, as secure_connections; a
// TLS client on a unified plain port is listed with the plain ones).
func (s *Server) SecureConnections(brief bool) [][]KV { return s.connections(brief, true) }

func (s *Server) connections(brief, secure bool) [][]KV {
	conns := s.connList()
	out := make([][]KV, 0, len(conns))
	for _, c := range conns {
		if c.secure.Load() == secure {
			out = append(out, c.adminInfo(brief))
		}
	}
	return out
}

func (c *conn) adminInfo(brief bool) []KV {
	id := c.session()
	ops := int64(0) // no read interest until the handshake is done
	if id != 0 {
		ops = 1
	}
	remote := c.remote
	if host, port, err := net.SplitHostPort(c.remote); err == nil {
		remote = net.JoinHostPort(host, port)
	}
	kv := []KV{
		{"remote_socket_address", remote},
		{"interest_ops", ops},
		{"outstanding_requests", int64(c.queued())},
		{"packets_received", c.received.Load()},
		{"packets_sent", c.sent.Load()},
	}
	if brief {
		return kv
	}
	lop := "NA"
	if name, ok := lastOpNames[wire.Op(c.lastOp.Load())]; ok {
		lop = name
	}
	var avg, lo int64
	if n := c.latCnt.Load(); n > 0 {
		avg = c.latSum.Load() / n
		lo = c.latMin.Load()
	}
	return append(kv,
		KV{"session_id", id},
		KV{"last_operation", lop},
		KV{"established", c.created.UnixMilli()},
		KV{"session_timeout", int64(c.timeout)},
		KV{"last_cxid", int64(c.lastCxid.Load())},
		KV{"last_zxid", c.lastZxid.Load()},
		KV{"last_response_time", c.lastResp.Load()},
		KV{"last_latency", c.lastLat.Load()},
		KV{"min_latency", lo},
		KV{"avg_latency", avg},
		KV{"max_latency", c.latMax.Load()},
	)
}

// ResetConnectionStats clears every connection's counters (crst).
func (s *Server) ResetConnectionStats() {
	for _, c := range s.connList() {
		c.resetStats()
	}
}

// ResetStats clears the server counters (srst).
func (s *Server) ResetStats() { s.stats.reset() }

// SessionExpiry is ZooKeeper's getSessionExpiryMap: expiry time (ms, as
// a decimal key) to the ids of the sessions expiring then, oldest first.
func (s *Server) SessionExpiry() []KV {
	buckets, _ := s.sessionBuckets()
	times := make([]int64, 0, len(buckets))
	for t := range buckets {
		times = append(times, t)
	}
	slices.Sort(times)
	out := make([]KV, 0, len(times))
	for _, t := range times {
		ids := append([]int64(nil), buckets[t]...)
		slices.Sort(ids)
		out = append(out, KV{strconv.FormatInt(t, 10), ids})
	}
	return out
}

// Ephemerals is session id (decimal key) to its ephemeral paths.
func (s *Server) Ephemerals() []KV {
	owners, paths := s.ephemerals()
	out := make([]KV, len(owners))
	for i, id := range owners {
		out[i] = KV{strconv.FormatInt(id, 10), append([]string{}, paths[i]...)}
	}
	return out
}

// WatchesBySession is session id (decimal key) to its data watch paths
// (ZooKeeper's DataTree.getWatches).
func (s *Server) WatchesBySession() []KV {
	list := s.watchesByConn()
	out := make([]KV, 0, len(list))
	for _, e := range list {
		out = append(out, KV{strconv.FormatInt(e.session, 10), e.paths})
	}
	return out
}

// WatchesByPath is path to the ids of the sessions watching its data.
func (s *Server) WatchesByPath() []KV {
	byPath := s.watches.byPath()
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	out := make([]KV, len(paths))
	for i, p := range paths {
		out[i] = KV{p, byPath[p]}
	}
	return out
}

// WatchSummary is ZooKeeper's WatchesSummary.
func (s *Server) WatchSummary() []KV {
	conns, paths, total := s.watches.summary()
	return []KV{{"num_connections", int64(conns)}, {"num_paths", int64(paths)}, {"num_total_watches", int64(total)}}
}

// LastSnapshot is the zxid and modification time (s) of the newest
// snapshot file; ok is false when there is none.
func (s *Server) LastSnapshot() (zxid, timestamp int64, ok bool) {
	dir := s.snapDir
	if dir == "" {
		dir, _ = Dirs(s.cfg)
	}
	files, err := snapshot.List(dir)
	if err != nil || len(files) == 0 {
		return 0, 0, false
	}
	st, err := os.Stat(files[0].Path)
	if err != nil {
		return 0, 0, false
	}
	return files[0].Zxid, st.ModTime().Unix(), true
}

// Role is the server's place in an ensemble (nil standalone).
func (s *Server) Role() Role { return s.role }
