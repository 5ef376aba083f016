package slack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/silence"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/render"
	"github.com/vantage-monitor/vantage/notify/slack"
)

const testAppToken = "xapp-1-A0APP-1111-s0ck3tS3cr3t"

// fakeSocket is Slack's Socket Mode for the test: apps.connections.open
// (on the fake Web API, with the app token) hands out a ws://127.0.0.1
// URL, and the WebSocket server behind it says hello and then sends what
// the test gives it, recording the envelope IDs the client acknowledges.
// The Web API also answers chat.postEphemeral and usergroups.users.list.
type fakeSocket struct {
	t     *testing.T
	api   *fakeSlack
	ws    *httptest.Server
	conns chan *wsConn
	mu    sync.Mutex
	opens int
	acked []string
	// groups are the user groups' members.
	groups map[string][]string
}

type wsConn struct {
	c  *websocket.Conn
	mu sync.Mutex
}

func newFakeSocket(t *testing.T) *fakeSocket {
	t.Helper()
	s := &fakeSocket{t: t, api: newFakeSlack(t, testToken), conns: make(chan *wsConn, 4), groups: map[string][]string{"S1OPS": {"U2BOB"}}}
	// Slack's client sends Origin: https://api.slack.com.
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	s.ws = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		wc := &wsConn{c: c}
		wc.send(t, map[string]any{"type": "hello", "num_connections": 1, "connection_info": map[string]any{"app_id": "A0APP"}})
		s.conns <- wc
		for {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var ack struct {
				EnvelopeID string `json:"envelope_id"`
			}
			if json.Unmarshal(data, &ack) == nil && ack.EnvelopeID != "" {
				s.mu.Lock()
				s.acked = append(s.acked, ack.EnvelopeID)
				s.mu.Unlock()
			}
		}
	}))
	t.Cleanup(s.ws.Close)
	s.api.setOverride(func(w http.ResponseWriter, c apiCall) bool {
		switch c.Method {
		case "apps.connections.open":
			s.mu.Lock()
			s.opens++
			n := s.opens
			s.mu.Unlock()
			// slack-go sends the app token as a bearer header, which
			// the override does not see: TestSocketUsesAppToken
			// checks it.
			writeJSON(w, map[string]any{"ok": true, "url": fmt.Sprintf("ws%s/link/?n=%d", strings.TrimPrefix(s.ws.URL, "http"), n)})
			return true
		case "chat.postEphemeral":
			writeJSON(w, map[string]any{"ok": true, "message_ts": "1700000000.999999"})
			return true
		case "usergroups.users.list":
			users, ok := s.groups[c.Form.Get("usergroup")]
			if !ok {
				writeJSON(w, map[string]any{"ok": false, "error": "no_such_subteam"})
				return true
			}
			writeJSON(w, map[string]any{"ok": true, "users": users})
			return true
		}
		return false
	})
	return s
}

func (c *wsConn) send(t *testing.T, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.c.WriteJSON(v); err != nil {
		t.Logf("fake socket: write: %v", err)
	}
}

// next is the next connection the client opens.
func (s *fakeSocket) next(t *testing.T) *wsConn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver did not connect over Socket Mode")
		return nil
	}
}

func (s *fakeSocket) ackedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.acked...)
}

func (s *fakeSocket) openCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens
}

func (s *fakeSocket) waitAcked(t *testing.T, id string) {
	t.Helper()
	testkit.WaitFor(t, "envelope "+id+" acknowledged", func() bool {
		for _, a := range s.ackedIDs() {
			if a == id {
				return true
			}
		}
		return false
	})
}

// press is an interactive envelope: user pressed the button actionID
// (value) on the parent at ts.
func press(envelope, trigger, user, actionID, value, ts string) map[string]any {
	action := map[string]any{"action_id": actionID, "block_id": render.SlackActionsBlock, "type": "button", "value": value, "action_ts": "1700000001.000000"}
	if actionID == render.SlackActionSilenceFor {
		action = map[string]any{"action_id": actionID, "block_id": render.SlackActionsBlock, "type": "overflow",
			"selected_option": map[string]any{"text": map[string]any{"type": "plain_text", "text": "x"}, "value": value}}
	}
	return map[string]any{
		"envelope_id": envelope, "type": "interactive", "accepts_response_payload": false,
		"payload": map[string]any{
			"type": "block_actions", "trigger_id": trigger,
			"user":      map[string]any{"id": user, "username": strings.ToLower(user[2:]), "name": strings.ToLower(user[2:]), "team_id": "T0TEAM"},
			"container": map[string]any{"type": "message", "message_ts": ts, "channel_id": "C0ALERTS"},
			"channel":   map[string]any{"id": "C0ALERTS", "name": "alerts"},
			"message":   map[string]any{"type": "message", "ts": ts},
			"actions":   []any{action},
		},
	}
}

// fakeActions records what the buttons asked the daemon for. Ack is
// idempotent, as the daemon's is.
type fakeActions struct {
	mu       sync.Mutex
	acks     []string // "id by"
	acked    map[int64]*incident.Ack
	silences []silence.Silence
	rechecks []string
	outcome  result.Outcome
}

func (a *fakeActions) Ack(_ context.Context, id int64, by, comment string) (incident.Incident, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.acked == nil {
		a.acked = map[int64]*incident.Ack{}
	}
	if prev := a.acked[id]; prev != nil {
		return incident.Incident{ID: id, Ack: prev}, nil
	}
	a.acks = append(a.acks, fmt.Sprintf("%d %s", id, by))
	a.acked[id] = &incident.Ack{By: by, Comment: comment}
	return incident.Incident{ID: id, Ack: a.acked[id]}, nil
}

func (a *fakeActions) AddSilence(_ context.Context, s silence.Silence, by string) (silence.Silence, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s.CreatedBy = by
	s.ID = int64(len(a.silences) + 1)
	a.silences = append(a.silences, s)
	return s, nil
}

func (a *fakeActions) Recheck(_ context.Context, monitor, by string) (result.Outcome, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rechecks = append(a.rechecks, monitor+" "+by)
	return a.outcome, nil
}

func (a *fakeActions) snapshot() (acks []string, sil []silence.Silence, re []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.acks...), append([]silence.Silence(nil), a.silences...), append([]string(nil), a.rechecks...)
}

var _ notify.Actions = (*fakeActions)(nil)

// socketReceiver is a bot receiver with an app token: U1ANA may act, and
// the members of S1OPS.
func socketReceiver(apiURL string) *config.Receiver {
	r := botReceiver(apiURL)
	r.Channel = "C0ALERTS"
	r.AppToken = config.NewSecret(testAppToken)
	r.AllowUsers = []string{"U1ANA"}
	r.AllowGroups = []string{"S1OPS"}
	return r
}

// listening starts n's listener until the test ends.
func listening(t *testing.T, n *slack.Notifier, a notify.Actions) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Listen(ctx, a) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Listen: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Listen did not return after its context ended")
		}
	})
}

// posted is the parent's ref, posted as an open.
func posted(t *testing.T, n *slack.Notifier) (channel, ts string) {
	t.Helper()
	ref, err := n.Notify(context.Background(), message(incident.NotifyOpen, "shop"), "")
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	return splitRef(t, ref)
}

// threadTexts are the texts posted in the thread at ts.
func threadTexts(f *fakeSlack, ts string) []string {
	var out []string
	for _, c := range f.Calls() {
		if c.Method == "chat.postMessage" && c.Form.Get("thread_ts") == ts {
			out = append(out, c.Form.Get("text"))
		}
	}
	return out
}

func waitThread(t *testing.T, f *fakeSlack, ts, want string) {
	t.Helper()
	testkit.WaitFor(t, "a thread reply with "+want, func() bool {
		for _, s := range threadTexts(f, ts) {
			if strings.Contains(s, want) {
				return true
			}
		}
		return false
	})
}

func TestSocketAckByAllowedUser(t *testing.T) {
	s := newFakeSocket(t)
	n := mustNew(t, socketReceiver(s.api.URL()))
	if !n.Listening() {
		t.Fatal("a receiver with an app token does not listen")
	}
	_, ts := posted(t, n)
	parent, _ := s.api.message("C0ALERTS/" + ts)
	for _, id := range []string{render.SlackActionAck, render.SlackActionSilence, render.SlackActionSilenceFor, render.SlackActionRecheck} {
		if !strings.Contains(parent, `"action_id":"`+id+`"`) {
			t.Errorf("the parent has no %s: %s", id, parent)
		}
	}
	a := &fakeActions{}
	listening(t, n, a)
	c := s.next(t)
	c.send(t, press("e1", "t1", "U1ANA", render.SlackActionAck, `{"i":7}`, ts))
	s.waitAcked(t, "e1")
	waitThread(t, s.api, ts, "acknowledged by @ana")
	if acks, _, _ := a.snapshot(); len(acks) != 1 || acks[0] != "7 slack:@ana" {
		t.Errorf("acks = %q, want incident 7 by slack:@ana", acks)
	}

	// A member of an allowed group may act too.
	c.send(t, press("e2", "t2", "U2BOB", render.SlackActionAck, `{"i":8}`, ts))
	testkit.WaitFor(t, "bob's ack", func() bool { acks, _, _ := a.snapshot(); return len(acks) == 2 })
	if acks, _, _ := a.snapshot(); acks[1] != "8 slack:@bob" {
		t.Errorf("acks = %q, want incident 8 by slack:@bob (a member of S1OPS)", acks)
	}
}

func TestSocketRefusedUser(t *testing.T) {
	s := newFakeSocket(t)
	n := mustNew(t, socketReceiver(s.api.URL()))
	_, ts := posted(t, n)
	a := &fakeActions{}
	listening(t, n, a)
	c := s.next(t)
	c.send(t, press("e1", "t1", "U9EVE", render.SlackActionAck, `{"i":7}`, ts))
	s.waitAcked(t, "e1")
	var eph apiCall
	testkit.WaitFor(t, "an ephemeral answer", func() bool {
		for _, call := range s.api.Calls() {
			if call.Method == "chat.postEphemeral" {
				eph = call
				return true
			}
		}
		return false
	})
	if eph.Form.Get("user") != "U9EVE" || !strings.Contains(eph.Form.Get("text"), "not allowed") {
		t.Errorf("ephemeral = %v, want \"not allowed\" to U9EVE", eph.Form)
	}
	acks, sil, re := a.snapshot()
	if len(acks)+len(sil)+len(re) != 0 {
		t.Errorf("a refused user changed something: %v %v %v", acks, sil, re)
	}
	if got := threadTexts(s.api, ts); len(got) != 0 {
		t.Errorf("a refused press posted in the thread: %q", got)
	}
}

// logged is a receiver whose log the test reads.
func logged(t *testing.T, r *config.Receiver) (*slack.Notifier, *testkit.Buffer) {
	t.Helper()
	buf := &testkit.Buffer{}
	n, err := slack.New(r, slack.Options{Now: clock, Logger: slog.New(slog.NewTextHandler(buf, nil))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n, buf
}

func TestSocketDuplicateEnvelope(t *testing.T) {
	s := newFakeSocket(t)
	n, logs := logged(t, socketReceiver(s.api.URL()))
	_, ts := posted(t, n)
	a := &fakeActions{}
	listening(t, n, a)
	c := s.next(t)
	c.send(t, press("e1", "t1", "U1ANA", render.SlackActionSilence, `{"i":7,"for":"1h"}`, ts))
	c.send(t, press("e1", "t1", "U1ANA", render.SlackActionSilence, `{"i":7,"for":"1h"}`, ts))
	// The duplicate is decided as it arrives (the log says so); the
	// silence and the re-check then complete.
	c.send(t, press("e2", "t2", "U1ANA", render.SlackActionRecheck, `{"i":7,"m":"shop"}`, ts))
	testkit.WaitFor(t, "the duplicate recognised", func() bool { return strings.Contains(logs.String(), "acted on already") })
	testkit.WaitFor(t, "the silence and the re-check", func() bool { _, sil, re := a.snapshot(); return len(sil) >= 1 && len(re) == 1 })
	testkit.WaitFor(t, "both copies acknowledged", func() bool { return strings.Count(strings.Join(s.ackedIDs(), ","), "e1") == 2 })
	if _, sil, _ := a.snapshot(); len(sil) != 1 {
		t.Errorf("a duplicate envelope made %d silences, want 1", len(sil))
	}
}

func TestSocketReconnectsAndRedeliveryAppliesOnce(t *testing.T) {
	s := newFakeSocket(t)
	n, logs := logged(t, socketReceiver(s.api.URL()))
	_, ts := posted(t, n)
	a := &fakeActions{}
	listening(t, n, a)
	c := s.next(t)
	c.send(t, press("e1", "t1", "U1ANA", render.SlackActionSilence, `{"i":7,"for":"1h"}`, ts))
	s.waitAcked(t, "e1")
	// The socket drops; Slack, not having the ack (as far as it knows),
	// sends the press again on the new connection, in a new envelope.
	_ = c.c.Close()
	c2 := s.next(t)
	if got := s.openCount(); got != 2 {
		t.Errorf("apps.connections.open called %d times, want 2 (a reconnect)", got)
	}
	c2.send(t, map[string]any{"envelope_id": "e1-retry", "type": "interactive", "retry_attempt": 1, "retry_reason": "timeout",
		"payload": press("", "t1", "U1ANA", render.SlackActionSilence, `{"i":7,"for":"1h"}`, ts)["payload"]})
	c2.send(t, press("e3", "t3", "U1ANA", render.SlackActionRecheck, `{"i":7,"m":"shop"}`, ts))
	testkit.WaitFor(t, "the redelivery recognised", func() bool { return strings.Contains(logs.String(), "acted on already") })
	testkit.WaitFor(t, "the silence and the re-check", func() bool { _, sil, re := a.snapshot(); return len(sil) >= 1 && len(re) == 1 })
	s.waitAcked(t, "e1-retry")
	if _, sil, _ := a.snapshot(); len(sil) != 1 {
		t.Errorf("the redelivered press made %d silences, want 1: %+v", len(sil), sil)
	}
}

func TestSocketSilence(t *testing.T) {
	s := newFakeSocket(t)
	n := mustNew(t, socketReceiver(s.api.URL()))
	_, ts := posted(t, n)
	a := &fakeActions{}
	listening(t, n, a)
	c := s.next(t)
	c.send(t, press("e1", "t1", "U1ANA", render.SlackActionSilence, `{"i":7,"for":"1h"}`, ts))
	waitThread(t, s.api, ts, "silenced for 1h by @ana until <!date^")
	_, sil, _ := a.snapshot()
	if len(sil) != 1 || sil[0].Matchers.Incident != 7 || !sil[0].End.Equal(clock().Add(time.Hour)) || sil[0].CreatedBy != "slack:@ana" || sil[0].UntilResolved {
		t.Fatalf("silences = %+v, want one of incident 7 ending in 1h, by slack:@ana", sil)
	}
	c.send(t, press("e2", "t2", "U1ANA", render.SlackActionSilenceFor, `{"i":7,"for":"resolved"}`, ts))
	waitThread(t, s.api, ts, "silenced until it resolves by @ana")
	c.send(t, press("e3", "t3", "U1ANA", render.SlackActionSilenceFor, `{"i":7,"for":"15m"}`, ts))
	waitThread(t, s.api, ts, "silenced for 15m by @ana")
	_, sil, _ = a.snapshot()
	if len(sil) != 3 || !sil[1].UntilResolved || !sil[1].End.IsZero() || !sil[2].End.Equal(clock().Add(15*time.Minute)) {
		t.Errorf("silences = %+v, want until resolved, then 15m", sil)
	}
}

func TestSocketRecheck(t *testing.T) {
	s := newFakeSocket(t)
	n := mustNew(t, socketReceiver(s.api.URL()))
	_, ts := posted(t, n)
	a := &fakeActions{outcome: result.Outcome{
		Result:   result.Result{OK: true, Class: result.ClassOK, Status: 200},
		Vantages: []result.VantageLine{{Name: "local", Status: result.VantageUp}, {Name: "fra1", Status: result.VantageUp}},
	}}
	listening(t, n, a)
	c := s.next(t)
	c.send(t, press("e1", "t1", "U1ANA", render.SlackActionRecheck, `{"i":7,"m":"shop"}`, ts))
	waitThread(t, s.api, ts, "re-check by @ana: up (200) from local, fra1")
	if _, _, re := a.snapshot(); len(re) != 1 || re[0] != "shop slack:@ana" {
		t.Errorf("rechecks = %q, want shop by slack:@ana", re)
	}
}

// TestSocketUsesAppToken: apps.connections.open is called with the app
// token, never the bot token; a refused token is retried with backoff and
// logged once; without an app token there is no listener.
func TestSocketUsesAppToken(t *testing.T) {
	var auth []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
	}))
	t.Cleanup(srv.Close)
	n, logs := logged(t, socketReceiver(srv.URL+"/api/"))
	listening(t, n, &fakeActions{})
	// Slack refuses the token: the session ends, and is retried after a
	// backoff (1s), logged once however often it fails.
	testkit.WaitFor(t, "apps.connections.open, retried", func() bool { mu.Lock(); defer mu.Unlock(); return len(auth) >= 2 })
	mu.Lock()
	if auth[0] != "/api/apps.connections.open Bearer "+testAppToken {
		t.Errorf("first call = %q, want apps.connections.open with the app token", auth[0])
	}
	mu.Unlock()
	if got := strings.Count(logs.String(), "socket mode stopped"); got != 1 {
		t.Errorf("the failing connection was logged %d times, want once:\n%s", got, logs)
	}

	plain := mustNew(t, botReceiver(srv.URL+"/api/"))
	if plain.Listening() {
		t.Error("a receiver without an app token listens")
	}
	if err := plain.Listen(context.Background(), &fakeActions{}); err != nil {
		t.Errorf("Listen without an app token = %v, want nil at once", err)
	}
}
