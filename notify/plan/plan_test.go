package plan

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
)

const testConfig = `
[[monitor]]
name = "shop"
url = "https://shop.example.com/healthz"
tags = ["prod", "shop"]

[[monitor]]
name = "blog"
url = "https://blog.example.com/"
tags = ["staging"]

[[monitor]]
name = "api"
url = "https://api.example.com/"
tags = ["prod"]

[[monitor]]
name = "site"
url = "https://site.example.com/"
tags = ["web"]

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
min_severity = "critical"
classes = ["bad_gateway"]
receivers = ["pager"]
continue = true

[[route]]
match_tags = ["prod"]
min_severity = "warning"
receivers = ["slack", "mail"]
repeat = "1h"

[[route]]
match_tags = ["web"]
min_severity = "warning"
classes = ["cert_expiring"]
receivers = ["pager"]

[[route]]
receivers = ["slack"]

[[maintenance]]
name = "deploy"
monitors = ["api"]
start = 2026-11-21T10:00:00Z
end = 2026-11-21T11:00:00Z

[[maintenance]]
name = "renewal"
monitors = ["site"]
start = 2026-11-21T10:00:00Z
end = 2026-11-21T11:00:00Z
`

func loadTest(t *testing.T) *config.Config {
	t.Helper()
	t.Setenv("T", "xoxb-test")
	t.Setenv("W", "https://hooks.slack.invalid/services/x")
	cfg, err := config.Parse("test.toml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func target(mon string, sev incident.Severity, class result.Class, opened time.Time) *incident.Incident {
	return &incident.Incident{ID: 7, Monitor: mon, Kind: incident.KindTarget, Severity: sev, OpenedAt: result.TimeOf(opened), Class: class, Scope: "everyone",
		Last: &result.Outcome{Result: result.Result{URL: "https://x.example.com/", Class: class, Status: 502, Gateway: "nginx", RemoteAddr: "192.0.2.10:443"}}}
}

// keys is a fake outbox: key → status.
type keys map[string]store.KeyStatus

func (k keys) lookup(key string) (store.KeyStatus, error) { return k[key], nil }

func receiversOf(d Decision) []string {
	var out []string
	for _, s := range d.Sends {
		out = append(out, s.Msg.Receiver)
	}
	return out
}

func TestRouting(t *testing.T) {
	cfg := loadTest(t)
	for _, tc := range []struct {
		name  string
		mon   string
		sev   incident.Severity
		class result.Class
		want  []string
	}{
		{"critical 502 on prod: pager, then continue to slack+mail", "shop", incident.SeverityCritical, result.ClassBadGateway, []string{"pager", "slack", "mail"}},
		{"critical 504 on prod: class filter skips pager", "shop", incident.SeverityCritical, result.ClassGatewayTimeout, []string{"slack", "mail"}},
		{"warning 502 on prod: severity filter skips pager", "shop", incident.SeverityWarning, result.ClassBadGateway, []string{"slack", "mail"}},
		{"info on prod: falls through to the catch-all", "shop", incident.SeverityInfo, result.ClassDNSError, []string{"slack"}},
		{"staging: catch-all only", "blog", incident.SeverityCritical, result.ClassBadGateway, []string{"slack"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := target(tc.mon, tc.sev, tc.class, t0)
			ev := incident.Event{Kind: incident.EventOpened, Monitor: tc.mon, At: t0, Incident: inc, Result: inc.Last}
			d, err := Event(cfg, nil, &ev, 7, keys{}.lookup)
			if err != nil {
				t.Fatal(err)
			}
			if got := receiversOf(d); !slices.Equal(got, tc.want) {
				t.Fatalf("receivers = %v, want %v", got, tc.want)
			}
			for _, s := range d.Sends {
				if s.Msg.Key != Key(ev.Key(), s.Msg.Receiver) || s.Msg.Event != incident.NotifyOpen || s.Msg.IncidentID != 7 {
					t.Errorf("message %+v: wrong key, event or incident", s.Msg)
				}
				if s.Msg.URL != cfg.Monitor(tc.mon).URL {
					t.Errorf("URL = %q, want the monitor's", s.Msg.URL)
				}
			}
		})
	}
}

func TestVantageIncidentsRouteByTag(t *testing.T) {
	cfg := loadTest(t)
	inc := &incident.Incident{Monitor: "fra1", Kind: incident.KindVantage, Severity: incident.SeverityWarning, OpenedAt: result.TimeOf(t0), Class: result.ClassNetworkUnreachable}
	ev := incident.Event{Kind: incident.EventOpened, Monitor: "fra1", At: t0, Incident: inc}
	d, err := Event(cfg, nil, &ev, 3, keys{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	// Not tagged prod: only the catch-all route matches.
	if got := receiversOf(d); !slices.Equal(got, []string{"slack"}) {
		t.Fatalf("receivers = %v, want [slack]", got)
	}
	if d.Sends[0].Msg.GroupKey != "" {
		t.Errorf("a vantage incident got group key %q", d.Sends[0].Msg.GroupKey)
	}
	// Held for group_wait, so the isolation notice can take its place.
	if !d.Sends[0].NotBefore.Equal(t0.Add(cfg.Notify.GroupWait)) {
		t.Errorf("vantage alert not before %s, want %s", d.Sends[0].NotBefore, t0.Add(cfg.Notify.GroupWait))
	}
}

func TestLaterEventsGoToWhoeverWasToldItOpened(t *testing.T) {
	cfg := loadTest(t)
	inc := target("shop", incident.SeverityCritical, result.ClassBadGateway, t0)
	resolved := *inc
	resolved.ResolvedAt = result.TimeOf(t0.Add(20 * time.Minute))
	resolved.Resolution = "recovered"
	ev := incident.Event{Kind: incident.EventResolved, Monitor: "shop", At: resolved.ResolvedAt.Time, Incident: &resolved}
	k := keys{
		openKey(inc, "slack"): store.KeyDelivered,
		openKey(inc, "mail"):  store.KeyAttempted, // failed once: the resolve queues behind it
		// pager never got the open (a later route change): no resolve.
	}
	d, err := Event(cfg, nil, &ev, 7, k.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := receiversOf(d); !slices.Equal(got, []string{"slack", "mail"}) {
		t.Fatalf("receivers = %v, want [slack mail]", got)
	}
	m := d.Sends[0].Msg
	if m.Event != incident.NotifyResolve || m.Duration() != 20*time.Minute || len(m.Fixes) != 0 {
		t.Errorf("resolve message: event %s, duration %s, fixes %v", m.Event, m.Duration(), m.Fixes)
	}
}

func TestUnseenAlertIsWithdrawnOnResolve(t *testing.T) {
	cfg := loadTest(t)
	inc := target("shop", incident.SeverityWarning, result.ClassBadGateway, t0)
	resolved := *inc
	resolved.ResolvedAt = result.TimeOf(t0.Add(5 * time.Second))
	ev := incident.Event{Kind: incident.EventResolved, Monitor: "shop", At: resolved.ResolvedAt.Time, Incident: &resolved}
	k := keys{openKey(inc, "slack"): store.KeyQueued, openKey(inc, "mail"): store.KeyDelivered}
	d, err := Event(cfg, nil, &ev, 7, k.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Withdraws, []Withdraw{{Receiver: "slack", IncidentID: 7}}) {
		t.Errorf("withdraws = %+v, want slack's", d.Withdraws)
	}
	if got := receiversOf(d); !slices.Equal(got, []string{"mail"}) {
		t.Errorf("resolve goes to %v, want only mail, which saw the DOWN", got)
	}
}

func TestMaintenance(t *testing.T) {
	cfg := loadTest(t)
	in := time.Date(2026, 11, 21, 10, 15, 0, 0, time.UTC)
	end := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)

	// Opened inside the window: held until it ends, saying why.
	inc := target("api", incident.SeverityWarning, result.ClassGatewayTimeout, in)
	open := incident.Event{Kind: incident.EventOpened, Monitor: "api", At: in, Incident: inc, Result: inc.Last}
	d, err := Event(cfg, nil, &open, 9, keys{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 2 || d.Muted == "" {
		t.Fatalf("open in a window: %+v", d)
	}
	for _, s := range d.Sends {
		if !s.NotBefore.Equal(end) || !strings.Contains(s.Msg.Change, "deploy") {
			t.Errorf("held open %s: not before %s, note %q; want %s and the window's name", s.Msg.Receiver, s.NotBefore, s.Msg.Change, end)
		}
	}

	// A change inside the window is dropped.
	ch := incident.Event{Kind: incident.EventChanged, Monitor: "api", At: in.Add(time.Minute), Incident: inc, Change: &incident.Change{Class: result.ClassBadGateway}}
	d, err = Event(cfg, nil, &ch, 9, keys{openKey(inc, "slack"): store.KeyDelivered}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 0 {
		t.Errorf("a change in a window was sent: %+v", d.Sends)
	}

	// Resolved inside the window after its DOWN went out before it: the UP
	// is held to the window's end, never swallowed.
	before := target("api", incident.SeverityWarning, result.ClassGatewayTimeout, in.Add(-time.Hour))
	res := *before
	res.ResolvedAt = result.TimeOf(in)
	rev := incident.Event{Kind: incident.EventResolved, Monitor: "api", At: in, Incident: &res}
	d, err = Event(cfg, nil, &rev, 4, keys{openKey(before, "slack"): store.KeyDelivered}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 1 || !d.Sends[0].NotBefore.Equal(end) || d.Sends[0].Msg.Event != incident.NotifyResolve {
		t.Errorf("resolve of an announced incident in a window: %+v", d.Sends)
	}

	// Opened and resolved inside the window: its held DOWN is withdrawn.
	res2 := *inc
	res2.ResolvedAt = result.TimeOf(in.Add(10 * time.Minute))
	rev2 := incident.Event{Kind: incident.EventResolved, Monitor: "api", At: res2.ResolvedAt.Time, Incident: &res2}
	d, err = Event(cfg, nil, &rev2, 9, keys{openKey(inc, "slack"): store.KeyQueued, openKey(inc, "mail"): store.KeyQueued}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 0 || len(d.Withdraws) != 2 {
		t.Errorf("opened and resolved in a window: sends %+v, withdraws %+v", d.Sends, d.Withdraws)
	}
}

func TestReminders(t *testing.T) {
	cfg := loadTest(t)
	inc := target("shop", incident.SeverityWarning, result.ClassBadGateway, t0)
	k := keys{openKey(inc, "slack"): store.KeyDelivered, openKey(inc, "mail"): store.KeyDelivered}
	for _, tc := range []struct {
		after time.Duration
		want  string // key suffix, "" for none
	}{
		{59 * time.Minute, ""},
		{61 * time.Minute, "/reminder/1"},
		{150 * time.Minute, "/reminder/2"},
	} {
		sends, err := Reminders(cfg, nil, inc, 7, t0.Add(tc.after), k.lookup)
		if err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			if len(sends) != 0 {
				t.Errorf("after %s: %d reminders, want none", tc.after, len(sends))
			}
			continue
		}
		if len(sends) != 2 {
			t.Fatalf("after %s: %d reminders, want 2 (slack and mail, repeat 1h)", tc.after, len(sends))
		}
		for _, s := range sends {
			if !strings.Contains(s.Msg.Key, tc.want+"|") || s.Msg.Event != incident.NotifyReminder {
				t.Errorf("after %s: reminder %q (%s), want key with %s", tc.after, s.Msg.Key, s.Msg.Event, tc.want)
			}
		}
	}
	// No reminder of a DOWN that has not gone out, nor of a muted monitor.
	if sends, _ := Reminders(cfg, nil, inc, 7, t0.Add(2*time.Hour), keys{}.lookup); len(sends) != 0 {
		t.Errorf("reminded of an unsent DOWN: %+v", sends)
	}
	api := target("api", incident.SeverityWarning, result.ClassBadGateway, t0.Add(-time.Hour))
	k2 := keys{openKey(api, "slack"): store.KeyDelivered, openKey(api, "mail"): store.KeyDelivered}
	if sends, _ := Reminders(cfg, nil, api, 8, time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC), k2.lookup); len(sends) != 0 {
		t.Errorf("reminded during maintenance: %+v", sends)
	}
}

func TestGroupKey(t *testing.T) {
	for _, tc := range []struct {
		url  string
		r    result.Result
		want string
	}{
		{"https://a.example.com/", result.Result{Class: result.ClassBadGateway, RemoteAddr: "192.0.2.1:443", Gateway: "nginx"}, "gateway 192.0.2.1:443 (nginx)"},
		{"https://a.example.com/", result.Result{Class: result.ClassBadGateway}, ""},
		{"https://a.example.com/", result.Result{Class: result.ClassConnectionRefused, RemoteAddr: "192.0.2.1:443"}, "connection_refused at 192.0.2.1:443"},
		{"https://a.shop.example.co.uk/", result.Result{Class: result.ClassDNSError, Detail: "nxdomain"}, "dns nxdomain under example.co.uk"},
		{"https://a.example.com/", result.Result{Class: result.ClassDNSError, Detail: "servfail"}, "dns servfail"},
		{"https://a.example.com/", result.Result{Class: result.ClassContentMismatch, RemoteAddr: "192.0.2.1:443"}, ""},
		{"https://a.example.com/", result.Result{Class: result.ClassTLSError, RemoteAddr: "192.0.2.1:443"}, ""},
	} {
		m := notify.Message{Kind: incident.KindTarget, URL: tc.url, Result: &result.Outcome{Result: tc.r}}
		if got := GroupKey(&m); got != tc.want {
			t.Errorf("GroupKey(%s %s %s) = %q, want %q", tc.url, tc.r.Class, tc.r.Detail, got, tc.want)
		}
	}
}

func TestGroupWaitDelaysOnlyGroupableOpens(t *testing.T) {
	cfg := loadTest(t)
	inc := target("shop", incident.SeverityWarning, result.ClassBadGateway, t0)
	ev := incident.Event{Kind: incident.EventOpened, Monitor: "shop", At: t0, Incident: inc, Result: inc.Last}
	d, _ := Event(cfg, nil, &ev, 7, keys{}.lookup)
	if len(d.Sends) == 0 || !d.Sends[0].NotBefore.Equal(t0.Add(cfg.Notify.GroupWait)) {
		t.Errorf("groupable open not held for group_wait: %+v", d.Sends)
	}
	inc2 := target("shop", incident.SeverityWarning, result.ClassContentMismatch, t0)
	inc2.Last.Class = result.ClassContentMismatch
	ev2 := incident.Event{Kind: incident.EventOpened, Monitor: "shop", At: t0, Incident: inc2, Result: inc2.Last}
	d, _ = Event(cfg, nil, &ev2, 7, keys{}.lookup)
	if len(d.Sends) == 0 || !d.Sends[0].NotBefore.IsZero() {
		t.Errorf("an open with no shared cause was delayed: %+v", d.Sends)
	}
}

// TestOverdueDownBecomesOneLateMessage: a DOWN that was due but still
// queued behind its receiver when the incident resolved is replaced by
// one late message, not withdrawn in silence.
func TestOverdueDownBecomesOneLateMessage(t *testing.T) {
	cfg := loadTest(t)
	inc := target("shop", incident.SeverityWarning, result.ClassBadGateway, t0)
	resolved := *inc
	resolved.ResolvedAt = result.TimeOf(t0.Add(5 * time.Minute))
	ev := incident.Event{Kind: incident.EventResolved, Monitor: "shop", At: resolved.ResolvedAt.Time, Incident: &resolved}
	k := keys{openKey(inc, "slack"): store.KeyOverdue, openKey(inc, "mail"): store.KeyDelivered}
	d, err := Event(cfg, nil, &ev, 7, k.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.Withdraws, []Withdraw{{Receiver: "slack", IncidentID: 7}}) {
		t.Errorf("withdraws = %+v, want slack's queued DOWN", d.Withdraws)
	}
	if got := receiversOf(d); !slices.Equal(got, []string{"slack", "mail"}) {
		t.Fatalf("sends go to %v, want slack (late) and mail (resolve)", got)
	}
	for _, s := range d.Sends {
		late := s.Msg.Receiver == "slack"
		if s.Msg.Event != incident.NotifyResolve || s.Msg.Late != late || s.Msg.Key != Key(ev.Key(), s.Msg.Receiver) {
			t.Errorf("%s: event %s late %v key %s", s.Msg.Receiver, s.Msg.Event, s.Msg.Late, s.Msg.Key)
		}
	}

	// A vantage's own trouble is withdrawn as before.
	v := *inc
	v.Kind, v.Monitor = incident.KindVantage, "fra1"
	vres := v
	vres.ResolvedAt = resolved.ResolvedAt
	vev := incident.Event{Kind: incident.EventResolved, Monitor: "fra1", At: vres.ResolvedAt.Time, Incident: &vres}
	d, err = Event(cfg, nil, &vev, 8, keys{openKey(&v, "slack"): store.KeyOverdue}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 0 || len(d.Withdraws) != 1 {
		t.Errorf("vantage incident: sends %+v withdraws %+v", d.Sends, d.Withdraws)
	}
}
