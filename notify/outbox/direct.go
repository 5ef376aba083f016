package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
)

// Direct delivery is the fallback for alerts the store could not take: the
// daemon keeps alerting from memory rather than fall silent while its disk
// is full or read-only. Items are sent with the same notifiers as the
// outbox, in order per receiver and incident, retried with the outbox's
// backoff up to MaxAttempts, and marked NotPersisted. Nothing of this
// survives a restart; when the store writes again, the daemon records what
// was sent (HoldDirect, Direct, ForgetDirect) so that nothing is sent twice.

// DirectItem is one alert to send from memory.
type DirectItem struct {
	Msg notify.Message
	// IncidentKey is incident.Incident.Key() of the incident it is about
	// ("" for a notice): it orders an incident's alerts and finds the
	// message ref of an incident that has no ID yet.
	IncidentKey string
	// NotBefore holds it back (a group wait, a maintenance window).
	NotBefore time.Time
}

// DirectOutcome is where a direct item stands.
type DirectOutcome struct {
	// Status is KeyQueued (never attempted), KeyAttempted (attempted, not
	// delivered yet, or failed for good when Failed is set) or KeyDelivered.
	Status store.KeyStatus
	Failed bool
	// Reason says why it failed for good.
	Reason string
	// Ref is what the receiver returned for the incident's message.
	Ref string
	// MaybeSent: an attempt timed out, so it may have arrived.
	MaybeSent bool
	// Msg is the message as it was (or is to be) sent.
	Msg notify.Message
}

type directEntry struct {
	item DirectItem
	// adopted: the item is a row of the store's outbox that could not be
	// marked sending. The row stays pending; the outbox's next pass records
	// the outcome (settleAdopted) before it looks at the row again.
	adopted   bool
	attempts0 int // the row's attempts when adopted
	seq       int64
	due       time.Time
	attempts  int
	out       DirectOutcome
}

// direct is the in-memory queue. Its zero value is ready.
type direct struct {
	mu      sync.Mutex
	entries map[string]*directEntry
	seq     int64
	refs    map[string]string // receiver + "\x00" + incident key -> ref
	busy    map[string]bool   // a receiver's pass is running (RunDirect)
	kick    chan struct{}
	kickOne sync.Once

	// hold is read-locked by every direct attempt and write-locked by
	// HoldDirect, so that the daemon can move what was sent into the store
	// without an attempt changing it underneath.
	hold sync.RWMutex
}

func (q *direct) kickCh() chan struct{} {
	q.kickOne.Do(func() { q.kick = make(chan struct{}, 1) })
	return q.kick
}

func refKey(receiver, incidentKey string) string { return receiver + "\x00" + incidentKey }

// SendDirect queues alerts to be sent from memory. A key already queued or
// sent is left as it is.
func (o *Outbox) SendDirect(items ...DirectItem) {
	q := &o.direct
	q.mu.Lock()
	if q.entries == nil {
		q.entries = map[string]*directEntry{}
		q.refs = map[string]string{}
		q.busy = map[string]bool{}
	}
	now := o.opts.Now()
	for _, it := range items {
		if it.Msg.Key == "" || it.Msg.Receiver == "" {
			continue
		}
		if _, ok := q.entries[it.Msg.Key]; ok {
			continue
		}
		it.Msg.NotPersisted = true
		q.seq++
		due := it.NotBefore
		if due.IsZero() {
			due = now
		}
		q.entries[it.Msg.Key] = &directEntry{item: it, seq: q.seq, due: due,
			out: DirectOutcome{Status: store.KeyQueued, Msg: it.Msg}}
	}
	q.mu.Unlock()
	select {
	case q.kickCh() <- struct{}{}:
	default:
	}
}

// DirectStatus says where a key stands in direct delivery, for planning
// the later events of an incident whose alerts went out from memory.
func (o *Outbox) DirectStatus(key string) (store.KeyStatus, bool) {
	q := &o.direct
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[key]
	if !ok {
		return store.KeyUnknown, false
	}
	return e.out.Status, true
}

// WithdrawDirect drops the never-attempted items of an incident for a
// receiver: the incident ended before anyone saw them.
func (o *Outbox) WithdrawDirect(receiver, incidentKey string) int {
	q := &o.direct
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for k, e := range q.entries {
		if e.item.Msg.Receiver == receiver && e.item.IncidentKey == incidentKey && e.out.Status == store.KeyQueued {
			delete(q.entries, k)
			n++
		}
	}
	return n
}

// HoldDirect waits for direct attempts in flight to end and keeps new ones
// from starting until release is called.
func (o *Outbox) HoldDirect() (release func()) {
	o.direct.hold.Lock()
	return o.direct.hold.Unlock
}

// TryHoldDirect is HoldDirect without waiting: ok is false while an
// attempt is in flight.
func (o *Outbox) TryHoldDirect() (release func(), ok bool) {
	if !o.direct.hold.TryLock() {
		return nil, false
	}
	return o.direct.hold.Unlock, true
}

// Direct reports a direct item's outcome, with the ref of its incident's
// message on its receiver if one was returned from memory.
func (o *Outbox) Direct(key string) (DirectOutcome, bool) {
	q := &o.direct
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.entries[key]
	if !ok {
		return DirectOutcome{}, false
	}
	out := e.out
	if e.item.IncidentKey != "" {
		out.Ref = q.refs[refKey(e.item.Msg.Receiver, e.item.IncidentKey)]
	}
	return out, true
}

// ForgetDirect drops items the store now holds, and the refs of their
// incidents: from now on the outbox delivers them.
func (o *Outbox) ForgetDirect(keys []string) {
	q := &o.direct
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, k := range keys {
		if e, ok := q.entries[k]; ok {
			delete(q.refs, refKey(e.item.Msg.Receiver, e.item.IncidentKey))
			delete(q.entries, k)
		}
	}
}

// tryLockReceiver is lockReceiver without waiting.
func (o *Outbox) tryLockReceiver(receiver string) (func(), bool) {
	o.mu.Lock()
	l, ok := o.passMu[receiver]
	if !ok {
		l = &sync.Mutex{}
		o.passMu[receiver] = l
	}
	o.mu.Unlock()
	if !l.TryLock() {
		return nil, false
	}
	return l.Unlock, true
}

// AdoptDue takes the outbox's due rows that the store cannot mark sending
// (it cannot write) into direct delivery, so that an alert queued before the
// store failed is not held until it writes again. It returns how many it
// took.
func (o *Outbox) AdoptDue(ctx context.Context) (int, error) {
	if o.opts.Store == nil {
		return 0, nil
	}
	n := 0
	now := o.opts.Now()
	for _, r := range o.receivers() {
		items, err := o.opts.Store.Due(ctx, r, now, o.opts.Batch)
		if err != nil {
			return n, err
		}
		q := &o.direct
		for _, it := range items {
			msg, err := decode(it)
			if err != nil {
				continue // a bad payload fails when the outbox gets to it
			}
			msg.Repeat = msg.Repeat || maybeRepeat(it)
			ik := ""
			if it.IncidentID != 0 {
				ik = (&incident.Incident{Kind: msg.Kind, Monitor: msg.Monitor, OpenedAt: result.TimeOf(msg.OpenedAt)}).Key()
			}
			q.mu.Lock()
			_, known := q.entries[it.Key]
			q.mu.Unlock()
			if known {
				continue
			}
			o.SendDirect(DirectItem{Msg: *msg, IncidentKey: ik})
			q.mu.Lock()
			if e, ok := q.entries[it.Key]; ok {
				e.adopted, e.attempts0 = true, it.Attempts
				n++
			}
			q.mu.Unlock()
		}
	}
	return n, nil
}

// settleAdopted runs at the start of an outbox pass, with the receiver's
// pass lock held: it records in the store what direct delivery did with
// adopted rows and returns the due items without the rows direct delivery
// still holds. An error means the store could not record it; the pass
// stops then, as it would at its first write.
func (o *Outbox) settleAdopted(ctx context.Context, receiver string, items []store.OutboxItem) ([]store.OutboxItem, error) {
	q := &o.direct
	q.mu.Lock()
	var done []*directEntry
	held := map[string]bool{}
	for k, e := range q.entries {
		if !e.adopted || e.item.Msg.Receiver != receiver {
			continue
		}
		if e.out.Status == store.KeyDelivered || e.out.Failed {
			done = append(done, e)
		}
		held[k] = true
	}
	refs := map[*directEntry]string{}
	for _, e := range done {
		refs[e] = q.refs[refKey(receiver, e.item.IncidentKey)]
	}
	q.mu.Unlock()
	if len(held) == 0 {
		return items, nil
	}
	if len(done) > 0 {
		err := o.opts.Store.Update(ctx, func(tx *store.Tx) error {
			for _, e := range done {
				key := e.item.Msg.Key
				var err error
				if e.out.Failed {
					err = tx.MarkFailed(ctx, key, e.out.Reason)
				} else {
					err = tx.MarkDelivered(ctx, key)
					if err == nil && refs[e] != "" && e.item.Msg.IncidentID != 0 {
						err = tx.SetMessageRef(ctx, receiver, e.item.Msg.IncidentID, refs[e])
					}
				}
				if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrWrongState) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("record notifications sent from memory: %w", err)
		}
		q.mu.Lock()
		for _, e := range done {
			if cur, ok := q.entries[e.item.Msg.Key]; ok && cur == e {
				delete(q.entries, e.item.Msg.Key)
			}
		}
		q.mu.Unlock()
	}
	out := items[:0:0]
	for _, it := range items {
		if !held[it.Key] {
			out = append(out, it)
		}
	}
	return out, nil
}

// DirectPending counts the direct items not yet delivered or failed.
func (o *Outbox) DirectPending() int {
	q := &o.direct
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, e := range q.entries {
		if e.out.Status != store.KeyDelivered && !e.out.Failed {
			n++
		}
	}
	return n
}

// RunDirect sends direct items until ctx is done, one goroutine per
// receiver with work so that a hanging receiver holds up no other.
func (o *Outbox) RunDirect(ctx context.Context) {
	tick := time.NewTicker(o.opts.Poll)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	kick := o.direct.kickCh()
	for {
		q := &o.direct
		q.mu.Lock()
		var idle []string
		for _, e := range q.entries {
			r := e.item.Msg.Receiver
			if !q.busy[r] && !slices.Contains(idle, r) && e.out.Status != store.KeyDelivered && !e.out.Failed && o.notifier(r) != nil {
				idle = append(idle, r)
			}
		}
		for _, r := range idle {
			q.busy[r] = true
		}
		q.mu.Unlock()
		for _, r := range idle {
			wg.Go(func() {
				defer func() {
					q.mu.Lock()
					q.busy[r] = false
					q.mu.Unlock()
				}()
				if _, err := o.DeliverDirect(ctx, r); err != nil && !errors.Is(err, context.Canceled) {
					o.log.Warn("direct delivery pass", "receiver", r, "error", err)
				}
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-tick.C:
		}
	}
}

// DeliverDirect makes one pass over receiver's due direct items, in order,
// and reports how many it delivered.
func (o *Outbox) DeliverDirect(ctx context.Context, receiver string) (sent int, err error) {
	n := o.notifier(receiver)
	if n == nil {
		return 0, ErrNoNotifier
	}
	q := &o.direct
	q.mu.Lock()
	var list []*directEntry
	for _, e := range q.entries {
		if e.item.Msg.Receiver == receiver && e.out.Status != store.KeyDelivered && !e.out.Failed {
			list = append(list, e)
		}
	}
	q.mu.Unlock()
	slices.SortFunc(list, func(a, b *directEntry) int { return int(a.seq - b.seq) })
	blocked := map[string]bool{} // incidents with an earlier item still undelivered
	for _, e := range list {
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
		ik := e.item.IncidentKey
		if ik != "" && blocked[ik] {
			continue
		}
		ok, hold := o.attemptDirect(ctx, n, e)
		if ok {
			sent++
			continue
		}
		if ik != "" {
			blocked[ik] = true
		}
		if !hold.IsZero() {
			break // rate limited: the rest would be too
		}
	}
	return sent, nil
}

// attemptDirect sends e if it is due. It reports whether it was delivered,
// and until when the receiver asked to be left alone.
func (o *Outbox) attemptDirect(ctx context.Context, n notify.Notifier, e *directEntry) (bool, time.Time) {
	q := &o.direct
	q.hold.RLock()
	defer q.hold.RUnlock()
	now := o.opts.Now()
	q.mu.Lock()
	if cur, ok := q.entries[e.item.Msg.Key]; !ok || cur != e || e.out.Status == store.KeyDelivered || e.out.Failed {
		// Moved to the store (or withdrawn) meanwhile.
		q.mu.Unlock()
		return cur == e && e.out.Status == store.KeyDelivered, time.Time{}
	}
	if now.Before(e.due) {
		q.mu.Unlock()
		return false, time.Time{}
	}
	msg := e.out.Msg
	msg.Repeat = msg.Repeat || e.out.MaybeSent
	receiver, ik := msg.Receiver, e.item.IncidentKey
	if e.adopted {
		q.mu.Unlock()
		// The outbox's pass holds this lock for as long as it works on
		// the receiver's rows: with it, the row cannot go out both ways.
		// If a pass is running, it is the one to send: try again later
		// rather than wait for it with delivery held.
		unlock, ok := o.tryLockReceiver(receiver)
		if !ok {
			return false, time.Time{}
		}
		defer unlock()
		it, err := o.opts.Store.OutboxItem(ctx, msg.Key)
		q.mu.Lock()
		if cur, ok := q.entries[msg.Key]; !ok || cur != e {
			q.mu.Unlock()
			return false, time.Time{}
		}
		if err != nil || it.State != store.StatePending || it.Attempts != e.attempts0 {
			// The outbox took it up again (or it is gone): it is its own.
			if cur, ok := q.entries[msg.Key]; ok && cur == e {
				delete(q.entries, msg.Key)
			}
			q.mu.Unlock()
			return false, time.Time{}
		}
	}
	ref, haveRef := "", false
	if ik != "" {
		ref, haveRef = q.refs[refKey(receiver, ik)]
	}
	e.attempts++
	q.mu.Unlock()

	if !haveRef && msg.IncidentID != 0 && o.opts.Store != nil {
		// Opened while the store still wrote: its message ref is there.
		if r, grouped, err := o.ref(ctx, receiver, msg.IncidentID); err == nil {
			ref, msg.InGroup = r, grouped
		}
	}
	sctx, cancel := context.WithTimeout(ctx, o.opts.AttemptTimeout)
	start := time.Now()
	newRef, err := n.Notify(sctx, &msg, ref)
	o.m.observe(receiver, time.Since(start))
	cancel()

	q.mu.Lock()
	defer q.mu.Unlock()
	logArgs := []any{"receiver", receiver, "key", msg.Key, "event", msg.Event, "attempt", e.attempts, "not_persisted", true}
	if err == nil {
		e.out.Status = store.KeyDelivered
		if ik != "" && newRef != "" {
			q.refs[refKey(receiver, ik)] = newRef
		}
		o.clearDegraded(receiver)
		o.m.count(receiver, string(msg.Event), "delivered")
		o.log.Info("notification delivered from memory", logArgs...)
		if ik == "" {
			// A notice about no incident: nothing to record later.
			delete(q.entries, msg.Key)
		}
		return true, time.Time{}
	}
	e.out.Status = store.KeyAttempted
	if mayHaveArrived(err) {
		// Kept whatever this error means: a later copy says possible repeat.
		e.out.MaybeSent = true
	}
	if p, ok := notify.IsPermanent(err); ok {
		e.out.Failed, e.out.Reason = true, p.Reason
		if e.out.Reason == "" {
			e.out.Reason = err.Error()
		}
		o.m.count(receiver, string(msg.Event), "failed")
		o.log.Error("notification from memory failed permanently", append(logArgs, "error", err)...)
		return false, time.Time{}
	}
	if ra, ok := notify.IsRetryAfter(err); ok {
		e.attempts-- // the receiver is busy, not broken
		e.due = now.Add(o.retryAfter(receiver, now, ra.After))
		o.m.count(receiver, string(msg.Event), "rate_limited")
		o.log.Warn("notification from memory rate limited", append(logArgs, "retry_at", e.due, "error", err)...)
		return false, e.due
	}
	if e.attempts >= o.opts.MaxAttempts && !msg.Persistent {
		e.out.Failed, e.out.Reason = true, "gave up after "+strconv.Itoa(e.attempts)+" attempts from memory: "+err.Error()
		o.m.count(receiver, string(msg.Event), "failed")
		o.log.Error("notification from memory failed, giving up", append(logArgs, "error", err)...)
		return false, time.Time{}
	}
	e.due = now.Add(o.backoff(e.attempts))
	o.m.count(receiver, string(msg.Event), "retry")
	o.log.Warn("notification from memory failed, will retry", append(logArgs, "retry_at", e.due, "error", err)...)
	return false, time.Time{}
}
