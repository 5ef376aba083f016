package web

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// TestQueryRule: the values of secret-looking query keys read "…" on the
// page and in the API, whatever the redactor.
func TestQueryRule(t *testing.T) {
	u := "https://api.example.test/health?api_key=k-123&Token=t-456&page=2"
	mons := []MonitorView{{
		Name: "q", URL: u, State: incident.StateDown,
		LastResult: &result.Outcome{Result: result.Result{URL: u, FinalURL: u + "&sig=s-789", Class: result.ClassServerError,
			Error: "GET " + u + " returned 500 Internal Server Error"}},
	}}
	h := newTestHandler(&fakeSource{mons: mons}, nil, nil)
	for _, p := range []string{"/", "/api/v1/monitors", "/api/v1/monitors/q"} {
		body := serve(h, http.MethodGet, p).Body.String()
		for _, leak := range []string{"k-123", "t-456", "s-789"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s shows %q:\n%s", p, leak, body)
			}
		}
		if !strings.Contains(body, "api_key=…") || !strings.Contains(body, "page=2") {
			t.Errorf("%s lost the redacted URL:\n%s", p, body)
		}
	}
}

// TestEveryFieldRedacted: with the config's redactor, a secret is hidden in
// every field the API and the page show, last_error included: an SMTP 535
// that echoes the AUTH PLAIN blob, a Slack error quoting the token.
func TestEveryFieldRedacted(t *testing.T) {
	r := redact.New([]redact.Secret{{Value: "smtp-pass-1", User: "alerts"}, {Value: "xoxb-token-2"}})
	blob := base64.StdEncoding.EncodeToString([]byte("\x00alerts\x00smtp-pass-1"))
	src := &outboxSource{
		fakeSource: fakeSource{mons: []MonitorView{{
			Name: "m", URL: "https://m.example.test/", State: incident.StateDown, Tags: []string{"xoxb-token-2"},
			LastResult: &result.Outcome{Result: result.Result{Class: result.ClassClientError, Error: "target echoed xoxb-token-2",
				Evidence: result.Evidence{Body: "Authorization: Bearer xoxb-token-2", Headers: []string{"X-Echo: " + blob}}}},
			OpenIncident: &incident.Incident{Class: result.ClassClientError, Last: &result.Outcome{Result: result.Result{Error: "xoxb-token-2"}}},
		}}},
		list: []NotificationView{
			{Key: "1|mail", Receiver: "mail", Event: "open", State: "failed", LastError: "smtp 535 5.7.8 bad credentials " + blob, CreatedAt: result.TimeOf(time.Unix(0, 0))},
			{Key: "2|slack", Receiver: "slack", Event: "open", State: "failed", LastError: "permanent failure (invalid_auth xoxb-token-2)", CreatedAt: result.TimeOf(time.Unix(0, 0))},
		},
	}
	h := Handler(src, nil, nil, WithRedact(r.String))
	for _, p := range []string{"/", "/api/v1/monitors", "/api/v1/monitors/m", "/api/v1/notifications"} {
		body := serve(h, http.MethodGet, p).Body.String()
		for _, leak := range []string{"smtp-pass-1", blob, "xoxb-token-2"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s shows %q:\n%s", p, leak, body)
			}
		}
		if !strings.Contains(body, "&lt;secret&gt;") && !strings.Contains(body, `\u003csecret\u003e`) {
			t.Errorf("%s shows no marker:\n%s", p, body)
		}
	}
	if src.list[0].LastError != "smtp 535 5.7.8 bad credentials "+blob || src.mons[0].LastResult.Error != "target echoed xoxb-token-2" {
		t.Error("redaction wrote into the source's values")
	}
}
