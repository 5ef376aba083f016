package plan

import (
	"testing"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
)

// TestMessagePageURL: with public_url set, a message about a monitor links
// to its page, the name path-escaped; a vantage's incident and a daemon
// without public_url link nowhere.
func TestMessagePageURL(t *testing.T) {
	ev := func(kind incident.Kind, name string) *incident.Event {
		return &incident.Event{Kind: incident.EventOpened, Incident: &incident.Incident{Kind: kind, Monitor: name}}
	}
	cfg := &config.Config{PublicURL: "https://vantage.example.test/"}
	if got, want := Message(cfg, ev(incident.KindTarget, "shop/eu 1"), 1).PageURL, "https://vantage.example.test/monitors/shop%2Feu%201"; got != want {
		t.Errorf("PageURL = %q, want %q", got, want)
	}
	if got := Message(cfg, ev(incident.KindVantage, "fra1"), 1).PageURL; got != "" {
		t.Errorf("a vantage's incident has PageURL %q", got)
	}
	if got := Message(&config.Config{}, ev(incident.KindTarget, "shop"), 1).PageURL; got != "" {
		t.Errorf("without public_url, PageURL %q", got)
	}
}
