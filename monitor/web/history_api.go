package web

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// incidentsResponse is the body of GET /api/v1/incidents.
type incidentsResponse struct {
	Incidents   []history.IncidentEntry `json:"incidents"`
	GeneratedAt result.Time             `json:"generated_at"`
	Limit       int                     `json:"limit"`
	// Next is the URL of the next page, absent on the last one.
	Next string `json:"next,omitempty"`
}

const noHistory = "this daemon keeps no history"

// pathTail is the path of r after its first skip segments, each segment
// unescaped on its own: a slash written %2F stays inside its segment, so a
// name escaped with url.PathEscape never reads as two segments. ok is false
// when the path has fewer segments or a bad escape.
func pathTail(r *http.Request, skip int) (segs []string, ok bool) {
	all := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(all) <= skip {
		return nil, false
	}
	segs = make([]string, 0, len(all)-skip)
	for _, s := range all[skip:] {
		u, err := url.PathUnescape(s)
		if err != nil {
			return nil, false
		}
		segs = append(segs, u)
	}
	return segs, true
}

// apiMonitor serves /api/v1/monitors/{name...}: a monitor's document, or,
// when the path ends in a segment "history", that monitor's history.
func (s *server) apiMonitor(w http.ResponseWriter, r *http.Request) {
	segs, ok := pathTail(r, 3) // api, v1, monitors
	if n := len(segs); ok && n >= 2 && segs[n-1] == "history" {
		if prefix := strings.Join(segs[:n-1], "/"); prefix != "" {
			s.apiHistory(w, r, prefix)
			return
		}
	}
	s.apiOne(w, r)
}

// apiHistory answers GET /api/v1/monitors/{monitor}/history. The path is
// ambiguous when a monitor is named "x/history" and its slash is not
// escaped: it is that monitor's document when no monitor "x" is configured
// and "x/history" is; else it is x's history (see the package doc).
func (s *server) apiHistory(w http.ResponseWriter, r *http.Request, monitor string) {
	all, ok := s.monitors(w, r, jsonError)
	if !ok {
		return
	}
	whole := r.PathValue("name")
	if findMonitor(all, monitor) == nil {
		if m := findMonitor(all, whole); m != nil {
			s.writeJSON(w, r, oneResponse{Monitor: apiView(*m), GeneratedAt: result.TimeOf(s.now().UTC())})
			return
		}
	}
	hs, ok := s.src.(HistorySource)
	if !ok {
		jsonError(w, http.StatusNotFound, noHistory)
		return
	}
	win := history.Window24h
	if v := r.URL.Query().Get("window"); v != "" {
		var err error
		if win, err = history.ParseWindow(v); err != nil {
			jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	rep, err := hs.History(r.Context(), monitor, win)
	if errors.Is(err, ErrUnknownMonitor) {
		jsonError(w, http.StatusNotFound, fmt.Sprintf("no monitor named %q", monitor))
		return
	}
	if err == nil && rep == nil {
		err = errors.New("the daemon returned no report")
	}
	if err != nil {
		s.log.Error("http: reading history failed", "monitor", monitor, "window", win, "err", err)
		jsonError(w, http.StatusInternalServerError, s.redact(fmt.Sprintf("cannot read the history of %q: %v", monitor, err)))
		return
	}
	s.writeJSON(w, r, apiReport(rep))
}

// findMonitor is the monitor called name in all, or nil.
func findMonitor(all []MonitorView, name string) *MonitorView {
	for i := range all {
		if all[i].Name == name {
			return &all[i]
		}
	}
	return nil
}

// apiReport is rep with arrays that are never null; rep is the daemon's and
// is not written to.
func apiReport(rep *history.Report) history.Report {
	c := *rep
	c.Incidents = apiEntries(rep.Incidents)
	if c.Latency == nil {
		c.Latency = []history.LatencyPoint{}
	}
	return c
}

// apiEntries copies es with regions never null.
func apiEntries(es []history.IncidentEntry) []history.IncidentEntry {
	out := make([]history.IncidentEntry, len(es))
	copy(out, es)
	for i := range out {
		if out[i].Regions == nil {
			out[i].Regions = []string{}
		}
	}
	return out
}

// apiIncidents answers GET /api/v1/incidents.
func (s *server) apiIncidents(w http.ResponseWriter, r *http.Request) {
	hs, ok := s.src.(HistorySource)
	if !ok {
		jsonError(w, http.StatusNotFound, noHistory)
		return
	}
	now := s.now()
	q, err := parseIncidentQuery(r.URL.Query(), now)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	entries, next, err := hs.Incidents(r.Context(), q)
	if err != nil {
		s.log.Error("http: listing incidents failed", "err", err)
		jsonError(w, http.StatusInternalServerError, s.redact("cannot list incidents: "+err.Error()))
		return
	}
	resp := incidentsResponse{Incidents: apiEntries(entries), GeneratedAt: result.TimeOf(now.UTC()), Limit: q.Limit}
	if !next.IsZero() {
		v := url.Values{}
		for k, vs := range r.URL.Query() {
			v[k] = vs
		}
		// An age (since=24h) is pinned to the time it meant on this page,
		// so the pages of one listing agree on where it starts.
		if !q.Since.IsZero() {
			v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
		}
		v.Set("before", encodeCursor(next))
		resp.Next = r.URL.Path + "?" + v.Encode()
	}
	s.writeJSON(w, r, resp)
}

// parseIncidentQuery reads state=, monitor=, since=, limit= and before=;
// an error names the parameter.
func parseIncidentQuery(v url.Values, now time.Time) (history.IncidentQuery, error) {
	q := history.IncidentQuery{Monitor: v.Get("monitor"), Limit: history.DefaultIncidentLimit}
	switch st := v.Get("state"); st {
	case "", "open", "resolved":
		q.State = st
	default:
		return q, fmt.Errorf("state %q is neither open nor resolved", st)
	}
	if s := v.Get("since"); s != "" {
		t, err := parseSince(s, now)
		if err != nil {
			return q, err
		}
		q.Since = t
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > history.MaxIncidentLimit {
			return q, fmt.Errorf("limit %q is not a number from 1 to %d", s, history.MaxIncidentLimit)
		}
		q.Limit = n
	}
	if s := v.Get("before"); s != "" {
		c, err := decodeCursor(s)
		if err != nil {
			return q, fmt.Errorf("before %q is not a cursor this API gave (follow the \"next\" URL as it is): %w", s, err)
		}
		q.Before = c
	}
	return q, nil
}

// parseSince reads since=: an RFC 3339 time, or an age before now: a Go
// duration (90m, 24h) or a whole number of days (7d).
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	bad := fmt.Errorf("since %q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor an age like 90m, 24h or 7d", s)
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > math.MaxInt64/int64(24*time.Hour) {
			return time.Time{}, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return time.Time{}, bad
		}
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("since %q is not an age after zero", s)
	}
	return now.Add(-d), nil
}

// encodeCursor writes c as the opaque before= value:
// base64url("<opened_at unix nanoseconds>.<id>").
func encodeCursor(c history.Cursor) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d", c.OpenedAt.UnixNano(), c.ID))
}

// decodeCursor reads what encodeCursor wrote, and only that: any other
// spelling of the same cursor (padding, a sign, leading zeros) is refused,
// so a cursor is never guessed at.
func decodeCursor(s string) (history.Cursor, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return history.Cursor{}, errors.New("not base64url")
	}
	nanos, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return history.Cursor{}, errors.New("no id")
	}
	n, err1 := strconv.ParseInt(nanos, 10, 64)
	i, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || i < 1 {
		return history.Cursor{}, errors.New("not a time and an id")
	}
	c := history.Cursor{OpenedAt: time.Unix(0, n).UTC(), ID: i}
	if encodeCursor(c) != s {
		return history.Cursor{}, errors.New("not in the canonical form")
	}
	return c, nil
}
