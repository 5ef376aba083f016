// Package outboxtest queues notifications for the tests of notify/outbox
// and of the notifiers that deliver through it (notify/slack,
// notify/email), the way the daemon queues them: each used to write the
// same store transaction by hand.
//
// It is apart from internal/testkit because it imports monitor/store and
// notify, which the kit must not: the tests of monitor/... use the kit, and
// nothing under monitor/ may import notify/ (daemon/layout_test.go). Like
// the kit, only tests import it (internal/testkit/imports_test.go).
package outboxtest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
)

// Enqueue queues msg in s for its receiver, due at notBefore (zero: now),
// with msg itself as the payload, as daemon/notify.go's enqueueSend does.
func Enqueue(t testing.TB, s *store.Store, msg notify.Message, notBefore time.Time) {
	t.Helper()
	payload, err := json.Marshal(&msg)
	if err != nil {
		t.Fatalf("encoding %s: %v", msg.Key, err)
	}
	EnqueueEvent(t, s, store.OutboxEvent{Key: msg.Key, Receiver: msg.Receiver,
		IncidentID: msg.IncidentID, Event: msg.Event, Payload: payload, NotBefore: notBefore})
}

// EnqueueEvent queues ev as it is, for a test whose payload is not one the
// daemon writes today: one an older version wrote, or not a message at all.
func EnqueueEvent(t testing.TB, s *store.Store, ev store.OutboxEvent) {
	t.Helper()
	ctx := context.Background()
	if err := s.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.Enqueue(ctx, ev)
		return err
	}); err != nil {
		t.Fatalf("enqueue %s: %v", ev.Key, err)
	}
}
