package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/agent"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/vantage"
)

// resolvingRemote is a remote vantage that sees every URL with a 502 and
// answers name lookups from its own resolver, as an agent does.
type resolvingRemote struct{ asked *atomic.Int32 }

func (resolvingRemote) Probe(_ context.Context, s probe.Spec) (result.Result, error) {
	r := result.Result{URL: s.URL, Class: result.ClassBadGateway, Status: 502}
	r.Normalize()
	return r, nil
}

func (v resolvingRemote) Resolve(_ context.Context, host string) ([]netip.Addr, error) {
	v.asked.Add(1)
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// TestCheckAsksEachVantagesResolver: `vantage check -config` diagnoses as
// the daemon does, asking each vantage's own resolver.
func TestCheckAsksEachVantagesResolver(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // refused from here: down for everyone
	t.Setenv("VANTAGE_TEST_KEY", agent.GenerateKey())
	cfg, err := config.Parse("test.toml", fmt.Appendf(nil, `state_dir = %q
[[vantage]]
name = "fra1"
url = "http://127.0.0.1:9/"
key_env = "VANTAGE_TEST_KEY"
`, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	remote := func(*config.Vantage) (vantage.Prober, error) { return resolvingRemote{&asked}, nil }
	res, err := checkFromVantages(context.Background(), cfg, remote, probe.Spec{URL: fmt.Sprintf("http://localhost:%d/", port)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scope != result.ScopeEveryone || res.Diagnosis == nil {
		t.Fatalf("scope %q, diagnosis %+v; want everyone, diagnosed", res.Scope, res.Diagnosis)
	}
	var fra1 bool
	for _, a := range res.Diagnosis.Answers {
		fra1 = fra1 || a.Resolver == "fra1"
	}
	if asked.Load() == 0 || !fra1 {
		t.Errorf("fra1's resolver was asked %d times; answers %+v", asked.Load(), res.Diagnosis.Answers)
	}
}
