package daemon

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

func TestLatenessMaxKeepsTheWorstRound(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg, reg, &Daemon{})
	if err != nil {
		t.Fatal(err)
	}
	o := observer{m}
	for _, d := range []time.Duration{40 * time.Millisecond, 310 * time.Millisecond, -time.Second, 5 * time.Millisecond} {
		o.Lateness("shop", d)
	}
	if got := testutil.ToFloat64(m.lateMax); got != 0.31 {
		t.Errorf("vantage_scheduler_lateness_max_seconds = %v, want 0.31", got)
	}
	if got := testutil.CollectAndCount(m.lateness); got != 1 {
		t.Errorf("lateness histogram series = %d, want 1", got)
	}
}

func TestPhaseSeriesCoverEveryPhase(t *testing.T) {
	if n := len(result.AllPhases()); n != nPhases {
		t.Fatalf("result.AllPhases() has %d phases, nPhases is %d: vantage_check_duration_seconds would miss some", n, nPhases)
	}
}

// scriptedAgent is a remote vantage whose answer to the target the test
// sets: known phases and certificates, or no answer at all.
type scriptedAgent struct {
	canary string
	mu     sync.Mutex
	answer *result.Result // nil: unreachable
}

func (a *scriptedAgent) set(r *result.Result) {
	a.mu.Lock()
	a.answer = r
	a.mu.Unlock()
}

func (a *scriptedAgent) Probe(_ context.Context, s probe.Spec) (result.Result, error) {
	if s.URL == a.canary {
		r := result.Result{URL: s.URL, OK: true, Class: result.ClassOK, Status: http.StatusOK}
		r.Normalize()
		return r, nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.answer == nil {
		return result.Result{}, fmt.Errorf("dial tcp: connection refused")
	}
	r := a.answer.Clone()
	r.URL = s.URL
	r.Normalize()
	return r, nil
}

// newScriptedFixture is a daemon with the vantages fra1 and iad1 (scripted
// agents) besides local (the real prober).
func newScriptedFixture(t *testing.T, monitors string) (*fixture, map[string]*scriptedAgent) {
	t.Helper()
	canary := newTarget(t)
	dir := t.TempDir()
	var body strings.Builder
	fmt.Fprintf(&body, "[canary]\nurls = [%q]\nevery = \"1m\"\ntimeout = \"2s\"\n\n", canary.URL)
	agents := map[string]*scriptedAgent{}
	for _, n := range []string{"fra1", "iad1"} {
		key := filepath.Join(dir, n+".key")
		if err := os.WriteFile(key, []byte(agent.GenerateKey()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&body, "[[vantage]]\nname = %q\nurl = \"http://127.0.0.1:9/\"\nkey_file = %q\n\n", n, key)
		agents[n] = &scriptedAgent{canary: canary.URL}
	}
	body.WriteString(monitors)
	f := newFixture(t, body.String(), func(o *Options) {
		o.Remote = func(v *config.Vantage) (vantage.Prober, error) {
			if a := agents[v.Name]; a != nil {
				return a, nil
			}
			return nil, fmt.Errorf("no agent for %s", v.Name)
		}
	})
	return f, agents
}

var (
	leafNotAfter         = time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	intermediateNotAfter = time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
)

// agentAnswer is a 200 over TLS with known phases; with an earliest
// certificate (an intermediate) when withChain.
func agentAnswer(ttfbMs float64, withChain bool) *result.Result {
	r := &result.Result{OK: true, Class: result.ClassOK, Status: http.StatusOK,
		Phases: result.Phases{DNSMs: 2, ConnectMs: 15, TLSMs: 30, TTFBMs: ttfbMs, TotalMs: 47 + ttfbMs + 8},
		TLS:    &result.TLSInfo{Issuer: "CN=Test CA", Subject: "CN=shop", NotAfter: result.TimeOf(leafNotAfter), Serial: "01:02"},
	}
	if withChain {
		r.TLS.Earliest = &result.CertInfo{Subject: "CN=Intermediate", Issuer: "CN=Test CA", Serial: "0a", NotAfter: result.TimeOf(intermediateNotAfter), Depth: 1}
	}
	return r
}

// scrape GETs /metrics from h as Prometheus would and parses it, failing
// the test on anything the text parser rejects.
func scrape(t *testing.T, h http.Handler, header http.Header) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", w.Code, w.Body)
	}
	body := w.Body.Bytes()
	if w.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzipped /metrics: %v", err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gzipped /metrics: %v", err)
		}
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, string(expfmt.FmtText)) {
		t.Errorf("Content-Type %q, want %q", ct, expfmt.FmtText)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return fams, string(body)
}

// series are a family's samples as "label=value,..." → value.
func series(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	mf := fams[name]
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls) // client_golang sorts labels by name; the order means nothing
		out[strings.Join(ls, ",")] = value(m)
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}

func TestMetricsPerVantageFamilies(t *testing.T) {
	tg := newTarget(t)
	f, agents := newScriptedFixture(t, monitorTOML("shop", tg.URL))
	agents["fra1"].set(agentAnswer(240, true))
	agents["iad1"].set(agentAnswer(90, false))
	f.round("shop")

	fams, _ := scrape(t, f.d.metrics.handler(), nil)
	dur := series(fams, famDuration)
	want := map[string]float64{
		"dns": 0.002, "connect": 0.015, "tls": 0.03, "ttfb": 0.24, "transfer": 0.008, "total": 0.295,
	}
	for ph, v := range want {
		if got, ok := dur["monitor=shop,phase="+ph+",vantage=fra1"]; !ok || math.Abs(got-v) > 1e-9 {
			t.Errorf("%s{shop,fra1,%s} = %v (present %v), want %v", famDuration, ph, got, ok, v)
		}
	}
	if got := dur["monitor=shop,phase=ttfb,vantage=iad1"]; math.Abs(got-0.09) > 1e-9 {
		t.Errorf("%s{shop,iad1,ttfb} = %v, want 0.09", famDuration, got)
	}
	m := f.d.lookup("shop")
	m.mu.Lock()
	var local *result.Result
	for _, l := range m.last.Vantages {
		if l.Name == result.LocalVantage {
			local = l.Result
		}
	}
	m.mu.Unlock()
	if local == nil {
		t.Fatal("the round has no local line")
	}
	if got := dur["monitor=shop,phase=total,vantage=local"]; got != local.Phases.TotalMs/1000 || got <= 0 {
		t.Errorf("%s{shop,local,total} = %v, want the local probe's %v ms", famDuration, got, local.Phases.TotalMs)
	}
	if n := len(dur); n != 3*nPhases {
		t.Errorf("%d duration series, want %d (3 vantages × %d phases): %v", n, 3*nPhases, nPhases, dur)
	}

	cert := series(fams, famCert)
	wantCert := map[string]float64{
		"monitor=shop,vantage=fra1": float64(intermediateNotAfter.Unix()), // the intermediate expires first
		"monitor=shop,vantage=iad1": float64(leafNotAfter.Unix()),         // no chain info: the leaf
	}
	if !mapsEqual(cert, wantCert) {
		t.Errorf("%s = %v, want %v (local is plain http: no series)", famCert, cert, wantCert)
	}
	assertState(t, fams, "shop", "up")

	// iad1 stops answering: its series go, the others stay.
	agents["iad1"].set(nil)
	f.round("shop")
	fams, _ = scrape(t, f.d.metrics.handler(), nil)
	dur = series(fams, famDuration)
	for k := range dur {
		if strings.Contains(k, "vantage=iad1") {
			t.Errorf("unreachable vantage still has %s", k)
		}
	}
	if len(dur) != 2*nPhases {
		t.Errorf("%d duration series after iad1 went silent, want %d", len(dur), 2*nPhases)
	}
	if _, ok := series(fams, famCert)["monitor=shop,vantage=iad1"]; ok {
		t.Error("unreachable vantage still has a certificate series")
	}
}

func mapsEqual(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// mapDiff names a few samples where got and want differ.
func mapDiff(got, want map[string]float64) string {
	var out []string
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			out = append(out, fmt.Sprintf("%s: got %v (present %v), want %v", k, g, ok, v))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s: got %v, not in the reference", k, g))
		}
	}
	sort.Strings(out)
	return strings.Join(out[:min(len(out), 5)], "; ")
}

func assertState(t *testing.T, fams map[string]*dto.MetricFamily, monitor, want string) {
	t.Helper()
	st := series(fams, famState)
	for _, s := range stateNames() {
		v, ok := st["monitor="+monitor+",state="+s]
		if !ok {
			t.Errorf("%s{%s,%s} missing", famState, monitor, s)
			continue
		}
		if exp := map[bool]float64{true: 1, false: 0}[s == want]; v != exp {
			t.Errorf("%s{%s,%s} = %v, want %v", famState, monitor, s, v, exp)
		}
	}
}

// Without vantages, the round's own result is vantage "local".
func TestMetricsStateAndLocalVantage(t *testing.T) {
	tg := newTarget(t)
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
	t.Cleanup(tls.Close)
	f := newFixture(t, monitorTOML("web", tg.URL)+monitorTOML("secure", tls.URL)+"insecure = true\n", nil)
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	f.round("secure")

	fams, _ := scrape(t, f.d.metrics.handler(), nil)
	assertState(t, fams, "web", "down")
	assertState(t, fams, "secure", "up")
	dur := series(fams, famDuration)
	if _, ok := dur["monitor=web,phase=ttfb,vantage=local"]; !ok {
		t.Errorf("no local duration series for web: %v", dur)
	}
	cert := series(fams, famCert)
	if want := float64(tls.Certificate().NotAfter.Unix()); cert["monitor=secure,vantage=local"] != want {
		t.Errorf("%s = %v, want secure/local = %v (the test server's certificate)", famCert, cert, want)
	}
	if len(cert) != 1 {
		t.Errorf("certificate series %v, want only secure's", cert)
	}
	open := series(fams, "vantage_open_incidents")
	if want := map[string]float64{"kind=target": 1, "kind=certificate": 0, "kind=performance": 0}; !mapsEqual(open, want) {
		t.Errorf("vantage_open_incidents = %v, want %v", open, want)
	}

	// A performance incident (set by the round code on monStatus) makes an
	// up monitor "degraded"; a certificate warning only counts.
	m := f.d.lookup("secure")
	m.status.Store(&monStatus{state: incident.StateUp, degraded: true, certWarning: true})
	fams, _ = scrape(t, f.d.metrics.handler(), nil)
	assertState(t, fams, "secure", "degraded")
	open = series(fams, "vantage_open_incidents")
	if want := map[string]float64{"kind=target": 1, "kind=certificate": 1, "kind=performance": 1}; !mapsEqual(open, want) {
		t.Errorf("vantage_open_incidents = %v, want %v", open, want)
	}
	m.status.Store(&monStatus{state: incident.StateRecovering, degraded: true})
	fams, _ = scrape(t, f.d.metrics.handler(), nil)
	assertState(t, fams, "secure", "recovering")
}

func TestMetricsOfRemovedMonitorVanish(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("keep", tg.URL)+monitorTOML("gone", tg.URL+"/gone"), nil)
	f.round("keep")
	f.round("gone")
	fams, _ := scrape(t, f.d.metrics.handler(), nil)
	if _, ok := series(fams, famDuration)["monitor=gone,phase=total,vantage=local"]; !ok {
		t.Fatal("gone has no series before the reload")
	}
	if err := f.d.ReloadFile(context.Background(), writeConfig(t, f.dir, monitorTOML("keep", tg.URL))); err != nil {
		t.Fatal(err)
	}
	fams, _ = scrape(t, f.d.metrics.handler(), nil)
	for _, fam := range []string{famDuration, famState, famCert, "vantage_monitor_up", "vantage_checks_total"} {
		for k := range series(fams, fam) {
			if strings.Contains(k, "monitor=gone") {
				t.Errorf("removed monitor still has %s{%s}", fam, k)
			}
		}
	}
	if len(series(fams, famDuration)) != nPhases || len(series(fams, famState)) != nStates {
		t.Errorf("keep's series: %v %v", series(fams, famDuration), series(fams, famState))
	}
}

// What targets and agents answer never adds a series: statuses, classes,
// errors, certificates and even vantage names nobody configured.
func TestMetricsCardinalityIsBoundedByTheConfig(t *testing.T) {
	f, _ := newScriptedFixture(t, monitorTOML("shop", "http://127.0.0.1:1/"))
	m := f.d.lookup("shop")
	count := func() int {
		fams, _ := scrape(t, f.d.metrics.handler(), nil)
		n := 0
		for _, fam := range []string{famDuration, famCert, famState} {
			n += len(series(fams, fam))
		}
		return n
	}
	want := 3*nPhases + 3 + nStates
	for i := range 40 {
		r := agentAnswer(float64(i*37%500), i%2 == 0)
		r.Status, r.Class = 200+i, result.Class(fmt.Sprintf("class_%d", i))
		r.Error, r.RemoteAddr = fmt.Sprintf("error %d", i), fmt.Sprintf("10.0.0.%d:443", i)
		r.TLS.Serial, r.TLS.DNSNames = fmt.Sprintf("%x", i), []string{fmt.Sprintf("h%d.example", i)}
		out := result.Outcome{Vantages: []result.VantageLine{
			{Name: result.LocalVantage, Status: result.VantageUp, Result: r},
			{Name: "fra1", Status: result.VantageDown, Result: r},
			{Name: "iad1", Status: result.VantageImpaired, Result: r},
			{Name: fmt.Sprintf("agent-said-%d", i), Status: result.VantageUp, Result: r}, // not configured
			{Name: "fra1", Status: result.VantageUp, Result: r},                          // twice
		}}
		out.Result = *r
		m.mu.Lock()
		m.last = &out
		f.d.publishMetrics(m, &out)
		m.mu.Unlock()
		if got := count(); got != want {
			t.Fatalf("round %d: %d per-monitor series, want %d", i, got, want)
		}
	}
}

// The hand-written exposition says what the straightforward client_golang
// collector (bench_test.go) says, sample for sample, in whatever format
// the scraper asks for, gzipped or not.
func TestMetricsMatchTheClientGolangReference(t *testing.T) {
	f := newScrapeFixture(t, 30)
	mons := f.d.monitorList()
	mons[1].status.Store(&monStatus{state: incident.StateDown, incidentOpen: true})
	mons[2].status.Store(&monStatus{state: incident.StateUp, degraded: true})
	mons[3].mu.Lock()
	mons[3].last = nil // never checked: state only
	mons[3].series.Store(nil)
	mons[3].mu.Unlock()
	mons[4].mu.Lock()
	out := result.Outcome{Result: result.Result{Phases: result.Phases{TotalMs: 12.5}}}
	mons[4].last = &out // a single-vantage round that settle did not publish
	mons[4].series.Store(nil)
	mons[4].mu.Unlock()

	ref := prometheus.NewRegistry()
	ref.MustRegister(referenceCollector{f.d})
	want, _ := scrape(t, promhttp.HandlerFor(prometheus.Gatherers{f.d.reg, ref}, promhttp.HandlerOpts{}), http.Header{"Accept": {"text/plain"}})
	for _, h := range []http.Header{
		nil,
		{"Accept": {scraperAccept}, "Accept-Encoding": {"gzip"}},
		{"Accept": {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"}},
		{"Accept-Encoding": {"gzip;q=0, identity"}},
	} {
		got, body := scrape(t, f.d.metrics.handler(), h)
		for _, name := range []string{famDuration, famCert, famState, "vantage_monitor_up", "vantage_open_incidents"} {
			if g, w := series(got, name), series(want, name); !mapsEqual(g, w) || len(g) == 0 {
				t.Errorf("Accept %v: %s has %d series, the reference %d; they differ: %s", h, name, len(g), len(w), mapDiff(g, w))
			}
		}
		if _, ok := series(got, famDuration)["monitor=m000004,phase=total,vantage=local"]; !ok {
			t.Errorf("the unpublished single-vantage round is missing")
		}
		var names []string
		for name := range want {
			names = append(names, name)
			if got[name] == nil || got[name].GetHelp() != want[name].GetHelp() || got[name].GetType() != want[name].GetType() {
				t.Errorf("family %s: got %v, want help and type as the reference", name, got[name])
			}
		}
		sort.Strings(names)
		if order := familyOrder(body); !slices.Equal(order, names) {
			t.Errorf("families in the body, each once and sorted:\n got %v\nwant %v", order, names)
		}
	}
}

// familyOrder lists the families of a text exposition by their # TYPE lines.
func familyOrder(body string) []string {
	var out []string
	for line := range strings.SplitSeq(body, "\n") {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			out = append(out, strings.Fields(rest)[0])
		}
	}
	return out
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "deflate, gzip;q=1.0, *;q=0.5": true, "GZIP": true,
		"gzip;q=0": false, "identity": false, "x-gzip2": false, " gzip ; q=0.5": true,
	} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}

// promtool check metrics, the real one, passes a /metrics scrape of a
// running daemon with vantages, TLS results and every kind of state.
func TestMetricsPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is needed to check /metrics (Debian package prometheus, installed by .ci/run): %v", err)
	}
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }))
	t.Cleanup(tls.Close)
	tg := newTarget(t)
	f, agents := newScriptedFixture(t, monitorTOML("secure", tls.URL)+"insecure = true\n"+monitorTOML("plain", tg.URL)+monitorTOML("broken", tg.URL+"/broken"))
	agents["fra1"].set(agentAnswer(120, true))
	agents["iad1"].set(agentAnswer(80, false))
	f.run()
	f.round("secure")
	f.round("plain")
	f.d.lookup("plain").status.Store(&monStatus{state: incident.StateUp, degraded: true})

	resp, err := http.Get(fmt.Sprintf("http://%s/metrics", f.d.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range []string{famDuration, famCert, famState} {
		if !strings.Contains(string(body), "# TYPE "+fam+" gauge") {
			t.Fatalf("%s missing from /metrics", fam)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
