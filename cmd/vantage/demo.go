package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/cmd/vantage/internal/demo"
	"github.com/vantage-monitor/vantage/cmd/vantage/internal/logging"
	"github.com/vantage-monitor/vantage/daemon"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/notify/outbox"
)

type demoOptions struct {
	listen      string
	state       string
	duration    time.Duration
	keepRunning bool
	logLevel    string
}

func defineDemoFlags(fs *flag.FlagSet, o *demoOptions) {
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "`address` where the status page listens")
	fs.StringVar(&o.state, "state", "", "keep the demo's state store in this `dir`ectory (default: a temporary one, removed at exit)")
	durationVar(fs, &o.duration, "duration", time.Minute, "stop after this long even if the cycle is not complete (exit 1 then)")
	fs.BoolVar(&o.keepRunning, "keep-running", false, "keep running after the cycle, serving the status page, until Ctrl-C (no --duration cap)")
	fs.StringVar(&o.logLevel, "log-level", "error", "daemon log `level` on stderr: debug, info, warn or error")
}

func parseDemoFlags(args []string, _ io.Writer) (demoOptions, error) {
	fs := newFlagSet("demo")
	var o demoOptions
	defineDemoFlags(fs, &o)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.duration <= 0 {
		return o, fmt.Errorf("--duration %s: must be longer than 0s", o.duration)
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return o, err
	}
	return o, nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseDemoFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "vantage demo: %v\nRun 'vantage demo -h' for usage.\n", err)
		return exitUsage
	}
	level, _ := parseLevel(o.logLevel)
	logger, _ := logging.New(stderr, logging.Options{Level: level, Getenv: func(string) string { return "" }})

	start := time.Now()
	w, err := demo.Start(ctx, demo.Options{StateDir: o.state, Listen: o.listen, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "vantage demo: %v\n", err)
		return exitFailed
	}
	defer w.Close()

	// out serialises the demo's own lines with the printed alerts.
	out := &lockedWriter{w: stdout}
	printer := demo.NewPrinter(out)
	ready := make(chan struct{})
	d, err := daemon.New(ctx, w.Config, daemon.Options{
		Logger:   logger,
		Prober:   w.Prober(),
		Resolver: w.Resolver,
		Notifier: printer.Notifier,
		Outbox:   outbox.Options{Poll: 200 * time.Millisecond},
		Ready:    func() { close(ready) },
	})
	if err != nil {
		fmt.Fprintf(stderr, "vantage demo: %v\n", err)
		return exitFailed
	}
	fmt.Fprintln(out, "vantage demo: the real daemon, on 127.0.0.1 only, checking every 2s from local, fra1 and sgp1:")
	for _, m := range w.Config.Monitors {
		fmt.Fprintf(out, "  %-8s %s\n", m.Name, m.URL)
	}
	fmt.Fprintln(out, "  (sgp1's resolver answers SERVFAIL to everything, so its canary fails: an impaired vantage)")

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(runCtx) }()

	select {
	case <-ready:
		fmt.Fprintf(out, "status page: http://%s/\n", d.Addr())
		if o.keepRunning {
			fmt.Fprintln(out, "  (up until Ctrl-C)")
		} else {
			fmt.Fprintln(out, "  (up until the cycle is done; run with --keep-running to keep it up and look at it)")
		}
		fmt.Fprintln(out, "Each alert follows once as it is sent: the email's text, then what Slack would show. Ctrl-C stops.")
	case err := <-runErr:
		fmt.Fprintf(stderr, "vantage demo: %v\n", err)
		return exitFailed
	}

	// -keep-running runs until Ctrl-C, so the cap does not apply to it.
	deadline := time.NewTimer(o.duration)
	defer deadline.Stop()
	capped := deadline.C
	if o.keepRunning {
		capped = nil
	}
	interrupted, complete := false, false
	var missing []string
wait:
	for {
		changed := printer.Changed()
		missing = printer.Missing(demo.Failing, []string{demo.Sgp1})
		if !healthyUp(ctx, d) {
			missing = append(missing, "target/"+demo.Healthy+" (up)")
		}
		if len(missing) == 0 && !complete {
			complete = true
			if !o.keepRunning {
				break wait
			}
			fmt.Fprintf(out, "\nvantage demo: full cycle done in %s; still running (-keep-running) until Ctrl-C.\n", time.Since(start).Round(100*time.Millisecond))
		}
		select {
		case <-ctx.Done():
			interrupted = true
			break wait
		case <-capped:
			break wait
		case <-changed:
		case <-time.After(250 * time.Millisecond): // the healthy monitor's state changes without a message
		}
	}
	views, _ := d.Monitors(context.WithoutCancel(ctx))
	health, _ := d.VantageHealth()
	stop()
	if err := <-runErr; err != nil {
		fmt.Fprintf(stderr, "vantage demo: the daemon stopped with an error: %v\n", err)
		return exitFailed
	}
	printer.Flush()

	fmt.Fprintln(out)
	switch {
	case interrupted:
		fmt.Fprintf(out, "vantage demo: interrupted after %s.\n", time.Since(start).Round(100*time.Millisecond))
	case complete:
		fmt.Fprintf(out, "vantage demo: one full cycle in %s: every failing scenario alerted, the healthy site is up.\n", time.Since(start).Round(100*time.Millisecond))
	default:
		fmt.Fprintf(out, "vantage demo: stopped after -duration %s before the cycle was complete; not yet seen: %s\n", o.duration, strings.Join(missing, ", "))
	}
	fmt.Fprintln(out, "Summary:")
	fmt.Fprintf(out, "  %-8s %-10s %-9s %s\n", "MONITOR", "STATE", "SCOPE", "CLASS")
	for _, v := range views {
		scope, class := "-", "-"
		if inc := v.OpenIncident; inc != nil {
			scope, class = orDash(string(inc.Scope)), string(inc.Class)
			if inc.Gateway != "" {
				class += " (gateway " + inc.Gateway + ")"
			}
		} else if v.LastResult != nil {
			class = string(v.LastResult.Class)
		}
		fmt.Fprintf(out, "  %-8s %-10s %-9s %s\n", v.Name, v.State, scope, class)
	}
	for _, h := range health.Vantages {
		line := fmt.Sprintf("  vantage %-6s %s", h.Name, h.State)
		if h.Error != "" {
			line += ": " + h.Error
		}
		fmt.Fprintln(out, line)
	}
	alerts, messages := printer.Count()
	fmt.Fprintf(out, "%d alerts printed (%d messages: each alert to each receiver).\n", alerts, messages)
	if !complete && !interrupted {
		return exitFailed
	}
	return exitOK
}

func healthyUp(ctx context.Context, d *daemon.Daemon) bool {
	views, err := d.Monitors(ctx)
	if err != nil {
		return false
	}
	for _, v := range views {
		if v.Name == demo.Healthy {
			return v.State == incident.StateUp && v.LastResult != nil && v.LastResult.OK
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// lockedWriter lets the alert printer and the demo's own lines share
// stdout without interleaving.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
