package httpx

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestCompress(t *testing.T) {
	body := strings.Repeat("<p>a page worth compressing</p>\n", 200)
	h := Compress("/static/webseed/")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.URL.Query().Get("type"))
		w.Header().Set("ETag", `"abc"`)
		http.ServeContent(w, r, "x", time.Time{}, strings.NewReader(body))
	}))
	for _, tc := range []struct {
		name, path, ctype, rng, accept string
		wantGzip                       bool
	}{
		{"html", "/", "text/html; charset=utf-8", "", "gzip", true},
		{"json", "/api/v1/videos", "application/json", "", "gzip, deflate", true},
		{"client without gzip", "/", "text/html", "", "identity", false},
		{"video", "/x", "video/mp4", "", "gzip", false},
		{"web seed path", "/static/webseed/a.mp4", "text/plain", "", "gzip", false},
		{"range", "/", "text/html", "bytes=0-99", "gzip", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path+"?type="+url.QueryEscape(tc.ctype), nil)
			r.Header.Set("Accept-Encoding", tc.accept)
			if tc.rng != "" {
				r.Header.Set("Range", tc.rng)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			res := w.Result()
			gz := res.Header.Get("Content-Encoding") == "gzip"
			if gz != tc.wantGzip {
				t.Fatalf("Content-Encoding %q, want gzip %v", res.Header.Get("Content-Encoding"), tc.wantGzip)
			}
			got := w.Body.Bytes()
			if gz {
				if res.Header.Get("ETag") == `"abc"` {
					t.Error("the compressed copy kept the plain copy's ETag")
				}
				zr, err := gzip.NewReader(bytes.NewReader(got))
				if err != nil {
					t.Fatal(err)
				}
				if got, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			want := body
			if tc.rng != "" {
				want = body[:100]
			}
			if string(got) != want {
				t.Fatalf("body differs: %d bytes, want %d", len(got), len(want))
			}
		})
	}
}
