package history

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// exactQuantile is the rank rule Quantile promises, on the sorted samples
// themselves: the ceil(q·n)-th smallest.
func exactQuantile(sorted []float64, q float64) float64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func histogramOf(values ...float64) *Histogram {
	var h Histogram
	for _, v := range values {
		h.Add(v)
	}
	return &h
}

// within says whether got is within the sketch's relative error of want,
// with room for the float error of computing a bucket's bounds.
func within(got, want float64) bool {
	return math.Abs(got-want) <= want*RelativeError*(1+1e-9)
}

func TestHistogramBucketsSpanTheirRangeWithinTheRelativeError(t *testing.T) {
	if RelativeError > 0.05 {
		t.Fatalf("RelativeError = %v, want at most 5%%", RelativeError)
	}
	// Every value from 0.01 ms to 10 minutes is answered for by its
	// bucket's value within the error: none falls into an edge bucket.
	const lo, hi = 0.01, 600_000.0
	steps := 20_000
	for i := 0; i <= steps; i++ {
		v := lo * math.Pow(hi/lo, float64(i)/float64(steps))
		if got := valueOf(bucketOf(v)); !within(got, v) {
			t.Fatalf("value %v: bucket %d answers %v, more than %.2f%% off", v, bucketOf(v), got, 100*RelativeError)
		}
	}
	if bucketOf(0.001) != 0 || bucketOf(1e9) != numBuckets-1 {
		t.Errorf("outside values go to buckets %d and %d, want the edges 0 and %d", bucketOf(0.001), bucketOf(1e9), numBuckets-1)
	}
}

func TestHistogramQuantileMatchesTheExactQuantileWithinTheRelativeError(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := func(k int, f func() float64) []float64 {
		out := make([]float64, k)
		for i := range out {
			out[i] = f()
		}
		return out
	}
	cases := []struct {
		name   string
		values []float64
	}{
		{"one value", []float64{42.5}},
		{"two values", []float64{3, 300}},
		{"constant", n(100, func() float64 { return 87.3 })},
		{"uniform 1..1000 ms", n(5000, func() float64 { return 1 + 999*rng.Float64() })},
		{"lognormal around 80 ms", n(5000, func() float64 { return math.Exp(math.Log(80) + 0.6*rng.NormFloat64()) })},
		{"bimodal cache hits and misses", n(3000, func() float64 {
			if rng.IntN(10) < 8 {
				return 4 + rng.Float64()
			}
			return 1800 + 400*rng.Float64()
		})},
		{"sub-millisecond DNS", n(500, func() float64 { return 0.01 + 0.5*rng.Float64() })},
		{"slow tail to minutes", n(2000, func() float64 { return math.Exp(rng.Float64() * math.Log(500_000)) })},
		{"ten distinct", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	}
	qs := []float64{0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := histogramOf(c.values...)
			sorted := slices.Sorted(slices.Values(c.values))
			if h.Count() != uint64(len(c.values)) {
				t.Fatalf("Count = %d, want %d", h.Count(), len(c.values))
			}
			if h.Max() != sorted[len(sorted)-1] {
				t.Fatalf("Max = %v, want exactly %v", h.Max(), sorted[len(sorted)-1])
			}
			for _, q := range qs {
				got, want := h.Quantile(q), exactQuantile(sorted, q)
				if !within(got, want) {
					t.Errorf("Quantile(%v) = %v, exact %v: %.2f%% off", q, got, want, 100*math.Abs(got-want)/want)
				}
				if got > h.Max() {
					t.Errorf("Quantile(%v) = %v above Max %v", q, got, h.Max())
				}
			}
		})
	}
}

func TestHistogramQuantileRankRule(t *testing.T) {
	// 1..10 ms fall in ten different buckets, so the rank picked shows.
	h := histogramOf(10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	for _, c := range []struct {
		q    float64
		want float64 // the ceil(q·10)-th smallest value
	}{
		{0.1, 1}, {0.11, 2}, {0.5, 5}, {0.51, 6}, {0.95, 10}, {0.9, 9}, {1, 10},
		{0, 1}, {-1, 1}, {2, 10}, // outside (0, 1]: the nearest rank
	} {
		if got := h.Quantile(c.q); !within(got, c.want) {
			t.Errorf("Quantile(%v) = %v, want about %v", c.q, got, c.want)
		}
	}
	if got := h.Quantile(math.NaN()); got != 0 {
		t.Errorf("Quantile(NaN) = %v, want 0", got)
	}
}

func TestHistogramEdges(t *testing.T) {
	var empty Histogram
	if empty.Count() != 0 || empty.Max() != 0 || empty.Quantile(0.5) != 0 || empty.Quantile(1) != 0 {
		t.Errorf("empty histogram: count %d max %v p50 %v p100 %v, want all 0",
			empty.Count(), empty.Max(), empty.Quantile(0.5), empty.Quantile(1))
	}

	ignored := histogramOf(0, -3, math.NaN(), math.Inf(1), math.Inf(-1))
	if ignored.Count() != 0 || ignored.Max() != 0 {
		t.Errorf("zero, negative, NaN and infinite values: count %d max %v, want them ignored", ignored.Count(), ignored.Max())
	}

	// The answer is clamped to Max: 100 ms lies below its bucket's value.
	if got := histogramOf(100, 100, 100).Quantile(0.5); got != 100 {
		t.Errorf("p50 of 100 ms ×3 = %v, want 100 (never above Max)", got)
	}

	// Below the lowest bucket: counted there, and Max keeps the truth.
	tiny := histogramOf(0.0001, 0.0002)
	if tiny.Count() != 2 || tiny.Max() != 0.0002 || tiny.Quantile(1) != 0.0002 {
		t.Errorf("tiny values: count %d max %v p100 %v, want 2, 0.0002, 0.0002", tiny.Count(), tiny.Max(), tiny.Quantile(1))
	}

	// Above the highest: the top bucket answers, Max stays exact.
	hour := 3.6e6
	huge := histogramOf(50, hour, hour)
	if huge.Max() != hour {
		t.Errorf("Max = %v, want %v exactly", huge.Max(), hour)
	}
	if got := huge.Quantile(0.9); got < 565_000 || got > 623_000 {
		t.Errorf("p90 of values beyond the top bucket = %v, want the top bucket's value (~593,000)", got)
	}
	if got := histogramOf(1e15).Max(); got != maxMs {
		t.Errorf("Max of 1e15 ms = %v, want capped at %v", got, maxMs)
	}
}

func randomHistogram(rng *rand.Rand, n int) (*Histogram, []float64) {
	values := make([]float64, n)
	for i := range values {
		values[i] = math.Exp(math.Log(0.005) + rng.Float64()*math.Log(2e8))
	}
	return histogramOf(values...), values
}

func TestHistogramMergeIsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		a, av := randomHistogram(rng, rng.IntN(40))
		b, bv := randomHistogram(rng, rng.IntN(40))
		c, cv := randomHistogram(rng, rng.IntN(40))

		// Merging is the histogram of the union.
		union := histogramOf(slices.Concat(av, bv, cv)...)
		ab := a.clone()
		ab.Merge(b)
		abc := ab.clone()
		abc.Merge(c)
		if !abc.Equal(union) {
			t.Fatalf("(a+b)+c = %+v, the union's histogram %+v", abc, union)
		}
		// Associative.
		bc := b.clone()
		bc.Merge(c)
		aThenBC := a.clone()
		aThenBC.Merge(&bc)
		if !aThenBC.Equal(&abc) {
			t.Fatalf("a+(b+c) = %+v, (a+b)+c = %+v", aThenBC, abc)
		}
		// Commutative.
		ba := b.clone()
		ba.Merge(a)
		if !ba.Equal(&ab) {
			t.Fatalf("b+a = %+v, a+b = %+v", ba, ab)
		}
	}
}

func TestHistogramMergeInPlaceAndSelf(t *testing.T) {
	h := histogramOf(1, 10, 100)
	sub := histogramOf(10, 100, 100)
	h.Merge(sub) // no new bucket: updated in place
	if want := histogramOf(1, 10, 100, 10, 100, 100); !h.Equal(want) {
		t.Errorf("merge of a subset = %+v, want %+v", h, want)
	}
	h.Merge(h)
	if want := histogramOf(1, 10, 100, 10, 100, 100, 1, 10, 100, 10, 100, 100); !h.Equal(want) {
		t.Errorf("merge with itself = %+v, want %+v", h, want)
	}
	h.Merge(nil)
	h.Merge(&Histogram{})
	if h.Count() != 12 {
		t.Errorf("merging nil and empty changed the count to %d", h.Count())
	}

	// A merge into an empty histogram copies: adding to the source later
	// does not reach the destination.
	var dst Histogram
	src := histogramOf(5, 6)
	dst.Merge(src)
	src.Add(5)
	src.Add(7000)
	if want := histogramOf(5, 6); !dst.Equal(want) {
		t.Errorf("destination changed with its source: %+v, want %+v", dst, want)
	}
}

func TestHistogramCountsSaturate(t *testing.T) {
	i := bucketOf(10)
	h := Histogram{max: 10, total: maxCount - 1, bins: []bin{{idx: i, n: maxCount - 1}}}
	o := Histogram{max: 10, total: 5, bins: []bin{{idx: i, n: 5}}}
	h.Merge(&o)
	if h.bins[0].n != maxCount || h.total != maxCount {
		t.Errorf("merged count %d total %d, want both saturated at %d", h.bins[0].n, h.total, uint32(maxCount))
	}
	h.Add(10)
	if h.bins[0].n != maxCount || h.total != maxCount {
		t.Errorf("after Add: count %d total %d, want both saturated at %d", h.bins[0].n, h.total, uint32(maxCount))
	}
}

func BenchmarkHistogramQuantile(b *testing.B) {
	// A day of one phase at 30 s: 2880 durations around 80 ms.
	rng := rand.New(rand.NewPCG(5, 6))
	var h Histogram
	for range 2880 {
		h.Add(math.Exp(math.Log(80) + 0.5*rng.NormFloat64()))
	}
	b.ReportAllocs()
	var sink float64
	for b.Loop() {
		sink += h.Quantile(0.95)
	}
	_ = sink
}

func BenchmarkHistogramAdd(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	values := make([]float64, 1024)
	for i := range values {
		values[i] = math.Exp(math.Log(80) + 0.5*rng.NormFloat64())
	}
	var h Histogram
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Add(values[i%len(values)])
		i++
	}
}
