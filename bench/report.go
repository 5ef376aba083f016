package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// writeTable prints rows as a Markdown table, then their notes.
func writeTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| N | every | nominal/s | achieved/s | all done? | daemon µs/check | bare µs/req | ratio | RSS empty | RSS N | KiB/monitor | lateness p50 | p99 | max | skipped |")
	fmt.Fprintln(w, "|--:|--:|--:|--:|:-:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		n := strconv.Itoa(r.N)
		if r.Label != "" {
			n += " (" + r.Label + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %.1f | %.1f | %s | %.0f | %s | %s | %s | %s | %.2f | %s | %s | %s | %.0f |\n",
			n, r.Every, r.NominalPerSec, r.AchievedPerSec, done(r), r.DaemonCPUUs,
			orDash(r.BareUsPerReq, "%.0f"), orDash(r.Ratio, "%.2f×"),
			mib(r.RSSEmptyKiB), mib(r.RSSKiB), r.KiBPerMonitor,
			ms(r.LatenessP50Ms), ms(r.LatenessP99Ms), ms(r.LatenessMaxMs)+maxMark(r), r.Skipped)
	}
	var notes []string
	for _, r := range rows {
		for _, n := range r.Notes {
			notes = append(notes, fmt.Sprintf("N=%d @every %s: %s", r.N, r.Every, n))
		}
	}
	if len(rows) > 0 {
		notes = append(notes, fmt.Sprintf("RSS empty: daemon with %d monitors.", rows[0].RSSEmptyMonitors))
		notes = append(notes, "max lateness: the window's maximum from the daemon's running-max gauge when it rose during the window; "+
			"marked (≤) when it is only an upper bound (the gauge's value or the highest non-empty histogram bucket in the window, whichever is lower).")
	}
	for _, n := range notes {
		fmt.Fprintln(w, "- "+n)
	}
}

// done says whether every nominal check was done, and if not, why not.
func done(r row) string {
	if r.AllDone {
		return "yes"
	}
	var why []string
	if r.Shortfall > r.ShortfallAllowed {
		why = append(why, fmt.Sprintf("%d of %d checks not done", r.Shortfall, r.NominalChecks))
	}
	if r.MissedChecks > 0 {
		why = append(why, fmt.Sprintf("%d monitors short", r.MonitorsShort))
	}
	if r.Skipped > 0 {
		why = append(why, fmt.Sprintf("%.0f skipped", r.Skipped))
	}
	if len(r.Failed) > 0 {
		classes := make([]string, 0, len(r.Failed))
		for c := range r.Failed {
			classes = append(classes, c)
		}
		sort.Strings(classes)
		for _, c := range classes {
			why = append(why, fmt.Sprintf("%.0f %s", r.Failed[c], c))
		}
	}
	if r.Checks == 0 {
		why = append(why, "no checks")
	}
	return "NO (" + strings.Join(why, ", ") + ")"
}

func maxMark(r row) string {
	if r.LatenessMaxSource != "gauge" {
		return " (≤)"
	}
	return ""
}

func orDash(v float64, format string) string {
	if v == 0 || math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

func ms(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case math.IsInf(v, +1):
		return "+Inf"
	case v < 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

// writeJSON prints rows as JSON; NaN and Inf, which JSON cannot carry,
// become -1.
func writeJSON(w io.Writer, rows []row, extra any) error {
	clean := make([]row, len(rows))
	for i, r := range rows {
		for _, f := range []*float64{&r.LatenessP50Ms, &r.LatenessP99Ms, &r.LatenessMaxMs, &r.BareUsPerReq, &r.Ratio, &r.DaemonCPUUs, &r.KiBPerMonitor} {
			if math.IsNaN(*f) || math.IsInf(*f, 0) {
				*f = -1
			}
		}
		clean[i] = r
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if extra != nil {
		// -history: the runs and the history figures in one document.
		return enc.Encode(struct {
			Runs    []row `json:"runs"`
			History any   `json:"history"`
		}{clean, extra})
	}
	return enc.Encode(clean)
}
