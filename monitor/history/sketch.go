package history

import (
	"math"
	"slices"
)

// The histogram's buckets are fixed, so that any two histograms merge
// exactly by adding counts, whatever process or day made them. Bucket k
// holds the values in (gamma^(k-1), gamma^k] milliseconds, the DDSketch
// layout: answering with the bucket's weighted midpoint 2·gamma^k/(gamma+1)
// is never further than (gamma-1)/(gamma+1) ≈ 4.8% from any value in it.
// Buckets -48 .. 140 span about 0.0094 ms to 623,000 ms (10.4 minutes),
// 189 buckets; values outside fall into the edge buckets.
const (
	gamma       = 1.1
	minBucket   = -48
	maxBucket   = 140
	numBuckets  = maxBucket - minBucket + 1
	maxCount    = math.MaxUint32
	invLogGamma = 1 / 0.09531017980432486 // 1 / ln(1.1)

	// RelativeError bounds how far Quantile may be from the exact quantile
	// of the values added, for values inside the buckets' span (about
	// 0.01 ms to 10 minutes).
	RelativeError = (gamma - 1) / (gamma + 1)

	// maxMs caps Max: durations beyond it (31 years) are not a check's, and
	// the cap keeps Max an exact whole number of microseconds in a float64
	// and in the encoding.
	maxMs = 1e12
)

// bin is one non-empty bucket: its index less minBucket, and its count.
// One slice of pairs rather than two slices halves the allocations of a
// histogram that grows, and its slice headers, which dominate when a
// minute's histogram holds one or two buckets.
type bin struct {
	idx uint16
	n   uint32
}

// Histogram is a mergeable latency sketch: counts in fixed log-scale
// buckets of milliseconds, with the exact maximum kept beside them.
// Storage is sparse, since a minute's durations fill few of the buckets.
// The zero value is an empty histogram.
type Histogram struct {
	max   float64
	total uint64
	// bins are the non-empty buckets, ascending by idx. total is the sum
	// of their counts.
	bins []bin
}

// bucketOf is the bucket holding ms (> 0), less minBucket; values beyond
// either edge land in the edge bucket.
func bucketOf(ms float64) uint16 {
	k := math.Ceil(math.Log(ms) * invLogGamma)
	switch {
	case k <= minBucket:
		return 0
	case k >= maxBucket:
		return numBuckets - 1
	}
	return uint16(int(k) - minBucket)
}

// valueOf is the value bucket i (less minBucket) answers with.
func valueOf(i uint16) float64 {
	return 2 * math.Pow(gamma, float64(int(i)+minBucket)) / (gamma + 1)
}

// Add counts one duration in milliseconds; NaN, infinite, negative and
// zero values are ignored (a phase that did not run). Durations beyond
// 10^12 ms count as 10^12 ms.
func (h *Histogram) Add(ms float64) {
	if !(ms > 0) || math.IsInf(ms, 1) {
		return
	}
	ms = min(ms, maxMs)
	i := bucketOf(ms)
	j, found := slices.BinarySearchFunc(h.bins, i, func(b bin, i uint16) int { return int(b.idx) - int(i) })
	if found {
		if h.bins[j].n == maxCount {
			// Saturated: four billion durations in one bucket is beyond
			// any rollup; total stays the sum of the counts.
			return
		}
		h.bins[j].n++
	} else {
		h.bins = slices.Insert(h.bins, j, bin{idx: i, n: 1})
	}
	h.total++
	h.max = max(h.max, ms)
}

// Merge adds o's counts to h. h and o share nothing afterwards.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.total == 0 {
		return
	}
	if o == h {
		c := o.clone()
		o = &c
	}
	h.max = max(h.max, o.max)
	if h.total == 0 {
		h.bins = slices.Clone(o.bins)
		h.total = o.total
		return
	}
	// Count the union first: when o brings no new bucket, as when a
	// minute's durations repeat the hour's, h's slice is updated in place.
	union := len(h.bins)
	for i, j := 0, 0; j < len(o.bins); {
		switch {
		case i < len(h.bins) && h.bins[i].idx < o.bins[j].idx:
			i++
		case i < len(h.bins) && h.bins[i].idx == o.bins[j].idx:
			i++
			j++
		default:
			union++
			j++
		}
	}
	out := h.bins
	if union > len(h.bins) {
		out = make([]bin, 0, union)
	}
	var total uint64
	merged := out[:0]
	i, j := 0, 0
	for i < len(h.bins) || j < len(o.bins) {
		var b bin
		switch {
		case j == len(o.bins) || (i < len(h.bins) && h.bins[i].idx < o.bins[j].idx):
			b = h.bins[i]
			i++
		case i == len(h.bins) || o.bins[j].idx < h.bins[i].idx:
			b = o.bins[j]
			j++
		default:
			b = bin{idx: h.bins[i].idx, n: uint32(min(uint64(h.bins[i].n)+uint64(o.bins[j].n), maxCount))}
			i++
			j++
		}
		total += uint64(b.n)
		// In place, merged never overtakes i: it grows by one for each
		// bucket of h read.
		merged = append(merged, b)
	}
	h.bins = merged
	h.total = total
}

func (h *Histogram) clone() Histogram {
	return Histogram{max: h.max, total: h.total, bins: slices.Clone(h.bins)}
}

// Count is how many durations were added.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest duration added, exactly (to the microsecond once
// decoded from the store).
func (h *Histogram) Max() float64 { return h.max }

// Quantile is the q-quantile (0 < q <= 1) in milliseconds, within the
// buckets' relative error, never above Max; 0 when empty. It answers for
// the ceil(q·n)-th smallest duration: the value of the first bucket where
// at least that many durations have been counted.
func (h *Histogram) Quantile(q float64) float64 {
	if h.total == 0 || math.IsNaN(q) {
		return 0
	}
	rank := uint64(1)
	if q >= 1 {
		rank = h.total
	} else if q > 0 {
		rank = max(1, uint64(math.Ceil(q*float64(h.total))))
	}
	var seen uint64
	for _, b := range h.bins {
		seen += uint64(b.n)
		if seen >= rank {
			return min(valueOf(b.idx), h.max)
		}
	}
	return h.max
}

// Equal says whether h and o hold the same counts and maximum.
func (h *Histogram) Equal(o *Histogram) bool {
	return h.max == o.max && h.total == o.total && slices.Equal(h.bins, o.bins)
}
