package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCheckOutputHidesCredentials: `vantage check` shows the URL with its
// password as xxxxx and secret-looking query values as …, and hides the
// credentials it was given wherever the target echoes them.
func TestCheckOutputHidesCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte("denied for " + r.Header.Get("Authorization") + " at " + r.URL.String()))
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://probe:Url-Pa55word@", 1) + "/x?api_key=Query-Key-1&page=2"
	for _, args := range [][]string{
		{"check", "--header", "Authorization: Bearer Header-T0ken", u},
		{"check", "--json", "--header", "Authorization: Bearer Header-T0ken", u},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != exitFailed {
			t.Fatalf("%v: exit %d, want %d (a 401); stderr %s", args, code, exitFailed, errOut)
		}
		for _, leak := range []string{"Url-Pa55word", "Query-Key-1", "Header-T0ken"} {
			if strings.Contains(out, leak) {
				t.Errorf("%v shows %q:\n%s", args, leak, out)
			}
		}
		if !strings.Contains(out, "probe:xxxxx@") || !strings.Contains(out, "api_key=…") {
			t.Errorf("%v lost the redacted URL:\n%s", args, out)
		}
	}
}
