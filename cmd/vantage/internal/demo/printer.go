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
	"github.com/vantage-monitor/vantage/notify/render"
)

// Printer stands in for every receiver: it writes each message the outbox
// delivers as a readable block (who would get it, then the plain-text
// rendering every receiver shares) and remembers which incidents have had
// their opening alert delivered.
type Printer struct {
	mu      sync.Mutex
	w       io.Writer
	opened  map[string]map[string]bool // receiver -> "kind/monitor" -> opened
	changed chan struct{}              // closed and replaced on every message
	count   int
}

// NewPrinter writes to w.
func NewPrinter(w io.Writer) *Printer {
	return &Printer{w: w, opened: make(map[string]map[string]bool), changed: make(chan struct{})}
}

// Notifier is the daemon's Options.Notifier: a printing notifier for r.
func (p *Printer) Notifier(r *config.Receiver) (notify.Notifier, error) {
	label := Label(r)
	p.mu.Lock()
	if p.opened[r.Name] == nil {
		p.opened[r.Name] = make(map[string]bool)
	}
	p.mu.Unlock()
	return notify.NotifierFunc(func(ctx context.Context, m *notify.Message, ref string) (string, error) {
		p.print(r.Name, label, m)
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

func (p *Printer) print(receiver, label string, m *notify.Message) {
	var b strings.Builder
	head := fmt.Sprintf("──── %s: %s ", label, m.Event)
	b.WriteString("\n" + head + strings.Repeat("─", max(0, 72-len([]rune(head)))) + "\n")
	b.WriteString(render.Text(m))
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.w, b.String())
	if m.Event == incident.NotifyOpen {
		seen := p.opened[receiver]
		if seen == nil {
			seen = make(map[string]bool)
			p.opened[receiver] = seen
		}
		seen[key(m.Kind, m.Monitor)] = true
		for _, g := range m.Group {
			seen[key(incident.KindTarget, g.Monitor)] = true
		}
	}
	p.count++
	close(p.changed)
	p.changed = make(chan struct{})
}

func key(k incident.Kind, monitor string) string { return string(k) + "/" + monitor }

// Changed is closed when the next message has been printed.
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

// Count is how many messages were printed.
func (p *Printer) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}
