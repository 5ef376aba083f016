// Package manpage writes man pages in roff (the man(7) macros) from a
// document model, so that the CLI's pages are made from the definitions
// the CLI parses with instead of being written by hand beside them.
package manpage

import (
	"fmt"
	"regexp"
	"strings"
)

// Page is one man page.
type Page struct {
	Name     string // "vantage-check"
	Section  int    // 1 for commands, 5 for file formats
	Summary  string // the NAME line after "name \-"
	Sections []Section
}

// Section is one .SH section.
type Section struct {
	Title  string
	Blocks []Block
}

// Block is a paragraph-level element of a section.
type Block interface{ roff(*strings.Builder) }

// Para is a paragraph of running text.
type Para string

// Tagged is an indented paragraph under a tag (.TP): a flag, a key, an
// exit status. Tag is written in bold, Arg (a flag's value) in italics.
type Tagged struct {
	Tag, Arg string
	Body     []Block
}

// Literal is text shown as it is, in lines (.nf), indented.
type Literal string

// Synopsis is a command line: Command in bold, the rest as given.
type Synopsis struct{ Command, Args string }

// Roff renders the page.
func (p Page) Roff() string {
	var b strings.Builder
	fmt.Fprintf(&b, ".\\\" Generated from the vantage command's definitions; do not edit.\n")
	fmt.Fprintf(&b, ".TH %s %d \"\" \"vantage\" \"%s\"\n", strings.ToUpper(escape(p.Name)), p.Section, manual(p.Section))
	// Left-adjusted and unhyphenated: flags, keys and paths stay whole.
	b.WriteString(".nh\n.ad l\n")
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", escape(p.Name), escape(p.Summary))
	for _, s := range p.Sections {
		title := s.Title
		if !strings.HasPrefix(title, "[") {
			// A table's header ([[monitor]]) is written as it is typed.
			title = strings.ToUpper(title)
		}
		fmt.Fprintf(&b, ".SH %s\n", escape(title))
		for i, blk := range s.Blocks {
			if _, ok := blk.(Para); ok && i > 0 {
				b.WriteString(".PP\n")
			}
			blk.roff(&b)
		}
	}
	return b.String()
}

func manual(section int) string {
	if section == 5 {
		return "File Formats"
	}
	return "User Commands"
}

func (p Para) roff(b *strings.Builder) { b.WriteString(text(string(p)) + "\n") }

func (t Tagged) roff(b *strings.Builder) {
	b.WriteString(".TP\n")
	// A tag is a name to type as it is (a flag, a key): every hyphen in it
	// is a minus.
	minus := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\e`), "-", `\-`) }
	tag := `\fB` + minus(t.Tag) + `\fR`
	if t.Arg != "" {
		tag += ` \fI` + minus(t.Arg) + `\fR`
	}
	b.WriteString(tag + "\n")
	for i, blk := range t.Body {
		switch blk := blk.(type) {
		case Literal:
			b.WriteString(".IP\n.nf\n")
			for _, line := range strings.Split(strings.TrimRight(string(blk), "\n"), "\n") {
				b.WriteString(text(line) + "\n")
			}
			b.WriteString(".fi\n")
		default:
			if i > 0 {
				b.WriteString(".IP\n")
			}
			blk.roff(b)
		}
	}
}

func (l Literal) roff(b *strings.Builder) {
	b.WriteString(".PP\n.RS 4\n.nf\n")
	for _, line := range strings.Split(strings.TrimRight(string(l), "\n"), "\n") {
		b.WriteString(text(line) + "\n")
	}
	b.WriteString(".fi\n.RE\n")
}

func (s Synopsis) roff(b *strings.Builder) {
	b.WriteString(".PP\n")
	line := `\fB` + escape(s.Command) + `\fR`
	if s.Args != "" {
		line += " " + escape(s.Args)
	}
	b.WriteString(line + "\n")
}

var pageRef = regexp.MustCompile(`\b[a-z][a-z.]*(?:-[a-z.]+)+\([1-8]\)`)

// text escapes s as a line of running text: a leading dot or quote would
// be read as a request.
func text(s string) string {
	// A page reference (vantage-check(1)) is a name to type: its hyphens
	// are minus signs, where no line breaks.
	e := pageRef.ReplaceAllStringFunc(escape(s), func(ref string) string { return strings.ReplaceAll(ref, "-", `\-`) })
	if strings.HasPrefix(e, ".") || strings.HasPrefix(e, "'") {
		e = `\&` + e
	}
	return e
}

// escape makes s safe inside a roff line: backslashes are doubled, and a
// hyphen that starts an option or a negative number (after a space, a
// bracket, a pipe, another hyphen or at the start) becomes \-, the minus
// sign that copies and pastes as one.
func escape(s string) string {
	var b strings.Builder
	prev := ' '
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == '-' && strings.ContainsRune(" [|(-=`'\"", prev):
			b.WriteString(`\-`)
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}
