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
// (/api/) and the feeds (/feeds/) are held to the rule API.md states:
// every parameter takes one value. Handlers read a query with
// url.Values.Get, which takes the first of several values and silently
// drops the rest (?owner=a&owner=b listed a's videos), and url.Values,
// which silently drops a pair it cannot parse (?owner=%zz listed
// everyone's). So a request whose query names a parameter twice answers
// 400 repeated_parameter naming it, and one whose query does not parse (a
// bad %-escape, a ';' separator, which Go no longer takes) 400
// invalid_query, in the API's JSON. No route takes a list in its query;
// one that comes to need it is named here.
//
// Pages (IsPage) are held to the rule only for the parameters they read,
// where they read them (QueryValue): a link shared on the web carries
// parameters no page reads (utm_source, fbclid, a social network's own,
// sometimes repeated or oddly escaped), and the person following it must
// see the page. The tracker (/tracker/: BEP 48's scrape repeats info_hash,
// and its refusals are bencoded), static files and the web seed
// (/static/), and /metrics are not covered.
func OneValueEach() Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := r.URL.Path
			if r.URL.RawQuery == "" || !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/feeds/") {
				next.ServeHTTP(w, r)
				return
			}
			if _, e := readQuery(r.URL.RawQuery, func(string) bool { return true }); e != nil {
				WriteJSON(w, e.Status, api.Error{Error: e.Code, Message: e.Message})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// QueryValue is the value of the query parameter name in r's URL, and
// whether it is there, held to OneValueEach's rule for this one name:
// given twice it is 400 repeated_parameter, in a pair that does not parse
// 400 invalid_query (a page shows them as its error page). Every other
// parameter of the query is left alone, however it is written. The pages
// read their query through it, and so refuse only what they read.
func QueryValue(r *http.Request, name string) (string, bool, *Error) {
	q, e := readQuery(r.URL.RawQuery, func(n string) bool { return n == name })
	if e != nil {
		return "", false, e
	}
	if v, ok := q[name]; ok {
		return v[0], true, nil
	}
	return "", false, nil
}

// errInvalidQuery refuses a query whose pairs do not parse.
var errInvalidQuery = &Error{Status: http.StatusBadRequest, Code: "invalid_query",
	Message: "the query string is malformed: write it as name=value pairs joined by &, with % only before two hex digits"}

// readQuery reads a raw query as url.ParseQuery does, keeping the pairs
// whose name reads reports, and refuses it when one of those does not
// parse (invalid_query) or when one of those names is given more than once
// (repeated_parameter, naming the first such in the order of the names).
// Pairs of other names are skipped unread, even malformed.
//
// A pair that holds ';' is one url.ParseQuery drops whole ("invalid
// semicolon separator"): it is read as the pairs ';' once separated, and
// refused if any of them has a name read. A name that does not unescape is
// compared as written. With reads always true, the refusals are exactly
// url.ParseQuery's errors and repeated names (FuzzReadQuery).
func readQuery(raw string, reads func(name string) bool) (url.Values, *Error) {
	q := url.Values{}
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			for part := range strings.SplitSeq(pair, ";") {
				if reads(pairName(part)) {
					return nil, errInvalidQuery
				}
			}
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		name, kerr := url.QueryUnescape(k)
		if kerr != nil {
			name = k
		}
		if !reads(name) {
			continue
		}
		value, verr := url.QueryUnescape(v)
		if kerr != nil || verr != nil {
			return nil, errInvalidQuery
		}
		q[name] = append(q[name], value)
	}
	var repeated []string
	for name, vs := range q {
		if len(vs) > 1 {
			repeated = append(repeated, name)
		}
	}
	if len(repeated) == 0 {
		return q, nil
	}
	sort.Strings(repeated)
	name := repeated[0]
	if len(name) > maxParamName {
		name = strings.ToValidUTF8(name[:maxParamName], "") + "…"
	}
	return nil, Errorf(http.StatusBadRequest, "repeated_parameter",
		"the query parameter %s is given %s; give it once", strconv.Quote(name), timesText(len(q[repeated[0]])))
}

// pairName is the name of a raw name=value pair: unescaped, or as written
// when it does not unescape.
func pairName(pair string) string {
	k, _, _ := strings.Cut(pair, "=")
	if name, err := url.QueryUnescape(k); err == nil {
		return name
	}
	return k
}

// timesText is "twice" or "N times".
func timesText(n int) string {
	if n == 2 {
		return "twice"
	}
	return strconv.Itoa(n) + " times"
}
