package cleanup

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

func TestRunsInReverseAndKeepsGoingPastAFailure(t *testing.T) {
	var logs bytes.Buffer
	s := New(slog.New(slog.NewTextHandler(&logs, nil)))
	var ran []string
	boom := errors.New("disk on fire")
	s.PushFunc("releasing lock", func() { ran = append(ran, "lock") })
	s.Push("closing store", func() error { ran = append(ran, "store"); return boom })
	s.PushFunc("stopping scheduler", func() { ran = append(ran, "scheduler") })

	if got, want := s.Names(), []string{"stopping scheduler", "closing store", "releasing lock"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	err := s.Run()
	if want := []string{"scheduler", "store", "lock"}; !slices.Equal(ran, want) {
		t.Fatalf("ran %v, want %v: last pushed first, and a failure stops none of the rest", ran, want)
	}
	if !errors.Is(err, boom) || err.Error() != "closing store: disk on fire" {
		t.Fatalf("Run() = %v, want the store's error named after its cleanup", err)
	}
	if l := logs.String(); !strings.Contains(l, "cleanup failed") || !strings.Contains(l, `cleanup="closing store"`) || strings.Count(l, "\n") != 1 {
		t.Fatalf("log %q, want one line naming the failed cleanup", l)
	}

	// Run empties the stack: undoing twice would close a store twice.
	if err := s.Run(); err != nil || len(ran) != 3 || len(s.Names()) != 0 {
		t.Fatalf("second Run: %v, ran %v, left %v", err, ran, s.Names())
	}
}
