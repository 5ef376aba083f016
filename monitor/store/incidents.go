package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// AlreadyOpenError is returned by OpenIncident when the monitor already has
// an open incident of that kind. It matches ErrIncidentAlreadyOpen.
type AlreadyOpenError struct {
	Monitor string
	Kind    incident.Kind
	ID      int64 // the incident that is open
}

func (e *AlreadyOpenError) Error() string {
	return fmt.Sprintf("open %s incident for %s: incident %d is already open", e.Kind, e.Monitor, e.ID)
}

// Is makes errors.Is(err, ErrIncidentAlreadyOpen) true.
func (e *AlreadyOpenError) Is(target error) bool { return target == ErrIncidentAlreadyOpen }

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func marshalLast(r *result.Outcome) (sql.NullString, error) {
	if r == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

func marshalAck(a *incident.Ack) (sql.NullString, error) {
	if a == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

func marshalChanges(c []incident.Change) (string, error) {
	if c == nil {
		return "[]", nil
	}
	b, err := json.Marshal(c)
	return string(b), err
}

// OpenIncident records a new open incident and sets inc.ID (and OpenedAt, to
// the store's clock, when it is zero). If the monitor already has an open
// incident of the same kind it returns an *AlreadyOpenError and writes
// nothing; the transaction stays usable.
func (t *Tx) OpenIncident(ctx context.Context, inc *incident.Incident) error {
	if inc.Monitor == "" || inc.Kind == "" {
		return fmt.Errorf("open incident: %w: monitor and kind are required", ErrInvalid)
	}
	if !inc.ResolvedAt.IsZero() {
		return fmt.Errorf("open incident for %s: %w: it has a resolved_at", inc.Monitor, ErrInvalid)
	}
	if inc.OpenedAt.IsZero() {
		inc.OpenedAt = result.TimeOf(t.s.now())
	}
	changes, err := marshalChanges(inc.Changes)
	if err != nil {
		return fmt.Errorf("open incident for %s: encode changes: %w", inc.Monitor, err)
	}
	last, err := marshalLast(inc.Last)
	if err != nil {
		return fmt.Errorf("open incident for %s: encode last result: %w", inc.Monitor, err)
	}
	ack, err := marshalAck(inc.Ack)
	if err != nil {
		return fmt.Errorf("open incident for %s: encode ack: %w", inc.Monitor, err)
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO incidents
		(monitor, kind, severity, opened_at, class, gateway, detail, status, scope,
		 flapping, resolution, changes, last, updated_at, regions, first_failure_at,
		 recovered_at, open_scope, ack)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		inc.Monitor, string(inc.Kind), string(inc.Severity), toNanos(inc.OpenedAt.Time),
		string(inc.Class), inc.Gateway, inc.Detail, inc.Status, inc.Scope,
		inc.Flapping, inc.Resolution, changes, last, toNanos(t.s.now()),
		marshalRegions(inc.Regions), nullNanos(inc.FirstFailure.Time),
		nullNanos(inc.RecoveredAt.Time), string(inc.OpenScope), ack)
	if isUniqueViolation(err) {
		e := &AlreadyOpenError{Monitor: inc.Monitor, Kind: inc.Kind}
		_ = t.tx.QueryRowContext(ctx, `SELECT id FROM incidents
			WHERE monitor = ? AND kind = ? AND resolved_at IS NULL`,
			inc.Monitor, string(inc.Kind)).Scan(&e.ID)
		return e
	}
	if err != nil {
		return t.wrap("open incident for "+inc.Monitor, err)
	}
	inc.ID, _ = res.LastInsertId()
	t.durable = true
	return nil
}

// SaveIncident overwrites everything about an open incident except its ID,
// monitor, kind and opened_at with inc's values: for a caller that keeps the
// incident in memory and persists it whole. Resolve with ResolveIncident.
func (t *Tx) SaveIncident(ctx context.Context, inc *incident.Incident) error {
	op := fmt.Sprintf("save incident %d", inc.ID)
	if !inc.ResolvedAt.IsZero() {
		return fmt.Errorf("%s: %w: use ResolveIncident to resolve", op, ErrInvalid)
	}
	changes, err := marshalChanges(inc.Changes)
	if err != nil {
		return fmt.Errorf("%s: encode changes: %w", op, err)
	}
	last, err := marshalLast(inc.Last)
	if err != nil {
		return fmt.Errorf("%s: encode last result: %w", op, err)
	}
	ack, err := marshalAck(inc.Ack)
	if err != nil {
		return fmt.Errorf("%s: encode ack: %w", op, err)
	}
	// An ack is never taken back by a caller whose copy predates it: only
	// a new incident starts without one.
	res, err := t.tx.ExecContext(ctx, `UPDATE incidents SET
		severity = ?, class = ?, gateway = ?, detail = ?, status = ?, scope = ?,
		flapping = ?, resolution = ?, changes = ?, last = ?, updated_at = ?,
		regions = ?, first_failure_at = ?, recovered_at = ?, open_scope = ?,
		ack = coalesce(ack, ?)
		WHERE id = ? AND resolved_at IS NULL`,
		string(inc.Severity), string(inc.Class), inc.Gateway, inc.Detail, inc.Status,
		inc.Scope, inc.Flapping, inc.Resolution, changes, last, toNanos(t.s.now()),
		marshalRegions(inc.Regions), nullNanos(inc.FirstFailure.Time),
		nullNanos(inc.RecoveredAt.Time), string(inc.OpenScope), ack, inc.ID)
	if err != nil {
		return t.wrap(op, err)
	}
	if err := t.mustChange(ctx, op, res, inc.ID); err != nil {
		return err
	}
	t.durable = true
	return nil
}

// mustChange turns "no row updated" into ErrNotFound or ErrIncidentResolved.
func (t *Tx) mustChange(ctx context.Context, op string, res sql.Result, id int64) error {
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var resolved sql.NullInt64
	err := t.tx.QueryRowContext(ctx, `SELECT resolved_at FROM incidents WHERE id = ?`, id).Scan(&resolved)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	if err != nil {
		return t.wrap(op, err)
	}
	return fmt.Errorf("%s: %w", op, ErrIncidentResolved)
}

// AppendIncidentChange appends c to an open incident's changes and makes c's
// class, gateway, detail and status the incident's current ones. last, when
// not nil, becomes the incident's Last result. c.At zero means now.
func (t *Tx) AppendIncidentChange(ctx context.Context, id int64, c incident.Change, last *result.Outcome) error {
	op := fmt.Sprintf("append change to incident %d", id)
	if c.At.IsZero() {
		c.At = result.TimeOf(t.s.now())
	}
	cj, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", op, err)
	}
	lj, err := marshalLast(last)
	if err != nil {
		return fmt.Errorf("%s: encode last result: %w", op, err)
	}
	// json_insert with '$[#]' appends in place, so a long-open incident does
	// not round-trip its whole history through Go on every change.
	res, err := t.tx.ExecContext(ctx, `UPDATE incidents SET
		changes = json_insert(changes, '$[#]', json(?)),
		class = ?, gateway = ?, detail = ?, status = ?,
		last = coalesce(?, last), updated_at = ?
		WHERE id = ? AND resolved_at IS NULL`,
		string(cj), string(c.Class), c.Gateway, c.Detail, c.Status, lj, toNanos(t.s.now()), id)
	if err != nil {
		return t.wrap(op, err)
	}
	if err := t.mustChange(ctx, op, res, id); err != nil {
		return err
	}
	t.durable = true
	return nil
}

// ResolveIncident closes an open incident at `at` (zero means now) with a
// resolution such as "recovered"; last, when not nil, becomes its Last
// result. recovered is the incident's RecoveredAt, the first good round of
// the recovery, where its downtime ends: zero when it never recovered (a
// monitor removed while failing), and the downtime then ends at `at`.
// Resolving a resolved incident is ErrIncidentResolved.
func (t *Tx) ResolveIncident(ctx context.Context, id int64, at, recovered time.Time, resolution string, last *result.Outcome) error {
	op := fmt.Sprintf("resolve incident %d", id)
	if at.IsZero() {
		at = t.s.now()
	}
	lj, err := marshalLast(last)
	if err != nil {
		return fmt.Errorf("%s: encode last result: %w", op, err)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE incidents SET
		resolved_at = ?, recovered_at = ?, resolution = ?, last = coalesce(?, last), updated_at = ?
		WHERE id = ? AND resolved_at IS NULL`,
		toNanos(at), nullNanos(recovered), resolution, lj, toNanos(t.s.now()), id)
	if err != nil {
		return t.wrap(op, err)
	}
	if err := t.mustChange(ctx, op, res, id); err != nil {
		return err
	}
	t.durable = true
	return nil
}

const incidentCols = `id, monitor, kind, severity, opened_at, resolved_at, class, gateway,
	detail, status, scope, flapping, resolution, changes, last, regions, first_failure_at,
	recovered_at, open_scope, ack`

func scanIncident(sc interface{ Scan(...any) error }) (incident.Incident, error) {
	var (
		inc              incident.Incident
		kind, sev, class string
		opened           int64
		resolved         sql.NullInt64
		changes          []byte
		last             []byte
		regions          []byte
		firstFailure     sql.NullInt64
		recovered        sql.NullInt64
		openScope        string
		ack              []byte
	)
	if err := sc.Scan(&inc.ID, &inc.Monitor, &kind, &sev, &opened, &resolved, &class,
		&inc.Gateway, &inc.Detail, &inc.Status, &inc.Scope, &inc.Flapping, &inc.Resolution,
		&changes, &last, &regions, &firstFailure, &recovered, &openScope, &ack); err != nil {
		return inc, err
	}
	// Kind first: a row whose JSON columns do not decode still says what
	// kind of incident it is, so a bad warning row stops only its warning.
	inc.Kind, inc.Severity, inc.Class = incident.Kind(kind), incident.Severity(sev), result.Class(class)
	inc.FirstFailure = result.TimeOf(fromNullNanos(firstFailure))
	inc.RecoveredAt = result.TimeOf(fromNullNanos(recovered))
	inc.OpenScope = result.Scope(openScope)
	if err := json.Unmarshal(regions, &inc.Regions); err != nil {
		return inc, fmt.Errorf("decode regions of incident %d: %w", inc.ID, err)
	}
	if len(inc.Regions) == 0 {
		inc.Regions = nil
	}
	inc.OpenedAt = result.TimeOf(fromNanos(opened))
	inc.ResolvedAt = result.TimeOf(fromNullNanos(resolved))
	if err := json.Unmarshal(changes, &inc.Changes); err != nil {
		return inc, fmt.Errorf("decode changes of incident %d: %w", inc.ID, err)
	}
	if len(inc.Changes) == 0 {
		inc.Changes = nil
	}
	if ack != nil {
		inc.Ack = new(incident.Ack)
		if err := json.Unmarshal(ack, inc.Ack); err != nil {
			return inc, fmt.Errorf("decode ack of incident %d: %w", inc.ID, err)
		}
	}
	if last != nil {
		inc.Last = new(result.Outcome)
		if err := json.Unmarshal(last, inc.Last); err != nil {
			return inc, fmt.Errorf("decode last result of incident %d: %w", inc.ID, err)
		}
	}
	return inc, nil
}

func queryIncidents(ctx context.Context, q querier, path, op, query string, args ...any) ([]incident.Incident, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(path, op, err)
	}
	defer rows.Close()
	var out []incident.Incident
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, classify(path, op, err)
		}
		out = append(out, inc)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(path, op, err)
	}
	return out, nil
}

func getIncident(ctx context.Context, q querier, path string, id int64) (incident.Incident, error) {
	op := fmt.Sprintf("read incident %d", id)
	list, err := queryIncidents(ctx, q, path, op, `SELECT `+incidentCols+` FROM incidents WHERE id = ?`, id)
	if err != nil {
		return incident.Incident{}, err
	}
	if len(list) == 0 {
		return incident.Incident{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	}
	return list[0], nil
}

func openIncidentFor(ctx context.Context, q querier, path, monitor string, kind incident.Kind) (incident.Incident, bool, error) {
	list, err := queryIncidents(ctx, q, path, "read open incident of "+monitor,
		`SELECT `+incidentCols+` FROM incidents
		 WHERE monitor = ? AND kind = ? AND resolved_at IS NULL`, monitor, string(kind))
	if err != nil || len(list) == 0 {
		return incident.Incident{}, false, err
	}
	return list[0], true, nil
}

// Incident returns the incident with that ID, or ErrNotFound.
func (s *Store) Incident(ctx context.Context, id int64) (incident.Incident, error) {
	return getIncident(ctx, s.r, s.path, id)
}

// Incident reads an incident inside the transaction.
func (t *Tx) Incident(ctx context.Context, id int64) (incident.Incident, error) {
	return getIncident(ctx, t.tx, t.s.path, id)
}

// OpenIncidentFor returns the open incident of that kind for monitor, if any.
func (s *Store) OpenIncidentFor(ctx context.Context, monitor string, kind incident.Kind) (incident.Incident, bool, error) {
	return openIncidentFor(ctx, s.r, s.path, monitor, kind)
}

// OpenIncidentFor is Store.OpenIncidentFor inside the transaction.
func (t *Tx) OpenIncidentFor(ctx context.Context, monitor string, kind incident.Kind) (incident.Incident, bool, error) {
	return openIncidentFor(ctx, t.tx, t.s.path, monitor, kind)
}

// OpenIncidents returns every open incident, oldest first.
func (s *Store) OpenIncidents(ctx context.Context) ([]incident.Incident, error) {
	return queryIncidents(ctx, s.r, s.path, "list open incidents",
		`SELECT `+incidentCols+` FROM incidents WHERE resolved_at IS NULL ORDER BY opened_at, id`)
}

// RecentIncidents returns up to limit incidents, open or resolved, newest
// opened first. monitor "" means every monitor.
func (s *Store) RecentIncidents(ctx context.Context, monitor string, limit int) ([]incident.Incident, error) {
	if monitor == "" {
		return queryIncidents(ctx, s.r, s.path, "list recent incidents",
			`SELECT `+incidentCols+` FROM incidents ORDER BY opened_at DESC, id DESC LIMIT ?`, limit)
	}
	return queryIncidents(ctx, s.r, s.path, "list recent incidents of "+monitor,
		`SELECT `+incidentCols+` FROM incidents WHERE monitor = ?
		 ORDER BY opened_at DESC, id DESC LIMIT ?`, monitor, limit)
}

// marshalRegions encodes an incident's regions; a []string always encodes.
func marshalRegions(r []string) string {
	if len(r) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// nullNanos stores a zero time as NULL.
func nullNanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toNanos(t), Valid: true}
}
