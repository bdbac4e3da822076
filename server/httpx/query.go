package httpx

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/swarmtube/swarmtube/server/api"
)

// maxParamName bounds how much of a parameter's name a refusal repeats.
const maxParamName = 40

// OneValueEach is the one place where the query strings of the API
// (/api/), the feeds (/feeds/) and the pages (IsPage) are held to the rule
// API.md states: every parameter takes one value. Handlers read a query
// with url.Values.Get, which takes the first of several values and
// silently drops the rest (?owner=a&owner=b listed a's videos), and
// url.Values, which silently drops a pair it cannot parse (?owner=%zz
// listed everyone's). So a request whose query names a parameter twice
// answers 400 repeated_parameter naming it, and one whose query does not
// parse (a bad %-escape, a ';' separator, which Go no longer takes) 400
// invalid_query, in the API's JSON, or page for a page when page is not
// nil. No route takes a list in its query; one that comes to need it is
// named here.
//
// The tracker (/tracker/: BEP 48's scrape repeats info_hash, and its
// refusals are bencoded), static files and the web seed (/static/), and
// /metrics are not covered.
func OneValueEach(page ErrorPage) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.RawQuery == "" || !queryChecked(r) {
				next.ServeHTTP(w, r)
				return
			}
			if e := queryError(r.URL.RawQuery); e != nil {
				if page != nil && IsPage(r) {
					page(w, r, e)
					return
				}
				WriteJSON(w, e.Status, api.Error{Error: e.Code, Message: e.Message})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// queryChecked reports whether OneValueEach holds r's query to one value
// per parameter.
func queryChecked(r *http.Request) bool {
	p := r.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/feeds/") || IsPage(r)
}

// queryError is the refusal of a raw query that does not parse or names a
// parameter more than once (the first such, in the order of the names), or
// nil.
func queryError(raw string) *Error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return Errorf(http.StatusBadRequest, "invalid_query",
			"the query string is malformed: write it as name=value pairs joined by &, with %% only before two hex digits")
	}
	var repeated []string
	for name, vs := range q {
		if len(vs) > 1 {
			repeated = append(repeated, name)
		}
	}
	if len(repeated) == 0 {
		return nil
	}
	sort.Strings(repeated)
	name := repeated[0]
	if len(name) > maxParamName {
		name = strings.ToValidUTF8(name[:maxParamName], "") + "…"
	}
	return Errorf(http.StatusBadRequest, "repeated_parameter",
		"the query parameter %s is given %s; give it once", strconv.Quote(name), timesText(len(q[repeated[0]])))
}

// timesText is "twice" or "N times".
func timesText(n int) string {
	if n == 2 {
		return "twice"
	}
	return strconv.Itoa(n) + " times"
}
