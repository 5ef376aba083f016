package agent

import (
	"context"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/probe"
)

// BenchmarkLocalProbe and BenchmarkSignedRoundTrip compare one probe of a
// loopback target run here with the same probe asked of an agent (sign,
// send, verify, probe, sign the answer, verify, decode). Both sides run in
// this process, so the difference is an upper bound on what the agent
// protocol adds to the coordinator's CPU per vantage per round.
func BenchmarkLocalProbe(b *testing.B) {
	tg := newTarget(b, nil)
	var p probe.Prober
	spec := probe.Spec{URL: tg.URL}
	b.ReportAllocs()
	for b.Loop() {
		if r := p.Run(context.Background(), spec); !r.OK {
			b.Fatal(r.Headline())
		}
	}
}

func BenchmarkSignedRoundTrip(b *testing.B) {
	tg := newTarget(b, nil)
	a := newAgent(b, Options{Rate: 1e9, ReplayCacheSize: 1 << 24})
	c := &Client{URL: a.URL, Key: testKey}
	a.srv.opts.Now = time.Now // real time: the fake clock would make every nonce live for ever
	spec := probe.Spec{URL: tg.URL}
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Probe(context.Background(), spec)
		if err != nil || !r.OK {
			b.Fatal(err, r.Headline())
		}
	}
}
