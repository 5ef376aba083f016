package slack_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/slack"
)

// TestOkFalseReasonHidesToken: a Slack ok:false error text that quotes the
// token (raw or URL-encoded) becomes the logged and stored reason; the
// token must not be in it.
func TestOkFalseReasonHidesToken(t *testing.T) {
	for name, echo := range map[string]string{"raw": testToken, "query-escaped": url.QueryEscape(testToken + "/x")} {
		t.Run(name, func(t *testing.T) {
			f := newFakeSlack(t, testToken)
			f.setOverride(func(w http.ResponseWriter, _ apiCall) bool {
				writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth: token " + echo + " is not valid"})
				return true
			})
			n := mustNew(t, botReceiver(f.URL()))
			_, err := n.Notify(t.Context(), message(incident.NotifyOpen, "shop"), "")
			p, ok := notify.IsPermanent(err)
			if !ok {
				t.Fatalf("want a permanent failure, got %v", err)
			}
			for _, s := range []string{p.Reason, err.Error()} {
				if strings.Contains(s, "t0k3nS3cr3t") {
					t.Errorf("%q shows the token", s)
				}
			}
			if !strings.HasPrefix(p.Reason, "invalid_auth: token ") {
				t.Errorf("reason %q lost Slack's code", p.Reason)
			}
		})
	}
}

// TestOtherSecretsNotPosted: the config's other secrets (Options.Redact)
// are hidden in what is posted, e.g. a body excerpt that echoes a
// monitor's API key.
func TestOtherSecretsNotPosted(t *testing.T) {
	f := newFakeSlack(t, testToken)
	r := redact.New([]redact.Secret{{Value: "monitor-api-key-42"}})
	n, err := slack.New(botReceiver(f.URL()), slack.Options{Now: clock, Redact: r.String})
	if err != nil {
		t.Fatal(err)
	}
	m := message(incident.NotifyOpen, "shop")
	m.Detail = "echo monitor-api-key-42"
	m.URL = "https://shop.example/?api_key=monitor-api-key-42"
	if _, err := n.Notify(t.Context(), m, ""); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(f.Calls())
	if strings.Contains(string(b), "monitor-api-key-42") {
		t.Errorf("posted the secret: %s", b)
	}
	if m.Detail != "echo monitor-api-key-42" {
		t.Error("Notify changed the caller's message")
	}
}
