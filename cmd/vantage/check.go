package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/round"
	"github.com/vantage-monitor/vantage/monitor/vantage"
	"github.com/vantage-monitor/vantage/monitor/warning"
)

// checkOptions are the parsed flags of `vantage check`.
type checkOptions struct {
	spec probe.Spec
	json bool
	// config, when set, probes through the vantages of this watchlist.
	config string
	// certWarn are the cert_warn_days thresholds the served certificates
	// are measured against: --cert-warn-days when given, else the
	// [defaults] of --config, else config.DefaultCertWarnDays.
	certWarn daysList
}

// checkFlagValues are the flags of `vantage check` as given, before
// parseCheckFlags turns them into checkOptions.
type checkFlagValues struct {
	o            checkOptions
	headers      stringList
	resolves     stringList
	expectJSON   stringList
	expectHeader stringList
	caFile       string
	expectStatus string
	maxBody      byteSize
	v4, v6       bool
	noFollow     bool
}

func defineCheckFlags(fs *flag.FlagSet, v *checkFlagValues) {
	v.expectStatus = probe.DefaultExpectStatus
	v.maxBody = byteSize(probe.DefaultMaxBody)
	durationVar(fs, &v.o.spec.Timeout, "timeout", probe.DefaultTimeout, "give up after this long: DNS, connect, TLS, headers and body together")
	fs.StringVar(&v.o.spec.Method, "method", http.MethodGet, "HTTP `method`")
	fs.Var(&v.headers, "header", "request header `'Name: value'` (repeatable)")
	fs.StringVar(&v.o.spec.Body, "body", "", "request `body`")
	fs.StringVar(&v.expectStatus, "expect-status", v.expectStatus, "accepted status `codes` and ranges, e.g. 200,204 or 200-399")
	fs.StringVar(&v.o.spec.ExpectBody, "expect-body", "", "fail unless the body contains this `text`")
	fs.StringVar(&v.o.spec.ExpectRegex, "expect-regex", "", "fail unless the body matches this `regexp` (Go syntax)")
	fs.Var(&v.expectJSON, "expect-json", "fail unless every value the RFC 9535 JSONPath selects in the body equals VALUE (a JSON string, number or bool, else the text as it is), or with PATH~REGEXP matches the regexp: `'PATH=VALUE'`, e.g. '$.status=ok', '$.checks[*].healthy=true', '$.version~^2\\.' (repeatable)")
	fs.Var(&v.expectHeader, "expect-header", "fail unless the response header's value contains the text, or with ~regexp matches the regexp: `'Name: text'`, e.g. 'Content-Type: application/json', 'Content-Type: ~^text/' (repeatable)")
	fs.StringVar(&v.caFile, "ca-file", "", "verify the server against the PEM certificates in this `file` instead of the system's roots (a private CA)")
	fs.Var(&v.maxBody, "max-body", "read at most this many bytes of the body, after decompression (e.g. 1MiB)")
	fs.BoolVar(&v.noFollow, "no-follow", false, "report a redirect as it is instead of following it (default: follow up to 10)")
	fs.BoolVar(&v.o.spec.Insecure, "insecure", false, "do not verify the TLS certificate (it is still reported)")
	fs.Var(&v.resolves, "resolve", "pin host:port to an address, as curl's `host:port:addr` (repeatable)")
	fs.BoolVar(&v.v4, "4", false, "use IPv4 only")
	fs.BoolVar(&v.v6, "6", false, "use IPv6 only")
	fs.BoolVar(&v.o.json, "json", false, "print one JSON object instead of a diagnosis")
	v.o.certWarn = daysList{days: slices.Clone(config.DefaultCertWarnDays)}
	fs.Var(&v.o.certWarn, "cert-warn-days", "warn when a certificate the server sent has fewer than the largest of these `days` left, as the daemon's cert_warn_days does (critical under the smallest; '' for none; with --config, that watchlist's [defaults] unless given)")
	fs.StringVar(&v.o.config, "config", "", "probe from every vantage of this watchlist `file` (and its canaries) and say whether the target is down for everyone or just here")
}

func parseCheckFlags(args []string, _ io.Writer) (checkOptions, error) {
	fs := newFlagSet("check")
	var v checkFlagValues
	defineCheckFlags(fs, &v)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return v.o, err
	}
	o := &v.o
	var problems []string
	switch len(pos) {
	case 0:
		problems = append(problems, "a URL is required")
	case 1:
		o.spec.URL = pos[0]
		if hint := probe.SchemeHint(pos[0]); hint != "" {
			problems = append(problems, hint)
		}
	default:
		problems = append(problems, fmt.Sprintf("one URL expected, got %d: %s", len(pos), strings.Join(pos, " ")))
	}
	if v.v4 && v.v6 {
		problems = append(problems, "-4 and -6 exclude each other")
	} else if v.v4 {
		o.spec.IPVersion = 4
	} else if v.v6 {
		o.spec.IPVersion = 6
	}
	if o.spec.Timeout <= 0 {
		problems = append(problems, "--timeout must be positive")
	}
	for _, h := range v.headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			problems = append(problems, fmt.Sprintf("--header %q is not 'Name: value'", h))
			continue
		}
		if o.spec.Headers == nil {
			o.spec.Headers = map[string]string{}
		}
		o.spec.Headers[strings.TrimSpace(name)] = strings.TrimSpace(value)
	}
	set, err := probe.ParseStatusSet(v.expectStatus)
	if err != nil {
		problems = append(problems, "--expect-status: "+err.Error())
	}
	o.spec.ExpectStatus = set
	o.spec.MaxBody = int64(v.maxBody)
	o.spec.NoFollow = v.noFollow
	o.spec.Resolve = v.resolves
	o.spec.Method = strings.ToUpper(o.spec.Method)
	problems = append(problems, v.assertions(&o.spec)...)
	if len(problems) == 0 && o.spec.URL != "" {
		if err := o.spec.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				problems = append(problems, v.flagProblem(line))
			}
		}
	}
	if len(problems) > 0 {
		return *o, errors.New(strings.Join(problems, "\n"))
	}
	return *o, nil
}

// assertions puts --expect-json, --expect-header and --ca-file into spec,
// returning what is wrong with them as they were written.
func (v *checkFlagValues) assertions(spec *probe.Spec) []string {
	var problems []string
	for _, e := range v.expectJSON {
		a, err := parseExpectJSON(e)
		if err != nil {
			problems = append(problems, "--expect-json "+err.Error())
			continue
		}
		spec.ExpectJSON = append(spec.ExpectJSON, a)
	}
	seen := map[string]string{}
	for _, h := range v.expectHeader {
		name, want, err := parseExpectHeader(h)
		if err != nil {
			problems = append(problems, "--expect-header "+err.Error())
			continue
		}
		key := http.CanonicalHeaderKey(name)
		if first, ok := seen[key]; ok {
			problems = append(problems, fmt.Sprintf("--expect-header %q: %s is already checked by %q; give one per header (a regexp can say both)", h, name, first))
			continue
		}
		seen[key] = h
		if spec.ExpectHeader == nil {
			spec.ExpectHeader = map[string]string{}
		}
		spec.ExpectHeader[name] = want
	}
	if v.caFile != "" {
		if spec.Insecure {
			problems = append(problems, "--insecure turns off the verification --ca-file is for; give one or the other")
		}
		b, err := os.ReadFile(v.caFile)
		if err != nil {
			problems = append(problems, fmt.Sprintf("--ca-file: %v", err))
		} else {
			spec.CAPEM = string(b)
			if spec.CAPEM == "" {
				problems = append(problems, fmt.Sprintf("--ca-file %s: the file is empty", v.caFile))
			}
		}
	}
	return problems
}

// flagProblem says a spec problem by the flag it came from: the probe
// names its fields (expect_json[1].path, expect_header["X"], ca_pem).
func (v *checkFlagValues) flagProblem(line string) string {
	if rest, ok := strings.CutPrefix(line, "expect_json["); ok {
		if n, after, ok := strings.Cut(rest, "]"); ok {
			if i, err := strconv.Atoi(n); err == nil && i >= 0 && i < len(v.expectJSON) {
				return fmt.Sprintf("--expect-json %q: %s", v.expectJSON[i], strings.TrimPrefix(strings.TrimPrefix(after, "."), ": "))
			}
		}
	}
	if rest, ok := strings.CutPrefix(line, "expect_header["); ok {
		if _, after, ok := strings.Cut(rest, "]: "); ok {
			return "--expect-header: " + after
		}
	}
	if rest, ok := strings.CutPrefix(line, "ca_pem: "); ok {
		return fmt.Sprintf("--ca-file %s: %s", v.caFile, rest)
	}
	return line
}

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseCheckFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "vantage check: %s\n", line)
		}
		fmt.Fprintln(stderr, "Run 'vantage check -h' for usage.")
		return exitUsage
	}
	var r result.Outcome
	secrets := specSecrets(o.spec)
	if o.config != "" {
		cfg, err := config.Load(o.config)
		if err != nil {
			printConfigError(stderr, "vantage check", err)
			return exitUsage
		}
		secrets = append(secrets, cfg.Secrets()...)
		if !o.certWarn.set {
			o.certWarn.days = slices.Clone(cfg.Defaults.CertWarnDays)
		}
		r, err = checkFromVantages(ctx, cfg, nil, o.spec)
		if err != nil {
			fmt.Fprintf(stderr, "vantage check: %v\n", redact.New(secrets).String(err.Error()))
			return exitUsage
		}
	} else {
		// A failure is diagnosed with the host's resolver alone: there is
		// no config to name others or an origin.
		single, err := round.Single(nil, round.Options{})
		if err != nil {
			fmt.Fprintf(stderr, "vantage check: %v\n", err)
			return exitFailed
		}
		r = single.Run(ctx, round.SpecTarget(o.spec)).Outcome
	}
	// The output goes to terminals, tickets and chat: URLs follow the URL
	// rule, and the credentials given (the URL's, --header values, the
	// config's) are hidden in every encoding.
	r = redact.Copy(r, redact.New(secrets).String)
	warns := checkWarnings(&r, o.certWarn.days, time.Now())
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(checkJSON{Outcome: r, Warnings: warns}); err != nil {
			fmt.Fprintf(stderr, "vantage check: writing JSON: %v\n", err)
			return exitFailed
		}
	} else {
		writeDiagnosis(stdout, &r, paletteFor(stdout, os.Getenv), warns...)
	}
	// A warning is not a failure: the target answered, as the daemon
	// keeps it up.
	if r.OK {
		return exitOK
	}
	return exitFailed
}

// writeDiagnosis prints a round's outcome for a person at a terminal: the
// verdict first, then the facts behind it, then what to do. pal colours the
// verdict, the scope and the gateway. warns are what the daemon would warn
// of (checkWarnings); their next steps are shown when the check passed.
func writeDiagnosis(w io.Writer, r *result.Outcome, pal palette, warns ...checkWarning) {
	verdict := "DOWN"
	if r.OK {
		verdict = "UP"
	}
	fmt.Fprintf(w, "%s  %s\n", pal.verdict(r.OK, verdict), r.URL)
	fmt.Fprintf(w, "  %-9s %s\n", "verdict", r.Headline())
	if len(r.Vantages) > 0 {
		fmt.Fprintf(w, "  %-9s %s\n", "scope", pal.scope(r.Scope, scopeWords(r)))
		for _, l := range r.Vantages {
			fmt.Fprintf(w, "  %-9s %s\n", "vantage", vantageWords(&l))
		}
	}
	fmt.Fprintf(w, "  %-9s %s (%s)\n", "class", r.Class, r.Class.Words())
	if r.Status > 0 {
		fmt.Fprintf(w, "  %-9s %d %s\n", "status", r.Status, http.StatusText(r.Status))
	}
	if r.Gateway != "" {
		gw := pal.gateway(r.Gateway)
		if len(r.Via) > 0 {
			gw += ", behind " + strings.Join(r.Via, " → ")
		}
		fmt.Fprintf(w, "  %-9s %s\n", "gateway", gw)
	}
	if r.Detail != "" {
		fmt.Fprintf(w, "  %-9s %s\n", "detail", r.Detail)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  %-9s %s\n", "error", r.Error)
	}
	if r.RemoteAddr != "" {
		fmt.Fprintf(w, "  %-9s %s\n", "remote", r.RemoteAddr)
	}
	if r.FinalURL != "" && r.FinalURL != r.URL {
		fmt.Fprintf(w, "  %-9s %s (%d redirects)\n", "final", r.FinalURL, r.Redirects)
	}
	p := r.Phases
	fmt.Fprintf(w, "  %-9s dns %s · connect %s · tls %s · ttfb %s · total %s\n", "phases",
		ms(p.DNSMs), ms(p.ConnectMs), ms(p.TLSMs), ms(p.TTFBMs), ms(p.TotalMs))
	if r.TLS != nil {
		fmt.Fprintf(w, "  %-9s %s, issued by %s, expires %s (%d days left)\n", "tls",
			r.TLS.Subject, r.TLS.Issuer, r.TLS.NotAfter.UTC().Format(time.DateOnly), r.TLS.DaysLeft)
		if e := r.TLS.Earliest; e != nil && e.Depth > 0 {
			// The leaf is not what expires first: say which certificate is,
			// as openssl s_client -showcerts numbers it.
			fmt.Fprintf(w, "  %-9s %s (depth %d, serial %s), issued by %s, expires %s (%d days left), before the leaf\n", "chain",
				e.Subject, e.Depth, e.Serial, e.Issuer, e.NotAfter.UTC().Format(time.DateOnly), e.DaysLeft)
		}
	}
	for i := range warns {
		fmt.Fprintf(w, "  %-9s %s\n", "warning", warns[i].Summary)
		fmt.Fprintf(w, "  %-9s %s\n", "", warns[i].words())
	}
	if r.RetryAfter != "" {
		fmt.Fprintf(w, "  %-9s %s\n", "retry", "Retry-After: "+r.RetryAfter)
	}
	if r.OK {
		// Nothing failed: the next steps are the warnings', so that the
		// renewal is looked at before the outage.
		var steps []string
		for i := range warns {
			steps = append(steps, warns[i].Fixes...)
		}
		writeSteps(w, steps)
		return
	}
	// The diagnosis follows the result's own markers, as its lines always
	// have.
	markers := append(slices.Clip(r.Evidence.Markers), r.Diagnosis.Markers()...)
	if a := r.Evidence.Assertion; a != nil {
		markers = append([]string{fmt.Sprintf("%s %s: expected %s; found %s", a.Kind, a.Path, a.Expected, a.Found)}, markers...)
	}
	if len(r.Evidence.Headers) > 0 || len(markers) > 0 {
		fmt.Fprintln(w, "  evidence")
		for _, h := range r.Evidence.Headers {
			fmt.Fprintf(w, "    %s\n", h)
		}
		for _, m := range markers {
			fmt.Fprintf(w, "    %s\n", m)
		}
	}
	writeSteps(w, r.Fixes)
}

func writeSteps(w io.Writer, steps []string) {
	if len(steps) > 0 {
		fmt.Fprintln(w, "  next steps")
		for i, f := range steps {
			fmt.Fprintf(w, "    %d. %s\n", i+1, f)
		}
	}
}

// checkJSON is what --json prints: the round's Outcome, flat with the
// field names scripts have always read, and the warnings beside them
// (omitted when there are none, so the object is the same as before).
type checkJSON struct {
	result.Outcome
	Warnings []checkWarning `json:"warnings,omitempty"`
}

// checkWarning is a warning the daemon would open on this outcome: what
// monitor/warning says of it (kind, summary, the certificate, the threshold
// crossed, what each vantage saw), with the incident's severity and detail
// and its next steps.
type checkWarning struct {
	result.Warning
	Severity incident.Severity `json:"severity"`
	Detail   string            `json:"detail"`
	Fixes    []string          `json:"fixes"`
	// days are the thresholds it was measured against, for the words.
	days []int
}

// checkWarnings are the warnings a monitor with cert_warn_days = days
// would open on r, with the rules the daemon uses (monitor/warning); days
// are counted at now. A check has no degraded thresholds, so only the
// certificate's.
func checkWarnings(r *result.Outcome, days []int, now time.Time) []checkWarning {
	v := warning.Certificate(r, days, now)
	if v.Vote != incident.VoteDown || v.Outcome.Warning == nil {
		return nil
	}
	return []checkWarning{{
		Warning: *v.Outcome.Warning, Severity: v.Severity, Detail: v.Outcome.Detail,
		Fixes: slices.Clone(v.Outcome.Fixes), days: days,
	}}
}

// words say which threshold the certificate is under and what the daemon
// does of it: "under 7 days of cert_warn_days 21,7,2: a warning; the
// daemon opens a certificate incident".
func (cw *checkWarning) words() string {
	list := daysList{days: cw.days}
	if cw.Severity == incident.SeverityCritical {
		return fmt.Sprintf("under %d days, the last of cert_warn_days %s: critical; the daemon opens a critical certificate incident",
			cw.ThresholdDays, list.String())
	}
	return fmt.Sprintf("under %d days of cert_warn_days %s: a warning; the daemon opens a certificate incident",
		cw.ThresholdDays, list.String())
}

// certWarnDaysMax bounds a --cert-warn-days threshold as the config bounds
// cert_warn_days (monitor/config/warnings.go): ten years, more is a typo.
const certWarnDaysMax = 3650

// daysList is --cert-warn-days: thresholds in days, largest first, as
// "21,7,2"; "" is none. set says the flag was given.
type daysList struct {
	days []int
	set  bool
}

func (d *daysList) String() string {
	if d == nil {
		return ""
	}
	parts := make([]string, len(d.days))
	for i, n := range d.days {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func (d *daysList) Set(v string) error {
	var days []int
	if strings.TrimSpace(v) != "" {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			switch {
			case err != nil || n < 1 || n > certWarnDaysMax:
				return &flagValueError{fmt.Sprintf("%q: %q is not a number of days from 1 to %d (e.g. 21,7,2, or '' for none)", v, strings.TrimSpace(f), certWarnDaysMax)}
			case slices.Contains(days, n):
				return &flagValueError{fmt.Sprintf("%q: %d is listed twice", v, n)}
			}
			days = append(days, n)
		}
	}
	// Largest first, as the config keeps them: the first threshold crossed
	// opens the warning, the last makes it critical.
	slices.SortFunc(days, func(a, b int) int { return b - a })
	d.days, d.set = days, true
	return nil
}

func ms(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2fs", v/1000)
	}
	return fmt.Sprintf("%.1fms", v)
}

// checkFromVantages runs one round of spec as the daemon would with cfg:
// from local and every vantage, each vantage's canaries checked first so
// that an impaired one is known before its answer is counted, a target
// that is down for everyone or from some regions followed up with a
// diagnosis that asks each vantage's own resolver, and the fixes chosen
// from all of it. remote builds a vantage's prober (an agent client when
// nil).
func checkFromVantages(ctx context.Context, cfg *config.Config, remote func(*config.Vantage) (vantage.Prober, error), spec probe.Spec) (result.Outcome, error) {
	r, err := round.New(cfg, round.Options{Remote: remote})
	if err != nil {
		return result.Outcome{}, err
	}
	if v := r.Vantages(); v != nil {
		v.Tick(ctx)
	}
	return r.Run(ctx, round.SpecTarget(spec)).Outcome, nil
}

// scopeWords says for whom the target is down, naming the vantages.
func scopeWords(r *result.Outcome) string {
	var down, up, bad []string
	for _, l := range r.Vantages {
		switch l.Status {
		case result.VantageDown:
			down = append(down, l.Name)
		case result.VantageUp:
			up = append(up, l.Name)
		case result.VantageImpaired:
			bad = append(bad, l.Name)
		}
	}
	switch r.Scope {
	case result.ScopeEveryone:
		return "down for everyone"
	case result.ScopePartial:
		return fmt.Sprintf("down from %s only (up from %s)", strings.Join(down, ", "), strings.Join(up, ", "))
	case result.ScopeJustMe:
		verb := "is"
		if len(bad) > 1 {
			verb = "are"
		}
		return fmt.Sprintf("our side: %s %s impaired", strings.Join(bad, ", "), verb)
	case result.ScopeUnknown:
		return "unknown: no healthy vantage answered"
	}
	return "up for everyone"
}

// vantageWords is one vantage's line: what it saw, or why it is no vote.
func vantageWords(l *result.VantageLine) string {
	s := fmt.Sprintf("%-12s %s", l.Name, l.Status.Words())
	switch {
	case l.Result != nil && l.Status != result.VantageUnreachable && l.Status != result.VantageRefused:
		s += "  " + l.Result.Headline()
		if l.Error != "" {
			s += " (" + l.Error + ")"
		}
	case l.Error != "":
		s += "  " + l.Error
	}
	return s
}

// specSecrets lists the credentials of an ad-hoc check: the URL's password
// and secret-looking query values, and the values of credential headers.
func specSecrets(s probe.Spec) []redact.Secret {
	out := redact.URLSecrets(s.URL)
	for name, v := range s.Headers {
		if redact.SecretHeader(name) {
			out = append(out, redact.HeaderSecrets(v)...)
		}
	}
	return out
}
