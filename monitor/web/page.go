package web

import (
	"bytes"
	_ "embed"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
)

var (
	//go:embed style.html
	styleHTML string
	//go:embed status.html
	statusHTML string
	//go:embed detail.html
	detailHTML string
)

// The templates are parsed once; they are fixed at build time, so a parse
// error is a bug that the tests catch, not bad input. style.html holds what
// both pages share: the style sheet and the 90-day bar.
var (
	baseTemplate   = template.Must(template.New("style").Parse(styleHTML))
	statusTemplate = template.Must(template.Must(baseTemplate.Clone()).New("status").Parse(statusHTML))
	detailTemplate = template.Must(template.Must(baseTemplate.Clone()).New("detail").Parse(detailHTML))
)

// pageCSP is the pages' Content-Security-Policy, defence in depth behind
// html/template's escaping: no script can run and nothing is loaded from
// elsewhere; the pages' only style is inline.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// maxErrorRunes bounds the error text shown per row: it comes from the target
// and can be long.
const maxErrorRunes = 200

// pageData is what the status template renders.
type pageData struct {
	// Title heads the page: "vantage status", or the public page's title.
	Title string
	// Public hides everything but names, states, scope, uptime and
	// incidents (WithPublic); the rows hold nothing more either.
	Public bool

	Total, Down, Failing, Recovering, Flapping int
	// Degraded counts the monitors with an open performance incident,
	// CertExpiring those with an open certificate one (none on the
	// public page, which never shows certificates).
	Degraded, CertExpiring int
	// Filtered is true when the query selected a subset; Shown is its size.
	Filtered    bool
	Shown       int
	FilterText  string
	GeneratedAt string
	Rows        []pageRow
	// Paged is true when the selection fills more than one page; From and
	// To number the rows shown (from 1), the hrefs are "" at either end.
	Paged              bool
	Page, Pages        int
	From, To           int
	PrevHref, NextHref string

	// History is set when the daemon keeps history: the rows have bars.
	History bool
	// HistoryProblem says why the bars are missing although it does.
	HistoryProblem string
	// Vantages is nil for a daemon without remote vantages.
	Vantages *vantagePanel
}

// pageRow is one monitor, with every value already formatted as text.
type pageRow struct {
	Name     string
	Href     string // the monitor's detail page, relative to the page
	URL      string
	URLParts []string // URL cut where a line may break
	URLHref  string
	Tags     []string
	State    string // "down", "failing", ...: also the CSS class
	Label    string // "DOWN": readable without CSS (curl, lynx)
	Flapping bool
	Skipped  uint64
	// Warnings are the open certificate and performance incidents, shown
	// beside the state; Warned is set when there is one.
	Warnings []warningView
	Warned   bool

	Headline string
	Error    string
	Class    string
	Gateway  string
	Status   string
	Elapsed  string

	LastCheck    string
	LastCheckAbs string

	Incident      bool
	IncidentSince string
	IncidentAbs   string
	IncidentClass string
	Severity      string

	// key is the monitor's name as the source knows it, before redaction:
	// what Overview is asked for.
	key string

	Scope scopeView
	// Days is the 90-day bar, oldest first; nil without history.
	Days      []dayView
	Uptime30d string
	// Uptime30dTitle says what the 30-day ratio leaves out.
	Uptime30dTitle string
}

func (s *server) statusPage(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	pg, err := parsePaging(r.URL.Query())
	if err != nil {
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	all, ok := s.monitors(w, r, textError)
	if !ok {
		return
	}
	all = s.allowed(all)
	now := s.now()
	data := buildPage(all, f, pg, r.URL.Query(), now, s.redact, s.public)
	data.Title = s.pageTitle()
	if hs, ok := s.src.(HistorySource); ok {
		s.addHistory(r, hs, &data, now)
	}
	s.render(w, s.page, http.StatusOK, data)
}

// allowed is the monitors the handler may show: all of them, or on the
// public page those its allow accepts.
func (s *server) allowed(all []MonitorView) []MonitorView {
	if !s.public {
		return all
	}
	out := make([]MonitorView, 0, len(all))
	for i := range all {
		if s.allow(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out
}

func (s *server) pageTitle() string {
	if s.public {
		if s.title != nil {
			if t := s.title(); t != "" {
				return t
			}
		}
		return "Status"
	}
	return "vantage status"
}

// addHistory fills in the bars of the rows shown (only those: a page of at
// most MaxPageSize rows, however many monitors there are) and the vantage
// panel.
func (s *server) addHistory(r *http.Request, hs HistorySource, d *pageData, now time.Time) {
	d.History = true
	if snap, ok := hs.Vantages(r.Context()); ok {
		d.Vantages = buildVantagePanel(redact.Copy(snap, s.redact), now, s.public)
	}
	if len(d.Rows) == 0 {
		return
	}
	names := make([]string, len(d.Rows))
	for i := range d.Rows {
		names[i] = d.Rows[i].key
	}
	ov, err := hs.Overview(r.Context(), names)
	if err != nil {
		s.log.Error("http: reading the uptime overview failed", "err", err)
		d.HistoryProblem = "Uptime history is unavailable right now."
		if !s.public {
			d.HistoryProblem = s.redact("Uptime history is unavailable: " + err.Error())
		}
		return
	}
	for i := range d.Rows {
		row := &d.Rows[i]
		o, ok := ov[row.key]
		if !ok {
			continue
		}
		row.Days = dayViews(o.Days)
		row.Uptime30d = uptimeText(o.Uptime30d)
		row.Uptime30dTitle = "last 30 days: " + uptimeDetail(o.Uptime30d)
	}
}

// render executes t into memory first, so a failure mid-render gives a
// clean 500 instead of half a page, and writes it with the pages' headers.
func (s *server) render(w http.ResponseWriter, t *template.Template, code int, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		s.log.Error("http: rendering page failed", "page", t.Name(), "err", err)
		textError(w, http.StatusInternalServerError, "cannot render page: "+err.Error())
		return
	}
	setCommonHeaders(w, "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	// Monitored URLs are links; do not tell their servers about this page.
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// buildPage counts every monitor, keeps those the filter selects, sorts
// the worst first (down, failing, recovering, unknown, up; by name within)
// and renders the rows of one page of them, each redacted with red.
func buildPage(all []MonitorView, f filter, pg paging, q url.Values, now time.Time, red func(string) string, public bool) pageData {
	d := pageData{Total: len(all), GeneratedAt: now.UTC().Format(time.RFC3339), Public: public}
	sel := make([]*MonitorView, 0, len(all))
	for i := range all {
		m := &all[i]
		switch m.State {
		case incident.StateDown:
			d.Down++
		case incident.StateFailing:
			d.Failing++
		case incident.StateRecovering:
			d.Recovering++
		}
		if m.Flapping {
			d.Flapping++
		}
		if hasPerformance(m) {
			d.Degraded++
		}
		if hasCertificate(m) {
			d.CertExpiring++
		}
		if f.match(m) {
			sel = append(sel, m)
		}
	}
	slices.SortStableFunc(sel, func(a, b *MonitorView) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a.Name, b.Name)
	})
	if !f.empty() {
		d.Filtered = true
		d.Shown = len(sel)
		var parts []string
		if len(f.states) > 0 {
			ss := make([]string, len(f.states))
			for i, st := range f.states {
				ss[i] = string(st)
			}
			parts = append(parts, "state "+strings.Join(ss, " or "))
		}
		if len(f.tags) > 0 {
			parts = append(parts, "tag "+strings.Join(f.tags, " or "))
		}
		if f.prefix != "" {
			parts = append(parts, "name starting with "+f.prefix)
		}
		d.FilterText = strings.Join(parts, ", ")
	}
	lo, hi := pg.window(len(sel))
	d.Page, d.Pages, d.From, d.To = pg.page, pg.pages(len(sel)), lo+1, hi
	d.Paged = d.Pages > 1 || pg.page > 1
	if pg.page > 1 {
		d.PrevHref = pg.link(q, min(pg.page-1, d.Pages))
	}
	if hi < len(sel) {
		d.NextHref = pg.link(q, pg.page+1)
	}
	d.Rows = make([]pageRow, hi-lo)
	for i, m := range sel[lo:hi] {
		// Only the rows shown are redacted, and before buildRow clips long
		// errors, so no part of a secret survives the cut.
		rm := redact.Copy(*m, red)
		d.Rows[i] = buildRow(&rm, now, public)
		d.Rows[i].key = m.Name
	}
	return d
}

// rank orders the page: down, failing, recovering, unknown, up with a
// warning (a critical one first), up.
func rank(m *MonitorView) int {
	switch m.State {
	case incident.StateDown:
		return 0
	case incident.StateFailing:
		return 1
	case incident.StateRecovering:
		return 2
	case incident.StateUp:
		r := 6
		for i := range m.Warnings {
			if w := &m.Warnings[i]; w.Kind.Warning() {
				r = min(r, 5)
				if w.Severity == incident.SeverityCritical {
					r = 4
				}
			}
		}
		return r
	}
	return 3 // unknown: not yet checked, or a state this page predates
}

// buildRow formats m for the page. public leaves out everything but the
// name, state, scope, response time and times (WithPublic): not in the
// template only, but in the row, so no template can show it.
func buildRow(m *MonitorView, now time.Time, public bool) pageRow {
	u := redactURL(m.URL)
	row := pageRow{
		Name:     m.Name,
		Href:     "monitors/" + url.PathEscape(m.Name),
		URL:      u,
		URLParts: urlParts(u),
		URLHref:  u,
		Tags:     m.Tags,
		State:    string(m.State),
		Flapping: m.Flapping,
		Skipped:  m.Skipped,
		Scope:    scopeOf(m),
		Warnings: warningViews(m.Warnings, now, public),
	}
	row.Warned = len(row.Warnings) > 0
	switch m.State {
	case incident.StateUp, incident.StateFailing, incident.StateDown, incident.StateRecovering:
		row.Label = strings.ToUpper(string(m.State))
	default:
		row.State = "unknown"
		row.Label = "UNKNOWN"
		if m.State != "" {
			row.Label = strings.ToUpper(string(m.State))
		}
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		row.URLHref = "" // only web URLs become links
	}
	if lr := m.LastResult; lr != nil {
		row.Headline = lr.Headline()
		row.Error = truncate(lr.Error, maxErrorRunes)
		row.Class = string(lr.Class)
		row.Gateway = lr.Gateway
		if lr.Status > 0 {
			row.Status = strconv.Itoa(lr.Status)
		}
		row.Elapsed = formatMs(lr.Phases.TotalMs)
	}
	if m.Problem != "" {
		row.Error = truncate(m.Problem, maxErrorRunes)
	}
	row.LastCheck = ago(now, m.LastCheck.Time)
	if !m.LastCheck.IsZero() {
		row.LastCheckAbs = m.LastCheck.UTC().Format(time.RFC3339)
	}
	if inc := m.OpenIncident; inc != nil {
		row.Incident = true
		row.IncidentSince = ago(now, inc.OpenedAt.Time)
		if !inc.OpenedAt.IsZero() {
			row.IncidentAbs = inc.OpenedAt.UTC().Format(time.RFC3339)
		}
		row.IncidentClass = inc.Class.Words()
		row.Severity = string(inc.Severity)
	}
	if public {
		row.URL, row.URLParts, row.URLHref, row.Tags = "", nil, "", nil
		row.Headline, row.Error, row.Class, row.Gateway, row.Status = "", "", "", "", ""
		row.IncidentClass, row.Skipped = "", 0
	}
	return row
}

// ago says how long before now t was, in at most two units: "12s ago",
// "4m 12s ago", "3h 5m ago", "2d 4h ago". A time in the future (clock skew
// between the daemon's goroutines is possible) reads "just now".
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < time.Second {
		return "just now"
	}
	return length(d) + " ago"
}

// formatMs renders a duration in milliseconds compactly: "0.8 ms", "42 ms",
// "1.25 s".
func formatMs(ms float64) string {
	switch {
	case math.IsNaN(ms) || math.IsInf(ms, 0) || ms <= 0:
		return "" // not measured, or nonsense: show nothing rather than lie
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	case ms < 999.5: // not "1000 ms"
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	default:
		return strconv.FormatFloat(ms/1000, 'f', 2, 64) + " s"
	}
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
