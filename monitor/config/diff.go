package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Changes says what a reload changes. Monitors keep their identity by name:
// an unchanged monitor keeps its state, a changed one is restarted with its
// new settings (its incident history stays with the name).
type Changes struct {
	Added, Removed, Changed []string // monitor names, sorted
	// VantagesChanged lists vantages added, removed or changed.
	VantagesChanged []string
	// NeedRestart lists top-level keys that changed but take effect only
	// when the daemon restarts (the listener, the store).
	NeedRestart []string
}

// Empty reports whether nothing a reload acts on changed.
func (c Changes) Empty() bool {
	return len(c.Added)+len(c.Removed)+len(c.Changed)+len(c.VantagesChanged)+len(c.NeedRestart) == 0
}

// String is one log-friendly line.
func (c Changes) String() string {
	if c.Empty() {
		return "no monitor changes"
	}
	var parts []string
	add := func(label string, names []string) {
		if len(names) > 0 {
			parts = append(parts, fmt.Sprintf("%s: %s", label, strings.Join(names, ", ")))
		}
	}
	add("added", c.Added)
	add("removed", c.Removed)
	add("changed", c.Changed)
	add("vantages changed", c.VantagesChanged)
	add("needs restart", c.NeedRestart)
	return strings.Join(parts, "; ")
}

// Diff compares two loaded configs by the monitors' effective settings (after
// defaults), so a change to [defaults] shows up on every monitor it affects.
func Diff(old, new *Config) Changes {
	var c Changes
	for _, m := range new.Monitors {
		o := old.Monitor(m.Name)
		switch {
		case o == nil:
			c.Added = append(c.Added, m.Name)
		case !sameMonitor(o, &m):
			c.Changed = append(c.Changed, m.Name)
		}
	}
	for _, m := range old.Monitors {
		if new.Monitor(m.Name) == nil {
			c.Removed = append(c.Removed, m.Name)
		}
	}
	for _, v := range new.Vantages {
		if o := old.Vantage(v.Name); o == nil || !sameVantage(o, &v) {
			c.VantagesChanged = append(c.VantagesChanged, v.Name)
		}
	}
	for _, v := range old.Vantages {
		if new.Vantage(v.Name) == nil {
			c.VantagesChanged = append(c.VantagesChanged, v.Name)
		}
	}
	if old.Listen != new.Listen {
		c.NeedRestart = append(c.NeedRestart, "listen")
	}
	if old.StateDir != new.StateDir {
		c.NeedRestart = append(c.NeedRestart, "state_dir")
	}
	// The file's content is re-read on every request; which file, only at start.
	if old.Web.ConfigFile != new.Web.ConfigFile {
		c.NeedRestart = append(c.NeedRestart, "web.config_file")
	}
	// The public listener is bound once, at start, like listen; what it
	// shows (title, monitors, tags, hostnames) follows the config in force.
	if old.StatusPage.Listen != new.StatusPage.Listen {
		c.NeedRestart = append(c.NeedRestart, "status_page.listen")
	}
	slices.Sort(c.Added)
	slices.Sort(c.Removed)
	slices.Sort(c.Changed)
	slices.Sort(c.VantagesChanged)
	return c
}

// sameJSON compares by the JSON encoding: it covers every exported setting,
// prints schedules by their spec, and ignores where in the file they sit.
func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// sameMonitor compares every setting a reload acts on: the JSON encoding
// (which holds the assertions, cert_warn_days, degraded and
// degraded_rounds) and the content of ca_file, so a CA file rewritten
// under the same name is a change too.
func sameMonitor(a, b *Monitor) bool {
	return sameJSON(a, b) && a.CAPEM == b.CAPEM
}

func sameVantage(a, b *Vantage) bool {
	// The pools compare by their certificates, so a ca_file whose content
	// changed under the same name is a change too.
	return sameJSON(a, b) && a.Key.Reveal() == b.Key.Reveal() && a.CAPool.Equal(b.CAPool)
}
