package vantage

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/monitor/fixes"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// incidentSeverity is the severity of vantage problem incidents and of the
// isolation notice: our own trouble is worth a look, never a page at night.
const incidentSeverity = incident.SeverityWarning

// incidentSettings: the runner already debounces health (a failure triggers
// a canary check), so one transition opens and one resolves.
func incidentSettings() incident.Settings {
	return incident.Settings{Confirm: 1, Recover: 1, RetryDelay: -1, FlapChanges: -1}
}

// IncidentChange is one transition of a vantage incident: Machine made
// Transition for Name (a vantage, or incident.IsolationIncident).
type IncidentChange struct {
	Name       string
	Machine    *incident.Machine
	Transition *incident.Transition
}

// Committer keeps vantage incidents durable: in the daemon, its store
// transaction with the outbox. Incidents calls it with its lock held, one
// call at a time, so it may keep state of its own under that lock.
type Committer interface {
	// Commit writes ch's incident change and the notifications its events
	// ask for in one transaction: both or neither. Each opened incident's
	// ID goes to ch.Machine; on error the machine's ID is as before.
	Commit(ctx context.Context, ch IncidentChange) error
	// Keep takes a change Commit could not write (err): alerting fails
	// open, so the committer sends its notifications without the store and
	// writes the change later (inside Incidents.Exclusive).
	Keep(ctx context.Context, ch IncidentChange, err error)
}

// Fleet is what a sync reads of the vantages that run now.
type Fleet interface {
	Health() Snapshot
	// Proven reports whether h's up is backed by evidence (an answer, a
	// passing canary) rather than the default every vantage starts with.
	Proven(h Health) bool
	// URL is where the vantage called name is, for its incident's result.
	URL(name string) string
}

// IncidentsOptions set up Incidents; Committer and Fleet are required.
type IncidentsOptions struct {
	Committer Committer
	// Fleet returns the vantages running now, nil when there are none
	// (every vantage incident then resolves as removed). It is read with
	// the lock held, so a sync never acts on a fleet already replaced.
	Fleet  func() Fleet
	Logger *slog.Logger     // discarded if nil
	Now    func() time.Time // time.Now if nil
}

// Incidents is the life of the vantage incidents: one incident machine per
// vantage problem, and the isolation notice that speaks for all of them
// while this host is cut off. It is safe for concurrent use.
type Incidents struct {
	opts IncidentsOptions

	mu       sync.Mutex // guards what follows and serialises syncs
	machines map[string]*incident.Machine
	// isolated is the isolation the last sync saw, isoEnded when it last
	// ended: an impaired state older than that is stale (its canaries were
	// checked while nothing worked) until the next canary verdict.
	isolated bool
	isoEnded time.Time
}

// NewIncidents makes the vantage incidents, with none open.
func NewIncidents(opts IncidentsOptions) *Incidents {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Incidents{opts: opts, machines: make(map[string]*incident.Machine)}
}

// Restore adopts the open vantage incidents of open (the store's; other
// kinds are skipped), so a restart neither forgets nor doubles them. They
// resolve once the vantage shows it works again.
func (in *Incidents) Restore(open []incident.Incident) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := range open {
		inc := &open[i]
		if inc.Kind != incident.KindVantage {
			continue
		}
		m, err := incident.New(inc.Monitor, incident.KindVantage, incidentSettings())
		if err != nil {
			return fmt.Errorf("restoring vantage incident of %s: %w", inc.Monitor, err)
		}
		m.Reconcile(inc)
		in.machines[inc.Monitor] = m
		if inc.Monitor == incident.IsolationIncident {
			in.isolated = true
		}
		in.opts.Logger.Info("restored open vantage incident", "vantage", inc.Monitor, "incident", inc.ID)
	}
	return nil
}

// Sync brings the vantage incidents in line with the fleet's health: while
// the host is isolated, only the isolation notice is open; otherwise each
// impaired or unreachable vantage has one incident, however many monitors
// it failed. A vantage that left the config resolves as removed.
func (in *Incidents) Sync(ctx context.Context) {
	in.mu.Lock()
	defer in.mu.Unlock()
	f := in.opts.Fleet()
	now := in.opts.Now()

	type want struct {
		down   bool
		hold   bool // isolated: the notice speaks for every vantage
		proven bool // up is backed by evidence, not just the default
		why    string
		url    string
		mons   []string
		// trouble is why it is down, typed: what its fixes follow.
		trouble fixes.VantageTrouble
	}
	wants := make(map[string]want)
	if f != nil {
		h := f.Health()
		if in.isolated && !h.Isolated {
			in.isoEnded = now
		}
		in.isolated = h.Isolated
		anyProven := false
		for _, v := range h.Vantages {
			stale := v.State == Impaired && !in.isoEnded.IsZero() && !v.CanaryAt.After(in.isoEnded)
			w := want{url: f.URL(v.Name), proven: f.Proven(v), hold: h.Isolated || stale}
			anyProven = anyProven || w.proven
			if v.State != Healthy && !h.Isolated {
				w.down, w.why, w.mons = true, fmt.Sprintf("vantage %s is %s: %s", v.Name, v.State, v.Error), v.Monitors
				w.trouble = fixes.VantageTrouble{Vantage: v.Name, Unreachable: v.State == Unreachable, Canary: v.Cause}
			}
			wants[v.Name] = w
		}
		// The notice ends once any vantage has shown it works: the network
		// is back, even if the local canaries are yet to be re-checked.
		iso := want{url: incident.IsolationIncident, proven: anyProven}
		if local, ok := h.Vantage(result.LocalVantage); ok && h.Isolated {
			iso.down, iso.why = true, "this host has lost its network: the local canaries fail and no remote vantage answers ("+local.Error+")"
			iso.trouble = fixes.VantageTrouble{Vantage: result.LocalVantage, Isolated: true, Canary: local.Cause}
		}
		wants[incident.IsolationIncident] = iso
	}
	names := make([]string, 0, len(wants)+len(in.machines))
	for n := range wants {
		names = append(names, n)
	}
	for n := range in.machines {
		if _, ok := wants[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)

	for _, name := range names {
		w, configured := wants[name]
		m := in.machines[name]
		covered := false
		if w.hold {
			// While the host is cut off, the isolation notice speaks for
			// every vantage. A vantage incident opened on the way there
			// (the picture arrives one check at a time) is closed as
			// covered by it; an alert for it that nobody has seen yet is
			// withdrawn by the planner, so the operator hears one thing.
			if !in.isolated || m == nil || m.Incident() == nil {
				continue
			}
			covered = true
		}
		var (
			t   incident.Transition
			err error
		)
		switch {
		case covered:
			t = m.Close(now, incident.ResolutionIsolated)
		case !configured:
			if m == nil {
				continue
			}
			t = m.Remove(now)
		case w.down && (m == nil || m.Incident() == nil):
			if m == nil {
				if m, err = incident.New(name, incident.KindVantage, incidentSettings()); err != nil {
					in.opts.Logger.Error("making a vantage incident machine", "vantage", name, "err", err)
					continue
				}
			}
			detail := w.why
			if len(w.mons) > 0 {
				detail += "; monitors it could not vote in: " + strings.Join(w.mons, ", ")
			}
			r := result.Result{URL: w.url, StartedAt: result.TimeOf(now), Class: result.ClassNetworkUnreachable, Detail: detail, Error: w.why}
			if c := w.trouble.Canary; c != nil && c.Class != "" && c.Class != result.ClassOK {
				r.Class = c.Class // why its canaries fail: DNS, refused, timeout, TLS
			}
			// The one place a vantage problem's steps are chosen: from why
			// it is down, about its own host, never about a monitored site.
			r.Fixes = fixes.ForVantage(w.trouble)
			r.Normalize()
			t, err = m.Observe(incident.Observation{At: now, Result: result.Outcome{Result: r}, Vote: incident.VoteDown, Severity: incidentSeverity})
		case !w.down && m != nil && m.Incident() != nil && w.proven:
			r := result.Result{URL: w.url, StartedAt: result.TimeOf(now), OK: true, Class: result.ClassOK}
			r.Normalize()
			t, err = m.Observe(incident.Observation{At: now, Result: result.Outcome{Result: r}, Vote: incident.VoteUp})
		default:
			continue
		}
		if err != nil {
			in.opts.Logger.Error("observing a vantage's health", "vantage", name, "err", err)
			continue
		}
		if len(t.Events) > 0 {
			ch := IncidentChange{Name: name, Machine: m, Transition: &t}
			if err := in.opts.Committer.Commit(ctx, ch); err != nil {
				// Fail open, as a round does: the machine keeps its state,
				// the committer gets the change to the store later.
				in.opts.Committer.Keep(ctx, ch, err)
			}
		}
		in.logChange(name, m, &t)
		if !configured || m.Incident() == nil {
			delete(in.machines, name) // nothing open: nothing to remember
		} else {
			in.machines[name] = m
		}
	}
}

func (in *Incidents) logChange(name string, m *incident.Machine, t *incident.Transition) {
	for i := range t.Events {
		e := &t.Events[i]
		if e.Incident == nil {
			continue
		}
		switch e.Kind {
		case incident.EventOpened:
			// The event's copy predates the store's id; the machine has it.
			id := e.Incident.ID
			if inc := m.Incident(); id == 0 && inc != nil {
				id = inc.ID
			}
			in.opts.Logger.Warn("vantage problem", "vantage", name, "incident", id, "detail", e.Incident.Detail)
		case incident.EventResolved:
			in.opts.Logger.Info("vantage problem resolved", "vantage", name, "incident", e.Incident.ID, "resolution", e.Incident.Resolution)
		}
	}
}

// Stored copies the open vantage incidents the store has (ID set): those
// reminders can be about.
func (in *Incidents) Stored() []*incident.Incident {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []*incident.Incident
	for _, m := range in.machines {
		if inc := m.Incident(); inc != nil && inc.ID != 0 {
			c := *inc
			out = append(out, &c)
		}
	}
	return out
}

// Open copies the open incident of name, stored or not; nil if none.
func (in *Incidents) Open(name string) *incident.Incident {
	in.mu.Lock()
	defer in.mu.Unlock()
	if m := in.machines[name]; m != nil {
		if inc := m.Incident(); inc != nil {
			c := *inc
			return &c
		}
	}
	return nil
}

// SetAck records a on the open vantage incident whose store ID is id, and
// returns a copy of it (nil when no such incident is open): an
// acknowledged vantage incident gets no reminders either.
func (in *Incidents) SetAck(id int64, a incident.Ack) *incident.Incident {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, m := range in.machines {
		if inc := m.Incident(); inc != nil && inc.ID == id && m.SetAck(a) {
			return m.Incident()
		}
	}
	return nil
}

// Exclusive runs fn while no sync runs. A committer writes the changes it
// kept in there: they were made on machines a sync observes.
func (in *Incidents) Exclusive(fn func()) {
	in.mu.Lock()
	defer in.mu.Unlock()
	fn()
}
