package probe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// reportCPU adds cpu-ns/op: the process's user+system CPU time per
// iteration. ns/op is wall time, which a busy machine inflates; the cost goal
// is about CPU. The in-process test server's share is included, the same for
// both benchmarks.
func reportCPU(b *testing.B) func() {
	start := cpuTime(b)
	return func() {
		b.ReportMetric(float64((cpuTime(b)-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok: all good")
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkProbe is one full probe of a small 200 on a fresh connection.
func BenchmarkProbe(b *testing.B) {
	srv := benchServer(b)
	var p Prober
	spec := Spec{URL: srv.URL + "/", Timeout: 5 * time.Second}
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if r := p.Run(ctx, spec); !r.OK {
			b.Fatalf("probe failed: %s", r.Error)
		}
	}
}

// BenchmarkBareGET is the floor the probe is measured against: a plain
// net/http GET on a fresh connection, reading the body.
func BenchmarkBareGET(b *testing.B) {
	srv := benchServer(b)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		resp, err := client.Get(srv.URL + "/")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAll(resp.Body); err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
	}
}
