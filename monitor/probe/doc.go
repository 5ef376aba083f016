// Package probe performs one HTTP check of one URL and returns a typed
// result.Result: it resolves, dials, handshakes and speaks HTTP/1.1 itself on
// a fresh connection so every phase is timed and every failure is named by
// the step it happened in, bounds every read against hostile targets and
// asks the gateway package which hop produced an error response. It chooses
// no fixes: it also runs on agents, and a round chooses them once, at its
// end, from all its facts (monitor/round).
package probe
