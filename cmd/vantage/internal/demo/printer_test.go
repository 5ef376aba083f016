package demo

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/plan"
	"github.com/vantage-monitor/vantage/notify/render"
)

// The demo's receivers, in the order its config lists them.
var (
	slackOps    = config.Receiver{Name: "slack-ops", Type: config.ReceiverSlack, Channel: "C0DEMOOPS"}
	emailOncall = config.Receiver{Name: "email-oncall", Type: config.ReceiverEmail, To: []string{"oncall@example.com"}}
)

func printerWith(t *testing.T) (*Printer, *testkit.Buffer, map[string]notify.Notifier) {
	t.Helper()
	var out testkit.Buffer
	p := NewPrinter(&out)
	ns := map[string]notify.Notifier{}
	for _, r := range []*config.Receiver{&slackOps, &emailOncall} {
		n, err := p.Notifier(r)
		if err != nil {
			t.Fatal(err)
		}
		ns[r.Name] = n
	}
	return p, &out, ns
}

// message is the outbox's message for receiver of the event eventKey.
func message(ev incident.Notification, eventKey, receiver string) *notify.Message {
	at := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	return &notify.Message{
		Key: plan.Key(eventKey, receiver), Event: ev, Receiver: receiver, IncidentID: 3,
		Kind: incident.KindTarget, Monitor: "shop", URL: "http://127.0.0.1:8080/cart", Severity: incident.SeverityCritical,
		Scope: result.ScopeEveryone, Class: result.ClassBadGateway, Gateway: "nginx", Status: 502,
		OpenedAt: at, At: at,
		Result: &result.Outcome{Result: result.Result{URL: "http://127.0.0.1:8080/cart", Class: result.ClassBadGateway, Status: 502, Gateway: "nginx"}, Scope: result.ScopeEveryone},
		Fixes:  []string{"Read nginx's error log: grep 'upstream' /var/log/nginx/error.log."},
	}
}

func deliver(t *testing.T, n notify.Notifier, m *notify.Message) {
	t.Helper()
	if _, err := n.Notify(context.Background(), m, ""); err != nil {
		t.Fatal(err)
	}
}

// sections splits the printer's output at its "──── " lines.
func sections(s string) (heads, bodies []string) {
	for _, p := range strings.Split(s, "\n──── ")[1:] {
		h, b, _ := strings.Cut(p, "\n")
		heads, bodies = append(heads, h), append(bodies, b)
	}
	return heads, bodies
}

// TestPrinterPrintsEachAlertOnce: the outbox hands the printer one
// message per receiver; the alert is printed once, as the email's text and
// as Slack's blocks, not the same text once per receiver.
func TestPrinterPrintsEachAlertOnce(t *testing.T) {
	p, out, ns := printerWith(t)
	const ev = "target:shop@2026-12-02T15:00:00Z/opened"
	slackMsg, emailMsg := message(incident.NotifyOpen, ev, "slack-ops"), message(incident.NotifyOpen, ev, "email-oncall")

	deliver(t, ns["slack-ops"], slackMsg)
	if got := out.String(); got != "" {
		t.Fatalf("printed before every receiver had the alert:\n%s", got)
	}
	deliver(t, ns["email-oncall"], emailMsg)
	heads, bodies := sections(out.String())
	if len(heads) != 2 {
		t.Fatalf("%d sections, want 2 (the email, then Slack):\n%s", len(heads), out.String())
	}
	if !strings.HasPrefix(heads[0], "email to oncall@example.com (receiver email-oncall): open") ||
		!strings.HasPrefix(heads[1], "Slack C0DEMOOPS (receiver slack-ops): open, a new message") {
		t.Errorf("heads %q, want the email then Slack's new message", heads)
	}
	if bodies[0] != render.Text(emailMsg) {
		t.Errorf("the email section is not the email's text part:\n%s", bodies[0])
	}
	// The parent, then the details the receiver posts as the first reply
	// in its thread.
	want := render.SlackText(render.SlackBlocks(slackMsg))
	if d := render.SlackDetail(slackMsg); d != nil {
		want += "\n\n↳ first reply in its thread:\n" + render.SlackText(d)
	}
	if bodies[1] != want {
		t.Errorf("the Slack section is not Slack's blocks and its details reply as text:\ngot:\n%s\nwant:\n%s", bodies[1], want)
	}
	if !strings.Contains(bodies[1], "first reply in its thread") {
		t.Errorf("the Slack section lacks the details reply:\n%s", bodies[1])
	}
	if bodies[0] == bodies[1] {
		t.Errorf("the same text twice:\n%s", bodies[0])
	}
	if a, m := p.Count(); a != 1 || m != 2 {
		t.Errorf("Count() = %d alerts, %d messages; want 1, 2", a, m)
	}
	if missing := p.Missing([]string{"shop"}, nil); len(missing) != 0 {
		t.Errorf("Missing = %v after both receivers had the opening alert", missing)
	}

	// An update rewrites Slack's message (its headline is never stale) and
	// replies in its thread, and is a full email.
	const upd = "target:shop@2026-12-02T15:00:00Z/changed/1"
	deliver(t, ns["email-oncall"], message(incident.NotifyUpdate, upd, "email-oncall"))
	deliver(t, ns["slack-ops"], message(incident.NotifyUpdate, upd, "slack-ops"))
	heads, bodies = sections(out.String())
	if len(heads) != 5 || !strings.Contains(heads[3], "update, the incident's message rewritten") || !strings.Contains(heads[4], "update, a reply in the incident's thread") {
		t.Fatalf("heads %q, want the update's email, Slack rewrite and reply", heads)
	}
	if want := render.SlackText(render.SlackReply(message(incident.NotifyUpdate, upd, "slack-ops"))); bodies[4] != want {
		t.Errorf("the Slack update is not the thread reply:\ngot:\n%s\nwant:\n%s", bodies[4], want)
	}
}

// TestPrinterFlush: an alert a receiver has not had when the demo stops is
// printed all the same, saying which receiver did not get it; a second
// delivery to the same receiver is printed on its own.
func TestPrinterFlush(t *testing.T) {
	p, out, ns := printerWith(t)
	const ev = "target:shop@2026-12-02T15:00:00Z/opened"
	deliver(t, ns["slack-ops"], message(incident.NotifyOpen, ev, "slack-ops"))
	again := message(incident.NotifyOpen, ev, "slack-ops")
	again.Repeat = true
	deliver(t, ns["slack-ops"], again)
	if heads, _ := sections(out.String()); len(heads) != 1 {
		t.Fatalf("%d sections after the repeat, want the first delivery printed:\n%s", len(heads), out.String())
	}
	p.Flush()
	s := out.String()
	heads, bodies := sections(s)
	if len(heads) != 2 || !strings.Contains(bodies[1], "(possible repeat)") {
		t.Fatalf("want the first delivery and the repeat, each once:\n%s", s)
	}
	if n := strings.Count(s, "(not delivered to receiver email-oncall when the demo stopped)"); n != 2 {
		t.Errorf("%d notes on the missing receiver, want 2:\n%s", n, s)
	}
	if a, _ := p.Count(); a != 2 {
		t.Errorf("Count() = %d alerts, want 2", a)
	}
	p.Flush()
	if out.String() != s {
		t.Errorf("a second Flush printed again")
	}
}
