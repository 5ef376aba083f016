// Package redact is the one place that knows how a secret can leave the
// daemon: raw, URL-encoded, base64'd the way SMTP AUTH and HTTP Basic carry
// it, or as the value of a URL's password or secret-looking query key. A
// Redactor is built from the secrets of one loaded config; every log line,
// API field, rendered notification and stored error text goes through it.
package redact

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
)

// Marker replaces a secret found in free text.
const Marker = "<secret>"

// Ellipsis replaces the value of a secret-looking query key in a URL.
const Ellipsis = "…"

// urlPassword replaces the password of a URL's user info; it is what
// net/url's URL.Redacted writes, so a redacted URL stays a valid URL.
const urlPassword = "xxxxx"

// MinLen is the shortest secret looked for in free text as it is (and
// URL-encoded or base64'd alone): a shorter one would blank out every
// occurrence of a common word or letter. The forms that carry it with its
// user (AUTH PLAIN, HTTP Basic) are looked for whatever its length.
const MinLen = 4

// Secret is one credential to hide. User, when set, is the account Value
// is the password of: the protocols that carry both together (SMTP AUTH
// PLAIN and LOGIN, HTTP Basic) base64 them, and those forms are hidden too.
type Secret struct {
	Value string
	User  string
}

// Redactor hides a fixed set of secrets. The zero value and nil hide no
// secret but still apply the URL rule (see URL).
type Redactor struct {
	r *strings.Replacer
}

// New builds a Redactor for secrets (see MinLen for the short ones).
func New(secrets []Secret) *Redactor {
	var forms []string
	add := func(s string) {
		if s != "" {
			forms = append(forms, s)
		}
	}
	b64 := func(s string) {
		add(base64.StdEncoding.EncodeToString([]byte(s)))
		add(base64.RawStdEncoding.EncodeToString([]byte(s)))
	}
	for _, s := range secrets {
		v, u := s.Value, s.User
		if v == "" {
			continue
		}
		if len(v) >= MinLen {
			add(v)
			add(url.QueryEscape(v))
			add(url.PathEscape(v))
			b64(v) // SMTP AUTH LOGIN's password line
			if len(u) >= MinLen {
				b64(u) // SMTP AUTH LOGIN's user line
			}
		}
		if u != "" {
			// Long whatever the password's length, and they hold it.
			b64("\x00" + u + "\x00" + v)     // SMTP AUTH PLAIN
			b64(u + "\x00" + u + "\x00" + v) // SMTP AUTH PLAIN with an authzid
			b64(u + ":" + v)                 // HTTP Basic
		}
	}
	if len(forms) == 0 {
		return &Redactor{}
	}
	// Longest first: strings.Replacer prefers the earlier of two matches
	// at the same position, so a whole AUTH PLAIN blob wins over a
	// secret that happens to start it.
	slices.SortFunc(forms, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	forms = slices.Compact(forms)
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		pairs = append(pairs, f, Marker)
	}
	return &Redactor{r: strings.NewReplacer(pairs...)}
}

// String returns s with every URL in it redacted by the URL rule and every
// form of every secret replaced by Marker.
func (r *Redactor) String(s string) string {
	s = URLs(s)
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// URLs applies the URL rule (see URL) to every URL in the free text s: a
// scheme, "://", and everything up to a space, a quote, a backquote or an
// angle bracket.
func URLs(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	var b strings.Builder
	last := 0 // s[:last] is settled
	for i >= 0 {
		start := i
		for start > last && isSchemeByte(s[start-1]) {
			start--
		}
		for start < i && !isLetter(s[start]) { // a scheme starts with a letter
			start++
		}
		end := i + 3
		for end < len(s) && !endsURL(s[end]) {
			end++
		}
		if start < i {
			if u := URL(s[start:end]); u != s[start:end] {
				if b.Len() == 0 {
					b.Grow(len(s))
				}
				b.WriteString(s[last:start])
				b.WriteString(u)
				last = end
			}
		}
		next := strings.Index(s[end:], "://")
		if next < 0 {
			break
		}
		i = end + next
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isSchemeByte(c byte) bool {
	return isLetter(c) || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

func endsURL(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '"', '\'', '`', '<', '>':
		return true
	}
	return false
}

// URL applies the URL rule to s, a URL as it is shown: the password of its
// user info becomes "xxxxx" (as net/url's Redacted writes it) and the value
// of every query or fragment key that looks secret (see SecretKey) becomes
// "…". Everything else is kept byte for byte, so the URL reads as written;
// text that is not a URL comes back as it is.
func URL(s string) string {
	scheme := strings.Index(s, "://")
	if scheme < 0 {
		return s
	}
	rest := s[scheme+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		if user, _, ok := strings.Cut(authority[:at], ":"); ok {
			authority = user + ":" + urlPassword + authority[at:]
		}
	}
	tail := rest[end:]
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:scheme+3])
	b.WriteString(authority)
	path, query, hasQuery := strings.Cut(tail, "?")
	var fragment string
	hasFragment := false
	if hasQuery {
		query, fragment, hasFragment = strings.Cut(query, "#")
	} else {
		path, fragment, hasFragment = strings.Cut(path, "#")
	}
	b.WriteString(path)
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(redactPairs(query))
	}
	if hasFragment {
		b.WriteByte('#')
		b.WriteString(redactPairs(fragment))
	}
	return b.String()
}

// redactPairs hides the values of secret-looking keys in "k=v&k=v".
func redactPairs(q string) string {
	if !strings.Contains(q, "=") {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok || v == "" {
			continue
		}
		if key, err := url.QueryUnescape(k); err == nil && SecretKey(key) {
			parts[i] = k + "=" + Ellipsis
		}
	}
	return strings.Join(parts, "&")
}

// secretWords are what the name of a query key or header ends with when
// its value is a credential: api_key, access_token, X-Amz-Signature.
var secretWords = []string{"token", "key", "secret", "sig", "signature", "password", "passwd", "pwd", "auth", "code"}

// SecretKey reports whether a query key (or a header name) looks like it
// holds a credential: it ends, in any case, with one of token, key,
// secret, sig, signature, password, passwd, pwd, auth or code.
func SecretKey(k string) bool {
	k = strings.ToLower(strings.TrimSpace(k))
	for _, w := range secretWords {
		if strings.HasSuffix(k, w) {
			return true
		}
	}
	return false
}

// SecretHeader reports whether a request header carries a credential:
// Authorization, Proxy-Authorization, Cookie, or a name SecretKey accepts
// (X-Api-Key, X-Auth-Token).
func SecretHeader(name string) bool {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	return SecretKey(name)
}

// HeaderSecrets lists the secrets in a credential header's value: the
// value itself and, for "Scheme credentials" (Bearer, Basic, Token), the
// credentials alone, which is what a server tends to echo.
func HeaderSecrets(value string) []Secret {
	value = strings.TrimSpace(value)
	out := []Secret{{Value: value}}
	if _, cred, ok := strings.Cut(value, " "); ok {
		if cred = strings.TrimSpace(cred); cred != "" {
			out = append(out, Secret{Value: cred})
		}
	}
	return out
}

// URLSecrets lists the secrets a URL carries: the password of its user
// info (with its user) and the values of its secret-looking query keys.
// A URL that does not parse carries none that can be told apart.
func URLSecrets(raw string) []Secret {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []Secret
	if p, ok := u.User.Password(); ok && p != "" {
		out = append(out, Secret{Value: p, User: u.User.Username()})
	}
	for _, q := range []string{u.RawQuery, u.Fragment} {
		vals, _ := url.ParseQuery(q) // keeps what parses
		for k, vs := range vals {
			if !SecretKey(k) {
				continue
			}
			for _, v := range vs {
				if v != "" {
					out = append(out, Secret{Value: v})
				}
			}
		}
	}
	return out
}

// Current holds the Redactor of the config in force, swapped on reload;
// its String method is what the log handler, the store and the receivers
// call. The zero value applies the URL rule only.
type Current struct {
	p atomic.Pointer[Redactor]
}

// NewCurrent returns a Current holding r.
func NewCurrent(r *Redactor) *Current {
	c := &Current{}
	c.Set(r)
	return c
}

// Set swaps in r.
func (c *Current) Set(r *Redactor) { c.p.Store(r) }

// String redacts s with the Redactor in force. A nil Current applies the
// URL rule only.
func (c *Current) String(s string) string {
	if c == nil {
		return (*Redactor)(nil).String(s)
	}
	return c.p.Load().String(s)
}
