package daemon

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/render"
)

// recorder is a receiver that keeps what it was sent, and the refs.
type recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
	refs []string // the ref each call was given
	n    int
}

func (r *recorder) Notify(_ context.Context, m *notify.Message, ref string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, *m)
	r.refs = append(r.refs, ref)
	r.n++
	if ref == "" {
		return fmt.Sprintf("C1/%d.000", r.n), nil
	}
	return "", nil
}

func (r *recorder) got() ([]notify.Message, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.msgs...), append([]string(nil), r.refs...)
}

const receiverTOML = `
[notify]
group_wait = "0s"

[[receiver]]
name = "ops"
type = "slack"
channel = "C1"
token_env = "VANTAGE_TEST_TOKEN"
`

func withRecorder(rec *recorder) func(*Options) {
	return func(o *Options) {
		o.Notifier = func(*config.Receiver) (notify.Notifier, error) { return rec, nil }
	}
}

func (f *fixture) deliver() int {
	f.t.Helper()
	n, err := f.d.Outbox().DeliverDue(context.Background(), "ops")
	if err != nil {
		f.t.Fatalf("delivering: %v", err)
	}
	return n
}

func TestAlertsFollowTheIncidentAcrossARestart(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withRecorder(rec))

	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web") // confirmed: the incident opens
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after the open, want 1", n)
	}
	msgs, _ := rec.got()
	open := msgs[0]
	if open.Event != incident.NotifyOpen || open.Monitor != "web" || open.Status != 502 || open.URL != tg.URL || len(open.Fixes) == 0 || open.Result == nil {
		t.Fatalf("open alert: %+v", open)
	}
	if f.deliver() != 0 {
		t.Fatal("the open was delivered twice")
	}

	// Restart: the ref of the incident's message survives.
	if err := f.d.Close(); err != nil {
		t.Fatal(err)
	}
	f.open(withRecorder(rec))
	if f.deliver() != 0 {
		t.Fatal("a restart re-sent the open")
	}
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web") // recovered
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after the resolve, want 1", n)
	}
	msgs, refs := rec.got()
	res := msgs[len(msgs)-1]
	if res.Event != incident.NotifyResolve || res.IncidentID != open.IncidentID || res.Duration() <= 0 {
		t.Fatalf("resolve alert: %+v", res)
	}
	if refs[len(refs)-1] != "C1/1.000" {
		t.Errorf("the resolve was given ref %q, want the open's message C1/1.000", refs[len(refs)-1])
	}
}

func TestMaintenanceHoldsTheDownUntilTheWindowEnds(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	end := t0.Add(10 * time.Minute)
	win := fmt.Sprintf(`
[[maintenance]]
name = "deploy"
monitors = ["web", "blog"]
start = %s
end = %s
`, t0.Add(-time.Minute).Format(time.RFC3339), end.Format(time.RFC3339))
	f := newFixture(t, monitorTOML("web", tg.URL)+monitorTOML("blog", tg.URL+"/blog")+receiverTOML+win, withRecorder(rec))

	tg.status.Store(http.StatusServiceUnavailable)
	for range 2 {
		f.round("web")
		f.round("blog")
	}
	if f.deliver() != 0 {
		t.Fatal("an alert went out during the maintenance window")
	}
	// blog recovers inside the window: nobody saw its DOWN, so no UP either.
	// (Both share the target, so flip it only for blog's rounds.)
	tg.status.Store(http.StatusOK)
	f.round("blog")
	f.round("blog")
	tg.status.Store(http.StatusServiceUnavailable)
	f.round("web")

	f.clock.Advance(end.Sub(f.clock.Now()) + time.Second)
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d when the window ended, want exactly 1 (web, still down)", n)
	}
	msgs, _ := rec.got()
	if msgs[0].Monitor != "web" || msgs[0].Event != incident.NotifyOpen || !strings.Contains(msgs[0].Change, "maintenance window deploy") {
		t.Fatalf("after the window: %+v", msgs[0])
	}
	if f.deliver() != 0 {
		t.Fatal("more than one alert after the window")
	}

	// After the window, the UP goes out.
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web")
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after recovery, want the resolve", n)
	}
	msgs, _ = rec.got()
	if last := msgs[len(msgs)-1]; last.Event != incident.NotifyResolve || last.Monitor != "web" {
		t.Fatalf("after recovery: %+v", last)
	}
}

// TestOutageBehindABacklogIsReportedLate: the receiver did not take the
// DOWN before the incident resolved (nothing was delivered in between),
// and no window or group wait held it. The outage must not vanish: the
// receiver gets one message saying when it was down and why it is late.
func TestOutageBehindABacklogIsReportedLate(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	rec := &recorder{}
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML, withRecorder(rec))

	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web") // the incident opens; its DOWN waits behind the receiver
	f.clock.Advance(time.Minute)
	tg.status.Store(http.StatusOK)
	f.round("web")
	f.round("web") // recovered before the DOWN went out
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d, want exactly one late message", n)
	}
	msgs, _ := rec.got()
	m := msgs[0]
	if m.Event != incident.NotifyResolve || !m.Late || m.Monitor != "web" {
		t.Fatalf("late message: event %s late %v monitor %s", m.Event, m.Late, m.Monitor)
	}
	title := render.Title(&m)
	for _, want := range []string{"web was down from ", "not alerted in time because ops was unavailable"} {
		if !strings.Contains(title, want) {
			t.Errorf("title %q does not say %q", title, want)
		}
	}
	if f.deliver() != 0 {
		t.Fatal("more than one message for the outage")
	}
}
