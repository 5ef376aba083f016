package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/monitor/web"
	"github.com/vantage-monitor/vantage/notify/outbox"
)

// wedgedAfter is how long without a scheduler pass makes the daemon
// unhealthy; the dispatcher passes at least once a second.
const wedgedAfter = 30 * time.Second

var _ web.Source = (*Daemon)(nil)

// Monitors lists every configured monitor with its state, last result,
// open incident and open warnings, from memory: a status page reload never queries the store.
func (d *Daemon) Monitors(ctx context.Context) ([]web.MonitorView, error) {
	mons := d.monitorList()
	views := make([]web.MonitorView, 0, len(mons))
	for _, m := range mons {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m.mu.Lock()
		v := web.MonitorView{
			Name:         m.name,
			URL:          m.cfg.URL,
			Tags:         append([]string{}, m.cfg.Tags...),
			Schedule:     m.cfg.Schedule.String(),
			State:        m.machine.State(),
			Flapping:     m.machine.Flapping(),
			LastCheck:    result.TimeOf(m.lastCheck),
			OpenIncident: m.machine.Incident(),
			Warnings:     m.warningViews(),
			Problem:      m.broken,
		}
		if m.last != nil {
			r := *m.last // rounds replace m.last, never change it in place
			v.LastResult = &r
		}
		m.mu.Unlock()
		if st, ok := d.sched.Stats(m.name); ok {
			v.Skipped = st.Skipped
		}
		views = append(views, v)
	}
	return views, nil
}

// Health is nil while the scheduler makes progress and the store's last
// write worked.
func (d *Daemon) Health(context.Context) error {
	var errs []error
	if d.running.Load() {
		last := d.sched.LastTick()
		if last.IsZero() {
			errs = append(errs, errors.New("scheduler has not started yet"))
		} else if lag := d.clock.Now().Sub(last); lag > wedgedAfter {
			errs = append(errs, fmt.Errorf("scheduler made no progress for %s", lag.Round(time.Second)))
		}
	}
	if s := d.storeErr.Load(); s != nil {
		errs = append(errs, fmt.Errorf("state store: last write failed: %s", *s))
	}
	for _, m := range d.monitorList() {
		m.mu.Lock()
		if m.broken != "" {
			errs = append(errs, fmt.Errorf("monitor %s %s", m.name, m.broken))
		}
		m.mu.Unlock()
	}
	return errors.Join(errs...)
}

var _ web.NotificationSource = (*Daemon)(nil)

// Notifications lists what is in the outbox: pending, being sent, or
// failed for good with the reason.
func (d *Daemon) Notifications(ctx context.Context, state string) ([]web.NotificationView, error) {
	items, err := d.store.Outbox(ctx, store.OutboxFilter{State: store.OutboxState(state)})
	if err != nil {
		return nil, err
	}
	out := make([]web.NotificationView, 0, len(items))
	for _, it := range items {
		out = append(out, web.NotificationView{
			Key: it.Key, Receiver: it.Receiver, IncidentID: it.IncidentID, Event: string(it.Event),
			State: string(it.State), Attempts: it.Attempts, MaybeSent: it.MaybeSent,
			NextAttemptAt: result.TimeOf(it.NextAttemptAt), LastError: it.LastError, CreatedAt: result.TimeOf(it.CreatedAt),
		})
	}
	return out, nil
}

var _ web.ReceiverSource = (*Daemon)(nil)

// Receivers says, per configured receiver, whether the outbox holds it
// degraded (it asked to wait longer than max_retry_after).
func (d *Daemon) Receivers(context.Context) []web.ReceiverView {
	cfg := d.config()
	var deg map[string]outbox.Degradation
	if d.outbox != nil {
		deg = d.outbox.Degraded()
	}
	out := make([]web.ReceiverView, 0, len(cfg.Receivers))
	for i := range cfg.Receivers {
		v := web.ReceiverView{Name: cfg.Receivers[i].Name}
		if g, ok := deg[v.Name]; ok {
			v.Degraded, v.DegradedSince, v.DegradedReason = true, result.TimeOf(g.Since.UTC()), g.Reason
		}
		out = append(out, v)
	}
	return out
}
