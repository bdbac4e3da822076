package pod

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLibraryErrorsInPodShape: errors answered by code that is not the
// pod's own (tusd's refusals, http.ServeContent's 416, http.NotFound,
// gobwas' handshake refusals) reach API clients as {"error","message"}
// in plain words, and pages as the site's error page; before, they were
// "ERR_MAX_SIZE_EXCEEDED: maximum size exceeded", "invalid range: failed
// to overlap", "404 page not found" and "handshake error: bad "Upgrade"
// header" in text/plain (issue 17).
func TestLibraryErrorsInPodShape(t *testing.T) {
	p := startInProcess(t, "--max-upload-mb", "1")
	base := p.URL()
	tok := loginHTTP(t, base, "admin", "admin-password")
	v := uploadVideo(t, nil, base, tok, "clip", smallClip(t))

	do := func(method, path string, hdr map[string]string, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	auth := "Bearer " + tok
	// An upload to PATCH with a wrong offset or headers.
	resp, _ := do("POST", "/api/v1/videos/uploads/", map[string]string{"Authorization": auth, "Tus-Resumable": "1.0.0", "Upload-Length": "1000"}, "")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		t.Fatalf("tus create: %s", resp.Status)
	}
	webseed := strings.TrimPrefix(v.WebseedURL, base)

	for _, tc := range []struct {
		name, method, path string
		hdr                map[string]string
		body               string
		status             int
		code               string // "" for the HTML page
		words              string // in the message or page
	}{
		{"tus upload too large", "POST", "/api/v1/videos/uploads/", map[string]string{"Authorization": auth, "Tus-Resumable": "1.0.0", "Upload-Length": "99999999"}, "",
			413, "too_large", "the video is larger than this pod accepts (1 MiB)"},
		{"tus bad offset", "PATCH", loc, map[string]string{"Authorization": auth, "Tus-Resumable": "1.0.0", "Upload-Offset": "5", "Content-Type": "application/offset+octet-stream"}, "abc",
			409, "offset_mismatch", "Upload-Offset is not where the upload stands"},
		{"tus no version", "PATCH", loc, map[string]string{"Authorization": auth, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, "abc",
			412, "unsupported_tus_version", "Tus-Resumable: 1.0.0"},
		{"tus bad content type", "PATCH", loc, map[string]string{"Authorization": auth, "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "text/plain"}, "abc",
			400, "invalid_content_type", "application/offset+octet-stream"},
		{"web seed range past the end", "GET", webseed, map[string]string{"Range": "bytes=99999999-"}, "",
			416, "range_not_satisfiable", "the requested byte range is not within the file"},
		{"static file missing", "GET", "/static/js/nothing.js", nil, "", 404, "not_found", "no such resource"},
		{"bare /api", "GET", "/api", nil, "", 404, "no_route", "no API route GET /api"},
		{"tracker socket opened as a page", "GET", "/tracker/socket", nil, "", 400, "websocket_required", "open it as a WebSocket"},
		{"tracker socket of another version", "GET", "/tracker/socket", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "8"}, "", 426, "websocket_version", "version 13"},
		{"tracker announce by POST", "POST", "/tracker/announce", nil, "", 405, "method_not_allowed", "use GET, HEAD"},
		{"web seed by POST", "POST", webseed, nil, "", 405, "method_not_allowed", "use GET, HEAD, OPTIONS"},
		{"page range past the end", "GET", "/upload", map[string]string{"Range": "bytes=99999999-"}, "", 416, "", "not within the file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(tc.method, tc.path, tc.hdr, tc.body)
			ct := resp.Header.Get("Content-Type")
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: %s %q %q, want %d", tc.method, tc.path, resp.Status, ct, body, tc.status)
			}
			if tc.code == "" {
				if !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, `class="narrow error-page"`) || !strings.Contains(body, tc.words) {
					t.Fatalf("%q %q, want the error page saying %q", ct, body, tc.words)
				}
				return
			}
			var e struct{ Error, Message string }
			if !strings.HasPrefix(ct, "application/json") || json.Unmarshal([]byte(body), &e) != nil {
				t.Fatalf("%q %q, want the API's JSON error", ct, body)
			}
			if e.Error != tc.code || !strings.Contains(e.Message, tc.words) {
				t.Fatalf("%+v, want code %s and words %q", e, tc.code, tc.words)
			}
		})
	}
}

// TestMethodNotAllowed: a wrong method on a known route, whoever owns it
// (the API, a dispatcher on a path segment, tus, the tracker, the web
// seed, a page), answers 405 with Allow listing the methods that do have a
// route there, as JSON for programs and as the error page for pages; only
// an address no method has is a 404. Before, every one was 404 no_route,
// because the catch-all patterns "/" and "/api/" match every method
// (issue 17).
func TestMethodNotAllowed(t *testing.T) {
	p := startInProcess(t)
	base := p.URL()
	const id = "abcdefghijklmnop" // well-formed; no such video is needed
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
		ctype, words string
	}{
		{"POST", "/api/v1/pod", 405, "GET, HEAD", "application/json", `"error":"method_not_allowed","message":"this address does not take this method; use GET, HEAD"`},
		{"DELETE", "/api/v1/videos", 405, "GET, HEAD, POST", "application/json", `"method_not_allowed"`},
		{"PUT", "/api/v1/videos/" + id, 405, "GET, HEAD, PATCH, DELETE", "application/json", `"method_not_allowed"`},
		{"GET", "/api/v1/videos/" + id + "/views", 405, "POST", "application/json", `"method_not_allowed"`},
		{"POST", "/api/v1/videos/" + id + "/torrent", 405, "GET, HEAD", "application/json", `"method_not_allowed"`},
		{"GET", "/api/v1/videos/uploads/" + id, 405, "HEAD, PATCH, DELETE, OPTIONS", "application/json", `"method_not_allowed"`},
		{"GET", "/api/v1/users/token", 405, "POST, DELETE", "application/json", `"method_not_allowed"`},
		{"POST", "/tracker/announce", 405, "GET, HEAD", "application/json", `"method_not_allowed"`},
		{"POST", "/feeds/videos.atom", 405, "GET, HEAD", "application/json", `"method_not_allowed"`},
		{"POST", "/upload", 405, "GET, HEAD", "text/html", "use GET, HEAD"},
		{"DELETE", "/videos/" + id, 405, "GET, HEAD", "text/html", "use GET, HEAD"},
		{"POST", "/", 405, "GET, HEAD", "text/html", "This request cannot be answered"},
		// No method has a route here: still 404.
		{"POST", "/api/v1/nothing", 404, "", "application/json", `"no_route"`},
		{"GET", "/api/v1/videos/" + id + "/nothing", 404, "", "application/json", `"no_route"`},
		{"POST", "/nothing", 404, "", "text/html", "Page not found"},
		{"POST", "/tracker/nothing", 404, "", "application/json", `"no_route"`},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(b), tc.words) {
			t.Errorf("%s %s: %s Allow %q %q, want %d Allow %q %s with %q; body:\n%.300s", tc.method, tc.path, resp.Status,
				resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), tc.status, tc.allow, tc.ctype, tc.words, b)
		}
	}
}

// TestUnknownUser: a user page, ?owner= and a user's feed of a name no
// user has answer 404 (the error page for the page, JSON for the API),
// not an empty list with 200 (issue 17: /users/nobody answered 200).
func TestUnknownUser(t *testing.T) {
	p := startInProcess(t)
	base := p.URL()
	for _, tc := range []struct {
		path, ctype, words string
		status             int
	}{
		{"/users/nobody", "text/html", "Page not found", 404},
		{"/api/v1/videos?owner=nobody", "application/json", `"error":"no_such_user"`, 404},
		{"/feeds/videos.xml?user=nobody", "application/json", `"error":"no_such_user"`, 404},
		{"/users/admin", "text/html", "Videos by admin", 200},
		{"/users/ADMIN", "text/html", "Videos by ADMIN", 200},
		{"/api/v1/videos?owner=admin", "application/json", `"total":0`, 200},
		{"/feeds/videos.atom?user=admin", "application/atom+xml", "<feed", 200},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(b), tc.words) {
			t.Errorf("GET %s: %s %q, want %d %s with %q; body:\n%.300s", tc.path, resp.Status, resp.Header.Get("Content-Type"), tc.status, tc.ctype, tc.words, b)
		}
	}
}

// TestHeadersTooLarge: a header block over 64 KiB gets 431 in the pod's
// shape (JSON, or the error page), because net/http's own cap is set above
// it; only one over that cap (256 KiB) still gets net/http's plain text,
// which no handler can change (README, "What stays plain text"). Before,
// every 431 was net/http's "431 Request Header Fields Too Large".
func TestHeadersTooLarge(t *testing.T) {
	p := startInProcess(t)
	addr := p.Addr().String()
	for _, tc := range []struct {
		path         string
		junk         int
		status       int
		ctype, words string
	}{
		{"/api/v1/pod", 40 << 10, 200, "application/json", `"name"`},
		{"/api/v1/pod", 100 << 10, 431, "application/json", `"error":"headers_too_large","message":"the request's headers are larger than this pod accepts (64 KiB)`},
		{"/upload", 200 << 10, 431, "text/html", "larger than this pod accepts (64 KiB)"},
		{"/api/v1/pod", 1 << 20, 431, "text/plain", "431 Request Header Fields Too Large"},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nX-Junk: %s\r\n\r\n", tc.path, addr, strings.Repeat("j", tc.junk))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s with %d bytes of headers: %v", tc.path, tc.junk, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.Close()
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || !strings.Contains(string(b), tc.words) {
			t.Errorf("%s with %d bytes of headers: %s %q, want %d %s with %q; body:\n%.300s", tc.path, tc.junk, resp.Status,
				resp.Header.Get("Content-Type"), tc.status, tc.ctype, tc.words, b)
		}
	}
}

// TestNumericQueryParams: every number a /api/v1 route reads from its
// query (paging of the lists and of search, a torrent's resolution,
// oEmbed's bounds) refuses what is not one number in its range with 400
// and a message saying what it must be; none is quietly ignored or
// clamped (issue 17: ?page=-1 was ignored by the list pages, TestPageParam
// in web).
func TestNumericQueryParams(t *testing.T) {
	p := startInProcess(t)
	base := p.URL()
	const id = "abcdefghijklmnop"
	watch := url.QueryEscape(base + "/videos/" + id)
	for _, tc := range []struct {
		path       string
		bad        []string
		code, word string
	}{
		{"/api/v1/videos?", []string{"start=-1", "start=x", "start=1000001", "start=99999999999999999999", "count=0", "count=101", "count="},
			"invalid_paging", "start must be a whole number from 0 to 1000000 and count one from 1 to 100"},
		{"/api/v1/videos?owner=admin&", []string{"start=-1", "count=x"}, "invalid_paging", "start must be a whole number"},
		{"/api/v1/videos/search?q=a&", []string{"start=-1", "count=1e3"}, "invalid_paging", "start must be a whole number"},
		{"/api/v1/videos/" + id + "/torrent?", []string{"resolution=-1", "resolution=x", "resolution=99999999999", "resolution="},
			"invalid_resolution", "resolution must be a number of pixels"},
		{"/api/v1/oembed?url=" + watch + "&", []string{"maxwidth=-1", "maxwidth=x", "maxheight=0", "maxheight=99999999999999999999"},
			"bad_max", "must be a positive number of pixels"},
	} {
		for _, q := range tc.bad {
			resp, err := http.Get(base + tc.path + q)
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Error, Message string }
			err = json.NewDecoder(resp.Body).Decode(&e)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || err != nil || !strings.HasPrefix(e.Error, tc.code) || !strings.Contains(e.Message, tc.word) {
				t.Errorf("GET %s%s: %s %+v, want 400 %s saying %q", tc.path, q, resp.Status, e, tc.code, tc.word)
			}
		}
	}
}

// TestRepeatedQueryParams: a parameter given twice is refused with 400
// repeated_parameter naming it, on every route that reads its query (the
// lists and search, a torrent's resolution, oEmbed, users/me, the admin
// lists, the feeds, the list pages), whoever asks; it used to take the
// first value (?owner=a&owner=b listed a's videos). A query that does not
// parse is 400 invalid_query; one value each still works. A page refuses
// only the parameters it reads: a shared link's utm_source given twice or
// fbclid badly escaped still shows the page.
func TestRepeatedQueryParams(t *testing.T) {
	p := startInProcess(t)
	base := p.URL()
	admin := loginHTTP(t, base, "admin", "admin-password")
	const id = "abcdefghijklmnop"
	watch := url.QueryEscape(base + "/videos/" + id)
	get := func(target string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+target, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}
	for _, tc := range []struct {
		path   string   // with the other parameters the route needs
		params []string // each given twice, with values it would take once
	}{
		{"/api/v1/videos?", []string{"start=0", "count=5", "owner=admin"}},
		{"/api/v1/videos/search?", []string{"q=a", "start=0", "count=5"}},
		{"/api/v1/videos/" + id + "/torrent?", []string{"resolution=240"}},
		{"/api/v1/oembed?", []string{"url=" + watch, "maxwidth=100", "maxheight=100", "format=json"}},
		{"/api/v1/users/me?", []string{"optional=true"}},
		{"/api/v1/users?", []string{"start=0", "count=5"}},
		{"/api/v1/pods?", []string{"start=0", "count=5"}},
		{"/api/v1/jobs?", []string{"start=0", "count=5"}},
		{"/api/v1/mirrors?", []string{"start=0", "count=5"}},
		{"/feeds/videos.xml?", []string{"user=admin"}},
		{"/feeds/videos.atom?", []string{"user=admin"}},
	} {
		for _, param := range tc.params {
			name, _, _ := strings.Cut(param, "=")
			other := strings.Replace(param, "=", "=1", 1)
			if name == "url" {
				other = "url=" + url.QueryEscape(base+"/videos/other")
			}
			target := tc.path + param + "&" + other
			resp, b := get(target)
			var e struct{ Error, Message string }
			err := json.Unmarshal(b, &e)
			if resp.StatusCode != http.StatusBadRequest || err != nil || e.Error != "repeated_parameter" || !strings.Contains(e.Message, `"`+name+`"`) {
				t.Errorf("GET %s: %s %.200s, want 400 repeated_parameter naming %s", target, resp.Status, b, name)
			}
		}
	}
	v := uploadVideo(t, nil, base, admin, "shared link", smallClip(t))
	for _, tc := range []struct {
		target string
		status int
		words  string
	}{
		{"/?page=1&page=2", 400, "given twice"},
		{"/search?q=a&q=b", 400, "given twice"},
		{"/search?q=%zz", 400, "malformed"},
		{"/search?q=a;utm_source=x", 400, "malformed"},
		{"/users/admin?page=2&page=3", 400, "given twice"},
		{"/videos/" + v.ID + "?utm_source=a&utm_source=b", 200, "shared link"},
		{"/videos/" + v.ID + "/embed?fbclid=%zz&t=1&t=2", 200, "shared link"},
		{"/?fbclid=%zz", 200, "shared link"},
		{"/?utm_source=a;utm_medium=b&page=1", 200, "shared link"},
		{"/search?q=shared&utm_campaign=x&utm_campaign=y", 200, "shared link"},
		{"/users/admin?igshid=a&igshid=b", 200, "shared link"},
		{"/login?fbclid=%zz&fbclid=1", 200, "Log in"},
	} {
		resp, b := get(tc.target)
		if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(b), tc.words) {
			t.Errorf("GET %s: %s %q, want %d, a page saying %q", tc.target, resp.Status, resp.Header.Get("Content-Type"), tc.status, tc.words)
		}
	}
	for _, tc := range []struct {
		target string
		status int
		code   string
	}{
		{"/api/v1/videos?owner=%zz", 400, "invalid_query"},
		{"/api/v1/videos?owner=admin;owner=x", 400, "invalid_query"},
		{"/api/v1/videos?owner=admin&start=0&count=5", 200, ""},
		{"/tracker/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa&info_hash=bbbbbbbbbbbbbbbbbbbb", 200, ""}, // BEP 48: a list
	} {
		resp, b := get(tc.target)
		var e struct{ Error string }
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode != tc.status || e.Error != tc.code {
			t.Errorf("GET %s: %s %.200s, want %d %s", tc.target, resp.Status, b, tc.status, tc.code)
		}
	}
}
