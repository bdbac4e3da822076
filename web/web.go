package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
)

//go:embed static templates
var files embed.FS

// Static returns the tree served under /static/.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree always has "static"
	}
	return sub
}

// HasEngine reports whether static (Static()) holds the browser peer,
// client.wasm, which `make build` builds before the pod binary: a pod
// built with a plain `go build` lacks it, and its pages then play from
// the web seed only, with no peer to peer.
func HasEngine(static fs.FS) bool {
	st, err := fs.Stat(static, "client.wasm")
	return err == nil && st.Size() > 0
}

func templatesFS() fs.FS {
	sub, err := fs.Sub(files, "templates")
	if err != nil {
		panic(err) // the embedded tree always has "templates"
	}
	return sub
}

// ContentSecurityPolicy is sent with every page. Scripts come only from the
// pod (no eval except WebAssembly compilation); the one inline script is
// the engine's start.js (the Service Worker's early registration) and the
// one inline style the site's stylesheet, each allowed by its hash. Media,
// connections and images may reach other origins because a friend pod's
// video is played from its own web seed and tracker.
var ContentSecurityPolicy = cspFor(embedded.css, embedded.start, "'none'")

// EmbedContentSecurityPolicy is ContentSecurityPolicy for the embeddable
// player (/videos/{id}/embed): any site may frame it.
var EmbedContentSecurityPolicy = cspFor(embedded.css, embedded.start, "*")

// embedded is the minified static tree the pod serves.
var embedded = newAssets(Static())

const cspCommon = "default-src 'self'; " +
	"script-src 'self' 'wasm-unsafe-eval'; " +
	"style-src 'self'; " +
	"img-src 'self' data: blob: http: https:; " +
	"media-src 'self' blob: http: https:; " +
	"connect-src 'self' http: https: ws: wss:; " +
	"worker-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; "

// pages maps a page route to its template. Every page is a shell whose data
// comes from the public API, fetched by the page's ES module; the watch and
// embed pages of a known video also carry its name, description and link
// preview tags in the HTML (escaped by html/template), for crawlers, link
// previews and people without script.
var pages = []struct {
	pattern, name, title, description string
}{
	{"GET /{$}", "home", "Newest videos", "The newest videos of this Swarmtube pod and its friends, streamed peer to peer by their viewers."},
	{"GET /search", "search", "Search", "Search the videos of this Swarmtube pod and its friends by words of their name or description."},
	{"GET /videos/{id}", "watch", "Watch", "Watch a video on Swarmtube: it streams from other viewers, peer to peer, and from the pod."},
	{"GET /upload", "upload", "Upload a video", "Upload a video to this Swarmtube pod, resumable, and seed it from your browser."},
	{"GET /login", "login", "Log in", "Log in to your account on this Swarmtube pod."},
	{"GET /register", "register", "Create an account", "Create an account on this Swarmtube pod."},
	{"GET /admin", "admin", "Administration", "Administer this Swarmtube pod: friends and users' rights."},
	{"GET /account", "account", "Your account", "Change your password or delete your account on this Swarmtube pod."},
	{"GET /users/{name}", "user", "Videos of a user", "The videos a user uploaded to this Swarmtube pod."},
	{"GET /videos/{id}/embed", "embed", "Video", "A video played peer to peer with Swarmtube."},
}

// embedWidth and embedHeight are the size of the iframe the pod suggests
// (oEmbed, the watch page's Embed button): 16:9.
const embedWidth, embedHeight = 640, 360

// Options are what the pages need to know from the rest of the pod.
type Options struct {
	// PodURL and PodName make the absolute links of link previews and
	// oEmbed answers.
	PodURL, PodName string
	// Video looks up the video of a watch or embed page, so an unknown id
	// gets the 404 page rather than a player that never loads, and a known
	// one its title and preview tags. Nil serves every id as a shell.
	Video func(id string) (api.Video, bool)
	// Catalog fills the list pages (home, search, a user's videos) in the
	// HTML. Nil shows them empty.
	Catalog Catalog
	// Viewer is the signed-in user of a request (nil when anonymous), so
	// the watch page shows its owner the Edit and Remove buttons in the
	// HTML rather than adding them later. Nil treats everyone as anonymous.
	Viewer func(*http.Request) *api.User
	// MaxUploadBytes is the pod's largest upload, which the upload page
	// names in its HTML (0: not named).
	MaxUploadBytes int64
}

// Routes registers the pages and the static files on mux:
//
//	GET /{$}            home: newest videos, paging
//	GET /search         search results (?q=)
//	GET /videos/{id}    watch page
//	GET /upload         upload page
//	GET /login          log in
//	GET /register       create an account
//	GET /admin          friends and users' rights (admins)
//	GET /favicon.ico    the logo
//	GET /static/        embedded assets (ETag; immutable when ?v=<version>);
//	                    the folder itself (/static, /static/) is the 404 page
//	/                   anything else: 405 with Allow where another method has
//	                    a route (httpx.NoRoute), else the 404 page
//
// Pages carry a Content-Security-Policy header. GET patterns also answer
// HEAD. Every error a person can meet on a page (404 for an unknown route
// or video, 500 for a broken build) is the one error page, in the site's
// style. Routes panics if a pattern conflicts with one already registered.
//
// It returns the error page for errors answered by others, so that an
// error a person meets on a page is this page whoever answered it
// (httpx.PlainErrors).
func Routes(mux *http.ServeMux, opts Options) httpx.ErrorPage {
	s := newSiteWith(Static(), embedded, templatesFS())
	s.opts = opts
	s.routes(mux)
	return s.errorPageFor
}

// errorPageFor draws the error page for e: a heading for its status, and
// its message as a sentence.
func (s *site) errorPageFor(w http.ResponseWriter, r *http.Request, e *httpx.Error) {
	heading := "Something went wrong"
	switch {
	case e.Status == http.StatusNotFound || e.Status == http.StatusGone:
		heading = "Page not found"
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		heading = "Not allowed"
	case e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable:
		heading = "Try again later"
	case e.Status < 500:
		heading = "This request cannot be answered"
	}
	msg := e.Message
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
		if !strings.HasSuffix(msg, ".") {
			msg += "."
		}
	}
	s.errorPage(w, r, e.Status, heading, msg)
}

// site serves pages rendered once from templates and static files with
// content-hash ETags. Both trees are immutable, so everything derived from
// them is computed once and cached; site is safe for concurrent use.
type site struct {
	static fs.FS
	tmpl   fs.FS
	opts   Options
	assets assets

	mu       sync.Mutex // guards the following fields
	digests  map[string]string
	rendered map[string]renderedPage
	parsed   map[string]*template.Template
}

type renderedPage struct {
	body []byte
	etag string
	err  error
}

func newSite(static, tmpl fs.FS) *site {
	return newSiteWith(static, newAssets(static), tmpl)
}

func newSiteWith(static fs.FS, a assets, tmpl fs.FS) *site {
	return &site{static: static, tmpl: tmpl, assets: a, digests: map[string]string{}, rendered: map[string]renderedPage{}, parsed: map[string]*template.Template{}}
}

// assets are what is derived once from the static tree: minified scripts
// and stylesheets, and the stylesheet and script every page inlines.
type assets struct {
	min           map[string][]byte
	css, start    []byte
	csp, embedCSP string
	graphs        map[string][]string // page → the modules it imports (moduleGraphs)
}

func newAssets(static fs.FS) assets {
	a := assets{min: minifyAll(static), graphs: moduleGraphs(static)}
	a.css = a.min[stylesheet]
	if a.css == nil {
		a.css, _ = fs.ReadFile(static, stylesheet)
	}
	a.start = a.min[startScript]
	if a.start == nil {
		a.start, _ = fs.ReadFile(static, startScript)
	}
	a.csp, a.embedCSP = cspFor(a.css, a.start, "'none'"), cspFor(a.css, a.start, "*")
	return a
}

// open opens a static file, minified when it is a script or stylesheet.
func (s *site) open(name string) (io.ReadSeeker, func(), error) {
	if b, ok := s.assets.min[name]; ok {
		return bytes.NewReader(b), func() {}, nil
	}
	f, err := s.static.Open(name)
	if err != nil {
		return nil, nil, err
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		f.Close()
		return nil, nil, fmt.Errorf("web: static file %s is not seekable", name)
	}
	return rs, func() { f.Close() }, nil
}

func (s *site) routes(mux *http.ServeMux) {
	for _, p := range pages {
		mux.HandleFunc(p.pattern, s.page(p.name, p.title, p.description))
	}
	mux.HandleFunc("GET /static/{path...}", s.serveStatic)
	// The folder itself is nobody's asset: the 404 page at once, rather
	// than the mux's redirect from /static to /static/ and a 404 there.
	staticRoot := func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at this address: it holds the site's files, which pages load themselves.")
	}
	mux.HandleFunc("GET /static", staticRoot)
	mux.HandleFunc("GET /static/{$}", staticRoot)
	mux.HandleFunc("GET /api/v1/oembed", s.oembed)
	// Anything else: 405 where another method has a route, else 404.
	mux.Handle("/", &httpx.NoRoute{Mux: mux, Page: s.errorPageFor, NotFound: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !httpx.IsPage(r) { // a program's address (tracker, files, feeds): the API's shape
			w.Header().Set("Cache-Control", "no-store")
			httpx.WriteJSON(w, http.StatusNotFound, api.Error{Error: "no_route", Message: "nothing answers " + r.Method + " at this address"})
			return
		}
		s.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at this address. It may have moved, or the link may be mistyped.")
	})})
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.asset("img/logo.svg"), http.StatusFound) // not 301: the target changes with the logo
	})
}

// digest returns a short content hash of a static file ("" when missing).
func (s *site) digest(name string) string {
	s.mu.Lock()
	d, ok := s.digests[name]
	s.mu.Unlock()
	if ok {
		return d
	}
	f, done, err := s.open(name)
	if err == nil {
		h := sha256.New()
		if _, err = io.Copy(h, f); err == nil {
			d = hex.EncodeToString(h.Sum(nil)[:8])
		}
		done()
	}
	s.mu.Lock()
	s.digests[name] = d
	s.mu.Unlock()
	return d
}

// asset is the versioned URL of a static file: the version changes with the
// content, so browsers may cache it for ever and still see every deploy.
func (s *site) asset(name string) string {
	if d := s.digest(name); d != "" {
		return "/static/" + name + "?v=" + d
	}
	return "/static/" + name
}

// optionalAsset is asset for a file that a build may lack (the engine's
// wasm before `make wasm`): "" when it is missing.
func (s *site) optionalAsset(name string) string {
	if s.digest(name) == "" {
		return ""
	}
	return s.asset(name)
}

type pageData struct {
	Name, Title, Description string
	Status                   int    // error page only
	Message                  string // error page only

	// A watch or embed page of a known video.
	Video    *api.Video
	URL      string // the watch page's absolute URL
	EmbedURL string
	OEmbed   string // the oEmbed discovery URL
	PodName  string
	Watch    *watchData // the watch page's rendered details

	// A list page (home, search, a user's videos).
	List *listData

	// The upload page: what it shows the viewer (the form, or why not),
	// in the HTML, so nothing moves when the script learns who they are.
	Upload *uploadData
}

type uploadData struct {
	SignedIn, CanUpload bool
	MaxSize             string // "4 GiB", as ui.js formatBytes; "" when not named
}

// layoutOf is the template a page is drawn in: the embed page has no site
// header or footer.
func layoutOf(name string) string {
	if name == "embed" {
		return "embed-layout.html"
	}
	return "layout.html"
}

func (s *site) parse(name string) (*template.Template, error) {
	s.mu.Lock()
	t, ok := s.parsed[name]
	s.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := template.New(layoutOf(name)).Funcs(template.FuncMap{"asset": s.asset, "optionalAsset": s.optionalAsset, "hueClass": hueClass, "join": joinNonEmpty,
		"maxNameRunes": func() int { return api.MaxVideoNameRunes }, "maxDescriptionRunes": func() int { return api.MaxVideoDescriptionRunes },
		"inlineCSS":   func() template.CSS { return template.CSS(s.assets.css) },
		"inlineStart": func() template.JS { return template.JS(s.assets.start) },
		"modulePreloads": func(page string) []string {
			var urls []string
			for _, f := range s.assets.graphs[page] {
				urls = append(urls, "/static/"+f) // as the modules import them: unversioned
			}
			return urls
		}}).
		ParseFS(s.tmpl, layoutOf(name), "head.html", "videolist.html", name+".html")
	if err != nil {
		return nil, fmt.Errorf("web: parse page %s: %w", name, err)
	}
	s.mu.Lock()
	s.parsed[name] = t
	s.mu.Unlock()
	return t, nil
}

// render draws a page; a page without a video or list is drawn once and
// cached.
func (s *site) render(d pageData) renderedPage {
	static := d.Video == nil && d.List == nil && d.Upload == nil
	if static {
		s.mu.Lock()
		rp, ok := s.rendered[d.Name]
		s.mu.Unlock()
		if ok {
			return rp
		}
	}
	var rp renderedPage
	t, err := s.parse(d.Name)
	if err == nil {
		var buf bytes.Buffer
		if err = t.Execute(&buf, d); err == nil {
			sum := sha256.Sum256(buf.Bytes())
			rp = renderedPage{body: buf.Bytes(), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		}
	}
	if err != nil {
		rp.err = fmt.Errorf("web: render page %s: %w", d.Name, err)
	}
	if static {
		s.mu.Lock()
		s.rendered[d.Name] = rp
		s.mu.Unlock()
	}
	return rp
}

// uploadData is what the upload page shows r's viewer.
func (s *site) uploadData(r *http.Request) *uploadData {
	u := &uploadData{}
	if s.opts.MaxUploadBytes > 0 {
		u.MaxSize = httpx.SizeText(s.opts.MaxUploadBytes)
	}
	if s.opts.Viewer != nil {
		if v := s.opts.Viewer(r); v != nil {
			u.SignedIn, u.CanUpload = true, hasRight(v, api.RightUpload)
		}
	}
	return u
}

// videoPage fills d for the watch or embed page of video id; false when
// the video is unknown.
func (s *site) videoPage(d *pageData, r *http.Request, id string) bool {
	if s.opts.Video == nil {
		return true
	}
	v, ok := s.opts.Video(id)
	if !ok {
		return false
	}
	if v.ID == "" || (v.State != "" && v.State != api.StatePublished) {
		return true // the shell only: nothing to preview yet, or the store failed
	}
	d.Video = &v
	d.PodName = s.opts.PodName
	d.Title = v.Name
	if v.Description != "" {
		d.Description = truncate(v.Description, 200)
	}
	if d.Name == "watch" {
		var viewer *api.User
		if s.opts.Viewer != nil {
			viewer = s.opts.Viewer(r)
		}
		d.Watch = newWatchData(v, viewer)
	}
	d.URL = s.opts.PodURL + "/videos/" + url.PathEscape(id)
	d.EmbedURL = d.URL + "/embed"
	d.OEmbed = s.opts.PodURL + "/api/v1/oembed?format=json&url=" + url.QueryEscape(d.URL)
	return true
}

// truncate shortens s to at most n runes, at a word boundary when it can.
func truncate(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	cut := string(r[:n])
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}

func (s *site) page(name, title, description string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		d := pageData{Name: name, Title: title, Description: description}
		if name == "watch" || name == "embed" {
			if !s.videoPage(&d, r, r.PathValue("id")) {
				s.errorPage(w, r, http.StatusNotFound, "Video not found", "This video does not exist, or it was removed.")
				return
			}
		}
		if name == "home" || name == "search" || name == "user" {
			if e := s.listPage(&d, r); e != nil {
				s.errorPageFor(w, r, e)
				return
			}
		}
		if name == "upload" {
			d.Upload = s.uploadData(r)
		}
		rp := s.render(d)
		if rp.err != nil {
			// Only a broken build gets here (TestPages renders every
			// page): say so in plain words, not with the template error.
			s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "This page cannot be shown right now. Please try again later.")
			return
		}
		h := w.Header()
		s.pageHeaders(h)
		if name == "embed" {
			h.Set("Content-Security-Policy", s.assets.embedCSP)
		}
		// Pages are tiny and name versioned assets: revalidate every time so a
		// deploy is seen at once, and let the ETag make that a 304.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", rp.etag)
		http.ServeContent(w, r, name+".html", time.Time{}, bytes.NewReader(rp.body))
	}
}

func (s *site) pageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", s.assets.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// errorPage answers status with the site's error page: parsed once like
// every page (s.parse), executed per call since the message varies, never
// cached by clients.
func (s *site) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	s.pageHeaders(w.Header())
	w.Header().Set("Cache-Control", "no-store")
	t, err := s.parse("error")
	var buf bytes.Buffer
	if err == nil {
		err = t.Execute(&buf, pageData{Name: "error", Title: heading, Description: message, Status: status, Message: message})
	}
	if err != nil { // a broken build: plain text is all that is left
		http.Error(w, heading+". "+message, status)
		return
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// oembedAnswer is an oEmbed 1.0 "video" answer (https://oembed.com/ 2.3.4).
type oembedAnswer struct {
	Version      string `json:"version"`
	Type         string `json:"type"`
	Title        string `json:"title"`
	AuthorName   string `json:"author_name,omitempty"`
	ProviderName string `json:"provider_name"`
	ProviderURL  string `json:"provider_url"`
	HTML         string `json:"html"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
}

// oembed answers GET /api/v1/oembed?url=<watch page>[&maxwidth=&maxheight=]
// [&format=json] with the embeddable player's iframe, sized 16:9 within the
// bounds asked. As the spec says: 404 for a URL that is not one of this
// pod's videos, 501 for a format other than JSON, 400 for a bad bound.
func (s *site) oembed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*") // public, anonymous data
	q := r.URL.Query()
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(api.Error{Error: code, Message: msg})
	}
	if f := q.Get("format"); f != "" && f != "json" {
		fail(http.StatusNotImplemented, "format_not_supported", "only format=json is served")
		return
	}
	width, height := embedWidth, embedHeight
	for _, b := range []struct {
		name string
		max  *int
	}{{"maxwidth", &width}, {"maxheight", &height}} {
		if v := q.Get(b.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				fail(http.StatusBadRequest, "bad_"+b.name, b.name+" must be a positive number of pixels")
				return
			}
			*b.max = min(*b.max, n)
		}
	}
	// Keep 16:9 inside both bounds, and at least a pixel each way: a bound
	// under 16 pixels left a height of 0.
	width, height = max(1, min(width, height*16/9)), max(1, min(height, width*9/16))
	raw := q.Get("url")
	if raw == "" {
		fail(http.StatusBadRequest, "missing_url", "send the watch page's address as url")
		return
	}
	prefix := s.opts.PodURL + "/videos/"
	id, ok := s.watchPageID(raw)
	if !ok || s.opts.Video == nil {
		fail(http.StatusNotFound, "not_found", "the url is not a video of this pod")
		return
	}
	v, found := s.opts.Video(id)
	if !found {
		fail(http.StatusNotFound, "not_found", "the url is not a video of this pod")
		return
	}
	src := prefix + url.PathEscape(id) + "/embed"
	html := fmt.Sprintf(`<iframe src="%s" width="%d" height="%d" title="%s" allow="autoplay; fullscreen" allowfullscreen style="border:0"></iframe>`,
		template.HTMLEscapeString(src), width, height, template.HTMLEscapeString(v.Name))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(oembedAnswer{Version: "1.0", Type: "video", Title: v.Name, AuthorName: v.Owner,
		ProviderName: s.opts.PodName, ProviderURL: s.opts.PodURL + "/", HTML: html, Width: width, Height: height})
}

// watchPageID is the video id of raw when it is the address of one of
// this pod's watch pages, as a browser shows it: scheme and host as in
// --url (host case-insensitive), path /videos/{id} with or without a
// trailing slash; a query (?t=30, tracking parameters) and a fragment are
// the page's own business and do not change the video.
func (s *site) watchPageID(raw string) (string, bool) {
	u, err := url.Parse(raw)
	pod, perr := url.Parse(s.opts.PodURL)
	if err != nil || perr != nil || u.Scheme != pod.Scheme || !strings.EqualFold(u.Host, pod.Host) || u.User != nil {
		return "", false
	}
	rest, ok := strings.CutPrefix(u.Path, strings.TrimSuffix(pod.Path, "/")+"/videos/")
	id := strings.TrimSuffix(rest, "/")
	return id, ok && id != "" && !strings.Contains(id, "/")
}

// encodings are the pre-compressed siblings looked for, best first.
var encodings = []struct{ token, suffix string }{{"br", ".br"}, {"gzip", ".gz"}}

func (s *site) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	if !fs.ValidPath(name) || name == "." || strings.HasSuffix(r.URL.Path, "/") {
		http.NotFound(w, r)
		return
	}
	st, err := fs.Stat(s.static, name)
	if err != nil || st.IsDir() {
		http.NotFound(w, r) // no directory listings
		return
	}
	h := w.Header()
	ctype := contentType(name)
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")

	served, suffix := name, ""
	if compressible(ctype) {
		var found bool
		for _, e := range encodings {
			if _, err := fs.Stat(s.static, name+e.suffix); err != nil {
				continue
			}
			found = true
			if suffix == "" && acceptsEncoding(r.Header.Get("Accept-Encoding"), e.token) {
				served, suffix = name+e.suffix, e.suffix
				h.Set("Content-Encoding", e.token)
			}
		}
		if found {
			h.Add("Vary", "Accept-Encoding")
		}
	}

	d := s.digest(served)
	if d == "" {
		http.NotFound(w, r)
		return
	}
	h.Set("ETag", `"`+d+suffix+`"`)
	if v := r.URL.Query().Get("v"); v != "" && v == s.digest(name) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// Unversioned URLs (module imports, the wasm the engine fetches)
		// revalidate: a 304 is cheap and a deploy is never hidden by a cache.
		h.Set("Cache-Control", "no-cache")
	}
	if r.Header.Get("Service-Worker") == "script" {
		// Let the engine's Service Worker, served from /static/, control the
		// pages' streaming URLs.
		h.Set("Service-Worker-Allowed", "/")
	}
	rs, done, err := s.open(served)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer done()
	http.ServeContent(w, r, name, time.Time{}, rs)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".wasm":
		return "application/wasm"
	case ".svg":
		return "image/svg+xml"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ctype string) bool {
	return ctype == "application/wasm" || strings.HasPrefix(ctype, "text/") ||
		ctype == "image/svg+xml" || ctype == "application/json"
}

// acceptsEncoding reports whether an Accept-Encoding header allows token.
// An explicit entry wins over "*"; a q of zero refuses.
func acceptsEncoding(header, token string) bool {
	explicit, wildcard := -1, -1 // -1 absent, 0 refused, 1 accepted
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.TrimSpace(name)
		ok := 1
		if q, found := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q="); found {
			if v, err := strconv.ParseFloat(q, 64); err != nil || v <= 0 {
				ok = 0
			}
		}
		switch {
		case strings.EqualFold(name, token):
			explicit = ok
		case name == "*":
			wildcard = ok
		}
	}
	if explicit >= 0 {
		return explicit == 1
	}
	return wildcard == 1
}
