package main

import (
	"go.uber.org/zap"

	"github.com/zkserver/zkserver/admin"
	"github.com/zkserver/zkserver/config"
)

// startAdmin starts the AdminServer when admin.enableServer allows and
// returns its stop function. As in ZooKeeper, a port that cannot be bound
// is logged and the server runs on without it.
func startAdmin(cfg *config.Config, configPath string, src admin.Source, log *zap.Logger) func() {
	if !cfg.Admin.Enabled() {
		log.Info("AdminServer disabled (admin.enableServer=false)")
		return func() {}
	}
	a := admin.New(admin.Options{Config: cfg, ConfigPath: configPath, Source: src, Logger: log.Named("admin")})
	if err := a.Start(); err != nil {
		log.Warn("AdminServer not started", zap.Error(err))
		return func() {}
	}
	return func() { a.Close() }
}
