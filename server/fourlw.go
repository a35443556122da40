package server

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/wire"
)

func isFourLetterWord(w string) bool {
	for _, k := range config.KnownFourLetterWords {
		if k == w {
			return true
		}
	}
	return false
}

// fourLetterWord runs a command word sent instead of a ConnectRequest and
// writes its raw output.
func (c *conn) fourLetterWord(word string, br *bufio.Reader) {
	br.Discard(4)
	// the word counts as a received packet, as in ZooKeeper
	c.received.Add(1)
	c.s.stats.received.Add(1)
	if !c.s.cfg.FourLetterWordAllowed(word) {
		c.write([]byte(word + " is not executed because it is not in the whitelist.\n"))
		return
	}
	c.write([]byte(c.s.runFourLetterWord(word, br)))
}

// defaultTraceMask is ZooKeeper's initial text trace level: client
// requests (1<<1), server packets (1<<4), sessions (1<<5) and warnings
// (1<<8).
const defaultTraceMask = 1<<1 | 1<<4 | 1<<5 | 1<<8 // 306

// traceMask is the process-wide trace mask that gtmk reports and stmk
// sets. Nothing consults it yet; it exists so that the two words behave
// as in ZooKeeper.
var traceMask atomic.Int64

func init() { traceMask.Store(defaultTraceMask) }

// notServing is what most words print while the server does not serve.
const notServing = "This ZooKeeper instance is not currently serving requests"

// sessionlessCnxnTimeoutMs is the connection expiry interval ZooKeeper's
// NIO factory uses (zookeeper.nio.sessionlessCnxnTimeout); dump groups
// connections by it.
const sessionlessCnxnTimeoutMs = int64(sessionlessTimeout / time.Millisecond)

// runFourLetterWord returns the output of a whitelisted word. br is
// positioned just after the word (stmk reads its argument from it).
func (s *Server) runFourLetterWord(word string, br *bufio.Reader) string {
	if word != "ruok" && word != "gtmk" && word != "stmk" && word != "envi" && s.stopped.Load() {
		switch word {
		case "isro":
			return "null"
		case "hash":
			return notServing
		}
		return notServing + "\n"
	}
	var b strings.Builder
	switch word {
	case "ruok":
		return "imok"
	case "isro":
		return "rw"
	case "gtmk":
		return strconv.FormatInt(traceMask.Load(), 10)
	case "stmk":
		var buf [8]byte
		if _, err := io.ReadFull(br, buf[:]); err != nil {
			return ""
		}
		m := int64(binary.BigEndian.Uint64(buf[:]))
		traceMask.Store(m)
		return strconv.FormatInt(m, 10)
	case "srvr":
		s.writeStat(&b, false)
	case "stat":
		s.writeStat(&b, true)
	case "cons":
		for _, c := range s.connList() {
			b.WriteString(c.info(false))
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	case "crst":
		for _, c := range s.connList() {
			c.resetStats()
		}
		b.WriteString("Connection stats reset.\n")
	case "srst":
		s.stats.reset()
		b.WriteString("Server stats reset.\n")
	case "conf":
		s.writeConf(&b)
	case "envi":
		writeEnv(&b)
	case "dirs":
		// Named as in ZooKeeper, which sizes the txn-log directory as
		// "datadir" and the snapshot directory as "logdir".
		fmt.Fprintf(&b, "datadir_size: %d\n", dirSize(versionDir(s.cfg.DataLogDir)))
		fmt.Fprintf(&b, "logdir_size: %d\n", dirSize(versionDir(s.cfg.DataDir)))
	case "wchs":
		conns, paths, total := s.watches.summary()
		fmt.Fprintf(&b, "%d connections watching %d paths\nTotal watches:%d\n", conns, paths, total)
	case "wchc":
		s.writeWatchesByConn(&b)
		b.WriteByte('\n')
	case "wchp":
		byPath := s.watches.byPath()
		paths := make([]string, 0, len(byPath))
		for p := range byPath {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		for _, p := range paths {
			b.WriteString(p)
			b.WriteByte('\n')
			for _, id := range byPath[p] {
				b.WriteString("\t" + hex(id) + "\n")
			}
		}
		b.WriteByte('\n')
	case "dump":
		s.writeDump(&b)
	case "mntr":
		s.writeMonitor(&b)
	case "hash":
		// ZooKeeper prints "<hex zxid>: <digest>" for the digests it
		// recorded every 128 txns. We keep no digest history yet, so
		// there is nothing to print.
	}
	return b.String()
}

// nodeCount is the znode count as ZooKeeper reports it: its node map holds
// the root under both "" and "/", so the root is counted twice.
func (s *Server) nodeCount() int {
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	return s.tree.NodeCount() + 1
}

// connList returns the open connections, oldest first.
func (s *Server) connList() []*conn {
	s.mu.Lock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b *conn) int {
		if d := a.created.Compare(b.created); d != 0 {
			return d
		}
		return strings.Compare(a.remote, b.remote)
	})
	return out
}

func (s *Server) numConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// serverLatency returns min, avg (rounded to 4 decimals) and max request
// latency in ms.
func (s *Server) serverLatency() (lo int64, avg float64, hi int64) {
	n := s.stats.latCount.Load()
	if n == 0 {
		return 0, 0, 0
	}
	avg = math.Round(float64(s.stats.latSum.Load())/float64(n)*1e4) / 1e4
	return s.stats.latMin.Load(), avg, s.stats.latMax.Load()
}

func (s *Server) writeStat(b *strings.Builder, clients bool) {
	b.WriteString("Zookeeper version: " + Version + "\n")
	if clients {
		b.WriteString("Clients:\n")
		for _, c := range s.connList() {
			b.WriteString(c.info(true))
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
	lo, avg, hi := s.serverLatency()
	fmt.Fprintf(b, "Latency min/avg/max: %d/%s/%d\n", lo, javaDouble(avg), hi)
	fmt.Fprintf(b, "Received: %d\n", s.stats.received.Load())
	fmt.Fprintf(b, "Sent: %d\n", s.stats.sent.Load())
	fmt.Fprintf(b, "Connections: %d\n", s.numConns())
	fmt.Fprintf(b, "Outstanding: %d\n", len(s.outstanding))
	fmt.Fprintf(b, "Zxid: 0x%x\n", uint64(s.lastZxid.Load()))
	fmt.Fprintf(b, "Mode: %s\n", s.mode())
	fmt.Fprintf(b, "Node count: %d\n", s.nodeCount())
}

// lastOpNames are the short operation names ZooKeeper's cons shows as lop.
var lastOpNames = map[wire.Op]string{
	wire.OpPing: "PING", wire.OpCreateSession: "SESS", wire.OpMulti: "MULT", wire.OpMultiRead: "MLTR",
	wire.OpCreate: "CREA", wire.OpCreate2: "CREA", wire.OpCreateTTL: "CREA", wire.OpCreateContainer: "CREA",
	wire.OpDelete: "DELE", wire.OpDeleteContainer: "DELE", wire.OpSetData: "SETD", wire.OpReconfig: "RECO",
	wire.OpSetACL: "SETA", wire.OpCloseSession: "CLOS", wire.OpSync: "SYNC", wire.OpCheck: "CHEC",
	wire.OpExists: "EXIS", wire.OpGetData: "GETD", wire.OpSetWatches: "SETW", wire.OpSetWatches2: "STW2",
	wire.OpAddWatch: "ADDW", wire.OpGetACL: "GETA", wire.OpGetChildren: "GETC", wire.OpGetChildren2: "GETC",
	wire.OpGetAllChildrenNumber: "GETACN", wire.OpCheckWatches: "CHKW", wire.OpRemoveWatches: "REMW",
	wire.OpWhoAmI: "HOMI", wire.OpGetEphemerals: "GETE",
}

// javaRemote formats the remote address as Java's InetSocketAddress does
// ("/127.0.0.1:1234", IPv6 unabbreviated and without brackets).
func (c *conn) javaRemote() string {
	host, port, err := net.SplitHostPort(c.remote)
	if err != nil {
		return "/" + c.remote
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		parts := make([]string, 8)
		for i := range parts {
			parts[i] = strconv.FormatUint(uint64(ip[2*i])<<8|uint64(ip[2*i+1]), 16)
		}
		host = strings.Join(parts, ":")
	}
	return "/" + host + ":" + port
}

// info is the connection's line in stat (brief) and cons.
func (c *conn) info(brief bool) string {
	var b strings.Builder
	id := c.session()
	ops := "0" // no read interest until the handshake is done
	if id != 0 {
		ops = "1"
	}
	fmt.Fprintf(&b, " %s[%s](queued=%d,recved=%d,sent=%d", c.javaRemote(), ops, c.queued(), c.received.Load(), c.sent.Load())
	if !brief && id != 0 {
		lop := "NA"
		if name, ok := lastOpNames[wire.Op(c.lastOp.Load())]; ok {
			lop = name
		}
		fmt.Fprintf(&b, ",sid=%s,lop=%s,est=%d,to=%d", hex(id), lop, c.created.UnixMilli(), c.timeout)
		if cxid := c.lastCxid.Load(); cxid >= 0 {
			fmt.Fprintf(&b, ",lcxid=0x%x", cxid)
		}
		var avg, lo int64
		if n := c.latCnt.Load(); n > 0 {
			avg = c.latSum.Load() / n
			lo = c.latMin.Load()
		}
		fmt.Fprintf(&b, ",lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
			uint64(c.lastZxid.Load()), c.lastResp.Load(), c.lastLat.Load(), lo, avg, c.latMax.Load())
	}
	b.WriteByte(')')
	return b.String()
}

// resetStats clears the per-connection counters, as crst does.
func (c *conn) resetStats() {
	c.received.Store(0)
	c.sent.Store(0)
	c.lastOp.Store(-999)
	c.lastCxid.Store(-1)
	c.lastZxid.Store(-1)
	c.lastResp.Store(0)
	c.lastLat.Store(0)
	c.latCnt.Store(0)
	c.latSum.Store(0)
	c.latMin.Store(0)
	c.latMax.Store(0)
}

// javaPath is what Java's File.getAbsolutePath gives for dir/version-2:
// a relative path is appended to the working directory as written.
func javaPath(dir string) string {
	p := versionDir(dir)
	if filepath.IsAbs(p) {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	return wd + string(filepath.Separator) + p
}

// versionDir is the version-2 directory below a configured directory.
func versionDir(dir string) string {
	return strings.TrimRight(dir, "/") + "/version-2"
}

// dirSize sums the sizes of the files below path (0 if missing).
func dirSize(path string) int64 {
	var n int64
	filepath.WalkDir(path, func(_ string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func (s *Server) writeConf(b *strings.Builder) {
	cfg := s.cfg
	port := s.clientPort()
	// As in ZooKeeper, dataDirSize measures the txn-log directory and
	// dataLogSize the snapshot directory.
	fmt.Fprintf(b, "clientPort=%d\n", port)
	fmt.Fprintf(b, "secureClientPort=%d\n", s.secureClientPort())
	fmt.Fprintf(b, "dataDir=%s\n", javaPath(cfg.DataDir))
	fmt.Fprintf(b, "dataDirSize=%d\n", dirSize(versionDir(cfg.DataLogDir)))
	fmt.Fprintf(b, "dataLogDir=%s\n", javaPath(cfg.DataLogDir))
	fmt.Fprintf(b, "dataLogSize=%d\n", dirSize(versionDir(cfg.DataDir)))
	fmt.Fprintf(b, "tickTime=%d\n", cfg.TickTime)
	fmt.Fprintf(b, "maxClientCnxns=%d\n", cfg.MaxClientCnxns)
	fmt.Fprintf(b, "minSessionTimeout=%d\n", cfg.MinSessionTimeout)
	fmt.Fprintf(b, "maxSessionTimeout=%d\n", cfg.MaxSessionTimeout)
	b.WriteString("clientPortListenBacklog=-1\n")
	b.WriteString("serverId=0\n")
}

// clientPort is the bound client port (the configured one before Listen).
func (s *Server) clientPort() int {
	if s.ln != nil {
		if ta, ok := s.ln.Addr().(*net.TCPAddr); ok {
			return ta.Port
		}
	}
	return s.cfg.ClientPort
}

// writeEnv reports the process environment under ZooKeeper's keys; the
// java.* keys carry the Go runtime's nearest equivalents.
func writeEnv(b *strings.Builder) {
	b.WriteString("Environment:\n")
	for _, e := range envValues() {
		b.WriteString(e[0] + "=" + e[1] + "\n")
	}
}

// envValues are envi's keys and values, in order.
func envValues() [][2]string {
	na := func(v string, err error) string {
		if err != nil || v == "" {
			return "<NA>"
		}
		return v
	}
	host := na(os.Hostname())
	userName, userHome := "<NA>", "<NA>"
	if u, err := user.Current(); err == nil {
		userName, userHome = u.Username, u.HomeDir
	} else {
		userHome = na(os.UserHomeDir())
	}
	exe := na(os.Executable())
	osName := map[string]string{"linux": "Linux", "darwin": "Mac OS X", "windows": "Windows", "freebsd": "FreeBSD"}[runtime.GOOS]
	if osName == "" {
		osName = runtime.GOOS
	}
	arch := map[string]string{"arm64": "aarch64", "386": "x86"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	osVersion := "<NA>"
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		osVersion = strings.TrimSpace(string(rel))
	}

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	const mb = 1 << 20
	total := int64(ms.HeapSys)
	free := int64(ms.HeapSys - ms.HeapAlloc)
	maxMem := debug.SetMemoryLimit(-1)
	if maxMem == math.MaxInt64 {
		maxMem = int64(ms.Sys)
	}

	return [][2]string{
		{"zookeeper.version", Version},
		{"host.name", host},
		{"java.version", runtime.Version()},
		{"java.vendor", "<NA>"},
		{"java.home", "<NA>"},
		{"java.class.path", exe},
		{"java.library.path", "<NA>"},
		{"java.io.tmpdir", os.TempDir()},
		{"java.compiler", "<NA>"},
		{"os.name", osName},
		{"os.arch", arch},
		{"os.version", osVersion},
		{"user.name", userName},
		{"user.home", userHome},
		{"user.dir", na(os.Getwd())},
		{"os.memory.free", strconv.FormatInt(free/mb, 10) + "MB"},
		{"os.memory.max", strconv.FormatInt(maxMem/mb, 10) + "MB"},
		{"os.memory.total", strconv.FormatInt(total/mb, 10) + "MB"},
	}
}

// writeWatchesByConn lists, per watching connection, its session id and
// the paths of its data watches.
func (s *Server) writeWatchesByConn(b *strings.Builder) {
	for _, e := range s.watchesByConn() {
		b.WriteString(hex(e.session) + "\n")
		for _, p := range e.paths {
			b.WriteString("\t" + p + "\n")
		}
	}
}

// connWatches are the data watch paths of one connection.
type connWatches struct {
	session int64
	paths   []string
}

// watchesByConn lists the watching connections by session id with their
// sorted data watch paths.
func (s *Server) watchesByConn() []connWatches {
	w := s.watches
	type entry struct {
		c     *conn
		paths []string
	}
	byConn := map[*conn]*entry{}
	w.mu.Lock()
	for p, set := range w.data.m {
		for c := range set {
			e := byConn[c]
			if e == nil {
				e = &entry{c: c}
				byConn[c] = e
			}
			e.paths = append(e.paths, p)
		}
	}
	w.mu.Unlock()
	list := make([]*entry, 0, len(byConn))
	for _, e := range byConn {
		slices.Sort(e.paths)
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b *entry) int {
		x, y := a.c.session(), b.c.session()
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return strings.Compare(a.c.remote, b.c.remote)
	})
	out := make([]connWatches, len(list))
	for i, e := range list {
		out[i] = connWatches{e.c.session(), e.paths}
	}
	return out
}

// javaDate formats ms since the epoch as Java's Date.toString does.
func javaDate(ms int64) string {
	return time.UnixMilli(ms).Format("Mon Jan 02 15:04:05 MST 2006")
}

// writeBuckets writes expiry buckets as ZooKeeper's ExpiryQueue.dump does.
func writeBuckets(b *strings.Builder, title string, buckets map[int64][]string, total int) {
	fmt.Fprintf(b, "%s Sets (%d)/(%d):\n", title, len(buckets), total)
	times := make([]int64, 0, len(buckets))
	for t := range buckets {
		times = append(times, t)
	}
	slices.Sort(times)
	for _, t := range times {
		fmt.Fprintf(b, "%d expire at %s:\n", len(buckets[t]), javaDate(t))
		for _, e := range buckets[t] {
			b.WriteString("\t" + e + "\n")
		}
	}
}

func (s *Server) writeDump(b *strings.Builder) {
	b.WriteString("SessionTracker dump:\n")
	ids, total := s.sessionBuckets()
	buckets := make(map[int64][]string, len(ids))
	for t, list := range ids {
		for _, id := range list {
			buckets[t] = append(buckets[t], hex(id))
		}
	}
	writeBuckets(b, "Session", buckets, total)

	b.WriteString("ephemeral nodes dump:\n")
	owners, eph := s.ephemerals()
	fmt.Fprintf(b, "Sessions with Ephemerals (%d):\n", len(owners))
	for i, id := range owners {
		b.WriteString(hex(id) + ":\n")
		for _, p := range eph[i] {
			b.WriteString("\t" + p + "\n")
		}
	}

	// Connections expire, as in ZooKeeper's NIO factory, at their last
	// activity plus their session timeout (the sessionless timeout before
	// the handshake), rounded up to the next 10 s interval.
	b.WriteString("Connections dump:\n")
	conns := s.connList()
	cb := map[int64][]string{}
	for _, c := range conns {
		last := max(c.created.UnixMilli(), c.lastResp.Load())
		to := sessionlessCnxnTimeoutMs
		if c.session() != 0 {
			to = int64(c.timeout)
		}
		exp := ((last+to)/sessionlessCnxnTimeoutMs + 1) * sessionlessCnxnTimeoutMs
		cb[exp] = append(cb[exp], "ip: "+c.javaRemote()+" sessionId: "+hex(c.session()))
	}
	writeBuckets(b, "Connections", cb, len(conns))
}

// sessionBuckets groups the live sessions' ids by expiry time (ms), in
// the tracker's order; total counts every tracked session.
func (s *Server) sessionBuckets() (buckets map[int64][]int64, total int) {
	now := s.nowMs()
	s.mu.Lock()
	sessions := s.tracker.All()
	s.mu.Unlock()
	buckets = map[int64][]int64{}
	for _, ss := range sessions {
		// an expired session has left its bucket but stays in the table
		// until its closeSession is applied
		if ss.Closing && ss.Expiry() <= now {
			continue
		}
		buckets[ss.Expiry()] = append(buckets[ss.Expiry()], ss.ID)
	}
	return buckets, len(sessions)
}

// ephemerals returns the sessions owning ephemeral nodes and their paths.
func (s *Server) ephemerals() (owners []int64, paths [][]string) {
	s.treeMu.RLock()
	defer s.treeMu.RUnlock()
	owners = s.tree.EphemeralSessions()
	paths = make([][]string, len(owners))
	for i, id := range owners {
		paths[i] = s.tree.Ephemerals(id)
	}
	return owners, paths
}

// openFDs counts the process's open file descriptors (-1 if unknown).
func openFDs() int64 {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return int64(len(ents))
}

// maxFDs is the soft limit on open files (-1 if unknown).
func maxFDs() int64 {
	data, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "Max open files") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "Max open files"))
		if len(f) == 0 {
			break
		}
		if f[0] == "unlimited" {
			return math.MaxInt64
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			return n
		}
		break
	}
	return -1
}

func (s *Server) writeMonitor(b *strings.Builder) {
	for _, e := range s.monitorValues() {
		b.WriteString("zk_" + e.Key + "\t" + monitorString(e.Value) + "\n")
	}
}

// monitorString prints a monitorValues value as mntr does.
func monitorString(v any) string {
	switch v := v.(type) {
	case int64:
		return itoa(v)
	case float64:
		return javaDouble(v)
	case string:
		return v
	}
	return fmt.Sprint(v)
}

// monitorValues are the keys and typed values (int64, float64 or string)
// that mntr prints and the AdminServer's monitor command returns.
func (s *Server) monitorValues() []KV {
	s.treeMu.RLock()
	nodes := s.tree.NodeCount() + 1 // root counted twice, as ZooKeeper does
	ephemerals := s.tree.EphemeralCount()
	dataSize := s.tree.DataSize()
	globalSessions := len(s.tree.Sessions())
	s.treeMu.RUnlock()

	lo, avg, hi := s.serverLatency()
	uptime := int64(0)
	if ms := s.startedMs.Load(); ms != 0 {
		uptime = s.nowMs() - ms
	}
	kv := []KV{
		{"version", Version},
		{"server_state", s.mode()},
		{"avg_latency", avg},
		{"max_latency", hi},
		{"min_latency", lo},
		{"packets_received", s.stats.received.Load()},
		{"packets_sent", s.stats.sent.Load()},
		{"num_alive_connections", int64(s.numConns())},
		{"outstanding_requests", int64(len(s.outstanding))},
		{"uptime", uptime},
		{"znode_count", int64(nodes)},
		{"watch_count", int64(s.watches.count())},
		{"ephemerals_count", int64(ephemerals)},
		{"approximate_data_size", dataSize},
		{"global_sessions", int64(globalSessions)},
		{"local_sessions", int64(0)},
		{"open_file_descriptor_count", openFDs()},
		{"max_file_descriptor_count", maxFDs()},
		{"connection_drop_probability", 0.0},
		// response sizes are not tracked yet: ZooKeeper's initial value
		{"last_client_response_size", int64(-1)},
		{"max_client_response_size", int64(-1)},
		{"min_client_response_size", int64(-1)},
		{"outstanding_tls_handshake", int64(0)},
		{"auth_failed_count", s.stats.authFailed.Load()},
		{"non_mtls_remote_conn_count", int64(0)},
		{"non_mtls_local_conn_count", int64(0)},
	}
	if s.role != nil {
		for _, e := range s.role.Metrics() {
			// the role's gauges are numbers but for peer_state
			var v any = e[1]
			if n, err := strconv.ParseInt(e[1], 10, 64); err == nil {
				v = n
			}
			kv = append(kv, KV{e[0], v})
		}
	}
	return kv
}

// mode is the Mode srvr and stat show.
func (s *Server) mode() string {
	if s.role == nil {
		return "standalone"
	}
	return s.role.Mode()
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// javaDouble formats v as Java's Double.toString does: plain decimal with
// at least one fractional digit for 1e-3 <= |v| < 1e7, otherwise
// computerized scientific notation ("1.0E-4").
func javaDouble(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Infinity"
	case math.IsInf(v, -1):
		return "-Infinity"
	case v == 0:
		if math.Signbit(v) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(v); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(v, 'E', -1, 64) // e.g. 1.5E-04, 1E+07
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}
