package web

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// dayView is one cell of a 90-day bar, ready for the template.
type dayView struct {
	State string // a CSS class: up, degraded, down, maintenance, unknown
	Title string // the tooltip: "2026-11-30: 99.2% up, 11m down"
}

// dayViews turns the history's day cells into bar cells. The state is
// mapped onto the known classes, so a value the page does not know shows
// as unknown instead of becoming an arbitrary class name.
func dayViews(days []history.DayCell) []dayView {
	out := make([]dayView, len(days))
	for i, d := range days {
		out[i] = dayView{State: dayClass(d.State), Title: dayTitle(d)}
	}
	return out
}

func dayClass(s history.DayState) string {
	switch s {
	case history.DayDown, history.DayDegraded, history.DayMaintenance, history.DayUp:
		return string(s)
	}
	return string(history.DayUnknown)
}

// dayTitle says how a day went in one line, from the largest part down:
// "2026-11-30: 99.2% up, 11m down", "2026-11-30: no data".
func dayTitle(d history.DayCell) string {
	var b strings.Builder
	b.WriteString(d.Start.UTC().Format(time.DateOnly))
	b.WriteString(": ")
	u := d.Uptime
	ratio, ok := u.Ratio()
	if !ok {
		if u.Maintenance > 0 {
			b.WriteString(length(u.Maintenance) + " maintenance")
		} else {
			b.WriteString("no data")
		}
		return b.String()
	}
	b.WriteString(percent(ratio) + " up")
	if u.Down > 0 {
		b.WriteString(", " + length(u.Down) + " down")
	}
	if u.Degraded > 0 {
		b.WriteString(", " + length(u.Degraded) + " degraded")
	}
	if u.Maintenance > 0 {
		b.WriteString(", " + length(u.Maintenance) + " maintenance")
	}
	if u.Unknown > 0 {
		b.WriteString(", " + length(u.Unknown) + " not measured")
	}
	return b.String()
}

// percent renders a ratio as a percentage with at most two decimals,
// rounded down, so that anything short of full uptime never reads 100%:
// "100%", "99.99%", "99.2%", "50%".
func percent(ratio float64) string {
	switch {
	case math.IsNaN(ratio) || ratio < 0:
		return "?"
	case ratio >= 1:
		return "100%"
	}
	p := math.Floor(ratio*10000) / 100
	s := strconv.FormatFloat(p, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// uptimeText is an uptime's ratio as a percentage, or "no data".
func uptimeText(u history.Uptime) string {
	if r, ok := u.Ratio(); ok {
		return percent(r)
	}
	return "no data"
}

// uptimeDetail says what the ratio leaves out: "11m down, 2h degraded".
func uptimeDetail(u history.Uptime) string {
	var parts []string
	for _, p := range []struct {
		d    time.Duration
		what string
	}{{u.Down, "down"}, {u.Degraded, "degraded"}, {u.Maintenance, "maintenance"}, {u.Unknown, "not measured"}} {
		if p.d > 0 {
			parts = append(parts, length(p.d)+" "+p.what)
		}
	}
	if len(parts) == 0 && u.Up > 0 {
		return "no downtime"
	}
	return strings.Join(parts, ", ")
}

// length is a duration in at most two units: "45s", "11m", "4m 12s",
// "3h 5m", "2d 4h". Below a second it reads "0s".
func length(d time.Duration) string {
	sec := int64(d / time.Second)
	switch {
	case sec <= 0:
		return "0s"
	case sec < 60:
		return fmt.Sprintf("%ds", sec)
	case sec < 3600:
		return units(sec/60, "m", sec%60, "s")
	case sec < 86400:
		return units(sec/3600, "h", sec%3600/60, "m")
	default:
		return units(sec/86400, "d", sec%86400/3600, "h")
	}
}

func units(a int64, ua string, b int64, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, ua)
	}
	return fmt.Sprintf("%d%s %d%s", a, ua, b, ub)
}

// clock is t as a person reads it on a page made at now: "12:03 UTC"
// today, "2026-11-30 12:03 UTC" otherwise.
func clock(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t, now = t.UTC(), now.UTC()
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

// scopeView is for whom a monitor is down, as a class and in words.
type scopeView struct {
	Class string // everyone, partial, just_me, unknown; "" when up
	Text  string // "everyone", "partial: eu-west, us-east", "just me"
}

// scopeOf reads the scope from the open incident, else from the last
// round. Regions come from the incident, or from the vantages that saw the
// target down.
func scopeOf(m *MonitorView) scopeView {
	var sc result.Scope
	var regions []string
	if inc := m.OpenIncident; inc != nil {
		sc, regions = inc.Scope, inc.Regions
	} else if lr := m.LastResult; lr != nil && !lr.OK {
		sc = lr.Scope
		for _, l := range lr.Vantages {
			if l.Status == result.VantageDown {
				regions = append(regions, l.Name)
			}
		}
	}
	return scopeWords(sc, regions)
}

func scopeWords(sc result.Scope, regions []string) scopeView {
	switch sc {
	case result.ScopeEveryone:
		return scopeView{"everyone", "everyone"}
	case result.ScopePartial:
		t := "partial"
		if len(regions) > 0 {
			t += ": " + strings.Join(regions, ", ")
		}
		return scopeView{"partial", t}
	case result.ScopeJustMe:
		return scopeView{"just_me", "just me"}
	case result.ScopeUnknown:
		return scopeView{"unknown", "unknown: no healthy vantage answered"}
	case result.ScopeNone:
		return scopeView{}
	}
	return scopeView{"unknown", string(sc)}
}

// vantagePanel is the health of the vantages above the status table.
type vantagePanel struct {
	Healthy, Total int
	// Isolation is set while our own network is down, in words.
	Isolation string
	Vantages  []vantageView
	// Problems say, one sentence each, which vantages are impaired or
	// unreachable, since when and why.
	Problems []string
}

type vantageView struct {
	Name  string
	State string // healthy, impaired, unreachable (a CSS class) or unknown
	Title string // since when and why, for the tooltip
}

// buildVantagePanel puts a snapshot in words. public leaves out the errors,
// which may name vantage addresses and internal hosts.
func buildVantagePanel(snap vantage.Snapshot, now time.Time, public bool) *vantagePanel {
	p := &vantagePanel{Total: len(snap.Vantages)}
	why := func(err string) string {
		if public || err == "" {
			return "."
		}
		return ": " + truncate(err, maxErrorRunes)
	}
	var local vantage.Health
	for _, h := range snap.Vantages {
		v := vantageView{Name: h.Name, State: string(h.State)}
		if !h.Since.IsZero() {
			v.Title = string(h.State) + " since " + h.Since.UTC().Format(time.RFC3339)
		}
		if !public && h.Error != "" && h.State != vantage.Healthy {
			v.Title = strings.TrimSpace(v.Title + ": " + truncate(h.Error, maxErrorRunes))
		}
		who := "agent " + h.Name
		if h.Name == result.LocalVantage {
			who, local = "the local vantage (this host)", h
		}
		switch h.State {
		case vantage.Healthy:
			p.Healthy++
		case vantage.Impaired, vantage.Unreachable:
			s := who + " is " + string(h.State)
			if !h.Since.IsZero() {
				s += " since " + clock(now, h.Since)
			}
			s += why(h.Error)
			if !public && len(h.Monitors) > 0 {
				s += fmt.Sprintf(" (%d %s could not be checked from it)", len(h.Monitors), plural(len(h.Monitors), "monitor", "monitors"))
			}
			p.Problems = append(p.Problems, s)
		default:
			v.State = "unknown"
		}
		p.Vantages = append(p.Vantages, v)
	}
	if snap.Isolated {
		s := "Our own network is down"
		if !snap.IsolatedSince.IsZero() {
			s += " since " + clock(now, snap.IsolatedSince)
		}
		s += why(local.Error)
		s = strings.TrimSuffix(s, ".") + ". No vantage can reach the sites, so their states are not news about them."
		p.Isolation = s
		// The isolation sentence says it for the local vantage.
		p.Problems = slices.DeleteFunc(p.Problems, func(s string) bool { return strings.HasPrefix(s, "the local vantage") })
	}
	return p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// urlParts splits a long URL after its path and query separators (/ ? &),
// so the template can offer a line break (<wbr>) there: it then wraps
// between its parts rather than at any character.
func urlParts(u string) []string {
	if len(u) <= 40 {
		return []string{u}
	}
	var parts []string
	start := 0
	for i := 0; i < len(u)-1; i++ {
		switch u[i] {
		case '/', '?', '&':
			// "https://" stays whole, and so does any run of separators.
			if !strings.ContainsRune("/?&", rune(u[i+1])) && i+1-start >= 4 {
				parts = append(parts, u[start:i+1])
				start = i + 1
			}
		}
	}
	return append(parts, u[start:])
}
