package plan

import (
	"fmt"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/store"
)

// AckKey is the outbox key of the "acknowledged by" update of an incident
// for a receiver: one per incident, so a second ack, or the same ack
// planned again after a restart, never sends twice.
func AckKey(inc *incident.Incident, receiver string) string {
	return Key(inc.Key()+"/ack", receiver)
}

// AckChange is the update's line for an acknowledgement.
func AckChange(a *incident.Ack) string {
	s := "Acknowledged by " + a.By
	if a.Comment != "" {
		s += ": " + a.Comment
	}
	return s + "."
}

// Ack plans the update that tells who acknowledged open incident inc
// (inc.Ack set) at at: to every receiver that was told it opened (its
// opening alert went out, or may have). A receiver whose opening alert is
// still held back learns nothing now: the alert itself is what it will
// see. An ack is a person's action, not a change of the outage, so no
// window or silence mutes it: whoever shares the alert learns it is taken.
func Ack(cfg *config.Config, inc *incident.Incident, id int64, at time.Time, lookup Lookup) ([]Send, error) {
	if inc == nil || inc.Ack == nil || !inc.Open() || id == 0 {
		return nil, nil
	}
	var out []Send
	for i := range cfg.Receivers {
		r := cfg.Receivers[i].Name
		st, err := lookup(openKey(inc, r))
		if err != nil {
			return nil, fmt.Errorf("planning the ack of incident %d: %w", id, err)
		}
		if st != store.KeyDelivered && st != store.KeyAttempted {
			continue
		}
		ev := incident.Event{Kind: incident.EventChanged, Monitor: inc.Monitor, At: at, Incident: inc, Result: inc.Last}
		m := Message(cfg, &ev, id)
		m.Event = incident.NotifyUpdate
		m.Receiver = r
		m.Key = AckKey(inc, r)
		m.Change = AckChange(inc.Ack)
		m.Crossed = false
		out = append(out, Send{Msg: m})
	}
	return out, nil
}
