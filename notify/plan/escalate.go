package plan

import (
	"fmt"
	"slices"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
	"github.com/vantage-monitor/vantage/monitor/store"
)

// escalateWithin bounds how late an escalation still goes out: the outbox
// forgets delivered keys after store.Options.KeepDelivered (30 days by
// default), and an escalation stays due for as long as its incident is
// open, so without a bound an incident open for longer than that would be
// escalated again once its key was pruned. A week is well inside it, and an
// escalation more than a week late (a daemon stopped that long) is no
// longer news to anyone.
const escalateWithin = 7 * 24 * time.Hour

// Escalations plans the escalations of an open incident at now. Each route
// that matches the incident (the same matching as ReceiversFor: routes in
// order, on past a match only with continue) and has an escalate_after
// escalates it once it has been open that long (counted from OpenedAt, when
// the first receivers were told, as reminders are) and nobody acknowledged
// it: each of the route's escalate_to receivers that was not told it opened
// gets the opening alert now, marked Escalated.
//
// The escalation to receiver r is keyed as r's own opening alert
// (openKey(inc, r)), not with a key of its own: for r it is the open, so
// every later event (updates, the resolve, which plan.Event sends to whoever
// has the open's key) reaches r too, a Slack receiver threads them under
// it, and a receiver that was routed the open (its key is in the outbox,
// queued or delivered) is never escalated to. Recomputing after a restart
// finds the key and plans nothing: it is sent once.
//
// Nothing is escalated while the incident is muted (a maintenance window,
// by the same rule as Reminders: mutedAt); it is due at once when the
// muting ends and the incident is still open and unacknowledged.
func Escalations(cfg *config.Config, sil silence.Set, inc *incident.Incident, id int64, now time.Time, lookup Lookup) ([]Send, error) {
	if inc == nil || !inc.Open() || id == 0 || inc.Ack != nil {
		return nil, nil
	}
	mon, configured := subject(cfg, inc)
	if inc.Kind.OfMonitor() && !configured {
		return nil, nil // a monitor that left the config: nothing new about it
	}
	opened := inc.OpenedAt.Time
	if mutedAt(cfg, sil, inc, id, now) {
		return nil, nil
	}
	var (
		out  []Send
		seen []string
	)
	for i := range cfg.Routes {
		rt := &cfg.Routes[i]
		if !rt.Matches(mon, inc.Severity, inc.Class) {
			continue
		}
		due := opened.Add(rt.EscalateAfter)
		if rt.EscalateAfter > 0 && !now.Before(due) && now.Sub(due) < escalateWithin {
			for _, r := range rt.EscalateTo {
				if slices.Contains(seen, r) {
					continue
				}
				seen = append(seen, r)
				key := openKey(inc, r)
				st, err := lookup(key)
				if err != nil {
					return nil, err
				}
				if st != store.KeyUnknown {
					continue // routed the open, or escalated to already
				}
				ev := incident.Event{Kind: incident.EventOpened, Monitor: inc.Monitor, At: now, Incident: inc, Result: inc.Last}
				m := Message(cfg, &ev, id)
				m.Receiver = r
				m.Key = key
				m.Escalated = true
				m.Change = fmt.Sprintf("Escalated: open for %s and nobody acknowledged it.", result.ShortDuration(roundDuration(now.Sub(opened))))
				// It stands alone: grouping it with other incidents' opens
				// would hide which one nobody took.
				m.GroupKey = ""
				out = append(out, Send{Msg: m})
			}
		}
		if !rt.Continue {
			break
		}
	}
	return out, nil
}

// mutedAt reports whether inc's notifications are muted at at by a
// maintenance window or a silence: the one rule, Mute (notify/plan/mute.go).
func mutedAt(cfg *config.Config, sil silence.Set, inc *incident.Incident, id int64, at time.Time) bool {
	return Mute(cfg, sil, inc, id, at).Muted
}
