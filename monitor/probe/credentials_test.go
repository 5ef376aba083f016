package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestURLUserInfoSent: user:password@ in the URL is sent as HTTP Basic, as
// curl does, unless the spec sets its own Authorization; it never follows
// a redirect to another origin; and the errors show it as xxxxx.
func TestURLUserInfoSent(t *testing.T) {
	type seen struct {
		user, pass string
		ok         bool
	}
	got := make(chan seen, 4)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		got <- seen{u, p, ok}
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		got <- seen{u, p, ok}
		if r.URL.Path == "/away" {
			http.Redirect(w, r, other.URL+"/", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	defer srv.Close()
	withUser := strings.Replace(srv.URL, "http://", "http://probe:s3cr%2Ft@", 1)
	var p Prober

	r := p.Run(context.Background(), Spec{URL: withUser + "/"})
	if g := <-got; g != (seen{"probe", "s3cr/t", true}) {
		t.Errorf("the server got %+v, want probe:s3cr/t", g)
	}
	if strings.Contains(r.Error, "s3cr") || !strings.Contains(r.Error, "probe:xxxxx@") {
		t.Errorf("error %q: want the password shown as xxxxx", r.Error)
	}

	p.Run(context.Background(), Spec{URL: withUser + "/", Headers: map[string]string{"Authorization": "Bearer own"}})
	if g := <-got; g.ok {
		t.Errorf("the spec's own Authorization was replaced: %+v", g)
	}

	p.Run(context.Background(), Spec{URL: withUser + "/away"})
	if g := <-got; !g.ok {
		t.Errorf("first hop lacks the credentials: %+v", g)
	}
	if g := <-got; g.ok {
		t.Errorf("the credentials followed a redirect to another origin: %+v", g)
	}
}
