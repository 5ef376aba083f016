// Package config loads and validates vantage's TOML watchlist: the monitors,
// vantages, canaries, receivers, routes and maintenance windows. It turns the
// file into typed, defaulted values and reports every problem at once, each
// with its file, line, section and key, so the daemon and `vantage validate`
// never act on a config they only half understand.
package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config/tomlguard"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/schedule"
)

// DefaultPath is where the daemon looks for its config without -config.
func DefaultPath() string { return "/etc/vantage/vantage.toml" }

// Built-in defaults, also documented in config.example.toml.
const (
	DefaultListen         = "127.0.0.1:9207"
	DefaultSchedule       = "@every 30s"
	DefaultConfirm        = 2
	DefaultRecover        = 2
	DefaultRetryDelay     = 5 * time.Second
	DefaultRetention      = 1000
	DefaultMaxConcurrency = 256
	DefaultFlapWindow     = time.Hour
	DefaultFlapThreshold  = 6
	DefaultCanaryEvery    = time.Minute
	DefaultCanaryTimeout  = 5 * time.Second
	DefaultNotifyTimeout  = 10 * time.Second
	DefaultSMTPTimeout    = 30 * time.Second
)

// Config is a loaded, defaulted and validated watchlist.
type Config struct {
	// File is the path the config was read from.
	File string `toml:"-" json:"-"`
	// StateDir is where the store lives: the state_dir key (relative to the
	// config file's directory) or, when unset, $STATE_DIRECTORY,
	// $XDG_STATE_HOME/vantage or ~/.local/state/vantage.
	StateDir  string `toml:"state_dir" json:"state_dir"`
	Listen    string `toml:"listen" json:"listen"`
	LogLevel  string `toml:"log_level" json:"log_level"`   // debug, info, warn, error
	LogFormat string `toml:"log_format" json:"log_format"` // text, json
	// Retention is how many results are kept per monitor.
	Retention int `toml:"retention" json:"retention"`
	// RetentionAge drops results older than this; 0 keeps them by count only.
	RetentionAge time.Duration `toml:"retention_age" json:"retention_age"`
	// MaxConcurrency bounds the checks in flight at once.
	MaxConcurrency int `toml:"max_concurrency" json:"max_concurrency"`
	// Resolvers are extra DNS servers ("ip:port") the follow-up diagnosis
	// asks, besides each vantage's own resolver.
	Resolvers []string `toml:"resolvers" json:"resolvers"`

	Web Web `toml:"web" json:"web"`
	// PublicURL is where people reach this daemon's pages (e.g.
	// "https://vantage.example.com"): alerts link to PublicURL/monitors/NAME.
	// Empty: no links.
	PublicURL string `toml:"public_url" json:"public_url,omitempty"`
	// API is [api]: the control API (silences, ack, re-check).
	API API `toml:"api" json:"api"`
	// History is [history]: what is kept about the past besides results.
	History History `toml:"history" json:"history"`
	// StatusPage is [status_page]: the optional page for the public.
	StatusPage StatusPage `toml:"status_page" json:"status_page"`

	Defaults    Monitor       `toml:"defaults" json:"defaults"`
	Monitors    []Monitor     `toml:"monitor" json:"monitors"`
	Vantages    []Vantage     `toml:"vantage" json:"vantages"`
	Canary      Canary        `toml:"canary" json:"canary"`
	Notify      Notify        `toml:"notify" json:"notify"`
	Receivers   []Receiver    `toml:"receiver" json:"receivers"`
	Routes      []Route       `toml:"route" json:"routes"`
	Maintenance []Maintenance `toml:"maintenance" json:"maintenance"`
}

// API is the [api] table: where the state-changing control API is served.
// It is always served on a Unix socket (mode 0660, group SocketGroup);
// with TokenFile, also on the HTTP listener behind that bearer token.
type API struct {
	// Socket is the control socket's path; empty: $RUNTIME_DIRECTORY/control.sock
	// when systemd gives one, else control.sock in the state directory.
	Socket string `toml:"socket" json:"socket,omitempty"`
	// SocketGroup is the group that may use the socket (chgrp); empty
	// keeps the daemon's own group.
	SocketGroup string `toml:"socket_group" json:"socket_group,omitempty"`
	// TokenFile holds the bearer token that unlocks the control API on
	// the HTTP listener; empty: not served there. Relative to the config
	// file's directory. Token is its content, read at load.
	TokenFile string `toml:"token_file" json:"token_file,omitempty"`
	Token     Secret `toml:"-" json:"-"`
}

// Web is the [web] table: who may reach the HTTP surface on listen.
type Web struct {
	// Hostnames are the names (or addresses) besides loopback and the
	// listen address that requests may carry in their Host header; any
	// other Host is refused, so a browser tricked by DNS rebinding into
	// sending the page's requests here gets nothing. Lower-cased at load.
	Hostnames []string `toml:"hostnames" json:"hostnames,omitempty"`
	// ConfigFile is a Prometheus web configuration file (TLS, basic auth),
	// as github.com/prometheus/exporter-toolkit reads it; relative to the
	// config file's directory. Empty serves plain HTTP to everyone.
	ConfigFile string `toml:"config_file" json:"config_file,omitempty"`
	// Auth is true when ConfigFile asks for credentials: basic_auth_users,
	// or client certificates verified against client_ca_file.
	Auth bool `toml:"-" json:"auth"`
}

// Monitor is one [[monitor]] with the [defaults] and built-in defaults
// applied: every field holds its effective value.
type Monitor struct {
	Name     string        `toml:"name" json:"name"`
	URL      string        `toml:"url" json:"url"`
	Schedule schedule.Spec `toml:"schedule" json:"schedule"`
	Timeout  time.Duration `toml:"timeout" json:"timeout"`

	Method          string            `toml:"method" json:"method"`
	Headers         map[string]string `toml:"headers" json:"headers,omitempty"`
	Body            string            `toml:"body" json:"body,omitempty"`
	ExpectStatus    probe.StatusSet   `toml:"expect_status" json:"expect_status"`
	ExpectBody      string            `toml:"expect_body" json:"expect_body,omitempty"`
	ExpectRegex     string            `toml:"expect_regex" json:"expect_regex,omitempty"`
	FollowRedirects bool              `toml:"follow_redirects" json:"follow_redirects"`
	MaxRedirects    int               `toml:"max_redirects" json:"max_redirects"`
	Insecure        bool              `toml:"insecure" json:"insecure"`
	MaxBody         int64             `toml:"max_body,size" json:"max_body"`
	IPVersion       int               `toml:"ip_version" json:"ip_version"`
	Resolve         []string          `toml:"resolve" json:"resolve,omitempty"`
	// BasicAuth and HeaderFiles are credentials read from files at load;
	// HeaderFiles maps a header name to the file holding its value, read
	// into HeaderSecrets (by canonical header name).
	BasicAuth     BasicAuth         `toml:"basic_auth" json:"basic_auth,omitzero"`
	HeaderFiles   map[string]string `toml:"header_files" json:"header_files,omitempty"`
	HeaderSecrets map[string]Secret `toml:"-" json:"-"`

	Tags          []string      `toml:"tags" json:"tags,omitempty"`
	Description   string        `toml:"description" json:"description,omitempty"`
	Confirm       int           `toml:"confirm" json:"confirm"`
	Recover       int           `toml:"recover" json:"recover"`
	RetryDelay    time.Duration `toml:"retry_delay" json:"retry_delay"`
	FlapWindow    time.Duration `toml:"flap_window" json:"flap_window"`
	FlapThreshold int           `toml:"flap_threshold" json:"flap_threshold"`
	// Severity is an incident's severity when the target is down for
	// everyone; down from some vantages only is one step lower.
	Severity incident.Severity `toml:"severity" json:"severity"`
	// Vantages are the names this monitor probes from, "local" included;
	// every configured vantage when the monitor does not say.
	Vantages []string `toml:"vantages" json:"vantages"`
	// Origin is probed directly when the target answers with a gateway error.
	Origin string `toml:"origin" json:"origin,omitempty"`
	// CAFile is a PEM file of the CAs that verify this monitor's server
	// (a private CA), relative to the config file's directory; CAPEM is
	// its content, read and checked at load.
	CAFile string `toml:"ca_file" json:"ca_file,omitempty"`
	CAPEM  string `toml:"-" json:"-"`
	// ExpectJSON are JSONPath assertions on the body, compiled at load;
	// ExpectHeader maps a header to a substring (or "~regex") its value
	// must have.
	ExpectJSON   []probe.JSONAssertion `toml:"expect_json" json:"expect_json,omitempty"`
	ExpectHeader map[string]string     `toml:"expect_header" json:"expect_header,omitempty"`

	// CertWarnDays are the days-left thresholds of the certificate warning,
	// sorted from the largest down and without repeats; empty turns the
	// warning off. DefaultCertWarnDays when neither the monitor nor
	// [defaults] sets it.
	CertWarnDays []int `toml:"cert_warn_days" json:"cert_warn_days"`
	// Degraded are the slowness thresholds; DegradedRounds the rounds in a
	// row over one before the monitor counts as degraded.
	Degraded       Degraded `toml:"degraded" json:"degraded,omitzero"`
	DegradedRounds int      `toml:"degraded_rounds" json:"degraded_rounds"`

	// Plan is Spec compiled once at load, what a round probes with; nil
	// only on [defaults] and on a Monitor not made by Load.
	Plan *probe.Plan `toml:"-" json:"-"`

	// Line is where the [[monitor]] block starts.
	Line int `toml:"-" json:"-"`
}

// defaultableKeys are the monitor keys [defaults] may set.
var defaultableKeys = []string{
	"schedule", "timeout", "method", "headers", "expect_status", "follow_redirects",
	"max_redirects", "insecure", "max_body", "ip_version", "confirm", "recover",
	"retry_delay", "flap_window", "flap_threshold", "severity", "vantages",
	"ca_file", "expect_json", "expect_header", "cert_warn_days", "degraded", "degraded_rounds",
}

// DefaultCertWarnDays are the certificate warning's thresholds when neither
// the monitor nor [defaults] sets cert_warn_days; DefaultDegradedRounds is
// degraded_rounds'.
var DefaultCertWarnDays = []int{21, 7, 2}

// DefaultDegradedRounds is degraded_rounds when unset.
const DefaultDegradedRounds = 3

// Degraded is a monitor's degraded table: a threshold on the total and on
// each phase (result.AllPhases), 0 for none. A round of a healthy vantage
// over any of them is a slow round.
type Degraded struct {
	Total    time.Duration `toml:"total" json:"total,omitempty"`
	DNS      time.Duration `toml:"dns" json:"dns,omitempty"`
	Connect  time.Duration `toml:"connect" json:"connect,omitempty"`
	TLS      time.Duration `toml:"tls" json:"tls,omitempty"`
	TTFB     time.Duration `toml:"ttfb" json:"ttfb,omitempty"`
	Transfer time.Duration `toml:"transfer" json:"transfer,omitempty"`
}

// Of is the threshold of a phase (a result.Phase* name), 0 when unset.
func (d Degraded) Of(phase string) time.Duration {
	switch phase {
	case result.PhaseDNS:
		return d.DNS
	case result.PhaseConnect:
		return d.Connect
	case result.PhaseTLS:
		return d.TLS
	case result.PhaseTTFB:
		return d.TTFB
	case result.PhaseTransfer:
		return d.Transfer
	case result.PhaseTotal:
		return d.Total
	}
	return 0
}

// Set reports whether any threshold is set.
func (d Degraded) Set() bool { return d != Degraded{} }

// Spec returns the request part of the monitor, as the probe takes it.
func (m *Monitor) Spec() probe.Spec {
	s := probe.Spec{
		URL:          m.URL,
		Method:       m.Method,
		Body:         m.Body,
		Timeout:      m.Timeout,
		ExpectStatus: append(probe.StatusSet(nil), m.ExpectStatus...),
		ExpectBody:   m.ExpectBody,
		ExpectRegex:  m.ExpectRegex,
		MaxBody:      m.MaxBody,
		NoFollow:     !m.FollowRedirects,
		MaxRedirects: m.MaxRedirects,
		Insecure:     m.Insecure,
		Resolve:      append([]string(nil), m.Resolve...),
		IPVersion:    m.IPVersion,
		CAPEM:        m.CAPEM,
		ExpectJSON:   append([]probe.JSONAssertion(nil), m.ExpectJSON...),
	}
	if len(m.ExpectHeader) > 0 {
		s.ExpectHeader = make(map[string]string, len(m.ExpectHeader))
		for k, v := range m.ExpectHeader {
			s.ExpectHeader[k] = v
		}
	}
	if len(m.Headers) > 0 {
		s.Headers = make(map[string]string, len(m.Headers))
		for k, v := range m.Headers {
			s.Headers[k] = v
		}
	}
	m.addCredentials(&s)
	return s
}

// Settings maps the monitor onto its target incident machine's settings.
// In the config 0 turns the early re-check and flap detection off; in
// incident.Settings that is a negative value (0 means the default). The
// warning machines start from these (monitor/warning).
func (m *Monitor) Settings() incident.Settings {
	s := incident.Settings{
		Confirm:     m.Confirm,
		Recover:     m.Recover,
		RetryDelay:  m.RetryDelay,
		FlapChanges: m.FlapThreshold,
		FlapWindow:  m.FlapWindow,
	}
	if s.RetryDelay == 0 {
		s.RetryDelay = -1
	}
	if s.FlapChanges == 0 {
		s.FlapChanges = -1
	}
	return s
}

// OriginSpec returns the spec for probing the origin: the monitor's request
// aimed at Origin, or false when the monitor has none.
func (m *Monitor) OriginSpec() (probe.Spec, bool) {
	if m.Origin == "" {
		return probe.Spec{}, false
	}
	s := m.Spec()
	s.URL = m.Origin
	return s, true
}

// HasTag reports whether the monitor carries tag.
func (m *Monitor) HasTag(tag string) bool {
	for _, t := range m.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Vantage is a remote `vantage agent` the coordinator probes through.
type Vantage struct {
	Name    string `toml:"name" json:"name"`
	URL     string `toml:"url" json:"url"`
	KeyFile string `toml:"key_file" json:"key_file,omitempty"`
	KeyEnv  string `toml:"key_env" json:"key_env,omitempty"`
	// CAFile verifies an agent with a private CA's certificate (PEM).
	CAFile   string `toml:"ca_file" json:"ca_file,omitempty"`
	Insecure bool   `toml:"insecure" json:"insecure"`
	// Timeout bounds a call to the agent beyond the probe's own timeout;
	// 0 means the monitor's timeout plus a small margin.
	Timeout time.Duration `toml:"timeout" json:"timeout"`

	// Key is the shared HMAC key, read from KeyFile or KeyEnv.
	Key Secret `toml:"-" json:"key"`
	// CAPool holds the certificates of CAFile, loaded once at load; nil
	// without CAFile (the system roots).
	CAPool *x509.CertPool `toml:"-" json:"-"`
	Line   int            `toml:"-" json:"-"`
}

// Canary is the [canary] table: URLs that are up whenever the network is,
// used to tell a vantage's own trouble from a target's.
type Canary struct {
	URLs    []string      `toml:"urls" json:"urls"`
	Every   time.Duration `toml:"every" json:"every"`
	Timeout time.Duration `toml:"timeout" json:"timeout"`
}

// Notify is the [notify] table: how the outbox delivers and groups.
type Notify struct {
	// GroupWait delays an opening alert that may share a cause with others
	// (the same gateway address, the same DNS failure) so that monitors
	// failing together are sent as one grouped message; 0 sends at once.
	GroupWait time.Duration `toml:"group_wait" json:"group_wait"`
	// GroupMin is how many such alerts make a group.
	GroupMin int `toml:"group_min" json:"group_min"`
	// MaxAttempts bounds the attempts at one notification before it is
	// marked failed (a rate limit's Retry-After is not an attempt).
	MaxAttempts int `toml:"max_attempts" json:"max_attempts"`
	// MaxRetryAfter caps how long a receiver's Retry-After is honoured: a
	// receiver that asks for longer is tried again after this and shown
	// degraded, so one answer cannot hold its alerts back for a day.
	MaxRetryAfter time.Duration `toml:"max_retry_after" json:"max_retry_after"`
}

// Defaults of [notify].
const (
	DefaultGroupWait     = 10 * time.Second
	DefaultGroupMin      = 3
	DefaultMaxAttempts   = 10
	DefaultMaxRetryAfter = 10 * time.Minute
)

// Receiver types.
const (
	ReceiverSlack = "slack"
	ReceiverEmail = "email"
)

// SMTP TLS modes.
const (
	TLSStartTLS = "starttls" // STARTTLS, required (default, port 587)
	TLSImplicit = "implicit" // TLS from the first byte (default on port 465)
	TLSNone     = "none"     // plain text: only with insecure_plain = true
)

// Receiver is one place notifications go.
type Receiver struct {
	Name string `toml:"name" json:"name"`
	Type string `toml:"type" json:"type"`
	// Timeout bounds each call to Slack or each SMTP step.
	Timeout time.Duration `toml:"timeout" json:"timeout"`

	// Slack.
	Channel        string `toml:"channel" json:"channel,omitempty"`
	TokenFile      string `toml:"token_file" json:"token_file,omitempty"`
	TokenEnv       string `toml:"token_env" json:"token_env,omitempty"`
	WebhookURLFile string `toml:"webhook_url_file" json:"webhook_url_file,omitempty"`
	WebhookURLEnv  string `toml:"webhook_url_env" json:"webhook_url_env,omitempty"`
	// APIURL overrides Slack's Web API base URL; it always ends in "/".
	APIURL string `toml:"api_url" json:"api_url,omitempty"`
	// AppTokenFile holds the Slack app-level token (xapp-…) with which
	// the receiver connects over Socket Mode and its messages carry
	// buttons (Acknowledge, Silence, Re-check). AppToken is its content,
	// read at load. AllowUsers and AllowGroups are the Slack user IDs and
	// user group IDs who may press them (monitor/config/slack_app.go).
	AppTokenFile string   `toml:"app_token_file" json:"app_token_file,omitempty"`
	AllowUsers   []string `toml:"allow_users" json:"allow_users,omitempty"`
	AllowGroups  []string `toml:"allow_groups" json:"allow_groups,omitempty"`

	// Email.
	SMTP          string   `toml:"smtp" json:"smtp,omitempty"`
	From          string   `toml:"from" json:"from,omitempty"`
	To            []string `toml:"to" json:"to,omitempty"`
	Username      string   `toml:"username" json:"username,omitempty"`
	PasswordFile  string   `toml:"password_file" json:"password_file,omitempty"`
	PasswordEnv   string   `toml:"password_env" json:"password_env,omitempty"`
	InsecurePlain bool     `toml:"insecure_plain" json:"insecure_plain,omitempty"`
	// TLS is TLSStartTLS, TLSImplicit or TLSNone after defaulting.
	TLS string `toml:"tls" json:"tls,omitempty"`
	// CAFile verifies the SMTP server with a private CA's certificate.
	CAFile string `toml:"ca_file" json:"ca_file,omitempty"`
	// CAPool holds the certificates of CAFile, loaded once at load; nil
	// without CAFile.
	CAPool *x509.CertPool `toml:"-" json:"-"`

	// Secrets, read at load time.
	Token      Secret `toml:"-" json:"token"`
	AppToken   Secret `toml:"-" json:"app_token"`
	WebhookURL Secret `toml:"-" json:"webhook_url"`
	Password   Secret `toml:"-" json:"password"`
	Line       int    `toml:"-" json:"-"`
}

var (
	receiverCommonKeys = []string{"name", "type", "timeout"}
	receiverSlackKeys  = []string{"channel", "token_file", "token_env", "webhook_url_file", "webhook_url_env", "api_url", "app_token_file", "allow_users", "allow_groups"}
	receiverEmailKeys  = []string{"smtp", "from", "to", "username", "password_file", "password_env", "insecure_plain", "tls", "ca_file"}
)

// Route sends matching incidents to receivers. Routes are tried in order;
// the first that matches wins unless it says continue = true.
type Route struct {
	Name          string            `toml:"name" json:"name,omitempty"`
	MatchTags     []string          `toml:"match_tags" json:"match_tags,omitempty"`
	MatchMonitors []string          `toml:"match_monitors" json:"match_monitors,omitempty"`
	MinSeverity   incident.Severity `toml:"min_severity" json:"min_severity"`
	Classes       []string          `toml:"classes" json:"classes,omitempty"`
	Receivers     []string          `toml:"receivers" json:"receivers"`
	// Repeat is the reminder interval while an incident stays open; 0 is off.
	Repeat   time.Duration `toml:"repeat" json:"repeat"`
	Continue bool          `toml:"continue" json:"continue"`
	// EscalateAfter and EscalateTo: an incident of this route still open
	// and unacknowledged EscalateAfter after it opened is sent, once, to
	// the receivers EscalateTo names as well. 0 is off.
	EscalateAfter time.Duration `toml:"escalate_after" json:"escalate_after,omitempty"`
	EscalateTo    []string      `toml:"escalate_to" json:"escalate_to,omitempty"`
	// Implicit marks the route Load adds when the file has receivers but no
	// [[route]]: everything goes to every receiver.
	Implicit bool `toml:"-" json:"implicit,omitempty"`
	Line     int  `toml:"-" json:"-"`
}

// Maintenance is a window during which notifications for the matched
// monitors are muted (checks still run and are recorded).
type Maintenance struct {
	Name     string   `toml:"name" json:"name"`
	Monitors []string `toml:"monitors" json:"monitors,omitempty"`
	Tags     []string `toml:"tags" json:"tags,omitempty"`
	// Either a recurring window: Schedule starts it, Duration long...
	Schedule schedule.Spec `toml:"schedule" json:"schedule,omitzero"`
	Duration time.Duration `toml:"duration" json:"duration,omitempty"`
	// ...or one absolute window [Start, End).
	Start   time.Time `toml:"start" json:"start,omitzero"`
	End     time.Time `toml:"end" json:"end,omitzero"`
	Comment string    `toml:"comment" json:"comment,omitempty"`
	Line    int       `toml:"-" json:"-"`
}

// Active reports whether the window covers t.
func (w *Maintenance) Active(t time.Time) bool {
	if !w.Schedule.IsZero() {
		// The window that covers t, if any, started in (t-Duration, t].
		start := w.next(t.Add(-w.Duration))
		return !start.IsZero() && !start.After(t)
	}
	return !t.Before(w.Start) && t.Before(w.End)
}

// EndOf returns when the window covering t ends, or the zero time when it
// does not cover t.
func (w *Maintenance) EndOf(t time.Time) time.Time {
	if !w.Active(t) {
		return time.Time{}
	}
	if !w.Schedule.IsZero() {
		return w.next(t.Add(-w.Duration)).Add(w.Duration)
	}
	return w.End
}

// next is the first start of a recurring window after t: the schedule's
// nominal time, without the jitter that spreads monitors' checks.
func (w *Maintenance) next(t time.Time) time.Time { return w.Schedule.Next(t, 0, 0) }

// Matches reports whether the window applies to m.
func (w *Maintenance) Matches(m *Monitor) bool {
	for _, n := range w.Monitors {
		if n == m.Name {
			return true
		}
	}
	for _, t := range w.Tags {
		if m.HasTag(t) {
			return true
		}
	}
	return false
}

// Monitor returns the monitor called name, or nil.
func (c *Config) Monitor(name string) *Monitor {
	for i := range c.Monitors {
		if c.Monitors[i].Name == name {
			return &c.Monitors[i]
		}
	}
	return nil
}

// Vantage returns the remote vantage called name, or nil ("local" is not
// in the list: it is the daemon itself).
func (c *Config) Vantage(name string) *Vantage {
	for i := range c.Vantages {
		if c.Vantages[i].Name == name {
			return &c.Vantages[i]
		}
	}
	return nil
}

// Receiver returns the receiver called name, or nil.
func (c *Config) Receiver(name string) *Receiver {
	for i := range c.Receivers {
		if c.Receivers[i].Name == name {
			return &c.Receivers[i]
		}
	}
	return nil
}

// VantageNames lists "local" and every configured vantage, in file order.
func (c *Config) VantageNames() []string {
	names := []string{result.LocalVantage}
	for _, v := range c.Vantages {
		names = append(names, v.Name)
	}
	return names
}

// InMaintenance returns the windows that mute m at t.
func (c *Config) InMaintenance(m *Monitor, t time.Time) []*Maintenance {
	var out []*Maintenance
	for i := range c.Maintenance {
		if w := &c.Maintenance[i]; w.Matches(m) && w.Active(t) {
			out = append(out, w)
		}
	}
	return out
}

// MutedUntil reports whether m is in a maintenance window at t and, if so,
// when the muting ends: the latest end of the windows that cover t, carried
// on through windows that overlap it, so back-to-back windows mute as one.
func (c *Config) MutedUntil(m *Monitor, t time.Time) (time.Time, bool) {
	var until time.Time
	at := t
	for range 16 { // windows chained end to end; bounded against a loop
		var end time.Time
		for _, w := range c.InMaintenance(m, at) {
			if e := w.EndOf(at); e.After(end) {
				end = e
			}
		}
		if !end.After(until) {
			break
		}
		until, at = end, end
	}
	return until, !until.IsZero()
}

// SlogLevel returns LogLevel as a slog level.
func (c *Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Load reads, decodes, defaults and validates the config at path. A file
// that cannot be read gives a plain error; a file with problems gives a
// *ValidationError listing all of them.
func Load(path string) (*Config, error) {
	// Read through a limit: a config larger than tomlguard.MaxSize is
	// refused without reading it whole.
	data, err := tomlguard.ReadFile(path)
	if err != nil {
		var le *tomlguard.Error
		if errors.As(err, &le) {
			return nil, limitError(path, le)
		}
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for a config already in memory; name is used in error
// messages, and relative paths in the file (state_dir, secret files without
// $CREDENTIALS_DIRECTORY) are taken relative to filepath.Dir(name).
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, data, osEnv())
}

// env is the process environment the loader consults, so tests can see
// exactly what it depends on.
type env struct {
	lookup   func(string) (string, bool)
	readFile func(string) ([]byte, error)
	home     func() (string, error)
}

func osEnv() env {
	return env{lookup: os.LookupEnv, readFile: os.ReadFile, home: os.UserHomeDir}
}

// baseDir is the directory relative paths in the file are taken from. It
// stays as given (not made absolute) so error messages show the paths the
// operator wrote.
func baseDir(name string) string { return filepath.Dir(name) }
