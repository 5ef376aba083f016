package main

import (
	"io"

	"github.com/mattn/go-isatty"

	"github.com/vantage-monitor/vantage/monitor/result"
)

// palette colours the words of a diagnosis that carry its verdict. The
// zero palette colours nothing.
type palette struct{ on bool }

// paletteFor decides, once per command, whether what goes to w is
// coloured: only when w is a terminal, NO_COLOR is unset or empty
// (no-color.org) and TERM is not "dumb". Output that goes to a file, a
// pipe, a ticket or a test is plain text.
func paletteFor(w io.Writer, getenv func(string) string) palette {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return palette{}
	}
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return palette{}
	}
	return palette{on: isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())}
}

// SGR parameters (ECMA-48) of the colours used.
const (
	sgrBoldRed   = "1;31"
	sgrBoldGreen = "1;32"
	sgrYellow    = "33"
	sgrCyan      = "36"
)

func (p palette) paint(sgr, s string) string {
	if !p.on || s == "" {
		return s
	}
	return "\x1b[" + sgr + "m" + s + "\x1b[0m"
}

// verdict colours DOWN red and UP green.
func (p palette) verdict(ok bool, s string) string {
	if ok {
		return p.paint(sgrBoldGreen, s)
	}
	return p.paint(sgrBoldRed, s)
}

// scope colours the scope's words as bad as it is: down for everyone red,
// from some regions or only our side (or not known) yellow, up green.
func (p palette) scope(s result.Scope, words string) string {
	switch s {
	case result.ScopeEveryone:
		return p.paint(sgrBoldRed, words)
	case result.ScopeNone:
		return p.paint(sgrBoldGreen, words)
	}
	return p.paint(sgrYellow, words)
}

// gateway colours the hop that produced the error.
func (p palette) gateway(s string) string { return p.paint(sgrCyan, s) }
