package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vantage-monitor/vantage/monitor/history"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// check is one check as the rollups see it.
func check(ok bool, totalMs float64) result.Result {
	return result.Result{OK: ok, Phases: result.Phases{
		DNSMs: totalMs / 10, ConnectMs: totalMs / 5, TLSMs: totalMs / 4, TTFBMs: totalMs / 2, TotalMs: totalMs}}
}

func aggOf(checks ...result.Result) history.Agg {
	var a history.Agg
	for i := range checks {
		a.Add(&checks[i])
	}
	return a
}

func encode(t testing.TB, a *history.Agg) []byte {
	t.Helper()
	b, err := a.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cloneAgg is a deep copy: an Agg's histograms share their slices when the
// struct is copied.
func cloneAgg(t testing.TB, a *history.Agg) history.Agg {
	t.Helper()
	var c history.Agg
	if err := c.UnmarshalBinary(encode(t, a)); err != nil {
		t.Fatal(err)
	}
	return c
}

func key(m, v string, res history.Resolution, at time.Time) history.Key {
	return history.Key{Monitor: m, Vantage: v, Res: res, Bucket: at}
}

// rollupRows is every stored rollup of resolution res, by key, as stored.
func rollupRows(t testing.TB, s *Store, res history.Resolution) map[history.Key]string {
	t.Helper()
	rows, err := s.r.Query(`SELECT monitor, vantage, bucket, checks, failures, data FROM rollups WHERE res = ?`, string(res))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := make(map[history.Key]string)
	for rows.Next() {
		var (
			k                history.Key
			b, checks, fails int64
			data             []byte
		)
		if err := rows.Scan(&k.Monitor, &k.Vantage, &b, &checks, &fails, &data); err != nil {
			t.Fatal(err)
		}
		k.Res, k.Bucket = res, fromNanos(b)
		var a history.Agg
		if err := a.UnmarshalBinary(data); err != nil {
			t.Fatalf("%v: %v", k, err)
		}
		if uint64(checks) != a.Checks || uint64(fails) != a.Failures {
			t.Errorf("%v: columns say %d checks, %d failures; the data %d, %d", k, checks, fails, a.Checks, a.Failures)
		}
		out[k] = string(data)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func writeRollups(t *testing.T, s *Store, b ...history.Bucket) {
	t.Helper()
	update(t, s, func(tx *Tx) error { return tx.WriteRollups(context.Background(), b) })
}

func TestWriteRollupsMergesWithStoredRow(t *testing.T) {
	clk := newClock()
	s, path := openTest(t, clk, Options{})
	ctx := context.Background()
	m0 := history.Minute.Truncate(clk.Now())
	first := []result.Result{check(true, 10), check(true, 20), check(false, 3000)}
	second := []result.Result{check(true, 15), check(false, 0.5)}

	writeRollups(t, s, history.Bucket{Key: key("shop", "", history.Minute, m0), Agg: aggOf(first...)})
	// The same minute again (drained in two parts), and the same key twice
	// in one call.
	writeRollups(t, s,
		history.Bucket{Key: key("shop", result.LocalVantage, history.Minute, m0), Agg: aggOf(second[0])},
		history.Bucket{Key: key("shop", result.LocalVantage, history.Minute, m0), Agg: aggOf(second[1])},
		history.Bucket{Key: key("shop", "eu", history.Minute, m0), Agg: aggOf(check(true, 7))},
		history.Bucket{Key: key("shop", result.LocalVantage, history.Minute, m0.Add(time.Minute)), Agg: aggOf(check(true, 8))},
	)
	s.Close()
	s = reopen(t, path, clk, Options{})

	got, err := s.Rollups(ctx, "shop", history.Minute, m0, m0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Vantage != "eu" || got[1].Vantage != result.LocalVantage {
		t.Fatalf("rollups of the first minute = %+v", got)
	}
	union := aggOf(append(slices.Clone(first), second...)...)
	if a := got[1].Agg; a.Checks != 5 || a.Failures != 2 || !bytes.Equal(encode(t, &a), encode(t, &union)) {
		t.Errorf("merged bucket: %d checks, %d failures; its encoding equals the union's: %v",
			a.Checks, a.Failures, bytes.Equal(encode(t, &a), encode(t, &union)))
	}
	if !got[1].Bucket.Equal(m0) || got[1].Res != history.Minute || got[1].Monitor != "shop" {
		t.Errorf("key = %+v", got[1].Key)
	}
	rows := rollupRows(t, s, history.Minute) // checks the columns against the data
	if len(rows) != 3 {
		t.Errorf("%d minute rows, want 3", len(rows))
	}
	// [from, to) by bucket start.
	if got, _ := s.Rollups(ctx, "shop", history.Minute, m0.Add(time.Second), m0.Add(2*time.Minute)); len(got) != 1 || !got[0].Bucket.Equal(m0.Add(time.Minute)) {
		t.Errorf("rollups of (m0, m0+2m) = %+v", got)
	}

	for _, b := range []history.Bucket{
		{Key: key("", "", history.Minute, m0)},
		{Key: key("shop", "", "5m", m0)},
		{Key: key("shop", "", history.Hour, m0.Add(time.Minute))},
		{Key: key("shop", "", history.Minute, time.Time{})},
	} {
		if err := s.Update(ctx, func(tx *Tx) error { return tx.WriteRollups(ctx, []history.Bucket{b}) }); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", b.Key, err)
		}
	}
	if _, err := s.Rollups(ctx, "shop", "5m", m0, m0); !errors.Is(err, ErrInvalid) {
		t.Errorf("Rollups of a bad resolution: %v", err)
	}
}

// history4h is four hours of minutes across a UTC midnight, for three
// monitors and two vantages, and what its hours and days must hold.
type history4h struct {
	minutes     []history.Bucket
	hours, days map[history.Key]*history.Agg
}

func makeHistory(start time.Time, minutes int) history4h {
	h := history4h{hours: map[history.Key]*history.Agg{}, days: map[history.Key]*history.Agg{}}
	add := func(m map[history.Key]*history.Agg, k history.Key, c result.Result) {
		if m[k] == nil {
			m[k] = new(history.Agg)
		}
		m[k].Add(&c)
	}
	for i := range minutes {
		at := start.Add(time.Duration(i) * time.Minute)
		for mi, mon := range []string{"a", "b", "c"} {
			for vi, v := range []string{"local", "eu"} {
				if (i+mi+vi)%7 == 0 {
					continue // not every minute has checks
				}
				var checks []result.Result
				for j := range 1 + (i+mi)%3 {
					checks = append(checks, check((i+j+vi)%11 != 0, float64(1+(i*7+j*13+mi*3)%900)))
				}
				h.minutes = append(h.minutes, history.Bucket{Key: key(mon, v, history.Minute, at), Agg: aggOf(checks...)})
				for _, c := range checks {
					add(h.hours, key(mon, v, history.Hour, history.Hour.Truncate(at)), c)
					add(h.days, key(mon, v, history.Day, history.Day.Truncate(at)), c)
				}
			}
		}
	}
	return h
}

// closedOnly keeps the buckets that end at or before end.
func closedOnly(t *testing.T, m map[history.Key]*history.Agg, end time.Time) map[history.Key]string {
	out := make(map[history.Key]string)
	for k, a := range m {
		if !k.Bucket.Add(k.Res.Step()).After(end) {
			out[k] = string(encode(t, a))
		}
	}
	return out
}

func diffRows(t *testing.T, what string, got, want map[history.Key]string) {
	t.Helper()
	if maps.Equal(got, want) {
		return
	}
	t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	n := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			if n++; n <= 5 {
				t.Errorf("  %v: stored %v, want it", k, ok)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if n++; n <= 10 {
				t.Errorf("  %v: stored, not wanted", k)
			}
		}
	}
}

func TestCompactRollupsIsIdempotent(t *testing.T) {
	clk := newClock()
	// 22:00 to 02:00, read at 02:10: hours 22..01 and the first day are closed.
	start := time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)
	now := start.Add(4*time.Hour + 10*time.Minute)
	h := makeHistory(start, 4*60+10)
	ctx := context.Background()

	s, _ := openTest(t, clk, Options{})
	writeRollups(t, s, h.minutes...)
	if err := s.CompactRollups(ctx, now); err != nil {
		t.Fatal(err)
	}
	wantHours := closedOnly(t, h.hours, start.Add(4*time.Hour))
	wantDays := closedOnly(t, h.days, start.Add(2*time.Hour))
	if len(wantHours) != 3*2*4 || len(wantDays) != 3*2 {
		t.Fatalf("test data: %d hours, %d days", len(wantHours), len(wantDays))
	}
	diffRows(t, "hours", rollupRows(t, s, history.Hour), wantHours)
	diffRows(t, "days", rollupRows(t, s, history.Day), wantDays)

	// Again: nothing changes.
	if err := s.CompactRollups(ctx, now); err != nil {
		t.Fatal(err)
	}
	diffRows(t, "hours after a second run", rollupRows(t, s, history.Hour), wantHours)
	diffRows(t, "days after a second run", rollupRows(t, s, history.Day), wantDays)
	// With its state lost, it starts over and makes the same rows.
	if _, err := s.w.Exec(`DELETE FROM store_meta WHERE key LIKE 'rollups_compacted_%'`); err != nil {
		t.Fatal(err)
	}
	if err := s.CompactRollups(ctx, now); err != nil {
		t.Fatal(err)
	}
	diffRows(t, "hours after a restart from scratch", rollupRows(t, s, history.Hour), wantHours)
	diffRows(t, "days after a restart from scratch", rollupRows(t, s, history.Day), wantDays)

	// An hour later, the next hour is made and nothing else changes.
	more := makeHistory(start, 5*60+10)
	writeRollups(t, s, more.minutes[len(h.minutes):]...)
	if err := s.CompactRollups(ctx, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	diffRows(t, "hours an hour later", rollupRows(t, s, history.Hour), closedOnly(t, more.hours, start.Add(5*time.Hour)))
	diffRows(t, "days an hour later", rollupRows(t, s, history.Day), wantDays)

	// Read through the API, an hour holds what its minutes held.
	got, err := s.Rollups(ctx, "b", history.Hour, start, start.Add(time.Hour))
	if err != nil || len(got) != 2 {
		t.Fatalf("hour rollups of b = %v, %v", got, err)
	}
	k := key("b", got[0].Vantage, history.Hour, start)
	if string(encode(t, &got[0].Agg)) != wantHours[k] {
		t.Errorf("hour %v as read differs from its minutes", k)
	}
}

// A compaction stopped half way (the daemon killed between two of its
// transactions) is finished by the next, with the same rows as one that
// ran through.
func TestCompactRollupsAfterCrashMidWay(t *testing.T) {
	clk := newClock()
	start := time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)
	now := start.Add(4*time.Hour + 10*time.Minute)
	h := makeHistory(start, 4*60+10)
	ctx := context.Background()

	whole, _ := openTest(t, clk, Options{})
	writeRollups(t, whole, h.minutes...)
	if err := whole.CompactRollups(ctx, now); err != nil {
		t.Fatal(err)
	}

	// PruneBatch 1: a transaction reads a few rows, less than a monitor's.
	path := filepath.Join(t.TempDir(), FileName)
	s := reopen(t, path, clk, Options{PruneBatch: 1})
	writeRollups(t, s, h.minutes...)
	steps := 0
	for finished := false; !finished && steps < 2; steps++ {
		var err error
		if finished, err = s.compactStep(ctx, history.Minute, history.Hour, now); err != nil {
			t.Fatal(err)
		}
	}
	st, err := readCompactState(ctx, s.r, history.Hour)
	if err != nil || !st.Active || st.After != "b" {
		t.Fatalf("after 2 steps: state %+v, %v; want a range in progress after b", st, err)
	}
	if n := len(rollupRows(t, s, history.Hour)); n != 2*2*4 {
		t.Fatalf("after 2 steps: %d hour rows, want a's and b's", n)
	}
	// Late minutes meanwhile: for a monitor already done, and for one not.
	late := []history.Bucket{
		{Key: key("a", "eu", history.Minute, start.Add(90*time.Minute)), Agg: aggOf(check(false, 77))},
		{Key: key("c", "eu", history.Minute, start.Add(90*time.Minute)), Agg: aggOf(check(true, 66))},
	}
	writeRollups(t, s, late...)
	writeRollups(t, whole, late...)
	s.Close()

	s = reopen(t, path, clk, Options{PruneBatch: 1})
	if err := s.CompactRollups(ctx, now); err != nil {
		t.Fatal(err)
	}
	for _, res := range []history.Resolution{history.Minute, history.Hour, history.Day} {
		diffRows(t, string(res)+" after a crash", rollupRows(t, s, res), rollupRows(t, whole, res))
	}
	// And both have the late checks in their hour and day.
	for _, m := range []string{"a", "c"} {
		want := cloneAgg(t, h.hours[key(m, "eu", history.Hour, start.Add(time.Hour))])
		l := late[0].Agg
		if m == "c" {
			l = late[1].Agg
		}
		want.Merge(&l)
		if got := rollupRows(t, s, history.Hour)[key(m, "eu", history.Hour, start.Add(time.Hour))]; got != string(encode(t, &want)) {
			t.Errorf("%s's hour lacks its late minute", m)
		}
	}
}

// A minute drained after its hour and day were made goes into them too.
func TestLateMinuteReachesItsHourAndDay(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	start := time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)
	now := start.Add(4*time.Hour + 10*time.Minute)
	h := makeHistory(start, 4*60+10)
	writeRollups(t, s, h.minutes...)
	if err := s.CompactRollups(ctx, now); err != nil {
		t.Fatal(err)
	}
	lateAt := start.Add(90*time.Minute + 5*time.Minute)
	lateCheck := aggOf(check(false, 5000), check(true, 1))
	openAt := start.Add(4*time.Hour + 5*time.Minute) // the open hour
	writeRollups(t, s,
		history.Bucket{Key: key("new", "local", history.Minute, lateAt), Agg: lateCheck},
		history.Bucket{Key: key("b", "local", history.Minute, lateAt), Agg: lateCheck},
		history.Bucket{Key: key("b", "local", history.Minute, openAt), Agg: lateCheck},
	)
	hours, days := rollupRows(t, s, history.Hour), rollupRows(t, s, history.Day)
	hk, dk := key("b", "local", history.Hour, start.Add(time.Hour)), key("b", "local", history.Day, start.Add(-22*time.Hour))
	wantH, wantD := cloneAgg(t, h.hours[hk]), cloneAgg(t, h.days[dk])
	wantH.Merge(&lateCheck)
	wantD.Merge(&lateCheck)
	if hours[hk] != string(encode(t, &wantH)) || days[dk] != string(encode(t, &wantD)) {
		t.Errorf("b's hour and day lack the late minute")
	}
	if hours[key("new", "local", history.Hour, start.Add(time.Hour))] != string(encode(t, &lateCheck)) ||
		days[key("new", "local", history.Day, start.Add(-22*time.Hour))] != string(encode(t, &lateCheck)) {
		t.Errorf("a monitor's first, late minute made no hour or day")
	}
	if _, ok := hours[key("b", "local", history.Hour, history.Hour.Truncate(openAt))]; ok {
		t.Error("the open hour was made")
	}
	// Compacting again does not count the late minutes twice.
	before := rollupRows(t, s, history.Hour)
	if err := s.CompactRollups(ctx, now); err != nil {
		t.Fatal(err)
	}
	diffRows(t, "hours after compacting again", rollupRows(t, s, history.Hour), before)
}

func TestPruneRollupsByAgeAndRemoval(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{PruneBatch: 3})
	ctx := context.Background()
	now := clk.Now()
	day := 24 * time.Hour
	one := aggOf(check(true, 10))
	var bs []history.Bucket
	for _, m := range []string{"x", "y"} {
		// Minutes 3 days old (made into hours by the prune first) and new.
		bs = append(bs,
			history.Bucket{Key: key(m, "local", history.Minute, history.Minute.Truncate(now.Add(-72*time.Hour))), Agg: one},
			history.Bucket{Key: key(m, "local", history.Minute, history.Minute.Truncate(now.Add(-47*time.Hour))), Agg: one},
			history.Bucket{Key: key(m, "local", history.Minute, history.Minute.Truncate(now.Add(-time.Hour))), Agg: one},
			history.Bucket{Key: key(m, "local", history.Hour, history.Hour.Truncate(now.Add(-31*day))), Agg: one},
			history.Bucket{Key: key(m, "local", history.Day, history.Day.Truncate(now.Add(-401*day))), Agg: one},
			history.Bucket{Key: key(m, "local", history.Day, history.Day.Truncate(now.Add(-399*day))), Agg: one},
		)
	}
	writeRollups(t, s, bs...)

	// Not compacted yet: the old minutes are the only copy, and wait.
	var p Pruned
	if err := s.pruneHistory(ctx, now, s.opts.PruneBatch, &p); err != nil {
		t.Fatal(err)
	}
	if n := len(rollupRows(t, s, history.Minute)); n != 6 || p.Rollups != 2 {
		t.Fatalf("before compaction, %d minutes kept, want all 6; pruned %+v, want the 2 old days", n, p)
	}
	// Compacted up to 80 hours ago only (it lagged): the 72h minute waits.
	update(t, s, func(tx *Tx) error {
		return tx.writeCompactState(ctx, history.Hour, compactState{Done: toNanos(history.Hour.Truncate(now.Add(-80 * time.Hour)))})
	})
	if err := s.pruneHistory(ctx, now, s.opts.PruneBatch, &p); err != nil {
		t.Fatal(err)
	}
	if n := len(rollupRows(t, s, history.Minute)); n != 6 {
		t.Fatalf("compacted up to 80h ago, %d minutes kept, want all 6", n)
	}

	p, err := s.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Per monitor: the 72h minute and the 31-day hour, each made into its
	// hour or day first.
	if p.Rollups != 4 {
		t.Errorf("pruned %+v, want 4 rollups", p)
	}
	mins := rollupRows(t, s, history.Minute)
	if len(mins) != 4 {
		t.Errorf("%d minutes left, want 4", len(mins))
	}
	hours := rollupRows(t, s, history.Hour)
	if _, ok := hours[key("x", "local", history.Hour, history.Hour.Truncate(now.Add(-72*time.Hour)))]; !ok {
		t.Error("the pruned minute's hour is missing")
	}
	for k := range hours {
		if k.Bucket.Before(now.Add(-30 * day)) {
			t.Errorf("old hour %v kept", k)
		}
	}
	days := rollupRows(t, s, history.Day)
	for k := range days {
		if k.Bucket.Before(now.Add(-400 * day)) {
			t.Errorf("old day %v kept", k)
		}
	}
	if _, ok := days[key("y", "local", history.Day, history.Day.Truncate(now.Add(-31*day)))]; !ok {
		t.Error("the pruned hour's day is missing")
	}
	if _, ok := days[key("y", "local", history.Day, history.Day.Truncate(now.Add(-399*day)))]; !ok {
		t.Error("a day within 400 days was pruned")
	}

	// x leaves the config; 31 days later all of its rollups go.
	if err := s.SyncMonitors(ctx, []string{"x", "y"}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncMonitors(ctx, []string{"y"}, now); err != nil {
		t.Fatal(err)
	}
	clk.Advance(31 * day)
	if _, err := s.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	left := map[string]int{}
	for _, res := range history.Resolutions {
		for k := range rollupRows(t, s, res) {
			left[k.Monitor]++
		}
	}
	if left["x"] != 0 || left["y"] == 0 {
		t.Errorf("rollups left per monitor: %v, want none of x and some of y", left)
	}
}

// A stored bucket that does not decode is left out of reads and of
// compaction, and a new write of its key replaces it; nothing fails.
func TestCorruptRollupRow(t *testing.T) {
	clk := newClock()
	s, _ := openTest(t, clk, Options{})
	ctx := context.Background()
	m0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	good := aggOf(check(true, 10))
	writeRollups(t, s,
		history.Bucket{Key: key("shop", "local", history.Minute, m0), Agg: good},
		history.Bucket{Key: key("shop", "local", history.Minute, m0.Add(time.Minute)), Agg: good},
	)
	for _, bad := range [][]byte{{0xff, 0x00, 0x13}, {}, encode(t, &good)[:3]} {
		if _, err := s.w.Exec(`UPDATE rollups SET data = ? WHERE bucket = ?`, bad, toNanos(m0)); err != nil {
			t.Fatal(err)
		}
		got, err := s.Rollups(ctx, "shop", history.Minute, m0, m0.Add(time.Hour))
		if err != nil || len(got) != 1 || !got[0].Bucket.Equal(m0.Add(time.Minute)) {
			t.Fatalf("data %x: rollups = %+v, %v; want the good one only", bad, got, err)
		}
	}
	if err := s.CompactRollups(ctx, m0.Add(2*time.Hour)); err != nil {
		t.Fatalf("compaction over a bad row: %v", err)
	}
	hours, err := s.Rollups(ctx, "shop", history.Hour, m0, m0.Add(time.Hour))
	if err != nil || len(hours) != 1 || hours[0].Agg.Checks != 1 {
		t.Fatalf("hour made around the bad row = %+v, %v", hours, err)
	}
	writeRollups(t, s, history.Bucket{Key: key("shop", "local", history.Minute, m0), Agg: good})
	got, err := s.Rollups(ctx, "shop", history.Minute, m0, m0.Add(time.Minute))
	if err != nil || len(got) != 1 || got[0].Agg.Checks != 1 {
		t.Fatalf("bad row rewritten = %+v, %v", got, err)
	}
	// An unreadable compaction state is an error that says what to do, and
	// does not stop the pruning of results.
	if _, err := s.w.Exec(`UPDATE store_meta SET value = '{bad' WHERE key = 'rollups_compacted_1h'`); err != nil {
		t.Fatal(err)
	}
	if err := s.CompactRollups(ctx, m0.Add(3*time.Hour)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "delete that row") {
		t.Errorf("compaction with a bad state: %v, want ErrCorrupt and what to do", err)
	}
	writeRollups(t, s, history.Bucket{Key: key("shop", "local", history.Minute, m0.Add(2*time.Minute)), Agg: good})
	if err := s.RecordResults(ctx, []ResultRow{{Monitor: "shop", At: m0, Result: sampleResult(true, result.ClassOK, 200, m0)}}); err != nil {
		t.Fatal(err)
	}
	clk.Set(m0.Add(3 * time.Hour))
	s.opts.MaxResultAge = time.Hour
	if p, err := s.Prune(ctx); !errors.Is(err, ErrCorrupt) || p.Results != 1 {
		t.Errorf("prune with a bad compaction state: %+v, %v; want the result pruned and the error", p, err)
	}
}

// BenchmarkWriteRollups is one drain of a daemon at 10,000 monitors: a
// closed minute of each, in one transaction.
func BenchmarkWriteRollups(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const n = 10000
	agg := aggOf(check(true, 48), check(true, 52.5))
	buckets := make([]history.Bucket, n)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("monitor-%05d", i)
	}
	at := history.Minute.Truncate(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	total := 0
	for b.Loop() {
		for i := range buckets {
			buckets[i] = history.Bucket{Key: key(names[i], "local", history.Minute, at), Agg: agg}
		}
		at = at.Add(time.Minute)
		if err := s.Update(ctx, func(tx *Tx) error { return tx.WriteRollups(ctx, buckets) }); err != nil {
			b.Fatal(err)
		}
		total += n
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "buckets/s")
}

// BenchmarkCompactHour makes one hour of 2,000 monitors from their 60
// minutes each, and reports the longest transaction, which is how long a
// round may wait for the writer meanwhile.
func BenchmarkCompactHour(b *testing.B) {
	const monitors = 2000
	ctx := context.Background()
	agg := aggOf(check(true, 48), check(true, 52.5))
	hour := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var longest time.Duration
	b.StopTimer()
	for range b.N {
		s, err := Open(ctx, filepath.Join(b.TempDir(), FileName), Options{PruneInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		buckets := make([]history.Bucket, 0, monitors)
		for m := range 60 {
			buckets = buckets[:0]
			for i := range monitors {
				buckets = append(buckets, history.Bucket{Key: key(fmt.Sprintf("monitor-%05d", i), "local", history.Minute, hour.Add(time.Duration(m)*time.Minute)), Agg: agg})
			}
			if err := s.Update(ctx, func(tx *Tx) error { return tx.WriteRollups(ctx, buckets) }); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for finished := false; !finished; {
			start := time.Now()
			if finished, err = s.compactStep(ctx, history.Minute, history.Hour, hour.Add(time.Hour+compactGrace)); err != nil {
				b.Fatal(err)
			}
			longest = max(longest, time.Since(start))
		}
		b.StopTimer()
		if n := len(rollupRows(b, s, history.Hour)); n != monitors {
			b.Fatalf("%d hours made, want %d", n, monitors)
		}
		_ = s.Close()
	}
	b.ReportMetric(float64(longest.Microseconds())/1000, "ms-longest-tx")
}
