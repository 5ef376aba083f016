package web

import (
	"context"
	"net/http"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// NotificationView is one notification still in the outbox: waiting, being
// sent, or failed for good (with why), for /api/v1/notifications.
type NotificationView struct {
	Key           string      `json:"key"`
	Receiver      string      `json:"receiver"`
	IncidentID    int64       `json:"incident_id,omitempty"`
	Event         string      `json:"event"`
	State         string      `json:"state"`
	Attempts      int         `json:"attempts"`
	MaybeSent     bool        `json:"maybe_sent,omitempty"`
	NextAttemptAt result.Time `json:"next_attempt_at,omitzero"`
	LastError     string      `json:"last_error,omitempty"`
	CreatedAt     result.Time `json:"created_at"`
}

// NotificationSource is what a Source also implements when it has an
// outbox. state filters ("pending", "sending", "failed"; "" is all).
type NotificationSource interface {
	Notifications(ctx context.Context, state string) ([]NotificationView, error)
}

// ReceiverView is how one receiver is doing, for /api/v1/notifications.
type ReceiverView struct {
	Name string `json:"name"`
	// Degraded: the receiver asked to wait longer than max_retry_after;
	// it is retried at that cap until it delivers again.
	Degraded       bool        `json:"degraded"`
	DegradedSince  result.Time `json:"degraded_since,omitzero"`
	DegradedReason string      `json:"degraded_reason,omitempty"`
}

// ReceiverSource is what a NotificationSource also implements when it
// knows how its receivers are doing.
type ReceiverSource interface {
	Receivers(ctx context.Context) []ReceiverView
}

type notificationsResponse struct {
	Notifications []NotificationView `json:"notifications"`
	Receivers     []ReceiverView     `json:"receivers,omitempty"`
	GeneratedAt   result.Time        `json:"generated_at"`
}

func (s *server) apiNotifications(w http.ResponseWriter, r *http.Request) {
	ns, ok := s.src.(NotificationSource)
	if !ok {
		jsonError(w, http.StatusNotFound, "this daemon has no notification outbox")
		return
	}
	state := r.URL.Query().Get("state")
	switch state {
	case "", "pending", "sending", "failed":
	default:
		jsonError(w, http.StatusBadRequest, `state must be "pending", "sending" or "failed", not "`+state+`"`)
		return
	}
	list, err := ns.Notifications(r.Context(), state)
	if err != nil {
		s.log.Error("listing notifications for the API", "err", err)
		jsonError(w, http.StatusServiceUnavailable, s.redact("listing notifications: "+err.Error()))
		return
	}
	if list == nil {
		list = []NotificationView{}
	}
	resp := notificationsResponse{Notifications: list, GeneratedAt: result.TimeOf(s.now().UTC())}
	if rs, ok := s.src.(ReceiverSource); ok {
		resp.Receivers = rs.Receivers(r.Context())
	}
	s.writeJSON(w, r, resp)
}
