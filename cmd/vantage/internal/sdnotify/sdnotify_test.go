package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listen binds a unixgram socket the way systemd does and returns the
// NOTIFY_SOCKET value naming it.
func listen(t *testing.T, abstract bool) (*net.UnixConn, string) {
	t.Helper()
	var name string
	if abstract {
		name = fmt.Sprintf("@vantage-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	} else {
		// Not t.TempDir: a unix socket path must stay under 108 bytes.
		dir, err := os.MkdirTemp("", "sdn")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		name = filepath.Join(dir, "notify.sock")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listening on %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, name
}

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// recv returns the next datagram, failing the test if none comes in time.
func recv(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no notification arrived: %v", err)
	}
	return string(buf[:n])
}

func monotonicNow(t *testing.T) time.Duration {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

func TestNotifications(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			conn, sock := listen(t, abstract)
			n := FromEnv(env("NOTIFY_SOCKET", sock))
			if !n.Enabled() {
				t.Fatal("FromEnv with NOTIFY_SOCKET set gave a disabled notifier")
			}

			if err := n.Ready(); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, conn); got != "READY=1" {
				t.Errorf("Ready sent %q", got)
			}

			before := monotonicNow(t)
			if err := n.Reloading(); err != nil {
				t.Fatal(err)
			}
			after := monotonicNow(t)
			lines := strings.Split(recv(t, conn), "\n")
			if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
				t.Fatalf("Reloading sent %q, want RELOADING=1 and MONOTONIC_USEC=", lines)
			}
			us, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
			if err != nil {
				t.Fatalf("MONOTONIC_USEC: %v", err)
			}
			if us < before.Microseconds() || us > after.Microseconds() {
				t.Errorf("MONOTONIC_USEC=%d, want between %d and %d (CLOCK_MONOTONIC around the call)", us, before.Microseconds(), after.Microseconds())
			}

			if err := n.Status("running: 3 monitors\nsecond line"); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, conn); got != "STATUS=running: 3 monitors second line" {
				t.Errorf("Status sent %q", got)
			}

			if err := n.Stopping(); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, conn); got != "STOPPING=1" {
				t.Errorf("Stopping sent %q", got)
			}

			if err := n.Watchdog(); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, conn); got != "WATCHDOG=1" {
				t.Errorf("Watchdog sent %q", got)
			}

			if err := n.Send("STATUS=reloading", "RELOADING=1"); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, conn); got != "STATUS=reloading\nRELOADING=1" {
				t.Errorf("Send of two lines sent %q", got)
			}
		})
	}
}

func TestUnsetIsNoOp(t *testing.T) {
	n := FromEnv(env())
	if n != nil || n.Enabled() {
		t.Fatalf("FromEnv without NOTIFY_SOCKET = %+v, want nil", n)
	}
	for name, call := range map[string]func() error{
		"Ready": n.Ready, "Reloading": n.Reloading, "Stopping": n.Stopping,
		"Watchdog": n.Watchdog, "Status": func() error { return n.Status("x") },
		"Send": func() error { return n.Send("READY=1") },
	} {
		if err := call(); err != nil {
			t.Errorf("%s on a nil Notifier: %v", name, err)
		}
	}
	done := make(chan struct{})
	go func() {
		n.RunWatchdog(context.Background(), time.Second, func() bool { return true }, nil)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunWatchdog on a nil Notifier did not return")
	}
}

func TestBadSocket(t *testing.T) {
	for _, tc := range []struct {
		name, sock, want string
	}{
		{"relative path", "run/notify", "NOTIFY_SOCKET"},
		{"bare at", "@", "NOTIFY_SOCKET"},
		{"missing socket file", "/nonexistent-dir-for-sdnotify/notify.sock", "connecting to /nonexistent-dir-for-sdnotify/notify.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := FromEnv(env("NOTIFY_SOCKET", tc.sock)).Ready()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Ready with NOTIFY_SOCKET=%q: err = %v, want one mentioning %q", tc.sock, err, tc.want)
			}
		})
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	other := strconv.Itoa(os.Getpid() + 1)
	for _, tc := range []struct {
		name    string
		env     func(string) string
		want    time.Duration
		ok, err bool
	}{
		{"unset", env(), 0, false, false},
		{"no pid", env("WATCHDOG_USEC", "30000000"), 30 * time.Second, true, false},
		{"our pid", env("WATCHDOG_USEC", "1500", "WATCHDOG_PID", me), 1500 * time.Microsecond, true, false},
		{"another pid", env("WATCHDOG_USEC", "30000000", "WATCHDOG_PID", other), 0, false, false},
		{"bad pid", env("WATCHDOG_USEC", "30000000", "WATCHDOG_PID", "x"), 0, false, true},
		{"not a number", env("WATCHDOG_USEC", "30s"), 0, false, true},
		{"zero", env("WATCHDOG_USEC", "0"), 0, false, true},
		{"negative", env("WATCHDOG_USEC", "-5"), 0, false, true},
		{"overflow", env("WATCHDOG_USEC", "99999999999999999999"), 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := WatchdogInterval(tc.env)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error: %v", err, tc.err)
			}
			if got != tc.want || ok != tc.ok {
				t.Errorf("WatchdogInterval = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// watchdogRig runs RunWatchdog on a real socket with a hand-driven ticker.
type watchdogRig struct {
	t      *testing.T
	conn   *net.UnixConn
	n      *Notifier
	ticks  chan time.Time
	checks chan bool // every healthy() answer, as RunWatchdog saw it
	period time.Duration
}

func newWatchdogRig(t *testing.T, interval time.Duration, healthy func() bool) *watchdogRig {
	conn, sock := listen(t, false)
	r := &watchdogRig{t: t, conn: conn, n: FromEnv(env("NOTIFY_SOCKET", sock)),
		ticks: make(chan time.Time), checks: make(chan bool, 16)}
	// Read r.period only after the first check: that orders the write.
	r.n.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
		r.period = d
		return r.ticks, func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.n.RunWatchdog(ctx, interval, func() bool {
			ok := healthy()
			r.checks <- ok
			return ok
		}, func(err error) { t.Errorf("watchdog send: %v", err) })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// tick drives one watchdog pass and returns what healthy() said. Sending on
// the unbuffered channel succeeds only once the previous pass has finished.
func (r *watchdogRig) tick() bool {
	r.t.Helper()
	r.ticks <- time.Now()
	return <-r.checks
}

// expectNoPing sends a marker that must be the next datagram: a ping from
// any pass before the last tick() would have arrived first, since tick()
// waits for the previous pass to finish.
func (r *watchdogRig) expectNoPing(marker string) {
	r.t.Helper()
	if err := r.n.Status(marker); err != nil {
		r.t.Fatal(err)
	}
	if got := recv(r.t, r.conn); got != "STATUS="+marker {
		r.t.Errorf("got %q before the marker; a wedged daemon must not feed the watchdog", got)
	}
}

func TestRunWatchdogFollowsHealth(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	r := newWatchdogRig(t, 10*time.Second, healthy.Load)

	if !<-r.checks {
		t.Fatal("first check unhealthy")
	}
	if got := recv(t, r.conn); got != "WATCHDOG=1" {
		t.Fatalf("first ping: %q", got)
	}
	if r.period != 5*time.Second {
		t.Errorf("ticker period %v, want half the 10s interval", r.period)
	}
	if !r.tick() {
		t.Fatal("tick unhealthy")
	}
	if got := recv(t, r.conn); got != "WATCHDOG=1" {
		t.Fatalf("ping while healthy: %q", got)
	}

	healthy.Store(false)
	for range 3 {
		if r.tick() {
			t.Fatal("healthy() said true after turning false")
		}
	}
	r.expectNoPing("wedged")

	healthy.Store(true)
	if !r.tick() {
		t.Fatal("tick unhealthy after recovery")
	}
	if got := recv(t, r.conn); got != "WATCHDOG=1" {
		t.Fatalf("no ping after recovery: %q", got)
	}
}

// A scheduler whose LastTick stops advancing stops the pings once `within`
// has passed, and they resume when it advances again.
func TestWatchdogStopsForWedgedScheduler(t *testing.T) {
	const interval = 10 * time.Second
	var (
		mu       sync.Mutex
		now      = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		lastTick = now
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	last := func() time.Time { mu.Lock(); defer mu.Unlock(); return lastTick }
	step := func(d time.Duration, schedulerRuns bool) {
		mu.Lock()
		now = now.Add(d)
		if schedulerRuns {
			lastTick = now
		}
		mu.Unlock()
	}
	r := newWatchdogRig(t, interval, Progressing(last, clock, interval))
	<-r.checks
	if got := recv(t, r.conn); got != "WATCHDOG=1" {
		t.Fatalf("first ping: %q", got)
	}

	// Running: every pass pings.
	for range 3 {
		step(interval/2, true)
		if !r.tick() {
			t.Fatal("a progressing scheduler was judged unhealthy")
		}
		if got := recv(t, r.conn); got != "WATCHDOG=1" {
			t.Fatalf("ping: %q", got)
		}
	}

	// Wedged: pings continue until `within` has passed without progress,
	// then stop.
	var answers []bool
	for range 4 {
		step(interval/2, false)
		answers = append(answers, r.tick())
	}
	if want := []bool{true, true, false, false}; fmt.Sprint(answers) != fmt.Sprint(want) {
		t.Errorf("health while wedged over 4 half-intervals = %v, want %v", answers, want)
	}
	recv(t, r.conn) // the two pings still within `within`
	recv(t, r.conn)
	r.expectNoPing("wedged")

	// Recovered.
	step(interval/2, true)
	if !r.tick() {
		t.Fatal("a recovered scheduler was judged unhealthy")
	}
	if got := recv(t, r.conn); got != "WATCHDOG=1" {
		t.Fatalf("no ping after recovery: %q", got)
	}
}

func TestProgressing(t *testing.T) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		now, last time.Duration // offsets from base
		want      bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"advancing", []step{{0, 0, true}, {5, 5, true}, {30, 30, true}}},
		{"never ticked", []step{{0, -1, true}, {10, -1, true}, {11, -1, false}}},
		{"wedged then recovers", []step{{0, 0, true}, {10, 0, true}, {11, 0, false}, {12, 12, true}}},
		// A wall-clock step backwards moves LastTick backwards: still progress.
		{"clock stepped back", []step{{0, 0, true}, {5, -3600, true}, {14, -3595, true}}},
		// LastTick stamped by a wall clock far ahead of now: change is what counts.
		{"clock stepped forward", []step{{0, 0, true}, {5, 3600, true}, {10, 3605, true}, {20, 3605, true}, {21, 3605, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var i int
			at := func(d time.Duration) time.Time {
				if d == -1 {
					return time.Time{}
				}
				return base.Add(d * time.Second)
			}
			healthy := Progressing(
				func() time.Time { return at(tc.steps[i].last) },
				func() time.Time { return at(tc.steps[i].now) },
				10*time.Second)
			for i = range tc.steps {
				if got := healthy(); got != tc.steps[i].want {
					t.Errorf("step %d (now +%ds, last %+ds): healthy = %v, want %v",
						i, tc.steps[i].now, tc.steps[i].last, got, tc.steps[i].want)
				}
			}
		})
	}
}
