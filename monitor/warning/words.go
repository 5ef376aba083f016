package warning

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/fixes"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// voter is one vantage whose result a warning reads.
type voter struct {
	name string
	res  *result.Result
}

// voters are the vantages of a round that reached the target: the lines up
// or down (an impaired, unreachable or refused line says nothing of it),
// only the up ones whose result is OK when upOnly; or the outcome's own
// result, as the local vantage, when the round had no vantage lines.
func voters(out *result.Outcome, upOnly bool) []voter {
	if len(out.Vantages) == 0 {
		if upOnly && !out.OK {
			return nil
		}
		return []voter{{name: result.LocalVantage, res: &out.Result}}
	}
	var vs []voter
	for i := range out.Vantages {
		l := &out.Vantages[i]
		if l.Result == nil {
			continue
		}
		switch {
		case upOnly && (l.Status != result.VantageUp || !l.Result.OK):
			continue
		case l.Status != result.VantageUp && l.Status != result.VantageDown:
			continue
		}
		vs = append(vs, voter{name: l.Name, res: l.Result})
	}
	return vs
}

// certSeen is what one vantage was served.
type certSeen struct {
	voter
	cert *result.CertInfo // its earliest certificate, days counted at now
	left time.Duration    // how long that certificate has left
	over bool             // left is under the largest threshold
}

// earliest is the certificate of the served chain that expires first: the
// probe's Earliest, else the leaf (a result from an agent that does not
// report the chain). Nil without a certificate.
func earliest(t *result.TLSInfo) *result.CertInfo {
	switch {
	case t == nil:
		return nil
	case t.Earliest != nil:
		return t.Earliest.Clone()
	case t.NotAfter.IsZero():
		return nil
	}
	return &result.CertInfo{
		Subject: t.Subject, Issuer: t.Issuer, Serial: t.Serial, NotAfter: t.NotAfter,
		DNSNames: append([]string(nil), t.DNSNames...), Depth: 0,
	}
}

// daysLeft counts whole days as the probe does (monitor/probe/exchange.go
// tlsInfo): the floor, so an expired certificate has a negative count.
func daysLeft(left time.Duration) int { return int(math.Floor(left.Hours() / 24)) }

func daysDur(days int) time.Duration { return time.Duration(days) * 24 * time.Hour }

// scopeOf is a warning's scope, as monitor/verdict gives a target's: empty
// for a round without vantage lines (a daemon with the local vantage only),
// everyone when every vantage counted saw it, partial with the vantages
// that did otherwise.
func scopeOf(out *result.Outcome, over []string, counted int) (result.Scope, []string) {
	switch {
	case len(out.Vantages) == 0:
		return result.ScopeNone, nil
	case len(over) == counted:
		return result.ScopeEveryone, nil
	}
	return result.ScopePartial, append([]string(nil), over...)
}

// closest is the phase nearest its threshold over the vantages: what an up
// round's summary reports.
func closest(phases []string, vs []voter, limit func(string) float64) string {
	best, ratio := phases[0], -1.0
	for _, p := range phases {
		for _, v := range vs {
			if r := v.res.Phases.Of(p) / limit(p); r > ratio {
				best, ratio = p, r
			}
		}
	}
	return best
}

// certSummary says the certificate warning in one line: "certificate
// expires in 4 days (2026-12-12 10:00 UTC): CN=example.com (example.com,
// www.example.com), serial 0A:..., issuer R11, served to fra1".
func certSummary(c *result.CertInfo, left time.Duration, v Verdict, over []string, fleet bool) string {
	var b strings.Builder
	if c.Depth > 0 {
		b.WriteString("intermediate ")
	}
	b.WriteString("certificate ")
	switch {
	case left <= 0:
		if n := int(-left / (24 * time.Hour)); n > 0 {
			fmt.Fprintf(&b, "expired %s ago", plural(n, "day"))
		} else {
			b.WriteString("expired less than a day ago")
		}
	case c.DaysLeft == 0:
		b.WriteString("expires in less than a day")
	default:
		fmt.Fprintf(&b, "expires in %s", plural(c.DaysLeft, "day"))
	}
	fmt.Fprintf(&b, " (%s): %s", c.NotAfter.UTC().Format("2006-01-02 15:04 UTC"), commonName(c.Subject))
	if len(c.DNSNames) > 0 {
		fmt.Fprintf(&b, " (%s)", names(c.DNSNames))
	}
	if c.Serial != "" {
		fmt.Fprintf(&b, ", serial %s", c.Serial)
	}
	if c.Issuer != "" {
		fmt.Fprintf(&b, ", issuer %s", strings.TrimPrefix(commonName(c.Issuer), "CN="))
	}
	switch {
	case v.Vote == incident.VoteUp:
		b.WriteString(": above every cert_warn_days threshold")
	case v.Scope == result.ScopePartial:
		fmt.Fprintf(&b, ", served to %s", fixes.AndList(over))
	case fleet && len(over) == 1:
		fmt.Fprintf(&b, ", served to %s", over[0])
	case fleet:
		b.WriteString(", served to every vantage")
	}
	return b.String()
}

// slowSummary says the performance warning in one line: "TTFB 2.4 s from
// fra1 and iad1, 40 ms from local (threshold 500 ms)": the vantages over
// the threshold first, then the others, those with the same duration
// together.
func slowSummary(w *result.Warning, down, fleet bool) string {
	var b strings.Builder
	b.WriteString(result.PhaseLabel(w.Phase))
	if !fleet && len(w.Seen) == 1 {
		fmt.Fprintf(&b, " %s", millis(w.Seen[0].Ms))
	} else {
		type group struct {
			dur   string
			names []string
		}
		var groups []group
		for _, over := range []bool{true, false} {
			start := len(groups)
			for _, s := range w.Seen {
				if s.Over != over {
					continue
				}
				d := millis(s.Ms)
				found := false
				for i := start; i < len(groups); i++ {
					if groups[i].dur == d {
						groups[i].names = append(groups[i].names, s.Vantage)
						found = true
						break
					}
				}
				if !found {
					groups = append(groups, group{d, []string{s.Vantage}})
				}
			}
		}
		for i, g := range groups {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, " %s from %s", g.dur, fixes.AndList(g.names))
		}
	}
	fmt.Fprintf(&b, " (threshold %s)", millis(w.ThresholdMs))
	if !down {
		b.WriteString(": under every degraded threshold")
	}
	return b.String()
}

// certMarker says what one vantage was served, for the evidence:
// "fra1 was served CN=example.com, serial 0A:05 (depth 0), not after
// 2026-12-13 22:00 UTC: 5 days left, under 21".
func certMarker(s certSeen, top int) string {
	c := s.cert
	m := fmt.Sprintf("%s was served %s", s.name, commonName(c.Subject))
	if c.Serial != "" {
		m += ", serial " + c.Serial
	}
	m += fmt.Sprintf(" (depth %d), not after %s: %s left", c.Depth, c.NotAfter.UTC().Format("2006-01-02 15:04 UTC"), plural(c.DaysLeft, "day"))
	if s.over {
		m += fmt.Sprintf(", under %d", top)
	}
	return m
}

// slowMarker says one vantage's duration of the phase, for the evidence:
// "fra1: TTFB 2.4 s, over 500 ms".
func slowMarker(name, phase string, ms, limit float64) string {
	rel := "under"
	if ms > limit {
		rel = "over"
	}
	return fmt.Sprintf("%s: %s %s, %s %s", name, result.PhaseLabel(phase), millis(ms), rel, millis(limit))
}

// millis writes a duration in milliseconds as people read it: 0.4 ms,
// 40 ms, 2.4 s, 12 s.
func millis(ms float64) string {
	switch {
	case ms < 0.05:
		return "0 ms"
	case ms < 1:
		return fmt.Sprintf("%.1f ms", ms)
	case ms < 999.5:
		return fmt.Sprintf("%.0f ms", ms)
	case ms < 9950:
		return fmt.Sprintf("%.1f s", ms/1000)
	}
	return fmt.Sprintf("%.0f s", ms/1000)
}

// commonName is a DN's common name as "CN=example.com", or the whole DN
// when it has none.
func commonName(dn string) string {
	for _, part := range strings.Split(dn, ",") {
		if cn, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok && cn != "" {
			return "CN=" + cn
		}
	}
	return dn
}

// names lists a certificate's first few SANs, saying how many more.
func names(ns []string) string {
	const most = 3
	if len(ns) <= most {
		return strings.Join(ns, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ns[:most], ", "), len(ns)-most)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
