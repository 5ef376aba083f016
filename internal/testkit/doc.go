// Package testkit holds the fake clock, the synchronised log buffer, the
// wait-for helper, a loopback DNS server and a test certificate authority
// that the tests of every package share.
//
// It exists so that each of these is written, and fixed, once: they used to
// be copied into the tests of monitor/store, notify/outbox, monitor/agent,
// monitor/schedule, daemon, notify/email and more (the CA and DNS server into
// monitor/probe, monitor/config, monitor/diagnose, daemon, notify/email and
// cmd/vantage), and the copies had begun to drift (one clock could arm
// timers and the others could not, one wait polled twenty times as often as
// another). Only tests import it:
// internal/testkit/imports_test.go fails when a package's own code does. It
// imports nothing of the module, so the tests of any package can use it
// without an import cycle.
//
// The clock is a fake one passed in as an option rather than testing/synctest's
// bubble because the code under test already takes its clock as an option,
// and its tests talk to SQLite, real sockets and child processes, which a
// bubble does not count as durably blocked, so its time would not move.
package testkit
