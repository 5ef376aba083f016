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
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/round"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// checkOptions are the parsed flags of `vantage check`.
type checkOptions struct {
	spec probe.Spec
	json bool
	// config, when set, probes through the vantages of this watchlist.
	config string
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
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "vantage check: writing JSON: %v\n", err)
			return exitFailed
		}
	} else {
		writeDiagnosis(stdout, &r, paletteFor(stdout, os.Getenv))
	}
	if r.OK {
		return exitOK
	}
	return exitFailed
}

// writeDiagnosis prints a round's outcome for a person at a terminal: the
// verdict first, then the facts behind it, then what to do. pal colours the
// verdict, the scope and the gateway.
func writeDiagnosis(w io.Writer, r *result.Outcome, pal palette) {
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
	if r.RetryAfter != "" {
		fmt.Fprintf(w, "  %-9s %s\n", "retry", "Retry-After: "+r.RetryAfter)
	}
	if r.OK {
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
	if len(r.Fixes) > 0 {
		fmt.Fprintln(w, "  next steps")
		for i, f := range r.Fixes {
			fmt.Fprintf(w, "    %d. %s\n", i+1, f)
		}
	}
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
