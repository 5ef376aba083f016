package gateway

import (
	"net/http"
	"strconv"
	"strings"
)

// Traefik is the Traefik proxy. It sets no Server header, so only its
// bodies name it.
const Traefik = "traefik"

// DetailNoAvailableServer is Traefik's load balancer with no server to use.
const DetailNoAvailableServer = "no-available-server"

func traefikWords(detail string) string {
	if detail == DetailNoAvailableServer {
		return "no backend server available"
	}
	return ""
}

// traefikText: Traefik writes the bare status text without a newline (its
// ErrorHandler), and "no available server" via http.Error. It sets no
// Server header; Go's http.Error, which many apps use, adds a newline.
func (s *scan) traefikText() (verdict, bool) {
	if strings.TrimSpace(s.body) == "no available server" {
		s.mark(`body is "no available server"`)
		return verdict{gateway: Traefik, detail: DetailNoAvailableServer}, true
	}
	if s.get("Server") == "" && (s.status == 502 || s.status == 504) && s.body == http.StatusText(s.status) {
		s.mark("body is exactly " + strconv.Quote(s.body) + " with no newline and no Server header: Traefik's proxy error")
		return verdict{gateway: Traefik}, true
	}
	return verdict{}, false
}
