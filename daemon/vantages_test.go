package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
	"github.com/vantage-monitor/vantage/notify"
)

// fakeAgent stands in for a remote vantage: it answers canary URLs and
// targets as the test says, or not at all.
type fakeAgent struct {
	canary     string
	targetDown atomic.Bool
	canaryDown atomic.Bool
	// canaryFails, when set, is how the canary fails while canaryDown
	// (a DNS failure, say); a 502 otherwise.
	canaryFails *result.Result
	silent      atomic.Bool // answers nothing: unreachable
	calls       atomic.Int64
}

func (a *fakeAgent) Probe(_ context.Context, s probe.Spec) (result.Result, error) {
	a.calls.Add(1)
	if a.silent.Load() {
		return result.Result{}, errors.New("dial tcp: connection refused")
	}
	down := a.targetDown.Load()
	if s.URL == a.canary {
		down = a.canaryDown.Load()
	}
	r := result.Result{URL: s.URL, OK: true, Class: result.ClassOK, Status: http.StatusOK}
	switch {
	case down && s.URL == a.canary && a.canaryFails != nil:
		r = a.canaryFails.Clone()
		r.URL = s.URL
	case down:
		r = result.Result{URL: s.URL, Class: result.ClassBadGateway, Status: http.StatusBadGateway}
	}
	r.Normalize()
	return r, nil
}

type vfixture struct {
	*fixture
	canary *target
	agents map[string]*fakeAgent
}

// newVantageFixture runs the monitors through local (the real prober
// against loopback targets) and two fake remote vantages, fra1 and iad1,
// with one canary served on loopback.
func newVantageFixture(t *testing.T, monitors string) *vfixture {
	t.Helper()
	canary := newTarget(t)
	dir := t.TempDir()
	for _, n := range []string{"fra1", "iad1"} {
		if err := os.WriteFile(filepath.Join(dir, n+".key"), []byte(agent.GenerateKey()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The vantages' URLs are never dialled: Options.Remote hands out fakes.
	body := fmt.Sprintf(`
[canary]
urls = [%q]
every = "1m"
timeout = "2s"

[[vantage]]
name = "fra1"
url = "http://127.0.0.1:9/"
key_file = %q

[[vantage]]
name = "iad1"
url = "http://127.0.0.1:9/"
key_file = %q
%s`, canary.URL, filepath.Join(dir, "fra1.key"), filepath.Join(dir, "iad1.key"), monitors)
	vf := &vfixture{canary: canary, agents: map[string]*fakeAgent{
		"fra1": {canary: canary.URL},
		"iad1": {canary: canary.URL},
	}}
	vf.fixture = newFixture(t, body, func(o *Options) {
		o.Remote = func(v *config.Vantage) (vantage.Prober, error) {
			a := vf.agents[v.Name]
			if a == nil {
				return nil, fmt.Errorf("no fake for %s", v.Name)
			}
			return a, nil
		}
	})
	return vf
}

// openIncidents lists the open incidents of a kind.
func (f *fixture) openIncidents(kind incident.Kind) []incident.Incident {
	f.t.Helper()
	all, err := f.d.store.OpenIncidents(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	var out []incident.Incident
	for _, inc := range all {
		if inc.Kind == kind {
			out = append(out, inc)
		}
	}
	return out
}

func names(incs []incident.Incident) []string {
	var out []string
	for _, i := range incs {
		out = append(out, i.Monitor)
	}
	slices.Sort(out)
	return out
}

func TestVantageScopesDriveTargetIncidents(t *testing.T) {
	tests := []struct {
		name       string
		fraDown    bool
		iadDown    bool
		localDown  bool
		wantScope  result.Scope
		wantSev    incident.Severity
		wantRegion []string
	}{
		{name: "partial", fraDown: true, localDown: true, wantScope: "partial", wantSev: incident.SeverityWarning, wantRegion: []string{"fra1", "local"}},
		{name: "everyone", fraDown: true, iadDown: true, localDown: true, wantScope: "everyone", wantSev: incident.SeverityCritical},
		{name: "up", wantScope: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newTarget(t)
			f := newVantageFixture(t, monitorTOML("shop", tg.URL))
			// Locally the target answers as the case says; the fakes answer
			// for fra1 and iad1.
			if tt.localDown {
				tg.status.Store(http.StatusBadGateway)
			}
			f.agents["fra1"].targetDown.Store(tt.fraDown)
			f.agents["iad1"].targetDown.Store(tt.iadDown)
			f.round("shop")
			f.round("shop") // confirm = 2

			m := f.d.lookup("shop")
			m.mu.Lock()
			last := *m.last
			m.mu.Unlock()
			if last.Scope != tt.wantScope || len(last.Vantages) != 3 {
				t.Fatalf("last result scope %q with %d vantage lines, want %q and 3: %+v", last.Scope, len(last.Vantages), tt.wantScope, last.Vantages)
			}
			views, err := f.d.Monitors(context.Background())
			if err != nil || len(views) != 1 || views[0].LastResult == nil || len(views[0].LastResult.Vantages) != 3 {
				t.Fatalf("the API view does not carry the vantage lines: %+v %v", views, err)
			}
			open := f.openIncidents(incident.KindTarget)
			if tt.wantScope == "" {
				if len(open) != 0 {
					t.Fatalf("target up, yet incidents %+v", open)
				}
				return
			}
			if len(open) != 1 {
				t.Fatalf("want one target incident, got %+v", open)
			}
			inc := open[0]
			if inc.Scope != tt.wantScope || inc.Severity != tt.wantSev {
				t.Errorf("incident scope %q severity %q, want %q %q", inc.Scope, inc.Severity, tt.wantScope, tt.wantSev)
			}
			// The store keeps no regions column yet; the machine's incident
			// has them, and the stored last result has the vantage lines.
			m.mu.Lock()
			mi := m.machine.Incident()
			m.mu.Unlock()
			got := slices.Clone(mi.Regions)
			slices.Sort(got)
			if !slices.Equal(got, tt.wantRegion) {
				t.Errorf("regions %v, want %v", got, tt.wantRegion)
			}
			if inc.Last == nil || len(inc.Last.Vantages) != 3 {
				t.Errorf("stored incident's last result lacks the vantage lines: %+v", inc.Last)
			}
			if v := f.openIncidents(incident.KindVantage); len(v) != 0 {
				t.Errorf("healthy vantages, yet vantage incidents %v", names(v))
			}
		})
	}
}

func TestLocalImpairedIsJustMe(t *testing.T) {
	shop, blog := newTarget(t), newTarget(t)
	f := newVantageFixture(t, monitorTOML("shop", shop.URL)+monitorTOML("blog", blog.URL))
	// Our own network is broken: the local canary and both targets fail
	// from here, while the remote vantages see everything up.
	f.canary.status.Store(http.StatusServiceUnavailable)
	shop.status.Store(http.StatusBadGateway)
	blog.status.Store(http.StatusBadGateway)
	for range 3 {
		f.round("shop")
		f.round("blog")
	}
	m := f.d.lookup("shop")
	m.mu.Lock()
	scope := m.last.Scope
	m.mu.Unlock()
	if scope != result.ScopeJustMe {
		t.Fatalf("scope %q, want just_me", scope)
	}
	if inc := f.openIncidents(incident.KindTarget); len(inc) != 0 {
		t.Fatalf("just_me opened target incidents %+v", inc)
	}
	if got := names(f.openIncidents(incident.KindVantage)); !slices.Equal(got, []string{"local"}) {
		t.Fatalf("vantage incidents %v, want exactly [local]", got)
	}
	if st := f.state("shop"); st != incident.StateUp {
		t.Errorf("shop is %s, want up: just_me is no vote", st)
	}
	inc := f.openIncidents(incident.KindVantage)[0]
	if inc.Severity != incident.SeverityWarning || !strings.Contains(inc.Detail, "impaired") {
		t.Errorf("vantage incident %+v", inc)
	}

	// The network comes back: the next failing-canary check passes (the
	// recheck floor is 10 s) and the incident resolves.
	f.canary.status.Store(http.StatusOK)
	shop.status.Store(http.StatusOK)
	f.clock.Advance(time.Minute)
	f.d.vs.fleet.Load().runner.Tick(context.Background())
	f.d.syncVantages(context.Background())
	if v := f.openIncidents(incident.KindVantage); len(v) != 0 {
		t.Fatalf("local recovered, yet %v still open", names(v))
	}
}

func TestUnreachableAgentIsNoVote(t *testing.T) {
	tg := newTarget(t)
	f := newVantageFixture(t, monitorTOML("shop", tg.URL))
	f.agents["fra1"].silent.Store(true)
	tg.status.Store(http.StatusBadGateway)
	f.agents["iad1"].targetDown.Store(true)
	for range 3 {
		f.round("shop")
	}
	// local and iad1 see it down; fra1's silence does not make it partial.
	open := f.openIncidents(incident.KindTarget)
	if len(open) != 1 || open[0].Scope != "everyone" {
		t.Fatalf("want one everyone incident, got %+v", open)
	}
	if got := names(f.openIncidents(incident.KindVantage)); !slices.Equal(got, []string{"fra1"}) {
		t.Fatalf("vantage incidents %v, want [fra1]", got)
	}

	// With the target up everywhere else, the silent agent still counts
	// for nothing, and answering again resolves its incident.
	tg.status.Store(http.StatusOK)
	f.agents["iad1"].targetDown.Store(false)
	f.round("shop")
	f.round("shop")
	if open := f.openIncidents(incident.KindTarget); len(open) != 0 {
		t.Fatalf("target recovered, yet %+v", open)
	}
	f.agents["fra1"].silent.Store(false)
	f.round("shop")
	if v := f.openIncidents(incident.KindVantage); len(v) != 0 {
		t.Fatalf("fra1 answers again, yet %v open", names(v))
	}
	all, err := f.d.store.RecentIncidents(context.Background(), "fra1", 10)
	if err != nil || len(all) != 1 || all[0].Kind != incident.KindVantage || all[0].Open() {
		t.Fatalf("fra1's incident history %+v %v, want one resolved vantage incident", all, err)
	}
}

func TestIsolationRaisesOneNotice(t *testing.T) {
	var mons, monNames []string
	var targets []*target
	for i := range 4 {
		tg := newTarget(t)
		tg.status.Store(http.StatusBadGateway)
		targets = append(targets, tg)
		n := fmt.Sprintf("site%d", i)
		monNames = append(monNames, n)
		mons = append(mons, monitorTOML(n, tg.URL))
	}
	f := newVantageFixture(t, strings.Join(mons, ""))
	// This host is cut off: its canary fails and no agent answers.
	f.canary.status.Store(http.StatusServiceUnavailable)
	f.agents["fra1"].silent.Store(true)
	f.agents["iad1"].silent.Store(true)
	for range 3 {
		for _, n := range monNames {
			f.round(n)
		}
	}
	if h, _ := f.d.VantageHealth(); !h.Isolated {
		t.Fatalf("not isolated: %+v", h)
	}
	if inc := f.openIncidents(incident.KindTarget); len(inc) != 0 {
		t.Fatalf("a storm: target incidents %v", names(inc))
	}
	if got := names(f.openIncidents(incident.KindVantage)); !slices.Equal(got, []string{incident.IsolationIncident}) {
		t.Fatalf("vantage incidents %v, want only %s", got, incident.IsolationIncident)
	}

	// Back online: the notice resolves and stays in the store for the
	// notifier, and no per-vantage incident was ever opened.
	f.canary.status.Store(http.StatusOK)
	f.agents["fra1"].silent.Store(false)
	f.agents["iad1"].silent.Store(false)
	for _, tg := range targets {
		tg.status.Store(http.StatusOK)
	}
	f.clock.Advance(time.Minute)
	f.round(monNames[0])
	if v := f.openIncidents(incident.KindVantage); len(v) != 0 {
		t.Fatalf("network back, yet %v open", names(v))
	}
	// local's canaries are re-checked on their schedule; until then its
	// stale impairment opens nothing.
	f.d.vs.fleet.Load().runner.Tick(context.Background())
	f.d.syncVantages(context.Background())
	if h, _ := f.d.VantageHealth(); h.Vantages[0].State != vantage.Healthy {
		t.Fatalf("local still %s after a passing canary", h.Vantages[0].State)
	}
	hist, err := f.d.store.RecentIncidents(context.Background(), incident.IsolationIncident, 10)
	if err != nil || len(hist) != 1 || hist[0].Open() {
		t.Fatalf("isolation notice history %+v %v, want one resolved", hist, err)
	}
	for _, n := range []string{"local", "fra1", "iad1"} {
		if h, _ := f.d.store.RecentIncidents(context.Background(), n, 10); len(h) != 0 {
			t.Errorf("vantage %s got incidents %+v during isolation", n, h)
		}
	}
}

func TestVantageIncidentSurvivesRestart(t *testing.T) {
	tg := newTarget(t)
	f := newVantageFixture(t, monitorTOML("shop", tg.URL))
	f.agents["fra1"].silent.Store(true)
	f.round("shop")
	if got := names(f.openIncidents(incident.KindVantage)); !slices.Equal(got, []string{"fra1"}) {
		t.Fatalf("vantage incidents %v, want [fra1]", got)
	}
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}
	remote := f.d.opts.Remote
	f.fixture.open(func(o *Options) { o.Remote = remote })
	// Still unreachable after the restart: the same incident, not a second.
	f.round("shop")
	open := f.openIncidents(incident.KindVantage)
	if len(open) != 1 {
		t.Fatalf("after restart %+v", open)
	}
	f.agents["fra1"].silent.Store(false)
	f.round("shop")
	if v := f.openIncidents(incident.KindVantage); len(v) != 0 {
		t.Fatalf("fra1 answers again, yet %v open", names(v))
	}
	if h, _ := f.d.store.RecentIncidents(context.Background(), "fra1", 10); len(h) != 1 {
		t.Fatalf("fra1 history %+v, want exactly one incident", h)
	}
}

func TestReloadRebuildsVantages(t *testing.T) {
	tg := newTarget(t)
	f := newVantageFixture(t, monitorTOML("shop", tg.URL))
	stop := f.run() // the runner's canary loop runs with the daemon
	f.agents["fra1"].silent.Store(true)
	f.round("shop")
	if got := names(f.openIncidents(incident.KindVantage)); !slices.Equal(got, []string{"fra1"}) {
		t.Fatalf("vantage incidents %v, want [fra1]", got)
	}
	before := f.d.vs.fleet.Load()

	// Without vantages or canary the daemon is back on the single-host
	// path, and fra1's incident resolves as removed.
	cfg := loadConfig(t, writeConfig(t, t.TempDir(), monitorTOML("shop", tg.URL)))
	cfg.StateDir = f.d.config().StateDir
	if err := f.d.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if f.d.vs.fleet.Load() != nil || before == nil {
		t.Fatal("the vantage runner was not dropped")
	}
	if v := f.openIncidents(incident.KindVantage); len(v) != 0 {
		t.Fatalf("fra1 left the config, yet %v open", names(v))
	}
	hist, err := f.d.store.RecentIncidents(context.Background(), "fra1", 10)
	if err != nil || len(hist) != 1 || hist[0].Resolution != incident.ResolutionRemoved {
		t.Fatalf("fra1 history %+v %v", hist, err)
	}
	calls := f.agents["fra1"].calls.Load() + f.agents["iad1"].calls.Load()
	f.round("shop")
	m := f.d.lookup("shop")
	m.mu.Lock()
	last := *m.last
	m.mu.Unlock()
	if len(last.Vantages) != 0 || last.Scope != "" || f.agents["fra1"].calls.Load()+f.agents["iad1"].calls.Load() != calls {
		t.Fatalf("single-host round went through vantages: %+v", last.Vantages)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestIsolationTakesOverAVantageIncidentOpenedOnTheWay(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	f := newVantageFixture(t, monitorTOML("site", tg.URL)+strings.Replace(receiverTOML, `group_wait = "0s"`, `group_wait = "10s"`, 1))
	f.d.opts.Notifier = nil
	f.d.outbox.SetNotifiers(map[string]notify.Notifier{"ops": rec})

	// First fra1 stops answering while this host still looks fine: a
	// vantage problem opens, its alert held for group_wait.
	f.agents["fra1"].silent.Store(true)
	f.round("site")
	f.d.syncVantages(context.Background())
	if got := names(f.openIncidents(incident.KindVantage)); !slices.Equal(got, []string{"fra1"}) {
		t.Fatalf("vantage incidents %v, want [fra1]", got)
	}
	// Then the rest: this host is cut off.
	f.canary.status.Store(http.StatusServiceUnavailable)
	f.agents["iad1"].silent.Store(true)
	f.clock.Advance(time.Minute)
	f.d.vs.fleet.Load().runner.Tick(context.Background())
	f.d.syncVantages(context.Background())
	if got := names(f.openIncidents(incident.KindVantage)); !slices.Equal(got, []string{incident.IsolationIncident}) {
		t.Fatalf("vantage incidents %v, want only %s", got, incident.IsolationIncident)
	}
	hist, err := f.d.store.RecentIncidents(context.Background(), "fra1", 10)
	if err != nil || len(hist) != 1 || hist[0].Open() || hist[0].Resolution != incident.ResolutionIsolated {
		t.Fatalf("fra1's incident: %+v %v, want closed as covered by the isolation notice", hist, err)
	}
	// Nobody heard of fra1: its alert was withdrawn; the notice goes out.
	f.clock.Advance(time.Minute)
	if _, err := f.d.outbox.DeliverDue(context.Background(), "ops"); err != nil {
		t.Fatal(err)
	}
	msgs, _ := rec.got()
	if len(msgs) != 1 || msgs[0].Monitor != incident.IsolationIncident || msgs[0].Event != incident.NotifyOpen {
		t.Fatalf("delivered %+v, want only the isolation notice", msgs)
	}
}

// TestVantageAlertStepsFollowItsCanaries: the alert for a vantage whose
// canaries fail by DNS tells the operator to look at that vantage's
// resolver, not at its routes or at the monitored site (issue 12, point 3).
func TestVantageAlertStepsFollowItsCanaries(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	tg.status.Store(http.StatusBadGateway)
	rec := &recorder{}
	f := newVantageFixture(t, monitorTOML("site", tg.URL)+receiverTOML)
	f.d.opts.Notifier = nil
	f.d.outbox.SetNotifiers(map[string]notify.Notifier{"ops": rec})

	fra := f.agents["fra1"]
	fra.canaryFails = &result.Result{Class: result.ClassDNSError, Detail: result.DetailServFail, Error: "looking up canary: SERVFAIL"}
	fra.canaryDown.Store(true)
	fra.targetDown.Store(true) // its failure triggers the canary check
	f.round("site")
	f.d.syncVantages(context.Background())
	if got := names(f.openIncidents(incident.KindVantage)); !slices.Equal(got, []string{"fra1"}) {
		t.Fatalf("vantage incidents %v, want [fra1]", got)
	}
	f.clock.Advance(time.Minute)
	if _, err := f.d.outbox.DeliverDue(context.Background(), "ops"); err != nil {
		t.Fatal(err)
	}
	msgs, _ := rec.got()
	var fixes []string
	for _, m := range msgs {
		if m.Kind == incident.KindVantage && m.Monitor == "fra1" && m.Event == incident.NotifyOpen {
			fixes = m.Fixes
		}
	}
	if !slices.ContainsFunc(fixes, func(s string) bool { return strings.Contains(s, "The resolver of fra1") }) {
		t.Errorf("fra1's alert steps %q, want its resolver first", fixes)
	}
	if slices.ContainsFunc(fixes, func(s string) bool { return strings.Contains(s, "routing") || strings.Contains(s, "route") }) {
		t.Errorf("fra1's alert steps speak of routes for a DNS failure: %q", fixes)
	}
}
