// Package testkit holds the fake clock, the synchronised log buffer and the
// wait-for helper that the tests of every package share.
//
// It exists so that each of these is written, and fixed, once: they used to
// be copied into the tests of monitor/store, notify/outbox, monitor/agent,
// monitor/schedule, daemon, notify/email and more, and the copies had begun
// to drift (one clock could arm timers and the others could not, one wait
// polled twenty times as often as another). Only tests import it;
// imports_test.go fails when a package's own code does. It imports nothing of
// the module, so the tests of any package can use it without an import cycle.
package testkit
