package history

import (
	"slices"
	"strings"
	"time"
)

// Latency merges stored buckets into points of width step covering
// [from, to), one series per vantage, oldest first within a vantage and
// the vantages by name. A step holds the buckets that start inside it, so
// the buckets' resolution must divide the step (Window.Step gives pairs
// that do). Steps without checks are left out: a gap in the chart is a
// gap in the data.
func Latency(buckets []Bucket, from, to time.Time, step time.Duration) []LatencyPoint {
	if step <= 0 || !to.After(from) {
		return []LatencyPoint{}
	}
	from = from.UTC().Truncate(step)
	type key struct {
		vantage string
		at      int64
	}
	merged := make(map[key]*Agg)
	for i := range buckets {
		b := &buckets[i]
		if b.Bucket.Before(from) || !b.Bucket.Before(to) {
			continue
		}
		k := key{b.Vantage, b.Bucket.UTC().Truncate(step).UnixNano()}
		a := merged[k]
		if a == nil {
			a = new(Agg)
			merged[k] = a
		}
		a.Merge(&b.Agg)
	}
	keys := make([]key, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.vantage, b.vantage); c != 0 {
			return c
		}
		return int(min(max(a.at-b.at, -1), 1))
	})
	out := make([]LatencyPoint, 0, len(keys))
	for _, k := range keys {
		out = append(out, Point(time.Unix(0, k.at), k.vantage, merged[k]))
	}
	return out
}
