package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type outboxSource struct {
	fakeSource
	list  []NotificationView
	asked []string
}

func (o *outboxSource) Notifications(_ context.Context, state string) ([]NotificationView, error) {
	o.asked = append(o.asked, state)
	var out []NotificationView
	for _, n := range o.list {
		if state == "" || n.State == state {
			out = append(out, n)
		}
	}
	return out, nil
}

func TestNotificationsAPI(t *testing.T) {
	src := &outboxSource{list: []NotificationView{
		{Key: "a|slack", Receiver: "slack", Event: "open", State: "failed", Attempts: 1, LastError: "permanent failure (channel_not_found)"},
		{Key: "b|mail", Receiver: "mail", Event: "open", State: "pending", Attempts: 2},
	}}
	h := newTestHandler(src, nil, nil)

	rec := serve(h, http.MethodGet, "/api/v1/notifications?state=failed")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got notificationsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Notifications) != 1 || got.Notifications[0].LastError != "permanent failure (channel_not_found)" {
		t.Errorf("failed notifications = %+v", got.Notifications)
	}

	rec = serve(h, http.MethodGet, "/api/v1/notifications?state=bogus")
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "state must be") {
		t.Errorf("bad filter: %d %s", rec.Code, rec.Body)
	}

	// A source without an outbox says so rather than pretending it is empty.
	rec = serve(newTestHandler(&fakeSource{}, nil, nil), http.MethodGet, "/api/v1/notifications")
	if rec.Code != http.StatusNotFound {
		t.Errorf("no outbox: status %d, want 404", rec.Code)
	}
}

type receiverSource struct {
	outboxSource
	receivers []ReceiverView
}

func (r *receiverSource) Receivers(context.Context) []ReceiverView { return r.receivers }

func TestNotificationsAPIShowsDegradedReceivers(t *testing.T) {
	src := &receiverSource{receivers: []ReceiverView{
		{Name: "slack", Degraded: true, DegradedReason: "asked to retry after 24h0m0s, more than max_retry_after 10m0s"},
		{Name: "mail"},
	}}
	rec := serve(newTestHandler(src, nil, nil), http.MethodGet, "/api/v1/notifications")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got struct {
		Receivers []map[string]any `json:"receivers"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Receivers) != 2 || got.Receivers[0]["name"] != "slack" || got.Receivers[0]["degraded"] != true ||
		got.Receivers[1]["degraded"] != false {
		t.Errorf("receivers = %v", got.Receivers)
	}
}
