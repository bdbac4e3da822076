package httpx

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestMinBodyRate runs the middleware on a real connection: a body that
// keeps flowing may take many windows, a handler may work long after the
// body is in, a hijacked connection without a body never sees a deadline,
// and a stalled body fails within about a window.
func TestMinBodyRate(t *testing.T) {
	const window = 2500 * time.Millisecond // well above a loaded machine's scheduling hiccups
	mux := http.NewServeMux()
	mux.HandleFunc("POST /read", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("POST /lenient", func(w http.ResponseWriter, r *http.Request) {
		// As tusd does with its NetworkTimeout: a read deadline of its own,
		// a minute away, set before every read of the body.
		rc := http.NewResponseController(w)
		body := readerFunc(func(p []byte) (int, error) {
			_ = rc.SetReadDeadline(time.Now().Add(time.Minute))
			return r.Body.Read(p)
		})
		if _, err := io.Copy(io.Discard, body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	mux.HandleFunc("POST /retry", func(w http.ResponseWriter, r *http.Request) {
		// As the pod's tus PATCH does: the upload sniffer reads the head
		// and takes an error as a short chunk, then tusd reads the rest
		// under a deadline of its own, a minute away.
		io.ReadFull(r.Body, make([]byte, 4096))
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	mux.HandleFunc("POST /work", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(2 * window): // an ingest after the upload
			fmt.Fprint(w, "done")
		case <-r.Context().Done():
			t.Error("a handler working after its body was read lost its context")
		}
	})
	mux.HandleFunc("GET /hijack", func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\n")
		rw.Flush()
		b, err := rw.ReadByte() // arrives after two windows
		if err != nil {
			t.Errorf("hijacked connection: %v", err)
		}
		c.Write([]byte{b})
	})
	srv := httptest.NewServer(MinBodyRate(window, 1024)(mux))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	t.Run("flowing body outlasts many windows", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			chunk := strings.Repeat("x", 4096)
			for range 60 { // 240 KiB over about 6 s, more than two windows
				pw.Write([]byte(chunk))
				time.Sleep(100 * time.Millisecond) // timed: behaviour: the body trickles at 40 KiB/s
			}
			pw.Close()
		}()
		resp, err := http.Post(srv.URL+"/read", "application/octet-stream", pr)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "245760" {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})
	t.Run("handler works on after the body", func(t *testing.T) {
		resp, err := http.Post(srv.URL+"/work", "text/plain", strings.NewReader("small body"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "done" {
			t.Fatalf("%d %q", resp.StatusCode, b)
		}
	})
	t.Run("hijacked without a body", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		if line, _ := br.ReadString('\n'); !strings.Contains(line, "101") {
			t.Fatalf("upgrade: %q", line)
		}
		br.ReadString('\n')
		time.Sleep(2 * window) // timed: behaviour: the hijacked connection stays silent for two windows
		c.Write([]byte{'k'})
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, err := br.ReadByte(); err != nil || b != 'k' {
			t.Fatalf("echo after two windows: %q %v", b, err)
		}
	})
	for _, path := range []string{"/read", "/lenient", "/retry"} {
		t.Run("stalled body is cut "+path, func(t *testing.T) { stalledBodyCut(t, addr, path, window) })
	}
}

// readerFunc is an io.Reader made of a function.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// stalledBodyCut sends path a body that stops after 3 bytes and wants the
// 400 and the connection closed about one window later. On /lenient, whose
// handler sets a one-minute read deadline before each read as tusd does,
// the answer took the handler's minute; on /retry, which reads on after
// the window's error, a window and a minute (a stalled tus PATCH: 70 s).
// What the pod's tus PATCH answers once cut (500 upload_stalled, which tus
// clients resume from) is pinned where its words live: TestTusStalledPatch
// and TestTusReferenceClientResumesStall in server/videos, which httpx
// cannot import.
func stalledBodyCut(t *testing.T, addr, path string, window time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nabc", path)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Errorf("stalled body: %d close=%v, want 400 and the connection closed", resp.StatusCode, resp.Close)
	}
	if d := time.Since(start); d < window/2 || d > 10*window {
		t.Errorf("stalled body cut after %v, want about %v", d, window)
	}
}

// fakeConn is a net.Conn from a given address that records Close.
type fakeConn struct {
	net.Conn
	from   string
	closed bool
}

func (c *fakeConn) RemoteAddr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(c.from))
}
func (c *fakeConn) Close() error { c.closed = true; return nil }

func TestConnLimiter(t *testing.T) {
	proxy := netip.MustParseAddr("10.0.0.1")
	l := NewConnLimiter(2, func(a netip.Addr) bool { return a == proxy }, nil)
	open := func(from string) *fakeConn {
		c := &fakeConn{from: from}
		l.ConnState(c, http.StateNew)
		return c
	}
	a1, a2 := open("192.0.2.1:1"), open("192.0.2.1:2")
	if a1.closed || a2.closed {
		t.Fatal("connections within the cap closed")
	}
	a3 := open("192.0.2.1:3")
	if !a3.closed {
		t.Fatal("third connection from one address kept")
	}
	l.ConnState(a3, http.StateClosed)
	if b := open("192.0.2.2:1"); b.closed {
		t.Fatal("another address refused")
	}
	for i := range 10 {
		if c := open(fmt.Sprintf("10.0.0.1:%d", i+1)); c.closed {
			t.Fatal("a trusted proxy's connection refused")
		}
	}
	// One /64 is one client.
	open("[2001:db8::1]:1")
	open("[2001:db8::2]:1")
	if c := open("[2001:db8::3]:1"); !c.closed {
		t.Fatal("third connection from one /64 kept")
	}
	// Hijacked and closed connections free their slot.
	l.ConnState(a1, http.StateHijacked)
	if c := open("192.0.2.1:4"); c.closed {
		t.Fatal("slot of a hijacked connection not freed")
	}
	l.ConnState(a2, http.StateClosed)
	if n := l.Open(netip.MustParseAddr("192.0.2.1")); n != 1 {
		t.Fatalf("open count %d, want 1", n)
	}
	if n := l.Open(proxy); n != 0 {
		t.Fatalf("proxy counted: %d", n)
	}
}

// TestHeaderSize: HeaderSize counts what the client sent, so a limit on
// it means what it says; checked against the bytes of raw HTTP/1.1
// requests through a real server.
func TestHeaderSize(t *testing.T) {
	got := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- HeaderSize(r) }))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
		"GET /api/v1/videos?start=20&count=10 HTTP/1.1\r\nHost: " + host + "\r\nCookie: a=b; c=d\r\nAccept: */*\r\nX-Two: 1\r\nX-Two: 2\r\n\r\n",
		"GET /p HTTP/1.1\r\nHost: " + host + "\r\nX-Junk: " + strings.Repeat("j", 70<<10) + "\r\n\r\n",
	} {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		if n := <-got; n != len(raw) {
			t.Errorf("HeaderSize %d, sent %d bytes: %.80q", n, len(raw), raw)
		}
		c.Close()
	}
}

// TestHeaderLimit: beyond the limit, 431 in the API's JSON, or the error
// page for a page; at it, the request goes on.
func TestHeaderLimit(t *testing.T) {
	t.Parallel()
	page := func(w http.ResponseWriter, r *http.Request, e *Error) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(e.Status)
		_, _ = w.Write([]byte("<p>" + e.Message))
	}
	h := HeaderLimit(1000, page)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	for _, tc := range []struct {
		path   string
		junk   int
		status int
		ctype  string
	}{
		{"/api/v1/pod", 100, 204, ""},
		{"/api/v1/pod", 1000, 431, "application/json"},
		{"/upload", 1000, 431, "text/html"},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Header.Set("X-Junk", strings.Repeat("j", tc.junk))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.ctype) {
			t.Errorf("%s with %d bytes: %d %q", tc.path, tc.junk, w.Code, w.Header().Get("Content-Type"))
		}
		if tc.status == 431 && !strings.Contains(w.Body.String(), "the request's headers are larger than this pod accepts (1000 B)") {
			t.Errorf("%s: %s", tc.path, w.Body)
		}
	}
}
