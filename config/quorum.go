package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// PeerType is the role of a server in an ensemble.
type PeerType int

const (
	// Participant servers vote in elections and acknowledge proposals.
	Participant PeerType = iota
	// Observer servers follow the leader without voting.
	Observer
)

// String returns "participant" or "observer", as in ZooKeeper's config.
func (p PeerType) String() string {
	switch p {
	case Participant:
		return "participant"
	case Observer:
		return "observer"
	}
	return fmt.Sprintf("PeerType(%d)", int(p))
}

// QuorumServer is one "server.N" line of zoo.cfg:
//
//	server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]
//
// An IPv6 host is written in brackets; Host holds it without them.
type QuorumServer struct {
	ID           int64
	Host         string // quorum/election host as written (IPv6 without brackets)
	QuorumPort   int
	ElectionPort int
	Type         PeerType
	ClientHost   string // from ";host:port", "" if absent (";port" alone means all interfaces)
	ClientPort   int    // 0 if absent
	HasClient    bool
	Line         int // line in zoo.cfg, 0 if not read from a file
}

// QuorumAddr returns host:quorumPort, with brackets around an IPv6 host.
func (q QuorumServer) QuorumAddr() string {
	return net.JoinHostPort(q.Host, strconv.Itoa(q.QuorumPort))
}

// ElectionAddr returns host:electionPort, with brackets around an IPv6 host.
func (q QuorumServer) ElectionAddr() string {
	return net.JoinHostPort(q.Host, strconv.Itoa(q.ElectionPort))
}

// ClientAddr returns the client address of the line (clientHost:clientPort,
// host "0.0.0.0" when only a port was given), or "" without one.
func (q QuorumServer) ClientAddr() string {
	if !q.HasClient {
		return ""
	}
	h := q.ClientHost
	if h == "" {
		h = "0.0.0.0"
	}
	return net.JoinHostPort(h, strconv.Itoa(q.ClientPort))
}

// where names the line for error messages: "line 7: server.2".
func (q QuorumServer) where() string {
	if q.Line > 0 {
		return fmt.Sprintf("line %d: server.%d", q.Line, q.ID)
	}
	return fmt.Sprintf("server.%d", q.ID)
}

// javaString is the line's value as ZooKeeper prints it in the config
// string (QuorumServer.toString): hosts as Java's InetSocketAddress
// prints them, the role always, the client address only when the line
// had one.
func (q QuorumServer) javaString() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d:%s", javaHostString(q.Host), q.QuorumPort, q.ElectionPort, q.Type)
	if q.HasClient {
		h := q.ClientHost
		if h == "" {
			h = "0.0.0.0"
		}
		fmt.Fprintf(&b, ";%s:%d", javaHostString(h), q.ClientPort)
	}
	return b.String()
}

// QuorumKeys lists the ensemble keys this package reads (besides
// "server.N"). The ones marked as system properties in ZooKeeper are also
// accepted with a "zookeeper." prefix.
var QuorumKeys = []string{
	"initLimit", "syncLimit", "connectToLearnerMasterLimit", "electionAlg", "peerType",
	"quorumListenOnAllIPs", "syncEnabled", "standaloneEnabled", "reconfigEnabled",
	"observerMasterPort", "localSessionsEnabled", "localSessionsUpgradingEnabled",
	"multiAddress.enabled", "quorum.auth.enableSasl",
	// system properties
	"cnxTimeout", "quorumCnxnTimeoutMs", "leaderServes", "electionPortBindRetry",
	"fastleader.minNotificationInterval", "fastleader.maxNotificationInterval",
	"leaderConnectDelayDuringRetryMs", "observer.reconnectDelayMs", "observer.election.DelayMs",
	"observer.syncEnabled", "tcpKeepAlive", "forceSnapshotSync", "leader.maxConcurrentSnapSyncs",
	"leader.maxConcurrentDiffSyncs", "leader.maxTimeToWaitForEpoch",
}

func init() {
	for k, o := range map[string]option{
		"initLimit":                     intOpt(false, func(c *Config) *int { return &c.InitLimit }),
		"syncLimit":                     intOpt(false, func(c *Config) *int { return &c.SyncLimit }),
		"connectToLearnerMasterLimit":   intOpt(false, func(c *Config) *int { return &c.ConnectToLearnerMasterLimit }),
		"electionAlg":                   {false, setElectionAlg},
		"peerType":                      {false, setPeerType},
		"quorumListenOnAllIPs":          boolOpt(false, false, func(c *Config) *bool { return &c.QuorumListenOnAllIPs }),
		"syncEnabled":                   boolOpt(false, false, func(c *Config) *bool { return &c.SyncEnabled }),
		"standaloneEnabled":             boolOpt(false, false, func(c *Config) *bool { return &c.StandaloneEnabled }),
		"reconfigEnabled":               boolOpt(false, false, func(c *Config) *bool { return &c.ReconfigEnabled }),
		"observerMasterPort":            intOpt(false, func(c *Config) *int { return &c.ObserverMasterPort }),
		"localSessionsEnabled":          boolOpt(false, false, func(c *Config) *bool { return &c.LocalSessionsEnabled }),
		"localSessionsUpgradingEnabled": boolOpt(false, false, func(c *Config) *bool { return &c.LocalSessionsUpgradingEnabled }),
		"multiAddress.enabled":          boolOpt(false, false, func(c *Config) *bool { return &c.MultiAddressEnabled }),
		"quorum.auth.enableSasl":        {false, refuseTrue("SASL between servers")},

		"cnxTimeout":                         intOpt(true, func(c *Config) *int { return &c.CnxTimeoutMs }),
		"quorumCnxnTimeoutMs":                intOpt(true, func(c *Config) *int { return &c.QuorumCnxnTimeoutMs }),
		"leaderServes":                       {true, setLeaderServes},
		"electionPortBindRetry":              {true, setBindRetry},
		"fastleader.minNotificationInterval": intOpt(true, func(c *Config) *int { return &c.MinNotificationIntervalMs }),
		"fastleader.maxNotificationInterval": intOpt(true, func(c *Config) *int { return &c.MaxNotificationIntervalMs }),
		"leaderConnectDelayDuringRetryMs":    intOpt(true, func(c *Config) *int { return &c.LeaderConnectDelayDuringRetryMs }),
		"observer.reconnectDelayMs":          int64Opt(true, func(c *Config) *int64 { return &c.ObserverReconnectDelayMs }),
		"observer.election.DelayMs":          int64Opt(true, func(c *Config) *int64 { return &c.ObserverElectionDelayMs }),
		"observer.syncEnabled":               {true, setObserverSync},
		"tcpKeepAlive":                       boolOpt(true, false, func(c *Config) *bool { return &c.TCPKeepAlive }),
		"forceSnapshotSync":                  boolOpt(true, false, func(c *Config) *bool { return &c.ForceSnapshotSync }),
		"leader.maxConcurrentSnapSyncs":      intOpt(true, func(c *Config) *int { return &c.MaxConcurrentSnapSyncs }),
		"leader.maxConcurrentDiffSyncs":      intOpt(true, func(c *Config) *int { return &c.MaxConcurrentDiffSyncs }),
		"leader.maxTimeToWaitForEpoch":       intOpt(true, func(c *Config) *int { return &c.MaxTimeToWaitForEpochMs }),
	} {
		options[k] = o
	}
}

func setElectionAlg(c *Config, key, val string) error {
	n, err := parseInt(key, val, 32)
	if err != nil {
		return err
	}
	if n != 3 {
		// ZooKeeper 3.8 removed the other algorithms and refuses them
		// with "Invalid electionAlg value. Only 3 is supported."
		return fmt.Errorf("config: %s: invalid value %d, only 3 is supported", key, n)
	}
	c.ElectionAlg = 3
	return nil
}

func setPeerType(c *Config, key, val string) error {
	t, ok := parsePeerType(val)
	if !ok {
		return fmt.Errorf("config: %s: unrecognised peer type %q (participant or observer)", key, val)
	}
	c.PeerType = t
	return nil
}

func parsePeerType(s string) (PeerType, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "participant":
		return Participant, true
	case "observer":
		return Observer, true
	}
	return 0, false
}

// setLeaderServes follows Leader.java: the leader stops serving clients
// only for the exact value "no".
func setLeaderServes(c *Config, key, val string) error {
	c.LeaderServes = val != "no"
	if val != "no" && val != "yes" {
		c.warnf("%s: %q is neither yes nor no; the leader serves clients (as in ZooKeeper)", key, val)
	}
	return nil
}

// setBindRetry follows QuorumCnxManager: a negative value falls back to
// the default of 3.
func setBindRetry(c *Config, key, val string) error {
	n, err := parseInt(key, val, 32)
	if err != nil {
		return err
	}
	if n < 0 {
		c.warnf("%s: %d must not be negative, using 3", key, n)
		n = 3
	}
	c.ElectionPortBindRetry = int(n)
	return nil
}

func setObserverSync(c *Config, key, val string) error {
	b, err := parseBool(key, val, false)
	if err != nil {
		return err
	}
	c.observerSync = &b
	return nil
}

func refuseTrue(what string) func(c *Config, key, val string) error {
	return func(c *Config, key, val string) error {
		b, err := parseBool(key, val, false)
		if err != nil {
			return err
		}
		if b {
			return fmt.Errorf("config: %s: %s is not supported", key, what)
		}
		return nil
	}
}

// setQuorumKey handles the keys that are not simple options: server.N
// lines and the ZooKeeper features that are refused. It reports whether
// it handled the pair.
func (c *Config) setQuorumKey(p pair) (bool, error) {
	switch {
	case strings.HasPrefix(p.key, "server."):
		q, err := parseServer(p.key, p.value, p.line)
		if err != nil {
			return true, err
		}
		for _, o := range c.Servers {
			if o.ID == q.ID {
				return true, fmt.Errorf("config: line %d: %s: server id %d is already used on line %d", p.line, p.key, q.ID, o.Line)
			}
		}
		c.Servers = append(c.Servers, q)
		return true, nil
	case strings.HasPrefix(p.key, "group"), strings.HasPrefix(p.key, "weight"):
		return true, fmt.Errorf("config: line %d: %s: hierarchical quorums (group/weight) are not supported", p.line, p.key)
	case p.key == "dynamicConfigFile":
		return true, fmt.Errorf("config: line %d: %s: a separate dynamic config file is not supported; put the server.N lines in zoo.cfg", p.line, p.key)
	case p.key == "oraclePath":
		return true, fmt.Errorf("config: line %d: %s: the oracle quorum verifier is not supported", p.line, p.key)
	}
	return false, nil
}

// parseServer reads one "server.N" line the way QuorumPeer.QuorumServer
// does (Java's String.split semantics, brackets for IPv6), a little
// stricter: ports must be 1..65535, the host must not be empty, and a
// ']' must be followed by ':'.
func parseServer(key, val string, line int) (QuorumServer, error) {
	q := QuorumServer{Line: line}
	fail := func(format string, args ...any) (QuorumServer, error) {
		return QuorumServer{}, fmt.Errorf("config: line %d: %s: %s", line, key, fmt.Sprintf(format, args...))
	}
	idText := key[len("server."):]
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 0 {
		return fail("server id %q is not a non-negative integer", idText)
	}
	q.ID = id
	wrong := func() (QuorumServer, error) {
		return fail("%q is not host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]", val)
	}
	parts := javaSplit(val, ";")
	if len(parts) == 0 || len(parts) > 2 {
		return wrong()
	}
	if strings.Contains(parts[0], "|") {
		// ZooKeeper accepts this only with multiAddress.enabled=true.
		return fail("multiple addresses (%q) are not supported", parts[0])
	}
	sp, err := hostAndPort(parts[0])
	if err != nil {
		return fail("%v", err)
	}
	if len(sp) < 3 || len(sp) > 4 {
		return wrong()
	}
	if q.Host = sp[0]; q.Host == "" {
		return fail("the host is empty in %q", val)
	}
	if !validHost(q.Host) {
		return fail("host %q is not a valid host", q.Host)
	}
	if q.QuorumPort, err = parsePort(sp[1]); err != nil {
		return fail("quorum port: %v", err)
	}
	if q.ElectionPort, err = parsePort(sp[2]); err != nil {
		return fail("election port: %v", err)
	}
	if len(sp) == 4 {
		t, ok := parsePeerType(sp[3])
		if !ok {
			return fail("unrecognised peer type %q (participant or observer)", sp[3])
		}
		q.Type = t
	}
	if q.QuorumPort == q.ElectionPort {
		return fail("the quorum port and the election port must be different (both %d)", q.QuorumPort)
	}
	if len(parts) == 2 {
		cp, err := hostAndPort(parts[1])
		if err != nil {
			return fail("client address: %v", err)
		}
		switch len(cp) {
		case 1:
		case 2:
			if q.ClientHost = cp[0]; q.ClientHost == "" {
				return fail("the client host is empty in %q", val)
			}
			if !validHost(q.ClientHost) {
				return fail("client host %q is not a valid host", q.ClientHost)
			}
		default:
			return wrong()
		}
		if q.ClientPort, err = parsePort(cp[len(cp)-1]); err != nil {
			return fail("client port: %v", err)
		}
		q.HasClient = true
	}
	return q, nil
}

// javaSplit splits like Java's String.split with a literal separator:
// trailing empty strings are dropped, and a string without the separator
// comes back whole (even when empty).
func javaSplit(s, sep string) []string {
	if !strings.Contains(s, sep) {
		return []string{s}
	}
	parts := strings.Split(s, sep)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// hostAndPort splits "host:port:..." or "[v6host]:port:..." into parts
// (ZooKeeper's ConfigUtils.getHostAndPort).
func hostAndPort(s string) ([]string, error) {
	if !strings.HasPrefix(s, "[") {
		return javaSplit(s, ":"), nil
	}
	i := strings.IndexByte(s, ']')
	switch {
	case i < 0:
		return nil, fmt.Errorf("%q starts with '[' but has no matching ']'", s)
	case i+1 == len(s):
		return []string{s[1:i]}, nil
	case s[i+1] != ':':
		return nil, fmt.Errorf("%q: ']' must be followed by ':'", s)
	case i+2 == len(s):
		return nil, fmt.Errorf("%q has no port after the colon", s)
	}
	return append([]string{s[1:i]}, javaSplit(s[i+2:], ":")...), nil
}

// validHost refuses what no host name or address contains (and what
// would not survive being printed into a config string): spaces, control
// characters, backslashes and brackets.
func validHost(h string) bool {
	for _, r := range h {
		if r <= ' ' || r == 0x7f || r == '\\' || r == '[' || r == ']' || !unicode.IsPrint(r) {
			return false
		}
	}
	return h != ""
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%d is not between 1 and 65535", n)
	}
	return n, nil
}

func sortServers(s []QuorumServer) {
	sort.Slice(s, func(i, j int) bool { return s[i].ID < s[j].ID })
}

// Ensemble reports whether the server runs as part of an ensemble
// (ZooKeeper's isDistributed): there are server lines and either more
// than one participant or standaloneEnabled=false. With exactly one
// participant and standaloneEnabled=true ZooKeeper 3.8 runs standalone.
func (c *Config) Ensemble() bool {
	return len(c.Servers) > 0 && (!c.StandaloneEnabled || len(c.Voters()) > 1)
}

// Self returns this server's line (the one for MyID).
func (c *Config) Self() (QuorumServer, bool) {
	return c.Server(c.MyID)
}

// Server returns the line of server id.
func (c *Config) Server(id int64) (QuorumServer, bool) {
	for _, q := range c.Servers {
		if q.ID == id {
			return q, true
		}
	}
	return QuorumServer{}, false
}

// Voters returns the participants, by ID.
func (c *Config) Voters() []QuorumServer { return c.byType(Participant) }

// Observers returns the observers, by ID.
func (c *Config) Observers() []QuorumServer { return c.byType(Observer) }

func (c *Config) byType(t PeerType) []QuorumServer {
	var out []QuorumServer
	for _, q := range c.Servers {
		if q.Type == t {
			out = append(out, q)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IsVoter reports whether id is a participant.
func (c *Config) IsVoter(id int64) bool {
	q, ok := c.Server(id)
	return ok && q.Type == Participant
}

// IsQuorum reports whether ids hold a majority of the voters (ZooKeeper's
// QuorumMaj: more than half). Ids that are not voters and repeated ids
// do not count.
func (c *Config) IsQuorum(ids []int64) bool {
	voters := c.Voters()
	seen := map[int64]bool{}
	for _, id := range ids {
		for _, v := range voters {
			if v.ID == id {
				seen[id] = true
			}
		}
	}
	return len(seen) > len(voters)/2
}

// QuorumConfigString returns the ensemble's config string exactly as
// ZooKeeper 3.8's QuorumMaj.toString builds it (FLE notifications and
// NEWLEADER carry it, /zookeeper/config holds it): one
// "server.N=host:quorumPort:electionPort:role[;clientHost:clientPort]\n"
// per member, then "version=0" (a static config with reconfig off keeps
// version 0). Members come in the iteration order of Java's HashMap,
// which this package reproduces from the order of the keys in zoo.cfg
// (see javaorder.go).
func (c *Config) QuorumConfigString() string {
	var b strings.Builder
	for _, q := range c.javaMemberOrder() {
		fmt.Fprintf(&b, "server.%d=%s\n", q.ID, q.javaString())
	}
	b.WriteString("version=0")
	return b.String()
}

// resolveEnsemble applies QuorumPeerConfig's rules for server lines:
// member counts, myid, the client address of this server's line, the
// peer type, and the limits an ensemble needs.
func (c *Config) resolveEnsemble() error {
	if err := c.resolveTLS(); err != nil {
		return err
	}
	if c.observerSync != nil {
		c.SyncEnabled = *c.observerSync
	}
	sortServers(c.Servers)
	if err := c.checkServers(); err != nil {
		return err
	}
	voters, observers := len(c.Voters()), len(c.Observers())
	switch {
	case voters == 0:
		if !c.StandaloneEnabled {
			return fmt.Errorf("config: standaloneEnabled=false needs at least one participant server.N line")
		}
		if observers > 0 {
			return fmt.Errorf("config: %s: observers without participants is an invalid configuration", c.Observers()[0].where())
		}
	case voters == 1 && c.StandaloneEnabled:
		if observers > 0 {
			return fmt.Errorf("config: %s: observers without a quorum (one participant and standaloneEnabled=true) is an invalid configuration", c.Observers()[0].where())
		}
		c.warnf("only one server is listed: running standalone (as ZooKeeper does with standaloneEnabled=true)")
	case voters <= 2:
		c.warnf("%d voting servers: no server failure will be tolerated, you need at least 3 servers", voters)
	case voters%2 == 0:
		c.warnf("%d voting servers: non-optimal configuration, consider an odd number of servers", voters)
	}
	if err := c.readMyID(); err != nil {
		return err
	}
	self, hasSelf := c.Self()
	if err := c.clientFromSelf(self, hasSelf); err != nil {
		return err
	}
	role := Participant
	if hasSelf {
		role = self.Type
	}
	declared := c.PeerType
	if c.hasAutoPeer && c.PeerType == c.autoPeer {
		declared = c.declaredPeer // as configured before an earlier Resolve
	}
	if declared != role {
		// ZooKeeper 3.8 (setupPeerType) logs this and goes with the list.
		c.warnf("peerType=%s does not match the server list (%s for myid %d): using the server list", declared, role, c.MyID)
	}
	c.PeerType = role
	c.declaredPeer, c.hasAutoPeer, c.autoPeer = declared, true, role
	if !c.Ensemble() {
		return nil
	}
	if c.ElectionAlg != 3 {
		return fmt.Errorf("config: electionAlg: invalid value %d, only 3 is supported", c.ElectionAlg)
	}
	for _, l := range []struct {
		key string
		v   int
	}{{"initLimit", c.InitLimit}, {"syncLimit", c.SyncLimit}} {
		if l.v == 0 {
			return fmt.Errorf("config: %s is not set (required for an ensemble)", l.key)
		}
		if l.v < 0 {
			return fmt.Errorf("config: %s (%d) must be positive", l.key, l.v)
		}
	}
	if c.MyID < 0 {
		return fmt.Errorf("config: myid file is missing (%s must hold this server's id)", filepath.Join(c.DataDir, "myid"))
	}
	if !hasSelf {
		return fmt.Errorf("config: myid %d (%s) is not in the peer list: there is no server.%d line", c.MyID, filepath.Join(c.DataDir, "myid"), c.MyID)
	}
	if c.ConnectToLearnerMasterLimit < 0 {
		return fmt.Errorf("config: connectToLearnerMasterLimit (%d) must not be negative", c.ConnectToLearnerMasterLimit)
	}
	if c.CnxTimeoutMs <= 0 {
		return fmt.Errorf("config: cnxTimeout (%d) must be positive", c.CnxTimeoutMs)
	}
	if c.ObserverMasterPort < 0 || c.ObserverMasterPort > 65535 {
		return fmt.Errorf("config: observerMasterPort (%d) must be between 0 and 65535", c.ObserverMasterPort)
	}
	return nil
}

// readMyID reads dataDir/myid when there are server lines: the first line,
// trimmed, as a decimal id. Without the file MyID keeps a value a caller
// set (>= 0), else -1; Resolve then refuses an ensemble.
func (c *Config) readMyID() error {
	if len(c.Servers) == 0 {
		return nil
	}
	path := filepath.Join(c.DataDir, "myid")
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			if c.myidFromFile { // read from another dataDir before
				c.MyID, c.myidFromFile = -1, false
			}
			return nil
		}
		return fmt.Errorf("config: myid: %w", err)
	}
	first, _, _ := strings.Cut(string(data), "\n")
	s := strings.TrimSpace(first)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 0 {
		return fmt.Errorf("config: %s: server id %q is not a non-negative integer", path, s)
	}
	c.MyID, c.myidFromFile = id, true
	return nil
}

// clientFromSelf applies setupClientPort: this server's line may carry
// its client address. Without clientPort in zoo.cfg the line's address is
// used. With both, ZooKeeper refuses the start if they differ (a
// clientPortAddress of all interfaces only has to agree on the port) and
// otherwise uses the line's address.
func (c *Config) clientFromSelf(self QuorumServer, ok bool) error {
	if !ok || !self.HasClient {
		return nil
	}
	// clientPort counts as set when zoo.cfg has it, or when a caller
	// changed what an earlier Resolve took from the line.
	_, static := c.Raw["clientPort"]
	static = static && c.ClientPort != 0
	if c.hasAutoClient && (c.ClientPort != c.autoClientPort || c.ClientPortAddress != c.autoClientAddr) {
		static = true
	}
	if static {
		var differ bool
		if isWildcard(c.ClientPortAddress) {
			differ = c.ClientPort != self.ClientPort
		} else {
			differ = c.ClientPort != self.ClientPort || !sameHost(c.ClientPortAddress, self.ClientHost)
		}
		if differ {
			static := net.JoinHostPort(c.ClientPortAddress, strconv.Itoa(c.ClientPort))
			if c.ClientPortAddress == "" {
				static = net.JoinHostPort("0.0.0.0", strconv.Itoa(c.ClientPort))
			}
			return fmt.Errorf("config: %s: client address %s differs from clientPort/clientPortAddress (%s)",
				self.where(), self.ClientAddr(), static)
		}
	}
	c.ClientPort = self.ClientPort
	c.ClientPortAddress = self.ClientHost
	c.hasAutoClient, c.autoClientPort, c.autoClientAddr = true, c.ClientPort, c.ClientPortAddress
	return nil
}

// checkServers refuses repeated ids and addresses two servers (or one
// line) would both have to bind. ZooKeeper compares resolved addresses
// (and only when reconfiguring); without DNS lookups this compares hosts
// as written, IP literals in normal form, and skips wildcard hosts.
func (c *Config) checkServers() error {
	type use struct {
		q    QuorumServer
		what string
	}
	seen := map[string]use{}
	for i, q := range c.Servers {
		if i > 0 && c.Servers[i-1].ID == q.ID {
			return fmt.Errorf("config: %s: server id %d is already used by %s", q.where(), q.ID, c.Servers[i-1].where())
		}
		if !validHost(q.Host) || (q.ClientHost != "" && !validHost(q.ClientHost)) {
			return fmt.Errorf("config: %s: host %q or client host %q is not a valid host", q.where(), q.Host, q.ClientHost)
		}
		if q.QuorumPort == q.ElectionPort {
			return fmt.Errorf("config: %s: the quorum port and the election port must be different (both %d)", q.where(), q.QuorumPort)
		}
		addrs := []struct {
			host string
			port int
			what string
		}{{q.Host, q.QuorumPort, "quorum"}, {q.Host, q.ElectionPort, "election"}}
		if q.HasClient {
			addrs = append(addrs, struct {
				host string
				port int
				what string
			}{q.ClientHost, q.ClientPort, "client"})
		}
		for _, a := range addrs {
			if a.port < 1 || a.port > 65535 {
				return fmt.Errorf("config: %s: %s port %d is not between 1 and 65535", q.where(), a.what, a.port)
			}
			if isWildcard(a.host) {
				continue
			}
			k := net.JoinHostPort(hostKey(a.host), strconv.Itoa(a.port))
			if u, dup := seen[k]; dup {
				return fmt.Errorf("config: %s: %s address %s is also the %s address of %s",
					q.where(), a.what, net.JoinHostPort(a.host, strconv.Itoa(a.port)), u.what, u.q.where())
			}
			seen[k] = use{q, a.what}
		}
		// A client port on all interfaces collides with the line's own
		// quorum or election port.
		if q.HasClient && isWildcard(q.ClientHost) && (q.ClientPort == q.QuorumPort || q.ClientPort == q.ElectionPort) {
			return fmt.Errorf("config: %s: client port %d is also a quorum or election port of the line", q.where(), q.ClientPort)
		}
	}
	return nil
}

// isWildcard reports whether host means all interfaces ("" included).
func isWildcard(host string) bool {
	if host == "" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsUnspecified()
}

func sameHost(a, b string) bool { return hostKey(a) == hostKey(b) }

// hostKey normalises a host for comparisons: IP literals in Java's form,
// names in lower case.
func hostKey(h string) string {
	if _, err := netip.ParseAddr(h); err == nil {
		return javaHostString(h)
	}
	return strings.ToLower(h)
}

// javaHostString renders host the way Java's InetSocketAddress.getHostString
// does for an address built from it: names as written, IPv4 literals
// (including IPv4-mapped IPv6) dotted, other IPv6 literals as eight
// uncompressed hex groups ("0:0:0:0:0:0:0:1"), with the zone if any.
// IPv6 results are wrapped in brackets, as ZooKeeper prints them.
func javaHostString(host string) string {
	a, err := netip.ParseAddr(host)
	if err != nil {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	var sb strings.Builder
	sb.WriteByte('[')
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(strconv.FormatUint(uint64(b[i])<<8|uint64(b[i+1]), 16))
	}
	if z := a.Zone(); z != "" {
		sb.WriteString("%" + z)
	}
	sb.WriteByte(']')
	return sb.String()
}
