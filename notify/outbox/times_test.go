package outbox

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit/outboxtest"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
)

// Payloads queued by an older version hold Go's zero time where a time had
// not happened (the round's started_at, its certificate's not_before);
// payloads queued now hold null. Both are delivered, with those times zero
// (issue 12, point 5).
func TestPayloadsWithOldAndNewZeroTimesDeliver(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	for i, zero := range []string{`"0001-01-01T00:00:00Z"`, `null`} {
		key := fmt.Sprintf("%d-open", i+1)
		payload := fmt.Sprintf(`{"key":%q,"receiver":"slack","event":"open","incident_id":%d,"kind":"target","monitor":"shop","severity":"critical",`+
			`"class":"tls_error","opened_at":"2026-03-01T11:59:00Z","at":"2026-03-01T12:00:00Z",`+
			`"result":{"url":"https://shop.test/","ok":false,"class":"tls_error","started_at":%s,`+
			`"tls":{"issuer":"R3","subject":"shop","not_before":%s,"not_after":"2026-03-01T12:00:00Z","days_left":0}}}`, key, i+1, zero, zero)
		outboxtest.EnqueueEvent(t, s, store.OutboxEvent{Key: key, Receiver: "slack", IncidentID: int64(i + 1),
			Event: incident.NotifyOpen, Payload: json.RawMessage(payload)})
	}
	if n := deliver(t, o, "slack"); n != 2 {
		t.Fatalf("delivered %d, want both", n)
	}
	for _, c := range rec.got() {
		r := c.msg.Result
		if r == nil || r.TLS == nil {
			t.Fatalf("%s: delivered without its result: %+v", c.msg.Key, c.msg)
		}
		if !r.StartedAt.IsZero() || !r.TLS.NotBefore.IsZero() || !r.TLS.NotAfter.Equal(clk.Now()) ||
			!c.msg.OpenedAt.Equal(clk.Now().Add(-time.Minute)) || !c.msg.At.Equal(clk.Now()) {
			t.Errorf("%s: times decoded as started_at %v, not_before %v, not_after %v, opened_at %v, at %v",
				c.msg.Key, r.StartedAt, r.TLS.NotBefore, r.TLS.NotAfter, c.msg.OpenedAt, c.msg.At)
		}
	}
}
