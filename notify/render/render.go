package render

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"unicode/utf8"

	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/notify"
)

// Title is the one-line summary: the verdict at a glance, e.g.
// "[DOWN everyone] shop: 502 from nginx, upstream refused". It is a
// single line with no control characters, safe as an email subject.
func Title(m *notify.Message) string {
	m = shown(m)
	var b strings.Builder
	if m.Test {
		b.WriteString("[TEST] ")
	}
	if m.Escalated {
		// Whoever gets it knows at once they are not the first told.
		b.WriteString("[ESCALATED] ")
	}
	n := name(m)
	switch {
	case len(m.Group) > 0:
		switch r := groupResolved(m); {
		case r == len(m.Group):
			fmt.Fprintf(&b, "[RESOLVED GROUP %d monitors] %s", len(m.Group), groupCause(m))
		case r > 0:
			fmt.Fprintf(&b, "[GROUP %d monitors, %d of %d resolved] %s", len(m.Group), r, len(m.Group), groupCause(m))
		default:
			fmt.Fprintf(&b, "[GROUP %d monitors] %s", len(m.Group), groupCause(m))
		}
	case m.Kind == incident.KindVantage:
		b.WriteString(vantageTitle(m))
	case m.Kind.Warning():
		b.WriteString(warningTitle(m))
	case m.Late && m.Event == incident.NotifyResolve:
		b.WriteString("[LATE] " + lateSentence(m))
	case m.Event == incident.NotifyResolve:
		b.WriteString("[RESOLVED")
		if r := m.Resolution; r != "" && r != "recovered" {
			b.WriteString(": " + clipRunes(oneLine(r), 40))
		}
		fmt.Fprintf(&b, "] %s after %s", n, Duration(m.Duration()))
		if m.Class != "" {
			b.WriteString(": was " + Summary(m))
		}
	case m.Event == incident.NotifyUpdate:
		fmt.Fprintf(&b, "[UPDATE: %s] %s: now %s", downTag(m), n, Summary(m))
	case m.Event == incident.NotifyReminder:
		fmt.Fprintf(&b, "[STILL %s] %s for %s: %s", downTag(m), n, Duration(m.Duration()), Summary(m))
	case m.Event == incident.NotifyNotice:
		fmt.Fprintf(&b, "[NOTICE] %s", n)
		if c := oneLine(m.Change); c != "" {
			b.WriteString(": " + clipRunes(c, 120))
		}
	default:
		fmt.Fprintf(&b, "[%s] %s: %s", downTag(m), n, Summary(m))
	}
	if m.Flapping && m.Event != incident.NotifyResolve {
		b.WriteString(" (flapping)")
	}
	if m.Repeat {
		b.WriteString(" (possible repeat)")
	}
	if m.NotPersisted {
		b.WriteString(" (not persisted)")
	}
	return clipRunes(oneLine(b.String()), maxTitle)
}

func downTag(m *notify.Message) string {
	if t := scopeTag(m); t != "" {
		return "DOWN " + t
	}
	return "DOWN"
}

func vantageTitle(m *notify.Message) string {
	n := name(m)
	d := Duration(m.Duration())
	if m.Monitor == incident.IsolationIncident {
		switch m.Event {
		case incident.NotifyResolve:
			return "[RESOLVED] our network is back after " + d
		case incident.NotifyReminder:
			return "[OUR NETWORK] this host still has no network, for " + d
		}
		return "[OUR NETWORK] this host has lost its network"
	}
	if m.Event == incident.NotifyResolve {
		return "[RESOLVED] vantage " + n + " works again after " + d
	}
	state, why, _ := vantageState(m)
	if state == "" {
		state = "down"
	}
	tag := "[VANTAGE " + n + " " + state + "]"
	if m.Event == incident.NotifyReminder {
		tag = "[VANTAGE " + n + " still " + state + " for " + d + "]"
	}
	// The reason lists every failing canary; the first says enough for
	// a title.
	first, rest, more := strings.Cut(why, "; ")
	if first = oneLine(first); first == "" {
		return tag
	}
	title := tag + " " + clipRunes(first, 120)
	if more {
		title += fmt.Sprintf(" (and %d more)", strings.Count(rest, "; ")+1)
	}
	return title
}

// Text is the plain-text body (email text part, demo output).
func Text(m *notify.Message) string {
	d := build(m)
	var b strings.Builder
	b.WriteString(d.Title + "\n")
	b.WriteString(strings.Repeat("=", min(utf8.RuneCountInString(d.Title), 72)) + "\n\n")
	for _, n := range d.Notes {
		b.WriteString("!! " + n + "\n")
	}
	if len(d.Notes) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(d.Lead + "\n\n")
	width := 0
	for _, f := range d.Facts {
		width = max(width, utf8.RuneCountInString(f.Label))
	}
	for _, f := range d.Facts {
		pad := strings.Repeat(" ", width-utf8.RuneCountInString(f.Label))
		b.WriteString(f.Label + ": " + pad + f.Value + "\n")
	}
	if d.PageURL != "" {
		b.WriteString("\nOpen in vantage: " + d.PageURL + "\n")
	}
	for _, p := range d.Parts {
		b.WriteString("\n" + p.Heading + "\n")
		for i, l := range p.Lines {
			switch p.Kind {
			case numbered:
				fmt.Fprintf(&b, "  %d. %s\n", i+1, l)
			case preformatted:
				b.WriteString("  | " + l + "\n")
			default:
				b.WriteString("  - " + l + "\n")
			}
		}
	}
	b.WriteString("\n-- \n" + d.Footer + "\n")
	return b.String()
}

// The HTML body is one template; html/template escapes every value, so a
// monitor name or a body excerpt cannot inject markup. Styles are inline
// because mail clients drop <style> blocks.
var htmlBody = template.Must(template.New("body").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="margin:0;padding:16px;background:#f4f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.45;color:#1d1d1f">
<div style="max-width:720px;margin:0 auto;background:#ffffff;border:1px solid #dcdfe4;border-top:6px solid {{.Color}};border-radius:4px;padding:16px 20px">
<h1 style="margin:0 0 12px;font-size:18px;line-height:1.3;color:{{.Color}}">{{.Title}}</h1>
{{range .Notes}}<p style="margin:0 0 12px;padding:8px 10px;background:#fff4ce;border:1px solid #e0c060;border-radius:3px"><strong>{{.}}</strong></p>
{{end}}<p style="margin:0 0 14px;font-size:16px"><strong>{{.Lead}}</strong></p>
{{if .Facts}}<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;width:100%;margin:0 0 8px">
{{range .Facts}}<tr><td style="padding:3px 12px 3px 0;vertical-align:top;color:#5e6c84;white-space:nowrap">{{.Label}}</td><td style="padding:3px 0;vertical-align:top;word-break:break-word">{{if .Link}}<a href="{{.Value}}" style="color:#0b5cad">{{.Value}}</a>{{else}}{{.Value}}{{end}}</td></tr>
{{end}}</table>
{{end}}{{if .PageURL}}<p style="margin:8px 0 8px"><a href="{{.PageURL}}" style="color:#0b5cad;font-weight:bold">Open in vantage</a></p>
{{end}}{{range .Parts}}<h2 style="margin:16px 0 6px;font-size:15px;color:#172b4d">{{.Heading}}</h2>
{{if eq .Kind 2}}<pre style="margin:0;padding:8px 10px;background:#f4f5f7;border:1px solid #dcdfe4;border-radius:3px;font-family:Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;word-break:break-all">{{range $i, $l := .Lines}}{{if $i}}
{{end}}{{$l}}{{end}}</pre>
{{else if eq .Kind 1}}<ol style="margin:0;padding-left:22px">
{{range .Lines}}<li style="margin:0 0 4px">{{.}}</li>
{{end}}</ol>
{{else}}<ul style="margin:0;padding-left:22px">
{{range .Lines}}<li style="margin:0 0 2px">{{.}}</li>
{{end}}</ul>
{{end}}{{end}}<p style="margin:18px 0 0;font-size:12px;color:#7a869a">{{.Footer}}</p>
</div>
</body></html>
`))

// htmlView is the doc with its colour, for the template.
type htmlView struct {
	*doc
	Color string
}

func (t tone) color() string {
	switch t {
	case toneDown:
		return "#c9372c"
	case toneWarn, toneCaution:
		return "#b65c02"
	case toneOK:
		return "#1f845a"
	}
	return "#44546f"
}

// HTML is the HTML body (email HTML part).
func HTML(m *notify.Message) string {
	d := build(m)
	var b bytes.Buffer
	if err := htmlBody.Execute(&b, htmlView{doc: d, Color: d.Tone.color()}); err != nil {
		// The template is fixed and its data plain strings: an error here
		// is a bug in this package, not bad input. Fall back to the text,
		// escaped, rather than send nothing.
		return "<pre>" + template.HTMLEscapeString(Text(m)) + "</pre>"
	}
	return b.String()
}
