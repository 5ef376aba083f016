package slack_test

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/internal/testkit/outboxtest"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/outbox"
)

// outboxFor runs an outbox on a fresh store with n as receiver "ops".
func outboxFor(t *testing.T, n notify.Notifier) (*outbox.Outbox, *store.Store, *testkit.Clock) {
	t.Helper()
	clk := testkit.NewClock(opened)
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName), store.Options{Now: clk.Now, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ob := outbox.New(outbox.Options{Store: s, Now: clk.Now})
	ob.SetNotifiers(map[string]notify.Notifier{"ops": n})
	return ob, s, clk
}

// TestAcceptedThenHangThen500ThenOK is the audit's "okhang,500,ok": Slack
// posts the first request but never answers it, then answers 500, then
// ok. Two DOWN posts reach the channel, so the one that counts (the last,
// whose ts the outbox keeps) must say "possible repeat".
func TestAcceptedThenHangThen500ThenOK(t *testing.T) {
	f := newFakeSlack(t, testToken)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var mu sync.Mutex
	posts := 0
	f.setOverride(func(w http.ResponseWriter, c apiCall) bool {
		if c.Method != "chat.postMessage" {
			return false
		}
		mu.Lock()
		posts++
		p := posts
		mu.Unlock()
		switch p {
		case 1:
			// Slack took it (it will show in the channel) and the answer
			// never comes.
			<-release
			return true
		case 2:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("<html>internal error</html>"))
			return true
		}
		return false
	})
	r := botReceiver(f.URL())
	r.Timeout = 300 * time.Millisecond
	ob, s, clk := outboxFor(t, mustNew(t, r))
	msg := message(incident.NotifyOpen, "shop")
	msg.Key = "shop/open|ops"
	outboxtest.Enqueue(t, s, *msg, time.Time{})
	ctx := context.Background()

	for attempt := 1; attempt <= 2; attempt++ {
		if sent, err := ob.DeliverDue(ctx, "ops"); err != nil || sent != 0 {
			t.Fatalf("attempt %d: sent %d, %v", attempt, sent, err)
		}
		it, err := s.OutboxItem(ctx, msg.Key)
		if err != nil {
			t.Fatal(err)
		}
		if !it.MaybeSent {
			t.Fatalf("after attempt %d (last error %q) the item is not flagged maybe-sent", attempt, it.LastError)
		}
		clk.Advance(time.Hour)
	}
	if sent, err := ob.DeliverDue(ctx, "ops"); err != nil || sent != 1 {
		t.Fatalf("attempt 3: sent %d, %v", sent, err)
	}
	calls := f.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3", len(calls))
	}
	last := calls[2].Form
	if !strings.Contains(last.Get("text"), "possible repeat") || !strings.Contains(strings.ToLower(last.Get("blocks")), "possible repeat") {
		t.Errorf("the post that counts is not marked a possible repeat: text %q", last.Get("text"))
	}
	ref, _, err := s.MessageRef(ctx, "ops", msg.IncidentID)
	if err != nil || ref != "C0ALERTS/1700000000.000001" {
		t.Errorf("kept ref %q (%v), want the marked post's", ref, err)
	}
}

// An answer Slack gave is not ambiguous, a request it got and never
// answered is.
func TestAmbiguityOfSlackErrors(t *testing.T) {
	f := newFakeSlack(t, testToken)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var mode atomic.Value
	mode.Store("")
	f.setOverride(func(w http.ResponseWriter, c apiCall) bool {
		switch mode.Load() {
		case "hang":
			<-release
			return true
		case "500":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("boom"))
			return true
		case "ok:false":
			writeJSON(w, map[string]any{"ok": false, "error": "internal_error"})
			return true
		}
		return false
	})
	r := botReceiver(f.URL())
	r.Timeout = 200 * time.Millisecond
	n := mustNew(t, r)
	for _, tc := range []struct {
		mode      string
		ambiguous bool
	}{{"hang", true}, {"500", false}, {"ok:false", false}} {
		mode.Store(tc.mode)
		_, err := n.Notify(t.Context(), message(incident.NotifyOpen, "shop"), "")
		if err == nil {
			t.Fatalf("%s: no error", tc.mode)
		}
		if got := notify.IsAmbiguous(err); got != tc.ambiguous {
			t.Errorf("%s: ambiguous = %v, want %v (%v)", tc.mode, got, tc.ambiguous, err)
		}
	}
	// Nothing written: a server that is not there cannot have acted.
	r = botReceiver("http://127.0.0.1:1/api/")
	_, err := mustNew(t, r).Notify(t.Context(), message(incident.NotifyOpen, "shop"), "")
	if err == nil || notify.IsAmbiguous(err) {
		t.Errorf("connection refused: err %v, ambiguous %v", err, notify.IsAmbiguous(err))
	}
}

// TestDayLongRetryAfterIsCapped: Slack's 429 with Retry-After: 86400 holds
// the receiver for max_retry_after (10m by default), not a day, and shows
// it degraded until a message goes through.
func TestDayLongRetryAfterIsCapped(t *testing.T) {
	f := newFakeSlack(t, testToken)
	var limited atomic.Bool
	limited.Store(true)
	f.setOverride(func(w http.ResponseWriter, c apiCall) bool {
		if !limited.Load() {
			return false
		}
		w.Header().Set("Retry-After", "86400")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	ob, s, clk := outboxFor(t, mustNew(t, botReceiver(f.URL())))
	msg := message(incident.NotifyOpen, "shop")
	msg.Key = "shop/open|ops"
	outboxtest.Enqueue(t, s, *msg, time.Time{})
	ctx := context.Background()
	start := clk.Now()
	if _, err := ob.DeliverDue(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	it, err := s.OutboxItem(ctx, msg.Key)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(10 * time.Minute); !it.NextAttemptAt.Equal(want) {
		t.Errorf("next attempt at %v, want %v (the cap)", it.NextAttemptAt, want)
	}
	if _, ok := ob.Degraded()["ops"]; !ok {
		t.Error("receiver not degraded after a day-long Retry-After")
	}
	limited.Store(false)
	clk.Advance(10 * time.Minute)
	if sent, err := ob.DeliverDue(ctx, "ops"); err != nil || sent != 1 {
		t.Fatalf("at the cap: sent %d, %v", sent, err)
	}
	if _, ok := ob.Degraded()["ops"]; ok {
		t.Error("still degraded after delivering")
	}
}
