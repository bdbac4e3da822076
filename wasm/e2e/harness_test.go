//go:build !js

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/swarmtube/swarmtube/internal/chromium"
	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/seeder"
	"github.com/swarmtube/swarmtube/server/tracker"
	"github.com/swarmtube/swarmtube/server/webseed"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

var (
	buildOnce sync.Once
	wasmDir   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if wasmDir != "" {
		os.RemoveAll(wasmDir)
	}
	os.Exit(code)
}

// buildWasm builds client.wasm and copies wasm_exec.js once per test binary.
func buildWasm(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root := testenv.RepoRoot(t)
		dir, err := os.MkdirTemp("", "swarmtube-wasm-")
		if err != nil {
			buildErr = err
			return
		}
		wasmDir = dir
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(dir, "client.wasm"), "./wasm/cmd/client")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build wasm: %v\n%s", err, out)
			return
		}
		goroot, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			buildErr = err
			return
		}
		execJS, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js"))
		if err != nil {
			buildErr = err
			return
		}
		buildErr = os.WriteFile(filepath.Join(dir, "wasm_exec.js"), execJS, 0o644)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return wasmDir
}

// clip is an encoded test video.
type clip struct {
	Path string
	Data []byte
}

// makeVideo encodes a 40 s faststart H.264/AAC MP4 of about 5 MB.
func makeVideo(t *testing.T) clip { return makeClip(t, 40, 1000) }

// makeClip encodes a faststart H.264/AAC MP4 of seconds at a constant
// kbps of video (x264 CBR with filler, so bytes track time).
func makeClip(t *testing.T, seconds, kbps int) clip {
	t.Helper()
	rate := fmt.Sprintf("%dk", kbps)
	path, data := testenv.MakeClip(t, testenv.Clip{Seconds: seconds, Width: 320, Height: 240, Rate: 25, Pattern: "testsrc2", Audio: true, Faststart: true,
		Args: []string{"-c:v", "libx264", "-preset", "ultrafast", "-b:v", rate, "-minrate", rate, "-maxrate", rate,
			"-bufsize", fmt.Sprintf("%dk", kbps/2), "-x264-params", "nal-hrd=cbr", "-pix_fmt", "yuv420p", "-c:a", "aac"}})
	return clip{path, data}
}

// pod is the in-test stand-in for a pod: static files with the engine, a
// video's .torrent (with and without web seed), the web seed
// (server/webseed), the pod's WebSocket tracker (server/tracker),
// optionally its anacrolix seeder (server/seeder), and /metrics with the
// seeder's and web seed's counters, as the pod serves them.
type pod struct {
	URL       string
	Tracker   string
	Data      []byte // nil for a clip too big to hold (Length)
	Length    int64
	InfoHash  [20]byte
	Torrent   []byte // announce + web seed
	NoWebSeed []byte // announce only
	Seeder    *seeder.Seeder

	mu       sync.Mutex
	ranges   []servedRange     // byte ranges the web seed sent, in order
	announce func(ih [20]byte) // the tracker's OnAnnounce, if set (see setAnnounce)
}

// setAnnounce makes f the tracker's OnAnnounce, as the pod wires its
// seeder's Touch there.
func (p *pod) setAnnounce(f func(ih [20]byte)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.announce = f
}

// servedRange is a byte range the web seed sent (206 answers): route is
// "webseed" (its files) or "start" (webseed.StartHandler).
type servedRange struct{ route, rng string }

// WebSeedRanges returns the byte ranges the web seed has sent, in order, as
// "bytes=S-E".
func (p *pod) WebSeedRanges() []servedRange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]servedRange(nil), p.ranges...)
}

func startPod(t *testing.T, withSeeder bool) *pod {
	t.Helper()
	testenv.Chromium(t)
	return startPodWith(t, withSeeder, makeVideo(t))
}

// startPodWith is startPod serving c.
func startPodWith(t *testing.T, withSeeder bool, c clip) *pod {
	t.Helper()
	root := testenv.RepoRoot(t)
	testenv.Chromium(t)
	wasm := buildWasm(t)
	testenv.NodeModules(t) // the webtorrent reference client
	p := &pod{}
	path, data := c.Path, c.Data
	p.Data = data
	reg := prometheus.NewRegistry()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	tr, err := tracker.New(tracker.Config{OnAnnounce: func(ih [20]byte) {
		p.mu.Lock()
		f := p.announce
		p.mu.Unlock()
		if f != nil {
			f(ih)
		}
	}}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	mux.Handle("/tracker/socket", tr.WebSocketHandler())
	p.Tracker = "ws" + strings.TrimPrefix(srv.URL, "http") + "/tracker/socket"

	// A clip without Data (too big to hold) is hashed from its file.
	var src io.Reader = bytes.NewReader(data)
	size := int64(len(data))
	if data == nil {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		src, size = f, fi.Size()
	}
	p.Length = size
	info, err := torrentfile.HashReader(context.Background(), src, "clip.mp4", size, torrentfile.PieceLength(size), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.InfoHash, err = info.InfoHash(); err != nil {
		t.Fatal(err)
	}
	mi := torrentfile.Metainfo{Info: info, AnnounceList: [][]string{{p.Tracker}}}
	if p.NoWebSeed, err = mi.Bencode(); err != nil {
		t.Fatal(err)
	}
	mi.URLList = []string{srv.URL + "/webseed/clip.mp4"}
	if p.Torrent, err = mi.Bencode(); err != nil {
		t.Fatal(err)
	}

	static := http.FileServer(http.Dir(filepath.Join(root, "web", "static")))
	mux.Handle("/static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "client.wasm", "wasm_exec.js":
			if strings.HasSuffix(r.URL.Path, ".wasm") {
				w.Header().Set("Content-Type", "application/wasm")
			}
			http.ServeFile(w, r, filepath.Join(wasm, r.URL.Path))
			return
		case "engine/sw.js":
			w.Header().Set("Service-Worker-Allowed", "/")
		}
		static.ServeHTTP(w, r)
	})))
	testdata := http.FileServer(http.Dir("testdata"))
	mux.Handle("/test/", http.StripPrefix("/test/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "webtorrent.min.js" {
			http.ServeFile(w, r, filepath.Join(testenv.NodeModules(t), "webtorrent", "dist", "webtorrent.min.js"))
			return
		}
		testdata.ServeHTTP(w, r)
	})))
	mux.HandleFunc("/t/video.torrent", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-bittorrent")
		w.Write(p.Torrent)
	})
	mux.HandleFunc("/t/noseed.torrent", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-bittorrent")
		w.Write(p.NoWebSeed)
	})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ws := webseed.New(func(name string) (string, bool) { return path, name == "clip.mp4" }, quiet, reg)
	// What the web seed serves, as the pod mounts it: its files, and the
	// engine's stream URLs that reach the network (a first visit's start).
	record := func(route string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			served := strings.TrimSuffix(w.Header().Get("Content-Range"), "/"+strconv.FormatInt(p.Length, 10))
			if from, to, ok := strings.Cut(strings.TrimPrefix(served, "bytes "), "-"); ok && strings.HasPrefix(served, "bytes ") {
				p.mu.Lock()
				p.ranges = append(p.ranges, servedRange{route: route, rng: "bytes=" + from + "-" + to})
				p.mu.Unlock()
			}
		})
	}
	mux.Handle("GET /webseed/{file}", record("webseed", ws))
	mux.Handle("GET /static/engine/stream/{infohash}/{name}", record("start", ws.StartHandler("/webseed/")))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	if withSeeder {
		s, err := seeder.New(seeder.Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1", WebRTC: true}, quiet, reg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Seed(ctx, p.Torrent, path); err != nil {
			t.Fatal(err)
		}
		p.Seeder = s
	}
	return p
}

// pieceLength is the torrent's piece length.
func (p *pod) pieceLength() int64 {
	return torrentfile.PieceLength(p.Length)
}

// Egress returns what the pod has sent, read from its /metrics: the
// seeder's uploaded bytes and the web seed's served bytes.
func (p *pod) Egress(t *testing.T) (seeder, webseed int64) {
	t.Helper()
	res, err := http.Get(p.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		switch {
		case err != nil:
		case name == "swarmtube_seeder_uploaded_bytes_total":
			seeder = int64(f)
		case name == "swarmtube_webseed_served_bytes_total":
			webseed = int64(f)
		}
	}
	return seeder, webseed
}

// browser starts a headless Chromium for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	return chromium.Start(t, chromium.Options(t, t.TempDir()))
}

// tab opens url in a new tab of the browser; cancel closes the tab.
func tab(t *testing.T, bctx context.Context, url string) (context.Context, context.CancelFunc) {
	t.Helper()
	var opts []chromedp.ContextOption
	if os.Getenv("SWARMTUBE_E2E_CONSOLE") != "" { // debugging aid: page console in the test log
		name := url[strings.LastIndex(url, "/")+1:]
		opts = append(opts, chromedp.WithListener(func(ev any) {
			if e, ok := ev.(*cdpruntime.EventConsoleAPICalled); ok {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
				}
				t.Logf("[%s] %s", name, strings.Join(parts, " "))
			}
		}))
	}
	ctx, cancel := chromedp.NewContext(bctx, opts...)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return ctx, cancel
}

// eval evaluates a JavaScript expression (awaiting a promise) into out.
func eval[T any](t *testing.T, ctx context.Context, expr string, out *T) {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("eval %s: %v", expr, err)
	}
	*out = v
}

// waitJS polls a boolean expression until it holds; errExpr (a string
// expression) is reported and fails the test early when non-empty.
func waitJS(t *testing.T, ctx context.Context, cond, errExpr, dump string, timeout time.Duration) {
	t.Helper()
	within, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if testenv.Poll(within, func() bool {
		var ok bool
		eval(t, ctx, "!!("+cond+")", &ok)
		if ok {
			return true
		}
		var e string
		eval(t, ctx, "String("+errExpr+" || '')", &e)
		if e != "" {
			t.Fatalf("page error while waiting for %s: %s", cond, e)
		}
		return false
	}) {
		return
	}
	var state string
	eval(t, ctx, "JSON.stringify("+dump+")", &state)
	t.Fatalf("timed out waiting for %s; state: %s", cond, state)
}

// stats returns a page's engine stats.
type stats struct {
	Peers            int     `json:"peers"`
	DownloadRate     float64 `json:"downloadRate"`
	BytesFromPeers   int64   `json:"bytesFromPeers"`
	BytesFromServers int64   `json:"bytesFromServers"`
	BytesFromWebSeed int64   `json:"bytesFromWebSeed"`
	BytesUploaded    int64   `json:"bytesUploaded"`
	PiecesHave       int     `json:"piecesHave"`
	PiecesPersisted  int     `json:"piecesPersisted"`
	BadStored        int     `json:"badStored"`
	Pieces           int     `json:"pieces"`
	BadPieces        int     `json:"badPieces"`
}

func pageStats(t *testing.T, ctx context.Context) stats {
	t.Helper()
	var raw string
	eval(t, ctx, "JSON.stringify(window.__st.torrent.stats())", &raw)
	var s stats
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatalf("stats %q: %v", raw, err)
	}
	return s
}
