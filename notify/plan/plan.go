// Package plan decides which notifications an incident event produces: for
// which receivers (by the routes, and for an incident's later events by who
// was told it opened), when (at once, after a group wait, or when a
// maintenance window ends), and which held-back alerts to withdraw because
// nobody saw them and the incident is over (replaced by one late message
// when they were held back by an unavailable receiver, not by choice). It only decides; the daemon
// writes its decisions to the outbox in the transaction that records the
// incident, and the outbox delivers them.
package plan

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
)

// VantageTag is the tag a vantage incident carries for routing: vantage
// problems are not monitors, so routes reach them with match_tags =
// ["vantage"] or with a route that matches everything.
const VantageTag = "vantage"

// Lookup says where an outbox key stands (store.Tx.KeyStatus).
type Lookup func(key string) (store.KeyStatus, error)

// Send is one notification to enqueue.
type Send struct {
	Msg notify.Message
	// NotBefore holds it back (a group wait, a maintenance window); zero
	// sends at once.
	NotBefore time.Time
}

// Withdraw names an incident whose unseen notifications for a receiver are
// to be withdrawn (store.Tx.CancelQueued).
type Withdraw struct {
	Receiver   string
	IncidentID int64
}

// Decision is what one event asks of the outbox. Withdrawals are applied
// before the sends.
type Decision struct {
	Sends     []Send
	Withdraws []Withdraw
	// Muted says a maintenance window held the event back or dropped it,
	// for the log.
	Muted string
}

// Key is the outbox key of an event's notification to a receiver: the
// event's own idempotency key plus the receiver, so recomputing the same
// event after a restart is a no-op in the outbox.
func Key(eventKey, receiver string) string { return eventKey + "|" + receiver }

// openKey is the key the incident's opening alert had for a receiver.
func openKey(inc *incident.Incident, receiver string) string {
	e := incident.Event{Kind: incident.EventOpened, Incident: inc}
	return Key(e.Key(), receiver)
}

// subject is what the routes see of an incident's monitor. A warning
// (certificate, performance) is about its monitor as much as an outage is:
// it routes by the monitor's tags, and its windows mute it.
func subject(cfg *config.Config, inc *incident.Incident) (*config.Monitor, bool) {
	if !inc.Kind.OfMonitor() {
		return &config.Monitor{Name: inc.Monitor, Tags: []string{VantageTag}}, false
	}
	if m := cfg.Monitor(inc.Monitor); m != nil {
		return m, true
	}
	// A monitor that left the config: only its closing events remain, and
	// those go to whoever was told it opened.
	return &config.Monitor{Name: inc.Monitor}, false
}

// Event plans the notifications of one incident event. id is the store's
// id of the incident (the event's copy may predate it).
func Event(cfg *config.Config, sil silence.Set, ev *incident.Event, id int64, lookup Lookup) (Decision, error) {
	var d Decision
	if ev.Incident == nil || ev.Kind == incident.EventRecheck {
		return d, nil
	}
	inc := ev.Incident
	mon, configured := subject(cfg, inc)
	mu := mute(cfg, sil, mon, configured, inc, id, ev.At)
	mutedUntil, muted := mu.Until, mu.Muted

	switch ev.Kind {
	case incident.EventOpened:
		if !configured && inc.Kind.OfMonitor() {
			return d, nil
		}
		msg := Message(cfg, ev, id)
		var notBefore time.Time
		switch {
		case muted:
			notBefore = mutedUntil
			msg.Change = mu.openedDuring()
			d.Muted = "held until the " + mu.what() + " ends"
		case (msg.GroupKey != "" || inc.Kind == incident.KindVantage) && cfg.Notify.GroupWait > 0:
			// A vantage problem waits too: when the host is losing its
			// network, the vantages fail one check at a time, and the
			// notice that the host is cut off replaces them; waiting lets
			// their unseen alerts be withdrawn instead of sent.
			notBefore = ev.At.Add(cfg.Notify.GroupWait)
		}
		for _, r := range cfg.ReceiversFor(mon, inc.Severity, inc.Class) {
			m := msg
			m.Receiver = r
			m.Key = Key(ev.Key(), r)
			d.Sends = append(d.Sends, Send{Msg: m, NotBefore: notBefore})
		}
		return d, nil

	case incident.EventChanged, incident.EventFlappingStarted, incident.EventFlappingStopped, incident.EventResolved:
		for i := range cfg.Receivers {
			r := cfg.Receivers[i].Name
			st, err := lookup(openKey(inc, r))
			if err != nil {
				return Decision{}, err
			}
			if st == store.KeyUnknown {
				continue // never told it opened: nothing to update or close
			}
			if ev.Kind == incident.EventResolved && st == store.KeyOverdue && !lateWhenOverdue(inc.Kind) {
				// Over before anyone was told, and nothing to tell: the
				// unseen alert is withdrawn (see lateWhenOverdue).
				st = store.KeyQueued
			}
			if ev.Kind == incident.EventResolved && st == store.KeyQueued {
				// Nobody has seen the DOWN yet (a window or a group wait
				// held it): withdraw it, and there is no UP to send.
				d.Withdraws = append(d.Withdraws, Withdraw{Receiver: r, IncidentID: id})
				continue
			}
			if ev.Kind == incident.EventResolved && st == store.KeyOverdue {
				// The DOWN was due but still queued behind a receiver that
				// did not take it in time: the outage happened and must
				// not vanish. Its DOWN and UP become one late message.
				d.Withdraws = append(d.Withdraws, Withdraw{Receiver: r, IncidentID: id})
				m := Message(cfg, ev, id)
				m.Receiver, m.Key, m.Late = r, Key(ev.Key(), r), true
				s := Send{Msg: m}
				if muted {
					s.NotBefore = mutedUntil
					d.Muted = "held until the " + mu.what() + " ends"
				}
				d.Sends = append(d.Sends, s)
				continue
			}
			if muted && ev.Kind != incident.EventResolved {
				d.Muted = "dropped: in a " + mu.what()
				continue
			}
			m := Message(cfg, ev, id)
			m.Receiver = r
			m.Key = Key(ev.Key(), r)
			s := Send{Msg: m}
			if muted {
				// Its DOWN went out before the window: the UP is never
				// swallowed, only held until the window ends.
				s.NotBefore = mutedUntil
				d.Muted = "held until the " + mu.what() + " ends"
			}
			d.Sends = append(d.Sends, s)
		}
		return d, nil
	}
	return d, nil
}

// Reminders plans the reminders of an open incident at now: for each
// receiver told it opened, the first route that sends to that receiver
// and has a repeat decides the interval; the nth reminder is due n
// intervals after the incident opened. Keys are numbered, so calling this
// often is cheap and never doubles one.
func Reminders(cfg *config.Config, sil silence.Set, inc *incident.Incident, id int64, now time.Time, lookup Lookup) ([]Send, error) {
	if inc == nil || !inc.Open() || id == 0 {
		return nil, nil
	}
	if inc.Kind == incident.KindCertificate {
		// Its thresholds are its reminders: crossing the next one is an
		// update in the thread. A route's repeat (an hour, say) over the
		// three weeks a certificate warning may stay open would be
		// hundreds of messages about one fact nobody has to act on today.
		return nil, nil
	}
	if inc.Ack != nil {
		// Someone took it: reminding them is noise, and nobody else is
		// reminded of what is being handled.
		return nil, nil
	}
	mon, configured := subject(cfg, inc)
	if inc.Kind.OfMonitor() && !configured {
		return nil, nil
	}
	if mute(cfg, sil, mon, configured, inc, id, now).Muted {
		return nil, nil
	}
	var out []Send
	for _, r := range cfg.ReceiversFor(mon, inc.Severity, inc.Class) {
		repeat := repeatFor(cfg, mon, inc, r)
		if repeat <= 0 {
			continue
		}
		n := int(now.Sub(inc.OpenedAt.Time) / repeat)
		if n < 1 {
			continue
		}
		st, err := lookup(openKey(inc, r))
		if err != nil {
			return nil, err
		}
		if st != store.KeyDelivered && st != store.KeyAttempted {
			continue // the DOWN itself has not gone out: nothing to remind of
		}
		ev := incident.Event{Kind: incident.EventOpened, Monitor: inc.Monitor, At: now, Incident: inc, Result: inc.Last}
		m := Message(cfg, &ev, id)
		m.Event = incident.NotifyReminder
		m.Receiver = r
		m.Key = Key(fmt.Sprintf("%s/reminder/%d", inc.Key(), n), r)
		m.Change = fmt.Sprintf("Still %s after %s.", stillWhat(inc.Kind), roundDuration(now.Sub(inc.OpenedAt.Time)))
		m.GroupKey = ""
		out = append(out, Send{Msg: m})
	}
	return out, nil
}

// lateWhenOverdue says whether an incident of kind k that resolved while its
// opening alert was overdue (due, but queued behind a receiver that did not
// take it in time) is told as one late message rather than withdrawn. Only
// an outage is: it happened, people were affected, and it must not vanish.
// A vantage's own trouble that is over is not a page (notably when the
// notice that this host lost its network replaced it). Nor is a warning:
// it exists so someone acts before something breaks, and once it resolved
// (the certificate renewed, the monitor fast again) there is nothing left
// to act on; the incident stays in the history for whoever looks.
func lateWhenOverdue(k incident.Kind) bool { return k == incident.KindTarget }

// stillWhat is what a reminder says an open incident still is.
func stillWhat(k incident.Kind) string {
	switch k {
	case incident.KindPerformance:
		return "slow"
	case incident.KindCertificate:
		return "expiring"
	}
	return "down"
}

func repeatFor(cfg *config.Config, mon *config.Monitor, inc *incident.Incident, receiver string) time.Duration {
	for i := range cfg.Routes {
		rt := &cfg.Routes[i]
		if !rt.Matches(mon, inc.Severity, inc.Class) {
			continue
		}
		for _, name := range rt.Receivers {
			if name == receiver {
				return rt.Repeat
			}
		}
		if !rt.Continue {
			break
		}
	}
	return 0
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}

// Message builds the notification of an event, before routing (Receiver
// and Key are the caller's).
func Message(cfg *config.Config, ev *incident.Event, id int64) notify.Message {
	inc := ev.Incident
	m := notify.Message{
		IncidentID: id,
		Kind:       inc.Kind,
		Monitor:    inc.Monitor,
		Severity:   inc.Severity,
		Scope:      result.Scope(inc.Scope),
		Regions:    inc.Regions,
		Class:      inc.Class,
		Gateway:    inc.Gateway,
		Status:     inc.Status,
		Detail:     inc.Detail,
		OpenedAt:   inc.OpenedAt.Time,
		At:         ev.At,
		ResolvedAt: inc.ResolvedAt.Time,
		Resolution: inc.Resolution,
		Flapping:   inc.Flapping,
	}
	if inc.Ack != nil {
		a := *inc.Ack
		m.Ack = &a
	}
	if !inc.FirstFailure.IsZero() && inc.FirstFailure.Before(inc.OpenedAt.Time) {
		// The outage began with the first failed round, before it was
		// confirmed: that is when operators want it counted from.
		m.OpenedAt = inc.FirstFailure.Time
	}
	if mc := cfg.Monitor(inc.Monitor); mc != nil && inc.Kind.OfMonitor() {
		m.URL = mc.URL
		m.Tags = mc.Tags
	}
	if cfg.PublicURL != "" && inc.Kind.OfMonitor() {
		// The monitor's page on this daemon, linked from Slack and mail.
		m.PageURL = strings.TrimRight(cfg.PublicURL, "/") + "/monitors/" + url.PathEscape(inc.Monitor)
	}
	res := ev.Result
	if res == nil {
		res = inc.Last
	}
	if res != nil {
		r := *res
		m.Result = &r
		if m.URL == "" {
			m.URL = r.URL
		}
		if ev.Kind != incident.EventResolved {
			// Chosen once, by the round that made the result.
			m.Fixes = r.Fixes
		}
	}
	m.Persistent = inc.Kind == incident.KindVantage && inc.Monitor == incident.IsolationIncident
	switch ev.Kind {
	case incident.EventOpened:
		m.Event = incident.NotifyOpen
		m.GroupKey = GroupKey(&m)
	case incident.EventResolved:
		m.Event = incident.NotifyResolve
	default:
		m.Event = incident.NotifyUpdate
		m.Change = describeChange(ev)
		m.Crossed = crossed(ev)
	}
	return m
}

// crossed reports whether ev is a certificate warning's change of level
// (the machine sets Change.PrevDetail when a warning's detail moves); a
// change of scope alone (another vantage served the old certificate) is not
// a crossing.
func crossed(ev *incident.Event) bool {
	c := ev.Change
	return ev.Kind == incident.EventChanged && ev.Incident.Kind == incident.KindCertificate && c != nil &&
		c.PrevDetail != "" && c.Detail != c.PrevDetail
}

// describeChange says what an update changed.
func describeChange(ev *incident.Event) string {
	if ev.Incident.Kind.Warning() {
		return describeWarningChange(ev)
	}
	switch ev.Kind {
	case incident.EventFlappingStarted:
		return "The monitor is flapping: it keeps going up and down. Alerts are held until it settles."
	case incident.EventFlappingStopped:
		return "Flapping stopped; the target is still down."
	}
	c := ev.Change
	if c == nil {
		return "The incident changed."
	}
	var parts []string
	if c.Class != "" {
		what := c.Class.Words()
		if c.Status > 0 {
			what = fmt.Sprintf("%s (%d)", what, c.Status)
		}
		if c.Gateway != "" {
			what += " from " + c.Gateway
		}
		parts = append(parts, "now "+what)
	}
	if c.Scope != "" {
		parts = append(parts, "scope "+string(c.Scope))
	}
	if c.Severity != "" {
		parts = append(parts, "severity "+string(c.Severity))
	}
	if c.Note != "" {
		parts = append(parts, c.Note)
	}
	if len(parts) == 0 {
		return "The incident changed."
	}
	return "Changed: " + strings.Join(parts, "; ") + "."
}

// describeWarningChange says what a warning's update changed, as the
// warning now stands: its level ("now under 2 days (critical)") or its
// slow phase, and where it is seen. A warning is never "down": its monitor
// is up.
func describeWarningChange(ev *incident.Event) string {
	inc := ev.Incident
	switch ev.Kind {
	case incident.EventFlappingStarted:
		return "The warning keeps opening and clearing. Alerts are held until it settles."
	case incident.EventFlappingStopped:
		return "Flapping stopped; the warning still stands."
	}
	c := ev.Change
	if c == nil {
		return "The warning changed."
	}
	var parts []string
	switch inc.Kind {
	case incident.KindCertificate:
		var days int
		if _, err := fmt.Sscanf(c.Detail, "under-%d-days", &days); err == nil && days > 0 {
			parts = append(parts, fmt.Sprintf("now under %d %s", days, plural(days, "day", "days")))
		}
	case incident.KindPerformance:
		if c.Detail != "" {
			parts = append(parts, "now slow in "+result.PhaseWords(c.Detail))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "changed")
	}
	if c.Severity == incident.SeverityCritical {
		parts[0] += " (critical)"
	}
	if c.Scope == result.ScopePartial && len(inc.Regions) > 0 {
		parts = append(parts, "seen from "+andList(inc.Regions)+" only")
	}
	s := strings.Join(parts, "; ") + "."
	return strings.ToUpper(s[:1]) + s[1:]
}

func andList(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// GroupKey names the cause an opening alert may share with others, or ""
// when it has none worth grouping on:
//   - a gateway error from one gateway address: every site behind that
//     proxy fails together when it, or the network behind it, does;
//   - connections refused or timing out at one address;
//   - a DNS failure that is the resolver's (SERVFAIL, timeout) rather than
//     one name's, or NXDOMAIN across one registered domain.
//
// An impaired vantage is already one incident however many monitors it
// failed, and its failures open no target incidents, so it needs no key.
// A warning (certificate, performance) never groups, with outages or with
// other warnings: its monitor is up, so it shares no outage's cause, and
// its own alert names what to renew or speed up.
func GroupKey(m *notify.Message) string {
	if m.Kind != incident.KindTarget || m.Result == nil {
		return ""
	}
	r := m.Result
	switch r.Class {
	case result.ClassBadGateway, result.ClassGatewayTimeout, result.ClassServiceUnavailable:
		if r.RemoteAddr == "" {
			return ""
		}
		k := "gateway " + r.RemoteAddr
		if r.Gateway != "" {
			k += " (" + r.Gateway + ")"
		}
		return k
	case result.ClassConnectionRefused, result.ClassConnectTimeout, result.ClassConnectionReset, result.ClassNetworkUnreachable:
		if r.RemoteAddr == "" {
			return ""
		}
		return string(r.Class) + " at " + r.RemoteAddr
	case result.ClassDNSError:
		d := strings.ToLower(r.Detail)
		switch {
		case strings.Contains(d, "nxdomain"):
			if dom := registered(m.URL); dom != "" {
				return "dns nxdomain under " + dom
			}
			return ""
		case d != "":
			return "dns " + d
		}
	}
	return ""
}

// registered is the URL's registrable domain (example.co.uk), or "".
func registered(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if host == "" || net.ParseIP(host) != nil {
		return ""
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return ""
	}
	return d
}
