package gateway

import "strings"

// AzureFrontDoor is Azure Front Door.
const AzureFrontDoor = "azure-frontdoor"

// azureFrontDoorHeaders: X-Azure-Ref on every response.
func (s *scan) azureFrontDoorHeaders(*headerFacts) {
	if ref := s.get("X-Azure-Ref"); ref != "" {
		s.evidence("X-Azure-Ref", ref)
		s.mark("X-Azure-Ref: Azure Front Door is on the path")
		s.hops = append(s.hops, hop{name: AzureFrontDoor})
	}
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
