package incident

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// Default settings. Confirm and Recover follow the config's documented
// defaults. The flap defaults count every change of State: one outage that
// opens and resolves is 4 changes (up→failing→down→recovering→up) and one
// blip that the early re-check clears is 2, so "more than 6 in 30 minutes"
// lets one outage and a blip or two pass as normal, and turns the second
// outage within half an hour (or a fourth blip) into one flapping incident.
const (
	DefaultConfirm     = 2
	DefaultRecover     = 2
	DefaultRetryDelay  = 5 * time.Second
	DefaultFlapChanges = 6
	DefaultFlapWindow  = 30 * time.Minute
)

// Settings tune one monitor's machine. The zero value of each field means
// its default, so Settings{} is the documented behaviour.
type Settings struct {
	// Confirm is how many failed rounds in a row open an incident.
	Confirm int
	// Recover is how many good rounds in a row resolve it.
	Recover int
	// RetryDelay is how long after a first failure the daemon re-checks,
	// the "refresh the page" that keeps one blip from paging anyone.
	// Negative turns the early re-check off.
	RetryDelay time.Duration
	// FlapChanges: more than this many state changes within FlapWindow and
	// the monitor is flapping. Negative turns flap detection off.
	FlapChanges int
	// FlapWindow is both the window changes are counted in and how long the
	// state must stay put before flapping ends.
	FlapWindow time.Duration
}

// DefaultSettings returns the defaults spelled out.
func DefaultSettings() Settings {
	return Settings{
		Confirm:     DefaultConfirm,
		Recover:     DefaultRecover,
		RetryDelay:  DefaultRetryDelay,
		FlapChanges: DefaultFlapChanges,
		FlapWindow:  DefaultFlapWindow,
	}
}

// Normalize fills unset fields with their defaults and reports settings that
// cannot work.
func (s Settings) Normalize() (Settings, error) {
	d := DefaultSettings()
	if s.Confirm == 0 {
		s.Confirm = d.Confirm
	}
	if s.Recover == 0 {
		s.Recover = d.Recover
	}
	if s.RetryDelay == 0 {
		s.RetryDelay = d.RetryDelay
	}
	if s.FlapChanges == 0 {
		s.FlapChanges = d.FlapChanges
	}
	if s.FlapWindow == 0 {
		s.FlapWindow = d.FlapWindow
	}
	var errs []error
	if s.Confirm < 0 {
		errs = append(errs, fmt.Errorf("confirm = %d: must be at least 1", s.Confirm))
	}
	if s.Recover < 0 {
		errs = append(errs, fmt.Errorf("recover = %d: must be at least 1", s.Recover))
	}
	if s.FlapWindow < 0 {
		errs = append(errs, fmt.Errorf("flap window = %s: must be positive", s.FlapWindow))
	}
	return s, errors.Join(errs...)
}

func (s Settings) flapDetection() bool { return s.FlapChanges > 0 }

// Vote is what one round says about the target.
type Vote string

// The votes. VoteAuto lets the machine read the vote off the observation;
// the others let the daemon say it outright.
const (
	// VoteAuto: up when Result.OK; otherwise down, unless Scope is
	// "just_me" or "unknown", which is no vote.
	VoteAuto Vote = ""
	VoteUp   Vote = "up"
	VoteDown Vote = "down"
	// VoteNone: the round says nothing about the target (only impaired or
	// unreachable vantages answered). It neither confirms a failure nor a
	// recovery, and does not break a streak either: F N F is two failures
	// in a row.
	VoteNone Vote = "none"
)

// Observation is one round's outcome as the machine sees it.
type Observation struct {
	// At is when the round ran; the machine has no clock of its own. When
	// zero, Result.StartedAt is used.
	At     time.Time
	Result result.Outcome
	// Vote overrides how the round counts; see Vote.
	Vote Vote
	// Scope is the vantage verdict of the round, empty for a daemon with
	// only the local vantage.
	Scope result.Scope
	// Regions names the vantages that saw the target down (for "partial").
	Regions []string
	// Severity is the severity of a down vote, as the round decided it
	// (monitor/verdict.Severity, from the scope and the monitor's
	// configured severity). The machine does not derive it from Scope:
	// empty means critical, the severity of a failure nobody qualified.
	Severity Severity
}

func (o *Observation) vote() Vote {
	switch o.Vote {
	case VoteUp, VoteDown, VoteNone:
		return o.Vote
	}
	if o.Result.OK {
		return VoteUp
	}
	if o.Scope == result.ScopeJustMe || o.Scope == result.ScopeUnknown {
		return VoteNone
	}
	return VoteDown
}

func (o *Observation) severity() Severity {
	if o.Severity != "" {
		return o.Severity
	}
	return SeverityCritical
}

func (o *Observation) check() error {
	switch o.Vote {
	case VoteAuto, VoteUp, VoteDown, VoteNone:
	default:
		return fmt.Errorf("unknown vote %q", o.Vote)
	}
	if o.Severity != "" && !o.Severity.Valid() {
		return fmt.Errorf("unknown severity %q", o.Severity)
	}
	if o.Result.Class != "" && !o.Result.Class.Valid() {
		return fmt.Errorf("unknown class %q", o.Result.Class)
	}
	if o.At.IsZero() && o.Result.StartedAt.IsZero() {
		return errors.New("observation has no time")
	}
	return nil
}

// failure is the last failed round, kept so that an incident opened by flap
// detection on a good round can still say what failed.
type failure struct {
	At       time.Time      `json:"at"`
	Result   result.Outcome `json:"result"`
	Scope    result.Scope   `json:"scope,omitempty"`
	Regions  []string       `json:"regions,omitempty"`
	Severity Severity       `json:"severity"`
}

// Machine is one monitor's incident state machine. It is pure: no I/O, no
// goroutines, no timers; time arrives with each observation. It is not safe
// for concurrent use, which suits the daemon's one-round-at-a-time rule.
//
// The daemon drives it round by round: Observe; for EventOpened store the
// incident and SetIncidentID; act on the other events; then save
// MarshalSnapshot. After a restart: Restore, then Reconcile with the store's
// open incident for the monitor, so a crash between those steps neither
// loses the incident nor opens it twice.
type Machine struct {
	monitor  string
	kind     Kind
	settings Settings

	state State
	// fails counts failed rounds in a row, goods good rounds in a row.
	fails, goods int
	firstFail    time.Time
	lastFail     *failure
	incident     *Incident
	flapping     bool
	flapSince    time.Time
	// changes holds the times of recent state changes, newest last, at most
	// FlapChanges+1 of them: enough to tell "more than FlapChanges".
	changes    []time.Time
	lastChange time.Time
	lastAt     time.Time

	// resolved hands an incident resolved during a round to that round's
	// events; it is never set between rounds.
	resolved *Incident
}

// New returns the machine of a monitor (or, with KindVantage, of a vantage
// point) that is up and has no history.
func New(monitor string, kind Kind, s Settings) (*Machine, error) {
	if monitor == "" {
		return nil, errors.New("creating incident machine: empty monitor name")
	}
	if !kind.Valid() {
		return nil, fmt.Errorf("creating incident machine for %q: unknown kind %q", monitor, kind)
	}
	s, err := s.Normalize()
	if err != nil {
		return nil, fmt.Errorf("creating incident machine for %q: %w", monitor, err)
	}
	return &Machine{monitor: monitor, kind: kind, settings: s, state: StateUp}, nil
}

// Monitor is the name the machine was made for.
func (m *Machine) Monitor() string { return m.monitor }

// State is where the machine stands.
func (m *Machine) State() State { return m.state }

// Flapping reports whether the monitor is flapping.
func (m *Machine) Flapping() bool { return m.flapping }

// Settings are the settings in force, defaults filled in.
func (m *Machine) Settings() Settings { return m.settings }

// Incident returns a copy of the open incident, or nil.
func (m *Machine) Incident() *Incident { return m.incident.clone() }

// SetIncidentID records the ID the store gave the open incident, so that
// later events and snapshots carry it. It reports false, and changes
// nothing, when no incident is open.
func (m *Machine) SetIncidentID(id int64) bool {
	if m.incident == nil {
		return false
	}
	m.incident.ID = id
	return true
}

// SetAck records who acknowledged the open incident. It reports false,
// and changes nothing, when no incident is open. A resolve clears it with
// the incident: the next one opens without an ack.
func (m *Machine) SetAck(a Ack) bool {
	if m.incident == nil {
		return false
	}
	m.incident.Ack = &a
	return true
}

// Observe feeds one round into the machine and returns what happened. On an
// error the machine is unchanged.
func (m *Machine) Observe(o Observation) (Transition, error) {
	if err := o.check(); err != nil {
		return Transition{}, fmt.Errorf("observing a round of %q: %w", m.monitor, err)
	}
	at := o.At
	if at.IsZero() {
		at = o.Result.StartedAt.Time
	}
	// A clock that steps back must not make the flap window count backwards.
	if at.Before(m.lastAt) {
		at = m.lastAt
	}
	m.lastAt = at

	from := m.state
	t := Transition{At: at, From: from, To: from}
	vote := o.vote()
	if vote == VoteNone {
		t.Flapping = m.flapping
		return t, nil
	}

	to := m.next(vote)
	if vote == VoteDown {
		if from == StateUp {
			m.firstFail = at
			if to == StateFailing && m.settings.RetryDelay > 0 {
				t.add(Event{Kind: EventRecheck, RecheckAfter: m.settings.RetryDelay})
			}
		}
		m.lastFail = &failure{
			At: at, Result: *cloneResult(&o.Result), Scope: o.Scope,
			Regions: cloneStrings(o.Regions), Severity: o.severity(),
		}
	}

	flapStart := false
	if to != from {
		m.state = to
		m.recordChange(at)
		if !m.flapping && m.settings.flapDetection() && len(m.changes) > m.settings.FlapChanges {
			flapStart = true
			m.flapping = true
			m.flapSince = at
		}
	}

	// Where the downtime of an open incident ends: the first good round
	// after its last failure, unset again by the next failure.
	if m.incident != nil {
		if vote == VoteDown {
			m.incident.RecoveredAt = result.Time{}
		} else if m.incident.RecoveredAt.IsZero() {
			m.incident.RecoveredAt = result.TimeOf(at)
		}
	}

	opened := false
	switch {
	case to == StateDown && m.incident == nil:
		m.open(at, m.lastFail, o.severity())
		opened = true
		t.add(Event{Kind: EventOpened})
	case vote == VoteDown && m.incident != nil:
		if c, ok := m.update(at, m.lastFail, m.effectiveSeverity(m.lastFail.Severity)); ok {
			t.add(Event{Kind: EventChanged, Change: &c})
		}
	case to == StateUp && (from == StateDown || from == StateRecovering) && m.incident != nil && !m.flapping:
		m.resolve(at, fmt.Sprintf("%s after %d good %s", resolutionRecovered, m.settings.Recover, plural(m.settings.Recover, "check", "checks")))
		t.add(Event{Kind: EventResolved})
	}

	if flapStart {
		note := fmt.Sprintf("flapping: %d state changes within %s", len(m.changes), result.ShortDuration(m.settings.FlapWindow))
		switch {
		case opened:
			// The incident opened flapping and its Opened event says so:
			// one notice, not an open and a flapping one.
			m.incident.Changes = append(m.incident.Changes, m.change(at, note))
		case m.incident == nil:
			// Flapping without a confirmed outage: the target is unstable,
			// not down, so the incident is at most a warning.
			sev := SeverityWarning
			if m.lastFail != nil {
				sev = m.effectiveSeverity(m.lastFail.Severity)
			}
			m.open(at, m.lastFail, sev)
			if vote == VoteUp {
				// Opened by a good round: the failure it is about has ended.
				m.incident.RecoveredAt = result.TimeOf(at)
			}
			m.incident.Changes = append(m.incident.Changes, m.change(at, note))
			t.add(Event{Kind: EventOpened})
		default:
			m.incident.Flapping = true
			c := m.change(at, note)
			m.incident.Changes = append(m.incident.Changes, c)
			t.add(Event{Kind: EventFlappingStarted, Change: &c})
		}
	} else if m.flapping && !at.Before(m.lastChange.Add(m.settings.FlapWindow)) &&
		(m.state == StateUp || m.state == StateDown) {
		// Quiet for a whole window and settled: flapping is over.
		m.flapping = false
		m.flapSince = time.Time{}
		quiet := result.ShortDuration(m.settings.FlapWindow)
		if m.state == StateUp {
			if m.incident != nil {
				m.resolve(at, fmt.Sprintf("%s with no state change for %s", resolutionSettledUp, quiet))
				t.add(Event{Kind: EventResolved})
			}
		} else if m.incident != nil {
			m.incident.Flapping = false
			c := m.change(at, fmt.Sprintf("stopped flapping: down with no state change for %s", quiet))
			m.incident.Changes = append(m.incident.Changes, c)
			t.add(Event{Kind: EventFlappingStopped, Change: &c})
		}
	}

	t.To = m.state
	t.Flapping = m.flapping
	m.stamp(&t, &o)
	return t, nil
}

// next is the state a voting round leads to; it also keeps the streak counts.
func (m *Machine) next(v Vote) State {
	s := m.settings
	if v == VoteDown {
		m.goods = 0
		m.fails++
		switch m.state {
		case StateUp, StateFailing:
			if m.fails >= s.Confirm {
				return StateDown
			}
			return StateFailing
		default: // down, or recovering interrupted by a new failure
			return StateDown
		}
	}
	m.fails = 0
	switch m.state {
	case StateDown, StateRecovering:
		m.goods++
		if m.goods >= s.Recover {
			m.goods = 0
			return StateUp
		}
		return StateRecovering
	default: // a good round ends a failing streak that never confirmed
		m.goods = 0
		return StateUp
	}
}

func (m *Machine) recordChange(at time.Time) {
	m.lastChange = at
	m.changes = append(m.changes, at)
	cut := at.Add(-m.settings.FlapWindow)
	i := 0
	for i < len(m.changes) && !m.changes[i].After(cut) {
		i++
	}
	keep := max(m.settings.FlapChanges+1, 1)
	if n := len(m.changes) - i; n > keep {
		i = len(m.changes) - keep
	}
	m.changes = slices.Delete(m.changes, 0, i)
}

func (m *Machine) open(at time.Time, f *failure, sev Severity) {
	inc := &Incident{
		Monitor:      m.monitor,
		Kind:         m.kind,
		Severity:     sev,
		OpenedAt:     result.TimeOf(at),
		Flapping:     m.flapping,
		FirstFailure: result.TimeOf(m.firstFail),
	}
	if f != nil {
		inc.Class = f.Result.Class
		inc.Gateway = f.Result.Gateway
		inc.Detail = f.Result.Detail
		inc.Status = f.Result.Status
		inc.Scope = f.Scope
		inc.OpenScope = f.Scope
		inc.Regions = cloneStrings(f.Regions)
		inc.Last = cloneResult(&f.Result)
	}
	if inc.FirstFailure.IsZero() {
		inc.FirstFailure = result.TimeOf(at)
	}
	m.incident = inc
}

// effectiveSeverity is the severity a failed round gives the incident. A
// failure that is not (or not yet) a confirmed outage, as happens while
// flapping, is at most a warning; and while flapping the severity only rises,
// so that the alternation does not turn into a stream of severity changes.
func (m *Machine) effectiveSeverity(sev Severity) Severity {
	if m.state != StateDown && sev.Rank() > SeverityWarning.Rank() {
		sev = SeverityWarning
	}
	if m.flapping && m.incident != nil && sev.Rank() < m.incident.Severity.Rank() {
		sev = m.incident.Severity
	}
	return sev
}

// update records a failed round on the open incident when it changes what
// the incident says: class, gateway, scope, regions or severity. A new status
// or detail within the same class (a 520 turning into a 521) is not a change
// worth a notice, except on a warning incident, whose detail is its level or
// its slow phase.
func (m *Machine) update(at time.Time, f *failure, sev Severity) (Change, bool) {
	inc := m.incident
	r := &f.Result
	var notes []string
	if r.Class != inc.Class {
		notes = append(notes, fmt.Sprintf("class %s → %s", inc.Class, r.Class))
	}
	if r.Gateway != inc.Gateway {
		notes = append(notes, fmt.Sprintf("gateway %s → %s", orNone(inc.Gateway), orNone(r.Gateway)))
	}
	if m.kind.Warning() && r.Detail != inc.Detail {
		// A warning's detail is its level (under-7-days) or its slow
		// phase: a new one is worth an update in the incident's thread.
		notes = append(notes, fmt.Sprintf("%s → %s", orNone(inc.Detail), orNone(r.Detail)))
	}
	if f.Scope != inc.Scope {
		notes = append(notes, fmt.Sprintf("scope %s → %s", orNone(string(inc.Scope)), orNone(string(f.Scope))))
	} else if !slices.Equal(f.Regions, inc.Regions) {
		notes = append(notes, "regions changed")
	}
	if sev != inc.Severity {
		notes = append(notes, fmt.Sprintf("severity %s → %s", inc.Severity, sev))
	}
	if len(notes) == 0 {
		return Change{}, false
	}
	prevDetail := inc.Detail
	inc.Class, inc.Gateway, inc.Detail, inc.Status = r.Class, r.Gateway, r.Detail, r.Status
	inc.Scope, inc.Regions, inc.Severity = f.Scope, cloneStrings(f.Regions), sev
	inc.Last = cloneResult(r)
	c := m.change(at, strings.Join(notes, ", "))
	if m.kind.Warning() && prevDetail != r.Detail {
		c.PrevDetail = prevDetail
	}
	inc.Changes = append(inc.Changes, c)
	return c, true
}

// change describes the open incident as it now stands, with a note.
func (m *Machine) change(at time.Time, note string) Change {
	inc := m.incident
	return Change{
		At: result.TimeOf(at), Class: inc.Class, Gateway: inc.Gateway, Detail: inc.Detail,
		Status: inc.Status, Note: note, Scope: inc.Scope, Severity: inc.Severity,
	}
}

// resolve closes the open incident. The resolved copy waits in m.resolved
// until stamp hands it to the event; the machine itself holds no incident.
func (m *Machine) resolve(at time.Time, how string) {
	m.incident.ResolvedAt = result.TimeOf(at)
	m.incident.Resolution = how
	m.resolved = m.incident
	m.incident = nil
}

// stamp fills in what every event carries: the monitor, the time, the round's
// result and a copy of the incident as it stands after the round.
func (m *Machine) stamp(t *Transition, o *Observation) {
	inc := m.incident
	if m.resolved != nil {
		inc = m.resolved
		m.resolved = nil
	}
	for i := range t.Events {
		e := &t.Events[i]
		e.Monitor = m.monitor
		e.At = t.At
		e.From, e.To = t.From, t.To
		e.Result = cloneResult(&o.Result)
		if e.Kind != EventRecheck {
			e.Incident = inc.clone()
		}
	}
}

// Remove resolves the open incident, if any, because the monitor has left
// the config, and returns the Resolved event. The machine is spent after it.
func (m *Machine) Remove(at time.Time) Transition { return m.Close(at, ResolutionRemoved) }

// Close resolves the open incident, if any, saying how it ended, and
// resets the machine to up: the incident is over for a reason other than
// the target recovering (its monitor left the config, or a broader
// incident now speaks for it).
func (m *Machine) Close(at time.Time, how string) Transition {
	if at.Before(m.lastAt) {
		at = m.lastAt
	}
	t := Transition{At: at, From: m.state, To: StateUp}
	if m.incident != nil {
		m.resolve(at, how)
		t.add(Event{Kind: EventResolved})
	}
	m.state = StateUp
	m.fails, m.goods, m.flapping = 0, 0, false
	m.stamp(&t, &Observation{})
	for i := range t.Events {
		t.Events[i].Result = nil
	}
	return t
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

func cloneResult(r *result.Outcome) *result.Outcome {
	if r == nil {
		return nil
	}
	c := r.Clone()
	return &c
}
