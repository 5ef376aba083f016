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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vantage-monitor/vantage/cmd/vantage/internal/logging"
	"github.com/vantage-monitor/vantage/cmd/vantage/internal/sdnotify"
	"github.com/vantage-monitor/vantage/daemon"
	"github.com/vantage-monitor/vantage/internal/cleanup"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/schedule"
)

type runOptions struct {
	config    string
	logFormat string              // "" takes the config's log_format
	logLevel  string              // "" takes the config's log_level
	getenv    func(string) string // os.Getenv if nil; tests set NOTIFY_SOCKET and JOURNAL_STREAM
}

func defineRunFlags(fs *flag.FlagSet, o *runOptions) {
	fs.StringVar(&o.config, "config", config.DefaultPath(), "the TOML watchlist `file`")
	fs.StringVar(&o.logFormat, "log-format", "", "log `format`: text or json (default: the config's log_format, else text)")
	fs.StringVar(&o.logLevel, "log-level", "", "log `level`: debug, info, warn or error (default: the config's log_level, else info)")
}

func parseRunFlags(args []string, _ io.Writer) (runOptions, error) {
	fs := newFlagSet("run")
	var o runOptions
	defineRunFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch o.logFormat {
	case "", "text", "json":
	default:
		return o, fmt.Errorf("--log-format %q: want text or json", o.logFormat)
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
		return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", s)
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
	initial := cfg.SlogLevel()
	if o.logLevel != "" {
		initial, _ = parseLevel(o.logLevel)
	}
	getenv := o.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	// One Redactor per loaded config: the daemon swaps in the next one on
	// every reload, and the logger reads whichever is in force.
	secrets := redact.NewCurrent(redact.New(cfg.Secrets()))
	logger, level := logging.New(stderr, logging.Options{Format: format, Level: initial, Getenv: getenv, Redact: secrets.String})
	notifier := sdnotify.FromEnv(getenv)
	warnNotify := func(err error) {
		if err != nil {
			logger.Warn("cannot notify systemd", "err", err)
		}
	}
	var monitors atomic.Int64
	monitors.Store(int64(len(cfg.Monitors)))
	running := func() string { return fmt.Sprintf("running: %d monitors", monitors.Load()) }

	// What is started around the daemon is undone in reverse by one stack,
	// as the daemon undoes its own parts (internal/cleanup).
	down := cleanup.New(logger)
	defer func() { _ = down.Run() }()
	runCtx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	down.PushFunc("stopping the config reloader and the watchdog", func() {
		cancel()
		bg.Wait()
	})
	var d *daemon.Daemon
	d, err = daemon.New(ctx, cfg, daemon.Options{
		Logger: logger,
		Redact: secrets,
		Ready: func() {
			warnNotify(notifier.Status(running()))
			warnNotify(notifier.Ready())
			interval, ok, err := sdnotify.WatchdogInterval(getenv)
			if err != nil {
				logger.Warn("systemd watchdog not fed", "err", err)
			}
			if !ok || !notifier.Enabled() {
				return
			}
			// The scheduler passes at least once per tick; a LastTick that
			// stops moving means it is wedged, and systemd should restart us.
			healthy := sdnotify.Progressing(d.LastTick, time.Now, max(2*schedule.DefaultTick, interval))
			bg.Go(func() { notifier.RunWatchdog(runCtx, interval, healthy, warnNotify) })
		},
		OnReload: func(c *config.Config) {
			monitors.Store(int64(len(c.Monitors)))
			if o.logLevel == "" {
				level.Set(c.SlogLevel())
			}
		},
	})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return exitFailed
	}
	stopping := context.AfterFunc(ctx, func() { warnNotify(notifier.Stopping()) })
	down.PushFunc("unhooking the systemd stopping notice", func() { stopping() })
	bg.Go(func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading config", "file", o.config)
				warnNotify(notifier.Reloading())
				// The error is logged line by line by ReloadFile.
				if err := d.ReloadFile(runCtx, o.config); err != nil {
					warnNotify(notifier.Status(secrets.String("reload failed, still running the previous config: " + err.Error())))
				} else {
					warnNotify(notifier.Status(running()))
				}
				// READY=1 ends the reload either way: systemd waits for it.
				warnNotify(notifier.Ready())
			}
		}
	})
	err = d.Run(runCtx)
	_ = down.Run() // a failing cleanup is logged with its name
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
