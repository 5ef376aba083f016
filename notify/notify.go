// Package notify is the contract between the daemon's incidents and the
// places alerts go: the Message a notification carries (stored as the
// outbox payload, so it must survive a restart as JSON), the Notifier a
// receiver implements, and the errors by which a Notifier tells the outbox
// whether a failure is worth retrying. Rendering, routing, delivery and
// each receiver live in sub-packages.
package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
)

// Message is one notification to one receiver, with everything a receiver
// renders. It is the outbox payload: JSON, self-contained, never a secret.
type Message struct {
	// Key is the event's idempotency key (also the outbox key).
	Key      string                `json:"key"`
	Event    incident.Notification `json:"event"`
	Receiver string                `json:"receiver"`
	// IncidentID is the store's id of the incident; 0 for a notice that is
	// about no incident.
	IncidentID int64 `json:"incident_id,omitempty"`
	// Kind is target (a monitored URL) or vantage (a vantage point is
	// impaired or unreachable, or the local network is down).
	Kind incident.Kind `json:"kind"`
	// Monitor is the monitor's name (the vantage's name for KindVantage).
	Monitor  string            `json:"monitor"`
	URL      string            `json:"url,omitempty"`
	Tags     []string          `json:"tags,omitempty"`
	Severity incident.Severity `json:"severity"`

	// The verdict as it stands at this event.
	Scope   result.Scope `json:"scope,omitempty"`
	Regions []string     `json:"regions,omitempty"` // vantages that see it down (partial)
	Class   result.Class `json:"class"`
	Gateway string       `json:"gateway,omitempty"`
	Status  int          `json:"status,omitempty"`
	Detail  string       `json:"detail,omitempty"`

	// OpenedAt is when the incident opened, At when this event happened,
	// ResolvedAt when it resolved (incident.NotifyResolve only).
	OpenedAt   time.Time `json:"opened_at,omitzero"`
	At         time.Time `json:"at"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	// Resolution says how it resolved ("recovered", "monitor removed", ...).
	Resolution string `json:"resolution,omitempty"`
	// Change says, in words, what changed (incident.NotifyUpdate), or is the
	// notice's text (incident.NotifyNotice).
	Change string `json:"change,omitempty"`
	// Flapping is set while the incident flaps.
	Flapping bool `json:"flapping,omitempty"`
	// Ack is the incident's acknowledgement, nil while unacknowledged.
	Ack *incident.Ack `json:"ack,omitempty"`
	// Escalated marks the open sent to a route's escalate_to receivers
	// because nobody acknowledged the incident within escalate_after.
	Escalated bool `json:"escalated,omitempty"`
	// PageURL is the monitor's page on this daemon (public_url), "" when
	// no public_url is set.
	PageURL string `json:"page_url,omitempty"`
	// Crossed marks the update of a certificate warning that crossed its
	// next cert_warn_days threshold (7 days left, then 2): the one kind of
	// update an inbox gets, in the opening mail's thread, since it is the
	// news that the deadline is nearer (and, at the last threshold, that
	// it is critical). Other updates stay in Slack's thread.
	Crossed bool `json:"crossed,omitempty"`

	// Result is the round behind the event: status, phases, gateway, the
	// evidence, what each vantage saw and the diagnosis. May be nil (a
	// notice).
	Result *result.Outcome `json:"result,omitempty"`
	// Fixes are the suggested next steps, already selected.
	Fixes []string `json:"fixes,omitempty"`

	// GroupKey names a shared cause ("gateway 10.0.0.5:443 (nginx)",
	// "dns servfail"); open events with the same key for the same receiver
	// that are due together are sent as one grouped message. "" never
	// groups.
	GroupKey string `json:"group_key,omitempty"`
	// Group lists the incidents a grouped message stands for (set by the
	// outbox when it merges; empty otherwise). The Message's own fields
	// then describe the first member.
	Group []Member `json:"group,omitempty"`
	// Cause is the shared cause of a group in words.
	Cause string `json:"cause,omitempty"`
	// InGroup says the incident's first message was a grouped one (set by
	// the outbox from the stored ref): a resolve then replies in that
	// message's thread instead of rewriting the whole group's message.
	InGroup bool `json:"in_group,omitempty"`
	// GroupUpdate is, on the resolve of a member of a grouped message
	// (InGroup), that grouped message as it now reads: its members with
	// the ones resolved so far marked, and incident.NotifyResolve once all are. Set
	// by the outbox at send time; a receiver that can edit what it sent
	// (Slack's chat.update) rewrites the group's message with it. nil
	// when the outbox knows nothing of the group.
	GroupUpdate *Message `json:"group_update,omitempty"`

	// Repeat marks a message that may already have been delivered once:
	// the daemon stopped in the middle of sending it, or an earlier
	// attempt failed in a way that leaves open whether the receiver took
	// it (AmbiguousError). Receivers say so visibly ("possible repeat").
	Repeat bool `json:"repeat,omitempty"`
	// Late marks a resolve that stands for the whole incident: it opened
	// and resolved while its DOWN was still queued behind a receiver that
	// was unavailable (rate limited, failing, a backlog), so the DOWN was
	// withdrawn and this one message says when it was down and why it
	// comes late.
	Late bool `json:"late,omitempty"`
	// NotPersisted marks an alert sent straight from the daemon's memory
	// because the state store could not be written: it is not in the
	// outbox, so a restart before the store recovers forgets it (and may
	// send it again). Receivers say so visibly ("not persisted").
	NotPersisted bool `json:"not_persisted,omitempty"`
	// Test marks a sample alert from `vantage notify-test`.
	Test bool `json:"test,omitempty"`
	// Persistent keeps a message retrying temporary failures beyond the
	// attempt bound (at the longest backoff): the notice that this host
	// lost its network cannot go out until the network is back, and must
	// go out then, however long that took. Permanent failures still fail.
	Persistent bool `json:"persistent,omitempty"`
}

// Member is one incident of a grouped message.
type Member struct {
	IncidentID int64        `json:"incident_id"`
	Key        string       `json:"key"`
	Monitor    string       `json:"monitor"`
	URL        string       `json:"url,omitempty"`
	Class      result.Class `json:"class"`
	Status     int          `json:"status,omitempty"`
	Gateway    string       `json:"gateway,omitempty"`
	Scope      result.Scope `json:"scope,omitempty"`
	// ResolvedAt is when this member resolved (in a GroupUpdate); zero
	// while it is still down.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// Duration is how long the incident lasted (or has lasted, at At).
func (m *Message) Duration() time.Duration {
	end := m.ResolvedAt
	if end.IsZero() {
		end = m.At
	}
	if m.OpenedAt.IsZero() || end.Before(m.OpenedAt) {
		return 0
	}
	return end.Sub(m.OpenedAt)
}

// Notifier delivers messages to one receiver.
//
// ref is what an earlier Notify returned for the same incident on this
// receiver ("" when none): Slack's "channel/ts" of the incident's message,
// email's Message-ID of the opening mail. Notify returns the ref to keep
// for the incident's later events ("" to keep the old one), so a resolve
// after a restart still updates the same Slack message and threads under
// the same email.
//
// Notify must honour ctx's deadline. Its error says whether to retry:
// wrap with Permanent for failures a retry cannot fix, with RetryAfter
// when the receiver said when to come back, with Ambiguous when the
// message may have reached the receiver all the same; anything else is
// retried with backoff.
type Notifier interface {
	Notify(ctx context.Context, msg *Message, ref string) (newRef string, err error)
}

// Actions are what an operator may do to an incident from a receiver (a
// button in Slack): the daemon's own methods (daemon/actions.go), which
// record who did it. by names the operator as the receiver knows them
// ("slack:@ana").
type Actions interface {
	Ack(ctx context.Context, id int64, by, comment string) (incident.Incident, error)
	AddSilence(ctx context.Context, s silence.Silence, by string) (silence.Silence, error)
	Recheck(ctx context.Context, monitor, by string) (result.Outcome, error)
}

// Listener is a Notifier that also hears operators act on what it sent
// (Slack's buttons over Socket Mode). Listen runs until ctx ends, and
// returns only then; Listening says whether this one has anything to
// listen to (a Slack receiver without an app token has not).
type Listener interface {
	Notifier
	Listening() bool
	Listen(ctx context.Context, a Actions) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, msg *Message, ref string) (string, error)

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, msg *Message, ref string) (string, error) {
	return f(ctx, msg, ref)
}

// PermanentError is a failure no retry can fix (Slack's ok:false errors
// such as channel_not_found or invalid_auth, an SMTP 5xx reply, a message
// the receiver cannot take). The outbox marks the notification failed
// with Reason and does not try again.
type PermanentError struct {
	Reason string // short, for logs, metrics and the API
	Err    error
}

func (e *PermanentError) Error() string {
	if e.Err == nil {
		return "permanent failure: " + e.Reason
	}
	return fmt.Sprintf("permanent failure (%s): %v", e.Reason, e.Err)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError with reason.
func Permanent(reason string, err error) error {
	return &PermanentError{Reason: reason, Err: err}
}

// IsPermanent reports whether err is (or wraps) a PermanentError.
func IsPermanent(err error) (*PermanentError, bool) {
	var p *PermanentError
	ok := errors.As(err, &p)
	return p, ok
}

// RetryAfterError is a failure the receiver said to retry after a delay
// (Slack's 429 with Retry-After). It does not count as a failed attempt
// towards the bound: the receiver is busy, not broken.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s: %v", e.After, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter wraps err as a RetryAfterError.
func RetryAfter(after time.Duration, err error) error {
	return &RetryAfterError{After: after, Err: err}
}

// IsRetryAfter reports whether err is (or wraps) a RetryAfterError.
func IsRetryAfter(err error) (*RetryAfterError, bool) {
	var r *RetryAfterError
	ok := errors.As(err, &r)
	return r, ok
}

// AmbiguousError is a failure after which the receiver may have the
// message all the same: the request was written in full and the answer
// never came (the SMTP connection dropped or timed out after the final
// "." of DATA, a Slack request that got no response). It is retried like
// any temporary failure, and the outbox remembers for good that the
// message may already have been delivered, so the copy that goes out
// later says "possible repeat". An error the receiver answered (an SMTP
// 4xx after DATA, an HTTP 500 with a body) is not ambiguous.
type AmbiguousError struct {
	Err error
}

func (e *AmbiguousError) Error() string {
	return "may have been delivered: " + e.Err.Error()
}

func (e *AmbiguousError) Unwrap() error { return e.Err }

// Ambiguous wraps err as an AmbiguousError; nil stays nil.
func Ambiguous(err error) error {
	if err == nil {
		return nil
	}
	return &AmbiguousError{Err: err}
}

// IsAmbiguous reports whether err is (or wraps) an AmbiguousError.
func IsAmbiguous(err error) bool {
	var a *AmbiguousError
	return errors.As(err, &a)
}
