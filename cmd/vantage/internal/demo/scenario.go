// Package demo builds the world `vantage demo` monitors: on loopback only, a
// healthy site, an nginx-like gateway whose upstream is dead (502), one
// whose upstream is too slow (504), a refused port, a name that does not
// resolve, a canary, and two real in-process agents (one of them with a
// broken resolver), plus the watchlist that points the real daemon at them
// and a notifier that prints the alerts instead of sending them. It exists
// so that the demo command stays a thin driver of the real pipeline.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/resolver"
)

// The scenario monitors and vantages.
const (
	Healthy = "healthy" // a site that answers 200 with its content
	Shop    = "shop"    // behind nginx whose upstream is down: 502
	API     = "api"     // behind nginx whose upstream is too slow: 504
	Billing = "billing" // nothing listens on its port: refused
	Docs    = "docs"    // its name does not exist: NXDOMAIN
	Fra1    = "fra1"    // a healthy remote vantage (an in-process agent)
	Sgp1    = "sgp1"    // an impaired remote vantage: its resolver fails
)

// Failing are the monitors whose targets are down in the demo.
var Failing = []string{Shop, API, Billing, Docs}

// Schedule and timing of the demo: fast enough that a whole cycle (two
// confirming rounds, the canary checks, delivery) takes a few seconds.
const (
	every          = 2 * time.Second
	probeTimeout   = 2 * time.Second
	gatewayTimeout = 300 * time.Millisecond // nginx's proxy_read_timeout, shortened
	upstreamDelay  = 10 * time.Second       // longer than any timeout above
)

// Names the demo's DNS serves. docsHost is in .invalid (RFC 6761), which
// can never exist, so even a leaked query could not resolve it.
const (
	canaryHost = "canary.demo.test"
	docsHost   = "docs.demo.invalid"
)

// World is the running scenario. Close stops everything it started.
type World struct {
	// Config is the daemon's watchlist, parsed and validated.
	Config *config.Config
	// TOML is the text Config was parsed from.
	TOML string
	// Resolver is the demo's DNS: the daemon's probes must use it.
	Resolver *net.Resolver
	// DNS is the "ip:port" of the demo's DNS server.
	DNS string

	dir     string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	servers []*http.Server
	dns     []*dnsServer
	closers []io.Closer // the reserved refused ports
}

// Options tune Start.
type Options struct {
	// StateDir is where the daemon's store goes; a directory under the
	// World's own temporary directory if empty.
	StateDir string
	// Listen is the daemon's listen address.
	Listen string
	// Logger receives the agents' logs; nil discards them.
	Logger *slog.Logger
}

// Start starts every scenario target, the DNS servers and the agents on
// 127.0.0.1 and builds the config. On error everything already started is
// stopped.
func Start(ctx context.Context, opts Options) (w *World, err error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "vantage-demo-")
	if err != nil {
		return nil, fmt.Errorf("starting the demo: %w", err)
	}
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w = &World{dir: dir, cancel: cancel}
	defer func() {
		if err != nil {
			w.Close()
			w = nil
		}
	}()
	stateDir := opts.StateDir
	if stateDir == "" {
		stateDir = filepath.Join(dir, "state")
	}
	// The config below lives in dir, and a relative state_dir is taken
	// relative to its file: --state given relative is the operator's, from
	// the working directory, not one inside dir that Close removes.
	if stateDir, err = filepath.Abs(stateDir); err != nil {
		return nil, fmt.Errorf("starting the demo: the state directory: %w", err)
	}

	// The demo's DNS knows the canary; anything else is NXDOMAIN.
	loop := netip.MustParseAddr("127.0.0.1")
	good, err := startDNS(map[string]netip.Addr{canaryHost: loop}, false)
	if err != nil {
		return nil, fmt.Errorf("starting the demo DNS server: %w", err)
	}
	w.dns = append(w.dns, good)
	w.DNS = good.Addr()
	w.Resolver = resolver.At(good.Addr())
	// sgp1's resolver is broken: every query gets SERVFAIL.
	broken, err := startDNS(nil, true)
	if err != nil {
		return nil, fmt.Errorf("starting the demo DNS server: %w", err)
	}
	w.dns = append(w.dns, broken)

	serve := func(name string, h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("starting the %s server: %w", name, err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
		w.servers = append(w.servers, srv)
		w.wg.Go(func() { _ = srv.Serve(ln) })
		return ln.Addr().String(), nil
	}
	healthy, err := serve(Healthy, page("<html><body><h1>Welcome to the healthy site</h1>All systems operational.</body></html>\n"))
	if err != nil {
		return nil, err
	}
	canary, err := serve("canary", page("ok\n"))
	if err != nil {
		return nil, err
	}
	deadUpstream, err := w.refused()
	if err != nil {
		return nil, err
	}
	shop, err := serve(Shop, nginxGateway(deadUpstream, gatewayTimeout))
	if err != nil {
		return nil, err
	}
	slow, err := serve("api upstream", slowUpstream(upstreamDelay))
	if err != nil {
		return nil, err
	}
	api, err := serve(API, nginxGateway(slow, gatewayTimeout))
	if err != nil {
		return nil, err
	}
	billing, err := w.refused()
	if err != nil {
		return nil, err
	}
	_, canaryPort, _ := net.SplitHostPort(canary)
	_, docsPort, _ := net.SplitHostPort(healthy)

	key := agent.GenerateKey()
	keyFile := filepath.Join(dir, "agent.key")
	tokenFile := filepath.Join(dir, "slack.token")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing the agents' key: %w", err)
	}
	// The token is never used: the demo prints what it would post.
	if err := os.WriteFile(tokenFile, []byte("xoxb-demo-not-a-real-token\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing the demo Slack token: %w", err)
	}
	keys, err := agent.ParseKeys(key)
	if err != nil {
		return nil, fmt.Errorf("reading the agents' key: %w", err)
	}
	startAgent := func(name string, r *net.Resolver) (string, error) {
		s, err := agent.NewServer(agent.Options{Keys: keys, Resolver: r, Logger: opts.Logger.With("agent", name), Rate: 100})
		if err != nil {
			return "", fmt.Errorf("starting agent %s: %w", name, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("starting agent %s: %w", name, err)
		}
		w.wg.Go(func() {
			if err := s.Serve(actx, ln); err != nil {
				opts.Logger.Error("demo agent stopped", "agent", name, "err", err)
			}
		})
		return ln.Addr().String(), nil
	}
	fra1, err := startAgent(Fra1, resolver.At(good.Addr()))
	if err != nil {
		return nil, err
	}
	sgp1, err := startAgent(Sgp1, resolver.At(broken.Addr()))
	if err != nil {
		return nil, err
	}

	w.TOML = fmt.Sprintf(`# The watchlist of `+"`vantage demo`"+`: every target is on 127.0.0.1.
state_dir = %[1]q
listen = %[2]q
log_level = "warn"
# The follow-up diagnosis asks the demo's DNS server too.
resolvers = [%[3]q]

[defaults]
schedule = "@every %[4]s"
timeout = "%[5]s"
confirm = 2
recover = 2
retry_delay = "500ms"
vantages = ["local", "fra1", "sgp1"]

[canary]
urls = ["http://%[6]s:%[7]s/"]
every = "%[4]s"
timeout = "1s"

[notify]
group_wait = "0s"

[[vantage]]
name = "fra1"
url = "http://%[8]s"
key_file = %[9]q

[[vantage]]
name = "sgp1"
url = "http://%[10]s"
key_file = %[9]q

[[monitor]]
name = "healthy"
url = "http://%[11]s/"
expect_body = "All systems operational"

[[monitor]]
name = "shop"
url = "http://%[12]s/cart"
tags = ["checkout"]

[[monitor]]
name = "api"
url = "http://%[13]s/v1/status"

[[monitor]]
name = "billing"
url = "http://%[14]s/"

[[monitor]]
name = "docs"
url = "http://%[15]s:%[16]s/"

[[receiver]]
name = "slack-ops"
type = "slack"
channel = "C0DEMOOPS"
token_file = %[17]q

[[receiver]]
name = "email-oncall"
type = "email"
smtp = "smtp.example.com:587"
from = "vantage@example.com"
to = ["oncall@example.com"]
`, stateDir, opts.Listen, good.Addr(), every, probeTimeout, canaryHost, canaryPort,
		fra1, keyFile, sgp1, healthy, shop, api, billing, docsHost, docsPort, tokenFile)
	cfg, err := config.Parse(filepath.Join(dir, "demo.toml"), []byte(w.TOML))
	if err != nil {
		var ve *config.ValidationError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("the demo's own config is invalid (a bug): %s", strings.Join(ve.Lines(), "; "))
		}
		return nil, fmt.Errorf("the demo's own config is invalid (a bug): %w", err)
	}
	w.Config = cfg
	return w, nil
}

// refused reserves a refused port until Close.
func (w *World) refused() (string, error) {
	addr, c, err := refusedPort()
	if err != nil {
		return "", err
	}
	w.closers = append(w.closers, c)
	return addr, nil
}

// Prober is the daemon's local prober: the real one, resolving through the
// demo's DNS.
func (w *World) Prober() *probe.Prober { return &probe.Prober{Resolver: w.Resolver} }

// Close stops the agents, the targets and the DNS servers and removes the
// temporary directory (the state directory too unless Options.StateDir
// named one elsewhere).
func (w *World) Close() {
	if w.cancel != nil {
		w.cancel()
	}
	for _, s := range w.servers {
		_ = s.Close()
	}
	w.wg.Wait()
	for _, d := range w.dns {
		_ = d.Close()
	}
	for _, c := range w.closers {
		_ = c.Close()
	}
	_ = os.RemoveAll(w.dir)
}
