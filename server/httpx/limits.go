package httpx

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/server/api"
)

// MaxHeaderBytes caps a request's header block: HeaderLimit answers 431
// in the pod's shape beyond it. 64 KiB holds any real browser's cookies
// and headers.
const MaxHeaderBytes = 64 << 10

// ServerMaxHeaderBytes is http.Server.MaxHeaderBytes, net/http's own cap,
// which it enforces before any handler runs with a 431 in plain text (and
// 4 KiB of slack). It is above MaxHeaderBytes so that a header block
// between the two reaches HeaderLimit, which answers in words; only one
// past it gets net/http's plain text. It is also what an anonymous
// connection can make the pod read before a handler sees it.
const ServerMaxHeaderBytes = 4 * MaxHeaderBytes

// HeaderSize is the size of r's request line and header block as the
// client sent them (HTTP/1.1 framing, RFC 9112 §2.1), near enough to
// compare with a limit: net/http keeps neither, so it is rebuilt from the
// parsed request, without the whitespace net/http trimmed around values.
// For HTTP/2 it is the same count of the decoded fields.
func HeaderSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2 // request line
	n += len("Host: ") + len(r.Host) + 2
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2 // the blank line
}

// HeaderLimit answers 431 Request Header Fields Too Large (RFC 6585 §5)
// with the API's JSON error, or page for a page (IsPage) when page is not
// nil, to a request whose HeaderSize is above max. The server's own cap
// (ServerMaxHeaderBytes) must be above max, or net/http answers first, in
// plain text. Put it before anything that reads headers (cookies).
func HeaderLimit(max int, page ErrorPage) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if HeaderSize(r) <= max {
				next.ServeHTTP(w, r)
				return
			}
			e := Errorf(http.StatusRequestHeaderFieldsTooLarge, "headers_too_large",
				"the request's headers are larger than this pod accepts (%s): send fewer or smaller cookies and headers", SizeText(int64(max)))
			if page != nil && IsPage(r) {
				page(w, r, e)
				return
			}
			WriteJSON(w, e.Status, api.Error{Error: e.Code, Message: e.Message})
		})
	}
}

// Minimum body rate: a request body must deliver at least MinBodyBytes in
// every BodyWindow, or its connection is closed. 1 KiB per 10 s is far
// below any real link, and far above a slowloris's byte every few seconds.
const (
	BodyWindow   = 10 * time.Second
	MinBodyBytes = 1 << 10
)

// MinBodyRate requires request bodies to deliver minBytes in every window
// (the pod uses BodyWindow and MinBodyBytes). It works with
// per-connection read deadlines (http.ResponseController): a deadline of
// one window is set before the handler runs and moved forward each time
// another MinBodyBytes arrive, then cleared when the body ends, so the time
// a handler spends after reading (an ingest, a long response) is not
// limited. A long upload that keeps flowing is never cut; one that stalls
// for a window fails its next read, and the connection is closed (net/http
// does not reuse a connection whose body was not read to its end).
//
// Requests without a body (GET, WebSocket upgrades) are untouched, so
// hijacked tracker sockets never see these deadlines. A handler that never
// reads its body is covered too: net/http drains what remains after it
// returns, under the same first deadline.
func MinBodyRate(window time.Duration, minBytes int64) Middleware {
	return func(next http.Handler) http.Handler {
		return minBodyRate(next, window, minBytes)
	}
}

func minBodyRate(next http.Handler, window time.Duration, minBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		deadline := time.Now().Add(window)
		if err := rc.SetReadDeadline(deadline); err != nil {
			next.ServeHTTP(w, r) // a ResponseWriter without deadlines (tests): nothing to enforce with
			return
		}
		b := &rateBody{ReadCloser: r.Body, rc: rc, window: window, min: minBytes, deadline: deadline}
		r.Body = b
		next.ServeHTTP(w, r)
		// net/http drains what the handler left unread (up to 256 KiB)
		// before it answers; that must not wait on a deadline the handler
		// set (tusd's minute): a failed body has nothing more to give, an
		// unfinished one gets what is left of its window.
		switch {
		case b.failed != nil:
			_ = rc.SetReadDeadline(time.Now())
		case !b.ended:
			_ = rc.SetReadDeadline(b.deadline)
		}
	})
}

type rateBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	window   time.Duration
	min      int64
	since    int64     // bytes since the deadline last moved
	deadline time.Time // the current one, set again before every read
	ended    bool
	failed   error // a read's error other than EOF, answered to every later read
}

func (b *rateBody) Read(p []byte) (int, error) {
	if b.failed != nil {
		// A handler that reads on after an error (the upload sniffer
		// takes a short first read as a short chunk, then tusd reads the
		// rest) must not get a second wait: the body is over.
		return 0, b.failed
	}
	if !b.ended {
		// A handler may set the connection's read deadline itself: tusd
		// sets its NetworkTimeout (60 s) before each read of a PATCH,
		// which let a stalled upload hold its connection for a minute and
		// one sending a byte every 59 s for ever. The window's deadline is
		// put back, so it holds whatever the handler does.
		_ = b.rc.SetReadDeadline(b.deadline)
	}
	n, err := b.ReadCloser.Read(p)
	if b.ended {
		return n, err
	}
	b.since += int64(n)
	switch {
	case err == io.EOF:
		// The whole body is in: the handler's remaining work is not the
		// client's to hurry. On any other error the deadline stays, so
		// net/http's drain of the unread rest, before it answers, cannot
		// be held open by a slow client either.
		b.ended = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil:
		b.ended = true
		b.failed = err
	case b.since >= b.min:
		b.since = 0
		b.deadline = time.Now().Add(b.window)
		_ = b.rc.SetReadDeadline(b.deadline)
	}
	return n, err
}

// ConnLimiter caps the open HTTP connections of each client address (an
// IPv6 client by its /64). Install its ConnState method as the
// http.Server's ConnState. A connection beyond the cap is closed at once;
// on plain TCP it first gets a one-line 429. Connections from exempt
// addresses (trusted reverse proxies, which carry many clients) are not
// counted. A hijacked connection (a tracker WebSocket) stops counting: the
// tracker bounds those itself. Safe for concurrent use.
type ConnLimiter struct {
	max      int
	exempt   func(netip.Addr) bool
	rejected prometheus.Counter

	mu sync.Mutex // guards the following fields
	n  map[netip.Addr]int
}

// NewConnLimiter allows max connections per client address (max <= 0: no
// limit); exempt may be nil. The rejection counter is registered on reg.
func NewConnLimiter(max int, exempt func(netip.Addr) bool, reg prometheus.Registerer) *ConnLimiter {
	l := &ConnLimiter{max: max, exempt: exempt, n: make(map[netip.Addr]int),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_http_conns_rejected_total",
			Help: "HTTP connections closed at once because their client address had too many open.",
		})}
	if reg != nil {
		reg.MustRegister(l.rejected)
	}
	return l
}

// connKey is the address a connection counts against; ok is false when it
// is not counted.
func (l *ConnLimiter) connKey(c net.Conn) (netip.Addr, bool) {
	if l.max <= 0 {
		return netip.Addr{}, false
	}
	ra := c.RemoteAddr()
	if ra == nil {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(ra.String())
	if err != nil {
		return netip.Addr{}, false
	}
	a := ap.Addr().Unmap()
	if l.exempt != nil && l.exempt(a) {
		return netip.Addr{}, false
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return a, true
}

// ConnState counts connections as they open and close.
func (l *ConnLimiter) ConnState(c net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		a, ok := l.connKey(c)
		if !ok {
			return
		}
		l.mu.Lock()
		l.n[a]++
		over := l.n[a] > l.max
		l.mu.Unlock()
		if over {
			l.rejected.Inc()
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = io.WriteString(tc, connsRefusal)
			}
			_ = c.Close() // net/http still reports StateClosed, which uncounts it
		}
	case http.StateHijacked, http.StateClosed:
		a, ok := l.connKey(c)
		if !ok {
			return
		}
		l.mu.Lock()
		if l.n[a] <= 1 {
			delete(l.n, a)
		} else {
			l.n[a]--
		}
		l.mu.Unlock()
	}
}

// Open is the number of counted connections of a.
func (l *ConnLimiter) Open(a netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[a]
}

// connsRefusal is written straight to a connection over the limit, before
// net/http reads a request from it: the API's JSON error shape, like every
// other answer.
var connsRefusal = func() string {
	const body = `{"error":"too_many_connections","message":"too many connections from your address; close some and try again"}` + "\n"
	return "HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}()
