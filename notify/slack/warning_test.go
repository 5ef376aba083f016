package slack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/render"
)

// certMessage is an event of a certificate warning on site.
func certMessage(ev incident.Notification) *notify.Message {
	c := &result.CertInfo{Subject: "CN=site.example", Issuer: "CN=R11,O=Let's Encrypt,C=US", Serial: "04:a1",
		NotAfter: result.TimeOf(opened.AddDate(0, 0, 4)), DaysLeft: 4, DNSNames: []string{"site.example"}}
	w := &result.Warning{Kind: "certificate", Summary: "certificate expires in 4 days, served to local", Cert: c, ThresholdDays: 7,
		Seen: []result.WarningSeen{{Vantage: "local", Over: true, Cert: c}}}
	m := &notify.Message{
		Key: "cert-" + string(ev), Event: ev, Receiver: "ops", IncidentID: 8, Kind: incident.KindCertificate,
		Monitor: "site", URL: "https://site.example/", Severity: incident.SeverityWarning, Scope: result.ScopeEveryone,
		Class: result.ClassCertExpiring, Detail: result.WarnDetail(7), OpenedAt: opened, At: opened,
		Result: &result.Outcome{Result: result.Result{URL: "https://site.example/", OK: true, Class: result.ClassCertExpiring}, Warning: w},
		Fixes:  []string{"run certbot renew --dry-run"},
	}
	switch ev {
	case incident.NotifyUpdate:
		m.At = opened.Add(72 * time.Hour)
		m.Severity, m.Detail, m.Change, m.Crossed = incident.SeverityCritical, result.WarnDetail(2), "Now under 2 days (critical).", true
		w.Cert.DaysLeft, w.ThresholdDays = 1, 2
	case incident.NotifyResolve:
		m.At = opened.Add(73 * time.Hour)
		m.ResolvedAt, m.Resolution, m.Fixes = m.At, "recovered", nil
		w.Cert.DaysLeft, w.Cert.Serial, w.ThresholdDays, w.Seen[0].Over = 89, "03:f2", 0, false
	}
	return m
}

// TestCertificateWarningThread: a certificate warning gets one message,
// its threshold crossing a reply in that message's thread, and its
// renewal the message rewritten in place plus a reply, as an outage does;
// nothing in it says down.
func TestCertificateWarningThread(t *testing.T) {
	ctx := t.Context()
	f := newFakeSlack(t, testToken)
	n := mustNew(t, botReceiver(f.URL()))

	open := certMessage(incident.NotifyOpen)
	ref, err := n.Notify(ctx, open, "")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ch, ts := splitRef(t, ref)
	update := certMessage(incident.NotifyUpdate)
	if newRef, err := n.Notify(ctx, update, ref); err != nil || newRef != "" {
		t.Fatalf("update = %q, %v", newRef, err)
	}
	res := certMessage(incident.NotifyResolve)
	if newRef, err := n.Notify(ctx, res, ref); err != nil || newRef != "" {
		t.Fatalf("resolve = %q, %v", newRef, err)
	}

	calls := f.Calls()
	if len(calls) != 5 {
		t.Fatalf("%d calls, want 5: post, chat.update, reply, chat.update, reply", len(calls))
	}
	checkCall(t, calls[0], "chat.postMessage", "#alerts", "", render.SlackBlocks(open), open)
	checkCall(t, calls[1], "chat.update", ch, ts, render.SlackBlocks(update), update)
	checkCall(t, calls[2], "chat.postMessage", ch, ts, render.SlackReply(update), update)
	checkCall(t, calls[3], "chat.update", ch, ts, render.SlackBlocks(res), res)
	checkCall(t, calls[4], "chat.postMessage", ch, ts, render.SlackReply(res), res)

	if got, _ := f.message(ref); normJSON(t, got) != blocksJSON(t, render.SlackBlocks(res)) {
		t.Errorf("the warning's message now holds %s, want the resolved blocks", got)
	}
	for j, want := range []string{"certificate expires in 4 days", "now under 2 days (critical)", "certificate renewed, 89 days left", "the new certificate has 89 days left"} {
		i := []int{0, 2, 3, 4}[j] // the open, the update's reply, the resolve's rewrite and reply
		if c := calls[i]; !strings.Contains(c.Form.Get("blocks"), want) {
			t.Errorf("call %d (%s) lacks %q: %s", i, c.Method, want, c.Form.Get("blocks"))
		}
	}
	for i, c := range calls {
		if s := strings.ToLower(c.Form.Get("blocks") + c.Form.Get("text")); strings.Contains(s, "down") || strings.Contains(s, "outage") {
			t.Errorf("call %d (%s) calls a warning down: %s", i, c.Method, s)
		}
	}
}
