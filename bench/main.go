package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role, os.Args[1:]))
	}
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// config is the command line of the bench.
type config struct {
	vantage string
	n       int
	every   time.Duration
	warm    time.Duration
	window  time.Duration
	search  bool
	quick   bool
	jsonOut bool
	bare    bool
	targets int
	maxConc int
	keep    bool
	nStart  int
	nMax    int
	// -history: rollups off against on, on a seeded store.
	history      bool
	historyHours int
	historyPairs int
	historyState string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.vantage, "vantage", "", "vantage binary to measure (default: build ./cmd/vantage into the temp dir)")
	fs.IntVar(&c.n, "n", 10000, "monitors")
	fs.DurationVar(&c.every, "every", 30*time.Second, "schedule of every monitor (\"@every\" this)")
	fs.DurationVar(&c.warm, "warm", 0, "warm-up after the daemon is ready (default: one period)")
	fs.DurationVar(&c.window, "window", 0, "measured window (default: two periods)")
	fs.BoolVar(&c.search, "search", false, "find the highest N at which every nominal check is done (doubling, then bisecting)")
	fs.BoolVar(&c.quick, "quick", false, "smoke test: N=200 @every 2s, a few seconds")
	fs.BoolVar(&c.jsonOut, "json", false, "print JSON instead of a Markdown table")
	fs.BoolVar(&c.bare, "bare", true, "also measure the bare net/http baseline (single runs; -search measures it once at the first N)")
	fs.IntVar(&c.targets, "targets", 4, "listening ports of the target server")
	fs.IntVar(&c.maxConc, "max-concurrency", 0, "max_concurrency in the generated config (0: the daemon's default)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temp dir (configs, daemon logs)")
	fs.IntVar(&c.nStart, "n-start", 2000, "-search: first N")
	fs.IntVar(&c.nMax, "n-max", 256000, "-search: give up doubling above this N")
	fs.BoolVar(&c.history, "history", false, "compare the daemon with rollups off and on at -n, on a store seeded with history, and time the pages")
	fs.IntVar(&c.historyHours, "history-hours", 48, "-history: hours of minute rollups to seed")
	fs.IntVar(&c.historyPairs, "history-pairs", 1, "-history: off/on pairs of runs")
	fs.StringVar(&c.historyState, "history-state", "", "-history: reuse this seeded state directory (from an earlier -keep run) instead of seeding")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.quick {
		c.n, c.every = 200, 2*time.Second
	}
	if c.every < time.Second || c.every%time.Second != 0 {
		return c, fmt.Errorf("-every %s: want whole seconds, at least 1s", c.every)
	}
	if c.warm == 0 {
		c.warm = c.every
	}
	if c.window == 0 {
		c.window = 2 * c.every
	}
	if c.n < 1 || c.targets < 1 || c.warm < 0 || c.window < time.Second {
		return c, errors.New("-n and -targets must be at least 1, -window at least 1s")
	}
	return c, nil
}

func runMain(args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	// Children's stderr is copied into it by exec's goroutines while the
	// bench writes its own progress lines.
	stderr = &syncWriter{w: stderr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	procs := newChildren()
	defer procs.killAll()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			fmt.Fprintln(stderr, "bench: interrupted, stopping children")
			cancel()
			procs.killAll()
		}
	}()

	rows, hist, err := execute(ctx, c, procs, stderr)
	if len(rows) > 0 {
		if c.jsonOut {
			var extra any
			if hist != nil {
				extra = hist
			}
			if err := writeJSON(stdout, rows, extra); err != nil {
				fmt.Fprintln(stderr, "bench:", err)
			}
		} else {
			writeTable(stdout, rows)
			if hist != nil {
				writeHistoryTable(stdout, *hist)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// execute runs what the flags ask for and returns the report rows.
func execute(ctx context.Context, c config, procs *children, log io.Writer) (rows []row, hist *historyResult, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, fmt.Errorf("finding the bench's own binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "vantage-bench-")
	if err != nil {
		return nil, nil, fmt.Errorf("creating the temp dir: %w", err)
	}
	if c.keep {
		fmt.Fprintln(log, "bench: keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b := &bench{exe: exe, vantage: c.vantage, dir: dir, targets: c.targets, maxConc: c.maxConc, log: log, procs: procs}
	if b.vantage == "" {
		if b.vantage, err = buildVantage(ctx, dir, log); err != nil {
			return nil, nil, err
		}
	}
	if err := checkRunSubcommand(ctx, b.vantage); err != nil {
		return nil, nil, err
	}
	if err := b.startTarget(ctx); err != nil {
		return nil, nil, err
	}
	defer procs.stop(b.target, time.Second)
	settle := min(c.every, 5*time.Second)
	if err := b.measureEmpty(ctx, c.every, settle); err != nil {
		return nil, nil, err
	}
	p := plan{n: c.n, every: c.every, warm: c.warm, window: c.window, bare: c.bare}
	if c.history {
		rows, h, err := b.historyCompare(ctx, p, c.historyHours, max(c.historyPairs, 1), c.historyState)
		return rows, &h, err
	}
	if !c.search {
		r, err := b.run(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		return []row{r}, nil, nil
	}
	rows, err = b.search(ctx, p, c.nStart, c.nMax)
	return rows, nil, err
}

// search finds the highest N at which every nominal check is done:
// doubling from start until a run fails, then bisecting down to 5%.
func (b *bench) search(ctx context.Context, p plan, start, limit int) ([]row, error) {
	var rows []row
	try := func(n int) (bool, error) {
		q := p
		q.n = n
		q.bare = p.bare && len(rows) == 0
		r, err := b.run(ctx, q)
		if err != nil {
			return false, err
		}
		rows = append(rows, r)
		fmt.Fprintf(b.log, "bench: N=%d: %.1f/%.1f checks/s, all done: %s\n", n, r.AchievedPerSec, r.NominalPerSec, done(r))
		return r.AllDone, nil
	}
	lo, hi := 0, 0 // highest N done, lowest N not done
	for n := start; ; {
		ok, err := try(n)
		if err != nil {
			return rows, err
		}
		if ok {
			lo = n
			if hi == 0 {
				if n >= limit {
					break
				}
				n *= 2
				continue
			}
		} else {
			hi = n
			if lo == 0 {
				if n <= 100 {
					break
				}
				n /= 2
				continue
			}
		}
		if hi-lo <= max(lo/20, 100) {
			break
		}
		n = (lo + hi) / 2
	}
	note := fmt.Sprintf("highest N with every nominal check done @every %s: %d", p.every, lo)
	if hi == 0 {
		note += fmt.Sprintf(" (the limit -n-max %d; not found)", limit)
	} else {
		note += fmt.Sprintf(" (not at %d)", hi)
	}
	fmt.Fprintln(b.log, "bench:", note)
	if len(rows) > 0 {
		rows[len(rows)-1].Notes = append(rows[len(rows)-1].Notes, note)
	}
	return rows, nil
}

// runRole is the entry point of a re-executed child: "target" serves the
// target URLs, "bare" runs the baseline loop.
func runRole(role string, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("bench "+role, flag.ContinueOnError)
	switch role {
	case "target":
		n := fs.Int("listeners", 4, "listening ports")
		if fs.Parse(args) != nil {
			return 2
		}
		lns, err := listenTargets(*n)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench target:", err)
			return 1
		}
		fmt.Println("ready " + strings.Join(targetURLs(lns), " "))
		if err := serveTarget(ctx, lns); err != nil {
			fmt.Fprintln(os.Stderr, "bench target:", err)
			return 1
		}
		return 0
	case "bare":
		rate := fs.Float64("rate", 100, "requests per second")
		warm := fs.Duration("warm", 2*time.Second, "warm-up")
		window := fs.Duration("window", 10*time.Second, "measured window")
		urls := fs.String("urls", "", "comma-separated URLs")
		workers := fs.Int("workers", 32, "concurrent requests at most")
		if fs.Parse(args) != nil {
			return 2
		}
		if *urls == "" || *rate <= 0 || *workers < 1 {
			fmt.Fprintln(os.Stderr, "bench bare: need -urls, -rate > 0 and -workers ≥ 1")
			return 2
		}
		r, err := runBare(ctx, strings.Split(*urls, ","), *rate, *warm, *window, *workers)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench bare:", err)
			return 1
		}
		if err := writeBareResult(os.Stdout, r); err != nil {
			fmt.Fprintln(os.Stderr, "bench bare:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "bench: unknown %s %q\n", roleEnv, role)
	return 2
}
