package email

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/render"
)

const (
	testUser = "alerts@example.com"
	testPass = "hunter2-Secret-Pw"
)

var fixedNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func receiver(addr, tlsMode string) *config.Receiver {
	return &config.Receiver{
		Name:     "ops-mail",
		Type:     config.ReceiverEmail,
		SMTP:     addr,
		From:     "Vantage <vantage@example.com>",
		To:       []string{"ops@example.com", "Oncall <oncall@example.org>"},
		Username: testUser,
		Password: config.NewSecret(testPass),
		TLS:      tlsMode,
		Timeout:  5 * time.Second,
	}
}

func newNotifier(t *testing.T, r *config.Receiver, pki *testPKI) *Notifier {
	t.Helper()
	n, err := New(r, Options{RootCAs: pki.pool, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

func openMsg(key string) *notify.Message {
	opened := fixedNow.Add(-3 * time.Minute)
	return &notify.Message{
		Key:        key,
		Event:      incident.NotifyOpen,
		Receiver:   "ops-mail",
		IncidentID: 7,
		Kind:       incident.KindTarget,
		Monitor:    "shop",
		URL:        "https://shop.example.com/",
		Severity:   incident.SeverityCritical,
		Scope:      result.ScopeEveryone,
		Class:      result.ClassBadGateway,
		Status:     502,
		Detail:     "upstream refused",
		OpenedAt:   opened,
		At:         opened,
	}
}

func resolveMsg(key string) *notify.Message {
	m := openMsg(key)
	m.Event = incident.NotifyResolve
	m.At = fixedNow
	m.ResolvedAt = fixedNow
	m.Resolution = "recovered"
	return m
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// parsedMail is a received mail taken apart.
type parsedMail struct {
	h          mail.Header
	subject    string
	text, html string
	partTypes  []string
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parsing mail: %v\n%s", err, data)
	}
	p := parsedMail{h: m.Header}
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatalf("decoding subject: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v), want multipart/alternative\n%s", m.Header.Get("Content-Type"), err, data)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		body, err := io.ReadAll(part) // multipart decodes quoted-printable
		if err != nil {
			t.Fatalf("reading part body: %v", err)
		}
		p.partTypes = append(p.partTypes, ct)
		switch ct {
		case "text/plain":
			p.text = string(body)
		case "text/html":
			p.html = string(body)
		}
	}
	return p
}

// norm makes bodies comparable across the wire's CRLF line ends.
func norm(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n ")
}

func TestOpenThenResolveThreads(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: testPass}
	srv := startServer(t, pki, serveStartTLS, false, be)
	n := newNotifier(t, receiver(srv.addr, config.TLSStartTLS), pki)

	open := openMsg("inc-7/open")
	open.PageURL = "https://vantage.example.test/monitors/shop"
	ref, err := n.Notify(ctxTimeout(t, 10*time.Second), open, "")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	// The ref is the opening mail's Message-ID and its subject, which
	// the resolve's "Re: " repeats.
	refID, refSubject, _ := strings.Cut(ref, " ")
	if want := MessageID("inc-7/open", "example.com"); refID != want || refSubject != render.Title(open) {
		t.Fatalf("open ref = %q, want %q and the subject %q", ref, want, render.Title(open))
	}
	if !regexp.MustCompile(`^<vantage\.[0-9a-f]{32}@example\.com>$`).MatchString(refID) {
		t.Fatalf("ref %q is not a vantage Message-ID", ref)
	}
	res := resolveMsg("inc-7/resolve")
	newRef, err := n.Notify(ctxTimeout(t, 10*time.Second), res, ref)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if newRef != "" {
		t.Fatalf("resolve returned ref %q; the opening mail's must be kept", newRef)
	}

	got := be.received()
	if len(got) != 2 {
		t.Fatalf("server got %d mails, want 2", len(got))
	}
	auths := be.authAttempts()
	if len(auths) != 2 || auths[0].mech != "PLAIN" || !auths[0].tls || !auths[1].tls {
		t.Fatalf("auth attempts = %+v, want PLAIN over TLS per session", auths)
	}
	subjects := []string{render.Title(open), "Re: " + render.Title(open)}
	for i, want := range []*notify.Message{open, res} {
		rcv := got[i]
		if rcv.from != "vantage@example.com" {
			t.Errorf("mail %d: envelope from %q", i, rcv.from)
		}
		if !slices.Equal(rcv.to, []string{"ops@example.com", "oncall@example.org"}) {
			t.Errorf("mail %d: envelope to %q", i, rcv.to)
		}
		p := parseMail(t, rcv.data)
		if p.subject != subjects[i] {
			t.Errorf("mail %d: Subject %q, want %q", i, p.subject, subjects[i])
		}
		if !slices.Equal(p.partTypes, []string{"text/plain", "text/html"}) {
			t.Errorf("mail %d: parts %q, want text/plain then text/html", i, p.partTypes)
		}
		if norm(p.text) != norm(render.Text(want)) {
			t.Errorf("mail %d: text part %q, want %q", i, p.text, render.Text(want))
		}
		if i == 0 && (!strings.Contains(norm(p.text), "Open in vantage: "+open.PageURL) || !strings.Contains(p.html, `href="`+open.PageURL+`"`)) {
			t.Errorf("the opening mail does not link to %s:\n%s\n%s", open.PageURL, p.text, p.html)
		}
		if strings.Contains(p.text+p.html, want.Key) {
			t.Errorf("mail %d shows the idempotency key %q", i, want.Key)
		}
		if norm(p.html) != norm(render.HTML(want)) {
			t.Errorf("mail %d: html part %q, want %q", i, p.html, render.HTML(want))
		}
		from, err := mail.ParseAddress(p.h.Get("From"))
		if err != nil || from.Address != "vantage@example.com" || from.Name != "Vantage" {
			t.Errorf("mail %d: From %q (%v)", i, p.h.Get("From"), err)
		}
		to, err := p.h.AddressList("To")
		if err != nil || len(to) != 2 || to[0].Address != "ops@example.com" || to[1].Address != "oncall@example.org" {
			t.Errorf("mail %d: To %q (%v)", i, p.h.Get("To"), err)
		}
		if d, err := p.h.Date(); err != nil || !d.Equal(fixedNow) {
			t.Errorf("mail %d: Date %q (%v), want %v", i, p.h.Get("Date"), err, fixedNow)
		}
		if p.h.Get("Auto-Submitted") != "auto-generated" {
			t.Errorf("mail %d: Auto-Submitted %q", i, p.h.Get("Auto-Submitted"))
		}
	}
	openMail, resMail := parseMail(t, got[0].data), parseMail(t, got[1].data)
	if id := openMail.h.Get("Message-Id"); id != refID {
		t.Errorf("open Message-ID %q, want the returned ref %q", id, refID)
	}
	if v := openMail.h.Get("In-Reply-To"); v != "" {
		t.Errorf("open mail has In-Reply-To %q", v)
	}
	if id := resMail.h.Get("Message-Id"); id != MessageID("inc-7/resolve", "example.com") || id == refID {
		t.Errorf("resolve Message-ID %q", id)
	}
	if v := resMail.h.Get("In-Reply-To"); v != refID {
		t.Errorf("resolve In-Reply-To %q, want %q", v, refID)
	}
	if v := resMail.h.Get("References"); v != refID {
		t.Errorf("resolve References %q, want %q", v, refID)
	}
}

func TestRepeatedSendKeepsMessageID(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: testPass}
	srv := startServer(t, pki, serveStartTLS, false, be)
	r := receiver(srv.addr, config.TLSStartTLS)
	n, err := New(r, Options{RootCAs: pki.pool, Hostname: "mon.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	first := openMsg("inc-9/open")
	again := openMsg("inc-9/open")
	again.Repeat = true // the daemon died mid-send; the outbox sends again
	ref1, err := n.Notify(ctxTimeout(t, 10*time.Second), first, "")
	if err != nil {
		t.Fatal(err)
	}
	ref2, err := n.Notify(ctxTimeout(t, 10*time.Second), again, "")
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(ref1, " ")
	id2, _, _ := strings.Cut(ref2, " ")
	if id != id2 || !strings.HasSuffix(id, "@mon.example.net>") {
		t.Fatalf("refs %q and %q: want one Message-ID in the Hostname domain", ref1, ref2)
	}
	if !strings.Contains(srv.transcript.String(), "EHLO mon.example.net\r\n") {
		t.Errorf("client did not introduce itself as the Hostname")
	}
	got := be.received()
	if len(got) != 2 {
		t.Fatalf("got %d mails", len(got))
	}
	a, b := parseMail(t, got[0].data), parseMail(t, got[1].data)
	if a.h.Get("Message-Id") != id || b.h.Get("Message-Id") != id {
		t.Fatalf("Message-IDs %q, %q, want both %q", a.h.Get("Message-Id"), b.h.Get("Message-Id"), ref1)
	}
	if b.subject != render.Title(again) {
		t.Fatalf("repeat subject %q, want %q", b.subject, render.Title(again))
	}
}

func TestEventsMailed(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: testPass}
	srv := startServer(t, pki, serveStartTLS, false, be)
	n := newNotifier(t, receiver(srv.addr, ""), pki) // "" defaults to starttls
	const ref = "<vantage.0123456789abcdef@example.com>"

	grouped := openMsg("group/gw-1")
	grouped.GroupKey = "gateway 10.0.0.5:443 (nginx)"
	grouped.Cause = "gateway 10.0.0.5:443 (nginx)"
	grouped.Group = []notify.Member{
		{IncidentID: 7, Key: "inc-7/open", Monitor: "shop"},
		{IncidentID: 8, Key: "inc-8/open", Monitor: "api"},
	}
	inGroup := resolveMsg("inc-8/resolve")
	inGroup.InGroup = true
	reminder := openMsg("inc-7/reminder-1")
	reminder.Event = incident.NotifyReminder
	notice := &notify.Message{Key: "notice-1", Event: incident.NotifyNotice, Monitor: "shop", Change: "maintenance ended with the monitor still down", At: fixedNow}
	update := openMsg("inc-7/update-1")
	update.Event = incident.NotifyUpdate
	update.Change = "now down for everyone"

	tests := []struct {
		name        string
		msg         *notify.Message
		ref         string
		wantMail    bool
		wantRef     string // "" or the Message-ID of msg.Key
		wantReplyTo string
	}{
		{name: "grouped open", msg: grouped, wantMail: true, wantRef: MessageID("group/gw-1", "example.com")},
		{name: "resolve in a group's thread", msg: inGroup, ref: ref, wantMail: true, wantReplyTo: ref},
		{name: "reminder", msg: reminder, ref: ref, wantMail: true, wantReplyTo: ref},
		{name: "reminder with a bare ref", msg: reminder, ref: strings.Trim(ref, "<>"), wantMail: true, wantReplyTo: ref},
		{name: "resolve with an unusable ref still goes out", msg: resolveMsg("inc-7/resolve"), ref: "C123/1700000000.1", wantMail: true},
		{name: "notice", msg: notice, wantMail: true},
		{name: "update is not mailed", msg: update, ref: ref},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, sessions := len(be.received()), be.sessionCount()
			got, err := n.Notify(ctxTimeout(t, 10*time.Second), tt.msg, tt.ref)
			if err != nil {
				t.Fatalf("Notify: %v", err)
			}
			if id, _, _ := strings.Cut(got, " "); id != tt.wantRef {
				t.Fatalf("ref = %q, want %q", got, tt.wantRef)
			}
			mails := be.received()[before:]
			if !tt.wantMail {
				if len(mails) != 0 || be.sessionCount() != sessions {
					t.Fatalf("%d mails sent, %d sessions opened; want none", len(mails), be.sessionCount()-sessions)
				}
				return
			}
			if len(mails) != 1 {
				t.Fatalf("%d mails sent, want 1", len(mails))
			}
			p := parseMail(t, mails[0].data)
			wantSubject := render.Title(tt.msg)
			if tt.wantReplyTo != "" && tt.msg.Event == incident.NotifyResolve {
				// A bare ref (from before the subject was kept): the
				// open's subject is rendered again from the resolve.
				o := *tt.msg
				o.Event, o.ResolvedAt, o.Resolution = incident.NotifyOpen, time.Time{}, ""
				wantSubject = "Re: " + render.Title(&o)
			}
			if p.subject != wantSubject {
				t.Errorf("Subject %q, want %q", p.subject, wantSubject)
			}
			if id := p.h.Get("Message-Id"); id != MessageID(tt.msg.Key, "example.com") {
				t.Errorf("Message-ID %q", id)
			}
			if v := p.h.Get("In-Reply-To"); v != tt.wantReplyTo {
				t.Errorf("In-Reply-To %q, want %q", v, tt.wantReplyTo)
			}
			if v := p.h.Get("References"); v != tt.wantReplyTo {
				t.Errorf("References %q, want %q", v, tt.wantReplyTo)
			}
		})
	}
}

func TestWrongPasswordIsPermanentAndSecret(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: "the-right-one"}
	srv := startServer(t, pki, serveStartTLS, false, be)
	n := newNotifier(t, receiver(srv.addr, config.TLSStartTLS), pki)

	_, err := n.Notify(ctxTimeout(t, 10*time.Second), openMsg("inc-1/open"), "")
	if err == nil {
		t.Fatal("Notify with a wrong password succeeded")
	}
	t.Logf("error: %v", err)
	p, ok := notify.IsPermanent(err)
	if !ok {
		t.Fatalf("error %v is not permanent", err)
	}
	if !strings.HasPrefix(p.Reason, "smtp 535") {
		t.Errorf("reason %q, want smtp 535 ...", p.Reason)
	}
	if len(be.received()) != 0 {
		t.Error("mail delivered despite failed AUTH")
	}
	// The server echoed the password; it must not survive into the error.
	if len(be.authAttempts()) != 1 {
		t.Fatalf("auth attempts %+v", be.authAttempts())
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(testPass))
	for _, s := range []string{err.Error(), p.Reason} {
		if strings.Contains(s, testPass) || strings.Contains(s, b64) {
			t.Errorf("error text leaks the password: %q", s)
		}
	}
	if !strings.Contains(err.Error(), "<secret>") {
		t.Errorf("error %q: expected the echoed password to be masked", err)
	}
}

func TestTemporaryFailureThenSuccess(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: testPass}
	be.dataHook = func(n int) error {
		if n == 1 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "queue full, try later"}
		}
		return nil
	}
	srv := startServer(t, pki, serveStartTLS, false, be)
	n := newNotifier(t, receiver(srv.addr, config.TLSStartTLS), pki)

	msg := openMsg("inc-2/open")
	_, err := n.Notify(ctxTimeout(t, 10*time.Second), msg, "")
	if err == nil {
		t.Fatal("first Notify succeeded despite 451")
	}
	if _, ok := notify.IsPermanent(err); ok {
		t.Fatalf("451 reported as permanent: %v", err)
	}
	if !strings.Contains(err.Error(), "451") {
		t.Errorf("error %q does not carry the reply", err)
	}
	if len(be.received()) != 0 {
		t.Fatal("server stored the rejected mail")
	}
	ref, err := n.Notify(ctxTimeout(t, 10*time.Second), msg, "")
	if err != nil {
		t.Fatalf("second Notify: %v", err)
	}
	if id, _, _ := strings.Cut(ref, " "); id != MessageID("inc-2/open", "example.com") || len(be.received()) != 1 {
		t.Fatalf("ref %q, %d mails", ref, len(be.received()))
	}
}

func TestSMTPReplyClasses(t *testing.T) {
	pki := newPKI(t)
	tests := []struct {
		name       string
		be         *backend
		permanent  bool
		wantReason string
	}{
		{
			name: "550 at RCPT",
			be: &backend{rcptHook: func(_ int, to string) error {
				if to == "oncall@example.org" {
					return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
				}
				return nil
			}},
			permanent:  true,
			wantReason: "smtp 550 5.1.1 no such user",
		},
		{
			name: "452 at RCPT",
			be: &backend{rcptHook: func(int, string) error {
				return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
			}},
		},
		{
			name: "554 at MAIL",
			be: &backend{mailHook: func(int) error {
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "sender rejected"}
			}},
			permanent:  true,
			wantReason: "smtp 554 5.7.1 sender rejected",
		},
		{
			name: "421 at MAIL",
			be: &backend{mailHook: func(int) error {
				return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down"}
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, pki, serveStartTLS, false, tt.be)
			r := receiver(srv.addr, config.TLSStartTLS)
			r.Username, r.Password = "", config.Secret{}
			n := newNotifier(t, r, pki)
			_, err := n.Notify(ctxTimeout(t, 10*time.Second), openMsg("inc-3/open"), "")
			if err == nil {
				t.Fatal("Notify succeeded")
			}
			p, ok := notify.IsPermanent(err)
			if ok != tt.permanent {
				t.Fatalf("permanent = %v, want %v: %v", ok, tt.permanent, err)
			}
			if ok && p.Reason != tt.wantReason {
				t.Errorf("reason %q, want %q (%v)", p.Reason, tt.wantReason, err)
			}
			if len(tt.be.received()) != 0 {
				t.Error("mail stored despite the rejection")
			}
		})
	}
}

func TestStartTLSRequired(t *testing.T) {
	pki := newPKI(t)
	// The server would even take AUTH in plain text: the notifier must not
	// offer it.
	be := &backend{user: testUser, pass: testPass}
	srv := startServer(t, pki, servePlain, true, be)
	n := newNotifier(t, receiver(srv.addr, config.TLSStartTLS), pki)

	_, err := n.Notify(ctxTimeout(t, 10*time.Second), openMsg("inc-4/open"), "")
	if err == nil {
		t.Fatal("Notify succeeded without STARTTLS")
	}
	t.Logf("error: %v", err)
	p, ok := notify.IsPermanent(err)
	if !ok || !strings.Contains(p.Reason, "STARTTLS") {
		t.Fatalf("want a permanent STARTTLS error, got %v", err)
	}
	if a := be.authAttempts(); len(a) != 0 {
		t.Fatalf("AUTH sent over plain text: %+v", a)
	}
	transcript := srv.transcript.String()
	if !strings.Contains(transcript, "EHLO") {
		t.Fatalf("transcript has no EHLO; is Debug capturing? %q", transcript)
	}
	for _, line := range strings.Split(transcript, "\n") {
		if strings.HasPrefix(strings.ToUpper(line), "AUTH ") || strings.HasPrefix(strings.ToUpper(line), "MAIL ") {
			t.Errorf("client sent %q over plain text", line)
		}
	}
	if strings.Contains(transcript, base64.StdEncoding.EncodeToString([]byte("\x00"+testUser+"\x00"+testPass))) {
		t.Error("credentials on the wire")
	}
	if strings.Contains(err.Error(), testPass) {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestImplicitTLS(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: testPass}
	srv := startServer(t, pki, serveImplicit, false, be)
	n := newNotifier(t, receiver(srv.addr, config.TLSImplicit), pki)

	ref, err := n.Notify(ctxTimeout(t, 10*time.Second), openMsg("inc-5/open"), "")
	if err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if ref == "" || len(be.received()) != 1 {
		t.Fatalf("ref %q, %d mails", ref, len(be.received()))
	}
	if a := be.authAttempts(); len(a) != 1 || !a[0].tls {
		t.Fatalf("auth attempts %+v, want one over TLS", a)
	}
}

func TestUntrustedCertificateIsPermanent(t *testing.T) {
	pki := newPKI(t)
	for _, mode := range []struct {
		serve serverMode
		tls   string
	}{{serveStartTLS, config.TLSStartTLS}, {serveImplicit, config.TLSImplicit}} {
		t.Run(mode.tls, func(t *testing.T) {
			be := &backend{user: testUser, pass: testPass}
			srv := startServer(t, pki, mode.serve, false, be)
			n, err := New(receiver(srv.addr, mode.tls), Options{}) // system roots: the test CA is unknown
			if err != nil {
				t.Fatal(err)
			}
			_, err = n.Notify(ctxTimeout(t, 10*time.Second), openMsg("inc-6/open"), "")
			t.Logf("error: %v", err)
			p, ok := notify.IsPermanent(err)
			if !ok || !strings.Contains(p.Reason, "certificate") {
				t.Fatalf("want a permanent certificate error, got %v", err)
			}
			if len(be.authAttempts()) != 0 || len(be.received()) != 0 {
				t.Fatal("credentials or mail sent to an untrusted server")
			}
		})
	}
}

func TestInsecurePlain(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: testPass}
	srv := startServer(t, pki, servePlain, true, be)
	r := receiver(srv.addr, config.TLSNone)
	r.InsecurePlain = true
	n := newNotifier(t, r, pki)
	if _, err := n.Notify(ctxTimeout(t, 10*time.Second), openMsg("inc-10/open"), ""); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if a := be.authAttempts(); len(a) != 1 || a[0].tls {
		t.Fatalf("auth attempts %+v, want one in plain text", a)
	}
	if len(be.received()) != 1 {
		t.Fatalf("%d mails", len(be.received()))
	}
}

// stallListener accepts connections and never says a word. It returns
// the address and when the last connection was accepted.
func stallListener(t *testing.T) (string, func() time.Time) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		accepted time.Time
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = time.Now()
			mu.Unlock()
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { _ = l.Close(); <-done })
	return l.Addr().String(), func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return accepted
	}
}

func TestStalledServerHitsStepTimeout(t *testing.T) {
	pki := newPKI(t)
	const step = 300 * time.Millisecond
	stallAtData := func(t *testing.T) (string, func() time.Time) {
		be := &backend{user: testUser, pass: testPass, stall: make(chan struct{})}
		return startServer(t, pki, serveStartTLS, false, be).addr, be.stallStart
	}

	tests := []struct {
		name    string
		server  func(t *testing.T) (addr string, stalledAt func() time.Time)
		timeout time.Duration // the receiver's step timeout
		ctx     time.Duration // the caller's deadline
		cancel  time.Duration // the caller cancels after this; 0: never
		wantErr error
	}{
		{name: "silent after connect", server: stallListener, timeout: step, ctx: time.Minute, wantErr: os.ErrDeadlineExceeded},
		{name: "stalls at DATA", server: stallAtData, timeout: step, ctx: time.Minute, wantErr: os.ErrDeadlineExceeded},
		{name: "stalls at DATA, caller's deadline first", server: stallAtData, timeout: time.Minute, ctx: step, wantErr: context.DeadlineExceeded},
		{name: "stalls at DATA, caller cancels", server: stallAtData, timeout: time.Minute, ctx: time.Minute, cancel: step, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, stalledAt := tt.server(t)
			r := receiver(addr, config.TLSStartTLS)
			r.Timeout = tt.timeout
			n := newNotifier(t, r, pki)
			ctx := ctxTimeout(t, tt.ctx)
			if tt.cancel > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				time.AfterFunc(tt.cancel, cancel)
			}
			start := time.Now()
			_, err := n.Notify(ctx, openMsg("inc-11/open"), "")
			end := time.Now()
			t.Logf("after %v: %v", end.Sub(start), err)
			if err == nil {
				t.Fatal("Notify against a stalled server succeeded")
			}
			if _, ok := notify.IsPermanent(err); ok {
				t.Errorf("a stall is retryable, got permanent: %v", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if elapsed := end.Sub(start); elapsed < step*9/10 {
				t.Errorf("Notify gave up after %v, before the %v limit", elapsed, step)
			}
			// Measured from the stall, not from the start, so a slow
			// TLS handshake on a busy machine does not count. A notifier
			// that waited a second step (say for QUIT on the stalled
			// connection) would take at least 2*step here.
			at := stalledAt()
			if at.IsZero() {
				t.Fatal("the server never reached the stall")
			}
			if stalled := end.Sub(at); stalled > step*3/2 {
				t.Errorf("Notify returned %v after the server stalled, want about %v", stalled, step)
			}
		})
	}
}

func TestCanceledContext(t *testing.T) {
	n, err := New(receiver("127.0.0.1:1", config.TLSStartTLS), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = n.Notify(ctx, openMsg("inc-12/open"), "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestBadMessages(t *testing.T) {
	n, err := New(receiver("127.0.0.1:1", config.TLSStartTLS), Options{})
	if err != nil {
		t.Fatal(err)
	}
	noKey := openMsg("")
	odd := openMsg("k")
	odd.Event = "exploded"
	for name, m := range map[string]*notify.Message{"nil": nil, "no key": noKey, "unknown event": odd} {
		_, err := n.Notify(context.Background(), m, "")
		if _, ok := notify.IsPermanent(err); !ok {
			t.Errorf("%s: err = %v, want permanent", name, err)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	base := func(mod func(r *config.Receiver)) *config.Receiver {
		r := receiver("smtp.example.com:587", config.TLSStartTLS)
		mod(r)
		return r
	}
	tests := []struct {
		name string
		r    *config.Receiver
		want string
	}{
		{"nil", nil, "no configuration"},
		{"slack type", base(func(r *config.Receiver) { r.Type = config.ReceiverSlack }), "not \"email\""},
		{"no port", base(func(r *config.Receiver) { r.SMTP = "smtp.example.com" }), "host:port"},
		{"bad port", base(func(r *config.Receiver) { r.SMTP = "smtp.example.com:99999" }), "port"},
		{"bad from", base(func(r *config.Receiver) { r.From = "not an address" }), "from"},
		{"no to", base(func(r *config.Receiver) { r.To = nil }), "no to"},
		{"bad to", base(func(r *config.Receiver) { r.To = []string{"ops@"} }), "to \"ops@\""},
		{"none without insecure_plain", base(func(r *config.Receiver) { r.TLS = config.TLSNone }), "insecure_plain"},
		{"insecure_plain with starttls", base(func(r *config.Receiver) { r.InsecurePlain = true }), "contradicts"},
		{"unknown tls", base(func(r *config.Receiver) { r.TLS = "ssl" }), "\"ssl\""},
		{"username without password", base(func(r *config.Receiver) { r.Password = config.Secret{} }), "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.r, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testPass) {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	tests := []struct {
		smtp     string
		tls      string
		insecure bool
		want     string
	}{
		{"smtp.example.com:587", "", false, config.TLSStartTLS},
		{"smtp.example.com:465", "", false, config.TLSImplicit},
		{"smtp.example.com:25", "", true, config.TLSNone},
	}
	for _, tt := range tests {
		r := receiver(tt.smtp, tt.tls)
		r.InsecurePlain = tt.insecure
		r.Timeout = 0
		n, err := New(r, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.smtp, err)
		}
		if n.tlsMode != tt.want || n.timeout != DefaultTimeout || n.domain != "example.com" {
			t.Errorf("%s: tls %q timeout %v domain %q, want %q %v example.com", tt.smtp, n.tlsMode, n.timeout, n.domain, tt.want, DefaultTimeout)
		}
	}
}

func TestNormalizeRef(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"<a.b@example.com>", "<a.b@example.com>", true},
		{"a.b@example.com", "<a.b@example.com>", true},
		{" <a@b> ", "<a@b>", true},
		{"", "", false},
		{"<", "", false},
		{"<>", "", false},
		{"<a@b", "", false},
		{"a@b>", "", false},
		{"C123/1700000000.1", "", false},
		{"@b", "", false},
		{"<a@b>\r\nBcc: x@y", "", false},
		{"a b@c", "", false},
		{"<a<b@c>", "", false},
		{"ä@b", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeRef(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeRef(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
