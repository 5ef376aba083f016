package web

import (
	"strconv"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// A warning is an open certificate or performance incident of a monitor
// that is up (MonitorView.Warnings). The pages show it beside the state,
// never instead of it: amber, not red, and stronger when critical (a
// certificate under its last cert_warn_days threshold).

// warningView is one warning as the pages render it, every value text.
type warningView struct {
	Kind string // "certificate" or "performance"
	// Class is the CSS class of its label: "warning", or "critical".
	Class string
	// Label is what the status page shows next to the state: "certificate
	// expires in 4 days", "slow: TTFB"; on the public page "degraded
	// performance".
	Label string
	// Title is the label's tooltip: the summary and the severity.
	Title string

	// The rest is for the private detail page only; buildRow clears it on
	// the public one.
	Heading, Summary  string
	Since, SinceAbs   string
	Severity, Regions string
	Threshold         string
	Cert              *certView
	Seen              []seenView
	Fixes             []string
}

// certView is one certificate of a served chain.
type certView struct {
	Subject, Issuer, Serial, NotAfter, Expires, Position string
	SANs                                                 []string
}

// seenView is what one vantage saw of a warning: Over marks the vantages
// that saw it.
type seenView struct {
	Vantage, Text, Addr string
	Over                bool
}

// warningViews formats a monitor's warnings, certificate first as the
// daemon orders them. public keeps only a performance warning's state
// word (see publicWarnings).
func warningViews(ws []incident.Incident, now time.Time, public bool) []warningView {
	var out []warningView
	for i := range ws {
		w := &ws[i]
		if public {
			if w.Kind == incident.KindPerformance {
				out = append(out, warningView{Kind: string(w.Kind), Class: "warning", Label: "degraded performance", Title: "degraded performance"})
			}
			continue
		}
		if !w.Kind.Warning() {
			continue
		}
		out = append(out, warningOf(w, now))
	}
	return out
}

// warningOf is the private view of one warning.
func warningOf(w *incident.Incident, now time.Time) warningView {
	v := warningView{Kind: string(w.Kind), Class: "warning", Severity: string(w.Severity)}
	if w.Severity == incident.SeverityCritical {
		v.Class = "critical"
	}
	v.Since = ago(now, w.OpenedAt.Time)
	v.SinceAbs = rfc3339(w.OpenedAt.Time)
	if len(w.Regions) > 0 {
		v.Regions = strings.Join(w.Regions, ", ")
	}
	var wn *result.Warning
	if w.Last != nil {
		wn = w.Last.Warning
		v.Fixes = w.Last.Fixes
	}
	switch w.Kind {
	case incident.KindCertificate:
		v.Label = certLabel(w, wn)
		if wn != nil {
			if wn.Cert != nil {
				v.Cert = certOf(wn.Cert)
			}
			if wn.ThresholdDays > 0 {
				v.Threshold = "under the " + strconv.Itoa(wn.ThresholdDays) + "-day threshold of cert_warn_days"
			}
			for _, s := range wn.Seen {
				sv := seenView{Vantage: s.Vantage, Over: s.Over, Addr: s.RemoteAddr}
				if c := s.Cert; c != nil {
					sv.Text = "served serial " + orUnknown(c.Serial) + ", expires " + rfc3339(c.NotAfter.Time) + " (" + daysLeft(c.DaysLeft) + ")"
					if c.Depth > 0 {
						sv.Text = "served an intermediate (depth " + strconv.Itoa(c.Depth) + ") with serial " + orUnknown(c.Serial) +
							", expires " + rfc3339(c.NotAfter.Time) + " (" + daysLeft(c.DaysLeft) + ")"
					}
				} else {
					sv.Text = "no certificate seen"
				}
				v.Seen = append(v.Seen, sv)
			}
		}
	case incident.KindPerformance:
		phase := w.Detail
		if wn != nil && wn.Phase != "" {
			phase = wn.Phase
		}
		v.Label = "slow: " + result.PhaseLabel(phase)
		if wn != nil {
			if s := formatMs(wn.ThresholdMs); s != "" {
				v.Threshold = result.PhaseLabel(phase) + " over " + s
			}
			for _, s := range wn.Seen {
				sv := seenView{Vantage: s.Vantage, Over: s.Over, Addr: s.RemoteAddr}
				sv.Text = result.PhaseLabel(phase) + " " + orUnknown(formatMs(s.Ms))
				if s.Over {
					sv.Text += ", over the threshold"
				}
				v.Seen = append(v.Seen, sv)
			}
		}
	}
	v.Heading = strings.ToUpper(v.Label[:1]) + v.Label[1:]
	v.Summary = v.Label
	if wn != nil && wn.Summary != "" {
		v.Summary = wn.Summary
	}
	v.Title = v.Summary + " (" + string(w.Severity) + ")"
	if w.Severity == "" {
		v.Title = v.Summary
	}
	return v
}

// certLabel is the certificate warning's label: "certificate expires in 4
// days", "intermediate certificate expires in 3 days"; from the incident's
// detail ("under-7-days") when its result says nothing of the certificate.
func certLabel(w *incident.Incident, wn *result.Warning) string {
	if wn != nil && wn.Cert != nil {
		what := "certificate"
		if wn.Cert.Depth > 0 {
			what = "intermediate certificate"
		}
		switch d := wn.Cert.DaysLeft; {
		case d <= 0:
			return what + " expires today"
		case d == 1:
			return what + " expires in 1 day"
		default:
			return what + " expires in " + strconv.Itoa(d) + " days"
		}
	}
	if n, ok := strings.CutPrefix(w.Detail, "under-"); ok {
		if n, ok := strings.CutSuffix(n, "-days"); ok {
			if _, err := strconv.Atoi(n); err == nil {
				return "certificate expires within " + n + " days"
			}
		}
	}
	return "certificate expiring"
}

func certOf(c *result.CertInfo) *certView {
	v := &certView{
		Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial, SANs: c.DNSNames,
		NotAfter: rfc3339(c.NotAfter.Time), Expires: daysLeft(c.DaysLeft), Position: "leaf",
	}
	if c.Depth > 0 {
		v.Position = "intermediate (depth " + strconv.Itoa(c.Depth) + " of the chain as served)"
	}
	return v
}

func daysLeft(d int) string {
	switch {
	case d == 0:
		return "less than a day left"
	case d == 1:
		return "1 day left"
	case d < 0:
		return "expired " + strconv.Itoa(-d) + " days ago"
	}
	return strconv.Itoa(d) + " days left"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// hasPerformance reports whether m has an open performance incident: it
// is degraded, though up.
func hasPerformance(m *MonitorView) bool {
	for i := range m.Warnings {
		if m.Warnings[i].Kind == incident.KindPerformance {
			return true
		}
	}
	return false
}

// hasCertificate reports whether m has an open certificate incident.
func hasCertificate(m *MonitorView) bool {
	for i := range m.Warnings {
		if m.Warnings[i].Kind == incident.KindCertificate {
			return true
		}
	}
	return false
}
