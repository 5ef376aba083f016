package daemon

import (
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// The per-monitor families. At 10,000 monitors × 3 vantages they are about
// 260,000 series, and building a client_golang Metric for each at every
// scrape costs several times the CPU budget of a scrape (bench/README.md,
// "/metrics at 10,000 monitors"). So /metrics writes them itself, in the text
// format, from values each round publishes (publishMetrics) and label
// strings built once per monitor and vantage; the client_golang registry
// keeps the small, fixed families. Their names and labels are a public
// interface: dashboards use them.
const (
	famDuration = "vantage_check_duration_seconds"
	famCert     = "vantage_tls_cert_not_after_seconds"
	famState    = "vantage_monitor_state"

	helpDuration = "Duration of each phase of the monitor's last check, from each vantage that got a response. phase: dns, connect, tls, ttfb, transfer, total."
	helpCert     = "Unix time of the not_after of the certificate that expires first among those the server sent to this vantage in the last check; absent without TLS."
	helpState    = "1 for the monitor's current state, 0 for the others. state: up; degraded (up, with a performance incident open); failing (failed, not yet confirmed); down (an incident is open); recovering (good again, not yet confirmed)."
)

// nPhases is len(result.AllPhases()); metrics_test.go checks they agree.
const nPhases = 6

// The state label values of vantage_monitor_state, a closed set.
const (
	stateDegraded = "degraded"
	nStates       = 5
)

func stateNames() [nStates]string {
	return [...]string{string(incident.StateUp), stateDegraded, string(incident.StateFailing), string(incident.StateDown), string(incident.StateRecovering)}
}

// monSeries is what one monitor's last round contributes to the
// per-vantage families. A round replaces it whole; a scrape only reads it.
type monSeries struct {
	from *result.Outcome // the outcome it was made of
	// settled is set when the round published it itself (publishMetrics):
	// it is then current without looking at mon.last under mon.mu.
	settled bool
	monitor string // the monitor label value, escaped
	lines   []vantageSeries
}

// vantageSeries is one vantage's part of a monSeries.
type vantageSeries struct {
	vantage string // the name, as configured
	labels  string // `monitor="web",vantage="fra1"`, escaped
	seconds [nPhases]float64
	// notAfter is a Unix time; NaN when the vantage saw no certificate.
	notAfter float64
}

// publishMetrics makes res, the round's outcome just stored in m.last, what
// /metrics serves for m, so that a scrape never waits on a round. Call it
// with m.mu held, right after m.last is set (settle in daemon/round.go).
func (d *Daemon) publishMetrics(m *mon, res *result.Outcome) {
	s := buildSeries(m.name, d.config(), res, m.series.Load())
	s.settled = true
	m.series.Store(s)
}

// seriesOf is m's current monSeries, nil before its first round. Until the
// round publishes its own, it is made here from m.last (read under m.mu for a
// moment) and kept until the next outcome.
func seriesOf(m *mon, cfg *config.Config) *monSeries {
	s := m.series.Load()
	if s != nil && s.settled {
		return s
	}
	m.mu.Lock()
	last := m.last
	m.mu.Unlock()
	if last == nil {
		return nil
	}
	if s != nil && s.from == last {
		return s
	}
	ns := buildSeries(m.name, cfg, last, s)
	m.series.CompareAndSwap(s, ns) // a round that published meanwhile wins
	return ns
}

// buildSeries makes the monSeries of one outcome. Label values come from the
// config only: a vantage line whose name is not a configured vantage (or
// local) is left out, so what a target or an agent answers can never add a
// series. prev, the monitor's previous monSeries, lends its label strings.
func buildSeries(name string, cfg *config.Config, res *result.Outcome, prev *monSeries) *monSeries {
	s := &monSeries{from: res}
	phases := result.AllPhases()[:nPhases]
	if prev != nil {
		s.monitor = prev.monitor
	} else {
		s.monitor = escapeLabel(name)
	}
	add := func(vantage string, r *result.Result) {
		v := vantageSeries{vantage: vantage, notAfter: math.NaN()}
		if i := len(s.lines); prev != nil && i < len(prev.lines) && prev.lines[i].vantage == vantage {
			v.labels = prev.lines[i].labels
		} else {
			v.labels = `monitor="` + s.monitor + `",vantage="` + escapeLabel(vantage) + `"`
		}
		for i, p := range phases {
			v.seconds[i] = r.Phases.Of(p) / 1000
		}
		if t := r.TLS; t != nil {
			at := t.NotAfter
			if t.Earliest != nil {
				at = t.Earliest.NotAfter
			}
			if !at.IsZero() {
				v.notAfter = float64(at.Unix())
			}
		}
		s.lines = append(s.lines, v)
	}
	if len(res.Vantages) == 0 {
		add(result.LocalVantage, &res.Result)
		return s
	}
	s.lines = make([]vantageSeries, 0, len(res.Vantages))
	for i := range res.Vantages {
		l := &res.Vantages[i]
		if l.Result == nil || l.Result.Refusal != nil || l.Status == result.VantageUnreachable || l.Status == result.VantageRefused {
			continue // no response: nothing was timed
		}
		if !configuredVantage(cfg, l.Name) || seen(s.lines, l.Name) {
			continue
		}
		add(l.Name, l.Result)
	}
	return s
}

func configuredVantage(cfg *config.Config, name string) bool {
	if name == result.LocalVantage {
		return true
	}
	if cfg == nil {
		return false
	}
	for i := range cfg.Vantages {
		if cfg.Vantages[i].Name == name {
			return true
		}
	}
	return false
}

func seen(lines []vantageSeries, name string) bool {
	for i := range lines {
		if lines[i].vantage == name {
			return true
		}
	}
	return false
}

// escapeLabel escapes a label value for the text format: backslash, double
// quote and line feed.
func escapeLabel(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

// expositionBuffer is the bytes written between two writes to the client.
const expositionBuffer = 64 << 10

// exposition writes one scrape: the registry's families and the
// per-monitor ones, in one text exposition sorted by family name.
type exposition struct {
	w   io.Writer
	buf []byte
	err error
}

func (e *exposition) flushIfFull() {
	if len(e.buf) >= expositionBuffer-512 {
		e.flush()
	}
}

func (e *exposition) flush() {
	if e.err == nil && len(e.buf) > 0 {
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

func (e *exposition) header(name, help string) {
	e.buf = append(e.buf, "# HELP "...)
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, ' ')
	e.buf = append(e.buf, help...)
	e.buf = append(e.buf, "\n# TYPE "...)
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, " gauge\n"...)
}

// value appends v as the text format writes it (expfmt's writeFloat).
func (e *exposition) value(v float64) {
	switch {
	case v == 0:
		e.buf = append(e.buf, '0')
	case v == 1:
		e.buf = append(e.buf, '1')
	default:
		e.buf = strconv.AppendFloat(e.buf, v, 'g', -1, 64)
	}
	e.buf = append(e.buf, '\n')
}

func (e *exposition) durations(series []*monSeries, phases []string) {
	e.header(famDuration, helpDuration)
	for _, s := range series {
		if s == nil {
			continue
		}
		for i := range s.lines {
			v := &s.lines[i]
			for p, ph := range phases {
				e.buf = append(e.buf, famDuration+"{"...)
				e.buf = append(e.buf, v.labels...)
				e.buf = append(e.buf, `,phase="`...)
				e.buf = append(e.buf, ph...)
				e.buf = append(e.buf, `"} `...)
				e.value(v.seconds[p])
			}
		}
		e.flushIfFull()
	}
}

func (e *exposition) certs(series []*monSeries) {
	e.header(famCert, helpCert)
	for _, s := range series {
		if s == nil {
			continue
		}
		for i := range s.lines {
			v := &s.lines[i]
			if math.IsNaN(v.notAfter) {
				continue
			}
			e.buf = append(e.buf, famCert+"{"...)
			e.buf = append(e.buf, v.labels...)
			e.buf = append(e.buf, "} "...)
			e.value(v.notAfter)
		}
		e.flushIfFull()
	}
}

func (e *exposition) states(mons []*mon, series []*monSeries) {
	e.header(famState, helpState)
	names := stateNames()
	for i, m := range mons {
		label := ""
		if s := series[i]; s != nil {
			label = s.monitor
		} else {
			label = escapeLabel(m.name)
		}
		cur := stateOf(m.status.Load())
		for _, st := range names {
			e.buf = append(e.buf, famState+`{monitor="`...)
			e.buf = append(e.buf, label...)
			e.buf = append(e.buf, `",state="`...)
			e.buf = append(e.buf, st...)
			e.buf = append(e.buf, `"} `...)
			if st == cur {
				e.buf = append(e.buf, "1\n"...)
			} else {
				e.buf = append(e.buf, "0\n"...)
			}
		}
		e.flushIfFull()
	}
}

// stateOf is the vantage_monitor_state value that is 1 for st.
func stateOf(st *monStatus) string {
	if st == nil {
		return string(incident.StateUp)
	}
	if st.state == incident.StateUp && st.degraded {
		return stateDegraded
	}
	return string(st.state)
}

// family appends one of the registry's families, encoded by expfmt.
func (e *exposition) family(mf *dto.MetricFamily) {
	if _, err := expfmt.MetricFamilyToText(e, mf); err != nil && e.err == nil {
		e.err = fmt.Errorf("encoding %s: %w", mf.GetName(), err)
	}
	e.flushIfFull()
}

// Write, WriteString, WriteByte and WriteRune let expfmt append to the
// buffer directly (it wraps other writers in a bufio.Writer of its own).
func (e *exposition) Write(p []byte) (int, error) {
	e.buf = append(e.buf, p...)
	return len(p), nil
}

func (e *exposition) WriteString(s string) (int, error) {
	e.buf = append(e.buf, s...)
	return len(s), nil
}

func (e *exposition) WriteByte(c byte) error {
	e.buf = append(e.buf, c)
	return nil
}

func (e *exposition) WriteRune(r rune) (int, error) {
	n := len(e.buf)
	e.buf = utf8.AppendRune(e.buf, r)
	return len(e.buf) - n, nil
}

// serveMetrics is /metrics. Whatever format the scraper asks for, it gets
// the text format 0.0.4 (which every scraper accepts), so the registry's
// families and the hand-written ones make one valid exposition; gzipped when
// the scraper accepts it, as promhttp does.
func (mx *metrics) serveMetrics(w http.ResponseWriter, r *http.Request) {
	fams, err := mx.gatherer.Gather()
	if err != nil {
		http.Error(w, "gathering metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	d := mx.d
	mons := d.monitorList()
	cfg := d.config()
	series := make([]*monSeries, len(mons))
	for i, m := range mons {
		series[i] = seriesOf(m, cfg)
	}

	h := w.Header()
	h.Set("Content-Type", string(expfmt.FmtText))
	var out io.Writer = w
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		gz := mx.gzips.Get().(*gzip.Writer)
		gz.Reset(w)
		defer func() {
			_ = gz.Close() // the client went away: nothing to tell it
			mx.gzips.Put(gz)
		}()
		out = gz
	}
	bp := mx.bufs.Get().(*[]byte)
	e := &exposition{w: out, buf: (*bp)[:0]}
	defer func() {
		*bp = e.buf[:0]
		mx.bufs.Put(bp)
	}()

	// Sorted by family name, the hand-written ones in their place.
	own := []struct {
		name  string
		write func()
	}{
		{famDuration, func() { e.durations(series, mx.phaseLabels) }},
		{famState, func() { e.states(mons, series) }},
		{famCert, func() { e.certs(series) }},
	}
	for _, mf := range fams {
		for len(own) > 0 && own[0].name < mf.GetName() {
			own[0].write()
			own = own[1:]
		}
		e.family(mf)
	}
	for _, o := range own {
		o.write()
	}
	e.flush()
	if e.err != nil {
		d.log.Debug("writing /metrics", "err", e.err)
	}
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip.
func acceptsGzip(h string) bool {
	for part := range strings.SplitSeq(h, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.TrimSpace(params)
		if v, ok := strings.CutPrefix(q, "q="); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// newPools are the scrape's reused buffers and gzip writers.
func newPools() (bufs, gzips *sync.Pool) {
	bufs = &sync.Pool{New: func() any {
		b := make([]byte, 0, expositionBuffer)
		return &b
	}}
	gzips = &sync.Pool{New: func() any {
		gz, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
		return gz
	}}
	return bufs, gzips
}
