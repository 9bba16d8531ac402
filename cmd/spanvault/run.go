package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spanvault/spanvault/appliance"
	"github.com/spanvault/spanvault/appliance/config"
)

func init() {
	register("run", "run the appliance daemon (the default when no command is given)", cmdRun)
}

func defaultConfig() string { return config.DefaultPath }

func cmdRun(args []string, stdout io.Writer) error {
	fs := newFlags("run")
	path := fs.String("config", config.DefaultPath, "configuration file")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.Log.Level]
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	a, err := appliance.New(cfg, appliance.Options{Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return a.Run(ctx)
}
