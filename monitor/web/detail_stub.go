package web

import "net/http"

// detailPage is a stand-in until helper D2's detail page is merged; this
// file is deleted then.
func (s *server) detailPage(w http.ResponseWriter, r *http.Request) {
	textError(w, http.StatusNotImplemented, "todo")
}
