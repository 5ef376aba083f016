package web

import (
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/vantage-monitor/vantage/monitor/redact"
)

// Option changes how Handler behaves; the defaults suit the daemon.
type Option func(*server)

// WithClock sets the clock used for "generated_at" and for the page's
// relative times ("12s ago"), so tests can pin them.
func WithClock(now func() time.Time) Option {
	return func(s *server) {
		if now != nil {
			s.now = now
		}
	}
}

// WithRedact sets the function every value the page and the API show goes
// through (the daemon's Redactor for the config in force). Without it, only
// the URL rule of monitor/redact applies.
func WithRedact(f func(string) string) Option {
	return func(s *server) {
		if f != nil {
			s.redact = f
		}
	}
}

// server holds what every request needs; it is immutable after Handler.
type server struct {
	src     Source
	metrics http.Handler
	log     *slog.Logger
	now     func() time.Time
	page    *template.Template
	redact  func(string) string

	// public is set for the [status_page] listener (WithPublic): only the
	// pages, badges and assets, for the monitors allow lets through, and
	// never a URL, an error text, evidence, fixes or a vantage address.
	public bool
	title  func() string
	allow  func(*MonitorView) bool
}

// WithPublic turns the handler into the public status page: title heads
// it (read for each page, so a reload can change it; nil or "" reads
// "Status"), and only the monitors allow accepts (nil: all) are shown or
// known.
func WithPublic(title func() string, allow func(*MonitorView) bool) Option {
	return func(s *server) {
		s.public, s.title, s.allow = true, title, allow
		if s.allow == nil {
			s.allow = func(*MonitorView) bool { return true }
		}
	}
}

// Handler returns the daemon's HTTP surface (see the package doc for the
// endpoints). metrics may be nil, and then /metrics answers 404; logger may
// be nil, and then nothing is logged. src must not be nil.
func Handler(src Source, metrics http.Handler, logger *slog.Logger, opts ...Option) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &server{
		src:     src,
		metrics: metrics,
		log:     logger,
		now:     time.Now,
		page:    statusTemplate,
		redact:  (*redact.Redactor)(nil).String,
	}
	for _, o := range opts {
		o(s)
	}

	// Patterns carry no method: ServeMux would answer a wrong method with a
	// plain-text 405, and the API promises JSON errors.
	mux := http.NewServeMux()
	if s.public {
		// Everything public reads the daemon through publicSource (see
		// monitor/web/public.go), which has applied allow already; its views
		// lack the fields allow may test (tags), so allow is spent here.
		s.src = newPublicSource(s.src, s.allow, s.log)
		s.allow = func(*MonitorView) bool { return true }
		mux.HandleFunc("/{$}", readOnly(s.statusPage, textError))
		mux.HandleFunc("/monitors/{name...}", readOnly(s.detailPage, textError))
		mux.HandleFunc("/badge/{path...}", readOnly(s.badge, textError))
		// The API, /metrics, /healthz and anything else do not exist here,
		// whatever the method.
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			textError(w, http.StatusNotFound, publicNotFound)
		})
		return mux
	}
	mux.HandleFunc("/healthz", readOnly(s.healthz, textError))
	mux.HandleFunc("/metrics", readOnly(s.serveMetrics, textError))
	mux.HandleFunc("/api/v1/monitors", readOnly(s.apiList, jsonError))
	// {name...} because monitor names are free text and may hold a slash;
	// apiMonitor tells a monitor's history from its document.
	mux.HandleFunc("/api/v1/monitors/{name...}", readOnly(s.apiMonitor, jsonError))
	mux.HandleFunc("/api/v1/incidents", readOnly(s.apiIncidents, jsonError))
	mux.HandleFunc("/api/v1/notifications", readOnly(s.apiNotifications, jsonError))
	mux.HandleFunc("/api/", readOnly(apiNotFound, jsonError))
	mux.HandleFunc("/{$}", readOnly(s.statusPage, textError))
	mux.HandleFunc("/monitors/{name...}", readOnly(s.detailPage, textError))
	mux.HandleFunc("/badge/{path...}", readOnly(s.badge, textError))
	return mux
}

// errorWriter writes an error response in the endpoint's format.
type errorWriter func(w http.ResponseWriter, code int, msg string)

// readOnly lets GET and HEAD through and answers anything else with 405.
func readOnly(h http.HandlerFunc, fail errorWriter) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			fail(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use GET or HEAD")
			return
		}
		h(w, r)
	}
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.src.Health(r.Context()); err != nil {
		// Not logged: probes hit this every few seconds, and the daemon logs
		// the underlying problem where it happens.
		textError(w, http.StatusServiceUnavailable, s.redact("unhealthy: "+err.Error()))
		return
	}
	setCommonHeaders(w, "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		textError(w, http.StatusNotFound, "metrics are not enabled")
		return
	}
	s.metrics.ServeHTTP(w, r)
}

// setCommonHeaders marks a response as dynamic and not to be sniffed.
func setCommonHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

func textError(w http.ResponseWriter, code int, msg string) {
	setCommonHeaders(w, "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(msg + "\n"))
}
