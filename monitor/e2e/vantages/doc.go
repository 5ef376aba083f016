// Package vantages holds the end-to-end tests of vantage points: real
// `vantage agent` processes, a real coordinator (`vantage check -config` and
// `vantage run`) and a target, each in a network namespace the test makes
// itself, joined by veth links, with paths cut selectively by routes. The
// verdict logic has unit tests against fakes; these tests are the ones that
// show the whole chain (signed requests over a real network, canaries,
// isolation, the store's incidents) gives the verdicts the issue promises:
// "partial" when only some vantages are cut off, "just_me" with one vantage
// notice and no target incident when the coordinator itself is, a dead agent
// that is no vote, an agent with refuse_private that is refused by policy
// and no vote, and an agent that refuses wrong keys and replays without
// probing.
//
// The package has no non-test code; this file exists to say why it exists.
//
// Requirements: root (to make namespaces) and iproute2's `ip`. On Debian:
//
//	apt-get install -y --no-install-recommends iproute2
//
// When namespaces cannot be made the tests fail with that instruction, never
// skip, because CI (.ci/run) runs as root with iproute2 and a silent skip
// would hide a broken CI image. People without root can opt out explicitly:
//
//	VANTAGE_E2E=off go test ./...
//
// Nothing leaves the namespaces: the test's addresses (10.77.0.0/24) exist
// only on the veth links between them, which are deleted with the
// namespaces when the test ends, together with every process it started.
// The one file outside them is a hosts file per namespace, which `ip netns
// exec` mounts over /etc/hosts so that one name resolves to a different
// backend from each vantage: /etc/netns/<namespace>/hosts, named after the
// test's own namespaces and removed with them.
package vantages
