package probe

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/vantage-monitor/vantage/internal/testkit"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// rawServer accepts TCP connections on loopback and hands each to serve.
// Connections are closed when the test ends.
func rawServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// readRequest consumes a request head so a raw server answers after it.
func readRequest(c net.Conn) {
	buf := make([]byte, 4096)
	var got []byte
	for !strings.Contains(string(got), "\r\n\r\n") {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		got = append(got, buf[:n]...)
	}
}

// check asserts class and detail and that the result is well formed.
func check(t *testing.T, r result.Result, class result.Class, detail string) {
	t.Helper()
	if r.Class != class || r.Detail != detail {
		t.Fatalf("got class %q detail %q (error %q), want %q %q", r.Class, r.Detail, r.Error, class, detail)
	}
	if r.OK != (class == result.ClassOK) {
		t.Errorf("OK = %v for class %q", r.OK, r.Class)
	}
	if !r.OK && r.Error == "" {
		t.Errorf("failed result has no Error sentence")
	}
	if r.OK && r.Error != "" {
		t.Errorf("ok result has Error %q", r.Error)
	}
	if r.Via == nil || r.Fixes == nil || r.Evidence.Headers == nil || r.Evidence.Markers == nil {
		t.Errorf("result not normalised: %+v", r)
	}
	if r.StartedAt.IsZero() {
		t.Errorf("StartedAt not set")
	}
}

// within asserts the probe ended close to its timeout, not long after.
func within(t *testing.T, elapsed, timeout time.Duration) {
	t.Helper()
	if elapsed > timeout+400*time.Millisecond {
		t.Errorf("probe took %s with a %s timeout", elapsed, timeout)
	}
}

func runTimed(p *Prober, s Spec) (result.Result, time.Duration) {
	t0 := time.Now()
	r := p.Run(context.Background(), s)
	return r, time.Since(t0)
}

// dnsServer answers on 127.0.0.1: nx.example.test NXDOMAIN,
// fail.example.test SERVFAIL, empty.example.test NOERROR without answers,
// hang.example.test never, two.example.test 127.0.0.2 and 127.0.0.1 for A,
// ok.example.test 127.0.0.1 for A; nothing for AAAA.
func dnsServer(t *testing.T) *net.Resolver {
	t.Helper()
	lo := netip.MustParseAddr("127.0.0.1")
	return testkit.Resolver(testkit.DNS{Names: map[string]testkit.DNSAnswer{
		"nx.example.test":    {RCode: dnsmessage.RCodeNameError},
		"fail.example.test":  {RCode: dnsmessage.RCodeServerFailure},
		"empty.example.test": {},
		"hang.example.test":  {Silent: true},
		"two.example.test":   {A: []netip.Addr{netip.MustParseAddr("127.0.0.2"), lo}},
		"ok.example.test":    {A: []netip.Addr{lo}},
	}}.Start(t))
}
