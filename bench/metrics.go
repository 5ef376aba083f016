package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Names of the daemon metrics the bench reads.
const (
	metricChecks      = "vantage_checks_total"
	metricLateness    = "vantage_scheduler_lateness_seconds"
	metricLatenessMax = "vantage_scheduler_lateness_max_seconds"
	metricSkipped     = "vantage_rounds_skipped_total"
	metricStoreErrors = "vantage_store_errors_total"
	labelMonitor      = "monitor"
	labelClass        = "class"
	classOK           = "ok"
)

// snapshot is what the bench keeps of one /metrics scrape.
type snapshot struct {
	// sent is when the request left and got when the response headers
	// arrived: the daemon read its counters somewhere in between.
	sent, got time.Time

	checks    map[string]float64 // per monitor, every class
	failed    map[string]float64 // per class other than "ok"
	skipped   float64
	storeErrs float64
	lateness  histogram
	maxLate   float64
	hasMax    bool
	hasChecks bool
}

// histogram is a cumulative Prometheus histogram, summed over label sets.
type histogram struct {
	count   float64
	bounds  []float64 // upper bounds, ascending, without +Inf
	buckets []float64 // cumulative counts, parallel to bounds
}

func scrape(ctx context.Context, client *http.Client, url string) (snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return snapshot{}, fmt.Errorf("scraping %s: %w", url, err)
	}
	// The text format only: the bench parses it with the text parser.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	s := snapshot{sent: time.Now()}
	resp, err := client.Do(req)
	if err != nil {
		return snapshot{}, fmt.Errorf("scraping %s: %w", url, err)
	}
	s.got = time.Now()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return snapshot{}, fmt.Errorf("scraping %s: status %s", url, resp.Status)
	}
	if err := s.parse(resp.Body); err != nil {
		return snapshot{}, fmt.Errorf("scraping %s: %w", url, err)
	}
	return s, nil
}

// parse reads a Prometheus text exposition into s.
func (s *snapshot) parse(r io.Reader) error {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return fmt.Errorf("parsing metrics: %w", err)
	}
	s.checks = map[string]float64{}
	s.failed = map[string]float64{}
	if f := fams[metricChecks]; f != nil {
		s.hasChecks = true
		for _, m := range f.GetMetric() {
			v := value(m)
			s.checks[label(m, labelMonitor)] += v
			if c := label(m, labelClass); c != classOK {
				s.failed[c] += v
			}
		}
	}
	if f := fams[metricSkipped]; f != nil {
		for _, m := range f.GetMetric() {
			s.skipped += value(m)
		}
	}
	if f := fams[metricStoreErrors]; f != nil {
		for _, m := range f.GetMetric() {
			s.storeErrs += value(m)
		}
	}
	if f := fams[metricLatenessMax]; f != nil {
		for _, m := range f.GetMetric() {
			if v := value(m); !s.hasMax || v > s.maxLate {
				s.maxLate, s.hasMax = v, true
			}
		}
	}
	if f := fams[metricLateness]; f != nil {
		s.lateness = sumHistograms(f.GetMetric())
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// sumHistograms adds histograms bucket by bucket; buckets present in only
// some of them are kept, which is exact when all share the same bounds.
func sumHistograms(ms []*dto.Metric) histogram {
	byBound := map[float64]float64{}
	var h histogram
	for _, m := range ms {
		hm := m.GetHistogram()
		if hm == nil {
			continue
		}
		h.count += float64(hm.GetSampleCount())
		for _, b := range hm.GetBucket() {
			if math.IsInf(b.GetUpperBound(), +1) {
				continue
			}
			byBound[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
	}
	for b := range byBound {
		h.bounds = append(h.bounds, b)
	}
	sort.Float64s(h.bounds)
	for _, b := range h.bounds {
		h.buckets = append(h.buckets, byBound[b])
	}
	return h
}

// sub is h minus an earlier scrape of the same histogram: the observations
// made in between.
func (h histogram) sub(old histogram) histogram {
	d := histogram{count: h.count - old.count, bounds: h.bounds}
	d.buckets = make([]float64, len(h.buckets))
	for i, b := range h.bounds {
		d.buckets[i] = h.buckets[i]
		if j := sort.SearchFloat64s(old.bounds, b); j < len(old.bounds) && old.bounds[j] == b {
			d.buckets[i] -= old.buckets[j]
		}
	}
	return d
}

// quantile estimates the q-quantile as Prometheus' histogram_quantile does:
// linear interpolation inside the bucket that holds the rank, the lower edge
// of the first bucket being 0. A rank in the +Inf bucket returns the highest
// finite bound (a lower bound of the truth). NaN when there is no data.
func (h histogram) quantile(q float64) float64 {
	if h.count <= 0 || len(h.bounds) == 0 {
		return math.NaN()
	}
	rank := q * h.count
	lower, below := 0.0, 0.0
	for i, b := range h.bounds {
		if h.buckets[i] >= rank && h.buckets[i] > below {
			return lower + (b-lower)*(rank-below)/(h.buckets[i]-below)
		}
		lower, below = b, h.buckets[i]
	}
	return h.bounds[len(h.bounds)-1]
}

// maxBound is the upper bound of the highest bucket that received an
// observation: the maximum is at most this. +Inf when observations fell
// beyond the last finite bound, NaN when there were none.
func (h histogram) maxBound() float64 {
	if h.count <= 0 {
		return math.NaN()
	}
	below := 0.0
	top := math.NaN()
	for i, b := range h.bounds {
		if h.buckets[i] > below {
			top = b
		}
		below = h.buckets[i]
	}
	if h.count > below {
		return math.Inf(+1)
	}
	return top
}
