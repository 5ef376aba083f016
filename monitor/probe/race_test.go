//go:build race

package probe

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts are inflated and only coarse bounds hold.
const raceEnabled = true
