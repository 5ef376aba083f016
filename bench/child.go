package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// children tracks every process the bench started, so that all of them can
// be killed on any way out: normal return, error path, or a signal.
type children struct {
	mu    sync.Mutex
	procs map[int]*child
}

// child is one started process; done is closed when it has exited, after
// which err holds what Wait returned.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func newChildren() *children { return &children{procs: map[int]*child{}} }

// start starts cmd in its own process group, so that a terminal's Ctrl-C
// reaches only the bench, which then kills the group, and so that nothing
// the child itself started outlives it. Pdeathsig covers the bench being
// killed outright.
func (cs *children) start(name string, cmd *exec.Cmd) (*child, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	cs.mu.Lock()
	cs.procs[cmd.Process.Pid] = c
	cs.mu.Unlock()
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the child has exited, and how.
func (c *child) exited() (bool, error) {
	select {
	case <-c.done:
		if c.err == nil {
			return true, fmt.Errorf("%s exited", c.name)
		}
		return true, fmt.Errorf("%s exited: %w", c.name, c.err)
	default:
		return false, nil
	}
}

// stop asks the child's process group to terminate, and kills it after
// grace.
func (cs *children) stop(c *child, grace time.Duration) {
	pid := c.pid()
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-c.done
	}
	// The leader is gone; anything it left in its group goes too.
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		fmt.Fprintf(os.Stderr, "bench: killing process group of %s: %v\n", c.name, err)
	}
	cs.mu.Lock()
	delete(cs.procs, pid)
	cs.mu.Unlock()
}

// killAll kills every process group still tracked. It is safe to call from
// a signal handler goroutine while other code is stopping children.
func (cs *children) killAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for pid := range cs.procs {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		delete(cs.procs, pid)
	}
}
