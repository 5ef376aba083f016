package store

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
)

func TestWriteFaultFailsWritesAndViewStillReads(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t, newClock(), Options{})
	update(t, s, func(tx *Tx) error {
		_, err := tx.Enqueue(ctx, OutboxEvent{Key: "k1", Receiver: "ops", Event: incident.NotifyOpen})
		return err
	})

	s.SetWriteFault(syscall.ENOSPC)
	err := s.Update(ctx, func(tx *Tx) error {
		_, err := tx.Enqueue(ctx, OutboxEvent{Key: "k2", Receiver: "ops", Event: incident.NotifyOpen})
		return err
	})
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Update under an injected ENOSPC: %v, want ErrDiskFull naming %s", err, path)
	}
	if err := s.RecordResults(ctx, []ResultRow{{Monitor: "shop"}}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("RecordResults under an injected ENOSPC: %v, want ErrDiskFull", err)
	}
	var st1, st2 KeyStatus
	err = s.View(ctx, func(tx *Tx) error {
		var err error
		if st1, err = tx.KeyStatus(ctx, "k1"); err != nil {
			return err
		}
		st2, err = tx.KeyStatus(ctx, "k2")
		return err
	})
	if err != nil || st1 != KeyQueued || st2 != KeyUnknown {
		t.Fatalf("View while writes fail: %v, k1 %v k2 %v; want k1 queued, k2 unknown", err, st1, st2)
	}
	if err := s.View(ctx, func(tx *Tx) error { return tx.MarkDelivered(ctx, "k1") }); err == nil {
		t.Fatal("a write inside View succeeded")
	}

	s.SetWriteFault(nil)
	update(t, s, func(tx *Tx) error { return tx.MarkDelivered(ctx, "k1") })
	if _, ok, err := s.Delivered(ctx, "k1"); err != nil || !ok {
		t.Fatalf("after the fault is cleared: delivered %v, %v", ok, err)
	}
}
