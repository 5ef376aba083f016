package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// TestRefusalIsTyped: a refuse_private agent asked for a loopback target
// says so in a field of its answer, and the client hands it on, so that the
// coordinator never has to read the error text to tell a refusal from an
// unreachable network.
func TestRefusalIsTyped(t *testing.T) {
	tg := newTarget(t, nil)
	a := newAgent(t, Options{RefusePrivate: true})

	// On the wire: the answer's JSON has the refusal.
	resp, body := a.do(t, rawRequest{body: specJSON(t, probe.Spec{URL: tg.URL})})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var wire struct {
		Class   result.Class `json:"class"`
		Refusal *struct {
			Policy, Destination, Reason string
		} `json:"refusal"`
	}
	if err := json.Unmarshal([]byte(body), &wire); err != nil {
		t.Fatal(err)
	}
	if wire.Refusal == nil || wire.Refusal.Policy != "refuse_private" || wire.Refusal.Destination != "127.0.0.1" || !strings.Contains(wire.Refusal.Reason, "loopback") {
		t.Fatalf("answer's refusal = %+v, want refuse_private, 127.0.0.1, loopback\n%s", wire.Refusal, body)
	}
	// Older coordinators read the class alone; it is what it always was.
	if wire.Class != result.ClassNetworkUnreachable {
		t.Errorf("class %q, want network_unreachable", wire.Class)
	}

	// Through the client, for a literal and for a name pinned to a
	// private address (the check is on the dialled address).
	for _, spec := range []probe.Spec{
		{URL: tg.URL},
		{URL: "http://internal.example:80/", Resolve: []string{"internal.example:80:10.1.2.3"}},
	} {
		r, err := a.client(testKey).Probe(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK || r.Refusal == nil || r.Refusal.Policy != PolicyRefusePrivate {
			t.Fatalf("%s: ok %v refusal %+v, want a refuse_private refusal", spec.URL, r.OK, r.Refusal)
		}
	}
	if n := tg.hits.Load(); n != 0 {
		t.Fatalf("the refused target was hit %d times", n)
	}

	// A target the agent reaches, and one that is really down, are no
	// refusals.
	open := newAgent(t, Options{})
	r, err := open.client(testKey).Probe(context.Background(), probe.Spec{URL: tg.URL})
	if err != nil || !r.OK || r.Refusal != nil {
		t.Fatalf("allowed target: ok %v refusal %+v err %v", r.OK, r.Refusal, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	r, err = open.client(testKey).Probe(context.Background(), probe.Spec{URL: "http://" + closed + "/"})
	if err != nil || r.OK || r.Class != result.ClassConnectionRefused || r.Refusal != nil {
		t.Fatalf("closed port: class %q refusal %+v err %v, want connection_refused and no refusal", r.Class, r.Refusal, err)
	}
}

// TestOldAgentAnswerDecodes: an agent from before the refusal field sends a
// result without it; the client reads it as before, as no refusal.
func TestOldAgentAnswerDecodes(t *testing.T) {
	old := `{"url":"http://10.1.2.3/","ok":false,"class":"network_unreachable","status":0,"gateway":"","via":null,` +
		`"detail":"","error":"connecting to 10.1.2.3:80: dial tcp 10.1.2.3:80: destination 10.1.2.3 refused: private addresses are not allowed on this agent",` +
		`"phases":{"dns_ms":0,"connect_ms":0.1,"tls_ms":0,"ttfb_ms":0,"total_ms":0.2},"remote_addr":"","evidence":{"headers":null,"body_excerpt":"","markers":null},` +
		`"fixes":null,"method":"GET","started_at":"2026-11-21T03:11:00Z","redirects":0,"body_bytes":0,"body_truncated":false,"scope":""}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderResponseSignature, responseMAC(testKey, r.Header.Get(HeaderNonce), http.StatusOK, []byte(old)))
		w.Write([]byte(old))
	}))
	t.Cleanup(srv.Close)
	c := &Client{URL: srv.URL, Key: testKey}
	r, err := c.Probe(context.Background(), probe.Spec{URL: "http://10.1.2.3/"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Class != result.ClassNetworkUnreachable || r.Refusal != nil || r.Via == nil {
		t.Fatalf("old answer: class %q refusal %+v via %v", r.Class, r.Refusal, r.Via)
	}
}

// TestRefusalWithOKIsProtocolError: an answer that is both up and refused
// is neither, and is not taken as a vote.
func TestRefusalWithOKIsProtocolError(t *testing.T) {
	bad := `{"url":"http://x.example/","ok":true,"class":"ok","status":200,"refusal":{"policy":"refuse_private","destination":"10.0.0.1","reason":"private"}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderResponseSignature, responseMAC(testKey, r.Header.Get(HeaderNonce), http.StatusOK, []byte(bad)))
		w.Write([]byte(bad))
	}))
	t.Cleanup(srv.Close)
	_, err := (&Client{URL: srv.URL, Key: testKey}).Probe(context.Background(), probe.Spec{URL: "http://x.example/"})
	if !IsKind(err, KindProtocol) {
		t.Fatalf("err %v, want KindProtocol", err)
	}
}

// listenOn is a target on a given loopback address.
func listenOn(t *testing.T, addr string, h http.HandlerFunc) *target {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatalf("listening on %s: %v", addr, err)
	}
	tg := &target{}
	tg.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.hits.Add(1)
		if h == nil {
			w.Write([]byte("all good"))
			return
		}
		h(w, r)
	}))
	tg.Listener.Close()
	tg.Listener = ln
	tg.Start()
	t.Cleanup(tg.Close)
	return tg
}

// TestRefuseOwnAddressAfterRedirect: under refuse_private an agent refuses
// its host's own interface addresses, checked at dial time, so a target it
// may reach cannot redirect it, by address or by a name that resolves to
// one, to a service on its own host. Loopback is private, so the test lets
// loopback pass the private check; 127.0.0.1 stays refused because it is an
// address of this host's lo, as the real net.InterfaceAddrs lists it, while
// 127.0.0.2 is not one.
func TestRefuseOwnAddressAfterRedirect(t *testing.T) {
	own, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	hasLo := false
	for _, a := range own {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(net.IPv4(127, 0, 0, 1)) {
			hasLo = true
		}
	}
	if !hasLo {
		t.Skipf("this host lists no 127.0.0.1 among its interface addresses (%v)", own)
	}
	inner := listenOn(t, "127.0.0.1", nil)
	_, innerPort, _ := net.SplitHostPort(inner.Listener.Addr().String())
	outer := listenOn(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/by-address":
			http.Redirect(w, r, inner.URL+"/admin", http.StatusFound)
		case "/by-name":
			http.Redirect(w, r, "http://own.example:"+innerPort+"/admin", http.StatusFound)
		default:
			w.Write([]byte("outer"))
		}
	})
	a := newAgent(t, Options{RefusePrivate: true})
	a.srv.refuser.private = func(netip.Addr) string { return "" }
	c := a.client(testKey)

	// The outer target itself is allowed: the policy is not refusing all.
	r, err := c.Probe(context.Background(), probe.Spec{URL: outer.URL + "/"})
	if err != nil || !r.OK {
		t.Fatalf("outer target: ok %v class %q error %q err %v", r.OK, r.Class, r.Error, err)
	}
	for _, spec := range []probe.Spec{
		{URL: outer.URL + "/by-address"},
		{URL: outer.URL + "/by-name", Resolve: []string{"own.example:" + innerPort + ":127.0.0.1"}},
	} {
		r, err := c.Probe(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if r.OK || r.Refusal == nil || r.Refusal.Destination != "127.0.0.1" || !strings.Contains(r.Refusal.Reason, "own host") {
			t.Fatalf("%s: ok %v refusal %+v error %q, want a refusal of this host's own address", spec.URL, r.OK, r.Refusal, r.Error)
		}
	}
	if n := inner.hits.Load(); n != 0 {
		t.Fatalf("the agent's own service was hit %d times", n)
	}
}

func TestRefuserOwnAddresses(t *testing.T) {
	own := []net.Addr{
		&net.IPNet{IP: net.ParseIP("203.0.113.7").To4(), Mask: net.CIDRMask(24, 32)},
		&net.IPNet{IP: net.ParseIP("2001:db8::7"), Mask: net.CIDRMask(64, 128)},
		&net.IPAddr{IP: net.ParseIP("198.51.100.9")},
	}
	p := &refuser{private: privateReason, ownAddrs: func() ([]net.Addr, error) { return own, nil }}
	tests := []struct {
		addr    string
		refused bool
	}{
		{"203.0.113.7:443", true},
		{"[::ffff:203.0.113.7]:443", true},
		{"[2001:db8::7]:80", true},
		{"198.51.100.9:80", true},
		{"203.0.113.8:443", false}, // on the same network, but another host
		{"[2001:db8::8]:80", false},
		{"10.0.0.1:80", true}, // private, whatever the host has
	}
	for _, tt := range tests {
		err := p.check(tt.addr)
		var ref *probe.RefusedError
		if got := errors.As(err, &ref); got != tt.refused {
			t.Errorf("%s: err %v, want refused %v", tt.addr, err, tt.refused)
		}
	}
	// Without the list the policy cannot clear a destination: refuse.
	p.ownAddrs = func() ([]net.Addr, error) { return nil, errors.New("netlink: permission denied") }
	var ref *probe.RefusedError
	if err := p.check("203.0.113.8:443"); !errors.As(err, &ref) || !strings.Contains(ref.Refusal.Reason, "permission denied") {
		t.Errorf("listing fails: err %v, want a refusal naming the error", err)
	}
}
