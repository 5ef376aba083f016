package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/result"
)

func check(ok bool, dns, connect, tls, ttfb, total float64) *result.Result {
	return &result.Result{OK: ok, Phases: result.Phases{DNSMs: dns, ConnectMs: connect, TLSMs: tls, TTFBMs: ttfb, TotalMs: total}}
}

func TestAggAddCountsChecksFailuresAndPhasesThatRan(t *testing.T) {
	var a Agg
	a.Add(check(true, 2, 10, 20, 50, 82))
	a.Add(check(false, 0, 0, 0, 0, 5000))    // DNS failed after 5 s
	a.Add(check(true, 1.5, 11, 0, 40, 52.5)) // plain HTTP: no TLS
	a.Add(nil)
	if a.Checks != 3 || a.Failures != 1 {
		t.Fatalf("checks %d failures %d, want 3 and 1", a.Checks, a.Failures)
	}
	for p, want := range map[Phase]struct {
		count uint64
		max   float64
	}{
		PhaseDNS: {2, 2}, PhaseConnect: {2, 11}, PhaseTLS: {1, 20}, PhaseTTFB: {2, 50}, PhaseTotal: {3, 5000},
	} {
		if h := &a.Phases[p]; h.Count() != want.count || h.Max() != want.max {
			t.Errorf("%s: count %d max %v, want %d and %v", p, h.Count(), h.Max(), want.count, want.max)
		}
	}
}

func TestAggSummary(t *testing.T) {
	var a Agg
	for i := 1; i <= 100; i++ {
		a.Add(check(true, 0, 0, 0, 0, float64(i)+0.123456))
	}
	a.Add(check(true, 0.0004, 0, 0, 0, 0))
	s := a.Summary(PhaseTotal)
	if !within(s.P50, 50.123456) || !within(s.P95, 95.123456) {
		t.Errorf("total p50 %v p95 %v, want about 50.1 and 95.1", s.P50, s.P95)
	}
	if s.Max != 100.123 {
		t.Errorf("total max %v, want 100.123 (exact, to the microsecond)", s.Max)
	}
	// Three significant digits: the sketch is not better than 5%.
	for _, v := range []float64{s.P50, s.P95} {
		if v != roundSignificant(v) || v != math.Round(v*10)/10 {
			t.Errorf("percentile %v is not rounded to three significant digits", v)
		}
	}
	if got := a.Summary(PhaseTLS); got != (PhaseSummary{}) {
		t.Errorf("a phase that never ran: %+v, want all zero", got)
	}
	if got := a.Summary(PhaseDNS); got.P50 != 0.001 || got.Max != 0.001 {
		t.Errorf("DNS of 0.0004 ms: %+v, want 0.001 (it ran: never rounded to 0)", got)
	}
	if got := a.Summary(NumPhases); got != (PhaseSummary{}) {
		t.Errorf("Summary of an unknown phase: %+v, want zero", got)
	}

	// The percentile is clamped to max after rounding too: 100.6 ms
	// lies below its bucket's value (101.6), is clamped to 100.6, which
	// would round to 101 but never exceeds the max.
	var b Agg
	b.Add(check(true, 0, 0, 0, 0, 100.6))
	if got := b.Summary(PhaseTotal); got.P50 != 100.6 || got.P95 != 100.6 || got.Max != 100.6 {
		t.Errorf("one check of 100.6 ms: %+v, want 100.6 each", got)
	}
}

func TestRoundSignificant(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{0, 0}, {-1, 0}, {0.0004, 0.001}, {0.0234567, 0.023}, {0.2345, 0.235}, {1.23456, 1.23},
		{12.3456, 12.3}, {123.456, 123}, {1234.56, 1230}, {593_442.1, 593_000},
	} {
		if got := roundSignificant(c.in); got != c.want {
			t.Errorf("roundSignificant(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// randomAgg is a bucket of n checks with random phases, some missing.
func randomAgg(rng *rand.Rand, n int) *Agg {
	var a Agg
	d := func() float64 {
		if rng.IntN(5) == 0 {
			return 0
		}
		// 0.001 ms .. 10^9 ms: past both edges.
		return math.Exp(math.Log(0.001) + rng.Float64()*math.Log(1e12))
	}
	for range n {
		a.Add(check(rng.IntN(4) != 0, d(), d(), d(), d(), d()))
	}
	return &a
}

func encode(t testing.TB, a *Agg) []byte {
	t.Helper()
	b, err := a.AppendBinary(nil)
	if err != nil {
		t.Fatalf("encoding %+v: %v", a, err)
	}
	return b
}

func decode(t testing.TB, b []byte) *Agg {
	t.Helper()
	var a Agg
	if err := a.UnmarshalBinary(b); err != nil {
		t.Fatalf("decoding %x: %v", b, err)
	}
	return &a
}

func TestAggEncodingRoundTrips(t *testing.T) {
	var a Agg
	a.Add(check(true, 2, 10.0004, 20, 50, 82.123456))
	a.Add(check(false, 0, 0, 0, 0, 5000))
	b := encode(t, &a)
	if b[0] != 1 {
		t.Errorf("first byte %d, want version 1", b[0])
	}
	got := decode(t, b)
	if got.Checks != 2 || got.Failures != 1 {
		t.Errorf("decoded checks %d failures %d, want 2 and 1", got.Checks, got.Failures)
	}
	if m := got.Phases[PhaseTotal].Max(); m != 5000 {
		t.Errorf("decoded total max %v, want 5000", m)
	}
	if m := got.Phases[PhaseConnect].Max(); m != 10 {
		t.Errorf("decoded connect max %v, want 10 (10.0004 to the microsecond)", m)
	}
	for p := range NumPhases {
		if got.Phases[p].Count() != a.Phases[p].Count() || got.Phases[p].Quantile(0.5) != min(a.Phases[p].Quantile(0.5), got.Phases[p].Max()) {
			t.Errorf("%s: decoded count %d p50 %v, encoded %d %v", p, got.Phases[p].Count(), got.Phases[p].Quantile(0.5), a.Phases[p].Count(), a.Phases[p].Quantile(0.5))
		}
	}
	// Re-encoding is byte for byte the same.
	if again := encode(t, got); !bytes.Equal(again, b) {
		t.Errorf("re-encoded %x, first %x", again, b)
	}
	// Appends, leaving the prefix alone.
	prefix := []byte("row:")
	if out, _ := a.AppendBinary(prefix); !bytes.Equal(out[:4], prefix) || !bytes.Equal(out[4:], b) {
		t.Errorf("AppendBinary(prefix) = %x", out)
	}
	var empty Agg
	if eb := encode(t, &empty); !decode(t, eb).Equal(&empty) || len(eb) != 8 {
		t.Errorf("empty Agg encodes to %x and back differently, want 8 bytes", eb)
	}
}

// The store merges a bucket it has with one it is given by decoding both:
// that must be the same as merging before encoding.
func TestAggEncodeOfMergeIsMergeOfDecoded(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for i := range 300 {
		a, b := randomAgg(rng, rng.IntN(30)), randomAgg(rng, rng.IntN(30))
		merged := cloneAgg(a)
		merged.Merge(b)
		want := encode(t, &merged)

		da, db := decode(t, encode(t, a)), decode(t, encode(t, b))
		da.Merge(db)
		if got := encode(t, da); !bytes.Equal(got, want) {
			t.Fatalf("case %d: encode(merge(decoded)) = %x, encode(merge) = %x", i, got, want)
		}
		if dm := decode(t, want); !dm.Equal(da) {
			t.Fatalf("case %d: decode(encode(merge)) = %+v, merge of decoded %+v", i, dm, da)
		}
	}
}

func cloneAgg(a *Agg) Agg {
	var c Agg
	c.Merge(a)
	return c
}

func TestAggMergeIsAssociativeAndCommutative(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 100 {
		a, b, c := randomAgg(rng, rng.IntN(20)), randomAgg(rng, rng.IntN(20)), randomAgg(rng, rng.IntN(20))
		ab := cloneAgg(a)
		ab.Merge(b)
		abc := cloneAgg(&ab)
		abc.Merge(c)
		bc := cloneAgg(b)
		bc.Merge(c)
		aThenBC := cloneAgg(a)
		aThenBC.Merge(&bc)
		ba := cloneAgg(b)
		ba.Merge(a)
		if !abc.Equal(&aThenBC) || !ab.Equal(&ba) {
			t.Fatalf("merge order matters: (a+b)+c %+v a+(b+c) %+v; a+b %+v b+a %+v", abc, aThenBC, ab, ba)
		}
		if abc.Checks != a.Checks+b.Checks+c.Checks || abc.Failures != a.Failures+b.Failures+c.Failures {
			t.Fatalf("merged checks %d failures %d, want the sums", abc.Checks, abc.Failures)
		}
	}
}

func TestAggEncodingRefusesInconsistentCounts(t *testing.T) {
	bad := Agg{Checks: 1, Failures: 2}
	if _, err := bad.AppendBinary(nil); err == nil {
		t.Error("more failures than checks encoded without error")
	}
	var phases Agg
	phases.Checks = 1
	phases.Phases[PhaseTTFB].Add(1)
	phases.Phases[PhaseTTFB].Add(2)
	if _, err := phases.AppendBinary(nil); err == nil {
		t.Error("more durations than checks encoded without error")
	}
}

// uv spells a sequence of uvarints, for hand-made encodings.
func uv(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func TestAggDecodeRejectsGarbage(t *testing.T) {
	var good Agg
	good.Add(check(true, 2, 10, 20, 50, 82))
	good.Add(check(false, 0, 0, 0, 0, 5000))
	valid := encode(t, &good)

	top := uint64(numBuckets - 1)
	b10 := uint64(bucketOf(10))
	empty4 := []byte{0, 0, 0, 0} // four phases with no buckets
	cases := map[string][]byte{
		"nil":                   nil,
		"version 0":             append([]byte{0}, valid[1:]...),
		"version 2":             append([]byte{2}, valid[1:]...),
		"trailing byte":         append(bytes.Clone(valid), 0),
		"only the version":      {1},
		"overlong varint":       append([]byte{1, 0x81, 0x00, 0}, empty4[:4]...),
		"varint past 64 bits":   append([]byte{1}, bytes.Repeat([]byte{0xff}, 11)...),
		"failures over checks":  append(append([]byte{1}, uv(1, 2)...), 0, 0, 0, 0, 0),
		"too many buckets":      append([]byte{1}, uv(1000, 0, 190)...),
		"huge bucket count":     append([]byte{1}, uv(1, 0, math.MaxUint64)...),
		"zero max":              append(append([]byte{1}, uv(1, 0, 1, 0, b10, 1)...), empty4...),
		"max beyond the cap":    append(append([]byte{1}, uv(1, 0, 1, maxMicros+1, top, 1)...), empty4...),
		"max not in top bucket": append(append([]byte{1}, uv(1, 0, 1, 900_000, b10, 1)...), empty4...),
		"index beyond the top":  append(append([]byte{1}, uv(1, 0, 1, 10_000, numBuckets, 1)...), empty4...),
		"gap past the top":      append(append([]byte{1}, uv(2, 0, 2, 10_000, b10, 1, top-b10, 1)...), empty4...),
		"zero count":            append(append([]byte{1}, uv(1, 0, 1, 10_000, b10, 0)...), empty4...),
		"count over 32 bits":    append(append([]byte{1}, uv(1<<33, 0, 1, 10_000, b10, 1<<32)...), empty4...),
		"more durations":        append(append([]byte{1}, uv(1, 0, 1, 10_000, b10, 2)...), empty4...),
		"bucket pair cut":       append([]byte{1}, uv(1, 0, 1, 10_000, b10)...),
		"missing phases":        append([]byte{1}, uv(1, 0, 1, 10_000, b10, 1)...),
		"one phase too many":    append(append([]byte{1}, uv(1, 0, 1, 10_000, b10, 1)...), 0, 0, 0, 0, 0),
		"gap wrapping around":   append(append([]byte{1}, uv(2, 0, 2, 10_000, b10, 1, math.MaxUint64, 1)...), empty4...),
	}
	// Every proper prefix of a valid encoding is truncated.
	for i := range len(valid) {
		cases[fmt.Sprintf("first %d of %d bytes", i, len(valid))] = valid[:i]
	}
	// The hand-made shapes are right: with the flaw fixed they decode.
	var handMade Agg
	if err := handMade.UnmarshalBinary(append(append([]byte{1}, uv(1, 0, 1, 10_000, b10, 1)...), empty4...)); err != nil {
		t.Fatalf("the hand-made valid encoding does not decode: %v", err)
	}
	for name, b := range cases {
		before := good
		a := cloneAgg(&good)
		err := a.UnmarshalBinary(b)
		if err == nil {
			t.Errorf("%s: %x decoded without error to %+v", name, b, a)
			continue
		}
		if !errors.Is(err, ErrAggEncoding) {
			t.Errorf("%s: error %v does not wrap ErrAggEncoding", name, err)
		}
		if !a.Equal(&before) {
			t.Errorf("%s: a failed decode changed the Agg to %+v", name, a)
		}
	}
}

func FuzzAggDecode(f *testing.F) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{0, 1, 2, 5, 60} {
		f.Add(encode(f, randomAgg(rng, n)))
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0})
	f.Add(append([]byte{1}, uv(3, 1, 2, 10_000, 60, 1, 0, 1, 0, 0, 0, 0)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Agg
		if err := a.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrAggEncoding) {
				t.Fatalf("error %v does not wrap ErrAggEncoding", err)
			}
			return
		}
		// What decodes is canonical: it encodes back to the same bytes.
		again, err := a.AppendBinary(nil)
		if err != nil {
			t.Fatalf("decoded %x to %+v, which does not encode: %v", b, a, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("decoded %x, re-encoded %x", b, again)
		}
		for p := range NumPhases {
			s := a.Summary(p)
			if s.P50 > s.P95 || s.P95 > s.Max || math.IsNaN(s.Max) {
				t.Fatalf("%s summary %+v out of order", p, s)
			}
		}
		a.Merge(&a)
	})
}

func benchAggs() map[string]*Agg {
	rng := rand.New(rand.NewPCG(15, 16))
	out := map[string]*Agg{}
	for name, n := range map[string]int{"minute": 2, "hour": 120, "day": 2880} {
		var a Agg
		for range n {
			j := func(ms float64) float64 { return ms * math.Exp(0.3*rng.NormFloat64()) }
			a.Add(check(rng.IntN(50) != 0, j(2), j(10), j(20), j(50), j(85)))
		}
		out[name] = &a
	}
	return out
}

func BenchmarkAggEncode(b *testing.B) {
	for _, name := range []string{"minute", "hour", "day"} {
		a := benchAggs()[name]
		b.Run(name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = a.AppendBinary(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(buf)), "bytes")
		})
	}
}

func BenchmarkAggDecode(b *testing.B) {
	for _, name := range []string{"minute", "hour", "day"} {
		enc := encode(b, benchAggs()[name])
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var a Agg
				if err := a.UnmarshalBinary(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Max is rounded to the microsecond when encoded, which can move it across
// a bucket boundary where buckets are about a microsecond wide: the decoder
// must still accept every Agg Add makes.
func TestAggEncodingAcceptsMaximaAtBucketBoundaries(t *testing.T) {
	var values []float64
	for k := minBucket - 3; k <= maxBucket+3; k++ {
		edge := math.Pow(gamma, float64(k))
		for _, f := range []float64{1 - 1e-12, 1, 1 + 1e-12, 1 - 1e-4, 1 + 1e-4} {
			values = append(values, edge*f)
		}
	}
	for us := 1; us <= 40; us++ {
		for _, d := range []float64{-0.5, -0.4999, 0, 0.4999, 0.5} {
			values = append(values, (float64(us)+d)/1000)
		}
	}
	for _, v := range values {
		var a Agg
		a.Add(check(true, v, 0, 0, 0, v))
		a.Add(check(true, 0, 0, 0, 0, 0.5*v))
		got := decode(t, encode(t, &a))
		if m := got.Phases[PhaseDNS].Max(); math.Abs(m-v) > 0.0005+1e-12 && m != 0.001 {
			t.Errorf("max %v decoded as %v, more than half a microsecond off", v, m)
		}
	}
}
