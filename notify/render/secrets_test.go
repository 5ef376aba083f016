package render

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
)

// TestURLSecretsNeverRendered: a monitor URL with user:password@ (and a
// token in its query) is shown redacted in every rendering, as the web API
// shows it, whichever field carries it.
func TestURLSecretsNeverRendered(t *testing.T) {
	u := "https://bob:hunter22@shop.example.com/health?access_token=tok-abc&page=1"
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	res := &result.Outcome{Result: result.Result{URL: u, FinalURL: u + "&sig=sig-def", Redirects: 1, Class: result.ClassServerError, Status: 500,
		Error: "GET " + u + " returned 500", Evidence: result.Evidence{Body: "see " + u}}}
	down := &notify.Message{Key: "1", Event: incident.NotifyOpen, Kind: incident.KindTarget, Monitor: "shop", URL: u,
		Severity: incident.SeverityCritical, Class: result.ClassServerError, Status: 500, OpenedAt: at, At: at, Result: res}
	update := *down
	update.Event, update.Change = incident.NotifyUpdate, "now redirects to "+u
	resolve := *down
	resolve.Event, resolve.ResolvedAt = incident.NotifyResolve, at.Add(time.Minute)
	group := *down
	group.Group = []notify.Member{{Monitor: "shop", URL: u, Class: result.ClassServerError}, {Monitor: "cart", URL: u, Class: result.ClassServerError}}
	group.Cause = "gateway"
	vantage := &notify.Message{Key: "v", Event: incident.NotifyOpen, Kind: incident.KindVantage, Monitor: "fra1", At: at,
		Result: &result.Outcome{Result: result.Result{URL: "https://fra1:agent-pass@fra1.example.net/", Error: "calling the agent failed"}}}
	for name, m := range map[string]*notify.Message{"down": down, "update": &update, "resolve": &resolve, "group": &group, "vantage": vantage} {
		blocks, _ := json.Marshal(SlackFull(m))
		reply, _ := json.Marshal(SlackReply(m))
		for kind, out := range map[string]string{"title": Title(m), "text": Text(m), "html": HTML(m), "slack": string(blocks), "reply": string(reply)} {
			for _, leak := range []string{"hunter22", "tok-abc", "sig-def", "agent-pass"} {
				if strings.Contains(out, leak) {
					t.Errorf("%s %s shows %q:\n%s", name, kind, leak, out)
				}
			}
		}
		if name == "down" && !strings.Contains(Text(m), "https://bob:xxxxx@shop.example.com/health?access_token=…&page=1") {
			t.Errorf("the text lost the redacted URL:\n%s", Text(m))
		}
	}
	if down.URL != u || res.FinalURL != u+"&sig=sig-def" {
		t.Error("rendering changed the message")
	}
}
