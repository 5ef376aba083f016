package gateway

import "strings"

// AWSALB is the AWS Application Load Balancer. Its error page is nginx's
// markup without the footer (see nginxStylePage).
const AWSALB = "aws-alb"

// albHeaders: the ALB passes the target's Server header through, so Server:
// awselb/2.0 on an error means the ALB made it.
func (s *scan) albHeaders(f *headerFacts) {
	if strings.HasPrefix(f.lserver, "awselb") {
		s.evidence("Server", f.server)
		if f.isError {
			s.mark("Server: " + f.server + " on an error: the AWS ALB generated it")
		} else {
			s.mark("Server: " + f.server + ": an AWS ALB is on the path")
		}
		s.hops = append(s.hops, hop{name: AWSALB, made: f.isError})
	}
}
