package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
)

// OutboxState is where a notification stands. A delivered notification is
// no longer in the outbox.
type OutboxState string

// The outbox states.
const (
	StatePending OutboxState = "pending" // waiting for its next attempt
	StateSending OutboxState = "sending" // an attempt is in flight
	StateFailed  OutboxState = "failed"  // permanently failed; kept for the API
)

// OutboxEvent is a notification to enqueue.
type OutboxEvent struct {
	// Key makes the event idempotent: enqueueing a key that is in the outbox
	// or was delivered is a no-op.
	Key      string
	Receiver string
	// IncidentID orders events: for one receiver, an event of an incident is
	// not due while an earlier event of the same incident is pending or
	// sending. 0 means no incident, and no ordering.
	IncidentID int64
	Event      incident.Notification
	Payload    json.RawMessage
	// NotBefore delays the first attempt; zero means now.
	NotBefore time.Time
}

// OutboxItem is a notification in the outbox.
type OutboxItem struct {
	Key        string
	Receiver   string
	IncidentID int64
	Event      incident.Notification
	// Seq orders a receiver's events in enqueue order.
	Seq     int64
	Payload json.RawMessage
	State   OutboxState
	// Attempts counts MarkSending calls.
	Attempts int
	// MaybeSent is set when the daemon stopped while this event was being
	// sent: it may have reached the receiver, so a new attempt is a possible
	// repeat and should say so.
	MaybeSent     bool
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Enqueue adds a notification to the outbox. existed is true, and nothing is
// written, when the key is already in the outbox (in any state) or was
// delivered within KeepDelivered.
func (t *Tx) Enqueue(ctx context.Context, ev OutboxEvent) (existed bool, err error) {
	if ev.Key == "" || ev.Receiver == "" {
		return false, fmt.Errorf("enqueue notification: %w: key and receiver are required", ErrInvalid)
	}
	op := fmt.Sprintf("enqueue notification %s for %s", ev.Key, ev.Receiver)
	if !ev.Event.Valid() {
		return false, fmt.Errorf("%s: %w: unknown event kind %q", op, ErrInvalid, ev.Event)
	}
	payload := ev.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	if !json.Valid(payload) {
		return false, fmt.Errorf("%s: %w: payload is not valid JSON", op, ErrInvalid)
	}
	var one int
	err = t.tx.QueryRowContext(ctx, `SELECT 1 FROM outbox WHERE key = ?
		UNION ALL SELECT 1 FROM delivered WHERE key = ?`, ev.Key, ev.Key).Scan(&one)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, t.wrap(op, err)
	}
	var seq int64
	if err := t.tx.QueryRowContext(ctx, `INSERT INTO outbox_seq (receiver, last_seq) VALUES (?, 1)
		ON CONFLICT (receiver) DO UPDATE SET last_seq = last_seq + 1
		RETURNING last_seq`, ev.Receiver).Scan(&seq); err != nil {
		return false, t.wrap(op, err)
	}
	now := t.s.now()
	next := ev.NotBefore
	if next.IsZero() {
		next = now
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO outbox
		(key, receiver, incident_id, event, seq, payload, state, next_attempt_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
		ev.Key, ev.Receiver, ev.IncidentID, string(ev.Event), seq, string(payload),
		toNanos(next), toNanos(now), toNanos(now)); err != nil {
		return false, t.wrap(op, err)
	}
	t.durable = true
	return false, nil
}

// move updates one outbox row that is in one of the states `from`, or
// explains why it could not.
func (t *Tx) move(ctx context.Context, op, key string, from []OutboxState, set string, args ...any) error {
	marks := strings.TrimSuffix(strings.Repeat("?,", len(from)), ",")
	all := append(args, key)
	for _, f := range from {
		all = append(all, string(f))
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE outbox SET `+set+` WHERE key = ? AND state IN (`+marks+`)`, all...)
	if err != nil {
		return t.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.wrap(op, err)
	}
	if n == 0 {
		var state string
		err := t.tx.QueryRowContext(ctx, `SELECT state FROM outbox WHERE key = ?`, key).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s: %w", op, ErrNotFound)
		}
		if err != nil {
			return t.wrap(op, err)
		}
		return fmt.Errorf("%s: %w: it is %s", op, ErrWrongState, state)
	}
	t.durable = true
	return nil
}

// MarkSending records that an attempt is about to start. Call it, in its own
// Update, before each send: if the daemon dies before MarkDelivered, the
// event comes back with MaybeSent.
func (t *Tx) MarkSending(ctx context.Context, key string) error {
	return t.move(ctx, "mark notification "+key+" sending", key, []OutboxState{StatePending},
		`state = 'sending', attempts = attempts + 1, updated_at = ?`, toNanos(t.s.now()))
}

// MarkDelivered removes the event from the outbox and remembers its key as
// delivered, so that enqueueing it again is a no-op.
func (t *Tx) MarkDelivered(ctx context.Context, key string) error {
	op := "mark notification " + key + " delivered"
	res, err := t.tx.ExecContext(ctx, `INSERT INTO delivered
		(key, receiver, incident_id, event, attempts, maybe_sent, delivered_at)
		SELECT key, receiver, incident_id, event, attempts, maybe_sent, ? FROM outbox WHERE key = ?`,
		toNanos(t.s.now()), key)
	if err != nil {
		return t.wrap(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return t.wrap(op, err)
	} else if n == 0 {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM outbox WHERE key = ?`, key); err != nil {
		return t.wrap(op, err)
	}
	t.durable = true
	return nil
}

// MarkRetry puts an event back to pending for another attempt at nextAt,
// recording why the last attempt failed.
func (t *Tx) MarkRetry(ctx context.Context, key string, nextAt time.Time, errText string) error {
	errText = t.s.opts.Redact(errText)
	return t.move(ctx, "mark notification "+key+" for retry", key, []OutboxState{StateSending, StatePending},
		`state = 'pending', next_attempt_at = ?, last_error = ?, updated_at = ?`,
		toNanos(nextAt), errText, toNanos(t.s.now()))
}

// MarkMaybeSent records that an attempt at the event may have reached the
// receiver although it failed (no answer after the whole request was
// written). The flag is never cleared: MarkRetry, MarkFailed and later
// attempts leave it, and MarkDelivered carries it into the delivered
// table, so whichever copy goes out next is marked a possible repeat.
func (t *Tx) MarkMaybeSent(ctx context.Context, key string) error {
	return t.move(ctx, "mark notification "+key+" as possibly delivered", key,
		[]OutboxState{StateSending, StatePending, StateFailed},
		`maybe_sent = 1, updated_at = ?`, toNanos(t.s.now()))
}

// MarkFailed gives up on an event for good, with the reason. It stays in the
// outbox in state failed for the API and metrics, and no longer holds back
// later events of its incident.
func (t *Tx) MarkFailed(ctx context.Context, key, reason string) error {
	reason = t.s.opts.Redact(reason)
	return t.move(ctx, "mark notification "+key+" failed", key, []OutboxState{StateSending, StatePending},
		`state = 'failed', last_error = ?, updated_at = ?`, reason, toNanos(t.s.now()))
}

// Requeue puts a failed event back to pending, due now (an operator's retry).
func (t *Tx) Requeue(ctx context.Context, key string) error {
	now := toNanos(t.s.now())
	return t.move(ctx, "requeue notification "+key, key, []OutboxState{StateFailed},
		`state = 'pending', next_attempt_at = ?, updated_at = ?`, now, now)
}

// recoverOutbox runs at Open: a row still "sending" was in flight when the
// previous process died, so it may have been delivered. It becomes pending
// again, flagged MaybeSent.
func (s *Store) recoverOutbox(ctx context.Context) error {
	_, err := s.w.ExecContext(ctx, `UPDATE outbox SET state = 'pending', maybe_sent = 1, updated_at = ?
		WHERE state = 'sending'`, toNanos(s.now()))
	if err != nil {
		return classify(s.path, "recover interrupted notifications", err)
	}
	return nil
}

const outboxCols = `key, receiver, incident_id, event, seq, payload, state, attempts, maybe_sent,
	next_attempt_at, last_error, created_at, updated_at`

func (s *Store) queryOutbox(ctx context.Context, op, q string, args ...any) ([]OutboxItem, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, classify(s.path, op, err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		var (
			it                     OutboxItem
			event, state, payload  string
			next, created, updated int64
		)
		if err := rows.Scan(&it.Key, &it.Receiver, &it.IncidentID, &event, &it.Seq, &payload, &state,
			&it.Attempts, &it.MaybeSent, &next, &it.LastError, &created, &updated); err != nil {
			return nil, classify(s.path, op, err)
		}
		it.Event, it.State, it.Payload = incident.Notification(event), OutboxState(state), json.RawMessage(payload)
		it.NextAttemptAt, it.CreatedAt, it.UpdatedAt = fromNanos(next), fromNanos(created), fromNanos(updated)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(s.path, op, err)
	}
	return out, nil
}

// Due returns up to limit of receiver's events that may be attempted at now,
// in enqueue order. An event is held back while an earlier event of the same
// incident for the same receiver is pending or sending, so that a resolve is
// never sent before its open; a failed earlier event does not hold it back.
func (s *Store) Due(ctx context.Context, receiver string, now time.Time, limit int) ([]OutboxItem, error) {
	return s.queryOutbox(ctx, "list due notifications for "+receiver,
		`SELECT `+outboxCols+` FROM outbox o
		 WHERE o.receiver = ? AND o.state = 'pending' AND o.next_attempt_at <= ?
		   AND (o.incident_id = 0 OR NOT EXISTS (
		        SELECT 1 FROM outbox p
		        WHERE p.receiver = o.receiver AND p.incident_id = o.incident_id
		          AND p.seq < o.seq AND p.state IN ('pending', 'sending')))
		 ORDER BY o.seq LIMIT ?`, receiver, toNanos(now), limit)
}

// OutboxFilter selects outbox rows for Outbox. Zero fields match everything.
type OutboxFilter struct {
	Receiver string
	State    OutboxState
	Limit    int // 0 means 1000
}

// Outbox lists events in the outbox (for the API), by receiver and sequence.
func (s *Store) Outbox(ctx context.Context, f OutboxFilter) ([]OutboxItem, error) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	return s.queryOutbox(ctx, "list notifications",
		`SELECT `+outboxCols+` FROM outbox
		 WHERE (?1 = '' OR receiver = ?1) AND (?2 = '' OR state = ?2)
		 ORDER BY receiver, seq LIMIT ?3`, f.Receiver, string(f.State), f.Limit)
}

// OutboxItem returns the event with that key while it is in the outbox, or
// ErrNotFound (which includes delivered events).
func (s *Store) OutboxItem(ctx context.Context, key string) (OutboxItem, error) {
	list, err := s.queryOutbox(ctx, "read notification "+key,
		`SELECT `+outboxCols+` FROM outbox WHERE key = ?`, key)
	if err != nil {
		return OutboxItem{}, err
	}
	if len(list) == 0 {
		return OutboxItem{}, fmt.Errorf("read notification %s: %w", key, ErrNotFound)
	}
	return list[0], nil
}

// Delivered reports whether the key was delivered (and is still remembered)
// and when.
func (s *Store) Delivered(ctx context.Context, key string) (at time.Time, ok bool, err error) {
	var n int64
	err = s.r.QueryRowContext(ctx, `SELECT delivered_at FROM delivered WHERE key = ?`, key).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, classify(s.path, "read delivery of "+key, err)
	}
	return fromNanos(n), true, nil
}

// OutboxCount is the number of events of one receiver in one state.
type OutboxCount struct {
	Receiver string
	State    OutboxState
	Count    int
}

// OutboxCounts counts the outbox by receiver and state, for metrics.
func (s *Store) OutboxCounts(ctx context.Context) ([]OutboxCount, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT receiver, state, count(*) FROM outbox
		GROUP BY receiver, state ORDER BY receiver, state`)
	if err != nil {
		return nil, classify(s.path, "count notifications", err)
	}
	defer rows.Close()
	var out []OutboxCount
	for rows.Next() {
		var c OutboxCount
		var state string
		if err := rows.Scan(&c.Receiver, &state, &c.Count); err != nil {
			return nil, classify(s.path, "count notifications", err)
		}
		c.State = OutboxState(state)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(s.path, "count notifications", err)
	}
	return out, nil
}

// SetMessageRef remembers the receiver's reference for an incident's message
// (a Slack channel and ts, an email Message-ID), so that later events update
// or thread onto it, across restarts.
func (t *Tx) SetMessageRef(ctx context.Context, receiver string, incidentID int64, ref string) error {
	if receiver == "" {
		return fmt.Errorf("set message ref: %w: empty receiver", ErrInvalid)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO message_refs (receiver, incident_id, ref, updated_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (receiver, incident_id)
		DO UPDATE SET ref = excluded.ref, updated_at = excluded.updated_at`,
		receiver, incidentID, ref, toNanos(t.s.now())); err != nil {
		return t.wrap(fmt.Sprintf("set message ref of incident %d for %s", incidentID, receiver), err)
	}
	t.durable = true
	return nil
}

func messageRef(ctx context.Context, q querier, path, receiver string, incidentID int64) (string, bool, error) {
	var ref string
	err := q.QueryRowContext(ctx, `SELECT ref FROM message_refs WHERE receiver = ? AND incident_id = ?`,
		receiver, incidentID).Scan(&ref)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, classify(path, fmt.Sprintf("read message ref of incident %d for %s", incidentID, receiver), err)
	}
	return ref, true, nil
}

// MessageRef returns the stored reference, if any.
func (s *Store) MessageRef(ctx context.Context, receiver string, incidentID int64) (string, bool, error) {
	return messageRef(ctx, s.r, s.path, receiver, incidentID)
}

// MessageRef is Store.MessageRef inside the transaction.
func (t *Tx) MessageRef(ctx context.Context, receiver string, incidentID int64) (string, bool, error) {
	return messageRef(ctx, t.tx, t.s.path, receiver, incidentID)
}

// SetMessageGroup remembers what the receiver's grouped message at ref
// says (opaque JSON), so that a member's later event can rewrite it.
func (t *Tx) SetMessageGroup(ctx context.Context, receiver, ref string, message json.RawMessage) error {
	op := fmt.Sprintf("set grouped message %s for %s", ref, receiver)
	if receiver == "" || ref == "" {
		return fmt.Errorf("%s: %w: empty receiver or ref", op, ErrInvalid)
	}
	if !json.Valid(message) {
		return fmt.Errorf("%s: %w: message is not valid JSON", op, ErrInvalid)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO message_groups (receiver, ref, message, updated_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (receiver, ref)
		DO UPDATE SET message = excluded.message, updated_at = excluded.updated_at`,
		receiver, ref, string(message), toNanos(t.s.now())); err != nil {
		return t.wrap(op, err)
	}
	t.durable = true
	return nil
}

// MessageGroup returns what SetMessageGroup stored for the receiver's
// grouped message at ref, if anything.
func (s *Store) MessageGroup(ctx context.Context, receiver, ref string) (json.RawMessage, bool, error) {
	var msg string
	err := s.r.QueryRowContext(ctx, `SELECT message FROM message_groups WHERE receiver = ? AND ref = ?`,
		receiver, ref).Scan(&msg)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, classify(s.path, fmt.Sprintf("read grouped message %s for %s", ref, receiver), err)
	}
	return json.RawMessage(msg), true, nil
}

// KeyStatus is where one notification key stands.
type KeyStatus int

// The key statuses.
const (
	// KeyUnknown: never enqueued (or delivered so long ago it was pruned).
	KeyUnknown KeyStatus = iota
	// KeyQueued: pending and never attempted: nobody has seen it yet,
	// and it is held back until a later time (a group wait, a
	// maintenance window).
	KeyQueued
	// KeyAttempted: in the outbox after at least one attempt (pending
	// again, sending, or failed): it may have been seen.
	KeyAttempted
	// KeyDelivered: delivered.
	KeyDelivered
	// KeyOverdue: pending and never attempted although it was due before
	// now: nobody has seen it, because its receiver has not taken it in
	// time (rate limited, failing, a backlog, no notifier).
	KeyOverdue
)

// KeyStatus reports where a notification key stands, so that the planner
// can tell a muted alert nobody saw from one that went out.
func (t *Tx) KeyStatus(ctx context.Context, key string) (KeyStatus, error) {
	op := "look up notification " + key
	var (
		state    string
		attempts int
		maybe    bool
		next     int64
	)
	err := t.tx.QueryRowContext(ctx, `SELECT state, attempts, maybe_sent, next_attempt_at FROM outbox WHERE key = ?`,
		key).Scan(&state, &attempts, &maybe, &next)
	switch {
	case err == nil:
		if OutboxState(state) == StatePending && attempts == 0 && !maybe {
			if next < toNanos(t.s.now()) {
				return KeyOverdue, nil
			}
			return KeyQueued, nil
		}
		return KeyAttempted, nil
	case !errors.Is(err, sql.ErrNoRows):
		return KeyUnknown, t.wrap(op, err)
	}
	var one int
	err = t.tx.QueryRowContext(ctx, `SELECT 1 FROM delivered WHERE key = ?`, key).Scan(&one)
	switch {
	case err == nil:
		return KeyDelivered, nil
	case errors.Is(err, sql.ErrNoRows):
		return KeyUnknown, nil
	}
	return KeyUnknown, t.wrap(op, err)
}

// CancelQueued withdraws every notification of an incident for a receiver
// that nobody has seen (pending, never attempted): the alerts held back by
// a maintenance window or a group wait, or queued behind an unavailable
// receiver, when the incident resolved before they went out. Anything that may have gone out stays. It returns how
// many it withdrew.
func (t *Tx) CancelQueued(ctx context.Context, receiver string, incidentID int64) (int, error) {
	op := fmt.Sprintf("withdraw unsent notifications of incident %d for %s", incidentID, receiver)
	if incidentID == 0 {
		return 0, fmt.Errorf("%s: %w: no incident", op, ErrInvalid)
	}
	res, err := t.tx.ExecContext(ctx, `DELETE FROM outbox WHERE receiver = ? AND incident_id = ?
		AND state = 'pending' AND attempts = 0 AND maybe_sent = 0`, receiver, incidentID)
	if err != nil {
		return 0, t.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.wrap(op, err)
	}
	if n > 0 {
		t.durable = true
	}
	return int(n), nil
}
