package redact

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

const (
	user = "alerts@example.com"
	pass = "p@ss w/rd+&=?"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestEveryEncoding: each form a secret travels in is hidden, alone and
// inside a longer text such as a server's echo.
func TestEveryEncoding(t *testing.T) {
	r := New([]Secret{{Value: pass, User: user}, {Value: "xoxb-1234-abcd"}})
	forms := map[string]string{
		"raw":                  pass,
		"query escaped":        url.QueryEscape(pass),
		"path escaped":         url.PathEscape(pass),
		"base64 (LOGIN pass)":  b64(pass),
		"base64 unpadded":      base64.RawStdEncoding.EncodeToString([]byte(pass)),
		"LOGIN user":           b64(user),
		"PLAIN":                b64("\x00" + user + "\x00" + pass),
		"PLAIN with authzid":   b64(user + "\x00" + user + "\x00" + pass),
		"HTTP Basic":           b64(user + ":" + pass),
		"other secret":         "xoxb-1234-abcd",
		"other secret escaped": url.QueryEscape("xoxb-1234-abcd"),
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			in := "535 5.7.8 authentication failed for " + form + " (try again)"
			got := r.String(in)
			if strings.Contains(got, form) {
				t.Fatalf("String(%q) = %q: the secret is still there", in, got)
			}
			if !strings.Contains(got, Marker) || !strings.HasPrefix(got, "535 5.7.8 authentication failed for ") || !strings.HasSuffix(got, " (try again)") {
				t.Fatalf("String(%q) = %q: want the secret replaced by %s and the rest kept", in, got, Marker)
			}
		})
	}
	// The PLAIN blob is replaced as a whole, not around an inner match.
	blob := b64("\x00" + user + "\x00" + pass)
	if got := r.String("AUTH PLAIN " + blob); got != "AUTH PLAIN "+Marker {
		t.Errorf("AUTH PLAIN blob: got %q", got)
	}
}

func TestShortSecretsAndNil(t *testing.T) {
	r := New([]Secret{{Value: "abc"}, {Value: "pw", User: "bob"}})
	if got := r.String("abc abc pw"); got != "abc abc pw" {
		t.Errorf("a secret shorter than MinLen is looked for: %q", got)
	}
	if got := r.String("535 " + b64("\x00bob\x00pw")); got != "535 "+Marker {
		t.Errorf("the AUTH PLAIN blob of a short password is not hidden: %q", got)
	}
	var nilR *Redactor
	if got := nilR.String("plain text"); got != "plain text" {
		t.Errorf("nil Redactor changed plain text: %q", got)
	}
	if got := nilR.String("see https://u:pw@h/?token=1"); got != "see https://u:xxxxx@h/?token="+Ellipsis {
		t.Errorf("nil Redactor does not apply the URL rule: %q", got)
	}
}

func TestURLRule(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://example.com/health", "https://example.com/health"},
		{"https://user:hunter22@example.com/x", "https://user:xxxxx@example.com/x"},
		{"https://user@example.com/x", "https://user@example.com/x"},
		{"https://example.com/x?token=abc&page=2", "https://example.com/x?token=…&page=2"},
		{"https://example.com/x?API_KEY=abc", "https://example.com/x?API_KEY=…"},
		{"https://example.com/x?access_token=abc&AccessToken=d", "https://example.com/x?access_token=…&AccessToken=…"},
		{"https://e.com/?key=1&secret=2&sig=3&signature=4&password=5&auth=6&code=7&name=8",
			"https://e.com/?key=…&secret=…&sig=…&signature=…&password=…&auth=…&code=…&name=8"},
		{"https://s3.example.com/o?X-Amz-Signature=ff00&X-Amz-Date=1", "https://s3.example.com/o?X-Amz-Signature=…&X-Amz-Date=1"},
		{"https://e.com/cb#access_token=abc&state=x", "https://e.com/cb#access_token=…&state=x"},
		{"https://e.com/?api%5Fkey=abc", "https://e.com/?api%5Fkey=…"},
		{"https://e.com/?token=", "https://e.com/?token="},
		{"https://e.com/?tokens=1", "https://e.com/?tokens=1"},
		{"not a url ?token=1", "not a url ?token=1"},
	}
	for _, c := range cases {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// In free text, every URL is found and the words around it kept.
	in := `GET https://a:b@h.example/x?token=t1 failed; redirect to "https://h.example/y?code=c2" refused`
	want := `GET https://a:xxxxx@h.example/x?token=… failed; redirect to "https://h.example/y?code=…" refused`
	if got := (&Redactor{}).String(in); got != want {
		t.Errorf("String(%q)\n got %q\nwant %q", in, got, want)
	}
}

func TestURLSecretsAndHeaders(t *testing.T) {
	got := URLSecrets("https://bob:pw%2Fsecret@e.com/x?token=tok123&page=2#sig=f1f2")
	want := map[Secret]bool{{Value: "pw/secret", User: "bob"}: true, {Value: "tok123"}: true, {Value: "f1f2"}: true}
	if len(got) != len(want) {
		t.Fatalf("URLSecrets = %v, want %v", got, want)
	}
	for _, s := range got {
		if !want[s] {
			t.Errorf("URLSecrets: unexpected %v", s)
		}
	}
	for _, h := range []string{"Authorization", "proxy-authorization", "Cookie", "X-Api-Key", "X-Auth-Token", "Private-Token"} {
		if !SecretHeader(h) {
			t.Errorf("SecretHeader(%q) = false", h)
		}
	}
	for _, h := range []string{"Accept", "User-Agent", "Host"} {
		if SecretHeader(h) {
			t.Errorf("SecretHeader(%q) = true", h)
		}
	}
	r := New(HeaderSecrets("Bearer eyJhbGciOi.payload.sig"))
	if got := r.String("server said: token eyJhbGciOi.payload.sig expired"); strings.Contains(got, "eyJ") {
		t.Errorf("bearer token alone not hidden: %q", got)
	}
}

func TestCurrentSwaps(t *testing.T) {
	c := NewCurrent(New([]Secret{{Value: "old-secret"}}))
	if got := c.String("old-secret"); got != Marker {
		t.Errorf("got %q", got)
	}
	c.Set(New([]Secret{{Value: "new-secret"}}))
	if got := c.String("old-secret new-secret"); got != "old-secret "+Marker {
		t.Errorf("after Set: got %q", got)
	}
	var nilC *Current
	if got := nilC.String("x"); got != "x" {
		t.Errorf("nil Current: %q", got)
	}
}

type inner struct {
	Text   string
	List   []string
	Map    map[string]string
	Any    any
	hidden string
}

type outer struct {
	Name  string
	In    *inner
	Arr   [2]string
	Bytes []byte
}

func TestCopy(t *testing.T) {
	orig := outer{
		Name:  "s3cret-value",
		In:    &inner{Text: "x s3cret-value", List: []string{"s3cret-value"}, Map: map[string]string{"k": "s3cret-value"}, Any: "s3cret-value", hidden: "s3cret-value"},
		Arr:   [2]string{"a", "s3cret-value"},
		Bytes: []byte("raw"),
	}
	r := New([]Secret{{Value: "s3cret-value"}})
	got := Copy(orig, r.String)
	if got.Name != Marker || got.In.Text != "x "+Marker || got.In.List[0] != Marker || got.In.Map["k"] != Marker ||
		got.In.Any != Marker || got.Arr[1] != Marker || got.Arr[0] != "a" || string(got.Bytes) != "raw" {
		t.Errorf("Copy = %+v / %+v", got, *got.In)
	}
	if orig.Name != "s3cret-value" || orig.In.Text != "x s3cret-value" || orig.In.List[0] != "s3cret-value" || orig.In.Map["k"] != "s3cret-value" {
		t.Errorf("Copy changed the original: %+v / %+v", orig, *orig.In)
	}
	if p := Copy(&orig, r.String); p == &orig || p.In == orig.In || p.Name != Marker {
		t.Errorf("Copy of a pointer shares memory or misses strings")
	}
}

type stringer struct{ v string }

func (s stringer) String() string { return s.v }

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	r := New([]Secret{{Value: "hunter2hunter2", User: "bob"}})
	log := slog.New(NewHandler(slog.NewTextHandler(&buf, nil), r.String))
	log = log.With("preset", "with hunter2hunter2")
	log.WithGroup("g").Info("failed with hunter2hunter2",
		"reason", "535 "+b64("\x00bob\x00hunter2hunter2"),
		"err", fmt.Errorf("smtp: %w", errors.New("auth hunter2hunter2")),
		"url", stringer{"https://bob:hunter2hunter2@h/?token=abc"},
		slog.Group("nested", "v", url.QueryEscape("hunter2hunter2")),
		"list", []string{"hunter2hunter2"},
		"n", 3)
	out := buf.String()
	for _, leak := range []string{"hunter2hunter2", b64("\x00bob\x00hunter2hunter2"), "token=abc"} {
		if strings.Contains(out, leak) {
			t.Errorf("log line leaks %q: %s", leak, out)
		}
	}
	for _, keep := range []string{"msg=\"failed with <secret>\"", "g.n=3", "g.nested.v=<secret>", "preset=\"with <secret>\""} {
		if !strings.Contains(out, keep) {
			t.Errorf("log line lacks %q: %s", keep, out)
		}
	}
}

func TestURLsInText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://a/?token=1", "https://a/?token=…"},
		{"a https://a/?key=1 and http://u:p@b/ then ftp+x://c/?sig=2.", "a https://a/?key=… and http://u:xxxxx@b/ then ftp+x://c/?sig=…"},
		{"no scheme ://a/?token=1", "no scheme ://a/?token=1"},
		{"(https://a/?code=é1)", "(https://a/?code=…"},
		{"'https://a/?auth=x'`https://b/?pwd=y`", "'https://a/?auth=…'`https://b/?pwd=…`"},
		{"plain", "plain"},
		{"https://ok.example/path", "https://ok.example/path"},
	}
	for _, c := range cases {
		if got := URLs(c.in); got != c.want {
			t.Errorf("URLs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestCopySharesWhatItKeeps: a value without secrets comes back as it is,
// with no copy made.
func TestCopySharesWhatItKeeps(t *testing.T) {
	r := New([]Secret{{Value: "s3cret-value"}})
	in := &inner{Text: "nothing here", List: []string{"a"}}
	if got := Copy(in, r.String); got != in {
		t.Error("Copy made a copy of a value without secrets")
	}
	o := outer{Name: "s3cret-value", In: in}
	if got := Copy(o, r.String); got.In != in || got.Name != Marker {
		t.Errorf("Copy: unchanged parts not shared or the secret kept: %+v", got)
	}
}
