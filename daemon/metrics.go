package daemon

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Phase label values of vantage_check_phase_seconds.
var phaseNames = [...]string{"dns", "connect", "tls", "ttfb", "total"}

// metrics are the daemon's Prometheus series. The names are a public
// interface: dashboards and the benchmark scrape them.
type metrics struct {
	checks     *prometheus.CounterVec
	phases     [len(phaseNames)]prometheus.Observer
	lateness   prometheus.Histogram
	lateMax    prometheus.Gauge
	lateMu     sync.Mutex
	lateMaxS   float64
	skipped    *prometheus.CounterVec
	panics     prometheus.Counter
	storeErrs  prometheus.Counter
	reloads    *prometheus.CounterVec
	writeTime  prometheus.Histogram
	gatherer   prometheus.Gatherer
	phaseHisto *prometheus.HistogramVec

	// What /metrics writes itself (metrics_series.go): the daemon whose
	// monitors it reads, the phase label values, and reused buffers.
	d           *Daemon
	phaseLabels []string
	bufs        *sync.Pool // *[]byte
	gzips       *sync.Pool // *gzip.Writer
}

// newMetrics registers every series on reg. The per-monitor state gauges
// (vantage_monitors, vantage_monitor_up, vantage_open_incidents) are read
// from the daemon at scrape time by stateCollector, so a round never touches
// them and a removed monitor's series disappear with it.
func newMetrics(reg prometheus.Registerer, g prometheus.Gatherer, d *Daemon) (*metrics, error) {
	m := &metrics{
		gatherer:    g,
		d:           d,
		phaseLabels: result.AllPhases()[:nPhases],
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vantage_checks_total",
			Help: "Checks run, by monitor and result class.",
		}, []string{"monitor", "class"}),
		phaseHisto: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vantage_check_phase_seconds",
			Help:    "Duration of each phase of a check.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"phase"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vantage_scheduler_lateness_seconds",
			Help:    "How long after its nominal time a round started.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		// A histogram cannot tell the worst case, and the worst case is what
		// says whether the scheduler keeps up.
		lateMax: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vantage_scheduler_lateness_max_seconds",
			Help: "The largest lateness of any round since the daemon started.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vantage_rounds_skipped_total",
			Help: "Rounds skipped because the monitor's previous round was still running.",
		}, []string{"monitor"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vantage_check_panics_total",
			Help: "Rounds that panicked (contained).",
		}),
		storeErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vantage_store_errors_total",
			Help: "Failed writes to the state store.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vantage_config_reloads_total",
			Help: "Config reloads, by result (success or failure).",
		}, []string{"result"}),
		writeTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vantage_result_write_seconds",
			Help:    "Duration of each write to the state store (a batch of results or one round's transaction).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
	}
	m.bufs, m.gzips = newPools()
	for i, p := range phaseNames {
		m.phases[i] = m.phaseHisto.WithLabelValues(p)
	}
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	cs := []prometheus.Collector{
		m.checks, m.phaseHisto, m.lateness, m.lateMax, m.skipped, m.panics, m.storeErrs,
		m.reloads, m.writeTime, &stateCollector{d: d},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue // the caller's registry already has the Go/process collectors
			}
			return nil, err
		}
	}
	return m, nil
}

// handler serves /metrics: the registry's families and the per-monitor
// ones written from the daemon's state (metrics_series.go).
func (m *metrics) handler() http.Handler {
	return http.HandlerFunc(m.serveMetrics)
}

func (m *metrics) observePhases(p *result.Phases) {
	v := [...]float64{p.DNSMs, p.ConnectMs, p.TLSMs, p.TTFBMs, p.TotalMs}
	for i, ms := range v {
		m.phases[i].Observe(ms / 1000)
	}
}

// forget drops a removed monitor's labelled series.
func (m *metrics) forget(name string) {
	m.checks.DeletePartialMatch(prometheus.Labels{"monitor": name})
	m.skipped.DeleteLabelValues(name)
}

// observer feeds the scheduler's events into the metrics.
type observer struct{ m *metrics }

func (o observer) Lateness(_ string, d time.Duration) {
	s := max(d, 0).Seconds()
	o.m.lateness.Observe(s)
	o.m.lateMu.Lock()
	if s > o.m.lateMaxS {
		o.m.lateMaxS = s
		o.m.lateMax.Set(s)
	}
	o.m.lateMu.Unlock()
}
func (o observer) Skipped(name string)  { o.m.skipped.WithLabelValues(name).Inc() }
func (o observer) Panicked(string, any) { o.m.panics.Inc() }

var (
	descMonitors = prometheus.NewDesc("vantage_monitors", "Monitors configured.", nil, nil)
	descUp       = prometheus.NewDesc("vantage_monitor_up", "1 when the monitor is up or recovering, 0 when failing or down.", []string{"monitor"}, nil)
	descOpen     = prometheus.NewDesc("vantage_open_incidents", "Open incidents, by kind: target (the monitor is down), certificate (a served certificate is under a cert_warn_days threshold), performance (degraded).", []string{"kind"}, nil)
)

// stateCollector reports the gauges that follow each monitor's machine.
type stateCollector struct{ d *Daemon }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMonitors
	ch <- descUp
	ch <- descOpen
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	mons := c.d.monitorList()
	var target, cert, perf int
	for _, m := range mons {
		st := m.status.Load()
		up := 0.0
		if st.state == incident.StateUp || st.state == incident.StateRecovering {
			up = 1
		}
		if st.incidentOpen {
			target++
		}
		if st.certWarning {
			cert++
		}
		if st.degraded {
			perf++
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, m.name)
	}
	ch <- prometheus.MustNewConstMetric(descMonitors, prometheus.GaugeValue, float64(len(mons)))
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(target), string(incident.KindTarget))
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(cert), string(incident.KindCertificate))
	ch <- prometheus.MustNewConstMetric(descOpen, prometheus.GaugeValue, float64(perf), string(incident.KindPerformance))
}
