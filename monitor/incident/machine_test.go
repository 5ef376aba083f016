package incident

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// round is the time between two rounds in a sequence.
const round = 30 * time.Second

// tokens of a sequence. Each round token advances the fake clock by one
// round, then observes:
//
//	O  good round (200)
//	F  502 bad_gateway from nginx
//	T  504 gateway_timeout from nginx
//	C  502 bad_gateway from cloudflare
//	P  502 seen from fra1 only (scope partial)
//	E  502 seen from everyone (scope everyone)
//	J  failure that only impaired vantages saw (scope just_me: no vote)
//	U  failure no healthy vantage answered (scope unknown: no vote)
//	N  good round the daemon marks VoteNone explicitly
//
// and these are not rounds:
//
//	+DUR  advance the clock, e.g. +30m
//	R     restart: snapshot to JSON, restore into a new machine
func observation(tok string, at time.Time) (Observation, bool) {
	bad := func(status int, class result.Class, gw string) result.Result {
		return result.Result{URL: "https://shop.test/", Class: class, Status: status, Gateway: gw, StartedAt: result.TimeOf(at)}
	}
	o := Observation{At: at}
	switch tok {
	case "O":
		o.Result.Result = result.Result{URL: "https://shop.test/", OK: true, Class: result.ClassOK, Status: 200, StartedAt: result.TimeOf(at)}
	case "F":
		o.Result.Result = bad(502, result.ClassBadGateway, "nginx")
	case "T":
		o.Result.Result = bad(504, result.ClassGatewayTimeout, "nginx")
	case "C":
		o.Result.Result = bad(502, result.ClassBadGateway, "cloudflare")
	case "P":
		o.Result.Result = bad(502, result.ClassBadGateway, "nginx")
		// The round decides the severity (monitor/verdict.Severity);
		// the machine takes it as given.
		o.Scope, o.Regions, o.Severity = result.ScopePartial, []string{"fra1"}, SeverityWarning
	case "E":
		o.Result.Result = bad(502, result.ClassBadGateway, "nginx")
		o.Scope, o.Severity = result.ScopeEveryone, SeverityCritical
	case "J":
		o.Result.Result = result.Result{Class: result.ClassConnectTimeout, StartedAt: result.TimeOf(at)}
		o.Scope = result.ScopeJustMe
	case "U":
		o.Result.Result = result.Result{Class: result.ClassConnectTimeout, StartedAt: result.TimeOf(at)}
		o.Scope = result.ScopeUnknown
	case "N":
		o.Result.Result = result.Result{OK: true, Class: result.ClassOK, Status: 200, StartedAt: result.TimeOf(at)}
		o.Vote = VoteNone
	default:
		return o, false
	}
	return o, true
}

// play runs seq through m and returns the machine (replaced on restarts) and
// a trace: each token, followed by the kinds of the events it caused in
// brackets, e.g. "F[recheck] F[opened] O O[resolved]".
func play(t *testing.T, m *Machine, s Settings, seq string) (*Machine, string, []Event) {
	t.Helper()
	now := t0
	var trace []string
	var all []Event
	for _, tok := range strings.Fields(seq) {
		switch {
		case strings.HasPrefix(tok, "+"):
			d, err := time.ParseDuration(tok[1:])
			if err != nil {
				t.Fatalf("bad token %q: %v", tok, err)
			}
			now = now.Add(d)
			trace = append(trace, tok)
			continue
		case tok == "R":
			blob, err := m.MarshalSnapshot()
			if err != nil {
				t.Fatalf("snapshot: %v", err)
			}
			m, err = Restore(blob, s)
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			trace = append(trace, tok)
			continue
		}
		now = now.Add(round)
		o, ok := observation(tok, now)
		if !ok {
			t.Fatalf("unknown token %q", tok)
		}
		tr, err := m.Observe(o)
		if err != nil {
			t.Fatalf("round %q: %v", tok, err)
		}
		trace = append(trace, tok+eventList(tr.Events))
		all = append(all, tr.Events...)
	}
	return m, strings.Join(trace, " "), all
}

func eventList(evs []Event) string {
	if len(evs) == 0 {
		return ""
	}
	names := make([]string, len(evs))
	for i, e := range evs {
		names[i] = string(e.Kind)
		if e.Kind == EventOpened && e.Incident != nil && e.Incident.Flapping {
			names[i] += "(flapping)"
		}
	}
	return "[" + strings.Join(names, ",") + "]"
}

func TestSequences(t *testing.T) {
	noFlap := Settings{FlapChanges: -1}
	tests := []struct {
		name     string
		settings Settings
		seq      string
		want     string
		state    State
		open     bool // an incident is open at the end
		flapping bool
	}{
		{"two failures open", Settings{},
			"F F", "F[recheck] F[opened]", StateDown, true, false},
		{"a blip cleared by the re-check opens nothing", Settings{},
			"F O", "F[recheck] O", StateUp, false, false},
		{"two good rounds resolve", Settings{},
			"F F O O", "F[recheck] F[opened] O O[resolved]", StateUp, false, false},
		{"a failure while recovering keeps it open", Settings{},
			"F F O F", "F[recheck] F[opened] O F", StateDown, true, false},
		{"recovering again after the relapse needs recover good rounds", Settings{},
			"F F O F O O", "F[recheck] F[opened] O F O O[resolved]", StateUp, false, false},
		{"staying down with the same class adds nothing", Settings{},
			"F F F F", "F[recheck] F[opened] F F", StateDown, true, false},
		{"class change while open", Settings{},
			"F F T", "F[recheck] F[opened] T[changed]", StateDown, true, false},
		{"gateway change while open", Settings{},
			"F F C", "F[recheck] F[opened] C[changed]", StateDown, true, false},
		{"class change before confirmation is not a change", Settings{},
			"F T", "F[recheck] T[opened]", StateDown, true, false},
		{"confirm 3", Settings{Confirm: 3},
			"F F O F F F", "F[recheck] F O F[recheck] F F[opened]", StateDown, true, false},
		{"confirm 1 opens at once, without a re-check", Settings{Confirm: 1},
			"F", "F[opened]", StateDown, true, false},
		{"recover 1", Settings{Recover: 1},
			"F F O", "F[recheck] F[opened] O[resolved]", StateUp, false, false},
		{"recover 3", Settings{Recover: 3},
			"F F O O O", "F[recheck] F[opened] O O O[resolved]", StateUp, false, false},
		{"re-check turned off", Settings{RetryDelay: -1},
			"F F", "F F[opened]", StateDown, true, false},
		{"no-vote rounds do not confirm a failure", Settings{},
			"F J U N", "F[recheck] J U N", StateFailing, false, false},
		{"no-vote rounds do not break a failing streak", Settings{},
			"F J F", "F[recheck] J F[opened]", StateDown, true, false},
		{"no-vote rounds do not confirm a recovery", Settings{},
			"F F O J N U", "F[recheck] F[opened] O J N U", StateRecovering, true, false},
		{"just_me never opens", Settings{},
			"J J J J J", "J J J J J", StateUp, false, false},
		{"scope change partial to everyone", Settings{},
			"P P E", "P[recheck] P[opened] E[changed]", StateDown, true, false},
		{"restart mid-incident, then recovery resolves", Settings{},
			"F F R O O", "F[recheck] F[opened] R O O[resolved]", StateUp, false, false},
		{"restart with an open incident never opens a second", Settings{},
			"F F R F F R F", "F[recheck] F[opened] R F F R F", StateDown, true, false},
		{"restart mid-recovery keeps the count", Settings{},
			"F F O R O", "F[recheck] F[opened] O R O[resolved]", StateUp, false, false},
		{"restart mid-confirmation keeps the count", Settings{},
			"F R F", "F[recheck] R F[opened]", StateDown, true, false},
		{"target recovered while the daemon was down", Settings{},
			"F F R +1h O O", "F[recheck] F[opened] R +1h O O[resolved]", StateUp, false, false},
		{"flapping outages: one notice, then nothing opens or resolves", Settings{},
			"F F O O F F O O F F O O F F O O",
			"F[recheck] F[opened] O O[resolved] F[recheck] F[opened] O[flapping_started] O F[recheck] F O O F[recheck] F O O",
			StateUp, true, true},
		{"flapping ends after a quiet window, up: resolved", Settings{},
			"F F O O F F O O F F O O +30m O",
			"F[recheck] F[opened] O O[resolved] F[recheck] F[opened] O[flapping_started] O F[recheck] F O O +30m O[resolved]",
			StateUp, false, false},
		{"flapping ends after a quiet window, down: stays open", Settings{},
			"F F O O F F O O F F +30m F O O",
			"F[recheck] F[opened] O O[resolved] F[recheck] F[opened] O[flapping_started] O F[recheck] F +30m F[flapping_stopped] O O[resolved]",
			StateUp, false, false},
		{"flapping does not end while changes go on", Settings{},
			"F F O O F F O O +20m F F O O +20m O",
			"F[recheck] F[opened] O O[resolved] F[recheck] F[opened] O[flapping_started] O +20m F[recheck] F O O +20m O",
			StateUp, true, true},
		{"blips that never confirm still flap: one warning incident", Settings{},
			"F O F O F O F O F O",
			"F[recheck] O F[recheck] O F[recheck] O F[recheck,opened(flapping)] O F[recheck] O",
			StateUp, true, true},
		{"blip flapping: a confirmed outage raises the severity once, never lowers it", Settings{},
			"F O F O F O F O F F O F F O F O O F",
			"F[recheck] O F[recheck] O F[recheck] O F[recheck,opened(flapping)] O F[recheck] F[changed] O F F O F O O F[recheck]",
			StateFailing, true, true},
		{"changes spread wider than the window do not flap", Settings{},
			"F F O O +30m F F O O +30m F F O O",
			"F[recheck] F[opened] O O[resolved] +30m F[recheck] F[opened] O O[resolved] +30m F[recheck] F[opened] O O[resolved]",
			StateUp, false, false},
		{"flap detection off: every outage opens and resolves", noFlap,
			"F F O O F F O O F F O O",
			"F[recheck] F[opened] O O[resolved] F[recheck] F[opened] O O[resolved] F[recheck] F[opened] O O[resolved]",
			StateUp, false, false},
		{"flapping survives a restart", Settings{},
			"F F O O F F O O F F O R O F F O O",
			"F[recheck] F[opened] O O[resolved] F[recheck] F[opened] O[flapping_started] O F[recheck] F O R O F[recheck] F O O",
			StateUp, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New("shop", KindTarget, tc.settings)
			if err != nil {
				t.Fatal(err)
			}
			m, got, _ := play(t, m, tc.settings, tc.seq)
			if got != tc.want {
				t.Errorf("trace\n got  %s\n want %s", got, tc.want)
			}
			if m.State() != tc.state {
				t.Errorf("state %s, want %s", m.State(), tc.state)
			}
			if open := m.Incident() != nil; open != tc.open {
				t.Errorf("incident open %v, want %v", open, tc.open)
			}
			if m.Flapping() != tc.flapping {
				t.Errorf("flapping %v, want %v", m.Flapping(), tc.flapping)
			}
		})
	}
}

// lastOf returns the last event of a kind.
func lastOf(t *testing.T, evs []Event, k EventKind) Event {
	t.Helper()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == k {
			return evs[i]
		}
	}
	t.Fatalf("no %s event in %v", k, eventList(evs))
	return Event{}
}

func TestIncidentRecord(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	m, _, evs := play(t, m, Settings{}, "F F T C F O O")

	opened := lastOf(t, evs, EventOpened).Incident
	if opened.Monitor != "shop" || opened.Kind != KindTarget || opened.Class != result.ClassBadGateway ||
		opened.Gateway != "nginx" || opened.Status != 502 || opened.Severity != SeverityCritical {
		t.Errorf("opened incident = %+v", opened)
	}
	if want := t0.Add(2 * round); !opened.OpenedAt.Equal(want) {
		t.Errorf("OpenedAt %v, want %v (the confirming round)", opened.OpenedAt, want)
	}
	if want := t0.Add(round); !opened.FirstFailure.Equal(want) {
		t.Errorf("FirstFailure %v, want %v (the first failed round)", opened.FirstFailure, want)
	}
	if len(opened.Changes) != 0 {
		t.Errorf("opened with changes %+v", opened.Changes)
	}

	res := lastOf(t, evs, EventResolved).Incident
	if res.Open() || !res.ResolvedAt.Equal(t0.Add(7*round)) {
		t.Errorf("resolved at %v, want %v", res.ResolvedAt, t0.Add(7*round))
	}
	if res.Resolution != "recovered after 2 good checks" {
		t.Errorf("resolution %q", res.Resolution)
	}
	var got []string
	for _, c := range res.Changes {
		got = append(got, fmt.Sprintf("%s/%s/%d", c.Class, c.Gateway, c.Status))
	}
	want := []string{"gateway_timeout/nginx/504", "bad_gateway/cloudflare/502", "bad_gateway/nginx/502"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("changes %v, want %v", got, want)
	}
	if res.Changes[0].Note != "class bad_gateway → gateway_timeout" {
		t.Errorf("note %q", res.Changes[0].Note)
	}
	if res.Last == nil || res.Last.Gateway != "nginx" || res.Last.Class != result.ClassBadGateway {
		t.Errorf("Last = %+v, want the last changing result", res.Last)
	}
	if m.Incident() != nil {
		t.Error("machine still holds the resolved incident")
	}
}

func TestScopeSeverity(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	_, _, evs := play(t, m, Settings{}, "P P E P")
	opened := lastOf(t, evs, EventOpened).Incident
	if opened.Severity != SeverityWarning || opened.Scope != result.ScopePartial || strings.Join(opened.Regions, ",") != "fra1" {
		t.Errorf("partial incident: severity %s scope %q regions %v", opened.Severity, opened.Scope, opened.Regions)
	}
	var sev []Severity
	for _, e := range evs {
		if e.Kind == EventChanged {
			sev = append(sev, e.Change.Severity)
		}
	}
	if fmt.Sprint(sev) != "[critical warning]" {
		t.Errorf("severity along the changes %v, want [critical warning]", sev)
	}
	// The daemon may override the severity outright.
	m, _ = New("shop", KindTarget, Settings{Confirm: 1})
	tr, err := m.Observe(Observation{At: t0, Result: result.Outcome{Result: result.Result{Class: result.ClassTimeout}}, Severity: SeverityInfo})
	if err != nil {
		t.Fatal(err)
	}
	if e := tr.Find(EventOpened); e == nil || e.Incident.Severity != SeverityInfo {
		t.Errorf("severity override ignored: %+v", tr.Events)
	}
}

func TestExplicitVotes(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{Confirm: 1})
	// A result the probe called OK, voted down by the daemon (e.g. a
	// vantage verdict of "partial" carried on a local OK result).
	tr, err := m.Observe(Observation{At: t0, Result: result.Outcome{Result: result.Result{OK: true, Class: result.ClassOK}}, Vote: VoteDown})
	if err != nil {
		t.Fatal(err)
	}
	if tr.To != StateDown || tr.Find(EventOpened) == nil {
		t.Fatalf("VoteDown: to %s events %s", tr.To, eventList(tr.Events))
	}
	tr, _ = m.Observe(Observation{At: t0.Add(round), Result: result.Outcome{Result: result.Result{Class: result.ClassTimeout}}, Vote: VoteUp})
	if tr.To != StateRecovering {
		t.Errorf("VoteUp on a failed result: to %s, want recovering", tr.To)
	}
}

func TestFlappingIncidentFromBlips(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	m, _, evs := play(t, m, Settings{}, "F O F O F O T O")
	inc := lastOf(t, evs, EventOpened).Incident
	if !inc.Flapping || inc.Severity != SeverityWarning || inc.Class != result.ClassGatewayTimeout {
		t.Errorf("flapping incident: flapping %v severity %s class %s", inc.Flapping, inc.Severity, inc.Class)
	}
	if len(inc.Changes) != 1 || inc.Changes[0].Note != "flapping: 7 state changes within 30m" {
		t.Errorf("flapping note: %+v", inc.Changes)
	}
	// After a quiet window it resolves, saying why.
	tr, _ := m.Observe(Observation{At: t0.Add(time.Hour), Result: result.Outcome{Result: result.Result{OK: true, Class: result.ClassOK}}})
	e := tr.Find(EventResolved)
	if e == nil || e.Incident.Resolution != "stopped flapping: up with no state change for 30m" {
		t.Fatalf("resolve after quiet window: %+v", tr.Events)
	}
	if m.Flapping() {
		t.Error("still flapping")
	}
}

func TestFlappingMarksOpenIncidentOnce(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	_, _, evs := play(t, m, Settings{}, "F F O O F F O O F F O O F F O O F F")
	var started, opened int
	for _, e := range evs {
		switch e.Kind {
		case EventFlappingStarted:
			started++
			if !e.Incident.Flapping || e.Change == nil || !strings.HasPrefix(e.Change.Note, "flapping:") {
				t.Errorf("flapping notice: %+v", e)
			}
		case EventOpened:
			opened++
		}
	}
	if started != 1 || opened != 2 {
		t.Errorf("flapping_started %d times, opened %d times; want 1 and 2", started, opened)
	}
}

func TestEventsCarryWhatNotifiersNeed(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	tr, _ := m.Observe(Observation{At: t0, Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway, Status: 502}}})
	rc := tr.Find(EventRecheck)
	if rc == nil || rc.RecheckAfter != DefaultRetryDelay || rc.Incident != nil || rc.Key() != "" {
		t.Fatalf("recheck event %+v", rc)
	}
	if tr.From != StateUp || tr.To != StateFailing || !tr.Changed() {
		t.Errorf("transition %s → %s", tr.From, tr.To)
	}
	tr, _ = m.Observe(Observation{At: t0.Add(5 * time.Second), Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway, Status: 502, Detail: "x"}}})
	op := tr.Find(EventOpened)
	if op == nil || op.Monitor != "shop" || op.Result == nil || op.Result.Detail != "x" || op.From != StateFailing || op.To != StateDown {
		t.Fatalf("opened event %+v", op)
	}
	if !m.SetIncidentID(42) {
		t.Fatal("SetIncidentID with an open incident")
	}
	if op.Incident.ID != 0 {
		t.Error("event shares its incident with the machine")
	}
	op.Incident.Class = result.ClassDNSError
	op.Result.Detail = "changed"
	if m.Incident().Class != result.ClassBadGateway {
		t.Error("changing the event's incident changed the machine's")
	}
	wantKey := "target:shop@2026-03-01T12:00:05Z"
	if got := m.Incident().Key(); got != wantKey {
		t.Errorf("key %q, want %q", got, wantKey)
	}
	if got := op.Key(); got != wantKey+"/opened" {
		t.Errorf("event key %q", got)
	}
	tr, _ = m.Observe(Observation{At: t0.Add(time.Minute), Result: result.Outcome{Result: result.Result{Class: result.ClassGatewayTimeout, Status: 504}}})
	ch := tr.Find(EventChanged)
	if ch == nil || ch.Incident.ID != 42 || ch.Key() != wantKey+"/changed/1" {
		t.Fatalf("changed event %+v key %q", ch, ch.Key())
	}
}

func TestRemove(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	m, _, _ = play(t, m, Settings{}, "F F")
	m.SetIncidentID(7)
	at := t0.Add(time.Hour)
	tr := m.Remove(at)
	e := tr.Find(EventResolved)
	if e == nil || e.Incident.ID != 7 || e.Incident.Resolution != ResolutionRemoved || !e.Incident.ResolvedAt.Equal(at) {
		t.Fatalf("remove: %+v", tr.Events)
	}
	if m.Incident() != nil {
		t.Error("incident still open after Remove")
	}
	if tr := m.Remove(at); len(tr.Events) != 0 {
		t.Errorf("second Remove: %v", eventList(tr.Events))
	}
	// A store-held incident without a machine.
	inc := &Incident{Monitor: "gone", Kind: KindTarget, OpenedAt: result.TimeOf(t0)}
	if err := inc.Resolve(at, ResolutionRemoved); err != nil || inc.Open() || inc.Resolution != ResolutionRemoved {
		t.Fatalf("Resolve: %v %+v", err, inc)
	}
	if err := inc.Resolve(at, ResolutionRemoved); err == nil {
		t.Error("resolving twice is not an error")
	}
	if err := (&Incident{Monitor: "x", OpenedAt: result.TimeOf(t0)}).Resolve(time.Time{}, "x"); err == nil {
		t.Error("resolving at zero time is not an error")
	}
}

func TestBadInput(t *testing.T) {
	for _, s := range []Settings{{Confirm: -1}, {Recover: -2}, {FlapWindow: -time.Minute}} {
		if _, err := New("shop", KindTarget, s); err == nil {
			t.Errorf("New with %+v: no error", s)
		}
	}
	if _, err := New("", KindTarget, Settings{}); err == nil {
		t.Error("New with no name: no error")
	}
	if _, err := New("shop", "bogus", Settings{}); err == nil {
		t.Error("New with unknown kind: no error")
	}

	m, _ := New("shop", KindTarget, Settings{})
	play(t, m, Settings{}, "F")
	before := m.Snapshot()
	bad := []Observation{
		{Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway}}},                                      // no time
		{At: t0, Result: result.Outcome{Result: result.Result{Class: "nonsense"}}},                                          // unknown class
		{At: t0, Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway}}, Vote: "maybe"},               // unknown vote
		{At: t0, Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway}}, Severity: Severity("panic")}, // unknown severity
	}
	for i, o := range bad {
		if _, err := m.Observe(o); err == nil {
			t.Errorf("bad observation %d: no error", i)
		}
	}
	after := m.Snapshot()
	b1, _ := json.Marshal(before)
	b2, _ := json.Marshal(after)
	if string(b1) != string(b2) {
		t.Errorf("bad input changed the machine:\n%s\n%s", b1, b2)
	}
	// Time falls back to the result's start time.
	if _, err := m.Observe(Observation{Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway, StartedAt: result.TimeOf(t0.Add(time.Hour))}}}); err != nil {
		t.Errorf("observation timed by its result: %v", err)
	}
}

func TestClockStepBack(t *testing.T) {
	m, _ := New("shop", KindTarget, Settings{})
	m.Observe(Observation{At: t0, Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway}}})
	tr, err := m.Observe(Observation{At: t0.Add(-time.Hour), Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway}}})
	if err != nil {
		t.Fatal(err)
	}
	if inc := tr.Find(EventOpened).Incident; inc.OpenedAt.Before(inc.FirstFailure.Time) {
		t.Errorf("opened %v before its first failure %v", inc.OpenedAt, inc.FirstFailure)
	}
}

func TestSettings(t *testing.T) {
	s, err := Settings{}.Normalize()
	if err != nil || s != DefaultSettings() {
		t.Errorf("zero settings = %+v, %v; want the defaults", s, err)
	}
	s, err = Settings{Confirm: 4, RetryDelay: -1, FlapChanges: -1}.Normalize()
	if err != nil || s.Confirm != 4 || s.RetryDelay != -1 || s.FlapChanges != -1 || s.Recover != DefaultRecover {
		t.Errorf("settings = %+v, %v", s, err)
	}
}

func TestSeverity(t *testing.T) {
	if !SeverityCritical.AtLeast(SeverityWarning) || SeverityInfo.AtLeast(SeverityWarning) || !SeverityWarning.AtLeast(SeverityWarning) {
		t.Error("AtLeast order wrong")
	}
	if s, err := ParseSeverity(" Warning "); err != nil || s != SeverityWarning {
		t.Errorf("ParseSeverity = %q, %v", s, err)
	}
	if _, err := ParseSeverity("urgent"); err == nil {
		t.Error("ParseSeverity(urgent): no error")
	}
}

func TestVantageMachine(t *testing.T) {
	m, err := New("fra1", KindVantage, Settings{Confirm: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := m.Observe(Observation{At: t0, Result: result.Outcome{Result: result.Result{Class: result.ClassConnectTimeout}}})
	e := tr.Find(EventOpened)
	if e == nil || e.Incident.Kind != KindVantage || e.Incident.Monitor != "fra1" || e.Incident.Key() != "vantage:fra1@2026-03-01T12:00:00Z" {
		t.Fatalf("vantage incident %+v", tr.Events)
	}
	if m.Monitor() != "fra1" || m.Settings().Confirm != 1 || m.Settings().Recover != DefaultRecover {
		t.Errorf("monitor %q settings %+v", m.Monitor(), m.Settings())
	}
}

// The machine's own resolutions are what Recovered recognises; a closing
// is not.
func TestRecoveredResolutions(t *testing.T) {
	m, err := New("web", KindPerformance, Settings{Confirm: 1, Recover: 1, RetryDelay: -1, FlapChanges: -1})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	down := Observation{At: at, Vote: VoteDown, Result: result.Outcome{Result: result.Result{Class: result.ClassDegraded}}}
	if _, err := m.Observe(down); err != nil {
		t.Fatal(err)
	}
	up := Observation{At: at.Add(time.Minute), Vote: VoteUp, Result: result.Outcome{Result: result.Result{OK: true, Class: result.ClassOK}}}
	tr, err := m.Observe(up)
	if err != nil {
		t.Fatal(err)
	}
	e := tr.Find(EventResolved)
	if e == nil || !Recovered(e.Incident.Resolution) {
		t.Fatalf("resolved %+v: want a resolution Recovered recognises", e)
	}
	for _, r := range []string{ResolutionRemoved, "warning turned off"} {
		if Recovered(r) {
			t.Errorf("Recovered(%q) = true, want false: it was closed, not recovered", r)
		}
	}
	if !Recovered("stopped flapping: up with no state change for 1h0m0s") {
		t.Error("flapping that settled up is a recovery")
	}
}

// An ack rides on the open incident: through snapshots and a reconcile
// with the store, and a resolve leaves the next incident without one.
func TestAckOnTheOpenIncident(t *testing.T) {
	m, err := New("shop", KindTarget, Settings{Confirm: 1, Recover: 1})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ack := Ack{By: "ana", At: result.TimeOf(at), Comment: "db"}
	if m.SetAck(ack) {
		t.Fatal("SetAck with no incident open reported true")
	}
	down := Observation{At: at, Result: result.Outcome{Result: result.Result{Class: result.ClassBadGateway, Status: 502}}}
	up := Observation{At: at.Add(time.Minute), Result: result.Outcome{Result: result.Result{OK: true, Class: result.ClassOK}}}
	if _, err := m.Observe(down); err != nil {
		t.Fatal(err)
	}
	m.SetIncidentID(5)
	if !m.SetAck(ack) || m.Incident().Ack == nil || *m.Incident().Ack != ack {
		t.Fatalf("ack not on the open incident: %+v", m.Incident())
	}
	// Snapshot and restore keep it.
	blob, err := m.MarshalSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	r, err := Restore(blob, m.Settings())
	if err != nil || r.Incident().Ack == nil || r.Incident().Ack.By != "ana" {
		t.Fatalf("restored: %+v, %v", r.Incident(), err)
	}
	// A snapshot that predates the ack takes it from the store's incident.
	m2, _ := New("shop", KindTarget, Settings{Confirm: 1, Recover: 1})
	if _, err := m2.Observe(down); err != nil {
		t.Fatal(err)
	}
	m2.SetIncidentID(5)
	stored := m.Incident()
	m2.Reconcile(stored)
	if m2.Incident().Ack == nil || m2.Incident().Ack.By != "ana" {
		t.Errorf("reconcile dropped the stored ack: %+v", m2.Incident())
	}
	// Resolved, then a new outage: no ack.
	if _, err := m.Observe(up); err != nil {
		t.Fatal(err)
	}
	down.At = at.Add(2 * time.Minute)
	if _, err := m.Observe(down); err != nil {
		t.Fatal(err)
	}
	if inc := m.Incident(); inc == nil || inc.Ack != nil {
		t.Errorf("new incident after a resolve: %+v", inc)
	}
}
