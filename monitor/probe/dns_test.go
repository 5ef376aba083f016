package probe

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

func TestDNS(t *testing.T) {
	res := dnsServer(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "resolved") }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	tests := []struct {
		name    string
		host    string
		ipv     int
		timeout time.Duration
		class   result.Class
		detail  string
		inError string
	}{
		{name: "resolves", host: "ok.example.test", class: result.ClassOK},
		{name: "nxdomain", host: "nx.example.test", class: result.ClassDNSError, detail: result.DetailNXDomain, inError: "NXDOMAIN"},
		{name: "servfail", host: "fail.example.test", class: result.ClassDNSError, detail: result.DetailServFail, inError: "ServerFailure"},
		{name: "empty answer", host: "empty.example.test", class: result.ClassDNSError, detail: result.DetailNoAnswer},
		{name: "no AAAA for ip_version 6", host: "ok.example.test", ipv: 6, class: result.ClassDNSError, detail: result.DetailNoAnswer},
		{name: "never answers", host: "hang.example.test", timeout: 300 * time.Millisecond, class: result.ClassDNSError, detail: result.DetailResolverTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.timeout == 0 {
				tc.timeout = time.Second
			}
			p := &Prober{Resolver: res}
			r, el := runTimed(p, Spec{URL: "http://" + tc.host + ":" + port + "/", IPVersion: tc.ipv, Timeout: tc.timeout})
			check(t, r, tc.class, tc.detail)
			within(t, el, tc.timeout)
			if !strings.Contains(r.Error, tc.inError) || (!r.OK && !strings.Contains(r.Error, tc.host)) {
				t.Errorf("error %q should name %q and the host", r.Error, tc.inError)
			}
			if r.Phases.DNSMs <= 0 {
				t.Errorf("dns_ms %v", r.Phases.DNSMs)
			}
		})
	}
}

func TestQueryRcodeOverStream(t *testing.T) {
	// A resolver reached over TCP gets length-prefixed messages.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		q := make([]byte, int(l[0])<<8|int(l[1]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		// Echo the query back as an NXDOMAIN answer: QR bit and rcode 3.
		q[2] |= 0x80
		q[3] = q[3]&0xf0 | 3
		c.Write(append([]byte{l[0], l[1]}, q...))
	}()
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ln.Addr().String())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	x := exchange{p: &Prober{Resolver: res}, ctx: ctx}
	rc, _, err := x.queryRcode("gone.example.test", 1)
	if err != nil || rc != 3 {
		t.Fatalf("rcode %v err %v, want NXDOMAIN", rc, err)
	}
}

// A failed lookup names the server the probe's resolver asked, in the error,
// in dns_server and in the evidence, not a nameserver of /etc/resolv.conf
// that Go's resolver names for a custom Dial.
func TestDNSErrorNamesTheServerAsked(t *testing.T) {
	res := dnsServer(t)
	c, err := res.Dial(t.Context(), "udp", "")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.RemoteAddr().String()
	c.Close()
	for _, tc := range []struct {
		host    string
		timeout time.Duration
		marker  string
	}{
		{"nx.example.test", time.Second, "DNS server " + addr + " answered NXDOMAIN"},
		{"fail.example.test", time.Second, "DNS server " + addr + " answered SERVFAIL"},
		{"hang.example.test", 300 * time.Millisecond, "DNS server " + addr + " did not answer"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			p := &Prober{Resolver: res}
			r, _ := runTimed(p, Spec{URL: "http://" + tc.host + "/", Timeout: tc.timeout})
			if r.Class != result.ClassDNSError {
				t.Fatalf("class %s (%s), want dns_error", r.Class, r.Error)
			}
			if !strings.Contains(r.Error, " on "+addr+":") {
				t.Errorf("error %q does not name the server asked, %s", r.Error, addr)
			}
			for _, ns := range nameservers() {
				if ns != addr && strings.Contains(r.Error, ns) {
					t.Errorf("error %q names %s of resolv.conf, which was not asked", r.Error, ns)
				}
			}
			if r.DNSServer != addr {
				t.Errorf("dns_server %q, want %s", r.DNSServer, addr)
			}
			if !slices.ContainsFunc(r.Evidence.Markers, func(m string) bool { return strings.HasPrefix(m, tc.marker) }) {
				t.Errorf("markers %q, want one starting %q", r.Evidence.Markers, tc.marker)
			}
		})
	}
}
