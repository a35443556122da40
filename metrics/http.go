package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/config"
)

// Handler serves the registry at /metrics in the Prometheus text format
// (GET and HEAD; other methods get 405, other paths 404), as ZooKeeper's
// provider does with its servlet at /metrics.
func (m *Metrics) Handler(log *zap.Logger) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	prom := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            zapErrorLog{log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		prom.ServeHTTP(w, r)
	})
	return mux
}

type zapErrorLog struct{ l *zap.Logger }

func (z zapErrorLog) Println(v ...any) { z.l.Sugar().Warnln(append([]any{"metrics:"}, v...)...) }

// Server is the running /metrics endpoint.
type Server struct {
	m    *Metrics
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
	log  *zap.Logger
}

// Listen binds addr and serves m's /metrics on it until Close.
func Listen(m *Metrics, addr string, log *zap.Logger) (*Server, error) {
	if log == nil {
		log = zap.NewNop()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{m: m, ln: ln, log: log, done: make(chan struct{})}
	s.srv = &http.Server{
		Handler:           s.m.Handler(log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          zap.NewStdLog(log.Named("metrics-http")),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics endpoint stopped", zap.Error(err))
		}
	}()
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops the endpoint (in-flight scrapes get a second to finish).
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.done
	return err
}

// Start builds the metrics a zoo.cfg asks for, makes them the process's
// Default and serves them. It returns nil, nil when the configuration does
// not name ZooKeeper's Prometheus provider.
func Start(cfg *config.Config, log *zap.Logger) (*Server, error) {
	mc := cfg.Metrics
	if !mc.Enabled() {
		return nil, nil
	}
	m := New(Options{Runtime: !mc.NoRuntimeInfo})
	srv, err := Listen(m, mc.Addr(), log)
	if err != nil {
		return nil, err
	}
	SetDefault(m)
	log.Info("serving Prometheus metrics", zap.String("address", srv.Addr().String()),
		zap.Bool("runtime", !mc.NoRuntimeInfo))
	return srv, nil
}
