package store

import (
	"context"
	"fmt"
)

// migrations[i] takes the schema from version i to i+1. Append only: a
// released step is never edited, because files in the field already ran it.
// The version lives in PRAGMA user_version.
var migrations = []string{
	// 1: the initial schema.
	`
CREATE TABLE store_meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE results (
	id       INTEGER PRIMARY KEY,
	monitor  TEXT    NOT NULL,
	vantage  TEXT    NOT NULL DEFAULT 'local',
	at       INTEGER NOT NULL,  -- Unix ns
	ok       INTEGER NOT NULL,
	class    TEXT    NOT NULL,
	status   INTEGER NOT NULL,
	total_ms REAL    NOT NULL,
	data     TEXT    NOT NULL   -- result.Outcome as JSON
);
CREATE INDEX results_by_monitor ON results (monitor, vantage, at);
CREATE INDEX results_by_at ON results (at);

CREATE TABLE incidents (
	id          INTEGER PRIMARY KEY,
	monitor     TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	severity    TEXT    NOT NULL,
	opened_at   INTEGER NOT NULL,
	resolved_at INTEGER,            -- NULL while open
	class       TEXT    NOT NULL,
	gateway     TEXT    NOT NULL DEFAULT '',
	detail      TEXT    NOT NULL DEFAULT '',
	status      INTEGER NOT NULL DEFAULT 0,
	scope       TEXT    NOT NULL DEFAULT '',
	flapping    INTEGER NOT NULL DEFAULT 0,
	resolution  TEXT    NOT NULL DEFAULT '',
	changes     TEXT    NOT NULL DEFAULT '[]',  -- []incident.Change as JSON
	last        TEXT,                           -- *result.Outcome as JSON
	updated_at  INTEGER NOT NULL
);
-- At most one open incident per monitor and kind: a restart can never open
-- the same outage twice, whatever the caller does.
CREATE UNIQUE INDEX incidents_one_open ON incidents (monitor, kind) WHERE resolved_at IS NULL;
CREATE INDEX incidents_by_monitor ON incidents (monitor, opened_at);
CREATE INDEX incidents_by_opened ON incidents (opened_at);

CREATE TABLE states (
	monitor    TEXT PRIMARY KEY,
	data       TEXT    NOT NULL,   -- opaque JSON owned by the state machine
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE outbox (
	key             TEXT PRIMARY KEY,
	receiver        TEXT    NOT NULL,
	incident_id     INTEGER NOT NULL,
	event           TEXT    NOT NULL,
	seq             INTEGER NOT NULL,
	payload         TEXT    NOT NULL,
	state           TEXT    NOT NULL CHECK (state IN ('pending', 'sending', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	maybe_sent      INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_error      TEXT    NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX outbox_by_seq ON outbox (receiver, seq);
CREATE INDEX outbox_by_incident ON outbox (receiver, incident_id, seq);
CREATE INDEX outbox_by_state ON outbox (state, receiver);

-- The last sequence number handed out per receiver, so that sequence
-- numbers never go backwards when delivered rows leave the outbox.
CREATE TABLE outbox_seq (
	receiver TEXT PRIMARY KEY,
	last_seq INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE delivered (
	key          TEXT PRIMARY KEY,
	receiver     TEXT    NOT NULL,
	incident_id  INTEGER NOT NULL,
	event        TEXT    NOT NULL,
	attempts     INTEGER NOT NULL,
	maybe_sent   INTEGER NOT NULL,
	delivered_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX delivered_by_at ON delivered (delivered_at);

CREATE TABLE message_refs (
	receiver    TEXT    NOT NULL,
	incident_id INTEGER NOT NULL,
	ref         TEXT    NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (receiver, incident_id)
) WITHOUT ROWID;
`,
	// 2: incidents name the vantages that saw a partial outage, and when
	// the first failed round of the streak was.
	`
ALTER TABLE incidents ADD COLUMN regions TEXT NOT NULL DEFAULT '[]';  -- []string as JSON
ALTER TABLE incidents ADD COLUMN first_failure_at INTEGER;            -- Unix ns, NULL when unknown
`,
	// 3: a grouped message remembers what it said, so that it can be
	// rewritten as its members resolve.
	`
CREATE TABLE message_groups (
	receiver   TEXT    NOT NULL,
	ref        TEXT    NOT NULL,  -- the receiver's ref of the grouped message
	message    TEXT    NOT NULL,  -- the message as it now reads, JSON owned by the outbox
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (receiver, ref)
) WITHOUT ROWID;
CREATE INDEX message_groups_by_updated ON message_groups (updated_at);
`,
	// 4: history. Rollups of every check; which time each monitor was
	// measured, per daemon run; maintenance windows; monitors that left the
	// config; and, per incident, where its downtime ended and the scope it
	// opened with.
	`
CREATE TABLE rollups (
	monitor  TEXT    NOT NULL,
	vantage  TEXT    NOT NULL,
	res      TEXT    NOT NULL,  -- history.Resolution: '1m', '1h', '1d'
	bucket   INTEGER NOT NULL,  -- Unix ns of the bucket's start
	checks   INTEGER NOT NULL,  -- the Agg's counts, readable without decoding it
	failures INTEGER NOT NULL,
	data     BLOB    NOT NULL,  -- history.Agg's binary encoding
	PRIMARY KEY (monitor, res, bucket, vantage)
) WITHOUT ROWID;
-- Pruning by age and compaction walk one resolution in time order.
CREATE INDEX rollups_by_age ON rollups (res, bucket);

-- One row per daemon run: time between a run's last heartbeat and the next
-- run's start was not measured.
CREATE TABLE history_runs (
	id         INTEGER PRIMARY KEY,
	started_at INTEGER NOT NULL,
	seen_at    INTEGER NOT NULL   -- the last heartbeat
);

CREATE TABLE history_spans (
	monitor  TEXT    NOT NULL,
	run      INTEGER NOT NULL REFERENCES history_runs (id),
	start_at INTEGER NOT NULL,
	end_at   INTEGER,             -- NULL: until the run ends
	PRIMARY KEY (monitor, run, start_at)
) WITHOUT ROWID;
CREATE INDEX history_spans_by_run ON history_spans (run);
-- A monitor is measured once at a time within a run, whatever the caller does.
CREATE UNIQUE INDEX history_spans_one_open ON history_spans (monitor, run) WHERE end_at IS NULL;

CREATE TABLE history_maintenance (
	monitor  TEXT    NOT NULL,
	start_at INTEGER NOT NULL,
	end_at   INTEGER NOT NULL,
	PRIMARY KEY (monitor, start_at)
) WITHOUT ROWID;
CREATE INDEX history_maintenance_by_end ON history_maintenance (end_at);

CREATE TABLE history_monitors (
	monitor    TEXT PRIMARY KEY,
	first_seen INTEGER NOT NULL,
	removed_at INTEGER            -- NULL while the monitor is in the config
) WITHOUT ROWID;
CREATE INDEX history_monitors_removed ON history_monitors (removed_at) WHERE removed_at IS NOT NULL;

ALTER TABLE incidents ADD COLUMN recovered_at INTEGER;                -- Unix ns, NULL while failing or unknown
ALTER TABLE incidents ADD COLUMN open_scope TEXT NOT NULL DEFAULT '';  -- result.Scope at open
-- Incidents whose downtime reaches into a window: the open ones and those
-- resolved after its start.
CREATE INDEX incidents_by_resolved ON incidents (monitor, resolved_at);
`,
	// 5: silences, the log of what operators did (acknowledge, silence,
	// re-check), and an incident's acknowledgement.
	`
CREATE TABLE silences (
	id             INTEGER PRIMARY KEY,
	matchers       TEXT    NOT NULL,            -- silence.Matchers as JSON
	start_at       INTEGER NOT NULL,
	end_at         INTEGER,                     -- NULL: until its incident resolves
	until_resolved INTEGER NOT NULL DEFAULT 0,
	created_by     TEXT    NOT NULL,
	created_at     INTEGER NOT NULL,
	comment        TEXT    NOT NULL DEFAULT '',
	expired_at     INTEGER,                     -- NULL unless ended early
	expired_by     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX silences_by_end ON silences (end_at);

CREATE TABLE actions (
	id          INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	by          TEXT    NOT NULL,
	what        TEXT    NOT NULL CHECK (what IN ('silence-add', 'silence-expire', 'ack', 'recheck')),
	incident_id INTEGER,                        -- NULL when about no one incident
	monitor     TEXT    NOT NULL DEFAULT '',
	silence_id  INTEGER,
	detail      TEXT    NOT NULL DEFAULT ''    -- the comment, or what came of it
);
CREATE INDEX actions_by_incident ON actions (incident_id, at) WHERE incident_id IS NOT NULL;
CREATE INDEX actions_by_at ON actions (at);

ALTER TABLE incidents ADD COLUMN ack TEXT;  -- *incident.Ack as JSON, NULL while unacknowledged
`,
}

// SchemaVersion is the schema version this build writes.
func SchemaVersion() int { return len(migrations) }

// migrate brings the schema up to date in one transaction, and always writes
// one row, so that a file that can be read but not written (a read-only mount)
// is refused at Open rather than at the first round.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.openErr("begin schema migration", err)
	}
	defer func() { _ = tx.Rollback() }()

	var version int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.openErr("read schema version", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("state store %s: %w: the file has schema version %d and this vantage knows up to %d; run the newer vantage, or restore a backup made by this version",
			s.path, ErrNewerSchema, version, len(migrations))
	}
	if version == 0 {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return s.openErr("inspect schema", err)
		}
		if n > 0 {
			return corruptError(s.path, "the file is a SQLite database but not a vantage store (it has tables and no schema version)")
		}
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return s.openErr(fmt.Sprintf("migrate schema to version %d", v+1), err)
		}
	}
	if version < len(migrations) {
		// PRAGMA takes no bound parameters; the value is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
			return s.openErr("record schema version", err)
		}
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO store_meta (key, value) VALUES ('last_open', ?)
		 ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		s.now().UTC().Format("2006-01-02T15:04:05.000000000Z07:00")); err != nil {
		return s.openErr("record open time", err)
	}
	if err := tx.Commit(); err != nil {
		return s.openErr("commit schema migration", err)
	}
	return nil
}
