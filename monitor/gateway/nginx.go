package gateway

import (
	"strconv"
	"strings"
)

// Nginx is nginx, and the builds named after it (OpenResty, Tengine).
const Nginx = "nginx"

// nginxHeaders: Server: nginx[/version] or openresty. nginx may be the
// origin itself.
func (s *scan) nginxHeaders(f *headerFacts) {
	if strings.HasPrefix(f.lserver, "nginx") || strings.HasPrefix(f.lserver, "openresty") {
		s.evidence("Server", f.server)
		s.hops = append(s.hops, hop{name: Nginx, origin: true})
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
