package slack_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify/render"
)

var dateToken = regexp.MustCompile(`<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^|<>]+>`)

// metadata is a call's message metadata payload.
func metadata(t *testing.T, c apiCall) map[string]any {
	t.Helper()
	var md struct {
		EventType    string         `json:"event_type"`
		EventPayload map[string]any `json:"event_payload"`
	}
	if err := json.Unmarshal([]byte(c.Form.Get("metadata")), &md); err != nil {
		t.Fatalf("%s: metadata %q: %v", c.Method, c.Form.Get("metadata"), err)
	}
	if md.EventType != "vantage_notification" {
		t.Errorf("%s: metadata event_type %q", c.Method, md.EventType)
	}
	return md.EventPayload
}

// TestOpenPostsDetailsInThread: an open posts the short parent, then the
// details as the first reply in its thread; an update rewrites the parent
// with the new headline and replies with the change; a resolve rewrites
// and replies as before. No text shows the idempotency key (the metadata
// carries it), and times are local-time date tokens.
func TestOpenPostsDetailsInThread(t *testing.T) {
	f := newFakeSlack(t, testToken)
	n := mustNew(t, botReceiver(f.URL()))
	ctx := t.Context()

	open := message(incident.NotifyOpen, "shop")
	open.PageURL = "https://vantage.example.test/monitors/shop"
	ref, err := n.Notify(ctx, open, "")
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	ch, ts := splitRef(t, ref)
	calls := f.AllCalls()
	if len(calls) != 2 {
		t.Fatalf("open made %d calls, want the parent and its details", len(calls))
	}
	checkCall(t, calls[0], "chat.postMessage", "#alerts", "", render.SlackBlocks(open), open)
	if got := calls[1].Form.Get("thread_ts"); calls[1].Method != "chat.postMessage" || got != ts || calls[1].Form.Get("channel") != ch {
		t.Errorf("details: %s in %s thread %q, want chat.postMessage in %s thread %s", calls[1].Method, calls[1].Form.Get("channel"), got, ch, ts)
	}
	if got, want := normJSON(t, calls[1].Form.Get("blocks")), blocksJSON(t, render.SlackDetail(open)); got != want {
		t.Errorf("details blocks =\n%s\nwant\n%s", got, want)
	}
	if md := metadata(t, calls[0]); md["key"] != open.Key || md["part"] != render.SlackPartParent || md["event"] != "open" {
		t.Errorf("parent metadata %v, want key %q, part parent, event open", md, open.Key)
	}
	if md := metadata(t, calls[1]); md["part"] != render.SlackPartDetail {
		t.Errorf("details metadata %v, want part detail", md)
	}
	if !strings.Contains(calls[0].Form.Get("blocks"), open.PageURL) {
		t.Errorf("the parent has no link to %s", open.PageURL)
	}

	upd := message(incident.NotifyUpdate, "shop")
	upd.Class, upd.Status, upd.Gateway, upd.Change = result.ClassClientError, 404, "", "class bad_gateway → client_error"
	upd.Result = nil
	if _, err := n.Notify(ctx, upd, ref); err != nil {
		t.Fatalf("update: %v", err)
	}
	res := message(incident.NotifyResolve, "shop")
	if _, err := n.Notify(ctx, res, ref); err != nil {
		t.Fatalf("resolve: %v", err)
	}
	calls = f.AllCalls()
	if len(calls) != 6 {
		t.Fatalf("%d calls, want post, details, update, reply, update, reply", len(calls))
	}
	checkCall(t, calls[2], "chat.update", ch, ts, render.SlackBlocks(upd), upd)
	checkCall(t, calls[3], "chat.postMessage", ch, ts, render.SlackReply(upd), upd)
	if b := calls[2].Form.Get("blocks"); !strings.Contains(b, "404") || strings.Contains(b, "502") {
		t.Errorf("the rewritten parent does not show the new headline (404, not 502): %s", b)
	}
	checkCall(t, calls[4], "chat.update", ch, ts, render.SlackBlocks(res), res)
	checkCall(t, calls[5], "chat.postMessage", ch, ts, render.SlackReply(res), res)

	for i, c := range calls {
		for _, m := range []string{open.Key, upd.Key, res.Key} {
			if strings.Contains(c.Form.Get("blocks")+c.Form.Get("text"), m) {
				t.Errorf("call %d (%s) shows the key %q", i, c.Method, m)
			}
		}
	}
	unesc := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")
	for _, i := range []int{0, 1} {
		if b := unesc.Replace(calls[i].Form.Get("blocks")); !dateToken.MatchString(b) {
			t.Errorf("call %d shows no local-time date token: %s", i, b)
		}
	}
}

// TestDetailFailureDoesNotRepost: when the parent is posted and its
// details fail, the delivery still succeeds with the parent's ref, so the
// outbox never posts a second parent.
func TestDetailFailureDoesNotRepost(t *testing.T) {
	f := newFakeSlack(t, testToken)
	f.setOverride(func(w http.ResponseWriter, c apiCall) bool {
		if c.Form.Get("thread_ts") == "" {
			return false
		}
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"ok":false,"error":"internal_error"}`))
		return true
	})
	n := mustNew(t, botReceiver(f.URL()))
	ref, err := n.Notify(t.Context(), message(incident.NotifyOpen, "shop"), "")
	if err != nil || ref == "" {
		t.Fatalf("open = %q, %v; want the parent's ref and no error", ref, err)
	}
	var posts int
	for _, c := range f.AllCalls() {
		if c.Method == "chat.postMessage" && c.Form.Get("thread_ts") == "" {
			posts++
		}
	}
	if posts != 1 {
		t.Errorf("%d parents posted, want 1", posts)
	}
}
