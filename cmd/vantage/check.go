package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// checkOptions are the parsed flags of `vantage check`.
type checkOptions struct {
	spec probe.Spec
	json bool
}

func parseCheckFlags(args []string, stderr io.Writer) (checkOptions, error) {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o            checkOptions
		headers      stringList
		resolves     stringList
		expectStatus = probe.DefaultExpectStatus
		maxBody      = byteSize(probe.DefaultMaxBody)
		v4, v6       bool
	)
	fs.DurationVar(&o.spec.Timeout, "timeout", probe.DefaultTimeout, "give up after this long: DNS, connect, TLS, headers and body together")
	fs.StringVar(&o.spec.Method, "method", http.MethodGet, "HTTP method")
	fs.Var(&headers, "header", "request header 'Name: value' (repeatable)")
	fs.StringVar(&o.spec.Body, "body", "", "request body")
	fs.StringVar(&expectStatus, "expect-status", expectStatus, "accepted status codes and ranges, e.g. 200,204 or 200-399")
	fs.StringVar(&o.spec.ExpectBody, "expect-body", "", "fail unless the body contains this text")
	fs.StringVar(&o.spec.ExpectRegex, "expect-regex", "", "fail unless the body matches this regular expression")
	fs.Var(&maxBody, "max-body", "read at most this many bytes of the body, after decompression (e.g. 1MiB)")
	noFollow := fs.Bool("no-follow", false, "report a redirect as it is instead of following it (default: follow up to 10)")
	fs.BoolVar(&o.spec.Insecure, "insecure", false, "do not verify the TLS certificate (it is still reported)")
	fs.Var(&resolves, "resolve", "pin host:port to an address, as curl's host:port:addr (repeatable)")
	fs.BoolVar(&v4, "4", false, "use IPv4 only")
	fs.BoolVar(&v6, "6", false, "use IPv6 only")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of a diagnosis")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: vantage check [flags] URL")
		fmt.Fprintln(stderr, "\nProbes URL once from this host and says exactly what failed.")
		fmt.Fprintln(stderr, "Exit status: 0 when the check passed, 1 when it failed, 2 for a usage error.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return o, err
	}
	var problems []string
	switch len(pos) {
	case 0:
		problems = append(problems, "a URL is required")
	case 1:
		o.spec.URL = pos[0]
	default:
		problems = append(problems, fmt.Sprintf("one URL expected, got %d: %s", len(pos), strings.Join(pos, " ")))
	}
	if v4 && v6 {
		problems = append(problems, "-4 and -6 exclude each other")
	} else if v4 {
		o.spec.IPVersion = 4
	} else if v6 {
		o.spec.IPVersion = 6
	}
	if o.spec.Timeout <= 0 {
		problems = append(problems, "--timeout must be positive")
	}
	for _, h := range headers {
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
	set, err := probe.ParseStatusSet(expectStatus)
	if err != nil {
		problems = append(problems, "--expect-status: "+err.Error())
	}
	o.spec.ExpectStatus = set
	o.spec.MaxBody = int64(maxBody)
	o.spec.NoFollow = *noFollow
	o.spec.Resolve = resolves
	o.spec.Method = strings.ToUpper(o.spec.Method)
	if len(problems) == 0 && o.spec.URL != "" {
		if err := o.spec.Validate(); err != nil {
			problems = append(problems, strings.Split(err.Error(), "\n")...)
		}
	}
	if len(problems) > 0 {
		return o, errors.New(strings.Join(problems, "\n"))
	}
	return o, nil
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
	var p probe.Prober
	r := p.Run(ctx, o.spec)
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "vantage check: writing JSON: %v\n", err)
			return exitFailed
		}
	} else {
		writeDiagnosis(stdout, &r)
	}
	if r.OK {
		return exitOK
	}
	return exitFailed
}

// writeDiagnosis prints a result for a person at a terminal: the verdict
// first, then the facts behind it, then what to do.
func writeDiagnosis(w io.Writer, r *result.Result) {
	verdict := "DOWN"
	if r.OK {
		verdict = "UP"
	}
	fmt.Fprintf(w, "%s  %s\n", verdict, r.URL)
	fmt.Fprintf(w, "  %-9s %s\n", "verdict", r.Headline())
	fmt.Fprintf(w, "  %-9s %s (%s)\n", "class", r.Class, r.Class.Words())
	if r.Status > 0 {
		fmt.Fprintf(w, "  %-9s %d %s\n", "status", r.Status, http.StatusText(r.Status))
	}
	if r.Gateway != "" {
		gw := r.Gateway
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
	}
	if r.RetryAfter != "" {
		fmt.Fprintf(w, "  %-9s %s\n", "retry", "Retry-After: "+r.RetryAfter)
	}
	if r.OK {
		return
	}
	if len(r.Evidence.Headers) > 0 || len(r.Evidence.Markers) > 0 {
		fmt.Fprintln(w, "  evidence")
		for _, h := range r.Evidence.Headers {
			fmt.Fprintf(w, "    %s\n", h)
		}
		for _, m := range r.Evidence.Markers {
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
