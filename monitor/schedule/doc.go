// Package schedule decides when each monitor's check runs: it turns the
// watchlist's schedule strings into fire times, spreads monitors that share a
// schedule across its period, and hands due rounds to a bounded pool of
// workers without ever running two rounds of one monitor at once.
//
// # Schedules
//
// A schedule is "@every <duration>" (at least 1s), a descriptor such as
// "@hourly" or "@daily", or a 5-field cron spec ("*/2 * * * *"). Descriptors
// and cron specs are parsed by robfig/cron/v3 (cron.ParseStandard), and the
// next nominal time comes from its cron.Schedule.Next. ParseSpec is the
// program's one schedule parser: monitor/config loads every schedule through
// it into the Spec the scheduler runs, and checks a monitor's timeout
// against Spec.MinPeriod, worked out once at parse time.
//
// # Jitter rule
//
// Each monitor gets a fixed fraction f in [0, 1) derived from a hash of its
// name only (FNV-1a, then a 64-bit finaliser so names that differ in one
// character land far apart). The same name always gets the same offset, on
// every host and after every restart or reload.
//
//   - "@every d": the monitor fires at Unix epoch + f·d + k·d. Firing times are
//     aligned to the epoch, not to the daemon's start, so a restart or a
//     config reload does not shift a monitor's phase. 10,000 monitors
//     "@every 1m" are spread evenly over the minute.
//   - descriptors and cron specs: a nominal time b is moved to
//     b + f·min(gap, MaxJitter), where gap is the time from b to the
//     following nominal time. MaxJitter defaults to one minute, the
//     resolution a 5-field cron spec can name, so "0 9 * * *" fires between
//     09:00:00 and 09:01:00 and "*/2 * * * *" within the first minute of each
//     even minute. Because the offset is always shorter than the gap, fire
//     times stay in order and never overtake the next nominal time.
//
// # Dispatching
//
// The scheduler does not use robfig/cron's Cron runner: that runner reads
// time.Now and real timers (so tests cannot drive it) and re-sorts every entry
// on each wake-up. With 10,000 entries spread to the nanosecond, each fire is
// its own wake-up and the sort dominates: BenchmarkDispatch measured about
// 550-630 µs of CPU per round at "@every 30s" against 55-60 µs here (2-core
// VM). Instead a single dispatch goroutine keeps the entries in a min-heap
// keyed by the next fire time and sleeps on a timer from an injectable Clock.
// Thread wake-ups, not the heap, then dominate, so passes are at least
// Options.Coalesce (10ms) apart: that roughly halves the CPU per round and
// adds at most 10ms of lateness. Due rounds go to a FIFO queue served by a
// fixed pool of Options.Workers goroutines; lateness is measured when a
// worker picks a round up, so it includes waiting for a free worker.
//
// A round that is due while the previous round of the same monitor is still
// queued or running is skipped and counted. Rounds that the dispatcher
// missed entirely because it fell behind by more than a period (a suspended
// machine, a wedged loop) are not replayed in a burst: the entry fires once,
// late, and then resumes its normal times; this is counted as Missed.
package schedule
