package httpx

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/server/api"
)

// TestOneValueEach: a parameter given twice, on the API or a feed, is
// refused with 400 naming it, and a query that does not parse with 400
// invalid_query, instead of the handler silently reading the first value
// or none; one value each, the tracker's repeated info_hash, static files
// and pages pass (a page refuses only what it reads: TestQueryValue).
func TestOneValueEach(t *testing.T) {
	h := OneValueEach()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, tc := range []struct {
		target string
		status int
		code   string // JSON error code; "" for a pass
		words  string
	}{
		{"/api/v1/videos?owner=a&owner=b", 400, "repeated_parameter", `the query parameter "owner" is given twice; give it once`},
		{"/api/v1/videos?start=0&count=5&start=20", 400, "repeated_parameter", `"start" is given twice`},
		{"/api/v1/videos/search?q=a&q=b&q=c", 400, "repeated_parameter", `"q" is given 3 times`},
		{"/api/v1/videos?count=1&count=2&start=1&start=2", 400, "repeated_parameter", `"count"`}, // the first name, in order
		{"/api/v1/videos?owner=", 204, "", ""},
		{"/api/v1/videos?owner=a&start=0&count=5", 204, "", ""},
		{"/api/v1/videos?owner=%zz", 400, "invalid_query", "the query string is malformed"},
		{"/api/v1/videos?owner=a;owner=b", 400, "invalid_query", "the query string is malformed"},
		{"/api/v1/videos?utm_source=%zz", 400, "invalid_query", "with % only before two hex digits"},
		{"/api/v1/users?x=" + strings.Repeat("é", 50) + "&y=1", 204, "", ""},
		{"/api/v1/users?" + strings.Repeat("é", 50) + "=1&" + strings.Repeat("é", 50) + "=2", 400, "repeated_parameter", strings.Repeat("é", 20) + "…"},
		{"/feeds/videos.xml?user=a&user=b", 400, "repeated_parameter", `"user"`},
		{"/feeds/videos.xml?user=a;b", 400, "invalid_query", "malformed"},
		{"/search?q=a&q=b", 204, "", ""}, // the page itself refuses it (QueryValue)
		{"/?page=1&page=2", 204, "", ""},
		{"/videos/x?utm_source=a&utm_source=b", 204, "", ""},
		{"/?fbclid=%zz", 204, "", ""},
		{"/tracker/scrape?info_hash=a&info_hash=b", 204, "", ""},
		{"/static/js/ui.js?v=1&v=2", 204, "", ""},
	} {
		t.Run(tc.target, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", tc.target, nil))
			if w.Code != tc.status {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.status)
			}
			if tc.status == 204 {
				return
			}
			var e api.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error != tc.code || !strings.Contains(e.Message, tc.words) {
				t.Errorf("%s, want %s saying %q", w.Body, tc.code, tc.words)
			}
		})
	}
}

// TestPaging: the one reading of start and count, and the one cut of a
// list into a page, that every list route shares.
func TestPaging(t *testing.T) {
	for _, tc := range []struct {
		query        string
		start, count int
		bad          bool
	}{
		{"", 0, DefaultCount, false},
		{"start=5&count=100", 5, 100, false},
		{"start=1000000&count=1", MaxStart, 1, false},
		{"start=-1", 0, 0, true},
		{"start=1000001", 0, 0, true},
		{"count=0", 0, 0, true},
		{"count=101", 0, 0, true},
		{"count=", 0, 0, true},
		{"count=1e2", 0, 0, true},
		{"start=1&start=1", 0, 0, true},
	} {
		start, count, err := ParsePaging(httptest.NewRequest("GET", "/api/v1/users?"+tc.query, nil))
		if tc.bad != (err != nil) || start != tc.start || count != tc.count {
			t.Errorf("%q: %d %d %v", tc.query, start, count, err)
		}
	}
	all := []int{0, 1, 2, 3, 4}
	for _, tc := range []struct {
		start, count int
		want         []int
	}{
		{0, 20, []int{0, 1, 2, 3, 4}},
		{1, 2, []int{1, 2}},
		{4, 20, []int{4}},
		{5, 20, []int{}},
		{MaxStart, 1, []int{}},
	} {
		page, total := Page(all, tc.start, tc.count)
		if total != 5 || page == nil || fmt.Sprint(page) != fmt.Sprint(tc.want) {
			t.Errorf("Page(%d, %d): %v %d, want %v 5", tc.start, tc.count, page, total, tc.want)
		}
	}
}

// TestQueryValue: a page reads each parameter it uses through QueryValue,
// which refuses that parameter given twice or in a pair that does not
// parse, and looks at nothing else: a shared link's utm_source given
// twice, an fbclid with a bad escape, a ';' in a pair it does not read.
func TestQueryValue(t *testing.T) {
	for _, tc := range []struct {
		query, name string
		value       string
		given       bool
		code        string // "": read; else the refusal
	}{
		{"", "q", "", false, ""},
		{"q=cats", "q", "cats", true, ""},
		{"q=", "q", "", true, ""},
		{"q", "q", "", true, ""},
		{"q=black+cats%21", "q", "black cats!", true, ""},
		{"%71=escaped+name", "q", "escaped name", true, ""},
		{"page=2", "q", "", false, ""},
		{"q=a&q=b", "q", "", false, "repeated_parameter"},
		{"q=a&%71=b", "q", "", false, "repeated_parameter"},
		{"q=%zz", "q", "", false, "invalid_query"},
		{"q=a;utm_source=x", "q", "", false, "invalid_query"},
		{"utm_source=x;q=a", "q", "", false, "invalid_query"}, // q, once ';' separated pairs
		{"q=cats&utm_source=a&utm_source=b", "q", "cats", true, ""},
		{"q=cats&fbclid=%zz", "q", "cats", true, ""},
		{"fbclid=%zz", "page", "", false, ""},
		{"utm_source=a;utm_medium=b&page=3", "page", "3", true, ""},
		{"p%zzage=1&page=4", "page", "4", true, ""},
		{"&&page=5&", "page", "5", true, ""},
		{"q=a&q=b", "page", "", false, ""},
	} {
		t.Run(tc.query+"/"+tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/search?"+tc.query, nil)
			v, given, e := QueryValue(r, tc.name)
			if tc.code != "" {
				if e == nil || e.Code != tc.code || e.Status != http.StatusBadRequest {
					t.Fatalf("%q, %v, %+v; want 400 %s", v, given, e, tc.code)
				}
				return
			}
			if e != nil || v != tc.value || given != tc.given {
				t.Fatalf("%q, %v, %+v; want %q, %v", v, given, e, tc.value, tc.given)
			}
		})
	}
}

// FuzzReadQuery: reading every name, readQuery refuses exactly what
// url.ParseQuery cannot parse (invalid_query) or reads with a name twice
// (repeated_parameter), and otherwise reads the same values; reading one
// name, it never refuses more than that, and reads that name's value.
func FuzzReadQuery(f *testing.F) {
	for _, s := range []string{"", "a=1&b=2", "a=1&a=2", "a=%zz", "a=1;b=2", "%zz=1", "a", "&&", "q=a+b&q", "x=;&q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		want, perr := url.ParseQuery(raw)
		repeated := false
		for _, vs := range want {
			repeated = repeated || len(vs) > 1
		}
		got, e := readQuery(raw, func(string) bool { return true })
		switch {
		case perr != nil:
			if e == nil || e.Code != "invalid_query" {
				t.Fatalf("%q: ParseQuery: %v; readQuery: %+v", raw, perr, e)
			}
		case repeated:
			if e == nil || e.Code != "repeated_parameter" {
				t.Fatalf("%q: a name repeated; readQuery: %+v", raw, e)
			}
		case e != nil || !reflect.DeepEqual(got, want):
			t.Fatalf("%q: readQuery %v %+v, ParseQuery %v", raw, got, e, want)
		}
		one, e1 := readQuery(raw, func(n string) bool { return n == "q" })
		if e == nil && (e1 != nil || !reflect.DeepEqual(one["q"], want["q"])) {
			t.Fatalf("%q: reading q alone: %v %+v, want %v", raw, one, e1, want["q"])
		}
	})
}
