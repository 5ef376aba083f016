// Package probe performs one HTTP check of one URL and returns a typed
// result.Result: it resolves, dials, handshakes and speaks HTTP/1.1 itself on
// a fresh connection so every phase is timed and every failure is named by
// the step it happened in, bounds every read against hostile targets, asks
// the gateway package which hop produced an error response, and attaches
// fixes.
package probe
