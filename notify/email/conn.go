package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// stepConn bounds every Read and Write on an SMTP connection by a fresh
// step timeout (and by ctx). go-mail sets one deadline when it dials and
// refreshes it only between messages, so without this a server that stalls
// after RCPT or in DATA would hold the sender for the whole remaining
// connection timeout, or forever once ctx has no deadline.
//
// It ignores go-mail's own SetDeadline calls: the deadline is ours.
type stepConn struct {
	net.Conn
	step     time.Duration
	ctx      context.Context
	stopCtx  func() bool
	mu       sync.Mutex // orders arm against the ctx-cancel callback
	canceled bool
	// stalled is the timeout that ended the exchange. After one the SMTP
	// dialogue is out of step, so later operations (go-mail's QUIT on the
	// way out) fail at once instead of waiting out another step.
	stalled error
}

func newStepConn(ctx context.Context, c net.Conn, step time.Duration) *stepConn {
	s := &stepConn{Conn: c, step: step, ctx: ctx}
	// Cancelling ctx must interrupt an operation already blocked in Read,
	// not just the next one.
	s.stopCtx = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.canceled = true
		_ = s.Conn.SetDeadline(time.Unix(1, 0))
	})
	return s
}

// arm sets the deadline for the next operation: now+step, or ctx's
// deadline if sooner, or the past once ctx is done.
func (s *stepConn) arm() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.canceled {
		return fmt.Errorf("smtp connection: %w", context.Cause(s.ctx))
	}
	if s.stalled != nil {
		return s.stalled
	}
	d := time.Now().Add(s.step)
	if cd, ok := s.ctx.Deadline(); ok && cd.Before(d) {
		d = cd
	}
	return s.Conn.SetDeadline(d)
}

func (s *stepConn) Read(b []byte) (int, error) {
	if err := s.arm(); err != nil {
		return 0, err
	}
	n, err := s.Conn.Read(b)
	s.check(err)
	return n, err
}

func (s *stepConn) Write(b []byte) (int, error) {
	if err := s.arm(); err != nil {
		return 0, err
	}
	n, err := s.Conn.Write(b)
	s.check(err)
	return n, err
}

func (s *stepConn) check(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.mu.Lock()
		if s.stalled == nil {
			s.stalled = err
		}
		s.mu.Unlock()
	}
}

// SetDeadline, SetReadDeadline and SetWriteDeadline are no-ops: arm owns
// the deadline, and go-mail's one-off deadline would otherwise be
// overwritten on the next operation anyway.
func (s *stepConn) SetDeadline(time.Time) error      { return nil }
func (s *stepConn) SetReadDeadline(time.Time) error  { return nil }
func (s *stepConn) SetWriteDeadline(time.Time) error { return nil }

func (s *stepConn) Close() error {
	s.stopCtx()
	return s.Conn.Close()
}

// dialer makes the connections of one send. It remembers the connection
// it made so the caller can close it: go-mail leaves the socket open when
// EHLO, STARTTLS or AUTH fails before it returns a client.
type dialer struct {
	ctx      context.Context // the Notify call's context, not go-mail's dial context
	step     time.Duration
	implicit *tls.Config // non-nil: TLS from the first byte

	mu   sync.Mutex
	conn net.Conn
}

// DialContext matches go-mail's DialContextFunc. dialCtx carries go-mail's
// connect deadline (the step timeout) on top of the Notify context.
func (d *dialer) DialContext(dialCtx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	raw, err := nd.DialContext(dialCtx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	var c net.Conn = newStepConn(d.ctx, raw, d.step)
	if d.implicit != nil {
		tc := tls.Client(c, d.implicit)
		// Handshake here, so a certificate problem is reported as such
		// and smtp.NewClient sees a *tls.Conn (it then knows the session
		// is encrypted and allows AUTH over it).
		if err := tc.HandshakeContext(dialCtx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		c = tc
	}
	d.mu.Lock()
	d.conn = c
	d.mu.Unlock()
	return c, nil
}

// close closes the connection if one was made; closing one go-mail
// already closed is harmless.
func (d *dialer) close() {
	d.mu.Lock()
	c := d.conn
	d.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}
