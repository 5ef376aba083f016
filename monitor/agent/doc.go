// Package agent is the agent protocol: the authenticated HTTP endpoint that
// runs probes, and resolves names with its own resolver, for a coordinator
// (Server, what `vantage agent` serves), and the coordinator's client for it
// (Client).
//
// Every request is signed with HMAC-SHA256 under a shared key over the
// method, request target, timestamp, nonce and body; the agent rejects
// stale timestamps and replayed nonces, and runs no probe for a request it
// cannot authenticate. The agent is not an open proxy: it probes only http
// and https URLs, caps timeout, body, redirects, concurrency and rate, can
// refuse private destinations at dial time, and answers with the typed
// result.Result, whose body evidence is a bounded excerpt.
package agent
