package render

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
)

// withScope is the golden nginx 502 with the round's scope and votes set.
func withScope(s result.Scope, ev incident.Notification) *notify.Message {
	m := open("shop", shopDown(), incident.SeverityCritical)
	m.Event, m.Scope = ev, s
	up := &result.Result{OK: true, Class: result.ClassOK, Status: 200}
	down := &result.Result{Class: result.ClassBadGateway, Status: 502, Gateway: "nginx"}
	switch s {
	case result.ScopePartial:
		m.Regions = []string{"fra1", "iad1"}
		m.Result.Vantages = []result.VantageLine{
			{Name: "local", Status: result.VantageUp, Result: up},
			{Name: "fra1", Status: result.VantageDown, Result: down},
			{Name: "iad1", Status: result.VantageDown, Result: down},
		}
	case result.ScopeJustMe:
		m.Result.Vantages = []result.VantageLine{
			{Name: "local", Status: result.VantageImpaired, Result: down, Error: "canary failed"},
			{Name: "fra1", Status: result.VantageUp, Result: up},
		}
	case result.ScopeNone:
		m.Result.Vantages = nil
	}
	m.Result.Scope = s
	return m
}

func TestTitleAndVerdict(t *testing.T) {
	cases := []struct {
		name    string
		m       *notify.Message
		title   string
		verdict string
	}{
		{"open everyone", withScope(result.ScopeEveryone, incident.NotifyOpen),
			"[DOWN everyone] shop: 502 from nginx, upstream refused", "down for everyone"},
		{"open partial", withScope(result.ScopePartial, incident.NotifyOpen),
			"[DOWN partial: fra1, iad1] shop: 502 from nginx, upstream refused", "down from fra1 and iad1 only (up from local)"},
		{"open just me", withScope(result.ScopeJustMe, incident.NotifyOpen),
			"[DOWN our network only] shop: 502 from nginx, upstream refused",
			"down only as seen from our own network, whose vantages are impaired: probably our side, not the target"},
		{"open unknown", withScope(result.ScopeUnknown, incident.NotifyOpen),
			"[DOWN unconfirmed] shop: 502 from nginx, upstream refused", "possibly down: no healthy vantage could check it"},
		{"open single host", withScope(result.ScopeNone, incident.NotifyOpen),
			"[DOWN] shop: 502 from nginx, upstream refused", "down"},
		{"reminder", reminderCase(),
			"[STILL DOWN everyone] shop for 1h 5m: 502 from nginx, upstream refused", "down for everyone"},
		{"update", updateCase(),
			"[UPDATE: DOWN everyone] shop: now 504 from nginx", "down for everyone"},
		{"resolve", resolveCase(),
			"[RESOLVED] shop after 12m: was 502 from nginx", "back up after 12m"},
		{"resolve removed", func() *notify.Message {
			m := resolveCase()
			m.Resolution = "monitor removed"
			return m
		}(), "[RESOLVED: monitor removed] shop after 12m: was 502 from nginx", "resolved after 12m (monitor removed)"},
		{"notice", &notify.Message{Event: incident.NotifyNotice, Monitor: "shop", Change: "maintenance ended with the monitor still down"},
			"[NOTICE] shop: maintenance ended with the monitor still down", "down"},
		{"group", groupCase(),
			"[GROUP 7 monitors] gateway 203.0.113.10:443 (nginx) answers 502 for every monitor behind it", "down for everyone"},
		{"vantage impaired", vantageImpairedCase(),
			"[VANTAGE fra1 impaired] canary https://canary-a.example.test/ failed: connect timeout (and 1 more)",
			"impaired: its canary checks fail, so what it sees of targets does not count"},
		{"vantage unreachable", func() *notify.Message {
			m := vantageImpairedCase()
			m.Detail = "vantage fra1 is unreachable: dial tcp 192.0.2.9:7443: connect: connection refused"
			return m
		}(), "[VANTAGE fra1 unreachable] dial tcp 192.0.2.9:7443: connect: connection refused",
			"unreachable: it does not answer or refuses our key, so it takes no part in checks"},
		{"vantage resolved", func() *notify.Message {
			m := vantageImpairedCase()
			m.Event, m.ResolvedAt = incident.NotifyResolve, opened.Add(45*time.Second)
			return m
		}(), "[RESOLVED] vantage fra1 works again after 45s", "working again after 45s"},
		{"local network", localNetworkCase(),
			"[OUR NETWORK] this host has lost its network",
			"down: this host has lost its network, so no check can tell whether a target is down until it is back"},
		{"local network back", func() *notify.Message {
			m := localNetworkCase()
			m.Event, m.ResolvedAt = incident.NotifyResolve, opened.Add(5*time.Minute)
			return m
		}(), "[RESOLVED] our network is back after 5m", "back after 5m: this host has its network again"},
		{"repeat", repeatCase(),
			"[DOWN everyone] shop: 502 from nginx, upstream refused (possible repeat)", "down for everyone"},
		{"test", testAlertCase(),
			"[TEST] [DOWN everyone] shop: 502 from nginx, upstream refused", "down for everyone"},
		{"flapping", func() *notify.Message {
			m := withScope(result.ScopeEveryone, incident.NotifyUpdate)
			m.Flapping = true
			return m
		}(), "[UPDATE: DOWN everyone] shop: now 502 from nginx, upstream refused (flapping)", "down for everyone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Title(tc.m); got != tc.title {
				t.Errorf("Title\n got %q\nwant %q", got, tc.title)
			}
			if got := Verdict(tc.m); got != tc.verdict {
				t.Errorf("Verdict\n got %q\nwant %q", got, tc.verdict)
			}
		})
	}
}

// TestSummaryWords: the summary names the failure in words, from the
// detail token when the response named one and from the diagnosis when not.
func TestSummaryWords(t *testing.T) {
	cases := []struct {
		r    *result.Outcome
		want string
	}{
		{shopDown(), "502 from nginx, upstream refused"},
		{&result.Outcome{Result: result.Result{Class: result.ClassBadGateway, Status: 502, Gateway: "nginx"}, Diagnosis: &result.Diagnosis{
			Origin:   &result.OriginCheck{URL: "http://10.0.0.5:8080/", Result: result.Result{Class: result.ClassConnectTimeout}},
			Findings: []result.Finding{result.FindingUpstreamDown},
			Notes:    []string{"the gateway says bad gateway and the origin does not answer (connect timeout): the upstream is down"}}},
			"502 from nginx, upstream not answering"},
		{&result.Outcome{Result: result.Result{Class: result.ClassBadGateway, Status: 502, Gateway: "nginx"}, Diagnosis: &result.Diagnosis{
			Findings: []result.Finding{result.FindingGatewayPath},
			Notes:    []string{"the gateway says bad gateway but the origin answers fine"}}},
			"502 from nginx, path to the upstream broken"},
		{&result.Outcome{Result: result.Result{Class: result.ClassBadGateway, Status: 521, Gateway: "cloudflare", Detail: "cloudflare-521"}},
			"521 from cloudflare, origin refused the connection"},
		{&result.Outcome{Result: result.Result{Class: result.ClassBadGateway, Status: 502, Gateway: "nginx", Via: []string{"cloudflare"}}},
			"502 from nginx (behind cloudflare)"},
		{&result.Outcome{Result: result.Result{Class: result.ClassGatewayTimeout, Status: 504, Via: []string{"cloudflare"}}},
			"504 gateway timeout (through cloudflare)"},
		{&result.Outcome{Result: result.Result{Class: result.ClassServiceUnavailable, Status: 503, Gateway: "envoy", Detail: "no-healthy-upstream"}},
			"503 from envoy, no healthy upstream"},
		{&result.Outcome{Result: result.Result{Class: result.ClassClientError, Status: 404}}, "404 not found"},
		{&result.Outcome{Result: result.Result{Class: result.ClassBadGateway, Status: 520}}, "520 bad gateway"},
		{&result.Outcome{Result: result.Result{Class: result.ClassDNSError, Detail: result.DetailServFail}}, "DNS failure, resolver failed (SERVFAIL)"},
		{&result.Outcome{Result: result.Result{Class: result.ClassContentMismatch, Status: 200, Detail: result.DetailBodyMissingText}}, "wrong content (HTTP 200), expected text missing"},
		{&result.Outcome{Result: result.Result{Class: result.ClassConnectionRefused}}, "connection refused"},
		{&result.Outcome{Result: result.Result{Class: result.ClassServiceUnavailable, Status: 503, Gateway: "fastly", Detail: "some-new-token"}}, "503 from fastly, some new token"},
		{&result.Outcome{Result: result.Result{Class: result.ClassTLSError, Detail: "weird\nfree text"}}, "TLS failure, weird free text"},
	}
	for _, tc := range cases {
		m := &notify.Message{Monitor: "x", Class: tc.r.Class, Status: tc.r.Status, Gateway: tc.r.Gateway, Detail: tc.r.Detail, Result: tc.r}
		if got := Summary(m); got != tc.want {
			t.Errorf("Summary(%s %d %s %s) = %q, want %q", tc.r.Class, tc.r.Status, tc.r.Gateway, tc.r.Detail, got, tc.want)
		}
	}
	// Every failing class has words of its own in the summary, and none of
	// them is a DNS failure unless the class is.
	for _, c := range result.AllClasses() {
		got := Summary(&notify.Message{Class: c})
		if got == "" || got == string(c) && strings.Contains(string(c), "_") {
			t.Errorf("class %s summarised as %q", c, got)
		}
		if c != result.ClassDNSError && strings.Contains(got, "DNS") {
			t.Errorf("class %s summarised as %q", c, got)
		}
	}
}

func TestDuration(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{0, "0s"},
		{45 * time.Second, "45s"},
		{59*time.Second + 600*time.Millisecond, "1m"},
		{4*time.Minute + 30*time.Second, "4m 30s"},
		{12 * time.Minute, "12m"},
		{12*time.Minute + 30*time.Second, "12m"},
		{time.Hour, "1h"},
		{time.Hour + 5*time.Minute, "1h 5m"},
		{49 * time.Hour, "2d 1h"},
		{72 * time.Hour, "3d"},
	}
	for _, tc := range cases {
		if got := Duration(tc.d); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// hostile is a message whose every free field is chosen by an attacker:
// the monitor name comes from config, but the body, headers and error come
// from the target.
func hostile() *notify.Message {
	m := open("shop", shopDown(), incident.SeverityCritical)
	m.Monitor = "<script>alert('name')</script>\r\nBcc: victim@example.test"
	m.Result.Evidence.Body = "<script>alert(1)</script> <!channel> & ```end``` <img src=x onerror=alert(2)>"
	m.Result.Evidence.Headers = append(m.Result.Evidence.Headers, "X-Evil: <b>bold</b>")
	m.Result.Error = "error with <tag> & ampersand"
	m.URL = "javascript:alert(3)"
	m.Fixes = append(m.Fixes, "<a href=x>click</a>")
	return m
}

func TestHTMLEscapesEverything(t *testing.T) {
	h := HTML(hostile())
	for _, bad := range []string{"<script", "<img", "<b>", "<tag>", "<a href=x>", `href="javascript:`, "<!channel>"} {
		if strings.Contains(h, bad) {
			t.Errorf("HTML contains raw %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x", "&lt;b&gt;bold&lt;/b&gt;", "&amp; ampersand"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks the escaped %q", want)
		}
	}
}

func TestSlackEscapesEverything(t *testing.T) {
	m := hostile()
	for _, ev := range []incident.Notification{incident.NotifyOpen, incident.NotifyUpdate, incident.NotifyReminder, incident.NotifyResolve} {
		m.Event = ev
		p := string(slackPayload(t, SlackFull(m))) + string(slackPayload(t, SlackReply(m)))
		// The header is plain_text, which Slack does not parse, so the
		// name may stand there as it is; every mrkdwn text is checked for
		// a raw < or > by checkSlackLimits.
		if strings.Contains(p, "<!channel>") || strings.Contains(p, "<tag>") {
			t.Errorf("%s: Slack payload contains raw markup from the response:\n%s", ev, p)
		}
		checkSlackLimits(t, "hostile "+string(ev), slackPayload(t, SlackFull(m)))
		checkSlackLimits(t, "hostile reply "+string(ev), slackPayload(t, SlackReply(m)))
	}
	if p := string(slackPayload(t, SlackFull(hostile()))); !strings.Contains(p, "&lt;!channel&gt;") {
		t.Errorf("the body's <!channel> is not shown escaped:\n%s", p)
	}
}

// TestTitleIsOneLine: the title becomes an email Subject header, so a
// line break in any field would let it inject headers.
func TestTitleIsOneLine(t *testing.T) {
	ms := []*notify.Message{hostile(), {Event: incident.NotifyNotice, Monitor: "a\nb", Change: "x\r\nBcc: y\u2028z"}}
	g := groupCase()
	g.Cause = "cause\r\nBcc: evil@example.test"
	ms = append(ms, g)
	for _, m := range ms {
		title := Title(m)
		if strings.ContainsAny(title, "\r\n\u2028\u2029") {
			t.Errorf("title has a line break: %q", title)
		}
		for _, r := range title {
			if r < 0x20 || r == 0x7f {
				t.Errorf("title has control character %U: %q", r, title)
			}
		}
	}
}

// TestHugeMessageStaysBounded: a group of hundreds, a megabyte of body, a
// hundred long markers full of multi-byte runes and entities: every
// output stays bounded and Slack's limits hold.
func TestHugeMessageStaysBounded(t *testing.T) {
	m := groupCase()
	for i := range 500 {
		m.Group = append(m.Group, notify.Member{Monitor: fmt.Sprintf("svc-%03d-ü&<>", i), URL: "https://x.example.test/" + strings.Repeat("é", 300), Class: result.ClassBadGateway, Status: 502})
	}
	m.Monitor = strings.Repeat("名", 500)
	m.Result.Evidence.Body = strings.Repeat("<&>ü\n", 200000)
	for range 100 {
		m.Result.Evidence.Markers = append(m.Result.Evidence.Markers, strings.Repeat("&<ü>", 500))
		m.Result.Evidence.Headers = append(m.Result.Evidence.Headers, "X-Big: "+strings.Repeat("&", 5000))
	}
	for range 40 {
		m.Result.Vantages = append(m.Result.Vantages, result.VantageLine{Name: strings.Repeat("v", 100), Status: result.VantageUnreachable, Error: strings.Repeat("<", 5000)})
	}
	m.Fixes = []string{strings.Repeat("&", 10000)}
	for _, ev := range []incident.Notification{incident.NotifyOpen, incident.NotifyResolve} {
		m.Event = ev
		if n := utf8.RuneCountInString(Title(m)); n > maxTitle {
			t.Errorf("%s: title has %d runes", ev, n)
		}
		if n := len(Text(m)); n > 120_000 {
			t.Errorf("%s: text is %d bytes", ev, n)
		}
		if n := len(HTML(m)); n > 250_000 {
			t.Errorf("%s: HTML is %d bytes", ev, n)
		}
		checkSlackLimits(t, "huge "+string(ev), slackPayload(t, SlackFull(m)))
		checkSlackLimits(t, "huge reply "+string(ev), slackPayload(t, SlackReply(m)))
	}
	m.Event = incident.NotifyOpen
	if txt := Text(m); !strings.Contains(txt, fmt.Sprintf("and %d more", len(m.Group)-maxMembers)) {
		t.Errorf("a group of %d lists no \"and N more\"", len(m.Group))
	}
}

// TestRendersSurviveJSON: the Message is the outbox payload, so a message
// read back after a restart (times in another zone) renders the same.
func TestRendersSurviveJSON(t *testing.T) {
	for name, m := range goldenCases() {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back notify.Message
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		zone := time.FixedZone("UTC+5", 5*3600)
		back.OpenedAt, back.At = back.OpenedAt.In(zone), back.At.In(zone)
		if Text(&back) != Text(m) || HTML(&back) != HTML(m) || Title(&back) != Title(m) {
			t.Errorf("%s renders differently after a JSON round trip in another zone", name)
		}
	}
}

// TestSparseMessages: a message with almost nothing in it (a notice, a
// result-less event) renders something sensible and never panics.
func TestSparseMessages(t *testing.T) {
	events := []incident.Notification{incident.NotifyOpen, incident.NotifyUpdate, incident.NotifyResolve, incident.NotifyReminder, incident.NotifyNotice, "bogus"}
	for _, ev := range events {
		for _, kind := range []incident.Kind{incident.KindTarget, incident.KindVantage, ""} {
			m := &notify.Message{Event: ev, Kind: kind}
			title := Title(m)
			if title == "" || Text(m) == "" || !strings.Contains(HTML(m), "</html>") {
				t.Errorf("%s/%s: empty rendering, title %q", ev, kind, title)
			}
			checkSlackLimits(t, string(ev)+"/"+string(kind), slackPayload(t, SlackFull(m)))
			checkSlackLimits(t, string(ev)+"/"+string(kind)+" reply", slackPayload(t, SlackReply(m)))
		}
	}
}

func TestSlackReply(t *testing.T) {
	text := func(m *notify.Message) string {
		p := string(slackPayload(t, SlackReply(m)))
		checkSlackLimits(t, "reply", []byte(p))
		return unescapeJSON(p)
	}
	if p := text(resolveCase()); !strings.Contains(p, "*shop* is back up after 12m (resolved at <!date^1795230690^{date_short_pretty} {time}|2026-11-21 03:11:30 UTC>)") {
		t.Errorf("resolve reply lacks the duration and time:\n%s", p)
	}
	if p := text(updateCase()); !strings.Contains(p, "class bad_gateway → gateway_timeout") || !strings.Contains(p, "Now 504 from nginx, down for everyone") {
		t.Errorf("update reply lacks the change or the verdict:\n%s", p)
	}
	if p := text(reminderCase()); !strings.Contains(p, "still down for everyone after 1h 5m") {
		t.Errorf("reminder reply lacks how long:\n%s", p)
	}
	r := reminderCase()
	r.Repeat = true
	if p := text(r); !strings.Contains(p, "possible repeat") {
		t.Errorf("repeat reply does not say so:\n%s", p)
	}
	if n := len(SlackReply(resolveCase())); n > 2 {
		t.Errorf("a reply of %d blocks is not short", n)
	}
}

// TestResolvedMainMessage: the chat.update version says resolved and how
// long, and no longer shows the steps to fix it.
func TestResolvedMainMessage(t *testing.T) {
	p := unescapeJSON(string(slackPayload(t, SlackBlocks(resolveCase()))))
	for _, want := range []string{"[RESOLVED] shop after 12m", ":white_check_mark:", `*Lasted:*\n12m`, `*Resolved at:*\n<!date^1795230690^{date_short_pretty} {time}|2026-11-21 03:11:30 UTC>`} {
		if !strings.Contains(p, want) {
			t.Errorf("resolved message lacks %q:\n%s", want, p)
		}
	}
	if strings.Contains(p, "What to do next") || strings.Contains(p, ":red_circle:") {
		t.Errorf("resolved message still reads as an outage:\n%s", p)
	}
}

// TestNotPersistedIsShown: an alert sent from memory while the store could
// not be written says so in every format.
func TestNotPersistedIsShown(t *testing.T) {
	for name, m := range map[string]*notify.Message{"down": open("shop", shopDown(), incident.SeverityCritical), "resolve": resolveCase(), "reminder": reminderCase()} {
		m.NotPersisted = true
		if s := Title(m); !strings.Contains(s, "(not persisted)") {
			t.Errorf("%s: title %q does not say not persisted", name, s)
		}
		if s := Text(m); !strings.Contains(s, "Not persisted: the state store could not be written") {
			t.Errorf("%s: text does not say not persisted:\n%s", name, s)
		}
		if s := HTML(m); !strings.Contains(s, "Not persisted: the state store could not be written") {
			t.Errorf("%s: HTML does not say not persisted:\n%s", name, s)
		}
		if p := string(slackPayload(t, SlackBlocks(m))); !strings.Contains(p, "not persisted") {
			t.Errorf("%s: Slack message does not say not persisted:\n%s", name, p)
		}
		if p := string(slackPayload(t, SlackReply(m))); !strings.Contains(p, "not persisted") {
			t.Errorf("%s: Slack reply does not say not persisted:\n%s", name, p)
		}
		m.NotPersisted = false
		if s := Text(m) + string(slackPayload(t, SlackFull(m))); strings.Contains(strings.ToLower(s), "not persisted") {
			t.Errorf("%s: a persisted alert says not persisted", name)
		}
	}
}
