package verdict

import (
	"slices"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// refusedResult is what a refuse_private agent answers for a private
// target: network_unreachable, as older coordinators read it, with the
// refusal beside it.
func refusedResult() *result.Result {
	return &result.Result{URL: "http://10.0.0.5/", Class: result.ClassNetworkUnreachable,
		Error:   "connecting to 10.0.0.5:80: dial tcp 10.0.0.5:80: destination 10.0.0.5 refused: private addresses are not allowed on this agent (refuse_private)",
		Refusal: &result.Refusal{Policy: "refuse_private", Destination: "10.0.0.5", Reason: "private addresses are not allowed on this agent"}}
}

func TestClassifyRefused(t *testing.T) {
	// Whatever its canaries say: a refusal is the vantage's policy.
	for _, c := range []Canary{{}, {State: CanaryOK}, {State: CanaryFailed, Error: "x"}} {
		l := Classify("fra1", refusedResult(), nil, c)
		if l.Status != result.VantageRefused || !strings.Contains(l.Error, "destination 10.0.0.5 refused") || l.Result == nil {
			t.Errorf("canary %v: line %+v, want refused with the refusal as its error", c.State, l)
		}
	}
}

// TestRefusedIsNoVote: a private target monitored from local and from an
// agent that refuses private addresses is decided by local alone: up when
// local sees it up, down for everyone when local sees it down, never
// partial because of the refusal; and a round in which nobody voted is not
// down.
func TestRefusedIsNoVote(t *testing.T) {
	refused := func(name string) result.VantageLine {
		return Classify(name, refusedResult(), nil, Canary{State: CanaryOK})
	}
	tests := []struct {
		name  string
		lines []result.VantageLine
		scope result.Scope
		vote  incident.Vote
		down  []string
	}{
		{"others up", []result.VantageLine{up("local"), refused("fra1")}, result.ScopeNone, incident.VoteUp, nil},
		{"others down", []result.VantageLine{down("local"), refused("fra1")}, result.ScopeEveryone, incident.VoteDown, []string{"local"}},
		{"two refuse, local up", []result.VantageLine{up("local"), refused("fra1"), refused("iad1")}, result.ScopeNone, incident.VoteUp, nil},
		{"others split: partial from their votes only", []result.VantageLine{up("local"), down("iad1"), refused("fra1")}, result.ScopePartial, incident.VoteDown, []string{"iad1"}},
		{"everyone refused", []result.VantageLine{refused("fra1"), refused("iad1")}, result.ScopeUnknown, incident.VoteNone, nil},
		{"refused or unreachable", []result.VantageLine{unreachable("local"), refused("fra1")}, result.ScopeUnknown, incident.VoteNone, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Decide(tc.lines)
			if v.Scope != tc.scope {
				t.Fatalf("scope %q, want %q (%v)", v.Scope, tc.scope, v.Result.Evidence.Markers)
			}
			o := Observation(v.Result, "")
			if o.Vote != tc.vote {
				t.Errorf("vote %v, want %v", o.Vote, tc.vote)
			}
			if !slices.Equal(o.Regions, tc.down) && tc.scope == result.ScopePartial {
				t.Errorf("regions %v, want %v", o.Regions, tc.down)
			}
			if !slices.Equal(v.Down, tc.down) {
				t.Errorf("down %v, want %v", v.Down, tc.down)
			}
			if slices.Contains(v.Down, "fra1") || slices.Contains(v.Up, "fra1") || !slices.Contains(v.Refused, "fra1") {
				t.Errorf("fra1 counted: down %v up %v refused %v", v.Down, v.Up, v.Refused)
			}
			if tc.scope != result.ScopeUnknown && v.Representative == "fra1" {
				t.Errorf("the refusing vantage stands for the round")
			}
			if m := strings.Join(v.Result.Evidence.Markers, "\n"); !strings.Contains(m, "refused by policy: fra1") {
				t.Errorf("markers do not name the refusal:\n%s", m)
			}
		})
	}
}
