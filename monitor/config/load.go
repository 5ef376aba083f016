package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/vantage-monitor/vantage/monitor/config/tomlguard"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/schedule"
)

// maxSecretSize guards against pointing a *_file key at the wrong file.
const maxSecretSize = 64 << 10

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

var severities = []string{string(incident.SeverityInfo), string(incident.SeverityWarning), string(incident.SeverityCritical)}

type loader struct {
	decoder
	env env
	dir string // the config file's directory
	// defaultsFlagged are the keys of specCheckedKeys [defaults] has a
	// problem with, not reported again on every monitor inheriting them.
	defaultsFlagged map[string]bool
}

func parse(name string, data []byte, e env) (*Config, error) {
	// Bound the document before BurntSushi/toml sees it: its memory grows
	// with the square of the nesting depth (see tomlguard).
	if err := tomlguard.Check(data); err != nil {
		var le *tomlguard.Error
		if errors.As(err, &le) {
			return nil, limitError(name, le)
		}
		return nil, err
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		fe := FieldError{File: name, Msg: err.Error()}
		var pe toml.ParseError
		if errors.As(err, &pe) {
			fe.Line, fe.Col, fe.Msg = pe.Position.Line, pe.Position.Col, pe.Message
		}
		return nil, &ValidationError{Errors: []FieldError{fe}}
	}
	l := &loader{decoder: decoder{file: name, lines: scanLines(data)}, env: e, dir: baseDir(name)}
	cfg := l.load(raw)
	if len(l.errs) > 0 {
		sortErrors(l.errs)
		return nil, &ValidationError{Errors: l.errs}
	}
	return cfg, nil
}

// limitError reports a document tomlguard refused, in the file:line form
// of every other config error.
func limitError(name string, le *tomlguard.Error) error {
	return &ValidationError{Errors: []FieldError{{File: name, Line: le.Line, Msg: le.Msg}}}
}

func builtinDefaults() Monitor {
	sched := schedule.MustParseSpec(DefaultSchedule)
	status, _ := probe.ParseStatusSet(probe.DefaultExpectStatus)
	return Monitor{
		ExpectStatus:    status,
		Schedule:        sched,
		Timeout:         probe.DefaultTimeout,
		Method:          http.MethodGet,
		FollowRedirects: true,
		MaxRedirects:    probe.DefaultMaxRedirects,
		MaxBody:         probe.DefaultMaxBody,
		Confirm:         DefaultConfirm,
		Recover:         DefaultRecover,
		RetryDelay:      DefaultRetryDelay,
		FlapWindow:      DefaultFlapWindow,
		FlapThreshold:   DefaultFlapThreshold,
		Severity:        incident.SeverityCritical,
		CertWarnDays:    slices.Clone(DefaultCertWarnDays),
		DegradedRounds:  DefaultDegradedRounds,
	}
}

// section names an element of an array of tables by its name when it has a
// usable one, by its position otherwise.
func section(kind string, t map[string]any, i int) string {
	if n, ok := t["name"].(string); ok && n != "" {
		return fmt.Sprintf("%s %q", kind, n)
	}
	return fmt.Sprintf("%s #%d", kind, i+1)
}

func (l *loader) load(raw map[string]any) *Config {
	cfg := &Config{
		File:           l.file,
		Listen:         DefaultListen,
		LogLevel:       "info",
		LogFormat:      "text",
		Retention:      DefaultRetention,
		MaxConcurrency: DefaultMaxConcurrency,
		Defaults:       builtinDefaults(),
		Canary:         Canary{Every: DefaultCanaryEvery, Timeout: DefaultCanaryTimeout},
		Notify:         Notify{GroupWait: DefaultGroupWait, GroupMin: DefaultGroupMin, MaxAttempts: DefaultMaxAttempts, MaxRetryAfter: DefaultMaxRetryAfter},
		History:        defaultHistory(),
		StatusPage:     StatusPage{Title: DefaultStatusPageTitle},
	}
	l.table(raw, "", "", cfg, tableSpec{skip: tableKeys})
	l.checkTop(cfg, raw)
	if t, ok := l.subTable(raw, "web"); ok {
		l.table(t, "web", "web", &cfg.Web, tableSpec{})
		l.checkWeb(&cfg.Web)
	}
	l.checkPublicURL(cfg)
	apiT, _ := l.subTable(raw, "api")
	if apiT != nil {
		l.table(apiT, "api", "api", &cfg.API, tableSpec{})
	}
	l.checkAPI(cfg, &cfg.API, apiT)
	if t, ok := l.subTable(raw, "history"); ok {
		l.table(t, "history", "history", &cfg.History, tableSpec{})
		l.checkHistory(&cfg.History)
	}

	if t, ok := l.subTable(raw, "canary"); ok {
		l.table(t, "canary", "canary", &cfg.Canary, tableSpec{})
		l.checkCanary(&cfg.Canary, t)
	}
	if t, ok := l.subTable(raw, "notify"); ok {
		l.table(t, "notify", "notify", &cfg.Notify, tableSpec{})
		l.checkNotify(&cfg.Notify)
	}
	for i, t := range l.tables(raw, "vantage") {
		path, sec := indexPath("vantage", i), section("vantage", t, i)
		v := Vantage{Line: l.lines.lookup(path)}
		l.table(t, path, sec, &v, tableSpec{})
		l.checkVantage(cfg, &v, t, path, sec)
		cfg.Vantages = append(cfg.Vantages, v)
	}
	// After the vantages: [defaults] may name them.
	if t, ok := l.subTable(raw, "defaults"); ok {
		l.table(t, "defaults", "defaults", &cfg.Defaults, tableSpec{
			allow:     defaultableKeys,
			skip:      monitorSkip,
			misplaced: func(string) string { return "is set per monitor, not in [defaults]" },
		})
		l.checkMonitor(cfg, &cfg.Defaults, t, "defaults", "defaults", true)
	}
	for i, t := range l.tables(raw, "monitor") {
		path, sec := indexPath("monitor", i), section("monitor", t, i)
		m := cloneMonitor(cfg.Defaults)
		m.Line = l.lines.lookup(path)
		l.table(t, path, sec, &m, tableSpec{skip: monitorSkip})
		if _, ok := t["headers"]; ok && len(cfg.Defaults.Headers) > 0 {
			// Per-monitor headers add to the default ones, overriding by name.
			merged := maps.Clone(cfg.Defaults.Headers)
			maps.Copy(merged, m.Headers)
			m.Headers = merged
		}
		l.checkMonitor(cfg, &m, t, path, sec, false)
		cfg.Monitors = append(cfg.Monitors, m)
	}
	for i, t := range l.tables(raw, "receiver") {
		path, sec := indexPath("receiver", i), section("receiver", t, i)
		r := Receiver{Line: l.lines.lookup(path)}
		ts := tableSpec{}
		switch t["type"] {
		case ReceiverSlack:
			ts.allow = slices.Concat(receiverCommonKeys, receiverSlackKeys)
			ts.misplaced = func(string) string { return "applies only to email receivers" }
		case ReceiverEmail:
			ts.allow = slices.Concat(receiverCommonKeys, receiverEmailKeys)
			ts.misplaced = func(string) string { return "applies only to slack receivers" }
		}
		l.table(t, path, sec, &r, ts)
		l.checkReceiver(cfg, &r, t, path, sec)
		cfg.Receivers = append(cfg.Receivers, r)
	}
	for i, t := range l.tables(raw, "route") {
		path, sec := indexPath("route", i), section("route", t, i)
		r := Route{Line: l.lines.lookup(path), MinSeverity: incident.SeverityInfo}
		l.table(t, path, sec, &r, tableSpec{})
		l.checkRoute(cfg, &r, t, path, sec)
		cfg.Routes = append(cfg.Routes, r)
	}
	if len(cfg.Routes) == 0 && len(cfg.Receivers) > 0 {
		r := Route{Name: "default", MinSeverity: incident.SeverityInfo, Implicit: true}
		for _, rc := range cfg.Receivers {
			r.Receivers = append(r.Receivers, rc.Name)
		}
		cfg.Routes = []Route{r}
	}
	for i, t := range l.tables(raw, "maintenance") {
		path, sec := indexPath("maintenance", i), section("maintenance", t, i)
		w := Maintenance{Line: l.lines.lookup(path)}
		l.table(t, path, sec, &w, tableSpec{})
		l.checkMaintenance(cfg, &w, t, path, sec)
		cfg.Maintenance = append(cfg.Maintenance, w)
	}
	// After the monitors: [status_page] monitors names them.
	if t, ok := l.subTable(raw, "status_page"); ok {
		l.table(t, "status_page", "status_page", &cfg.StatusPage, tableSpec{})
		l.checkStatusPage(cfg, &cfg.StatusPage, t)
	}
	l.checkUnique(cfg)
	return cfg
}

// tableKeys are the top-level keys that hold tables or arrays of tables,
// each decoded on its own.
var tableKeys = []string{"defaults", "monitor", "vantage", "canary", "notify", "receiver", "route", "maintenance", "web", "api", "history", "status_page"}

func cloneMonitor(m Monitor) Monitor {
	m.Headers = maps.Clone(m.Headers)
	m.ExpectStatus = slices.Clone(m.ExpectStatus)
	m.Vantages = slices.Clone(m.Vantages)
	m.Resolve = slices.Clone(m.Resolve)
	m.Tags = slices.Clone(m.Tags)
	m.CertWarnDays = slices.Clone(m.CertWarnDays)
	m.ExpectJSON = slices.Clone(m.ExpectJSON)
	m.ExpectHeader = maps.Clone(m.ExpectHeader)
	return m
}

func (l *loader) subTable(raw map[string]any, key string) (map[string]any, bool) {
	v, ok := raw[key]
	if !ok {
		return nil, false
	}
	t, ok := asTable(v)
	if !ok {
		l.add(key, "", key, "%s", typeError(fmt.Sprintf("a table ([%s])", key), v))
	}
	return t, ok
}

func (l *loader) tables(raw map[string]any, key string) []map[string]any {
	v, ok := raw[key]
	if !ok {
		return nil
	}
	arr, ok := asArray(v)
	if !ok {
		l.add(key, "", key, "%s", typeError(fmt.Sprintf("an array of tables ([[%s]])", key), v))
		return nil
	}
	out := make([]map[string]any, 0, len(arr))
	for i, e := range arr {
		t, ok := asTable(e)
		if !ok {
			l.add(indexPath(key, i), "", key, "element %d: %s", i+1, typeError("a table", e))
			continue
		}
		out = append(out, t)
	}
	return out
}

func written(t map[string]any, key string) bool {
	_, ok := t[key]
	return ok
}

func (l *loader) checkTop(cfg *Config, raw map[string]any) {
	if _, _, err := parseListen(cfg.Listen); err != nil {
		l.add("listen", "", "listen", "%s", err)
	}
	l.oneOf("log_level", "", "log_level", cfg.LogLevel, []string{"debug", "info", "warn", "error"})
	l.oneOf("log_format", "", "log_format", cfg.LogFormat, []string{"text", "json"})
	if cfg.Retention < 1 {
		l.add("retention", "", "retention", "must be at least 1, not %d", cfg.Retention)
	}
	if cfg.RetentionAge < 0 {
		l.add("retention_age", "", "retention_age", "%s is negative", result.ShortDuration(cfg.RetentionAge))
	}
	if cfg.MaxConcurrency < 1 {
		l.add("max_concurrency", "", "max_concurrency", "must be at least 1, not %d", cfg.MaxConcurrency)
	}
	for i, r := range cfg.Resolvers {
		n, err := normalizeResolver(r)
		if err != nil {
			l.add(indexPath("resolvers", i), "", "resolvers", "%s", err)
			continue
		}
		cfg.Resolvers[i] = n
	}
	if written(raw, "state_dir") {
		if cfg.StateDir == "" {
			l.add("state_dir", "", "state_dir", "is empty; leave it out to use the default")
		} else if !filepath.IsAbs(cfg.StateDir) {
			dir := filepath.Join(l.dir, cfg.StateDir)
			if abs, err := filepath.Abs(dir); err == nil {
				dir = abs
			}
			cfg.StateDir = dir
		}
		return
	}
	dir, err := defaultStateDir(l.env)
	if err != nil {
		l.add("", "", "state_dir", "%s", err)
	}
	cfg.StateDir = dir
}

// defaultStateDir is where state lives when the file does not say: systemd's
// StateDirectory=, then the XDG state directory, then ~/.local/state.
func defaultStateDir(e env) (string, error) {
	if v, ok := e.lookup("STATE_DIRECTORY"); ok && v != "" {
		// systemd joins several StateDirectory= entries with colons.
		first, _, _ := strings.Cut(v, ":")
		if first != "" {
			return first, nil
		}
	}
	if v, ok := e.lookup("XDG_STATE_HOME"); ok && filepath.IsAbs(v) {
		return filepath.Join(v, "vantage"), nil
	}
	home, err := e.home()
	if err != nil || home == "" {
		return "", errors.New("not set, and none of $STATE_DIRECTORY, $XDG_STATE_HOME or a home directory is available")
	}
	return filepath.Join(home, ".local", "state", "vantage"), nil
}

// parseListen checks an address to listen on, as listen and
// status_page.listen take it: host:port, the port a number (0 picks a free
// one), the host an IP address, localhost, or empty for every address.
func parseListen(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port", addr)
	}
	if port, err = strconv.Atoi(p); err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", p)
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return "", 0, fmt.Errorf("host %q is not an IP address or localhost", host)
	}
	return host, port, nil
}

func normalizeResolver(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// A bare address means port 53.
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), "53"
	}
	if net.ParseIP(host) == nil {
		return "", fmt.Errorf("%q is not an IP address with an optional port, such as \"9.9.9.9:53\"", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

func (l *loader) oneOf(path, sec, key, v string, allowed []string) bool {
	if contains(allowed, v) {
		return true
	}
	l.add(path, sec, key, "%q is not one of %s%s", v, strings.Join(allowed, ", "), suggest(v, allowed))
	return false
}

// checkMonitor validates a monitor, or [defaults] when isDefaults. Problems
// with a value a monitor inherited are reported once, on [defaults], not on
// every monitor.
func (l *loader) checkMonitor(cfg *Config, m *Monitor, t map[string]any, path, sec string, isDefaults bool) {
	own := func(key string) bool { return written(t, key) }
	add := func(key, format string, args ...any) {
		l.add(joinPath(path, key), sec, key, format, args...)
	}
	if !isDefaults {
		switch {
		case !own("name"):
			add("name", "missing")
		case strings.TrimSpace(m.Name) == "" || strings.TrimSpace(m.Name) != m.Name:
			add("name", "%q must not be empty or start or end with spaces", m.Name)
		case strings.ContainsFunc(m.Name, func(r rune) bool { return r < ' ' || r == 0x7f }):
			add("name", "%q contains control characters", m.Name)
		case strings.ContainsFunc(m.Name, isBidiControl):
			add("name", "%s", bidiMsg(m.Name))
		}
	}
	if !isDefaults {
		l.checkCredentials(m, t, path, sec)
	}
	// Before the spec is made: the plan carries ca_file's certificates and
	// the assertions.
	before := len(l.errs)
	l.decodeWarningKeys(m, t, path, sec)
	l.checkWarningKeys(m, t, path, sec)
	flagged := map[string]bool{}
	for _, fe := range l.errs[before:] {
		flagged[keyBase(fe.Key)] = true
	}
	if isDefaults {
		l.defaultsFlagged = flagged
	}
	spec := m.Spec()
	var specErr error
	if isDefaults {
		spec.URL = "http://defaults.invalid/" // only the defaultable keys are checked
		specErr = spec.Validate()
	} else {
		// Compiled here, once: the daemon and the checks run the plan.
		m.Plan, specErr = probe.Compile(spec)
	}
	for _, err := range specErrors(specErr) {
		key, msg, ok := strings.Cut(err.Error(), ": ")
		if !ok || strings.ContainsRune(key, ' ') { // not "key: ...", e.g. "compiling expect_regex: ..."
			key, msg = "", err.Error()
		}
		if base := keyBase(key); contains(specCheckedKeys, base) {
			if base == "ca_pem" {
				key, base = "ca_file", "ca_file"
			}
			// Checked above, with each problem on its line; the probe's
			// word is taken only when those checks passed, so the two
			// disagreeing cannot leave a monitor without a plan unsaid.
			if !flagged[base] && (own(base) || !isDefaults && !l.defaultsFlagged[base]) {
				add(key, "%s", msg)
			}
			continue
		}
		if key == "url" || own(key) || key == "" {
			add(key, "%s", msg)
		}
	}
	if own("timeout") && m.Timeout == 0 {
		add("timeout", "must be longer than 0s")
	}
	if period, err := m.Schedule.MinPeriod(); (own("timeout") || own("schedule")) && err == nil && m.Timeout > period {
		at := "timeout" // or, for an inherited timeout, the schedule that made it too long
		if !own(at) {
			at = "schedule"
		}
		l.add(joinPath(path, at), sec, "timeout", "%s is longer than the schedule period %s", result.ShortDuration(m.Timeout), result.ShortDuration(period))
	}
	if own("max_body") && m.MaxBody == 0 {
		add("max_body", "must be larger than 0")
	}
	if (own("max_redirects") || own("follow_redirects")) && m.FollowRedirects && m.MaxRedirects == 0 {
		add("max_redirects", "must be at least 1 (set follow_redirects = false not to follow redirects)")
	}
	if own("confirm") && m.Confirm < 1 {
		add("confirm", "must be at least 1, not %d", m.Confirm)
	}
	if own("recover") && m.Recover < 1 {
		add("recover", "must be at least 1, not %d", m.Recover)
	}
	if own("retry_delay") && m.RetryDelay < 0 {
		add("retry_delay", "%s is negative (0 turns the early re-check off)", result.ShortDuration(m.RetryDelay))
	}
	if own("flap_threshold") && m.FlapThreshold < 0 {
		add("flap_threshold", "%d is negative (0 turns flap detection off)", m.FlapThreshold)
	}
	if own("flap_window") && m.FlapWindow <= 0 {
		add("flap_window", "must be longer than 0s")
	}
	if own("severity") {
		l.oneOf(joinPath(path, "severity"), sec, "severity", string(m.Severity), severities)
	}
	if own("vantages") {
		l.checkVantageRefs(cfg, m.Vantages, path, sec)
	}
	if !isDefaults && m.Vantages == nil {
		m.Vantages = cfg.VantageNames()
	}
	if own("origin") {
		if err := checkHTTPURL(m.Origin); err != nil {
			add("origin", "%s", err)
		}
	}
	for i, tag := range m.Tags {
		if strings.TrimSpace(tag) == "" {
			l.add(indexPath(joinPath(path, "tags"), i), sec, "tags", "element %d is empty", i+1)
		} else if strings.ContainsFunc(tag, isBidiControl) {
			l.add(indexPath(joinPath(path, "tags"), i), sec, "tags", "element %d: %s", i+1, bidiMsg(tag))
		}
	}
}

// isBidiControl reports the embedding, override and isolate controls
// (U+202A–U+202E, U+2066–U+2069): in a name they make the page, Slack and
// the logs display text in another order than it is written, so "ok-db"
// can show as a different monitor ("Trojan Source", CVE-2021-42574).
func isBidiControl(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

func bidiMsg(s string) string {
	i := strings.IndexFunc(s, isBidiControl)
	r, _ := utf8.DecodeRuneInString(s[i:])
	return fmt.Sprintf("%q contains the bidirectional control character U+%04X, which makes it display in another order than it is written", s, r)
}

func (l *loader) checkVantageRefs(cfg *Config, names []string, path, sec string) {
	key := joinPath(path, "vantages")
	if len(names) == 0 {
		l.add(key, sec, "vantages", "empty list: name at least one vantage, or leave the key out to use all of them")
		return
	}
	all := cfg.VantageNames()
	seen := map[string]bool{}
	for i, n := range names {
		p := indexPath(key, i)
		switch {
		case seen[n]:
			l.add(p, sec, "vantages", "%q is listed twice", n)
		case !contains(all, n):
			l.add(p, sec, "vantages", "no vantage named %q%s", n, suggest(n, all))
		}
		seen[n] = true
	}
}

// specCheckedKeys are the spec keys the loader checks itself before the
// probe compiles them (see checkWarningKeys); "ca_pem" is the spec's name
// for ca_file's content.
var specCheckedKeys = []string{"expect_json", "expect_header", "ca_file", "ca_pem"}

// keyBase is the key an error's key names: "expect_json" of
// "expect_json[1].path", "degraded" of "degraded.ttfb".
func keyBase(key string) string {
	if i := strings.IndexAny(key, ".["); i >= 0 {
		return key[:i]
	}
	return key
}

// specErrors lists the problems probe.Validate or probe.Compile found, each
// "key: message" as probe words them.
func specErrors(err error) []error {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		return joined.Unwrap()
	}
	return splitErrors(err)
}

// splitErrors undoes errors.Join.
func splitErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return errors.New("empty URL")
	case !strings.Contains(s, "://"):
		return fmt.Errorf("%q is not a URL starting with http:// or https://", s)
	case err != nil:
		return fmt.Errorf("%q is not a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: scheme %q is not http or https", s, u.Scheme)
	case u.Host == "":
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}

func (l *loader) checkNotify(n *Notify) {
	if n.GroupWait < 0 {
		l.add("notify.group_wait", "notify", "group_wait", "must not be negative")
	} else if n.GroupWait > 10*time.Minute {
		l.add("notify.group_wait", "notify", "group_wait", "%s would hold alerts back too long (at most 10m)", result.ShortDuration(n.GroupWait))
	}
	if n.GroupMin < 2 {
		l.add("notify.group_min", "notify", "group_min", "must be at least 2 (%d given)", n.GroupMin)
	}
	if n.MaxAttempts < 1 || n.MaxAttempts > 100 {
		l.add("notify.max_attempts", "notify", "max_attempts", "must be between 1 and 100 (%d given)", n.MaxAttempts)
	}
	if n.MaxRetryAfter < time.Second || n.MaxRetryAfter > 24*time.Hour {
		l.add("notify.max_retry_after", "notify", "max_retry_after", "must be between 1s and 24h (%s given)", result.ShortDuration(n.MaxRetryAfter))
	}
}

func (l *loader) checkCanary(c *Canary, t map[string]any) {
	for i, u := range c.URLs {
		if err := checkHTTPURL(u); err != nil {
			l.add(indexPath("canary.urls", i), "canary", "urls", "%s", err)
		}
	}
	if c.Every <= 0 {
		l.add("canary.every", "canary", "every", "must be longer than 0s")
	}
	if c.Timeout <= 0 {
		l.add("canary.timeout", "canary", "timeout", "must be longer than 0s")
	} else if c.Every > 0 && c.Timeout > c.Every {
		l.add("canary.timeout", "canary", "timeout", "%s is longer than every = %s", result.ShortDuration(c.Timeout), result.ShortDuration(c.Every))
	}
}

func (l *loader) checkVantage(cfg *Config, v *Vantage, t map[string]any, path, sec string) {
	add := func(key, format string, args ...any) { l.add(joinPath(path, key), sec, key, format, args...) }
	l.checkName(v.Name, t, path, sec)
	if v.Name == result.LocalVantage {
		add("name", "%q is reserved for the daemon's own host", result.LocalVantage)
	}
	if !written(t, "url") {
		add("url", "missing")
	} else if err := checkHTTPURL(v.URL); err != nil {
		add("url", "%s", err)
	}
	v.Key = l.secret(path, sec, "key_file", v.KeyFile, "key_env", v.KeyEnv, true)
	if v.CAFile != "" {
		v.CAPool = l.caFile(v.CAFile, add)
		if v.Insecure {
			add("insecure", "turns off the verification ca_file is for; set one or the other")
		}
	}
	if v.Timeout < 0 {
		add("timeout", "%s is negative", result.ShortDuration(v.Timeout))
	}
}

// checkName validates the name of a vantage, receiver or maintenance window:
// these names appear in metrics, URLs and other keys, so they stay simple.
func (l *loader) checkName(name string, t map[string]any, path, sec string) {
	switch {
	case !written(t, "name"):
		l.add(path, sec, "name", "missing")
	case !nameRE.MatchString(name):
		l.add(joinPath(path, "name"), sec, "name", "%q must start with a letter or digit and hold only letters, digits, '.', '_' and '-'", name)
	}
}

// secret reads a credential from a file or an environment variable. A
// relative file name is looked up in $CREDENTIALS_DIRECTORY (systemd's
// LoadCredential=) when that is set, else next to the config file. Errors
// name the file and the reason, never the content.
func (l *loader) secret(path, sec, fileKey, file, envKey, envName string, required bool) Secret {
	switch {
	case file != "" && envName != "":
		l.add(joinPath(path, envKey), sec, envKey, "%s is also set; use one", fileKey)
		return Secret{}
	case file != "":
		p := l.secretPath(file)
		data, err := l.env.readFile(p)
		if err != nil {
			l.add(joinPath(path, fileKey), sec, fileKey, "cannot read %s: %s", p, pathErrReason(err))
			return Secret{}
		}
		if len(data) > maxSecretSize {
			l.add(joinPath(path, fileKey), sec, fileKey, "%s is larger than 64 KiB; is it the right file?", p)
			return Secret{}
		}
		s := strings.TrimSpace(string(data))
		if s == "" {
			l.add(joinPath(path, fileKey), sec, fileKey, "%s is empty", p)
			return Secret{}
		}
		return NewSecret(s)
	case envName != "":
		v, ok := l.env.lookup(envName)
		if !ok {
			l.add(joinPath(path, envKey), sec, envKey, "environment variable %s is not set", envName)
			return Secret{}
		}
		if strings.TrimSpace(v) == "" {
			l.add(joinPath(path, envKey), sec, envKey, "environment variable %s is empty", envName)
			return Secret{}
		}
		return NewSecret(strings.TrimSpace(v))
	case required:
		l.add(path, sec, "", "missing %s or %s", fileKey, envKey)
	}
	return Secret{}
}

func (l *loader) secretPath(file string) string {
	if filepath.IsAbs(file) {
		return file
	}
	if d, ok := l.env.lookup("CREDENTIALS_DIRECTORY"); ok && d != "" {
		return filepath.Join(d, file)
	}
	return filepath.Join(l.dir, file)
}

// pathErrReason keeps the why of a file error without repeating the path.
func pathErrReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (l *loader) checkReceiver(cfg *Config, r *Receiver, t map[string]any, path, sec string) {
	add := func(key, format string, args ...any) { l.add(joinPath(path, key), sec, key, format, args...) }
	l.checkName(r.Name, t, path, sec)
	if r.Timeout < 0 || written(t, "timeout") && r.Timeout == 0 {
		add("timeout", "must be longer than 0s")
	}
	switch r.Type {
	case ReceiverSlack:
		if d, err := r.SlackTimeout(); err == nil {
			r.Timeout = d
		}
		token := r.TokenFile != "" || r.TokenEnv != ""
		hook := r.WebhookURLFile != "" || r.WebhookURLEnv != ""
		// A secret is read only once the receiver says which one it posts
		// with; CheckSlack decides the rules, the loader names the keys.
		switch {
		case token && !hook:
			r.Token = l.secret(path, sec, "token_file", r.TokenFile, "token_env", r.TokenEnv, true)
		case hook && !token:
			r.WebhookURL = l.secret(path, sec, "webhook_url_file", r.WebhookURLFile, "webhook_url_env", r.WebhookURLEnv, true)
		}
		switch CheckSlack(token, hook, r.Channel, r.WebhookURL.Reveal()) {
		case SlackTokenAndWebhook:
			key := "webhook_url_file"
			if r.WebhookURLFile == "" {
				key = "webhook_url_env"
			}
			add(key, "a slack receiver uses a bot token or a webhook, not both")
		case SlackNoCredential:
			l.add(path, sec, "", "missing token_file, token_env, webhook_url_file or webhook_url_env")
		case SlackTokenWithoutChannel:
			add("channel", "missing: a bot token posts to a channel ID such as \"C0123ABCD\"")
		case SlackWebhookNotHTTP:
			key, src := "webhook_url_file", l.secretPath(r.WebhookURLFile)
			if r.WebhookURLFile == "" {
				key, src = "webhook_url_env", "$"+r.WebhookURLEnv
			}
			add(key, "%s does not hold an http or https URL", src)
		}
		if r.APIURL != "" {
			if err := checkHTTPURL(r.APIURL); err != nil {
				add("api_url", "%s", err)
			} else {
				r.APIURL = SlackAPIURL(r.APIURL)
			}
		}
		l.checkSlackApp(r, t, path, sec, token)
	case ReceiverEmail:
		if r.Timeout == 0 {
			r.Timeout = DefaultSMTPTimeout
		}
		l.checkEmail(r, t, path, sec)
	default:
		if !written(t, "type") {
			add("type", "missing (slack or email)")
		} else {
			add("type", "%q is not slack or email%s", r.Type, suggest(r.Type, []string{ReceiverSlack, ReceiverEmail}))
		}
	}
}

// caFile loads a ca_file (relative to the config's directory) into the
// pool its clients verify with: the one place the program reads its PEM.
func (l *loader) caFile(p string, add func(key, format string, args ...any)) *x509.CertPool {
	data, p, ok := l.readCA(p, add)
	if !ok {
		return nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		add("ca_file", "%s holds no PEM certificate", p)
		return nil
	}
	return pool
}

func (l *loader) checkEmail(r *Receiver, t map[string]any, path, sec string) {
	add := func(key, format string, args ...any) { l.add(joinPath(path, key), sec, key, format, args...) }
	if r.CAFile != "" {
		r.CAPool = l.caFile(r.CAFile, add)
	}
	port := ""
	if !written(t, "smtp") {
		add("smtp", "missing (host:port, such as \"smtp.example.com:587\")")
	} else if host, p, err := net.SplitHostPort(r.SMTP); err != nil || host == "" {
		add("smtp", "%q is not host:port", r.SMTP)
	} else if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		add("smtp", "port %q is not a number from 1 to 65535", p)
	} else {
		port = p
	}
	if !written(t, "from") {
		add("from", "missing")
	} else if _, err := mail.ParseAddress(r.From); err != nil {
		add("from", "%q is not an email address", r.From)
	}
	if len(r.To) == 0 {
		add("to", "missing: list at least one address")
	}
	for i, a := range r.To {
		if _, err := mail.ParseAddress(a); err != nil {
			l.add(indexPath(joinPath(path, "to"), i), sec, "to", "%q is not an email address", a)
		}
	}
	hasPass := r.PasswordFile != "" || r.PasswordEnv != ""
	switch {
	case r.Username != "" && !hasPass:
		add("username", "is set without password_file or password_env")
	case r.Username == "" && hasPass:
		key := "password_file"
		if r.PasswordFile == "" {
			key = "password_env"
		}
		add(key, "is set without username")
	case hasPass:
		r.Password = l.secret(path, sec, "password_file", r.PasswordFile, "password_env", r.PasswordEnv, true)
	}
	switch r.TLS {
	case "":
		switch {
		case r.InsecurePlain:
			r.TLS = TLSNone
		case port == "465":
			r.TLS = TLSImplicit
		default:
			r.TLS = TLSStartTLS
		}
	case TLSNone:
		if !r.InsecurePlain {
			add("tls", "%q sends mail and password in plain text; it needs insecure_plain = true", r.TLS)
		}
	case TLSStartTLS, TLSImplicit:
		if r.InsecurePlain {
			add("insecure_plain", "contradicts tls = %q", r.TLS)
		}
	default:
		modes := []string{TLSStartTLS, TLSImplicit, TLSNone}
		add("tls", "%q is not one of %s%s", r.TLS, strings.Join(modes, ", "), suggest(r.TLS, modes))
	}
}

func (l *loader) checkRoute(cfg *Config, r *Route, t map[string]any, path, sec string) {
	add := func(key, format string, args ...any) { l.add(joinPath(path, key), sec, key, format, args...) }
	if strings.ContainsFunc(r.Name, isBidiControl) { // route names are free text
		add("name", "%s", bidiMsg(r.Name))
	}
	if len(r.Receivers) == 0 {
		add("receivers", "missing: list at least one receiver")
	}
	var names []string
	for _, rc := range cfg.Receivers {
		names = append(names, rc.Name)
	}
	for i, n := range r.Receivers {
		if !contains(names, n) {
			l.add(indexPath(joinPath(path, "receivers"), i), sec, "receivers", "no receiver named %q%s", n, suggest(n, names))
		}
	}
	if !contains(severities, string(r.MinSeverity)) {
		add("min_severity", "%q is not one of %s%s", r.MinSeverity, strings.Join(severities, ", "), suggest(string(r.MinSeverity), severities))
	}
	var classes []string
	for _, c := range result.AllClasses() {
		classes = append(classes, string(c))
	}
	for i, c := range r.Classes {
		if !result.Class(c).Valid() {
			l.add(indexPath(joinPath(path, "classes"), i), sec, "classes", "%q is not a result class%s", c, suggest(c, classes))
		}
	}
	if r.Repeat < 0 {
		add("repeat", "%s is negative (0 turns reminders off)", result.ShortDuration(r.Repeat))
	}
	l.checkMonitorRefs(cfg, r.MatchMonitors, path, sec, "match_monitors")
	l.checkEscalation(cfg, r, path, sec)
}

func (l *loader) checkMonitorRefs(cfg *Config, refs []string, path, sec, key string) {
	var names []string
	for _, m := range cfg.Monitors {
		names = append(names, m.Name)
	}
	for i, n := range refs {
		if !contains(names, n) {
			l.add(indexPath(joinPath(path, key), i), sec, key, "no monitor named %q%s", n, suggest(n, names))
		}
	}
}

func (l *loader) checkMaintenance(cfg *Config, w *Maintenance, t map[string]any, path, sec string) {
	add := func(key, format string, args ...any) { l.add(joinPath(path, key), sec, key, format, args...) }
	l.checkName(w.Name, t, path, sec)
	if len(w.Monitors) == 0 && len(w.Tags) == 0 {
		l.add(path, sec, "", "missing monitors or tags: a window must say what it mutes")
	}
	l.checkMonitorRefs(cfg, w.Monitors, path, sec, "monitors")
	recurring := written(t, "schedule") || written(t, "duration")
	absolute := written(t, "start") || written(t, "end")
	switch {
	case recurring && absolute:
		l.add(path, sec, "", "a window is either schedule + duration or start + end, not both")
	case recurring:
		if !written(t, "schedule") {
			add("schedule", "missing: duration needs a schedule that starts each window")
		}
		if !written(t, "duration") {
			add("duration", "missing: how long each window lasts")
		} else if w.Duration <= 0 {
			add("duration", "must be longer than 0s")
		}
	case absolute:
		switch {
		case !written(t, "start"):
			add("start", "missing")
		case !written(t, "end"):
			add("end", "missing")
		case !w.End.After(w.Start):
			add("end", "%s is not after start %s", w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
		}
	default:
		l.add(path, sec, "", "missing schedule + duration or start + end")
	}
}

// checkUnique reports names used twice, on the second use.
func (l *loader) checkUnique(cfg *Config) {
	type named struct {
		kind, name string
		line       int
	}
	check := func(items []named) {
		first := map[string]int{}
		for i, it := range items {
			// Point at the name key itself when the scan found it.
			if line := l.lines[joinPath(indexPath(it.kind, i), "name")]; line > 0 {
				it.line = line
			}
			if it.name == "" {
				continue
			}
			if line, ok := first[it.name]; ok {
				l.errs = append(l.errs, FieldError{File: l.file, Line: it.line, Section: fmt.Sprintf("%s %q", it.kind, it.name),
					Key: "name", Msg: fmt.Sprintf("%q is already used by the %s at line %d", it.name, it.kind, line)})
				continue
			}
			first[it.name] = it.line
		}
	}
	var ms, vs, rs, ws []named
	for _, m := range cfg.Monitors {
		ms = append(ms, named{"monitor", m.Name, m.Line})
	}
	for _, v := range cfg.Vantages {
		vs = append(vs, named{"vantage", v.Name, v.Line})
	}
	for _, r := range cfg.Receivers {
		rs = append(rs, named{"receiver", r.Name, r.Line})
	}
	for _, w := range cfg.Maintenance {
		ws = append(ws, named{"maintenance", w.Name, w.Line})
	}
	check(ms)
	check(vs)
	check(rs)
	check(ws)
}
