package incident

import (
	"fmt"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// EventKind says what the daemon (and the notifier behind it) must do.
type EventKind string

// The kinds of event.
const (
	// EventRecheck: the first failure of a streak; schedule one early
	// re-check after RecheckAfter. Nothing to notify.
	EventRecheck EventKind = "recheck"
	// EventOpened: an incident opened; store it, then SetIncidentID, then
	// notify. Incident.Flapping is set when flap detection opened it.
	EventOpened EventKind = "opened"
	// EventChanged: the open incident's class, gateway, scope, regions or
	// severity changed; Change is the entry appended to Incident.Changes.
	EventChanged EventKind = "changed"
	// EventResolved: the incident resolved; Incident.Resolution says how.
	EventResolved EventKind = "resolved"
	// EventFlappingStarted: an already open incident is now flapping. It is
	// the one flapping notice; while flapping, nothing opens or resolves.
	EventFlappingStarted EventKind = "flapping_started"
	// EventFlappingStopped: flapping ended and the target is still down, so
	// the incident stays open. (Flapping that ends with the target up ends
	// with EventResolved instead.)
	EventFlappingStopped EventKind = "flapping_stopped"
)

// Notification is what a notification says about an incident: the event of
// notify.Message and of the store's outbox rows. The machine's events are its
// source (EventOpened is NotifyOpen, EventResolved NotifyResolve, the changes
// and flapping notices NotifyUpdate); reminders and notices come from the
// planner. The strings are stored in the outbox and in its JSON payloads, so
// they never change once released.
type Notification string

// The notifications.
const (
	// NotifyOpen: an incident opened.
	NotifyOpen Notification = "open"
	// NotifyUpdate: the open incident changed (class, gateway, scope,
	// regions, severity, flapping); Message.Change says how.
	NotifyUpdate Notification = "update"
	// NotifyResolve: the incident resolved.
	NotifyResolve Notification = "resolve"
	// NotifyReminder: the incident is still open after the route's repeat.
	NotifyReminder Notification = "reminder"
	// NotifyNotice: not about one incident's life; e.g. "maintenance ended
	// with the monitor still down", a test alert from notify-test.
	NotifyNotice Notification = "notice"
)

// Valid reports whether n is one of the known notifications.
func (n Notification) Valid() bool {
	switch n {
	case NotifyOpen, NotifyUpdate, NotifyResolve, NotifyReminder, NotifyNotice:
		return true
	}
	return false
}

// Event is one thing that happened in a round, with all a notifier needs.
type Event struct {
	Kind    EventKind `json:"kind"`
	Monitor string    `json:"monitor"`
	At      time.Time `json:"at"`
	// From and To are the machine's states before and after the round.
	From State `json:"from"`
	To   State `json:"to"`
	// Incident is a copy of the incident as it stands after the round
	// (resolved, for EventResolved). Nil for EventRecheck.
	Incident *Incident `json:"incident,omitempty"`
	// Change is the entry the round appended to Incident.Changes, for
	// EventChanged, EventFlappingStarted and EventFlappingStopped.
	Change *Change `json:"change,omitempty"`
	// RecheckAfter is the delay of the early re-check, for EventRecheck.
	RecheckAfter time.Duration `json:"recheck_after,omitempty"`
	// Result is the round that caused the event; nil for Machine.Remove.
	Result *result.Outcome `json:"result,omitempty"`
}

// Key identifies the event for the outbox's idempotency: the same event
// recomputed after a restart gets the same key. A change is numbered by its
// place in Incident.Changes. EventRecheck has no key: it is never notified.
func (e *Event) Key() string {
	if e.Incident == nil {
		return ""
	}
	k := e.Incident.Key() + "/" + string(e.Kind)
	switch e.Kind {
	case EventChanged, EventFlappingStarted, EventFlappingStopped:
		k += fmt.Sprintf("/%d", len(e.Incident.Changes))
	}
	return k
}

// Transition is what one round did to a machine.
type Transition struct {
	At time.Time
	// From and To are the states before and after; they differ when the
	// state changed, which is worth one log line.
	From, To State
	// Flapping is whether the monitor is flapping after the round.
	Flapping bool
	Events   []Event
}

// Changed reports whether the state changed.
func (t *Transition) Changed() bool { return t.From != t.To }

// Find returns the first event of a kind, or nil.
func (t *Transition) Find(k EventKind) *Event {
	for i := range t.Events {
		if t.Events[i].Kind == k {
			return &t.Events[i]
		}
	}
	return nil
}

func (t *Transition) add(e Event) { t.Events = append(t.Events, e) }
