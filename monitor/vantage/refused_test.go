package vantage

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// TestRefusingAgentIsNoVote runs rounds against a real agent with
// refuse_private for a private (loopback) target: the agent refuses it,
// and the round is what local sees, never partial because of the refusal.
// Its loopback canary is refused too, which says nothing of the agent's
// network: the agent stays healthy.
func TestRefusingAgentIsNoVote(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	tg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	t.Cleanup(tg.Close)
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(canary.Close)

	key := bytes.Repeat([]byte{0x42}, agent.MinKeyBytes)
	srv, err := agent.NewServer(agent.Options{Keys: [][]byte{key}, RefusePrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	as := httptest.NewServer(srv)
	t.Cleanup(as.Close)
	remote := &agent.Client{URL: as.URL, Key: key}

	r, err := New(Local(nil), map[string]Prober{"fra1": remote}, Options{Canary: config.Canary{URLs: []string{canary.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r.Tick(ctx)

	status.Store(http.StatusOK)
	res := r.Round(ctx, "private-app", probe.Spec{URL: tg.URL}, nil)
	if !res.OK || res.Scope != result.ScopeNone {
		t.Fatalf("target up from local, refused by fra1: ok %v scope %q, want up (markers %v)", res.OK, res.Scope, res.Evidence.Markers)
	}
	if len(res.Vantages) != 2 || res.Vantages[1].Name != "fra1" || res.Vantages[1].Status != result.VantageRefused {
		t.Fatalf("lines %+v, want fra1 refused", res.Vantages)
	}

	status.Store(http.StatusBadGateway)
	res = r.Round(ctx, "private-app", probe.Spec{URL: tg.URL}, nil)
	if res.OK || res.Scope != result.ScopeEveryone || res.Class != result.ClassBadGateway {
		t.Fatalf("target down from local, refused by fra1: ok %v scope %q class %q, want everyone bad_gateway", res.OK, res.Scope, res.Class)
	}

	// Asked from fra1 alone, nobody votes: not down.
	res = r.Round(ctx, "private-app", probe.Spec{URL: tg.URL}, []string{"fra1"})
	if res.Scope != result.ScopeUnknown {
		t.Fatalf("fra1 alone: scope %q, want unknown", res.Scope)
	}

	h, _ := r.Health().Vantage("fra1")
	if h.State != Healthy || len(h.Monitors) != 0 {
		t.Fatalf("fra1 health %+v, want healthy with no affected monitors", h)
	}
}
