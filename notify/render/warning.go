package render

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
)

// A warning (a certificate or performance incident) is about a monitor
// that is up: every word here says so, and none says down or outage.

// warningOf is the Warning of the message's round, or nil.
func warningOf(m *notify.Message) *result.Warning {
	if m.Result == nil {
		return nil
	}
	return m.Result.Warning
}

// certOf is the certificate a round shows: its Warning's (the earliest a
// vantage was served), else the earliest of the served chain, else the
// leaf. nil when the round shows none.
func certOf(r *result.Outcome) *result.CertInfo {
	if r == nil {
		return nil
	}
	if r.Warning != nil && r.Warning.Cert != nil {
		return r.Warning.Cert
	}
	t := r.TLS
	if t == nil {
		return nil
	}
	if t.Earliest != nil {
		return t.Earliest
	}
	if t.NotAfter.IsZero() {
		return nil
	}
	return &result.CertInfo{Subject: t.Subject, Issuer: t.Issuer, Serial: t.Serial, NotAfter: t.NotAfter,
		DaysLeft: t.DaysLeft, DNSNames: t.DNSNames}
}

// warnDays reads the threshold out of a cert_expiring detail
// ("under-7-days"); 0 when it is not one.
func warnDays(detail string) int {
	s, ok := strings.CutPrefix(detail, "under-")
	if !ok {
		return 0
	}
	s, ok = strings.CutSuffix(s, "-days")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

func days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

// certWhat names a certificate by its place in the served chain.
func certWhat(c *result.CertInfo) string {
	if c != nil && c.Depth > 0 {
		return "intermediate certificate"
	}
	return "certificate"
}

// expiry says when a certificate expires, as from now: "expires in 4
// days", "expires today", "expired 2 days ago".
func expiry(c *result.CertInfo) string {
	switch {
	case c.DaysLeft < 0:
		return "expired " + days(-c.DaysLeft) + " ago"
	case c.DaysLeft == 0:
		return "expires today"
	}
	return "expires in " + days(c.DaysLeft)
}

// certHeadline is a certificate warning in a few words: "certificate
// expires in 4 days".
func certHeadline(m *notify.Message) string {
	if c := certOf(m.Result); c != nil {
		return certWhat(c) + " " + expiry(c)
	}
	if n := warnDays(m.Detail); n > 0 {
		return "certificate expires within " + days(n)
	}
	return "certificate expiring"
}

// slowPhase is the slow phase of a performance warning: its Warning's,
// else the detail.
func slowPhase(m *notify.Message) string {
	if w := warningOf(m); w != nil && w.Phase != "" {
		return w.Phase
	}
	return m.Detail
}

// perfHeadline is a performance warning in a few words, after "is":
// "slow: TTFB 2.4 s from fra1 and iad1, 40 ms from local".
func perfHeadline(m *notify.Message) string {
	if w := warningOf(m); w != nil && oneLine(w.Summary) != "" {
		return "slow: " + clipRunes(oneLine(w.Summary), 160)
	}
	if p := slowPhase(m); p != "" {
		return "slow in " + result.PhaseWords(clipRunes(oneLine(p), 40))
	}
	return "slow"
}

// warningSummary is Summary for a warning.
func warningSummary(m *notify.Message) string {
	if m.Kind == incident.KindPerformance {
		return perfHeadline(m)
	}
	return certHeadline(m)
}

// warningSubject is the monitor and its warning: "shop: certificate
// expires in 4 days", "shop is slow: TTFB 2.4 s from fra1".
func warningSubject(m *notify.Message) string {
	if m.Kind == incident.KindPerformance {
		return name(m) + " is " + perfHeadline(m)
	}
	return name(m) + ": " + certHeadline(m)
}

// recovered reports whether a warning's resolve is the warning's own end
// (renewed, fast again) rather than the monitor removed or its warning
// turned off, which say nothing of the certificate or the speed
// (incident.Recovered decides).
func recovered(m *notify.Message) bool { return incident.Recovered(m.Resolution) }

func warningTag(m *notify.Message) string {
	if m.Severity == incident.SeverityCritical {
		return "WARNING critical"
	}
	return "WARNING"
}

// warningWord is what the warning is, for "the ... warning".
func warningWord(m *notify.Message) string {
	if m.Kind == incident.KindPerformance {
		return "slowness"
	}
	return "certificate"
}

// renewedCert is the certificate a recovered certificate warning ended
// with, or nil.
func renewedCert(m *notify.Message) *result.CertInfo {
	if m.Kind != incident.KindCertificate || !recovered(m) {
		return nil
	}
	return certOf(m.Result)
}

// resolvedSentence says how a warning ended, after the monitor's name and
// sep: ": certificate renewed: the new certificate has 89 days left
// (serial …, not after …)", " is back under the thresholds after 25m", ": the
// certificate warning is closed after 3d (monitor removed)". Only a
// recovered warning claims a renewal: a monitor removed or a warning
// turned off says nothing of the certificate.
func resolvedSentence(m *notify.Message) (sep, rest string) {
	if !recovered(m) {
		return ": ", fmt.Sprintf("the %s warning is closed after %s (%s)", warningWord(m), Duration(m.Duration()), clipRunes(oneLine(m.Resolution), 80))
	}
	if m.Kind == incident.KindPerformance {
		return " ", "is back under the thresholds after " + Duration(m.Duration())
	}
	if c := renewedCert(m); c != nil {
		// The serial lets whoever renewed it see the new one is served.
		serial := ""
		if c.Serial != "" {
			serial = "serial " + clipRunes(c.Serial, 100) + ", "
		}
		return ": ", fmt.Sprintf("certificate renewed: the new %s has %s left (%snot after %s)", certWhat(c), days(c.DaysLeft), serial, stamp(c.NotAfter.Time))
	}
	return ": ", "certificate renewed: it is no longer under any cert_warn_days threshold"
}

func warningTitle(m *notify.Message) string {
	n := name(m)
	switch m.Event {
	case incident.NotifyResolve:
		if !recovered(m) {
			return fmt.Sprintf("[RESOLVED: %s] %s: %s warning closed after %s", clipRunes(oneLine(m.Resolution), 40), n, warningWord(m), Duration(m.Duration()))
		}
		if m.Kind == incident.KindPerformance {
			return "[RESOLVED] " + n + " is back under the thresholds after " + Duration(m.Duration())
		}
		if c := renewedCert(m); c != nil {
			return fmt.Sprintf("[RESOLVED] %s: certificate renewed, %s left", n, days(c.DaysLeft))
		}
		return "[RESOLVED] " + n + ": certificate renewed"
	case incident.NotifyUpdate:
		return "[UPDATE: " + warningTag(m) + "] " + warningSubject(m)
	case incident.NotifyReminder:
		return fmt.Sprintf("[STILL %s for %s] %s", warningTag(m), Duration(m.Duration()), warningSubject(m))
	case incident.NotifyNotice:
		t := "[NOTICE] " + n
		if c := oneLine(m.Change); c != "" {
			t += ": " + clipRunes(c, 120)
		}
		return t
	}
	return "[" + warningTag(m) + "] " + warningSubject(m)
}

// warningVerdict is Verdict for a warning: the phrase after "<monitor> is".
func warningVerdict(m *notify.Message) string {
	if m.Event == incident.NotifyResolve {
		if !recovered(m) {
			return fmt.Sprintf("clear of its %s warning after %s (%s)", warningWord(m), Duration(m.Duration()), clipRunes(oneLine(m.Resolution), 80))
		}
		if m.Kind == incident.KindPerformance {
			return "back under the thresholds after " + Duration(m.Duration())
		}
		return "serving a renewed certificate"
	}
	if m.Kind == incident.KindPerformance {
		return "up but " + perfHeadline(m)
	}
	return "up, but its " + certHeadline(m)
}

// buildWarning renders a certificate or performance incident.
func buildWarning(d *doc, m *notify.Message) {
	if m.Event == incident.NotifyResolve {
		buildWarningResolved(d, m)
		return
	}
	n := name(m)
	d.Tone = toneCaution
	switch m.Event {
	case incident.NotifyUpdate:
		d.Lead = fmt.Sprintf("%s changed: %s. It is %s.", n, lowerFirst(trimDot(oneLine(m.Change))), warningVerdict(m))
		if oneLine(m.Change) == "" {
			d.Lead = fmt.Sprintf("%s changed. It is %s.", n, warningVerdict(m))
		}
	case incident.NotifyReminder:
		d.Lead = fmt.Sprintf("%s is still %s, for %s now.", n, warningVerdict(m), Duration(m.Duration()))
	case incident.NotifyNotice:
		d.Lead = trimDot(oneLine(m.Change)) + "."
		if oneLine(m.Change) == "" {
			d.Lead = n + "."
		}
	default:
		d.Lead = fmt.Sprintf("%s is %s.", n, warningVerdict(m))
	}
	w := warningOf(m)
	if m.Kind == incident.KindPerformance {
		addPerformance(d, m, w)
	} else {
		addCertificate(d, m, w)
	}
	if m.Flapping {
		d.Facts = append(d.Facts, fact{Label: "Flapping", Value: "it keeps going over its thresholds and back"})
	}
	addIdentity(d, m)
	if !m.OpenedAt.IsZero() {
		label := "Warning since"
		if m.Kind == incident.KindPerformance {
			label = "Slow since"
		}
		d.Facts = append(d.Facts, fact{Label: label, Value: fmt.Sprintf("%s (%s)", stamp(m.OpenedAt), Duration(m.Duration()))})
	}
	if m.Result != nil && !m.Result.StartedAt.IsZero() {
		d.Facts = append(d.Facts, fact{Label: "Checked at", Value: stamp(m.Result.StartedAt.Time)})
	}
	if w != nil {
		if lines := seenLines(m, w); len(lines) > 0 {
			h := "What each vantage saw"
			if m.Kind == incident.KindCertificate {
				h = "Which vantages were served it"
			}
			d.Parts = append(d.Parts, part{Heading: h, Lines: boundList(lines, maxVantages)})
		}
	}
	addFixes(d, m)
}

// addCertificate lists the certificate that expires first: what the
// operator needs to find it (subject, issuer, serial, names) and when.
func addCertificate(d *doc, m *notify.Message, w *result.Warning) {
	if w != nil && oneLine(w.Summary) != "" {
		d.Facts = append(d.Facts, fact{Label: "Warning", Value: clipRunes(oneLine(w.Summary), maxLine)})
	}
	th := warnDays(m.Detail)
	if w != nil && w.ThresholdDays > 0 {
		th = w.ThresholdDays
	}
	if th > 0 {
		v := fmt.Sprintf("under the %d-day cert_warn_days threshold", th)
		if m.Severity == incident.SeverityCritical {
			v += ", the last one: critical"
		}
		d.Facts = append(d.Facts, fact{Label: "Threshold", Value: v})
	}
	addCertFacts(d, certOf(m.Result), "Certificate")
}

// addCertFacts lists one certificate, its first fact labelled label.
func addCertFacts(d *doc, c *result.CertInfo, label string) {
	if c == nil {
		return
	}
	if c.Subject != "" {
		d.Facts = append(d.Facts, fact{Label: label, Value: clipRunes(oneLine(c.Subject), maxLine)})
	}
	if c.Depth > 0 {
		d.Facts = append(d.Facts, fact{Label: "In the chain", Value: fmt.Sprintf("an intermediate (depth %d of the chain as served), not the site's own certificate", c.Depth)})
	}
	if c.Issuer != "" {
		d.Facts = append(d.Facts, fact{Label: "Issued by", Value: clipRunes(oneLine(c.Issuer), maxLine)})
	}
	if c.Serial != "" {
		d.Facts = append(d.Facts, fact{Label: "Serial", Value: clipRunes(oneLine(c.Serial), 120)})
	}
	if len(c.DNSNames) > 0 {
		d.Facts = append(d.Facts, fact{Label: "Names", Value: clipRunes(oneLine(strings.Join(boundList(c.DNSNames, 10), ", ")), maxLine)})
	}
	if !c.NotAfter.IsZero() {
		v := stamp(c.NotAfter.Time)
		switch {
		case c.DaysLeft < 0:
			v += fmt.Sprintf(" (expired %s ago)", days(-c.DaysLeft))
		default:
			v += fmt.Sprintf(" (%s left)", days(c.DaysLeft))
		}
		d.Facts = append(d.Facts, fact{Label: "Not after", Value: v})
	}
}

// addPerformance says which phase is slow, against which threshold, and
// the round's timing.
func addPerformance(d *doc, m *notify.Message, w *result.Warning) {
	if p := slowPhase(m); p != "" {
		v := result.PhaseWords(clipRunes(oneLine(p), 40))
		if isToken(p) && v != p {
			v += " [" + p + "]"
		}
		d.Facts = append(d.Facts, fact{Label: "Slow phase", Value: v})
	}
	if w != nil && w.ThresholdMs > 0 {
		d.Facts = append(d.Facts, fact{Label: "Threshold", Value: msWords(w.ThresholdMs) + " (degraded." + clipRunes(oneLine(w.Phase), 20) + ")"})
	}
	if w == nil || len(w.Seen) == 0 {
		// Without the vantages' lines, the round's own timing is all
		// there is to show.
		addTiming(d, m, "Timing")
	}
}

// addTiming shows how fast the monitor is: the warning's summary (every
// vantage's time for the phase), else the round's own phases.
func addTiming(d *doc, m *notify.Message, label string) {
	if w := warningOf(m); w != nil && oneLine(w.Summary) != "" && m.Event == incident.NotifyResolve {
		d.Facts = append(d.Facts, fact{Label: label, Value: clipRunes(oneLine(w.Summary), maxLine)})
		return
	}
	if m.Result != nil {
		if p := phases(m.Result.Phases); p != "" {
			d.Facts = append(d.Facts, fact{Label: label, Value: p})
		}
	}
}

// seenLines is one line per vantage: what it was served, or how long the
// slow phase took from it.
func seenLines(m *notify.Message, w *result.Warning) []string {
	lines := make([]string, 0, len(w.Seen))
	for _, s := range w.Seen {
		l := clipRunes(oneLine(s.Vantage), 40) + ": "
		switch m.Kind {
		case incident.KindPerformance:
			l += phaseShort(w.Phase) + " " + msWords(s.Ms)
			if s.Over {
				l += ", over the threshold"
			} else {
				l += ", under the threshold"
			}
		default:
			switch c := s.Cert; {
			case s.Over && (c == nil || w.Cert == nil || c.Serial == w.Cert.Serial):
				l += "served it"
			case s.Over:
				l += fmt.Sprintf("served another %s under the threshold: serial %s, %s, not after %s",
					certWhat(c), clipRunes(oneLine(c.Serial), 60), expiry(c), c.NotAfter.UTC().Format("2006-01-02"))
			case c != nil:
				l += fmt.Sprintf("served a different certificate, with %s left (serial %s)", days(c.DaysLeft), clipRunes(oneLine(c.Serial), 60))
			default:
				l += "not under the threshold"
			}
		}
		if s.RemoteAddr != "" {
			l += " (from " + clipRunes(oneLine(s.RemoteAddr), 60) + ")"
		}
		lines = append(lines, l)
	}
	return lines
}

// phaseShort names a phase in a vantage line.
func phaseShort(p string) string {
	switch p {
	case result.PhaseDNS, result.PhaseTLS, result.PhaseTTFB:
		return strings.ToUpper(p)
	case "":
		return "time"
	}
	return clipRunes(oneLine(p), 20)
}

// msWords is a duration in milliseconds as people say it: "40 ms", "2.4 s".
func msWords(ms float64) string {
	if ms >= 1000 {
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + " s"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
}

func buildWarningResolved(d *doc, m *notify.Message) {
	d.Tone = toneOK
	sep, rest := resolvedSentence(m)
	d.Lead = name(m) + sep + rest + "."
	when := m.ResolvedAt
	if when.IsZero() {
		when = m.At
	}
	res := m.Resolution
	if res == "" {
		res = "recovered"
	}
	d.Facts = append(d.Facts,
		fact{Label: "Lasted", Value: Duration(m.Duration())},
		fact{Label: "Resolution", Value: clipRunes(oneLine(res), maxLine)},
	)
	if !m.OpenedAt.IsZero() {
		label := "Warning from"
		if m.Kind == incident.KindPerformance {
			label = "Slow from"
		}
		d.Facts = append(d.Facts, fact{Label: label, Value: stamp(m.OpenedAt)})
	}
	d.Facts = append(d.Facts, fact{Label: "Resolved at", Value: stamp(when)})
	switch was := wasWords(m); {
	case was != "":
		d.Facts = append(d.Facts, fact{Label: "It was", Value: was})
	}
	addIdentity(d, m)
	switch {
	case renewedCert(m) != nil:
		addCertFacts(d, renewedCert(m), "New certificate")
	case m.Kind == incident.KindPerformance && recovered(m):
		addTiming(d, m, "Now")
	}
}

// wasWords says what a resolved warning was, from its last level or phase.
func wasWords(m *notify.Message) string {
	if m.Kind == incident.KindPerformance {
		if p := m.Detail; p != "" {
			return "slow in " + result.PhaseWords(clipRunes(oneLine(p), 40))
		}
		return ""
	}
	if n := warnDays(m.Detail); n > 0 {
		return fmt.Sprintf("a certificate under the %d-day threshold", n)
	}
	return ""
}

// warningReply is a Slack thread reply for a warning.
func warningReply(m *notify.Message) string {
	n := "*" + slackEscape(name(m)) + "*"
	switch m.Event {
	case incident.NotifyUpdate:
		text := ":arrows_counterclockwise: *Update* for " + n + ": "
		if c := oneLine(m.Change); c != "" {
			text += slackEscape(lowerFirst(trimDot(clipRunes(c, 500)))) + ". "
		}
		return text + "It is " + slackEscape(warningVerdict(m)) + "."
	case incident.NotifyReminder:
		return ":warning: " + n + " is still " + slackEscape(warningVerdict(m)) + ", after " + Duration(m.Duration()) + "."
	case incident.NotifyResolve:
		sep, rest := resolvedSentence(m)
		text := ":white_check_mark: " + n + sep + slackEscape(rest)
		if t := m.ResolvedAt; !t.IsZero() {
			text += "; resolved at " + stamp(t)
		}
		return text + "."
	}
	d := build(m)
	return d.Tone.emoji() + " *" + slackEscape(d.Title) + "*\n" + slackEscape(d.Lead)
}

func lowerFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	// Only a capital that starts a sentence: "TTFB" and "DNS" keep theirs.
	if next, _ := utf8.DecodeRuneInString(s[size:]); unicode.IsUpper(next) {
		return s
	}
	return string(unicode.ToLower(r)) + s[size:]
}
