package fakeserver

import (
	"net/http"

	"github.com/zconform/zconform/fixtures/zoho"
)

// GET {AS}/oauth/serverinfo (ZA-SERVERINFO, docs/zoho-oauth-beyond.md
// section 5): every DC's Accounts server by location,
// {"result":"success","locations":{"us":"https://accounts.zoho.com",…}}
// [seen in third-party code]. The URLs are the ones this request sees: the
// real hosts through the proxy or the in-process transport, the path
// prefixes on the listener.
//
// The choices the page leaves open, each [assumed]:
//   - Every DC's Accounts server answers it (the page names
//     accounts.zoho.com), each with the same list.
//   - The list holds every DC of the fake's table, CN included.
//   - Only GET (and HEAD) are served; other methods get HTTP 405.

// serverInfoBrokenDCs are the DCs a broken ZA-SERVERINFO leaves out: the
// newer ones.
var serverInfoBrokenDCs = map[zoho.DC]bool{zoho.CA: true, zoho.SA: true, zoho.UK: true}

// serverInfo serves GET {AS}/oauth/serverinfo.
func (s *Server) serverInfo(x *exchange) {
	if x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		x.jsonError(http.StatusMethodNotAllowed, zoho.ErrInvalidRequest, "use GET for /oauth/serverinfo")
		return
	}
	x.params = x.r.URL.Query()
	broken := s.isBroken(zoho.ServerInfo)
	locations := map[string]string{}
	for _, d := range zoho.DataCentres() {
		if broken && serverInfoBrokenDCs[d.DC] {
			continue
		}
		locations[string(d.DC)] = x.t.accountsURL(d.DC)
	}
	x.reply(http.StatusOK, map[string]any{"result": "success", "locations": locations})
}
