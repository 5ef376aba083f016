package store

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
)

func jsonOf(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func enqueue(t *testing.T, s *Store, ev OutboxEvent) bool {
	t.Helper()
	var existed bool
	update(t, s, func(tx *Tx) error {
		var err error
		existed, err = tx.Enqueue(context.Background(), ev)
		return err
	})
	return existed
}

func keys(items []OutboxItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.Key)
	}
	return out
}

func due(t *testing.T, s *Store, receiver string, now time.Time) []string {
	t.Helper()
	items, err := s.Due(context.Background(), receiver, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	return keys(items)
}

func TestOutboxOrderingAndIdempotency(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	now := clk.Now()

	for _, ev := range []OutboxEvent{
		{Key: "1-open", Receiver: "slack", IncidentID: 1, Event: incident.NotifyOpen, Payload: json.RawMessage(`{"n":1}`)},
		{Key: "2-open", Receiver: "slack", IncidentID: 2, Event: incident.NotifyOpen},
		{Key: "1-resolve", Receiver: "slack", IncidentID: 1, Event: incident.NotifyResolve},
		{Key: "1-open-mail", Receiver: "mail", IncidentID: 1, Event: incident.NotifyOpen},
		{Key: "notice-a", Receiver: "slack", Event: incident.NotifyNotice},
		{Key: "notice-b", Receiver: "slack", Event: incident.NotifyNotice},
		{Key: "later", Receiver: "slack", IncidentID: 3, Event: incident.NotifyOpen, NotBefore: now.Add(time.Hour)},
	} {
		if enqueue(t, s, ev) {
			t.Fatalf("%s reported as existing", ev.Key)
		}
	}
	// Same key again: a no-op that says so, even with another payload.
	if !enqueue(t, s, OutboxEvent{Key: "1-open", Receiver: "slack", IncidentID: 1, Event: incident.NotifyOpen, Payload: json.RawMessage(`{"n":2}`)}) {
		t.Error("duplicate key not reported as existing")
	}
	it, err := s.OutboxItem(ctx, "1-open")
	if err != nil || string(it.Payload) != `{"n":1}` || it.Seq != 1 || it.State != StatePending {
		t.Errorf("1-open = %+v, %v", it, err)
	}

	// 1-resolve waits for 1-open; notices are unordered; "later" is not due.
	if got, want := due(t, s, "slack", now), []string{"1-open", "2-open", "notice-a", "notice-b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("due = %v, want %v", got, want)
	}
	if got := due(t, s, "mail", now); !reflect.DeepEqual(got, []string{"1-open-mail"}) {
		t.Errorf("mail due = %v", got)
	}
	if items, _ := s.Due(ctx, "slack", now, 2); !reflect.DeepEqual(keys(items), []string{"1-open", "2-open"}) {
		t.Errorf("limit not honoured: %v", keys(items))
	}

	// While 1-open is sending, 1-resolve is still held back.
	update(t, s, func(tx *Tx) error { return tx.MarkSending(ctx, "1-open") })
	if got := due(t, s, "slack", now); !reflect.DeepEqual(got, []string{"2-open", "notice-a", "notice-b"}) {
		t.Errorf("due while sending = %v", got)
	}
	err = s.Update(ctx, func(tx *Tx) error { return tx.MarkSending(ctx, "1-open") })
	if !errors.Is(err, ErrWrongState) {
		t.Errorf("MarkSending twice: %v", err)
	}
	// A retry in the future keeps holding it back.
	update(t, s, func(tx *Tx) error { return tx.MarkRetry(ctx, "1-open", now.Add(time.Minute), "429 rate limited") })
	if got := due(t, s, "slack", now); !reflect.DeepEqual(got, []string{"2-open", "notice-a", "notice-b"}) {
		t.Errorf("due during backoff = %v", got)
	}
	it, _ = s.OutboxItem(ctx, "1-open")
	if it.Attempts != 1 || it.LastError != "429 rate limited" || !it.NextAttemptAt.Equal(now.Add(time.Minute)) || it.MaybeSent {
		t.Errorf("after retry: %+v", it)
	}
	later := now.Add(time.Minute)
	if got := due(t, s, "slack", later); got[0] != "1-open" {
		t.Errorf("due after backoff = %v", got)
	}
	update(t, s, func(tx *Tx) error {
		if err := tx.MarkSending(ctx, "1-open"); err != nil {
			return err
		}
		return tx.MarkDelivered(ctx, "1-open")
	})
	if got := due(t, s, "slack", later); !reflect.DeepEqual(got, []string{"2-open", "1-resolve", "notice-a", "notice-b"}) {
		t.Errorf("due after delivery = %v", got)
	}
	// A delivered key stays a no-op.
	if !enqueue(t, s, OutboxEvent{Key: "1-open", Receiver: "slack", IncidentID: 1, Event: incident.NotifyOpen}) {
		t.Error("re-enqueue of a delivered key was not a no-op")
	}
	if at, ok, _ := s.Delivered(ctx, "1-open"); !ok || !at.Equal(now) {
		t.Errorf("Delivered = %v %v", at, ok)
	}
	if _, err := s.OutboxItem(ctx, "1-open"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delivered row still in outbox: %v", err)
	}

	// Permanent failure: listed, no longer due, does not hold back later events.
	enqueue(t, s, OutboxEvent{Key: "2-resolve", Receiver: "slack", IncidentID: 2, Event: incident.NotifyResolve})
	update(t, s, func(tx *Tx) error { return tx.MarkFailed(ctx, "2-open", "channel_not_found") })
	if got := due(t, s, "slack", later); !reflect.DeepEqual(got, []string{"1-resolve", "notice-a", "notice-b", "2-resolve"}) {
		t.Errorf("due after failure = %v", got)
	}
	failed, err := s.Outbox(ctx, OutboxFilter{State: StateFailed})
	if err != nil || len(failed) != 1 || failed[0].Key != "2-open" || failed[0].LastError != "channel_not_found" {
		t.Errorf("failed list = %+v %v", failed, err)
	}
	if !enqueue(t, s, OutboxEvent{Key: "2-open", Receiver: "slack", IncidentID: 2, Event: incident.NotifyOpen}) {
		t.Error("re-enqueue of a failed key was not a no-op")
	}
	err = s.Update(ctx, func(tx *Tx) error { return tx.MarkRetry(ctx, "2-open", later, "x") })
	if !errors.Is(err, ErrWrongState) {
		t.Errorf("retry of failed row: %v", err)
	}
	update(t, s, func(tx *Tx) error { return tx.Requeue(ctx, "2-open") })
	if it, _ := s.OutboxItem(ctx, "2-open"); it.State != StatePending {
		t.Errorf("requeued state = %s", it.State)
	}

	counts, err := s.OutboxCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []OutboxCount{{"mail", StatePending, 1}, {"slack", StatePending, 6}}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("counts = %+v, want %+v", counts, want)
	}
	mailOnly, _ := s.Outbox(ctx, OutboxFilter{Receiver: "mail"})
	if !reflect.DeepEqual(keys(mailOnly), []string{"1-open-mail"}) {
		t.Errorf("Outbox(mail) = %v", keys(mailOnly))
	}

	for _, op := range []func(tx *Tx) error{
		func(tx *Tx) error { return tx.MarkSending(ctx, "nope") },
		func(tx *Tx) error { return tx.MarkDelivered(ctx, "nope") },
		func(tx *Tx) error { return tx.MarkRetry(ctx, "nope", now, "") },
		func(tx *Tx) error { return tx.MarkFailed(ctx, "nope", "") },
	} {
		if err := s.Update(ctx, op); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown key: %v", err)
		}
	}
}

func TestOutboxSeqNeverGoesBack(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	enqueue(t, s, OutboxEvent{Key: "a", Receiver: "r", IncidentID: 1, Event: incident.NotifyOpen})
	update(t, s, func(tx *Tx) error { return tx.MarkDelivered(ctx, "a") })
	s.Close()
	s = reopen(t, path, clk, Options{})
	enqueue(t, s, OutboxEvent{Key: "b", Receiver: "r", IncidentID: 1, Event: incident.NotifyResolve})
	if it, _ := s.OutboxItem(ctx, "b"); it.Seq != 2 {
		t.Errorf("seq after delivery and reopen = %d, want 2", it.Seq)
	}
}

func TestOutboxBadInput(t *testing.T) {
	s, _ := openTest(t, newClock(), Options{})
	ctx := context.Background()
	for name, ev := range map[string]OutboxEvent{
		"no key":      {Receiver: "r", Event: incident.NotifyOpen},
		"no receiver": {Key: "k", Event: incident.NotifyOpen},
		"bad kind":    {Key: "k", Receiver: "r", Event: "explode"},
		"bad payload": {Key: "k", Receiver: "r", Event: incident.NotifyOpen, Payload: json.RawMessage(`{`)},
	} {
		err := s.Update(ctx, func(tx *Tx) error { _, err := tx.Enqueue(ctx, ev); return err })
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.SetMessageRef(ctx, "", 1, "x") }); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetMessageRef without receiver: %v", err)
	}
}

// A send interrupted by a crash: the row was marked sending and the process
// died before MarkDelivered. After reopening it is due again, flagged
// MaybeSent, and the flag survives a later retry.
func TestOutboxMaybeSentAfterCrash(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	enqueue(t, s, OutboxEvent{Key: "open", Receiver: "slack", IncidentID: 7, Event: incident.NotifyOpen})
	enqueue(t, s, OutboxEvent{Key: "resolve", Receiver: "slack", IncidentID: 7, Event: incident.NotifyResolve})
	enqueue(t, s, OutboxEvent{Key: "other", Receiver: "slack", IncidentID: 8, Event: incident.NotifyOpen})
	update(t, s, func(tx *Tx) error { return tx.MarkSending(ctx, "open") })
	// The process dies here: no MarkDelivered, no MarkRetry.
	s.Close()

	s = reopen(t, path, clk, Options{})
	items, err := s.Due(ctx, "slack", clk.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(keys(items), []string{"open", "other"}) {
		t.Fatalf("due after crash = %v", keys(items))
	}
	if !items[0].MaybeSent || items[0].Attempts != 1 || items[0].State != StatePending {
		t.Errorf("interrupted row = %+v, want MaybeSent", items[0])
	}
	if items[1].MaybeSent {
		t.Error("untouched row flagged MaybeSent")
	}
	update(t, s, func(tx *Tx) error {
		if err := tx.MarkSending(ctx, "open"); err != nil {
			return err
		}
		return tx.MarkRetry(ctx, "open", clk.Now(), "timeout")
	})
	if it, _ := s.OutboxItem(ctx, "open"); !it.MaybeSent || it.Attempts != 2 {
		t.Errorf("after retry: %+v", it)
	}
}

func TestMessageRefs(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	if _, ok, err := s.MessageRef(ctx, "slack", 1); ok || err != nil {
		t.Errorf("empty: %v %v", ok, err)
	}
	update(t, s, func(tx *Tx) error {
		if err := tx.SetMessageRef(ctx, "slack", 1, "C1:111.2"); err != nil {
			return err
		}
		if err := tx.SetMessageRef(ctx, "mail", 1, "<a@b>"); err != nil {
			return err
		}
		if ref, ok, err := tx.MessageRef(ctx, "slack", 1); !ok || err != nil || ref != "C1:111.2" {
			t.Errorf("in tx: %q %v %v", ref, ok, err)
		}
		return tx.SetMessageRef(ctx, "slack", 1, "C1:222.3")
	})
	if ref, _, _ := s.MessageRef(ctx, "slack", 1); ref != "C1:222.3" {
		t.Errorf("slack ref = %q", ref)
	}
	if ref, _, _ := s.MessageRef(ctx, "mail", 1); ref != "<a@b>" {
		t.Errorf("mail ref = %q", ref)
	}
}

func TestKeyStatusAndCancel(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	status := func(key string) KeyStatus {
		t.Helper()
		var st KeyStatus
		update(t, s, func(tx *Tx) error {
			var err error
			st, err = tx.KeyStatus(ctx, key)
			return err
		})
		return st
	}
	for _, k := range []string{"muted", "tried", "done"} {
		enqueue(t, s, OutboxEvent{Key: k, Receiver: "slack", IncidentID: 1, Event: incident.NotifyOpen})
	}
	update(t, s, func(tx *Tx) error {
		if err := tx.MarkSending(ctx, "tried"); err != nil {
			return err
		}
		if err := tx.MarkRetry(ctx, "tried", clk.Now().Add(time.Minute), "boom"); err != nil {
			return err
		}
		if err := tx.MarkSending(ctx, "done"); err != nil {
			return err
		}
		return tx.MarkDelivered(ctx, "done")
	})
	for key, want := range map[string]KeyStatus{"muted": KeyQueued, "tried": KeyAttempted, "done": KeyDelivered, "never": KeyUnknown} {
		if got := status(key); got != want {
			t.Errorf("KeyStatus(%q) = %d, want %d", key, got, want)
		}
	}
	// Only alerts nobody can have seen are withdrawn.
	n := 0
	update(t, s, func(tx *Tx) error {
		var err error
		n, err = tx.CancelQueued(ctx, "slack", 1)
		return err
	})
	if n != 1 {
		t.Errorf("CancelQueued withdrew %d, want 1 (only the never-attempted one)", n)
	}
	for key, want := range map[string]KeyStatus{"muted": KeyUnknown, "tried": KeyAttempted, "done": KeyDelivered} {
		if got := status(key); got != want {
			t.Errorf("after CancelQueued, KeyStatus(%q) = %d, want %d", key, got, want)
		}
	}
}

// TestMarkMaybeSentIsSticky: the flag survives every later transition and
// is kept in the delivered table.
func TestMarkMaybeSentIsSticky(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	enqueue(t, s, OutboxEvent{Key: "k", Receiver: "slack", IncidentID: 1, Event: incident.NotifyOpen})
	update(t, s, func(tx *Tx) error {
		if err := tx.MarkSending(ctx, "k"); err != nil {
			return err
		}
		if err := tx.MarkMaybeSent(ctx, "k"); err != nil {
			return err
		}
		return tx.MarkRetry(ctx, "k", clk.Now(), "no answer")
	})
	update(t, s, func(tx *Tx) error {
		if err := tx.MarkSending(ctx, "k"); err != nil {
			return err
		}
		return tx.MarkRetry(ctx, "k", clk.Now(), "HTTP 500")
	})
	if it, err := s.OutboxItem(ctx, "k"); err != nil || !it.MaybeSent || it.LastError != "HTTP 500" {
		t.Fatalf("after a plain retry: %+v, %v", it, err)
	}
	update(t, s, func(tx *Tx) error { return tx.MarkFailed(ctx, "k", "gave up") })
	update(t, s, func(tx *Tx) error { return tx.Requeue(ctx, "k") })
	if it, _ := s.OutboxItem(ctx, "k"); !it.MaybeSent {
		t.Fatal("flag lost by MarkFailed and Requeue")
	}
	update(t, s, func(tx *Tx) error {
		if err := tx.MarkSending(ctx, "k"); err != nil {
			return err
		}
		return tx.MarkDelivered(ctx, "k")
	})
	var maybe bool
	if err := s.r.QueryRowContext(ctx, `SELECT maybe_sent FROM delivered WHERE key = 'k'`).Scan(&maybe); err != nil || !maybe {
		t.Errorf("delivered row maybe_sent = %v (%v), want kept", maybe, err)
	}
	update(t, s, func(tx *Tx) error {
		if err := tx.MarkMaybeSent(ctx, "gone"); !errors.Is(err, ErrNotFound) {
			t.Errorf("MarkMaybeSent of an unknown key: %v", err)
		}
		return nil
	})
}

func TestMessageGroupKeptAndPruned(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{KeepDelivered: time.Hour})
	ctx := context.Background()
	update(t, s, func(tx *Tx) error {
		if err := tx.SetMessageGroup(ctx, "slack", "C1/1", json.RawMessage(`{"v":1}`)); err != nil {
			return err
		}
		if err := tx.SetMessageGroup(ctx, "slack", "C1/1", json.RawMessage(`{"v":2}`)); err != nil {
			return err
		}
		if err := tx.SetMessageGroup(ctx, "slack", "C1/2", json.RawMessage(`not json`)); !errors.Is(err, ErrInvalid) {
			t.Errorf("invalid JSON: %v", err)
		}
		return nil
	})
	got, ok, err := s.MessageGroup(ctx, "slack", "C1/1")
	if err != nil || !ok || string(got) != `{"v":2}` {
		t.Fatalf("MessageGroup = %s %v %v", got, ok, err)
	}
	if _, ok, _ := s.MessageGroup(ctx, "mail", "C1/1"); ok {
		t.Error("another receiver's group found")
	}
	clk.Advance(2 * time.Hour)
	if _, err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.MessageGroup(ctx, "slack", "C1/1"); ok {
		t.Error("a group untouched past KeepDelivered was not pruned")
	}
}

// TestKeyOverdue tells a DOWN held back on purpose (not due yet) from one
// that was due and never taken by its receiver.
func TestKeyOverdue(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	enqueue(t, s, OutboxEvent{Key: "due", Receiver: "slack", IncidentID: 1, Event: incident.NotifyOpen})
	enqueue(t, s, OutboxEvent{Key: "held", Receiver: "slack", IncidentID: 2, Event: incident.NotifyOpen, NotBefore: clk.Now().Add(time.Hour)})
	status := func(key string) KeyStatus {
		t.Helper()
		var st KeyStatus
		update(t, s, func(tx *Tx) error {
			var err error
			st, err = tx.KeyStatus(ctx, key)
			return err
		})
		return st
	}
	if got := status("due"); got != KeyQueued {
		t.Errorf("just enqueued: %d, want KeyQueued", got)
	}
	clk.Advance(time.Minute)
	if got := status("due"); got != KeyOverdue {
		t.Errorf("due a minute ago and never attempted: %d, want KeyOverdue", got)
	}
	if got := status("held"); got != KeyQueued {
		t.Errorf("held for an hour: %d, want KeyQueued", got)
	}
	n := 0
	update(t, s, func(tx *Tx) error {
		var err error
		n, err = tx.CancelQueued(ctx, "slack", 1)
		return err
	})
	if n != 1 || status("due") != KeyUnknown {
		t.Errorf("overdue item not withdrawn: %d", n)
	}
}
