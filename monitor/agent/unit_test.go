package agent

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/probe"
)

func TestParseKeys(t *testing.T) {
	raw := []byte(strings.Repeat("\x01\x02\x03\x04", 8))
	hexKey := hex.EncodeToString(raw)
	tests := []struct {
		name    string
		text    string
		n       int
		wantErr string
	}{
		{"hex", hexKey + "\n", 1, ""},
		{"base64", base64.StdEncoding.EncodeToString(raw), 1, ""},
		{"raw url base64", base64.RawURLEncoding.EncodeToString(append(raw, 0xff)), 1, ""},
		{"trimmed", "  \t" + hexKey + " \r\n", 1, ""},
		{"rotation with comments", "# current\n" + hexKey + "\n\n# next\n" + GenerateKey() + "\n", 2, ""},
		{"short", hex.EncodeToString(raw[:31]), 0, "31 bytes"},
		{"garbage", "not a key!", 0, "neither hex nor base64"},
		{"empty", "\n# nothing\n", 0, "no key"},
		{"second line bad", hexKey + "\nshort\n", 0, "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseKeys(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(keys) != tt.n {
				t.Fatalf("got %d keys, err %v; want %d", len(keys), err, tt.n)
			}
			if tt.name == "hex" && string(keys[0]) != string(raw) {
				t.Errorf("hex key decoded to %x", keys[0])
			}
		})
	}
	if a, b := GenerateKey(), GenerateKey(); a == b || len(a) != 2*MinKeyBytes {
		t.Errorf("GenerateKey gave %q and %q", a, b)
	}
}

func TestReadKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err %v", err)
	}
	p := filepath.Join(dir, "short.key")
	os.WriteFile(p, []byte("abcd\n"), 0o600)
	if _, err := ReadKeyFile(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("short key: err %v, want one naming the file", err)
	}
	if _, err := NewServer(Options{}); err == nil {
		t.Errorf("NewServer without keys succeeded")
	}
	if _, err := NewServer(Options{Keys: [][]byte{[]byte("short")}}); err == nil {
		t.Errorf("NewServer with a short key succeeded")
	}
}

func TestRefusePrivateTable(t *testing.T) {
	tests := []struct {
		addr string
		want string // "" = allowed
	}{
		{"127.0.0.1:80", "loopback"},
		{"127.9.9.9:80", "loopback"},
		{"[::1]:443", "loopback"},
		{"[::ffff:127.0.0.1]:80", "loopback"},
		{"[::ffff:10.1.2.3]:80", "private"},
		{"[64:ff9b::10.0.0.1]:80", "private"},
		{"[64:ff9b::7f00:1]:80", "loopback"},
		{"[::127.0.0.1]:80", "loopback"},
		{"10.0.0.12:8080", "private"},
		{"172.16.0.1:80", "private"},
		{"172.31.255.255:80", "private"},
		{"192.168.1.1:80", "private"},
		{"[fd12:3456::1]:80", "private"},
		{"[fc00::1]:80", "private"},
		{"169.254.169.254:80", "link-local"},
		{"[fe80::1%eth0]:80", "link-local"},
		{"0.0.0.0:80", "unspecified"},
		{"[::]:80", "unspecified"},
		{"224.0.0.1:80", "multicast"},
		{"[ff02::1]:80", "multicast"},
		{"100.64.0.1:80", "CGNAT"},
		{"100.127.255.255:80", "CGNAT"},
		{"0.1.2.3:80", "reserved"},
		{"255.255.255.255:80", "reserved"},
		{"[64:ff9b:1::1]:80", "private"},
		{"[fec0::1]:80", "private"},
		{"not-an-address", "not an address"},
		{"example.com:80", "not an IP"},
		// Public addresses pass (documentation ranges stand in for them;
		// the function only classifies, nothing is dialled).
		{"93.184.216.34:443", ""},
		{"100.63.255.255:80", ""},
		{"100.128.0.0:80", ""},
		{"172.32.0.1:80", ""},
		{"[2606:4700::1111]:443", ""},
		{"[::ffff:8.8.8.8]:53", ""},
		{"[64:ff9b::808:808]:80", ""},
	}
	for _, tt := range tests {
		err := RefusePrivate("tcp", tt.addr, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: refused (%v), want allowed", tt.addr, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: err %v, want refusal naming %q", tt.addr, err, tt.want)
		}
	}
	if r := privateReason(netip.MustParseAddr("127.0.0.1")); r != "loopback" {
		t.Errorf("privateReason(127.0.0.1) = %q", r)
	}
}

func TestReplayCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newReplayCache(2)
	if v := c.add("a", now.Add(10*time.Second), now); v != replayFresh {
		t.Fatalf("a: %v", v)
	}
	if v := c.add("a", now.Add(10*time.Second), now); v != replaySeen {
		t.Fatalf("a again: %v, want seen", v)
	}
	if v := c.add("b", now.Add(60*time.Second), now); v != replayFresh {
		t.Fatalf("b: %v", v)
	}
	// Full of live nonces: refuse rather than forget one early.
	if v := c.add("c", now.Add(60*time.Second), now); v != replayFull {
		t.Fatalf("c when full: %v, want full", v)
	}
	if v := c.add("a", now.Add(10*time.Second), now); v != replaySeen {
		t.Fatalf("a when full: %v, want seen", v)
	}
	// Once a has expired its slot is free, and b is still remembered.
	later := now.Add(10 * time.Second)
	if v := c.add("c", later.Add(60*time.Second), later); v != replayFresh {
		t.Fatalf("c after a expired: %v", v)
	}
	if v := c.add("b", later.Add(60*time.Second), later); v != replaySeen {
		t.Fatalf("b: %v, want seen", v)
	}
	if c.len() != 2 {
		t.Errorf("len %d, want 2", c.len())
	}
}

func TestReplayCacheFullAnswers503(t *testing.T) {
	tg := newTarget(t, nil)
	a := newAgent(t, Options{ReplayCacheSize: 1})
	c := a.client(testKey)
	if _, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL}); !IsKind(err, KindBusy) {
		t.Fatalf("with the cache full: err %v, want KindBusy", err)
	}
	a.clock.Advance(ClockSkew + replayMargin + time.Second)
	if _, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL}); err != nil {
		t.Fatalf("after the nonce expired: %v", err)
	}
	if n := tg.hits.Load(); n != 2 {
		t.Errorf("target hit %d times, want 2", n)
	}
}

func TestClientErrorKinds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()

	fixed := func(code int, hdr map[string]string, body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range hdr {
				w.Header().Set(k, v)
			}
			w.WriteHeader(code)
			w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client leaving.
		io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)

	tests := []struct {
		name    string
		url     string
		timeout time.Duration
		kind    Kind
		status  int
	}{
		{"dead agent", dead, 0, KindUnreachable, 0},
		{"agent does not answer in time", hang.URL, 200 * time.Millisecond, KindUnreachable, 0},
		{"401", fixed(401, nil, "unauthorized: bad signature"), 0, KindAuth, 401},
		{"429", fixed(429, map[string]string{"Retry-After": "3"}, "rate limit"), 0, KindBusy, 429},
		{"503", fixed(503, nil, "busy"), 0, KindBusy, 503},
		{"400", fixed(400, nil, "bad probe spec"), 0, KindRejected, 400},
		{"500", fixed(500, nil, "oops"), 0, KindProtocol, 500},
		{"unsigned 200", fixed(200, nil, `{"url":"x","class":"ok","ok":true}`), 0, KindProtocol, 200},
		{"huge answer", fixed(200, nil, strings.Repeat("x", maxResponseBytes+10)), 0, KindProtocol, 200},
		{"bad url", "ftp://agent", 0, KindRejected, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{URL: tt.url, Key: testKey, Timeout: tt.timeout}
			_, err := c.Probe(context.Background(), probe.Spec{URL: "http://127.0.0.1:1/"})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %v (%T), want *Error", err, err)
			}
			if e.Kind != tt.kind || e.Status != tt.status {
				t.Fatalf("kind %q status %d (%v), want %q %d", e.Kind, e.Status, err, tt.kind, tt.status)
			}
			if tt.status == 429 && e.RetryAfter != 3*time.Second {
				t.Errorf("RetryAfter %s, want 3s", e.RetryAfter)
			}
		})
	}
}

// TestForgedAnswer: an answer signed with another key (a different agent,
// or someone in the middle) is not taken as a result.
func TestForgedAnswer(t *testing.T) {
	tg := newTarget(t, nil)
	real := newAgent(t, Options{Keys: [][]byte{testKey, otherKey}})
	// A proxy that re-signs with otherKey would need the request's nonce
	// and the client's key; simulate an agent that signs with a key the
	// client does not have by making the client sign with otherKey and
	// checking with testKey.
	c := real.client(otherKey)
	if _, err := c.Probe(context.Background(), probe.Spec{URL: tg.URL}); err != nil {
		t.Fatalf("a matching key: %v", err)
	}
	forger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := []byte(`{"url":"x","class":"ok","ok":true}`)
		w.Header().Set(HeaderResponseSignature, responseMAC(otherKey, r.Header.Get(HeaderNonce), 200, body))
		w.Write(body)
	}))
	t.Cleanup(forger.Close)
	_, err := (&Client{URL: forger.URL, Key: testKey}).Probe(context.Background(), probe.Spec{URL: tg.URL})
	if !IsKind(err, KindProtocol) {
		t.Fatalf("forged answer: err %v, want KindProtocol", err)
	}
}

func TestParseConfig(t *testing.T) {
	good := `
listen = "127.0.0.1:9208"
key_file = "agent.key"
refuse_private = true
max_concurrency = 4
rate = 2.5
burst = 5
`
	c, err := ParseConfig([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9208" || c.KeyFile != "agent.key" || !c.RefusePrivate || c.MaxConcurrency != 4 || c.Rate != 2.5 || c.Burst != 5 {
		t.Errorf("parsed %+v", c)
	}
	tests := []struct{ name, text, want string }{
		{"unknown key", "listen = \"x\"\n\nkeyfile = \"a\"\n", `line 3: unknown key "keyfile"`},
		{"unknown table", "listen = \"x\"\n[tls]\ncert = \"a\"\n", `unknown key "tls.cert"`},
		{"syntax", "listen = \n", "line 1"},
		{"type", "rate = \"fast\"\n", "rate"},
		{"negative", "max_concurrency = -1\n", "max_concurrency"},
		{"half tls", "tls_cert = \"a\"\n", "tls_cert and tls_key"},
		{"nesting bomb", "listen = \"x\"\nrate = " + strings.Repeat("{a = ", 2000) + "1" + strings.Repeat("}", 2000) + "\n", "line 2: nested deeper than 32 levels"},
	}
	for _, tt := range tests {
		_, err := ParseConfig([]byte(tt.text))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "agent.toml")
	os.WriteFile(p, []byte(good), 0o600)
	c, err = LoadConfig(p)
	if err != nil || c.KeyFile != filepath.Join(dir, "agent.key") {
		t.Errorf("LoadConfig: key_file %q, err %v; want it next to the config", c.KeyFile, err)
	}
	// A file over 16 MiB is refused without being read whole.
	huge := filepath.Join(dir, "huge.toml")
	if err := os.WriteFile(huge, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 1<<30); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	if _, err := LoadConfig(huge); err == nil || !strings.Contains(err.Error(), huge+": file is larger than 16 MiB") {
		t.Errorf("LoadConfig of 1 GiB: err %v, want the size limit", err)
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	s := strings.Repeat("é", 10) // 2 bytes each
	if got := truncate(s, 5); got != "éé" {
		t.Errorf("truncate = %q, want %q", got, "éé")
	}
	if got := truncate("abc", 5); got != "abc" {
		t.Errorf("truncate short = %q", got)
	}
}

func TestLoadConfigFindsCredentials(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(file, []byte("listen = \"127.0.0.1:9208\"\nkey_file = \"agent.key\"\ntls_cert = \"/etc/ssl/a.crt\"\ntls_key = \"a.pem\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ creds, want string }{
		{"", filepath.Join(dir, "agent.key")},
		{"/run/credentials/vantage-agent.service", "/run/credentials/vantage-agent.service/agent.key"},
	} {
		c, err := loadConfig(file, tc.creds)
		if err != nil {
			t.Fatal(err)
		}
		if c.KeyFile != tc.want || c.TLSCert != "/etc/ssl/a.crt" {
			t.Errorf("credentials %q: key_file %q, tls_cert %q; want %q and the absolute path untouched", tc.creds, c.KeyFile, c.TLSCert, tc.want)
		}
	}
}
