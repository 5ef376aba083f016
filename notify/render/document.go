package render

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
)

// Bounds on what one alert shows. A result carries at most what the probe
// kept, but a hostile target chooses its headers and body, so every part
// an operator reads is bounded here too.
const (
	maxTitle     = 250 // runes; Slack's header cuts at 150 on its own
	maxName      = 80  // runes of a monitor name in a title
	maxLine      = 300 // runes of one evidence line
	maxLines     = 12  // lines of one evidence list
	maxBody      = 800 // runes of the body excerpt
	maxBodyLines = 20
	maxMembers   = 25 // members listed in a grouped message
	maxVantages  = 20
)

// tone colours an alert: what kind of news it is.
type tone int

const (
	toneDown tone = iota
	toneWarn
	toneOK
	toneInfo
	// toneCaution is a warning: the monitor is up, something is about to
	// break (a certificate, slowness). Drawn like toneWarn, with ⚠.
	toneCaution
)

// doc is a rendered message before it meets a format: Text, HTML and Slack
// all render the same doc, so they say the same things.
type doc struct {
	Title  string
	Tone   tone
	Notes  []string // shown before everything: test alert, possible repeat
	Lead   string   // one sentence: who is down for whom
	Facts  []fact
	Parts  []part
	Footer string
	// PageURL is the monitor's page on this daemon (Message.PageURL), ""
	// when there is none or it is not an http(s) URL.
	PageURL string
}

type fact struct {
	Label, Value string
	Link         bool // Value is the monitored URL
}

type partKind int

const (
	bullets partKind = iota
	numbered
	preformatted
)

type part struct {
	Heading string
	Kind    partKind
	Lines   []string
}

// build turns m into a doc.
func build(m *notify.Message) *doc {
	m = shown(m)
	d := &doc{Title: Title(m)}
	if m.Test {
		d.Notes = append(d.Notes, "TEST ALERT: a sample sent by `vantage notify-test` to check this receiver. Nothing is down.")
	}
	if m.Repeat {
		d.Notes = append(d.Notes, "Possible repeat: an earlier attempt to send this may have arrived (the daemon stopped during it, or the receiver took it without answering), so you may see it twice.")
	}
	if m.NotPersisted {
		d.Notes = append(d.Notes, "Not persisted: the state store could not be written, so this was sent from memory; a restart before the store recovers may forget it or send it again.")
	}
	if m.Escalated {
		// The planner says how long it stayed unacknowledged (m.Change).
		note := oneLine(m.Change)
		if note == "" {
			note = "Escalated: nobody acknowledged it in time."
		}
		d.Notes = append(d.Notes, note)
	}
	switch {
	case len(m.Group) > 0:
		buildGroup(d, m)
	case m.Kind == incident.KindVantage:
		buildVantage(d, m)
	case m.Kind.Warning():
		buildWarning(d, m)
	case m.Late && m.Event == incident.NotifyResolve:
		buildResolve(d, m)
		// Resolved, but nobody was told in time: that is news to act on
		// (the receiver), not an all-clear.
		d.Tone = toneWarn
		d.Lead = lateSentence(m) + "."
	case m.Event == incident.NotifyResolve:
		buildResolve(d, m)
	default:
		buildDown(d, m)
	}
	if m.Test {
		d.Tone = toneInfo
	}
	d.Footer = footer(m)
	d.PageURL = pageURL(m)
	return d
}

func name(m *notify.Message) string {
	if m.Monitor == "" {
		return "(unnamed monitor)"
	}
	return clipRunes(oneLine(m.Monitor), maxName)
}

func buildDown(d *doc, m *notify.Message) {
	n := name(m)
	d.Tone = toneDown
	if s := scopeOf(m); s == result.ScopePartial || s == result.ScopeJustMe || s == result.ScopeUnknown {
		d.Tone = toneWarn
	}
	switch m.Event {
	case incident.NotifyUpdate:
		d.Lead = fmt.Sprintf("%s changed: %s. It is now %s.", n, trimDot(oneLine(m.Change)), Verdict(m))
		if m.Change == "" {
			d.Lead = fmt.Sprintf("%s changed. It is now %s.", n, Verdict(m))
		}
	case incident.NotifyReminder:
		d.Lead = fmt.Sprintf("%s is still %s, for %s now.", n, Verdict(m), Duration(m.Duration()))
	case incident.NotifyNotice:
		d.Tone = toneWarn
		d.Lead = trimDot(oneLine(m.Change)) + "."
		if m.Change == "" {
			d.Lead = n + "."
		}
	default:
		d.Lead = fmt.Sprintf("%s is %s.", n, Verdict(m))
	}
	if m.Event == incident.NotifyNotice && (m.Result == nil || m.Result.OK) && m.Class == "" {
		addIdentity(d, m)
		return
	}
	d.Facts = append(d.Facts, fact{Label: "What failed", Value: capital(Summary(m)) + ": " + explain(classOf(m), gatewayOf(m))})
	if m.Flapping {
		d.Facts = append(d.Facts, fact{Label: "Flapping", Value: "it keeps going down and coming back"})
	}
	addIdentity(d, m)
	if !m.OpenedAt.IsZero() {
		d.Facts = append(d.Facts, fact{Label: "Down since", Value: fmt.Sprintf("%s (%s)", stamp(m.OpenedAt), Duration(m.Duration()))})
	}
	addEvidence(d, m.Result)
	addFixes(d, m)
}

func classOf(m *notify.Message) result.Class {
	if m.Class == "" && m.Result != nil {
		return m.Result.Class
	}
	return m.Class
}

func gatewayOf(m *notify.Message) string {
	if m.Gateway == "" && m.Class == "" && m.Result != nil {
		return m.Result.Gateway
	}
	return m.Gateway
}

// addIdentity lists what the alert is about: URL, severity, tags.
func addIdentity(d *doc, m *notify.Message) {
	if u := m.URL; u != "" {
		d.Facts = append(d.Facts, fact{Label: "URL", Value: clipRunes(oneLine(u), maxLine), Link: true})
	} else if m.Result != nil && m.Result.URL != "" {
		d.Facts = append(d.Facts, fact{Label: "URL", Value: clipRunes(oneLine(m.Result.URL), maxLine), Link: true})
	}
	if m.Severity != "" {
		d.Facts = append(d.Facts, fact{Label: "Severity", Value: string(m.Severity)})
	}
	if len(m.Tags) > 0 {
		d.Facts = append(d.Facts, fact{Label: "Tags", Value: clipRunes(oneLine(strings.Join(m.Tags, ", ")), maxLine)})
	}
}

func buildResolve(d *doc, m *notify.Message) {
	d.Tone = toneOK
	n := name(m)
	when := m.ResolvedAt
	if when.IsZero() {
		when = m.At
	}
	d.Lead = fmt.Sprintf("%s is %s.", n, Verdict(m))
	res := m.Resolution
	if res == "" {
		res = "recovered"
	}
	d.Facts = append(d.Facts,
		fact{Label: "Lasted", Value: Duration(m.Duration())},
		fact{Label: "Resolution", Value: clipRunes(oneLine(res), maxLine)},
	)
	if !m.OpenedAt.IsZero() {
		d.Facts = append(d.Facts, fact{Label: "Down from", Value: stamp(m.OpenedAt)})
	}
	d.Facts = append(d.Facts, fact{Label: "Resolved at", Value: stamp(when)})
	if m.Class != "" {
		was := capital(Summary(m))
		if v := scopeVerdict(m); v != "down" {
			was += "; " + v
		}
		d.Facts = append(d.Facts, fact{Label: "It was", Value: was})
	}
	addIdentity(d, m)
	// The resolving round is normally a passing one with nothing to show;
	// a failing one (resolved because the monitor was removed) still is
	// the last word on what was wrong.
	if m.Result != nil && !m.Result.OK {
		addEvidence(d, m.Result)
	}
}

func buildVantage(d *doc, m *notify.Message) {
	d.Tone = toneWarn
	state, why, mons := vantageState(m)
	switch {
	case m.Event == incident.NotifyResolve:
		d.Tone = toneOK
		if m.Monitor == incident.IsolationIncident {
			d.Lead = "Our network is " + Verdict(m) + "."
		} else {
			d.Lead = fmt.Sprintf("Vantage %s is %s.", name(m), Verdict(m))
		}
		d.Facts = append(d.Facts, fact{Label: "Lasted", Value: Duration(m.Duration())})
		if m.Resolution != "" {
			d.Facts = append(d.Facts, fact{Label: "Resolution", Value: clipRunes(oneLine(m.Resolution), maxLine)})
		}
		if !m.OpenedAt.IsZero() {
			d.Facts = append(d.Facts, fact{Label: "Down from", Value: stamp(m.OpenedAt)})
		}
		if t := m.ResolvedAt; !t.IsZero() {
			d.Facts = append(d.Facts, fact{Label: "Resolved at", Value: stamp(t)})
		}
		return
	case m.Monitor == incident.IsolationIncident:
		d.Lead = "Our own network is " + Verdict(m) + "."
		if why != "" {
			d.Facts = append(d.Facts, fact{Label: "Why", Value: clipRunes(oneLine(why), maxLine)})
		}
	default:
		d.Lead = fmt.Sprintf("Vantage %s is %s.", name(m), Verdict(m))
		if state != "" {
			d.Facts = append(d.Facts, fact{Label: "State", Value: state})
		}
		if why != "" {
			d.Facts = append(d.Facts, fact{Label: "Why", Value: clipRunes(oneLine(why), maxLine)})
		}
		if m.Result != nil && m.Result.URL != "" && m.Result.URL != m.Monitor {
			d.Facts = append(d.Facts, fact{Label: "Vantage URL", Value: clipRunes(oneLine(m.Result.URL), maxLine)})
		}
	}
	if m.Change != "" {
		d.Facts = append(d.Facts, fact{Label: "Change", Value: clipRunes(oneLine(m.Change), maxLine)})
	}
	if m.Severity != "" {
		d.Facts = append(d.Facts, fact{Label: "Severity", Value: string(m.Severity)})
	}
	if !m.OpenedAt.IsZero() {
		d.Facts = append(d.Facts, fact{Label: "Since", Value: fmt.Sprintf("%s (%s)", stamp(m.OpenedAt), Duration(m.Duration()))})
	}
	if len(mons) > 0 {
		d.Parts = append(d.Parts, part{Heading: "Monitors it could not vote on", Lines: boundList(mons, maxMembers)})
	}
	// Chosen with the incident, from why the vantage is down
	// (monitor/fixes, ForVantage).
	addFixes(d, m)
}

func buildGroup(d *doc, m *notify.Message) {
	d.Tone = toneDown
	cause := groupCause(m)
	d.Lead = fmt.Sprintf("%d monitors are down with one shared cause: %s.", len(m.Group), trimDot(cause))
	switch r := groupResolved(m); {
	case r == len(m.Group):
		d.Tone = toneOK
		d.Lead = fmt.Sprintf("All %d monitors that were down with one shared cause have recovered: %s.", len(m.Group), trimDot(cause))
	case r > 0:
		d.Lead = fmt.Sprintf("%d monitors went down with one shared cause: %s. %d of %d resolved; %d still down.",
			len(m.Group), trimDot(cause), r, len(m.Group), len(m.Group)-r)
	}
	d.Facts = append(d.Facts, fact{Label: "Shared cause", Value: cause})
	if m.Severity != "" {
		d.Facts = append(d.Facts, fact{Label: "Severity", Value: string(m.Severity)})
	}
	if !m.OpenedAt.IsZero() {
		d.Facts = append(d.Facts, fact{Label: "Since", Value: stamp(m.OpenedAt)})
	}
	if m.Event == incident.NotifyResolve && !m.ResolvedAt.IsZero() {
		d.Facts = append(d.Facts, fact{Label: "Resolved at", Value: stamp(m.ResolvedAt)})
	}
	lines := make([]string, 0, len(m.Group))
	for _, g := range m.Group {
		f := failure{class: g.Class, status: g.Status, gateway: g.Gateway}
		l := clipRunes(oneLine(g.Monitor), maxName)
		if g.URL != "" {
			l += " (" + clipRunes(oneLine(g.URL), 120) + ")"
		}
		l += ": " + f.summary()
		switch g.Scope {
		case result.ScopeEveryone:
			l += ", down for everyone"
		case result.ScopePartial:
			l += ", down from some places"
		}
		if !g.ResolvedAt.IsZero() {
			l += "; resolved at " + stamp(g.ResolvedAt)
		}
		lines = append(lines, l)
	}
	d.Parts = append(d.Parts, part{Heading: fmt.Sprintf("Monitors (%d)", len(m.Group)), Lines: boundList(lines, maxMembers)})
	if m.Result != nil {
		// The members share a cause, so the first one's evidence speaks
		// for all; it is labelled as one monitor's so nobody reads its
		// timings as everyone's.
		sub := &doc{}
		addEvidence(sub, m.Result)
		ev := make([]string, 0, len(sub.Facts))
		for _, f := range sub.Facts {
			ev = append(ev, f.Label+": "+f.Value)
		}
		if len(ev) > 0 {
			d.Parts = append(d.Parts, part{Heading: "Evidence from " + name(m), Lines: ev})
		}
		for _, p := range sub.Parts {
			p.Heading += " (" + name(m) + ")"
			d.Parts = append(d.Parts, p)
		}
	}
	if groupResolved(m) == len(m.Group) {
		return // nothing left to fix
	}
	addFixes(d, m)
}

// lateSentence says what a Late resolve stands for: "shop was down from A
// to B; not alerted in time because ops-slack was unavailable".
func lateSentence(m *notify.Message) string {
	end := m.ResolvedAt
	if end.IsZero() {
		end = m.At
	}
	from := "an unknown time"
	if !m.OpenedAt.IsZero() {
		from = stamp(m.OpenedAt)
	}
	recv := clipRunes(oneLine(m.Receiver), maxName)
	if recv == "" {
		recv = "this receiver"
	}
	return fmt.Sprintf("%s was down from %s to %s; not alerted in time because %s was unavailable",
		name(m), from, stamp(end), recv)
}

// groupResolved counts the members of a grouped message that resolved.
func groupResolved(m *notify.Message) int {
	n := 0
	for _, g := range m.Group {
		if !g.ResolvedAt.IsZero() {
			n++
		}
	}
	return n
}

func groupCause(m *notify.Message) string {
	c := m.Cause
	if c == "" {
		c = m.GroupKey
	}
	if c == "" {
		c = Summary(m)
	}
	return clipRunes(oneLine(c), 160)
}

// addEvidence lists what the verdict rests on.
func addEvidence(d *doc, r *result.Outcome) {
	if r == nil {
		return
	}
	if r.Status > 0 {
		st := http.StatusText(r.Status)
		if st == "" {
			st = r.Class.Words()
		}
		d.Facts = append(d.Facts, fact{Label: "Status", Value: fmt.Sprintf("%d %s (%s)", r.Status, st, r.Class)})
	} else if r.Class != "" {
		d.Facts = append(d.Facts, fact{Label: "Class", Value: fmt.Sprintf("%s (%s)", r.Class.Words(), r.Class)})
	}
	if r.Gateway != "" || len(r.Via) > 0 {
		g := r.Gateway
		switch {
		case g == "":
			g = "the origin itself, passed on by " + strings.Join(r.Via, ", ")
		case len(r.Via) > 0:
			g += " (behind " + strings.Join(r.Via, ", ") + ")"
		}
		d.Facts = append(d.Facts, fact{Label: "Generated by", Value: clipRunes(g, maxLine)})
	}
	if r.Detail != "" {
		v := detailWords(r.Detail)
		if isToken(r.Detail) && v != r.Detail {
			v += " [" + r.Detail + "]"
		}
		d.Facts = append(d.Facts, fact{Label: "Detail", Value: v})
	}
	if r.Error != "" {
		d.Facts = append(d.Facts, fact{Label: "Error", Value: clipRunes(oneLine(r.Error), maxLine)})
	}
	if r.RemoteAddr != "" {
		d.Facts = append(d.Facts, fact{Label: "Remote address", Value: clipRunes(oneLine(r.RemoteAddr), 80)})
	}
	if r.FinalURL != "" && r.FinalURL != r.URL {
		v := clipRunes(oneLine(r.FinalURL), maxLine)
		if r.Redirects > 0 {
			v += fmt.Sprintf(" after %d redirects", r.Redirects)
		}
		d.Facts = append(d.Facts, fact{Label: "Ended at", Value: v})
	}
	if r.RetryAfter != "" {
		d.Facts = append(d.Facts, fact{Label: "Retry-After", Value: clipRunes(oneLine(r.RetryAfter), 80)})
	}
	if t := r.TLS; t != nil && !t.NotAfter.IsZero() {
		v := fmt.Sprintf("%s, issued by %s, valid %s to %s", clipRunes(oneLine(t.Subject), 80), clipRunes(oneLine(t.Issuer), 80),
			t.NotBefore.UTC().Format("2006-01-02"), t.NotAfter.UTC().Format("2006-01-02"))
		switch {
		case t.DaysLeft < 0:
			v += fmt.Sprintf(" (expired %d days ago)", -t.DaysLeft)
		default:
			v += fmt.Sprintf(" (%d days left)", t.DaysLeft)
		}
		if len(t.DNSNames) > 0 {
			v += "; names: " + strings.Join(boundList(t.DNSNames, 5), ", ")
		}
		d.Facts = append(d.Facts, fact{Label: "Certificate", Value: clipRunes(oneLine(v), maxLine)})
	}
	if p := phases(r.Phases); p != "" {
		d.Facts = append(d.Facts, fact{Label: "Timing", Value: p})
	}
	if !r.StartedAt.IsZero() {
		d.Facts = append(d.Facts, fact{Label: "Checked at", Value: stamp(r.StartedAt.Time)})
	}

	if len(r.Vantages) > 0 {
		lines := make([]string, 0, len(r.Vantages))
		for _, v := range r.Vantages {
			lines = append(lines, vantageLine(v, r))
		}
		d.Parts = append(d.Parts, part{Heading: "What each vantage saw", Lines: boundList(lines, maxVantages)})
	}

	var diag, why []string
	if dg := r.Diagnosis; dg != nil {
		// The findings are the diagnosis's conclusion, so they lead; the
		// steps that support them follow. Each line is bounded as if it
		// still carried the prefix `vantage check` prints, so alerts stay
		// as they were.
		for i, f := range dg.Findings {
			n := maxLine - utf8.RuneCountInString(result.FindingPrefix+string(f)+": ")
			diag = append(diag, findingLabel(f)+": "+clipRunes(oneLine(dg.Note(i)), n))
		}
		for _, st := range dg.Steps() {
			diag = append(diag, "checked: "+clipRunes(oneLine(st), maxLine-utf8.RuneCountInString(result.MarkerPrefix)))
		}
	}
	for _, mk := range r.Evidence.Markers {
		why = append(why, clipRunes(oneLine(mk), maxLine))
	}
	if len(diag) > 0 {
		d.Parts = append(d.Parts, part{Heading: "Diagnosis", Lines: boundList(diag, maxLines)})
	}
	if len(why) > 0 {
		d.Parts = append(d.Parts, part{Heading: "Why we think so", Lines: boundList(why, maxLines)})
	}
	if len(r.Evidence.Headers) > 0 {
		hs := make([]string, 0, len(r.Evidence.Headers))
		for _, h := range r.Evidence.Headers {
			hs = append(hs, clipRunes(oneLine(h), maxLine))
		}
		d.Parts = append(d.Parts, part{Heading: "Response headers", Kind: preformatted, Lines: boundList(hs, maxLines)})
	}
	if b := bodyExcerpt(r.Evidence.Body); len(b) > 0 {
		h := "Response body (excerpt)"
		if r.BodyBytes > 0 {
			h = fmt.Sprintf("Response body (excerpt of %d bytes)", r.BodyBytes)
		}
		d.Parts = append(d.Parts, part{Heading: h, Kind: preformatted, Lines: b})
	}
}

// vantageLine says what one vantage saw. The round's own error is already
// shown once, so a vantage that saw the same is not repeated; a vantage
// that saw the round's failure is described with the round's diagnosis.
func vantageLine(v result.VantageLine, round *result.Outcome) string {
	mainErr := round.Error
	l := clipRunes(oneLine(v.Name), 40) + ": "
	r := v.Result
	switch {
	case v.Status == result.VantageUp && r != nil && r.Status > 0:
		return l + fmt.Sprintf("up (%d)", r.Status)
	case v.Status == result.VantageRefused:
		// The vantage did not look: its result is the refusal, not a
		// failure of the target, so only the refusal is shown.
		l += v.Status.Words() + ", not counted"
		if v.Error != "" {
			l += ": " + clipRunes(oneLine(v.Error), 160)
		}
		return l
	case v.Status == result.VantageImpaired, v.Status == result.VantageUnreachable:
		l += string(v.Status) + ", not counted"
	default:
		l += string(v.Status)
	}
	if r != nil && !r.OK {
		f := resultFailure(r)
		if d := round.Diagnosis; d != nil && r.Class == round.Class && r.Status == round.Status && r.Gateway == round.Gateway {
			f.findings, f.origin = d.Findings, d.OriginHeadline()
		}
		l += ", " + f.summary()
		if r.Error != "" && r.Error != mainErr {
			l += " (" + clipRunes(oneLine(r.Error), 120) + ")"
		}
	}
	if v.Error != "" {
		l += ": " + clipRunes(oneLine(v.Error), 160)
	}
	return l
}

// phases formats the request's timing, leaving out steps that did not
// happen.
func phases(p result.Phases) string {
	var parts []string
	add := func(name string, ms float64) {
		if ms > 0 {
			parts = append(parts, name+" "+ms1(ms))
		}
	}
	add("dns", p.DNSMs)
	add("connect", p.ConnectMs)
	add("tls", p.TLSMs)
	add("first byte", p.TTFBMs)
	add("total", p.TotalMs)
	return strings.Join(parts, ", ")
}

func ms1(ms float64) string {
	if ms >= 10000 {
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + " s"
	}
	if ms >= 100 {
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
}

func addFixes(d *doc, m *notify.Message) {
	if len(m.Fixes) == 0 {
		return
	}
	steps := make([]string, 0, len(m.Fixes))
	for _, f := range m.Fixes {
		steps = append(steps, clipRunes(oneLine(f), 2*maxLine))
	}
	d.Parts = append(d.Parts, part{Heading: "What to do next", Kind: numbered, Lines: boundList(steps, 10)})
}

func footer(m *notify.Message) string {
	var parts []string
	if m.IncidentID != 0 {
		parts = append(parts, fmt.Sprintf("incident #%d", m.IncidentID))
	}
	parts = append(parts, "event "+string(m.Event))
	if !m.At.IsZero() {
		parts = append(parts, "at "+stamp(m.At))
	}
	// The idempotency key is internal: never shown. Slack carries it in
	// the message's metadata (SlackMetadata), email in the Message-ID.
	return "vantage · " + strings.Join(parts, " · ")
}

// pageURL is m's PageURL when it is one http(s) URL that can be shown
// and linked as is.
func pageURL(m *notify.Message) string {
	u := m.PageURL
	if u == "" || oneLine(u) != u || len(u) > maxLine || strings.ContainsAny(u, "<>|\"\\ ") {
		return ""
	}
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return ""
	}
	return u
}

// bodyExcerpt bounds a body excerpt to lines an operator can read: valid
// UTF-8, no control characters, at most maxBodyLines lines and maxBody runes.
func bodyExcerpt(b string) []string {
	b = strings.TrimSpace(strings.ToValidUTF8(b, "�"))
	if b == "" {
		return nil
	}
	cut := false
	if utf8.RuneCountInString(b) > maxBody {
		b = string([]rune(b)[:maxBody])
		cut = true
	}
	lines := strings.Split(strings.ReplaceAll(b, "\r\n", "\n"), "\n")
	if len(lines) > maxBodyLines {
		lines = lines[:maxBodyLines]
		cut = true
	}
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(stripControl(strings.ReplaceAll(l, "\t", "    ")), unicode.IsSpace)
	}
	if cut {
		lines = append(lines, "[… cut]")
	}
	return lines
}

// boundList keeps the first n items and says how many it left out.
func boundList(xs []string, n int) []string {
	if len(xs) <= n {
		return xs
	}
	out := append([]string(nil), xs[:n]...)
	return append(out, fmt.Sprintf("and %d more", len(xs)-n))
}

// oneLine makes s safe for a single line (a title is an email header):
// control characters and line breaks become spaces, runs of space collapse.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "�")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " ")
}

func stripControl(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// clipRunes bounds s to n runes, marking the cut with "…".
func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

func capital(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

func trimDot(s string) string { return strings.TrimRight(s, ".") }
