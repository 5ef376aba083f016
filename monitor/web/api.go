package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// listResponse is the body of GET /api/v1/monitors.
type listResponse struct {
	Monitors    []MonitorView `json:"monitors"`
	GeneratedAt result.Time   `json:"generated_at"`
	// Total counts the monitors the filters select, on every page.
	Total int `json:"total"`
	Page  int `json:"page"`
	Limit int `json:"limit"`
	// Next is the URL of the next page, absent on the last one.
	Next string `json:"next,omitempty"`
}

// oneResponse is the body of GET /api/v1/monitors/{name}.
type oneResponse struct {
	Monitor     MonitorView `json:"monitor"`
	GeneratedAt result.Time `json:"generated_at"`
}

// filter selects monitors by state and tag; an empty set lets everything
// through.
type filter struct {
	states []incident.State
	tags   []string
	prefix string // of the name
}

var knownStates = []incident.State{incident.StateUp, incident.StateFailing, incident.StateDown, incident.StateRecovering}

// parseFilter reads state= and tag= from the query. Each may repeat or hold a
// comma-separated list.
func parseFilter(q url.Values) (filter, error) {
	var f filter
	for _, s := range splitValues(q["state"]) {
		st := incident.State(strings.ToLower(s))
		if !slices.Contains(knownStates, st) {
			return filter{}, fmt.Errorf("unknown state %q; want one of up, failing, down, recovering", s)
		}
		f.states = append(f.states, st)
	}
	f.tags = splitValues(q["tag"])
	f.prefix = q.Get("prefix")
	return f, nil
}

func splitValues(vs []string) []string {
	var out []string
	for _, v := range vs {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (f filter) empty() bool { return len(f.states) == 0 && len(f.tags) == 0 && f.prefix == "" }

func (f filter) match(m *MonitorView) bool {
	if !strings.HasPrefix(m.Name, f.prefix) {
		return false
	}
	if len(f.states) > 0 && !slices.Contains(f.states, m.State) {
		return false
	}
	if len(f.tags) > 0 && !slices.ContainsFunc(m.Tags, func(t string) bool { return slices.Contains(f.tags, t) }) {
		return false
	}
	return true
}

func (s *server) apiList(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	pg, err := parsePaging(r.URL.Query())
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	all, ok := s.monitors(w, r, jsonError)
	if !ok {
		return
	}
	// Only the page is copied and encoded; the rest is only counted.
	var sel []int
	for i := range all {
		if f.match(&all[i]) {
			sel = append(sel, i)
		}
	}
	lo, hi := pg.window(len(sel))
	resp := listResponse{Monitors: make([]MonitorView, 0, hi-lo), GeneratedAt: result.TimeOf(s.now().UTC()), Total: len(sel), Page: pg.page, Limit: pg.limit}
	for _, i := range sel[lo:hi] {
		resp.Monitors = append(resp.Monitors, apiView(all[i]))
	}
	if hi < len(sel) {
		resp.Next = r.URL.Path + pg.link(r.URL.Query(), pg.page+1)
	}
	s.writeJSON(w, r, resp)
}

func (s *server) apiOne(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "" { // "/api/v1/monitors/": the list, not a monitor named ""
		s.apiList(w, r)
		return
	}
	all, ok := s.monitors(w, r, jsonError)
	if !ok {
		return
	}
	for i := range all {
		if all[i].Name == name {
			s.writeJSON(w, r, oneResponse{Monitor: apiView(all[i]), GeneratedAt: result.TimeOf(s.now().UTC())})
			return
		}
	}
	jsonError(w, http.StatusNotFound, fmt.Sprintf("no monitor named %q", name))
}

func apiNotFound(w http.ResponseWriter, r *http.Request) {
	jsonError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
}

// monitors makes the request's one call to Source.Monitors. On error it
// answers 500 in the endpoint's format, logs once, and returns false.
func (s *server) monitors(w http.ResponseWriter, r *http.Request, fail errorWriter) ([]MonitorView, bool) {
	ms, err := s.src.Monitors(r.Context())
	if err != nil {
		s.log.Error("http: listing monitors failed", "path", r.URL.Path, "err", err)
		fail(w, http.StatusInternalServerError, s.redact("cannot list monitors: "+err.Error()))
		return nil, false
	}
	return ms, true
}

// writeJSON encodes into memory first, so an encoding failure (a NaN duration,
// say) becomes a clean 500 instead of a truncated body. Every string in v
// is redacted on the way out, last_error and evidence included.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(redact.Copy(v, s.redact)); err != nil {
		s.log.Error("http: encoding JSON failed", "path", r.URL.Path, "err", err)
		jsonError(w, http.StatusInternalServerError, "cannot encode response: "+err.Error())
		return
	}
	setCommonHeaders(w, "application/json")
	_, _ = w.Write(buf.Bytes())
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	setCommonHeaders(w, "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg}) // cannot fail: a struct with one string field
	_, _ = w.Write(append(b, '\n'))
}

// apiView prepares a monitor for the API: arrays are never null and URL
// passwords are hidden. The views are shared with the daemon, so everything
// changed is copied first.
func apiView(m MonitorView) MonitorView {
	m.URL = redactURL(m.URL)
	if m.Tags == nil {
		m.Tags = []string{}
	}
	m.LastResult = apiResult(m.LastResult)
	if m.OpenIncident != nil {
		inc := *m.OpenIncident
		inc.Last = apiResult(inc.Last)
		m.OpenIncident = &inc
	}
	// The warnings as the daemon gave them (certificate first), each
	// result prepared as the others are; [] rather than null when none
	// is open.
	ws := make([]incident.Incident, len(m.Warnings))
	for i, w := range m.Warnings {
		w.Last = apiResult(w.Last)
		ws[i] = w
	}
	m.Warnings = ws
	return m
}

func apiResult(r *result.Outcome) *result.Outcome {
	if r == nil {
		return nil
	}
	c := *r
	c.Normalize()
	c.URL = redactURL(c.URL)
	c.FinalURL = redactURL(c.FinalURL)
	if c.Warning != nil && c.Warning.Seen == nil {
		w := *c.Warning
		w.Seen = []result.WarningSeen{}
		c.Warning = &w
	}
	return &c
}

// redactURL hides the password of a URL with user info and the values of
// its secret-looking query keys (the one URL rule, in monitor/redact).
func redactURL(s string) string { return redact.URL(s) }
