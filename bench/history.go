package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/incident"
	"github.com/vantage-monitor/vantage/monitor/result"
	"github.com/vantage-monitor/vantage/monitor/store"
)

// The -history comparison (issue 13's cost figures): the daemon's CPU per
// check with rollups off and on, in one invocation on one seeded store;
// the time to render the status page and a detail page while it runs; and
// the store's size per monitor for the long-term buckets.
//
// The store is seeded through monitor/store the way a daemon that ran for
// a while would have left it: one run since 90 days back with a coverage
// span per monitor, an incident per monitor every 9 days, and -history-hours
// of minute rollups (two checks a minute, as @every 30s makes), compacted
// into hours and days as the daemon's pruner does.

// historyResult is the -history part of the report.
type historyResult struct {
	SeedHours       int     `json:"seed_hours"`
	SeedSeconds     float64 `json:"seed_seconds"`
	SeededStoreMiB  float64 `json:"seeded_store_mib"`
	CPUOffUs        float64 `json:"cpu_us_per_check_history_off"`
	CPUOnUs         float64 `json:"cpu_us_per_check_history_on"`
	CPUOverheadPct  float64 `json:"cpu_overhead_pct"`
	StatusPageMs    float64 `json:"status_page_ms_p50"`
	StatusPageMaxMs float64 `json:"status_page_ms_max"`
	StatusPageKiB   float64 `json:"status_page_kib"`
	DetailPageMs    float64 `json:"detail_page_ms_p50"`
	DetailPageMaxMs float64 `json:"detail_page_ms_max"`
	HistoryAPIMs    float64 `json:"history_api_90d_ms_p50"`
	// LongTermKiBPerMonitor is the store's size per monitor with 400 days
	// of daily and 30 days of hourly buckets (one vantage); WithMinutes
	// adds 48 hours of minutes.
	LongTermKiBPerMonitor    float64 `json:"long_term_kib_per_monitor"`
	WithMinutesKiBPerMonitor float64 `json:"with_minutes_kib_per_monitor"`
}

// sampleAggs are bucket contents to seed with: minute buckets of two
// checks each and, merged from them, realistic spreads of latency.
func sampleAggs(rng *rand.Rand, n int) []history.Agg {
	out := make([]history.Agg, n)
	for i := range out {
		for range 2 {
			base := 1 + rng.ExpFloat64()*3
			r := result.Result{OK: rng.IntN(200) != 0, Phases: result.Phases{
				DNSMs: 0.2 + rng.Float64(), ConnectMs: base * 0.3, TLSMs: base * 0.5, TTFBMs: base, TotalMs: base * 2.2,
			}}
			out[i].Add(&r)
		}
	}
	return out
}

// merged is the merge of k of the samples, picked at random: an hour is
// 60 minutes, a day 24 hours.
func merged(rng *rand.Rand, samples []history.Agg, k int) history.Agg {
	var a history.Agg
	for range k {
		a.Merge(&samples[rng.IntN(len(samples))])
	}
	return a
}

// seedHistory fills the store in stateDir for n monitors, as of now.
func seedHistory(ctx context.Context, stateDir string, n, hours int, now time.Time, log io.Writer) error {
	st, err := store.Open(ctx, filepath.Join(stateDir, store.FileName), store.Options{Now: func() time.Time { return now }, PruneInterval: -1})
	if err != nil {
		return fmt.Errorf("seeding history: %w", err)
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	samples := sampleAggs(rng, 64)
	names := make([]string, n)
	for i := range names {
		names[i] = monitorName(i)
	}
	begin := now.Add(-90 * 24 * time.Hour)
	run, err := st.StartRun(ctx, begin)
	if err != nil {
		return fmt.Errorf("seeding history: %w", err)
	}
	err = st.Update(ctx, func(tx *store.Tx) error {
		if err := tx.StartSpans(ctx, run, names, begin); err != nil {
			return err
		}
		// An incident per monitor every 9 days, 4 to 20 minutes long.
		for i, name := range names {
			for d := 9 * 24 * time.Hour; d < 90*24*time.Hour; d += 9 * 24 * time.Hour {
				first := begin.Add(d + time.Duration(i%997)*time.Minute)
				inc := incident.Incident{
					Monitor: name, Kind: incident.KindTarget, Severity: incident.SeverityCritical,
					OpenedAt: result.TimeOf(first.Add(time.Minute)), FirstFailure: result.TimeOf(first),
					Class: result.ClassBadGateway, Status: 502, Gateway: "nginx", Scope: result.ScopeEveryone, OpenScope: result.ScopeEveryone,
				}
				if err := tx.OpenIncident(ctx, &inc); err != nil {
					return err
				}
				rec := first.Add(time.Duration(4+i%17) * time.Minute)
				if err := tx.ResolveIncident(ctx, inc.ID, rec.Add(30*time.Second), rec, "recovered after 2 good checks", nil); err != nil {
					return err
				}
			}
		}
		return tx.Heartbeat(ctx, run, now)
	})
	if err != nil {
		return fmt.Errorf("seeding history: runs and incidents: %w", err)
	}
	if err := st.SyncMonitors(ctx, names, begin); err != nil {
		return fmt.Errorf("seeding history: %w", err)
	}
	// Minute rollups, a batch of minutes for every monitor per transaction.
	end := history.Minute.Truncate(now)
	start := end.Add(-time.Duration(hours) * time.Hour)
	const batch = 40000
	buf := make([]history.Bucket, 0, batch)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		err := st.Update(ctx, func(tx *store.Tx) error { return tx.WriteRollups(ctx, buf) })
		buf = buf[:0]
		return err
	}
	last := time.Now()
	for m := start; m.Before(end); m = m.Add(time.Minute) {
		for _, name := range names {
			buf = append(buf, history.Bucket{Key: history.Key{Monitor: name, Vantage: result.LocalVantage, Res: history.Minute, Bucket: m}, Agg: samples[rng.IntN(len(samples))]})
			if len(buf) == batch {
				if err := flush(); err != nil {
					return fmt.Errorf("seeding history: minute rollups: %w", err)
				}
			}
		}
		if time.Since(last) > 10*time.Second {
			fmt.Fprintf(log, "bench: seeding minute rollups: %s of %s\n", m.Sub(start).Round(time.Minute), end.Sub(start))
			last = time.Now()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("seeding history: minute rollups: %w", err)
	}
	fmt.Fprintln(log, "bench: compacting the seeded minutes into hours and days")
	if err := st.CompactRollups(ctx, now); err != nil {
		return fmt.Errorf("seeding history: compacting: %w", err)
	}
	return nil
}

// storeSizePerMonitor seeds a store of n monitors with 400 days of daily
// and 30 days of hourly buckets, then adds 48 hours of minutes, and
// returns its size per monitor after each, in KiB.
func storeSizePerMonitor(ctx context.Context, dir string, n int, now time.Time) (longTerm, withMinutes float64, err error) {
	path := filepath.Join(dir, "size", store.FileName)
	rng := rand.New(rand.NewPCG(3, 4))
	samples := sampleAggs(rng, 64)
	// write adds count buckets of res per monitor and closes the store,
	// which checkpoints the WAL into the file, so the file's size is the
	// store's.
	write := func(res history.Resolution, count, per int) (float64, error) {
		st, err := store.Open(ctx, path, store.Options{Now: func() time.Time { return now }, PruneInterval: -1})
		if err != nil {
			return 0, err
		}
		var buf []history.Bucket
		end := res.Truncate(now)
		for i := range n {
			for k := count; k >= 1; k-- { // oldest first, as a daemon writes them
				buf = append(buf, history.Bucket{Key: history.Key{Monitor: monitorName(i), Vantage: result.LocalVantage, Res: res,
					Bucket: end.Add(-time.Duration(k) * res.Step())}, Agg: merged(rng, samples, per)})
			}
			if len(buf) > 20000 || i == n-1 {
				if err := st.Update(ctx, func(tx *store.Tx) error { return tx.WriteRollups(ctx, buf) }); err != nil {
					st.Close()
					return 0, err
				}
				buf = buf[:0]
			}
		}
		if err := st.Close(); err != nil {
			return 0, err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return 0, err
		}
		return float64(fi.Size()) / 1024 / float64(n), nil
	}
	if _, err := write(history.Day, 400, 24*60); err != nil {
		return 0, 0, fmt.Errorf("measuring the store's size: %w", err)
	}
	if longTerm, err = write(history.Hour, 30*24, 60); err != nil {
		return 0, 0, fmt.Errorf("measuring the store's size: %w", err)
	}
	if withMinutes, err = write(history.Minute, 48*60, 1); err != nil {
		return 0, 0, fmt.Errorf("measuring the store's size: %w", err)
	}
	return longTerm, withMinutes, nil
}

// timeGet fetches url k times and returns the median and max in ms, and
// the body's size in KiB.
func timeGet(ctx context.Context, url string, k int) (p50, maxMs, kib float64, err error) {
	client := &http.Client{Timeout: 30 * time.Second}
	var ms []float64
	for range k {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, 0, 0, err
		}
		t := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("timing %s: %w", url, err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, 0, 0, fmt.Errorf("timing %s: %w", url, err)
		}
		if resp.StatusCode != http.StatusOK {
			return 0, 0, 0, fmt.Errorf("timing %s: status %d", url, resp.StatusCode)
		}
		ms = append(ms, float64(time.Since(t).Microseconds())/1000)
		kib = float64(n) / 1024
	}
	slices.Sort(ms)
	return ms[len(ms)/2], ms[len(ms)-1], kib, nil
}

// historyCompare runs the -history comparison: rollups off, then on, each
// pairs times, alternating, on one seeded store.
func (b *bench) historyCompare(ctx context.Context, p plan, hours, pairs int, reuse string) ([]row, historyResult, error) {
	hr := historyResult{SeedHours: hours}
	now := time.Now()
	stateDir := reuse
	if stateDir == "" {
		stateDir = filepath.Join(b.dir, "history-state")
		fmt.Fprintf(b.log, "bench: seeding %d monitors with 90 days of runs and incidents and %d hours of minute rollups\n", p.n, hours)
		t := time.Now()
		if err := seedHistory(ctx, stateDir, p.n, hours, now, b.log); err != nil {
			return nil, hr, err
		}
		hr.SeedSeconds = time.Since(t).Seconds()
	} else {
		hr.SeedHours = 0 // not seeded by this invocation
	}
	if fi, err := os.Stat(filepath.Join(stateDir, store.FileName)); err == nil {
		hr.SeededStoreMiB = float64(fi.Size()) / (1 << 20)
	}
	b.stateDir = stateDir
	defer func() { b.stateDir = "" }()
	var rows []row
	var off, on []float64
	for i := range pairs {
		for _, enabled := range []bool{false, true} {
			q := p
			q.bare = p.bare && i == 0 && !enabled
			q.label = "history off"
			q.extra = "\n[history]\nenabled = false\n"
			if enabled {
				q.label, q.extra = "history on", "\n[history]\nenabled = true\n"
				if i == pairs-1 {
					q.during = func(ctx context.Context, base string) error {
						var err error
						if hr.StatusPageMs, hr.StatusPageMaxMs, hr.StatusPageKiB, err = timeGet(ctx, base+"/", 10); err != nil {
							return err
						}
						if hr.DetailPageMs, hr.DetailPageMaxMs, _, err = timeGet(ctx, base+"/monitors/"+monitorName(1), 20); err != nil {
							return err
						}
						hr.HistoryAPIMs, _, _, err = timeGet(ctx, base+"/api/v1/monitors/"+monitorName(1)+"/history?window=90d", 20)
						return err
					}
				}
			}
			r, err := b.run(ctx, q)
			if err != nil {
				return rows, hr, err
			}
			rows = append(rows, r)
			if enabled {
				on = append(on, r.DaemonCPUUs)
			} else {
				off = append(off, r.DaemonCPUUs)
			}
		}
	}
	hr.CPUOffUs, hr.CPUOnUs = mean(off), mean(on)
	if hr.CPUOffUs > 0 {
		hr.CPUOverheadPct = 100 * (hr.CPUOnUs/hr.CPUOffUs - 1)
	}
	fmt.Fprintln(b.log, "bench: measuring the store's size per monitor")
	var err error
	hr.LongTermKiBPerMonitor, hr.WithMinutesKiBPerMonitor, err = storeSizePerMonitor(ctx, b.dir, 200, now)
	return rows, hr, err
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// writeHistoryTable prints the -history figures under the run table.
func writeHistoryTable(w io.Writer, h historyResult) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| history | figure |")
	fmt.Fprintln(w, "|:--|--:|")
	fmt.Fprintf(w, "| daemon µs/check, rollups off | %.1f |\n", h.CPUOffUs)
	fmt.Fprintf(w, "| daemon µs/check, rollups on | %.1f |\n", h.CPUOnUs)
	fmt.Fprintf(w, "| CPU per check with history | %+.1f%% |\n", h.CPUOverheadPct)
	fmt.Fprintf(w, "| GET / (500 rows, 90-day bars), p50 / max | %.0f / %.0f ms (%.0f KiB) |\n", h.StatusPageMs, h.StatusPageMaxMs, h.StatusPageKiB)
	fmt.Fprintf(w, "| GET /monitors/{name} (90 days), p50 / max | %.1f / %.1f ms |\n", h.DetailPageMs, h.DetailPageMaxMs)
	fmt.Fprintf(w, "| GET history?window=90d, p50 | %.1f ms |\n", h.HistoryAPIMs)
	fmt.Fprintf(w, "| store per monitor: 400 days + 30 days of hours | %.1f KiB |\n", h.LongTermKiBPerMonitor)
	fmt.Fprintf(w, "| ... and 48 hours of minutes | %.1f KiB |\n", h.WithMinutesKiBPerMonitor)
	fmt.Fprintf(w, "| seeded store (%d h of minutes) | %.0f MiB in %.0f s |\n", h.SeedHours, h.SeededStoreMiB, h.SeedSeconds)
}
