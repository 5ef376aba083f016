// Package sdnotify tells systemd about the service's state through the
// sd_notify protocol: one datagram of newline-separated VAR=value lines to
// the unix datagram socket named by $NOTIFY_SOCKET. It is in-house so the
// daemon needs no systemd library, and it is a no-op outside systemd, so
// callers never check whether they run under it.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// sendTimeout bounds a send: a unix datagram write blocks while the
// receiver's queue is full, and a stuck systemd must not stall the daemon.
const sendTimeout = time.Second

// Notifier sends state changes to systemd. A nil *Notifier (no
// $NOTIFY_SOCKET) accepts every call and sends nothing.
type Notifier struct {
	addr *net.UnixAddr
	err  error // why $NOTIFY_SOCKET is unusable; returned by every Send

	// monotonic reads CLOCK_MONOTONIC; tests replace it.
	monotonic func() (time.Duration, error)
	// newTicker drives RunWatchdog; tests replace it with a manual channel.
	newTicker func(time.Duration) (<-chan time.Time, func())
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET as read by getenv, or nil
// when it is unset. An address that is neither an absolute path nor an
// abstract "@name" gives a Notifier whose every Send reports why.
func FromEnv(getenv func(string) string) *Notifier {
	sock := getenv("NOTIFY_SOCKET")
	if sock == "" {
		return nil
	}
	n := &Notifier{}
	switch {
	case strings.HasPrefix(sock, "/"), len(sock) > 1 && sock[0] == '@':
		// Go maps a leading '@' to Linux's abstract namespace itself.
		n.addr = &net.UnixAddr{Name: sock, Net: "unixgram"}
	default:
		n.err = fmt.Errorf("NOTIFY_SOCKET %q: want an absolute path or an abstract @name", sock)
	}
	return n
}

// Enabled reports whether the notifier sends anything.
func (n *Notifier) Enabled() bool { return n != nil }

// Send sends the lines as one notification.
func (n *Notifier) Send(state ...string) error {
	if n == nil || len(state) == 0 {
		return nil
	}
	if n.err != nil {
		return n.err
	}
	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("notifying systemd: connecting to %s: %w", n.addr.Name, err)
	}
	defer conn.Close()
	if err := conn.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return fmt.Errorf("notifying systemd: %w", err)
	}
	if _, err := conn.Write([]byte(strings.Join(state, "\n"))); err != nil {
		return fmt.Errorf("notifying systemd: sending to %s: %w", n.addr.Name, err)
	}
	return nil
}

// Ready says start-up or a reload is complete.
func (n *Notifier) Ready() error { return n.Send("READY=1") }

// Reloading says a reload began. systemd (Type=notify-reload) requires the
// CLOCK_MONOTONIC time with it, to tell this reload from an older one.
func (n *Notifier) Reloading() error {
	if n == nil {
		return nil
	}
	clock := n.monotonic
	if clock == nil {
		clock = Monotonic
	}
	now, err := clock()
	if err != nil {
		return fmt.Errorf("notifying systemd of a reload: %w", err)
	}
	return n.Send("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatInt(now.Microseconds(), 10))
}

// Stopping says shutdown began.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1") }

// Status sets the one-line text `systemctl status` shows; line breaks
// become spaces since the protocol is line-based.
func (n *Notifier) Status(msg string) error {
	msg = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(msg)
	return n.Send("STATUS=" + msg)
}

// Watchdog feeds systemd's watchdog once.
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// Monotonic reads CLOCK_MONOTONIC, the clock systemd's MONOTONIC_USEC uses.
func Monotonic() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0, fmt.Errorf("reading CLOCK_MONOTONIC: %w", err)
	}
	return time.Duration(ts.Nano()), nil
}

// WatchdogInterval returns systemd's watchdog timeout from $WATCHDOG_USEC.
// ok is false when there is no watchdog for this process: the variable is
// unset, or $WATCHDOG_PID names another process (the variables were
// inherited). A malformed value is an error.
func WatchdogInterval(getenv func(string) string) (interval time.Duration, ok bool, err error) {
	usec := getenv("WATCHDOG_USEC")
	if usec == "" {
		return 0, false, nil
	}
	if p := getenv("WATCHDOG_PID"); p != "" {
		want, err := strconv.Atoi(p)
		if err != nil || want <= 0 {
			return 0, false, fmt.Errorf("WATCHDOG_PID %q: not a process id", p)
		}
		if want != os.Getpid() {
			return 0, false, nil
		}
	}
	us, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || us <= 0 || us > int64(time.Duration(1<<63-1)/time.Microsecond) {
		return 0, false, fmt.Errorf("WATCHDOG_USEC %q: not a positive number of microseconds", usec)
	}
	return time.Duration(us) * time.Microsecond, true, nil
}

// RunWatchdog feeds the watchdog every interval/2 until ctx ends, but only
// while healthy reports true: a wedged daemon must stop feeding it so that
// systemd restarts the service. Send errors do not stop it; errf (if not
// nil) hears about them.
func (n *Notifier) RunWatchdog(ctx context.Context, interval time.Duration, healthy func() bool, errf func(error)) {
	if n == nil || interval <= 0 {
		return
	}
	ping := func() {
		if !healthy() {
			return
		}
		if err := n.Watchdog(); err != nil && errf != nil {
			errf(err)
		}
	}
	newTicker := n.newTicker
	if newTicker == nil {
		newTicker = realTicker
	}
	ticks, stop := newTicker(max(interval/2, time.Millisecond))
	defer stop()
	ping() // the first deadline counts from READY=1, which came just before
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			ping()
		}
	}
}

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Progressing returns a health check that is true while last (e.g. the
// scheduler's LastTick) has changed within the past `within`, measured by
// now. It watches for change rather than comparing last with now, so a
// wall-clock step (NTP, a suspended VM) cannot fake a wedge or hide one.
// The first call starts the clock: a last that never moves is unhealthy
// after `within`.
func Progressing(last func() time.Time, now func() time.Time, within time.Duration) func() bool {
	var (
		mu      sync.Mutex
		seen    time.Time
		changed time.Time
		started bool
	)
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		l, t := last(), now()
		if !started || !l.Equal(seen) {
			started, seen, changed = true, l, t
			return true
		}
		return t.Sub(changed) <= within
	}
}
