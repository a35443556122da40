// Package admin is the AdminServer: ZooKeeper 3.8's HTTP interface to the
// four-letter-word style commands (JettyAdminServer and Commands). GET
// admin.commandURL lists the commands; GET admin.commandURL/<name>?k=v
// runs one (by its name or an alias) and answers ZooKeeper's JSON, always
// with status 200 and the "command" and "error" keys; methods, unknown
// paths and errors answer as Jetty does for ZooKeeper.
//
// The server state comes from a Source: a standalone server (Static) or
// an ensemble member (package quorum), whose client-facing server changes
// with its role.
package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/server"
)

// Source gives the AdminServer the state it reports.
type Source interface {
	// Server is the client-facing server (nil or not Running while an
	// ensemble member has none, e.g. during an election).
	Server() *server.Server
	// Peer describes the ensemble member; nil for a standalone server.
	Peer() *PeerState
}

// PeerState is what an ensemble member reports besides its server.
type PeerState struct {
	LeaderID int64  // the last elected leader, -1 before the first election
	ZabState string // "election", "discovery", "synchronization" or "broadcast"
	LastZxid int64  // the tree's last zxid (used when no server runs)
}

// Static is the Source of a standalone server.
type Static struct{ S *server.Server }

// Server returns the server.
func (s Static) Server() *server.Server { return s.S }

// Peer returns nil: a standalone server is no ensemble member.
func (Static) Peer() *PeerState { return nil }

// Options configure an AdminServer.
type Options struct {
	Config *config.Config
	// ConfigPath is the zoo.cfg read at start (initial_configuration
	// returns its text, as ZooKeeper does); "" for none.
	ConfigPath string
	Source     Source
	Logger     *zap.Logger
	// Monitor, if set, adds entries to the monitor command (ZooKeeper
	// adds its metrics provider's values there).
	Monitor func(put func(key string, value any))
}

// Admin is a running AdminServer.
type Admin struct {
	cfg           *config.Config
	src           Source
	log           *zap.Logger
	extra         func(put func(string, any))
	initialConfig string
	url           string

	srv  *http.Server
	ln   net.Listener
	done chan struct{}
	once sync.Once
}

// ErrTLSNotSupported is returned by Start when admin.forceHttps or
// admin.portUnification ask for TLS, which the AdminServer does not do
// yet (it will not fall back to plain HTTP).
var ErrTLSNotSupported = errors.New("admin: admin.forceHttps and admin.portUnification (TLS) are not supported")

// New builds an AdminServer; Start binds and serves it.
func New(o Options) *Admin {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	a := &Admin{cfg: o.Config, src: o.Source, log: o.Logger, extra: o.Monitor, url: o.Config.Admin.CommandURL(),
		done: make(chan struct{})}
	if o.ConfigPath != "" {
		if b, err := os.ReadFile(o.ConfigPath); err == nil {
			a.initialConfig = string(b)
		}
	}
	return a
}

// Start binds admin.serverAddress:admin.serverPort and serves in the
// background.
func (a *Admin) Start() error {
	ac := a.cfg.Admin
	if ac.ForceHTTPS() || ac.PortUnification() {
		return ErrTLSNotSupported
	}
	addr := net.JoinHostPort(ac.Address(), strconv.Itoa(ac.Port()))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("problem starting AdminServer on address %s, port %d and command URL %s: %w",
			ac.Address(), ac.Port(), a.url, err)
	}
	a.Serve(ln)
	a.log.Info("started AdminServer", zap.String("address", ac.Address()), zap.Int("port", a.Port()),
		zap.String("command_url", a.url))
	return nil
}

// Serve serves on ln in the background (Start without binding).
func (a *Admin) Serve(ln net.Listener) {
	idle := a.cfg.Admin.IdleTimeout()
	a.ln = ln
	a.srv = &http.Server{
		Handler: a,
		// Jetty's idle timeout bounds every wait on the client: a slow
		// request (slowloris) is cut after it, as is an idle keep-alive
		ReadHeaderTimeout: idle,
		ReadTimeout:       idle,
		WriteTimeout:      idle,
		IdleTimeout:       idle,
		// Jetty's default request header limit (8 KiB) answers 431
		MaxHeaderBytes: 8192,
		ErrorLog:       zap.NewStdLog(a.log.Named("http").WithOptions(zap.IncreaseLevel(zap.WarnLevel))),
	}
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("AdminServer stopped", zap.Error(err))
		}
	}()
}

// Addr is the bound address.
func (a *Admin) Addr() net.Addr { return a.ln.Addr() }

// Port is the bound port.
func (a *Admin) Port() int {
	if ta, ok := a.ln.Addr().(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

// Close stops the AdminServer and waits for it.
func (a *Admin) Close() error {
	var err error
	a.once.Do(func() {
		if a.srv == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err = a.srv.Shutdown(ctx); err != nil {
			a.srv.Close()
		}
		<-a.done
	})
	return err
}

// ServeHTTP answers as ZooKeeper's Jetty does: the command servlet at
// commandURL and below, 404 elsewhere; GET and HEAD run commands, OPTIONS
// lists the methods, TRACE is forbidden, POST/PUT/DELETE are not allowed.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", "zkserver")
	path := r.URL.Path
	var cmd string
	switch {
	case path == a.url || path == a.url+"/":
	case strings.HasPrefix(path, a.url+"/"):
		cmd = path[len(a.url)+1:]
	default:
		if r.Method == http.MethodTrace {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		jettyError(w, r, http.StatusNotFound, "Not Found")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.Header().Set("Allow", "GET, HEAD, TRACE, OPTIONS")
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodTrace:
		w.WriteHeader(http.StatusForbidden)
		return
	case http.MethodPost:
		jettyError(w, r, http.StatusMethodNotAllowed, "HTTP method POST is not supported by this URL")
		return
	case http.MethodPut, http.MethodDelete:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	default:
		jettyError(w, r, http.StatusNotImplemented, "Method "+r.Method+" is not defined in RFC 2068 and is not supported by the Servlet API")
		return
	}
	if cmd == "" {
		// no Content-Type, as ZooKeeper's listing has none
		w.Header()["Content-Type"] = nil
		var b strings.Builder
		for _, n := range PrimaryNames() {
			fmt.Fprintf(&b, "<a href=\"%s\">%s</a>\n<br/>\n", a.url+"/"+n, n)
		}
		w.Write([]byte(b.String()))
		return
	}
	args := map[string]string{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			args[k] = v[0]
		}
	}
	body := a.Run(cmd, args)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}

// jettyError writes an error page like Jetty's.
func jettyError(w http.ResponseWriter, r *http.Request, code int, msg string) {
	w.Header().Set("Content-Type", "text/html;charset=iso-8859-1")
	w.Header().Set("Cache-Control", "must-revalidate,no-cache,no-store")
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\"", "&quot;")
	fmt.Fprintf(w, "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=ISO-8859-1\"/>\n"+
		"<title>Error %d %s</title>\n</head>\n<body><h2>HTTP ERROR %d %s</h2>\n<table>\n"+
		"<tr><th>URI:</th><td>%s</td></tr>\n<tr><th>STATUS:</th><td>%d</td></tr>\n<tr><th>MESSAGE:</th><td>%s</td></tr>\n"+
		"</table>\n\n</body>\n</html>\n", code, esc.Replace(msg), code, esc.Replace(msg), esc.Replace(r.URL.Path), code, esc.Replace(msg))
}

// systemProperties stands in for the JVM's system properties: the Java
// keys that have a meaning for a Go process, and the zookeeper.* keys
// ZooKeeper would have set from zoo.cfg; sorted by key as ZooKeeper does.
func (a *Admin) systemProperties() []server.KV {
	m := a.cfg.SystemProperties()
	for _, e := range server.EnvValues() {
		switch e[0] {
		case "java.io.tmpdir", "os.name", "os.arch", "os.version", "user.dir", "user.home", "user.name", "java.version", "java.class.path":
			m[e[0]] = e[1]
		}
	}
	m["file.separator"] = string(os.PathSeparator)
	m["path.separator"] = string(os.PathListSeparator)
	m["line.separator"] = "\n"
	m["java.vendor"] = "zkserver (Go " + runtime.Version() + ")"
	if u, err := user.Current(); err == nil && m["user.name"] == "" {
		m["user.name"] = u.Username
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]server.KV, len(keys))
	for i, k := range keys {
		out[i] = server.KV{Key: k, Value: m[k]}
	}
	return out
}
