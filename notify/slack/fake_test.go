package slack_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/vantage-monitor/vantage/notify/render"
)

// apiCall is one request the fake Slack Web API received.
type apiCall struct {
	Method string // "chat.postMessage", "chat.update"
	Form   url.Values
}

// fakeSlack is the part of Slack's Web API the receiver uses:
// chat.postMessage (threads included) and chat.update, with Slack's
// channel-name-to-ID answer and its ok:false errors. override, when set,
// answers a call instead (return false to fall through).
type fakeSlack struct {
	t      *testing.T
	token  string
	srv    *httptest.Server
	mu     sync.Mutex
	calls  []apiCall
	nextTS int
	// messages holds each live message's blocks JSON by "channel/ts".
	messages map[string]string
	override func(w http.ResponseWriter, c apiCall) bool
}

// channelIDs maps the names the fake knows to their IDs; IDs map to
// themselves.
var channelIDs = map[string]string{"#alerts": "C0ALERTS", "C0ALERTS": "C0ALERTS", "C0OTHER": "C0OTHER"}

func newFakeSlack(t *testing.T, token string) *fakeSlack {
	t.Helper()
	f := &fakeSlack{t: t, token: token, messages: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the API base URL, as api_url would hold it.
func (f *fakeSlack) URL() string { return f.srv.URL + "/api/" }

func (f *fakeSlack) setOverride(o func(w http.ResponseWriter, c apiCall) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.override = o
}

// Calls are the calls made, without the detail replies that follow each
// new message (the metadata's part "detail"): most tests are about the
// parent and its thread, and TestOpenPostsDetailsInThread and
// TestDetailFailureDoesNotRepost cover the details.
func (f *fakeSlack) Calls() []apiCall {
	var out []apiCall
	for _, c := range f.AllCalls() {
		if !isDetail(c) {
			out = append(out, c)
		}
	}
	return out
}

// AllCalls are all the calls made, detail replies included.
func (f *fakeSlack) AllCalls() []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiCall(nil), f.calls...)
}

// isDetail says whether c posts a message's details (render.SlackDetail).
func isDetail(c apiCall) bool {
	var md struct {
		EventPayload map[string]any `json:"event_payload"`
	}
	_ = json.Unmarshal([]byte(c.Form.Get("metadata")), &md)
	return md.EventPayload["part"] == render.SlackPartDetail
}

func (f *fakeSlack) message(ref string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[ref]
	return m, ok
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := apiCall{Method: strings.TrimPrefix(r.URL.Path, "/api/"), Form: r.PostForm}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	o := f.override
	f.mu.Unlock()
	if o != nil && o(w, c) {
		return
	}

	tok := c.Form.Get("token")
	if tok == "" {
		tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if tok != f.token {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	id, ok := channelIDs[c.Form.Get("channel")]
	if !ok {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	blocks := c.Form.Get("blocks")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c.Method {
	case "chat.postMessage":
		f.nextTS++
		ts := fmt.Sprintf("1700000000.%06d", f.nextTS)
		f.messages[id+"/"+ts] = blocks
		writeJSON(w, map[string]any{"ok": true, "channel": id, "ts": ts})
	case "chat.update":
		ref := id + "/" + c.Form.Get("ts")
		if _, ok := f.messages[ref]; !ok {
			writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
		f.messages[ref] = blocks
		writeJSON(w, map[string]any{"ok": true, "channel": id, "ts": c.Form.Get("ts")})
	default:
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// fakeWebhook is an incoming webhook at a secret path.
type fakeWebhook struct {
	srv    *httptest.Server
	path   string
	mu     sync.Mutex
	bodies []map[string]json.RawMessage
	paths  []string
	// answer, when set, replies instead of "ok".
	answer func(w http.ResponseWriter) bool
}

const webhookPath = "/services/T0TEAM/B0HOOK/s3cr3tW3bh00kP4th"

func newFakeWebhook(t *testing.T) *fakeWebhook {
	t.Helper()
	f := &fakeWebhook{path: webhookPath}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.bodies = append(f.bodies, body)
		f.paths = append(f.paths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		a := f.answer
		f.mu.Unlock()
		if a != nil && a(w) {
			return
		}
		if r.URL.Path != f.path {
			http.Error(w, "no_service", http.StatusNotFound)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWebhook) URL() string { return f.srv.URL + f.path }

func (f *fakeWebhook) setAnswer(a func(w http.ResponseWriter) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = a
}

func (f *fakeWebhook) received() ([]map[string]json.RawMessage, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]json.RawMessage(nil), f.bodies...), append([]string(nil), f.paths...)
}
