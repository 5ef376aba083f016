package slack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/internal/testkit/outboxtest"
	"github.com/vantage-monitor/vantage/monitor/incident"
)

// TestGroupMessageFollowsItsMembers: a grouped DOWN for three monitors is
// rewritten as each member resolves, and reads resolved after the last.
func TestGroupMessageFollowsItsMembers(t *testing.T) {
	f := newFakeSlack(t, testToken)
	ob, s, clk := outboxFor(t, mustNew(t, botReceiver(f.URL())))
	ctx := context.Background()
	mons := []string{"shop", "cart", "admin"}
	for i, mon := range mons {
		m := message(incident.NotifyOpen, mon)
		m.IncidentID = int64(i + 1)
		m.Key = mon + "/open|ops"
		m.GroupKey = "gateway 10.0.0.5:443 (nginx)"
		outboxtest.Enqueue(t, s, *m, time.Time{})
	}
	if sent, err := ob.DeliverDue(ctx, "ops"); err != nil || sent != 3 {
		t.Fatalf("open pass: sent %d, %v", sent, err)
	}
	calls := f.Calls()
	if len(calls) != 1 || calls[0].Method != "chat.postMessage" || !strings.Contains(calls[0].Form.Get("text"), "[GROUP 3 monitors]") {
		t.Fatalf("open: %d calls, first %+v", len(calls), calls)
	}
	const ref = "C0ALERTS/1700000000.000001"

	wants := []string{"1 of 3 resolved", "2 of 3 resolved", "[RESOLVED GROUP 3 monitors]"}
	for i, mon := range mons {
		clk.Advance(time.Minute)
		m := message(incident.NotifyResolve, mon)
		m.IncidentID = int64(i + 1)
		m.Key = mon + "/resolve|ops"
		m.ResolvedAt = clk.Now()
		m.At = m.ResolvedAt
		outboxtest.Enqueue(t, s, *m, time.Time{})
		before := len(f.Calls())
		if sent, err := ob.DeliverDue(ctx, "ops"); err != nil || sent != 1 {
			t.Fatalf("resolve of %s: sent %d, %v", mon, sent, err)
		}
		calls := f.Calls()[before:]
		if len(calls) != 2 || calls[0].Method != "chat.update" || calls[1].Method != "chat.postMessage" {
			t.Fatalf("resolve of %s: calls %v, want chat.update then a thread reply", mon, methods(calls))
		}
		if got := calls[0].Form.Get("channel") + "/" + calls[0].Form.Get("ts"); got != ref {
			t.Errorf("resolve of %s updated %s, want the group's message %s", mon, got, ref)
		}
		if text := calls[0].Form.Get("text"); !strings.Contains(text, wants[i]) {
			t.Errorf("after %d resolved the group reads %q, want %q", i+1, text, wants[i])
		}
		if calls[1].Form.Get("thread_ts") != "1700000000.000001" {
			t.Errorf("reply of %s not in the group's thread: %v", mon, calls[1].Form)
		}
	}
	blocks, _ := f.message(ref)
	if !strings.Contains(blocks, "have recovered") || !strings.Contains(blocks, ":white_check_mark:") {
		t.Errorf("the group's message is not resolved at the end:\n%s", blocks)
	}
}

func methods(cs []apiCall) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Method)
	}
	return fmt.Sprint(out)
}
