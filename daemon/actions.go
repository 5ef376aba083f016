package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify/plan"
)

// The operator's actions on the running daemon, as the control API (daemon/
// control.go) and Slack's buttons call them. Each is recorded, with who did
// it and when, in the store's action log and in the incident's history.
// by names the person: "uid 1000 (ana)" over the control socket, "token"
// over HTTP with the bearer token, "slack:@ana" from Slack.

// ErrUnknownIncident: no open incident has that ID.
var ErrUnknownIncident = errors.New("no open incident with that ID")

// ErrUnknownSilence: no silence has that ID.
var ErrUnknownSilence = errors.New("no silence with that ID")

// ErrUnknownMonitor: no configured monitor has that name.
var ErrUnknownMonitor = errors.New("no monitor with that name")

// ErrInvalidAction: the request is refused as it stands (a silence that
// does not validate, no author); the error says why.
var ErrInvalidAction = errors.New("invalid request")

// AddSilence validates s, stores it (ID, CreatedAt and CreatedBy = by set
// here) and applies it to the notifications planned from now on. A start
// left zero is now. It is recorded in the history of each open incident it
// covers (or once, about no incident, when it covers none yet).
func (d *Daemon) AddSilence(ctx context.Context, s silence.Silence, by string) (silence.Silence, error) {
	now := d.clock.Now()
	if by == "" {
		return silence.Silence{}, fmt.Errorf("adding a silence: %w: no author", ErrInvalidAction)
	}
	s.ID, s.CreatedBy, s.CreatedAt = 0, by, now
	s.ExpiredAt, s.ExpiredBy = time.Time{}, ""
	if s.Start.IsZero() {
		s.Start = now
	}
	if err := s.Validate(now); err != nil {
		return silence.Silence{}, fmt.Errorf("adding a silence: %w: %w", ErrInvalidAction, err)
	}
	if id := s.Matchers.Incident; id != 0 {
		inc, err := d.store.Incident(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return silence.Silence{}, fmt.Errorf("adding a silence of incident %d: %w", id, ErrUnknownIncident)
		case err != nil:
			return silence.Silence{}, fmt.Errorf("adding a silence of incident %d: %w", id, err)
		case s.UntilResolved && !inc.Open():
			return silence.Silence{}, fmt.Errorf("adding a silence of incident %d until it resolves: %w", id, ErrUnknownIncident)
		}
	}
	d.silMu.Lock()
	defer d.silMu.Unlock()
	covered := d.openCovered(&s, now)
	err := d.write(ctx, func(tx *store.Tx) error {
		if err := tx.AddSilence(ctx, &s); err != nil {
			return err
		}
		return recordFor(ctx, tx, covered, store.Action{
			At: now, By: by, What: store.ActionSilenceAdd, SilenceID: s.ID, Detail: silenceDetail(&s),
		})
	})
	if err != nil {
		return silence.Silence{}, fmt.Errorf("adding a silence: %w", err)
	}
	d.setSilences(append(append(silence.Set(nil), d.silences()...), s))
	d.log.Info("silence added", "silence", s.ID, "by", by, "end", s.End, "until_resolved", s.UntilResolved, "comment", s.Comment)
	return s, nil
}

// silenceDetail is a silence's line in an incident's history.
func silenceDetail(s *silence.Silence) string {
	var b strings.Builder
	fmt.Fprintf(&b, "silence %d", s.ID)
	if s.UntilResolved && s.End.IsZero() {
		b.WriteString(" until resolved")
	} else {
		b.WriteString(" until " + s.End.UTC().Format("2006-01-02 15:04 MST"))
	}
	if s.Comment != "" {
		b.WriteString(": " + s.Comment)
	}
	return b.String()
}

// openCovered is every open incident s covers at now (or would, for one
// that starts later), by the daemon's machines.
func (d *Daemon) openCovered(s *silence.Silence, now time.Time) []*incident.Incident {
	cfg := d.config()
	var out []*incident.Incident
	for _, inc := range d.openIncidents() {
		sub := silence.Subject{Incident: inc}
		if mc := cfg.Monitor(inc.Monitor); mc != nil && inc.Kind.OfMonitor() {
			sub.Tags = mc.Tags
		}
		if s.Matches(sub) && !s.Done(now) {
			out = append(out, inc)
		}
	}
	return out
}

// openIncidents copies every open incident the store has (ID set): the
// monitors' (target and warnings) and the vantages'.
func (d *Daemon) openIncidents() []*incident.Incident {
	var open []*incident.Incident
	for _, m := range d.monitorList() {
		m.mu.Lock()
		for _, machine := range [...]*incident.Machine{m.machine, m.cert, m.perf} {
			if machine == nil || m.removed {
				continue
			}
			if inc := machine.Incident(); inc != nil && inc.ID != 0 {
				open = append(open, inc)
			}
		}
		m.mu.Unlock()
	}
	if d.vs.incidents != nil {
		open = append(open, d.vs.incidents.Stored()...)
	}
	return open
}

// recordFor records a once for each of incs (with its ID and monitor), or
// once about no incident when incs is empty.
func recordFor(ctx context.Context, tx *store.Tx, incs []*incident.Incident, a store.Action) error {
	if len(incs) == 0 {
		return tx.RecordAction(ctx, &a)
	}
	for _, inc := range incs {
		r := a
		r.IncidentID, r.Monitor = inc.ID, inc.Monitor
		if err := tx.RecordAction(ctx, &r); err != nil {
			return err
		}
	}
	return nil
}

// Silences lists the silences in force or to come, and with all the
// expired ones too (newest first).
func (d *Daemon) Silences(ctx context.Context, all bool) ([]silence.Silence, error) {
	list, err := d.store.Silences(ctx, all, d.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("listing silences: %w", err)
	}
	if list == nil {
		list = []silence.Silence{}
	}
	return list, nil
}

// ExpireSilence ends silence id now; what it held back is released: in the
// same transaction, each notification nobody has seen that is held to the
// end of the muting it made (for an incident it covers) is moved to now, or
// to the end of what still mutes it (a window, another silence). A silence
// that is over already is returned as it is.
func (d *Daemon) ExpireSilence(ctx context.Context, id int64, by string) (silence.Silence, error) {
	if by == "" {
		return silence.Silence{}, fmt.Errorf("expiring silence %d: %w: no author", id, ErrInvalidAction)
	}
	d.silMu.Lock()
	defer d.silMu.Unlock()
	now := d.clock.Now()
	cfg := d.config()
	var (
		out      silence.Silence
		changed  bool
		released int
		without  silence.Set
	)
	err := d.write(ctx, func(tx *store.Tx) error {
		released = 0
		before, err := tx.Silence(ctx, id)
		if err != nil {
			return err
		}
		var ch bool
		out, ch, err = tx.ExpireSilence(ctx, id, now, by)
		changed = ch
		if err != nil || !changed {
			return err
		}
		// The muting with the silence and without it, from the set as it
		// is, whatever the memory dropped.
		without = without[:0]
		for _, s := range d.silences() {
			if s.ID != id {
				without = append(without, s)
			}
		}
		with := append(append(silence.Set(nil), without...), before)
		held, err := tx.HeldIncidents(ctx, now)
		if err != nil {
			return err
		}
		var touched []*incident.Incident
		for _, iid := range held {
			inc, err := tx.Incident(ctx, iid)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			// Only what this silence's end held: when the muting ends at
			// the same time without it, it did not hold this incident (it
			// does not match, or a window outlasts it).
			was := plan.Mute(cfg, with, &inc, iid, now)
			is := plan.Mute(cfg, without, &inc, iid, now)
			if !was.Muted || is.Until.Equal(was.Until) {
				continue
			}
			to := now
			if is.Muted {
				to = is.Until
			}
			n, err := tx.ReleaseHeld(ctx, iid, was.Until, to)
			if err != nil {
				return err
			}
			released += n
			if n > 0 {
				c := inc
				touched = append(touched, &c)
			}
		}
		covered := d.openCovered(&before, now)
		for _, inc := range touched {
			if !containsID(covered, inc.ID) {
				covered = append(covered, inc)
			}
		}
		return recordFor(ctx, tx, covered, store.Action{
			At: now, By: by, What: store.ActionSilenceExpire, SilenceID: id,
			Detail: fmt.Sprintf("silence %d expired; %d held notifications released", id, released),
		})
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return silence.Silence{}, fmt.Errorf("expiring silence %d: %w", id, ErrUnknownSilence)
	case err != nil:
		return silence.Silence{}, fmt.Errorf("expiring silence %d: %w", id, err)
	}
	if !changed {
		return out, nil
	}
	d.setSilences(without)
	d.log.Info("silence expired", "silence", id, "by", by, "released", released)
	if released > 0 {
		d.kickOutbox()
	}
	return out, nil
}

func containsID(incs []*incident.Incident, id int64) bool {
	for _, inc := range incs {
		if inc.ID == id {
			return true
		}
	}
	return false
}

// maxAckComment bounds an ack's comment, as a silence's is.
const maxAckComment = silence.MaxComment

// Ack acknowledges open incident id: no reminders, no escalation after
// this; the receivers that were told it opened are told who took it.
// Acknowledging it again is a no-op that returns the first ack.
func (d *Daemon) Ack(ctx context.Context, id int64, by, comment string) (incident.Incident, error) {
	if by == "" {
		return incident.Incident{}, fmt.Errorf("acknowledging incident %d: %w: no author", id, ErrInvalidAction)
	}
	if len(comment) > maxAckComment {
		return incident.Incident{}, fmt.Errorf("acknowledging incident %d: %w: comment is %d bytes, at most %d", id, ErrInvalidAction, len(comment), maxAckComment)
	}
	ack := incident.Ack{By: by, At: result.TimeOf(d.clock.Now()), Comment: comment}
	for _, m := range d.monitorList() {
		m.mu.Lock()
		for _, machine := range [...]*incident.Machine{m.machine, m.cert, m.perf} {
			if machine == nil || m.removed {
				continue
			}
			if inc := machine.Incident(); inc != nil && inc.ID == id {
				got, err := d.ack(ctx, inc, ack, func(a incident.Ack) { machine.SetAck(a) })
				m.mu.Unlock()
				return got, err
			}
		}
		m.mu.Unlock()
	}
	if d.vs.incidents != nil {
		for _, inc := range d.vs.incidents.Stored() {
			if inc.ID == id {
				return d.ack(ctx, inc, ack, func(a incident.Ack) { d.vs.incidents.SetAck(id, a) })
			}
		}
	}
	return incident.Incident{}, fmt.Errorf("acknowledging incident %d: %w", id, ErrUnknownIncident)
}

// ack records ack on open incident inc (the machine's copy) with its log
// row and its "acknowledged by" updates in one transaction, then gives it
// to the machine (set). An incident acknowledged already is returned as it
// is, and nothing is sent.
func (d *Daemon) ack(ctx context.Context, inc *incident.Incident, ack incident.Ack, set func(incident.Ack)) (incident.Incident, error) {
	if inc.Ack != nil {
		return *inc, nil
	}
	cfg := d.config()
	var (
		stored incident.Incident
		first  bool
		sent   int
	)
	err := d.write(ctx, func(tx *store.Tx) error {
		sent = 0
		var err error
		stored, first, err = tx.AckIncident(ctx, inc.ID, ack)
		if err != nil || !first {
			return err
		}
		if err := tx.RecordAction(ctx, &store.Action{
			At: ack.At.Time, By: ack.By, What: store.ActionAck, IncidentID: inc.ID, Monitor: inc.Monitor, Detail: ack.Comment,
		}); err != nil {
			return err
		}
		c := *inc
		c.Ack = stored.Ack
		lookup := func(key string) (store.KeyStatus, error) { return tx.KeyStatus(ctx, key) }
		sends, err := plan.Ack(cfg, &c, inc.ID, ack.At.Time, lookup)
		if err != nil {
			return err
		}
		for i := range sends {
			existed, err := enqueueSend(ctx, tx, &sends[i])
			if err != nil {
				return err
			}
			if !existed {
				sent++
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrIncidentResolved), errors.Is(err, store.ErrNotFound):
		return incident.Incident{}, fmt.Errorf("acknowledging incident %d: %w", inc.ID, ErrUnknownIncident)
	case err != nil:
		return incident.Incident{}, fmt.Errorf("acknowledging incident %d: %w", inc.ID, err)
	}
	set(*stored.Ack)
	out := *inc
	out.Ack = stored.Ack
	if first {
		d.log.Info("incident acknowledged", "monitor", inc.Monitor, "incident", inc.ID, "by", ack.By, "comment", ack.Comment, "notifications", sent)
	}
	if sent > 0 {
		d.kickOutbox()
	}
	return out, nil
}

// Recheck runs the monitor's round now, from every vantage, and returns
// its outcome (the round settles as any other). It waits for a scheduled
// round of the monitor in flight, and one that comes due meanwhile is
// skipped: never two rounds of one monitor at once.
func (d *Daemon) Recheck(ctx context.Context, monitor, by string) (result.Outcome, error) {
	if by == "" {
		return result.Outcome{}, fmt.Errorf("re-checking %s: %w: no author", monitor, ErrInvalidAction)
	}
	m := d.lookup(monitor)
	if m == nil {
		return result.Outcome{}, fmt.Errorf("re-checking %q: %w", monitor, ErrUnknownMonitor)
	}
	m.mu.Lock()
	gone, broken := m.removed, m.broken
	m.mu.Unlock()
	if gone {
		return result.Outcome{}, fmt.Errorf("re-checking %q: %w", monitor, ErrUnknownMonitor)
	}
	if broken != "" {
		return result.Outcome{}, fmt.Errorf("re-checking %q: the monitor is stopped: %s", monitor, broken)
	}
	m.busy.Lock()
	d.runRound(ctx, m)
	m.busy.Unlock()

	m.mu.Lock()
	last := m.last
	var incID int64
	if inc := m.machine.Incident(); inc != nil {
		incID = inc.ID
	}
	m.mu.Unlock()
	if last == nil {
		return result.Outcome{}, fmt.Errorf("re-checking %q: the round did not settle (the monitor was removed or stopped meanwhile)", monitor)
	}
	detail := string(last.Class)
	if last.Status > 0 {
		detail = fmt.Sprintf("%s (%d)", last.Class, last.Status)
	}
	if err := d.write(ctx, func(tx *store.Tx) error {
		return tx.RecordAction(ctx, &store.Action{
			At: d.clock.Now(), By: by, What: store.ActionRecheck, IncidentID: incID, Monitor: monitor, Detail: detail,
		})
	}); err != nil {
		// The round ran and settled; only its line in the log is missing.
		d.log.Error("recording a re-check", "monitor", monitor, "by", by, "err", err)
	}
	return *last, nil
}
