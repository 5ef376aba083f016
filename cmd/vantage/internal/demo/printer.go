package demo

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/plan"
	"github.com/vantage-monitor/vantage/notify/render"
	"github.com/vantage-monitor/vantage/notify/slack"
)

// Printer stands in for every receiver. The outbox delivers each alert
// once per receiver; the printer collects an alert's deliveries and prints
// the alert once, when every receiver has had it: the email's text part,
// then what Slack would show (its Block Kit as text), each under a line
// that says who would get it. It also remembers which incidents have had
// their opening alert delivered.
type Printer struct {
	mu        sync.Mutex
	w         io.Writer
	receivers []string                   // names, in the order the daemon set them up
	pending   map[string]*alert          // event key -> deliveries so far
	waiting   []string                   // the keys of pending, oldest first
	opened    map[string]map[string]bool // receiver -> "kind/monitor" -> opened
	changed   chan struct{}              // closed and replaced on every delivery
	alerts    int
	messages  int
}

// alert is one event's deliveries, one per receiver.
type alert struct {
	got []delivery
}

type delivery struct {
	receiver *config.Receiver
	msg      *notify.Message
}

// NewPrinter writes to w.
func NewPrinter(w io.Writer) *Printer {
	return &Printer{w: w, pending: make(map[string]*alert), opened: make(map[string]map[string]bool), changed: make(chan struct{})}
}

// Notifier is the daemon's Options.Notifier: a printing notifier for r.
func (p *Printer) Notifier(r *config.Receiver) (notify.Notifier, error) {
	p.mu.Lock()
	if !slices.Contains(p.receivers, r.Name) {
		p.receivers = append(p.receivers, r.Name)
	}
	if p.opened[r.Name] == nil {
		p.opened[r.Name] = make(map[string]bool)
	}
	p.mu.Unlock()
	return notify.NotifierFunc(func(ctx context.Context, m *notify.Message, ref string) (string, error) {
		p.deliver(r, m)
		return ref, nil
	}), nil
}

// Label says where a receiver's messages would go, as a person would.
func Label(r *config.Receiver) string {
	switch r.Type {
	case config.ReceiverSlack:
		return "Slack " + r.Channel + " (receiver " + r.Name + ")"
	case config.ReceiverEmail:
		return "email to " + strings.Join(r.To, ", ") + " (receiver " + r.Name + ")"
	}
	return "receiver " + r.Name
}

// eventKey is what an alert's deliveries share: the outbox key without
// the receiver (plan.Key).
func eventKey(m *notify.Message) string {
	return strings.TrimSuffix(m.Key, plan.Key("", m.Receiver))
}

func (p *Printer) deliver(r *config.Receiver, m *notify.Message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.messages++
	if m.Event == incident.NotifyOpen {
		seen := p.opened[r.Name]
		if seen == nil {
			seen = make(map[string]bool)
			p.opened[r.Name] = seen
		}
		seen[key(m.Kind, m.Monitor)] = true
		for _, g := range m.Group {
			seen[key(incident.KindTarget, g.Monitor)] = true
		}
	}
	k := eventKey(m)
	a := p.pending[k]
	if a != nil && slices.ContainsFunc(a.got, func(d delivery) bool { return d.receiver.Name == r.Name }) {
		// The same receiver again (a retry the receiver may have taken):
		// what is collected goes out as it is, the repeat on its own.
		p.printLocked(k)
		a = nil
	}
	if a == nil {
		a = &alert{}
		p.pending[k] = a
		p.waiting = append(p.waiting, k)
	}
	a.got = append(a.got, delivery{r, m})
	if len(a.got) >= len(p.receivers) {
		p.printLocked(k)
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// Flush prints the alerts that some receiver has not had yet, saying which.
func (p *Printer) Flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.waiting) > 0 {
		p.printLocked(p.waiting[0])
	}
}

// printLocked prints the alert collected under k and forgets it.
func (p *Printer) printLocked(k string) {
	a := p.pending[k]
	delete(p.pending, k)
	p.waiting = slices.DeleteFunc(p.waiting, func(w string) bool { return w == k })
	if a == nil {
		return
	}
	// The email's text first, the plain rendering every receiver shares;
	// then Slack's layout of the same alert.
	slices.SortStableFunc(a.got, func(x, y delivery) int { return rank(x.receiver) - rank(y.receiver) })
	var b strings.Builder
	var missing []string
	for _, name := range p.receivers {
		if !slices.ContainsFunc(a.got, func(d delivery) bool { return d.receiver.Name == name }) {
			missing = append(missing, name)
		}
	}
	for _, d := range a.got {
		for _, v := range views(d.receiver, d.msg) {
			head := fmt.Sprintf("──── %s: %s", Label(d.receiver), d.msg.Event)
			if v.how != "" {
				head += ", " + v.how
			}
			head += " "
			b.WriteString("\n" + head + strings.Repeat("─", max(0, 72-len([]rune(head)))) + "\n")
			b.WriteString(v.text)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "(not delivered to receiver %s when the demo stopped)\n", strings.Join(missing, ", "))
	}
	_, _ = io.WriteString(p.w, b.String())
	p.alerts++
}

func rank(r *config.Receiver) int {
	switch r.Type {
	case config.ReceiverEmail:
		return 0
	case config.ReceiverSlack:
		return 1
	}
	return 2
}

// view is one thing a receiver would send for a message.
type view struct {
	how  string // what happens in the receiver ("a new message"), "" when it goes without saying
	text string
}

// views are what the receiver r would send for m: an email's text part;
// for Slack, each call of its bot (notify/slack's Steps, the rule its
// Notify follows) as text. The demo's incidents always have their message
// by the time a later event comes, so it asks for the threaded steps of
// everything but an opening alert.
func views(r *config.Receiver, m *notify.Message) []view {
	if r.Type != config.ReceiverSlack {
		return []view{{text: render.Text(m)}}
	}
	var out []view
	for _, st := range slack.Steps(m, m.Event != incident.NotifyOpen) {
		switch st.Kind {
		case slack.StepReply:
			out = append(out, view{"a reply in the incident's thread", render.SlackText(render.SlackReply(st.Message))})
		case slack.StepRewrite:
			out = append(out, view{"the incident's message rewritten", render.SlackText(render.SlackBlocks(st.Message))})
		default:
			text := render.SlackText(render.SlackBlocks(st.Message))
			if st.Keeps {
				// The receiver posts the evidence and every step as the
				// first reply in the new message's thread (notify/slack).
				if d := render.SlackDetail(st.Message); d != nil {
					text += "\n\n↳ first reply in its thread:\n" + render.SlackText(d)
				}
			}
			out = append(out, view{"a new message", text})
		}
	}
	return out
}

func key(k incident.Kind, monitor string) string { return string(k) + "/" + monitor }

// Changed is closed when the next message has been delivered.
func (p *Printer) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// Missing lists the opening alerts not yet delivered to every receiver:
// one per failing monitor and one for each vantage in vantages.
func (p *Printer) Missing(monitors, vantages []string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var want []string
	for _, m := range monitors {
		want = append(want, key(incident.KindTarget, m))
	}
	for _, v := range vantages {
		want = append(want, key(incident.KindVantage, v))
	}
	if len(p.opened) == 0 {
		slices.Sort(want)
		return want
	}
	var missing []string
	for _, k := range want {
		for _, seen := range p.opened {
			if !seen[k] {
				missing = append(missing, k)
				break
			}
		}
	}
	slices.Sort(missing)
	return missing
}

// Count is how many alerts were printed, and how many messages (one per
// receiver) they stand for.
func (p *Printer) Count() (alerts, messages int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.alerts, p.messages
}
