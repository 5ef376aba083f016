package store

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

func benchStore(b *testing.B) *Store {
	b.Helper()
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), FileName), Options{PruneInterval: -1, KeepResults: 20})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func reportRate(b *testing.B, start time.Time, n int) {
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "results/s")
}

// BenchmarkRecordResult is one Update per result, the shape of a daemon that
// commits each monitor's round on its own: result plus state snapshot.
func BenchmarkRecordResult(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	r := sampleResult(false, result.ClassBadGateway, 502, time.Now())
	state := json.RawMessage(`{"state":"failing","fails":1,"oks":0,"since":"2026-03-01T12:00:00Z"}`)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		m := fmt.Sprintf("monitor-%d", i%10000)
		err := s.Update(ctx, func(tx *Tx) error {
			if err := tx.RecordResult(ctx, &ResultRow{Monitor: m, Result: r}); err != nil {
				return err
			}
			return tx.SaveState(ctx, m, state)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, start, b.N)
}

// BenchmarkRecordResultsBatch100 is the batched path: 100 results per
// transaction.
func BenchmarkRecordResultsBatch100(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	r := sampleResult(false, result.ClassBadGateway, 502, time.Now())
	rows := make([]ResultRow, 100)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for i := 0; b.Loop(); i++ {
		for j := range rows {
			rows[j] = ResultRow{Monitor: fmt.Sprintf("monitor-%d", (i*100+j)%10000), Result: r}
		}
		if err := s.RecordResults(ctx, rows); err != nil {
			b.Fatal(err)
		}
		n += len(rows)
	}
	reportRate(b, start, n)
}

// BenchmarkDurableRound is a round that opens nothing but touches the outbox,
// so it pays the WAL fsync.
func BenchmarkDurableRound(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	r := sampleResult(false, result.ClassBadGateway, 502, time.Now())
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		err := s.Update(ctx, func(tx *Tx) error {
			if err := tx.RecordResult(ctx, &ResultRow{Monitor: "m", Result: r}); err != nil {
				return err
			}
			_, err := tx.Enqueue(ctx, OutboxEvent{Key: fmt.Sprint("k", i), Receiver: "slack", IncidentID: int64(i), Event: incident.NotifyOpen})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, start, b.N)
}
