//go:build linux

package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// This kernel has no netem, so a slow connect is made from the listen
// queue itself. A socket listening with a backlog of 1 holds two
// connections in its accept queue (Linux's queue is full past backlog+1);
// while it is full, a new SYN is dropped (TcpExt ListenOverflows), and the
// client sends it again after its initial retransmission timeout, 1 s.
// slowConnect keeps the queue full with filler connections of its own and
// lets its HTTP server accept only once the probe's first SYN was dropped:
// the retransmitted SYN then finds room, and the probe's connect took about
// 1 s while its request is answered at once.
type slowConnect struct {
	t     *testing.T
	ln    net.Listener
	addr  string
	allow chan struct{} // one token per accept the server may make
	fill  []net.Conn
}

// gatedListener accepts only with a token from allow, so the kernel's queue
// stays full in between.
type gatedListener struct {
	net.Listener
	allow chan struct{}
	done  chan struct{}
}

func (g *gatedListener) Accept() (net.Conn, error) {
	select {
	case <-g.allow:
	case <-g.done:
		return nil, net.ErrClosed
	}
	return g.Listener.Accept()
}

func (g *gatedListener) Close() error {
	select {
	case <-g.done:
	default:
		close(g.done)
	}
	return g.Listener.Close()
}

func newSlowConnect(t *testing.T) *slowConnect {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	sa := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Bind(fd, sa); err != nil {
		_ = unix.Close(fd)
		t.Fatalf("bind 127.0.0.1:0: %v", err)
	}
	// The point of the test: net.Listen would ask for somaxconn.
	if err := unix.Listen(fd, 1); err != nil {
		_ = unix.Close(fd)
		t.Fatalf("listen(fd, 1): %v", err)
	}
	file := os.NewFile(uintptr(fd), "slow-listener")
	ln, err := net.FileListener(file) // a dup; listen is not called again
	_ = file.Close()
	if err != nil {
		t.Fatalf("FileListener: %v", err)
	}
	s := &slowConnect{t: t, addr: ln.Addr().String(), allow: make(chan struct{}, 16)}
	s.ln = &gatedListener{Listener: ln, allow: s.allow, done: make(chan struct{})}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "ok")
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(s.ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		for _, c := range s.fill {
			_ = c.Close()
		}
	})
	return s
}

// filled dials fillers until the accept queue is full, which a dial that
// gets no answer in 200ms proves (its SYN was dropped).
func (s *slowConnect) filled() {
	s.t.Helper()
	for range 2 {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			s.t.Fatalf("dialling a filler connection: %v", err)
		}
		s.fill = append(s.fill, c)
	}
	c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
	if err == nil {
		_ = c.Close()
		s.t.Fatal("a third connection was taken at once: the accept queue of listen(fd, 1) is not full with two")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		s.t.Fatalf("probing the full queue: %v, want a timeout", err)
	}
}

// listenOverflows is the TcpExt ListenOverflows counter: SYNs dropped on a
// full accept queue, in this network namespace.
func listenOverflows(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/net/netstat")
	if err != nil {
		t.Fatalf("reading the TCP counters: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var names []string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "TcpExt:" {
			continue
		}
		if names == nil {
			names = fields
			continue
		}
		for i, n := range names {
			if n == "ListenOverflows" && i < len(fields) {
				v, err := strconv.ParseInt(fields[i], 10, 64)
				if err != nil {
					t.Fatalf("ListenOverflows %q: %v", fields[i], err)
				}
				return v
			}
		}
	}
	t.Fatal("/proc/net/netstat has no TcpExt ListenOverflows")
	return 0
}

// slowRound runs a round of name against the full queue: once the probe's
// SYN was dropped (the counter moved, and not sooner than the probe can
// have dialled), the server may accept the two fillers and the probe, whose
// SYN is taken on its retransmission. It returns the round's outcome.
func (s *slowConnect) slowRound(f *fixture, name string) *result.Outcome {
	s.t.Helper()
	s.filled()
	before := listenOverflows(s.t)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		f.round(name)
	}()
	deadline := start.Add(900 * time.Millisecond)
	for listenOverflows(s.t) == before || time.Since(start) < 200*time.Millisecond {
		if time.Now().After(deadline) {
			<-done
			s.t.Fatal("no SYN was dropped on the full queue within 900ms of the round")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range 3 {
		s.allow <- struct{}{}
	}
	<-done
	return f.last(name)
}

// fastRound runs a round with the server accepting at once.
func (s *slowConnect) fastRound(f *fixture, name string) *result.Outcome {
	s.t.Helper()
	s.allow <- struct{}{}
	f.round(name)
	return f.last(name)
}

func (f *fixture) last(name string) *result.Outcome {
	f.t.Helper()
	m := f.d.lookup(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		f.t.Fatalf("%s has no last result", name)
	}
	return m.last
}

// A target whose connect waits for a SYN retransmission, while it answers
// at once, opens a performance warning after degraded_rounds rounds that
// names the connect, not the TTFB or the total it also makes slow, and
// stays up; connects that are fast again resolve it.
func TestDegradedNamesASlowConnect(t *testing.T) {
	s := newSlowConnect(t)
	deg := config.Degraded{Connect: 300 * time.Millisecond, TTFB: 500 * time.Millisecond, Total: 800 * time.Millisecond}
	f, _ := newWarnFixture(t, monitorTOML("web", "http://"+s.addr+"/"), withWarnings(nil, deg, 2), nil, nil)

	for i := 1; i <= 2; i++ {
		out := s.slowRound(f, "web")
		t.Logf("slow round %d: phases %+v", i, out.Phases)
		if !out.OK || out.Phases.ConnectMs <= 800 || out.Phases.ConnectMs >= 1900 || out.Phases.TTFBMs >= 300 {
			t.Fatalf("slow round %d: ok=%v class=%s phases %+v, want up with a connect of about 1 s and a small TTFB", i, out.OK, out.Class, out.Phases)
		}
		perf := f.kindIncidents("web", incident.KindPerformance)
		if i == 1 && len(perf) != 0 {
			t.Fatalf("after one slow round: %+v, want none yet (degraded_rounds = 2)", perf)
		}
	}
	perf := f.kindIncidents("web", incident.KindPerformance)
	if len(perf) != 1 || !perf[0].Open() || perf[0].Class != result.ClassDegraded || perf[0].Detail != result.PhaseConnect || perf[0].Severity != incident.SeverityWarning {
		t.Fatalf("after two slow rounds: %+v, want one open degraded warning naming connect", perf)
	}
	if w := perf[0].Last.Warning; w == nil || w.Phase != result.PhaseConnect || w.ThresholdMs != 300 || len(w.Seen) != 1 || !w.Seen[0].Over || w.Seen[0].Ms <= 800 {
		t.Fatalf("the warning %+v, want the connect over 300ms as seen", w)
	}
	if s := f.state("web"); s != incident.StateUp {
		t.Fatalf("target %s, want up: a slow connect is degraded, not down", s)
	}
	if targets := f.kindIncidents("web", incident.KindTarget); len(targets) != 0 {
		t.Fatalf("target incidents %+v, want none", targets)
	}
	if st := f.d.lookup("web").status.Load(); !st.degraded {
		t.Errorf("published status %+v, want degraded", st)
	}

	for range 2 { // recover = 2
		if out := s.fastRound(f, "web"); !out.OK || out.Phases.ConnectMs >= 300 {
			t.Fatalf("fast round: ok=%v phases %+v, want a fast connect", out.OK, out.Phases)
		}
	}
	inc, err := f.d.store.Incident(context.Background(), perf[0].ID)
	if err != nil || inc.Open() {
		t.Fatalf("after two fast rounds: %+v (%v), want resolved", inc, err)
	}
}
