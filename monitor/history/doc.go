// Package history decides what vantage says about the past: how long a
// monitor was up, down, degraded, in maintenance or not measured at all
// (uptime.go), and how fast it answered, per vantage and per phase, in
// rollup buckets whose percentiles come from a mergeable log-scale
// histogram (sketch.go, rollup.go). It is pure: the store keeps what it
// encodes, the daemon feeds it rounds and reads it back, and the web
// surface renders the reports it defines (report.go), so each rule about
// history lives here once.
package history
