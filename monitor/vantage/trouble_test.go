package vantage

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// runnerFleet is the fleet of a real Runner, as the daemon shows it.
type runnerFleet struct{ r *Runner }

func (f runnerFleet) Health() Snapshot       { return f.r.Health() }
func (f runnerFleet) Proven(Health) bool     { return true }
func (f runnerFleet) URL(name string) string { return "https://" + name + ".vantage.example.test:7443" }

const troubleCanary = "https://canary.example.test/"

// failing answers every probe with a failure of class c (and detail d),
// or with err when set: the vantage does not answer.
func failing(c result.Class, d string, err error) Prober {
	return ProberFunc(func(_ context.Context, s probe.Spec) (result.Result, error) {
		if err != nil {
			return result.Result{}, err
		}
		r := result.Result{URL: s.URL, Class: c, Detail: d, Error: "canary failed: " + string(c)}
		r.Normalize()
		return r, nil
	})
}

var passing = ProberFunc(func(_ context.Context, s probe.Spec) (result.Result, error) {
	r := result.Result{URL: s.URL, OK: true, Class: result.ClassOK, Status: 200}
	r.Normalize()
	return r, nil
})

// troubleIncident checks every vantage's canaries once and returns the
// open incident of name that the vantage incidents then raise.
func troubleIncident(t *testing.T, local Prober, remotes map[string]Prober, name string) *incident.Incident {
	t.Helper()
	r, err := New(local, remotes, Options{Canary: config.Canary{URLs: []string{troubleCanary}, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r.Tick(ctx)
	in := NewIncidents(IncidentsOptions{Committer: &fakeCommitter{how: map[string]string{}}, Fleet: func() Fleet { return runnerFleet{r} }})
	in.Sync(ctx)
	inc := in.Open(name)
	if inc == nil || inc.Last == nil {
		t.Fatalf("no open incident with a result for %s; health %+v", name, r.Health())
	}
	return inc
}

// TestVantageProblemStepsFollowItsCanaries: a vantage whose canaries fail
// by DNS is told about its resolver, not its routes (the demo's sgp1); by
// refusal or timeout, about its egress; and the incident's class says why.
// The isolation notice gets steps about this host's network.
func TestVantageProblemStepsFollowItsCanaries(t *testing.T) {
	tests := []struct {
		name     string
		class    result.Class
		detail   string
		want     []string
		wantNone []string
	}{
		{"dns", result.ClassDNSError, result.DetailServFail,
			[]string{"The resolver of sgp1", "dig @1.1.1.1 canary.example.test"}, []string{"routing", "route"}},
		{"refused", result.ClassConnectionRefused, "",
			[]string{"from sgp1 to the canaries are refused", "iptables -S"}, []string{"routing", "resolver"}},
		{"timeout", result.ClassConnectTimeout, result.DetailConnect,
			[]string{"do not answer sgp1 in time", "mtr -T -P 443 canary.example.test"}, []string{"routing", "resolver"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inc := troubleIncident(t, passing, map[string]Prober{"sgp1": failing(tc.class, tc.detail, nil)}, "sgp1")
			if inc.Class != tc.class {
				t.Errorf("incident class %q, want the canaries' %q", inc.Class, tc.class)
			}
			steps := inc.Last.Fixes
			for _, w := range tc.want {
				if !anyContains(steps, w) {
					t.Errorf("no step says %q: %q", w, steps)
				}
			}
			for _, w := range tc.wantNone {
				if anyContains(steps, w) {
					t.Errorf("a step says %q, which does not fit: %q", w, steps)
				}
			}
			if !anyContains(steps, "sgp1 takes no part in verdicts") {
				t.Errorf("steps do not say sgp1's votes are set aside: %q", steps)
			}
		})
	}

	t.Run("unreachable agent", func(t *testing.T) {
		inc := troubleIncident(t, passing, map[string]Prober{"fra1": failing("", "", errors.New("dial tcp: connection refused"))}, "fra1")
		if !anyContains(inc.Last.Fixes, "vantage agent on fra1 is running") {
			t.Errorf("steps for an unreachable agent: %q", inc.Last.Fixes)
		}
	})

	t.Run("isolation", func(t *testing.T) {
		inc := troubleIncident(t, failing(result.ClassDNSError, result.DetailServFail, nil),
			map[string]Prober{"fra1": failing("", "", errors.New("dial tcp: i/o timeout"))}, incident.IsolationIncident)
		steps := inc.Last.Fixes
		for _, w := range []string{"The resolver of this host", "Check this host's link, default route and resolver"} {
			if !anyContains(steps, w) {
				t.Errorf("no step says %q: %q", w, steps)
			}
		}
		if anyContains(steps, "local") || anyContains(steps, "fra1") {
			t.Errorf("the notice's steps are about this host, not a vantage by name: %q", steps)
		}
	})
}

func anyContains(ss []string, sub string) bool {
	for _, s := range ss {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
