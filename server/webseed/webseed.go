package webseed

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/shared/media"
)

// Handler serves web seed files. It is safe for concurrent use.
type Handler struct {
	resolve  func(fileName string) (path string, ok bool)
	log      *slog.Logger
	served   atomic.Int64
	bytes    prometheus.Counter
	requests *prometheus.CounterVec
}

// New returns a Handler serving the file that resolve maps a URL's file
// name to. resolve is called only with plain file names (no "/", no leading
// "."); it must not map a name to different content over time. reg may be
// nil.
func New(resolve func(fileName string) (path string, ok bool), log *slog.Logger, reg prometheus.Registerer) *Handler {
	h := &Handler{
		resolve: resolve,
		log:     log,
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_webseed_served_bytes_total",
			Help: "Body bytes the web seed sent (GET responses, full and partial).",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtube_webseed_requests_total",
			Help: "Web seed requests by status code.",
		}, []string{"code"}),
	}
	if reg != nil {
		reg.MustRegister(h.bytes, h.requests)
	}
	return h
}

// count records n body bytes sent, as they go, so long downloads show up
// in the metric while they run.
func (h *Handler) count(n int64) {
	if n > 0 {
		h.served.Add(n)
		h.bytes.Add(float64(n))
	}
}

// ServedBytes returns the body bytes sent since New.
func (h *Handler) ServedBytes() int64 { return h.served.Load() }

// ServeHTTP answers GET and HEAD for /.../{file}.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" {
		name = path.Base(r.URL.Path)
	}
	h.serve(w, r, name)
}

// serve answers r with the web seed file name (GET and HEAD, ranges),
// counting what it sends.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, name string) {
	cw := &countingWriter{ResponseWriter: w, status: http.StatusOK, count: h.count}
	defer func() { h.requests.WithLabelValues(strconv.Itoa(cw.status)).Inc() }()
	w = cw

	if r.Method == http.MethodOptions {
		preflight(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		httpx.WriteError(w, r, h.log, httpx.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "use GET or HEAD"))
		return
	}
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, "/\\\x00") {
		httpx.WriteError(w, r, h.log, httpx.ErrNotFound)
		return
	}
	p, ok := h.resolve(name)
	if !ok {
		httpx.WriteError(w, r, h.log, httpx.ErrNotFound)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		if os.IsNotExist(err) { // removed between resolve and open
			httpx.WriteError(w, r, h.log, httpx.ErrNotFound)
			return
		}
		httpx.WriteError(w, r, h.log, fmt.Errorf("webseed: open %s: %w", name, err))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		httpx.WriteError(w, r, h.log, fmt.Errorf("webseed: stat %s: %w", name, err))
		return
	}
	if !st.Mode().IsRegular() {
		httpx.WriteError(w, r, h.log, httpx.ErrNotFound)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ContentType(name))
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	hdr.Set("ETag", fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().UnixNano()))
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Access-Control-Expose-Headers", exposedHeaders)
	// ServeContent implements ranges, conditional requests and HEAD.
	http.ServeContent(w, r, name, st.ModTime(), f)
}

// CORS for the web seed (Fetch standard, "CORS protocol"). Any page may
// read the files: they are public and no credentials are involved ("*").
const (
	exposedHeaders = "Content-Range, Content-Length, Accept-Ranges, ETag"
	// alwaysAllowed are the request headers a range-reading client sends
	// (WebTorrent JS: Range with suffix or multiple ranges, If-Range, and
	// Cache-Control/Pragma when it bypasses the HTTP cache); they are
	// allowed even when a preflight does not list them.
	alwaysAllowed        = "Range, If-Range, If-None-Match, If-Modified-Since, Cache-Control, Pragma"
	maxRequestedHeaders  = 1024 // bytes of Access-Control-Request-Headers echoed back
	preflightCacheSecond = "86400"
)

// preflight answers a CORS preflight (OPTIONS with
// Access-Control-Request-Method) for a web seed file: GET and HEAD from any
// origin, with the headers the browser asks for. The file is not looked up,
// so a preflight costs nothing and says nothing about which files exist.
func preflight(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Allow", "GET, HEAD, OPTIONS")
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Access-Control-Allow-Methods", "GET, HEAD")
	allowed := alwaysAllowed
	if req := r.Header.Values("Access-Control-Request-Headers"); len(req) > 0 {
		if names, ok := headerNames(strings.Join(req, ",")); ok && names != "" {
			allowed = names + ", " + alwaysAllowed
		}
	}
	hdr.Set("Access-Control-Allow-Headers", allowed)
	hdr.Set("Access-Control-Expose-Headers", exposedHeaders)
	hdr.Set("Access-Control-Max-Age", preflightCacheSecond)
	hdr.Set("Vary", "Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
}

// headerNames checks a comma-separated list of header names (RFC 9110
// tokens) of bounded length and returns it normalised ("a, b"); ok is false
// for anything else, which is then not echoed.
func headerNames(list string) (string, bool) {
	if len(list) > maxRequestedHeaders {
		return "", false
	}
	var names []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		for i := 0; i < len(n); i++ {
			if !isTokenChar(n[i]) {
				return "", false
			}
		}
		names = append(names, n)
	}
	return strings.Join(names, ", "), true
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// ContentType returns the Content-Type served for a file name: the
// project's one extension map (media.TypeByName), and
// application/octet-stream for anything else.
func ContentType(name string) string {
	if t := media.TypeByName(name); t != "" {
		return t
	}
	return "application/octet-stream"
}

// countingWriter counts body bytes and remembers the status.
type countingWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	count       func(n int64)
}

func (c *countingWriter) WriteHeader(code int) {
	if !c.wroteHeader {
		c.status, c.wroteHeader = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.wroteHeader = true
	n, err := c.ResponseWriter.Write(b)
	c.count(int64(n))
	return n, err
}

// ReadFrom keeps http.ServeContent's sendfile path through the wrapper.
// It is counted when it returns, so a large body is counted in the chunks
// ServeContent copies (it copies the whole range at once; fine for the
// metric's scrape-time resolution).
func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	c.wroteHeader = true
	var n int64
	var err error
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(c.ResponseWriter, r)
	}
	c.count(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
