package history

import (
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// Agg is what one rollup bucket holds: how many checks ran, how many
// failed, and a histogram of each phase's duration. The zero value is empty.
//
// TODO(helper A): implement; see /work/wt/CONTRACT13.md.
type Agg struct {
	Checks, Failures uint64
	Phases           [NumPhases]Histogram
}

// Add counts one check.
func (a *Agg) Add(r *result.Result) { panic("unimplemented") }

// Merge adds o into a.
func (a *Agg) Merge(o *Agg) { panic("unimplemented") }

// Summary is phase p's p50, p95 and max.
func (a *Agg) Summary(p Phase) PhaseSummary { panic("unimplemented") }

// AppendBinary appends a's compact, versioned encoding to b.
func (a *Agg) AppendBinary(b []byte) ([]byte, error) { panic("unimplemented") }

// UnmarshalBinary decodes what AppendBinary wrote; garbage is an error.
func (a *Agg) UnmarshalBinary(b []byte) error { panic("unimplemented") }

// Accumulator gathers checks into minute buckets in memory until they are
// drained to the store. It is safe for concurrent use.
type Accumulator struct{}

// NewAccumulator returns an empty accumulator.
func NewAccumulator() *Accumulator { return &Accumulator{} }

// Add counts r, a check of monitor from vantage that ran at at.
func (a *Accumulator) Add(monitor, vantage string, at time.Time, r *result.Result) {
	panic("unimplemented")
}

// Drain removes and returns the minute buckets that ended at or before
// before (closed minutes); with a zero before, every bucket.
func (a *Accumulator) Drain(before time.Time) []Bucket { panic("unimplemented") }
