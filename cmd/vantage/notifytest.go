package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/round"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/receiver"
	"github.com/vantage-monitor/vantage/notify/render"
)

type notifyTestOptions struct {
	config   string
	openOnly bool
	timeout  time.Duration
}

func defineNotifyTestFlags(fs *flag.FlagSet, o *notifyTestOptions) {
	fs.StringVar(&o.config, "config", config.DefaultPath(), "the TOML watchlist `file` that defines the receiver")
	fs.BoolVar(&o.openOnly, "open-only", false, "send only the sample DOWN, not the follow-up RESOLVED")
	durationVar(fs, &o.timeout, "timeout", 30*time.Second, "bound on each send")
}

func runNotifyTest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("notify-test")
	var o notifyTestOptions
	defineNotifyTestFlags(fs, &o)
	path, openOnly, timeout := &o.config, &o.openOnly, &o.timeout
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "vantage notify-test: %v\nRun 'vantage notify-test -h' for usage.\n", err)
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "vantage notify-test: name one receiver")
		fmt.Fprintln(stderr, "Run 'vantage notify-test -h' for usage.")
		return exitUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		printConfigError(stderr, "vantage notify-test", err)
		return exitFailed
	}
	r := cfg.Receiver(pos[0])
	if r == nil {
		var names []string
		for _, rc := range cfg.Receivers {
			names = append(names, rc.Name)
		}
		fmt.Fprintf(stderr, "vantage notify-test: %s has no receiver %q (it has: %v)\n", *path, pos[0], names)
		return exitFailed
	}
	secrets := redact.New(cfg.Secrets())
	logger := slog.New(redact.NewHandler(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}), secrets.String))
	n, err := receiver.New(r, receiver.Options{Logger: logger, Redact: secrets.String})
	if err != nil {
		fmt.Fprintf(stderr, "vantage notify-test: %v\n", secrets.String(err.Error()))
		return exitFailed
	}
	open, resolve := sampleAlert(r.Name, time.Now())
	fmt.Fprintf(stdout, "receiver %s (%s)\n", r.Name, describeReceiver(r))

	ref, ok := sendOne(ctx, n, &open, "", *timeout, stdout)
	if !ok {
		return exitFailed
	}
	if *openOnly {
		return exitOK
	}
	if _, ok := sendOne(ctx, n, &resolve, ref, *timeout, stdout); !ok {
		return exitFailed
	}
	return exitOK
}

// sendOne sends msg and says what happened in an operator's words.
func sendOne(ctx context.Context, n notify.Notifier, msg *notify.Message, ref string, timeout time.Duration, out io.Writer) (string, bool) {
	fmt.Fprintf(out, "sending %s: %s\n", msg.Event, render.Title(msg))
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	newRef, err := n.Notify(cctx, msg, ref)
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		if p, ok := notify.IsPermanent(err); ok {
			fmt.Fprintf(out, "  FAILED after %s, permanently (%s): %v\n  The daemon would not retry this; fix the receiver's settings.\n", took, p.Reason, err)
		} else if ra, ok := notify.IsRetryAfter(err); ok {
			fmt.Fprintf(out, "  RATE LIMITED after %s: retry after %s. The daemon would wait and retry.\n", took, ra.After)
		} else {
			fmt.Fprintf(out, "  FAILED after %s (temporary): %v\n  The daemon would retry with backoff.\n", took, err)
		}
		return "", false
	}
	if newRef == "" {
		newRef = ref
	}
	if newRef != "" {
		fmt.Fprintf(out, "  delivered in %s (message %s)\n", took, newRef)
	} else {
		fmt.Fprintf(out, "  delivered in %s\n", took)
	}
	return newRef, true
}

func describeReceiver(r *config.Receiver) string {
	switch {
	case r.Type == config.ReceiverSlack && r.Token.Reveal() != "":
		return "slack bot, channel " + r.Channel
	case r.Type == config.ReceiverSlack:
		return "slack incoming webhook"
	case r.Type == config.ReceiverEmail:
		return fmt.Sprintf("email via %s (%s), to %v", r.SMTP, r.TLS, r.To)
	}
	return r.Type
}

// sampleAlert is a realistic test incident: a 502 from nginx whose
// upstream refuses, seen from every vantage, and its recovery.
func sampleAlert(receiverName string, now time.Time) (open, resolve notify.Message) {
	now = now.UTC().Truncate(time.Second)
	// The sample goes through the same last step as every round, so its
	// fixes are chosen as a real alert's are.
	res := round.Conclude(result.Outcome{Result: result.Result{
		URL: "https://shop.example.com/healthz", Class: result.ClassBadGateway, Status: 502,
		Gateway: "nginx", Detail: "upstream-refused", RemoteAddr: "203.0.113.10:443", StartedAt: result.TimeOf(now),
		Phases:   result.Phases{DNSMs: 3.1, ConnectMs: 11.4, TLSMs: 24.9, TTFBMs: 41.7, TotalMs: 42.3},
		Evidence: result.Evidence{Headers: []string{"Server: nginx/1.22.1"}, Body: "<center><h1>502 Bad Gateway</h1></center>", Markers: []string{"server: nginx"}},
	}, Scope: result.ScopeEveryone}, incident.SeverityCritical).Outcome
	key := fmt.Sprintf("test:%s@%s", receiverName, now.Format(time.RFC3339))
	open = notify.Message{
		Key: key + "/open", Event: incident.NotifyOpen, Receiver: receiverName, Kind: incident.KindTarget,
		Monitor: "shop (test alert)", URL: res.URL, Severity: incident.SeverityCritical, Scope: result.ScopeEveryone,
		Class: res.Class, Gateway: res.Gateway, Status: res.Status, Detail: res.Detail,
		OpenedAt: now.Add(-2 * time.Minute), At: now, Result: &res, Fixes: res.Fixes, Test: true,
	}
	resolve = open
	resolve.Key, resolve.Event = key+"/resolve", incident.NotifyResolve
	resolve.ResolvedAt, resolve.Resolution, resolve.Fixes = now, "recovered", nil
	return open, resolve
}
