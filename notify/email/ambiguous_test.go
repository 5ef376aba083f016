package email

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/vantage-monitor/vantage/internal/testkit/outboxtest"
	"github.com/vantage-monitor/vantage/monitor/config"
	"github.com/vantage-monitor/vantage/monitor/store"
	"github.com/vantage-monitor/vantage/notify"
	"github.com/vantage-monitor/vantage/notify/outbox"
)

func TestDropAfterDataIsAmbiguous(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: testPass, dropAfterData: func(int) bool { return true }}
	srv := startServer(t, pki, serveStartTLS, false, be)
	n := newNotifier(t, receiver(srv.addr, config.TLSStartTLS), pki)
	_, err := n.Notify(ctxTimeout(t, 10*time.Second), openMsg("inc-20/open"), "")
	if err == nil {
		t.Fatal("Notify succeeded although the server never answered DATA")
	}
	if !notify.IsAmbiguous(err) {
		t.Errorf("a connection lost after the final dot is not marked ambiguous: %v", err)
	}
	if _, ok := notify.IsPermanent(err); ok {
		t.Errorf("reported as permanent: %v", err)
	}
	if len(be.received()) != 1 {
		t.Fatalf("server has %d mails, want the one it took before dropping", len(be.received()))
	}
}

// A server that takes the mail and then says nothing until the step
// timeout is as ambiguous as one that hangs up.
func TestSilenceAfterDataIsAmbiguous(t *testing.T) {
	pki := newPKI(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	be := &backend{user: testUser, pass: testPass, dataHook: func(int) error {
		<-release
		return nil
	}}
	srv := startServer(t, pki, serveStartTLS, false, be)
	r := receiver(srv.addr, config.TLSStartTLS)
	r.Timeout = 300 * time.Millisecond
	n := newNotifier(t, r, pki)
	_, err := n.Notify(ctxTimeout(t, 10*time.Second), openMsg("inc-23/open"), "")
	if err == nil || !notify.IsAmbiguous(err) {
		t.Fatalf("no reply to the final dot within the step timeout: err %v, ambiguous %v", err, notify.IsAmbiguous(err))
	}
}

func TestReplyAfterDataIsNotAmbiguous(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: testPass, dataHook: func(int) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}}
	srv := startServer(t, pki, serveStartTLS, false, be)
	n := newNotifier(t, receiver(srv.addr, config.TLSStartTLS), pki)
	_, err := n.Notify(ctxTimeout(t, 10*time.Second), openMsg("inc-21/open"), "")
	if err == nil || notify.IsAmbiguous(err) {
		t.Fatalf("451 after DATA: err %v, ambiguous %v; want a plain retry", err, notify.IsAmbiguous(err))
	}
}

// TestDropThenOKMarksRepeat is the audit's "drop,ok" sink through the
// outbox: the server took the first copy and hung up before answering, so
// the second copy, which it answers, must say it may be a repeat.
func TestDropThenOKMarksRepeat(t *testing.T) {
	pki := newPKI(t)
	be := &backend{user: testUser, pass: testPass, dropAfterData: func(n int) bool { return n == 1 }}
	srv := startServer(t, pki, serveStartTLS, false, be)
	n := newNotifier(t, receiver(srv.addr, config.TLSStartTLS), pki)

	var mu sync.Mutex
	now := fixedNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), store.FileName), store.Options{Now: clock, PruneInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ob := outbox.New(outbox.Options{Store: s, Now: clock})
	ob.SetNotifiers(map[string]notify.Notifier{"ops-mail": n})

	msg := openMsg("inc-22/open|ops-mail")
	outboxtest.Enqueue(t, s, *msg, time.Time{})
	if sent, err := ob.DeliverDue(ctx, "ops-mail"); err != nil || sent != 0 {
		t.Fatalf("first pass: sent %d, %v", sent, err)
	}
	it, err := s.OutboxItem(ctx, msg.Key)
	if err != nil {
		t.Fatal(err)
	}
	if !it.MaybeSent {
		t.Fatalf("after a drop after DATA the item is not flagged maybe-sent (state %s, last error %q)", it.State, it.LastError)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if sent, err := ob.DeliverDue(ctx, "ops-mail"); err != nil || sent != 1 {
		t.Fatalf("second pass: sent %d, %v", sent, err)
	}
	got := be.received()
	if len(got) != 2 {
		t.Fatalf("server has %d mails, want 2", len(got))
	}
	first, second := parseMail(t, got[0].data), parseMail(t, got[1].data)
	if first.h.Get("Message-Id") != second.h.Get("Message-Id") {
		t.Errorf("Message-IDs differ: %q, %q", first.h.Get("Message-Id"), second.h.Get("Message-Id"))
	}
	if strings.Contains(first.subject, "possible repeat") {
		t.Errorf("first copy subject %q says repeat", first.subject)
	}
	if !strings.Contains(second.subject, "(possible repeat)") {
		t.Errorf("second copy subject %q does not say possible repeat", second.subject)
	}
	if !strings.Contains(second.text, "Possible repeat") || !strings.Contains(second.html, "Possible repeat") {
		t.Errorf("second copy body does not say possible repeat:\n%s", second.text)
	}
}
