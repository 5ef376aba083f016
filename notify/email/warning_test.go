package email

import (
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
)

// certMsg is an event of a certificate warning on shop, with daysLeft
// left of the certificate it serves.
func certMsg(key string, ev incident.Notification, daysLeft int, sev incident.Severity) *notify.Message {
	opened := fixedNow.Add(-3 * time.Minute)
	c := &result.CertInfo{Subject: "CN=shop.example.com", Issuer: "CN=R11,O=Let's Encrypt,C=US", Serial: "04:a1",
		NotAfter: result.TimeOf(fixedNow.AddDate(0, 0, daysLeft)), DaysLeft: daysLeft}
	w := &result.Warning{Kind: "certificate", Summary: "certificate expires soon", Cert: c, ThresholdDays: 7,
		Seen: []result.WarningSeen{{Vantage: "local", Over: true, Cert: c}}}
	return &notify.Message{
		Key: key, Event: ev, Receiver: "ops-mail", IncidentID: 9, Kind: incident.KindCertificate,
		Monitor: "shop", URL: "https://shop.example.com/", Severity: sev, Scope: result.ScopeEveryone,
		Class: result.ClassCertExpiring, Detail: result.WarnDetail(7), OpenedAt: opened, At: fixedNow,
		Result: &result.Outcome{Result: result.Result{URL: "https://shop.example.com/", OK: true, Class: result.ClassCertExpiring}, Warning: w},
	}
}

// TestCertificateWarningThreads: a certificate warning's update (the next
// threshold) and its resolve (renewed) are replies to its opening mail,
// and no subject calls it down.
func TestCertificateWarningThreads(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: testPass}
	srv := startServer(t, pki, serveStartTLS, false, be)
	n := newNotifier(t, receiver(srv.addr, config.TLSStartTLS), pki)

	open := certMsg("cert-9/open", incident.NotifyOpen, 4, incident.SeverityWarning)
	ref, err := n.Notify(ctxTimeout(t, 10*time.Second), open, "")
	if err != nil || !strings.HasPrefix(ref, MessageID("cert-9/open", "example.com")+" ") {
		t.Fatalf("open = %q, %v", ref, err)
	}
	update := certMsg("cert-9/update/1", incident.NotifyUpdate, 1, incident.SeverityCritical)
	update.Detail, update.Change, update.Crossed = result.WarnDetail(2), "Now under 2 days (critical).", true
	resolve := certMsg("cert-9/resolve", incident.NotifyResolve, 89, incident.SeverityCritical)
	resolve.Result.Warning.ThresholdDays, resolve.Result.Warning.Seen[0].Over = 0, false
	resolve.Resolution, resolve.ResolvedAt = "recovered", fixedNow
	// A change of which vantages are served it is no crossing: not mailed.
	scope := certMsg("cert-9/update/2", incident.NotifyUpdate, 1, incident.SeverityCritical)
	scope.Change = "Now under 2 days (critical); seen from fra1 only."
	for _, m := range []*notify.Message{update, scope, resolve} {
		// The outbox hands every later event the open's stored ref.
		if newRef, err := n.Notify(ctxTimeout(t, 10*time.Second), m, ref); err != nil || newRef != "" {
			t.Fatalf("%s = %q, %v; want the opening mail's ref kept", m.Event, newRef, err)
		}
	}
	got := be.received()
	if len(got) != 3 {
		t.Fatalf("server got %d mails, want 3", len(got))
	}
	wantSubjects := []string{
		"[WARNING] shop: certificate expires in 4 days",
		"[UPDATE: WARNING critical] shop: certificate expires in 1 day",
		"Re: [WARNING] shop: certificate expires in 4 days", // a resolve keeps the open's subject
	}
	for i, g := range got {
		p := parseMail(t, g.data)
		if p.subject != wantSubjects[i] {
			t.Errorf("mail %d: Subject %q, want %q", i, p.subject, wantSubjects[i])
		}
		if s := strings.ToLower(p.subject + p.text); strings.Contains(s, "down") || strings.Contains(s, "outage") {
			t.Errorf("mail %d calls a warning down:\n%s\n%s", i, p.subject, p.text)
		}
		if i == 0 {
			if v := p.h.Get("In-Reply-To"); v != "" {
				t.Errorf("open mail has In-Reply-To %q", v)
			}
			continue
		}
		openID, _, _ := strings.Cut(ref, " ")
		if v, r := p.h.Get("In-Reply-To"), p.h.Get("References"); v != openID || r != openID {
			t.Errorf("mail %d: In-Reply-To %q, References %q; want the open's %q", i, v, r, ref)
		}
	}
	if p := parseMail(t, got[1].data); !strings.Contains(p.text, "now under 2 days (critical)") {
		t.Errorf("update mail does not say the threshold crossed:\n%s", p.text)
	}
}
