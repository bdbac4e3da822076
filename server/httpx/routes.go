package httpx

import (
	"net/http"
	"strings"

	"github.com/swarmtube/swarmtube/server/api"
)

// Partial is a handler that answers only some of the requests its pattern
// matches: a dispatcher on a path segment ("GET /videos/{id}/{sub}"), or a
// catch-all (NoRoute). Serves reports whether it would answer r, which
// carries no path values (ServeMux.Handler sets none): it reads
// r.URL.Path itself.
type Partial interface {
	http.Handler
	Serves(r *http.Request) bool
}

// probeMethods are the methods Methods asks the mux about, in the order
// Allow lists them.
var probeMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// Methods lists the methods for which mux has a route at r's path: those
// whose request mux hands to a handler other than its own 404 and 405 and
// other than a Partial that would refuse it. It is what RFC 9110 §10.2.1
// wants in Allow. A route that only redirects (a missing trailing slash)
// counts, as it leads to one.
//
// ServeMux answers 405 on its own only when no pattern matches the path
// with any method; a catch-all pattern ("/", "/api/") matches every method,
// so without this a wrong method on a known route would be a 404.
func Methods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range probeMethods {
		probe := r.WithContext(r.Context()) // a shallow copy
		probe.Method = m
		h, pattern := mux.Handler(probe)
		if pattern == "" { // the mux's NotFoundHandler or its own 405
			continue
		}
		if p, ok := h.(Partial); ok && !p.Serves(probe) {
			continue
		}
		allow = append(allow, m)
	}
	return allow
}

// NoRoute answers a request no route serves: 405 Method Not Allowed with
// Allow when Mux has routes at its path for other methods (Methods), in the
// API's JSON shape, or on the site's error page for a page (IsPage) when
// Page is set; else NotFound, the 404 of the address. Register it for
// every catch-all pattern of Mux, and have a Partial call it for what it
// refuses, so that every route gets its 405 (issue 17).
type NoRoute struct {
	Mux      *http.ServeMux
	Page     ErrorPage // nil: JSON for pages too
	NotFound http.Handler
}

// Serves is false: a catch-all serves nothing.
func (n *NoRoute) Serves(*http.Request) bool { return false }

func (n *NoRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	allow := Methods(n.Mux, r)
	if len(allow) == 0 {
		n.NotFound.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	e := StatusWords(http.StatusMethodNotAllowed, w.Header())
	if n.Page != nil && IsPage(r) {
		n.Page(w, r, e)
		return
	}
	WriteJSON(w, e.Status, api.Error{Error: e.Code, Message: e.Message})
}
