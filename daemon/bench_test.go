package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// BenchmarkSettleSteady measures the daemon's own work per check in steady
// state (everything after the probe): it must stay small next to the probe.
func BenchmarkSettleSteady(b *testing.B) {
	f := newFixture(b, monitorTOML("web", "http://127.0.0.1:1/"), func(o *Options) { o.Logger = nil })
	m := f.d.lookup("web")
	res := result.Outcome{Result: result.Result{URL: "http://127.0.0.1:1/", OK: true, Class: result.ClassOK, Status: 200, StartedAt: result.TimeOf(t0)}}
	res.Normalize()
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := res
		at := t0.Add(time.Duration(i) * time.Second)
		f.d.settle(ctx, m, at, &r, incident.Observation{At: at})
		if i%500 == 0 {
			f.d.buf.mu.Lock()
			f.d.buf.rows = f.d.buf.rows[:0]
			f.d.buf.mu.Unlock()
		}
	}
}

// BenchmarkHistoryMinute is the history's write cost of one minute of
// 10,000 monitors checked @every 30s: two checks each into the
// accumulator, then the flush that drains the closed minute into the
// store. Divide by 20,000 for its share of a check.
func BenchmarkHistoryMinute(b *testing.B) {
	f := newFixture(b, monitorTOML("web", "http://127.0.0.1:1/"), func(o *Options) { o.Logger = nil })
	ctx := context.Background()
	const n = 10000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("m%06d", i)
	}
	res := result.Result{OK: true, Phases: result.Phases{DNSMs: 0.4, ConnectMs: 0.3, TTFBMs: 1.2, TotalMs: 1.9}}
	b.ReportAllocs()
	for b.Loop() {
		at := f.clock.Now()
		for _, name := range names {
			f.d.hist.acc.Add(name, result.LocalVantage, at, &res)
			f.d.hist.acc.Add(name, result.LocalVantage, at.Add(30*time.Second), &res)
		}
		f.clock.Advance(time.Minute)
		if err := f.d.flushHistory(ctx, false); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(2*n)/1000, "µs/check")
}

// BenchmarkMetricsScrape is the CPU of one /metrics scrape of 10,000
// monitors × 3 vantages (local, fra1, iad1), every one with TLS: about
// 260,000 per-monitor series. client_golang is the straightforward way (a
// Collector of const metrics gathered and encoded by promhttp), kept as the
// reference; direct is what /metrics does (daemon/metrics_series.go).
// cpu-ms/op is the process's user+system CPU per scrape (getrusage), GC
// included.
func BenchmarkMetricsScrape(b *testing.B) {
	f := newScrapeFixture(b, 10000)
	ref := prometheus.NewRegistry()
	ref.MustRegister(referenceCollector{f.d})
	slow := promhttp.HandlerFor(prometheus.Gatherers{f.d.reg, ref}, promhttp.HandlerOpts{})
	fast := f.d.metrics.handler()
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"client_golang", slow}, {"direct", fast}} {
		for _, enc := range []string{"identity", "gzip"} {
			b.Run(c.name+"/"+enc, func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				req.Header.Set("Accept", scraperAccept)
				req.Header.Set("Accept-Encoding", enc)
				w := &discardWriter{}
				c.h.ServeHTTP(w, req) // warm the pools
				b.ReportAllocs()
				cpu0 := processCPU(b)
				for b.Loop() {
					w.n = 0
					c.h.ServeHTTP(w, req)
				}
				b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
				b.ReportMetric(float64(w.n)/(1<<20), "MiB/scrape")
			})
		}
	}
}

// scraperAccept is the Accept header of Prometheus 3's scrapes.
const scraperAccept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

// newScrapeFixture is a daemon with n monitors and the vantages fra1 and
// iad1, each monitor's last round having seen it from local, fra1 and iad1
// over TLS, as a round leaves it (settle's publishMetrics).
func newScrapeFixture(b testing.TB, n int) *fixture {
	dir := b.TempDir()
	var body strings.Builder
	for _, v := range []string{"fra1", "iad1"} {
		key := filepath.Join(dir, v+".key")
		if err := os.WriteFile(key, []byte(agent.GenerateKey()+"\n"), 0o600); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&body, "[[vantage]]\nname = %q\nurl = \"http://127.0.0.1:9/\"\nkey_file = %q\n\n", v, key)
	}
	for i := range n {
		fmt.Fprintf(&body, "[[monitor]]\nname = \"m%06d\"\nurl = \"https://127.0.0.1:1/\"\nschedule = \"@every 30s\"\n\n", i)
	}
	f := newFixture(b, body.String(), func(o *Options) {
		o.Logger = nil
		o.Remote = func(*config.Vantage) (vantage.Prober, error) { return unusedProber{}, nil }
	})
	for i, m := range f.d.monitorList() {
		out := scrapeOutcome(i)
		m.mu.Lock()
		m.last = &out
		f.d.publishMetrics(m, &out)
		m.mu.Unlock()
	}
	return f
}

// scrapeOutcome is a round seen from three vantages, with every phase and a
// certificate, its numbers varying with i.
func scrapeOutcome(i int) result.Outcome {
	line := func(name string, k float64) result.VantageLine {
		r := &result.Result{OK: true, Class: result.ClassOK, Status: 200,
			Phases: result.Phases{DNSMs: 1.25 * k, ConnectMs: 3.5 + float64(i%97), TLSMs: 11.2 * k, TTFBMs: 42.7 + float64(i%13), TotalMs: 80.3 * k},
			TLS:    &result.TLSInfo{NotAfter: result.TimeOf(t0.Add(time.Duration(i) * time.Hour))},
		}
		return result.VantageLine{Name: name, Status: result.VantageUp, Result: r}
	}
	o := result.Outcome{Vantages: []result.VantageLine{line(result.LocalVantage, 1), line("fra1", 1.7), line("iad1", 2.3)}}
	o.Result = *o.Vantages[0].Result
	return o
}

// unusedProber is a remote vantage that the benchmark never asks.
type unusedProber struct{}

func (unusedProber) Probe(context.Context, probe.Spec) (result.Result, error) {
	return result.Result{}, errors.New("not used")
}

// discardWriter is a ResponseWriter that counts and drops the body, so the
// benchmark times the handler and not a buffer of its output.
type discardWriter struct {
	h http.Header
	n int64
}

func (w *discardWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *discardWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// processCPU is the process's user+system CPU time so far.
func processCPU(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// referenceCollector is the per-monitor families the straightforward
// client_golang way: a const metric for each series at every scrape, from
// each monitor's last outcome read under its lock. The benchmark's
// "before", and the reference the hand-written exposition must match
// (metrics_test.go).
type referenceCollector struct{ d *Daemon }

var (
	refDuration = prometheus.NewDesc(famDuration, helpDuration, []string{"monitor", "vantage", "phase"}, nil)
	refCert     = prometheus.NewDesc(famCert, helpCert, []string{"monitor", "vantage"}, nil)
	refState    = prometheus.NewDesc(famState, helpState, []string{"monitor", "state"}, nil)
)

func (referenceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- refDuration
	ch <- refCert
	ch <- refState
}

func (c referenceCollector) Collect(ch chan<- prometheus.Metric) {
	cfg := c.d.config()
	for _, m := range c.d.monitorList() {
		cur := stateOf(m.status.Load())
		for _, s := range stateNames() {
			v := 0.0
			if s == cur {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(refState, prometheus.GaugeValue, v, m.name, s)
		}
		m.mu.Lock()
		last := m.last
		m.mu.Unlock()
		if last == nil {
			continue
		}
		emit := func(vantage string, r *result.Result) {
			for _, p := range result.AllPhases() {
				ch <- prometheus.MustNewConstMetric(refDuration, prometheus.GaugeValue, r.Phases.Of(p)/1000, m.name, vantage, p)
			}
			if r.TLS == nil {
				return
			}
			at := r.TLS.NotAfter
			if r.TLS.Earliest != nil {
				at = r.TLS.Earliest.NotAfter
			}
			if !at.IsZero() {
				ch <- prometheus.MustNewConstMetric(refCert, prometheus.GaugeValue, float64(at.Unix()), m.name, vantage)
			}
		}
		if len(last.Vantages) == 0 {
			emit(result.LocalVantage, &last.Result)
			continue
		}
		done := map[string]bool{}
		for _, l := range last.Vantages {
			if l.Result == nil || l.Result.Refusal != nil || l.Status == result.VantageUnreachable || l.Status == result.VantageRefused || !configuredVantage(cfg, l.Name) || done[l.Name] {
				continue
			}
			done[l.Name] = true
			emit(l.Name, l.Result)
		}
	}
}
