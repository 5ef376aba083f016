package probe

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// userAgent is sent unless the spec sets its own.
const userAgent = "vantage-probe/1"

// phase is the step a hop is in; a failure is classified by it.
type phase int

const (
	phaseDNS phase = iota
	phaseConnect
	phaseTLS
	phaseSending
	phaseWaiting
	phaseBody
)

// exchange is the state of one probe: a chain of hops ending in one result.
type exchange struct {
	p        *Prober
	pl       *Plan
	r        *result.Result
	ctx      context.Context
	start    time.Time
	deadline time.Time

	phase phase
	// Per hop; a hop overwrites the previous one's.
	conn      net.Conn
	stopAfter func() bool
	hdr       *headerLimit
	tls       tlsState
	gotFirst  bool
	addr      string // host:port being talked to, for messages
	addedGzip bool   // the probe, not the spec, asked for gzip
}

// tlsState is what VerifyConnection saw, kept even when verification failed.
type tlsState struct {
	leaf      *x509.Certificate
	chain     []*x509.Certificate // as served, leaf first, at most maxChain
	version   uint16
	verifyErr error
}

func (x *exchange) run() {
	s := &x.pl.spec
	u := x.pl.u
	method := s.Method
	body := s.Body
	header := x.baseHeader()
	var seen map[string]bool
	var jar *cookiejar.Jar
	loop := false
	for {
		resp, ok := x.hop(method, u, withCookies(header, jar, u), body)
		if !ok {
			return
		}
		loc := resp.Header.Get("Location")
		if s.NoFollow || !isRedirect(resp.StatusCode) || loc == "" {
			x.final(resp, u)
			return
		}
		next, err := u.Parse(loc)
		if err != nil || (next.Scheme != "http" && next.Scheme != "https") || next.Host == "" {
			x.closeConn()
			x.r.FinalURL = u.String()
			x.r.Status = resp.StatusCode
			msg := fmt.Sprintf("%d redirect to %q", resp.StatusCode, loc)
			if err != nil {
				msg += ": " + err.Error()
			} else {
				msg += " which is not an http(s) URL"
			}
			x.fail(result.ClassProtocolError, result.DetailMalformedResponse, "following a redirect from %s: %s", u.Redacted(), msg)
			return
		}
		x.closeConn()
		if cs := resp.Cookies(); len(cs) > 0 {
			// Sites that set a session cookie and redirect back would loop
			// forever without one; the jar lives for this probe only.
			if jar == nil {
				jar, _ = cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
			}
			jar.SetCookies(u, cs)
		}
		if seen == nil {
			seen = map[string]bool{u.String(): true}
		}
		if seen[next.String()] {
			loop = true
		}
		seen[next.String()] = true
		if x.r.Redirects >= s.MaxRedirects {
			x.r.Status = resp.StatusCode
			x.r.FinalURL = u.String()
			detail, what := result.DetailRedirectLimit, "a chain longer than the limit"
			if loop {
				detail, what = result.DetailRedirectLoop, "a loop (a URL came back)"
			}
			x.fail(result.ClassTooManyRedirects, detail, "following redirects from %s: gave up after %d redirects, %s; next was %s", x.pl.u.Redacted(), x.r.Redirects, what, next.Redacted())
			return
		}
		x.r.Redirects++
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
			// What browsers and curl -L do: the body is not re-sent.
			if method != http.MethodGet && method != http.MethodHead {
				method, body = http.MethodGet, ""
				header = header.Clone()
				header.Del("Content-Type")
			}
		}
		if !sameOrigin(u, next) {
			// Credentials (and a Host override) meant for one origin do not
			// follow to another.
			header = header.Clone()
			for _, k := range []string{"Authorization", "Cookie", "Proxy-Authorization", "Host"} {
				header.Del(k)
			}
		}
		u = next
	}
}

// withCookies adds the jar's cookies for u to header.
func withCookies(header http.Header, jar *cookiejar.Jar, u *url.URL) http.Header {
	if jar == nil {
		return header
	}
	cs := jar.Cookies(u)
	if len(cs) == 0 {
		return header
	}
	parts := make([]string, 0, len(cs)+1)
	if v := header.Get("Cookie"); v != "" {
		parts = append(parts, v)
	}
	for _, c := range cs {
		parts = append(parts, c.String())
	}
	h := header.Clone()
	h.Set("Cookie", strings.Join(parts, "; "))
	return h
}

func isRedirect(code int) bool {
	switch code {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(a.Host, b.Host)
}

func (x *exchange) baseHeader() http.Header {
	s := &x.pl.spec
	h := make(http.Header, len(s.Headers)+2)
	for k, v := range s.Headers {
		h.Set(k, v)
	}
	if u := x.pl.u.User; u != nil && h.Get("Authorization") == "" {
		// What curl and net/http's Client do with user:password@ (writing
		// the request by hand skips it); a redirect to another origin
		// drops it like any Authorization.
		p, _ := u.Password()
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+p)))
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{userAgent}
	}
	if _, ok := h["Accept-Encoding"]; !ok {
		// Asked for so the body is checked as users get it, and bounded
		// after decompression (net/http.Transport does the same).
		h["Accept-Encoding"] = []string{"gzip"}
		x.addedGzip = true
	}
	return h
}

// fail records a failure; format says what was being done.
func (x *exchange) fail(c result.Class, detail, format string, args ...any) {
	x.r.Class = c
	x.r.Detail = detail
	x.r.Error = fmt.Sprintf(format, args...)
}

func (x *exchange) closeConn() {
	if x.conn != nil {
		if x.stopAfter != nil {
			x.stopAfter()
			x.stopAfter = nil
		}
		x.conn.Close()
		x.conn = nil
	}
}

// hop sends one request on a fresh connection and reads the response
// headers. On failure it records the result and returns false.
func (x *exchange) hop(method string, u *url.URL, header http.Header, body string) (*http.Response, bool) {
	x.tls = tlsState{}
	x.gotFirst = false
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	x.addr = net.JoinHostPort(host, port)
	x.r.FinalURL = u.String()

	conn, ok := x.connect(host, port)
	if !ok {
		return nil, false
	}
	x.conn = conn
	x.r.RemoteAddr = conn.RemoteAddr().String()
	if u.Scheme == "https" {
		tc, ok := x.handshake(conn, host)
		if !ok {
			x.closeConn()
			return nil, false
		}
		x.conn = tc
	}
	// The deadline bounds every read and write from here on; cancelling
	// ctx (not only its deadline) interrupts them too.
	c := x.conn
	c.SetDeadline(x.deadline)
	x.stopAfter = context.AfterFunc(x.ctx, func() { c.SetDeadline(time.Unix(1, 0)) })

	req := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     header,
		Host:       u.Host,
		Close:      true,
	}
	if h := header.Get("Host"); h != "" {
		req.Host = h
	}
	if body != "" {
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	x.phase = phaseSending
	t0 := time.Now()
	wr := &writeRecorder{w: c}
	bw := bufio.NewWriterSize(wr, 1024)
	werr := req.Write(bw)
	if werr == nil {
		werr = bw.Flush()
	}
	if wr.err != nil {
		// net/http reports a failed body write as an opaque body read
		// error; the connection's own error says what happened.
		werr = wr.err
	}
	x.phase = phaseWaiting
	x.hdr = &headerLimit{c: c, left: x.p.maxHeaderBytes()}
	br := bufio.NewReaderSize(x.hdr, 4096)
	if werr != nil {
		// A server may answer and close before reading the whole request
		// (a 413, a 301 for every path); its answer beats our write error.
		if _, err := br.Peek(1); err != nil {
			x.phase = phaseSending
			x.netFail(werr)
			x.closeConn()
			return nil, false
		}
	}
	var resp *http.Response
	var err error
	for informational := 0; ; informational++ {
		if _, err = br.Peek(1); err != nil {
			break
		}
		if !x.gotFirst {
			x.gotFirst = true
			x.r.Phases.TTFBMs += ms(time.Since(t0))
		}
		resp, err = http.ReadResponse(br, req)
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode == 101 || informational >= 5 {
			break
		}
	}
	if err != nil {
		x.netFail(err)
		x.closeConn()
		return nil, false
	}
	x.hdr.left = math.MaxInt64
	if x.addedGzip && method != http.MethodHead && strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		resp.Uncompressed = true
		resp.ContentLength = -1
	}
	return resp, true
}

// writeRecorder keeps the connection's write error.
type writeRecorder struct {
	w   io.Writer
	err error
}

func (r *writeRecorder) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	if err != nil {
		r.err = err
	}
	return n, err
}

// headerLimit caps what is read from the connection until the headers are
// parsed (the same approach as net/http.Transport).
type headerLimit struct {
	c    net.Conn
	left int64
	hit  bool
}

var errHeadersTooLarge = errors.New("response headers too large")

func (h *headerLimit) Read(p []byte) (int, error) {
	if h.left <= 0 {
		h.hit = true
		return 0, errHeadersTooLarge
	}
	if int64(len(p)) > h.left {
		p = p[:h.left]
	}
	n, err := h.c.Read(p)
	h.left -= int64(n)
	return n, err
}

// final classifies the last response, reading its body.
func (x *exchange) final(resp *http.Response, u *url.URL) {
	defer x.closeConn()
	s := &x.pl.spec
	r := x.r
	r.Status = resp.StatusCode
	r.RetryAfter = resp.Header.Get("Retry-After")
	statusOK := s.ExpectStatus.Contains(resp.StatusCode)
	check := statusOK && (x.pl.re != nil || x.pl.expect != nil || len(x.pl.json) > 0 || len(x.pl.headers) > 0)
	b := bodyReader{max: s.MaxBody, expect: x.pl.expect, keep: statusOK && len(x.pl.json) > 0}
	if !statusOK || check {
		b.excerpt = make([]byte, 0, 512)
	}
	if b.keep && resp.ContentLength > 0 && !resp.Uncompressed {
		b.all = make([]byte, 0, min(resp.ContentLength, s.MaxBody))
	}
	x.phase = phaseBody
	var src io.Reader = resp.Body
	var err error
	if resp.Uncompressed {
		var gz *gzip.Reader
		if gz, err = gzip.NewReader(resp.Body); err == nil {
			src = gz
		} else if err == io.EOF {
			src, err = eofReader{}, nil
		}
	}
	var matched bool
	if err == nil {
		b.src = src
		matched, err = b.run(x.pl.re)
		if err == nil && b.n == b.max {
			b.truncated(resp)
		}
	}
	r.BodyBytes = b.n
	r.Truncated = b.trunc
	switch {
	case !statusOK:
		// The status is the verdict even if the error page was then cut
		// short: a 502 with a broken body is still a 502.
		id := x.identify(resp, b.excerpt)
		r.Class = statusClass(resp, id)
		r.Error = fmt.Sprintf("%s %s returned %s; expected %s", s.Method, u.Redacted(), statusText(resp.StatusCode), s.ExpectStatus)
		if err != nil {
			r.Error += fmt.Sprintf(" (and reading its body failed after %d bytes: %v)", b.n, err)
		}
	case x.assertHeaders(resp, u, b.excerpt):
		// The headers were wrong before the body was read: that stands
		// even if the body was then cut short.
	case err != nil:
		x.netFail(err)
	case x.pl.expect != nil && !b.found:
		r.Class, r.Detail = result.ClassContentMismatch, result.DetailBodyMissingText
		r.Error = fmt.Sprintf("checking the body of %s: %q not found in the first %d bytes", u.Redacted(), s.ExpectBody, b.n)
		x.identify(resp, b.excerpt)
	case x.pl.re != nil && !matched:
		r.Class, r.Detail = result.ClassContentMismatch, result.DetailBodyRegexFailed
		r.Error = fmt.Sprintf("checking the body of %s: /%s/ did not match the first %d bytes", u.Redacted(), s.ExpectRegex, b.n)
		x.identify(resp, b.excerpt)
	case x.assertJSON(resp, u, &b):
	default:
		r.Class = result.ClassOK
	}
}

// assertHeaders checks expect_header, recording a failure; it reports
// whether one failed.
func (x *exchange) assertHeaders(resp *http.Response, u *url.URL, excerpt []byte) bool {
	if len(x.pl.headers) == 0 {
		return false
	}
	a, why := checkHeaders(x.pl.headers, resp.Header)
	if a == nil {
		return false
	}
	x.fail(result.ClassContentMismatch, result.DetailHeader, "checking the headers of %s: %s", u.Redacted(), why)
	x.identify(resp, excerpt)
	x.r.Evidence.Assertion = a
	return true
}

// assertJSON checks expect_json on the body read, recording a failure; it
// reports whether one failed.
func (x *exchange) assertJSON(resp *http.Response, u *url.URL, b *bodyReader) bool {
	if len(x.pl.json) == 0 {
		return false
	}
	a, why := checkJSON(x.pl.json, b.all, b.trunc, b.max)
	b.all = nil
	if a == nil {
		return false
	}
	x.fail(result.ClassContentMismatch, result.DetailJSONPath, "checking the JSON body of %s: %s", u.Redacted(), why)
	x.identify(resp, b.excerpt)
	x.r.Evidence.Assertion = a
	return true
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprint(code)
}

// handshake runs TLS over conn, recording the leaf even when it is refused.
func (x *exchange) handshake(conn net.Conn, host string) (net.Conn, bool) {
	x.phase = phaseTLS
	st := &x.tls
	insecure := x.pl.spec.Insecure
	roots := x.p.RootCAs
	if x.pl.roots != nil {
		roots = x.pl.roots
	}
	now := x.p.now()
	cfg := &tls.Config{
		ServerName: host,
		NextProtos: []string{"http/1.1"},
		// Verification is done below so that the certificate is recorded
		// and the failure classified precisely, whatever the outcome.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				st.verifyErr = errors.New("server presented no certificate")
				return st.verifyErr
			}
			st.leaf = cs.PeerCertificates[0]
			st.chain = cs.PeerCertificates[:min(len(cs.PeerCertificates), maxChain)]
			st.version = cs.Version
			if insecure {
				return nil
			}
			opts := x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: now}
			if len(cs.PeerCertificates) > 1 {
				opts.Intermediates = x509.NewCertPool()
				for _, c := range cs.PeerCertificates[1:] {
					opts.Intermediates.AddCert(c)
				}
			}
			_, st.verifyErr = st.leaf.Verify(opts)
			return st.verifyErr
		},
	}
	t0 := time.Now()
	tc := tls.Client(conn, cfg)
	err := tc.HandshakeContext(x.ctx)
	x.r.Phases.TLSMs += ms(time.Since(t0))
	if st.leaf != nil {
		x.r.TLS = tlsInfo(st.leaf, st.version, now)
		x.r.TLS.Earliest = earliest(st.chain, now)
	}
	if err != nil {
		x.tlsFail(err, host, now)
		return nil, false
	}
	return tc, true
}

// maxChain bounds the served certificates looked at for the earliest
// expiry: real chains have two to four, and a server sending hundreds must
// not make every probe of it walk them.
const maxChain = 16

func tlsInfo(c *x509.Certificate, version uint16, now time.Time) *result.TLSInfo {
	return &result.TLSInfo{
		Issuer:    c.Issuer.String(),
		Subject:   c.Subject.String(),
		Serial:    serialHex(c),
		NotBefore: result.TimeOf(c.NotBefore),
		NotAfter:  result.TimeOf(c.NotAfter),
		DaysLeft:  daysLeft(c, now),
		DNSNames:  c.DNSNames,
		Version:   tls.VersionName(version),
	}
}

// earliest is the certificate of the chain as served whose not_after comes
// first (the one nearest the leaf on a tie): an intermediate that expires
// before the leaf breaks the site as surely as the leaf would.
func earliest(chain []*x509.Certificate, now time.Time) *result.CertInfo {
	best := -1
	for i, c := range chain {
		if best < 0 || c.NotAfter.Before(chain[best].NotAfter) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	c := chain[best]
	return &result.CertInfo{
		Subject:  c.Subject.String(),
		Issuer:   c.Issuer.String(),
		Serial:   serialHex(c),
		NotAfter: result.TimeOf(c.NotAfter),
		DaysLeft: daysLeft(c, now),
		DNSNames: c.DNSNames,
		Depth:    best,
	}
}

// daysLeft is whole days until c expires, negative once it has.
func daysLeft(c *x509.Certificate, now time.Time) int {
	return int(math.Floor(c.NotAfter.Sub(now).Hours() / 24))
}

// serialHex writes c's serial as openssl's -text does, so that an alert's
// serial can be searched for in its output and in CT logs: "0A:1B:2C".
func serialHex(c *x509.Certificate) string {
	if c.SerialNumber == nil {
		return ""
	}
	b := c.SerialNumber.Bytes()
	if len(b) == 0 {
		b = []byte{0}
	}
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 3*len(b))
	for i, v := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[v>>4], digits[v&0xf])
	}
	if c.SerialNumber.Sign() < 0 {
		return "-" + string(out)
	}
	return string(out)
}
