package store

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
)

// TestOutboxErrorsRedacted: an SMTP server that echoes the AUTH blob, or a
// Slack error that quotes the token, is stored without the secret.
func TestOutboxErrorsRedacted(t *testing.T) {
	ctx := context.Background()
	r := redact.New([]redact.Secret{{Value: "smtp-pass-1", User: "alerts"}, {Value: "xoxb-token-2"}})
	s, _ := openTest(t, newClock(), Options{Redact: r.String})
	blob := base64.StdEncoding.EncodeToString([]byte("\x00alerts\x00smtp-pass-1"))
	enqueue(t, s, OutboxEvent{Key: "1-open", Receiver: "mail", IncidentID: 1, Event: incident.NotifyOpen})
	enqueue(t, s, OutboxEvent{Key: "2-open", Receiver: "slack", IncidentID: 2, Event: incident.NotifyOpen})
	update(t, s, func(tx *Tx) error {
		return tx.MarkRetry(ctx, "1-open", s.now(), "smtp 454 4.7.0 temporary failure for AUTH PLAIN "+blob)
	})
	update(t, s, func(tx *Tx) error { return tx.MarkFailed(ctx, "2-open", "invalid_auth: token xoxb-token-2 revoked") })
	items, err := s.Outbox(ctx, OutboxFilter{})
	if err != nil || len(items) != 2 {
		t.Fatalf("Outbox = %v, %v", items, err)
	}
	for _, it := range items {
		for _, leak := range []string{blob, "smtp-pass-1", "xoxb-token-2"} {
			if strings.Contains(it.LastError, leak) {
				t.Errorf("%s: last_error %q holds a secret", it.Key, it.LastError)
			}
		}
		if !strings.Contains(it.LastError, redact.Marker) {
			t.Errorf("%s: last_error %q lost its marker", it.Key, it.LastError)
		}
	}
}
