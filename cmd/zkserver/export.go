package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/zkserver/zkserver/config"
	"github.com/zkserver/zkserver/server"
)

func exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write the tree of a stopped server's dataDir as a ZooKeeper snapshot (OUT/version-2/snapshot.<zxid>)",
		Description: "Recovers the tree as a start would (replaying the txn log tail) and writes it so that\n" +
			"Apache ZooKeeper started with dataDir=OUT serves it. A dataDir holding a Pebble store is read\n" +
			"in pebble mode (streamed from a consistent Pebble snapshot) unless --storage says otherwise.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "zoo.cfg of the server (dataDir, dataLogDir, storageEngine)"},
			&cli.StringFlag{Name: "data-dir", Usage: "data directory (overrides dataDir)"},
			&cli.StringFlag{Name: "data-log-dir", Usage: "txn log directory (overrides dataLogDir)"},
			&cli.StringFlag{Name: "storage", Value: "auto", Usage: "auto, memory or pebble"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output `DIR` (its version-2 must be empty)"},
			&cli.BoolFlag{Name: "log-json", Usage: "log JSON instead of console text"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
		},
		Action: snapshotExportAction,
	}
}

func snapshotExportAction(ctx *cli.Context) error {
	log, err := newLogger(ctx.Bool("log-json"), ctx.String("log-level"))
	if err != nil {
		return err
	}
	defer log.Sync()
	cfg := config.Default()
	if path := ctx.String("config"); path != "" {
		if cfg, err = config.Load(path); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if ctx.IsSet("data-dir") {
		cfg.DataDir = ctx.String("data-dir")
	}
	if ctx.IsSet("data-log-dir") {
		cfg.DataLogDir = ctx.String("data-log-dir")
	}
	if cfg.DataDir == "" {
		return fmt.Errorf("--data-dir or --config is required")
	}
	switch v := ctx.String("storage"); v {
	case "auto":
		if !ctx.IsSet("config") || cfg.StorageEngine == "" {
			cfg.StorageEngine = config.StorageMemory
			if server.HasPebbleStore(cfg.DataDir) {
				cfg.StorageEngine = config.StoragePebble
			}
		}
	case config.StorageMemory, config.StoragePebble:
		cfg.StorageEngine = v
	default:
		return fmt.Errorf("--storage %q: want auto, memory or pebble", v)
	}
	res, err := server.ExportSnapshot(cfg, ctx.String("out"), log)
	if err != nil {
		return err
	}
	fmt.Fprintf(ctx.App.Writer, "%s\t%s mode\tzxid 0x%x\t%d nodes\t%d bytes\t%v\n",
		res.Path, res.Storage, res.Zxid, res.Nodes, res.Bytes, res.Took.Round(1e6))
	return nil
}
