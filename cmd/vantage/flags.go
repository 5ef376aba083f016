package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vantage-monitor/vantage/monitor/probe"
)

// durationValue is a duration flag that says what to write when a bare
// number is given: "5 is not a duration; did you mean 5s?".
type durationValue time.Duration

// durationVar defines a duration flag; every duration flag of the CLI is one.
func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var((*durationValue)(p), name, usage)
}

func (d *durationValue) String() string      { return time.Duration(*d).String() }
func (d *durationValue) Placeholder() string { return "duration" }

func (d *durationValue) Set(v string) error {
	t, err := time.ParseDuration(v)
	if err == nil {
		*d = durationValue(t)
		return nil
	}
	if _, numErr := strconv.ParseFloat(v, 64); numErr == nil {
		return &flagValueError{fmt.Sprintf("%s is not a duration; did you mean %ss?", v, v)}
	}
	return &flagValueError{fmt.Sprintf("%q is not a duration (e.g. 500ms, 10s, 1m30s)", v)}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// byteSize is a flag that takes a number of bytes with an optional unit:
// 1048576, 512KiB, 1MiB, 1MB.
type byteSize int64

// String says the size as it is best written back: 1MiB, 512KiB, 1000.
func (b *byteSize) String() string {
	n := int64(*b)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *byteSize) Placeholder() string { return "size" }

func (b *byteSize) Set(v string) error {
	n, err := parseByteSize(v)
	if err != nil {
		return &flagValueError{err.Error()}
	}
	*b = byteSize(n)
	return nil
}

func parseByteSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive byte count (e.g. 1048576, 512KiB, 1MiB)", v)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", v)
	}
	return n * mult, nil
}

// parseInterleaved parses flags that may come before or after positional
// arguments ("vantage check URL --json"), which the flag package alone
// does not allow. "--" ends flag parsing.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		// fs.Parse stops at "--" after consuming it; everything after is positional.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parseExpectJSON reads an --expect-json value: PATH=VALUE for equals or
// PATH~REGEXP for matches. The path ends at the first '=' or '~' outside
// its brackets and quotes (filters such as [?@.a=='x'] have theirs inside),
// and not part of '==', '!=', '<=' or '>=': a dot-notation name cannot hold
// either, so the value may. VALUE is a JSON string, number or bool when it
// reads as one (2, true, "2"), otherwise the text as it is (ok).
func parseExpectJSON(v string) (probe.JSONAssertion, error) {
	i := splitJSONPath(v)
	if i < 0 {
		return probe.JSONAssertion{}, fmt.Errorf("%q is not PATH=VALUE or PATH~REGEXP (e.g. '$.status=ok', '$.version~^2\\.')", v)
	}
	path, value := strings.TrimSpace(v[:i]), strings.TrimSpace(v[i+1:])
	if path == "" {
		return probe.JSONAssertion{}, fmt.Errorf("%q has no path before %q", v, v[i])
	}
	if v[i] == '~' {
		if value == "" {
			return probe.JSONAssertion{}, fmt.Errorf("%q has no regexp after '~'", v)
		}
		return probe.JSONAssertion{Path: path, Matches: value}, nil
	}
	eq, err := jsonScalar(value)
	if err != nil {
		return probe.JSONAssertion{}, fmt.Errorf("%q: %w", v, err)
	}
	return probe.JSONAssertion{Path: path, Equals: eq}, nil
}

// splitJSONPath is the index of the '=' or '~' that ends the path, -1
// when there is none.
func splitJSONPath(v string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		if quote != 0 {
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '[', '(':
			depth++
		case ']', ')':
			depth--
		case '~':
			if depth == 0 {
				return i
			}
		case '=':
			if depth != 0 {
				continue
			}
			if i > 0 && strings.IndexByte("=!<>", v[i-1]) >= 0 || i+1 < len(v) && v[i+1] == '=' {
				continue
			}
			return i
		}
	}
	return -1
}

// jsonScalar reads an equals value: a JSON string, number or bool as JSON
// (numbers kept as written, so 2 equals 2.0 by value), anything else that
// is not JSON as a string.
func jsonScalar(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() || dec.InputOffset() != int64(len(s)) {
		return s, nil
	}
	switch v.(type) {
	case string, bool, json.Number:
		return v, nil
	case nil:
		return nil, errors.New("null is not a value to compare with; use a string (\"null\" in quotes) or check the key with a matches regexp")
	}
	return nil, errors.New("an array or object is not a value to compare with; assert on its members ($.list[*].name=x)")
}

// parseExpectHeader reads an --expect-header value, 'Name: text' or
// 'Name: ~regexp'.
func parseExpectHeader(v string) (name, want string, err error) {
	name, want, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", "", fmt.Errorf("%q is not 'Name: text' or 'Name: ~regexp'", v)
	}
	return name, strings.TrimSpace(want), nil
}
