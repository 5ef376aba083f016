package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/schedule"
)

// roleEnv selects a child role when the bench (or its test binary)
// re-executes itself: "target" or "bare".
const roleEnv = "VANTAGE_BENCH_ROLE"

// bench holds what every run of one invocation shares.
type bench struct {
	exe     string // this program, re-executed for the target and the bare loop
	vantage string // the daemon binary
	dir     string // temporary directory for configs, state and logs
	targets int    // listeners on the target server
	maxConc int    // max_concurrency for the daemon; 0 leaves the default
	log     io.Writer
	procs   *children
	urls    []string
	target  *child
	// extra is appended to every generated config, and stateDir, when
	// set, is the state_dir of every run (the -history comparison runs on
	// one seeded store).
	extra    string
	stateDir string
	empty    int64 // RSS of the empty daemon, KiB
	emptyN   int   // monitors in the "empty" daemon (0, or 1 if 0 is refused)
	runCount int
}

// plan is one measurement: n monitors at "@every every".
type plan struct {
	n      int
	every  time.Duration
	warm   time.Duration // after the daemon is ready, before the window
	window time.Duration
	bare   bool // also run the bare baseline
	// label names the run in the report ("history on", ...); extra is
	// appended to its config.
	label string
	extra string
	// during, when set, runs after the window while the daemon still
	// runs, given its base URL.
	during func(ctx context.Context, base string) error
}

// row is one line of the report.
type row struct {
	Label          string  `json:"label,omitempty"`
	N              int     `json:"n"`
	Every          string  `json:"every"`
	NominalPerSec  float64 `json:"nominal_per_sec"`
	AchievedPerSec float64 `json:"achieved_per_sec"`
	WindowSec      float64 `json:"window_sec"`
	NominalChecks  int64   `json:"nominal_checks"`
	Checks         int64   `json:"checks"`
	MissedChecks   int64   `json:"missed_checks"`  // beyond what the window edges allow
	MonitorsShort  int     `json:"monitors_short"` // monitors with at least one missed check
	// Shortfall is nominal minus counted checks over the whole window; it
	// may be negative. ShortfallAllowed is what a lateness drift of
	// driftAllowance between the two ends of the window explains.
	Shortfall        int64              `json:"shortfall"`
	ShortfallAllowed int64              `json:"shortfall_allowed"`
	Failed           map[string]float64 `json:"failed,omitempty"`
	Skipped          float64            `json:"skipped"`
	AllDone          bool               `json:"all_done"`

	DaemonCPUUs      float64 `json:"daemon_cpu_us_per_check"`
	BareUsPerReq     float64 `json:"bare_cpu_us_per_req,omitempty"`
	Ratio            float64 `json:"ratio,omitempty"`
	BareRequests     int64   `json:"bare_requests,omitempty"`
	BareErrors       int64   `json:"bare_errors,omitempty"`
	BareDropped      int64   `json:"bare_dropped,omitempty"`
	RSSEmptyKiB      int64   `json:"rss_empty_kib"`
	RSSEmptyMonitors int     `json:"rss_empty_monitors"`
	RSSKiB           int64   `json:"rss_kib"`
	RSSMaxKiB        int64   `json:"rss_max_kib"`
	KiBPerMonitor    float64 `json:"kib_per_monitor"`

	LatenessP50Ms float64 `json:"lateness_p50_ms"`
	LatenessP99Ms float64 `json:"lateness_p99_ms"`
	LatenessMaxMs float64 `json:"lateness_max_ms"`
	// LatenessMaxSource says where LatenessMaxMs comes from: "gauge" (the
	// daemon's running-max gauge rose during the window, so this is the
	// window's max), "bound" (the gauge did not rise: the window's max is at
	// most this, the lower of the gauge and the highest bucket's bound) or
	// "bucket" (no gauge: upper bound of the highest bucket observed in the
	// window).
	LatenessMaxSource string   `json:"lateness_max_source"`
	Notes             []string `json:"notes,omitempty"`
}

// startTarget starts the target server child and learns its URLs.
func (b *bench) startTarget(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, b.exe, "-listeners", strconv.Itoa(b.targets))
	cmd.Env = append(os.Environ(), roleEnv+"=target", "GOMAXPROCS=2")
	cmd.Stderr = b.log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("starting the target server: %w", err)
	}
	c, err := b.procs.start("target server", cmd)
	if err != nil {
		return err
	}
	b.target = c
	urls, err := readReady(out)
	if err != nil {
		return fmt.Errorf("starting the target server: %w", err)
	}
	b.urls = urls
	return nil
}

// runBare runs the bare baseline child at rate per second and returns what
// it measured.
func (b *bench) runBare(ctx context.Context, rate float64, warm, window time.Duration) (bareResult, error) {
	args := []string{
		"-rate", strconv.FormatFloat(rate, 'f', -1, 64),
		"-warm", warm.String(), "-window", window.String(),
		"-urls", strings.Join(b.urls, ","),
	}
	cmd := exec.CommandContext(ctx, b.exe, args...)
	cmd.Env = append(os.Environ(), roleEnv+"=bare")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = b.log
	c, err := b.procs.start("bare baseline", cmd)
	if err != nil {
		return bareResult{}, err
	}
	select {
	case <-ctx.Done():
		b.procs.stop(c, 0)
		return bareResult{}, ctx.Err()
	case <-c.done:
	}
	b.procs.stop(c, 0)
	if c.err != nil {
		return bareResult{}, fmt.Errorf("bare baseline: %w", c.err)
	}
	var r bareResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return bareResult{}, fmt.Errorf("reading the bare baseline's result %q: %w", out.String(), err)
	}
	return r, nil
}

// monitorName is the name of the i-th monitor of a generated config.
func monitorName(i int) string { return fmt.Sprintf("m%06d", i) }

// writeConfig writes a watchlist with n monitors, spread over the target
// URLs, and returns its path.
func writeConfig(dir, listen string, n int, every time.Duration, urls []string, maxConc int, stateDir, extra string) (string, error) {
	if stateDir == "" {
		stateDir = filepath.Join(dir, "state")
	}
	for _, d := range []string{dir, stateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("writing the config: %w", err)
		}
	}
	timeout := min(5*time.Second, every)
	var w bytes.Buffer
	fmt.Fprintf(&w, "state_dir = %q\nlisten = %q\nlog_level = \"warn\"\nretention = 10\n", stateDir, listen)
	if maxConc > 0 {
		fmt.Fprintf(&w, "max_concurrency = %d\n", maxConc)
	}
	// retry_delay = "0": a re-check after a failure would be a check that
	// is not nominal.
	fmt.Fprintf(&w, "\n[defaults]\nschedule = %q\ntimeout = %q\nretry_delay = \"0\"\n", everySpec(every), timeout.String())
	w.WriteString(extra)
	for i := range n {
		fmt.Fprintf(&w, "\n[[monitor]]\nname = %q\nurl = %q\n", monitorName(i), urls[i%len(urls)])
	}
	path := filepath.Join(dir, "vantage.toml")
	if err := os.WriteFile(path, w.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("writing the config: %w", err)
	}
	return path, nil
}

func everySpec(d time.Duration) string { return "@every " + d.String() }

// freePort returns a 127.0.0.1 address that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// daemon is a running `vantage run`.
type daemon struct {
	c       *child
	base    string // http://host:port
	metrics string
	logPath string
}

// startDaemon writes a config for n monitors and starts the daemon on it,
// returning once /metrics answers.
func (b *bench) startDaemon(ctx context.Context, n int, every time.Duration, extra string) (*daemon, error) {
	b.runCount++
	dir := filepath.Join(b.dir, fmt.Sprintf("run%02d-n%d", b.runCount, n))
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg, err := writeConfig(dir, listen, n, every, b.urls, b.maxConc, b.stateDir, b.extra+extra)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "daemon.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("starting the daemon: %w", err)
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, b.vantage, "run", "-config", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	c, err := b.procs.start("vantage daemon", cmd)
	if err != nil {
		return nil, err
	}
	d := &daemon{c: c, base: "http://" + listen, metrics: "http://" + listen + "/metrics", logPath: logPath}
	client := &http.Client{Timeout: 2 * time.Second}
	// Loading the config and restoring state grows with N.
	wait := 30*time.Second + time.Duration(n)*time.Millisecond
	deadline := time.Now().Add(wait)
	for {
		if gone, err := c.exited(); gone {
			b.procs.stop(c, 0)
			return nil, fmt.Errorf("starting the daemon with %d monitors: %w\n%s", n, err, tail(logPath))
		}
		resp, err := client.Get(d.metrics)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			b.procs.stop(c, 5*time.Second)
			return nil, fmt.Errorf("starting the daemon with %d monitors: %s did not answer within %s\n%s",
				n, d.metrics, wait, tail(logPath))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			b.procs.stop(c, 0)
			return nil, err
		}
	}
}

// tail is the end of a log file, for error messages.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	const max = 2000
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return "daemon log (" + path + "):\n" + string(data)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// measureEmpty records the RSS of a daemon with no monitors (or one, if
// the config needs at least one) after it has settled for a moment.
func (b *bench) measureEmpty(ctx context.Context, every, settle time.Duration) error {
	var d *daemon
	var err error
	for _, n := range []int{0, 1} {
		d, err = b.startDaemon(ctx, n, every, "")
		if err == nil {
			b.emptyN = n
			break
		}
		fmt.Fprintf(b.log, "bench: empty daemon with %d monitors: %v\n", n, err)
	}
	if err != nil {
		return err
	}
	defer b.procs.stop(d.c, 10*time.Second)
	if err := sleep(ctx, settle); err != nil {
		return err
	}
	rss, err := procRSS(d.c.pid())
	if err != nil {
		return err
	}
	b.empty = rss
	return nil
}

// run measures one plan.
func (b *bench) run(ctx context.Context, p plan) (row, error) {
	r := row{Label: p.label, N: p.n, Every: p.every.String(), NominalPerSec: float64(p.n) / p.every.Seconds(),
		RSSEmptyKiB: b.empty, RSSEmptyMonitors: b.emptyN}
	if p.bare {
		fmt.Fprintf(b.log, "bench: bare baseline at %.0f req/s for %s\n", r.NominalPerSec, p.window)
		br, err := b.runBare(ctx, r.NominalPerSec, min(p.warm, 2*time.Second), p.window)
		if err != nil {
			return r, err
		}
		r.BareRequests, r.BareErrors, r.BareDropped = br.Requests, br.Errors, br.Dropped
		if br.Requests > 0 {
			r.BareUsPerReq = float64(br.CPUUs) / float64(br.Requests)
		}
		if br.Errors > 0 || br.Dropped > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("bare: %d errors, %d dropped", br.Errors, br.Dropped))
		}
	}

	fmt.Fprintf(b.log, "bench: daemon with %d monitors @every %s: warm-up %s, window %s\n", p.n, p.every, p.warm, p.window)
	d, err := b.startDaemon(ctx, p.n, p.every, p.extra)
	if err != nil {
		return r, err
	}
	defer b.procs.stop(d.c, 10*time.Second)
	pid := d.c.pid()
	client := &http.Client{Timeout: 30 * time.Second}
	if err := sleep(ctx, p.warm); err != nil {
		return r, err
	}
	s0, err := scrape(ctx, client, d.metrics)
	if err != nil {
		return r, err
	}
	if !s0.hasChecks {
		return r, fmt.Errorf("the daemon's /metrics has no %s", metricChecks)
	}
	cpu0, err := procCPU(pid)
	if err != nil {
		return r, err
	}
	end := s0.got.Add(p.window)
	for time.Until(end) > 0 {
		if err := sleep(ctx, min(time.Second, time.Until(end))); err != nil {
			return r, err
		}
		if gone, err := d.c.exited(); gone {
			return r, fmt.Errorf("during the window: %w\n%s", err, tail(d.logPath))
		}
		if rss, err := procRSS(pid); err == nil {
			r.RSSMaxKiB = max(r.RSSMaxKiB, rss)
		}
	}
	cpu1, err := procCPU(pid)
	if err != nil {
		return r, err
	}
	s1, err := scrape(ctx, client, d.metrics)
	if err != nil {
		return r, err
	}
	if r.RSSKiB, err = procRSS(pid); err != nil {
		return r, err
	}
	r.RSSMaxKiB = max(r.RSSMaxKiB, r.RSSKiB)
	if p.n > 0 {
		r.KiBPerMonitor = float64(r.RSSKiB-b.empty) / float64(p.n)
	}
	if err := r.score(p, s0, s1, cpu1-cpu0); err != nil {
		return r, err
	}
	if r.BareUsPerReq > 0 {
		r.Ratio = r.DaemonCPUUs / r.BareUsPerReq
	}
	if p.during != nil {
		if err := p.during(ctx, d.base); err != nil {
			return r, err
		}
	}
	return r, nil
}

// driftAllowance is how much the lateness at the end of the window may
// exceed the lateness at its start before the rounds it holds back count as
// not done. Rounds due shortly before the end of the window that are still
// queued are made up for by rounds due shortly before its start that were
// still queued then, as long as the daemon keeps up; a daemon that falls
// behind lets the queue, and so the shortfall, grow.
const driftAllowance = 250 * time.Millisecond

// score fills the check, lateness and CPU figures of r from the two
// scrapes around the window.
func (r *row) score(p plan, s0, s1 snapshot, cpu time.Duration) error {
	spec, err := schedule.ParseSpec(everySpec(p.every))
	if err != nil {
		return fmt.Errorf("scoring: %w", err)
	}
	// The daemon read its counters for s0 before s0.got and for s1 after
	// s1.sent, so the rounds it owed in between are exactly those due in
	// [s0.got, s1.sent); rounds due in the last moments of it may still
	// be running when s1 is read.
	t0, t1 := s0.got, s1.sent
	r.WindowSec = t1.Sub(t0).Seconds()
	late := s1.lateness.sub(s0.lateness)
	r.LatenessP50Ms = late.quantile(0.50) * 1000
	r.LatenessP99Ms = late.quantile(0.99) * 1000
	top := late.maxBound()
	switch {
	case s1.hasMax && s0.hasMax && s1.maxLate > s0.maxLate:
		// The gauge is a running maximum: it rose, so the window holds it.
		r.LatenessMaxMs, r.LatenessMaxSource = s1.maxLate*1000, "gauge"
	case s1.hasMax:
		// The maximum was reached before the window (at start-up, say);
		// the window's own is at most the gauge and the highest bucket.
		r.LatenessMaxMs, r.LatenessMaxSource = math.Min(s1.maxLate, top)*1000, "bound"
	default:
		r.LatenessMaxMs, r.LatenessMaxSource = top*1000, "bucket"
	}
	// Interpolating inside a bucket can overshoot the real maximum; no
	// quantile is above it (or above a bound of it).
	if !math.IsNaN(r.LatenessMaxMs) {
		r.LatenessP50Ms = math.Min(r.LatenessP50Ms, r.LatenessMaxMs)
		r.LatenessP99Ms = math.Min(r.LatenessP99Ms, r.LatenessMaxMs)
	}
	// A round due this close to t1 may be late or in flight when s1 is
	// read, and then shows up one scrape later: allowed, not missed.
	edge := time.Second + min(5*time.Second, p.every)
	if !math.IsNaN(top) && !math.IsInf(top, 0) {
		edge = time.Second + time.Duration(top*float64(time.Second))
	}
	edge = min(edge, p.every)
	edge += s1.got.Sub(s1.sent)

	for i := range p.n {
		name := monitorName(i)
		frac := schedule.Jitter(name)
		var nominal, allowed int64
		for t := spec.Next(t0.Add(-time.Nanosecond), frac, 0); t.Before(t1); t = spec.Next(t, frac, 0) {
			nominal++
			if !t.Before(t1.Add(-edge)) {
				allowed++
			}
		}
		got := int64(s1.checks[name] - s0.checks[name])
		r.NominalChecks += nominal
		r.Checks += got
		if short := nominal - got - allowed; short > 0 {
			r.MissedChecks += short
			r.MonitorsShort++
		}
	}
	for c, v := range s1.failed {
		if d := v - s0.failed[c]; d > 0 {
			if r.Failed == nil {
				r.Failed = map[string]float64{}
			}
			r.Failed[c] = d
		}
	}
	r.Skipped = s1.skipped - s0.skipped
	if e := s1.storeErrs - s0.storeErrs; e > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%.0f failed writes to the state store (%s)", e, metricStoreErrors))
	}
	if late.count == 0 {
		r.Notes = append(r.Notes, "no "+metricLateness+" observations in the window")
	}
	r.AchievedPerSec = float64(r.Checks) / r.WindowSec
	if r.Checks > 0 {
		r.DaemonCPUUs = float64(cpu.Microseconds()) / float64(r.Checks)
	}
	r.Shortfall = r.NominalChecks - r.Checks
	r.ShortfallAllowed = int64(math.Ceil(float64(p.n) * driftAllowance.Seconds() / p.every.Seconds()))
	r.AllDone = r.Shortfall <= r.ShortfallAllowed && r.MissedChecks == 0 && r.Skipped == 0 && len(r.Failed) == 0 && r.Checks > 0
	return nil
}

// buildVantage builds the daemon binary into dir.
func buildVantage(ctx context.Context, dir string, log io.Writer) (string, error) {
	out := filepath.Join(dir, "vantage")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/vantage-monitor/vantage/cmd/vantage")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	fmt.Fprintln(log, "bench: building the vantage binary")
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building vantage: %w\n%s", err, stderr.String())
	}
	return out, nil
}

// checkRunSubcommand fails early with a clear message when the binary has
// no `run` subcommand yet.
func checkRunSubcommand(ctx context.Context, vantage string) error {
	cmd := exec.CommandContext(ctx, vantage, "run", "-h")
	out, _ := cmd.CombinedOutput()
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "unknown command") {
			return fmt.Errorf("%s has no `run` subcommand yet: %s", vantage, strings.TrimSpace(sc.Text()))
		}
	}
	return nil
}
