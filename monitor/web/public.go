package web

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// The public handler (WithPublic) reads the daemon through publicSource
// rather than trusting every page and badge to leave things out: only the
// monitors allow accepts exist, and each value is copied field by field
// from an allowlist (names, states, times, classes, scopes, regions,
// timings), so a URL, an error text, a header, evidence, fixes, tags or a
// vantage's address is never there to be rendered, whatever a template
// does, and a field added to a view later stays private until it is added
// here. Errors are logged and replaced by a word, as their text may quote
// a target or a path.

// publicNotFound is the body of every 404 of the public handler.
const publicNotFound = "404 not found"

// errUnavailable is every error the public surface shows.
var errUnavailable = errors.New("unavailable")

// publicSource is the Source of the public handler.
type publicSource struct {
	src   Source
	allow func(*MonitorView) bool
	log   *slog.Logger
}

// publicHistory is a publicSource over a Source that keeps history.
type publicHistory struct {
	publicSource
	hs HistorySource
}

// newPublicSource wraps src; the result is a HistorySource when src is one,
// so the pages know whether history is kept.
func newPublicSource(src Source, allow func(*MonitorView) bool, log *slog.Logger) Source {
	p := publicSource{src: src, allow: allow, log: log}
	if hs, ok := src.(HistorySource); ok {
		return publicHistory{publicSource: p, hs: hs}
	}
	return p
}

func (p publicSource) Monitors(ctx context.Context) ([]MonitorView, error) {
	all, err := p.src.Monitors(ctx)
	if err != nil {
		p.log.Error("public status page: listing monitors failed", "err", err)
		return nil, errUnavailable
	}
	out := make([]MonitorView, 0, len(all))
	for i := range all {
		if p.allow(&all[i]) {
			out = append(out, publicView(&all[i]))
		}
	}
	return out, nil
}

func (p publicSource) Health(ctx context.Context) error {
	if err := p.src.Health(ctx); err != nil {
		return errUnavailable
	}
	return nil
}

// shown is the set of monitors the public may see.
func (p publicSource) shown(ctx context.Context) (map[string]bool, error) {
	all, err := p.src.Monitors(ctx)
	if err != nil {
		p.log.Error("public status page: listing monitors failed", "err", err)
		return nil, errUnavailable
	}
	set := make(map[string]bool, len(all))
	for i := range all {
		if p.allow(&all[i]) {
			set[all[i].Name] = true
		}
	}
	return set, nil
}

func (p publicHistory) History(ctx context.Context, monitor string, w history.Window) (*history.Report, error) {
	set, err := p.shown(ctx)
	if err != nil {
		return nil, err
	}
	if !set[monitor] {
		return nil, ErrUnknownMonitor
	}
	rep, err := p.hs.History(ctx, monitor, w)
	if errors.Is(err, ErrUnknownMonitor) {
		return nil, ErrUnknownMonitor
	}
	if err != nil {
		p.log.Error("public status page: reading history failed", "monitor", monitor, "err", err)
		return nil, errUnavailable
	}
	if rep == nil {
		return nil, nil
	}
	c := *rep
	c.Incidents = publicEntries(rep.Incidents)
	c.Latency = slices.Clone(rep.Latency)
	return &c, nil
}

// maxPublicScan bounds the pages of the daemon's incidents one public page
// reads while it skips the hidden monitors' ones; a page cut short still
// gives the cursor to go on from.
const maxPublicScan = 10

func (p publicHistory) Incidents(ctx context.Context, q history.IncidentQuery) ([]history.IncidentEntry, history.Cursor, error) {
	set, err := p.shown(ctx)
	if err != nil {
		return nil, history.Cursor{}, err
	}
	if q.Monitor != "" && !set[q.Monitor] {
		return []history.IncidentEntry{}, history.Cursor{}, nil
	}
	out := []history.IncidentEntry{}
	for range maxPublicScan {
		es, next, err := p.hs.Incidents(ctx, q)
		if err != nil {
			p.log.Error("public status page: listing incidents failed", "err", err)
			return nil, history.Cursor{}, errUnavailable
		}
		for i, e := range es {
			if !set[e.Monitor] || e.Kind == incident.KindCertificate {
				continue // hidden, or a certificate (publicWarnings says why)
			}
			out = append(out, publicEntry(&e))
			if len(out) == q.Limit {
				if i == len(es)-1 && next.IsZero() {
					return out, history.Cursor{}, nil
				}
				return out, history.Cursor{OpenedAt: e.OpenedAt.Time, ID: e.ID}, nil
			}
		}
		if next.IsZero() {
			return out, history.Cursor{}, nil
		}
		q.Before = next
	}
	return out, q.Before, nil
}

func (p publicHistory) Overview(ctx context.Context, monitors []string) (map[string]Overview, error) {
	set, err := p.shown(ctx)
	if err != nil {
		return nil, err
	}
	names := slices.DeleteFunc(slices.Clone(monitors), func(n string) bool { return !set[n] })
	ov, err := p.hs.Overview(ctx, names)
	if err != nil {
		p.log.Error("public status page: reading the uptime overview failed", "err", err)
		return nil, errUnavailable
	}
	return ov, nil
}

// Vantages keeps each vantage's name, state and canary verdict: not why
// it is unhealthy (an error quoting an address) nor which monitors it
// failed (hidden ones among them).
func (p publicHistory) Vantages(ctx context.Context) (vantage.Snapshot, bool) {
	snap, ok := p.hs.Vantages(ctx)
	out := vantage.Snapshot{Isolated: snap.Isolated, IsolatedSince: snap.IsolatedSince}
	for _, h := range snap.Vantages {
		out.Vantages = append(out.Vantages, vantage.Health{Name: h.Name, State: h.State, Since: h.Since, Canary: h.Canary, CanaryAt: h.CanaryAt})
	}
	return out, ok
}

// publicView copies what the public may see of m.
func publicView(m *MonitorView) MonitorView {
	v := MonitorView{
		Name: m.Name, Schedule: m.Schedule, State: m.State, Flapping: m.Flapping,
		LastCheck: m.LastCheck, Skipped: m.Skipped,
	}
	if m.Problem != "" {
		v.Problem = "not being checked"
	}
	if lr := m.LastResult; lr != nil {
		v.LastResult = &result.Outcome{
			Result: result.Result{OK: lr.OK, Class: lr.Class, Status: lr.Status, Phases: lr.Phases, StartedAt: lr.StartedAt},
			Scope:  lr.Scope,
		}
	}
	if inc := m.OpenIncident; inc != nil {
		v.OpenIncident = publicIncident(inc)
	}
	v.Warnings = publicWarnings(m.Warnings)
	return v
}

// publicWarnings keeps of the warnings what a visitor may know: that the
// monitor is slow (an open performance incident), as a state word and
// when it began, which is what a visitor sees for themselves. Not the
// slow phase, its durations, the vantages' timings or the fixes: those
// are evidence, as an outage's are. A certificate warning is left out
// altogether: the site still serves, so it is not a state a visitor
// meets, and its subject, issuer, serial and renewal fixes describe the
// operator's setup; the status page would be announcing a deadline it has
// no part in. When it does expire, the outage that opens is public as any.
func publicWarnings(ws []incident.Incident) []incident.Incident {
	out := []incident.Incident{}
	for i := range ws {
		w := &ws[i]
		if w.Kind != incident.KindPerformance {
			continue
		}
		out = append(out, incident.Incident{
			ID: w.ID, Monitor: w.Monitor, Kind: w.Kind, Severity: w.Severity, Class: w.Class,
			OpenedAt: w.OpenedAt, ResolvedAt: w.ResolvedAt, FirstFailure: w.FirstFailure, RecoveredAt: w.RecoveredAt,
		})
	}
	return out
}

func publicIncident(inc *incident.Incident) *incident.Incident {
	c := &incident.Incident{
		ID: inc.ID, Monitor: inc.Monitor, Kind: inc.Kind, Severity: inc.Severity,
		OpenedAt: inc.OpenedAt, ResolvedAt: inc.ResolvedAt, Class: inc.Class, Status: inc.Status,
		Scope: inc.Scope, Regions: slices.Clone(inc.Regions), Flapping: inc.Flapping,
		FirstFailure: inc.FirstFailure, RecoveredAt: inc.RecoveredAt, OpenScope: inc.OpenScope,
		Resolution: inc.Resolution,
	}
	for _, ch := range inc.Changes {
		c.Changes = append(c.Changes, incident.Change{At: ch.At, Class: ch.Class, Status: ch.Status, Scope: ch.Scope, Severity: ch.Severity})
	}
	return c
}

// publicEntries are a report's incidents without the certificate ones
// (publicWarnings says why); a report lists none today, as they are not
// in the monitor's time, but this is the allowlist, not the report.
func publicEntries(es []history.IncidentEntry) []history.IncidentEntry {
	out := make([]history.IncidentEntry, 0, len(es))
	for i := range es {
		if es[i].Kind != incident.KindCertificate {
			out = append(out, publicEntry(&es[i]))
		}
	}
	return out
}

// publicEntry drops the gateway: a name read from the target's headers.
func publicEntry(e *history.IncidentEntry) history.IncidentEntry {
	return history.IncidentEntry{
		ID: e.ID, Monitor: e.Monitor, Kind: e.Kind, OpenedAt: e.OpenedAt, FirstFailureAt: e.FirstFailureAt,
		RecoveredAt: e.RecoveredAt, ResolvedAt: e.ResolvedAt, DurationSeconds: e.DurationSeconds,
		Class: e.Class, Scope: e.Scope, Severity: e.Severity, Regions: slices.Clone(e.Regions),
		Flapping: e.Flapping, Resolution: e.Resolution,
	}
}
