package probe

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/textproto"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/theory/jsonpath"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// foundBytes bounds Assertion.Found, and the Path and Expected written
// from the config, so a result stays small whatever the body or config.
const foundBytes = 256

// jsonCheck is one expect_json assertion, parsed and compiled.
type jsonCheck struct {
	path     *jsonpath.Path
	src      string // the path as written
	equals   any    // string, bool or number (int64 or float64); nil with re
	re       *regexp.Regexp
	expected string // Assertion.Expected
}

// headerCheck is one expect_header entry, compiled.
type headerCheck struct {
	name     string // as written, for messages
	key      string // canonical, for lookup
	substr   string
	re       *regexp.Regexp
	expected string
	failed   string // how a value fails it, for Error: `does not contain "json"`
}

// parseCAPEM makes the pool a ca_pem stands for.
func parseCAPEM(pemText string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pemText)) {
		return nil, errors.New("no PEM certificate in it")
	}
	return pool, nil
}

// compileJSON parses and checks expect_json[i]. Its errors name the field
// ("expect_json[0].path: ..."), so that the config can point at the line.
func compileJSON(i int, a JSONAssertion) (jsonCheck, error) {
	at := fmt.Sprintf("expect_json[%d]", i)
	c := jsonCheck{src: a.Path}
	if a.Path == "" {
		return c, fmt.Errorf("%s.path: missing", at)
	}
	p, err := jsonpath.Parse(a.Path)
	if err != nil {
		return c, fmt.Errorf("%s.path: %q is not an RFC 9535 JSONPath: %w", at, a.Path, err)
	}
	c.path = p
	switch {
	case a.Equals != nil && a.Matches != "":
		return c, fmt.Errorf("%s: set one of equals and matches, not both", at)
	case a.Equals == nil && a.Matches == "":
		return c, fmt.Errorf("%s: set equals or matches", at)
	case a.Matches != "":
		if c.re, err = regexp.Compile(a.Matches); err != nil {
			return c, fmt.Errorf("%s.matches: %w", at, err)
		}
		c.expected = "matches " + a.Matches
	default:
		if c.equals, err = scalar(a.Equals); err != nil {
			return c, fmt.Errorf("%s.equals: %w", at, err)
		}
		b, _ := json.Marshal(c.equals)
		c.expected = "= " + string(b)
	}
	c.expected = bound(c.expected, foundBytes)
	return c, nil
}

// scalar normalises an expected value: TOML gives int64 and float64, JSON
// float64 or json.Number, the CLI json.Number. Numbers become int64 when
// they are whole and fit, float64 otherwise.
func scalar(v any) (any, error) {
	switch v := v.(type) {
	case string, bool:
		return v, nil
	case int:
		return int64(v), nil
	case int8:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case int64:
		return v, nil
	case uint8:
		return int64(v), nil
	case uint16:
		return int64(v), nil
	case uint32:
		return int64(v), nil
	case uint:
		if uint64(v) <= math.MaxInt64 {
			return int64(v), nil
		}
		return float64(v), nil
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), nil
		}
		return float64(v), nil
	case float32:
		return normFloat(float64(v))
	case float64:
		return normFloat(v)
	case json.Number:
		n, ok := number(v)
		if !ok {
			return nil, fmt.Errorf("%q is not a number", string(v))
		}
		if f, isFloat := n.(float64); isFloat {
			return normFloat(f)
		}
		return n, nil
	}
	return nil, fmt.Errorf("%s is not a string, number or bool", kindOf(v))
}

func normFloat(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%v is not a JSON number", f)
	}
	return f, nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a table"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

// number reads a JSON number: int64 when it is an integer that fits,
// float64 otherwise. strconv bounds the work whatever the exponent.
func number(n json.Number) (any, bool) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, false
	}
	return f, true
}

// equal reports whether a node of the decoded body equals the expected
// scalar; numbers compare by value (2 equals 2.0), never a number with a
// string.
func equal(node, want any) bool {
	switch w := want.(type) {
	case string:
		s, ok := node.(string)
		return ok && s == w
	case bool:
		b, ok := node.(bool)
		return ok && b == w
	}
	n, ok := node.(json.Number)
	if !ok {
		return false
	}
	got, ok := number(n)
	if !ok {
		return false
	}
	gi, gInt := got.(int64)
	wi, wInt := want.(int64)
	if gInt && wInt {
		return gi == wi
	}
	return toFloat(got) == toFloat(want)
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int64:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

// scalarText is what a matches regexp sees of a node: a string as it is,
// another scalar as JSON; false for an object or array.
func scalarText(node any) (string, bool) {
	switch v := node.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "null", true
	}
	return "", false
}

// compileHeader checks and compiles expect_header[name].
func compileHeader(name, want string) (headerCheck, error) {
	at := fmt.Sprintf("expect_header[%q]", name)
	c := headerCheck{name: name, key: textproto.CanonicalMIMEHeaderKey(name)}
	if !validToken(name) {
		return c, fmt.Errorf("%s: %q is not a valid header name", at, name)
	}
	if expr, ok := strings.CutPrefix(want, "~"); ok {
		re, err := regexp.Compile(expr)
		if err != nil {
			return c, fmt.Errorf("%s: %w", at, err)
		}
		c.re = re
		c.expected = "matches " + expr
		c.failed = "does not match /" + expr + "/"
	} else {
		c.substr = want
		c.expected = "contains " + want
		c.failed = fmt.Sprintf("does not contain %q", want)
	}
	c.failed = bound(c.failed, foundBytes)
	c.expected = bound(c.expected, foundBytes)
	return c, nil
}

// compileHeaders compiles every expect_header entry, in name order so that
// the first failure reported is the same every time.
func compileHeaders(m map[string]string) ([]headerCheck, error) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []headerCheck
	var errs []error
	for _, k := range names {
		c, err := compileHeader(k, m[k])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

// checkHeaders returns the first expect_header assertion h fails, nil when
// all hold. Repeated fields are read as one, joined by ", " (RFC 9110).
func checkHeaders(checks []headerCheck, h http.Header) (*result.Assertion, string) {
	for _, c := range checks {
		vs, present := h[c.key]
		a := &result.Assertion{Kind: result.DetailHeader, Path: bound(c.name, foundBytes), Expected: c.expected}
		if !present {
			a.Found = "no such header"
			return a, fmt.Sprintf("the response has no %s header (expected one that %s)", a.Path, c.expected)
		}
		v := strings.Join(vs, ", ")
		if c.re != nil && c.re.MatchString(v) || c.re == nil && strings.Contains(v, c.substr) {
			continue
		}
		a.Found = bound(v, foundBytes)
		return a, fmt.Sprintf("%s is %q, which %s", a.Path, a.Found, c.failed)
	}
	return nil, ""
}

// checkJSON decodes body (read up to maxBody; truncated when it went on)
// and returns the first expect_json assertion it fails, with the Error
// sentence; nil when all hold.
func checkJSON(checks []jsonCheck, body []byte, truncated bool, maxBody int64) (*result.Assertion, string) {
	doc, err := decodeJSON(body)
	if err != nil {
		a := &result.Assertion{Kind: result.DetailJSONPath, Path: bound(checks[0].src, foundBytes), Expected: checks[0].expected}
		why := err.Error()
		if truncated {
			why += fmt.Sprintf(" (the body was cut at max_body, %d bytes)", maxBody)
		}
		a.Found = bound("body is not JSON: "+why, foundBytes)
		return a, "the body is not JSON: " + why
	}
	for _, c := range checks {
		nodes := c.path.Select(doc)
		a := &result.Assertion{Kind: result.DetailJSONPath, Path: bound(c.src, foundBytes), Expected: c.expected}
		if len(nodes) == 0 {
			a.Found = "nothing"
			return a, fmt.Sprintf("%s selects nothing in the body; expected %s", a.Path, c.expected)
		}
		if slices.IndexFunc(nodes, c.fails) < 0 {
			continue
		}
		if len(nodes) == 1 {
			a.Found = compactJSON(nodes[0], foundBytes)
		} else {
			a.Found = compactJSON([]any(nodes), foundBytes)
		}
		what := "is"
		if len(nodes) > 1 {
			what = fmt.Sprintf("selects %d values,", len(nodes))
		}
		return a, fmt.Sprintf("%s %s %s; expected every value %s", a.Path, what, a.Found, c.expected)
	}
	return nil, ""
}

// fails reports whether node breaks the assertion.
func (c *jsonCheck) fails(node any) bool {
	if c.re == nil {
		return !equal(node, c.equals)
	}
	s, ok := scalarText(node)
	return !ok || !c.re.MatchString(s)
}

// decodeJSON reads one JSON value, numbers kept as written, and nothing
// after it but white space.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the body is empty")
		}
		return nil, err
	}
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return nil, fmt.Errorf("data after the JSON value at offset %d", dec.InputOffset())
	}
	return doc, nil
}

// compactJSON writes v (a value decoded with UseNumber) as compact JSON,
// stopping once it is over limit bytes and marking the cut with "…", so
// that a path selecting the whole document costs no more than its excerpt.
func compactJSON(v any, limit int) string {
	w := &jsonWriter{limit: limit}
	w.value(v)
	if w.full {
		return cutUTF8(w.b.String(), limit) + "…"
	}
	return w.b.String()
}

type jsonWriter struct {
	b     strings.Builder
	limit int
	full  bool
}

func (w *jsonWriter) write(s string) {
	if w.full {
		return
	}
	w.b.WriteString(s)
	if w.b.Len() > w.limit {
		w.full = true
	}
}

func (w *jsonWriter) value(v any) {
	if w.full {
		return
	}
	switch v := v.(type) {
	case nil:
		w.write("null")
	case bool:
		w.write(strconv.FormatBool(v))
	case json.Number:
		w.write(string(v))
	case string:
		// Only what can show is encoded: a megabyte string costs its excerpt.
		s := cutUTF8(v, w.limit+1)
		b, _ := json.Marshal(s)
		if len(s) < len(v) {
			b = b[:len(b)-1] // the cut string is not closed
		}
		w.write(string(b))
		if len(s) < len(v) {
			w.full = true
		}
	case []any:
		w.write("[")
		for i, e := range v {
			if i > 0 {
				w.write(",")
			}
			w.value(e)
		}
		w.write("]")
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.write("{")
		for i, k := range keys {
			if i > 0 {
				w.write(",")
			}
			w.value(k)
			w.write(":")
			w.value(v[k])
		}
		w.write("}")
	default:
		b, _ := json.Marshal(v)
		w.write(string(b))
	}
}

// bound cuts s to at most n bytes on a rune boundary, marking the cut.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutUTF8(s, n) + "…"
}

// cutUTF8 is the longest prefix of s of at most n bytes that does not end
// inside a rune.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
