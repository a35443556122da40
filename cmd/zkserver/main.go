// Command zkserver runs a ZooKeeper-compatible coordination server.
package main

import (
	"context"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zkserver/zkserver/admin"
	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/metrics"
	"github.com/zkserver/zkserver/quorum"
	"github.com/zkserver/zkserver/server"
)

func main() {
	app := &cli.App{
		Name:  "zkserver",
		Usage: "a ZooKeeper-compatible coordination server",
		Commands: []*cli.Command{
			startCommand(),
			logCommand(),
			snapshotCommand(),
			{
				Name:  "version",
				Usage: "print the version",
				Action: func(*cli.Context) error {
					fmt.Println("zkserver", server.Version)
					return nil
				},
			},
		},
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "zkserver:", err)
		os.Exit(1)
	}
}

func newLogger(json bool, level string) (*zap.Logger, error) {
	var cfg zap.Config
	if json {
		cfg = zap.NewProductionConfig()
	} else {
		cfg = zap.NewDevelopmentConfig()
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		cfg.DisableStacktrace = true
	}
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	return cfg.Build()
}

func startCommand() *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "start a server (zoo.cfg, or --port/--data-dir for a quick start)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "path to zoo.cfg"},
			&cli.IntFlag{Name: "port", Usage: "client port (overrides clientPort)"},
			&cli.StringFlag{Name: "address", Usage: "client address (overrides clientPortAddress)"},
			&cli.StringFlag{Name: "data-dir", Usage: "data directory (overrides dataDir)"},
			&cli.BoolFlag{Name: "log-json", Usage: "log JSON instead of console text"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "pprof", Usage: "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)"},
			&cli.StringFlag{Name: "storage", Usage: "memory or pebble (overrides storageEngine)"},
		},
		Action: func(ctx *cli.Context) error {
			log, err := newLogger(ctx.Bool("log-json"), ctx.String("log-level"))
			if err != nil {
				return err
			}
			defer log.Sync()
			server.ApplyMemoryLimit(os.Getenv, "/", log) // GOMEMLIMIT from the container's limit unless set
			if addr := ctx.String("pprof"); addr != "" {
				go func() {
					if err := http.ListenAndServe(addr, nil); err != nil {
						log.Error("pprof server stopped", zap.String("address", addr), zap.Error(err))
					}
				}()
				log.Info("serving net/http/pprof", zap.String("address", addr))
			}
			var cfg *config.Config
			if path := ctx.String("config"); path != "" {
				if cfg, err = config.Load(path); err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
			} else {
				cfg = config.Default()
				cfg.ClientPortAddress = "127.0.0.1"
				cfg.Admin.SetAddress("127.0.0.1")
			}
			if ctx.IsSet("port") {
				cfg.ClientPort = ctx.Int("port")
			}
			if ctx.IsSet("address") {
				cfg.ClientPortAddress = ctx.String("address")
			}
			if ctx.IsSet("data-dir") {
				cfg.DataDir = ctx.String("data-dir")
			}
			if ctx.IsSet("storage") {
				if v := ctx.String("storage"); v == config.StorageMemory || v == config.StoragePebble {
					cfg.StorageEngine = v
				} else {
					return fmt.Errorf("--storage %q: want memory or pebble", v)
				}
			}
			if err := cfg.Resolve(); err != nil {
				return err
			}
			if cfg.Storage() == config.StoragePebble {
				server.ApplyPebbleGCPercent(os.Getenv, log) // GOGC=50 unless set
			}
			// SASL: the JAAS file's DIGEST-MD5 users (config/sasl.go)
			if err := cfg.ResolveSASL(os.Getenv); err != nil {
				return err
			}
			for k, v := range cfg.Unknown {
				log.Info("unknown configuration key (ignored)", zap.String("key", k), zap.String("value", v))
			}
			for _, w := range cfg.Warnings {
				log.Warn(w)
			}
			// metricsProvider.*: Prometheus /metrics (before recovery, so
			// its timings are recorded)
			msrv, err := metrics.Start(cfg, log)
			if err != nil {
				return fmt.Errorf("metrics endpoint %s: %w", cfg.Metrics.Addr(), err)
			}
			if msrv != nil {
				defer msrv.Close()
			}
			if cfg.Ensemble() {
				return runEnsemble(cfg, ctx.String("config"), log)
			}
			srv, err := server.OpenDurable(cfg, log)
			if err != nil {
				return err
			}
			if err := srv.Listen(); err != nil {
				return err
			}
			defer startAdmin(cfg, ctx.String("config"), admin.Static{S: srv}, log)()
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
			go func() {
				s := <-sig
				log.Info("shutting down", zap.String("signal", s.String()))
				srv.Close()
			}()
			return srv.Serve()
		},
	}
}

// runEnsemble runs this server as a member of the ensemble its zoo.cfg
// lists until SIGINT or SIGTERM.
func runEnsemble(cfg *config.Config, configPath string, log *zap.Logger) error {
	peer, err := quorum.Open(cfg, log)
	if err != nil {
		return err
	}
	defer startAdmin(cfg, configPath, peer, log)()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Info("starting as an ensemble member", zap.Int64("myid", cfg.MyID), zap.Int("servers", len(cfg.Servers)))
	err = peer.Run(ctx)
	log.Info("shut down")
	return err
}
