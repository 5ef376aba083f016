package plan

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
)

// certificate is a certificate warning on monitor mon: a leaf with 4 days
// left, under the 7-day threshold, served to every vantage.
func certificate(mon string, sev incident.Severity, opened time.Time) *incident.Incident {
	w := &result.Warning{
		Kind: string(incident.KindCertificate), Summary: "certificate expires in 4 days (2026-11-25), served to local and fra1",
		Cert:          &result.CertInfo{Subject: "CN=site.example.com", Issuer: "CN=R11,O=Let's Encrypt,C=US", Serial: "04:a1", DaysLeft: 4},
		ThresholdDays: 7,
		Seen:          []result.WarningSeen{{Vantage: "local", Over: true}, {Vantage: "fra1", Over: true}},
	}
	out := &result.Outcome{Result: result.Result{URL: "https://site.example.com/", OK: true, Class: result.ClassCertExpiring,
		Detail: result.WarnDetail(7), Status: 200, RemoteAddr: "192.0.2.10:443", Fixes: []string{"run certbot renew --dry-run"}},
		Scope: result.ScopeEveryone, Warning: w}
	return &incident.Incident{ID: 11, Monitor: mon, Kind: incident.KindCertificate, Severity: sev, OpenedAt: result.TimeOf(opened),
		Class: result.ClassCertExpiring, Detail: result.WarnDetail(7), Scope: result.ScopeEveryone, Last: out}
}

func performance(mon string, opened time.Time) *incident.Incident {
	inc := certificate(mon, incident.SeverityWarning, opened)
	inc.Kind, inc.Class, inc.Detail = incident.KindPerformance, result.ClassDegraded, result.PhaseTTFB
	inc.Last.Class, inc.Last.Detail = result.ClassDegraded, result.PhaseTTFB
	inc.Last.Warning = &result.Warning{Kind: string(incident.KindPerformance), Summary: "TTFB 2.4 s from fra1, 40 ms from local",
		Phase: result.PhaseTTFB, ThresholdMs: 500}
	return inc
}

// TestWarningRoutesByItsMonitor: a certificate incident is about its
// monitor: it routes by the monitor's tags, its severity and its class
// (a route with classes = ["cert_expiring"] takes it), carries the
// monitor's URL and tags, and is never held for a group.
func TestWarningRoutesByItsMonitor(t *testing.T) {
	cfg := loadTest(t)
	for _, tc := range []struct {
		name string
		inc  *incident.Incident
		want []string
	}{
		{"certificate warning on a web monitor: the cert_expiring route", certificate("site", incident.SeverityWarning, t0), []string{"pager"}},
		{"critical certificate: the same route", certificate("site", incident.SeverityCritical, t0), []string{"pager"}},
		{"certificate at info: under the route's min_severity", certificate("site", incident.SeverityInfo, t0), []string{"slack"}},
		{"certificate on a monitor without the tag", certificate("blog", incident.SeverityWarning, t0), []string{"slack"}},
		{"certificate on a prod monitor: the prod route", certificate("shop", incident.SeverityWarning, t0), []string{"slack", "mail"}},
		{"performance on a web monitor: class filter skips the certificate route", performance("site", t0), []string{"slack"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := incident.Event{Kind: incident.EventOpened, Monitor: tc.inc.Monitor, At: t0, Incident: tc.inc, Result: tc.inc.Last}
			d, err := Event(cfg, nil, &ev, 11, keys{}.lookup)
			if err != nil {
				t.Fatal(err)
			}
			if got := receiversOf(d); !slices.Equal(got, tc.want) {
				t.Fatalf("receivers = %v, want %v", got, tc.want)
			}
			mon := cfg.Monitor(tc.inc.Monitor)
			for _, s := range d.Sends {
				m := s.Msg
				if m.Kind != tc.inc.Kind || m.Event != incident.NotifyOpen || m.Key != Key(ev.Key(), m.Receiver) {
					t.Errorf("%s: kind %s event %s key %s", m.Receiver, m.Kind, m.Event, m.Key)
				}
				if m.URL != mon.URL || !slices.Equal(m.Tags, mon.Tags) {
					t.Errorf("%s: URL %q tags %v, want the monitor's %q %v", m.Receiver, m.URL, m.Tags, mon.URL, mon.Tags)
				}
				if m.GroupKey != "" || !s.NotBefore.IsZero() {
					t.Errorf("%s: group key %q, not before %s: a warning never groups nor waits", m.Receiver, m.GroupKey, s.NotBefore)
				}
				if len(m.Fixes) == 0 || m.Result == nil || m.Result.Warning == nil {
					t.Errorf("%s: fixes %v, result %+v: the warning's round is lost", m.Receiver, m.Fixes, m.Result)
				}
			}
		})
	}
	// A monitor that left the config opens no warning, as it opens no outage.
	gone := certificate("gone", incident.SeverityWarning, t0)
	ev := incident.Event{Kind: incident.EventOpened, Monitor: "gone", At: t0, Incident: gone, Result: gone.Last}
	if d, _ := Event(cfg, nil, &ev, 12, keys{}.lookup); len(d.Sends) != 0 {
		t.Errorf("warning of an unconfigured monitor sent: %+v", d.Sends)
	}
}

// TestWarningMutedInItsMonitorsWindow: a maintenance window of the
// monitor holds its certificate warning as it holds its outages.
func TestWarningMutedInItsMonitorsWindow(t *testing.T) {
	cfg := loadTest(t)
	in := time.Date(2026, 11, 21, 10, 15, 0, 0, time.UTC)
	end := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	inc := certificate("site", incident.SeverityWarning, in)
	open := incident.Event{Kind: incident.EventOpened, Monitor: "site", At: in, Incident: inc, Result: inc.Last}
	d, err := Event(cfg, nil, &open, 11, keys{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 1 || d.Muted == "" || !d.Sends[0].NotBefore.Equal(end) || !strings.Contains(d.Sends[0].Msg.Change, "renewal") {
		t.Fatalf("open in the monitor's window: %+v", d)
	}

	// The threshold crossed inside the window: dropped, like an outage's change.
	ch := incident.Event{Kind: incident.EventChanged, Monitor: "site", At: in.Add(time.Minute), Incident: inc,
		Change: &incident.Change{Class: result.ClassCertExpiring, Detail: result.WarnDetail(2), Severity: incident.SeverityCritical}}
	d, err = Event(cfg, nil, &ch, 11, keys{openKey(inc, "pager"): store.KeyDelivered}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 0 || d.Muted == "" {
		t.Errorf("a warning's change in a window was sent: %+v", d)
	}

	// Outside the window the same warning goes out at once.
	out := certificate("site", incident.SeverityWarning, t0)
	open = incident.Event{Kind: incident.EventOpened, Monitor: "site", At: t0, Incident: out, Result: out.Last}
	if d, _ = Event(cfg, nil, &open, 13, keys{}.lookup); len(d.Sends) != 1 || !d.Sends[0].NotBefore.IsZero() || d.Muted != "" {
		t.Errorf("open outside the window: %+v", d)
	}
}

// TestWarningUpdateAndResolveFollowTheOpen: later events go to whoever was
// told it opened, with words for a warning, never "down".
func TestWarningUpdateAndResolveFollowTheOpen(t *testing.T) {
	cfg := loadTest(t)
	inc := certificate("site", incident.SeverityCritical, t0)
	inc.Detail = result.WarnDetail(2)
	k := keys{openKey(inc, "pager"): store.KeyDelivered}
	ch := incident.Event{Kind: incident.EventChanged, Monitor: "site", At: t0.Add(72 * time.Hour), Incident: inc, Result: inc.Last,
		Change: &incident.Change{Class: result.ClassCertExpiring, Detail: result.WarnDetail(2), Scope: result.ScopeEveryone,
			Severity: incident.SeverityCritical, Note: "under-7-days → under-2-days, severity warning → critical",
			PrevDetail: result.WarnDetail(7)}}
	d, err := Event(cfg, nil, &ch, 11, k.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := receiversOf(d); !slices.Equal(got, []string{"pager"}) {
		t.Fatalf("update goes to %v, want [pager]", got)
	}
	if m := d.Sends[0].Msg; m.Event != incident.NotifyUpdate || m.Change != "Now under 2 days (critical)." || !m.Crossed {
		t.Errorf("update: event %s, change %q, crossed %v; want the threshold crossing an inbox gets", m.Event, m.Change, m.Crossed)
	}
	// Only the scope changed: an update, but no crossing.
	scope := ch
	scope.Change = &incident.Change{Class: result.ClassCertExpiring, Detail: result.WarnDetail(2), Scope: result.ScopePartial,
		Severity: incident.SeverityCritical, Note: "scope everyone → partial"}
	if m := Message(cfg, &scope, 11); m.Crossed {
		t.Errorf("a scope change is marked as a threshold crossing: %+v", m)
	}

	perf := performance("site", t0)
	pch := incident.Event{Kind: incident.EventChanged, Monitor: "site", At: t0, Incident: perf,
		Change: &incident.Change{Class: result.ClassDegraded, Detail: result.PhaseConnect, Scope: result.ScopePartial, Severity: incident.SeverityWarning}}
	perf.Regions = []string{"fra1"}
	if got := describeChange(&pch); got != "Now slow in connect; seen from fra1 only." {
		t.Errorf("performance change = %q", got)
	}
	pch.Kind = incident.EventFlappingStopped
	if got := describeChange(&pch); strings.Contains(got, "down") {
		t.Errorf("a warning's flapping notice says down: %q", got)
	}

	res := *inc
	res.ResolvedAt, res.Resolution = result.TimeOf(t0.Add(80*time.Hour)), "recovered"
	rev := incident.Event{Kind: incident.EventResolved, Monitor: "site", At: res.ResolvedAt.Time, Incident: &res}
	d, err = Event(cfg, nil, &rev, 11, k.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if got := receiversOf(d); !slices.Equal(got, []string{"pager"}) || d.Sends[0].Msg.Event != incident.NotifyResolve || len(d.Sends[0].Msg.Fixes) != 0 {
		t.Errorf("resolve: %+v", d.Sends)
	}
}

// TestOverdueWarningIsWithdrawn: a warning that opened and resolved while
// its alert was still queued behind an unavailable receiver is withdrawn,
// not told late: it is over, and nothing is left to act on.
func TestOverdueWarningIsWithdrawn(t *testing.T) {
	cfg := loadTest(t)
	for _, inc := range []*incident.Incident{certificate("site", incident.SeverityWarning, t0), performance("site", t0)} {
		res := *inc
		res.ResolvedAt = result.TimeOf(t0.Add(5 * time.Minute))
		ev := incident.Event{Kind: incident.EventResolved, Monitor: "site", At: res.ResolvedAt.Time, Incident: &res}
		d, err := Event(cfg, nil, &ev, 11, keys{openKey(inc, "pager"): store.KeyOverdue, openKey(inc, "slack"): store.KeyOverdue}.lookup)
		if err != nil {
			t.Fatal(err)
		}
		want := []Withdraw{{Receiver: "slack", IncidentID: 11}, {Receiver: "pager", IncidentID: 11}}
		if len(d.Sends) != 0 || !reflect.DeepEqual(d.Withdraws, want) {
			t.Errorf("%s: sends %+v, withdraws %+v; want the unseen alerts withdrawn and nothing sent", inc.Kind, d.Sends, d.Withdraws)
		}
	}
}

// TestWarningReminders: a performance warning is reminded of by its
// route's repeat, muted in its monitor's windows; a certificate warning is
// not: its next threshold is its reminder.
func TestWarningReminders(t *testing.T) {
	cfg := loadTest(t)
	perf := performance("shop", t0) // the prod route repeats every hour
	k := keys{openKey(perf, "slack"): store.KeyDelivered, openKey(perf, "mail"): store.KeyDelivered}
	sends, err := Reminders(cfg, nil, perf, 11, t0.Add(61*time.Minute), k.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(sends) != 2 {
		t.Fatalf("%d reminders of a slow monitor, want 2", len(sends))
	}
	for _, s := range sends {
		if s.Msg.Event != incident.NotifyReminder || !strings.HasPrefix(s.Msg.Change, "Still slow after") || s.Msg.URL != cfg.Monitor("shop").URL {
			t.Errorf("reminder %+v", s.Msg)
		}
	}
	cert := certificate("shop", incident.SeverityWarning, t0)
	k = keys{openKey(cert, "slack"): store.KeyDelivered, openKey(cert, "mail"): store.KeyDelivered}
	if sends, _ := Reminders(cfg, nil, cert, 12, t0.Add(5*time.Hour), k.lookup); len(sends) != 0 {
		t.Errorf("reminded of a certificate warning: %+v", sends)
	}
	// In the monitor's window: no reminder.
	site := performance("api", t0.Add(-2*time.Hour))
	k = keys{openKey(site, "slack"): store.KeyDelivered, openKey(site, "mail"): store.KeyDelivered}
	if sends, _ := Reminders(cfg, nil, site, 13, time.Date(2026, 11, 21, 10, 30, 0, 0, time.UTC), k.lookup); len(sends) != 0 {
		t.Errorf("reminded of a warning during its monitor's maintenance: %+v", sends)
	}
}

// TestWarningsNeverGroup: a warning's open has no group key, even when its
// round carries an address an outage would group on.
func TestWarningsNeverGroup(t *testing.T) {
	cfg := loadTest(t)
	for _, inc := range []*incident.Incident{certificate("shop", incident.SeverityWarning, t0), performance("shop", t0)} {
		inc.Last.Class = result.ClassBadGateway // as if its round had failed at a gateway
		ev := incident.Event{Kind: incident.EventOpened, Monitor: "shop", At: t0, Incident: inc, Result: inc.Last}
		m := Message(cfg, &ev, 11)
		if k := GroupKey(&m); k != "" {
			t.Errorf("%s: group key %q", inc.Kind, k)
		}
	}
}
