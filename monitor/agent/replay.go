package agent

import (
	"container/heap"
	"sync"
	"time"
)

// DefaultReplayCacheSize bounds the nonces an agent remembers. A nonce is
// stored only for an authenticated request, so only a key holder can fill
// the cache, and the rate limit caps how fast: at the default rate of 10/s
// a nonce lives about 65 s, so some 650 entries are in use.
const DefaultReplayCacheSize = 65536

// replayMargin keeps a nonce a little past the moment its timestamp would
// be rejected anyway, to absorb the agent's own clock steps.
const replayMargin = 5 * time.Second

// replayCache remembers the nonces of authenticated requests until their
// timestamp falls out of the accepted window. When it is full of nonces
// that have not yet expired it refuses new ones (the request is answered
// 503) instead of forgetting a live nonce early, which would reopen a
// replay window.
type replayCache struct {
	mu    sync.Mutex
	max   int
	seen  map[string]struct{}
	byExp expiryHeap
}

func newReplayCache(max int) *replayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	return &replayCache{max: max, seen: make(map[string]struct{})}
}

// replayVerdict is what add decided about a nonce.
type replayVerdict int

const (
	replayFresh replayVerdict = iota
	replaySeen
	replayFull
)

// add records nonce, which may be accepted until expires, as used.
func (c *replayCache) add(nonce string, expires, now time.Time) replayVerdict {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.byExp) > 0 && !c.byExp[0].exp.After(now) {
		e := heap.Pop(&c.byExp).(entry)
		delete(c.seen, e.nonce)
	}
	if _, ok := c.seen[nonce]; ok {
		return replaySeen
	}
	if len(c.seen) >= c.max {
		return replayFull
	}
	c.seen[nonce] = struct{}{}
	heap.Push(&c.byExp, entry{nonce, expires})
	return replayFresh
}

func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type entry struct {
	nonce string
	exp   time.Time
}

// expiryHeap orders nonces by expiry, earliest first: timestamps arrive
// out of order within the window, so insertion order is not expiry order.
type expiryHeap []entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
