package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/vantage-monitor/vantage/cmd/vantage/internal/logging"
	"github.com/vantage-monitor/vantage/cmd/vantage/internal/sdnotify"
	"github.com/vantage-monitor/vantage/monitor/agent"
)

// agentOptions are the parsed flags of `vantage agent`.
type agentOptions struct {
	cfg    agent.Config
	genKey bool
	debug  bool
}

// agentFlagValues are the flags of `vantage agent` as given; the ones
// given win over the --config file's settings.
type agentFlagValues struct {
	o          agentOptions
	cfg        agent.Config
	configPath string
}

func defineAgentFlags(fs *flag.FlagSet, v *agentFlagValues) {
	fs.StringVar(&v.configPath, "config", "", "read these settings from a TOML `file` (flags given too override it)")
	fs.StringVar(&v.cfg.Listen, "listen", "", "`address` to listen on, e.g. 0.0.0.0:9208")
	fs.StringVar(&v.cfg.KeyFile, "key-file", "", "`file` with the shared key(s), one per line, hex or base64 (several lines: key rotation)")
	fs.StringVar(&v.cfg.TLSCert, "tls-cert", "", "serve HTTPS with this certificate `file` (PEM)")
	fs.StringVar(&v.cfg.TLSKey, "tls-key", "", "private key `file` of --tls-cert (PEM)")
	fs.BoolVar(&v.cfg.RefusePrivate, "refuse-private", false, "refuse private, loopback, link-local and other non-public destinations, and this host's own addresses")
	fs.IntVar(&v.cfg.MaxConcurrency, "max-concurrency", agent.DefaultMaxConcurrency, "probes running at once; more get 503")
	fs.Float64Var(&v.cfg.Rate, "rate", agent.DefaultRate, "probes per second; more get 429")
	fs.IntVar(&v.cfg.Burst, "burst", 0, "probes allowed in a burst above --rate (default: max(--max-concurrency, --rate))")
	fs.BoolVar(&v.o.genKey, "gen-key", false, "print a new random key for a key file and exit")
	fs.BoolVar(&v.o.debug, "debug", false, "log at debug level (includes probed URLs)")
}

func parseAgentFlags(args []string, _ io.Writer) (agentOptions, error) {
	fs := newFlagSet("agent")
	var v agentFlagValues
	defineAgentFlags(fs, &v)
	if err := fs.Parse(args); err != nil {
		return v.o, err
	}
	o, flags, configPath := v.o, &v.cfg, &v.configPath
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.genKey {
		return o, nil
	}
	if *configPath != "" {
		c, err := agent.LoadConfig(*configPath)
		if err != nil {
			return o, err
		}
		o.cfg = c
	}
	if o.cfg.MaxConcurrency == 0 {
		o.cfg.MaxConcurrency = agent.DefaultMaxConcurrency
	}
	if o.cfg.Rate == 0 {
		o.cfg.Rate = agent.DefaultRate
	}
	// Flags given on the command line win over the file.
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			o.cfg.Listen = flags.Listen
		case "key-file":
			o.cfg.KeyFile = flags.KeyFile
		case "tls-cert":
			o.cfg.TLSCert = flags.TLSCert
		case "tls-key":
			o.cfg.TLSKey = flags.TLSKey
		case "refuse-private":
			o.cfg.RefusePrivate = flags.RefusePrivate
		case "max-concurrency":
			o.cfg.MaxConcurrency = flags.MaxConcurrency
		case "rate":
			o.cfg.Rate = flags.Rate
		case "burst":
			o.cfg.Burst = flags.Burst
		}
	})
	var problems []string
	if o.cfg.Listen == "" {
		problems = append(problems, "--listen (or listen in the config) is required")
	}
	if o.cfg.KeyFile == "" {
		problems = append(problems, "--key-file (or key_file in the config) is required; make one with `vantage agent --gen-key`")
	}
	if (o.cfg.TLSCert == "") != (o.cfg.TLSKey == "") {
		problems = append(problems, "--tls-cert and --tls-key go together")
	}
	if o.cfg.MaxConcurrency <= 0 {
		problems = append(problems, "--max-concurrency must be positive")
	}
	if o.cfg.Rate <= 0 {
		problems = append(problems, "--rate must be positive")
	}
	if o.cfg.Burst < 0 {
		problems = append(problems, "--burst must not be negative")
	}
	if len(problems) > 0 {
		return o, errors.New(strings.Join(problems, "\n"))
	}
	return o, nil
}

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseAgentFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "vantage agent: %s\n", line)
		}
		fmt.Fprintln(stderr, "Run 'vantage agent -h' for usage.")
		return exitUsage
	}
	if o.genKey {
		fmt.Fprintln(stdout, agent.GenerateKey())
		return exitOK
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	log, _ := logging.New(stderr, logging.Options{Level: level})
	if err := serveAgent(ctx, o.cfg, log, sdnotify.FromEnv(os.Getenv)); err != nil {
		fmt.Fprintf(stderr, "vantage agent: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// serveAgent runs the agent until ctx ends.
// notifier (nil outside systemd) hears READY=1 once the listener is bound.
func serveAgent(ctx context.Context, cfg agent.Config, log *slog.Logger, notifier *sdnotify.Notifier) error {
	keys, err := agent.ReadKeyFile(cfg.KeyFile)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(cfg.KeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the key file is readable by other users; chmod 600 it", "file", cfg.KeyFile, "mode", fi.Mode().Perm().String())
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = agent.KeyID(k)
	}
	srv, err := agent.NewServer(agent.Options{
		Keys:           keys,
		RefusePrivate:  cfg.RefusePrivate,
		MaxConcurrency: cfg.MaxConcurrency,
		Rate:           cfg.Rate,
		Burst:          cfg.Burst,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	var tlsConf *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("loading the TLS certificate: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	scheme := "http"
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
		scheme = "https"
	} else {
		log.Warn("serving plain HTTP: requests are signed, but the probed URLs and results travel in the clear; use -tls-cert and -tls-key across networks")
	}
	log.Info("agent listening", "addr", ln.Addr().String(), "scheme", scheme, "keys", strings.Join(ids, ","),
		"refuse_private", cfg.RefusePrivate, "max_concurrency", cfg.MaxConcurrency, "rate", cfg.Rate)
	warnNotify := func(err error) {
		if err != nil {
			log.Warn("cannot notify systemd", "err", err)
		}
	}
	warnNotify(notifier.Status("listening on " + ln.Addr().String()))
	warnNotify(notifier.Ready())
	if interval, ok, err := sdnotify.WatchdogInterval(os.Getenv); err != nil {
		log.Warn("systemd watchdog not fed", "err", err)
	} else if ok {
		// The agent has no scheduler to watch: the pings prove the process
		// still runs goroutines.
		go notifier.RunWatchdog(ctx, interval, func() bool { return true }, warnNotify)
	}
	stopping := context.AfterFunc(ctx, func() { warnNotify(notifier.Stopping()) })
	defer stopping()
	err = srv.Serve(ctx, ln)
	log.Info("agent stopped")
	return err
}
