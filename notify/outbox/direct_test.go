package outbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
)

func directOutbox(t *testing.T, clk *testkit.Clock, rec *recorder, maxAttempts int) *Outbox {
	t.Helper()
	o := New(Options{Store: openStore(t, clk.Now), Now: clk.Now, MaxAttempts: maxAttempts,
		BaseBackoff: time.Second, MaxBackoff: time.Minute, AttemptTimeout: 50 * time.Millisecond,
		Jitter: func(max time.Duration) time.Duration { return max }})
	o.SetNotifiers(map[string]notify.Notifier{"ops": rec})
	return o
}

// An incident's alerts from memory go out in order, marked not persisted,
// retried with backoff, and the RESOLVED updates the DOWN's message.
func TestDirectKeepsOrderRetriesAndRefs(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	rec := &recorder{reply: func(n int, msg *notify.Message) (string, error) {
		if n == 1 {
			return "", errors.New("connection reset")
		}
		if msg.Event == incident.NotifyOpen {
			return "C1/9.000", nil
		}
		return "", nil
	}}
	o := directOutbox(t, clk, rec, 5)
	o.SendDirect(
		DirectItem{Msg: open("a|ops", "ops", 0), IncidentKey: "inc-a"},
		DirectItem{Msg: resolve("a-res|ops", "ops", 0), IncidentKey: "inc-a"},
	)
	if st, ok := o.DirectStatus("a|ops"); !ok || st != store.KeyQueued {
		t.Fatalf("status before any attempt: %v %v, want queued", st, ok)
	}
	if n, err := o.DeliverDirect(ctx, "ops"); err != nil || n != 0 {
		t.Fatalf("first pass: %d, %v; want the DOWN failed and the RESOLVED held back", n, err)
	}
	if got := rec.got(); len(got) != 1 || got[0].msg.Key != "a|ops" {
		t.Fatalf("calls %+v, want only the DOWN (the RESOLVED waits for it)", got)
	}
	if n, _ := o.DeliverDirect(ctx, "ops"); n != 0 {
		t.Fatalf("a pass within the backoff delivered %d", n)
	}
	clk.Advance(time.Second)
	if n, err := o.DeliverDirect(ctx, "ops"); err != nil || n != 2 {
		t.Fatalf("after the backoff: %d, %v; want both", n, err)
	}
	got := rec.got()
	if len(got) != 3 || got[1].msg.Key != "a|ops" || got[2].msg.Key != "a-res|ops" {
		t.Fatalf("calls %+v, want DOWN, DOWN, RESOLVED", got)
	}
	for _, c := range got {
		if !c.msg.NotPersisted {
			t.Errorf("%s was not marked not persisted", c.msg.Key)
		}
	}
	if got[2].ref != "C1/9.000" {
		t.Errorf("the RESOLVED was given ref %q, want the DOWN's C1/9.000", got[2].ref)
	}
	out, ok := o.Direct("a|ops")
	if !ok || out.Status != store.KeyDelivered || out.Ref != "C1/9.000" {
		t.Fatalf("Direct(DOWN) = %+v, %v", out, ok)
	}
	o.ForgetDirect([]string{"a|ops", "a-res|ops"})
	if _, ok := o.Direct("a|ops"); ok || o.DirectPending() != 0 {
		t.Fatal("ForgetDirect kept the items")
	}
}

// Retries from memory are bounded; a timed-out attempt marks the next one
// as a possible repeat.
func TestDirectRetriesAreBounded(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	rec := &recorder{reply: func(n int, _ *notify.Message) (string, error) {
		if n == 1 {
			return "", context.DeadlineExceeded
		}
		return "", errors.New("503")
	}}
	o := directOutbox(t, clk, rec, 3)
	o.SendDirect(DirectItem{Msg: open("b|ops", "ops", 0), IncidentKey: "inc-b"})
	for range 10 {
		_, _ = o.DeliverDirect(ctx, "ops")
		clk.Advance(time.Minute)
	}
	got := rec.got()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3 (MaxAttempts)", len(got))
	}
	if got[0].msg.Repeat || !got[1].msg.Repeat {
		t.Errorf("repeat flags %v %v, want false then true after a timeout", got[0].msg.Repeat, got[1].msg.Repeat)
	}
	out, ok := o.Direct("b|ops")
	if !ok || !out.Failed || out.Reason == "" || !out.MaybeSent || o.DirectPending() != 0 {
		t.Fatalf("Direct = %+v (%v), pending %d; want failed with a reason", out, ok, o.DirectPending())
	}
}

// HoldDirect keeps attempts from starting until it is released.
func TestHoldDirectHoldsAttempts(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	rec := &recorder{}
	o := directOutbox(t, clk, rec, 3)
	o.SendDirect(DirectItem{Msg: open("c|ops", "ops", 0), IncidentKey: "inc-c"})
	release := o.HoldDirect()
	done := make(chan int)
	go func() {
		n, _ := o.DeliverDirect(ctx, "ops")
		done <- n
	}()
	select {
	case <-done:
		t.Fatal("an attempt ran while delivery was held")
	case <-time.After(50 * time.Millisecond):
	}
	o.WithdrawDirect("ops", "other-incident") // unrelated: withdraws nothing
	release()
	if n := <-done; n != 1 {
		t.Fatalf("after release delivered %d, want 1", n)
	}
}

// An unseen item is withdrawn when its incident ends first.
func TestWithdrawDirectDropsOnlyUnseen(t *testing.T) {
	clk := newClock()
	o := directOutbox(t, clk, &recorder{}, 3)
	o.SendDirect(DirectItem{Msg: open("d|ops", "ops", 0), IncidentKey: "inc-d", NotBefore: clk.Now().Add(time.Minute)})
	if n := o.WithdrawDirect("ops", "inc-d"); n != 1 {
		t.Fatalf("withdrew %d, want 1", n)
	}
	if _, ok := o.DirectStatus("d|ops"); ok {
		t.Fatal("a withdrawn item is still known")
	}
}
