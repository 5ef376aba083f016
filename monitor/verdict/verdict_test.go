package verdict

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func up(name string) result.VantageLine {
	return result.VantageLine{Name: name, Status: result.VantageUp,
		Result: &result.Result{URL: "https://shop.test/", OK: true, Class: result.ClassOK, Status: 200, Detail: name}}
}

func down(name string) result.VantageLine {
	return result.VantageLine{Name: name, Status: result.VantageDown,
		Result: &result.Result{URL: "https://shop.test/", Class: result.ClassBadGateway, Status: 502, Detail: name}}
}

func impairedDown(name string) result.VantageLine {
	return result.VantageLine{Name: name, Status: result.VantageImpaired, Error: "canaries fail",
		Result: &result.Result{URL: "https://shop.test/", Class: result.ClassConnectTimeout, Detail: name}}
}

func impairedUp(name string) result.VantageLine {
	l := up(name)
	l.Status, l.Error = result.VantageImpaired, "canaries fail"
	return l
}

func unreachable(name string) result.VantageLine {
	return result.VantageLine{Name: name, Status: result.VantageUnreachable, Error: "connection refused"}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name  string
		lines []result.VantageLine
		scope result.Scope
		rep   string // representative vantage
		ok    bool
		down  []string
		up    []string
	}{
		{"all up", []result.VantageLine{up("local"), up("fra1"), up("iad1")}, result.ScopeNone, "local", true, nil, []string{"local", "fra1", "iad1"}},
		{"local only up", []result.VantageLine{up("local")}, result.ScopeNone, "local", true, nil, []string{"local"}},
		{"local only down, canaries pass", []result.VantageLine{down("local")}, result.ScopeEveryone, "local", false, []string{"local"}, nil},
		{"local only down, canaries fail", []result.VantageLine{impairedDown("local")}, result.ScopeJustMe, "local", false, nil, nil},
		{"all down", []result.VantageLine{down("local"), down("fra1"), down("iad1")}, result.ScopeEveryone, "local", false, []string{"local", "fra1", "iad1"}, nil},
		{"all down, local first preferred wherever it is", []result.VantageLine{down("fra1"), down("local")}, result.ScopeEveryone, "local", false, []string{"fra1", "local"}, nil},
		{"some down some up", []result.VantageLine{up("local"), down("fra1"), up("iad1")}, result.ScopePartial, "fra1", false, []string{"fra1"}, []string{"local", "iad1"}},
		{"partial with local down", []result.VantageLine{down("local"), up("fra1"), down("iad1")}, result.ScopePartial, "local", false, []string{"local", "iad1"}, []string{"fra1"}},
		{"local impaired, remotes up", []result.VantageLine{impairedDown("local"), up("fra1"), up("iad1")}, result.ScopeJustMe, "local", false, nil, []string{"fra1", "iad1"}},
		{"local impaired, remotes unreachable", []result.VantageLine{impairedDown("local"), unreachable("fra1"), unreachable("iad1")}, result.ScopeJustMe, "local", false, nil, nil},
		{"all unreachable", []result.VantageLine{unreachable("fra1"), unreachable("iad1")}, result.ScopeUnknown, "", false, nil, nil},
		{"no lines at all", nil, result.ScopeUnknown, "", false, nil, nil},
		{"impaired up and unreachable", []result.VantageLine{impairedUp("local"), unreachable("fra1")}, result.ScopeUnknown, "local", false, nil, nil},
		{"one healthy down, one impaired up", []result.VantageLine{impairedUp("local"), down("fra1")}, result.ScopeEveryone, "fra1", false, []string{"fra1"}, nil},
		{"one healthy down, others unreachable", []result.VantageLine{down("local"), unreachable("fra1"), unreachable("iad1")}, result.ScopeEveryone, "local", false, []string{"local"}, nil},
		{"healthy up, others unreachable", []result.VantageLine{unreachable("local"), up("fra1")}, result.ScopeNone, "fra1", true, nil, []string{"fra1"}},
		{"healthy down beats impaired down", []result.VantageLine{impairedDown("local"), down("fra1"), up("iad1")}, result.ScopePartial, "fra1", false, []string{"fra1"}, []string{"iad1"}},
		{"unknown status is no vote", []result.VantageLine{{Name: "x", Status: "weird", Result: &result.Result{Class: result.ClassBadGateway}}}, result.ScopeUnknown, "", false, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Decide(tc.lines)
			if v.Scope != tc.scope {
				t.Fatalf("scope = %q, want %q", v.Scope, tc.scope)
			}
			if v.Result.Scope != tc.scope {
				t.Errorf("result scope = %q, want %q", v.Result.Scope, tc.scope)
			}
			if v.Representative != tc.rep {
				t.Errorf("representative = %q, want %q", v.Representative, tc.rep)
			}
			if tc.rep != "" && v.Result.Detail != tc.rep {
				t.Errorf("merged result is %q's, want %q's", v.Result.Detail, tc.rep)
			}
			if v.Result.OK != tc.ok {
				t.Errorf("ok = %v, want %v", v.Result.OK, tc.ok)
			}
			if !slices.Equal(v.Down, tc.down) || !slices.Equal(v.Up, tc.up) {
				t.Errorf("down %v up %v, want %v %v", v.Down, v.Up, tc.down, tc.up)
			}
			if len(v.Result.Vantages) != len(tc.lines) {
				t.Fatalf("vantages = %d lines, want %d", len(v.Result.Vantages), len(tc.lines))
			}
			for i, l := range v.Result.Vantages {
				if l.Name != tc.lines[i].Name || l.Status != tc.lines[i].Status {
					t.Errorf("line %d = %s %s, want %s %s", i, l.Name, l.Status, tc.lines[i].Name, tc.lines[i].Status)
				}
			}
			if tc.scope == result.ScopeEveryone && len(v.Down) == 0 {
				t.Error("everyone without a healthy down vantage")
			}
			if tc.scope == result.ScopeUnknown && v.Result.Error == "" {
				t.Error("unknown round carries no error saying why")
			}
			if !v.Result.OK && !v.Result.Class.Valid() {
				t.Errorf("failed round has class %q", v.Result.Class)
			}
		})
	}
}

func TestDecideNeverEveryoneWithoutHealthyAnswer(t *testing.T) {
	// Every combination of up to three lines drawn from the non-healthy kinds
	// must stay out of everyone and partial.
	kinds := []func(string) result.VantageLine{impairedDown, impairedUp, unreachable}
	for _, a := range kinds {
		for _, b := range kinds {
			for _, c := range kinds {
				v := Decide([]result.VantageLine{a("local"), b("fra1"), c("iad1")})
				if v.Scope == result.ScopeEveryone || v.Scope == result.ScopePartial || v.Scope == result.ScopeNone {
					t.Errorf("lines %s/%s/%s gave scope %q", a("x").Status, b("x").Status, c("x").Status, v.Scope)
				}
				if o := Observation(v.Result, ""); o.Vote != incident.VoteNone {
					t.Errorf("scope %q votes %q", v.Scope, o.Vote)
				}
			}
		}
	}
}

func TestDecideDoesNotAliasLines(t *testing.T) {
	lines := []result.VantageLine{down("local"), up("fra1")}
	v := Decide(lines)
	v.Result.Evidence.Markers = append(v.Result.Evidence.Markers, "x")
	v.Result.Vantages[0].Result.Status = 999
	if lines[0].Result.Status != 502 || len(lines[0].Result.Evidence.Markers) != 0 {
		t.Fatalf("Decide's result shares memory with its input: %+v", lines[0].Result)
	}
}

func TestDecideDropsAgentScope(t *testing.T) {
	// An agent sends a Result, which has no scope or vantage lines: what an
	// agent puts there is dropped when its answer is decoded.
	l := down("fra1")
	if err := json.Unmarshal([]byte(`{"class":"bad_gateway","status":502,"scope":"everyone","vantages":[{"name":"evil","status":"up"}]}`), l.Result); err != nil {
		t.Fatal(err)
	}
	v := Decide([]result.VantageLine{l, up("iad1")})
	if v.Scope != result.ScopePartial || len(v.Result.Vantages) != 2 {
		t.Fatalf("an agent's own scope leaked into the verdict: %+v", v.Result)
	}
}

func TestMarkers(t *testing.T) {
	v := Decide([]result.VantageLine{up("local"), down("fra1"), unreachable("iad1")})
	m := strings.Join(v.Result.Evidence.Markers, "\n")
	for _, want := range []string{"scope partial", "down from fra1", "up from local", "unreachable: iad1", "result shown from fra1"} {
		if !strings.Contains(m, want) {
			t.Errorf("markers %q lack %q", m, want)
		}
	}
	if got := v.Regions(); !slices.Equal(got, []string{"fra1"}) {
		t.Errorf("regions = %v", got)
	}
	one := Decide([]result.VantageLine{up("local")})
	if len(one.Result.Evidence.Markers) != 0 {
		t.Errorf("a plain local up round grew markers: %v", one.Result.Evidence.Markers)
	}
	if one.Regions() != nil {
		t.Errorf("regions of an up round = %v", one.Regions())
	}
	jm := Decide([]result.VantageLine{impairedDown("local"), up("fra1")})
	if !strings.Contains(strings.Join(jm.Result.Evidence.Markers, "\n"), "healthy vantages see the target up: fra1") {
		t.Errorf("just_me markers do not say who sees it up: %v", jm.Result.Evidence.Markers)
	}
}

func TestClassify(t *testing.T) {
	ok := &result.Result{OK: true, Class: result.ClassOK}
	bad := &result.Result{Class: result.ClassConnectTimeout}
	tests := []struct {
		name   string
		res    *result.Result
		err    error
		canary Canary
		want   result.VantageStatus
		errHas string
	}{
		{"up, canaries unchecked", ok, nil, Canary{}, result.VantageUp, ""},
		{"up, canaries ok", ok, nil, Canary{State: CanaryOK}, result.VantageUp, ""},
		{"down, canaries ok", bad, nil, Canary{State: CanaryOK}, result.VantageDown, ""},
		{"down, canaries unchecked", bad, nil, Canary{}, result.VantageDown, ""},
		{"down, canaries fail", bad, nil, Canary{State: CanaryFailed, Error: "all 2 canaries failed"}, result.VantageImpaired, "all 2 canaries failed"},
		{"up, canaries fail", ok, nil, Canary{State: CanaryFailed}, result.VantageImpaired, "canaries fail"},
		{"agent error", nil, errors.New("agent fra1: 401 unauthorized"), Canary{State: CanaryOK}, result.VantageUnreachable, "401"},
		{"error wins over result", ok, errors.New("timeout"), Canary{}, result.VantageUnreachable, "timeout"},
		{"no result, no error", nil, nil, Canary{}, result.VantageUnreachable, "no result"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := Classify("fra1", tc.res, tc.err, tc.canary)
			if l.Name != "fra1" || l.Status != tc.want {
				t.Fatalf("line = %s %s, want fra1 %s", l.Name, l.Status, tc.want)
			}
			if !strings.Contains(l.Error, tc.errHas) {
				t.Errorf("error %q lacks %q", l.Error, tc.errHas)
			}
			if (l.Status == result.VantageUnreachable) != (l.Result == nil) {
				t.Errorf("status %s with result %v", l.Status, l.Result)
			}
			if l.Result != nil && l.Result == tc.res {
				t.Error("line aliases the prober's result")
			}
		})
	}
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		scope      result.Scope
		configured incident.Severity
		want       incident.Severity
	}{
		{result.ScopeEveryone, "", incident.SeverityCritical},
		{result.ScopeEveryone, incident.SeverityWarning, incident.SeverityWarning},
		{result.ScopeNone, "", incident.SeverityCritical},
		{result.ScopePartial, "", incident.SeverityWarning},
		{result.ScopePartial, incident.SeverityCritical, incident.SeverityWarning},
		{result.ScopePartial, incident.SeverityWarning, incident.SeverityInfo},
		{result.ScopePartial, incident.SeverityInfo, incident.SeverityInfo},
		{result.ScopeJustMe, incident.SeverityCritical, incident.SeverityInfo},
		{result.ScopeUnknown, "", incident.SeverityInfo},
		{result.ScopeEveryone, "bogus", incident.SeverityCritical},
	}
	for _, tc := range tests {
		if got := Severity(tc.scope, tc.configured); got != tc.want {
			t.Errorf("Severity(%q, %q) = %q, want %q", tc.scope, tc.configured, got, tc.want)
		}
	}
}

func TestObservationDrivesMachine(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lines    []result.VantageLine
		vote     incident.Vote
		sev      incident.Severity
		regions  []string
		opens    bool
		severity incident.Severity
	}{
		{"everyone", []result.VantageLine{down("local"), down("fra1")}, incident.VoteDown, incident.SeverityCritical, nil, true, incident.SeverityCritical},
		{"partial", []result.VantageLine{up("local"), down("fra1"), down("iad1")}, incident.VoteDown, incident.SeverityWarning, []string{"fra1", "iad1"}, true, incident.SeverityWarning},
		{"just me", []result.VantageLine{impairedDown("local"), up("fra1")}, incident.VoteNone, "", nil, false, ""},
		{"unknown", []result.VantageLine{unreachable("fra1")}, incident.VoteNone, "", nil, false, ""},
		{"up", []result.VantageLine{up("local"), up("fra1")}, incident.VoteUp, "", nil, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := Decide(tc.lines)
			o := Observation(v.Result, "")
			if o.Vote != tc.vote || o.Severity != tc.sev || !slices.Equal(o.Regions, tc.regions) {
				t.Fatalf("observation vote %q sev %q regions %v, want %q %q %v", o.Vote, o.Severity, o.Regions, tc.vote, tc.sev, tc.regions)
			}
			s := incident.DefaultSettings()
			s.Confirm = 2
			m, err := incident.New("shop", incident.KindTarget, s)
			if err != nil {
				t.Fatal(err)
			}
			var opened *incident.Incident
			for i := range 3 {
				o.At = at.Add(time.Duration(i) * time.Minute)
				tr, err := m.Observe(o)
				if err != nil {
					t.Fatal(err)
				}
				if e := tr.Find(incident.EventOpened); e != nil {
					opened = e.Incident
				}
			}
			if (opened != nil) != tc.opens {
				t.Fatalf("incident opened = %v, want %v", opened != nil, tc.opens)
			}
			if opened != nil {
				if opened.Severity != tc.severity || opened.Scope != v.Scope || !slices.Equal(opened.Regions, tc.regions) {
					t.Errorf("incident severity %q scope %q regions %v", opened.Severity, opened.Scope, opened.Regions)
				}
			}
		})
	}
}

func TestObservationLegacyFailure(t *testing.T) {
	// A daemon without vantages hands over a plain failed result: down, at
	// the configured severity.
	o := Observation(result.Outcome{Result: result.Result{Class: result.ClassBadGateway}}, incident.SeverityWarning)
	if o.Vote != incident.VoteDown || o.Severity != incident.SeverityWarning {
		t.Fatalf("vote %q severity %q", o.Vote, o.Severity)
	}
}
