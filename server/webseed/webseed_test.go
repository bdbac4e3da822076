package webseed

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

func setup(t *testing.T) (*Handler, *httptest.Server, []byte, *prometheus.Registry) {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 100_000)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	files := map[string]string{
		"clip.mp4":  "stored-1",
		"clip.webm": "stored-1",
		"gone.mp4":  "missing-on-disk",
		"dir.mp4":   ".",
	}
	if err := os.WriteFile(filepath.Join(dir, "stored-1"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h := New(func(name string) (string, bool) {
		if strings.ContainsAny(name, "/") || strings.HasPrefix(name, ".") {
			t.Errorf("resolve called with unsafe name %q", name)
		}
		f, ok := files[name]
		return filepath.Join(dir, f), ok
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	mux := http.NewServeMux()
	mux.Handle("GET /static/webseed/{file}", h) // as the pod mounts it
	mux.Handle("OPTIONS /static/webseed/{file}", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return h, srv, data, reg
}

func TestWebseed(t *testing.T) {
	_, srv, data, _ := setup(t)
	size := len(data)
	get := func(t *testing.T, method, file string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/static/webseed/"+file, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	full, _ := get(t, "GET", "clip.mp4", nil)
	etag := full.Header.Get("ETag")
	if etag == "" || !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q", etag)
	}

	for _, tc := range []struct {
		name, method, file string
		hdr                map[string]string
		status             int
		body               []byte
		headers            map[string]string
	}{
		{"full", "GET", "clip.mp4", nil, 200, data, map[string]string{
			"Content-Type": "video/mp4", "Accept-Ranges": "bytes", "Content-Length": fmt.Sprint(size),
			"Cache-Control": "public, max-age=31536000, immutable", "Access-Control-Allow-Origin": "*",
			"X-Content-Type-Options": "nosniff",
		}},
		{"webm type", "GET", "clip.webm", nil, 200, data, map[string]string{"Content-Type": "video/webm"}},
		{"single range", "GET", "clip.mp4", map[string]string{"Range": "bytes=10-19"}, 206, data[10:20],
			map[string]string{"Content-Range": fmt.Sprintf("bytes 10-19/%d", size), "Content-Length": "10", "ETag": etag}},
		{"open-ended", "GET", "clip.mp4", map[string]string{"Range": fmt.Sprintf("bytes=%d-", size-100)}, 206, data[size-100:],
			map[string]string{"Content-Range": fmt.Sprintf("bytes %d-%d/%d", size-100, size-1, size)}},
		{"suffix", "GET", "clip.mp4", map[string]string{"Range": "bytes=-7"}, 206, data[size-7:], nil},
		{"range past end clamps", "GET", "clip.mp4", map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", size-3, size+1000)}, 206, data[size-3:], nil},
		{"unsatisfiable", "GET", "clip.mp4", map[string]string{"Range": fmt.Sprintf("bytes=%d-", size)}, 416, nil,
			map[string]string{"Content-Range": fmt.Sprintf("bytes */%d", size)}},
		{"malformed range", "GET", "clip.mp4", map[string]string{"Range": "bytes=z-1"}, 416, nil, nil},
		{"head", "HEAD", "clip.mp4", nil, 200, nil, map[string]string{"Content-Length": fmt.Sprint(size), "ETag": etag}},
		{"head range", "HEAD", "clip.mp4", map[string]string{"Range": "bytes=0-0"}, 206, nil, map[string]string{"Content-Length": "1"}},
		{"if-none-match", "GET", "clip.mp4", map[string]string{"If-None-Match": etag}, 304, nil, map[string]string{"ETag": etag}},
		{"if-none-match other", "GET", "clip.mp4", map[string]string{"If-None-Match": `"other"`, "Range": "bytes=0-1"}, 206, data[:2], nil},
		{"if-range stale", "GET", "clip.mp4", map[string]string{"If-Range": `"other"`, "Range": "bytes=0-1"}, 200, data, nil},
		{"unknown", "GET", "nope.mp4", nil, 404, nil, map[string]string{"Content-Type": "application/json; charset=utf-8"}},
		{"missing on disk", "GET", "gone.mp4", nil, 404, nil, nil},
		{"directory", "GET", "dir.mp4", nil, 404, nil, nil},
		{"dot file", "GET", ".hidden", nil, 404, nil, nil},
		{"encoded traversal", "GET", "..%2fstored-1", nil, 404, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.method, tc.file, tc.hdr)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %.100q)", resp.StatusCode, tc.status, body)
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Errorf("body: %d bytes, want %d", len(body), len(tc.body))
			}
			if tc.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD returned %d body bytes", len(body))
			}
			for k, v := range tc.headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestServedBytes checks the byte counter and its metric on a fresh
// handler, so no other request's count can land in between.
func TestServedBytes(t *testing.T) {
	h, srv, data, reg := setup(t)
	// The server counts after writing, so the client may see the body
	// first: wait briefly for the count to settle.
	settled := func(want int64) int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		testenv.Poll(ctx, func() bool { return h.ServedBytes() >= want })
		return h.ServedBytes()
	}
	var total int64
	for _, rng := range []string{"bytes=0-999", "", "bytes=-7"} {
		req, _ := http.NewRequest("GET", srv.URL+"/static/webseed/clip.mp4", nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		total += n
		if got := settled(total); got != total {
			t.Fatalf("after %q: ServedBytes %d, want %d", rng, got, total)
		}
	}
	if total != int64(1000+len(data)+7) {
		t.Fatalf("bodies were %d bytes", total)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metric float64
	for _, mf := range mfs {
		if mf.GetName() == "swarmtube_webseed_served_bytes_total" {
			metric = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if metric != float64(total) {
		t.Errorf("metric %v, want %d", metric, total)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h, _, _, _ := setup(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/static/webseed/clip.mp4", nil))
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Fatalf("POST: %d %v", rec.Code, rec.Header())
	}
}

// TestAria2WebSeed downloads a torrent whose only source is the web seed
// (url-list, BEP 19) with aria2: a standard client accepts our web seed.
func TestAria2WebSeed(t *testing.T) {
	aria2 := testenv.LookPath(t, "aria2c")
	_, srv, data, _ := setup(t)
	info, err := torrentfile.HashReader(context.Background(), bytes.NewReader(data), "clip.mp4", int64(len(data)), torrentfile.PieceLength(int64(len(data))), nil)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := torrentfile.Metainfo{Info: info, URLList: []string{srv.URL + "/static/webseed/clip.mp4"}}.Bencode()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tf := filepath.Join(dir, "x.torrent")
	os.WriteFile(tf, tb, 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, aria2, "--dir="+filepath.Join(dir, "out"),
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--seed-time=0", "--listen-port="+testenv.Aria2ListenPorts(), "--disable-ipv6=true", "--no-conf=true",
		"--file-allocation=none", "--summary-interval=0", "--console-log-level=warn", tf).CombinedOutput()
	if err != nil {
		t.Fatalf("aria2c: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "out", "clip.mp4"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes (%v), want the %d served", len(got), err, len(data))
	}
}
