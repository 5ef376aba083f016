package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/silence"
)

// The kinds of action in the action log.
const (
	ActionSilenceAdd    = "silence-add"
	ActionSilenceExpire = "silence-expire"
	ActionAck           = "ack"
	ActionRecheck       = "recheck"
)

// Action is one row of the action log: who did what, when, to which
// incident, monitor or silence.
type Action struct {
	ID         int64
	At         time.Time
	By         string
	What       string // one of the Action* constants
	IncidentID int64  // 0 for none
	Monitor    string
	SilenceID  int64 // 0 for none
	Detail     string
}

// RecordAction appends a to the action log and sets its ID (and At, to the
// store's clock, when it is zero).
func (t *Tx) RecordAction(ctx context.Context, a *Action) error {
	op := "record action " + a.What
	switch a.What {
	case ActionSilenceAdd, ActionSilenceExpire, ActionAck, ActionRecheck:
	default:
		return fmt.Errorf("%s: %w: unknown action", op, ErrInvalid)
	}
	if a.By == "" {
		return fmt.Errorf("%s: %w: no author", op, ErrInvalid)
	}
	if a.At.IsZero() {
		a.At = t.s.now()
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO actions (at, by, what, incident_id, monitor, silence_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		toNanos(a.At), a.By, a.What, nullID(a.IncidentID), a.Monitor, nullID(a.SilenceID), a.Detail)
	if err != nil {
		return t.wrap(op, err)
	}
	a.ID, _ = res.LastInsertId()
	t.durable = true
	return nil
}

// ActionsFor is the action log of incident id, oldest first.
func (s *Store) ActionsFor(ctx context.Context, id int64) ([]Action, error) {
	m, err := s.ActionsForIncidents(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	return m[id], nil
}

// ActionsForIncidents is the action log of each of ids, oldest first, in
// one query (for a list of incidents).
func (s *Store) ActionsForIncidents(ctx context.Context, ids []int64) (map[int64][]Action, error) {
	op := "read the action log of incidents"
	out := make(map[int64][]Action, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, by, what, coalesce(incident_id, 0), monitor,
		coalesce(silence_id, 0), detail FROM actions
		WHERE incident_id IN (SELECT value FROM json_each(?)) ORDER BY at, id`, string(b))
	if err != nil {
		return nil, classify(s.path, op, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a  Action
			at int64
		)
		if err := rows.Scan(&a.ID, &at, &a.By, &a.What, &a.IncidentID, &a.Monitor, &a.SilenceID, &a.Detail); err != nil {
			return nil, classify(s.path, op, err)
		}
		a.At = fromNanos(at)
		out[a.IncidentID] = append(out[a.IncidentID], a)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(s.path, op, err)
	}
	return out, nil
}

// AckIncident records ack on open incident id. It returns the incident as
// stored afterwards; when it was acknowledged already, the first ack stays
// and first is false. A resolved incident is ErrIncidentResolved, an
// unknown one ErrNotFound.
func (t *Tx) AckIncident(ctx context.Context, id int64, ack incident.Ack) (inc incident.Incident, first bool, err error) {
	op := fmt.Sprintf("acknowledge incident %d", id)
	aj, err := marshalAck(&ack)
	if err != nil {
		return inc, false, fmt.Errorf("%s: encode: %w", op, err)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE incidents SET ack = ?, updated_at = ?
		WHERE id = ? AND resolved_at IS NULL AND ack IS NULL`, aj, toNanos(t.s.now()), id)
	if err != nil {
		return inc, false, t.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return inc, false, t.wrap(op, err)
	}
	inc, err = getIncident(ctx, t.tx, t.s.path, id)
	if err != nil {
		return inc, false, err
	}
	if !inc.Open() {
		return inc, false, fmt.Errorf("%s: %w", op, ErrIncidentResolved)
	}
	if n > 0 {
		t.durable = true
	}
	return inc, n > 0, nil
}

const silenceCols = `id, matchers, start_at, end_at, until_resolved, created_by, created_at, comment, expired_at, expired_by`

func scanSilence(sc interface{ Scan(...any) error }) (silence.Silence, error) {
	var (
		s              silence.Silence
		matchers       []byte
		start, created int64
		end, expired   sql.NullInt64
	)
	if err := sc.Scan(&s.ID, &matchers, &start, &end, &s.UntilResolved, &s.CreatedBy, &created,
		&s.Comment, &expired, &s.ExpiredBy); err != nil {
		return s, err
	}
	s.Start, s.CreatedAt = fromNanos(start), fromNanos(created)
	s.End, s.ExpiredAt = fromNullNanos(end), fromNullNanos(expired)
	if err := json.Unmarshal(matchers, &s.Matchers); err != nil {
		return s, fmt.Errorf("decode matchers of silence %d: %w", s.ID, err)
	}
	return s, nil
}

func querySilences(ctx context.Context, q querier, path, op, query string, args ...any) ([]silence.Silence, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(path, op, err)
	}
	defer rows.Close()
	var out []silence.Silence
	for rows.Next() {
		s, err := scanSilence(rows)
		if err != nil {
			return nil, classify(path, op, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(path, op, err)
	}
	return out, nil
}

// AddSilence stores s (validated by the caller) and sets its ID.
func (t *Tx) AddSilence(ctx context.Context, s *silence.Silence) error {
	op := "add silence"
	if s.Matchers.Empty() || s.CreatedBy == "" || s.Start.IsZero() {
		return fmt.Errorf("%s: %w: matchers, author and start are required", op, ErrInvalid)
	}
	if s.CreatedAt.IsZero() {
		s.CreatedAt = t.s.now()
	}
	mj, err := json.Marshal(&s.Matchers)
	if err != nil {
		return fmt.Errorf("%s: encode matchers: %w", op, err)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO silences
		(matchers, start_at, end_at, until_resolved, created_by, created_at, comment, expired_at, expired_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(mj), toNanos(s.Start), nullNanos(s.End), s.UntilResolved, s.CreatedBy, toNanos(s.CreatedAt),
		s.Comment, nullNanos(s.ExpiredAt), s.ExpiredBy)
	if err != nil {
		return t.wrap(op, err)
	}
	s.ID, _ = res.LastInsertId()
	t.durable = true
	return nil
}

// Silence reads silence id (ErrNotFound when there is none).
func (t *Tx) Silence(ctx context.Context, id int64) (silence.Silence, error) {
	op := fmt.Sprintf("read silence %d", id)
	list, err := querySilences(ctx, t.tx, t.s.path, op, `SELECT `+silenceCols+` FROM silences WHERE id = ?`, id)
	if err != nil {
		return silence.Silence{}, err
	}
	if len(list) == 0 {
		return silence.Silence{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return list[0], nil
}

// Silences lists silences newest first: with all, every one kept; without,
// those that can still mute at or after now (in force or to come).
func (s *Store) Silences(ctx context.Context, all bool, now time.Time) ([]silence.Silence, error) {
	list, err := querySilences(ctx, s.r, s.path, "list silences",
		`SELECT `+silenceCols+` FROM silences ORDER BY created_at DESC, id DESC`)
	if err != nil || all {
		return list, err
	}
	return silence.Set(list).Live(now), nil
}

// ExpireSilence ends silence id at `at`, by `by`. A silence that is over
// already (expired, or past its end) is returned as it is, with changed
// false.
func (t *Tx) ExpireSilence(ctx context.Context, id int64, at time.Time, by string) (s silence.Silence, changed bool, err error) {
	s, err = t.Silence(ctx, id)
	if err != nil {
		return s, false, err
	}
	if s.Done(at) {
		return s, false, nil
	}
	if _, err := t.tx.ExecContext(ctx, `UPDATE silences SET expired_at = ?, expired_by = ? WHERE id = ?`,
		toNanos(at), by, id); err != nil {
		return s, false, t.wrap(fmt.Sprintf("expire silence %d", id), err)
	}
	s.ExpiredAt, s.ExpiredBy = at.UTC(), by
	t.durable = true
	return s, true, nil
}

// HeldIncidents are the incidents with a notification nobody has seen that
// is held back to after now (a window's or a silence's end, a group wait).
func (t *Tx) HeldIncidents(ctx context.Context, now time.Time) ([]int64, error) {
	op := "list incidents with held notifications"
	rows, err := t.tx.QueryContext(ctx, `SELECT DISTINCT incident_id FROM outbox
		WHERE state = 'pending' AND attempts = 0 AND maybe_sent = 0 AND incident_id != 0
		  AND next_attempt_at > ? ORDER BY incident_id`, toNanos(now))
	if err != nil {
		return nil, t.wrap(op, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, t.wrap(op, err)
		}
		out = append(out, id)
	}
	return out, t.wrap(op, rows.Err())
}

// ReleaseHeld moves the notifications of incident id that nobody has seen
// and that are held back to exactly heldUntil to `to` instead: what a
// silence ended early held back goes out now, and nothing else (a group
// wait, another window) moves. It returns how many moved.
func (t *Tx) ReleaseHeld(ctx context.Context, id int64, heldUntil, to time.Time) (int, error) {
	op := fmt.Sprintf("release held notifications of incident %d", id)
	if id == 0 {
		return 0, fmt.Errorf("%s: %w: no incident", op, ErrInvalid)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE outbox SET next_attempt_at = ?, updated_at = ?
		WHERE incident_id = ? AND state = 'pending' AND attempts = 0 AND maybe_sent = 0
		  AND next_attempt_at = ?`, toNanos(to), toNanos(t.s.now()), id, toNanos(heldUntil))
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

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }
