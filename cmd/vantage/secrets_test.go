package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// smtpEchoSink is a raw SMTP server that refuses every AUTH with a 535
// quoting the blob it was sent, as careless servers do.
type smtpEchoSink struct {
	ln   net.Listener
	mu   sync.Mutex
	auth []string
}

func newSMTPEchoSink(t *testing.T) *smtpEchoSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpEchoSink{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.serve(c) })
		}
	})
	return s
}

func (s *smtpEchoSink) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = io.WriteString(c, line+"\r\n") }
	say("220 sink ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			say("250-sink")
			say("250 AUTH PLAIN")
		case "AUTH":
			s.mu.Lock()
			s.auth = append(s.auth, arg)
			s.mu.Unlock()
			_, blob, _ := strings.Cut(arg, " ")
			say("535 5.7.8 authentication failed for " + blob)
		case "QUIT":
			say("221 bye")
			return
		case "RSET", "NOOP":
			say("250 ok")
		default:
			say("502 not here")
		}
	}
}

// TestRunKeepsSecretsOut runs the real daemon against an SMTP server whose
// 535 echoes the AUTH PLAIN blob, a Slack whose ok:false text quotes the
// token, and a monitor URL with user:password@ and a token in its query:
// no form of any of them is logged or shown by the unauthenticated API.
func TestRunKeepsSecretsOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real daemon")
	}
	const (
		token    = "xoxb-9999-8888-SlackT0kenValue"
		smtpUser = "alerts@example.com"
		smtpPass = "Smtp-Passw0rd-Value"
		monPass  = "Monitor-Pa55"
		query    = "Query-T0ken-Value"
	)
	target, _ := switchTarget(t) // 502
	sink := newSMTPEchoSink(t)
	slackAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":false,"error":"invalid_auth: token %s was revoked"}`, token)
	}))
	t.Cleanup(slackAPI.Close)

	dir := t.TempDir()
	for name, v := range map[string]string{"slack-token": token + "\n", "smtp-pass": smtpPass + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	u, _ := url.Parse(target.URL)
	monURL := "http://probe:" + monPass + "@" + u.Host + "/health?access_token=" + query
	addr := freeAddr(t)
	file := filepath.Join(dir, "vantage.toml")
	cfg := fmt.Sprintf(`state_dir = %q
listen = %q
%s
[notify]
group_wait = "0s"

[[receiver]]
name = "mail"
type = "email"
smtp = %q
tls = "none"
insecure_plain = true
from = "vantage@example.com"
to = ["ops@example.com"]
username = %q
password_file = "smtp-pass"

[[receiver]]
name = "slack"
type = "slack"
channel = "C0ALERTS"
token_file = "slack-token"
api_url = %q
`, filepath.Join(dir, "state"), addr, daemonMonitor("private", monURL), sink.ln.Addr().String(), smtpUser, slackAPI.URL+"/api/")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startDaemon(t, file, addr)
	var notes string
	p.waitFor("both notifications to fail", func() bool {
		resp, err := http.Get("http://" + addr + "/api/v1/notifications?state=failed")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		notes = string(b)
		return strings.Count(notes, `"state":"failed"`) >= 2
	})
	sink.mu.Lock()
	sent := append([]string(nil), sink.auth...)
	sink.mu.Unlock()
	blob := base64.StdEncoding.EncodeToString([]byte("\x00" + smtpUser + "\x00" + smtpPass))
	if len(sent) == 0 || sent[0] != "PLAIN "+blob {
		t.Fatalf("the sink got AUTH %q, want PLAIN %s", sent, blob)
	}
	resp, err := http.Get("http://" + addr + "/api/v1/monitors/private")
	if err != nil {
		t.Fatal(err)
	}
	mon, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	p.stop()
	logs := p.stderr.String()
	for what, text := range map[string]string{"log": logs, "/api/v1/notifications": notes, "/api/v1/monitors": string(mon)} {
		for _, leak := range []string{blob, smtpPass, token, monPass, query} {
			if strings.Contains(text, leak) {
				t.Errorf("the %s shows %q:\n%s", what, leak, text)
			}
		}
	}
	if !strings.Contains(notes, "535") || !strings.Contains(notes, "invalid_auth") {
		t.Errorf("the notifications lost why they failed:\n%s", notes)
	}
}
