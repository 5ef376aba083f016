// Package tomlguard bounds a TOML document before it reaches a TOML parser.
//
// BurntSushi/toml spends memory quadratic in the nesting depth: a 24 KB
// file of nested inline tables ({a = {a = ...}}) costs it 1.5 GB and
// seconds, and dotted keys (a.a.a... = 1) and table headers ([a.a...])
// grow the same way. A watchlist never needs more than a few levels, so the
// file's size and depth are checked first, by one linear pass that
// understands just enough TOML (strings of all four kinds, comments, keys,
// headers, arrays and inline tables) not to count a bracket or a dot inside
// a string or a comment.
package tomlguard

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	// MaxSize is the largest document accepted, in bytes.
	MaxSize = 16 << 20
	// MaxDepth is the deepest nesting accepted: the number of tables and
	// arrays around a value, whether written as [a.b] headers, a.b dotted
	// keys, inline tables or arrays.
	MaxDepth = 32
	// MaxLevels bounds the levels opened in all, each table, dotted key or
	// array counting its depth. The parser's cost per byte grows with the
	// depth even below MaxDepth (4 MB of tables 32 deep take it 1.4 GB,
	// where 16 MB of flat ones take 1.2 GB), so deep nesting is allowed
	// only in small amounts. A watchlist of 100,000 monitors opens about
	// 500,000.
	MaxLevels = 4 << 20
)

// Error is a document over a limit. Line is where the limit was crossed,
// 0 for the size limit.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

var errTooLarge = &Error{Msg: fmt.Sprintf("file is larger than %d MiB; a config this large is refused before parsing", MaxSize>>20)}

// ReadFile reads at most MaxSize+1 bytes of path, so a huge or endless
// file (a device, a FIFO) is never read whole, and checks what it read.
// A document over a limit gives an *Error, which errors.As finds.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readLimited(f)
	if err != nil {
		return nil, err
	}
	if err := Check(data); err != nil {
		return nil, err
	}
	return data, nil
}

// readLimited reads at most MaxSize+1 bytes. Sized from the file, the
// buffer is allocated once (io.ReadAll would grow it step by step to
// several times the limit); a FIFO or a device reports no size, and its
// buffer grows from the minimum.
func readLimited(f *os.File) ([]byte, error) {
	n := bytes.MinRead
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		n = int(min(fi.Size(), MaxSize)) + 1
	}
	data := make([]byte, 0, n)
	r := io.LimitReader(f, MaxSize+1)
	for len(data) <= MaxSize {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		m, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return data, nil
}

// Check returns an *Error when data is larger than MaxSize or nests deeper
// than MaxDepth, nil otherwise. It does not validate the TOML: anything it
// does not understand is left for the parser to report.
func Check(data []byte) error {
	if len(data) > MaxSize {
		return errTooLarge
	}
	// The stack never outgrows the limit: one allocation.
	s := scanner{data: data, line: 1, stack: make([]frame, 0, MaxDepth+1)}
	return s.run()
}

// IsLimit reports whether err is a document over a limit.
func IsLimit(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// frame is an open array or inline table of a value.
type frame struct {
	table bool // '{', else '['
	// keys is the depth the dotted key being read or assigned in an inline
	// table adds (a.b.c = ... adds 2); dropped at the next key.
	keys int
}

type scanner struct {
	data   []byte
	i      int
	line   int
	depth  int
	levels int // the sum of depth at every deeper
	// header is the depth of the last [table] header; keys the depth of
	// the top-level key being read or assigned.
	header, keys int
	stack        []frame
	// inKey is true where a key is expected or being read: at the start of
	// a top-level line, and after '{' or ',' in an inline table, up to '='.
	inKey bool
}

func (s *scanner) deeper(n int) error {
	s.depth += n
	if s.depth > MaxDepth {
		return &Error{Line: s.line, Msg: fmt.Sprintf("nested deeper than %d levels (tables, dotted keys, inline tables and arrays together); refused before parsing", MaxDepth)}
	}
	s.levels += s.depth
	if s.levels > MaxLevels {
		return &Error{Line: s.line, Msg: fmt.Sprintf("nests too much in all: the tables, dotted keys and arrays opened so far add up to more than %d levels; refused before parsing", MaxLevels)}
	}
	return nil
}

// keyDots is where a dot in the current key is counted.
func (s *scanner) keyDots() *int {
	if n := len(s.stack); n > 0 {
		return &s.stack[n-1].keys
	}
	return &s.keys
}

func (s *scanner) run() error {
	s.inKey = true
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '\n':
			s.line++
			s.i++
			if len(s.stack) == 0 {
				// A top-level key/value ends with its line.
				s.depth -= s.keys
				s.keys = 0
				s.inKey = true
			}
		case c == '#':
			for s.i < len(s.data) && s.data[s.i] != '\n' {
				s.i++
			}
		case c == '"' || c == '\'':
			s.str(c)
		case c == '[' && s.inKey && len(s.stack) == 0:
			if err := s.tableHeader(); err != nil {
				return err
			}
		case c == '.' && s.inKey:
			*s.keyDots()++
			if err := s.deeper(1); err != nil {
				return err
			}
			s.i++
		case c == '=' && s.inKey:
			s.inKey = false
			s.i++
		case (c == '[' || c == '{') && !s.inKey:
			s.stack = append(s.stack, frame{table: c == '{'})
			s.inKey = c == '{'
			if err := s.deeper(1); err != nil {
				return err
			}
			s.i++
		case (c == ']' || c == '}') && len(s.stack) > 0:
			top := s.stack[len(s.stack)-1]
			if top.table != (c == '}') {
				s.i++ // mismatched: the parser will say where
				continue
			}
			s.stack = s.stack[:len(s.stack)-1]
			s.depth -= 1 + top.keys
			s.inKey = false // after a value, in whatever holds it
			s.i++
		case c == ',' && len(s.stack) > 0:
			top := &s.stack[len(s.stack)-1]
			if top.table {
				s.depth -= top.keys
				top.keys = 0
				s.inKey = true
			}
			s.i++
		default:
			s.i++
		}
	}
	return nil
}

// tableHeader reads a [a.b] or [[a.b]] header: its depth replaces the
// previous header's.
func (s *scanner) tableHeader() error {
	s.depth -= s.header
	s.header = 0
	s.i++
	if s.i < len(s.data) && s.data[s.i] == '[' {
		s.i++
	}
	if err := s.deeper(1); err != nil {
		return err
	}
	s.header = 1
	for s.i < len(s.data) {
		switch c := s.data[s.i]; c {
		case ']', '\n':
			// The rest of the line is a second ']', a comment or junk the
			// parser reports; the newline itself is handled by run.
			for s.i < len(s.data) && s.data[s.i] != '\n' && s.data[s.i] != '#' {
				s.i++
			}
			return nil
		case '"', '\'':
			s.str(c)
		case '.':
			s.header++
			if err := s.deeper(1); err != nil {
				return err
			}
			s.i++
		default:
			s.i++
		}
	}
	return nil
}

// str skips a basic or literal string, single- or multi-line, counting the
// lines it spans. A single-line string stops at a newline (an error the
// parser reports) so one stray quote does not hide the rest of the file.
func (s *scanner) str(q byte) {
	if s.i+2 < len(s.data) && s.data[s.i+1] == q && s.data[s.i+2] == q {
		s.i += 3
		for s.i < len(s.data) {
			switch c := s.data[s.i]; {
			case c == '\\' && q == '"':
				if s.i+1 < len(s.data) && s.data[s.i+1] == '\n' {
					s.line++
				}
				s.i += 2
			case c == '\n':
				s.line++
				s.i++
			case c == q && s.i+2 < len(s.data) && s.data[s.i+1] == q && s.data[s.i+2] == q:
				s.i += 3
				// Up to two more quotes belong to the content.
				for k := 0; k < 2 && s.i < len(s.data) && s.data[s.i] == q; k++ {
					s.i++
				}
				return
			default:
				s.i++
			}
		}
		return
	}
	s.i++
	for s.i < len(s.data) {
		switch c := s.data[s.i]; {
		case c == '\\' && q == '"':
			if s.i+1 < len(s.data) && s.data[s.i+1] == '\n' {
				return
			}
			s.i += 2
		case c == '\n':
			return
		case c == q:
			s.i++
			return
		default:
			s.i++
		}
	}
}
