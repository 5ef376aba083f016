package gateway

import (
	"strconv"
	"strings"
)

// The helpers the vendors' page checks share.

// contains records a marker when the body holds sub.
func (s *scan) contains(sub string) bool {
	if strings.Contains(s.body, sub) {
		s.mark("body contains " + strconv.Quote(sub))
		return true
	}
	return false
}

// hopIfMissing adds a hop the body proves is on the path when the headers
// did not (a proxy in front may have stripped them).
func (s *scan) hopIfMissing(name string) {
	if !s.has(name) {
		s.hops = append([]hop{{name: name}}, s.hops...)
	}
}

// statusIs reports whether s starts with the response's status code and
// then a non-digit.
func (s *scan) statusIs(t string) bool {
	if len(t) < 3 {
		return false
	}
	n := 0
	for i := 0; i < 3; i++ {
		c := t[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	if len(t) > 3 && t[3] >= '0' && t[3] <= '9' {
		return false
	}
	return n == s.status
}

// between returns the text after open up to close, if both are present
// and the text is short (markers are one line, not a page).
func between(s, open, close string) (string, bool) {
	i := strings.Index(s, open)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(open):]
	j := strings.Index(rest, close)
	if j < 0 || j > 200 {
		return "", false
	}
	return rest[:j], true
}

// after returns up to max bytes of word characters (letters, digits, dots,
// hyphens) that follow prefix.
func after(s, prefix string, max int) (string, bool) {
	i := strings.Index(s, prefix)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(prefix):]
	n := 0
	for n < len(rest) && n < max && isWordByte(rest[n]) {
		n++
	}
	return rest[:n], true
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.TrimSpace(s)
}

func itoa(n int) string { return strconv.Itoa(n) }
