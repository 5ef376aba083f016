package plan

import (
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
	"github.com/vantage-monitor/vantage/monitor/store"
)

// silenceOn is a silence of shop from 10:00 to 11:00, as the "deploy"
// window is for api.
func silenceOn(mon string) silence.Set {
	return silence.Set{{
		ID: 1, Matchers: silence.Matchers{Monitors: []string{mon}},
		Start: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC),
		CreatedBy: "ana", Comment: "db migration",
	}}
}

// TestSilenceMutesAsMaintenance is TestMaintenance with a silence of shop
// instead of api's window: the same four guarantees.
func TestSilenceMutesAsMaintenance(t *testing.T) {
	cfg := loadTest(t)
	sil := silenceOn("shop")
	in := time.Date(2026, 11, 21, 10, 15, 0, 0, time.UTC)
	end := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)

	// Opened inside: held until the silence ends (one alert, then), saying why.
	inc := target("shop", incident.SeverityWarning, result.ClassGatewayTimeout, in)
	open := incident.Event{Kind: incident.EventOpened, Monitor: "shop", At: in, Incident: inc, Result: inc.Last}
	d, err := Event(cfg, sil, &open, 9, keys{}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 2 || !strings.Contains(d.Muted, "silence") {
		t.Fatalf("open in a silence: %+v", d)
	}
	for _, s := range d.Sends {
		if !s.NotBefore.Equal(end) || !strings.Contains(s.Msg.Change, "silence by ana (db migration)") {
			t.Errorf("held open %s: not before %s, note %q; want %s and who silenced it", s.Msg.Receiver, s.NotBefore, s.Msg.Change, end)
		}
	}
	// Without the silence, the same open goes out at once (after the group wait).
	if d, _ := Event(cfg, nil, &open, 9, keys{}.lookup); len(d.Sends) != 2 || !d.Sends[0].NotBefore.Before(end) {
		t.Errorf("open without a silence: %+v", d.Sends)
	}

	// A change inside is dropped.
	ch := incident.Event{Kind: incident.EventChanged, Monitor: "shop", At: in.Add(time.Minute), Incident: inc, Change: &incident.Change{Class: result.ClassBadGateway}}
	d, err = Event(cfg, sil, &ch, 9, keys{openKey(inc, "slack"): store.KeyDelivered}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 0 {
		t.Errorf("a change in a silence was sent: %+v", d.Sends)
	}

	// A DOWN sent before the silence: its UP is held to the end, never
	// swallowed (and the DOWN is not planned again: only the UP is sent).
	before := target("shop", incident.SeverityWarning, result.ClassGatewayTimeout, in.Add(-time.Hour))
	res := *before
	res.ResolvedAt = result.TimeOf(in)
	rev := incident.Event{Kind: incident.EventResolved, Monitor: "shop", At: in, Incident: &res}
	d, err = Event(cfg, sil, &rev, 4, keys{openKey(before, "slack"): store.KeyDelivered}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 1 || !d.Sends[0].NotBefore.Equal(end) || d.Sends[0].Msg.Event != incident.NotifyResolve || len(d.Withdraws) != 0 {
		t.Errorf("resolve of an announced incident in a silence: %+v", d)
	}

	// Opened and recovered inside: its held DOWN is withdrawn, nothing sent.
	res2 := *inc
	res2.ResolvedAt = result.TimeOf(in.Add(10 * time.Minute))
	rev2 := incident.Event{Kind: incident.EventResolved, Monitor: "shop", At: res2.ResolvedAt.Time, Incident: &res2}
	d, err = Event(cfg, sil, &rev2, 9, keys{openKey(inc, "slack"): store.KeyQueued, openKey(inc, "mail"): store.KeyQueued}.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 0 || len(d.Withdraws) != 2 {
		t.Errorf("opened and resolved in a silence: sends %+v, withdraws %+v", d.Sends, d.Withdraws)
	}

	// Reminders wait for the end too.
	k := keys{openKey(before, "slack"): store.KeyDelivered, openKey(before, "mail"): store.KeyDelivered}
	if sends, _ := Reminders(cfg, sil, before, 4, in.Add(20*time.Minute), k.lookup); len(sends) != 0 {
		t.Errorf("reminded during a silence: %+v", sends)
	}
	if sends, _ := Reminders(cfg, sil, before, 4, end.Add(time.Minute), k.lookup); len(sends) != 2 {
		t.Errorf("after the silence: %d reminders, want 2", len(sends))
	}
}

// TestSilenceChainsWithWindows: a silence that begins as api's window ends
// mutes as one with it, in both orders; the held DOWN waits for the last end.
func TestSilenceChainsWithWindows(t *testing.T) {
	cfg := loadTest(t)
	winEnd := time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)
	after := silence.Set{{ID: 2, Matchers: silence.Matchers{Tags: []string{"prod"}}, Start: winEnd, End: winEnd.Add(30 * time.Minute), CreatedBy: "bo"}}
	in := winEnd.Add(-30 * time.Minute)
	api := target("api", incident.SeverityWarning, result.ClassGatewayTimeout, in)
	if mu := Mute(cfg, after, api, 9, in); !mu.Muted || !mu.Until.Equal(winEnd.Add(30*time.Minute)) {
		t.Errorf("window then silence: %+v, want muted until 11:30", mu)
	}
	before := silence.Set{{ID: 3, Matchers: silence.Matchers{Monitors: []string{"api"}}, Start: winEnd.Add(-2 * time.Hour), End: winEnd.Add(-time.Hour), CreatedBy: "bo"}}
	at := winEnd.Add(-90 * time.Minute)
	if mu := Mute(cfg, before, api, 9, at); !mu.Muted || !mu.Until.Equal(winEnd) {
		t.Errorf("silence then window: %+v, want muted until 11:00", mu)
	}
	// Not matched: not muted.
	if mu := Mute(cfg, before, target("shop", incident.SeverityWarning, result.ClassGatewayTimeout, at), 9, at); mu.Muted {
		t.Errorf("shop muted by api's silence: %+v", mu)
	}
}

// TestUntilResolvedSilence: one incident muted until it resolves; its UP
// (DOWN delivered) goes out at once on resolve, a held DOWN is withdrawn.
func TestUntilResolvedSilence(t *testing.T) {
	cfg := loadTest(t)
	inc := target("shop", incident.SeverityWarning, result.ClassBadGateway, t0)
	sil := silence.Set{{ID: 4, Matchers: silence.Matchers{Incident: 7}, UntilResolved: true, Start: t0, CreatedBy: "slack:@ana"}}
	at := t0.Add(3 * time.Hour)
	ch := incident.Event{Kind: incident.EventChanged, Monitor: "shop", At: at, Incident: inc, Change: &incident.Change{Class: result.ClassServerError}}
	k := keys{openKey(inc, "slack"): store.KeyDelivered, openKey(inc, "mail"): store.KeyQueued}
	d, err := Event(cfg, sil, &ch, 7, k.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 0 {
		t.Errorf("a change of a silenced incident was sent: %+v", d.Sends)
	}
	if sends, _ := Reminders(cfg, sil, inc, 7, at, k.lookup); len(sends) != 0 {
		t.Errorf("reminders of a silenced incident: %+v", sends)
	}
	// Another incident of the same monitor is not muted by it.
	other := target("shop", incident.SeverityWarning, result.ClassBadGateway, t0)
	if mu := Mute(cfg, sil, other, 8, at); mu.Muted {
		t.Errorf("incident 8 muted by a silence of 7: %+v", mu)
	}
	if mu := Mute(cfg, sil, inc, 7, at); !mu.Until.Equal(silence.Indefinite()) {
		t.Errorf("until-resolved: muted until %s", mu.Until)
	}
	res := *inc
	res.ResolvedAt = result.TimeOf(at)
	rev := incident.Event{Kind: incident.EventResolved, Monitor: "shop", At: at, Incident: &res}
	d, err = Event(cfg, sil, &rev, 7, k.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Sends) != 1 || d.Sends[0].Msg.Receiver != "slack" || !d.Sends[0].NotBefore.IsZero() {
		t.Errorf("resolve: sends %+v, want slack's UP at once", d.Sends)
	}
	if len(d.Withdraws) != 1 || d.Withdraws[0].Receiver != "mail" {
		t.Errorf("resolve: withdraws %+v, want mail's held DOWN", d.Withdraws)
	}
}

func TestAckPlan(t *testing.T) {
	cfg := loadTest(t)
	inc := target("shop", incident.SeverityWarning, result.ClassBadGateway, t0)
	k := keys{openKey(inc, "slack"): store.KeyDelivered, openKey(inc, "mail"): store.KeyQueued}
	if sends, _ := Ack(cfg, inc, 7, t0.Add(time.Hour), k.lookup); len(sends) != 0 {
		t.Errorf("unacknowledged: %+v", sends)
	}
	inc.Ack = &incident.Ack{By: "ana", At: result.TimeOf(t0.Add(time.Hour)), Comment: "looking at the db"}
	sends, err := Ack(cfg, inc, 7, t0.Add(time.Hour), k.lookup)
	if err != nil {
		t.Fatal(err)
	}
	if len(sends) != 1 || sends[0].Msg.Receiver != "slack" {
		t.Fatalf("ack goes to %+v, want slack only (mail's DOWN is still held)", sends)
	}
	m := sends[0].Msg
	if m.Event != incident.NotifyUpdate || m.Change != "Acknowledged by ana: looking at the db." || m.Ack == nil || m.Ack.By != "ana" || m.Key != AckKey(inc, "slack") {
		t.Errorf("ack message: %+v", m)
	}
	// Acked: no reminders, and every later message carries the ack.
	k[openKey(inc, "mail")] = store.KeyDelivered
	if sends, _ := Reminders(cfg, nil, inc, 7, t0.Add(5*time.Hour), k.lookup); len(sends) != 0 {
		t.Errorf("reminders of an acked incident: %+v", sends)
	}
	ev := incident.Event{Kind: incident.EventChanged, Monitor: "shop", At: t0.Add(2 * time.Hour), Incident: inc, Change: &incident.Change{Class: result.ClassServerError}}
	d, _ := Event(cfg, nil, &ev, 7, k.lookup)
	if len(d.Sends) != 2 || d.Sends[0].Msg.Ack == nil {
		t.Errorf("a change after the ack: %+v", d.Sends)
	}
}
