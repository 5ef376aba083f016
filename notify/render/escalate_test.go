package render

import (
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// An escalation (notify/plan/escalate.go) is the incident's open, sent
// later to receivers the route escalates to: its title says so, and its
// body says why.
func TestEscalatedOpenSaysSo(t *testing.T) {
	m := withScope(result.ScopeEveryone, incident.NotifyOpen)
	m.Escalated = true
	m.Change = "Escalated: open for 15m and nobody acknowledged it."
	if got, want := Title(m), "[ESCALATED] [DOWN everyone] shop: 502 from nginx, upstream refused"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if text := Text(m); !strings.Contains(text, "[ESCALATED]") || !strings.Contains(text, "nobody acknowledged it") {
		t.Errorf("text does not say it was escalated, and why:\n%s", text)
	}
	if s := SlackText(SlackBlocks(m)); !strings.Contains(s, "[ESCALATED]") || !strings.Contains(s, "nobody acknowledged it") {
		t.Errorf("Slack message does not say it was escalated, and why:\n%s", s)
	}
	m.Escalated = false
	if strings.Contains(Title(m), "ESCALATED") {
		t.Errorf("a plain open is titled %q", Title(m))
	}
}
