package fixes

import (
	"github.com/vantage-monitor/vantage/monitor/gateway"
	"github.com/vantage-monitor/vantage/monitor/result"
)

// Steps shared by several entries are constants, so Suggest's de-duplication
// drops the repeat when more than one of those entries applies.
const (
	stepShowChain = "Check the served chain with SNI: openssl s_client -connect {host}:{port} -servername {host} -showcerts </dev/null"
	// An IP literal host sends no SNI: the server shows its default chain.
	stepShowChainNoSNI = "Check the served chain (an IP address sends no SNI, so this is the server's default): openssl s_client -connect {host}:{port} -showcerts </dev/null"

	// Connection refused: what to check depends on the address dialled.
	stepRefused         = "{target} refused the connection: nothing listens on port {port}, or a firewall REJECTs it. There: ss -ltnp | grep ':{port} '; systemctl status <service>."
	stepRefusedPublic   = "If the service runs, make sure it binds the public address (0.0.0.0), not 127.0.0.1, and look for firewall REJECT rules: iptables -S; nft list ruleset."
	stepRefusedPrivate  = "If the service runs, make sure it listens on {ip} (that interface) or 0.0.0.0, not only 127.0.0.1, and look for firewall REJECT rules: iptables -S; nft list ruleset."
	stepRefusedLoopback = "{ip} is the loopback of the host the check ran on: the service must run on that host and listen on loopback port {port}; check the port in the URL."
	stepRefusedDNS      = "If {host} resolves to an old or wrong IP, fix its DNS record; if it is a load balancer, check its listener on port {port}."
	stepRefusedNoDNS    = "If {target} is a load balancer or a NAT rule, check its listener or forward on port {port}; if the service moved, update the address in the check."

	// A connect timeout to a name may be a stale record.
	stepTimeoutDNS = "Confirm {ip} is still the server's address: if {host} moved, its DNS record or a cached answer may point at the old IP."

	// TLS name checks depend on whether the check used a name or an IP.
	stepMismatchVhost   = "Hostname mismatch: the server sent a certificate for another name, often its default vhost because no server_name/ServerName matches; check the vhost and SNI."
	stepMismatchNoSNI   = "The check dials an IP address, so it sends no SNI and gets the server's default certificate: check by the name the certificate is for, or add the IP as an IP SAN."
	stepMismatchLB      = "Behind a load balancer or CDN, attach the certificate for {host} to the listener or distribution (ALB listener certificates, CloudFront alternate domain names)."
	stepMismatchNames   = "The certificate covers only {dns_names}: add {host} to its SAN list or check a covered name."
	stepMismatchNamesIP = "The certificate covers only {dns_names}, no IP: check by one of those names, or issue one with this IP as an IP SAN."

	// nginx's 502 causes, by the error.log line each leaves.
	stepNginxRefused   = "In /var/log/nginx/error.log, 'connect() failed (111: Connection refused) while connecting to upstream': nothing listens on the upstream port; check the app (ss -ltnp) and proxy_pass host:port."
	stepNginxPremature = "'upstream prematurely closed connection': the app worker died mid-request (gunicorn WORKER TIMEOUT, uWSGI HARAKIRI, OOM kill: dmesg | grep -i 'killed process')."
	stepNginxReset     = "'recv() failed (104: Connection reset by peer)': the app crashed, or it drops idle keep-alive connections nginx still reuses; set its keep-alive above keepalive_timeout in upstream{}."
	stepNginxBadHeader = "'upstream sent too big header': raise proxy_buffer_size/proxy_buffers. 'upstream sent invalid header' or 'no valid HTTP/1.0 header': the app answers broken HTTP (wrong port or protocol?)."
	stepNginxNoLive    = "'no live upstreams': every server in the upstream{} block is marked failed (max_fails/fail_timeout); fix the backend, then review max_fails and proxy_next_upstream."
	stepNginxSocket    = "'connect() to unix:/run/php/... failed (2: No such file or directory)' or '(13: Permission denied)': fastcgi_pass must match the php-fpm pool's listen, listen.owner and listen.mode."

	stepNginx504Grep    = "grep 'upstream timed out' /var/log/nginx/error.log: 'while reading response header from upstream' means a slow app; 'while connecting to upstream' means the app host is unreachable."
	stepNginx504Slow    = "The app took longer than proxy_read_timeout (default 60s; fastcgi_read_timeout and uwsgi_read_timeout too); speed up that request or raise the timeout for its location only."
	stepNginx504Workers = "For php-fpm, grep 'pm.max_children' in the php-fpm log ('server reached pm.max_children setting'): requests queue until nginx gives up; raise it within available RAM."

	// What the diagnosis's direct probe of the origin saw, for any gateway.
	stepOriginRefuses  = "The origin {origin} refuses the connection when probed directly too: nothing listens there. Start the app or fix its listen address and port (ss -ltnp on that host)."
	stepOriginResets   = "The origin {origin} resets the connection when probed directly too: the app crashes on each request, or a firewall in front of it resets; check its log and dmesg there."
	stepOriginTimesOut = "The origin {origin} does not answer when probed directly either: its host is down or overloaded, or a firewall drops the packets; look at that host first, not the gateway."
	stepGatewayPath    = "The origin {origin} answers fine when probed directly: the fault is between the gateway and it. Check the upstream address it uses (and its DNS), firewalls, TLS."

	// What the diagnosis's resolvers said.
	stepDNSDisagree = "Resolvers disagree about {host} (see the diagnosis): one has a stale cache or a split-horizon view, or a DNS change is spreading; dig @<each resolver>, fix the odd one."
)

// stepFits lists the steps that fit only some targets, with the facts
// about what was dialled that they need (fixes.go works them out once per
// result). Suggest leaves a step out where its facts do not hold, wherever
// the step is listed; every other step fits every target.
//
// It is never written after initialisation.
var stepFits = map[string][]cond{
	stepRefusedPublic:   {dialled(addrPublic, addrUnknown)},
	stepRefusedPrivate:  {dialled(addrPrivate)},
	stepRefusedLoopback: {dialled(addrLoopback)},
	// Only a looked-up name has a DNS record that can be wrong.
	stepRefusedDNS:   {nameLookedUp(), dialled(addrPublic, addrPrivate, addrUnknown)},
	stepRefusedNoDNS: {noNameLookedUp(), dialled(addrPublic, addrPrivate, addrUnknown)},
	stepTimeoutDNS:   {nameLookedUp()},

	stepShowChain:       {hostIsIP(false)},
	stepShowChainNoSNI:  {hostIsIP(true)},
	stepMismatchVhost:   {hostIsIP(false)},
	stepMismatchNoSNI:   {hostIsIP(true)},
	stepMismatchLB:      {hostIsIP(false)},
	stepMismatchNames:   {hostIsIP(false)},
	stepMismatchNamesIP: {hostIsIP(true)},
}

// gatewayClasses are the failures a gateway reports about what is behind
// it: the ones whose origin the diagnosis probes directly.
var gatewayClasses = []result.Class{result.ClassBadGateway, result.ClassGatewayTimeout, result.ClassServiceUnavailable}

// knowledge is the knowledge base. It is data reviewed like code: every entry
// has a case in kb_test.go showing which facts select it, and the facts behind
// the steps, with the vendors' documentation, are in docs/gateways.md.
//
// Rules for entries: steps are for the operator of the service (commands,
// config directives, log lines, file paths), in the order to try them, each
// at most MaxStepLen runes. Placeholders: {host} {port} {url} {final_url}
// {target} (remote addr, else host:port) {ip} {status} {gateway} {via}
// {detail} {retry_after} {not_after} {not_before} {issuer} {dns_names}
// {origin} (the origin the diagnosis probed directly). A step whose
// placeholder is empty is dropped, so the last-resort entry of each
// class keeps at least one step without placeholders.
//
// Order within the table only breaks ties between entries of equal weight;
// keep vendor entries above the generic per-class ones.
//
// It is never written after initialisation.
var knowledge = []entry{
	// --- Relayed by a CDN -------------------------------------------------
	{
		id:   "relayed-by-cdn",
		when: []cond{relayed()},
		steps: []string{
			"{gateway} generated this error and {via} only relayed it: the fault is at {gateway} or behind it, not at the CDN edge.",
		},
	},

	// --- nginx ---------------------------------------------------------
	{
		id:    "nginx-502",
		when:  []cond{class(result.ClassBadGateway), gw(gateway.Nginx)},
		steps: []string{stepNginxRefused, stepNginxPremature, stepNginxReset, stepNginxBadHeader, stepNginxNoLive, stepNginxSocket},
	},
	// The diagnosis probed the origin directly: what it saw says which of
	// nginx's 502 causes it is, and rules the others out.
	{
		id:       "nginx-502-upstream-refuses",
		when:     []cond{class(result.ClassBadGateway), gw(gateway.Nginx), originSaw(result.ClassConnectionRefused)},
		rulesOut: []string{"nginx-502"},
		steps:    []string{stepNginxRefused, stepOriginRefuses, stepNginxNoLive},
	},
	{
		id:       "nginx-502-upstream-resets",
		when:     []cond{class(result.ClassBadGateway), gw(gateway.Nginx), originSaw(result.ClassConnectionReset)},
		rulesOut: []string{"nginx-502"},
		steps:    []string{stepNginxReset, stepNginxPremature, stepOriginResets},
	},
	{
		// The origin answers fine: the app is not crashing or answering
		// broken HTTP; what is left is where and how nginx reaches it.
		id:       "nginx-502-gateway-path",
		when:     []cond{class(result.ClassBadGateway), gw(gateway.Nginx), found(result.FindingGatewayPath)},
		rulesOut: []string{"nginx-502"},
		steps:    []string{stepGatewayPath, stepNginxRefused, stepNginxNoLive, stepNginxSocket},
	},
	{
		id:    "nginx-504",
		when:  []cond{class(result.ClassGatewayTimeout), gw(gateway.Nginx)},
		steps: []string{stepNginx504Grep, stepNginx504Slow, stepNginx504Workers},
	},
	{
		// The origin does not even accept a connection: not a slow app.
		id:       "nginx-504-upstream-unreachable",
		when:     []cond{class(result.ClassGatewayTimeout), gw(gateway.Nginx), originSaw(result.ClassConnectTimeout, result.ClassNetworkUnreachable)},
		rulesOut: []string{"nginx-504"},
		steps:    []string{stepOriginTimesOut, stepNginx504Grep},
	},
	{
		id:   "nginx-503",
		when: []cond{class(result.ClassServiceUnavailable), gw(gateway.Nginx)},
		steps: []string{
			"nginx answers 503 itself for limit_req/limit_conn: grep -e 'limiting requests' -e 'limiting connections' /var/log/nginx/error.log; exempt the monitor or raise rate/burst.",
			"Behind ingress-nginx, a 503 means the Service has no ready endpoints: kubectl get endpointslices -n <ns>; check the Service selector, targetPort and readiness probes.",
			"If neither, the upstream itself returned 503: check the app behind nginx (maintenance mode, overload) and its logs.",
		},
	},

	// --- Cloudflare: 52x codes always describe Cloudflare→origin ----------
	{
		id:   "cloudflare-520",
		when: []cond{detail(gateway.DetailCloudflare520)},
		steps: []string{
			"Cloudflare 520: the origin sent an empty or unexpected response; check the origin's error log for crashes at that time; response headers over 128 KB also cause it.",
			"Then try turning off 'HTTP/2 to Origin', check Authenticated Origin Pulls, and make sure the origin allows Cloudflare IPs (https://www.cloudflare.com/ips).",
		},
	},
	{
		id:   "cloudflare-521",
		when: []cond{detail(gateway.DetailCloudflare521)},
		steps: []string{
			"Cloudflare 521: the origin refused Cloudflare's TCP connection: the web server is down, or a firewall rejects Cloudflare IPs. Look at the origin server, not Cloudflare.",
			"Check the web server listens on 443 (SSL Full/strict) or 80 (Flexible): ss -ltnp; allowlist https://www.cloudflare.com/ips in iptables, fail2ban or the security group.",
		},
	},
	{
		id:   "cloudflare-522",
		when: []cond{detail(gateway.DetailCloudflare522)},
		steps: []string{
			"Cloudflare 522: Cloudflare's SYN to the origin got no SYN+ACK within 19s: a firewall silently drops Cloudflare IPs or the origin IP is wrong. Look at the network path, not the app.",
			"Check the origin A/AAAA record in the Cloudflare DNS dashboard, and that the security group/iptables accept all Cloudflare ranges on 80/443 with no DROP or SYN rate limit.",
		},
	},
	{
		id:   "cloudflare-523",
		when: []cond{detail(gateway.DetailCloudflare523)},
		steps: []string{
			"Cloudflare 523: the origin is unreachable (no route): check the origin IP in Cloudflare DNS and the origin network's routes (e.g. a 172.0.0.0/8 route capturing 172.64.0.0/13).",
		},
	},
	{
		id:   "cloudflare-524",
		when: []cond{detail(gateway.DetailCloudflare524)},
		steps: []string{
			"Cloudflare 524: the origin accepted the connection but sent no response within ~100-120s: the app is too slow. Look at the origin's slow requests, not the network.",
			"Move long-running work off the proxied hostname (background job plus status polling) or serve it from a DNS-only hostname; Enterprise plans can raise proxy_read_timeout.",
		},
	},
	{
		id:   "cloudflare-525",
		when: []cond{detail(gateway.DetailCloudflare525)},
		steps: []string{
			"Cloudflare 525: the TLS handshake Cloudflare→origin failed: the origin must serve a certificate on 443 with SNI and a shared cipher; a Cloudflare Origin CA certificate works.",
		},
	},
	{
		id:   "cloudflare-526",
		when: []cond{detail(gateway.DetailCloudflare526)},
		steps: []string{
			"Cloudflare 526: the origin certificate is invalid under SSL Full (strict) (expired, self-signed or wrong SAN); install a valid or Cloudflare Origin CA certificate on the origin.",
			"Check the origin's certificate directly: openssl s_client -connect <origin-ip>:443 -servername {host} </dev/null | openssl x509 -noout -dates -ext subjectAltName",
		},
	},
	{
		id:   "cloudflare-530",
		when: []cond{detail(gateway.DetailCloudflare530)},
		steps: []string{
			"Cloudflare 530: Cloudflare could not resolve or reach the origin; the page carries a 1xxx code. Check the origin DNS record and, if one serves this host, the Cloudflare Tunnel (cloudflared).",
		},
	},
	{
		id:   "cloudflare-527",
		when: []cond{detail(gateway.DetailCloudflare527)},
		steps: []string{
			"Cloudflare 527: the Railgun listener could not reach the origin; Railgun is discontinued, so remove it from the zone and let Cloudflare connect to the origin directly.",
		},
	},
	{
		id:   "cloudflare-branded-origin-error",
		when: []cond{class(result.ClassBadGateway, result.ClassGatewayTimeout), noGateway(), via(gateway.Cloudflare)},
		steps: []string{
			"Cloudflare's branded {status} page means the origin itself answered {status}: look at the origin's web server and app logs, not at Cloudflare.",
		},
	},
	{
		id:   "cloudflare-503",
		when: []cond{class(result.ClassServiceUnavailable), gw(gateway.Cloudflare)},
		steps: []string{
			"A Cloudflare 503 whose page mentions cloudflare is Cloudflare's own (check www.cloudflarestatus.com); otherwise the origin is overloaded or rate-limiting: check its logs.",
		},
	},
	{
		id:   "cloudflare",
		when: []cond{onPath(gateway.Cloudflare)},
		steps: []string{
			"Correlate with the Ray ID: the cf-ray header value is also sent to the origin; log $http_cf_ray (nginx) at the origin and find that request.",
			"Test the origin without Cloudflare: curl -sv --resolve {host}:443:<origin-ip> https://{host}/ from outside the origin network.",
		},
	},

	// --- AWS ------------------------------------------------------------
	{
		id:   "aws-alb-502",
		when: []cond{class(result.ClassBadGateway), gw(gateway.AWSALB)},
		steps: []string{
			"ALB 502: a target keep-alive shorter than the ALB idle timeout (60s) makes the ALB reuse closed connections; set the app's above 60s (Node server.keepAliveTimeout, nginx keepalive_timeout).",
			"Check target health: aws elbv2 describe-target-health --target-group-arn <arn>; targets refusing or resetting connections, or deregistering, also cause 502.",
			"Other ALB 502 causes: response headers over 32 KB, malformed headers, Lambda target errors, or a failed TLS handshake to an HTTPS target.",
		},
	},
	{
		id:   "aws-alb-503",
		when: []cond{class(result.ClassServiceUnavailable), gw(gateway.AWSALB)},
		steps: []string{
			"ALB 503: the target group has no registered targets or all are unused: aws elbv2 describe-target-health --target-group-arn <arn>; check the listener rule forwards to the right group.",
		},
	},
	{
		id:   "aws-alb-504",
		when: []cond{class(result.ClassGatewayTimeout), gw(gateway.AWSALB)},
		steps: []string{
			"ALB 504: the target did not answer within the idle timeout (60s default) or connect took over 10s; check slow requests and idle_timeout.timeout_seconds in describe-load-balancer-attributes.",
			"Check that security groups and NACLs allow return traffic on ephemeral ports 1024-65535 between the ALB and its targets.",
		},
	},
	{
		id:   "aws-alb",
		when: []cond{gw(gateway.AWSALB)},
		steps: []string{
			"Compare CloudWatch HTTPCode_ELB_5XX_Count (made by the ALB) with HTTPCode_Target_5XX_Count (from your app); in ALB access logs, elb_status_code vs target_status_code.",
		},
	},
	{
		id:   "cloudfront-502",
		when: []cond{class(result.ClassBadGateway), gw(gateway.CloudFront)},
		steps: []string{
			"CloudFront 502 (X-Cache: Error from cloudfront): it could not connect to the origin, usually TLS: the origin cert must match the origin domain or Host header, be unexpired and send its chain.",
			"Check the origin protocol and port in the distribution's origin settings, and Lambda@Edge / CloudFront Functions errors in CloudWatch.",
		},
	},
	{
		id:   "cloudfront-504",
		when: []cond{class(result.ClassGatewayTimeout), gw(gateway.CloudFront)},
		steps: []string{
			"CloudFront 504: the origin did not answer within the origin response timeout (default 30s) or a firewall blocks CloudFront; allow the CloudFront managed prefix list at the origin.",
		},
	},
	{
		id:   "cloudfront",
		when: []cond{onPath(gateway.CloudFront)},
		steps: []string{
			"Look up the request by its X-Amz-Cf-Id in CloudFront standard or real-time logs to see the edge result type and the origin's status.",
		},
	},

	// --- Google Cloud, Azure ----------------------------------------------
	{
		id:   "gcp-lb-502",
		when: []cond{class(result.ClassBadGateway), gw(gateway.GCPLB)},
		steps: []string{
			"If statusDetails is backend_connection_closed_before_data_sent_to_client: the backend's keep-alive is below the LB's fixed 600s; set it above 600s (e.g. nginx keepalive_timeout 620s).",
			"failed_to_pick_backend or failed_to_connect_to_backend: gcloud compute backend-services get-health <backend-service> --global; firewall must allow 35.191.0.0/16 and 130.211.0.0/22.",
		},
	},
	{
		id:   "gcp-lb-504",
		when: []cond{class(result.ClassGatewayTimeout), gw(gateway.GCPLB)},
		steps: []string{
			"backend_timeout: the backend took longer than the backend service timeout (default 30s); speed it up or gcloud compute backend-services update <backend-service> --global --timeout=<s>.",
		},
	},
	{
		id:   "gcp-lb",
		when: []cond{gw(gateway.GCPLB)},
		steps: []string{
			"Read why the LB failed: gcloud logging read 'resource.type=\"http_load_balancer\" httpRequest.status>=500' --limit=20 --format='value(jsonPayload.statusDetails)'",
			"Check backend health: gcloud compute backend-services get-health <backend-service> --global",
		},
	},
	{
		id:   "azure-appgw",
		when: []cond{gw(gateway.AzureAppGW)},
		steps: []string{
			"Application Gateway: az network application-gateway show-backend-health -g <rg> -n <gateway>; an empty pool, failing probes, or NSG/UDR/custom DNS blocking backends all give 502.",
			"The default probe wants HTTP 200-399 every 30s from each backend; if a custom probe is set, check its host, path, port and accepted status codes.",
		},
	},
	{
		id:   "azure-frontdoor-504",
		when: []cond{class(result.ClassGatewayTimeout), gw(gateway.AzureFrontDoor)},
		steps: []string{
			"Front Door 504 (OriginTimeout): the origin did not answer within the origin response timeout (30s default, 16-240s on Standard/Premium); speed up the origin or raise the timeout.",
		},
	},
	{
		id:   "azure-frontdoor",
		when: []cond{gw(gateway.AzureFrontDoor)},
		steps: []string{
			"Find the request in the Front Door access log by the X-Azure-Ref value (TrackingReference): it shows the origin's status and ErrorInfo (OriginTimeout, OriginInvalidResponse).",
		},
	},

	// --- Envoy / Istio ----------------------------------------------------
	{
		id:   "envoy-passthrough",
		when: []cond{class(result.ClassBadGateway, result.ClassServiceUnavailable, result.ClassGatewayTimeout, result.ClassServerError), header("x-envoy-upstream-service-time")},
		steps: []string{
			"Envoy relayed this error from the app (x-envoy-upstream-service-time is set): read the app container's logs (kubectl logs <pod> -c <app>), not the proxy's.",
		},
	},
	{
		id:   "envoy-protocol-error",
		when: []cond{detail(gateway.DetailUpstreamConnectError), evidence("protocol error")},
		steps: []string{
			"Reset reason 'protocol error' (flag UPE): the app spoke another protocol than Envoy expected; check the Service port name/appProtocol (http, http2, grpc, tcp).",
		},
	},
	{
		id:   "envoy-transport-failure",
		when: []cond{detail(gateway.DetailUpstreamConnectError), evidence("transport failure reason")},
		steps: []string{
			"A transport failure reason means TLS to the upstream failed: compare the mTLS mode (PeerAuthentication STRICT/PERMISSIVE) with the DestinationRule tls settings.",
		},
	},
	{
		id:   "envoy-overflow",
		when: []cond{detail(gateway.DetailUpstreamConnectError), evidence("overflow")},
		steps: []string{
			"Reset reason 'overflow' (flag UO): a circuit breaker tripped; check the DestinationRule connectionPool and outlierDetection limits against real traffic.",
		},
	},
	{
		id:   "envoy-connection-failure",
		when: []cond{detail(gateway.DetailUpstreamConnectError), evidence("connection failure")},
		steps: []string{
			"Reset reason 'connection failure' (flag UF): nothing accepted the connection at the endpoint; check the container port and that the app listens on 0.0.0.0, not 127.0.0.1.",
		},
	},
	{
		id:   "envoy-upstream-connect-error",
		when: []cond{detail(gateway.DetailUpstreamConnectError)},
		steps: []string{
			"Envoy lost the upstream before response headers (flags UF/UC/UR): the body's 'reset reason' says how; check kubectl logs <pod> -c istio-proxy and the app container's restarts.",
		},
	},
	{
		id:   "envoy-no-healthy-upstream",
		when: []cond{detail(gateway.DetailNoHealthyUpstream)},
		steps: []string{
			"Envoy 503 'no healthy upstream' (flag UH): the cluster has no healthy endpoints; run istioctl proxy-config endpoints <pod> and check the backing pods' readiness.",
			"Check that the DestinationRule subsets' labels match running pods and that the Service selector finds them: kubectl get endpointslices -n <ns>.",
		},
	},
	{
		id:   "envoy-upstream-request-timeout",
		when: []cond{detail(gateway.DetailUpstreamRequestTimeout)},
		steps: []string{
			"Envoy 504 'upstream request timeout' (flag UT): the route timeout expired (15s by default); speed up the app or raise timeout on the VirtualService/route.",
		},
	},
	{
		id:   "envoy-maintenance-mode",
		when: []cond{detail(gateway.DetailMaintenanceMode)},
		steps: []string{
			"Envoy 503 'maintenance mode': the cluster was put in maintenance via the runtime key upstream.maintenance_mode.<cluster>; check the runtime and overload manager settings.",
		},
	},
	{
		id:   "envoy-generated",
		when: []cond{gw(gateway.Envoy), noHeader("x-envoy-upstream-service-time")},
		steps: []string{
			"Envoy made this response itself: find its access log line (kubectl logs <pod> -c istio-proxy) and read %RESPONSE_FLAGS%: UH no healthy host, UF connect failure, UT timeout, UPE protocol.",
			"See the proxy's view of the upstream: istioctl proxy-config cluster <pod> and istioctl proxy-config endpoints <pod>; look for UNHEALTHY endpoints.",
		},
	},

	// --- HAProxy, Traefik, Caddy, Apache -------------------------------------
	{
		id:   "haproxy-no-server",
		when: []cond{detail(gateway.DetailNoServerAvailable)},
		steps: []string{
			"HAProxy 503 'No server is available': all servers in the backend are DOWN or the queue timed out; run echo 'show servers state' | socat stdio /run/haproxy/admin.sock.",
			"In the HAProxy log, <NOSRV> means no server was picked, sQ a queue timeout (timeout queue), SC/sC a refused or timed-out connect; fix the health check (option httpchk) or the servers.",
		},
	},
	{
		id:   "haproxy-server-timeout",
		when: []cond{detail(gateway.DetailServerTimeout)},
		steps: []string{
			"HAProxy 504: 'timeout server' expired before the response headers (log state sH); speed up the backend or raise timeout server for the slow backend only.",
		},
	},
	{
		id:   "haproxy-invalid-response",
		when: []cond{detail(gateway.DetailInvalidResponse)},
		steps: []string{
			"HAProxy 502: the server sent an invalid or incomplete response (log state SH: it aborted or crashed; PH: HAProxy blocked a bad header); check the backend's logs and header syntax.",
		},
	},
	{
		id:   "haproxy",
		when: []cond{gw(gateway.HAProxy)},
		steps: []string{
			"Read the termination state in the HAProxy log (e.g. SH--, sH--, SC--): the first letter says who ended the session (S server, s server timeout), the second the phase.",
		},
	},
	{
		id:   "traefik-no-server",
		when: []cond{detail(gateway.DetailNoAvailableServer)},
		steps: []string{
			"Traefik 503 'no available server': the service has no healthy servers; check the router's service, its Kubernetes endpoints or Docker labels, and the healthCheck in the dashboard.",
		},
	},
	{
		id:   "traefik",
		when: []cond{gw(gateway.Traefik)},
		steps: []string{
			"Traefik logs proxy errors only at DEBUG: start it with --log.level=DEBUG to see why it answered {status} (connection refused, EOF, DNS lookup, timeout).",
		},
	},
	{
		id:   "caddy-no-upstreams",
		when: []cond{detail(gateway.DetailNoUpstreams)},
		steps: []string{
			"Caddy 503 'no upstreams available': every upstream failed its health check; check health_uri/health_status in the reverse_proxy block and what the upstream answers there (a 401 fails it).",
		},
	},
	{
		id:   "caddy",
		when: []cond{gw(gateway.Caddy)},
		steps: []string{
			"Read Caddy's error log (journalctl -u caddy) for the dial error, e.g. 'dial tcp ...: connect: connection refused', and check the reverse_proxy upstream address.",
		},
	},
	{
		id:   "apache-503",
		when: []cond{class(result.ClassServiceUnavailable), gw(gateway.Apache)},
		steps: []string{
			"mod_proxy answers 503 when it cannot connect: grep -e AH00957 -e AH01114 /var/log/apache2/error.log (or /var/log/httpd/error_log); check the backend is up and listening.",
			"After a failed connect mod_proxy disables the worker for retry= seconds (AH00959); set retry=0 on ProxyPass so it recovers as soon as the backend does.",
		},
	},
	{
		id:   "apache-502",
		when: []cond{class(result.ClassBadGateway), gw(gateway.Apache)},
		steps: []string{
			"Apache 'Proxy Error' 502: grep -e AH01102 -e AH00898 in the Apache error log; the backend closed or sent an unreadable status line; check its keep-alive vs KeepAliveTimeout.",
		},
	},
	{
		id:   "apache-504",
		when: []cond{class(result.ClassGatewayTimeout), gw(gateway.Apache)},
		steps: []string{
			"Apache 504: the backend did not answer within ProxyTimeout (or Timeout); look for AH01103 in the error log and set timeout= on the ProxyPass of the slow path.",
		},
	},

	// --- Varnish, Fastly, Akamai --------------------------------------------
	{
		id:   "varnish-backend-fetch-failed",
		when: []cond{detail(gateway.DetailBackendFetchFailed)},
		steps: []string{
			"Varnish 'Backend fetch failed': varnishlog -g request -q 'RespStatus == 503' shows the FetchError line; varnishadm backend.list shows sick backends.",
			"Typical FetchErrors: backend connect failure, first_byte_timeout or between_bytes_timeout expired; fix the backend or tune those in its VCL backend definition.",
		},
	},
	{
		id:   "fastly-first-byte-timeout",
		when: []cond{detail(gateway.DetailFirstByteTimeout)},
		steps: []string{
			"Fastly 'first byte timeout': the origin sent nothing within first_byte_timeout (15s default, max 600s); speed up the origin or raise it in the backend's settings.",
		},
	},
	{
		id:   "fastly-backend-read-error",
		when: []cond{detail(gateway.DetailBackendReadError)},
		steps: []string{
			"Fastly 'backend read error': the origin closed or reset the connection mid-response; check the origin's logs for crashes and its keep-alive and idle timeouts.",
		},
	},
	{
		id:   "fastly-max-conn",
		when: []cond{detail(gateway.DetailMaxConnReached)},
		steps: []string{
			"Fastly 'Backend.max_conn reached': the backend's max_conn limit is used up; raise max_conn on the backend, or find what makes origin requests slow and pile up.",
		},
	},
	{
		id:   "fastly-connection-refused",
		when: []cond{detail(gateway.DetailConnectionRefused)},
		steps: []string{
			"Fastly 503 'Connection refused': the origin refused Fastly's connection; check the web server is up on the backend's port and its firewall allows Fastly's IP ranges.",
		},
	},
	{
		id:   "fastly-all-backends-failed",
		when: []cond{detail(gateway.DetailAllBackendsFailed)},
		steps: []string{
			"Fastly 503 'All backends failed or unhealthy': every backend's health check fails; check the health check path and host against the origin, then the origin itself.",
		},
	},
	{
		id:   "fastly",
		when: []cond{gw(gateway.Fastly)},
		steps: []string{
			"Find the request in Fastly logging using the page's Details line (POP and timestamp) or X-Served-By; check the origin's health check status in the Fastly service.",
		},
	},
	{
		id:   "akamai-504",
		when: []cond{class(result.ClassGatewayTimeout), gw(gateway.Akamai)},
		steps: []string{
			"Akamai 504: an edge timeout to the origin (connect 5s, first byte 20s by default); check origin latency and the property's timeout behaviors.",
		},
	},
	{
		id:   "akamai",
		when: []cond{gw(gateway.Akamai)},
		steps: []string{
			"Decode the page's 'Reference #' with Akamai Control Center, Edge Diagnostics, Error Translator: it says whether the origin timed out, refused or failed TLS.",
		},
	},

	// --- Platforms --------------------------------------------------------
	{
		id:   "heroku",
		when: []cond{gw(gateway.Heroku)},
		steps: []string{
			"Read the router error code: heroku logs --tail -a <app> | grep 'at=error'; H10 app crashed, H12 request over 30s, H14 no web dynos, H20 boot timeout, H80 maintenance.",
			"Check dynos: heroku ps -a <app>; if none run, heroku ps:scale web=1 -a <app>; the app must bind to $PORT within 60s of boot.",
			"For H12, stream the response or move work longer than 30s to a worker dyno.",
		},
	},
	{
		id:   "vercel-function-timeout",
		when: []cond{detail(gateway.DetailFunctionInvocationTimeout)},
		steps: []string{
			"Vercel FUNCTION_INVOCATION_TIMEOUT: the function ran past its maxDuration; raise maxDuration for that function (vercel.json or route config) or make it return sooner.",
		},
	},
	{
		id:   "vercel-other-timeout",
		when: []cond{detail(gateway.DetailEdgeFunctionInvocationTimeout, gateway.DetailMiddlewareInvocationTimeout)},
		steps: []string{
			"Vercel {detail}: the Edge Function or Middleware did not start a response in time; make it return sooner, stream, or move slow work to a regular function.",
		},
	},
	{
		id:   "vercel-function-failed",
		when: []cond{detail(gateway.DetailFunctionInvocationFailed, gateway.DetailNoResponseFromFunction, gateway.DetailBodyNotAStringFromFunction)},
		steps: []string{
			"Vercel {detail}: the function crashed or returned nothing usable; read its runtime logs in the project's Logs (or vercel logs <deployment-url>) for the exception.",
		},
	},
	{
		id:   "vercel-throttled-paused",
		when: []cond{detail(gateway.DetailFunctionThrottled, gateway.DetailDeploymentPaused)},
		steps: []string{
			"Vercel {detail}: the project is over a concurrency limit or the deployment is paused (spend or plan limits); check the project's Usage and Settings pages.",
		},
	},
	{
		id:   "vercel-origin-dns",
		when: []cond{detail(gateway.DetailDNSHostnameNotFound, gateway.DetailDNSHostnameResolveFailed, gateway.DetailDNSHostnameServerError, gateway.DetailDNSHostnameEmpty)},
		steps: []string{
			"Vercel {detail}: a rewrite or proxy target's hostname did not resolve; check the external destination in vercel.json rewrites and that its DNS record exists.",
		},
	},
	{
		id:   "vercel",
		when: []cond{gw(gateway.Vercel)},
		steps: []string{
			"Find the request by its x-vercel-id in the project's Logs; the page's 'Code:' names the failure (NO_RESPONSE_FROM_FUNCTION, FUNCTION_INVOCATION_FAILED, DEPLOYMENT_PAUSED).",
		},
	},
	{
		id:   "fly",
		when: []cond{gw(gateway.Fly)},
		steps: []string{
			"fly logs -a <app>: 'could not make HTTP request to instance' (PU02) means the proxy cannot reach the app; fly status -a <app> shows whether machines run.",
			"The app must listen on 0.0.0.0 at the internal_port in fly.toml; a listener on 127.0.0.1 or another port gives proxy errors.",
		},
	},

	// --- DNS --------------------------------------------------------------
	{
		id:   "dns-nxdomain",
		when: []cond{class(result.ClassDNSError), detail(result.DetailNXDomain)},
		steps: []string{
			"NXDOMAIN: no such name. dig +trace {host} shows which nameserver says so: a record missing from the zone, or the zone not delegated.",
			"Check the hostname in the check for a typo, and whether a recent DNS change or Terraform apply removed the record.",
			"If the whole domain fails, check the registration and delegation: whois for expiry, and compare the NS at the registry (dig +trace) with your DNS provider's.",
		},
	},
	{
		id:   "dns-servfail",
		when: []cond{class(result.ClassDNSError), detail(result.DetailServFail)},
		steps: []string{
			"SERVFAIL: if dig +cd {host} answers but dig {host} does not, DNSSEC validation fails (expired RRSIG, or a DS not matching the DNSKEY).",
			"Query each authoritative server directly (dig NS <zone>, then dig @<ns> {host}); a timeout or REFUSED from one means a broken or lame nameserver.",
			"After moving DNS providers, remove or update the old DS record at the registrar; a stale DS breaks validation for every resolver.",
		},
	},
	{
		id:   "dns-no-answer",
		when: []cond{class(result.ClassDNSError), detail(result.DetailNoAnswer)},
		steps: []string{
			"{host} exists but has no address (dig {host} A / AAAA return nothing): add the A/AAAA record, or fix the CNAME target that has none.",
		},
	},
	{
		id:   "dns-resolver-timeout",
		when: []cond{class(result.ClassDNSError), detail(result.DetailResolverTimeout)},
		steps: []string{
			"The resolver of this monitoring host did not answer: check /etc/resolv.conf and resolvectl status here; this is the monitor's vantage, not necessarily the service.",
			"Compare resolvers: dig {host} (local) vs dig @<authoritative-ns> {host}; if only the local one hangs, fix or replace it.",
		},
	},
	{
		// The resolver asked is known, and may not be this host's
		// resolv.conf one: say which one failed, before why resolvers do.
		id:   "dns-servfail-at",
		when: []cond{class(result.ClassDNSError), detail(result.DetailServFail), dnsServerKnown()},
		steps: []string{
			"{dns_server} answered SERVFAIL: ask it again with dig @{dns_ip} -p {dns_port} {host}, and with +cd to see whether DNSSEC validation fails.",
		},
	},
	{
		// The resolver asked is known, and may not be this host's
		// resolv.conf one: name it.
		id:       "dns-resolver-timeout-at",
		when:     []cond{class(result.ClassDNSError), detail(result.DetailResolverTimeout), dnsServerKnown()},
		rulesOut: []string{"dns-resolver-timeout"},
		steps: []string{
			"{dns_server} did not answer: dig @{dns_ip} -p {dns_port} {host} here; if it is in /etc/resolv.conf, the fault is this monitor's, not the service's.",
			"If only {dns_server} hangs while dig @<authoritative-ns> {host} answers, fix or replace that resolver.",
		},
	},
	{
		// Some resolvers have an address: the name exists, so its
		// registration and delegation are not the problem.
		id:       "dns-nxdomain-disagreement",
		when:     []cond{class(result.ClassDNSError), detail(result.DetailNXDomain), found(result.FindingDNSDisagreement)},
		rulesOut: []string{"dns-nxdomain", "dns"},
		steps: []string{
			stepDNSDisagree,
			"Check whether a recent DNS change or Terraform apply removed or changed the record: the resolvers that still answer may hold the old one.",
		},
	},
	{
		id:   "dns",
		when: []cond{class(result.ClassDNSError)},
		steps: []string{
			"Resolve the name here and from another network (dig {host}) and compare with the records your DNS provider shows.",
		},
	},

	// --- TLS --------------------------------------------------------------
	{
		id:   "tls-cert-expired-dated",
		when: []cond{class(result.ClassTLSError), detail(result.DetailCertExpired), certSeen()},
		steps: []string{
			"The certificate for {host} expired on {not_after}: renewal failed or never ran.",
		},
	},
	{
		id:   "tls-cert-expired",
		when: []cond{class(result.ClassTLSError), detail(result.DetailCertExpired)},
		steps: []string{
			"Renew the certificate (certbot renew, or your ACME client or CA) and reload the server that terminates TLS (e.g. systemctl reload nginx).",
			"Find why renewal did not run: systemctl list-timers | grep -i certbot; journalctl -u certbot.service; /var/log/letsencrypt/letsencrypt.log.",
			"Verify after reload: openssl s_client -connect {host}:{port} -servername {host} </dev/null | openssl x509 -noout -dates",
		},
	},
	{
		id:   "tls-not-yet-valid-dated",
		when: []cond{class(result.ClassTLSError), detail(result.DetailCertNotYetValid), certSeen()},
		steps: []string{
			"The certificate for {host} is valid only from {not_before}: either this monitor's clock is behind or a certificate was installed early.",
		},
	},
	{
		id:   "tls-not-yet-valid",
		when: []cond{class(result.ClassTLSError), detail(result.DetailCertNotYetValid)},
		steps: []string{
			"Certificate not yet valid: check clock sync on this monitor and the server (timedatectl status; chronyc tracking or systemctl status systemd-timesyncd).",
		},
	},
	{
		id:   "tls-unknown-authority-issuer",
		when: []cond{class(result.ClassTLSError), detail(result.DetailUnknownAuthority), certSeen()},
		steps: []string{
			"The certificate was issued by '{issuer}', which this monitor does not trust: for a public CA an intermediate is missing; otherwise the CA is private.",
		},
	},
	{
		id:   "tls-unknown-authority",
		when: []cond{class(result.ClassTLSError), detail(result.DetailUnknownAuthority)},
		steps: []string{
			"Unknown authority is usually a missing intermediate: serve the full chain (nginx ssl_certificate fullchain.pem; Apache 2.4.8+ SSLCertificateFile with the chain appended).",
			stepShowChain,
			stepShowChainNoSNI,
			"If the issuer is self-signed or an internal CA, install a publicly trusted certificate, or add that CA to this monitor's trust store.",
		},
	},
	{
		id:    "tls-hostname-mismatch-names",
		when:  []cond{class(result.ClassTLSError), detail(result.DetailHostnameMismatch), certNames()},
		steps: []string{stepMismatchNames, stepMismatchNamesIP},
	},
	{
		id:    "tls-hostname-mismatch",
		when:  []cond{class(result.ClassTLSError), detail(result.DetailHostnameMismatch)},
		steps: []string{stepMismatchVhost, stepMismatchNoSNI, stepMismatchLB},
	},
	{
		id:   "tls-handshake-failure",
		when: []cond{class(result.ClassTLSError), detail(result.DetailHandshakeFailure)},
		steps: []string{
			"TLS handshake failed: see what the server offers: openssl s_client -connect {host}:{port} -servername {host} </dev/null",
			"Read the server's TLS error log, and check its ssl_protocols/ssl_ciphers (or equivalent), that the port terminates TLS, and whether it demands a client certificate (mTLS).",
		},
	},
	{
		id:   "tls",
		when: []cond{class(result.ClassTLSError)},
		steps: []string{
			stepShowChain,
			stepShowChainNoSNI,
		},
	},

	// --- Connection -------------------------------------------------------
	{
		id:    "connection-refused",
		when:  []cond{class(result.ClassConnectionRefused)},
		steps: []string{stepRefused, stepRefusedPublic, stepRefusedPrivate, stepRefusedLoopback, stepRefusedDNS, stepRefusedNoDNS},
	},
	{
		id:   "connection-reset-before-response",
		when: []cond{class(result.ClassConnectionReset), detail(result.DetailResetBeforeResponse)},
		steps: []string{
			"The server accepted the connection and reset it before answering: check its logs for crashes, and for a firewall/IPS or a proxy expecting another protocol (TLS vs plain HTTP).",
		},
	},
	{
		id:   "connection-reset-reading-body",
		when: []cond{class(result.ClassConnectionReset), detail(result.DetailResetReadingBody)},
		steps: []string{
			"Reset while reading the body: the server process died or a proxy idle/send timeout cut the stream; check app logs and proxy timeouts (proxy_send_timeout, LB idle timeout).",
		},
	},
	{
		id:   "connection-closed-before-response",
		when: []cond{class(result.ClassConnectionReset), detail(result.DetailClosedBeforeResp)},
		steps: []string{
			"The server closed the connection without a response: look for worker crashes (dmesg | grep -i 'killed process'), keep-alive reuse races, or a TLS/plain HTTP port mix-up.",
		},
	},
	{
		id:   "connection-reset",
		when: []cond{class(result.ClassConnectionReset)},
		steps: []string{
			"Connection reset: check the server's and any middlebox's logs (firewall, IPS, load balancer) at the failure time; a packet capture on the server shows who sent the RST.",
			"Capture it: tcpdump -ni any host {ip} and port {port} (on this monitor) shows whether the RST comes back from the server address.",
		},
	},
	{
		id:   "connect-timeout",
		when: []cond{class(result.ClassConnectTimeout)},
		steps: []string{
			"No reply to the TCP SYN: a firewall silently drops it (iptables DROP, cloud security group, NACL) or the host is down. Check inbound rules for the port first.",
			"On the server, tcpdump -ni any port {port}: if SYNs arrive unanswered, check the host firewall and listen backlog; if none arrive, the drop is upstream of it.",
			"Find where packets stop from this vantage: mtr -T -P {port} {host} (or traceroute -T -p {port} {host}).",
			stepTimeoutDNS,
		},
	},
	{
		id:   "network-host-unreachable",
		when: []cond{class(result.ClassNetworkUnreachable), detail(result.DetailHostUnreachable)},
		steps: []string{
			"Host unreachable: the last router found no host at {target}; check the server is up on its subnet, or for a firewall rejecting with ICMP on the way.",
		},
	},
	{
		id:   "network-net-unreachable",
		when: []cond{class(result.ClassNetworkUnreachable), detail(result.DetailNetUnreachable)},
		steps: []string{
			"No route from this monitor to {target}: check ip route get <server-ip> here; usually an IPv6 address on a host without IPv6 routing (then force IPv4).",
		},
	},
	{
		id:   "network-unreachable",
		when: []cond{class(result.ClassNetworkUnreachable)},
		steps: []string{
			"Network unreachable is about this monitor's routing, not the service: check ip route and the default gateway here, and confirm from another network before paging the owner.",
		},
	},

	// --- Timeouts ---------------------------------------------------------
	{
		id:   "timeout-waiting-headers",
		when: []cond{class(result.ClassTimeout), detail(result.DetailWaitingHeaders)},
		steps: []string{
			"Connected, but no response headers in time: the app or a proxy is stuck on this request; check slow-request logs, worker saturation and database locks at that time.",
			"Time it by hand: curl -sv -o /dev/null {url}; compare how long it takes with the check's timeout and the proxies' read timeouts.",
		},
	},
	{
		id:   "timeout-reading-body",
		when: []cond{class(result.ClassTimeout), detail(result.DetailReadingBody)},
		steps: []string{
			"Headers arrived but the body stalled: the app streams slowly or a proxy buffer stalls; check response size, proxy_buffering and the app's streaming path.",
		},
	},
	{
		id:   "timeout-tls-handshake",
		when: []cond{class(result.ClassTimeout), detail(result.DetailTLSHandshake)},
		steps: []string{
			"Slow TLS handshake (overload, or MTU drops big packets); see where it hangs: openssl s_client -connect {host}:{port} -servername {host}",
		},
	},
	{
		id:   "timeout-sending-request",
		when: []cond{class(result.ClassTimeout), detail(result.DetailSendingRequest)},
		steps: []string{
			"The server stopped reading the request: check its connection limits (worker_connections, MaxRequestWorkers) and load at that time.",
		},
	},
	{
		id:   "timeout",
		when: []cond{class(result.ClassTimeout)},
		steps: []string{
			"Check the server's load and slow requests at the failure time, and compare the check's timeout with the endpoint's normal response time.",
		},
	},

	// --- Protocol ---------------------------------------------------------
	{
		id:   "protocol-malformed",
		when: []cond{class(result.ClassProtocolError), detail(result.DetailMalformedResponse)},
		steps: []string{
			"Not HTTP on that port: TLS on an http:// check (or the reverse), or another service (SSH, a database). Check with curl -v {url}",
		},
	},
	{
		id:   "protocol-headers-too-large",
		when: []cond{class(result.ClassProtocolError), detail(result.DetailHeadersTooLarge)},
		steps: []string{
			"The response headers are too large (often Set-Cookie growth); trim them in the app. Proxies fail the same way (nginx 'upstream sent too big header', ALB over 32 KB).",
		},
	},
	{
		id:   "protocol-bad-body",
		when: []cond{class(result.ClassProtocolError), detail(result.DetailBadBody)},
		steps: []string{
			"Broken body (chunking, short Content-Length, bad gzip): a proxy truncating responses or double compression? Check: curl -v --compressed {url}",
		},
	},
	{
		id:   "protocol",
		when: []cond{class(result.ClassProtocolError)},
		steps: []string{
			"Check the check's scheme and port against what the server speaks: an http:// URL on a TLS port, or https:// on a plain port, is the usual cause.",
		},
	},

	// --- Redirects --------------------------------------------------------
	{
		id:   "redirects-cloudflare-flexible",
		when: []cond{class(result.ClassTooManyRedirects), onPath(gateway.Cloudflare)},
		steps: []string{
			"Behind Cloudflare, SSL mode Flexible plus an origin that forces HTTPS loops forever: set SSL/TLS mode to Full (strict) with a valid origin certificate.",
		},
	},
	{
		id:   "redirects-limit",
		when: []cond{class(result.ClassTooManyRedirects), detail(result.DetailRedirectLimit)},
		steps: []string{
			"The redirect chain is longer than the check allows: point the check at the final URL, or shorten the chain (http→https→www→path in one hop).",
		},
	},
	{
		id:   "redirects",
		when: []cond{class(result.ClassTooManyRedirects)},
		steps: []string{
			"A redirect loop is usually http→https behind a TLS-terminating proxy: the app sees http and redirects again. Make it trust X-Forwarded-Proto (e.g. Django SECURE_PROXY_SSL_HEADER).",
			"Trace the chain: curl -sIL --max-redirs 10 {url} | grep -i -e '^HTTP' -e '^location'; look for the Location that repeats.",
		},
	},

	// --- Content ----------------------------------------------------------
	{
		id:   "content-login-redirect",
		when: []cond{class(result.ClassContentMismatch), redirectedTo("login")},
		steps: []string{
			"The check ended on a login page ({final_url}); point it at a public health endpoint or give it credentials.",
		},
	},
	{
		id:   "content-maintenance",
		when: []cond{class(result.ClassContentMismatch), body("maintenance")},
		steps: []string{
			"The page mentions maintenance: check whether a maintenance mode is on (e.g. php artisan down, a WordPress .maintenance file, a proxy maintenance page) and who turned it on.",
		},
	},
	{
		id:   "content-json-path",
		when: []cond{class(result.ClassContentMismatch), detail(result.DetailJSONPath)},
		steps: []string{
			"A JSON assertion failed (the evidence has the path, the expected and found values); see the body now: curl -s {url} | jq .",
			"Fix the component the body reports unhealthy; if the response changed on purpose (a renamed field, a new version), update expect_json.",
			"A body that is not JSON is often an error or login page served with 200: fix the app's error handling so failures return 5xx.",
		},
	},
	{
		id:   "content-header",
		when: []cond{class(result.ClassContentMismatch), detail(result.DetailHeader)},
		steps: []string{
			"A header assertion failed; see the headers as served: curl -sI {url}. A proxy or CDN may rewrite or drop them: compare with the origin's.",
			"The substring match is case-sensitive; write ~(?i)... in expect_header for any case, or update it if the header changed on purpose.",
		},
	},
	{
		id:   "content-mismatch",
		when: []cond{class(result.ClassContentMismatch)},
		steps: []string{
			"Wrong content: fetch it (curl -s {url} | head -50) and look for a maintenance page, a login form or an error page served with 200.",
			"If it is an error page served with 200, fix the app's or proxy's error handling so failures return 5xx; if the content changed on purpose, update the check's expected text.",
		},
	},

	// --- HTTP status, last resort per class ------------------------------
	{
		id:   "client-401",
		when: []cond{class(result.ClassClientError), status(401)},
		steps: []string{
			"401: the path now demands authentication; check whether auth was added there or the check's credentials or token expired, and update the check's headers.",
		},
	},
	{
		id:   "client-403",
		when: []cond{class(result.ClassClientError), status(403)},
		steps: []string{
			"403: look for a WAF, IP allowlist or bot rule blocking this monitor (Cloudflare Security Events, AWS WAF sampled requests, nginx allow/deny) and allow its source address.",
		},
	},
	{
		id:   "client-404",
		when: []cond{class(result.ClassClientError), status(404)},
		steps: []string{
			"404: the checked path is gone; compare it with recent routing or deploy changes. From ingress-nginx, 'default backend - 404' means no Ingress rule matched the host.",
		},
	},
	{
		id:   "client-429",
		when: []cond{class(result.ClassClientError), status(429)},
		steps: []string{
			"429: the monitor is being rate-limited (nginx limit_req, CDN or WAF rate rules); lower the check frequency or exempt the monitor's address.",
			"The server asked to wait {retry_after} before retrying (Retry-After).",
		},
	},
	{
		id:   "client-error",
		when: []cond{class(result.ClassClientError)},
		steps: []string{
			"The server rejected the check's request: compare its method, path, headers and credentials with what the app now expects, and check recent deploys.",
		},
	},
	{
		id:   "unexpected-status",
		when: []cond{class(result.ClassUnexpectedStatus)},
		steps: []string{
			"Status not as expected: is the check's expectation stale (new redirect, 204 vs 200) or did routing change? Check with curl -sI {url}",
		},
	},
	{
		id:   "service-unavailable-retry-after",
		when: []cond{class(result.ClassServiceUnavailable), retryAfter()},
		steps: []string{
			"The server sent Retry-After: {retry_after}, so it expects to be back by then; check whether maintenance or a rate limit was turned on deliberately.",
		},
	},
	// --- What the diagnosis saw, for any gateway ---------------------------
	{
		id:    "upstream-refuses",
		when:  []cond{class(gatewayClasses...), originSaw(result.ClassConnectionRefused)},
		steps: []string{stepOriginRefuses},
	},
	{
		id:    "upstream-resets",
		when:  []cond{class(gatewayClasses...), originSaw(result.ClassConnectionReset)},
		steps: []string{stepOriginResets},
	},
	{
		id:    "upstream-times-out",
		when:  []cond{class(gatewayClasses...), originSaw(result.ClassConnectTimeout, result.ClassTimeout, result.ClassNetworkUnreachable)},
		steps: []string{stepOriginTimesOut},
	},
	{
		id:    "gateway-path",
		when:  []cond{class(gatewayClasses...), found(result.FindingGatewayPath)},
		steps: []string{stepGatewayPath},
	},
	{
		id:    "dns-disagreement",
		when:  []cond{found(result.FindingDNSDisagreement)},
		steps: []string{stepDNSDisagree},
	},

	{
		id:   "bad-gateway",
		when: []cond{class(result.ClassBadGateway)},
		steps: []string{
			"A proxy got no valid answer from its upstream: check the app behind it is running and listening (systemctl status <app>, ss -ltnp on the app host).",
			"Read the proxy's error log at the failure time; it names the upstream error (refused, reset, timed out, invalid response) and the upstream address it used.",
		},
	},
	{
		id:   "gateway-timeout",
		when: []cond{class(result.ClassGatewayTimeout)},
		steps: []string{
			"A proxy waited too long for its upstream: find the slow requests in the app log or APM at the failure time (slow queries, locks, external calls).",
			"Compare the proxy's read timeout (nginx proxy_read_timeout 60s, ALB idle 60s, Cloudflare ~100s) with the slowest legitimate request; move long jobs to a background queue.",
		},
	},
	{
		id:   "service-unavailable",
		when: []cond{class(result.ClassServiceUnavailable)},
		steps: []string{
			"503: the app is overloaded or in maintenance, or a proxy has no usable backend (none healthy, a rate limit); check the proxy's backend health and the app's health check.",
		},
	},
	{
		id:   "server-error",
		when: []cond{class(result.ClassServerError)},
		steps: []string{
			"The application itself failed: find the stack trace in the app's error log at the failure time.",
			"Check recent deploys, config changes and dependencies (database, cache, queue); roll back if the errors began with a deploy.",
		},
	},
}
