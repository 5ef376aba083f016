package daemon

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// target is a loopback HTTP server whose status the test switches.
type target struct {
	*httptest.Server
	status atomic.Int32
	hits   atomic.Int64
}

func newTarget(t *testing.T) *target {
	t.Helper()
	tg := &target{}
	tg.status.Store(http.StatusOK)
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		tg.hits.Add(1)
		w.WriteHeader(int(tg.status.Load()))
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(tg.Close)
	return tg
}

type fixture struct {
	t     testing.TB
	dir   string
	file  string
	clock *testkit.Clock
	logs  *testkit.Buffer
	d     *Daemon
	// edit, if set, changes the loaded config before each open (what the
	// TOML of this branch cannot say yet, or a Prober's roots).
	edit func(*config.Config)
}

// monitorTOML is one [[monitor]] with fast incident settings.
func monitorTOML(name, url string) string {
	return fmt.Sprintf(`
[[monitor]]
name = %q
url = %q
schedule = "@every 10s"
timeout = "2s"
confirm = 2
recover = 2
retry_delay = "200ms"
`, name, url)
}

func writeConfig(t testing.TB, dir, body string) string {
	t.Helper()
	file := filepath.Join(dir, "vantage.toml")
	data := fmt.Sprintf("state_dir = %q\nlisten = \"127.0.0.1:0\"\n%s", filepath.Join(dir, "state"), body)
	if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func loadConfig(t testing.TB, file string) *config.Config {
	t.Helper()
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatalf("loading test config: %v", err)
	}
	return cfg
}

func newFixture(t testing.TB, body string, tweak func(*Options)) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, clock: testkit.NewClock(t0), logs: &testkit.Buffer{}}
	f.file = writeConfig(t, dir, body)
	f.open(tweak)
	return f
}

func (f *fixture) open(tweak func(*Options)) {
	f.t.Helper()
	opts := Options{
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:  f.clock,
		Prober: &probe.Prober{Now: f.clock.Now},
		Listen: "127.0.0.1:0",
	}
	if tweak != nil {
		tweak(&opts)
	}
	cfg := loadConfig(f.t, f.file)
	if f.edit != nil {
		f.edit(cfg)
	}
	d, err := New(context.Background(), cfg, opts)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	f.d = d
	f.t.Cleanup(func() { _ = d.Close() })
}

// round runs one round of name synchronously, a second of fake time later
// than the previous one.
func (f *fixture) round(name string) {
	f.t.Helper()
	f.clock.Advance(time.Second)
	f.d.round(context.Background(), name, f.clock.Now())
}

func (f *fixture) state(name string) incident.State {
	f.t.Helper()
	m := f.d.lookup(name)
	if m == nil {
		f.t.Fatalf("monitor %s not found", name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.machine.State()
}

func (f *fixture) incidents(monitor string) []incident.Incident {
	f.t.Helper()
	incs, err := f.d.store.RecentIncidents(context.Background(), monitor, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	return incs
}

func TestRoundOpensAndResolvesIncident(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL), nil)
	ctx := context.Background()

	f.round("web")
	if s := f.state("web"); s != incident.StateUp {
		t.Fatalf("after a good round: state %s, want up", s)
	}
	if n := f.d.Buffered(); n != 1 {
		t.Fatalf("steady-state result: %d buffered, want 1 (no synchronous write)", n)
	}

	tg.status.Store(http.StatusBadGateway)
	wantStates := []incident.State{incident.StateFailing, incident.StateDown}
	for _, want := range wantStates {
		f.round("web")
		if s := f.state("web"); s != want {
			t.Fatalf("after a 502: state %s, want %s", s, want)
		}
	}
	incs := f.incidents("web")
	if len(incs) != 1 || !incs[0].Open() || incs[0].Class != result.ClassBadGateway || incs[0].Status != 502 {
		t.Fatalf("after confirm failures: incidents %+v, want one open bad_gateway", incs)
	}
	id := incs[0].ID
	if got := f.d.lookup("web").machine.Incident(); got == nil || got.ID != id {
		t.Fatalf("machine's incident %+v, want ID %d", got, id)
	}
	if want := fmt.Sprintf(`msg="state changed" monitor=web from=failing to=down class=bad_gateway gateway="" status=502 incident=%d events=opened`, id); !strings.Contains(f.logs.String(), want) {
		t.Errorf("no state-change log line:\n%s", f.logs.String())
	}

	// Still down: no event, no state change, so only buffered.
	buffered := f.d.Buffered()
	f.round("web")
	if f.d.Buffered() != buffered+1 {
		t.Errorf("a round with no change was not buffered")
	}

	tg.status.Store(http.StatusOK)
	for _, want := range []incident.State{incident.StateRecovering, incident.StateUp} {
		f.round("web")
		if s := f.state("web"); s != want {
			t.Fatalf("after a 200: state %s, want %s", s, want)
		}
	}
	inc, err := f.d.store.Incident(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Open() || !strings.HasPrefix(inc.Resolution, "recovered") {
		t.Fatalf("incident after recovery: open=%v resolution %q", inc.Open(), inc.Resolution)
	}
	if n := len(f.incidents("web")); n != 1 {
		t.Fatalf("%d incidents, want exactly 1", n)
	}
	if err := f.d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := f.d.store.RecentResults(ctx, "web", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 {
		t.Fatalf("%d results stored, want 6 (every round, buffered or not)", len(rows))
	}
}

// A failed write no longer rolls the machine back (issue 10, point 4): the
// machine keeps the truth in memory and the store gets it when it is back.
func TestStoreFailureKeepsMachineInMemory(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL), nil)
	ctx := context.Background()
	tg.status.Store(http.StatusBadGateway)
	f.round("web") // up → failing, written
	if s := f.state("web"); s != incident.StateFailing {
		t.Fatalf("state %s, want failing", s)
	}

	// The store fails for the round that confirms the outage.
	path := f.d.store.Path()
	if err := f.d.store.Close(); err != nil {
		t.Fatal(err)
	}
	f.round("web")
	if s := f.state("web"); s != incident.StateDown {
		t.Fatalf("after a failed write: state %s, want down (kept in memory)", s)
	}
	if err := f.d.Health(ctx); err == nil {
		t.Error("Health is nil after a failed store write")
	}
	if v := counterValue(t, f.d.reg, "vantage_store_errors_total", nil); v < 1 {
		t.Errorf("vantage_store_errors_total = %v, want ≥ 1", v)
	}

	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.d.store = st
	f.round("web") // what was kept in memory is written now
	if s := f.state("web"); s != incident.StateDown {
		t.Fatalf("after the store is back: state %s, want down", s)
	}
	incs := f.incidents("web")
	if len(incs) != 1 || !incs[0].Open() {
		t.Fatalf("incidents %+v, want exactly one open", incs)
	}
	if err := f.d.Health(ctx); err != nil {
		t.Errorf("Health after a good write: %v", err)
	}
}

func TestRestartKeepsIncident(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL), nil)
	tg.status.Store(http.StatusServiceUnavailable)
	f.round("web")
	f.round("web")
	incs := f.incidents("web")
	if len(incs) != 1 {
		t.Fatalf("incidents %+v, want one", incs)
	}
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}

	// A new daemon on the same state, with the target healthy again.
	f.open(nil)
	if s := f.state("web"); s != incident.StateDown {
		t.Fatalf("after restart: state %s, want down", s)
	}
	if got := f.d.lookup("web").machine.Incident(); got == nil || got.ID != incs[0].ID {
		t.Fatalf("after restart: machine incident %+v, want ID %d", got, incs[0].ID)
	}
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web")
	if s := f.state("web"); s != incident.StateUp {
		t.Fatalf("state %s, want up after 2 good rounds", s)
	}
	incs = f.incidents("web")
	if len(incs) != 1 || incs[0].Open() {
		t.Fatalf("incidents %+v, want the one incident, resolved", incs)
	}
}

// A snapshot that does not decode stops that monitor only (issue 10,
// point 4): it used to fail the whole start.
func TestCorruptSnapshotStopsOnlyThatMonitor(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL)+monitorTOML("other", tg.URL+"/other"), nil)
	ctx := context.Background()
	err := f.d.store.Update(ctx, func(tx *store.Tx) error {
		return tx.SaveState(ctx, "web", []byte(`{"version": 99, "monitor": "web"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(nil)
	if !strings.Contains(f.logs.String(), "monitor stopped: its stored state does not decode") || !strings.Contains(f.logs.String(), "snapshot version 99") {
		t.Errorf("the bad row is not logged:\n%s", f.logs.String())
	}
	views, err := f.d.Monitors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, v := range views {
		byName[v.Name] = v.Problem
	}
	if p := byName["web"]; !strings.Contains(p, "snapshot version 99") || !strings.Contains(p, "stopped") {
		t.Errorf("API problem of web = %q, want the decoding error", p)
	}
	if p, ok := byName["other"]; !ok || p != "" {
		t.Errorf("other: listed %v, problem %q; want listed without a problem", ok, p)
	}
	if err := f.d.Health(ctx); err == nil || !strings.Contains(err.Error(), "monitor web stopped") {
		t.Errorf("Health = %v, want it to name the stopped monitor", err)
	}

	// web is not checked; other is, and alerts as usual.
	tg.status.Store(http.StatusBadGateway)
	hits := tg.hits.Load()
	f.round("web")
	if tg.hits.Load() != hits {
		t.Error("the stopped monitor was checked")
	}
	f.round("other")
	f.round("other")
	if s := f.state("other"); s != incident.StateDown {
		t.Fatalf("other: %s, want down", s)
	}
	if incs := f.incidents("other"); len(incs) != 1 || !incs[0].Open() {
		t.Fatalf("other's incidents %+v, want one open", incs)
	}
	// The bad row is kept as it is, for the operator.
	snap, ok, err := f.d.store.State(ctx, "web")
	if err != nil || !ok || !strings.Contains(string(snap.Data), `"version": 99`) {
		t.Fatalf("web's stored state %s (ok=%v, err=%v), want the bad row untouched", snap.Data, ok, err)
	}
}

func TestStoreInNonDirectoryFails(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{StateDir: filepath.Join(blocker, "state"), Listen: "127.0.0.1:0"}
	if _, err := New(context.Background(), cfg, Options{}); err == nil || !strings.Contains(err.Error(), "state_dir") {
		t.Fatalf("New with an unusable state_dir: %v", err)
	}
}

// runFixture runs the daemon in the background until the test ends.
func (f *fixture) run() (stop func() error) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.d.Run(ctx) }()
	testkit.WaitFor(f.t, "daemon listening", func() bool { return f.d.Addr() != nil })
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = fmt.Errorf("Run did not return")
			}
		})
		return err
	}
	f.t.Cleanup(func() { _ = stop() })
	return stop
}

func (f *fixture) runs(name string) uint64 {
	st, _ := f.d.sched.Stats(name)
	return st.Runs
}

// settled waits until name's rounds so far have finished.
func (f *fixture) settled(name string, runs uint64) {
	f.t.Helper()
	testkit.WaitFor(f.t, fmt.Sprintf("%s round %d", name, runs), func() bool {
		if f.runs(name) < runs {
			return false
		}
		return f.d.sched.Totals().InFlight == 0
	})
}

func TestRecheckAfterRetryDelay(t *testing.T) {
	tg := newTarget(t)
	tg.status.Store(http.StatusBadGateway)
	f := newFixture(t, monitorTOML("web", tg.URL), nil)
	stop := f.run()

	next, ok := f.d.sched.Next("web")
	if !ok {
		t.Fatal("web is not scheduled")
	}
	f.clock.Set(next)
	f.settled("web", 1)
	if s := f.state("web"); s != incident.StateFailing {
		t.Fatalf("after the first failure: %s, want failing", s)
	}
	// The early re-check comes 200ms later, long before the next regular
	// round 10s on.
	f.clock.Advance(200 * time.Millisecond)
	f.settled("web", 2)
	if s := f.state("web"); s != incident.StateDown {
		t.Fatalf("after the re-check: %s, want down", s)
	}
	if n, _ := f.d.sched.Next("web"); !n.Equal(next.Add(10 * time.Second)) {
		t.Errorf("regular schedule moved: next %v, want %v", n, next.Add(10*time.Second))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestBatchedResultsFlushOnShutdown(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL), func(o *Options) {
		o.FlushInterval = time.Hour
		o.FlushRows = 1000
	})
	stop := f.run()
	next, _ := f.d.sched.Next("web")
	for i := range 3 {
		f.clock.Set(next.Add(time.Duration(i) * 10 * time.Second))
		f.settled("web", uint64(i+1))
	}
	if n := f.d.Buffered(); n != 3 {
		t.Fatalf("%d results buffered, want 3", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(f.dir, "state", store.FileName), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.RecentResults(context.Background(), "web", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d results in the store after shutdown, want 3", len(rows))
	}
}

// panicky panics on its first call, then probes for real.
type panicky struct {
	calls atomic.Int32
	real  Prober
}

func (p *panicky) RunPlan(ctx context.Context, pl *probe.Plan) result.Result {
	if p.calls.Add(1) == 1 {
		panic("boom")
	}
	return p.real.RunPlan(ctx, pl)
}

func TestPanicInCheckIsContained(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL), func(o *Options) {
		o.Prober = &panicky{real: o.Prober}
	})
	stop := f.run()
	next, _ := f.d.sched.Next("web")
	f.clock.Set(next)
	f.settled("web", 1)
	f.clock.Set(next.Add(10 * time.Second))
	f.settled("web", 2)
	if v := counterValue(t, f.d.reg, "vantage_check_panics_total", nil); v != 1 {
		t.Errorf("vantage_check_panics_total = %v, want 1", v)
	}
	views, err := f.d.Monitors(context.Background())
	if err != nil || len(views) != 1 || views[0].LastResult == nil || !views[0].LastResult.OK {
		t.Fatalf("after a panic the next round did not run: %+v, %v", views, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestMetricsAndAPIView(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL)+monitorTOML("api", tg.URL+"/api"), nil)
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	tg.status.Store(http.StatusOK)
	f.round("api")

	if v := counterValue(t, f.d.reg, "vantage_checks_total", map[string]string{"monitor": "web", "class": "bad_gateway"}); v != 2 {
		t.Errorf("checks_total{web,bad_gateway} = %v, want 2", v)
	}
	if v := gaugeValue(t, f.d.reg, "vantage_open_incidents", map[string]string{"kind": "target"}); v != 1 {
		t.Errorf("open_incidents = %v, want 1", v)
	}
	if v := gaugeValue(t, f.d.reg, "vantage_monitors", nil); v != 2 {
		t.Errorf("monitors = %v, want 2", v)
	}
	if v := gaugeValue(t, f.d.reg, "vantage_monitor_up", map[string]string{"monitor": "web"}); v != 0 {
		t.Errorf("monitor_up{web} = %v, want 0", v)
	}
	if v := gaugeValue(t, f.d.reg, "vantage_monitor_up", map[string]string{"monitor": "api"}); v != 1 {
		t.Errorf("monitor_up{api} = %v, want 1", v)
	}
	families := gather(t, f.d.reg)
	for _, name := range []string{"vantage_check_phase_seconds", "vantage_result_write_seconds", "go_goroutines", "process_cpu_seconds_total"} {
		if families[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}

	views, err := f.d.Monitors(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[0].Name != "api" || views[1].Name != "web" {
		t.Fatalf("views not sorted by name: %+v", views)
	}
	w := views[1]
	if w.State != incident.StateDown || w.OpenIncident == nil || w.OpenIncident.ID == 0 || w.LastResult == nil || w.LastResult.Status != 502 || w.Schedule != "@every 10s" {
		t.Fatalf("web view: %+v", w)
	}
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func findMetric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mf := gather(t, reg)[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		for k, v := range labels {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		return m
	}
	return nil
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	m := findMetric(t, reg, name, labels)
	if m == nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	m := findMetric(t, reg, name, labels)
	if m == nil {
		return -1
	}
	return m.GetGauge().GetValue()
}

func TestClassChangeIsRecorded(t *testing.T) {
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL), nil)
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	tg.status.Store(http.StatusGatewayTimeout)
	f.round("web")
	incs := f.incidents("web")
	if len(incs) != 1 || !incs[0].Open() {
		t.Fatalf("incidents %+v, want one open", incs)
	}
	inc := incs[0]
	if inc.Class != result.ClassGatewayTimeout || len(inc.Changes) != 1 || inc.Changes[0].Class != result.ClassGatewayTimeout {
		t.Fatalf("incident after 502 → 504: class %s, changes %+v", inc.Class, inc.Changes)
	}
	if !strings.Contains(f.logs.String(), `msg="incident updated" monitor=web from=down to=down class=gateway_timeout`) {
		t.Errorf("class change not logged:\n%s", f.logs.String())
	}
}

// An open incident row that does not decode stops its monitor only: the
// start used to fail as a whole.
func TestCorruptIncidentRowStopsOnlyThatMonitor(t *testing.T) {
	tg := newTarget(t)
	tg.status.Store(http.StatusBadGateway)
	f := newFixture(t, monitorTOML("web", tg.URL)+monitorTOML("other", tg.URL+"/other"), nil)
	ctx := context.Background()
	f.round("web")
	f.round("web")
	id := f.incidents("web")[0].ID
	path := f.d.store.Path()
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE incidents SET changes = 'not json' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	db.Close()

	f.open(nil)
	views, err := f.d.Monitors(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		switch v.Name {
		case "web":
			if !strings.Contains(v.Problem, "does not decode") || !strings.Contains(v.Problem, fmt.Sprint(id)) {
				t.Errorf("web's problem %q, want the bad incident row", v.Problem)
			}
		case "other":
			if v.Problem != "" {
				t.Errorf("other's problem %q, want none", v.Problem)
			}
		}
	}
	f.round("other")
	f.round("other")
	if s := f.state("other"); s != incident.StateDown {
		t.Fatalf("other: %s, want down (it runs)", s)
	}
}
