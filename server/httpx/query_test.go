package httpx

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/server/api"
)

// TestOneValueEach: a parameter given twice, on the API, a feed or a page,
// is refused with 400 naming it (JSON, or the error page for a page), and
// a query that does not parse with 400 invalid_query, instead of the
// handler silently reading the first value or none; one value each, the
// tracker's repeated info_hash and static files pass.
func TestOneValueEach(t *testing.T) {
	page := func(w http.ResponseWriter, r *http.Request, e *Error) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(e.Status)
		_, _ = w.Write([]byte("<p>" + e.Message))
	}
	h := OneValueEach(page)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, tc := range []struct {
		target string
		status int
		code   string // JSON error code; "" for a page or a pass
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
		{"/api/v1/users?x=" + strings.Repeat("é", 50) + "&y=1", 204, "", ""},
		{"/api/v1/users?" + strings.Repeat("é", 50) + "=1&" + strings.Repeat("é", 50) + "=2", 400, "repeated_parameter", strings.Repeat("é", 20) + "…"},
		{"/feeds/videos.xml?user=a&user=b", 400, "repeated_parameter", `"user"`},
		{"/search?q=a&q=b", 400, "", ""},
		{"/?page=1&page=2", 400, "", "page"},
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
			if tc.code == "" { // a page
				if !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
					t.Errorf("page answered %q", w.Header().Get("Content-Type"))
				}
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
