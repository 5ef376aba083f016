package plan

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
)

// escalateConfig: prod incidents open to slack and escalate to pager and
// mail after 15m; shop's also open to mail (a later route, by continue).
const escalateConfig = `
[[monitor]]
name = "shop"
url = "https://shop.example.com/healthz"
tags = ["prod"]

[[monitor]]
name = "api"
url = "https://api.example.com/"
tags = ["prod"]

[[monitor]]
name = "blog"
url = "https://blog.example.com/"

[[receiver]]
name = "slack"
type = "slack"
channel = "C1"
token_env = "T"

[[receiver]]
name = "mail"
type = "email"
smtp = "127.0.0.1:2525"
from = "v@example.com"
to = ["o@example.com"]

[[receiver]]
name = "pager"
type = "slack"
webhook_url_env = "W"

[[route]]
match_tags = ["prod"]
receivers = ["slack"]
escalate_after = "15m"
escalate_to = ["pager", "mail"]
continue = true

[[route]]
match_monitors = ["shop"]
receivers = ["mail"]

[[route]]
receivers = ["slack"]

[[maintenance]]
name = "deploy"
monitors = ["api"]
start = 2026-11-21T10:00:00Z
end = 2026-11-21T11:00:00Z
`

func loadEscalate(t *testing.T) *config.Config {
	t.Helper()
	t.Setenv("T", "xoxb-test")
	t.Setenv("W", "https://hooks.slack.invalid/services/x")
	cfg, err := config.Parse("escalate.toml", []byte(escalateConfig))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func sendKeys(sends []Send) []string {
	var out []string
	for _, s := range sends {
		out = append(out, s.Msg.Key)
	}
	return out
}

func TestEscalationIsDueAtEscalateAfterNotBefore(t *testing.T) {
	cfg := loadEscalate(t)
	inc := target("api", incident.SeverityCritical, result.ClassBadGateway, t0)
	told := keys{openKey(inc, "slack"): store.KeyDelivered}

	sends, err := Escalations(cfg, nil, inc, 7, t0.Add(15*time.Minute-time.Second), told.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(sends) != 0 {
		t.Fatalf("escalated a second early: %v", sendKeys(sends))
	}

	at := t0.Add(15 * time.Minute)
	sends, err = Escalations(cfg, nil, inc, 7, at, told.lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{openKey(inc, "pager"), openKey(inc, "mail")}
	if got := sendKeys(sends); !reflect.DeepEqual(got, want) {
		t.Fatalf("at escalate_after: keys %v, want %v (each receiver's own open key)", got, want)
	}
	for _, s := range sends {
		m := s.Msg
		if m.Event != incident.NotifyOpen || !m.Escalated || m.IncidentID != 7 || m.GroupKey != "" || !s.NotBefore.IsZero() {
			t.Errorf("%s: event %s, escalated %v, id %d, group %q, not before %s; want an escalated open sent now, ungrouped",
				m.Receiver, m.Event, m.Escalated, m.IncidentID, m.GroupKey, s.NotBefore)
		}
		if m.Change != "Escalated: open for 15m and nobody acknowledged it." {
			t.Errorf("%s: change %q", m.Receiver, m.Change)
		}
		if m.Monitor != "api" || m.Class != result.ClassBadGateway || m.Result == nil {
			t.Errorf("%s: not the incident's open: %+v", m.Receiver, m)
		}
	}

	// Later, and again: the same keys, so the outbox holds each once.
	again, err := Escalations(cfg, nil, inc, 7, at.Add(30*time.Minute), told.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := sendKeys(again); !reflect.DeepEqual(got, want) {
		t.Errorf("recomputed: keys %v, want the same %v", got, want)
	}
	// Once the outbox has them, nothing is planned.
	done := keys{openKey(inc, "slack"): store.KeyDelivered, openKey(inc, "pager"): store.KeyQueued, openKey(inc, "mail"): store.KeyDelivered}
	if sends, _ := Escalations(cfg, nil, inc, 7, at.Add(30*time.Minute), done.lookup); len(sends) != 0 {
		t.Errorf("escalated twice: %v", sendKeys(sends))
	}
}

func TestEscalationSkipsReceiversToldItOpened(t *testing.T) {
	cfg := loadEscalate(t)
	// shop opens to slack and, by the second route, to mail.
	inc := target("shop", incident.SeverityCritical, result.ClassBadGateway, t0)
	if got := cfg.ReceiversFor(&config.Monitor{Name: "shop", Tags: []string{"prod"}}, inc.Severity, inc.Class); !reflect.DeepEqual(got, []string{"slack", "mail"}) {
		t.Fatalf("test config routes shop to %v", got)
	}
	for _, st := range []store.KeyStatus{store.KeyQueued, store.KeyAttempted, store.KeyDelivered, store.KeyOverdue} {
		k := keys{openKey(inc, "slack"): store.KeyDelivered, openKey(inc, "mail"): st}
		sends, err := Escalations(cfg, nil, inc, 7, t0.Add(20*time.Minute), k.lookup)
		if err != nil {
			t.Fatal(err)
		}
		if got := sendKeys(sends); !reflect.DeepEqual(got, []string{openKey(inc, "pager")}) {
			t.Errorf("mail's open %v: escalated %v, want pager only", st, got)
		}
	}
}

func TestAcknowledgedIncidentIsNotEscalated(t *testing.T) {
	cfg := loadEscalate(t)
	inc := target("api", incident.SeverityCritical, result.ClassBadGateway, t0)
	inc.Ack = &incident.Ack{By: "ana", At: result.TimeOf(t0.Add(5 * time.Minute))}
	sends, err := Escalations(cfg, nil, inc, 7, t0.Add(30*time.Minute), keys{}.lookup) // before api's window
	if err != nil {
		t.Fatal(err)
	}
	if len(sends) != 0 {
		t.Errorf("escalated an acknowledged incident: %v", sendKeys(sends))
	}
}

func TestEscalationWaitsForTheMaintenanceWindowToEnd(t *testing.T) {
	cfg := loadEscalate(t)
	// Opened before the window (10:00-11:00), due at 10:05, inside it.
	opened := time.Date(2026, 11, 21, 9, 50, 0, 0, time.UTC)
	inc := target("api", incident.SeverityCritical, result.ClassBadGateway, opened)
	told := keys{openKey(inc, "slack"): store.KeyDelivered}
	for _, at := range []time.Time{
		time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC),
		time.Date(2026, 11, 21, 10, 59, 59, 0, time.UTC),
	} {
		if sends, _ := Escalations(cfg, nil, inc, 7, at, told.lookup); len(sends) != 0 {
			t.Errorf("escalated at %s, in the window: %v", at.Format("15:04:05"), sendKeys(sends))
		}
	}
	end := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	sends, err := Escalations(cfg, nil, inc, 7, end, told.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := sendKeys(sends); !reflect.DeepEqual(got, []string{openKey(inc, "pager"), openKey(inc, "mail")}) {
		t.Errorf("when the window ended: %v, want pager and mail", got)
	}
	if len(sends) > 0 && !strings.Contains(sends[0].Msg.Change, "open for 1h10m") {
		t.Errorf("change %q, want the time it has really been open", sends[0].Msg.Change)
	}
}

func TestEscalationOnlyOfOpenRoutedIncidents(t *testing.T) {
	cfg := loadEscalate(t)
	late := t0.Add(30 * time.Minute) // before api's window
	for name, inc := range map[string]*incident.Incident{
		"a route without escalate_after": target("blog", incident.SeverityCritical, result.ClassBadGateway, t0),
		"a monitor that left the config": target("gone", incident.SeverityCritical, result.ClassBadGateway, t0),
		"resolved": func() *incident.Incident {
			i := target("api", incident.SeverityCritical, result.ClassBadGateway, t0)
			i.ResolvedAt = result.TimeOf(t0.Add(30 * time.Minute))
			return i
		}(),
	} {
		if sends, _ := Escalations(cfg, nil, inc, 7, late, keys{}.lookup); len(sends) != 0 {
			t.Errorf("%s: escalated %v", name, sendKeys(sends))
		}
	}
	// Not stored yet (id 0): its keys would name no incident.
	inc := target("api", incident.SeverityCritical, result.ClassBadGateway, t0)
	if sends, _ := Escalations(cfg, nil, inc, 0, late, keys{}.lookup); len(sends) != 0 {
		t.Errorf("escalated an unstored incident: %v", sendKeys(sends))
	}
	// Past escalateWithin the outbox may have pruned the delivered key:
	// nothing is planned, so it is never sent twice.
	if sends, _ := Escalations(cfg, nil, inc, 7, t0.Add(15*time.Minute+escalateWithin), keys{}.lookup); len(sends) != 0 {
		t.Errorf("escalated %s after it was due: %v", escalateWithin, sendKeys(sends))
	}
}

// TestEscalatedReceiverGetsTheLaterEvents: the escalation is the receiver's
// open, so its updates and its resolve reach it as they reach the others.
func TestEscalatedReceiverGetsTheLaterEvents(t *testing.T) {
	cfg := loadEscalate(t)
	inc := target("api", incident.SeverityCritical, result.ClassBadGateway, t0)
	sends, err := Escalations(cfg, nil, inc, 7, t0.Add(15*time.Minute), keys{openKey(inc, "slack"): store.KeyDelivered}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	k := keys{openKey(inc, "slack"): store.KeyDelivered}
	for _, s := range sends {
		k[s.Msg.Key] = store.KeyDelivered
	}
	res := *inc
	res.ResolvedAt = result.TimeOf(t0.Add(40 * time.Minute))
	ev := incident.Event{Kind: incident.EventResolved, Monitor: "api", At: res.ResolvedAt.Time, Incident: &res}
	d, err := Event(cfg, nil, &ev, 7, k.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := receiversOf(d); !reflect.DeepEqual(got, []string{"slack", "mail", "pager"}) {
		t.Errorf("resolve went to %v, want slack and both escalated receivers", got)
	}
}
