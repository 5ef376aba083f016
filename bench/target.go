package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// targetResponse is the whole answer of the target server: the smallest
// well-formed 200 with a body, and Connection: close because every check is
// on a fresh connection anyway.
const targetResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

// serveTarget answers every connection on the listeners with
// targetResponse once the request head has arrived, then closes it. It is a
// raw TCP responder rather than net/http so that the target costs as little
// CPU as possible next to the daemon on a 2-core machine. It returns when
// ctx is done.
func serveTarget(ctx context.Context, lns []net.Listener) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- acceptLoop(ln)
		}()
	}
	<-ctx.Done()
	for _, ln := range lns {
		ln.Close()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
	}
	return nil
}

func acceptLoop(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// EMFILE and friends: back off instead of spinning.
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accepting on %s: %w", ln.Addr(), err)
		}
		go answer(c)
	}
}

var (
	headEnd  = []byte("\r\n\r\n")
	response = []byte(targetResponse)
)

func answer(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var buf [2048]byte
	n := 0
	for {
		m, err := c.Read(buf[n:])
		n += m
		if bytes.Contains(buf[:n], headEnd) {
			break
		}
		if err != nil || n == len(buf) {
			return
		}
	}
	// Closing right after the write puts TIME_WAIT on this side, so the
	// client's ephemeral ports are not held for a minute after each check.
	c.Write(response)
}

// listenTargets opens n listeners on 127.0.0.1 with kernel-chosen ports.
// Several ports spread the 4-tuples of short-lived connections, so that
// thousands of checks per second do not run out of ephemeral ports towards
// one address.
func listenTargets(n int) ([]net.Listener, error) {
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("opening a target listener: %w", err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// targetURLs are the URLs the monitors and the bare loop request, one per
// listener.
func targetURLs(lns []net.Listener) []string {
	urls := make([]string, len(lns))
	for i, ln := range lns {
		urls[i] = "http://" + ln.Addr().String() + "/"
	}
	return urls
}

// readReady reads the target child's first line, "ready URL URL ...", and
// returns the URLs.
func readReady(r io.Reader) ([]string, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			line = append(line, b[0])
		}
		if err != nil {
			return nil, fmt.Errorf("reading the target's ready line (got %q): %w", line, err)
		}
	}
	f := strings.Fields(string(line))
	if len(f) < 2 || f[0] != "ready" {
		return nil, fmt.Errorf("target's ready line is %q, want \"ready URL...\"", line)
	}
	return f[1:], nil
}
