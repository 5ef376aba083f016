package history

// Histogram is a mergeable latency sketch: counts in fixed log-scale
// buckets of milliseconds, with the exact maximum kept beside them.
// The zero value is an empty histogram.
//
// TODO(helper A): implement; see /work/wt/CONTRACT13.md.
type Histogram struct {
	max   float64
	total uint64
	// buckets: sparse (index, count) pairs, ascending index.
	idx []uint16
	cnt []uint32
}

// Add counts one duration in milliseconds; NaN, negative and zero values
// are ignored (a phase that did not run).
func (h *Histogram) Add(ms float64) { panic("unimplemented") }

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) { panic("unimplemented") }

// Count is how many durations were added.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest duration added, exactly.
func (h *Histogram) Max() float64 { return h.max }

// Quantile is the q-quantile (0 < q <= 1) in milliseconds, within the
// buckets' relative error, never above Max; 0 when empty.
func (h *Histogram) Quantile(q float64) float64 { panic("unimplemented") }
