package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// upstreams are the servers the proxies forward to, one per way of failing.
// Each field is a loopback port.
type upstreams struct {
	healthy  int // answers 200 with healthyBody
	appError int // the application's own 502, with appErrorBody
	dead     int // was bound then closed: connects are refused
	slow     int // reads the request and never answers (past the proxies' 1s read timeout)
	reset    int // reads the request, then resets the connection (a crash: SO_LINGER 0)
	hangup   int // reads the request, then closes the connection cleanly without a byte
	garbage  int // answers with bytes that are not HTTP at all
	badHead  int // answers with a valid status line and a malformed header block
	half     int // sends half a header block, then resets: a crash mid-response
}

const healthyBody = "hello from the healthy upstream\n"

// startUpstreams starts every upstream on 127.0.0.1 and stops them when the
// test ends.
func startUpstreams(t *testing.T) upstreams {
	t.Helper()
	return upstreams{
		healthy:  startHTTP(t, http.StatusOK, healthyBody),
		appError: startHTTP(t, http.StatusBadGateway, appErrorBody),
		dead:     deadPort(t),
		slow: startRaw(t, "slow", func(ctx context.Context, c *net.TCPConn) {
			// Hold the connection until the proxy gives up and closes it
			// (a read returns), or the test ends.
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			_, _ = io.Copy(io.Discard, c)
		}),
		reset: startRaw(t, "reset", func(_ context.Context, c *net.TCPConn) {
			// Linger 0 turns Close into an RST, as when a process dies with
			// the socket open: the proxy sees ECONNRESET.
			_ = c.SetLinger(0)
		}),
		hangup: startRaw(t, "hangup", func(context.Context, *net.TCPConn) {
			// A clean close (FIN) before any response byte: the proxy sees
			// EOF while waiting for the status line.
		}),
		garbage: startRaw(t, "garbage", func(_ context.Context, c *net.TCPConn) {
			_, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.2p1 this is not http\r\n\r\nnot http either\r\n")
		}),
		badHead: startRaw(t, "bad-header", func(_ context.Context, c *net.TCPConn) {
			// The status line is fine; the header block is not: a
			// Content-Length that is not a number and a line with no colon.
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: banana\r\nno colon on this line\r\n\r\nbody")
		}),
		half: startRaw(t, "half", func(_ context.Context, c *net.TCPConn) {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/pl")
			_ = c.SetLinger(0)
		}),
	}
}

// startHTTP starts a plain net/http server that answers every request with
// status and body.
func startHTTP(t *testing.T, status int, body string) int {
	t.Helper()
	ln := listenLoopback(t)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("upstream answering %d: serve: %v", status, err)
		}
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return portOf(ln.Addr())
}

// startRaw starts a TCP server that reads each request head and then hands
// the connection to misbehave, closing it afterwards. It stops accepting and
// waits for every connection's goroutine when the test ends.
func startRaw(t *testing.T, name string, misbehave func(context.Context, *net.TCPConn)) int {
	t.Helper()
	ln := listenLoopback(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("%s upstream: accept: %v", name, err)
				}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				tc := c.(*net.TCPConn)
				defer tc.Close()
				stop := context.AfterFunc(ctx, func() { tc.Close() })
				defer stop()
				if err := readRequestHead(tc); err != nil {
					// Health checks and port probes connect and leave; that
					// is not the misbehaviour under test.
					return
				}
				misbehave(ctx, tc)
			}()
		}
	}()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	return portOf(ln.Addr())
}

// readRequestHead consumes a request line and headers up to the blank line,
// so that the upstream fails "mid-request": after the proxy has sent it all.
func readRequestHead(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = c.SetReadDeadline(time.Time{}) }()
	br := bufio.NewReader(c)
	for n := 0; ; n++ {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" || line == "\n" {
			if n == 0 {
				continue // tolerate a stray CRLF before the request line
			}
			return nil
		}
	}
}

// deadPort returns a loopback port that was just bound and released, so a
// connect to it is refused.
func deadPort(t *testing.T) int {
	t.Helper()
	return freePort(t)
}

// freePort asks the kernel for a free loopback port. The port is released
// before it is returned; a collision with another process in the gap is
// possible but rare, and would show up as a start failure, not a wrong verdict.
func freePort(t *testing.T) int {
	t.Helper()
	ln := listenLoopback(t)
	p := portOf(ln.Addr())
	if err := ln.Close(); err != nil {
		t.Fatalf("release port %d: %v", p, err)
	}
	return p
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	return ln
}

func portOf(a net.Addr) int { return a.(*net.TCPAddr).Port }

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
