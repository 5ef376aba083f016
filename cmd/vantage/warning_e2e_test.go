package main

// The end-to-end test of issue 14's certificate warning: the real `vantage
// run` checks a TLS target on loopback whose certificate, from a test CA
// given through ca_file, has 5 days left, and delivers to the fake Slack of
// cmd/vantage/chaos_test.go. One message for the warning, the monitor up
// all along, a restart that sends nothing again, and the renewal (the
// server restarted on the same address with a fresh certificate) as that
// message rewritten plus a reply in its thread.

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/web"
)

// warnTLSTarget is an HTTPS target the test can restart on the same
// address with another certificate, as an operator's renewal does.
type warnTLSTarget struct {
	t    *testing.T
	addr string
	srv  *http.Server
	done chan struct{}
}

func newWarnTLSTarget(t *testing.T, cert tls.Certificate) *warnTLSTarget {
	t.Helper()
	wt := &warnTLSTarget{t: t, addr: "127.0.0.1:0"}
	wt.start(cert)
	t.Cleanup(wt.stop)
	return wt
}

// start serves cert on wt.addr (a free port the first time, the same one
// after).
func (wt *warnTLSTarget) start(cert tls.Certificate) {
	wt.t.Helper()
	ln, err := net.Listen("tcp", wt.addr)
	if err != nil {
		wt.t.Fatalf("listening for the TLS target on %s: %v", wt.addr, err)
	}
	wt.addr = ln.Addr().String()
	wt.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "ok")
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan struct{})
	wt.done = done
	srv := wt.srv
	go func() {
		defer close(done)
		_ = srv.Serve(tls.NewListener(ln, srv.TLSConfig))
	}()
}

// stop closes the listener and every connection, so that the next check
// dials afresh and is served whatever start serves next.
func (wt *warnTLSTarget) stop() {
	if wt.srv == nil {
		return
	}
	_ = wt.srv.Close()
	<-wt.done
	wt.srv = nil
}

// slackCall is one request the fake Slack answered with ok.
type slackCall struct {
	method, text, blocks, thread, ts string
}

// warnSlack records every call it passes to the chaos test's fake Slack
// (chaosSlack, with no faults planned), with what it answered.
type warnSlack struct {
	inner *chaosSlack

	mu    sync.Mutex
	calls []slackCall
}

func (f *warnSlack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	rec := httptest.NewRecorder()
	f.inner.ServeHTTP(rec, r)
	var answer struct {
		OK bool   `json:"ok"`
		TS string `json:"ts"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &answer)
	// The details each new message gets as its first thread reply
	// (render.SlackDetail, named in the metadata) are not part of the flow
	// this test follows; notify/slack's tests cover them.
	// They are read as part of the message they follow: what an operator
	// reads of it.
	detail := strings.Contains(r.Form.Get("metadata"), `"part":"detail"`)
	if answer.OK && detail {
		f.mu.Lock()
		for i := range f.calls {
			if f.calls[i].ts == r.Form.Get("thread_ts") && f.calls[i].method == "chat.postMessage" {
				f.calls[i].blocks += "\n" + blockText(r.Form.Get("blocks"))
			}
		}
		f.mu.Unlock()
	}
	if answer.OK && !detail {
		c := slackCall{method: strings.TrimPrefix(r.URL.Path, "/api/"), text: r.Form.Get("text"),
			blocks: blockText(r.Form.Get("blocks")), thread: r.Form.Get("thread_ts"), ts: answer.TS}
		if c.method == "chat.update" {
			c.ts = r.Form.Get("ts")
		}
		f.mu.Lock()
		f.calls = append(f.calls, c)
		f.mu.Unlock()
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (f *warnSlack) Calls() []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slackCall(nil), f.calls...)
}

// posts are the calls that started a message: chat.postMessage outside a
// thread.
func posts(calls []slackCall) []slackCall {
	var out []slackCall
	for _, c := range calls {
		if c.method == "chat.postMessage" && c.thread == "" {
			out = append(out, c)
		}
	}
	return out
}

func describeCalls(calls []slackCall) string {
	var b strings.Builder
	for i, c := range calls {
		fmt.Fprintf(&b, "\n  %d. %s ts=%s thread=%s text=%q", i+1, c.method, c.ts, c.thread, c.text)
	}
	return b.String()
}

// outboxEmpty reports whether the daemon at addr has nothing left to send.
func outboxEmpty(addr string) bool {
	var ns struct {
		Notifications []web.NotificationView `json:"notifications"`
	}
	return getJSON("http://"+addr+"/api/v1/notifications", &ns) == nil && len(ns.Notifications) == 0
}

// certWarning is v's one open warning when it is the certificate's.
func certWarning(v web.MonitorView) (incident.Incident, bool) {
	if len(v.Warnings) != 1 {
		return incident.Incident{}, false
	}
	w := v.Warnings[0]
	return w, w.Kind == incident.KindCertificate && w.Class == result.ClassCertExpiring && w.Open()
}

// TestWarningE2ECertificateExpiryAndRenewal: a certificate with 5 days
// left gets one Slack message while the monitor stays up; a restart of the
// daemon sends nothing again; the renewal rewrites that message and
// replies in its thread with the new certificate's days.
func TestWarningE2ECertificateExpiryAndRenewal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real daemon twice")
	}
	const name = "cert-site"
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	ca := testkit.NewCA(t, "vantage e2e CA")
	ca.WriteFile(t, filepath.Join(dir, "private-ca.pem"))
	now := time.Now()
	// An hour short of whole days, so that the days left are 4 and 89
	// however long the test takes.
	expiring := ca.Leaf(t, []string{"127.0.0.1"}, testkit.ValidBetween(now.Add(-time.Hour), now.Add(5*24*time.Hour-time.Hour)))
	renewed := ca.Leaf(t, []string{"127.0.0.1"}, testkit.ValidBetween(now.Add(-time.Hour), now.Add(90*24*time.Hour-time.Hour)))
	target := newWarnTLSTarget(t, expiring)

	ledger := newChaosLedger(&atomic.Int32{})
	ledger.handout = chaosPlans{} // every request succeeds
	slack := &warnSlack{inner: &chaosSlack{l: ledger}}
	slackSrv := httptest.NewServer(slack)
	t.Cleanup(slackSrv.Close)
	if err := os.WriteFile(filepath.Join(dir, "slack-token"), []byte("xoxb-e2e\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	// cert_warn_days is left at its default, [21, 7, 2]: 4 days left is
	// under 7, a warning. confirm = 2 with a quick retry: the moment the
	// target is restarted for the renewal is not an outage.
	cfg := fmt.Sprintf(`state_dir = %q
listen = %q

[notify]
group_wait = "0"

[[monitor]]
name = %q
url = %q
schedule = "@every 1s"
timeout = "900ms"
confirm = 2
recover = 1
retry_delay = "200ms"
ca_file = "private-ca.pem"

[[receiver]]
name = "ops-slack"
type = "slack"
channel = "CE2E"
token_file = "slack-token"
api_url = %q
timeout = "2s"

[[route]]
name = "warnings-and-outages"
min_severity = "warning"
receivers = ["ops-slack"]
`, stateDir, addr, name, "https://"+target.addr+"/", slackSrv.URL+"/api/")
	file := filepath.Join(dir, "vantage.toml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "validate", "-config", file); code != exitOK {
		t.Fatalf("the test's config does not validate (exit %d):\n%s%s", code, out, errOut)
	}

	// The warning: one message, the monitor up.
	a := startDaemon(t, file, addr)
	v := a.view(name, "up with a certificate warning, its message sent", func(v web.MonitorView) bool {
		_, ok := certWarning(v)
		return ok && v.State == incident.StateUp && len(posts(slack.Calls())) > 0 && outboxEmpty(addr)
	})
	warn, _ := certWarning(v)
	if v.OpenIncident != nil {
		t.Errorf("%s has a target incident open beside its warning: %+v", name, *v.OpenIncident)
	}
	if v.LastResult == nil || !v.LastResult.OK {
		t.Errorf("%s's last result is not a success: %+v", name, v.LastResult)
	}
	if warn.Severity != incident.SeverityWarning {
		t.Errorf("warning severity %s, want %s (4 days is under 7, not yet under 2)", warn.Severity, incident.SeverityWarning)
	}
	calls := slack.Calls()
	if len(calls) != 1 || calls[0].method != "chat.postMessage" || calls[0].thread != "" {
		t.Fatalf("Slack calls after the warning opened, want one chat.postMessage:%s", describeCalls(calls))
	}
	first := calls[0]
	serial := serialOf(expiring)
	for _, want := range []string{
		name + " is up, but its certificate expires in 4 days.",
		"Threshold:* under the 7-day cert_warn_days threshold",
		"Certificate:* CN=127.0.0.1",
		"Issued by:* CN=vantage e2e CA",
		"Serial:* " + serial,
		"(4 days left)",
		fmt.Sprintf("incident #%d · event open", warn.ID),
	} {
		if !strings.Contains(first.blocks, want) {
			t.Errorf("the warning's message lacks %q:\n%s", want, first.blocks)
		}
	}
	if want := "[WARNING] " + name + ": certificate expires in 4 days"; first.text != want {
		t.Errorf("the warning's message text = %q, want %q", first.text, want)
	}

	// A restart while the warning is open sends nothing again, and the
	// warning is the same incident.
	a.stop()
	restarted := time.Now()
	b := startDaemon(t, file, addr)
	b.view(name, "still warned after two rounds since the restart", func(v web.MonitorView) bool {
		w, ok := certWarning(v)
		return ok && w.ID == warn.ID && v.State == incident.StateUp && v.LastCheck.After(restarted.Add(1500*time.Millisecond)) && outboxEmpty(addr)
	})
	if calls := slack.Calls(); len(calls) != 1 {
		t.Fatalf("Slack calls after the restart, want still the one post:%s", describeCalls(calls))
	}

	// The renewal: the same address serves a fresh certificate.
	target.stop()
	target.start(renewed)
	v = b.view(name, "warning resolved, its messages sent", func(v web.MonitorView) bool {
		return len(v.Warnings) == 0 && v.State == incident.StateUp && len(slack.Calls()) >= 3 && outboxEmpty(addr)
	})
	if v.OpenIncident != nil {
		t.Errorf("%s has a target incident open after the renewal: %+v", name, *v.OpenIncident)
	}
	calls = slack.Calls()
	if len(calls) != 3 {
		t.Fatalf("Slack calls after the renewal, want the post, then chat.update and a thread reply:%s", describeCalls(calls))
	}
	if p := posts(calls); len(p) != 1 {
		t.Errorf("%d messages started, want 1:%s", len(p), describeCalls(calls))
	}
	update, reply := calls[1], calls[2]
	if update.method != "chat.update" || update.ts != first.ts {
		t.Errorf("second call %s of ts %s, want chat.update of the warning's message %s", update.method, update.ts, first.ts)
	}
	if reply.method != "chat.postMessage" || reply.thread != first.ts {
		t.Errorf("third call %s in thread %q, want a reply in the warning's thread %s", reply.method, reply.thread, first.ts)
	}
	// The rewritten parent shows what fits at a glance
	// (notify/render.SlackBlocks), and no longer the old serial; the new
	// one is in the thread reply, checked below.
	if strings.Contains(update.blocks, serial) {
		t.Errorf("the rewritten message still shows the old serial %s:\n%s", serial, update.blocks)
	}
	for _, want := range []string{
		name + ": certificate renewed: the new certificate has 89 days left",
		"(89 days left)",
		fmt.Sprintf("incident #%d · event resolve", warn.ID),
	} {
		if !strings.Contains(update.blocks, want) {
			t.Errorf("the rewritten message lacks %q:\n%s", want, update.blocks)
		}
	}
	if want := "[RESOLVED] " + name + ": certificate renewed, 89 days left"; update.text != want || reply.text != want {
		t.Errorf("the resolve's texts are %q (update) and %q (reply), want %q", update.text, reply.text, want)
	}
	if want := "*" + name + "*: certificate renewed: the new certificate has 89 days left (serial " + serialOf(renewed); !strings.Contains(reply.blocks, want) {
		t.Errorf("the thread reply lacks %q (the new certificate's serial):\n%s", want, reply.blocks)
	}

	// Nothing said down, and the fake understood every request.
	for i, c := range calls {
		if s := strings.ToLower(c.text + "\n" + c.blocks); strings.Contains(s, "down") || strings.Contains(s, "outage") {
			t.Errorf("call %d (%s) calls the warning down or an outage:\n%s", i+1, c.method, s)
		}
	}
	ledger.mu.Lock()
	for _, p := range ledger.problems {
		t.Errorf("fake Slack: %s", p)
	}
	ledger.mu.Unlock()
	b.stop()
}

// serialOf is a certificate's serial as the alerts show it (openssl's
// "0A:1B:2C").
func serialOf(c tls.Certificate) string {
	b := c.Leaf.SerialNumber.Bytes()
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}
