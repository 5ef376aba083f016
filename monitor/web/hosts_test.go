package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAllowHosts(t *testing.T) {
	src := &fakeSource{mons: sampleMonitors()}
	h := AllowHosts(newTestHandler(src, nil, nil), func() []string {
		return []string{"10.0.0.5", "status.example.com", "2001:db8::1"}
	})
	for host, want := range map[string]int{
		"localhost:9207":          200,
		"LOCALHOST":               200,
		"127.0.0.1:9207":          200,
		"127.3.4.5":               200,
		"[::1]:9207":              200,
		"10.0.0.5:9207":           200,
		"status.example.com":      200,
		"Status.Example.COM.:443": 200,
		"[2001:db8:0::1]:9207":    200,
		"evil.example":            421,
		"evil.example:9207":       421,
		"status.example.com.evil": 421,
		"10.0.0.6:9207":           421,
		"[::2]:9207":              421,
		"0.0.0.0:9207":            421,
		"localhost.evil.example":  421,
		"":                        421,
	} {
		for _, path := range []string{"/", "/api/v1/monitors", "/healthz"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Host = host
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != want {
				t.Errorf("Host %q %s: %d, want %d", host, path, rec.Code, want)
			}
			if want == 421 && !strings.Contains(rec.Body.String(), "add it to hostnames in the [web] table") {
				t.Errorf("Host %q: refusal %q does not say what to do", host, rec.Body)
			}
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.255.0.1": true, "::1": true, "[::1]": true,
		"0.0.0.0": false, "": false, "::": false, "10.0.0.1": false, "localhost.example": false, "::ffff:127.0.0.1": true,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
