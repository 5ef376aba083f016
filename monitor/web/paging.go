package web

import (
	"fmt"
	"net/url"
	"strconv"
)

// Page sizes of the status page and GET /api/v1/monitors. A page of 100,000
// monitors was 48 MB, and a few parallel reloads took the daemon to 2 GB;
// a page of at most MaxPageSize rows bounds what one request builds.
const (
	DefaultPageSize = 500
	MaxPageSize     = 5000
)

// paging is a request's page=N (from 1) and limit=N.
type paging struct {
	page, limit int
}

func parsePaging(q url.Values) (paging, error) {
	p := paging{page: 1, limit: DefaultPageSize}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			return paging{}, fmt.Errorf("limit %q is not a number from 1 to %d", s, MaxPageSize)
		}
		p.limit = n
	}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return paging{}, fmt.Errorf("page %q is not a number from 1", s)
		}
		p.page = n
	}
	return p, nil
}

// window is the part [lo, hi) of n items that the page shows; empty past
// the end.
func (p paging) window(n int) (lo, hi int) {
	// Compared before multiplying: page=9999999999999 must not overflow.
	if p.page-1 > n/p.limit {
		return n, n
	}
	lo = min((p.page-1)*p.limit, n)
	return lo, min(lo+p.limit, n)
}

// pages is how many pages n items fill (at least one, possibly empty).
func (p paging) pages(n int) int {
	return max(1, (n+p.limit-1)/p.limit)
}

// link is the query of page n with the request's other parameters (the
// filters, the limit) kept.
func (p paging) link(q url.Values, n int) string {
	c := url.Values{}
	for k, v := range q {
		c[k] = v
	}
	c.Set("page", strconv.Itoa(n))
	return "?" + c.Encode()
}
