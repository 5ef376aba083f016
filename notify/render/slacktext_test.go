package render

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

// TestSlackTextOfTheJSONGoldens reads every Slack golden back as Slack
// receives it and renders it as text: what the demo shows must be what
// the JSON says, and slack-go's decoded block types must render like the
// ones SlackBlocks builds.
func TestSlackTextOfTheJSONGoldens(t *testing.T) {
	for _, g := range slackGoldens(t) {
		f, raw := g.file, g.raw
		var blocks slack.Blocks
		if err := json.Unmarshal(bytes.TrimSpace(mustField(t, raw, "blocks")), &blocks); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		txt := strings.TrimSuffix(f, ".json") + ".txt"
		want, err := os.ReadFile(txt)
		if err != nil {
			t.Fatalf("reading golden (run go test ./notify/render -update to create it): %v", err)
		}
		if got := SlackText(blocks.BlockSet); got != string(want) {
			t.Errorf("%s rendered as text differs from %s:\n--- got ---\n%s", f, txt, got)
		}
	}
}

// TestSlackTextShowsWhatSlackShows: no mrkdwn syntax, entity or shortcode
// is left for the reader to decode, in the incident messages and in the
// thread replies, and every header and section heading is there.
func TestSlackTextShowsWhatSlackShows(t *testing.T) {
	for _, name := range sortedNames(goldenCases()) {
		m := goldenCases()[name]
		views := map[string][]slack.Block{name: SlackBlocks(m)}
		for label, r := range replies(name, m) {
			views[label] = SlackReply(r)
		}
		for label, blocks := range views {
			got := SlackText(blocks)
			for _, bad := range []string{"&lt;", "&gt;", "&amp;", "```", ":red_circle:", ":white_check_mark:", ":warning:", ":large_orange_circle:", ":information_source:", ":rotating_light:", ":arrows_counterclockwise:"} {
				if strings.Contains(got, bad) {
					t.Errorf("%s: text shows %q:\n%s", label, bad, got)
				}
			}
			for _, l := range strings.Split(got, "\n") {
				if strings.HasPrefix(l, "*") || strings.HasSuffix(l, "*") || strings.HasPrefix(l, "_") {
					t.Errorf("%s: a mrkdwn marker is left in %q", label, l)
				}
			}
			for _, b := range blocks {
				if h, ok := b.(*slack.HeaderBlock); ok && !strings.HasPrefix(got, h.Text.Text+"\n") {
					t.Errorf("%s: text does not start with the header %q:\n%s", label, h.Text.Text, got)
				}
			}
		}
	}
}

func TestSlackTextLayout(t *testing.T) {
	yes := true
	md := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	cases := []struct {
		name   string
		blocks []slack.Block
		want   string
	}{
		{"emphasis", []slack.Block{slack.NewSectionBlock(md("*bold* _italic_ ~gone~ and *bold with `code*` inside*"), nil, nil)},
			"bold italic gone and bold with code* inside\n"},
		{"markers that are text", []slack.Block{slack.NewSectionBlock(md("2*3*4 is bad_gateway_x, a lone * stays, so do * spaced * ones"), nil, nil)},
			"2*3*4 is bad_gateway_x, a lone * stays, so do * spaced * ones\n"},
		{"unpaired backtick", []slack.Block{slack.NewSectionBlock(md("it's `half"), nil, nil)},
			"it's `half\n"},
		{"entities and links", []slack.Block{slack.NewSectionBlock(md("a &lt;b&gt; &amp; <https://x.test/|the page> <https://y.test/> <!here> <@U1> <#C1|ops>"), nil, nil)},
			"a <b> & the page (https://x.test/) https://y.test/ @here @U1 #ops\n"},
		{"code block", []slack.Block{slack.NewSectionBlock(md("*Body*\n```&lt;h1&gt; *not bold*\nline 2```"), nil, nil)},
			"Body\n  │ <h1> *not bold*\n  │ line 2\n"},
		{"emoji", []slack.Block{
			slack.NewHeaderBlock(&slack.TextBlockObject{Type: slack.PlainTextType, Text: "a :warning: header", Emoji: &yes}),
			slack.NewSectionBlock(md(":red_circle: down, :tada: stays"), nil, nil),
		}, "a ⚠️ header\n\n🔴 down, :tada: stays\n"},
		{"plain text is literal", []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.PlainTextType, "*a* &lt; :warning:", false, false), nil, nil)},
			"*a* &lt; :warning:\n"},
		{"fields two to a row", []slack.Block{slack.NewSectionBlock(md("*Facts*"), []*slack.TextBlockObject{
			md("*Status:* 502"), md("*Gateway:* nginx"), md("*Where:* fra1"),
		}, nil)}, "Facts\nStatus: 502   Gateway: nginx\nWhere: fra1\n"},
		{"dividers and context", []slack.Block{
			slack.NewSectionBlock(md("one"), nil, nil),
			slack.NewSectionBlock(md("two"), nil, nil),
			slack.NewDividerBlock(),
			slack.NewSectionBlock(md("three"), nil, nil),
			slack.NewContextBlock("", md("at *noon*"), slack.NewImageBlockElement("https://x.test/i.png", "logo")),
		}, "one\n\ntwo\n" + strings.Repeat("─", slackTextRule) + "\nthree\n\nat noon  [logo]\n"},
		{"a block we never make", []slack.Block{slack.NewImageBlock("https://x.test/i.png", "chart", "", nil)},
			"[image block]\n"},
	}
	for _, c := range cases {
		if got := SlackText(c.blocks); got != c.want {
			t.Errorf("%s:\ngot  %q\nwant %q", c.name, got, c.want)
		}
	}
}
