package httpx

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestPlainErrors: what libraries answer in plain text reaches API
// clients as {"error","message"} in the pod's words, and pages as the
// site's error page; everything else passes untouched.
func TestPlainErrors(t *testing.T) {
	file := strings.NewReader(strings.Repeat("x", 7685))
	foreign := map[string]http.HandlerFunc{
		// http.ServeContent's own 416: "invalid range: failed to overlap".
		"/static/webseed/a.mp4": func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "a.mp4", time.Time{}, file)
		},
		"/static/missing.js": http.NotFound,
		// tusd's shape: "ERR_CODE: words", with its own Content-Length.
		"/api/v1/videos/uploads/x": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "41")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Tus-Resumable", "1.0.0")
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, "ERR_MISMATCHED_OFFSET: mismatched offset\n")
		},
		"/api/v1/internal": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError) // no Content-Type at all
			io.WriteString(w, "open /data/uploads/abc: permission denied")
		},
		"/api/v1/ours": func(w http.ResponseWriter, r *http.Request) {
			WriteError(w, r, slog.New(slog.DiscardHandler), Errorf(http.StatusBadRequest, "ours", "our own words"))
		},
		"/tracker/announce": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain") // BEP 3: failures are 200 bencode
			io.WriteString(w, "d14:failure reason17:invalid info_hashe")
		},
		"/somewhere": func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "404 page not found", http.StatusNotFound)
		},
		"/flushing": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "busy: goroutine 42 at /src/x.go:17")
			http.NewResponseController(w).Flush() // must not send the held answer
		},
	}
	mux := http.NewServeMux()
	for p, h := range foreign {
		mux.Handle(p, h)
	}
	words := func(status int, h http.Header, text string) *Error {
		if strings.HasPrefix(text, "ERR_MISMATCHED_OFFSET:") {
			return &Error{Status: status, Code: "offset_mismatch", Message: "the upload is at another offset"}
		}
		return nil
	}
	page := func(w http.ResponseWriter, r *http.Request, e *Error) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(e.Status)
		io.WriteString(w, "<!doctype html><p>"+e.Message+"</p>")
	}
	srv := httptest.NewServer(PlainErrors(slog.New(slog.DiscardHandler), words, page)(mux))
	defer srv.Close()

	tests := []struct {
		name, path, rangeHdr string
		status               int
		ctype                string // prefix
		code, message        string // JSON answers
		body                 string // other answers: a substring
		header               map[string]string
	}{
		{name: "ServeContent 416", path: "/static/webseed/a.mp4", rangeHdr: "bytes=99999999-", status: 416, ctype: "application/json",
			code: "range_not_satisfiable", message: "the requested byte range is not within the file, which has 7685 bytes (7.5 KiB)",
			header: map[string]string{"Content-Range": "bytes */7685"}},
		{name: "ServeContent 416, malformed", path: "/static/webseed/a.mp4", rangeHdr: "bytes=5-2", status: 416, ctype: "application/json",
			code: "range_not_satisfiable", message: "the Range header is malformed: ask for bytes=FIRST-LAST, FIRST- or -SUFFIX within the file"},
		{name: "ServeContent 206 passes", path: "/static/webseed/a.mp4", rangeHdr: "bytes=0-9", status: 206, ctype: "video/mp4", body: "xxxxxxxxxx"},
		{name: "http.NotFound on a file", path: "/static/missing.js", status: 404, ctype: "application/json", code: "not_found", message: "no such resource"},
		{name: "tusd with words", path: "/api/v1/videos/uploads/x", status: 409, ctype: "application/json", code: "offset_mismatch", message: "the upload is at another offset",
			header: map[string]string{"Tus-Resumable": "1.0.0"}},
		{name: "internals never shown", path: "/api/v1/internal", status: 500, ctype: "application/json", code: "internal", message: ErrInternal.Message},
		{name: "our JSON passes", path: "/api/v1/ours", status: 400, ctype: "application/json", code: "ours", message: "our own words"},
		{name: "tracker 200 passes", path: "/tracker/announce", status: 200, ctype: "text/plain", body: "failure reason"},
		{name: "a page gets the HTML page", path: "/somewhere", status: 404, ctype: "text/html", body: "<p>no such resource</p>"},
		{name: "flush holds", path: "/flushing", status: 503, ctype: "text/html", body: "try again later"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
			if tc.rangeHdr != "" {
				req.Header.Set("Range", tc.rangeHdr)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.ctype) {
				t.Fatalf("got %d %q %q, want %d %s", res.StatusCode, res.Header.Get("Content-Type"), b, tc.status, tc.ctype)
			}
			for k, v := range tc.header {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tc.code != "" {
				var e struct{ Error, Message string }
				if err := json.Unmarshal(b, &e); err != nil || e.Error != tc.code || e.Message != tc.message {
					t.Fatalf("body %q, want %s / %q", b, tc.code, tc.message)
				}
			} else if !strings.Contains(string(b), tc.body) {
				t.Fatalf("body %q, want it to hold %q", b, tc.body)
			}
			if strings.Contains(string(b), "ERR_") || strings.Contains(string(b), "invalid range") || strings.Contains(string(b), ".go:") {
				t.Fatalf("foreign text reached the client: %q", b)
			}
		})
	}
}

// TestPlainErrorsHijack: a WebSocket-style handler still hijacks through
// the wrapper (http.ResponseController sees the connection via Unwrap).
func TestPlainErrorsHijack(t *testing.T) {
	h := PlainErrors(slog.New(slog.DiscardHandler), nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "x")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", res.StatusCode)
	}
}

// TestConnsRefusalIsJSON: the 429 written straight to a connection over
// the per-address limit is a valid HTTP answer in the API's error shape.
func TestConnsRefusalIsJSON(t *testing.T) {
	res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(connsRefusal)), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	var e struct{ Error, Message string }
	if res.StatusCode != 429 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") ||
		json.Unmarshal(b, &e) != nil || e.Error != "too_many_connections" || e.Message == "" || int64(len(b)) != res.ContentLength {
		t.Fatalf("%d %q %q", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
}
