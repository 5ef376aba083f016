package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vantage-monitor/vantage/monitor/store"
)

// metrics are the outbox's Prometheus series. With no Registerer they are
// still kept (and cheap), just not exported.
type metrics struct {
	total    *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	degraded *prometheus.GaugeVec
}

func newMetrics(o *Outbox, reg prometheus.Registerer) *metrics {
	m := &metrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vantage_notifications_total",
			Help: "Notification attempts by receiver, event and outcome (delivered, retry, failed, rate_limited).",
		}, []string{"receiver", "event", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vantage_notification_seconds",
			Help:    "How long one notification attempt took.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"receiver"}),
		degraded: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vantage_receiver_degraded",
			Help: "1 while a receiver asks to wait longer than max_retry_after (it is retried at that cap), 0 once it delivers again.",
		}, []string{"receiver"}),
	}
	if reg == nil {
		return m
	}
	m.total = register(o, reg, m.total)
	m.seconds = register(o, reg, m.seconds)
	m.degraded = register(o, reg, m.degraded)
	register(o, reg, prometheus.Collector(&itemsCollector{o: o}))
	return m
}

// register registers c, or reuses the collector already registered under
// the same name (a second Outbox on the same registry), rather than panic.
func register[C prometheus.Collector](o *Outbox, reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if ex, ok := are.ExistingCollector.(C); ok {
			return ex
		}
	}
	o.log.Warn("cannot register outbox metrics", "error", err)
	return c
}

func (m *metrics) count(receiver, event, outcome string) {
	m.total.WithLabelValues(receiver, event, outcome).Inc()
}

func (m *metrics) observe(receiver string, d time.Duration) {
	m.seconds.WithLabelValues(receiver).Observe(d.Seconds())
}

var itemsDesc = prometheus.NewDesc("vantage_outbox_items",
	"Notifications in the outbox by receiver and state (pending, sending, failed).",
	[]string{"receiver", "state"}, nil)

// itemsCollector reads the outbox counts at scrape time, so that the gauge
// is never stale and a receiver whose items are gone shows zero rather than
// its last value.
type itemsCollector struct{ o *Outbox }

func (c *itemsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- itemsDesc }

func (c *itemsCollector) Collect(ch chan<- prometheus.Metric) {
	if c.o.opts.Store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.o.opts.Store.OutboxCounts(ctx)
	if err != nil {
		c.o.log.Warn("cannot count the outbox for metrics", "error", err)
		return
	}
	type rs struct {
		receiver string
		state    store.OutboxState
	}
	seen := map[rs]bool{}
	for _, n := range counts {
		seen[rs{n.Receiver, n.State}] = true
		ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, float64(n.Count), n.Receiver, string(n.State))
	}
	for _, r := range c.o.receivers() {
		for _, st := range []store.OutboxState{store.StatePending, store.StateSending, store.StateFailed} {
			if !seen[rs{r, st}] {
				ch <- prometheus.MustNewConstMetric(itemsDesc, prometheus.GaugeValue, 0, r, string(st))
			}
		}
	}
}
