package round

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// fakeLocal is this host's probe: it records the plans it ran and answers
// with what answer says for the plan's URL.
type fakeLocal struct {
	mu     sync.Mutex
	plans  []*probe.Plan
	answer func(url string) result.Result
}

func (f *fakeLocal) RunPlan(_ context.Context, pl *probe.Plan) result.Result {
	f.mu.Lock()
	f.plans = append(f.plans, pl)
	f.mu.Unlock()
	r := f.answer(pl.Spec().URL)
	r.URL = pl.Spec().URL
	r.Normalize()
	return r
}

// remote is a remote vantage that sends what answer says, fixes included
// (an agent of an older version chose its own).
type remote struct {
	answer func(url string) result.Result
}

func (f remote) Probe(_ context.Context, s probe.Spec) (result.Result, error) {
	r := f.answer(s.URL)
	r.URL = s.URL
	r.Fixes = []string{"the agent's own fix"}
	r.Normalize()
	return r, nil
}

func nginx502(string) result.Result {
	return result.Result{Class: result.ClassBadGateway, Status: 502, Gateway: "nginx"}
}

func parse(t *testing.T, toml string) *config.Config {
	t.Helper()
	t.Setenv("VANTAGE_TEST_KEY", agent.GenerateKey())
	cfg, err := config.Parse("test.toml", fmt.Appendf(nil, "state_dir = %q\n%s", t.TempDir(), toml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const withVantage = `
[[vantage]]
name = "fra1"
url = "http://127.0.0.1:9/"
key_env = "VANTAGE_TEST_KEY"
`

// TestLocalRunsTheCompiledPlan: with vantages or without, the local probe
// runs the plan the config compiled, never one compiled again.
func TestLocalRunsTheCompiledPlan(t *testing.T) {
	for _, toml := range []string{"", withVantage} {
		cfg := parse(t, toml+`
[[monitor]]
name = "shop"
url = "http://127.0.0.1:1/"
`)
		local := &fakeLocal{answer: func(string) result.Result { return result.Result{OK: true, Class: result.ClassOK, Status: 200} }}
		r, err := New(cfg, Options{Prober: local, Remote: func(*config.Vantage) (vantage.Prober, error) { return remote{nginx502}, nil }})
		if err != nil {
			t.Fatal(err)
		}
		tg := MonitorTarget(cfg.Monitor("shop"))
		r.Run(context.Background(), tg)
		r.Run(context.Background(), tg)
		if tg.Plan == nil || tg.Plan != cfg.Monitor("shop").Plan || len(local.plans) != 2 || local.plans[0] != tg.Plan || local.plans[1] != tg.Plan {
			t.Errorf("vantages %v: the local probe ran %d plans, not the target's own: %p %v", cfg.VantageNames(), len(local.plans), tg.Plan, local.plans)
		}
	}
}

// TestFixesChosenOnceFromTheDiagnosis: a round's fixes are chosen at its
// end, from the diagnosis too, and replace whatever a vantage sent.
func TestFixesChosenOnceFromTheDiagnosis(t *testing.T) {
	// The target's address accepts connections (the diagnosis connects to
	// it); the origin answers fine when probed directly.
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	cfg := parse(t, withVantage+fmt.Sprintf(`
[[monitor]]
name = "shop"
url = %q
origin = "http://origin.test:8080/health"
`, srv.URL+"/health"))
	answer := func(url string) result.Result {
		if strings.HasPrefix(url, "http://origin.test") {
			return result.Result{OK: true, Class: result.ClassOK, Status: 200}
		}
		return nginx502(url)
	}
	r, err := New(cfg, Options{Prober: &fakeLocal{answer: answer}, Remote: func(*config.Vantage) (vantage.Prober, error) { return remote{answer}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	out := r.Run(context.Background(), MonitorTarget(cfg.Monitor("shop")))
	if out.Scope != result.ScopeEveryone || !out.Diagnosis.Has(result.FindingGatewayPath) {
		t.Fatalf("scope %q, diagnosis %+v; want everyone and gateway-path", out.Scope, out.Diagnosis)
	}
	if len(out.Fixes) == 0 || !strings.HasPrefix(out.Fixes[0], "The origin http://origin.test:8080/health answers fine") {
		t.Errorf("the fixes do not lead with what the diagnosis found: %q", out.Fixes)
	}
	if slices.Contains(out.Fixes, "the agent's own fix") {
		t.Errorf("a vantage's fixes stood for the round's: %q", out.Fixes)
	}
	if out.Vote != incident.VoteDown || out.Severity != incident.SeverityCritical {
		t.Errorf("vote %s severity %s, want down critical", out.Vote, out.Severity)
	}
}

// TestSeverityIsTheVerdicts: one rule for the single host and the
// vantages: the configured severity for everyone (and a lone host), one
// step lower for partial.
func TestSeverityIsTheVerdicts(t *testing.T) {
	mon := `
[[monitor]]
name = "shop"
url = "http://127.0.0.1:1/"
severity = "warning"
`
	down := &fakeLocal{answer: nginx502}
	up := func(string) result.Result { return result.Result{OK: true, Class: result.ClassOK, Status: 200} }
	tests := []struct {
		name   string
		toml   string
		remote func(string) result.Result
		want   incident.Severity
	}{
		{"single host", mon, nil, incident.SeverityWarning},
		{"everyone", withVantage + mon, nginx502, incident.SeverityWarning},
		{"partial", withVantage + mon, up, incident.SeverityInfo},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := parse(t, tc.toml)
			r, err := New(cfg, Options{Prober: down, Remote: func(*config.Vantage) (vantage.Prober, error) { return remote{tc.remote}, nil }})
			if err != nil {
				t.Fatal(err)
			}
			out := r.Run(context.Background(), MonitorTarget(cfg.Monitor("shop")))
			o := out.Observation(out.StartedAt.Time)
			if out.Vote != incident.VoteDown || out.Severity != tc.want || o.Severity != tc.want || o.Vote != incident.VoteDown {
				t.Errorf("vote %s severity %s (observation %s %s), want down %s", out.Vote, out.Severity, o.Vote, o.Severity, tc.want)
			}
		})
	}
}

// TestUnplannedTargetFailsLoudly: a target without a plan is a failed
// round naming why, not a round that never runs.
func TestUnplannedTargetFailsLoudly(t *testing.T) {
	single, err := Single(nil, Options{Prober: &fakeLocal{answer: nginx502}})
	if err != nil {
		t.Fatal(err)
	}
	out := single.Run(context.Background(),
		Target{AdHoc: &probe.Spec{URL: "http://x.test/"}, PlanErr: fmt.Errorf("compiling: bad regexp")})
	if out.OK || out.Class != result.ClassProtocolError || !strings.Contains(out.Error, "bad regexp") || out.Vote != incident.VoteDown {
		t.Errorf("got ok %v class %s error %q vote %s", out.OK, out.Class, out.Error, out.Vote)
	}
}
