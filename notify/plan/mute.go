package plan

import (
	"fmt"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/silence"
)

// Muting is whether an incident's notifications are muted at a time, until
// when, and by what.
type Muting struct {
	Muted bool
	// Until is when the muting ends: the end of the windows and silences
	// that cover the time, carried on through those chained to them.
	// silence.Indefinite() for an until-resolved silence.
	Until time.Time
	// Windows and Silences are what covers the time itself, for the words.
	Windows  []string
	Silences []silence.Silence
}

// Mute is the one muting rule: maintenance windows and silences mute
// alike, and chain into each other end to end (a silence that ends as a
// window starts mutes as one), so the two can never drift apart. id is the
// store's ID of the incident (the caller's copy may predate it).
// Maintenance windows cover the incidents of the monitors they match;
// silences cover any incident their matchers select, a vantage's included.
func Mute(cfg *config.Config, sil silence.Set, inc *incident.Incident, id int64, at time.Time) Muting {
	mon, configured := subject(cfg, inc)
	return mute(cfg, sil, mon, configured, inc, id, at)
}

func mute(cfg *config.Config, sil silence.Set, mon *config.Monitor, configured bool, inc *incident.Incident, id int64, at time.Time) Muting {
	windows := configured && inc.Kind.OfMonitor()
	sub := silence.Subject{Incident: inc}
	if inc.ID != id {
		c := *inc
		c.ID = id
		sub.Incident = &c
	}
	if windows {
		sub.Tags = mon.Tags
	}
	var mu Muting
	if windows {
		for _, w := range cfg.InMaintenance(mon, at) {
			mu.Windows = append(mu.Windows, w.Name)
		}
	}
	mu.Silences = sil.Covering(sub, at)
	t := at
	for range 32 { // windows and silences chained end to end; bounded against a loop
		var end time.Time
		if windows {
			for _, w := range cfg.InMaintenance(mon, t) {
				if e := w.EndOf(t); e.After(end) {
					end = e
				}
			}
		}
		if e := sil.EndAt(sub, t); e.After(end) {
			end = e
		}
		if !end.After(mu.Until) {
			break
		}
		mu.Until, t = end, end
	}
	mu.Muted = !mu.Until.IsZero()
	return mu
}

// what names what mutes, for the log ("maintenance window", "silence").
func (mu *Muting) what() string {
	if len(mu.Windows) > 0 || len(mu.Silences) == 0 {
		return "maintenance window"
	}
	return "silence"
}

// openedDuring is the opening alert's change line when it was held back.
func (mu *Muting) openedDuring() string {
	var parts []string
	if len(mu.Windows) > 0 {
		parts = append(parts, "the maintenance window "+strings.Join(mu.Windows, ", "))
	}
	for _, s := range mu.Silences {
		p := fmt.Sprintf("a silence by %s", s.CreatedBy)
		if s.Comment != "" {
			p += " (" + s.Comment + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		parts = append(parts, "a silence") // chained: only a later one covers it
	}
	if mu.Until.Equal(silence.Indefinite()) {
		return fmt.Sprintf("Opened during %s; still open when it was lifted.", strings.Join(parts, " and "))
	}
	return fmt.Sprintf("Opened during %s; still open when it ended at %s.",
		strings.Join(parts, " and "), mu.Until.UTC().Format("2006-01-02 15:04 MST"))
}
