package manpage

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Reference is the config reference as config.example.toml writes it: an
// introduction, then one banner-headed part per table whose keys each carry
// the comment above them.
type Reference struct {
	Intro  []string // paragraphs; an element starting with two spaces is a literal block
	Tables []Table
}

// Table is one table of the config: "" for the top level.
type Table struct {
	Name   string
	Header string // "[web]", "[[monitor]]", "" at the top level
	Doc    []string
	Keys   []Key
}

// Key is one documented key, or keys documented together.
type Key struct {
	Names   []string
	Example string   // the first line that sets it: `timeout = "10s"`
	Doc     []string // paragraphs, as Reference.Intro
}

// ParseReference reads a config reference. known lists the keys of each
// table as the config decodes them (config.Keys); a commented-out
// assignment of a known key ("# ca_file = ...") documents that key. It
// fails when the reference documents a key the config does not decode, or
// leaves one out, so the page made from it cannot drift from the loader.
func ParseReference(src string, known map[string][]string) (*Reference, error) {
	ref := &Reference{}
	var (
		cur      *Table
		pending  []string // comment lines since the last key or blank line
		inBanner bool
	)
	flushIntro := func() {
		ref.Intro = append(ref.Intro, paragraphs(pending)...)
		pending = nil
	}
	table := func(name string) *Table {
		for i := range ref.Tables {
			if ref.Tables[i].Name == name {
				return &ref.Tables[i]
			}
		}
		return nil
	}
	var problems []string
	for n, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "# ---"):
			if cur == nil && !inBanner {
				flushIntro()
			}
			if inBanner {
				// The banner's text names the table and says what it is for.
				name := bannerTable(pending)
				if t := table(name); t == nil {
					ref.Tables = append(ref.Tables, Table{Name: name, Doc: paragraphs(bannerDoc(pending))})
				}
				cur = table(name)
				pending = nil
			}
			inBanner = !inBanner
			continue
		case inBanner:
			pending = append(pending, strings.TrimPrefix(strings.TrimPrefix(line, "#"), " "))
			continue
		case trimmed == "":
			if cur == nil {
				pending = append(pending, "")
			} else {
				pending = nil
			}
			continue
		case strings.HasPrefix(trimmed, "["):
			h := trimmed
			if cur != nil {
				cur.Header = h
			}
			pending = nil
			continue
		}
		comment := strings.HasPrefix(trimmed, "#")
		body := trimmed
		if comment {
			body = strings.TrimPrefix(strings.TrimPrefix(trimmed, "#"), " ")
		}
		key, _, isAssign := strings.Cut(body, " = ")
		key = strings.TrimSpace(key)
		if cur != nil && isAssign && isKeyName(key) && (!comment || slices.Contains(known[cur.Name], key)) {
			if !slices.Contains(known[cur.Name], key) {
				problems = append(problems, fmt.Sprintf("line %d: %s documents %q, which the config does not decode there", n+1, tableTitle(cur.Name), key))
			}
			doc := paragraphs(pending)
			switch i := cur.find(key); {
			case i >= 0:
				if len(cur.Keys[i].Doc) == 0 && len(doc) > 0 {
					cur.Keys[i].Doc = doc
				}
			case len(doc) == 0 && cur.mentioning(key) >= 0:
				// "flap_window ... flap_threshold" documented together.
				k := &cur.Keys[cur.mentioning(key)]
				k.Names = append(k.Names, key)
			default:
				cur.Keys = append(cur.Keys, Key{Names: []string{key}, Example: body, Doc: doc})
			}
			pending = nil
			continue
		}
		if comment || cur == nil {
			pending = append(pending, body)
		}
	}
	for _, name := range sortedTables(known) {
		t := table(name)
		if t == nil {
			problems = append(problems, fmt.Sprintf("%s is not documented", tableTitle(name)))
			continue
		}
		for _, k := range known[name] {
			// A [[monitor]] takes every [defaults] key; the reference
			// documents those once, under [defaults].
			if d := table("defaults"); name == "monitor" && d != nil && d.find(k) >= 0 {
				continue
			}
			if t.find(k) < 0 {
				problems = append(problems, fmt.Sprintf("%s key %q is not documented", tableTitle(name), k))
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("the config reference does not match the keys the config decodes:\n%s", strings.Join(problems, "\n"))
	}
	return ref, nil
}

// mentioning is the key whose documentation names key, -1 for none.
func (t *Table) mentioning(key string) int {
	word := regexp.MustCompile(`\b` + regexp.QuoteMeta(key) + `\b`)
	for i, k := range t.Keys {
		for _, d := range k.Doc {
			if word.MatchString(d) {
				return i
			}
		}
	}
	return -1
}

func (t *Table) find(key string) int {
	for i, k := range t.Keys {
		if slices.Contains(k.Names, key) {
			return i
		}
	}
	return -1
}

func tableTitle(name string) string {
	if name == "" {
		return "the top level"
	}
	return "[" + name + "]"
}

func sortedTables(known map[string][]string) []string {
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// bannerTable is the table a banner introduces: "[web]: who may..." is
// web, "[[monitor]]: one URL" is monitor, anything else the top level.
func bannerTable(lines []string) string {
	first := ""
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			first = strings.TrimSpace(l)
			break
		}
	}
	if !strings.HasPrefix(first, "[") {
		return ""
	}
	end := strings.Index(first, "]")
	return strings.Trim(first[:end], "[]")
}

// bannerDoc is the banner's text without the table's name: "who may reach
// the HTTP surface on listen."
func bannerDoc(lines []string) []string {
	out := slices.Clone(lines)
	for i, l := range out {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if strings.HasPrefix(l, "[") {
			if _, rest, ok := strings.Cut(l, ": "); ok {
				out[i] = strings.ToUpper(rest[:1]) + rest[1:]
			}
		} else {
			out = out[i+1:]
		}
		break
	}
	return out
}

func isKeyName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// paragraphs joins comment lines into paragraphs: a blank line ends one,
// and indented lines (examples, lists) are kept as literal blocks, marked
// by their leading two spaces.
func paragraphs(lines []string) []string {
	var out []string
	var cur []string
	literal := false
	flush := func() {
		if len(cur) > 0 {
			if literal {
				out = append(out, strings.Join(cur, "\n"))
			} else {
				out = append(out, strings.Join(cur, " "))
			}
		}
		cur = nil
	}
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		isLit := strings.HasPrefix(l, "  ")
		if isLit != literal {
			flush()
			literal = isLit
		}
		if !isLit {
			l = strings.TrimSpace(l)
		}
		cur = append(cur, l)
	}
	flush()
	return out
}

// Blocks turns paragraphs of a Reference into page blocks.
func Blocks(paras []string) []Block {
	var out []Block
	for _, p := range paras {
		if strings.HasPrefix(p, "  ") {
			out = append(out, Literal(dedent(p)))
		} else {
			out = append(out, Para(p))
		}
	}
	return out
}

func dedent(s string) string {
	lines := strings.Split(s, "\n")
	min := -1
	for _, l := range lines {
		n := len(l) - len(strings.TrimLeft(l, " "))
		if min < 0 || n < min {
			min = n
		}
	}
	for i, l := range lines {
		lines[i] = l[min:]
	}
	return strings.Join(lines, "\n")
}
