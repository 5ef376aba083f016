package agent

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/fixes"
	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/redact"
	"github.com/vantage-monitor/vantage/monitor/resolver"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// ProbePath is where the agent takes probe specs.
const ProbePath = "/v1/probe"

// Caps and defaults of a Server; Options override them.
const (
	DefaultMaxTimeout     = 30 * time.Second
	DefaultMaxBody        = 1 << 20
	DefaultMaxRedirects   = 10
	DefaultMaxConcurrency = 16
	DefaultRate           = 10.0 // probes per second
	// MaxRequestBytes bounds the signed request body (the JSON spec).
	MaxRequestBytes = 64 << 10
	// maxExcerpt, maxEvidenceLines and maxLine bound what an answer
	// carries from the target, whatever the probe put in the result.
	maxExcerpt       = 4 << 10
	maxEvidenceLines = 32
	maxLine          = 1 << 10
)

// Options configure a Server. Zero fields take the defaults above.
type Options struct {
	// Keys are the accepted shared keys (current and next, for rotation).
	// At least one is required, each at least MinKeyBytes long.
	Keys [][]byte
	// RefusePrivate refuses non-public destinations (see RefusePrivate)
	// and the host's own interface addresses, and says so in the answer's
	// "refusal" field.
	RefusePrivate bool
	// MaxTimeout, MaxBody and MaxRedirects clamp a spec's fields: a larger
	// value is lowered to the cap (and logged), not refused, so a
	// coordinator with a generous timeout still gets a verdict.
	MaxTimeout   time.Duration
	MaxBody      int64
	MaxRedirects int
	// MaxConcurrency bounds probes and lookups in flight; beyond it the
	// answer is 503 with Retry-After.
	MaxConcurrency int
	// Rate and Burst bound authenticated probes and lookups per second
	// (one token bucket for both);
	// beyond them the answer is 429 with Retry-After. Burst 0 means
	// max(MaxConcurrency, ceil(Rate)).
	Rate  float64
	Burst int
	// ReplayCacheSize bounds the remembered nonces; 0 means
	// DefaultReplayCacheSize.
	ReplayCacheSize int
	// Resolver and RootCAs are passed to the prober (nil: the system's).
	// Resolver also answers /v1/resolve unless Lookup is set.
	Resolver *net.Resolver
	RootCAs  *x509.CertPool
	// Lookup answers /v1/resolve; nil means Resolver's (or the system's)
	// LookupNetIP. Tests set it to see which requests reach a lookup.
	Lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)
	// Now is the clock for timestamps, the replay cache and the rate
	// limit; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per request; nil discards.
	Logger *slog.Logger
}

// Server is the agent's HTTP endpoint. Make it with NewServer.
type Server struct {
	opts    Options
	prober  *probe.Prober
	replay  *replayCache
	bucket  *tokenBucket
	sem     chan struct{}
	log     *slog.Logger
	handler http.Handler
	// probed counts probes started, for tests and the benchmark.
	probed func()
	// refuser is the refuse_private policy, nil without it.
	refuser *refuser
}

// NewServer checks opts and returns a Server.
func NewServer(opts Options) (*Server, error) {
	if len(opts.Keys) == 0 {
		return nil, errors.New("agent: no key: at least one shared key is required")
	}
	for i, k := range opts.Keys {
		if len(k) < MinKeyBytes {
			return nil, fmt.Errorf("agent: key %d has %d bytes; at least %d are required", i+1, len(k), MinKeyBytes)
		}
	}
	if opts.MaxTimeout <= 0 {
		opts.MaxTimeout = DefaultMaxTimeout
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = DefaultMaxRedirects
	}
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = DefaultMaxConcurrency
	}
	if opts.Rate < 0 || math.IsNaN(opts.Rate) || math.IsInf(opts.Rate, 0) {
		return nil, fmt.Errorf("agent: rate %v is not a positive number", opts.Rate)
	}
	if opts.Rate == 0 {
		opts.Rate = DefaultRate
	}
	if opts.Burst < 0 {
		return nil, fmt.Errorf("agent: burst %d is negative", opts.Burst)
	}
	if opts.Burst == 0 {
		opts.Burst = max(opts.MaxConcurrency, int(math.Ceil(opts.Rate)))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Lookup == nil {
		r := opts.Resolver
		opts.Lookup = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
			return resolver.LookupNetIP(ctx, r, network, host)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:   opts,
		prober: &probe.Prober{Resolver: opts.Resolver, RootCAs: opts.RootCAs, Now: opts.Now},
		replay: newReplayCache(opts.ReplayCacheSize),
		bucket: newTokenBucket(opts.Rate, opts.Burst, opts.Now()),
		sem:    make(chan struct{}, opts.MaxConcurrency),
		log:    opts.Logger,
	}
	if opts.RefusePrivate {
		s.refuser = newRefuser()
		s.prober.DialControl = s.refuser.control
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+ProbePath, s.handleProbe)
	mux.HandleFunc("POST "+ResolvePath, s.handleResolve)
	mux.HandleFunc("GET /healthz", handleHealth)
	s.handler = mux
	return s, nil
}

// ServeHTTP serves POST /v1/probe, POST /v1/resolve and GET /healthz; anything else is 404,
// or 405 for a known path with another method.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Serve answers on ln until ctx ends, then stops taking connections and
// lets probes in flight finish (up to MaxTimeout and a little) before it
// returns. It returns nil after a shutdown that ctx asked for.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      s.opts.MaxTimeout + 20*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("agent: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.MaxTimeout+5*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	if err != nil {
		hs.Close()
		return fmt.Errorf("agent: shutting down: %w", err)
	}
	return nil
}

func handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, "ok\n")
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}

// admit reads and authenticates a request and takes a rate token for it.
// When it returns false it has answered the request, and nothing may be
// done on its behalf.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, log *slog.Logger) (body, key []byte, nonce string, ok bool) {
	if r.ContentLength > MaxRequestBytes {
		log.Warn("agent request refused", "reason", "request body too large", "bytes", r.ContentLength)
		plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", MaxRequestBytes))
		return nil, nil, "", false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		log.Warn("agent request refused", "reason", "reading the request body", "err", err)
		plain(w, http.StatusBadRequest, "could not read the request body")
		return nil, nil, "", false
	}
	if len(body) > MaxRequestBytes {
		log.Warn("agent request refused", "reason", "request body too large")
		plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", MaxRequestBytes))
		return nil, nil, "", false
	}
	now := s.opts.Now()
	key, nonce, err = verify(s.opts.Keys, now, r.Method, r.URL.RequestURI(), r.Header, body)
	if err != nil {
		log.Warn("agent request not authenticated", "reason", err.Error())
		w.Header().Set("WWW-Authenticate", AuthScheme)
		plain(w, http.StatusUnauthorized, "unauthorized: "+err.Error())
		return nil, nil, "", false
	}
	// The nonce is recorded only now that the signature is good, so that
	// nobody without a key can fill the cache. verify checked the
	// timestamp parses.
	sec, _ := strconv.ParseInt(r.Header.Get(HeaderTimestamp), 10, 64)
	switch s.replay.add(nonce, time.Unix(sec, 0).Add(ClockSkew+replayMargin), now) {
	case replaySeen:
		log.Warn("agent request not authenticated", "reason", "replayed nonce")
		w.Header().Set("WWW-Authenticate", AuthScheme)
		plain(w, http.StatusUnauthorized, "unauthorized: nonce already used (replayed request)")
		return nil, nil, "", false
	case replayFull:
		log.Warn("agent request refused", "reason", "replay cache full")
		retryAfter(w, ClockSkew)
		plain(w, http.StatusServiceUnavailable, "busy: too many recent requests to remember; retry later")
		return nil, nil, "", false
	}
	if ok, wait := s.bucket.take(now); !ok {
		log.Warn("agent request refused", "reason", "rate limit")
		retryAfter(w, wait)
		plain(w, http.StatusTooManyRequests, fmt.Sprintf("rate limit: at most %g requests per second", s.opts.Rate))
		return nil, nil, "", false
	}
	return body, key, nonce, true
}

// acquire takes a concurrency slot, or answers 503 and returns false.
// The caller releases a slot it got with <-s.sem.
func (s *Server) acquire(w http.ResponseWriter, log *slog.Logger) bool {
	select {
	case s.sem <- struct{}{}:
		return true
	default:
		log.Warn("agent request refused", "reason", "concurrency limit")
		retryAfter(w, time.Second)
		plain(w, http.StatusServiceUnavailable, fmt.Sprintf("busy: %d probes or lookups already running", s.opts.MaxConcurrency))
		return false
	}
}

// signed writes a 200 answer signed for the request of nonce.
func signed(w http.ResponseWriter, key []byte, nonce string, out []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(HeaderResponseSignature, responseMAC(key, nonce, http.StatusOK, out))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

func (s *Server) handleProbe(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	log := s.log.With("remote", r.RemoteAddr)
	body, key, nonce, ok := s.admit(w, r, log)
	if !ok {
		return
	}
	spec, clamped, err := s.decodeSpec(body)
	if err != nil {
		log.Warn("agent request refused", "reason", "bad spec", "err", err)
		plain(w, http.StatusBadRequest, "bad probe spec: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	plan, err := probe.Compile(spec)
	if err != nil {
		log.Warn("agent request refused", "reason", "bad spec", "err", err)
		plain(w, http.StatusBadRequest, "bad probe spec: "+strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	if !s.acquire(w, log) {
		return
	}
	if s.probed != nil {
		s.probed()
	}
	res := s.prober.RunPlan(r.Context(), plan)
	<-s.sem
	// A coordinator from before monitor/round takes the fixes of the
	// result that stands for its round, which may be this one: an agent
	// upgraded before its coordinator must still hand them over. A current
	// coordinator ignores them and chooses once, at the end of its round,
	// from every vantage's result and the diagnosis.
	if f := fixes.Suggest(&res, nil); len(f) > 0 {
		res.Fixes = f
	}
	bound(&res)
	out, err := json.Marshal(res)
	if err != nil {
		log.Error("agent could not encode a result", "err", err)
		plain(w, http.StatusInternalServerError, "could not encode the result")
		return
	}
	host := ""
	if u, err := url.Parse(spec.URL); err == nil {
		host = u.Host // never the path or query: they may carry tokens
	}
	log.Info("agent probe", "host", host, "class", res.Class, "status", res.Status, "refused", res.Refusal != nil,
		"probe_ms", res.Phases.TotalMs, "ms", time.Since(start).Milliseconds(), "clamped", clamped, "key", KeyID(key))
	log.Debug("agent probe spec", "url", redact.URL(spec.URL), "method", spec.Method)
	signed(w, key, nonce, out)
}

// decodeSpec reads a spec strictly and clamps it to the agent's caps. It
// returns the names of the fields it lowered.
func (s *Server) decodeSpec(body []byte) (probe.Spec, []string, error) {
	var spec probe.Spec
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	// An expect_json equals arrives as the coordinator wrote it: a large
	// integer stays exact instead of being rounded through float64.
	dec.UseNumber()
	if err := dec.Decode(&spec); err != nil {
		return spec, nil, fmt.Errorf("decoding JSON: %w", err)
	}
	if dec.More() {
		return spec, nil, errors.New("decoding JSON: data after the spec")
	}
	if err := spec.Validate(); err != nil {
		return spec, nil, err
	}
	spec = spec.WithDefaults()
	var clamped []string
	if spec.Timeout > s.opts.MaxTimeout {
		spec.Timeout = s.opts.MaxTimeout
		clamped = append(clamped, "timeout")
	}
	if spec.MaxBody > s.opts.MaxBody {
		spec.MaxBody = s.opts.MaxBody
		clamped = append(clamped, "max_body")
	}
	if spec.MaxRedirects > s.opts.MaxRedirects {
		spec.MaxRedirects = s.opts.MaxRedirects
		clamped = append(clamped, "max_redirects")
	}
	return spec, clamped, nil
}

// bound trims what a result carries from the target, so an answer is a
// verdict, timings and a small excerpt whatever the target sent.
func bound(r *result.Result) {
	r.Evidence.Body = truncate(r.Evidence.Body, maxExcerpt)
	r.Evidence.Headers = boundLines(r.Evidence.Headers)
	r.Evidence.Markers = boundLines(r.Evidence.Markers)
	r.Error = truncate(r.Error, maxLine)
	r.Detail = truncate(r.Detail, maxLine)
	r.RetryAfter = truncate(r.RetryAfter, maxLine)
	r.FinalURL = truncate(r.FinalURL, 4*maxLine)
	if a := r.Evidence.Assertion; a != nil {
		a.Path = truncate(a.Path, maxLine)
		a.Expected = truncate(a.Expected, maxLine)
		a.Found = truncate(a.Found, maxLine)
	}
	if len(r.Via) > maxEvidenceLines {
		r.Via = r.Via[:maxEvidenceLines]
	}
}

func boundLines(l []string) []string {
	if len(l) > maxEvidenceLines {
		l = l[:maxEvidenceLines]
	}
	for i := range l {
		l[i] = truncate(l[i], maxLine)
	}
	return l
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
