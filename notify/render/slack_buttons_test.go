package render

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// checkOverflow checks an overflow menu against Block Kit's limits: 2 to 5
// options, each with plain text of at most 75 characters and a value of at
// most 150.
func checkOverflow(t *testing.T, label string, raw json.RawMessage) {
	t.Helper()
	var e struct {
		ActionID string `json:"action_id"`
		Options  []struct {
			Text  struct{ Type, Text string }
			Value string `json:"value"`
		} `json:"options"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Errorf("%s: overflow: %v", label, err)
		return
	}
	if n := len(e.Options); n < 2 || n > 5 {
		t.Errorf("%s: overflow has %d options, want 2..5", label, n)
	}
	if n := len(e.ActionID); n == 0 || n > 255 {
		t.Errorf("%s: overflow action_id has %d characters", label, n)
	}
	for _, o := range e.Options {
		if o.Text.Type != "plain_text" || utf8.RuneCountInString(o.Text.Text) > 75 || o.Text.Text == "" {
			t.Errorf("%s: overflow option text %+v, want 1..75 characters of plain_text", label, o.Text)
		}
		if n := len(o.Value); n == 0 || n > 150 {
			t.Errorf("%s: overflow option value has %d characters, want 1..150", label, n)
		}
	}
}

// actionsOf is the parent's actions block, or nil.
func actionsOf(blocks []slack.Block) *slack.ActionBlock {
	for _, b := range blocks {
		if a, ok := b.(*slack.ActionBlock); ok {
			return a
		}
	}
	return nil
}

// TestSlackButtonsGolden: the parent with its buttons, as a receiver on
// Socket Mode posts it (the goldens without buttons are TestGolden's).
func TestSlackButtonsGolden(t *testing.T) {
	m := *goldenCases()["class-bad_gateway"]
	m.PageURL = "https://vantage.example.test/monitors/shop"
	blocks := SlackBlocks(&m, WithButtons())
	for ext, got := range map[string][]byte{".buttons.slack.json": slackPayload(t, blocks), ".buttons.slack.txt": []byte(SlackText(blocks))} {
		path := filepath.Join("testdata", "class-bad_gateway"+ext)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("reading golden (run go test ./notify/render -update to create it): %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the golden file:\n--- got ---\n%s", path, got)
		}
	}
}

// TestSlackButtons: every case's parent (and its rewrite on an update)
// with buttons still fits at a glance and within Block Kit's limits; the
// buttons are there only on an open incident's own message, and their
// values name the incident.
func TestSlackButtons(t *testing.T) {
	cs := goldenCases()
	for _, name := range sortedNames(cs) {
		all := replies(name, cs[name])
		all[name] = cs[name]
		for label, m := range all {
			for _, page := range []string{"", "https://vantage.example.test/monitors/x"} {
				c := *m
				c.PageURL = page
				blocks := SlackBlocks(&c, WithButtons())
				if n := SlackLines(blocks); n > SlackParentLines {
					t.Errorf("%s: with buttons the parent takes %d lines, want ≤ %d:\n%s", label, n, SlackParentLines, SlackText(blocks))
				}
				checkSlackLimits(t, label+" with buttons", slackPayload(t, blocks))
				a := actionsOf(blocks)
				want := hasButtons(&c)
				if got := a != nil && a.BlockID == SlackActionsBlock; got != want {
					t.Errorf("%s (event %s, incident %d, group %d): buttons = %v, want %v", label, c.Event, c.IncidentID, len(c.Group), got, want)
				}
			}
		}
	}

	m := *cs["class-bad_gateway"]
	if m.IncidentID == 0 {
		m.IncidentID = 42
	}
	ids := map[string]SlackAction{}
	for _, e := range actionsOf(SlackBlocks(&m, WithButtons())).Elements.ElementSet {
		switch x := e.(type) {
		case *slack.ButtonBlockElement:
			if x.URL != "" {
				continue
			}
			a, err := ParseSlackAction(x.Value)
			if err != nil {
				t.Fatalf("%s: %v", x.ActionID, err)
			}
			ids[x.ActionID] = a
		case *slack.OverflowBlockElement:
			var fors []string
			for _, o := range x.Options {
				a, err := ParseSlackAction(o.Value)
				if err != nil || a.Incident != m.IncidentID {
					t.Errorf("menu option %q = %+v, %v", o.Value, a, err)
				}
				fors = append(fors, a.For)
			}
			if strings.Join(fors, ",") != "15m,4h,resolved" || x.ActionID != SlackActionSilenceFor {
				t.Errorf("menu %s offers %v, want 15m, 4h, resolved", x.ActionID, fors)
			}
		}
	}
	if ids[SlackActionAck].Incident != m.IncidentID || ids[SlackActionSilence].For != "1h" || ids[SlackActionRecheck].Monitor != m.Monitor {
		t.Errorf("button values = %+v, want the incident, 1h, and the monitor", ids)
	}

	// Acknowledged: no Acknowledge button. A vantage's incident: no
	// re-check. Without the option: no buttons, as today.
	m.Ack = &incident.Ack{By: "slack:@ana", At: result.TimeOf(m.At)}
	for _, e := range actionsOf(SlackBlocks(&m, WithButtons())).Elements.ElementSet {
		if b, ok := e.(*slack.ButtonBlockElement); ok && b.ActionID == SlackActionAck {
			t.Error("an acknowledged incident still has an Acknowledge button")
		}
	}
	v := *cs["vantage-impaired"]
	v.IncidentID = 7
	for _, e := range actionsOf(SlackBlocks(&v, WithButtons())).Elements.ElementSet {
		if b, ok := e.(*slack.ButtonBlockElement); ok && b.ActionID == SlackActionRecheck {
			t.Error("a vantage's incident has a Re-check button")
		}
	}
	if actionsOf(SlackBlocks(&m)) != nil {
		t.Error("buttons without WithButtons")
	}
	for _, bad := range []string{"", "{", `{"i":0}`, strings.Repeat("x", 3000)} {
		if _, err := ParseSlackAction(bad); err == nil {
			t.Errorf("ParseSlackAction(%q) accepted", clipRunes(bad, 20))
		}
	}
}
