package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/outbox"
	"github.com/vantage-monitor/vantage/notify/plan"
)

// enqueue writes the notifications an incident event asks for into the
// outbox, inside the transaction that records the event: an alert is
// durable exactly when its incident is, so a crash can neither lose one
// nor send one for an incident that was never stored.
//
// With a replay (r not nil), what was already sent from memory while the
// store failed is recorded as such instead of being queued to go out again.
func (d *Daemon) enqueue(ctx context.Context, tx *store.Tx, e *incident.Event, id int64, r *replay) error {
	if e.Incident == nil || e.Kind == incident.EventRecheck {
		return nil
	}
	cfg := d.config()
	lookup := func(key string) (store.KeyStatus, error) { return tx.KeyStatus(ctx, key) }
	dec, err := plan.Event(cfg, d.silences(), e, id, lookup)
	if err != nil {
		return fmt.Errorf("planning notifications of %s: %w", e.Key(), err)
	}
	for _, w := range dec.Withdraws {
		n, err := tx.CancelQueued(ctx, w.Receiver, w.IncidentID)
		if err != nil {
			return err
		}
		if n > 0 {
			d.log.Info("withdrew alerts nobody saw: the incident ended first", "monitor", e.Monitor, "incident", id, "receiver", w.Receiver, "notifications", n)
		}
	}
	if dec.Muted != "" {
		d.log.Info("maintenance window", "monitor", e.Monitor, "incident", id, "event", e.Kind, "notifications", dec.Muted)
	}
	for i := range dec.Sends {
		if r != nil {
			if err := d.enqueueReplayed(ctx, tx, &dec.Sends[i], id, r); err != nil {
				return err
			}
			continue
		}
		if _, err := enqueueSend(ctx, tx, &dec.Sends[i]); err != nil {
			return err
		}
	}
	return nil
}

// enqueueSend writes one planned notification; existed says the outbox
// already had (or delivered) it.
func enqueueSend(ctx context.Context, tx *store.Tx, s *plan.Send) (existed bool, err error) {
	payload, err := json.Marshal(&s.Msg)
	if err != nil {
		return false, fmt.Errorf("encoding notification %s: %w", s.Msg.Key, err)
	}
	return tx.Enqueue(ctx, store.OutboxEvent{
		Key:        s.Msg.Key,
		Receiver:   s.Msg.Receiver,
		IncidentID: s.Msg.IncidentID,
		Event:      s.Msg.Event,
		Payload:    payload,
		NotBefore:  s.NotBefore,
	})
}

// remindEvery is how often open incidents are checked for due reminders;
// a reminder is at most this late.
const remindEvery = 30 * time.Second

// remind enqueues the reminders and escalations that are due for every
// open incident. Reminder keys are numbered by interval and an escalation
// has its receiver's open key, so this is idempotent.
func (d *Daemon) remind(ctx context.Context) {
	cfg := d.config()
	if len(cfg.Receivers) == 0 {
		return
	}
	now := d.clock.Now()
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
	open = append(open, d.vs.incidents.Stored()...)
	sent := 0
	// A reminder sent from memory while the store failed is recorded as
	// sent when the store takes it (enqueueReplayed), never sent again;
	// attempts from memory wait meanwhile so that none is cut in half.
	release := d.outbox.HoldDirect()
	defer release()
	for _, inc := range open {
		r := &replay{ids: map[string]int64{}}
		var escalated []string
		err := d.write(ctx, func(tx *store.Tx) error {
			r.handed = r.handed[:0]
			escalated = escalated[:0]
			lookup := func(key string) (store.KeyStatus, error) { return tx.KeyStatus(ctx, key) }
			sends, err := plan.Reminders(cfg, d.silences(), inc, inc.ID, now, lookup)
			if err != nil {
				return err
			}
			// Escalations are due by the same stored times, so they ride
			// on the same pass (notify/plan/escalate.go).
			esc, err := plan.Escalations(cfg, d.silences(), inc, inc.ID, now, lookup)
			if err != nil {
				return err
			}
			sends = append(sends, esc...)
			for i := range sends {
				if _, direct := d.outbox.Direct(sends[i].Msg.Key); direct {
					if err := d.enqueueReplayed(ctx, tx, &sends[i], inc.ID, r); err != nil {
						return err
					}
					continue
				}
				existed, err := enqueueSend(ctx, tx, &sends[i])
				if err != nil {
					return err
				}
				if !existed {
					sent++
					if sends[i].Msg.Escalated {
						escalated = append(escalated, sends[i].Msg.Receiver)
					}
				}
			}
			return nil
		})
		if err == nil {
			d.outbox.ForgetDirect(r.handed)
			if len(escalated) > 0 {
				d.log.Info("escalated: nobody acknowledged the incident", "monitor", inc.Monitor, "incident", inc.ID, "receivers", escalated)
			}
			continue
		}
		if !d.storeDown() { // a failing store is logged once a minute by noteStore
			d.log.Error("enqueueing reminders", "monitor", inc.Monitor, "incident", inc.ID, "err", err)
		}
		// The store cannot take them: they go out from memory.
		sends, err := plan.Reminders(cfg, d.silences(), inc, inc.ID, now, d.memoryLookup(ctx))
		if err != nil {
			d.log.Error("planning reminders from memory", "monitor", inc.Monitor, "incident", inc.ID, "err", err)
			continue
		}
		if esc, err := plan.Escalations(cfg, d.silences(), inc, inc.ID, now, d.memoryLookup(ctx)); err != nil {
			d.log.Error("planning escalations from memory", "monitor", inc.Monitor, "incident", inc.ID, "err", err)
		} else {
			sends = append(sends, esc...)
		}
		items := make([]outbox.DirectItem, 0, len(sends))
		for _, s := range sends {
			items = append(items, outbox.DirectItem{Msg: s.Msg, IncidentKey: inc.Key(), NotBefore: s.NotBefore})
		}
		d.outbox.SendDirect(items...)
	}
	if sent > 0 {
		d.kickOutbox()
	}
}

// notifiers builds a notifier for every configured receiver. A receiver
// that cannot be built (an unreadable CA, say) is a config error: the
// daemon refuses to start, and a reload keeps the old config.
func (d *Daemon) notifiers(cfg *config.Config) (map[string]notify.Notifier, error) {
	out := make(map[string]notify.Notifier, len(cfg.Receivers))
	for i := range cfg.Receivers {
		r := &cfg.Receivers[i]
		n, err := d.opts.Notifier(r)
		if err != nil {
			return nil, fmt.Errorf("setting up receiver %q: %w", r.Name, err)
		}
		out[r.Name] = n
	}
	return out, nil
}

func (d *Daemon) kickOutbox() {
	if d.outbox != nil {
		d.outbox.Kick()
	}
}

func (d *Daemon) remindLoop(ctx context.Context) {
	for {
		t := d.clock.TimerAt(d.clock.Now().Add(remindEvery))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
			d.remind(ctx)
		}
	}
}

// Outbox is the notification outbox (for notify-test and the API).
func (d *Daemon) Outbox() *outbox.Outbox { return d.outbox }
