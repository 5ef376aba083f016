package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/receiver"
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

// slackAndSocket is Slack for the end-to-end test: the Web API calls the
// receiver makes (recorded), and Socket Mode behind apps.connections.open.
type slackAndSocket struct {
	api, ws *httptest.Server
	conns   chan *websocket.Conn
	mu      sync.Mutex
	calls   []url.Values // with "method" set
	ts      int
}

func newSlackAndSocket(t *testing.T) *slackAndSocket {
	t.Helper()
	s := &slackAndSocket{conns: make(chan *websocket.Conn, 2)}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.ws = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		_ = c.WriteJSON(map[string]any{"type": "hello"})
		s.conns <- c
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(s.ws.Close)
	s.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		method := strings.TrimPrefix(r.URL.Path, "/api/")
		form := r.PostForm
		form.Set("method", method)
		s.mu.Lock()
		s.calls = append(s.calls, form)
		s.ts++
		ts := fmt.Sprintf("1700000000.%06d", s.ts)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch method {
		case "apps.connections.open":
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "url": "ws" + strings.TrimPrefix(s.ws.URL, "http") + "/link"})
		case "chat.postMessage":
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "C1", "ts": ts})
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "C1", "ts": form.Get("ts")})
		}
	}))
	t.Cleanup(s.api.Close)
	return s
}

func (s *slackAndSocket) called(method string) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []url.Values
	for _, c := range s.calls {
		if c.Get("method") == method {
			out = append(out, c)
		}
	}
	return out
}

// TestSlackAckStopsReminders, end to end: the real Slack receiver posts
// the DOWN with its buttons; an allowed user presses Acknowledge over
// Socket Mode; the daemon acks the incident, the thread says who, the
// parent is rewritten to show the ack without the button, and no
// reminder follows.
func TestSlackAckStopsReminders(t *testing.T) {
	t.Setenv("VANTAGE_TEST_TOKEN", "xoxb-test")
	s := newSlackAndSocket(t)
	tg := newTarget(t)
	f := newFixture(t, monitorTOML("web", tg.URL)+receiverTOML+repeatTOML, func(o *Options) {
		o.Notifier = func(r *config.Receiver) (notify.Notifier, error) {
			c := *r
			c.APIURL = s.api.URL + "/api/"
			c.AppToken = config.NewSecret("xapp-1-A0-test")
			c.AllowUsers = []string{"U1ANA"}
			return receiver.New(&c, receiver.Options{Logger: o.Logger, Now: o.Clock.Now})
		}
	})
	ctx := context.Background()
	tg.status.Store(http.StatusBadGateway)
	f.round("web")
	f.round("web")
	if f.deliver() != 1 {
		t.Fatal("the DOWN did not go out")
	}
	posts := s.called("chat.postMessage")
	if len(posts) == 0 || !strings.Contains(posts[0].Get("blocks"), `"action_id":"vantage_ack"`) {
		t.Fatalf("the DOWN has no Acknowledge button: %v", posts)
	}
	parentTS := fmt.Sprintf("1700000000.%06d", 1)
	id := f.incidents("web")[0].ID

	lctx, cancel := context.WithCancel(ctx)
	f.d.startListeners(lctx)
	t.Cleanup(func() { cancel(); f.d.stopListeners() })
	var c *websocket.Conn
	select {
	case c = <-s.conns:
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver did not connect over Socket Mode")
	}
	if err := c.WriteJSON(map[string]any{"envelope_id": "e1", "type": "interactive", "payload": map[string]any{
		"type": "block_actions", "trigger_id": "t1",
		"user":      map[string]any{"id": "U1ANA", "username": "ana"},
		"container": map[string]any{"type": "message", "message_ts": parentTS, "channel_id": "C1"},
		"actions":   []any{map[string]any{"action_id": "vantage_ack", "block_id": "vantage_actions", "type": "button", "value": fmt.Sprintf(`{"i":%d}`, id)}},
	}}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "the thread says who acknowledged", func() bool {
		for _, p := range s.called("chat.postMessage") {
			if p.Get("thread_ts") == parentTS && strings.Contains(p.Get("text"), "acknowledged by @ana") {
				return true
			}
		}
		return false
	})
	m := f.d.lookup("web")
	m.mu.Lock()
	ack := m.machine.Incident().Ack
	m.mu.Unlock()
	if ack == nil || ack.By != "slack:@ana" {
		t.Fatalf("the incident's ack = %+v, want by slack:@ana", ack)
	}
	// The ack's update rewrites the parent: it shows who, and no longer
	// offers Acknowledge.
	if n := f.deliver(); n != 1 {
		t.Fatalf("delivered %d after the ack, want its update", n)
	}
	ups := s.called("chat.update")
	if len(ups) != 1 || ups[0].Get("ts") != parentTS || !strings.Contains(ups[0].Get("blocks"), "Acknowledged* by slack:@ana") ||
		strings.Contains(ups[0].Get("blocks"), `"vantage_ack"`) || !strings.Contains(ups[0].Get("blocks"), `"vantage_silence"`) {
		t.Fatalf("parent rewrite = %v", ups)
	}
	for range 3 {
		f.clock.Advance(6 * time.Minute)
		f.d.remind(ctx)
	}
	if n := f.deliver(); n != 0 {
		t.Fatalf("delivered %d reminders after the ack from Slack", n)
	}
}
