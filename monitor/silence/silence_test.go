package silence

import (
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func TestMatches(t *testing.T) {
	shop := &incident.Incident{ID: 7, Monitor: "shop", Kind: incident.KindTarget, Class: result.ClassBadGateway,
		Scope: "partial", Regions: []string{"fra", "nyc"}, OpenedAt: result.TimeOf(t0)}
	vant := &incident.Incident{ID: 8, Monitor: "fra", Kind: incident.KindVantage, OpenedAt: result.TimeOf(t0)}
	resolved := *shop
	resolved.ResolvedAt = result.TimeOf(t0.Add(time.Hour))
	tags := []string{"prod", "shop"}
	for _, tc := range []struct {
		name string
		m    Matchers
		sub  Subject
		ur   bool
		want bool
	}{
		{"monitor", Matchers{Monitors: []string{"blog", "shop"}}, Subject{shop, tags}, false, true},
		{"other monitor", Matchers{Monitors: []string{"blog"}}, Subject{shop, tags}, false, false},
		{"tag", Matchers{Tags: []string{"staging", "prod"}}, Subject{shop, tags}, false, true},
		{"no tag", Matchers{Tags: []string{"staging"}}, Subject{shop, tags}, false, false},
		{"class", Matchers{Classes: []result.Class{result.ClassBadGateway}}, Subject{shop, tags}, false, true},
		{"other class", Matchers{Classes: []result.Class{result.ClassTimeout}}, Subject{shop, tags}, false, false},
		{"scope", Matchers{Scopes: []result.Scope{result.ScopePartial}}, Subject{shop, tags}, false, true},
		{"other scope", Matchers{Scopes: []result.Scope{result.ScopeEveryone}}, Subject{shop, tags}, false, false},
		{"vantage in regions", Matchers{Vantages: []string{"nyc"}}, Subject{shop, tags}, false, true},
		{"vantage not in regions", Matchers{Vantages: []string{"sgp"}}, Subject{shop, tags}, false, false},
		{"vantage incident by vantage", Matchers{Vantages: []string{"fra"}}, Subject{vant, nil}, false, true},
		{"vantage incident by name", Matchers{Monitors: []string{"fra"}}, Subject{vant, nil}, false, true},
		{"AND across lists", Matchers{Monitors: []string{"shop"}, Classes: []result.Class{result.ClassTimeout}}, Subject{shop, tags}, false, false},
		{"AND across lists, all match", Matchers{Monitors: []string{"shop"}, Tags: []string{"prod"}, Classes: []result.Class{result.ClassBadGateway}}, Subject{shop, tags}, false, true},
		{"incident", Matchers{Incident: 7}, Subject{shop, tags}, false, true},
		{"other incident", Matchers{Incident: 9}, Subject{shop, tags}, false, false},
		{"until resolved, open", Matchers{Incident: 7}, Subject{shop, tags}, true, true},
		{"until resolved, resolved", Matchers{Incident: 7}, Subject{&resolved, tags}, true, false},
		{"empty matches nothing", Matchers{}, Subject{shop, tags}, false, false},
		{"no incident", Matchers{Monitors: []string{"shop"}}, Subject{nil, tags}, false, false},
	} {
		s := Silence{Matchers: tc.m, Start: t0, End: t0.Add(time.Hour), UntilResolved: tc.ur}
		if got := s.Matches(tc.sub); got != tc.want {
			t.Errorf("%s: Matches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	now := t0
	ok := Silence{Matchers: Matchers{Monitors: []string{"shop"}}, Start: now, End: now.Add(2 * time.Hour)}
	if err := ok.Validate(now); err != nil {
		t.Fatalf("valid silence refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Silence)
		want string
	}{
		{"no matchers", func(s *Silence) { s.Matchers = Matchers{} }, "no matcher"},
		{"end before start", func(s *Silence) { s.End = s.Start.Add(-time.Minute) }, "not after start"},
		{"end at start", func(s *Silence) { s.End = s.Start }, "not after start"},
		{"no end", func(s *Silence) { s.End = time.Time{} }, "no end"},
		{"over a year", func(s *Silence) { s.End = now.Add(MaxAhead + time.Hour) }, "more than a year"},
		{"unknown class", func(s *Silence) { s.Matchers.Classes = []result.Class{"bad_gatway"} }, `unknown class "bad_gatway"`},
		{"unknown scope", func(s *Silence) { s.Matchers.Scopes = []result.Scope{"some"} }, `unknown scope "some"`},
		{"long comment", func(s *Silence) { s.Comment = strings.Repeat("x", MaxComment+1) }, "comment is 1001 bytes"},
		{"until resolved without incident", func(s *Silence) { s.UntilResolved, s.End = true, time.Time{} }, "until resolved needs"},
	} {
		s := ok
		s.Matchers.Monitors = append([]string(nil), ok.Matchers.Monitors...)
		tc.edit(&s)
		err := s.Validate(now)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	ur := Silence{Matchers: Matchers{Incident: 7}, UntilResolved: true, Start: now}
	if err := ur.Validate(now); err != nil {
		t.Errorf("until-resolved silence refused: %v", err)
	}
}

func TestActive(t *testing.T) {
	s := Silence{Matchers: Matchers{Monitors: []string{"shop"}}, Start: t0, End: t0.Add(time.Hour)}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0.Add(-time.Second), false}, {t0, true}, {t0.Add(59 * time.Minute), true}, {t0.Add(time.Hour), false},
	} {
		if got := s.Active(tc.at); got != tc.want {
			t.Errorf("Active(%s) = %v, want %v", tc.at.Format(time.Kitchen), got, tc.want)
		}
	}
	s.ExpiredAt = t0.Add(10 * time.Minute)
	if s.Active(t0.Add(10*time.Minute)) || !s.Active(t0.Add(9*time.Minute)) || !s.Ends().Equal(s.ExpiredAt) {
		t.Errorf("expired at 10:10: active after it, or ends %s", s.Ends())
	}
	ur := Silence{Matchers: Matchers{Incident: 7}, UntilResolved: true, Start: t0}
	if !ur.Active(t0.AddDate(5, 0, 0)) || !ur.Ends().Equal(Indefinite()) {
		t.Errorf("until-resolved silence not active for years: ends %s", ur.Ends())
	}
}

func TestMutedUntilChains(t *testing.T) {
	shop := &incident.Incident{ID: 7, Monitor: "shop", Kind: incident.KindTarget, OpenedAt: result.TimeOf(t0)}
	sub := Subject{Incident: shop}
	m := Matchers{Monitors: []string{"shop"}}
	set := Set{
		{ID: 1, Matchers: m, Start: t0, End: t0.Add(time.Hour)},
		{ID: 2, Matchers: m, Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)},                      // back to back
		{ID: 3, Matchers: m, Start: t0.Add(90 * time.Minute), End: t0.Add(3 * time.Hour)},               // overlapping
		{ID: 4, Matchers: m, Start: t0.Add(4 * time.Hour), End: t0.Add(5 * time.Hour)},                  // a gap: separate
		{ID: 5, Matchers: Matchers{Monitors: []string{"blog"}}, Start: t0, End: t0.Add(10 * time.Hour)}, // another monitor
	}
	for _, tc := range []struct {
		at    time.Time
		until time.Time
		muted bool
	}{
		{t0.Add(-time.Minute), time.Time{}, false},
		{t0, t0.Add(3 * time.Hour), true},
		{t0.Add(150 * time.Minute), t0.Add(3 * time.Hour), true},
		{t0.Add(3 * time.Hour), time.Time{}, false},
		{t0.Add(4 * time.Hour), t0.Add(5 * time.Hour), true},
	} {
		until, muted := set.MutedUntil(sub, tc.at)
		if muted != tc.muted || !until.Equal(tc.until) {
			t.Errorf("MutedUntil(%s) = %s, %v; want %s, %v", tc.at.Format(time.Kitchen), until, muted, tc.until, tc.muted)
		}
	}
	if live := set.Live(t0.Add(3 * time.Hour)); len(live) != 2 || live[0].ID != 4 || live[1].ID != 5 {
		t.Errorf("Live at 13:00 = %+v, want 4 and 5", live)
	}
}
