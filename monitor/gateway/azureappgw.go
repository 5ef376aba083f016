package gateway

import "strings"

// AzureAppGW is the Azure Application Gateway. Its error page is nginx's
// markup signed with its name (see nginxStylePage).
const AzureAppGW = "azure-appgw"

// azureAppGWHeaders: Server: Microsoft-Azure-Application-Gateway/v2.
func (s *scan) azureAppGWHeaders(f *headerFacts) {
	if strings.HasPrefix(f.lserver, "microsoft-azure-application-gateway") {
		s.evidence("Server", f.server)
		s.mark("Server: " + f.server + ": an Azure Application Gateway is on the path")
		s.hops = append(s.hops, hop{name: AzureAppGW})
	}
}
