package incident

import "slices"

// Collapse reduces the events a notifier held back while a monitor was in a
// maintenance window to what it must send when the window ends, so that an
// outage still open gets exactly one notice, no DOWN already sent is sent
// again and no UP is swallowed. held must be every event muted for the
// window, oldest first; events are matched to incidents by Incident.Key.
//
//   - opened and resolved within the window: nothing, nobody was told;
//   - opened within the window and still open: one EventOpened carrying the
//     incident as it stands at the end (changes and flapping folded in);
//   - opened before the window (its DOWN went out) and resolved within it:
//     the EventResolved;
//   - opened before and still open: the last change, if there was one, so
//     the thread learns what the incident became; never a second DOWN.
//
// EventRecheck is dropped: it is scheduling, not a notice.
func Collapse(held []Event) []Event {
	type fold struct {
		opened, resolved, lastChange int // indexes into held, -1 if none
		latest                       *Incident
	}
	folds := map[string]*fold{}
	var order []string
	for i := range held {
		e := &held[i]
		if e.Incident == nil || e.Kind == EventRecheck {
			continue
		}
		k := e.Incident.Key()
		f := folds[k]
		if f == nil {
			f = &fold{opened: -1, resolved: -1, lastChange: -1}
			folds[k] = f
			order = append(order, k)
		}
		f.latest = e.Incident
		switch e.Kind {
		case EventOpened:
			f.opened = i
		case EventResolved:
			f.resolved = i
		default:
			f.lastChange = i
		}
	}
	type pick struct {
		at int
		e  Event
	}
	var picks []pick
	for _, k := range order {
		f := folds[k]
		switch {
		case f.opened >= 0 && f.resolved >= 0:
		case f.opened >= 0:
			e := held[f.opened]
			e.Incident = f.latest.clone()
			picks = append(picks, pick{f.opened, e})
		case f.resolved >= 0:
			picks = append(picks, pick{f.resolved, held[f.resolved]})
		case f.lastChange >= 0:
			picks = append(picks, pick{f.lastChange, held[f.lastChange]})
		}
	}
	slices.SortFunc(picks, func(a, b pick) int { return a.at - b.at })
	out := make([]Event, 0, len(picks))
	for _, p := range picks {
		out = append(out, p.e)
	}
	return out
}
