package probe

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

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

// dnsServer answers on 127.0.0.1 by the first label of the name:
// "nx" NXDOMAIN, "fail" SERVFAIL, "empty" NOERROR without answers,
// "hang" never, "two" 127.0.0.2 and 127.0.0.1 for A, anything else
// 127.0.0.1 for A; nothing for AAAA.
func dnsServer(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if err := m.Unpack(buf[:n]); err != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			label, _, _ := strings.Cut(q.Name.String(), ".")
			m.Response, m.RecursionAvailable = true, true
			m.Answers = nil
			switch label {
			case "hang":
				continue
			case "nx":
				m.RCode = dnsmessage.RCodeNameError
			case "fail":
				m.RCode = dnsmessage.RCodeServerFailure
			case "empty":
				m.RCode = dnsmessage.RCodeSuccess
			case "two":
				m.RCode = dnsmessage.RCodeSuccess
				if q.Type == dnsmessage.TypeA {
					for _, a := range [][4]byte{{127, 0, 0, 2}, {127, 0, 0, 1}} {
						m.Answers = append(m.Answers, dnsmessage.Resource{
							Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5},
							Body:   &dnsmessage.AResource{A: a},
						})
					}
				}
			default:
				m.RCode = dnsmessage.RCodeSuccess
				if q.Type == dnsmessage.TypeA {
					m.Answers = []dnsmessage.Resource{{
						Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 5},
						Body:   &dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}},
					}}
				}
			}
			out, err := m.Pack()
			if err != nil {
				continue
			}
			pc.WriteTo(out, from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	addr := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", addr)
		},
	}
}
