package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// onlyTorrent is a Partial that serves .../torrent and refuses the rest of
// its pattern, as server/videos' {sub} dispatcher does.
type onlyTorrent struct{ noRoute http.Handler }

func (o onlyTorrent) Serves(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/torrent") }
func (o onlyTorrent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !o.Serves(r) {
		o.noRoute.ServeHTTP(w, r)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// TestNoRoute: a wrong method on a known route answers 405 with the Allow
// of every method that has a route there, in JSON or on the error page;
// an address without any route answers the catch-all's 404. Before, the
// catch-all "/" matched every method, so all of these were 404.
func TestNoRoute(t *testing.T) {
	mux := http.NewServeMux()
	ok := func(w http.ResponseWriter, r *http.Request) {}
	mux.HandleFunc("GET /a", ok)
	mux.HandleFunc("DELETE /a", ok)
	mux.HandleFunc("POST /b/{x}/views", ok)
	mux.HandleFunc("GET /dir/{p...}", ok)
	page := func(w http.ResponseWriter, r *http.Request, e *Error) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(e.Status)
		_, _ = w.Write([]byte("<p>" + e.Message))
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "nothing here", http.StatusNotFound) })
	nr := &NoRoute{Mux: mux, Page: page, NotFound: notFound}
	mux.Handle("/", nr)
	mux.Handle("GET /b/{x}/{sub}", onlyTorrent{nr})

	for _, tc := range []struct {
		method, path string
		status       int
		allow, body  string
	}{
		{"POST", "/a", 405, "GET, HEAD, DELETE", "<p>this address does not take this method; use GET, HEAD, DELETE"},
		{"POST", "/api/a", 404, "", "nothing here"}, // /api/a has no route at all
		{"GET", "/b/1/views", 405, "POST", "<p>this address does not take this method; use POST"},
		{"GET", "/b/1/torrent", 200, "", ""},
		{"POST", "/b/1/torrent", 405, "GET, HEAD", "<p>"},
		{"GET", "/b/1/other", 404, "", "nothing here"},
		{"POST", "/dir", 405, "GET, HEAD", "<p>"}, // GET /dir redirects to /dir/: a route
		{"PUT", "/nothing", 404, "", "nothing here"},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %s: %d Allow %q %q, want %d Allow %q with %q", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"), rec.Body, tc.status, tc.allow, tc.body)
		}
	}

	// A program's address gets the API's JSON.
	mux.HandleFunc("GET /api/x", ok)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("POST", "/api/x", nil))
	var e struct{ Error, Message string }
	if rec.Code != 405 || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error != "method_not_allowed" || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /api/x: %d %q Allow %q, want 405 method_not_allowed JSON", rec.Code, rec.Body, rec.Header().Get("Allow"))
	}
}
