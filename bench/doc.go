// Command bench measures how far one vantage daemon scales on this machine:
// it runs the real `vantage run` binary against N monitors that all point at
// a cheap loopback target server, and reports achieved checks per second
// against the nominal rate, daemon CPU per check, resident memory per
// monitor and scheduling lateness (p50, p99, max). Next to it, in the same
// run, a bare net/http loop makes the same requests at the same rate with a
// fresh connection each, so the daemon's CPU per check has a floor to be
// compared with.
//
// The daemon is treated as a black box: the bench builds (or is given) the
// binary, writes a generated config into a temporary directory, and reads
// everything it reports from the daemon's /metrics and from /proc. It
// imports monitor/schedule, for the jitter rule, so that it can say exactly
// which nominal rounds fall inside the measured window; and, for -history
// only, monitor/store and monitor/history, to seed a store with the history
// a daemon that ran for months would have left (history.go).
//
// Every process it starts listens on 127.0.0.1 only and is killed when the
// bench exits, errors or is interrupted. See README.md for how to run it and
// how to read the table.
package main
