package render

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/notify"
)

// SlackOption changes how SlackBlocks draws the parent.
type SlackOption func(*slackOptions)

type slackOptions struct {
	buttons bool
}

// WithButtons puts the incident's buttons on the parent: a receiver that
// listens over Socket Mode (notify/slack/socket.go) passes it, one that
// does not has no one to answer a click and shows none.
func WithButtons() SlackOption { return func(o *slackOptions) { o.buttons = true } }

// The action IDs of the parent's buttons, and the ID of their block. The
// receiver dispatches on them (notify/slack/socket.go).
const (
	SlackActionsBlock     = "vantage_actions"
	SlackActionAck        = "vantage_ack"
	SlackActionSilence    = "vantage_silence"     // the "Silence 1h" button
	SlackActionSilenceFor = "vantage_silence_for" // the menu of other durations
	SlackActionRecheck    = "vantage_recheck"
)

// SilenceUntilResolved is the silence menu's "until resolved" choice.
const SilenceUntilResolved = "resolved"

// SilenceChoices are the silence menu's durations (the button is 1h).
var SilenceChoices = []string{"15m", "4h", SilenceUntilResolved}

// SlackAction is what a button's (or a menu option's) value carries: the
// incident it acts on, the monitor (a re-check runs the monitor's round)
// and, for a silence, how long ("1h", or SilenceUntilResolved). It is JSON
// so a monitor name needs no escaping of its own.
type SlackAction struct {
	Incident int64  `json:"i"`
	Monitor  string `json:"m,omitempty"`
	For      string `json:"for,omitempty"`
}

// maxButtonValue is Block Kit's bound on a button's value. An overflow
// option's (150) is never near: it holds an ID and a duration.
const maxButtonValue = 2000

func (a SlackAction) value() string {
	b, _ := json.Marshal(a) // ints and strings only: cannot fail
	return string(b)
}

// ParseSlackAction reads a button's or menu option's value back.
func ParseSlackAction(value string) (SlackAction, error) {
	var a SlackAction
	if len(value) > maxButtonValue {
		return a, fmt.Errorf("action value of %d bytes, at most %d", len(value), maxButtonValue)
	}
	if err := json.Unmarshal([]byte(value), &a); err != nil {
		return a, fmt.Errorf("action value %q: %w", clipRunes(value, 80), err)
	}
	if a.Incident <= 0 {
		return a, errors.New("action value names no incident")
	}
	return a, nil
}

// hasButtons says whether m's parent can be acted on: an open incident's
// own message (not a group's, whose buttons would have to say which
// member; not a test alert's or a notice's, which have no incident).
func hasButtons(m *notify.Message) bool {
	return m.IncidentID > 0 && !m.Test && len(m.Group) == 0 &&
		m.Event != incident.NotifyResolve && m.Event != incident.NotifyNotice
}

// slackButtons are the parent's buttons: Acknowledge (while nobody has),
// Silence 1h and a menu of other durations, Re-check now (for a monitor's
// incident: a vantage's has no round to run), and Open in vantage.
func slackButtons(m *notify.Message, pageURL string) []slack.BlockElement {
	plain := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
	}
	inc := SlackAction{Incident: m.IncidentID}
	var out []slack.BlockElement
	if m.Ack == nil {
		ack := slack.NewButtonBlockElement(SlackActionAck, inc.value(), plain("Acknowledge"))
		ack.Style = slack.StylePrimary
		out = append(out, ack)
	}
	hour := inc
	hour.For = "1h"
	out = append(out, slack.NewButtonBlockElement(SlackActionSilence, hour.value(), plain("Silence 1h")))
	opts := make([]*slack.OptionBlockObject, 0, len(SilenceChoices))
	for _, c := range SilenceChoices {
		a := inc
		a.For = c
		label := "Silence " + c
		if c == SilenceUntilResolved {
			label = "Silence until resolved"
		}
		opts = append(opts, slack.NewOptionBlockObject(a.value(), plain(label), nil))
	}
	out = append(out, slack.NewOverflowBlockElement(SlackActionSilenceFor, opts...))
	if m.Kind != incident.KindVantage {
		rc := SlackAction{Incident: m.IncidentID, Monitor: m.Monitor}
		if len(rc.value()) <= maxButtonValue {
			out = append(out, slack.NewButtonBlockElement(SlackActionRecheck, rc.value(), plain("Re-check now")))
		}
	}
	if pageURL != "" {
		out = append(out, openButton(pageURL))
	}
	return out
}
