package render

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/slack-go/slack"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/notify"
)

// Block Kit limits (api.slack.com/reference/block-kit/blocks), in
// characters. Text is kept a little under them so a count that differs
// from ours by an entity or two still fits.
const (
	SlackMaxBlocks      = 50
	SlackMaxHeader      = 150
	SlackMaxSectionText = 3000
	SlackMaxContextText = 2000 // we keep context elements far shorter
	slackBudget         = SlackMaxSectionText - 50
)

// slackEscape escapes the three characters Slack's mrkdwn treats as
// control characters. Everything that comes from a message passes through
// it, so a "<!channel>" in a response body is shown, not executed.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// clipEscaped bounds escaped text to n runes without cutting an entity
// ("&amp;") in half.
func clipEscaped(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)[:n-1]
	cut := string(rs)
	if i := strings.LastIndexByte(cut, '&'); i >= 0 && !strings.Contains(cut[i:], ";") {
		cut = cut[:i]
	}
	return cut + "…"
}

// fenceSafe stops a body excerpt from closing the code block it is shown in.
func fenceSafe(s string) string { return strings.ReplaceAll(s, "```", "ʼʼʼ") }

func (t tone) emoji() string {
	switch t {
	case toneDown:
		return ":red_circle:"
	case toneWarn:
		return ":large_orange_circle:"
	case toneOK:
		return ":white_check_mark:"
	case toneCaution:
		return ":warning:"
	}
	return ":information_source:"
}

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func section(s string) slack.Block {
	return slack.NewSectionBlock(mrkdwn(clipEscaped(s, SlackMaxSectionText)), nil, nil)
}

func contextText(s string) slack.Block {
	return slack.NewContextBlock("", mrkdwn(clipEscaped(s, SlackMaxContextText)))
}

// SlackBlocks is the incident's main Slack message. For EventResolve it is
// the resolved version that replaces the original with chat.update.
func SlackBlocks(m *notify.Message) []slack.Block {
	d := build(m)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clipRunes(d.Title, SlackMaxHeader), true, false)),
	}
	if len(d.Notes) > 0 {
		var b strings.Builder
		for i, n := range d.Notes {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString(":warning: *" + slackEscape(n) + "*")
		}
		blocks = append(blocks, section(b.String()))
	}
	lines := make([]string, 0, len(d.Facts))
	for _, f := range d.Facts {
		lines = append(lines, "*"+slackEscape(f.Label)+":* "+slackEscape(f.Value))
	}
	blocks = append(blocks, section(fitLines(d.Tone.emoji()+" *"+slackEscape(d.Lead)+"*\n", lines, "")))
	for i, p := range d.Parts {
		if p.Kind == numbered || i == 0 {
			blocks = append(blocks, slack.NewDividerBlock())
		}
		blocks = append(blocks, section(slackPart(p)))
	}
	blocks = append(blocks, contextText(slackEscape(d.Footer)))
	if len(blocks) > SlackMaxBlocks { // cannot happen with today's parts; keep the promise anyway
		blocks = append(blocks[:SlackMaxBlocks-1], blocks[len(blocks)-1])
	}
	return blocks
}

func slackPart(p part) string {
	head := "*" + slackEscape(p.Heading) + "*\n"
	lines := make([]string, len(p.Lines))
	for i, l := range p.Lines {
		switch p.Kind {
		case numbered:
			lines[i] = fmt.Sprintf("%d. %s", i+1, slackEscape(l))
		case preformatted:
			lines[i] = slackEscape(fenceSafe(l))
		default:
			lines[i] = "• " + slackEscape(l)
		}
	}
	if p.Kind == preformatted {
		return fitLines(head+"```", lines, "```")
	}
	return fitLines(head, lines, "")
}

// fitLines joins head, lines and tail within one section's limit, saying
// how many lines it had to leave out. A single over-long line is clipped.
func fitLines(head string, lines []string, tail string) string {
	var b strings.Builder
	b.WriteString(head)
	used := utf8.RuneCountInString(head) + utf8.RuneCountInString(tail)
	for i, l := range lines {
		room := slackBudget - used - 40 // keep room for the "and N more" line
		n := utf8.RuneCountInString(l) + 1
		if n > room {
			if i == 0 && room > 100 {
				l = clipEscaped(l, room-1)
				b.WriteString(l + "\n")
				if left := len(lines) - 1; left > 0 {
					fmt.Fprintf(&b, "… and %d more lines\n", left)
				}
			} else {
				fmt.Fprintf(&b, "… and %d more lines\n", len(lines)-i)
			}
			break
		}
		b.WriteString(l + "\n")
		used += n
	}
	return strings.TrimRight(b.String(), "\n") + tail
}

// SlackReply is a reply in the incident message's thread (update, reminder,
// resolve): a line or two that says what happened since, so the thread
// reads as the incident's log.
func SlackReply(m *notify.Message) []slack.Block {
	m = shown(m)
	n := "*" + slackEscape(name(m)) + "*"
	var text string
	switch {
	case m.Kind == incident.KindVantage:
		text = build(m).Tone.emoji() + " " + slackEscape(build(m).Lead)
	case m.Kind.Warning():
		text = warningReply(m)
	case m.Event == incident.NotifyUpdate:
		text = ":arrows_counterclockwise: *Update* for " + n + ": "
		if c := oneLine(m.Change); c != "" {
			text += slackEscape(trimDot(clipRunes(c, 500))) + ". "
		}
		text += "Now " + slackEscape(Summary(m)) + ", " + slackEscape(Verdict(m)) + "."
	case m.Event == incident.NotifyReminder:
		text = ":rotating_light: " + n + " is still " + slackEscape(Verdict(m)) + " after " + Duration(m.Duration()) +
			": " + slackEscape(Summary(m)) + "."
	case m.Event == incident.NotifyResolve:
		text = ":white_check_mark: " + n + " is " + slackEscape(Verdict(m))
		if t := m.ResolvedAt; !t.IsZero() {
			text += " (resolved at " + stamp(t) + ")"
		}
		text += "."
	default:
		d := build(m)
		text = d.Tone.emoji() + " *" + slackEscape(d.Title) + "*\n" + slackEscape(d.Lead)
	}
	var notes []string
	if m.Test {
		notes = append(notes, "test alert")
	}
	if m.Repeat {
		notes = append(notes, "possible repeat")
	}
	if m.NotPersisted {
		notes = append(notes, "not persisted")
	}
	if m.Flapping && m.Event != incident.NotifyResolve {
		notes = append(notes, "flapping")
	}
	if len(notes) > 0 {
		text += " _(" + strings.Join(notes, ", ") + ")_"
	}
	blocks := []slack.Block{section(text)}
	if !m.At.IsZero() {
		blocks = append(blocks, contextText(stamp(m.At)))
	}
	return blocks
}
