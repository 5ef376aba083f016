package daemon

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/notify"
)

// listeningRecorder is a receiver that listens for actions (as a Slack
// receiver with an app token does): Listen hands over the actions it was
// given and holds until its context ends.
type listeningRecorder struct {
	*recorder
	started chan notify.Actions
	stopped chan struct{}
}

func (l *listeningRecorder) Listening() bool { return true }

func (l *listeningRecorder) Listen(ctx context.Context, a notify.Actions) error {
	l.started <- a
	<-ctx.Done()
	l.stopped <- struct{}{}
	return nil
}

func (l *listeningRecorder) wait(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("the listener was not %s", what)
	}
}

// TestListenersFollowTheDaemon: Run starts the receivers' listeners with
// the daemon's own actions (an ack through them is the daemon's ack), a
// reload replaces them, and the end of Run stops them.
func TestListenersFollowTheDaemon(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	tg := newTarget(t)
	l := &listeningRecorder{recorder: &recorder{}, started: make(chan notify.Actions, 4), stopped: make(chan struct{}, 4)}
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML+repeatTOML, func(o *Options) {
		o.Notifier = func(*config.Receiver) (notify.Notifier, error) { return l, nil }
	})
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	id := f.incidents("web")[0].ID
	select {
	case <-l.started:
		t.Fatal("a listener started before Run")
	default:
	}
	stop := f.run()
	var a notify.Actions
	select {
	case a = <-l.started:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not start the listener")
	}
	if a != notify.Actions(f.d) {
		t.Fatalf("the listener got %T, want the daemon", a)
	}
	inc, err := a.Ack(context.Background(), id, "slack:@ana", "")
	if err != nil || inc.Ack == nil || inc.Ack.By != "slack:@ana" {
		t.Fatalf("ack through the listener's actions = %+v, %v", inc.Ack, err)
	}
	m := f.d.lookup("web")
	m.mu.Lock()
	acked := m.machine.Incident().Ack != nil
	m.mu.Unlock()
	if !acked {
		t.Error("the daemon's incident is not acknowledged")
	}

	if err := f.d.ReloadFile(context.Background(), f.file); err != nil {
		t.Fatalf("reload: %v", err)
	}
	l.wait(t, "stopped by the reload", l.stopped)
	select {
	case <-l.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the reload did not start the new listener")
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	l.wait(t, "stopped with the daemon", l.stopped)
}
