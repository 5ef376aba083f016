// Package probe performs one HTTP check of one URL and returns a typed
// result.Result: it records the phases with net/http/httptrace, bounds every
// read against hostile targets, classifies what failed, asks the gateway
// package which hop produced an error response, and attaches fixes.
package probe
