package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// detailWindows are the uptimes the detail page shows; the first one's
// report also draws the charts, the last one's lists the incidents.
var detailWindows = []struct {
	w     history.Window
	words string
}{
	{history.Window24h, "last 24 hours"},
	{history.Window7d, "last 7 days"},
	{history.Window30d, "last 30 days"},
	{history.Window90d, "last 90 days"},
}

// detailData is what the detail template renders.
type detailData struct {
	Title    string // of the site: "vantage status", or the public title
	Public   bool
	NotFound string // set on the 404 page: the name asked for
	Home     string // the status page, relative to this one

	Row pageRow // the monitor as the status page shows it
	// Configured is false for a monitor removed from the config whose
	// history is still kept; Removed says since when.
	Configured bool
	Removed    string
	Schedule   string
	APIHref    string

	// History is false when the daemon keeps none; HistoryProblem says
	// why it is missing although it does.
	History        bool
	HistoryProblem string
	Uptimes        []uptimeTile
	Days           []dayView
	Charts         []chartView
	ChartWindow    string
	Incidents      []incidentRow
	IncidentWindow string

	Latest      *latestView
	GeneratedAt string
}

type uptimeTile struct {
	Window, Percent, Detail string
}

type incidentRow struct {
	ID              int64
	Start, StartAbs string
	End, EndAbs     string
	// Ongoing is set while the incident is open; Recovering when it is
	// good again but not yet resolved.
	Ongoing, Recovering bool
	Duration            string
	// ConfirmedAfter is how long the failures ran before the incident
	// was opened.
	ConfirmedAfter string
	Cause          string // "" on the public page
	Scope          scopeView
	Severity       string
	SeverityClass  string // critical, warning, info or ""
	Flapping       bool
	Resolution     string // "" on the public page
	// Slow marks a performance incident: degraded time, not down.
	Slow bool
}

// maxDetailErrorRunes bounds the error text on the detail page, which has
// room for more than a row of the status page, but not for any length a
// target may send.
const maxDetailErrorRunes = 5 * maxErrorRunes

// latestView is the last round with what it rests on: never on the public
// page.
type latestView struct {
	Headline, Error, Class, Status, Gateway string
	Via                                     []string
	Elapsed, Phases, RemoteAddr, TLS        string
	URLParts                                []string
	FinalURLParts                           []string
	StartedAt, StartedAbs                   string
	Headers                                 []string
	Body                                    string
	Markers                                 []string
	Fixes                                   []string
	Diagnosis                               []string
	Vantages                                []vantageLine

	// TLSSerial is the leaf's serial; TLSEarliest the certificate of the
	// served chain that expires first, when the result says which.
	TLSSerial, TLSEarliest string
}

type vantageLine struct {
	Name, Status, Class, Headline, Error string
}

// detailPage serves /monitors/{name}: the monitor's uptime over four
// windows, a response-time chart per vantage, its incidents and its latest
// result. An unknown name, or on the public page one the listener does not
// show, gets a 404 page.
func (s *server) detailPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	all, ok := s.monitors(w, r, textError)
	if !ok {
		return
	}
	now := s.now()
	d := detailData{Title: s.pageTitle(), Public: s.public, GeneratedAt: now.UTC().Format(time.RFC3339)}
	// The page sits at monitors/{name}; a name linked with url.PathEscape
	// is one segment, one typed with its slashes is several, so the way
	// back climbs one level per segment of the path as requested.
	d.Home = strings.Repeat("../", max(1, strings.Count(r.URL.EscapedPath(), "/")-1))
	var m *MonitorView
	for i := range all {
		if all[i].Name == name {
			m = &all[i]
			break
		}
	}
	if m != nil && s.public && !s.allow(m) {
		m = nil
	}
	hs, hasHistory := s.src.(HistorySource)
	var reports []*history.Report
	if hasHistory && (m != nil || !s.public) {
		var err error
		reports, err = s.reports(r, hs, name)
		switch {
		case errors.Is(err, ErrUnknownMonitor):
			reports = nil
		case err != nil && m == nil:
			// Not configured, and the store cannot say whether it keeps
			// the name: neither a page nor a 404 would be true.
			s.log.Error("http: reading history failed", "monitor", name, "err", err)
			textError(w, http.StatusInternalServerError, s.redact("cannot read history: "+err.Error()))
			return
		case err != nil:
			s.log.Error("http: reading history failed", "monitor", name, "err", err)
			d.HistoryProblem = "History is unavailable right now."
			if !s.public {
				d.HistoryProblem = s.redact("History is unavailable: " + err.Error())
			}
			reports = nil
		}
	}
	if m == nil && reports == nil {
		d.NotFound = s.redact(name)
		s.render(w, detailTemplate, http.StatusNotFound, d)
		return
	}

	if m != nil {
		rm := redact.Copy(*m, s.redact)
		d.Row = buildRow(&rm, now, s.public)
		d.Configured = true
		if !s.public {
			d.Schedule = rm.Schedule
			d.Latest = latest(rm.LastResult, now)
		}
	} else {
		// Removed from the config, its history kept: only the name is known.
		d.Row = pageRow{Name: s.redact(name), State: "unknown", Label: "REMOVED"}
	}
	d.Row.key = name
	if !s.public {
		d.APIHref = d.Home + "api/v1/monitors/" + url.PathEscape(name)
	}
	if hasHistory {
		d.History = true
		s.addDetailHistory(r, hs, &d, reports, now)
	}
	s.render(w, detailTemplate, http.StatusOK, d)
}

// reports reads the monitor's history over every window of the page. The
// first error ends it: the windows are read from the same store.
func (s *server) reports(r *http.Request, hs HistorySource, name string) ([]*history.Report, error) {
	out := make([]*history.Report, len(detailWindows))
	for i, dw := range detailWindows {
		rep, err := hs.History(r.Context(), name, dw.w)
		if err != nil {
			return nil, err
		}
		if rep == nil {
			return nil, ErrUnknownMonitor
		}
		out[i] = rep
	}
	return out, nil
}

func (s *server) addDetailHistory(r *http.Request, hs HistorySource, d *detailData, reports []*history.Report, now time.Time) {
	if reports == nil {
		return
	}
	for i, rep := range reports {
		var u history.Uptime
		u.Up, u.Down = secs(rep.UpSeconds), secs(rep.DownSeconds)
		u.Degraded, u.Maintenance, u.Unknown = secs(rep.DegradedSeconds), secs(rep.MaintenanceSeconds), secs(rep.UnknownSeconds)
		t := uptimeTile{Window: detailWindows[i].words, Percent: "no data", Detail: uptimeDetail(u)}
		if rep.UptimeRatio != nil {
			t.Percent = percent(*rep.UptimeRatio)
		}
		d.Uptimes = append(d.Uptimes, t)
	}
	first, last := reports[0], reports[len(reports)-1]
	if !first.RemovedAt.IsZero() {
		d.Removed = clock(now, first.RemovedAt.Time)
	}
	if ov, err := hs.Overview(r.Context(), []string{d.Row.key}); err != nil {
		s.log.Error("http: reading the uptime overview failed", "monitor", d.Row.key, "err", err)
	} else if o, ok := ov[d.Row.key]; ok {
		d.Days = dayViews(o.Days)
	}

	step, _ := first.Window.Step()
	if st, err := time.ParseDuration(first.Step); err == nil && st > 0 {
		step = st
	}
	pts := redact.Copy(first.Latency, s.redact)
	d.ChartWindow = detailWindows[0].words
	d.Charts = buildCharts(d.Row.Name, pts, first.From.Time, first.To.Time, step, d.ChartWindow)

	d.IncidentWindow = detailWindows[len(detailWindows)-1].words
	for _, e := range redact.Copy(last.Incidents, s.redact) {
		d.Incidents = append(d.Incidents, incidentView(&e, now, s.public))
	}
}

func secs(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func incidentView(e *history.IncidentEntry, now time.Time, public bool) incidentRow {
	row := incidentRow{
		ID:       e.ID,
		Start:    clock(now, e.FirstFailureAt.Time),
		StartAbs: rfc3339(e.FirstFailureAt.Time),
		Duration: length(secs(e.DurationSeconds)),
		Scope:    scopeWords(e.Scope, e.Regions),
		Severity: string(e.Severity),
		Flapping: e.Flapping,
		Slow:     e.Kind == incident.KindPerformance,
	}
	if row.Start == "" {
		row.Start, row.StartAbs = clock(now, e.OpenedAt.Time), rfc3339(e.OpenedAt.Time)
	}
	if !e.OpenedAt.IsZero() && !e.FirstFailureAt.IsZero() && e.OpenedAt.After(e.FirstFailureAt.Time) {
		row.ConfirmedAfter = length(e.OpenedAt.Sub(e.FirstFailureAt.Time))
	}
	switch {
	case !e.RecoveredAt.IsZero():
		row.End, row.EndAbs = clock(now, e.RecoveredAt.Time), rfc3339(e.RecoveredAt.Time)
		row.Recovering = e.ResolvedAt.IsZero() // good again, not yet confirmed
	case !e.ResolvedAt.IsZero():
		row.End, row.EndAbs = clock(now, e.ResolvedAt.Time), rfc3339(e.ResolvedAt.Time)
	default:
		row.Ongoing = true
	}
	switch e.Severity {
	case "critical", "warning", "info":
		row.SeverityClass = string(e.Severity)
	}
	if !public {
		row.Cause = e.Class.Words()
		if row.Slow {
			row.Cause = "degraded performance (" + e.Class.Words() + ")"
		}
		if e.Gateway != "" {
			row.Cause += " from " + e.Gateway
		}
		row.Resolution = e.Resolution
	}
	return row
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// latest is the last round for the private page: what was seen, why the
// verdict says so, and what to do about it.
func latest(o *result.Outcome, now time.Time) *latestView {
	if o == nil {
		return nil
	}
	r := &o.Result
	v := &latestView{
		Headline:   r.Headline(),
		Error:      truncate(r.Error, maxDetailErrorRunes),
		Class:      string(r.Class),
		Gateway:    r.Gateway,
		Via:        r.Via,
		Elapsed:    formatMs(r.Phases.TotalMs),
		Phases:     phaseText(r.Phases),
		RemoteAddr: r.RemoteAddr,
		Headers:    r.Evidence.Headers,
		Body:       r.Evidence.Body,
		Markers:    r.Evidence.Markers,
		Fixes:      r.Fixes,
		Diagnosis:  o.Diagnosis.Steps(),
		URLParts:   urlParts(redactURL(r.URL)),
		StartedAt:  ago(now, r.StartedAt.Time),
		StartedAbs: rfc3339(r.StartedAt.Time),
	}
	if r.URL == "" {
		v.URLParts = nil
	}
	if r.FinalURL != "" && r.FinalURL != r.URL {
		v.FinalURLParts = urlParts(redactURL(r.FinalURL))
	}
	if r.Status > 0 {
		v.Status = strconv.Itoa(r.Status)
	}
	if t := r.TLS; t != nil {
		v.TLS = "certificate for " + t.Subject + " from " + t.Issuer + ", expires " + rfc3339(t.NotAfter.Time) +
			" (" + daysLeft(t.DaysLeft) + ")"
		if t.Version != "" {
			v.TLS = t.Version + ", " + v.TLS
		}
		v.TLSSerial = t.Serial
		if e := t.Earliest; e != nil {
			v.TLSEarliest = "the leaf"
			if e.Depth > 0 {
				v.TLSEarliest = "intermediate (depth " + strconv.Itoa(e.Depth) + ") " + e.Subject + " from " + e.Issuer
				if e.Serial != "" {
					v.TLSEarliest += ", serial " + e.Serial
				}
			}
			v.TLSEarliest += ", expires " + rfc3339(e.NotAfter.Time) + " (" + daysLeft(e.DaysLeft) + ")"
		}
	}
	if r.Refusal != nil {
		v.Error = strings.TrimSpace(v.Error + " " + r.Refusal.String())
	}
	for _, l := range o.Vantages {
		vl := vantageLine{Name: l.Name, Status: l.Status.Words(), Class: string(l.Status), Error: l.Error}
		if l.Result != nil {
			vl.Headline = l.Result.Headline()
			if vl.Error == "" {
				vl.Error = l.Result.Error
			}
		}
		v.Vantages = append(v.Vantages, vl)
	}
	return v
}

// phaseText is the round's timing, leaving out the steps that did not
// happen: "dns 3.1 ms · connect 11 ms · tls 25 ms · first byte 42 ms".
func phaseText(p result.Phases) string {
	var parts []string
	for _, ph := range []struct {
		name string
		ms   float64
	}{{"dns", p.DNSMs}, {"connect", p.ConnectMs}, {"tls", p.TLSMs}, {"first byte", p.TTFBMs}, {"total", p.TotalMs}} {
		if s := formatMs(ph.ms); s != "" {
			parts = append(parts, ph.name+" "+s)
		}
	}
	return strings.Join(parts, " · ")
}
