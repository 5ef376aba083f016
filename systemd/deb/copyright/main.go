// Command copyright writes the .deb's /usr/share/doc/vantage/copyright in
// Debian's machine-readable format (DEP-5): vantage's own paragraph, then
// one paragraph per Go module linked into the binary, with the module's
// copyright lines and license as the module cache holds them. It reads the
// module list from the binary itself (its build info), so the file names
// exactly what was linked, never a list that drifts from go.mod.
//
//	go run ./systemd/deb/copyright -bin dist/vantage -o copyright
//
// It downloads nothing: a module missing from the module cache is an error,
// since the build that made the binary had it.
package main

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

const header = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: vantage
Upstream-Contact: vantage developers <vantage@example.com>
Source: https://github.com/vantage-monitor/vantage

Files: *
Copyright: 2026 The vantage developers
License: vantage
Comment: The source of vantage itself.

`

// vantageLicense is the project's own license paragraph. The project has
// not published a license yet; saying so is more honest than naming one.
const vantageLicense = `License: vantage
 Copyright 2026 The vantage developers. All rights reserved. No license to
 copy, modify or redistribute vantage's own code has been granted yet; the
 Go modules linked into the binary keep their own licenses, given below.
`

func main() {
	bin := flag.String("bin", "", "the vantage binary whose modules to list")
	out := flag.String("o", "", "write here (default: stdout)")
	flag.Parse()
	if *bin == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: copyright -bin BINARY [-o FILE]")
		os.Exit(2)
	}
	text, err := generate(*bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "copyright:", err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(text)
	} else {
		err = os.WriteFile(*out, text, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "copyright:", err)
		os.Exit(1)
	}
}

func generate(bin string) ([]byte, error) {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("reading the build info of %s: %w", bin, err)
	}
	cache, err := modCache()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(header)
	deps := info.Deps
	sort.Slice(deps, func(i, j int) bool { return deps[i].Path < deps[j].Path })
	for _, d := range deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		dir := filepath.Join(cache, escape(m.Path)+"@"+m.Version)
		lic, text, err := license(dir)
		if err != nil {
			return nil, fmt.Errorf("module %s %s: %w", m.Path, m.Version, err)
		}
		fmt.Fprintf(&b, "Files: %s/*\n", d.Path)
		fmt.Fprintf(&b, "Copyright: %s\n", strings.Join(holders(text, d.Path), "\n "))
		fmt.Fprintf(&b, "License: %s\n", lic)
		if common[lic] {
			fmt.Fprintf(&b, " On Debian systems, the full text of the %s license can be found in\n /usr/share/common-licenses/%s.\n", lic, lic)
		} else {
			b.WriteString(indent(text))
		}
		comment := fmt.Sprintf("Go module %s %s, linked into /usr/bin/vantage.", d.Path, d.Version)
		if _, err := os.Stat(filepath.Join(dir, "LICENSE-3RD-PARTY.md")); err == nil {
			comment += "\n The module also contains code under the licenses listed in its\n LICENSE-3RD-PARTY.md."
		}
		fmt.Fprintf(&b, "Comment: %s\n\n", comment)
	}
	// The Go runtime and standard library are linked in too.
	goroot, err := goEnv("GOROOT")
	if err != nil {
		return nil, err
	}
	std, err := os.ReadFile(filepath.Join(goroot, "LICENSE"))
	if err != nil {
		return nil, fmt.Errorf("reading the Go distribution's license: %w", err)
	}
	stdText := strings.TrimSpace(string(std))
	fmt.Fprintf(&b, "Files: go/*\nCopyright: %s\nLicense: %s\n%sComment: The Go runtime and standard library (%s), linked into /usr/bin/vantage.\n\n",
		strings.Join(holders(stdText, "Go"), "\n "), identify(stdText), indent(stdText), info.GoVersion)
	b.WriteString(vantageLicense)
	return b.Bytes(), nil
}

func modCache() (string, error) { return goEnv("GOMODCACHE") }

// goEnv asks the go command, which knows the defaults that the environment
// leaves unset.
func goEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("asking go for %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// escape is the module cache's case encoding: "!" before a lower-cased
// upper-case letter (golang.org/x/mod/module.EscapePath).
func escape(path string) string {
	var b strings.Builder
	for _, r := range path {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

var licenseFiles = []string{"LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "COPYING", "LICENSE-MIT"}

// common are the licenses Debian ships in /usr/share/common-licenses, which
// a copyright file refers to rather than repeats.
var common = map[string]bool{"Apache-2.0": true, "MPL-2.0": true}

// license identifies the module's license from its license file.
func license(dir string) (name, text string, err error) {
	for _, f := range licenseFiles {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", "", err
		}
		text = strings.TrimSpace(string(data))
		return identify(text), text, nil
	}
	return "", "", fmt.Errorf("no license file (%s) in %s", strings.Join(licenseFiles, ", "), dir)
}

func identify(t string) string {
	switch {
	case strings.Contains(t, "Apache License") && strings.Contains(t, "Version 2.0"):
		return "Apache-2.0"
	case strings.Contains(t, "Mozilla Public License") && strings.Contains(t, "2.0"):
		return "MPL-2.0"
	case strings.Contains(t, "Permission is hereby granted, free of charge"):
		return "Expat"
	case strings.Contains(t, "Redistribution and use in source and binary forms"):
		if strings.Contains(t, "Neither the name") || strings.Contains(t, "names of its contributors") {
			return "BSD-3-clause"
		}
		return "BSD-2-clause"
	case strings.Contains(t, "Permission to use, copy, modify, and/or distribute"):
		return "ISC"
	}
	return "other"
}

var copyrightLine = regexp.MustCompile(`(?i)^\s*copyright\s+(\(c\)\s*|©\s*)?(.*\d{4}.*)$`)

// holders are the license's own "Copyright ..." lines, without the word.
func holders(text, module string) []string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		m := copyrightLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		h := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m[2]), "."))
		if h != "" && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	if len(out) == 0 {
		out = []string{"the authors of " + module}
	}
	return out
}

// indent makes text a DEP-5 continuation: one space before each line, and
// " ." for a blank one.
func indent(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			b.WriteString(" .\n")
			continue
		}
		b.WriteString(" " + line + "\n")
	}
	return b.String()
}
