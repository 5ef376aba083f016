package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/daemon"
)

type runOptions struct {
	config    string
	logFormat string // "" takes the config's log_format
	logLevel  string // "" takes the config's log_level
}

func parseRunFlags(args []string, stderr io.Writer) (runOptions, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o runOptions
	fs.StringVar(&o.config, "config", config.DefaultPath(), "the TOML watchlist")
	fs.StringVar(&o.logFormat, "log-format", "", "log format: text or json (default: the config's log_format, else text)")
	fs.StringVar(&o.logLevel, "log-level", "", "log level: debug, info, warn or error (default: the config's log_level, else info)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: vantage run [-config FILE] [-log-format text|json] [-log-level LEVEL]")
		fmt.Fprintln(stderr, "\nRuns the monitor daemon until SIGTERM or SIGINT; SIGHUP reloads the config.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch o.logFormat {
	case "", "text", "json":
	default:
		return o, fmt.Errorf("-log-format %q: want text or json", o.logFormat)
	}
	if o.logLevel != "" {
		if _, err := parseLevel(o.logLevel); err != nil {
			return o, err
		}
	}
	return o, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("-log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func runRun(ctx context.Context, args []string, _, stderr io.Writer) int {
	o, err := parseRunFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "vantage run: %v\nRun 'vantage run -h' for usage.\n", err)
		return exitUsage
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	return runDaemon(ctx, o, stderr, hup)
}

// runDaemon loads the config and runs the daemon until ctx ends, reloading
// the config on every value from hup.
func runDaemon(ctx context.Context, o runOptions, stderr io.Writer, hup <-chan os.Signal) int {
	cfg, err := config.Load(o.config)
	if err != nil {
		printConfigError(stderr, "vantage run", err)
		return exitFailed
	}
	format := o.logFormat
	if format == "" {
		format = cfg.LogFormat
	}
	level := new(slog.LevelVar)
	level.Set(cfg.SlogLevel())
	if o.logLevel != "" {
		l, _ := parseLevel(o.logLevel)
		level.Set(l)
	}
	hopts := &slog.HandlerOptions{Level: level}
	var logger *slog.Logger
	if format == "json" {
		logger = slog.New(slog.NewJSONHandler(stderr, hopts))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, hopts))
	}

	d, err := daemon.New(ctx, cfg, daemon.Options{
		Logger: logger,
		OnReload: func(c *config.Config) {
			if o.logLevel == "" {
				level.Set(c.SlogLevel())
			}
		},
	})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return exitFailed
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	reloads := make(chan struct{})
	go func() {
		defer close(reloads)
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading config", "file", o.config)
				// The error is logged line by line by ReloadFile.
				_ = d.ReloadFile(runCtx, o.config)
			}
		}
	}()
	err = d.Run(runCtx)
	cancel()
	<-reloads
	if err != nil {
		logger.Error("daemon stopped with an error", "err", err)
		return exitFailed
	}
	return exitOK
}

// printConfigError prints every problem of an invalid config on its own line.
func printConfigError(w io.Writer, prefix string, err error) {
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		for _, line := range ve.Lines() {
			fmt.Fprintln(w, line)
		}
		fmt.Fprintf(w, "%s: the config has %d %s\n", prefix, len(ve.Errors), plural(len(ve.Errors), "error", "errors"))
		return
	}
	fmt.Fprintf(w, "%s: %v\n", prefix, err)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
