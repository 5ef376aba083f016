// Package e2e holds the end-to-end tests that check the probe's verdicts
// against real reverse proxies instead of against our own idea of them. The
// gateway fingerprints and the status-to-class rules are written from
// documentation and captures; these tests start the real nginx and HAProxy
// binaries on loopback ports, in front of upstreams that fail in known ways
// (dead, slow, crashing mid-request, sending a broken response), and assert
// that the probe names the class, the gateway and the status those servers
// really produce. When a proxy release changes its error pages, this is the
// suite that notices.
//
// The package has no non-test code; this file exists to say why it exists.
//
// Requirements: /usr/sbin/nginx (or nginx on PATH) and haproxy. On Debian:
//
//	apt-get install -y --no-install-recommends nginx-light haproxy
//
// A missing binary makes the suite fail with that instruction, never skip,
// because CI installs both and a silent skip would hide a broken CI image.
// People without them can opt out explicitly:
//
//	VANTAGE_E2E=off go test ./...
//
// Every process the tests start listens on 127.0.0.1 only, keeps its config,
// pid file, logs and temp files in the test's temporary directory, and is
// stopped when the test ends. The tests run as root (as in CI) or as an
// ordinary user.
package e2e
