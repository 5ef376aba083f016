package daemon

import (
	"context"
	"sort"
	"sync"

	"github.com/vantage-monitor/vantage/notify"
)

// The daemon's actions are what a receiver's buttons do (Slack's, over
// Socket Mode: notify/slack/socket.go).
var _ notify.Actions = (*Daemon)(nil)

// listeners runs the receivers that listen for operators' actions (a
// Slack receiver with an app token) while the daemon runs. A reload
// builds new receivers, so it replaces them: the old ones are told to
// stop (their presses under way finish in the background, so a reload
// never waits on a re-check) and the new ones connect. Slack redelivers a
// press that was not acknowledged meanwhile to the new connection. Each
// listener's memory of the presses it acted on (for duplicates) is its
// own, so a press redelivered across a reload may be acted on twice: an
// ack is idempotent, a silence would be added twice.
type listeners struct {
	mu      sync.Mutex
	ctx     context.Context // Run's, nil before Run and after stop
	cancel  context.CancelFunc
	all     sync.WaitGroup // every listener started, old ones included
	pending map[string]notify.Notifier
}

// set installs the receivers of the config now in force: kept until Run
// starts them, or started at once (the old ones stopped) while running.
func (d *Daemon) setListeners(ns map[string]notify.Notifier) {
	l := &d.listen
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = ns
	if l.ctx != nil {
		l.stopLocked()
		l.startLocked(d)
	}
}

// startListeners starts the receivers' listeners until stopListeners.
func (d *Daemon) startListeners(ctx context.Context) {
	l := &d.listen
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ctx = ctx
	l.startLocked(d)
}

// stopListeners stops them and waits for the presses under way, the old
// listeners' too.
func (d *Daemon) stopListeners() {
	l := &d.listen
	l.mu.Lock()
	l.stopLocked()
	l.ctx = nil
	l.mu.Unlock()
	l.all.Wait()
}

func (l *listeners) startLocked(d *Daemon) {
	ctx, cancel := context.WithCancel(l.ctx)
	names := make([]string, 0, len(l.pending))
	for name := range l.pending {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		li, ok := l.pending[name].(notify.Listener)
		if !ok || !li.Listening() {
			continue
		}
		l.all.Go(func() {
			if err := li.Listen(ctx, d); err != nil {
				d.log.Error("receiver stopped listening for actions", "receiver", name, "err", err)
			}
		})
	}
	l.cancel = cancel
}

func (l *listeners) stopLocked() {
	if l.cancel == nil {
		return
	}
	l.cancel()
	l.cancel = nil
}
