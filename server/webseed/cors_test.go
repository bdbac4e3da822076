package webseed

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/chromium"
	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestPreflight checks the answers to the preflights browsers send before
// the range requests of WebTorrent JS and of friend pods' pages.
func TestPreflight(t *testing.T) {
	_, srv, _, _ := setup(t)
	for _, tc := range []struct {
		name, reqHeaders string
		wantIn           []string // must appear in Access-Control-Allow-Headers
		wantNot          string
	}{
		{"range if-range cache-control", "range,if-range,cache-control", []string{"range", "if-range", "cache-control", "Range", "If-Range"}, ""},
		{"none asked", "", []string{"Range", "If-Range", "Cache-Control"}, ""},
		{"custom header echoed", "x-webtorrent-peer, range", []string{"x-webtorrent-peer", "range"}, ""},
		{"not tokens: not echoed", "range, bad header(x)", []string{"Range"}, "bad"},
		{"too long: not echoed", strings.Repeat("x-aaaaaaaa,", 200), []string{"Range"}, "x-aaaaaaaa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/static/webseed/clip.mp4", nil)
			req.Header.Set("Origin", "http://other.test:8080")
			req.Header.Set("Access-Control-Request-Method", "GET")
			if tc.reqHeaders != "" {
				req.Header["Access-Control-Request-Headers"] = []string{tc.reqHeaders}
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d", resp.StatusCode)
			}
			h := resp.Header
			if h.Get("Access-Control-Allow-Origin") != "*" || h.Get("Access-Control-Allow-Methods") != "GET, HEAD" ||
				!strings.Contains(h.Get("Access-Control-Expose-Headers"), "Content-Range") || h.Get("Access-Control-Max-Age") == "" {
				t.Fatalf("headers %v", h)
			}
			allow := h.Get("Access-Control-Allow-Headers")
			for _, w := range tc.wantIn {
				if !strings.Contains(allow, w) {
					t.Errorf("Allow-Headers %q lacks %q", allow, w)
				}
			}
			if tc.wantNot != "" && strings.Contains(allow, tc.wantNot) {
				t.Errorf("Allow-Headers %q echoes %q", allow, tc.wantNot)
			}
		})
	}
	// A preflight for an unknown file answers the same: it reveals nothing.
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/static/webseed/nope.mp4", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("unknown file preflight: %d", resp.StatusCode)
	}
}

// TestCrossOriginChromium is the real judge: a page on another origin
// (another port) fetches the web seed in Chromium with the requests
// WebTorrent JS makes (suffix range, If-Range with the ETag, Cache-Control,
// which are not CORS-safelisted and so need a preflight) and reads the
// exposed headers.
func TestCrossOriginChromium(t *testing.T) {
	testenv.Chromium(t) // skip (or fail in CI) before setting up
	_, seed, data, _ := setup(t)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>other pod</title><p>other origin")
	}))
	t.Cleanup(page.Close)

	ctx, cancel := context.WithTimeout(chromium.Start(t, chromium.Options(t, t.TempDir())), 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(page.URL)); err != nil {
		t.Fatal(err)
	}
	u := seed.URL + "/static/webseed/clip.mp4"
	type result struct {
		Status       int    `json:"status"`
		ContentRange string `json:"contentRange"`
		ETag         string `json:"etag"`
		Length       int    `json:"length"`
		Error        string `json:"error"`
	}
	fetch := func(headers string) result {
		t.Helper()
		js := fmt.Sprintf(`(async () => {
			try {
				const r = await fetch(%q, {headers: %s, mode: 'cors', cache: 'no-store'});
				const b = await r.arrayBuffer();
				return {status: r.status, contentRange: r.headers.get('Content-Range') || '', etag: r.headers.get('ETag') || '', length: b.byteLength, error: ''};
			} catch (e) { return {status: 0, contentRange: '', etag: '', length: 0, error: String(e)}; }
		})()`, u, headers)
		res, err := chromedp.Run(ctx, chromedp.Evaluate[result](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := fetch(`{Range: 'bytes=0-9'}`) // a simple request: no preflight needed
	if first.Status != 206 || first.Length != 10 || first.ETag == "" {
		t.Fatalf("plain range: %+v", first)
	}
	size := len(data)
	for _, tc := range []struct {
		name, headers  string
		status, length int
		contentRange   string
	}{
		{"suffix range", `{Range: 'bytes=-7'}`, 206, 7, fmt.Sprintf("bytes %d-%d/%d", size-7, size-1, size)},
		{"if-range and cache-control", fmt.Sprintf(`{Range: 'bytes=100-199', 'If-Range': %q, 'Cache-Control': 'no-cache'}`, first.ETag), 206, 100, fmt.Sprintf("bytes 100-199/%d", size)},
		{"stale if-range gets the whole file", `{Range: 'bytes=100-199', 'If-Range': '"stale"'}`, 200, size, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fetch(tc.headers)
			if got.Error != "" || got.Status != tc.status || got.Length != tc.length || got.ContentRange != tc.contentRange {
				t.Fatalf("got %+v, want status %d, %d bytes, Content-Range %q", got, tc.status, tc.length, tc.contentRange)
			}
		})
	}
}
