package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/webseed"
	"github.com/swarmtube/swarmtube/shared/media"
)

func testMux(t *testing.T, static fstest.MapFS) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	if static == nil {
		Routes(mux, Options{})
	} else {
		newSite(static, templatesFS()).routes(mux)
	}
	return mux
}

func get(mux http.Handler, target string, header map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

func TestPages(t *testing.T) {
	t.Parallel()
	mux := testMux(t, nil)
	for _, p := range pages {
		path := strings.TrimPrefix(p.pattern, "GET ")
		path = strings.NewReplacer("{$}", "", "{id}", "abc", "{name}", "alice").Replace(path)
		t.Run(p.name, func(t *testing.T) {
			w := get(mux, path, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
			}
			h := w.Header()
			wantCSP := ContentSecurityPolicy
			if p.name == "embed" {
				wantCSP = EmbedContentSecurityPolicy
			}
			if got := h.Get("Content-Security-Policy"); got != wantCSP {
				t.Errorf("CSP = %q", got)
			}
			if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
				t.Errorf("Content-Type = %q", h.Get("Content-Type"))
			}
			body := w.Body.String()
			// One inline script, the engine's start.js, allowed by its
			// hash; no handler attributes.
			if n := strings.Count(body, "<script>"); n != 1 || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
				t.Errorf("%d inline scripts, or a handler, in page:\n%s", n, body)
			}
			inline := between(body, "<script>", "</script>")
			if sum := sha256.Sum256([]byte(inline)); !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self' 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"' ") {
				t.Errorf("the CSP does not allow the inline script %q", inline)
			}
			if !strings.Contains(inline, "serviceWorker.register(") {
				t.Errorf("the inline script is not the engine's start.js: %q", inline)
			}
			// Every asset the page names exists and is versioned by content.
			want := `src="/static/js/pages/` + p.name + `.js?v=`
			if !strings.Contains(body, want) {
				t.Errorf("page does not load its module %s", want)
			}
			// Module preloads name the modules as their importers do,
			// unversioned (revalidated by ETag, see web.go).
			for _, m := range regexp.MustCompile(`<link rel="modulepreload" href="(/static/[^"]+)">`).FindAllStringSubmatch(body, -1) {
				if aw := get(mux, m[1], nil); aw.Code != http.StatusOK || aw.Header().Get("ETag") == "" {
					t.Errorf("preloaded module %s: %d, ETag %q", m[1], aw.Code, aw.Header().Get("ETag"))
				}
			}
			body = regexp.MustCompile(`<link rel="modulepreload" href="[^"]+">`).ReplaceAllString(body, "")
			for _, m := range regexp.MustCompile(`(?:src|href|content)="(/static/[^"]+)"`).FindAllStringSubmatch(body, -1) {
				aw := get(mux, strings.ReplaceAll(m[1], "&amp;", "&"), nil)
				if aw.Code != http.StatusOK {
					t.Errorf("asset %s: %d", m[1], aw.Code)
				}
				if !strings.Contains(aw.Header().Get("Cache-Control"), "immutable") {
					t.Errorf("versioned asset %s not immutable: %q", m[1], aw.Header().Get("Cache-Control"))
				}
			}
			// Revisits are 304s.
			w2 := get(mux, path, map[string]string{"If-None-Match": h.Get("ETag")})
			if w2.Code != http.StatusNotModified {
				t.Errorf("revalidation: %d, want 304", w2.Code)
			}
		})
	}
}

// TestModulesImportExisting checks every relative ES module import resolves
// to an embedded file, since nothing else would notice a typo before a
// browser does.
func TestModulesImportExisting(t *testing.T) {
	t.Parallel()
	mux := testMux(t, nil)
	importRE := regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*from\s+'([^']+)'`)
	var walk func(dir string)
	seen := 0
	walk = func(dir string) {
		entries, err := files.ReadDir("static/js" + dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				walk(dir + "/" + e.Name())
				continue
			}
			src, err := files.ReadFile("static/js" + dir + "/" + e.Name())
			if err != nil {
				t.Fatal(err)
			}
			if regexp.MustCompile(`\.innerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(`).Match(src) {
				t.Errorf("%s%s/%s builds HTML from strings or evaluates code", "js", dir, e.Name())
			}
			for _, m := range importRE.FindAllSubmatch(src, -1) {
				seen++
				target := "/static/js" + dir + "/" + string(m[1])
				target = cleanURLPath(target)
				if w := get(mux, target, nil); w.Code != http.StatusOK {
					t.Errorf("js%s/%s imports %s: %d", dir, e.Name(), m[1], w.Code)
				}
			}
		}
	}
	walk("")
	if seen == 0 {
		t.Fatal("no imports found: the pattern is broken")
	}
}

func cleanURLPath(p string) string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		switch s {
		case ".", "":
		case "..":
			out = out[:len(out)-1]
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

func TestStatic(t *testing.T) {
	t.Parallel()
	static := fstest.MapFS{
		"client.wasm":    {Data: []byte("\x00asm raw wasm bytes")},
		"client.wasm.gz": {Data: []byte("gzip bytes")},
		"client.wasm.br": {Data: []byte("brotli bytes")},
		"plain.wasm":     {Data: []byte("\x00asm only raw")},
		"app.js":         {Data: []byte("export const x = 1;\n")},
		"img/logo.svg":   {Data: []byte("<svg/>")},
		"photo.png":      {Data: []byte("\x89PNG")},
		"photo.png.gz":   {Data: []byte("not served: png is not compressible")},
		"sw.js":          {Data: []byte("self.addEventListener('fetch', () => {});")},
		"style.css":      {Data: []byte("a {\n  color: #ff0000;\n}\n")},
	}
	mux := testMux(t, static)
	site := newSite(static, templatesFS())
	appVersion := site.digest("app.js")

	tests := []struct {
		name, target string
		header       map[string]string
		code         int
		body         string
		want         map[string]string // header → exact value ("" means absent)
	}{
		{"wasm brotli", "/static/client.wasm", map[string]string{"Accept-Encoding": "gzip, deflate, br"}, 200, "brotli bytes",
			map[string]string{"Content-Type": "application/wasm", "Content-Encoding": "br", "Vary": "Accept-Encoding", "Cache-Control": "no-cache"}},
		{"wasm gzip", "/static/client.wasm", map[string]string{"Accept-Encoding": "gzip"}, 200, "gzip bytes",
			map[string]string{"Content-Type": "application/wasm", "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}},
		{"wasm br refused", "/static/client.wasm", map[string]string{"Accept-Encoding": "br;q=0, gzip;q=0.5"}, 200, "gzip bytes",
			map[string]string{"Content-Encoding": "gzip"}},
		{"wasm identity", "/static/client.wasm", nil, 200, "\x00asm raw wasm bytes",
			map[string]string{"Content-Type": "application/wasm", "Content-Encoding": "", "Vary": "Accept-Encoding"}},
		{"wasm without siblings", "/static/plain.wasm", map[string]string{"Accept-Encoding": "gzip, br"}, 200, "\x00asm only raw",
			map[string]string{"Content-Encoding": "", "Vary": ""}},
		// Scripts and stylesheets are served minified.
		{"js unversioned", "/static/app.js", nil, 200, "export const x=1",
			map[string]string{"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}},
		{"js versioned", "/static/app.js?v=" + appVersion, nil, 200, "export const x=1",
			map[string]string{"Cache-Control": "public, max-age=31536000, immutable"}},
		{"js stale version", "/static/app.js?v=0123456789abcdef", nil, 200, "export const x=1",
			map[string]string{"Cache-Control": "no-cache"}},
		{"png not compressible", "/static/photo.png", map[string]string{"Accept-Encoding": "gzip"}, 200, "\x89PNG",
			map[string]string{"Content-Encoding": "", "Content-Type": "image/png"}},
		{"svg", "/static/img/logo.svg", nil, 200, "<svg/>", map[string]string{"Content-Type": "image/svg+xml"}},
		{"service worker scope", "/static/sw.js", map[string]string{"Service-Worker": "script"}, 200, "",
			map[string]string{"Service-Worker-Allowed": "/"}},
		{"no sw header otherwise", "/static/app.js", nil, 200, "", map[string]string{"Service-Worker-Allowed": ""}},
		{"missing", "/static/nope.js", nil, 404, "", nil},
		{"directory", "/static/img/", nil, 404, "", nil},
		{"directory no slash", "/static/img", nil, 404, "", nil},
		{"range", "/static/app.js", map[string]string{"Range": "bytes=0-5"}, 206, "export", nil},
		{"css minified", "/static/style.css", nil, 200, "a{color:red}", map[string]string{"Content-Type": "text/css; charset=utf-8"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := get(mux, tc.target, tc.header)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.code, w.Body)
			}
			if tc.body != "" && w.Body.String() != tc.body {
				t.Errorf("body %q, want %q", w.Body, tc.body)
			}
			for k, v := range tc.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}

	t.Run("etag per encoding", func(t *testing.T) {
		br := get(mux, "/static/client.wasm", map[string]string{"Accept-Encoding": "br"})
		raw := get(mux, "/static/client.wasm", nil)
		if br.Header().Get("ETag") == raw.Header().Get("ETag") || br.Header().Get("ETag") == "" {
			t.Fatalf("ETags %q and %q must differ", br.Header().Get("ETag"), raw.Header().Get("ETag"))
		}
		nm := get(mux, "/static/client.wasm", map[string]string{"Accept-Encoding": "br", "If-None-Match": br.Header().Get("ETag")})
		if nm.Code != http.StatusNotModified {
			t.Fatalf("If-None-Match: %d, want 304", nm.Code)
		}
		cross := get(mux, "/static/client.wasm", map[string]string{"If-None-Match": br.Header().Get("ETag")})
		if cross.Code != http.StatusOK {
			t.Fatalf("brotli ETag must not validate the identity body: %d", cross.Code)
		}
	})
}

func TestAcceptsEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header, token string
		want          bool
	}{
		{"gzip, deflate, br", "br", true},
		{"gzip, deflate, br", "gzip", true},
		{"gzip", "br", false},
		{"", "gzip", false},
		{"br;q=0", "br", false},
		{"br; q=0.0, gzip", "br", false},
		{"BR;q=0.5", "br", true},
		{"*", "br", true},
		{"*;q=0, gzip", "gzip", true},
		{"*;q=0, gzip", "br", false},
		{"*, br;q=0", "br", false},
		{"br;q=garbage", "br", false},
	}
	for _, tc := range tests {
		if got := acceptsEncoding(tc.header, tc.token); got != tc.want {
			t.Errorf("acceptsEncoding(%q, %q) = %v, want %v", tc.header, tc.token, got, tc.want)
		}
	}
}

func FuzzAcceptsEncoding(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br", "br;q=0", "*;q=0, gzip", "br; q=0.0, gzip", ";;,,q=", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		// Nothing accepts an encoding the header does not name, even by "*".
		if acceptsEncoding(header, "br") && !strings.Contains(strings.ToLower(header), "br") && !strings.Contains(header, "*") {
			t.Fatalf("%q accepted br", header)
		}
		// An explicit refusal at the end always wins.
		if acceptsEncoding(header+", br;q=0", "br") {
			t.Fatalf("explicit br;q=0 ignored after %q", header)
		}
	})
}

func TestFavicon(t *testing.T) {
	t.Parallel()
	w := get(testMux(t, nil), "/favicon.ico", nil)
	if w.Code != http.StatusFound || !strings.HasPrefix(w.Header().Get("Location"), "/static/img/logo.svg?v=") {
		t.Fatalf("favicon: %d %q", w.Code, w.Header().Get("Location"))
	}
}

// TestErrorPages: unknown routes and unknown videos get the site's 404
// page, not net/http's plain "404 page not found" or a player that never
// loads (issue 17 items 4 and 27).
func TestErrorPages(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	Routes(mux, testOptions())
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/no/such/page", http.StatusNotFound, "Page not found"},
		{"/videos/bbbbbbbbbbbbbbbb", http.StatusNotFound, "Video not found"},
		{"/videos/not-an-id", http.StatusNotFound, "Video not found"},
		{"/videos/aaaaaaaaaaaaaaaa", http.StatusOK, `id="player"`},
		// The static folder itself: the 404 page at once, not a
		// redirect from /static to /static/ and a 404 there (issue 17).
		{"/static", http.StatusNotFound, "Page not found"},
		{"/static/", http.StatusNotFound, "Page not found"},
	} {
		w := get(mux, tc.path, nil)
		body := w.Body.String()
		if w.Code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d, want %d with %q", tc.path, w.Code, tc.status, tc.want)
			continue
		}
		if tc.status != http.StatusOK {
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("GET %s: Content-Type %q", tc.path, ct)
			}
			for _, part := range []string{`class="site-header"`, `href="/"`, "Content-Security-Policy"} {
				if !strings.Contains(body, part) && w.Header().Get(part) == "" {
					t.Errorf("GET %s: the error page lacks %s", tc.path, part)
				}
			}
		}
	}
}

func testOptions() Options {
	return Options{PodURL: "https://pod.example", PodName: "Pod Example", Video: func(id string) (api.Video, bool) {
		if id == "cccccccccccccccc" {
			return api.Video{ID: id, Name: "With images", Owner: "alice", State: api.StatePublished,
				WebseedURL:   "https://pod.example/static/webseed/cccccccccccccccc.mp4",
				ThumbnailURL: "https://pod.example/static/images/cccccccccccccccc-thumb-0123456789abcdef.jpg",
				PreviewURL:   "https://pod.example/static/images/cccccccccccccccc-preview-0123456789abcdef.jpg",
				Files:        []api.VideoFile{{Resolution: 720}, {Resolution: 360}, {Resolution: 0}}}, true
		}
		if id != "aaaaaaaaaaaaaaaa" {
			return api.Video{}, false
		}
		return api.Video{ID: id, Name: `Élan "vital" <b>`, Description: "A first video. " + strings.Repeat("word ", 100), Owner: "alice",
			WebseedURL: "https://pod.example/static/webseed/aaaaaaaaaaaaaaaa.mp4", ContentType: "video/mp4"}, true
	}}
}

// TestLinkPreviews: a known video's watch page carries its title, Open
// Graph and Twitter tags and the oEmbed discovery link, escaped; the
// oEmbed endpoint answers as oembed.com specifies; the embed page may be
// framed by any site, the others by none (issue 17).
func TestLinkPreviews(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	Routes(mux, testOptions())
	w := get(mux, "/videos/aaaaaaaaaaaaaaaa", nil)
	body := w.Body.String()
	for _, want := range []string{
		`<title>Élan &#34;vital&#34; &lt;b&gt; · Swarmtube</title>`,
		`<meta property="og:title" content="Élan &#34;vital&#34; &lt;b&gt;">`,
		`<meta property="og:url" content="https://pod.example/videos/aaaaaaaaaaaaaaaa">`,
		`<meta property="og:video" content="https://pod.example/static/webseed/aaaaaaaaaaaaaaaa.mp4">`,
		`<meta name="twitter:card" content="summary">`,
		`<link rel="alternate" type="application/json+oembed" href="https://pod.example/api/v1/oembed?format=json&amp;url=https%3A%2F%2Fpod.example%2Fvideos%2Faaaaaaaaaaaaaaaa"`,
		`content="A first video. word word`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("watch page lacks %s", want)
		}
	}
	if strings.Contains(body, "<b>") {
		t.Error("the video name reached the HTML unescaped")
	}
	if strings.Contains(body, "og:image") || strings.Contains(body, `poster=`) {
		t.Error("a video without images has an og:image or a poster")
	}
	// A video with images: its preview is the link preview's image and the
	// player's poster before any script runs.
	preview := "https://pod.example/static/images/cccccccccccccccc-preview-0123456789abcdef.jpg"
	body = get(mux, "/videos/cccccccccccccccc", nil).Body.String()
	for _, want := range []string{
		`<meta property="og:image" content="` + preview + `">`,
		`<meta property="og:image:width" content="854">`,
		`<meta name="twitter:card" content="summary_large_image">`,
		` poster="` + preview + `" aria-label=`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("watch page with images lacks %s", want)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("watch page CSP %q", csp)
	}
	e := get(mux, "/videos/aaaaaaaaaaaaaaaa/embed", nil)
	if e.Code != 200 || !strings.Contains(e.Header().Get("Content-Security-Policy"), "frame-ancestors *") || strings.Contains(e.Body.String(), `<header class="site-header"`) {
		t.Errorf("embed page: %d CSP %q", e.Code, e.Header().Get("Content-Security-Policy"))
	}
	if e := get(mux, "/videos/bbbbbbbbbbbbbbbb/embed", nil); e.Code != 404 {
		t.Errorf("embed of an unknown video: %d", e.Code)
	}

	for _, tc := range []struct {
		query  string
		status int
		w, h   int
	}{
		{"url=https%3A%2F%2Fpod.example%2Fvideos%2Faaaaaaaaaaaaaaaa", 200, 640, 360},
		{"url=https%3A%2F%2Fpod.example%2Fvideos%2Faaaaaaaaaaaaaaaa&maxwidth=320&format=json", 200, 320, 180},
		{"url=https%3A%2F%2Fpod.example%2Fvideos%2Faaaaaaaaaaaaaaaa&maxheight=90", 200, 160, 90},
		{"url=https%3A%2F%2Fpod.example%2Fvideos%2Faaaaaaaaaaaaaaaa&format=xml", 501, 0, 0},
		{"url=https%3A%2F%2Fpod.example%2Fvideos%2Fbbbbbbbbbbbbbbbb", 404, 0, 0},
		{"url=https%3A%2F%2Fother.example%2Fvideos%2Faaaaaaaaaaaaaaaa", 404, 0, 0},
		{"url=https%3A%2F%2Fpod.example%2Fvideos%2Faaaaaaaaaaaaaaaa&maxwidth=-1", 400, 0, 0},
		// The address as a browser shows it: with a query, a fragment, a
		// trailing slash or the host in capitals (404 before).
		{"url=" + url.QueryEscape("https://pod.example/videos/aaaaaaaaaaaaaaaa?t=30&utm_source=x#c"), 200, 640, 360},
		{"url=" + url.QueryEscape("https://POD.example/videos/aaaaaaaaaaaaaaaa/"), 200, 640, 360},
		{"url=" + url.QueryEscape("http://pod.example/videos/aaaaaaaaaaaaaaaa"), 404, 0, 0},
		{"url=" + url.QueryEscape("https://pod.example/videos/aaaaaaaaaaaaaaaa/embed"), 404, 0, 0},
		{"url=" + url.QueryEscape("https://pod.example.evil/videos/aaaaaaaaaaaaaaaa"), 404, 0, 0},
		{"url=" + url.QueryEscape("https://u@pod.example/videos/aaaaaaaaaaaaaaaa"), 404, 0, 0},
		{"", 400, 0, 0}, // no url: was 404 "not a video of this pod"
		// Bounds under 16 pixels gave a height of 0.
		{"url=https%3A%2F%2Fpod.example%2Fvideos%2Faaaaaaaaaaaaaaaa&maxwidth=1&maxheight=1", 200, 1, 1},
		{"url=https%3A%2F%2Fpod.example%2Fvideos%2Faaaaaaaaaaaaaaaa&maxwidth=8", 200, 8, 4},
	} {
		w := get(mux, "/api/v1/oembed?"+tc.query, nil)
		if w.Code != tc.status {
			t.Errorf("oembed %s: %d, want %d", tc.query, w.Code, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		var a oembedAnswer
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		if a.Version != "1.0" || a.Type != "video" || a.Width != tc.w || a.Height != tc.h || a.ProviderName != "Pod Example" ||
			!strings.Contains(a.HTML, `src="https://pod.example/videos/aaaaaaaaaaaaaaaa/embed"`) || strings.Contains(a.HTML, "<b>") {
			t.Errorf("oembed %s: %+v", tc.query, a)
		}
	}
}

// TestQualityMenuRendered: a video with several files gets its quality
// menu in the HTML, with player.js's labels, disabled until the script
// binds it; one with a single file gets none shown. Revealing the menu
// after load moved everything below it (Lighthouse CLS 0.028 desktop,
// 0.031 mobile, issue 17).
func TestQualityMenuRendered(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux, testOptions())
	body := get(mux, "/videos/cccccccccccccccc", nil).Body.String()
	for _, want := range []string{
		`<div class="quality" id="quality">`,
		`<select id="quality-select" disabled><option value="auto">Auto</option><option value="720">720p</option><option value="360">360p</option><option value="0">Original</option></select>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("watch page of a video with three files lacks %s", want)
		}
	}
	if body := get(mux, "/videos/aaaaaaaaaaaaaaaa", nil).Body.String(); !strings.Contains(body, `<div class="quality" id="quality" hidden>`) || strings.Contains(body, "<option") {
		t.Error("watch page of a video with one file shows a quality menu")
	}
}

// TestUploadPageRendered: the upload page shows each viewer, in its HTML,
// what upload.js would show once /users/me answers (the form with the
// pod's size limit, or why not), so nothing moves when it does: the form
// was revealed after load (Lighthouse CLS 0.018 on a phone, issue 17).
func TestUploadPageRendered(t *testing.T) {
	var viewer *api.User
	opts := testOptions()
	opts.MaxUploadBytes = 5 << 20
	opts.Viewer = func(*http.Request) *api.User { return viewer }
	mux := http.NewServeMux()
	Routes(mux, opts)
	for _, tc := range []struct {
		name     string
		viewer   *api.User
		want     []string
		formShow bool
	}{
		{"anonymous", nil, []string{`<p class="message">Log in to upload videos. <a href="/login?next=%2Fupload">Log in</a>`}, false},
		{"without the right", &api.User{Username: "ann"}, []string{`<p class="message error">Your account may not upload videos yet.`}, false},
		{"uploader", &api.User{Username: "bob", Rights: []string{api.RightUpload}}, []string{`<div id="status" class="status" role="status" aria-live="polite"></div>`, `<span id="max-size">, up to 5 MiB</span>`}, true},
		{"admin", &api.User{Username: "cat", Rights: []string{api.RightAdmin}}, []string{`<span id="max-size">, up to 5 MiB</span>`}, true},
	} {
		viewer = tc.viewer
		body := get(mux, "/upload", nil).Body.String()
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: upload page lacks %s", tc.name, w)
			}
		}
		if shown := strings.Contains(body, `novalidate>`); shown != tc.formShow {
			t.Errorf("%s: form shown %v, want %v", tc.name, shown, tc.formShow)
		}
	}
}

// TestEarlyPrefetchIsWorkerBudget: the page prefetches exactly what the
// Service Worker reads before the engine runs (engine.js EARLY_PREFETCH,
// sw.js EARLY_BUDGET): less and the worker reads the rest itself, more and
// the page fetches bytes nobody plays yet.
func TestEarlyPrefetchIsWorkerBudget(t *testing.T) {
	t.Parallel()
	constant := func(file, name string) string {
		src, err := files.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^const ` + name + ` = ([^;]+);`).FindSubmatch(src)
		if m == nil {
			t.Fatalf("%s has no %s", file, name)
		}
		return string(m[1])
	}
	if js, sw := constant("static/engine/engine.js", "EARLY_PREFETCH"), constant("static/engine/sw.js", "EARLY_BUDGET"); js != sw {
		t.Errorf("engine.js EARLY_PREFETCH = %s, sw.js EARLY_BUDGET = %s", js, sw)
	}
	// The pod's start route (a first visit's first request) sends no more.
	if js, pod := constant("static/engine/engine.js", "EARLY_PREFETCH"), webseed.MaxStart; js != "1 << 20" || pod != 1<<20 {
		t.Errorf("engine.js EARLY_PREFETCH = %s, webseed.MaxStart = %d", js, pod)
	}
}

// TestEngineMIMEMatchesPod: the browser engine's extension → MIME map is
// the pod's (media.TypeByName), entry for entry (issue 13: it lacked .mov).
func TestEngineMIMEMatchesPod(t *testing.T) {
	t.Parallel()
	src, err := files.ReadFile("static/engine/engine.js")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)const MIME = \{(.*?)\};`).FindSubmatch(src)
	if block == nil {
		t.Fatal("engine.js has no MIME map")
	}
	js := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+): '([^']+)'`).FindAllSubmatch(block[1], -1) {
		js[string(m[1])] = string(m[2])
	}
	for _, ext := range []string{"mp4", "m4v", "webm", "ogv", "ogg", "mov", "mkv", "avi", "wmv"} {
		if want := media.TypeByName("x." + ext); js[ext] != want {
			t.Errorf(".%s: engine.js says %q, the pod %q", ext, js[ext], want)
		}
	}
	for ext := range js {
		if media.TypeByName("x."+ext) == "" {
			t.Errorf(".%s is in engine.js's map but not the pod's", ext)
		}
	}
}

// TestStylesheetInlined: every page carries the minified stylesheet in a
// <style> allowed by its hash in the CSP, and links none, so no request
// blocks the first render (issue 17 item 23); scripts are served minified.
func TestStylesheetInlined(t *testing.T) {
	t.Parallel()
	mux := testMux(t, nil)
	src, err := fs.ReadFile(Static(), stylesheet)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/search?q=x", "/upload", "/login", "/videos/abc", "/videos/abc/embed", "/no/such/page"} {
		w := get(mux, path, nil)
		body := w.Body.String()
		if strings.Contains(body, `rel="stylesheet"`) {
			t.Errorf("%s links a stylesheet", path)
		}
		css := between(body, "<style>", "</style>")
		if len(css) < 1000 || len(css) >= len(src) {
			t.Errorf("%s: inline stylesheet of %d bytes (source %d): not there or not minified", path, len(css), len(src))
		}
		sum := sha256.Sum256([]byte(css))
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
			t.Errorf("%s: the CSP %q does not allow the inline stylesheet", path, csp)
		}
	}
	for _, name := range []string{"js/ui.js", "js/pages/watch.js", "engine/engine.js", "engine/sw.js"} {
		raw, _ := fs.ReadFile(Static(), name)
		w := get(mux, "/static/"+name, nil)
		if w.Code != 200 || w.Body.Len() == 0 || w.Body.Len() >= len(raw)*9/10 {
			t.Errorf("%s: %d, %d bytes served of %d: not minified", name, w.Code, w.Body.Len(), len(raw))
		}
	}
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	in, _, _ := strings.Cut(rest, b)
	return in
}

// TestFormLimitsArePods checks the forms take no more text than the pod
// accepts: the upload page once allowed 200-character names and the pod
// refused them after the whole file had been hashed and sent.
func TestFormLimitsArePods(t *testing.T) {
	t.Parallel()
	mux := testMux(t, nil)
	body := get(mux, "/upload", nil).Body.String()
	for _, want := range []string{
		fmt.Sprintf(`id="name" name="name" type="text" required maxlength="%d"`, api.MaxVideoNameRunes),
		fmt.Sprintf(`id="description" name="description" rows="4" maxlength="%d"`, api.MaxVideoDescriptionRunes),
		// The watch page's edit form reads these.
		fmt.Sprintf(`data-max-name-runes="%d" data-max-description-runes="%d"`, api.MaxVideoNameRunes, api.MaxVideoDescriptionRunes),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("upload page lacks %s", want)
		}
	}
	js, err := fs.ReadFile(Static(), "js/pages/watch.js")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`maxlength: '\d+'`).Find(js); m != nil {
		t.Errorf("watch.js sets a limit of its own: %s", m)
	}
}

// TestWorkerMessagesDefinedOnce: the page ↔ Service Worker message types
// are defined in static/engine/messages.js only; engine.js and sw.js load
// it and name them through it, never as string literals (issue 13).
func TestWorkerMessagesDefinedOnce(t *testing.T) {
	t.Parallel()
	defs, err := files.ReadFile("static/engine/messages.js")
	if err != nil {
		t.Fatal(err)
	}
	types := regexp.MustCompile(`[A-Z]+: '(swarmtube-[a-z]+)'`).FindAllSubmatch(defs, -1)
	if len(types) < 6 {
		t.Fatalf("messages.js defines %d message types", len(types))
	}
	for _, name := range []string{"static/engine/engine.js", "static/engine/sw.js"} {
		src, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(src, []byte("messages.js")) || !bytes.Contains(src, []byte("self.SwarmtubeMessages")) {
			t.Errorf("%s does not load messages.js", name)
		}
		for _, m := range types {
			if bytes.Contains(src, append(append([]byte("'"), m[1]...), '\'')) {
				t.Errorf("%s spells the message type %s out instead of naming it from messages.js", name, m[1])
			}
		}
	}
}

// TestWorkerServedBundled: the pod serves the Service Worker and the
// engine's loader with messages.js inside them, so neither a first visit's
// worker install nor its <video>'s start waits on a second request; the
// source still defines the types once (messages.js).
func TestWorkerServedBundled(t *testing.T) {
	mux := testMux(t, nil)
	msgs := get(mux, "/static/engine/messages.js", nil)
	if msgs.Code != 200 {
		t.Fatalf("messages.js %d", msgs.Code)
	}
	for _, c := range []struct{ file, stmt string }{
		{"sw.js", "importScripts('messages.js');"},
		{"engine.js", "import './messages.js';"},
	} {
		served := get(mux, "/static/engine/"+c.file, nil)
		if served.Code != 200 {
			t.Fatalf("%s %d", c.file, served.Code)
		}
		body := served.Body.String()
		if strings.Contains(body, "importScripts") || strings.Contains(body, "messages.js\"") || strings.Contains(body, "messages.js'") {
			t.Errorf("the served %s still imports a script: %.300s", c.file, body)
		}
		if !strings.Contains(body, strings.TrimSuffix(strings.TrimSpace(msgs.Body.String()), ";")) {
			t.Errorf("the served %s lacks messages.js's definitions %q", c.file, msgs.Body.String())
		}
		src, err := files.ReadFile("static/engine/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(src, []byte(c.stmt)) {
			t.Errorf("%s's source no longer has %s as bundleImport expects", c.file, c.stmt)
		}
	}
}

// TestFilePickerAcceptsWhatThePodTakes: the upload page's file picker
// offers every file the pod accepts by its name (media.TypeByName), so no
// accepted video is greyed out in the dialog (issue 17 item 10: .mov was
// left out).
func TestFilePickerAcceptsWhatThePodTakes(t *testing.T) {
	w := get(testMux(t, nil), "/upload", nil)
	m := regexp.MustCompile(`<input id="file"[^>]* accept="([^"]+)"`).FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("the upload page has no file input with accept:\n%s", w.Body)
	}
	accept := map[string]bool{}
	for _, a := range strings.Split(m[1], ",") {
		accept[strings.TrimSpace(a)] = true
	}
	for _, ext := range []string{"mp4", "m4v", "webm", "ogv", "ogg", "mov", "mkv", "avi", "wmv"} {
		typ := media.TypeByName("x." + ext)
		if typ == "" {
			t.Errorf(".%s: the pod does not name its type", ext)
			continue
		}
		if !accept["."+ext] {
			t.Errorf("the picker's accept=%q leaves out .%s (%s)", m[1], ext, typ)
		}
	}
}

// TestUploadTransferText: the upload page's progress line tells bytes of
// the total, the speed over the last five seconds and the time left, and
// the speed falls to 0 (and the time left goes) when nothing moves (issue
// 17 item 11: progress showed only a percentage). ui.js's Transfer runs
// in node with a test clock.
func TestUploadTransferText(t *testing.T) {
	node := testenv.LookPath(t, "node")
	ui, err := filepath.Abs(filepath.Join("static", "js", "ui.js"))
	if err != nil {
		t.Fatal(err)
	}
	script := `import { Transfer } from ` + strconv.Quote(ui) + `;
let now = 0;
const x = new Transfer(() => now);
const MiB = 1 << 20, out = [];
x.add(0); out.push(x.text(0, 10 * MiB));
now = 1000; x.add(MiB); out.push(x.text(MiB, 10 * MiB));
now = 2000; x.add(2 * MiB); out.push(x.text(2 * MiB, 10 * MiB));
now = 400000; x.add(2 * MiB); now = 408000; x.add(2 * MiB); out.push(x.text(2 * MiB, 10 * MiB));
now = 409000; x.add(2 * MiB + 1024); out.push(x.text(2 * MiB + 1024, 10 * MiB));
console.log(JSON.stringify(out));`
	out, err := exec.Command(node, "--input-type=module", "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v: %s", err, out)
	}
	var got []string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node output %q: %v", out, err)
	}
	want := []string{
		"0 B of 10 MiB",
		"1 MiB of 10 MiB · 1 MiB/s · 9 s left",
		"2 MiB of 10 MiB · 1 MiB/s · 8 s left",
		"2 MiB of 10 MiB",                                // stalled: no speed, no guess
		"2 MiB of 10 MiB · 1 KiB/s · about 137 min left", // crawling
	}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// TestHasEngine: a static tree without client.wasm (a plain `go build`,
// or scripts/run_servers.sh before it ran make build) is told apart, so
// the pod can say why its pages play without peers.
func TestHasEngine(t *testing.T) {
	t.Parallel()
	if HasEngine(fstest.MapFS{"js/app.js": {Data: []byte("x")}}) {
		t.Error("a tree without client.wasm has the engine")
	}
	if HasEngine(fstest.MapFS{"client.wasm": {Data: nil}}) {
		t.Error("an empty client.wasm is an engine")
	}
	if !HasEngine(fstest.MapFS{"client.wasm": {Data: []byte("\x00asm")}}) {
		t.Error("client.wasm not found")
	}
}

// TestWatchPageCarriesVideoObject: a published video's watch page carries
// its API object (what GET /api/v1/videos/{id} answers), which watch.js
// reads instead of asking the API before the player starts; the name's
// markup stays data (html/template's JSON escaping), and a page without a
// published video carries none.
func TestWatchPageCarriesVideoObject(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	opts := testOptions()
	Routes(mux, opts)
	body := get(mux, "/videos/aaaaaaaaaaaaaaaa", nil).Body.String()
	m := regexp.MustCompile(`<script type="application/json" id="video-data">([^<]*)</script>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the watch page has no video object")
	}
	var got, want map[string]any
	if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
		t.Fatalf("video object %q: %v", m[1], err)
	}
	v, _ := opts.Video("aaaaaaaaaaaaaaaa")
	raw, _ := json.Marshal(v)
	json.Unmarshal(raw, &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("video object %v, want the API's %v", got, want)
	}
	if !strings.Contains(body, `<link rel="modulepreload" href="/static/engine/engine.js" fetchpriority="low">`) {
		t.Error("the watch page does not preload the engine's module")
	}
	if other := get(mux, "/videos/bbbbbbbbbbbbbbbb", nil).Body.String(); strings.Contains(other, `id="video-data"`) || strings.Contains(other, `modulepreload" href="/static/engine/engine.js"`) {
		t.Error("an unknown video's page carries a video object or preloads the engine")
	}
}

// TestModulePreloads: every page preloads the whole graph of modules its
// page script imports (so the browser fetches them at once, not one level
// after another), as the modules name them, and nothing else.
func TestModulePreloads(t *testing.T) {
	t.Parallel()
	graphs := moduleGraphs(fstest.MapFS{
		"js/pages/a.js": {Data: []byte("import { x } from '../ui.js';\nimport {\n  y,\n  z,\n} from '../player.js';\nimport '../side.js';\nconst m = await import('../lazy.js');\n// import '../commented.js' in a comment is not an import\n")},
		"js/player.js":  {Data: []byte("import { el } from './ui.js';\nimport { q } from \"./deep/q.js\";\nimport x from 'bare';\n")},
		"js/deep/q.js":  {Data: []byte("export const q = 1;")},
		"js/ui.js":      {Data: []byte("export const el = 1;")},
		"js/side.js":    {Data: []byte("self.x = 1;")},
	})
	want := []string{"js/deep/q.js", "js/player.js", "js/side.js", "js/ui.js"}
	if !reflect.DeepEqual(graphs["a"], want) {
		t.Errorf("graph of a.js: %v, want %v", graphs["a"], want)
	}
	// The real watch page preloads its graph, the engine included, at low
	// priority, so that a first visit's video (engine/start.js) gets a
	// connection first; other pages at the default.
	mux := http.NewServeMux()
	Routes(mux, testOptions())
	body := get(mux, "/videos/aaaaaaaaaaaaaaaa", nil).Body.String()
	for _, f := range []string{"/static/js/player.js", "/static/js/ui.js", "/static/js/api.js", "/static/js/layout.js", "/static/engine/engine.js"} {
		if !strings.Contains(body, `<link rel="modulepreload" href="`+f+`" fetchpriority="low">`) {
			t.Errorf("the watch page does not preload %s at low priority", f)
		}
	}
	if !regexp.MustCompile(`<script type="module" src="/static/js/pages/watch\.js[^"]*" fetchpriority="low">`).MatchString(body) {
		t.Error("the watch page's module is not at low priority")
	}
	if home := get(mux, "/", nil).Body.String(); strings.Contains(home, "fetchpriority") || !strings.Contains(home, `<link rel="modulepreload" href="/static/js/ui.js">`) {
		t.Error("the home page's modules are not preloaded at the default priority")
	}
}

// TestTusRetryable: tus.js resumes after what passes (network trouble, a
// stalled body: the pod's 500 upload_stalled or a proxy's 408, a conflict,
// a lock, throttling, the pod's own failures) and stops on what will not (a refused file, a missing
// right). A 408 once stopped the upload for good.
func TestTusRetryable(t *testing.T) {
	node := testenv.LookPath(t, "node")
	dir, err := filepath.Abs(filepath.Join("static", "js"))
	if err != nil {
		t.Fatal(err)
	}
	statuses := []int{0, 400, 401, 403, 408, 409, 412, 413, 415, 423, 429, 500, 503, 507}
	want := map[int]bool{0: true, 408: true, 409: true, 423: true, 429: true, 500: true, 503: true, 507: true}
	list, _ := json.Marshal(statuses)
	script := `import { retryable } from ` + strconv.Quote(filepath.Join(dir, "tus.js")) + `;
import { ApiError } from ` + strconv.Quote(filepath.Join(dir, "api.js")) + `;
console.log(JSON.stringify(` + string(list) + `.map((s) => retryable(new ApiError('x', s, 'c')))));`
	out, err := exec.Command(node, "--input-type=module", "-e", script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v: %s", err, out)
	}
	var got []bool
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(statuses) {
		t.Fatalf("node output %q: %v", out, err)
	}
	for i, s := range statuses {
		if got[i] != want[s] {
			t.Errorf("status %d: retryable %v, want %v", s, got[i], want[s])
		}
	}
}
