// Package gateway recognises which hop generated an HTTP error response
// (nginx, Cloudflare, HAProxy, an AWS ALB, Envoy, ...) from its headers first
// and body markers second, and which outer hops (CDNs) wrapped it.
package gateway

import "net/http"

// Identification is what the response says about the hops that produced it.
type Identification struct {
	// Gateway is the lowercase name of the hop that generated the response,
	// empty when none is recognised.
	Gateway string
	// Via lists outer hops seen in front of Gateway, outermost first.
	Via []string
	// Detail is a short stable token when the response itself names the
	// failure, e.g. "cloudflare-521", "no-healthy-upstream".
	Detail string
	// Headers are the header lines the verdict rests on, as "Name: value".
	Headers []string
	// Markers say which fact selected which verdict.
	Markers []string
}

// Identify inspects a response. body is a bounded excerpt (already cut).
// PLACEHOLDER: replaced by the fingerprint implementation.
func Identify(status int, h http.Header, body []byte) Identification {
	return Identification{}
}

// Gateway names, as they appear in result.Result.Gateway and Via.
const (
	Nginx          = "nginx"
	Apache         = "apache"
	HAProxy        = "haproxy"
	Envoy          = "envoy"
	Traefik        = "traefik"
	Caddy          = "caddy"
	Varnish        = "varnish"
	Cloudflare     = "cloudflare"
	CloudFront     = "cloudfront"
	AWSALB         = "aws-alb"
	GCPLB          = "gcp-lb"
	AzureAppGW     = "azure-appgw"
	AzureFrontDoor = "azure-frontdoor"
	Fastly         = "fastly"
	Akamai         = "akamai"
	Heroku         = "heroku"
	Vercel         = "vercel"
	Fly            = "fly"
)
