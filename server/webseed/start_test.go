package webseed

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

func TestClipRange(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		h        string
		from, to int64
		ok       bool
	}{
		{"bytes=0-", 0, 999, true},
		{"bytes=500-", 500, 1499, true},
		{"bytes=0-99", 0, 99, true},
		{"bytes=10-5000", 10, 1009, true},
		{" bytes=0-", 0, 0, false},
		{"bytes= 7-", 7, 1006, true},
		{"", 0, 0, false},
		{"bytes=-100", 0, 0, false},
		{"bytes=0-1,5-9", 0, 0, false},
		{"bytes=9-5", 0, 0, false},
		{"bytes=x-", 0, 0, false},
		{"items=0-", 0, 0, false},
		{"bytes=99999999999999999999-", 0, 0, false},
	} {
		from, to, ok := clipRange(c.h, 1000)
		if ok != c.ok || (ok && (from != c.from || to != c.to)) {
			t.Errorf("clipRange(%q) = %d, %d, %v; want %d, %d, %v", c.h, from, to, ok, c.from, c.to, c.ok)
		}
	}
}

func FuzzClipRange(f *testing.F) {
	for _, s := range []string{"bytes=0-", "bytes=5-9", "bytes=-1", "bytes=1-2,3-4", ""} {
		f.Add(s, int64(1000))
	}
	f.Fuzz(func(t *testing.T, h string, early int64) {
		if early < 1 {
			return
		}
		from, to, ok := clipRange(h, early)
		if ok && (from < 0 || to < from || to-from+1 > early) {
			t.Fatalf("clipRange(%q, %d) = [%d, %d]", h, early, from, to)
		}
	})
}

func TestStartHandler(t *testing.T) {
	h, srv, data, _ := setup(t)
	size := len(data)
	mux := http.NewServeMux()
	mux.Handle("GET /static/engine/stream/{infohash}/{name}", h.StartHandler("/static/webseed/"))
	srv.Config.Handler = mux
	stream := func(ws, early string) string {
		q := url.Values{"webseed": {ws}}
		if early != "" {
			q.Set("early", early)
		}
		return srv.URL + "/static/engine/stream/0123456789abcdef0123456789abcdef01234567/clip.mp4?" + q.Encode()
	}
	for _, c := range []struct {
		name, url, rng string
		status         int
		from, to       int // served bytes [from, to)
	}{
		{"first request clipped", stream("/static/webseed/clip.mp4", "20000"), "bytes=0-", 206, 0, 20000},
		{"next request: at most ContinueBytes", stream("/static/webseed/clip.mp4", ""), fmt.Sprintf("bytes=20000-%d", size-1), 206, 20000, 20000 + ContinueBytes},
		{"next request: at most early", stream("/static/webseed/clip.mp4", fmt.Sprint(MinStart)), "bytes=1000-", 206, 1000, 1000 + MinStart},
		{"short range kept", stream("/static/webseed/clip.mp4", "20000"), "bytes=5-9", 206, 5, 10},
		{"end of file", stream("/static/webseed/clip.mp4", "20000"), "bytes=95000-", 206, 95000, size},
		{"at least MinStart", stream("/static/webseed/clip.mp4", "10"), "bytes=0-", 206, 0, MinStart},
		{"at most MaxStart (the whole small file)", stream("/static/webseed/clip.mp4", "99999999"), "bytes=0-", 206, 0, size},
		{"URL of this host", stream(srv.URL+"/static/webseed/clip.mp4", "20000"), "bytes=0-", 206, 0, 20000},
		{"no Range: the whole file", stream("/static/webseed/clip.mp4", "20000"), "", 200, 0, size},
		{"another host (a reverse proxy's upstream Host): the path names the file", stream("http://pod.example/static/webseed/clip.mp4", "20000"), "bytes=0-", 206, 0, 20000},
		{"outside the web seed", stream("/static/engine/sw.js", "20000"), "bytes=0-", 404, 0, 0},
		{"unknown file", stream("/static/webseed/nope.mp4", "20000"), "bytes=0-", 404, 0, 0},
		{"path trick", stream("/static/webseed/../webseed/clip.mp4", "20000"), "bytes=0-", 404, 0, 0},
		{"no web seed", stream("", ""), "bytes=0-", 404, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", c.url, nil)
			if c.rng != "" {
				req.Header.Set("Range", c.rng)
			}
			req.Header.Set("If-Range", `"stale"`) // must not turn a clip into the whole file
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, c.status, body)
			}
			if c.status >= 400 {
				return
			}
			if string(body) != string(data[c.from:c.to]) {
				t.Errorf("body is %d bytes, want [%d, %d)", len(body), c.from, c.to)
			}
			if c.status == 206 {
				if want := fmt.Sprintf("bytes %d-%d/%d", c.from, c.to-1, size); resp.Header.Get("Content-Range") != want {
					t.Errorf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), want)
				}
			}
			if resp.Header.Get("Cache-Control") == "" || resp.Header.Get("ETag") == "" {
				t.Errorf("not cacheable like the web seed: %v", resp.Header)
			}
		})
	}
	// Counted as the web seed's bytes.
	before := h.ServedBytes()
	req, _ := http.NewRequest("GET", stream("/static/webseed/clip.mp4", "20000"), nil)
	req.Header.Set("Range", "bytes=0-")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The server counts after writing: the client may see the body first.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	testenv.Poll(ctx, func() bool { return h.ServedBytes()-before >= 20000 })
	if got := h.ServedBytes() - before; got != 20000 {
		t.Errorf("ServedBytes grew by %d, want 20000", got)
	}
}
