package config

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"net/http"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/theory/jsonpath"

	"github.com/vantage-monitor/vantage/monitor/probe"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// The keys of issue 14 (docs/warnings.md): the certificate warning
// (cert_warn_days), the degraded state (degraded, degraded_rounds), the
// assertions on the answer (expect_json, expect_header) and the private CA
// that verifies the server (ca_file). Each of them, set on a monitor,
// replaces the [defaults] value whole: a monitor's degraded table does not
// merge with the defaults' thresholds, nor its expect_header with theirs.

// monitorSkip are the monitor keys the loader decodes itself instead of
// the generic walker, to place each problem on the line of its own key.
var monitorSkip = []string{"degraded", "expect_json", "expect_header"}

// Bounds of the new keys.
const (
	maxCertWarnDays = 3650    // ten years: more is a typo
	maxCAFileSize   = 1 << 20 // a CA bundle is kilobytes; it is sent to agents whole
	// maxCAPEMSize leaves room, within the agent's 64 KiB request limit
	// (monitor/agent MaxRequestBytes), for the rest of the spec.
	maxCAPEMSize = 48 << 10
)

// degradedPhases are the keys of a degraded table, in the order the
// messages list them.
var degradedPhases = func() []string { _, n := tomlFields(reflect.TypeFor[Degraded]()); return n }()

var jsonAssertionKeys = []string{"path", "equals", "matches"}

// decodeWarningKeys decodes the keys of monitorSkip that t writes into m;
// it runs before the monitor is checked and compiled, so the plan sees them.
func (l *loader) decodeWarningKeys(m *Monitor, t map[string]any, path, sec string) {
	if v, ok := t["degraded"]; ok {
		// Replace the inherited table whole: thresholds of [defaults] the
		// monitor does not repeat are not kept.
		m.Degraded = l.decodeDegraded(v, joinPath(path, "degraded"), sec)
	}
	if v, ok := t["expect_json"]; ok {
		m.ExpectJSON = l.decodeExpectJSON(v, joinPath(path, "expect_json"), sec)
	}
	if v, ok := t["expect_header"]; ok {
		m.ExpectHeader = l.decodeExpectHeader(v, joinPath(path, "expect_header"), sec)
	}
}

// decodeExpectHeader reads expect_header = { "Content-Type" = "json" }:
// header names are HTTP tokens, given once whatever their case, and a
// value "~regex" is compiled here, once.
func (l *loader) decodeExpectHeader(v any, path, sec string) map[string]string {
	t, ok := asTable(v)
	if !ok {
		l.add(path, sec, "expect_header", "%s", typeError(`a table such as { "Content-Type" = "application/json" }`, v))
		l.markBad(path)
		return nil
	}
	out := make(map[string]string, len(t))
	first := map[string]string{} // canonical name → the name as written first
	for _, n := range l.sortedKeys(t, path) {
		p := joinPath(path, n)
		canon := http.CanonicalHeaderKey(n)
		s, isString := t[n].(string)
		switch {
		case !headerNameRE.MatchString(n):
			l.add(p, sec, "expect_header", "%q is not a valid header name", n)
		case first[canon] != "":
			l.add(p, sec, "expect_header", "%q is also given as %q; header names are case-insensitive", n, first[canon])
		case !isString:
			l.add(p, sec, "expect_header", "%q: %s", n, typeError(`a string (a substring of the value, or "~regex")`, t[n]))
		default:
			if re, ok := strings.CutPrefix(s, "~"); ok {
				if _, err := regexp.Compile(re); err != nil {
					l.add(p, sec, "expect_header", "%q: %q is not a regular expression: %s", n, re, unwrapRegexpErr(err))
					continue
				}
			}
			out[n] = s
		}
		if first[canon] == "" {
			first[canon] = n
		}
	}
	return out
}

// decodeDegraded reads degraded = { total = "800ms", ttfb = "500ms" }, as
// an inline table or a [monitor.degraded] table, reporting each bad phase
// on its own line.
func (l *loader) decodeDegraded(v any, path, sec string) Degraded {
	var d Degraded
	t, ok := asTable(v)
	if !ok {
		l.add(path, sec, "degraded", "%s", typeError(`a table of durations such as { total = "800ms", ttfb = "500ms" }`, v))
		l.markBad(path)
		return d
	}
	for _, k := range l.sortedKeys(t, path) {
		kp, key := joinPath(path, k), "degraded."+k
		if !contains(degradedPhases, k) {
			l.add(kp, sec, "degraded", "unknown phase %q%s; the thresholds are %s", k, suggest(k, degradedPhases), strings.Join(degradedPhases, ", "))
			continue
		}
		dur, err := parseDuration(t[k])
		switch {
		case err != nil:
			l.add(kp, sec, key, "%s", err)
			continue
		case dur == 0:
			l.add(kp, sec, key, "must be longer than 0s; omit the key to turn this threshold off")
			continue
		case dur < 0:
			l.add(kp, sec, key, "%s is negative; omit the key to turn this threshold off", result.ShortDuration(dur))
			continue
		}
		d.set(k, dur)
	}
	return d
}

// set stores the threshold of a phase (a result.Phase* name, as the keys
// of degraded are).
func (d *Degraded) set(phase string, v time.Duration) {
	switch phase {
	case result.PhaseTotal:
		d.Total = v
	case result.PhaseDNS:
		d.DNS = v
	case result.PhaseConnect:
		d.Connect = v
	case result.PhaseTLS:
		d.TLS = v
	case result.PhaseTTFB:
		d.TTFB = v
	case result.PhaseTransfer:
		d.Transfer = v
	}
}

// decodeExpectJSON reads expect_json = [{ path = "$.status", equals = "ok" },
// ...], or [[monitor.expect_json]] tables: each path parsed as RFC 9535
// JSONPath and each matches compiled here, once, so a typo is a config
// error with its line and never a failing check.
func (l *loader) decodeExpectJSON(v any, path, sec string) []probe.JSONAssertion {
	arr, ok := asArray(v)
	if !ok {
		l.add(path, sec, "expect_json", "%s", typeError(`an array of tables such as [{ path = "$.status", equals = "ok" }]`, v))
		l.markBad(path)
		return nil
	}
	out := make([]probe.JSONAssertion, 0, len(arr))
	for i, e := range arr {
		ep := indexPath(path, i)
		name := fmt.Sprintf("expect_json[%d]", i)
		t, ok := asTable(e)
		if !ok {
			l.add(ep, sec, name, "%s", typeError(`a table such as { path = "$.status", equals = "ok" }`, e))
			continue
		}
		var a probe.JSONAssertion
		good := true
		bad := func(key, format string, args ...any) {
			l.add(joinPath(ep, key), sec, joinPath(name, key), format, args...)
			good = false
		}
		for _, k := range l.sortedKeys(t, ep) {
			if !contains(jsonAssertionKeys, k) {
				l.add(joinPath(ep, k), sec, name, "unknown key %q%s; an assertion has path and one of equals or matches", k, suggest(k, jsonAssertionKeys))
				good = false
			}
		}
		if pv, ok := t["path"]; !ok {
			l.add(ep, sec, name, "missing path, such as \"$.status\"")
			good = false
		} else if s, ok := pv.(string); !ok {
			bad("path", "%s", typeError(`a JSONPath string such as "$.status"`, pv))
		} else if _, err := jsonpath.Parse(s); err != nil {
			bad("path", "%q is not an RFC 9535 JSONPath: %s", s, strings.TrimPrefix(err.Error(), "jsonpath: "))
		} else {
			a.Path = s
		}
		ev, hasEquals := t["equals"]
		mv, hasMatches := t["matches"]
		switch {
		case hasEquals && hasMatches:
			l.add(ep, sec, name, "has both equals and matches; give one of them")
			good = false
		case !hasEquals && !hasMatches:
			l.add(ep, sec, name, "needs equals (a string, number or boolean) or matches (a regular expression)")
			good = false
		case hasEquals:
			if err := checkEquals(ev); err != nil {
				bad("equals", "%s", err)
			} else {
				a.Equals = ev
			}
		default:
			if s, ok := mv.(string); !ok {
				bad("matches", "%s", typeError("a regular expression in a string", mv))
			} else if _, err := regexp.Compile(s); err != nil {
				bad("matches", "%q is not a regular expression: %s", s, unwrapRegexpErr(err))
			} else {
				a.Matches = s
			}
		}
		if good {
			out = append(out, a)
		}
	}
	return out
}

// checkEquals accepts the scalars a JSON node can be compared with. A
// node is compared on its own, so an array or table to compare with would
// be a second, less clear way to write a path over its elements.
func checkEquals(v any) error {
	switch x := v.(type) {
	case string, int64, bool:
		return nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%v is not a number JSON can hold", x)
		}
		return nil
	case []any, []map[string]any:
		return fmt.Errorf("expected a string, integer, float or boolean, got an array: each node the path selects is compared on its own, so select the elements (\"$.list[*]\") and compare them")
	case map[string]any:
		return fmt.Errorf("expected a string, integer, float or boolean, got a table: select the member with the path (\"$.obj.key\") and compare it")
	}
	return typeError("a string, integer, float or boolean", v)
}

// unwrapRegexpErr drops the "error parsing regexp: " Go puts first.
func unwrapRegexpErr(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

func (l *loader) markBad(path string) {
	if l.bad == nil {
		l.bad = map[string]bool{}
	}
	l.bad[path] = true
}

// checkWarningKeys validates the keys of issue 14 on a monitor or on
// [defaults]; as in checkMonitor, a value inherited from [defaults] was
// checked there and is not reported again on every monitor, except where
// it meets the monitor's own keys (a threshold against its own timeout).
func (l *loader) checkWarningKeys(m *Monitor, t map[string]any, path, sec string) {
	own := func(key string) bool { return written(t, key) }
	add := func(key, format string, args ...any) { l.add(joinPath(path, key), sec, key, format, args...) }

	if own("cert_warn_days") && !l.bad[joinPath(path, "cert_warn_days")] {
		seen := map[int]bool{}
		for i, d := range m.CertWarnDays {
			p := indexPath(joinPath(path, "cert_warn_days"), i)
			switch {
			case d < 1 || d > maxCertWarnDays:
				l.add(p, sec, "cert_warn_days", "element %d: %d is not a number of days from 1 to %d", i+1, d, maxCertWarnDays)
			case seen[d]:
				l.add(p, sec, "cert_warn_days", "element %d: %d is listed twice", i+1, d)
			}
			seen[d] = true
		}
		// Largest first: the first threshold crossed opens the warning, the
		// last one makes it critical.
		slices.SortFunc(m.CertWarnDays, func(a, b int) int { return b - a })
		m.CertWarnDays = slices.Compact(m.CertWarnDays)
	}

	if own("degraded") || own("timeout") {
		for _, phase := range degradedPhases {
			d := m.Degraded.Of(phase) // the keys are the result.Phase* names
			if d == 0 || d < m.Timeout {
				continue
			}
			if own("degraded") {
				l.add(joinPath(path, "degraded."+phase), sec, "degraded."+phase,
					"%s is not under the timeout %s: a check that slow is cut off and fails, so the threshold can never be seen", result.ShortDuration(d), result.ShortDuration(m.Timeout))
			} else {
				add("timeout", "%s is not longer than degraded.%s = %s from [defaults], which then can never be seen", result.ShortDuration(m.Timeout), phase, result.ShortDuration(d))
			}
		}
	}
	if own("degraded_rounds") && m.DegradedRounds < 1 {
		add("degraded_rounds", "must be at least 1, not %d", m.DegradedRounds)
	}

	if own("ca_file") {
		m.CAPEM = ""
		if m.CAFile != "" {
			m.CAPEM = l.caPEM(m.CAFile, add)
		}
	}
	if m.CAFile != "" && m.Insecure && (own("ca_file") || own("insecure")) {
		if own("insecure") {
			add("insecure", "turns off the verification ca_file is for; set one or the other")
		} else {
			add("ca_file", "is set, but insecure = true from [defaults] turns off the verification it is for; set one or the other")
		}
	}
}

// caPEM reads a monitor's ca_file (relative to the config's directory) and
// returns its certificates as PEM, to go into the probe spec. Only the
// CERTIFICATE blocks are kept: the spec travels to remote vantages, and a
// bundle that also holds a private key must not take the key with it.
func (l *loader) caPEM(p string, add func(key, format string, args ...any)) string {
	data, p, ok := l.readCA(p, add)
	if !ok {
		return ""
	}
	var out []byte
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			add("ca_file", "%s: a certificate does not parse: %s", p, strings.TrimPrefix(err.Error(), "x509: "))
			return ""
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes})...)
	}
	if len(out) == 0 {
		add("ca_file", "%s holds no PEM certificate", p)
		return ""
	}
	if len(out) > maxCAPEMSize {
		// The PEM rides in every probe request to a remote vantage, whose
		// agent takes requests of at most agent.MaxRequestBytes.
		add("ca_file", "%s holds %d bytes of certificates, more than the %d a probe request to a vantage can carry; keep only the CAs this monitor's server chains to", p, len(out), maxCAPEMSize)
		return ""
	}
	return string(out)
}

// readCA reads a ca_file, relative to the config's directory, bounded by
// maxCAFileSize; it returns the path as read, for messages.
func (l *loader) readCA(p string, add func(key, format string, args ...any)) ([]byte, string, bool) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(l.dir, p)
	}
	data, err := l.env.readFile(p)
	if err != nil {
		add("ca_file", "cannot read %s: %s", p, pathErrReason(err))
		return nil, p, false
	}
	if len(data) > maxCAFileSize {
		add("ca_file", "%s is larger than 1 MiB; is it the right file?", p)
		return nil, p, false
	}
	return data, p, true
}
