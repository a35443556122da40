package admin

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/server"
)

// notServing is ZooKeeper's error for a command that needs a running
// server when there is none.
const notServing = "This ZooKeeper instance is not currently serving requests"

// command is one of ZooKeeper 3.8's AdminServer commands.
type command struct {
	names []string // primary name first, then aliases
	// serverRequired commands answer notServing without a running server
	serverRequired bool
	run            func(a *Admin, srv *server.Server, args map[string]string) response
}

// response is ZooKeeper's CommandResponse: the command's entries, then
// "command" and "error" (see json).
type response struct {
	command string
	err     *string
	data    []server.KV
}

func (r *response) put(k string, v any) { r.data = put(r.data, k, v) }

// json lays the response out as CommandResponse.toMap does: the entries
// in order, then "command" and "error" appended unless an entry of that
// name exists (a command that reports an error in its entries, such as
// leader or set_trace_mask, has "error" first).
func (r *response) json() string {
	m := append([]server.KV(nil), r.data...)
	m = put(m, "command", r.command)
	var errv any
	if r.err != nil {
		errv = *r.err
	}
	m = put(m, "error", errv)
	for _, e := range r.data {
		m = put(m, e.Key, e.Value)
	}
	var b strings.Builder
	appendObject(&b, m, 0)
	return b.String()
}

func errorResponse(name, msg string) response { return response{command: name, err: &msg} }

// commands lists ZooKeeper 3.8.0's AdminServer commands (Commands.java).
var commands = []*command{
	{names: []string{"connection_stat_reset", "crst"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		s.ResetConnectionStats()
		return response{}
	}},
	{names: []string{"configuration", "conf", "config"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		return response{data: s.Conf()}
	}},
	{names: []string{"connections", "cons"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		return response{data: []server.KV{{Key: "connections", Value: s.Connections(false)}, {Key: "secure_connections", Value: s.SecureConnections(false)}}}
	}},
	{names: []string{"hash"}, serverRequired: true, run: func(_ *Admin, _ *server.Server, _ map[string]string) response {
		// ZooKeeper lists the digests it kept every 128 txns; we keep no
		// digest history (as the hash word)
		return response{data: []server.KV{{Key: "digests", Value: []any{}}}}
	}},
	{names: []string{"dirs"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		d, l := s.DirSizes()
		return response{data: []server.KV{{Key: "datadir_size", Value: d}, {Key: "logdir_size", Value: l}}}
	}},
	{names: []string{"dump"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		return response{data: []server.KV{
			{Key: "expiry_time_to_session_ids", Value: s.SessionExpiry()},
			{Key: "session_id_to_ephemeral_paths", Value: s.Ephemerals()},
		}}
	}},
	{names: []string{"environment", "env", "envi"}, run: func(_ *Admin, _ *server.Server, _ map[string]string) response {
		var r response
		for _, e := range server.EnvValues() {
			r.put(e[0], e[1])
		}
		return r
	}},
	{names: []string{"get_trace_mask", "gtmk"}, run: func(_ *Admin, _ *server.Server, _ map[string]string) response {
		return response{data: []server.KV{{Key: "tracemask", Value: server.TraceMask()}}}
	}},
	{names: []string{"initial_configuration", "icfg"}, serverRequired: true, run: func(a *Admin, _ *server.Server, _ map[string]string) response {
		// an ensemble member's server has none in ZooKeeper (null)
		var v any = a.initialConfig
		if a.src.Peer() != nil {
			v = nil
		}
		return response{data: []server.KV{{Key: "initial_configuration", Value: v}}}
	}},
	{names: []string{"is_read_only", "isro"}, serverRequired: true, run: func(_ *Admin, _ *server.Server, _ map[string]string) response {
		// read-only mode is not implemented: never read-only
		return response{data: []server.KV{{Key: "read_only", Value: false}}}
	}},
	{names: []string{"last_snapshot", "lsnp"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		zxid, ts, ok := s.LastSnapshot()
		if !ok {
			zxid, ts = -1, -1
		}
		return response{data: []server.KV{{Key: "zxid", Value: strconv.FormatUint(uint64(zxid), 16)}, {Key: "timestamp", Value: ts}}}
	}},
	{names: []string{"leader", "lead"}, serverRequired: true, run: func(a *Admin, s *server.Server, _ map[string]string) response {
		var r response
		p := a.src.Peer()
		if p == nil {
			r.put("error", "server is not initialized")
			return r
		}
		r.put("is_leader", s.Mode() == "leader")
		r.put("leader_id", p.LeaderID)
		r.put("leader_ip", a.leaderIP(p.LeaderID))
		return r
	}},
	{names: []string{"monitor", "mntr"}, run: func(a *Admin, s *server.Server, _ map[string]string) response {
		var r response
		if s == nil {
			// ZooKeeper's server object outlives the role and reports
			// its state; we have none between roles
			r.put("version", server.Version)
			r.put("server_state", "leaderelection")
			return r
		}
		r.data = s.MonitorValues()
		if a.extra != nil {
			a.extra(func(k string, v any) { r.put(k, v) })
		}
		return r
	}},
	{names: []string{"observer_connection_stat_reset", "orst"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		if r, ok := s.Role().(interface{ ResetObserverStats() }); ok {
			r.ResetObserverStats()
		}
		return response{}
	}},
	{names: []string{"ruok"}, serverRequired: true, run: func(*Admin, *server.Server, map[string]string) response {
		return response{}
	}},
	{names: []string{"set_trace_mask", "stmk"}, run: func(_ *Admin, _ *server.Server, args map[string]string) response {
		var r response
		v, ok := args["traceMask"]
		if !ok {
			r.put("error", "setTraceMask requires long traceMask argument")
			return r
		}
		m, err := parseJavaLong(v)
		if err != nil {
			r.put("error", "setTraceMask requires long traceMask argument, got "+v)
			return r
		}
		server.SetTraceMask(m)
		r.put("tracemask", m)
		return r
	}},
	{names: []string{"server_stats", "srvr"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		return response{data: srvr(s)}
	}},
	{names: []string{"stats", "stat"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		r := response{data: srvr(s)}
		r.put("connections", s.Connections(true))
		r.put("secure_connections", s.SecureConnections(true))
		return r
	}},
	{names: []string{"stat_reset", "srst"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		s.ResetStats()
		return response{}
	}},
	{names: []string{"observers", "obsr"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		var r response
		if s.Mode() == "leader" {
			obs := observers(s)
			r.put("synced_observers", int64(len(obs)))
			r.put("observers", obs)
			return r
		}
		// a follower serves observers only as an ObserverMaster, which is
		// not implemented
		r.put("synced_observers", int64(0))
		r.put("observers", []any{})
		return r
	}},
	{names: []string{"system_properties", "sysp"}, run: func(a *Admin, _ *server.Server, _ map[string]string) response {
		return response{data: a.systemProperties()}
	}},
	{names: []string{"voting_view"}, serverRequired: true, run: func(a *Admin, _ *server.Server, _ map[string]string) response {
		var view []server.KV
		if a.src.Peer() != nil {
			for _, q := range a.cfg.Voters() {
				view = append(view, server.KV{Key: strconv.FormatInt(q.ID, 10), Value: []server.KV{
					{Key: "server_addresses", Value: []string{hostPort(q.Host, q.QuorumPort)}},
					{Key: "election_addresses", Value: []string{hostPort(q.Host, q.ElectionPort)}},
					{Key: "client_address", Value: q.ClientAddr()},
					{Key: "learner_type", Value: q.Type.String()},
				}})
			}
		}
		if view == nil {
			view = []server.KV{}
		}
		return response{data: []server.KV{{Key: "current_config", Value: view}}}
	}},
	{names: []string{"watches", "wchc"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		return response{data: []server.KV{{Key: "session_id_to_watched_paths", Value: s.WatchesBySession()}}}
	}},
	{names: []string{"watches_by_path", "wchp"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		return response{data: []server.KV{{Key: "path_to_session_ids", Value: s.WatchesByPath()}}}
	}},
	{names: []string{"watch_summary", "wchs"}, serverRequired: true, run: func(_ *Admin, s *server.Server, _ map[string]string) response {
		return response{data: s.WatchSummary()}
	}},
	{names: []string{"zabstate"}, run: func(a *Admin, s *server.Server, _ map[string]string) response {
		return response{data: a.zabState(s)}
	}},
}

// byName maps every name and alias to its command.
var byName = func() map[string]*command {
	m := map[string]*command{}
	for _, c := range commands {
		for _, n := range c.names {
			m[n] = c
		}
	}
	return m
}()

// PrimaryNames are the commands' primary names, sorted (the /commands
// listing).
func PrimaryNames() []string {
	var out []string
	for _, c := range commands {
		out = append(out, c.names[0])
	}
	slices.Sort(out)
	return out
}

// Names maps every command name and alias to the primary name.
func Names() map[string]string {
	m := map[string]string{}
	for _, c := range commands {
		for _, n := range c.names {
			m[n] = c.names[0]
		}
	}
	return m
}

// Run runs the command called name (a primary name or an alias) and
// returns ZooKeeper's JSON answer.
func (a *Admin) Run(name string, args map[string]string) string {
	c := byName[name]
	if c == nil {
		r := errorResponse(name, "Unknown command: "+name)
		return r.json()
	}
	srv := a.src.Server()
	if srv != nil && !srv.Running() {
		srv = nil
	}
	if c.serverRequired && srv == nil {
		r := errorResponse(name, notServing)
		return r.json()
	}
	r := c.run(a, srv, args)
	r.command = c.names[0]
	return r.json()
}

// srvr is SrvrCommand's answer.
func srvr(s *server.Server) []server.KV {
	kv := []server.KV{
		{Key: "version", Value: server.Version},
		{Key: "read_only", Value: false},
		{Key: "server_stats", Value: s.ServerStats()},
		{Key: "client_response", Value: s.ClientResponseStats()},
	}
	if s.Mode() == "leader" {
		kv = append(kv, server.KV{Key: "proposal_stats", Value: []server.KV{
			{Key: "last_buffer_size", Value: roleInt(s, "last_proposal_size", -1)},
			{Key: "min_buffer_size", Value: roleInt(s, "min_proposal_size", -1)},
			{Key: "max_buffer_size", Value: roleInt(s, "max_proposal_size", -1)},
		}})
	}
	return append(kv, server.KV{Key: "node_count", Value: s.NodeCount()})
}

func roleInt(s *server.Server, key string, def int64) int64 {
	if v, ok := s.RoleValue(key); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

// observers lists a leader's synced observers when its role can tell
// (zab's leader role implementing ObserverLister).
func observers(s *server.Server) [][]server.KV {
	if l, ok := s.Role().(ObserverLister); ok {
		return l.Observers()
	}
	return [][]server.KV{}
}

// ObserverLister is implemented by a leader role that can list its synced
// observers as ZooKeeper's LearnerHandler info: remote_socket_address
// ("/host:port"), sid, established (ms), queued_packets,
// queued_packets_size, packets_received, packets_sent, requests,
// last_zxid.
type ObserverLister interface {
	Observers() [][]server.KV
}

// zabState is ZabStateCommand's answer.
func (a *Admin) zabState(s *server.Server) []server.KV {
	p := a.src.Peer()
	if p == nil {
		return []server.KV{{Key: "voting", Value: false}, {Key: "zabstate", Value: ""}}
	}
	self, _ := a.cfg.Self()
	last := p.LastZxid
	if s != nil {
		last = s.LastProcessedZxid()
	}
	return []server.KV{
		{Key: "myid", Value: a.cfg.MyID},
		{Key: "is_leader", Value: s != nil && s.Mode() == "leader"},
		{Key: "quorum_address", Value: multipleAddresses(self.Host, self.QuorumPort)},
		{Key: "election_address", Value: multipleAddresses(self.Host, self.ElectionPort)},
		{Key: "client_address", Value: a.clientAddress()},
		{Key: "voting", Value: self.Type == config.Participant},
		{Key: "last_zxid", Value: "0x" + strconv.FormatUint(uint64(last), 16)},
		{Key: "zab_epoch", Value: last >> 32},
		{Key: "zab_counter", Value: last & 0xffffffff},
		{Key: "zabstate", Value: p.ZabState},
	}
}

// multipleAddresses is ZooKeeper's MultipleAddresses bean as Jackson
// writes it, for one address.
func multipleAddresses(host string, port int) []server.KV {
	a := hostPort(host, port)
	return []server.KV{
		{Key: "empty", Value: false},
		{Key: "all_addresses", Value: []string{a}},
		{Key: "all_reachable_addresses", Value: []string{a}},
		{Key: "one", Value: a},
		{Key: "reachable_address", Value: a},
		{Key: "wildcard_addresses", Value: []string{hostPort("0.0.0.0", port)}},
		{Key: "all_ports", Value: []int64{int64(port)}},
		{Key: "all_host_strings", Value: []string{host}},
		{Key: "all_reachable_addresses_or_all", Value: []string{a}},
		{Key: "reachable_or_one", Value: a},
	}
}

// clientAddress is the peer's client address as ZooKeeper reports it.
func (a *Admin) clientAddress() string {
	if self, ok := a.cfg.Self(); ok && self.HasClient {
		return self.ClientAddr()
	}
	h := a.cfg.ClientPortAddress
	if h == "" {
		h = "0.0.0.0"
	}
	return hostPort(h, a.cfg.ClientPort)
}

// leaderIP is the host of the leader's quorum address, "" if unknown.
func (a *Admin) leaderIP(id int64) string {
	for _, q := range a.cfg.Servers {
		if q.ID == id {
			return q.Host
		}
	}
	return ""
}

func hostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// parseJavaLong parses as Java's Long.parseLong: optional sign, decimal
// digits.
func parseJavaLong(s string) (int64, error) {
	if strings.HasPrefix(s, "+") && len(s) > 1 && s[1] != '-' && s[1] != '+' {
		return strconv.ParseInt(s[1:], 10, 64)
	}
	return strconv.ParseInt(s, 10, 64)
}
