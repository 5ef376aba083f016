package render

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/slack-go/slack"
)

// SlackText is Block Kit blocks as plain text, laid out as Slack shows
// them: the header, each section's text and its fields (two to a row), the
// dividers, the context lines, with the mrkdwn read as Slack reads it (bold
// and italics shown plain, code blocks indented, entities decoded, the
// emoji we use drawn). It is how the demo shows what a Slack receiver
// would post, and it reads the blocks, not the message, so it shows
// exactly what SlackBlocks and SlackReply make. A block type this package
// never makes is named in brackets rather than left out.
func SlackText(blocks []slack.Block) string {
	var b strings.Builder
	prevDivider := true // no blank line before the first block
	for _, bl := range blocks {
		var s string
		divider := false
		switch x := bl.(type) {
		case *slack.HeaderBlock:
			s = slackObjectText(x.Text)
		case *slack.SectionBlock:
			s = slackSection(x)
		case *slack.ContextBlock:
			s = slackContext(x)
		case *slack.DividerBlock:
			divider = true
			s = strings.Repeat("─", slackTextRule)
		case *slack.MarkdownBlock:
			s = slackMrkdwn(x.Text)
		case *slack.ActionBlock:
			s = slackActions(x)
		default:
			s = "[" + string(bl.BlockType()) + " block]"
		}
		if !divider && !prevDivider {
			b.WriteString("\n")
		}
		b.WriteString(strings.TrimRight(s, "\n") + "\n")
		prevDivider = divider
	}
	return b.String()
}

// slackTextRule is how wide a divider is drawn.
const slackTextRule = 40

func slackObjectText(t *slack.TextBlockObject) string {
	if t == nil {
		return ""
	}
	if t.Type == slack.MarkdownType {
		return slackMrkdwn(t.Text)
	}
	// plain_text is shown as written, emoji shortcodes drawn when asked.
	if t.Emoji != nil && *t.Emoji {
		return slackEmoji(t.Text)
	}
	return t.Text
}

// slackSection is a section's text, then its fields in two columns, as
// Slack lays them out.
func slackSection(s *slack.SectionBlock) string {
	var parts []string
	if s.Text != nil {
		parts = append(parts, slackObjectText(s.Text))
	}
	if len(s.Fields) > 0 {
		parts = append(parts, slackFields(s.Fields))
	}
	if s.Accessory != nil {
		parts = append(parts, "[accessory]")
	}
	return strings.Join(parts, "\n")
}

// slackFields lays out fields two to a row, the left column as wide as its
// widest line.
func slackFields(fields []*slack.TextBlockObject) string {
	cells := make([][]string, len(fields))
	width := 0
	for i, f := range fields {
		cells[i] = strings.Split(slackObjectText(f), "\n")
		if i%2 == 0 {
			for _, l := range cells[i] {
				width = max(width, utf8.RuneCountInString(l))
			}
		}
	}
	var b strings.Builder
	for i := 0; i < len(cells); i += 2 {
		left := cells[i]
		var right []string
		if i+1 < len(cells) {
			right = cells[i+1]
		}
		for j := range max(len(left), len(right)) {
			l, r := "", ""
			if j < len(left) {
				l = left[j]
			}
			if j < len(right) {
				r = right[j]
			}
			line := l
			if r != "" {
				line += strings.Repeat(" ", width-utf8.RuneCountInString(l)+3) + r
			}
			b.WriteString(line + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// slackContext is a context block's elements on one line, as Slack shows
// them side by side.
func slackContext(c *slack.ContextBlock) string {
	var parts []string
	for _, e := range c.ContextElements.Elements {
		switch x := e.(type) {
		case *slack.TextBlockObject:
			parts = append(parts, slackObjectText(x))
		case *slack.ImageBlockElement:
			parts = append(parts, "["+x.AltText+"]")
		default:
			parts = append(parts, "["+string(e.MixedElementType())+"]")
		}
	}
	return strings.Join(parts, "  ")
}

// slackMrkdwn reads Slack's mrkdwn as Slack shows it: code blocks
// (```…```) kept verbatim and indented, the rest formatted line by line.
func slackMrkdwn(s string) string {
	var b strings.Builder
	for i, chunk := range strings.Split(s, "```") {
		if i%2 == 0 {
			b.WriteString(slackInline(chunk))
			continue
		}
		// A code block stands on its own lines, whatever touches its fences.
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
		for _, l := range strings.Split(strings.Trim(chunk, "\n"), "\n") {
			b.WriteString("  │ " + slackEntities(l) + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// slackInline formats text outside code blocks, line by line: inline
// `code` and the *bold*, _italic_ and ~strike~ markers are dropped as Slack
// draws them (formatting may span code: *see `x`*), links and mentions
// shown by their label, emoji drawn, entities decoded; inside `code` only
// the entities are.
func slackInline(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		rs := []rune(l)
		code := make([]bool, len(rs)) // in an inline code span, its backticks included
		drop := make([]bool, len(rs)) // a marker Slack does not show
		open := -1
		for j, r := range rs {
			if r != '`' {
				continue
			}
			if open < 0 {
				open = j
				continue
			}
			for k := open; k <= j; k++ {
				code[k] = true
			}
			drop[open], drop[j] = true, true
			open = -1
		}
		for _, marker := range "*_~" {
			slackEmphasis(rs, code, drop, marker)
		}
		var b, run strings.Builder
		inCode := false
		flush := func() {
			if inCode {
				b.WriteString(slackEntities(run.String()))
			} else {
				b.WriteString(slackEntities(slackEmoji(slackLinks(run.String()))))
			}
			run.Reset()
		}
		for j, r := range rs {
			if code[j] != inCode {
				flush()
				inCode = code[j]
			}
			if !drop[j] {
				run.WriteRune(r)
			}
		}
		flush()
		lines[i] = b.String()
	}
	return strings.Join(lines, "\n")
}

// slackEmphasis marks in drop the pairs of marker that Slack reads as
// formatting: an opening marker at the start of a word and not before a
// space, its closing one at the end of a word and not after a space,
// neither inside code. Other markers (2*3, snake_case, a lone *) are text.
func slackEmphasis(rs []rune, code, drop []bool, marker rune) {
	word := func(i int) bool { // rs[i] is part of a word
		return i >= 0 && i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i]))
	}
	for i := 0; i < len(rs); i++ {
		if rs[i] != marker || code[i] || drop[i] || word(i-1) || i+1 >= len(rs) || unicode.IsSpace(rs[i+1]) {
			continue
		}
		for j := i + 2; j < len(rs); j++ {
			if rs[j] == marker && !code[j] && !drop[j] && !unicode.IsSpace(rs[j-1]) && !word(j+1) {
				drop[i], drop[j] = true, true
				i = j
				break
			}
		}
	}
}

// slackLinks shows Slack's control sequences as Slack renders them:
// <url|label> as "label (url)", <url> as the URL, <!here> as @here, a
// user or channel by its label or ID. Text from a message never has a raw
// "<": slackEscape made it "&lt;".
func slackLinks(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		j := strings.IndexByte(s[max(i, 0):], '>')
		if i < 0 || j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		target, label, hasLabel := strings.Cut(s[i+1:i+j], "|")
		switch {
		case strings.HasPrefix(target, "!date^"):
			// A date Slack shows in the reader's own time zone; the
			// fallback is what a client that cannot do that shows.
			b.WriteString(label)
		case strings.HasPrefix(target, "!"):
			b.WriteString("@" + strings.TrimPrefix(target, "!"))
		case strings.HasPrefix(target, "@") || strings.HasPrefix(target, "#"):
			if hasLabel {
				b.WriteString(target[:1] + label)
			} else {
				b.WriteString(target)
			}
		case hasLabel && label != target:
			b.WriteString(label + " (" + target + ")")
		default:
			b.WriteString(target)
		}
		s = s[i+j+1:]
	}
}

// slackEntities decodes the three entities slackEscape writes.
func slackEntities(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// slackEmoji draws the shortcodes this package writes; others stay as
// their :code:.
func slackEmoji(s string) string { return slackEmojis.Replace(s) }

var slackEmojis = strings.NewReplacer(
	":red_circle:", "🔴",
	":large_orange_circle:", "🟠",
	":white_check_mark:", "✅",
	":information_source:", "ℹ️",
	":warning:", "⚠️",
	":arrows_counterclockwise:", "🔄",
	":rotating_light:", "🚨",
	":mag:", "🔍",
)

// slackActions draws an actions block's buttons on one line, a link
// button with its URL: "[Open in vantage → https://…]".
func slackActions(a *slack.ActionBlock) string {
	var out []string
	if a.Elements != nil {
		for _, e := range a.Elements.ElementSet {
			if o, ok := e.(*slack.OverflowBlockElement); ok {
				// A menu: "[⋯ Silence 15m | Silence 4h | …]".
				var opts []string
				for _, op := range o.Options {
					opts = append(opts, slackObjectText(op.Text))
				}
				out = append(out, "[⋯ "+strings.Join(opts, " | ")+"]")
				continue
			}
			b, ok := e.(*slack.ButtonBlockElement)
			if !ok {
				out = append(out, "["+string(e.ElementType())+"]")
				continue
			}
			s := "[" + slackObjectText(b.Text)
			if b.URL != "" {
				s += " → " + b.URL
			}
			out = append(out, s+"]")
		}
	}
	return strings.Join(out, " ")
}
