package probe

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults for a Spec's zero fields; the CLI and the config both show them.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBody      = 1 << 20 // 1 MiB
	DefaultMaxRedirects = 10
	DefaultExpectStatus = "200-399"
)

// Spec is the request part of a monitor: everything needed to probe a URL
// once. It is what `vantage check` builds from flags, what the config builds
// from a [[monitor]], and what the coordinator sends to an agent as JSON.
type Spec struct {
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	// Timeout bounds the whole probe: DNS, connect, TLS, headers and body.
	Timeout      time.Duration `json:"timeout,omitempty"`
	ExpectStatus StatusSet     `json:"expect_status,omitempty"`
	ExpectBody   string        `json:"expect_body,omitempty"`
	ExpectRegex  string        `json:"expect_regex,omitempty"`
	// MaxBody caps the bytes read from the body, after decompression.
	MaxBody int64 `json:"max_body,omitempty"`
	// NoFollow reports a 3xx as it is instead of following it.
	NoFollow     bool `json:"no_follow,omitempty"`
	MaxRedirects int  `json:"max_redirects,omitempty"`
	Insecure     bool `json:"insecure,omitempty"`
	// Resolve pins host:port to addr, as curl's --resolve "host:port:addr".
	Resolve []string `json:"resolve,omitempty"`
	// IPVersion is 0 for either, 4 or 6 to force one family.
	IPVersion int `json:"ip_version,omitempty"`
	// CAPEM is the monitor's ca_file, as PEM. When set, these roots verify
	// the server instead of the system's, as curl's --cacert and
	// blackbox_exporter's tls_config.ca_file do. It is sent to agents
	// whole, so a remote vantage trusts the same private CA.
	CAPEM string `json:"ca_pem,omitempty"`
	// ExpectJSON are RFC 9535 JSONPath assertions on the body, all of which
	// must hold.
	ExpectJSON []JSONAssertion `json:"expect_json,omitempty"`
	// ExpectHeader maps a response header name to a substring its value
	// must contain, or, written "~regex", a regexp it must match.
	ExpectHeader map[string]string `json:"expect_header,omitempty"`
}

// JSONAssertion is one expect_json entry. Path must select at least one
// node, and every node it selects must equal Equals (a string, number or
// bool; numbers compare by value, 2 equals 2.0) or, with Matches, be a
// scalar whose text (a string as it is, anything else as JSON) the regexp
// matches. Exactly one of Equals and Matches is set.
type JSONAssertion struct {
	Path    string `json:"path" toml:"path"`
	Equals  any    `json:"equals,omitempty" toml:"equals"`
	Matches string `json:"matches,omitempty" toml:"matches"`
}

// WithDefaults returns s with zero fields set to the documented defaults.
func (s Spec) WithDefaults() Spec {
	if s.Method == "" {
		s.Method = http.MethodGet
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.MaxBody <= 0 {
		s.MaxBody = DefaultMaxBody
	}
	if s.MaxRedirects <= 0 {
		s.MaxRedirects = DefaultMaxRedirects
	}
	if len(s.ExpectStatus) == 0 {
		s.ExpectStatus, _ = ParseStatusSet(DefaultExpectStatus)
	}
	return s
}

// SchemeHint says what to add to a URL written without a scheme, "" when
// it has one or is not a bare host[:port][/path]. Left alone, Go's parser
// says "first path segment in URL cannot contain colon" of 127.0.0.1:8080
// and takes the host of localhost:8080 for its scheme.
func SchemeHint(raw string) string {
	if raw == "" || strings.Contains(raw, "://") || strings.ContainsAny(raw, " \t\n") {
		return ""
	}
	host, _, _ := strings.Cut(raw, "/")
	if host == "" {
		return ""
	}
	// "mailto:x" has a scheme, only the wrong one; "shop.test:8080" has a
	// port where a scheme's text would be, and "[::1]:80" an IPv6 host.
	if _, after, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") && (after == "" || after[0] < '0' || after[0] > '9') {
		return ""
	}
	return fmt.Sprintf("%q has no scheme: add http:// or https:// (http://%s)", raw, raw)
}

// Validate reports every problem with s at once, each naming its field.
func (s Spec) Validate() error {
	_, err := s.prepare()
	return err
}

// prepared is what checking a spec compiles on the way, kept by Compile so
// that the CA, the JSONPaths and the regexps are parsed once.
type prepared struct {
	roots   *x509.CertPool
	json    []jsonCheck
	headers []headerCheck
}

// prepare checks s, compiling what the checks need; see Validate.
func (s Spec) prepare() (prepared, error) {
	var prep prepared
	var errs []error
	u, err := url.Parse(s.URL)
	switch {
	case s.URL == "":
		errs = append(errs, errors.New("url: missing"))
	case SchemeHint(s.URL) != "":
		errs = append(errs, errors.New("url: "+SchemeHint(s.URL)))
	case err != nil:
		errs = append(errs, fmt.Errorf("url: %w", err))
	case u.Scheme != "http" && u.Scheme != "https":
		errs = append(errs, fmt.Errorf("url: scheme %q is not http or https", u.Scheme))
	case u.Host == "":
		errs = append(errs, fmt.Errorf("url: %q has no host", s.URL))
	}
	if s.Method != "" && !validToken(s.Method) {
		errs = append(errs, fmt.Errorf("method: %q is not a valid HTTP method", s.Method))
	}
	for k := range s.Headers {
		if !validToken(k) {
			errs = append(errs, fmt.Errorf("headers: %q is not a valid header name", k))
		}
	}
	if s.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout: %s is negative", s.Timeout))
	}
	if s.MaxBody < 0 {
		errs = append(errs, fmt.Errorf("max_body: %d is negative", s.MaxBody))
	}
	if s.MaxRedirects < 0 {
		errs = append(errs, fmt.Errorf("max_redirects: %d is negative", s.MaxRedirects))
	}
	if s.ExpectRegex != "" {
		if _, err := regexp.Compile(s.ExpectRegex); err != nil {
			errs = append(errs, fmt.Errorf("expect_regex: %w", err))
		}
	}
	for _, r := range s.Resolve {
		if _, _, _, err := ParseResolve(r); err != nil {
			errs = append(errs, fmt.Errorf("resolve: %w", err))
		}
	}
	if s.IPVersion != 0 && s.IPVersion != 4 && s.IPVersion != 6 {
		errs = append(errs, fmt.Errorf("ip_version: %d is not 4 or 6", s.IPVersion))
	}
	if s.CAPEM != "" {
		if prep.roots, err = parseCAPEM(s.CAPEM); err != nil {
			errs = append(errs, fmt.Errorf("ca_pem: %w", err))
		}
	}
	for i, a := range s.ExpectJSON {
		c, err := compileJSON(i, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		prep.json = append(prep.json, c)
	}
	if prep.headers, err = compileHeaders(s.ExpectHeader); err != nil {
		errs = append(errs, err)
	}
	return prep, errors.Join(errs...)
}

// ParseResolve splits a curl-style "host:port:addr" pin. addr may be an IPv6
// literal, with or without brackets.
func ParseResolve(s string) (host string, port int, addr string, err error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 {
		return "", 0, "", fmt.Errorf("%q is not host:port:addr", s)
	}
	host = parts[0]
	port, err = strconv.Atoi(parts[1])
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, "", fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, parts[1])
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(parts[2], "["), "]")
	if net.ParseIP(addr) == nil {
		return "", 0, "", fmt.Errorf("%q: %q is not an IP address", s, parts[2])
	}
	if host == "" {
		return "", 0, "", fmt.Errorf("%q: empty host", s)
	}
	return host, port, addr, nil
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// StatusSet is a set of accepted status codes, written "200-399,418".
type StatusSet []StatusRange

// ParseStatusSet parses codes and ranges separated by commas: "200", "200-299,404".
func ParseStatusSet(s string) (StatusSet, error) {
	var set StatusSet
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseCode(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseCode(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("status range %q runs backwards", part)
			}
		}
		set = append(set, StatusRange{a, b})
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("status set %q is empty", s)
	}
	return set, nil
}

func parseCode(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("status %q is not a code from 100 to 599", s)
	}
	return n, nil
}

// Contains reports whether code is in the set.
func (s StatusSet) Contains(code int) bool {
	for _, r := range s {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// String writes the set back in the form ParseStatusSet reads.
func (s StatusSet) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		if r.Lo == r.Hi {
			parts[i] = strconv.Itoa(r.Lo)
		} else {
			parts[i] = fmt.Sprintf("%d-%d", r.Lo, r.Hi)
		}
	}
	return strings.Join(parts, ",")
}

// MarshalText makes the set a string in JSON and TOML.
func (s StatusSet) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the form ParseStatusSet reads.
func (s *StatusSet) UnmarshalText(b []byte) error {
	v, err := ParseStatusSet(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
