package render

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/notify"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// slackPayload is what Slack's API receives for a message's blocks.
func slackPayload(t *testing.T, blocks []slack.Block) []byte {
	t.Helper()
	// Slack reads \u0026lt; and &lt; alike; without the HTML escaping
	// the goldens show the text an operator will see.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Blocks []slack.Block `json:"blocks"`
	}{blocks}); err != nil {
		t.Fatalf("marshalling blocks: %v", err)
	}
	return b.Bytes()
}

func renderings(t *testing.T, name string, m *notify.Message) map[string][]byte {
	out := map[string][]byte{
		".txt":        []byte(Text(m)),
		".html":       []byte(HTML(m)),
		".slack.json": slackPayload(t, SlackBlocks(m)),
		".slack.txt":  []byte(SlackText(SlackBlocks(m))),
	}
	if d := SlackDetail(m); d != nil {
		// The parent's first thread reply: what the parent leaves out.
		out[".detail.slack.txt"] = []byte(SlackText(d))
	}
	if _, ok := warningCases()[name]; ok {
		// What a bot's channel shows for the event in the incident's
		// thread (the open's reply is the message itself, for a thread
		// that is gone).
		out[".reply.slack.txt"] = []byte(SlackText(SlackReply(m)))
	}
	return out
}

func sortedNames(cs map[string]*notify.Message) []string {
	names := make([]string, 0, len(cs))
	for n := range cs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestGolden(t *testing.T) {
	cs := goldenCases()
	for _, name := range sortedNames(cs) {
		t.Run(name, func(t *testing.T) {
			for ext, got := range renderings(t, name, cs[name]) {
				path := filepath.Join("testdata", name+ext)
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("reading golden (run go test ./notify/render -update to create it): %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the golden file (run with -update after checking the change):\n--- got ---\n%s", path, got)
				}
			}
		})
	}
}

// TestGoldenCoversEveryClass keeps a golden case for every failing class,
// so a class added to result gets an alert someone has read.
func TestGoldenCoversEveryClass(t *testing.T) {
	cs := goldenCases()
	for _, c := range result.AllClasses() {
		if c == result.ClassOK {
			continue
		}
		m, ok := cs["class-"+string(c)]
		if !ok {
			t.Errorf("no golden case for class %s", c)
			continue
		}
		if m.Class != c {
			t.Errorf("case class-%s has class %s", c, m.Class)
		}
		if len(m.Fixes) == 0 {
			t.Errorf("case class-%s has no suggested fixes; the knowledge base should have some", c)
		}
	}
}

// TestNoStaleGoldens fails on golden files no case produces any more.
func TestNoStaleGoldens(t *testing.T) {
	cs := goldenCases()
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ".slack.txt"), ".txt"), ".html"), ".slack.json")
		name = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, ".reply"), ".detail"), ".buttons")
		if _, ok := cs[name]; !ok {
			t.Errorf("golden file %s belongs to no case", f)
		}
	}
}

// checkSlackLimits checks a Slack payload against Block Kit's limits, read
// back from JSON as Slack would.
func checkSlackLimits(t *testing.T, label string, payload []byte) {
	t.Helper()
	var p struct {
		Blocks []struct {
			Type     string `json:"type"`
			Text     *struct{ Type, Text string }
			Fields   []struct{ Type, Text string }
			Elements []json.RawMessage `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		t.Fatalf("%s: payload is not JSON: %v", label, err)
	}
	var typed slack.Blocks
	if err := json.Unmarshal(bytes.TrimSpace(mustField(t, payload, "blocks")), &typed); err != nil {
		t.Fatalf("%s: slack-go cannot read the blocks back: %v", label, err)
	}
	if n := len(p.Blocks); n == 0 || n > SlackMaxBlocks {
		t.Errorf("%s: %d blocks, want 1..%d", label, n, SlackMaxBlocks)
	}
	runes := func(what, s string, limit int) {
		if !utf8.ValidString(s) {
			t.Errorf("%s: %s is not valid UTF-8", label, what)
		}
		if n := utf8.RuneCountInString(s); n == 0 || n > limit {
			t.Errorf("%s: %s has %d characters, want 1..%d", label, what, n, limit)
		}
		// Slack's date tokens are the one control sequence we write
		// ourselves: a bad one would show raw, so each must be whole.
		s = slackDateRE.ReplaceAllString(s, "")
		if strings.Contains(s, "<") || strings.Contains(s, ">") {
			t.Errorf("%s: %s has an unescaped < or >: %q", label, what, s)
		}
		for i := strings.IndexByte(s, '&'); i >= 0; i = strings.IndexByte(s, '&') {
			rest := s[i:]
			if !strings.HasPrefix(rest, "&amp;") && !strings.HasPrefix(rest, "&lt;") && !strings.HasPrefix(rest, "&gt;") {
				t.Errorf("%s: %s has a bare or cut entity at %q", label, what, clipRunes(rest, 12))
				break
			}
			s = rest[1:]
		}
	}
	for i, b := range p.Blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" {
				t.Errorf("%s: block %d: header without plain_text", label, i)
				continue
			}
			if n := utf8.RuneCountInString(b.Text.Text); n == 0 || n > SlackMaxHeader {
				t.Errorf("%s: header has %d characters, want 1..%d", label, n, SlackMaxHeader)
			}
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				t.Errorf("%s: block %d: empty section", label, i)
			}
			if b.Text != nil {
				runes("section text", b.Text.Text, SlackMaxSectionText)
			}
			if len(b.Fields) > 10 {
				t.Errorf("%s: block %d: %d fields, want ≤ 10", label, i, len(b.Fields))
			}
			for _, f := range b.Fields {
				runes("section field", f.Text, 2000)
			}
		case "context":
			if n := len(b.Elements); n == 0 || n > 10 {
				t.Errorf("%s: block %d: %d context elements, want 1..10", label, i, n)
			}
			for _, raw := range b.Elements {
				var e struct{ Type, Text string }
				if err := json.Unmarshal(raw, &e); err != nil {
					t.Errorf("%s: block %d: context element: %v", label, i, err)
				}
				runes("context text", e.Text, SlackMaxContextText)
			}
		case "actions":
			if n := len(b.Elements); n == 0 || n > 25 {
				t.Errorf("%s: block %d: %d action elements, want 1..25", label, i, n)
			}
			for _, raw := range b.Elements {
				var e struct {
					Type     string `json:"type"`
					ActionID string `json:"action_id"`
					URL      string `json:"url"`
					Text     struct{ Type, Text string }
				}
				if err := json.Unmarshal(raw, &e); err != nil {
					t.Errorf("%s: block %d: action element: %v", label, i, err)
				}
				if e.Type == "overflow" {
					checkOverflow(t, label, raw)
					continue
				}
				if e.Type != "button" || e.Text.Type != "plain_text" {
					t.Errorf("%s: block %d: element %q with %q text, want a button with plain_text", label, i, e.Type, e.Text.Type)
				}
				if n := utf8.RuneCountInString(e.Text.Text); n == 0 || n > 75 {
					t.Errorf("%s: button text has %d characters, want 1..75", label, n)
				}
				if n := len(e.ActionID); n == 0 || n > 255 {
					t.Errorf("%s: button action_id has %d characters, want 1..255", label, n)
				}
				if n := len(e.URL); n > 3000 {
					t.Errorf("%s: button url has %d characters, want ≤ 3000", label, n)
				}
			}
		case "divider":
		default:
			t.Errorf("%s: block %d: unexpected type %q", label, i, b.Type)
		}
	}
	if strings.Count(string(payload), "```")%2 != 0 {
		t.Errorf("%s: an odd number of ``` fences: a code block is left open", label)
	}
}

func mustField(t *testing.T, payload []byte, field string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	return m[field]
}

// TestSlackGoldensWithinLimits reads the goldens as Slack would receive
// them, so a golden regenerated with -update cannot quietly break a limit.
func TestSlackGoldensWithinLimits(t *testing.T) {
	for _, g := range slackGoldens(t) {
		checkSlackLimits(t, g.file, g.raw)
	}
	for _, name := range sortedNames(goldenCases()) {
		m := goldenCases()[name]
		if d := SlackDetail(m); d != nil {
			checkSlackLimits(t, name+" detail", slackPayload(t, d))
		}
		checkSlackLimits(t, name+" webhook", slackPayload(t, SlackFull(m)))
		for label, m := range replies(name, m) {
			checkSlackLimits(t, label, slackPayload(t, SlackReply(m)))
			// An update or resolve rewrites the parent.
			checkSlackLimits(t, label+" parent", slackPayload(t, SlackBlocks(m)))
		}
	}
}

var slackDateRE = regexp.MustCompile(`<!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC>`)

// TestSlackParentFitsAtAGlance: the parent message of every case (and the
// rewrite an update or resolve makes of it) takes at most
// SlackParentLines lines as SlackLines counts them, so Slack never folds
// it behind "Show more"; and it shows no idempotency key.
func TestSlackParentFitsAtAGlance(t *testing.T) {
	cs := goldenCases()
	for _, name := range sortedNames(cs) {
		all := replies(name, cs[name])
		all[name] = cs[name]
		for label, m := range all {
			blocks := SlackBlocks(m)
			if n := SlackLines(blocks); n > SlackParentLines {
				t.Errorf("%s: the parent takes %d lines, want ≤ %d:\n%s", label, n, SlackParentLines, SlackText(blocks))
			}
			for what, text := range map[string]string{
				"parent": string(slackPayload(t, blocks)), "detail": string(slackPayload(t, SlackDetail(m))),
				"reply": string(slackPayload(t, SlackReply(m))), "text": Text(m), "html": HTML(m),
			} {
				if m.Key != "" && strings.Contains(text, m.Key) {
					t.Errorf("%s: the %s shows the idempotency key %q", label, what, m.Key)
				}
			}
		}
	}
}

// TestSlackLocalTimes: times in the Slack messages are date tokens each
// reader sees in their own zone, with the UTC text as the fallback.
func TestSlackLocalTimes(t *testing.T) {
	m := goldenCases()["class-bad_gateway"]
	parent := unescapeJSON(string(slackPayload(t, SlackBlocks(m))))
	want := fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", m.OpenedAt.Unix(), stamp(m.OpenedAt))
	if !strings.Contains(parent, want) {
		t.Errorf("the parent has no local-time token %q for the opening time:\n%s", want, parent)
	}
	if stampRE.MatchString(slackDateRE.ReplaceAllString(parent, "")) {
		t.Errorf("the parent shows a UTC time outside a date token:\n%s", parent)
	}
	detail := unescapeJSON(string(slackPayload(t, SlackDetail(m))))
	if !slackDateRE.MatchString(detail) {
		t.Errorf("the detail reply has no local-time token:\n%s", detail)
	}
	res := *m
	res.Event, res.ResolvedAt = incident.NotifyResolve, m.At
	if reply := unescapeJSON(string(slackPayload(t, SlackReply(&res)))); !slackDateRE.MatchString(reply) {
		t.Errorf("the resolve reply has no local-time token:\n%s", reply)
	}
}

// unescapeJSON undoes the HTML escaping slack-go's own marshalling of some
// blocks applies (\u003c for <), to read the text as Slack will.
func unescapeJSON(s string) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(s)
}

// TestSlackOpenInVantage: with a PageURL the parent links to it with a
// button; without one there is no actions block.
func TestSlackOpenInVantage(t *testing.T) {
	m := *goldenCases()["class-bad_gateway"]
	for _, b := range SlackBlocks(&m) {
		if _, ok := b.(*slack.ActionBlock); ok {
			t.Fatalf("an actions block without a PageURL")
		}
	}
	m.PageURL = "https://vantage.example.test/monitors/shop"
	var found bool
	for _, b := range SlackBlocks(&m) {
		if a, ok := b.(*slack.ActionBlock); ok {
			btn := a.Elements.ElementSet[0].(*slack.ButtonBlockElement)
			found = btn.URL == m.PageURL && btn.Text.Text == "Open in vantage"
		}
	}
	if !found {
		t.Errorf("no Open in vantage button to %s:\n%s", m.PageURL, SlackText(SlackBlocks(&m)))
	}
	checkSlackLimits(t, "with page url", slackPayload(t, SlackBlocks(&m)))
	if !strings.Contains(Text(&m), "\nOpen in vantage: "+m.PageURL+"\n") {
		t.Errorf("the text has no \"Open in vantage\" line:\n%s", Text(&m))
	}
	if !strings.Contains(HTML(&m), `<a href="`+m.PageURL+`"`) {
		t.Errorf("the HTML has no link to %s", m.PageURL)
	}
	if n := SlackLines(SlackBlocks(&m)); n > SlackParentLines {
		t.Errorf("with the button the parent takes %d lines", n)
	}
	m.PageURL = "javascript:alert(1)"
	if strings.Contains(Text(&m), "javascript") || strings.Contains(HTML(&m), "javascript") {
		t.Errorf("a PageURL that is not http(s) is shown")
	}
}

// slackGolden is one checked-in *.slack.json file.
type slackGolden struct {
	file string
	raw  []byte
}

// slackGoldens reads every *.slack.json golden, and fails when a case has
// none.
func slackGoldens(t *testing.T) []slackGolden {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.slack.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(goldenCases()) {
		t.Fatalf("%d Slack goldens for %d cases", len(files), len(goldenCases()))
	}
	out := make([]slackGolden, 0, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, slackGolden{f, b})
	}
	return out
}

// replies are the thread replies a case's incident gets, by label: its
// update, reminder and resolve.
func replies(name string, m *notify.Message) map[string]*notify.Message {
	out := make(map[string]*notify.Message, 3)
	for _, ev := range []incident.Notification{incident.NotifyUpdate, incident.NotifyReminder, incident.NotifyResolve} {
		c := *m
		c.Event = ev
		out[name+" reply "+string(ev)] = &c
	}
	return out
}
