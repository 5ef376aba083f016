package gateway

import (
	"net/http"
	"strconv"
	"strings"
)

// readBody matches the error pages gateways generate. Pages that print a
// status must print the response's status, so an nginx page served with 200
// (a blog post quoting one, a custom page) is not taken for an nginx error.
// The checks run from the most specific page to the least.
func (s *scan) readBody() verdict {
	if s.status < 400 || len(s.body) == 0 {
		return verdict{}
	}
	for _, f := range []func() (verdict, bool){
		s.cloudflarePage,
		s.nginxStylePage,
		s.haproxyPage,
		s.varnishPage,
		s.envoyText,
		s.apachePage,
		s.cloudfrontPage,
		s.gcpPage,
		s.azureFrontDoorPage,
		s.herokuPage,
		s.vercelPage,
		s.akamaiPage,
		s.traefikText,
		s.caddyText,
	} {
		if v, ok := f(); ok {
			return v
		}
	}
	return verdict{}
}

// contains records a marker when the body holds sub.
func (s *scan) contains(sub string) bool {
	if strings.Contains(s.body, sub) {
		s.mark("body contains " + strconv.Quote(sub))
		return true
	}
	return false
}

// cloudflarePage: Cloudflare's branded pages (52x, and its copies of an
// origin's 502/504), and its 1xxx pages.
func (s *scan) cloudflarePage() (verdict, bool) {
	if !strings.Contains(s.body, "cf-error-details") && !strings.Contains(s.body, "cloudflare.com/5xx-error-landing") {
		return verdict{}, false
	}
	if !s.contains("cf-error-details") {
		s.contains("cloudflare.com/5xx-error-landing")
	}
	v := verdict{gateway: Cloudflare}
	if code, ok := after(s.body, "Error code ", 4); ok && code != "" {
		s.mark("body contains " + strconv.Quote("Error code "+code))
	}
	// 1xxx pages (e.g. the 1016 behind a 530) put the code in a span.
	if code, ok := between(s.body, `cf-error-code">`, "<"); ok && len(code) == 4 && code[0] == '1' {
		s.mark("body contains " + strconv.Quote(`cf-error-code">`+code))
		v.reason = "Cloudflare error " + code
	}
	switch {
	case isCloudflareCode(s.status):
		v.detail = cloudflareDetail(s.status)
	case s.status == 502 || s.status == 504:
		// "The web server reported a bad gateway error": the origin
		// answered 502/504 and Cloudflare only put its page on it.
		v.gateway = ""
		v.relayedBy = Cloudflare
		s.mark("Cloudflare branded " + itoa(s.status) + " page: the origin returned " + itoa(s.status) + ", Cloudflare relayed it")
		s.hopIfMissing(Cloudflare)
	}
	if v.gateway != "" {
		s.hopIfMissing(Cloudflare)
	}
	return v, true
}

// hopIfMissing adds a hop the body proves is on the path when the headers
// did not (a proxy in front may have stripped them).
func (s *scan) hopIfMissing(name string) {
	if !s.has(name) {
		s.hops = append([]hop{{name: name}}, s.hops...)
	}
}

// nginxStylePage: nginx's built-in page and the products that copied its
// markup. The footer names the generator; the AWS ALB has no footer.
func (s *scan) nginxStylePage() (verdict, bool) {
	const h1 = "<center><h1>"
	i := strings.Index(s.body, h1)
	if i < 0 || !strings.Contains(s.body, "<head><title>") {
		return verdict{}, false
	}
	rest := s.body[i+len(h1):]
	if !s.statusIs(rest) {
		s.mark("nginx-style error page for another status than " + itoa(s.status) + ": ignored")
		return verdict{}, false
	}
	s.mark("body contains " + strconv.Quote(h1+rest[:3]))
	footer, ok := between(rest, "<hr><center>", "</center>")
	if !ok {
		// AWS ALB: nginx's markup without the <hr><center> footer.
		s.mark("nginx-style page without the <hr><center> footer: AWS ALB markup")
		s.hopIfMissing(AWSALB)
		return verdict{gateway: AWSALB}, true
	}
	s.mark("body contains " + strconv.Quote("<hr><center>"+footer+"</center>"))
	lf := lowerASCII(footer)
	switch {
	case lf == "cloudflare" || lf == "cloudflare-nginx":
		s.mark("nginx-style page signed by Cloudflare: Cloudflare generated it")
		s.hopIfMissing(Cloudflare)
		return verdict{gateway: Cloudflare}, true
	case strings.HasPrefix(lf, "microsoft-azure-application-gateway"):
		s.hopIfMissing(AzureAppGW)
		return verdict{gateway: AzureAppGW}, true
	case strings.HasPrefix(lf, "nginx"), strings.HasPrefix(lf, "openresty"), strings.HasPrefix(lf, "tengine"):
		return verdict{gateway: Nginx}, true
	}
	// Another product reusing nginx (or a renamed build): nginx code made it.
	return verdict{gateway: Nginx, reason: "footer " + footer}, true
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

// varnishPage: builtin.vcl's synthetic page ("Guru Meditation") and Fastly's
// copy of it, spelled "Guru Mediation".
func (s *scan) varnishPage() (verdict, bool) {
	var v verdict
	switch {
	case s.contains("Guru Mediation:"):
		v.gateway = Fastly
		if d, ok := between(s.body, "<p>Details: ", "</p>"); ok {
			s.mark("body contains " + strconv.Quote("Details: "+d))
		}
	case s.contains("Guru Meditation:"):
		v.gateway = Varnish
		s.contains("Varnish cache server")
	default:
		return verdict{}, false
	}
	if r, ok := between(s.body, "<h1>Error ", "</h1>"); ok && len(r) > 4 && s.statusIs(r) {
		v.reason = strings.TrimSpace(r[4:])
	} else if r, ok := between(s.body, "<title>", "</title>"); ok && len(r) > 4 && s.statusIs(r) {
		v.reason = strings.TrimSpace(r[4:])
	}
	if v.reason != "" {
		v.detail = varnishDetail(v.reason)
		s.mark(v.gateway + " reason " + strconv.Quote(v.reason))
	}
	s.hopIfMissing(v.gateway)
	return v, true
}

// envoyText: Envoy's local replies are short text/plain bodies
// (source/common/router/router.cc).
func (s *scan) envoyText() (verdict, bool) {
	t := strings.TrimSpace(s.body)
	const connect = "upstream connect error or disconnect/reset before headers."
	switch {
	case strings.HasPrefix(t, connect):
		s.mark("body starts with " + strconv.Quote(connect))
		v := verdict{gateway: Envoy, detail: DetailUpstreamConnectError}
		if i := strings.Index(t, "reset reason: "); i >= 0 {
			r := firstLine(t[i+len("reset reason: "):])
			if j := strings.Index(r, ", transport failure reason: "); j >= 0 {
				s.mark("envoy transport failure reason " + strconv.Quote(r[j+len(", transport failure reason: "):]))
				r = r[:j]
			}
			v.reason = r
			s.mark("envoy reset reason " + strconv.Quote(r))
		}
		return v, true
	case t == "no healthy upstream":
		s.mark(`body is "no healthy upstream"`)
		return verdict{gateway: Envoy, detail: DetailNoHealthyUpstream}, true
	case t == "upstream request timeout":
		s.mark(`body is "upstream request timeout"`)
		return verdict{gateway: Envoy, detail: DetailUpstreamRequestTimeout}, true
	case t == "maintenance mode":
		s.mark(`body is "maintenance mode"`)
		return verdict{gateway: Envoy, detail: DetailMaintenanceMode}, true
	}
	return verdict{}, false
}

// apachePage: httpd's built-in pages (modules/http/http_protocol.c). The
// sentences are Apache's; the doctype changed across 2.4.x releases.
func (s *scan) apachePage() (verdict, bool) {
	t, ok := between(s.body, "<title>", "</title>")
	if !ok || !s.statusIs(t) {
		return verdict{}, false
	}
	if !s.contains("The proxy server received an invalid") &&
		!s.contains("The gateway did not receive a timely response") &&
		!s.contains("The server is temporarily unable to service your") &&
		!s.contains("<h1>Proxy Error</h1>") {
		return verdict{}, false
	}
	v := verdict{gateway: Apache}
	if r, ok := between(s.body, "Reason: <strong>", "</strong>"); ok {
		v.reason = r
		s.mark("apache reason " + strconv.Quote(r))
	}
	return v, true
}

// cloudfrontPage: CloudFront's own error page.
func (s *scan) cloudfrontPage() (verdict, bool) {
	if s.contains("Generated by cloudfront (CloudFront)") || s.contains("ERROR: The request could not be satisfied") {
		s.hopIfMissing(CloudFront)
		return verdict{gateway: CloudFront}, true
	}
	return verdict{}, false
}

// gcpPage: the Google front end's error pages for the external LB.
func (s *scan) gcpPage() (verdict, bool) {
	if s.status < 500 || !strings.Contains(s.body, "The server encountered a temporary error and could not complete your request.") {
		return verdict{}, false
	}
	if !s.contains("<h1>Error: Server Error</h1>") && !s.contains("That’s an error.") {
		return verdict{}, false
	}
	s.contains("The server encountered a temporary error and could not complete your request.")
	s.hopIfMissing(GCPLB)
	return verdict{gateway: GCPLB}, true
}

// azureFrontDoorPage: Front Door's own "Our services aren't available right
// now" page (the apostrophe is sometimes an entity or a curly quote).
func (s *scan) azureFrontDoorPage() (verdict, bool) {
	if strings.Contains(s.body, "available right now") && s.contains("Our services aren") {
		s.hopIfMissing(AzureFrontDoor)
		return verdict{gateway: AzureFrontDoor}, true
	}
	return verdict{}, false
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

// vercelPage: Vercel's error pages print "Code: FUNCTION_INVOCATION_TIMEOUT"
// (sometimes with the code in a <code> element); the X-Vercel-Error header
// carries the same code.
func (s *scan) vercelPage() (verdict, bool) {
	code := ""
	if i := strings.Index(s.body, "Code: "); i >= 0 {
		code = upperSnake(strings.TrimPrefix(s.body[i+len("Code: "):], "<code>"))
	}
	// An app page may print "Code: SOME_ERROR" too: believe it only with a
	// Vercel header or a code that only Vercel uses.
	if code != "" && (s.has(Vercel) || vercelDetail(code) != "") {
		s.mark("body contains " + strconv.Quote("Code: "+code))
	} else if hdr := upperSnake(s.get("X-Vercel-Error")); hdr != "" {
		code = hdr
	} else {
		return verdict{}, false
	}
	s.hopIfMissing(Vercel)
	return verdict{gateway: Vercel, detail: vercelDetail(code), reason: code}, true
}

// akamaiPage: Akamai edge pages end with "Reference #<n>.<hex>.<epoch>.<hex>",
// often HTML-escaped as "Reference&#32;&#35;".
func (s *scan) akamaiPage() (verdict, bool) {
	ref, ok := after(s.body, "Reference #", 64)
	if !ok {
		const escaped = "Reference&#32;&#35;"
		if i := strings.Index(s.body, escaped); i >= 0 {
			rest := s.body[i+len(escaped):]
			rest = rest[:min(len(rest), 160)]
			ref, ok = after(strings.ReplaceAll(rest, "&#46;", "."), "", 64)
		}
	}
	if !ok || ref == "" || ref[0] < '0' || ref[0] > '9' {
		return verdict{}, false
	}
	akamaiText := strings.Contains(s.body, "edgesuite.net") ||
		strings.Contains(s.body, "The proxy server did not receive a timely response") ||
		strings.Contains(s.body, "An error occurred while processing your request.") ||
		strings.Contains(s.body, "You don't have permission to access") ||
		s.has(Akamai)
	if !akamaiText {
		return verdict{}, false
	}
	s.mark("body carries the Akamai error reference " + strconv.Quote("Reference #"+ref))
	s.hopIfMissing(Akamai)
	return verdict{gateway: Akamai, reason: "Reference #" + ref}, true
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

// caddyText: Caddy's reverse proxy error text, when an error handler
// writes it into the body.
func (s *scan) caddyText() (verdict, bool) {
	if s.status == 503 && s.contains("no upstreams available") {
		return verdict{gateway: Caddy, detail: DetailNoUpstreams}, true
	}
	return verdict{}, false
}

// statusIs reports whether s starts with the response's status code and
// then a non-digit.
func (s *scan) statusIs(t string) bool {
	if len(t) < 3 {
		return false
	}
	n := 0
	for i := 0; i < 3; i++ {
		c := t[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	if len(t) > 3 && t[3] >= '0' && t[3] <= '9' {
		return false
	}
	return n == s.status
}

// between returns the text after open up to close, if both are present
// and the text is short (markers are one line, not a page).
func between(s, open, close string) (string, bool) {
	i := strings.Index(s, open)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(open):]
	j := strings.Index(rest, close)
	if j < 0 || j > 200 {
		return "", false
	}
	return rest[:j], true
}

// after returns up to max bytes of word characters (letters, digits, dots,
// hyphens) that follow prefix.
func after(s, prefix string, max int) (string, bool) {
	i := strings.Index(s, prefix)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(prefix):]
	n := 0
	for n < len(rest) && n < max && isWordByte(rest[n]) {
		n++
	}
	return rest[:n], true
}

// upperSnake returns the leading run of A-Z, 0-9 and '_'.
func upperSnake(s string) string {
	n := 0
	for n < len(s) && n < 64 {
		c := s[n]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			break
		}
		n++
	}
	return s[:n]
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.TrimSpace(s)
}

func itoa(n int) string { return strconv.Itoa(n) }
