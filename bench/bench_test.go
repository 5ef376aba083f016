package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/schedule"
)

// TestMain lets the test binary play the target server and the bare loop
// when the bench re-executes itself (os.Executable is the test binary here).
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"plain", "1234 (vantage) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 100 1000 200", 2870 * time.Millisecond, false},
		{"name with spaces and parens", "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0", 70 * time.Millisecond, false},
		{"truncated", "7 (x) R 1 2 3", 0, true},
		{"no name", "7 x R", 0, true},
		{"not a number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 a 4 0 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.in))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("parseStatCPU = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseStatusKiB(t *testing.T) {
	status := "Name:\tvantage\nVmPeak:\t  999 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n"
	if got, err := parseStatusKiB([]byte(status), "VmRSS"); err != nil || got != 51234 {
		t.Fatalf("VmRSS = %d, %v; want 51234", got, err)
	}
	if _, err := parseStatusKiB([]byte(status), "VmSwap"); err == nil {
		t.Fatal("missing key: want an error")
	}
	if _, err := parseStatusKiB([]byte("VmRSS: 12 pages\n"), "VmRSS"); err == nil {
		t.Fatal("unexpected unit: want an error")
	}
}

func TestOwnProcess(t *testing.T) {
	rss, err := procRSS(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("procRSS(self) = %d, %v", rss, err)
	}
	c0, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the kernel has charged 100ms of CPU to this process. Wall
	// time says nothing about that on a loaded machine, so the bound is
	// generous and only stops a procCPU that never moves.
	var c1 time.Duration
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if c1, err = procCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if c1-c0 >= 100*time.Millisecond {
			return
		}
		for spin := time.Now().Add(20 * time.Millisecond); time.Now().Before(spin); {
		}
	}
	t.Fatalf("after spinning for 10s the CPU time grew by only %v", c1-c0)
}

const exposition = `# HELP vantage_checks_total Checks run, by monitor and result class.
# TYPE vantage_checks_total counter
vantage_checks_total{class="ok",monitor="m000000"} 5
vantage_checks_total{class="timeout",monitor="m000000"} 1
vantage_checks_total{class="ok",monitor="m000001"} 7
# HELP vantage_rounds_skipped_total Rounds skipped.
# TYPE vantage_rounds_skipped_total counter
vantage_rounds_skipped_total{monitor="m000001"} 2
# HELP vantage_scheduler_lateness_seconds How late.
# TYPE vantage_scheduler_lateness_seconds histogram
vantage_scheduler_lateness_seconds_bucket{le="0.01"} 50
vantage_scheduler_lateness_seconds_bucket{le="0.1"} 90
vantage_scheduler_lateness_seconds_bucket{le="1"} 100
vantage_scheduler_lateness_seconds_bucket{le="+Inf"} 100
vantage_scheduler_lateness_seconds_sum 3
vantage_scheduler_lateness_seconds_count 100
`

func TestSnapshotParse(t *testing.T) {
	var s snapshot
	if err := s.parse(strings.NewReader(exposition)); err != nil {
		t.Fatal(err)
	}
	if s.checks["m000000"] != 6 || s.checks["m000001"] != 7 {
		t.Errorf("checks = %v, want m000000:6 m000001:7", s.checks)
	}
	if len(s.failed) != 1 || s.failed["timeout"] != 1 {
		t.Errorf("failed = %v, want timeout:1", s.failed)
	}
	if s.skipped != 2 || s.hasMax {
		t.Errorf("skipped = %v, hasMax %v", s.skipped, s.hasMax)
	}
	if s.lateness.count != 100 || len(s.lateness.bounds) != 3 {
		t.Errorf("lateness = %+v", s.lateness)
	}
	if err := new(snapshot).parse(strings.NewReader("vantage_checks_total{ 5\n")); err == nil {
		t.Error("broken exposition: want an error")
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := histogram{count: 100, bounds: []float64{0.01, 0.1, 1}, buckets: []float64{50, 90, 100}}
	tests := []struct {
		q, want float64
	}{
		{0.5, 0.01},
		{0.25, 0.005},
		{0.7, 0.055},
		{0.99, 0.91},
	}
	for _, tt := range tests {
		if got := h.quantile(tt.q); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := h.maxBound(); got != 1 {
		t.Errorf("maxBound = %v, want 1", got)
	}
	old := histogram{count: 40, bounds: h.bounds, buckets: []float64{40, 40, 40}}
	d := h.sub(old)
	if d.count != 60 || d.buckets[0] != 10 || d.buckets[2] != 60 {
		t.Errorf("sub = %+v", d)
	}
	if got := d.quantile(0.5); math.Abs(got-0.055) > 1e-9 {
		t.Errorf("delta p50 = %v, want 0.055", got)
	}
	over := histogram{count: 10, bounds: []float64{1}, buckets: []float64{8}}
	if got := over.maxBound(); !math.IsInf(got, 1) {
		t.Errorf("maxBound with observations past the last bound = %v, want +Inf", got)
	}
	if got := over.quantile(0.99); got != 1 {
		t.Errorf("quantile in +Inf bucket = %v, want the last bound 1", got)
	}
	if got := (histogram{}).quantile(0.5); !math.IsNaN(got) {
		t.Errorf("empty quantile = %v, want NaN", got)
	}
	skipEmpty := histogram{count: 4, bounds: []float64{0.01, 0.1, 1}, buckets: []float64{0, 4, 4}}
	if got := skipEmpty.maxBound(); got != 0.1 {
		t.Errorf("maxBound = %v, want 0.1", got)
	}
}

// fakeWindow builds the two scrapes around a window in which every monitor
// did exactly its nominal rounds, by the same jitter rule as the daemon.
func fakeWindow(t *testing.T, n int, every time.Duration, t0, t1 time.Time) (snapshot, snapshot) {
	t.Helper()
	spec, err := schedule.ParseSpec(everySpec(every))
	if err != nil {
		t.Fatal(err)
	}
	s0 := snapshot{got: t0, checks: map[string]float64{}, failed: map[string]float64{}}
	s1 := snapshot{sent: t1, got: t1.Add(time.Millisecond), checks: map[string]float64{}, failed: map[string]float64{}}
	lat := histogram{count: 100, bounds: []float64{0.01, 0.1}, buckets: []float64{100, 100}}
	for i := range n {
		name := monitorName(i)
		s0.checks[name] = 3
		s1.checks[name] = 3
		for ft := spec.Next(t0, schedule.Jitter(name), 0); ft.Before(t1); ft = spec.Next(ft, schedule.Jitter(name), 0) {
			s1.checks[name]++
		}
	}
	s1.lateness = lat
	return s0, s1
}

func TestScore(t *testing.T) {
	every := 10 * time.Second
	t0 := time.Unix(1_700_000_000, 123_000_000)
	t1 := t0.Add(20 * time.Second)
	p := plan{n: 500, every: every}

	s0, s1 := fakeWindow(t, p.n, every, t0, t1)
	var r row
	if err := r.score(p, s0, s1, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if !r.AllDone || r.NominalChecks != 1000 || r.Checks != 1000 || r.MissedChecks != 0 {
		t.Fatalf("exact window: %+v", r)
	}
	if r.DaemonCPUUs != 2000 || math.Abs(r.AchievedPerSec-50) > 1e-9 {
		t.Errorf("cpu/check %v, achieved %v; want 2000 µs and 50/s", r.DaemonCPUUs, r.AchievedPerSec)
	}

	// A monitor whose round falls mid-window and is not counted is missed;
	// one whose round was due just before t1 may still be in flight.
	spec, _ := schedule.ParseSpec(everySpec(every))
	var mid, edge string
	for i := range p.n {
		name := monitorName(i)
		last := spec.Next(t1.Add(-every), schedule.Jitter(name), 0)
		switch d := t1.Sub(last); {
		case d > 3*time.Second && d < 7*time.Second && mid == "":
			mid = name
		case d < 500*time.Millisecond && edge == "":
			edge = name
		}
	}
	if mid == "" || edge == "" {
		t.Fatalf("no monitor found mid-window (%q) or at the edge (%q)", mid, edge)
	}
	s1.checks[edge]--
	r = row{}
	if err := r.score(p, s0, s1, time.Second); err != nil {
		t.Fatal(err)
	}
	if !r.AllDone {
		t.Fatalf("a round due %s before the end and not yet counted is allowed: %+v", "<500ms", r)
	}
	s1.checks[mid]--
	r = row{}
	if err := r.score(p, s0, s1, time.Second); err != nil {
		t.Fatal(err)
	}
	if r.AllDone || r.MissedChecks != 1 || r.MonitorsShort != 1 {
		t.Fatalf("a missing mid-window round: missed %d, short %d, done %v", r.MissedChecks, r.MonitorsShort, r.AllDone)
	}

	// A daemon falling behind: lateness up to 5s, and every round due in
	// the last 5s still queued. Each monitor is within its edge allowance,
	// but nothing makes up for them at the start of the window.
	s0, s1 = fakeWindow(t, p.n, every, t0, t1)
	s1.lateness = histogram{count: 100, bounds: []float64{1, 5}, buckets: []float64{50, 100}}
	held := 0
	for i := range p.n {
		name := monitorName(i)
		if last := spec.Next(t1.Add(-every), schedule.Jitter(name), 0); t1.Sub(last) < 5*time.Second {
			s1.checks[name]--
			held++
		}
	}
	r = row{}
	if err := r.score(p, s0, s1, time.Second); err != nil {
		t.Fatal(err)
	}
	if r.AllDone || r.MonitorsShort != 0 || r.Shortfall != int64(held) || r.ShortfallAllowed != 13 {
		t.Fatalf("falling behind by %d rounds: done %v, short %d, shortfall %d (allowed %d)", held, r.AllDone, r.MonitorsShort, r.Shortfall, r.ShortfallAllowed)
	}
	if got := done(r); !strings.Contains(got, "checks not done") {
		t.Errorf("done() = %q", got)
	}

	s0, s1 = fakeWindow(t, p.n, every, t0, t1)
	s1.skipped = 1
	s1.failed["timeout"] = 2
	r = row{}
	if err := r.score(p, s0, s1, time.Second); err != nil {
		t.Fatal(err)
	}
	if r.AllDone || r.Skipped != 1 || r.Failed["timeout"] != 2 {
		t.Fatalf("skipped and failed rounds must fail the run: %+v", r)
	}
	if got := done(r); !strings.Contains(got, "1 skipped") || !strings.Contains(got, "2 timeout") {
		t.Errorf("done() = %q", got)
	}
}

func TestTargetAndBare(t *testing.T) {
	lns, err := listenTargets(2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serveTarget(ctx, lns) }()
	urls := targetURLs(lns)
	for _, u := range urls {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("target URL %q is not on 127.0.0.1", u)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "ok" {
			t.Fatalf("target answered %d %q", resp.StatusCode, body)
		}
	}
	r, err := runBare(ctx, urls, 200, 200*time.Millisecond, time.Second, 8)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests < 150 || r.Requests > 250 || r.Errors != 0 || r.Dropped != 0 || r.Seconds < 1 {
		t.Fatalf("bare at 200/s for 1s: %+v", r)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serveTarget: %v", err)
	}
}

func TestReadReady(t *testing.T) {
	urls, err := readReady(strings.NewReader("ready http://127.0.0.1:1/ http://127.0.0.1:2/\nrest"))
	if err != nil || len(urls) != 2 {
		t.Fatalf("readReady = %v, %v", urls, err)
	}
	if _, err := readReady(strings.NewReader("panic: oops\n")); err == nil {
		t.Fatal("want an error for a line that is not a ready line")
	}
	if _, err := readReady(strings.NewReader("")); err == nil {
		t.Fatal("want an error at EOF")
	}
}

func TestWriteConfig(t *testing.T) {
	dir := t.TempDir()
	path, err := writeConfig(dir, "127.0.0.1:9999", 3, 2*time.Second, []string{"http://127.0.0.1:1/", "http://127.0.0.1:2/"}, 0, "", "")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{`schedule = "@every 2s"`, `timeout = "2s"`, `name = "m000002"`, `url = "http://127.0.0.1:1/"`, `url = "http://127.0.0.1:2/"`, `log_level = "warn"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("config lacks %s:\n%s", want, data)
		}
	}
}

// TestQuick runs `bench -quick` end to end against the real vantage binary
// and checks that it reports sane numbers.
func TestQuick(t *testing.T) {
	start := time.Now()
	var stdout, stderr bytes.Buffer
	code := runMain([]string{"-quick", "-json"}, &stdout, &stderr)
	t.Logf("bench -quick took %s\n%s", time.Since(start), stderr.String())
	if code != 0 {
		t.Fatalf("bench -quick exited %d\nstdout: %s", code, stdout.String())
	}
	out := stdout.String()
	var rows []row
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("reading the JSON report (%v): %s", err, out)
	}
	r := rows[0]
	t.Logf("%+v", r)
	if r.N != 200 || r.Checks <= 0 || r.NominalChecks <= 0 || r.AchievedPerSec <= 0 {
		t.Errorf("checks: N %d, %d of %d nominal, %.1f/s", r.N, r.Checks, r.NominalChecks, r.AchievedPerSec)
	}
	if r.RSSKiB <= 0 || r.RSSEmptyKiB <= 0 || r.DaemonCPUUs <= 0 {
		t.Errorf("RSS %d KiB (empty %d KiB), CPU %.0f µs/check", r.RSSKiB, r.RSSEmptyKiB, r.DaemonCPUUs)
	}
	if r.BareRequests <= 0 || r.BareUsPerReq <= 0 || r.Ratio <= 0 {
		t.Errorf("bare baseline: %d requests, %.0f µs/req, ratio %.2f", r.BareRequests, r.BareUsPerReq, r.Ratio)
	}
	if r.LatenessP50Ms < 0 || r.LatenessP99Ms < r.LatenessP50Ms {
		t.Errorf("lateness p50 %.1f ms, p99 %.1f ms", r.LatenessP50Ms, r.LatenessP99Ms)
	}
	// 200 monitors every 2s on loopback is far below any limit.
	if !r.AllDone {
		t.Errorf("not every nominal check was done: %s", done(r))
	}
	var table bytes.Buffer
	writeTable(&table, rows)
	if !strings.Contains(table.String(), fmt.Sprintf("| %d | 2s |", r.N)) {
		t.Errorf("table:\n%s", table.String())
	}
}

func TestScoreLatenessMax(t *testing.T) {
	every := 10 * time.Second
	t0 := time.Unix(1_700_000_000, 0)
	t1 := t0.Add(20 * time.Second)
	p := plan{n: 10, every: every}
	tests := []struct {
		name           string
		max0, max1     float64
		hasMax         bool
		wantMs         float64
		wantSource     string
		wantTableMarks bool
	}{
		{"gauge rose in the window", 0.3, 0.5, true, 500, "gauge", false},
		{"gauge set at start-up", 2, 2, true, 100, "bound", true},
		{"gauge below the bucket bound", 0.05, 0.05, true, 50, "bound", true},
		{"exact max below the interpolated p99", 0.01, 0.04, true, 40, "gauge", false},
		{"no gauge", 0, 0, false, 100, "bucket", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s0, s1 := fakeWindow(t, p.n, every, t0, t1)
			s1.lateness = histogram{count: 20, bounds: []float64{0.01, 0.1, 1}, buckets: []float64{10, 20, 20}}
			s0.maxLate, s1.maxLate, s0.hasMax, s1.hasMax = tt.max0, tt.max1, tt.hasMax, tt.hasMax
			var r row
			if err := r.score(p, s0, s1, time.Second); err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.LatenessMaxMs-tt.wantMs) > 1e-6 || r.LatenessMaxSource != tt.wantSource {
				t.Fatalf("max = %v ms from %q, want %v ms from %q", r.LatenessMaxMs, r.LatenessMaxSource, tt.wantMs, tt.wantSource)
			}
			if r.LatenessP99Ms > r.LatenessMaxMs || r.LatenessP50Ms > r.LatenessP99Ms {
				t.Errorf("p50 %v ms, p99 %v ms, max %v ms: quantiles must not exceed the max", r.LatenessP50Ms, r.LatenessP99Ms, r.LatenessMaxMs)
			}
			if got := strings.Contains(maxMark(r), "≤"); got != tt.wantTableMarks {
				t.Errorf("table marks the max as a bound: %v, want %v", got, tt.wantTableMarks)
			}
		})
	}
}
