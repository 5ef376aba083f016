package gateway

import (
	"strconv"
	"strings"
)

// Heroku is the Heroku router.
const Heroku = "heroku"

// herokuHeaders: Via: 1.1 vegur (legacy router), heroku-router (Router 2.0).
func (s *scan) herokuHeaders(f *headerFacts) {
	if strings.Contains(f.lvia, "vegur") || strings.Contains(f.lvia, "heroku-router") {
		s.evidence("Via", f.via)
		s.mark("Via names the Heroku router: Heroku is on the path")
		s.hops = append(s.hops, hop{name: Heroku})
	}
}

// herokuPage: the router's error pages are iframes of herokucdn.com pages.
func (s *scan) herokuPage() (verdict, bool) {
	const pages = "herokucdn.com/error-pages/"
	i := strings.Index(s.body, pages)
	if i < 0 {
		return verdict{}, false
	}
	page := s.body[i+len(pages):]
	if j := strings.IndexAny(page, `"'.`); j >= 0 {
		page = page[:j]
	}
	s.mark("body contains " + strconv.Quote(pages+page))
	s.hopIfMissing(Heroku)
	return verdict{gateway: Heroku, reason: page}, true
}
