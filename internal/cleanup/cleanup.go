// Package cleanup is how start-up and shutdown undo what they started: one
// stack of named cleanups, run last in, first out, so that what started
// last (and may use what started before it) stops first, and adding a step
// cannot put it in the wrong place of a hand-ordered list. A failing
// cleanup is logged with its name and does not keep the ones below it from
// running.
package cleanup

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Stack is a stack of named cleanups. The zero value is not usable; call
// New. It is safe for concurrent use.
type Stack struct {
	log *slog.Logger

	mu    sync.Mutex
	steps []step
}

type step struct {
	name string
	fn   func() error
}

// New makes an empty stack that logs failing cleanups to log (discarded if
// nil).
func New(log *slog.Logger) *Stack {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Stack{log: log}
}

// Push adds fn on top of the stack. name says what fn does, as an error
// would ("closing store"): it prefixes fn's error.
func (s *Stack) Push(name string, fn func() error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.steps = append(s.steps, step{name, fn})
}

// PushFunc is Push for a cleanup that cannot fail.
func (s *Stack) PushFunc(name string, fn func()) {
	s.Push(name, func() error { fn(); return nil })
}

// Names lists the cleanups in the order Run would run them.
func (s *Stack) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.steps))
	for i := len(s.steps) - 1; i >= 0; i-- {
		out = append(out, s.steps[i].name)
	}
	return out
}

// Run runs every cleanup, the last pushed first, and empties the stack, so
// a second Run does nothing. Each failure is logged with its cleanup's name;
// the errors are returned joined, each prefixed with that name.
func (s *Stack) Run() error {
	s.mu.Lock()
	steps := s.steps
	s.steps = nil
	s.mu.Unlock()
	var errs []error
	for i := len(steps) - 1; i >= 0; i-- {
		st := steps[i]
		if err := st.fn(); err != nil {
			s.log.Error("cleanup failed", "cleanup", st.name, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", st.name, err))
		}
	}
	return errors.Join(errs...)
}
