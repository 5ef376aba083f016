package config

import (
	"strconv"
	"strings"
)

// lineIndex maps a key path to the line where it is first written. Paths
// look like "monitor[2].timeout", "defaults.headers.Accept",
// "canary.urls[1]". BurntSushi's decoder keeps positions to itself, so this
// small scanner re-reads the (already known to be valid) document and
// follows [table] and [[array]] headers, dotted keys, inline tables and
// multi-line arrays and strings.
type lineIndex map[string]int

// lookup returns the line of path, or of its nearest written ancestor
// (a key set through a dotted header, say), or 0.
func (ix lineIndex) lookup(path string) int {
	for path != "" {
		if l, ok := ix[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
	return 0
}

func joinPath(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

func indexPath(p string, i int) string { return p + "[" + strconv.Itoa(i) + "]" }

type lineScanner struct {
	data   []byte
	i      int
	line   int
	ix     lineIndex
	arrays map[string]int // un-indexed array-of-tables path → elements so far
}

func scanLines(data []byte) lineIndex {
	s := &lineScanner{data: data, line: 1, ix: lineIndex{}, arrays: map[string]int{}}
	s.document()
	return s.ix
}

func (s *lineScanner) eof() bool { return s.i >= len(s.data) }

func (s *lineScanner) peek(off int) byte {
	if s.i+off < len(s.data) {
		return s.data[s.i+off]
	}
	return 0
}

func (s *lineScanner) adv(n int) {
	for ; n > 0 && s.i < len(s.data); n-- {
		if s.data[s.i] == '\n' {
			s.line++
		}
		s.i++
	}
}

func (s *lineScanner) record(path string, line int) {
	if _, ok := s.ix[path]; !ok {
		s.ix[path] = line
	}
}

func (s *lineScanner) skipSpace() {
	for c := s.peek(0); c == ' ' || c == '\t'; c = s.peek(0) {
		s.adv(1)
	}
}

// skipBlank skips whitespace, newlines and comments.
func (s *lineScanner) skipBlank() {
	for !s.eof() {
		switch c := s.peek(0); {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			s.adv(1)
		case c == '#':
			s.skipLine()
		default:
			return
		}
	}
}

func (s *lineScanner) skipLine() {
	for !s.eof() && s.peek(0) != '\n' {
		s.adv(1)
	}
}

func (s *lineScanner) document() {
	cur := ""
	for {
		s.skipBlank()
		if s.eof() {
			return
		}
		line := s.line
		if s.peek(0) == '[' {
			array := s.peek(1) == '['
			if array {
				s.adv(2)
			} else {
				s.adv(1)
			}
			parts := s.key()
			cur = s.header(parts, array)
			s.record(cur, line)
			s.skipLine()
			continue
		}
		start := s.i
		parts := s.key()
		s.skipSpace()
		if s.peek(0) == '=' {
			s.adv(1)
		}
		path := s.recordKey(cur, parts, line)
		s.value(path)
		if s.i == start {
			s.adv(1) // not TOML we understand; make progress regardless
		}
		s.skipSpace()
		if s.peek(0) == '#' || s.peek(0) == '\r' {
			s.skipLine()
		}
	}
}

// header turns a [a.b] or [[a.b]] header into an indexed path, inserting
// the current element index of every array of tables on the way.
func (s *lineScanner) header(parts []string, array bool) string {
	p := ""
	for i, part := range parts {
		p = joinPath(p, part)
		last := i == len(parts)-1
		if last && array {
			s.record(p, s.line)
			n := s.arrays[p]
			s.arrays[p] = n + 1
			return indexPath(p, n)
		}
		if n, ok := s.arrays[p]; ok && n > 0 {
			p = indexPath(p, n-1)
		}
	}
	return p
}

func (s *lineScanner) recordKey(base string, parts []string, line int) string {
	p := base
	for _, part := range parts {
		p = joinPath(p, part)
		s.record(p, line)
	}
	return p
}

// key reads a possibly dotted, possibly quoted key.
func (s *lineScanner) key() []string {
	var parts []string
	for {
		s.skipSpace()
		var b strings.Builder
		switch c := s.peek(0); c {
		case '"':
			s.adv(1)
			for !s.eof() && s.peek(0) != '"' && s.peek(0) != '\n' {
				if s.peek(0) == '\\' {
					s.adv(1)
				}
				b.WriteByte(s.peek(0))
				s.adv(1)
			}
			s.adv(1)
		case '\'':
			s.adv(1)
			for !s.eof() && s.peek(0) != '\'' && s.peek(0) != '\n' {
				b.WriteByte(s.peek(0))
				s.adv(1)
			}
			s.adv(1)
		default:
			for c := s.peek(0); c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'; c = s.peek(0) {
				b.WriteByte(c)
				s.adv(1)
			}
			if b.Len() == 0 {
				return parts
			}
		}
		parts = append(parts, b.String())
		s.skipSpace()
		if s.peek(0) != '.' {
			return parts
		}
		s.adv(1)
	}
}

func (s *lineScanner) value(path string) {
	s.skipSpace()
	switch c := s.peek(0); {
	case c == '"' || c == '\'':
		s.str(c)
	case c == '[':
		s.adv(1)
		for n := 0; ; {
			s.skipBlank()
			if s.eof() {
				return
			}
			switch s.peek(0) {
			case ']':
				s.adv(1)
				return
			case ',':
				s.adv(1)
				continue
			}
			start := s.i
			s.record(indexPath(path, n), s.line)
			s.value(indexPath(path, n))
			n++
			if s.i == start {
				s.adv(1)
			}
		}
	case c == '{':
		s.adv(1)
		for {
			s.skipBlank()
			if s.eof() {
				return
			}
			switch s.peek(0) {
			case '}':
				s.adv(1)
				return
			case ',':
				s.adv(1)
				continue
			}
			start, line := s.i, s.line
			parts := s.key()
			s.skipSpace()
			if s.peek(0) == '=' {
				s.adv(1)
			}
			s.value(s.recordKey(path, parts, line))
			if s.i == start {
				s.adv(1)
			}
		}
	default:
		for c := s.peek(0); !s.eof() && !strings.ContainsRune(" \t\r\n,]}#", rune(c)); c = s.peek(0) {
			s.adv(1)
		}
	}
}

// str skips a basic or literal string, single- or multi-line.
func (s *lineScanner) str(q byte) {
	if s.peek(1) == q && s.peek(2) == q {
		s.adv(3)
		for !s.eof() {
			if q == '"' && s.peek(0) == '\\' {
				s.adv(2)
				continue
			}
			if s.peek(0) == q && s.peek(1) == q && s.peek(2) == q {
				s.adv(3)
				// A multi-line string may end with up to two more quotes.
				for k := 0; k < 2 && s.peek(0) == q; k++ {
					s.adv(1)
				}
				return
			}
			s.adv(1)
		}
		return
	}
	s.adv(1)
	for !s.eof() && s.peek(0) != q && s.peek(0) != '\n' {
		if q == '"' && s.peek(0) == '\\' {
			s.adv(1)
		}
		s.adv(1)
	}
	s.adv(1)
}
