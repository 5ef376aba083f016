package gateway

// Detail tokens this package sets. The fixes knowledge base and users'
// scripts match on the exact strings, so they never change once released.
const (
	// Cloudflare's own status codes: always about Cloudflare↔origin.
	DetailCloudflare520 = "cloudflare-520"
	DetailCloudflare521 = "cloudflare-521"
	DetailCloudflare522 = "cloudflare-522"
	DetailCloudflare523 = "cloudflare-523"
	DetailCloudflare524 = "cloudflare-524"
	DetailCloudflare525 = "cloudflare-525"
	DetailCloudflare526 = "cloudflare-526"
	DetailCloudflare527 = "cloudflare-527"
	DetailCloudflare530 = "cloudflare-530"

	// Envoy local replies. The reset reason of an upstream connect error
	// ("connection failure", "protocol error", ...) goes to Reason and a marker.
	DetailNoHealthyUpstream      = "no-healthy-upstream"
	DetailUpstreamConnectError   = "upstream-connect-error"
	DetailUpstreamRequestTimeout = "upstream-request-timeout"
	DetailMaintenanceMode        = "maintenance-mode"

	// HAProxy built-in error pages.
	DetailNoServerAvailable = "no-server-available"
	DetailInvalidResponse   = "invalid-response"
	DetailServerTimeout     = "server-timeout"

	// Varnish and Fastly synthetic errors.
	DetailBackendFetchFailed = "backend-fetch-failed"
	DetailFirstByteTimeout   = "first-byte-timeout"
	DetailBackendReadError   = "backend-read-error"
	DetailMaxConnReached     = "max-conn-reached"
	DetailConnectionRefused  = "connection-refused"  // Fastly "Connection refused"
	DetailAllBackendsFailed  = "all-backends-failed" // Fastly "All backends failed or unhealthy"

	// Traefik and Caddy.
	DetailNoAvailableServer = "no-available-server"
	DetailNoUpstreams       = "no-upstreams"

	// Vercel error codes (vercel.com/docs/errors), lower-cased with hyphens.
	DetailFunctionInvocationTimeout     = "function-invocation-timeout"
	DetailEdgeFunctionInvocationTimeout = "edge-function-invocation-timeout"
	DetailMiddlewareInvocationTimeout   = "middleware-invocation-timeout"
	DetailFunctionInvocationFailed      = "function-invocation-failed"
	DetailNoResponseFromFunction        = "no-response-from-function"
	DetailBodyNotAStringFromFunction    = "body-not-a-string-from-function"
	DetailFunctionThrottled             = "function-throttled"
	DetailDeploymentPaused              = "deployment-paused"
	DetailDNSHostnameNotFound           = "dns-hostname-not-found"
	DetailDNSHostnameResolveFailed      = "dns-hostname-resolve-failed"
	DetailDNSHostnameServerError        = "dns-hostname-server-error"
	DetailDNSHostnameEmpty              = "dns-hostname-empty"
)

// vercelDetail maps the Vercel codes that mean a gateway failure to their
// tokens. A function, not a package variable, so nothing global is mutable.
func vercelDetail(code string) string {
	switch code {
	case "FUNCTION_INVOCATION_TIMEOUT":
		return DetailFunctionInvocationTimeout
	case "EDGE_FUNCTION_INVOCATION_TIMEOUT":
		return DetailEdgeFunctionInvocationTimeout
	case "MIDDLEWARE_INVOCATION_TIMEOUT":
		return DetailMiddlewareInvocationTimeout
	case "FUNCTION_INVOCATION_FAILED":
		return DetailFunctionInvocationFailed
	case "NO_RESPONSE_FROM_FUNCTION":
		return DetailNoResponseFromFunction
	case "BODY_NOT_A_STRING_FROM_FUNCTION":
		return DetailBodyNotAStringFromFunction
	case "FUNCTION_THROTTLED":
		return DetailFunctionThrottled
	case "DEPLOYMENT_PAUSED":
		return DetailDeploymentPaused
	case "DNS_HOSTNAME_NOT_FOUND":
		return DetailDNSHostnameNotFound
	case "DNS_HOSTNAME_RESOLVE_FAILED":
		return DetailDNSHostnameResolveFailed
	case "DNS_HOSTNAME_SERVER_ERROR":
		return DetailDNSHostnameServerError
	case "DNS_HOSTNAME_EMPTY":
		return DetailDNSHostnameEmpty
	}
	return ""
}

// varnishDetail maps a Varnish or Fastly reason phrase to its token.
func varnishDetail(reason string) string {
	switch lowerASCII(reason) {
	case "backend fetch failed":
		return DetailBackendFetchFailed
	case "first byte timeout":
		return DetailFirstByteTimeout
	case "backend read error":
		return DetailBackendReadError
	case "backend.max_conn reached":
		return DetailMaxConnReached
	case "connection refused":
		return DetailConnectionRefused
	case "all backends failed or unhealthy":
		return DetailAllBackendsFailed
	}
	return ""
}
