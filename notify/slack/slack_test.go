package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"
	"github.com/slack-go/slack/slackutilsx"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/render"
	"github.com/vantage-monitor/vantage/notify/slack"
)

const testToken = "xoxb-1111-2222-t0k3nS3cr3tV4lu3"

var (
	opened = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	clock  = func() time.Time { return opened.Add(time.Hour) }
)

func botReceiver(apiURL string) *config.Receiver {
	return &config.Receiver{
		Name: "ops", Type: config.ReceiverSlack, Channel: "#alerts",
		Token: config.NewSecret(testToken), APIURL: apiURL, Timeout: 2 * time.Second,
	}
}

func hookReceiver(hookURL string) *config.Receiver {
	return &config.Receiver{
		Name: "hook", Type: config.ReceiverSlack,
		WebhookURL: config.NewSecret(hookURL), Timeout: 2 * time.Second,
	}
}

func mustNew(t *testing.T, r *config.Receiver) *slack.Notifier {
	t.Helper()
	n, err := slack.New(r, slack.Options{Now: clock})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

func message(ev incident.Notification, monitor string) *notify.Message {
	m := &notify.Message{
		Key: monitor + "-" + string(ev), Event: ev, Receiver: "ops", IncidentID: 7,
		Kind: incident.KindTarget, Monitor: monitor, URL: "https://" + monitor + ".example/",
		Severity: incident.SeverityCritical, Scope: result.ScopeEveryone,
		Class: result.ClassBadGateway, Status: 502, Gateway: "nginx",
		OpenedAt: opened, At: opened.Add(10 * time.Minute),
	}
	switch ev {
	case incident.NotifyUpdate:
		m.Change = "now seen from 2 of 3 vantages"
		m.Scope = result.ScopePartial
	case incident.NotifyReminder:
		m.At = opened.Add(4 * time.Hour)
	case incident.NotifyResolve:
		m.Class = result.ClassOK
		m.Status = 200
		m.ResolvedAt = opened.Add(25 * time.Minute)
		m.At = m.ResolvedAt
		m.Resolution = "recovered"
	case incident.NotifyNotice:
		m.Change = "maintenance ended with the monitor still down"
	}
	return m
}

func blocksJSON(t *testing.T, b []slackgo.Block) string {
	t.Helper()
	raw, err := json.Marshal(b)
	if err != nil {
		t.Fatalf("marshal blocks: %v", err)
	}
	return normJSON(t, string(raw))
}

func normJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v: %q", err, s)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// checkCall asserts one Web API call: method, channel, thread, blocks and
// the fallback text.
func checkCall(t *testing.T, c apiCall, method, channel, thread string, blocks []slackgo.Block, msg *notify.Message) {
	t.Helper()
	if c.Method != method {
		t.Fatalf("call is %s, want %s", c.Method, method)
	}
	if got := c.Form.Get("channel"); got != channel {
		t.Errorf("%s channel = %q, want %q", method, got, channel)
	}
	if method == "chat.update" {
		if got := c.Form.Get("ts"); got != thread {
			t.Errorf("chat.update ts = %q, want %q", got, thread)
		}
	} else if got := c.Form.Get("thread_ts"); got != thread {
		t.Errorf("%s thread_ts = %q, want %q", method, got, thread)
	}
	if c.Form.Get("blocks") == "" {
		t.Fatalf("%s carries no blocks", method)
	}
	if got, want := normJSON(t, c.Form.Get("blocks")), blocksJSON(t, blocks); got != want {
		t.Errorf("%s blocks =\n%s\nwant\n%s", method, got, want)
	}
	if got, want := c.Form.Get("text"), slackutilsx.EscapeMessage(render.Title(msg)); got != want {
		t.Errorf("%s text = %q, want the title %q", method, got, want)
	}
}

func splitRef(t *testing.T, ref string) (string, string) {
	t.Helper()
	ch, ts, ok := strings.Cut(ref, "/")
	if !ok || ch == "" || ts == "" {
		t.Fatalf("ref %q is not channel/ts", ref)
	}
	return ch, ts
}

func TestNewValidates(t *testing.T) {
	ok := botReceiver("http://127.0.0.1:1/api/")
	cases := []struct {
		name string
		r    *config.Receiver
		want string // substring of the error; "" means valid
	}{
		{"bot", ok, ""},
		{"webhook", hookReceiver("https://hooks.example/services/x"), ""},
		{"nil", nil, "no configuration"},
		{"email type", &config.Receiver{Name: "m", Type: config.ReceiverEmail, Token: config.NewSecret("x"), Channel: "C1"}, "not \"slack\""},
		{"token without channel", &config.Receiver{Name: "s", Type: "slack", Token: config.NewSecret("x")}, "needs a channel"},
		{"neither", &config.Receiver{Name: "s", Type: "slack", Channel: "C1"}, "bot token or a webhook URL"},
		{"both", &config.Receiver{Name: "s", Type: "slack", Channel: "C1", Token: config.NewSecret("x"), WebhookURL: config.NewSecret("https://h/x")}, "not both"},
		{"webhook not a URL", hookReceiver("hooks.example/services/s3cr3t"), "not an http or https URL"},
		{"negative timeout", &config.Receiver{Name: "s", Type: "slack", Channel: "C1", Token: config.NewSecret("x"), Timeout: -time.Second}, "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := slack.New(tc.r, slack.Options{})
			if tc.want == "" {
				if err != nil || n == nil {
					t.Fatalf("New = %v, %v; want a notifier", n, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows the secret: %v", err)
			}
		})
	}
}

// TestThreadFlow: open posts the incident's message, update and reminder
// reply in its thread, resolve rewrites it and replies.
func TestThreadFlow(t *testing.T) {
	ctx := t.Context()
	f := newFakeSlack(t, testToken)
	n := mustNew(t, botReceiver(f.URL()))

	open := message(incident.NotifyOpen, "shop")
	ref, err := n.Notify(ctx, open, "")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ch, ts := splitRef(t, ref)
	if ch != "C0ALERTS" {
		t.Errorf("ref channel = %q, want the ID Slack answered with, C0ALERTS", ch)
	}
	calls := f.Calls()
	if len(calls) != 1 {
		t.Fatalf("open made %d calls, want 1", len(calls))
	}
	checkCall(t, calls[0], "chat.postMessage", "#alerts", "", render.SlackBlocks(open), open)
	if got := calls[0].Form.Get("unfurl_links"); got != "false" {
		t.Errorf("unfurl_links = %q, want false", got)
	}

	// An update rewrites the parent with its new headline, then says what
	// changed in the thread; a reminder only replies.
	upd := message(incident.NotifyUpdate, "shop")
	if newRef, err := n.Notify(ctx, upd, ref); err != nil || newRef != "" {
		t.Fatalf("update = %q, %v; want \"\", nil", newRef, err)
	}
	calls = f.Calls()
	if len(calls) != 3 {
		t.Fatalf("after update: %d calls, want 3", len(calls))
	}
	checkCall(t, calls[1], "chat.update", ch, ts, render.SlackBlocks(upd), upd)
	checkCall(t, calls[2], "chat.postMessage", ch, ts, render.SlackReply(upd), upd)
	if got, _ := f.message(ref); normJSON(t, got) != blocksJSON(t, render.SlackBlocks(upd)) {
		t.Errorf("after the update the parent holds %s, want the update's blocks", got)
	}
	rem := message(incident.NotifyReminder, "shop")
	if newRef, err := n.Notify(ctx, rem, ref); err != nil || newRef != "" {
		t.Fatalf("reminder = %q, %v; want \"\", nil", newRef, err)
	}
	calls = f.Calls()
	if len(calls) != 4 {
		t.Fatalf("after reminder: %d calls, want 4", len(calls))
	}
	checkCall(t, calls[3], "chat.postMessage", ch, ts, render.SlackReply(rem), rem)

	res := message(incident.NotifyResolve, "shop")
	newRef, err := n.Notify(ctx, res, ref)
	if err != nil || newRef != "" {
		t.Fatalf("resolve = %q, %v; want \"\", nil", newRef, err)
	}
	calls = f.Calls()
	if len(calls) != 6 {
		t.Fatalf("after resolve: %d calls, want 6", len(calls))
	}
	checkCall(t, calls[4], "chat.update", ch, ts, render.SlackBlocks(res), res)
	checkCall(t, calls[5], "chat.postMessage", ch, ts, render.SlackReply(res), res)
	if got, _ := f.message(ref); normJSON(t, got) != blocksJSON(t, render.SlackBlocks(res)) {
		t.Errorf("the incident's message now holds %s, want the resolved blocks", got)
	}
}

// TestResolveAfterRestart: a new Notifier given only the stored ref
// updates the message the first one posted, and no other.
func TestResolveAfterRestart(t *testing.T) {
	ctx := t.Context()
	f := newFakeSlack(t, testToken)
	first := mustNew(t, botReceiver(f.URL()))
	refShop, err := first.Notify(ctx, message(incident.NotifyOpen, "shop"), "")
	if err != nil {
		t.Fatal(err)
	}
	refAPI, err := first.Notify(ctx, message(incident.NotifyOpen, "api"), "")
	if err != nil {
		t.Fatal(err)
	}
	if refShop == refAPI {
		t.Fatalf("two incidents share ref %q", refShop)
	}
	apiBefore, _ := f.message(refAPI)

	// The ref as the store would give it back: a plain string.
	stored := string([]byte(refShop))
	second := mustNew(t, botReceiver(f.URL()))
	res := message(incident.NotifyResolve, "shop")
	if newRef, err := second.Notify(ctx, res, stored); err != nil || newRef != "" {
		t.Fatalf("resolve after restart = %q, %v", newRef, err)
	}
	ch, ts := splitRef(t, refShop)
	calls := f.Calls()[2:]
	if len(calls) != 2 {
		t.Fatalf("resolve made %d calls, want 2", len(calls))
	}
	checkCall(t, calls[0], "chat.update", ch, ts, render.SlackBlocks(res), res)
	checkCall(t, calls[1], "chat.postMessage", ch, ts, render.SlackReply(res), res)
	if got, _ := f.message(refShop); normJSON(t, got) != blocksJSON(t, render.SlackBlocks(res)) {
		t.Errorf("shop's message holds %s, want the resolved blocks", got)
	}
	if got, _ := f.message(refAPI); got != apiBefore {
		t.Errorf("api's message changed to %s", got)
	}
}

func TestResolveInGroupOnlyReplies(t *testing.T) {
	ctx := t.Context()
	f := newFakeSlack(t, testToken)
	n := mustNew(t, botReceiver(f.URL()))
	ref, err := n.Notify(ctx, message(incident.NotifyOpen, "shop"), "")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := f.message(ref)
	res := message(incident.NotifyResolve, "shop")
	res.InGroup = true
	if newRef, err := n.Notify(ctx, res, ref); err != nil || newRef != "" {
		t.Fatalf("resolve = %q, %v", newRef, err)
	}
	calls := f.Calls()[1:]
	if len(calls) != 1 {
		t.Fatalf("grouped resolve made %d calls (%v), want only the reply", len(calls), calls)
	}
	ch, ts := splitRef(t, ref)
	checkCall(t, calls[0], "chat.postMessage", ch, ts, render.SlackReply(res), res)
	if after, _ := f.message(ref); after != before {
		t.Errorf("the group's message was rewritten")
	}
}

// TestResolveRetryAfterFailedReply: the update went through, the reply
// did not; the retry redoes both and the message ends up resolved once.
func TestResolveRetryAfterFailedReply(t *testing.T) {
	ctx := t.Context()
	f := newFakeSlack(t, testToken)
	n := mustNew(t, botReceiver(f.URL()))
	ref, err := n.Notify(ctx, message(incident.NotifyOpen, "shop"), "")
	if err != nil {
		t.Fatal(err)
	}
	var failed atomic.Bool
	f.setOverride(func(w http.ResponseWriter, c apiCall) bool {
		if c.Method == "chat.postMessage" && c.Form.Get("thread_ts") != "" && !failed.Swap(true) {
			http.Error(w, "upstream busy", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	res := message(incident.NotifyResolve, "shop")
	_, err = n.Notify(ctx, res, ref)
	if err == nil {
		t.Fatal("resolve succeeded though the reply failed")
	}
	if _, p := notify.IsPermanent(err); p {
		t.Fatalf("a 503 on the reply is permanent: %v", err)
	}
	if newRef, err := n.Notify(ctx, res, ref); err != nil || newRef != "" {
		t.Fatalf("retry = %q, %v", newRef, err)
	}
	var methods []string
	for _, c := range f.Calls()[1:] {
		methods = append(methods, c.Method)
	}
	if got := strings.Join(methods, " "); got != "chat.update chat.postMessage chat.update chat.postMessage" {
		t.Errorf("calls = %s", got)
	}
	if got, _ := f.message(ref); normJSON(t, got) != blocksJSON(t, render.SlackBlocks(res)) {
		t.Errorf("message holds %s after the retry", got)
	}
}

// TestResolveLostMessagePostsNew: when the message cannot be updated the
// resolution is posted as a new message whose ref replaces the old.
func TestResolveLostMessagePostsNew(t *testing.T) {
	for _, code := range []string{"message_not_found", "cant_update_message"} {
		t.Run(code, func(t *testing.T) {
			ctx := t.Context()
			f := newFakeSlack(t, testToken)
			n := mustNew(t, botReceiver(f.URL()))
			old := "C0ALERTS/1600000000.000042"
			if code != "message_not_found" {
				f.setOverride(func(w http.ResponseWriter, c apiCall) bool {
					if c.Method == "chat.update" {
						writeJSON(w, map[string]any{"ok": false, "error": code})
						return true
					}
					return false
				})
			}
			res := message(incident.NotifyResolve, "shop")
			newRef, err := n.Notify(ctx, res, old)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if newRef == "" || newRef == old {
				t.Fatalf("newRef = %q, want the new message's ref", newRef)
			}
			if _, ok := f.message(newRef); !ok {
				t.Errorf("newRef %q names no message the server holds", newRef)
			}
			calls := f.Calls()
			if len(calls) != 2 {
				t.Fatalf("%d calls, want update then post", len(calls))
			}
			checkCall(t, calls[0], "chat.update", "C0ALERTS", "1600000000.000042", render.SlackBlocks(res), res)
			checkCall(t, calls[1], "chat.postMessage", "#alerts", "", render.SlackBlocks(res), res)
		})
	}
}

func TestRefHandling(t *testing.T) {
	ctx := t.Context()
	f := newFakeSlack(t, testToken)
	n := mustNew(t, botReceiver(f.URL()))

	// An update with no ref becomes the incident's message.
	upd := message(incident.NotifyUpdate, "shop")
	ref, err := n.Notify(ctx, upd, "")
	if err != nil || ref == "" {
		t.Fatalf("update without ref = %q, %v; want a new ref", ref, err)
	}
	checkCall(t, f.Calls()[0], "chat.postMessage", "#alerts", "", render.SlackBlocks(upd), upd)

	// A malformed ref loses nothing: a new message, and its ref.
	rem := message(incident.NotifyReminder, "shop")
	ref2, err := n.Notify(ctx, rem, "not a ref")
	if err != nil || ref2 == "" || ref2 == ref {
		t.Fatalf("reminder with bad ref = %q, %v; want a new ref", ref2, err)
	}
	checkCall(t, f.Calls()[1], "chat.postMessage", "#alerts", "", render.SlackBlocks(rem), rem)

	// A notice posts on its own and leaves the incident's ref alone.
	notice := message(incident.NotifyNotice, "shop")
	if got, err := n.Notify(ctx, notice, ref); err != nil || got != "" {
		t.Fatalf("notice = %q, %v; want \"\", nil", got, err)
	}
	checkCall(t, f.Calls()[2], "chat.postMessage", "#alerts", "", render.SlackBlocks(notice), notice)

	// Open always starts a new message, even with a ref.
	open := message(incident.NotifyOpen, "shop")
	ref3, err := n.Notify(ctx, open, ref)
	if err != nil || ref3 == "" || ref3 == ref {
		t.Fatalf("open with old ref = %q, %v; want a new ref", ref3, err)
	}

	// A repeat is sent like any other message.
	rep := message(incident.NotifyUpdate, "shop")
	rep.Repeat = true
	if got, err := n.Notify(ctx, rep, ref3); err != nil || got != "" {
		t.Fatalf("repeat = %q, %v", got, err)
	}
	_, ts := splitRef(t, ref3)
	calls := f.Calls()
	checkCall(t, calls[len(calls)-1], "chat.postMessage", "C0ALERTS", ts, render.SlackReply(rep), rep)
}

func TestBadInput(t *testing.T) {
	f := newFakeSlack(t, testToken)
	n := mustNew(t, botReceiver(f.URL()))
	bad := message(incident.NotifyOpen, "shop")
	bad.Event = "explode"
	for name, m := range map[string]*notify.Message{"nil": nil, "unknown event": bad} {
		_, err := n.Notify(t.Context(), m, "")
		if p, ok := notify.IsPermanent(err); !ok || p.Reason == "" {
			t.Errorf("%s: err = %v, want a permanent error with a reason", name, err)
		}
	}
	if c := f.Calls(); len(c) != 0 {
		t.Errorf("bad input reached Slack: %v", c)
	}
}

type outcome struct {
	kind   string // "retry", "permanent", "after"
	reason string
	after  time.Duration
}

func outcomeOf(err error) outcome {
	if ra, ok := notify.IsRetryAfter(err); ok {
		return outcome{kind: "after", after: ra.After}
	}
	if p, ok := notify.IsPermanent(err); ok {
		return outcome{kind: "permanent", reason: p.Reason}
	}
	return outcome{kind: "retry"}
}

func TestAPIErrors(t *testing.T) {
	okFalse := func(code string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) { writeJSON(w, map[string]any{"ok": false, "error": code}) }
	}
	status := func(code int, retryAfter string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(code)
			_, _ = w.Write([]byte("<html>busy</html>"))
		}
	}
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter)
		want   outcome
	}{
		{"429 retry-after seconds", status(429, "7"), outcome{kind: "after", after: 7 * time.Second}},
		{"429 retry-after zero", status(429, "0"), outcome{kind: "after", after: time.Second}},
		{"429 retry-after date", status(429, clock().Add(30*time.Second).Format(http.TimeFormat)), outcome{kind: "after", after: 30 * time.Second}},
		{"429 without retry-after", status(429, ""), outcome{kind: "retry"}},
		{"500", status(500, ""), outcome{kind: "retry"}},
		{"502", status(502, ""), outcome{kind: "retry"}},
		{"503", status(503, ""), outcome{kind: "retry"}},
		{"404 wrong api url", status(404, ""), outcome{kind: "permanent", reason: "http 404"}},
		{"200 not JSON", func(w http.ResponseWriter) { _, _ = w.Write([]byte("<html>proxy</html>")) }, outcome{kind: "retry"}},
		{"ratelimited", okFalse("ratelimited"), outcome{kind: "retry"}},
		{"internal_error", okFalse("internal_error"), outcome{kind: "retry"}},
		{"fatal_error", okFalse("fatal_error"), outcome{kind: "retry"}},
		{"service_unavailable", okFalse("service_unavailable"), outcome{kind: "retry"}},
		{"request_timeout", okFalse("request_timeout"), outcome{kind: "retry"}},
	}
	for _, code := range []string{"channel_not_found", "not_in_channel", "invalid_auth", "account_inactive",
		"token_revoked", "missing_scope", "msg_too_long", "invalid_blocks", "is_archived"} {
		cases = append(cases, struct {
			name   string
			answer func(w http.ResponseWriter)
			want   outcome
		}{code, okFalse(code), outcome{kind: "permanent", reason: code}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSlack(t, testToken)
			f.setOverride(func(w http.ResponseWriter, _ apiCall) bool { tc.answer(w); return true })
			n := mustNew(t, botReceiver(f.URL()))
			// Every path: the first post, a thread reply, the update.
			for _, step := range []struct {
				ev  incident.Notification
				ref string
			}{{incident.NotifyOpen, ""}, {incident.NotifyUpdate, "C0ALERTS/1700000000.000001"}, {incident.NotifyResolve, "C0ALERTS/1700000000.000001"}} {
				ref, err := n.Notify(t.Context(), message(step.ev, "shop"), step.ref)
				if err == nil {
					t.Fatalf("%s: no error (ref %q)", step.ev, ref)
				}
				if got := outcomeOf(err); got != tc.want {
					t.Errorf("%s: outcome %+v, want %+v (err %v)", step.ev, got, tc.want, err)
				}
				if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "t0k3nS3cr3t") {
					t.Errorf("%s: error shows the token: %v", step.ev, err)
				}
				if !strings.Contains(err.Error(), "ops") {
					t.Errorf("%s: error does not name the receiver: %v", step.ev, err)
				}
			}
		})
	}
}

// hangingServer accepts requests and never answers until the test ends.
func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv
}

func TestNoAnswerIsBounded(t *testing.T) {
	srv := hangingServer(t)
	const hookSecret = "/services/T0/B0/h4ngS3cr3t"
	cases := []struct {
		name    string
		r       *config.Receiver
		ctxWait time.Duration // 0: no deadline on ctx
	}{
		{"bot, receiver timeout", botReceiver(srv.URL + "/api/"), 0},
		{"webhook, receiver timeout", hookReceiver(srv.URL + hookSecret), 0},
		{"bot, ctx deadline", botReceiver(srv.URL + "/api/"), 200 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Timeout = 200 * time.Millisecond
			ctx := t.Context()
			if tc.ctxWait > 0 {
				tc.r.Timeout = time.Minute
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxWait)
				defer cancel()
			}
			n := mustNew(t, tc.r)
			start := time.Now()
			done := make(chan error, 1)
			go func() {
				_, err := n.Notify(ctx, message(incident.NotifyOpen, "shop"), "")
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Notify still waiting after 5s on a server that never answers")
			}
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("no error from a server that never answers")
			}
			if elapsed > 3*time.Second {
				t.Errorf("took %s, want about 200ms", elapsed)
			}
			if got := outcomeOf(err); got.kind != "retry" {
				t.Errorf("outcome %+v, want retryable (err %v)", got, err)
			}
			if strings.Contains(err.Error(), "h4ngS3cr3t") || strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows a secret: %v", err)
			}
		})
	}
}

func TestHTTPClientOption(t *testing.T) {
	f := newFakeSlack(t, testToken)
	var trips atomic.Int32
	caller := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		trips.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	n, err := slack.New(botReceiver(f.URL()), slack.Options{HTTPClient: caller})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Notify(t.Context(), message(incident.NotifyOpen, "shop"), ""); err != nil {
		t.Fatal(err)
	}
	if trips.Load() != 2 { // the message and its details in its thread
		t.Errorf("the given client carried %d requests, want 2", trips.Load())
	}
	if caller.Timeout != 0 {
		t.Errorf("the caller's client was changed: Timeout %s", caller.Timeout)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWebhook(t *testing.T) {
	ctx := t.Context()
	h := newFakeWebhook(t)
	n := mustNew(t, hookReceiver(h.URL()))
	events := []incident.Notification{incident.NotifyOpen, incident.NotifyUpdate, incident.NotifyReminder, incident.NotifyResolve, incident.NotifyNotice}
	var msgs []*notify.Message
	for _, ev := range events {
		m := message(ev, "shop")
		msgs = append(msgs, m)
		ref := ""
		if ev != incident.NotifyOpen {
			ref = "C0ALERTS/1700000000.000001" // ignored: webhooks cannot thread
		}
		newRef, err := n.Notify(ctx, m, ref)
		if err != nil || newRef != "" {
			t.Fatalf("%s = %q, %v; want \"\", nil", ev, newRef, err)
		}
	}
	bodies, reqs := h.received()
	if len(bodies) != len(events) {
		t.Fatalf("webhook got %d posts, want one per event (%d)", len(bodies), len(events))
	}
	for i, m := range msgs {
		if want := "POST " + webhookPath + " application/json"; reqs[i] != want {
			t.Errorf("%s: request %q, want %q", m.Event, reqs[i], want)
		}
		b := bodies[i]
		if b["blocks"] == nil {
			t.Fatalf("%s: JSON has no blocks: %v", m.Event, b)
		}
		if got, want := normJSON(t, string(b["blocks"])), blocksJSON(t, render.SlackFull(m)); got != want {
			t.Errorf("%s: blocks =\n%s\nwant\n%s", m.Event, got, want)
		}
		var text string
		_ = json.Unmarshal(b["text"], &text)
		if want := slackutilsx.EscapeMessage(render.Title(m)); text != want {
			t.Errorf("%s: text = %q, want %q", m.Event, text, want)
		}
		if b["thread_ts"] != nil {
			t.Errorf("%s: webhook post has thread_ts", m.Event)
		}
	}
}

func TestWebhookErrors(t *testing.T) {
	status := func(code int, body, retryAfter string) func(w http.ResponseWriter) bool {
		return func(w http.ResponseWriter) bool {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
			return true
		}
	}
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter) bool
		want   outcome
	}{
		{"429 retry-after", status(429, "rate_limited", "12"), outcome{kind: "after", after: 12 * time.Second}},
		{"429 without retry-after", status(429, "rate_limited", ""), outcome{kind: "retry"}},
		{"500", status(500, "rollup_error", ""), outcome{kind: "retry"}},
		{"503", status(503, "<html>down</html>", ""), outcome{kind: "retry"}},
		{"no_service", status(404, "no_service", ""), outcome{kind: "permanent", reason: "no_service"}},
		{"invalid_token", status(403, "invalid_token", ""), outcome{kind: "permanent", reason: "invalid_token"}},
		{"channel_not_found", status(404, "channel_not_found", ""), outcome{kind: "permanent", reason: "channel_not_found"}},
		{"400 html", status(400, "<html>bad</html>", ""), outcome{kind: "permanent", reason: "http 400"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeWebhook(t)
			h.setAnswer(tc.answer)
			n := mustNew(t, hookReceiver(h.URL()))
			_, err := n.Notify(t.Context(), message(incident.NotifyOpen, "shop"), "")
			if err == nil {
				t.Fatal("no error")
			}
			if got := outcomeOf(err); got != tc.want {
				t.Errorf("outcome %+v, want %+v (err %v)", got, tc.want, err)
			}
			checkNoHookSecret(t, err, h.URL())
		})
	}
}

func TestWebhookNetworkErrorHidesURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now: connection refused
	hook := "http://" + addr + webhookPath
	n := mustNew(t, hookReceiver(hook))
	_, err = n.Notify(t.Context(), message(incident.NotifyOpen, "shop"), "")
	if err == nil {
		t.Fatal("no error posting to a closed port")
	}
	if got := outcomeOf(err); got.kind != "retry" {
		t.Errorf("outcome %+v, want retryable (err %v)", got, err)
	}
	checkNoHookSecret(t, err, hook)
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error does not say where it tried (%s): %v", addr, err)
	}
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.URL, "s3cr3t") {
		t.Errorf("wrapped *url.Error still holds the webhook URL: %q", ue.URL)
	}
}

func checkNoHookSecret(t *testing.T, err error, hook string) {
	t.Helper()
	for _, s := range []string{hook, webhookPath, "s3cr3tW3bh00kP4th"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error shows the webhook URL (%q): %v", s, err)
		}
	}
}

// TestSlacktest posts to slack-go's own test server, whose
// chat.postMessage answers like Slack's: the ref is built from its answer.
// (slacktest has no chat.update and hands out whole-second timestamps, so
// the thread and update flows run against fakeSlack instead.)
func TestSlacktest(t *testing.T) {
	srv := slacktest.NewTestServer()
	srv.Start()
	t.Cleanup(srv.Stop)
	r := botReceiver(srv.GetAPIURL())
	r.Channel = "C0SLACKTEST"
	n := mustNew(t, r)
	ref, err := n.Notify(t.Context(), message(incident.NotifyOpen, "shop"), "")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ch, ts := splitRef(t, ref)
	if ch != "C0SLACKTEST" {
		t.Errorf("ref channel %q, want C0SLACKTEST", ch)
	}
	if ts == "" || strings.Trim(ts, "0123456789.") != "" {
		t.Errorf("ref ts %q is not a Slack timestamp", ts)
	}
	// A reminder: an update would also chat.update the parent.
	if got, err := n.Notify(t.Context(), message(incident.NotifyReminder, "shop"), ref); err != nil || got != "" {
		t.Errorf("reply = %q, %v", got, err)
	}
}
