package history

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// Agg is what one rollup bucket holds: how many checks ran, how many
// failed, and a histogram of each phase's duration. The zero value is empty.
type Agg struct {
	Checks, Failures uint64
	Phases           [NumPhases]Histogram
}

// Add counts one check.
func (a *Agg) Add(r *result.Result) {
	if r == nil {
		return
	}
	a.Checks++
	if !r.OK {
		a.Failures++
	}
	for p := range NumPhases {
		a.Phases[p].Add(p.Of(&r.Phases))
	}
}

// Merge adds o into a.
func (a *Agg) Merge(o *Agg) {
	if o == nil {
		return
	}
	a.Checks += o.Checks
	a.Failures += o.Failures
	for p := range a.Phases {
		a.Phases[p].Merge(&o.Phases[p])
	}
}

// Equal says whether a and o hold the same counts.
func (a *Agg) Equal(o *Agg) bool {
	if a.Checks != o.Checks || a.Failures != o.Failures {
		return false
	}
	for p := range a.Phases {
		if !a.Phases[p].Equal(&o.Phases[p]) {
			return false
		}
	}
	return true
}

// Summary is phase p's p50, p95 and max. The percentiles are rounded to
// three significant digits, as the buckets are only good to about 5%;
// max, which is exact, to the microsecond. Rounding never puts a
// percentile above max.
func (a *Agg) Summary(p Phase) PhaseSummary {
	if p < 0 || p >= NumPhases {
		return PhaseSummary{}
	}
	h := &a.Phases[p]
	mx := roundTo(h.Max(), 3)
	return PhaseSummary{
		P50: min(roundSignificant(h.Quantile(0.50)), mx),
		P95: min(roundSignificant(h.Quantile(0.95)), mx),
		Max: mx,
	}
}

// roundSignificant rounds ms to three significant digits, but no finer
// than a microsecond, so a cached DNS answer of 0.0004 ms still shows as
// having run.
func roundSignificant(ms float64) float64 {
	if ms <= 0 {
		return 0
	}
	digits := 2 - int(math.Floor(math.Log10(ms)))
	return roundTo(ms, min(digits, 3))
}

// roundTo rounds ms to digits decimals (digits may be negative). Dividing
// by the power of ten, rather than multiplying by its inverse, gives the
// float nearest the decimal, so JSON prints 0.0234 and not
// 0.023399999999999997.
func roundTo(ms float64, digits int) float64 {
	if ms <= 0 {
		return 0
	}
	if digits >= 0 {
		p := math.Pow10(digits)
		r := math.Round(ms*p) / p
		if r == 0 {
			return 1 / p
		}
		return r
	}
	p := math.Pow10(-digits)
	return math.Round(ms/p) * p
}

// aggVersion is the first byte of an encoded Agg. A change of layout gets a
// new version, and UnmarshalBinary learns to read the old ones still in the
// store.
const aggVersion = 1

// The encoding, version 1, all integers uvarints in their shortest form:
//
//	version byte (1)
//	checks, failures
//	per phase, in Phase order:
//	  n, the number of non-empty buckets (0 .. 189)
//	  when n > 0: max in microseconds (>= 1), then n pairs of
//	    gap (bucket index less the previous index less 1, the first one
//	    counted from the lowest bucket) and count (1 .. 2^32-1)
//
// Every Agg has exactly one encoding, so equal Aggs encode to equal bytes,
// and what UnmarshalBinary accepts AppendBinary writes back unchanged.
// Max is kept to the microsecond, rounded to nearest but never below
// 1 µs, which keeps merging exact: the rounding is monotonic, so the max of
// rounded maxima is the rounded max.

// maxMicros is the encoded value of maxMs.
const maxMicros = uint64(maxMs * 1000)

// ErrAggEncoding is wrapped by every error of UnmarshalBinary, so the store
// can tell a corrupt row from a failed read without matching texts.
var ErrAggEncoding = errors.New("bad rollup encoding")

// AppendBinary appends a's compact, versioned encoding to b. An Agg whose
// counts cannot come from Add and Merge (more failures, or more durations
// of a phase, than checks) is an error.
func (a *Agg) AppendBinary(b []byte) ([]byte, error) {
	if a.Failures > a.Checks {
		return b, fmt.Errorf("encoding rollup: %d failures of %d checks", a.Failures, a.Checks)
	}
	b = append(b, aggVersion)
	b = binary.AppendUvarint(b, a.Checks)
	b = binary.AppendUvarint(b, a.Failures)
	for p := range a.Phases {
		h := &a.Phases[p]
		if h.total > a.Checks {
			return b, fmt.Errorf("encoding rollup: %d %s durations of %d checks", h.total, Phase(p), a.Checks)
		}
		b = binary.AppendUvarint(b, uint64(len(h.bins)))
		if len(h.bins) == 0 {
			continue
		}
		b = binary.AppendUvarint(b, microsOf(h.max))
		next := uint16(0)
		for _, bn := range h.bins {
			b = binary.AppendUvarint(b, uint64(bn.idx-next))
			b = binary.AppendUvarint(b, uint64(bn.n))
			next = bn.idx + 1
		}
	}
	return b, nil
}

func microsOf(ms float64) uint64 {
	return max(1, uint64(math.Round(ms*1000)))
}

// UnmarshalBinary decodes what AppendBinary wrote. Truncated, trailing,
// out-of-range or inconsistent bytes are an error wrapping ErrAggEncoding,
// and leave a unchanged.
func (a *Agg) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if len(b) == 0 {
		return fmt.Errorf("%w: empty", ErrAggEncoding)
	}
	if v := d.byte(); v != aggVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrAggEncoding, v, aggVersion)
	}
	var out Agg
	out.Checks = d.uvarint("checks")
	out.Failures = d.uvarint("failures")
	if d.err == nil && out.Failures > out.Checks {
		return fmt.Errorf("%w: %d failures of %d checks", ErrAggEncoding, out.Failures, out.Checks)
	}
	for p := range out.Phases {
		if d.err != nil {
			break
		}
		if err := d.histogram(&out.Phases[p], out.Checks); err != nil {
			return fmt.Errorf("%w: phase %s: %w", ErrAggEncoding, Phase(p), err)
		}
	}
	if d.err != nil {
		return fmt.Errorf("%w: %w", ErrAggEncoding, d.err)
	}
	if len(d.b) > 0 {
		return fmt.Errorf("%w: %d bytes after the end", ErrAggEncoding, len(d.b))
	}
	*a = out
	return nil
}

// decoder reads uvarints, remembering the first error so the caller checks
// once.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	switch {
	case n == 0:
		d.err = fmt.Errorf("truncated at %s", what)
		return 0
	case n < 0:
		d.err = fmt.Errorf("%s overflows 64 bits", what)
		return 0
	case n > 1 && d.b[n-1] == 0:
		// A trailing zero group is a longer spelling of a shorter number;
		// refusing it keeps one encoding per Agg.
		d.err = fmt.Errorf("%s is not in its shortest form", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) histogram(h *Histogram, checks uint64) error {
	n := d.uvarint("bucket count")
	if d.err != nil {
		return d.err
	}
	if n == 0 {
		return nil
	}
	if n > numBuckets {
		return fmt.Errorf("%d buckets, at most %d", n, numBuckets)
	}
	micros := d.uvarint("max")
	if d.err != nil {
		return d.err
	}
	if micros == 0 || micros > maxMicros {
		return fmt.Errorf("max %d µs out of range", micros)
	}
	bins := make([]bin, 0, n)
	var total uint64
	next := uint64(0)
	for range n {
		gap := d.uvarint("bucket index")
		count := d.uvarint("bucket count")
		if d.err != nil {
			return d.err
		}
		if gap >= numBuckets-next {
			return fmt.Errorf("bucket index %d+%d beyond %d", next, gap, numBuckets-1)
		}
		if count == 0 || count > maxCount {
			return fmt.Errorf("bucket count %d out of range", count)
		}
		idx := next + gap
		bins = append(bins, bin{idx: uint16(idx), n: uint32(count)})
		total += count
		next = idx + 1
	}
	if total > checks {
		return fmt.Errorf("%d durations of %d checks", total, checks)
	}
	ms := float64(micros) / 1000
	// The max lies in the highest bucket, give or take the one bucket its
	// rounding to the microsecond can move it.
	if top, at := int(bins[len(bins)-1].idx), int(bucketOf(ms)); at < top-1 || at > top+1 {
		return fmt.Errorf("max %g ms is not in the highest bucket", ms)
	}
	*h = Histogram{max: ms, total: total, bins: bins}
	return nil
}

// Accumulator gathers checks into minute buckets in memory until they are
// drained to the store. It is safe for concurrent use.
//
// Buckets are grouped by minute, so Drain takes whole minutes without
// looking at the keys of the open one, and the map of a drained minute is
// cleared and kept for a later one, so a steady daemon does not grow maps.
type Accumulator struct {
	mu      sync.Mutex
	minutes []*minuteBuckets // few: the open minute, and late ones
	last    *minuteBuckets   // the minute of the latest Add, usually the next one's too
	spare   map[accKey]*accEntry
}

type accKey struct{ monitor, vantage string }

// minuteBuckets are the buckets of one minute, starting at start (Unix
// seconds).
type minuteBuckets struct {
	start int64
	m     map[accKey]*accEntry
}

// accEntry is one bucket. Its phases start on the inline bins, room for the
// two checks a minute holds at the usual 30 s, so a new bucket costs one
// allocation and the next checks none.
type accEntry struct {
	agg  Agg
	bins [NumPhases * 2]bin
}

// NewAccumulator returns an empty accumulator.
func NewAccumulator() *Accumulator { return &Accumulator{} }

// Add counts r, a check of monitor from vantage that ran at at. A check
// that ran in a minute already drained starts a new bucket of that
// minute, for the next Drain; the store merges it with the one it has.
func (a *Accumulator) Add(monitor, vantage string, at time.Time, r *result.Result) {
	if r == nil {
		return
	}
	start := minuteStart(at)
	k := accKey{monitor, vantage}
	a.mu.Lock()
	defer a.mu.Unlock()
	mb := a.last
	if mb == nil || mb.start != start {
		mb = a.minute(start)
		a.last = mb
	}
	e := mb.m[k]
	if e == nil {
		e = new(accEntry)
		for p := range e.agg.Phases {
			e.agg.Phases[p].bins = e.bins[2*p : 2*p : 2*p+2]
		}
		mb.m[k] = e
	}
	e.agg.Add(r)
}

// minute finds or makes the buckets of the minute starting at start.
func (a *Accumulator) minute(start int64) *minuteBuckets {
	for _, mb := range a.minutes {
		if mb.start == start {
			return mb
		}
	}
	m := a.spare
	a.spare = nil
	if m == nil {
		m = make(map[accKey]*accEntry)
	}
	mb := &minuteBuckets{start: start, m: m}
	a.minutes = append(a.minutes, mb)
	return mb
}

// minuteStart is the Unix second the minute holding t starts at.
func minuteStart(t time.Time) int64 {
	s := t.Unix()
	return s - ((s%60)+60)%60
}

// Drain removes and returns the minute buckets that ended at or before
// before (closed minutes); with a zero before, every bucket. They come
// sorted by monitor, vantage and minute, so what the store writes does
// not depend on map order.
func (a *Accumulator) Drain(before time.Time) []Bucket {
	a.mu.Lock()
	var closed []*minuteBuckets
	kept := a.minutes[:0]
	for _, mb := range a.minutes {
		if before.IsZero() || !before.Before(time.Unix(mb.start+60, 0)) {
			closed = append(closed, mb)
		} else {
			kept = append(kept, mb)
		}
	}
	clear(a.minutes[len(kept):])
	a.minutes = kept
	if a.last != nil && !slices.Contains(a.minutes, a.last) {
		a.last = nil
	}
	a.mu.Unlock()

	if len(closed) == 0 {
		return nil
	}
	// Sort small (key, minute, pointer) triples rather than the buckets
	// themselves, which are some 300 bytes each to swap.
	type drained struct {
		k     accKey
		start int64
		e     *accEntry
	}
	n := 0
	for _, mb := range closed {
		n += len(mb.m)
	}
	all := make([]drained, 0, n)
	var biggest map[accKey]*accEntry
	for _, mb := range closed {
		for k, e := range mb.m {
			all = append(all, drained{k, mb.start, e})
		}
		if len(mb.m) >= len(biggest) {
			biggest = mb.m
		}
	}
	slices.SortFunc(all, func(x, y drained) int {
		return cmp.Or(
			cmp.Compare(x.k.monitor, y.k.monitor),
			cmp.Compare(x.k.vantage, y.k.vantage),
			cmp.Compare(x.start, y.start),
		)
	})
	out := make([]Bucket, len(all))
	for i, d := range all {
		out[i] = Bucket{
			Key: Key{Monitor: d.k.monitor, Vantage: d.k.vantage, Res: Minute, Bucket: time.Unix(d.start, 0).UTC()},
			Agg: d.e.agg,
		}
	}

	clear(biggest)
	a.mu.Lock()
	if a.spare == nil {
		a.spare = biggest
	}
	a.mu.Unlock()
	return out
}
