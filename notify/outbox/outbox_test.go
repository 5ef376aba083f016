package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/internal/testkit/outboxtest"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
)

// newClock starts where the tests' timestamps expect.
func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func openStore(t *testing.T, now func() time.Time) *store.Store {
	t.Helper()
	return openStoreAt(t, filepath.Join(t.TempDir(), store.FileName), now)
}

func openStoreAt(t testing.TB, path string, now func() time.Time) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), path, store.Options{Now: now, PruneInterval: -1})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// put enqueues msg as the daemon does: the payload is the Message.
func put(t testing.TB, s *store.Store, msg notify.Message, notBefore time.Time) {
	t.Helper()
	outboxtest.Enqueue(t, s, msg, notBefore)
}

func open(key, receiver string, incidentID int64) notify.Message {
	return notify.Message{Key: key, Receiver: receiver, Event: incident.NotifyOpen, IncidentID: incidentID,
		Monitor: fmt.Sprintf("mon-%d", incidentID), URL: fmt.Sprintf("https://m%d.example/", incidentID), Status: 502}
}

func resolve(key, receiver string, incidentID int64) notify.Message {
	m := open(key, receiver, incidentID)
	m.Event = incident.NotifyResolve
	return m
}

// call is one Notify call as the receiver saw it.
type call struct {
	msg notify.Message
	ref string
}

// recorder is a Notifier that records its calls and answers with reply.
type recorder struct {
	mu    sync.Mutex
	calls []call
	reply func(n int, msg *notify.Message) (string, error) // n counts from 1
}

func (r *recorder) Notify(ctx context.Context, msg *notify.Message, ref string) (string, error) {
	r.mu.Lock()
	r.calls = append(r.calls, call{*msg, ref})
	n := len(r.calls)
	reply := r.reply
	r.mu.Unlock()
	if reply == nil {
		return "", nil
	}
	return reply(n, msg)
}

func (r *recorder) got() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func (r *recorder) keys() []string {
	var out []string
	for _, c := range r.got() {
		out = append(out, c.msg.Key)
	}
	return out
}

func newOutbox(t *testing.T, s *store.Store, clk *testkit.Clock, opts Options) (*Outbox, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Store, opts.Now, opts.Registerer = s, clk.Now, reg
	if opts.Jitter == nil {
		opts.Jitter = func(max time.Duration) time.Duration { return max }
	}
	return New(opts), reg
}

func deliver(t *testing.T, o *Outbox, receiver string) int {
	t.Helper()
	n, err := o.DeliverDue(context.Background(), receiver)
	if err != nil {
		t.Fatalf("DeliverDue(%s): %v", receiver, err)
	}
	return n
}

func item(t *testing.T, s *store.Store, key string) store.OutboxItem {
	t.Helper()
	it, err := s.OutboxItem(context.Background(), key)
	if err != nil {
		t.Fatalf("outbox item %s: %v", key, err)
	}
	return it
}

func delivered(t *testing.T, s *store.Store, key string) bool {
	t.Helper()
	_, ok, err := s.Delivered(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func ref(t *testing.T, s *store.Store, receiver string, incident int64) string {
	t.Helper()
	r, _, err := s.MessageRef(context.Background(), receiver, incident)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDeliverStoresAndPassesRef(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		if msg.Event == incident.NotifyOpen {
			return "C1/111.1", nil
		}
		return "", nil // keep the old ref
	}}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})

	put(t, s, open("1-open", "slack", 1), time.Time{})
	if n := deliver(t, o, "slack"); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
	if !delivered(t, s, "1-open") {
		t.Error("open not recorded as delivered")
	}
	if got := ref(t, s, "slack", 1); got != "C1/111.1" {
		t.Errorf("stored ref = %q", got)
	}

	put(t, s, resolve("1-resolve", "slack", 1), time.Time{})
	deliver(t, o, "slack")
	calls := rec.got()
	if len(calls) != 2 {
		t.Fatalf("calls = %d", len(calls))
	}
	if calls[0].ref != "" || calls[1].ref != "C1/111.1" || calls[1].msg.InGroup || calls[1].msg.Repeat {
		t.Errorf("calls = %+v", calls)
	}
	if got := ref(t, s, "slack", 1); got != "C1/111.1" {
		t.Errorf("ref after resolve = %q, want it kept", got)
	}
	if v := testutil.ToFloat64(o.m.total.WithLabelValues("slack", "resolve", "delivered")); v != 1 {
		t.Errorf("delivered resolve metric = %v", v)
	}
	if n := testutil.CollectAndCount(o.m.seconds); n != 1 {
		t.Errorf("histogram series = %d", n)
	}
}

// The open fails first: the resolve must wait for it, whatever the clock.
func TestResolveWaitsForFailedOpen(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{BaseBackoff: time.Second})
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		if n == 1 {
			return "", errors.New("connection refused")
		}
		return "", nil
	}}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	put(t, s, open("1-open", "slack", 1), time.Time{})
	put(t, s, resolve("1-resolve", "slack", 1), time.Time{})

	if n := deliver(t, o, "slack"); n != 0 {
		t.Errorf("sent %d on a failing first attempt", n)
	}
	if it := item(t, s, "1-open"); it.State != store.StatePending || !it.NextAttemptAt.After(clk.Now()) || it.LastError != "connection refused" {
		t.Errorf("failed open = %+v", it)
	}
	// Not due yet: nothing is sent, the resolve least of all.
	deliver(t, o, "slack")
	if got := rec.keys(); !reflect.DeepEqual(got, []string{"1-open"}) {
		t.Fatalf("calls before the retry = %v", got)
	}
	clk.Advance(time.Minute)
	for range 3 {
		deliver(t, o, "slack")
	}
	if got, want := rec.keys(), []string{"1-open", "1-open", "1-resolve"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	if !delivered(t, s, "1-resolve") {
		t.Error("resolve not delivered")
	}
}

func TestRetryAfterIsHonouredAndNotCounted(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{MaxAttempts: 2, BaseBackoff: time.Second})
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		switch {
		case n <= 3:
			return "", notify.RetryAfter(30*time.Second, errors.New("HTTP 429"))
		case n == 4:
			return "", errors.New("HTTP 500")
		}
		return "", nil
	}}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	put(t, s, open("a", "slack", 1), time.Time{})
	put(t, s, open("b", "slack", 2), time.Time{})

	for i := range 3 {
		start := clk.Now()
		if n := deliver(t, o, "slack"); n != 0 {
			t.Fatalf("pass %d sent %d", i, n)
		}
		it := item(t, s, "a")
		if !it.NextAttemptAt.Equal(start.Add(30*time.Second)) || it.State != store.StatePending {
			t.Fatalf("after 429 #%d: next %v (now %v), state %s", i+1, it.NextAttemptAt, start, it.State)
		}
		if !strings.Contains(it.LastError, "HTTP 429") {
			t.Errorf("last error = %q", it.LastError)
		}
		// A rate-limited receiver is not hammered with the rest of the pass.
		if it := item(t, s, "b"); it.Attempts != 0 {
			t.Fatalf("b attempted during rate limit: %+v", it)
		}
		clk.Advance(30 * time.Second)
	}
	// Three 429s and one 500 with MaxAttempts 2: still retried, since only
	// the 500 counts.
	deliver(t, o, "slack")
	it := item(t, s, "a")
	if it.State != store.StatePending || it.Attempts != 4 {
		t.Fatalf("after 3×429 and one 500: %+v", it)
	}
	clk.Advance(time.Minute)
	deliver(t, o, "slack")
	if !delivered(t, s, "a") || !delivered(t, s, "b") {
		t.Errorf("not delivered after the rate limit: a %v b %v", delivered(t, s, "a"), delivered(t, s, "b"))
	}
	if v := testutil.ToFloat64(o.m.total.WithLabelValues("slack", "open", "rate_limited")); v != 3 {
		t.Errorf("rate_limited metric = %v", v)
	}
	if v := testutil.ToFloat64(o.m.total.WithLabelValues("slack", "open", "retry")); v != 1 {
		t.Errorf("retry metric = %v", v)
	}
}

func TestPermanentFailure(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		if msg.Event == incident.NotifyOpen {
			return "", notify.Permanent("channel_not_found", errors.New("slack: ok=false"))
		}
		return "", nil
	}}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	put(t, s, open("1-open", "slack", 1), time.Time{})
	put(t, s, resolve("1-resolve", "slack", 1), time.Time{})

	deliver(t, o, "slack")
	failed, err := s.Outbox(context.Background(), store.OutboxFilter{State: store.StateFailed})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Key != "1-open" || failed[0].LastError != "channel_not_found" {
		t.Fatalf("failed items = %+v", failed)
	}
	clk.Advance(time.Hour)
	deliver(t, o, "slack")
	// Not retried; the failed open no longer holds back the resolve.
	if got, want := rec.keys(), []string{"1-open", "1-resolve"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls = %v, want %v", got, want)
	}
	if v := testutil.ToFloat64(o.m.total.WithLabelValues("slack", "open", "failed")); v != 1 {
		t.Errorf("failed metric = %v", v)
	}
}

func TestBackoffGrowsBoundedWithJitter(t *testing.T) {
	t.Parallel()
	o := New(Options{BaseBackoff: time.Second, MaxBackoff: time.Minute,
		Jitter: func(max time.Duration) time.Duration { return max }})
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for i, w := range want {
		if got := o.backoffCap(i + 1); got != w*time.Second {
			t.Errorf("cap after %d failures = %v, want %v", i+1, got, w*time.Second)
		}
	}
	if got := o.backoffCap(1000); got != time.Minute {
		t.Errorf("cap after 1000 failures = %v", got)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	o = New(Options{BaseBackoff: time.Second, MaxBackoff: time.Minute,
		Jitter: func(max time.Duration) time.Duration { return time.Duration(rng.Int64N(int64(max) + 1)) }})
	for f := 1; f <= 12; f++ {
		c := o.backoffCap(f)
		lo, hi := c, time.Duration(0)
		for range 200 {
			d := o.backoff(f)
			if d < 0 || d > c {
				t.Fatalf("backoff(%d) = %v, outside [0, %v]", f, d, c)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// Full jitter spreads over the whole range, not a point.
		if hi-lo < c/2 {
			t.Errorf("backoff(%d) spread %v..%v of cap %v", f, lo, hi, c)
		}
	}
	// A jitter func that misbehaves cannot push the wait out of range.
	o = New(Options{BaseBackoff: time.Second, Jitter: func(time.Duration) time.Duration { return time.Hour }})
	if d := o.backoff(1); d != time.Second {
		t.Errorf("clamped backoff = %v", d)
	}
}

// The retry time written to the store is now + the jittered backoff.
func TestRetryScheduledWithBackoff(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	half := func(max time.Duration) time.Duration { return max / 2 }
	o, _ := newOutbox(t, s, clk, Options{BaseBackoff: 4 * time.Second, Jitter: half})
	o.SetNotifiers(map[string]notify.Notifier{"slack": &recorder{reply: func(int, *notify.Message) (string, error) {
		return "", errors.New("boom")
	}}})
	put(t, s, open("a", "slack", 1), time.Time{})
	for i, want := range []time.Duration{2, 4, 8} {
		start := clk.Now()
		deliver(t, o, "slack")
		it := item(t, s, "a")
		if got := it.NextAttemptAt.Sub(start); got != want*time.Second {
			t.Errorf("attempt %d: next in %v, want %v", i+1, got, want*time.Second)
		}
		clk.Advance(time.Hour)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{MaxAttempts: 3})
	rec := &recorder{reply: func(int, *notify.Message) (string, error) { return "", errors.New("HTTP 503") }}
	o.SetNotifiers(map[string]notify.Notifier{"mail": rec})
	put(t, s, open("a", "mail", 1), time.Time{})
	for range 5 {
		deliver(t, o, "mail")
		clk.Advance(time.Hour)
	}
	if n := len(rec.got()); n != 3 {
		t.Errorf("attempts = %d, want 3", n)
	}
	it := item(t, s, "a")
	if it.State != store.StateFailed || it.LastError != "gave up after 3 attempts: HTTP 503" {
		t.Errorf("item = %+v", it)
	}
}

// The notice that this host lost its network keeps trying past the bound:
// it cannot go out until the network is back, and must go out then.
func TestPersistentNoticeOutlastsMaxAttempts(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{MaxAttempts: 2})
	down := true
	rec := &recorder{reply: func(int, *notify.Message) (string, error) {
		if down {
			return "", errors.New("dial tcp: network is unreachable")
		}
		return "", nil
	}}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	msg := open("iso", "slack", 1)
	msg.Persistent = true
	put(t, s, msg, time.Time{})
	for range 6 {
		deliver(t, o, "slack")
		clk.Advance(time.Hour)
	}
	if it := item(t, s, "iso"); it.State != store.StatePending {
		t.Fatalf("after 6 failed attempts with MaxAttempts 2: %+v, want still pending", it)
	}
	down = false
	deliver(t, o, "slack")
	if !delivered(t, s, "iso") || len(rec.got()) != 7 {
		t.Errorf("network back: delivered=%v after %d attempts, want delivered on the 7th", delivered(t, s, "iso"), len(rec.got()))
	}
}

// A Notify that takes forever is cut at AttemptTimeout,
// and the retry says it may be a repeat: the receiver may have taken it.
func TestAttemptTimeoutMarksPossibleRepeat(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{AttemptTimeout: 50 * time.Millisecond})
	// The first attempt outlives its deadline; the second succeeds.
	rec := &recorder{}
	hang := notify.NotifierFunc(func(ctx context.Context, msg *notify.Message, ref string) (string, error) {
		rec.Notify(ctx, msg, ref)
		if len(rec.got()) == 1 {
			<-ctx.Done()
			return "", fmt.Errorf("post: %w", ctx.Err())
		}
		return "", nil
	})
	o.SetNotifiers(map[string]notify.Notifier{"hook": hang})
	put(t, s, open("a", "hook", 1), time.Time{})
	start := time.Now()
	deliver(t, o, "hook")
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("pass took %v with a 50ms attempt timeout", el)
	}
	if it := item(t, s, "a"); it.State != store.StatePending || !strings.HasPrefix(it.LastError, ambiguousPrefix) {
		t.Fatalf("after timeout: %+v", it)
	}
	clk.Advance(time.Hour)
	deliver(t, o, "hook")
	calls := rec.got()
	if len(calls) != 2 || calls[0].msg.Repeat || !calls[1].msg.Repeat {
		t.Errorf("%d calls, repeat flags %v", len(calls), func() (f []bool) {
			for _, c := range calls {
				f = append(f, c.msg.Repeat)
			}
			return f
		}())
	}
	if !delivered(t, s, "a") {
		t.Error("not delivered on the retry")
	}
}

func TestHangingReceiverDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	s := openStore(t, time.Now)
	o := New(Options{Store: s, Poll: 10 * time.Millisecond, AttemptTimeout: time.Minute})
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := notify.NotifierFunc(func(ctx context.Context, msg *notify.Message, ref string) (string, error) {
		once.Do(func() { close(started) })
		select {
		case <-release:
			return "", errors.New("released")
		case <-ctx.Done():
			return "", ctx.Err()
		}
	})
	fast := &recorder{}
	o.SetNotifiers(map[string]notify.Notifier{"slow": slow, "fast": fast})
	put(t, s, open("s1", "slow", 1), time.Time{})
	put(t, s, open("s2", "slow", 2), time.Time{})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	<-started
	put(t, s, open("f1", "fast", 3), time.Time{})
	o.Kick()
	if !testkit.Eventually(testkit.Patience, func() bool { return delivered(t, s, "f1") }) {
		t.Fatal("fast receiver not delivered while slow one hangs")
	}
	if it := item(t, s, "s1"); it.State != store.StateSending {
		t.Errorf("slow item = %+v, want still sending", it)
	}
	cancel()
	// Run waits for the attempt in flight rather than cutting it...
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) with an attempt in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	// ...and then returns without starting the next one.
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if it := item(t, s, "s1"); it.State != store.StatePending || it.LastError != "released" {
		t.Errorf("slow item after Run = %+v", it)
	}
	if it := item(t, s, "s2"); it.Attempts != 0 {
		t.Errorf("s2 attempted after cancel: %+v", it)
	}
}

func TestGrouping(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		return fmt.Sprintf("C1/%d", n), nil
	}}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	const cause = "gateway 10.0.0.5:443 (nginx)"
	for i := int64(1); i <= 3; i++ {
		m := open(fmt.Sprintf("%d-open", i), "slack", i)
		m.GroupKey = cause
		// The third is still in its group_wait: pulled in all the same.
		var nb time.Time
		if i == 3 {
			nb = clk.Now().Add(10 * time.Second)
		}
		put(t, s, m, nb)
	}
	other := open("9-open", "slack", 9) // no group key: sent on its own
	put(t, s, other, time.Time{})

	if n := deliver(t, o, "slack"); n != 4 {
		t.Fatalf("sent %d, want 4", n)
	}
	calls := rec.got()
	if len(calls) != 2 {
		t.Fatalf("calls = %d, want 2 (one grouped, one single)", len(calls))
	}
	g := calls[0].msg
	if g.Key != "1-open" || g.Cause != cause || len(g.Group) != 3 {
		t.Fatalf("grouped message = %+v", g)
	}
	for i, m := range g.Group {
		id := int64(i + 1)
		want := notify.Member{IncidentID: id, Key: fmt.Sprintf("%d-open", id), Monitor: fmt.Sprintf("mon-%d", id),
			URL: fmt.Sprintf("https://m%d.example/", id), Status: 502}
		if m != want {
			t.Errorf("member %d = %+v, want %+v", i, m, want)
		}
		if !delivered(t, s, want.Key) {
			t.Errorf("%s not delivered", want.Key)
		}
		if r := ref(t, s, "slack", id); r != "group:C1/1" {
			t.Errorf("ref of %d = %q", id, r)
		}
	}
	if calls[1].msg.Key != "9-open" || len(calls[1].msg.Group) != 0 {
		t.Errorf("single message = %+v", calls[1].msg)
	}
	if r := ref(t, s, "slack", 9); r != "C1/2" {
		t.Errorf("ref of 9 = %q", r)
	}

	// A member's resolve threads under the group's message.
	put(t, s, resolve("2-resolve", "slack", 2), time.Time{})
	deliver(t, o, "slack")
	calls = rec.got()
	last := calls[len(calls)-1]
	if last.msg.Key != "2-resolve" || !last.msg.InGroup || last.ref != "C1/1" || len(last.msg.Group) != 0 {
		t.Errorf("resolve of a member: ref %q, msg %+v", last.ref, last.msg)
	}
	if r := ref(t, s, "slack", 2); r != "group:C1/3" {
		t.Errorf("ref of 2 after resolve = %q, want the group mark kept", r)
	}
}

func TestTwoOpensAreNotGrouped(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	for i := int64(1); i <= 2; i++ {
		m := open(fmt.Sprintf("%d-open", i), "slack", i)
		m.GroupKey = "dns servfail"
		put(t, s, m, time.Time{})
	}
	// Same key but another receiver does not count.
	m := open("3-open", "mail", 3)
	m.GroupKey = "dns servfail"
	put(t, s, m, time.Time{})
	deliver(t, o, "slack")
	calls := rec.got()
	if len(calls) != 2 {
		t.Fatalf("calls = %d, want 2", len(calls))
	}
	for _, c := range calls {
		if len(c.msg.Group) != 0 || c.msg.Cause != "" {
			t.Errorf("grouped below GroupMin: %+v", c.msg)
		}
	}
}

func TestGroupFailureAppliesToAllMembers(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		if n == 1 {
			return "", errors.New("HTTP 502")
		}
		return "", nil
	}}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	for i := int64(1); i <= 3; i++ {
		m := open(fmt.Sprintf("%d-open", i), "slack", i)
		m.GroupKey = "g"
		put(t, s, m, time.Time{})
	}
	deliver(t, o, "slack")
	var next time.Time
	for i := 1; i <= 3; i++ {
		it := item(t, s, fmt.Sprintf("%d-open", i))
		if it.State != store.StatePending || it.LastError != "HTTP 502" {
			t.Errorf("member %d after failure = %+v", i, it)
		}
		if i > 1 && !it.NextAttemptAt.Equal(next) {
			t.Errorf("members retry at different times: %v vs %v", it.NextAttemptAt, next)
		}
		next = it.NextAttemptAt
	}
	clk.Advance(time.Hour)
	deliver(t, o, "slack")
	calls := rec.got()
	if len(calls) != 2 || len(calls[1].msg.Group) != 3 {
		t.Errorf("retry was not grouped: %d calls", len(calls))
	}
}

func TestBadPayloadFails(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	outboxtest.EnqueueEvent(t, s, store.OutboxEvent{Key: "bad", Receiver: "slack", IncidentID: 1,
		Event: incident.NotifyOpen, Payload: json.RawMessage(`"not a message"`)})
	put(t, s, resolve("1-resolve", "slack", 1), time.Time{})
	deliver(t, o, "slack")
	if it := item(t, s, "bad"); it.State != store.StateFailed || !strings.Contains(it.LastError, "not a notification message") {
		t.Errorf("bad payload item = %+v", it)
	}
	deliver(t, o, "slack")
	if got := rec.keys(); !reflect.DeepEqual(got, []string{"1-resolve"}) {
		t.Errorf("calls = %v", got)
	}
}

func TestSetNotifiersOnReload(t *testing.T) {
	t.Parallel()
	s := openStore(t, time.Now)
	o := New(Options{Store: s, Poll: 5 * time.Millisecond})
	a, b := &recorder{}, &recorder{}
	o.SetNotifiers(map[string]notify.Notifier{"a": a})
	put(t, s, open("a1", "a", 1), time.Time{})
	put(t, s, open("b1", "b", 2), time.Time{})
	if _, err := o.DeliverDue(context.Background(), "b"); !errors.Is(err, ErrNoNotifier) {
		t.Errorf("DeliverDue for an unknown receiver: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitDelivered := func(key string) {
		t.Helper()
		if !testkit.Eventually(testkit.Patience, func() bool { return delivered(t, s, key) }) {
			t.Fatalf("%s not delivered", key)
		}
	}
	waitDelivered("a1")
	if it := item(t, s, "b1"); it.Attempts != 0 || it.State != store.StatePending {
		t.Errorf("b1 touched with no notifier: %+v", it)
	}

	// Reload: b comes, a goes. a's pending item stays as it is.
	o.SetNotifiers(map[string]notify.Notifier{"b": b})
	waitDelivered("b1")
	put(t, s, open("a2", "a", 3), time.Time{})
	o.Kick()
	time.Sleep(50 * time.Millisecond) // ten polls
	if it := item(t, s, "a2"); it.Attempts != 0 || it.State != store.StatePending {
		t.Errorf("a2 touched after a was removed: %+v", it)
	}
	if len(a.got()) != 1 || len(b.got()) != 1 {
		t.Errorf("calls: a %d, b %d", len(a.got()), len(b.got()))
	}

	// And back: the same item goes out.
	o.SetNotifiers(map[string]notify.Notifier{"a": a, "b": b})
	waitDelivered("a2")
}

func TestOutboxItemsMetric(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, reg := newOutbox(t, s, clk, Options{})
	o.SetNotifiers(map[string]notify.Notifier{
		"slack": &recorder{reply: func(int, *notify.Message) (string, error) {
			return "", notify.Permanent("invalid_auth", nil)
		}},
		"mail": &recorder{},
	})
	put(t, s, open("1", "slack", 1), time.Time{})
	put(t, s, open("2", "slack", 2), time.Time{})
	put(t, s, open("3", "slack", 3), clk.Now().Add(time.Hour))
	deliver(t, o, "slack")
	want := `
# HELP vantage_outbox_items Notifications in the outbox by receiver and state (pending, sending, failed).
# TYPE vantage_outbox_items gauge
vantage_outbox_items{receiver="mail",state="failed"} 0
vantage_outbox_items{receiver="mail",state="pending"} 0
vantage_outbox_items{receiver="mail",state="sending"} 0
vantage_outbox_items{receiver="slack",state="failed"} 2
vantage_outbox_items{receiver="slack",state="pending"} 1
vantage_outbox_items{receiver="slack",state="sending"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vantage_outbox_items"); err != nil {
		t.Error(err)
	}
	// A second Outbox on the same registry reuses the series, no panic.
	o2 := New(Options{Store: s, Registerer: reg})
	o2.m.count("slack", "open", "failed")
	if v := testutil.ToFloat64(o.m.total.WithLabelValues("slack", "open", "failed")); v != 3 {
		t.Errorf("shared failed counter = %v, want 3", v)
	}
}

// TestAmbiguousFlagIsSticky: once an attempt may have reached the
// receiver, a later attempt that plainly failed (the receiver answered
// 500) must not make the copy that finally goes out look like a first.
func TestAmbiguousFlagIsSticky(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		switch n {
		case 1:
			return "", notify.Ambiguous(errors.New("request written, no answer"))
		case 2:
			return "", errors.New("HTTP 500")
		}
		return "C1/1", nil
	}}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	put(t, s, open("a", "slack", 1), time.Time{})
	for i := 1; i <= 2; i++ {
		deliver(t, o, "slack")
		if it := item(t, s, "a"); !it.MaybeSent || it.State != store.StatePending {
			t.Fatalf("after attempt %d: maybe_sent %v, state %s, last error %q", i, it.MaybeSent, it.State, it.LastError)
		}
		clk.Advance(time.Hour)
	}
	if it := item(t, s, "a"); it.LastError != "HTTP 500" {
		t.Errorf("last error = %q, want the plain failure's", it.LastError)
	}
	deliver(t, o, "slack")
	calls := rec.got()
	if len(calls) != 3 || calls[0].msg.Repeat || !calls[1].msg.Repeat || !calls[2].msg.Repeat {
		t.Fatalf("calls %d; want the 2nd and 3rd marked repeat", len(calls))
	}
	if !delivered(t, s, "a") {
		t.Error("not delivered")
	}
}

// TestAmbiguousThenPermanentKeepsFlag: a notification that may have gone
// out and then failed for good still says so in the outbox.
func TestAmbiguousThenPermanentKeepsFlag(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		if n == 1 {
			return "", notify.Ambiguous(errors.New("connection lost after DATA"))
		}
		return "", notify.Permanent("smtp 554", errors.New("554 rejected"))
	}}
	o.SetNotifiers(map[string]notify.Notifier{"mail": rec})
	put(t, s, open("a", "mail", 1), time.Time{})
	deliver(t, o, "mail")
	clk.Advance(time.Hour)
	deliver(t, o, "mail")
	if it := item(t, s, "a"); it.State != store.StateFailed || !it.MaybeSent {
		t.Errorf("after ambiguous then permanent: state %s, maybe_sent %v", it.State, it.MaybeSent)
	}
}

// TestOneFlappingMonitorIsNotAGroup: three incidents of one monitor with
// the same cause are not "3 monitors are down" naming it three times.
func TestOneFlappingMonitorIsNotAGroup(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	for i := int64(1); i <= 3; i++ {
		m := open(fmt.Sprintf("%d-open", i), "slack", i)
		m.Monitor, m.GroupKey = "flappy", "gateway 10.0.0.5:443 (nginx)"
		put(t, s, m, time.Time{})
	}
	if n := deliver(t, o, "slack"); n != 3 {
		t.Fatalf("sent %d, want 3", n)
	}
	calls := rec.got()
	if len(calls) != 3 {
		t.Fatalf("calls = %d, want 3 single messages", len(calls))
	}
	for _, c := range calls {
		if len(c.msg.Group) != 0 {
			t.Errorf("one monitor's incidents grouped: %+v", c.msg.Group)
		}
	}
}

// TestGroupTakesEachMonitorOnce: with a flapping monitor among others of
// the same cause, the group lists each monitor once, and the flapping
// monitor's other incident goes out on its own.
func TestGroupTakesEachMonitorOnce(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	for i, mon := range []string{"flappy", "flappy", "b", "c"} {
		id := int64(i + 1)
		m := open(fmt.Sprintf("%d-open", id), "slack", id)
		m.Monitor, m.GroupKey = mon, "dns servfail"
		put(t, s, m, time.Time{})
	}
	if n := deliver(t, o, "slack"); n != 4 {
		t.Fatalf("sent %d, want 4", n)
	}
	calls := rec.got()
	if len(calls) != 2 {
		t.Fatalf("calls = %d, want a group and a single", len(calls))
	}
	var names []string
	for _, m := range calls[0].msg.Group {
		names = append(names, m.Monitor)
	}
	if !slices.Equal(names, []string{"flappy", "b", "c"}) {
		t.Errorf("group members %v, want [flappy b c]", names)
	}
	if calls[1].msg.Key != "2-open" || len(calls[1].msg.Group) != 0 {
		t.Errorf("second call = %s with %d members, want 2-open alone", calls[1].msg.Key, len(calls[1].msg.Group))
	}
}

// TestGroupUpdateOnMemberResolve: each member's resolve carries the
// group's message as it now reads, kept in the store across a restart.
func TestGroupUpdateOnMemberResolve(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, _ := newOutbox(t, s, clk, Options{})
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		if n == 1 {
			return "C1/1", nil
		}
		return "", nil
	}}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
	for i := int64(1); i <= 3; i++ {
		m := open(fmt.Sprintf("%d-open", i), "slack", i)
		m.GroupKey = "g"
		put(t, s, m, time.Time{})
	}
	deliver(t, o, "slack")
	resolvedAt := func(g *notify.Message) (out []bool) {
		for _, m := range g.Group {
			out = append(out, !m.ResolvedAt.IsZero())
		}
		return out
	}
	for i, want := range [][]bool{{false, true, false}, {true, true, false}, {true, true, true}} {
		id := []int64{2, 1, 3}[i]
		if i == 1 {
			// A restart between members: the group is read from the store.
			o, _ = newOutbox(t, s, clk, Options{})
			o.SetNotifiers(map[string]notify.Notifier{"slack": rec})
		}
		clk.Advance(time.Minute)
		r := resolve(fmt.Sprintf("%d-resolve", id), "slack", id)
		r.ResolvedAt = clk.Now()
		put(t, s, r, time.Time{})
		deliver(t, o, "slack")
		calls := rec.got()
		last := calls[len(calls)-1].msg
		if last.Key != r.Key || !last.InGroup || last.GroupUpdate == nil {
			t.Fatalf("resolve %d: key %s in group %v update %v", id, last.Key, last.InGroup, last.GroupUpdate != nil)
		}
		g := last.GroupUpdate
		if got := resolvedAt(g); !slices.Equal(got, want) {
			t.Errorf("after resolving %d: members resolved %v, want %v", id, got, want)
		}
		wantEvent := incident.NotifyOpen
		if i == 2 {
			wantEvent = incident.NotifyResolve
		}
		if g.Event != wantEvent || len(g.Group) != 3 {
			t.Errorf("after resolving %d: group event %s with %d members, want %s", id, g.Event, len(g.Group), wantEvent)
		}
	}
}

// TestRetryAfterIsCapped: a receiver asking for a day is tried again at
// max_retry_after and shown degraded until it delivers.
func TestRetryAfterIsCapped(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s := openStore(t, clk.Now)
	o, reg := newOutbox(t, s, clk, Options{MaxRetryAfter: 10 * time.Minute})
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		if n == 1 {
			return "", notify.RetryAfter(86400*time.Second, errors.New("HTTP 429"))
		}
		return "", nil
	}}
	o.SetNotifiers(map[string]notify.Notifier{"slack": rec, "mail": &recorder{}})
	put(t, s, open("a", "slack", 1), time.Time{})
	start := clk.Now()
	deliver(t, o, "slack")
	if it := item(t, s, "a"); !it.NextAttemptAt.Equal(start.Add(10 * time.Minute)) {
		t.Fatalf("next attempt at %v, want the 10m cap after %v", it.NextAttemptAt, start)
	}
	if d, ok := o.Degraded()["slack"]; !ok || !d.Since.Equal(start) || !strings.Contains(d.Reason, "max_retry_after") {
		t.Errorf("degraded = %+v (%v)", d, ok)
	}
	if _, ok := o.Degraded()["mail"]; ok {
		t.Error("mail degraded too")
	}
	if v := testutil.ToFloat64(o.m.degraded.WithLabelValues("slack")); v != 1 {
		t.Errorf("vantage_receiver_degraded{slack} = %v", v)
	}
	if n, err := testutil.GatherAndCount(reg, "vantage_receiver_degraded"); err != nil || n != 2 {
		t.Errorf("gathered %d degraded series (%v), want one per receiver", n, err)
	}
	if v := testutil.ToFloat64(o.m.degraded.WithLabelValues("mail")); v != 0 {
		t.Errorf("vantage_receiver_degraded{mail} = %v", v)
	}
	clk.Advance(10 * time.Minute)
	if n := deliver(t, o, "slack"); n != 1 {
		t.Fatalf("sent %d at the cap, want 1", n)
	}
	if _, ok := o.Degraded()["slack"]; ok {
		t.Error("still degraded after a delivery")
	}
	if v := testutil.ToFloat64(o.m.degraded.WithLabelValues("slack")); v != 0 {
		t.Errorf("vantage_receiver_degraded{slack} = %v after delivery", v)
	}
}
