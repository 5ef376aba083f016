package gateway

import (
	"strconv"
	"strings"
)

// HAProxy is HAProxy. Its built-in error responses carry no Server header,
// so only its page names it.
const HAProxy = "haproxy"

// HAProxy built-in error pages.
const (
	DetailNoServerAvailable = "no-server-available"
	DetailInvalidResponse   = "invalid-response"
	DetailServerTimeout     = "server-timeout"
)

func haproxyWords(detail string) string {
	switch detail {
	case DetailNoServerAvailable:
		return "no backend server available"
	case DetailInvalidResponse:
		return "upstream sent an invalid response"
	case DetailServerTimeout:
		return "upstream timed out"
	}
	return ""
}

// haproxyPage: HAProxy's http_err_msgs (src/http.c). They start with
// "<html><body><h1>" and have a one-line sentence per status.
func (s *scan) haproxyPage() (verdict, bool) {
	const head = "<html><body><h1>"
	if !strings.HasPrefix(s.body, head) || !s.statusIs(s.body[len(head):]) {
		return verdict{}, false
	}
	switch {
	case s.contains("No server is available to handle this request."):
		return verdict{gateway: HAProxy, detail: DetailNoServerAvailable}, true
	case s.contains("The server returned an invalid or incomplete response."):
		return verdict{gateway: HAProxy, detail: DetailInvalidResponse}, true
	case s.contains("The server didn't respond in time."):
		return verdict{gateway: HAProxy, detail: DetailServerTimeout}, true
	}
	if s.get("Server") == "" {
		s.mark("body starts with " + strconv.Quote(head) + " and there is no Server header: HAProxy's error page layout")
		return verdict{gateway: HAProxy}, true
	}
	return verdict{}, false
}
