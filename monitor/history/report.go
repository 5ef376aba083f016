package history

import (
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Report is the body of GET /api/v1/monitors/{name}/history. The field
// names are a public contract: scripts parse them.
type Report struct {
	Monitor string      `json:"monitor"`
	Window  Window      `json:"window"`
	From    result.Time `json:"from"`
	To      result.Time `json:"to"`
	// UptimeRatio is up / (up + down), null when nothing was measured.
	UptimeRatio        *float64 `json:"uptime_ratio"`
	UpSeconds          float64  `json:"up_seconds"`
	DownSeconds        float64  `json:"down_seconds"`
	DegradedSeconds    float64  `json:"degraded_seconds"`
	MaintenanceSeconds float64  `json:"maintenance_seconds"`
	UnknownSeconds     float64  `json:"unknown_seconds"`
	// MaintenanceCountsAsDown says whether maintenance_seconds are part of
	// down_seconds ([history] maintenance_counts_as_down).
	MaintenanceCountsAsDown bool `json:"maintenance_counts_as_down"`
	// RemovedAt is when the monitor left the config; null while it is in it.
	RemovedAt result.Time `json:"removed_at"`
	// Step is the width of one latency point ("5m", "1h", "6h", "24h").
	Step      string          `json:"step"`
	Incidents []IncidentEntry `json:"incidents"`
	Latency   []LatencyPoint  `json:"latency"`
}

// SetUptime fills the report's seconds and ratio from u.
func (r *Report) SetUptime(u Uptime) {
	r.UpSeconds = seconds(u.Up)
	r.DownSeconds = seconds(u.Down)
	r.DegradedSeconds = seconds(u.Degraded)
	r.MaintenanceSeconds = seconds(u.Maintenance)
	r.UnknownSeconds = seconds(u.Unknown)
	if ratio, ok := u.Ratio(); ok {
		r.UptimeRatio = &ratio
	} else {
		r.UptimeRatio = nil
	}
}

// seconds rounds to the millisecond: finer than any schedule, and stable in
// JSON.
func seconds(d time.Duration) float64 {
	return float64(d.Round(time.Millisecond)) / float64(time.Second)
}

// IncidentEntry is one incident as the history and incidents APIs show it.
// The field names are a public contract.
type IncidentEntry struct {
	ID      int64         `json:"id"`
	Monitor string        `json:"monitor"`
	Kind    incident.Kind `json:"kind"`
	// OpenedAt is when the incident was confirmed; FirstFailureAt when its
	// first failed round ran, where its downtime starts.
	OpenedAt       result.Time `json:"opened_at"`
	FirstFailureAt result.Time `json:"first_failure_at"`
	// RecoveredAt is the first good round of the recovery, where the
	// downtime ends; null while it is still failing.
	RecoveredAt result.Time `json:"recovered_at"`
	// ResolvedAt is null while the incident is open, never a zero time.
	ResolvedAt result.Time `json:"resolved_at"`
	// DurationSeconds is the downtime: first_failure_at to recovered_at,
	// or to now while it is still failing.
	DurationSeconds float64           `json:"duration_seconds"`
	Class           result.Class      `json:"class"`
	Gateway         string            `json:"gateway"`
	Scope           result.Scope      `json:"scope"`
	Severity        incident.Severity `json:"severity"`
	Regions         []string          `json:"regions"`
	Flapping        bool              `json:"flapping"`
	Resolution      string            `json:"resolution"`
	// Ack is who acknowledged it, when and what they said; absent while
	// unacknowledged.
	Ack *incident.Ack `json:"ack,omitempty"`
	// Actions are what operators did about it (acknowledged, silenced,
	// re-checked), oldest first: [] when none. The public status page's
	// allowlist leaves both out, so names never reach it.
	Actions []Action `json:"actions,omitzero"`
}

// Action is one thing an operator did about an incident.
type Action struct {
	At      result.Time `json:"at"`
	By      string      `json:"by"`
	What    string      `json:"what"` // silence-add, silence-expire, ack, recheck
	Comment string      `json:"comment,omitempty"`
}

// Downtime is the part of inc that counts as its outage: from its first
// failed round to the first good round of its recovery, or to now while
// it is still failing. The one rule for where an outage starts and ends;
// a performance incident's slow time is measured by it too (its first
// slow round to its first fast one).
func Downtime(inc *incident.Incident, now time.Time) Interval {
	start := inc.FirstFailure.Time
	if start.IsZero() {
		start = inc.OpenedAt.Time
	}
	end := now
	switch {
	case !inc.RecoveredAt.IsZero():
		end = inc.RecoveredAt.Time
	case !inc.ResolvedAt.IsZero():
		end = inc.ResolvedAt.Time
	}
	if end.Before(start) {
		end = start
	}
	return Interval{Start: start, End: end}
}

// Entry is inc as the API shows it, its duration measured up to now.
func Entry(inc *incident.Incident, now time.Time) IncidentEntry {
	dt := Downtime(inc, now)
	regions := inc.Regions
	if regions == nil {
		regions = []string{}
	}
	var ack *incident.Ack
	if inc.Ack != nil {
		a := *inc.Ack
		ack = &a
	}
	return IncidentEntry{
		ID: inc.ID, Monitor: inc.Monitor, Kind: inc.Kind,
		OpenedAt: inc.OpenedAt, FirstFailureAt: result.TimeOf(dt.Start),
		RecoveredAt: inc.RecoveredAt, ResolvedAt: inc.ResolvedAt,
		DurationSeconds: seconds(dt.Duration()),
		Class:           inc.Class, Gateway: inc.Gateway, Scope: inc.Scope,
		Severity: inc.Severity, Regions: regions, Flapping: inc.Flapping,
		Resolution: inc.Resolution, Ack: ack, Actions: []Action{},
	}
}

// LatencyPoint is one step of one vantage's response times. The field
// names are a public contract.
type LatencyPoint struct {
	At       result.Time  `json:"at"`
	Vantage  string       `json:"vantage"`
	Checks   uint64       `json:"checks"`
	Failures uint64       `json:"failures"`
	DNS      PhaseSummary `json:"dns"`
	Connect  PhaseSummary `json:"connect"`
	TLS      PhaseSummary `json:"tls"`
	TTFB     PhaseSummary `json:"ttfb"`
	Total    PhaseSummary `json:"total"`
}

// Point summarises a over the step starting at at.
func Point(at time.Time, vantage string, a *Agg) LatencyPoint {
	return LatencyPoint{
		At: result.TimeOf(at.UTC()), Vantage: vantage, Checks: a.Checks, Failures: a.Failures,
		DNS: a.Summary(PhaseDNS), Connect: a.Summary(PhaseConnect), TLS: a.Summary(PhaseTLS),
		TTFB: a.Summary(PhaseTTFB), Total: a.Summary(PhaseTotal),
	}
}

// PhaseSummary is one phase over one step, in milliseconds; all zero when
// the phase never ran (no TLS on plain HTTP, no DNS for an IP literal).
type PhaseSummary struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	Max float64 `json:"max_ms"`
}

// IncidentQuery selects incidents for GET /api/v1/incidents.
type IncidentQuery struct {
	// State is "open", "resolved" or "" for both.
	State string
	// Monitor, when set, keeps only that monitor's incidents.
	Monitor string
	// Since keeps incidents still open at or resolved after it (zero: all).
	Since time.Time
	// Limit bounds the page (1..MaxIncidentLimit).
	Limit int
	// Before is the cursor of the page: only incidents older than it, in
	// the order (opened_at, id) descending. Zero: from the newest.
	Before Cursor
}

// Cursor is where a page of incidents ends: the last entry's opened_at and id.
type Cursor struct {
	OpenedAt time.Time
	ID       int64
}

// IsZero reports whether the cursor is unset.
func (c Cursor) IsZero() bool { return c.ID == 0 && c.OpenedAt.IsZero() }

// Incident page bounds of GET /api/v1/incidents.
const (
	DefaultIncidentLimit = 100
	MaxIncidentLimit     = 1000
)

// DayState is how a day (a cell of the 90-day bar) went at worst.
type DayState string

// The states of a day, worst first.
const (
	DayDown        DayState = "down"
	DayDegraded    DayState = "degraded"
	DayMaintenance DayState = "maintenance"
	DayUp          DayState = "up"
	DayUnknown     DayState = "unknown" // nothing measured that day
)
