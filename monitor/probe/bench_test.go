package probe

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

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
