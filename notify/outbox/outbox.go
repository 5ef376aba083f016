// Package outbox delivers what the daemon put in the store's outbox: it is
// the one place where notifications are attempted, retried with backoff,
// rate-limited, given up on, grouped by shared cause, and where a send that
// may have reached the receiver before a crash is marked as a possible
// repeat. Receivers (notify.Notifier) only send once and say, through their
// error, whether a retry can help.
//
// Every attempt is recorded in the store before it starts (MarkSending) and
// settled after it ends (MarkDelivered, MarkRetry, MarkFailed), so a kill -9
// at any point delivers each event at least once and at most twice, the
// second time flagged Repeat.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
)

// GroupRefPrefix marks a stored message ref that belongs to a grouped
// message: the incident's first notification went out as part of a group.
const GroupRefPrefix = "group:"

// ambiguousPrefix starts the recorded error of an attempt that timed out:
// the receiver may have taken the message before the deadline. The flag
// itself is the store's maybe_sent (MarkMaybeSent), which no later attempt
// clears; stores written by earlier versions only have this prefix, so it
// is still read as the flag too.
const ambiguousPrefix = "timed out, may have been delivered: "

// ErrNoNotifier is returned by DeliverDue for a receiver that has no
// notifier (not configured, or removed on reload).
var ErrNoNotifier = errors.New("no notifier configured for receiver")

// Options configure an Outbox. Zero fields take the documented defaults.
type Options struct {
	// Store holds the outbox. Required.
	Store *store.Store
	// Logger receives one record per attempt outcome. Default: discarded.
	Logger *slog.Logger
	// Now is the clock for due times and backoff. Default time.Now.
	Now func() time.Time
	// Registerer receives the outbox metrics. nil: no metrics are exported.
	Registerer prometheus.Registerer
	// MaxAttempts bounds the failed attempts of one notification before it
	// is marked failed. Rate-limited attempts do not count. Default 10.
	MaxAttempts int
	// BaseBackoff is the backoff cap after the first failure; it doubles
	// with each further failure up to MaxBackoff. Default 5s.
	BaseBackoff time.Duration
	// MaxBackoff bounds the backoff. Default 15m.
	MaxBackoff time.Duration
	// AttemptTimeout bounds each Notify call. Default 30s.
	AttemptTimeout time.Duration
	// Poll is how often Run looks for due work without a Kick. Default 2s.
	Poll time.Duration
	// GroupMin is how many open events with the same GroupKey (due, or
	// pending and waiting for their group_wait) make a grouped message.
	// 0 means 3; a negative value disables grouping; 1 is taken as 2.
	GroupMin int
	// Batch is how many due events one pass takes. Default 100.
	Batch int
	// MaxRetryAfter caps a receiver's Retry-After: asked to wait longer,
	// the outbox tries again after MaxRetryAfter and marks the receiver
	// degraded until it delivers again. Default 10m.
	MaxRetryAfter time.Duration
	// Jitter returns a random duration in [0, max]; tests pass a seeded
	// one. Default: math/rand/v2. It may be called from several goroutines.
	Jitter func(max time.Duration) time.Duration
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 15 * time.Minute
	}
	if o.MaxBackoff < o.BaseBackoff {
		o.MaxBackoff = o.BaseBackoff
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	switch {
	case o.GroupMin == 0:
		o.GroupMin = 3
	case o.GroupMin == 1:
		o.GroupMin = 2
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 10 * time.Minute
	}
	if o.Jitter == nil {
		o.Jitter = func(max time.Duration) time.Duration {
			if max <= 0 {
				return 0
			}
			return rand.N(max + 1)
		}
	}
}

// Outbox delivers the store's outbox to the configured notifiers.
type Outbox struct {
	opts Options
	log  *slog.Logger
	m    *metrics

	mu        sync.Mutex
	notifiers map[string]notify.Notifier
	workers   map[string]*worker     // while Run runs
	passMu    map[string]*sync.Mutex // one pass at a time per receiver
	running   bool
	reload    chan struct{}

	// rateLimited counts, per key, the attempts that ended in RetryAfter:
	// the store counts every attempt, and these must not use up the budget.
	// In memory only, so after a restart earlier 429s count as failures (a
	// notification then gives up a little earlier, never later).
	rlMu        sync.Mutex
	rateLimited map[string]int

	// degraded holds the receivers that asked to be left alone for longer
	// than MaxRetryAfter, until they deliver again. In memory: after a
	// restart a receiver that is still busy says so again at its next 429.
	dgMu     sync.Mutex
	degraded map[string]Degradation

	direct direct // alerts the store could not take (direct.go)
}

// Degradation says why and since when a receiver is degraded.
type Degradation struct {
	Since  time.Time
	Reason string
}

type worker struct {
	kick   chan struct{}
	cancel context.CancelFunc
}

// New returns an Outbox. It sends nothing until SetNotifiers and Run (or
// DeliverDue) are called.
func New(opts Options) *Outbox {
	opts.defaults()
	o := &Outbox{
		opts:        opts,
		log:         opts.Logger,
		notifiers:   map[string]notify.Notifier{},
		workers:     map[string]*worker{},
		passMu:      map[string]*sync.Mutex{},
		reload:      make(chan struct{}, 1),
		rateLimited: map[string]int{},
		degraded:    map[string]Degradation{},
	}
	o.m = newMetrics(o, opts.Registerer)
	return o
}

// SetNotifiers replaces the receivers, at start and on config reload. A
// receiver no longer in the map gets no further attempts; its pending
// notifications stay in the store untouched, for when it comes back. An
// attempt in flight to it finishes.
func (o *Outbox) SetNotifiers(n map[string]notify.Notifier) {
	m := make(map[string]notify.Notifier, len(n))
	for name, nf := range n {
		if name != "" && nf != nil {
			m[name] = nf
		}
	}
	o.mu.Lock()
	o.notifiers = m
	o.mu.Unlock()
	// Every receiver has its degraded series from the start, so that an
	// alert rule on it sees 0 rather than nothing.
	o.dgMu.Lock()
	for name := range m {
		if _, ok := o.degraded[name]; !ok {
			o.m.degraded.WithLabelValues(name).Set(0)
		}
	}
	o.dgMu.Unlock()
	select {
	case o.reload <- struct{}{}:
	default:
	}
}

// Kick tells Run that new notifications were enqueued, so they go out now
// rather than at the next poll.
func (o *Outbox) Kick() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, w := range o.workers {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

func (o *Outbox) notifier(receiver string) notify.Notifier {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.notifiers[receiver]
}

func (o *Outbox) receivers() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	names := make([]string, 0, len(o.notifiers))
	for name := range o.notifiers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func (o *Outbox) lockReceiver(receiver string) func() {
	o.mu.Lock()
	l, ok := o.passMu[receiver]
	if !ok {
		l = &sync.Mutex{}
		o.passMu[receiver] = l
	}
	o.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Run delivers until ctx is done, with one goroutine per receiver so that a
// receiver that keeps failing or hangs never holds up the others. When ctx
// is done it stops starting attempts and returns once the attempts in
// flight have finished or hit AttemptTimeout: cutting a send short would
// only turn it into a possible repeat.
func (o *Outbox) Run(ctx context.Context) error {
	if o.opts.Store == nil {
		return errors.New("run notification outbox: no store")
	}
	o.mu.Lock()
	if o.running {
		o.mu.Unlock()
		return errors.New("run notification outbox: already running")
	}
	o.running = true
	o.mu.Unlock()

	var wg sync.WaitGroup
	reconcile := func() {
		want := o.receivers()
		o.mu.Lock()
		defer o.mu.Unlock()
		for name, w := range o.workers {
			if !slices.Contains(want, name) {
				w.cancel()
				delete(o.workers, name)
			}
		}
		for _, name := range want {
			if _, ok := o.workers[name]; ok {
				continue
			}
			wctx, cancel := context.WithCancel(ctx)
			w := &worker{kick: make(chan struct{}, 1), cancel: cancel}
			o.workers[name] = w
			wg.Go(func() { o.work(wctx, name, w) })
		}
	}
	reconcile()
	for {
		select {
		case <-o.reload:
			reconcile()
		case <-ctx.Done():
			o.mu.Lock()
			for name, w := range o.workers {
				w.cancel()
				delete(o.workers, name)
			}
			o.mu.Unlock()
			wg.Wait()
			o.mu.Lock()
			o.running = false
			o.mu.Unlock()
			return nil
		}
	}
}

// work is one receiver's loop: a pass now, then one per kick or poll.
func (o *Outbox) work(ctx context.Context, receiver string, w *worker) {
	// Attempts and their bookkeeping run to the end even when ctx is done;
	// ctx only stops the next attempt from starting.
	ops := context.WithoutCancel(ctx)
	tick := time.NewTicker(o.opts.Poll)
	defer tick.Stop()
	var hold time.Time // a receiver that said "retry after" is left alone until then
	for {
		if ctx.Err() != nil {
			return
		}
		if !o.opts.Now().Before(hold) {
			res, err := o.pass(ctx, ops, receiver)
			if err != nil {
				o.log.Error("notification pass failed", "receiver", receiver, "error", err)
			}
			hold = res.hold
			if err == nil && res.full && hold.IsZero() {
				continue // more is due than one batch took
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-tick.C:
		}
	}
}

// DeliverDue makes one pass over receiver's due notifications and reports
// how many it delivered. Unlike Run, cancelling ctx also cuts short the
// attempt in flight.
func (o *Outbox) DeliverDue(ctx context.Context, receiver string) (sent int, err error) {
	if o.opts.Store == nil {
		return 0, errors.New("deliver notifications: no store")
	}
	res, err := o.pass(ctx, ctx, receiver)
	return res.sent, err
}

type passResult struct {
	sent int
	full bool      // the pass took a whole batch
	hold time.Time // the receiver asked to wait until then
}

// entry is a due (or, for a group, waiting) item with its decoded message.
type entry struct {
	item store.OutboxItem
	msg  *notify.Message
}

// pass attempts receiver's due items in order. stop ends the pass between
// attempts; ctx carries the attempts themselves.
func (o *Outbox) pass(stop, ctx context.Context, receiver string) (passResult, error) {
	var res passResult
	op := "deliver notifications for " + receiver
	unlock := o.lockReceiver(receiver)
	defer unlock()
	n := o.notifier(receiver)
	if n == nil {
		return res, fmt.Errorf("%s: %w", op, ErrNoNotifier)
	}
	now := o.opts.Now()
	items, err := o.opts.Store.Due(ctx, receiver, now, o.opts.Batch)
	if err != nil {
		return res, fmt.Errorf("%s: %w", op, err)
	}
	res.full = len(items) == o.opts.Batch
	if items, err = o.settleAdopted(ctx, receiver, items); err != nil { // direct.go
		return res, fmt.Errorf("%s: %w", op, err)
	}
	var entries []entry
	for _, it := range items {
		msg, err := decode(it)
		if err != nil {
			o.badPayload(ctx, it, err)
			continue
		}
		entries = append(entries, entry{it, msg})
	}
	groups, err := o.planGroups(ctx, receiver, entries)
	if err != nil {
		// Grouping is a nicety; deliver one by one rather than not at all.
		o.log.Warn("cannot look for notifications to group", "receiver", receiver, "error", err)
		groups = nil
	}
	memberOf := map[string]string{} // item key -> the group it goes out in
	for k, g := range groups {
		for _, m := range g {
			memberOf[m.item.Key] = k
		}
	}
	done := map[string]bool{}
	for _, e := range entries {
		if stop.Err() != nil {
			break
		}
		if done[e.item.Key] {
			continue
		}
		members, grouped := []entry{e}, false
		if k, ok := memberOf[e.item.Key]; ok {
			if g, ok := groups[k]; ok {
				members, grouped = g, true
				delete(groups, k)
			}
		}
		for _, m := range members {
			done[m.item.Key] = true
		}
		out, err := o.attempt(ctx, n, receiver, members, grouped)
		res.sent += out.sent
		if err != nil {
			return res, fmt.Errorf("%s: %w", op, err)
		}
		if !out.hold.IsZero() {
			// The receiver is busy: the rest of the pass would only be
			// rate limited too.
			res.hold, res.full = out.hold, false
			break
		}
	}
	return res, nil
}

func decode(it store.OutboxItem) (*notify.Message, error) {
	var msg notify.Message
	if err := json.Unmarshal(it.Payload, &msg); err != nil {
		return nil, err
	}
	// The row is the authority on what the message is about.
	msg.Key, msg.Receiver = it.Key, it.Receiver
	if msg.Event == "" {
		msg.Event = it.Event
	}
	if msg.IncidentID == 0 {
		msg.IncidentID = it.IncidentID
	}
	return &msg, nil
}

// badPayload fails an item whose payload is not a Message: no attempt can
// send it, and it must not hold back its incident's later events.
func (o *Outbox) badPayload(ctx context.Context, it store.OutboxItem, err error) {
	ctx = context.WithoutCancel(ctx)
	reason := "payload is not a notification message: " + err.Error()
	o.log.Error("notification failed permanently", "receiver", it.Receiver, "key", it.Key,
		"event", it.Event, "error", reason)
	o.m.count(it.Receiver, string(it.Event), "failed")
	if uerr := o.opts.Store.Update(ctx, func(tx *store.Tx) error {
		return tx.MarkFailed(ctx, it.Key, reason)
	}); uerr != nil {
		o.log.Error("cannot record failed notification", "receiver", it.Receiver, "key", it.Key, "error", uerr)
	}
}

// planGroups returns, per GroupKey, the open events to send as one message:
// those of the due entries plus the receiver's pending opens with the same
// key that are not due yet (held back by group_wait so that they gather),
// when together they are at least GroupMin.
func (o *Outbox) planGroups(ctx context.Context, receiver string, entries []entry) (map[string][]entry, error) {
	if o.opts.GroupMin < 0 {
		return nil, nil
	}
	groups := map[string][]entry{}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.item.Key] = true
		if e.item.Event == incident.NotifyOpen && e.msg.GroupKey != "" {
			groups[e.msg.GroupKey] = append(groups[e.msg.GroupKey], e)
		}
	}
	if len(groups) == 0 {
		return nil, nil
	}
	pending, err := o.opts.Store.Outbox(ctx, store.OutboxFilter{Receiver: receiver, State: store.StatePending})
	if err != nil {
		return nil, err
	}
	// An item is only pulled in if nothing earlier of its incident is still
	// pending, the same rule Due applies.
	firstSeq := map[int64]int64{}
	for _, it := range pending {
		if it.IncidentID == 0 {
			continue
		}
		if s, ok := firstSeq[it.IncidentID]; !ok || it.Seq < s {
			firstSeq[it.IncidentID] = it.Seq
		}
	}
	for _, it := range pending {
		if seen[it.Key] || it.Event != incident.NotifyOpen {
			continue
		}
		if it.IncidentID != 0 && firstSeq[it.IncidentID] < it.Seq {
			continue
		}
		msg, err := decode(it)
		if err != nil || msg.GroupKey == "" {
			continue // a bad payload is failed when it comes due
		}
		if g, ok := groups[msg.GroupKey]; ok {
			groups[msg.GroupKey] = append(g, entry{it, msg})
		}
	}
	for k, g := range groups {
		slices.SortFunc(g, func(a, b entry) int { return int(a.item.Seq - b.item.Seq) })
		// A group stands for different monitors failing together: a
		// monitor that flapped has several incidents with the same cause,
		// and those are one monitor's story, told one by one. Its earliest
		// incident may join the group; the others go out on their own.
		type subject struct {
			kind    string
			monitor string
		}
		seenMon := map[subject]bool{}
		kept := g[:0]
		for _, e := range g {
			sj := subject{string(e.msg.Kind), e.msg.Monitor}
			if seenMon[sj] {
				continue
			}
			seenMon[sj] = true
			kept = append(kept, e)
		}
		if len(kept) < o.opts.GroupMin {
			delete(groups, k)
			continue
		}
		groups[k] = kept
	}
	return groups, nil
}

type attemptResult struct {
	sent int
	hold time.Time
}

// attempt sends members as one message (grouped, or a single item) and
// settles the outcome in the store. An error means the store could not be
// read or written; the pass stops then.
func (o *Outbox) attempt(ctx context.Context, n notify.Notifier, receiver string, members []entry, grouped bool) (attemptResult, error) {
	var res attemptResult
	first := members[0]
	ref, inGroup, err := o.ref(ctx, receiver, first.item.IncidentID)
	if err != nil {
		return res, err
	}
	var marked []entry
	err = o.opts.Store.Update(ctx, func(tx *store.Tx) error {
		marked = marked[:0]
		for _, m := range members {
			err := tx.MarkSending(ctx, m.item.Key)
			if errors.Is(err, store.ErrWrongState) || errors.Is(err, store.ErrNotFound) {
				continue // settled meanwhile (an operator, another pass)
			}
			if err != nil {
				return err
			}
			marked = append(marked, m)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if len(marked) == 0 {
		return res, nil
	}
	members = marked
	grouped = grouped && len(members) > 1

	msg := *members[0].msg
	msg.InGroup = inGroup && !grouped
	for _, m := range members {
		msg.Repeat = msg.Repeat || maybeRepeat(m.item)
	}
	if grouped {
		msg.Group = make([]notify.Member, 0, len(members))
		for _, m := range members {
			msg.Group = append(msg.Group, notify.Member{
				IncidentID: m.msg.IncidentID, Key: m.msg.Key, Monitor: m.msg.Monitor, URL: m.msg.URL,
				Class: m.msg.Class, Status: m.msg.Status, Gateway: m.msg.Gateway, Scope: m.msg.Scope,
			})
		}
		msg.Cause = msg.GroupKey
	}
	if msg.InGroup && msg.Event == incident.NotifyResolve && ref != "" {
		g, err := o.groupUpdate(ctx, receiver, ref, &msg)
		if err != nil {
			// The resolve still goes out, in the group's thread; only the
			// group's message is not rewritten.
			o.log.Warn("cannot read the grouped message to update it", "receiver", receiver, "key", msg.Key, "error", err)
		}
		msg.GroupUpdate = g
	}

	sctx, cancel := context.WithTimeout(ctx, o.opts.AttemptTimeout)
	start := time.Now()
	newRef, sendErr := n.Notify(sctx, &msg, ref)
	o.m.observe(receiver, time.Since(start))
	cancel()

	prefix := ""
	if grouped || inGroup {
		prefix = GroupRefPrefix
	}
	res, err = o.settle(context.WithoutCancel(ctx), receiver, members, grouped, sendErr, prefix, newRef)
	if err == nil && res.sent > 0 {
		switch {
		case grouped && newRef != "":
			g := msg
			g.Repeat = false // said once, on the post; not on every rewrite
			o.saveGroup(context.WithoutCancel(ctx), receiver, newRef, &g)
		case msg.GroupUpdate != nil:
			o.saveGroup(context.WithoutCancel(ctx), receiver, ref, msg.GroupUpdate)
		}
	}
	return res, err
}

// groupUpdate is the grouped message at ref as it reads once msg, the
// resolve of one of its members, is delivered: that member marked
// resolved, and the whole message a resolve once every member is. nil when
// the group is not known (a group sent before this was kept, or pruned).
func (o *Outbox) groupUpdate(ctx context.Context, receiver, ref string, msg *notify.Message) (*notify.Message, error) {
	raw, ok, err := o.opts.Store.MessageGroup(ctx, receiver, ref)
	if err != nil || !ok {
		return nil, err
	}
	var g notify.Message
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("decode grouped message %s: %w", ref, err)
	}
	at := msg.ResolvedAt
	if at.IsZero() {
		at = msg.At
	}
	if at.IsZero() {
		at = o.opts.Now()
	}
	found, all := false, true
	var last time.Time
	for i := range g.Group {
		m := &g.Group[i]
		if m.IncidentID == msg.IncidentID && msg.IncidentID != 0 {
			found = true
			if m.ResolvedAt.IsZero() {
				m.ResolvedAt = at
			}
		}
		if m.ResolvedAt.IsZero() {
			all = false
		} else if m.ResolvedAt.After(last) {
			last = m.ResolvedAt
		}
	}
	if !found {
		return nil, nil
	}
	if all {
		g.Event, g.ResolvedAt = incident.NotifyResolve, last
	}
	g.Receiver, g.Repeat, g.InGroup, g.GroupUpdate = receiver, false, false, nil
	return &g, nil
}

// saveGroup keeps what the grouped message at ref now says. Failing to is
// logged, not fatal: the next member's resolve then only replies in the
// group's thread, as it did before groups were kept.
func (o *Outbox) saveGroup(ctx context.Context, receiver, ref string, g *notify.Message) {
	raw, err := json.Marshal(g)
	if err == nil {
		err = o.opts.Store.Update(ctx, func(tx *store.Tx) error {
			return tx.SetMessageGroup(ctx, receiver, ref, raw)
		})
	}
	if err != nil {
		o.log.Warn("cannot keep the grouped message for later updates", "receiver", receiver, "ref", ref, "error", err)
	}
}

// ref returns the stored ref of the incident's message for receiver, and
// whether that message was a grouped one.
func (o *Outbox) ref(ctx context.Context, receiver string, incidentID int64) (string, bool, error) {
	if incidentID == 0 {
		return "", false, nil
	}
	ref, ok, err := o.opts.Store.MessageRef(ctx, receiver, incidentID)
	if err != nil || !ok {
		return "", false, err
	}
	if r, cut := strings.CutPrefix(ref, GroupRefPrefix); cut {
		return r, true, nil
	}
	return ref, false, nil
}

// settle records the outcome of one send for each of its members.
func (o *Outbox) settle(ctx context.Context, receiver string, members []entry, grouped bool, sendErr error, prefix, newRef string) (attemptResult, error) {
	var res attemptResult
	now := o.opts.Now()
	logArgs := func(m entry, extra ...any) []any {
		a := []any{"receiver", receiver, "key", m.item.Key, "event", m.item.Event,
			"attempt", m.item.Attempts + 1}
		if grouped {
			a = append(a, "group", m.msg.GroupKey, "members", len(members))
		}
		return append(a, extra...)
	}
	outcome := func(m entry, o2 string) { o.m.count(receiver, string(m.item.Event), o2) }

	if sendErr == nil {
		err := o.opts.Store.Update(ctx, func(tx *store.Tx) error {
			for _, m := range members {
				if err := tx.MarkDelivered(ctx, m.item.Key); err != nil {
					return err
				}
				if newRef != "" && m.item.IncidentID != 0 {
					if err := tx.SetMessageRef(ctx, receiver, m.item.IncidentID, prefix+newRef); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			// It went out but the store did not take it: it stays "sending"
			// and comes back after a restart as a possible repeat.
			return res, fmt.Errorf("record delivery: %w", err)
		}
		o.clearDegraded(receiver)
		for _, m := range members {
			o.forget(m.item.Key)
			outcome(m, "delivered")
			o.log.Info("notification delivered", logArgs(m, "repeat", maybeRepeat(m.item))...)
		}
		res.sent = len(members)
		return res, nil
	}

	// A send that may have reached the receiver is remembered as such in
	// the same transaction that settles it, whatever else the error says.
	ambiguous := mayHaveArrived(sendErr)
	markAmbiguous := func(tx *store.Tx, m entry) error {
		if !ambiguous {
			return nil
		}
		return tx.MarkMaybeSent(ctx, m.item.Key)
	}

	if p, ok := notify.IsPermanent(sendErr); ok {
		reason := p.Reason
		if reason == "" {
			reason = sendErr.Error()
		}
		err := o.opts.Store.Update(ctx, func(tx *store.Tx) error {
			for _, m := range members {
				if err := markAmbiguous(tx, m); err != nil {
					return err
				}
				if err := tx.MarkFailed(ctx, m.item.Key, reason); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("record failed notification: %w", err)
		}
		for _, m := range members {
			o.forget(m.item.Key)
			outcome(m, "failed")
			o.log.Error("notification failed permanently", logArgs(m, "reason", reason, "error", sendErr)...)
		}
		return res, nil
	}

	if ra, ok := notify.IsRetryAfter(sendErr); ok {
		next := now.Add(o.retryAfter(receiver, now, ra.After))
		err := o.opts.Store.Update(ctx, func(tx *store.Tx) error {
			for _, m := range members {
				if err := markAmbiguous(tx, m); err != nil {
					return err
				}
				if err := tx.MarkRetry(ctx, m.item.Key, next, sendErr.Error()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("record rate-limited notification: %w", err)
		}
		o.rlMu.Lock()
		for _, m := range members {
			o.rateLimited[m.item.Key]++
		}
		o.rlMu.Unlock()
		for _, m := range members {
			outcome(m, "rate_limited")
			o.log.Warn("notification rate limited", logArgs(m, "retry_at", next, "error", sendErr)...)
		}
		res.hold = next
		return res, nil
	}

	errText := sendErr.Error()
	if errors.Is(sendErr, context.DeadlineExceeded) {
		errText = ambiguousPrefix + errText
	}
	// One retry time for all members, so that a group stays together.
	worst := 0
	for _, m := range members {
		worst = max(worst, o.failures(m.item))
	}
	next := now.Add(o.backoff(worst))
	var gaveUp []bool
	err := o.opts.Store.Update(ctx, func(tx *store.Tx) error {
		gaveUp = gaveUp[:0]
		for _, m := range members {
			if err := markAmbiguous(tx, m); err != nil {
				return err
			}
			if f := o.failures(m.item); f >= o.opts.MaxAttempts && !m.msg.Persistent {
				gaveUp = append(gaveUp, true)
				if err := tx.MarkFailed(ctx, m.item.Key, fmt.Sprintf("gave up after %d attempts: %s", f, errText)); err != nil {
					return err
				}
				continue
			}
			gaveUp = append(gaveUp, false)
			if err := tx.MarkRetry(ctx, m.item.Key, next, errText); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("record failed attempt: %w", err)
	}
	for i, m := range members {
		if gaveUp[i] {
			o.forget(m.item.Key)
			outcome(m, "failed")
			o.log.Error("notification failed, giving up", logArgs(m, "error", sendErr)...)
			continue
		}
		outcome(m, "retry")
		o.log.Warn("notification attempt failed, will retry", logArgs(m, "retry_at", next, "error", sendErr)...)
	}
	return res, nil
}

// maybeRepeat reports whether an earlier attempt of it may have reached the
// receiver: the daemon died during it, or it ended ambiguously (see
// notify.AmbiguousError); the prefix is how stores of earlier versions
// recorded a timeout.
// mayHaveArrived says whether a failed send may still have reached the
// receiver: it said so (notify.Ambiguous), or the attempt ran out of time
// with the request possibly taken. Both the outbox and sends from memory
// decide it here.
func mayHaveArrived(err error) bool {
	return notify.IsAmbiguous(err) || errors.Is(err, context.DeadlineExceeded)
}

// retryAfter is how long to leave receiver alone after it asked for after
// (0: it named no time). Honouring a day-long Retry-After would hold every
// alert of this receiver for a day: past MaxRetryAfter it is tried again at
// the cap, and the receiver is degraded until it takes a message again.
func (o *Outbox) retryAfter(receiver string, now time.Time, after time.Duration) time.Duration {
	if after <= 0 {
		after = o.opts.BaseBackoff
	}
	if after > o.opts.MaxRetryAfter {
		o.setDegraded(receiver, now, fmt.Sprintf("asked to retry after %s, more than max_retry_after %s",
			after, o.opts.MaxRetryAfter))
		after = o.opts.MaxRetryAfter
	}
	return after
}

func maybeRepeat(it store.OutboxItem) bool {
	return it.MaybeSent || strings.HasPrefix(it.LastError, ambiguousPrefix)
}

func (o *Outbox) setDegraded(receiver string, now time.Time, reason string) {
	o.dgMu.Lock()
	defer o.dgMu.Unlock()
	d, ok := o.degraded[receiver]
	if !ok {
		d.Since = now
		o.log.Warn("receiver degraded", "receiver", receiver, "reason", reason)
	}
	d.Reason = reason
	o.degraded[receiver] = d
	o.m.degraded.WithLabelValues(receiver).Set(1)
}

func (o *Outbox) clearDegraded(receiver string) {
	o.dgMu.Lock()
	defer o.dgMu.Unlock()
	if _, ok := o.degraded[receiver]; ok {
		delete(o.degraded, receiver)
		o.log.Info("receiver delivers again", "receiver", receiver)
	}
	o.m.degraded.WithLabelValues(receiver).Set(0)
}

// Degraded returns the receivers that are degraded now (for the API).
func (o *Outbox) Degraded() map[string]Degradation {
	o.dgMu.Lock()
	defer o.dgMu.Unlock()
	out := make(map[string]Degradation, len(o.degraded))
	for r, d := range o.degraded {
		out[r] = d
	}
	return out
}

// failures is how many attempts of it, including the current one, count
// towards MaxAttempts.
func (o *Outbox) failures(it store.OutboxItem) int {
	o.rlMu.Lock()
	defer o.rlMu.Unlock()
	return max(it.Attempts+1-o.rateLimited[it.Key], 1)
}

func (o *Outbox) forget(key string) {
	o.rlMu.Lock()
	delete(o.rateLimited, key)
	o.rlMu.Unlock()
}

// backoffCap is the longest wait after the given number of failed
// attempts: BaseBackoff doubled per earlier failure, at most MaxBackoff.
func (o *Outbox) backoffCap(failures int) time.Duration {
	d := o.opts.BaseBackoff
	for i := 1; i < failures && d < o.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.opts.MaxBackoff)
}

// backoff is the wait before the next attempt, with full jitter so that
// receivers that failed together do not retry together.
func (o *Outbox) backoff(failures int) time.Duration {
	c := o.backoffCap(failures)
	return min(max(o.opts.Jitter(c), 0), c)
}
