package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/vantage-monitor/vantage/monitor/web"
)

// servePublic starts the [status_page] listener, when the config has one:
// the pages and badges of the monitors it shows, and nothing else (no API,
// no metrics, no URLs or error texts). Which monitors it shows follows
// reloads; its address is the one it started with.
func (d *Daemon) servePublic(serveErr chan<- error) error {
	sp := d.config().StatusPage
	if sp.Listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", sp.Listen)
	if err != nil {
		return fmt.Errorf("binding [status_page] listen address %s: %w", sp.Listen, err)
	}
	d.publicAddr.Store(tcpAddr(ln.Addr()))
	shows := func(v *web.MonitorView) bool {
		cfg := d.config()
		mc := cfg.Monitor(v.Name)
		return mc != nil && cfg.StatusPage.Shows(mc)
	}
	h := web.Handler(d, nil, d.log, web.WithRedact(d.opts.Redact.String), web.WithPublic(func() string { return d.config().StatusPage.Title }, shows), web.WithClock(d.clock.Now))
	srv := &http.Server{
		Handler:           web.AllowHosts(h, hostsOf(sp.Listen, func() []string { return d.config().StatusPage.Hostnames })),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("public status page: %w", err)
		}
	}()
	d.down.Push("stopping the public status page", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})
	d.log.Info("public status page", "listen", ln.Addr().String())
	return nil
}

// PublicAddr is the bound [status_page] address, nil without one.
func (d *Daemon) PublicAddr() *net.TCPAddr { return d.publicAddr.Load() }

func tcpAddr(a net.Addr) *net.TCPAddr {
	t, _ := a.(*net.TCPAddr)
	return t
}
