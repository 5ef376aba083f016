// Package receiver builds the notifier a configured [[receiver]] names: the
// one place that knows which receiver type is which client, shared by the
// daemon and `vantage notify-test` so that a test alert goes through
// exactly the code a real one does.
package receiver

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/email"
	"github.com/vantage-monitor/vantage/notify/slack"
)

// Options are what the clients share.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// HTTPClient is Slack's transport; nil is a fresh bounded client.
	HTTPClient *http.Client
	// RootCAs verifies SMTP servers; nil is the system pool.
	RootCAs *x509.CertPool
	// Redact hides the config's secrets in what is sent and in errors.
	Redact func(string) string
}

// New builds the notifier of r.
func New(r *config.Receiver, opts Options) (notify.Notifier, error) {
	switch r.Type {
	case config.ReceiverSlack:
		return slack.New(r, slack.Options{HTTPClient: opts.HTTPClient, Logger: opts.Logger, Now: opts.Now, Redact: opts.Redact})
	case config.ReceiverEmail:
		roots := opts.RootCAs
		if r.CAPool != nil { // the receiver's ca_file, loaded by the config
			roots = r.CAPool
		}
		return email.New(r, email.Options{Logger: opts.Logger, RootCAs: roots, Now: opts.Now, Redact: opts.Redact})
	}
	return nil, fmt.Errorf("receiver %q: unknown type %q (want %q or %q)", r.Name, r.Type, config.ReceiverSlack, config.ReceiverEmail)
}
