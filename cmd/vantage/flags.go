package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
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
