// Command wasmbench measures Swarmtube's browser peer (see
// scripts/bench/wasm.sh):
//
//   - offload: one pod (anacrolix seeder over WebRTC + web seed + WebSocket
//     tracker) and N viewers joining a few seconds apart, each playing the
//     video at its bitrate; prints pod upload bytes ÷ (N × video size).
//     -browsers of the viewers (default 2) are headless Chromium pages
//     running the watch page's flow with client.wasm on a real MP4; the
//     others are native builds of the browser engine (wasm/engine, the same
//     code as client.wasm) with a simulated player that reads ahead like
//     Chromium and reports its buffer, because 2 cores cannot hold 8
//     Chromium instances. Each native viewer starts like the watch page: the
//     page's early reads from the web seed (engine.js earlyBudget, run in
//     node, in one request, then a piece at a time while the player needs
//     one, up to sw.js EARLY_BUDGET) fill the player's buffer, the engine
//     opens -engine-delay after the first frame and is given those bytes
//     (engine.js giveEarly).
//   - startup: time from navigation to the first "playing" event in
//     headless Chromium, for a plain <video src=webseed>, our engine (a
//     first visit with the worker registered from the page's head as the
//     pod's pages do; the same registering from the module, the flow
//     before, "ours-module"; a return visit whose Service Worker another
//     page of the pod registered, "ours-return"; a return visit to the
//     video, which this browser stored when it first played it,
//     "ours-stored"), and the JavaScript webtorrent client on
//     the same file, interleaved, fresh browser profile per run; the
//     median of -runs, and when each start-up step happened (where the
//     time goes: the video element's events, the page's requests, the
//     worker's registration, install and activation, engine.js
//     startupMarks; -timeline prints every run's). The engine's scripts are
//     served by web's handler as the pod serves them.
//   - hash: SHA-1 piece verification throughput in Chromium (SubtleCrypto,
//     opts.hasher "subtle", and Go's crypto/sha1 in wasm, the default).
//   - size: client.wasm raw, gzip and brotli sizes.
//   - viewers: viewers who behave like real ones (Poisson arrivals, a
//     retention distribution, pauses, seeks; native engines and -browsers
//     Chromium pages) for each N of -viewers-n: pod bytes ÷ what plain
//     <video> players doing the same cost another pod in the same run
//     (Chromium pages for the Chromium viewers, HTTP clients fetching like
//     a <video> for the native ones), and the ideal (viewers.go).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/server/seeder"
	"github.com/swarmtube/swarmtube/server/webseed"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
	"github.com/swarmtube/swarmtube/wasm/engine"
	"github.com/swarmtube/swarmtube/web"
)

var (
	root     = flag.String("root", ".", "repository root")
	wasmDir  = flag.String("wasm", "web/static", "directory holding client.wasm and wasm_exec.js")
	mode     = flag.String("mode", "all", "offload, startup, hash, size, all (those four) or viewers")
	viewers  = flag.Int("viewers", 8, "offload: viewers")
	join     = flag.Duration("join", 3*time.Second, "offload: time between viewers joining")
	sizeMB   = flag.Int("size", 16, "offload: video size in MiB")
	bitrate  = flag.Float64("bitrate", 4e6, "offload: video bitrate in bit/s")
	runs     = flag.Int("runs", 3, "startup: runs per client")
	timeline = flag.Bool("timeline", false, "startup: print each run's timeline")
	clientsF = flag.String("clients", "plain,ours,ours-module,ours-return,ours-stored,ours-late,webtorrent", "startup: the clients to run, interleaved (plain first: the ratios are to it)")
	browsers = flag.Int("browsers", 2, "offload: how many of the viewers are Chromium pages running client.wasm (the others: native builds of the same engine); with any, the video is a real MP4")
	chromium = flag.String("chromium", "chromium", "Chromium binary")
	debug    = flag.Bool("debug", false, "offload: engine debug logs on stderr; startup: web seed ranges and the ours page's trace")
	early    = flag.Int64("early", -1, "offload: bytes of each viewer's first web seed request before its engine runs (-1: engine.js earlyBudget from the video's bitrate, 0: none)")
	earlyCh  = flag.Int64("early-chunk", -1, "viewers: size of the early range requests (-1: sw.js EARLY_CHUNK)")
	engDelay = flag.Duration("engine-delay", 550*time.Millisecond,
		"offload: time from a viewer's first frame to its engine opening the torrent (measured in Chromium, playing → torrent open, medians of 3-5: 338-574 ms at load 18-21, 1062 ms at load 25; -mode startup prints it)")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *mode == "size" || *mode == "all" {
		sizes()
	}
	if *mode == "hash" || *mode == "all" || *mode == "startup" {
		p := newPod(videoFile(), 60, true)
		if *mode != "startup" {
			hashBench(p)
		}
		if *mode != "hash" {
			startup(p)
		}
		p.close()
	}
	if *mode == "offload" || *mode == "all" {
		offload()
	}
	if *mode == "viewers" {
		viewersBench()
	}
}

func sizes() {
	raw, err := os.ReadFile(filepath.Join(*wasmDir, "client.wasm"))
	if err != nil {
		log.Fatalf("size: %v (run scripts/build-wasm.sh)", err)
	}
	fmt.Printf("wasm size: raw %.2f MB", float64(len(raw))/1e6)
	for _, ext := range []string{".gz", ".br"} {
		if fi, err := os.Stat(filepath.Join(*wasmDir, "client.wasm"+ext)); err == nil {
			fmt.Printf(", %s %.2f MB", ext, float64(fi.Size())/1e6)
		}
	}
	fmt.Println()
}

// videoFile encodes a 60 s 1.5 Mbit/s faststart MP4 for the start-up runs.
func videoFile() string { return encodeVideo(60, 1500) }

// encodeVideo encodes a faststart H.264/AAC MP4 of seconds at kbps video.
func encodeVideo(seconds, kbps int) string {
	dir, err := os.MkdirTemp("", "wasmbench-")
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "video.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=duration=%d:size=640x360:rate=25", seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=duration=%d", seconds), "-shortest",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", fmt.Sprintf("%dk", kbps), "-minrate", fmt.Sprintf("%dk", kbps),
		"-maxrate", fmt.Sprintf("%dk", kbps), "-bufsize", fmt.Sprintf("%dk", kbps/2), "-x264-params", "nal-hrd=cbr",
		"-pix_fmt", "yuv420p", "-c:a", "aac",
		"-movflags", "+faststart", "-threads", "2", path).CombinedOutput()
	if err != nil {
		log.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return path
}

// pod is the benchmark's pod: static files, torrent, counting web seed,
// tracker and seeder.
type pod struct {
	srv        *httptest.Server
	tracker    string
	torrent    []byte
	size       int64
	duration   float64 // seconds
	webseedOut atomic.Int64
	seeder     *seeder.Seeder
	cleanup    []func()
}

func (p *pod) close() {
	for i := len(p.cleanup) - 1; i >= 0; i-- {
		p.cleanup[i]()
	}
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// newPod serves the video at path, of duration seconds.
func newPod(path string, duration float64, withSeeder bool) *pod {
	p := &pod{duration: duration}
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	p.size = int64(len(data))
	p.tracker = startTracker(p)
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	p.cleanup = append(p.cleanup, p.srv.Close)
	info, err := torrentfile.HashReader(context.Background(), bytes.NewReader(data), "video.mp4", p.size, torrentfile.PieceLength(p.size), nil)
	if err != nil {
		log.Fatal(err)
	}
	mi := torrentfile.Metainfo{Info: info, AnnounceList: [][]string{{p.tracker}}, URLList: []string{p.srv.URL + "/webseed/video.mp4"}}
	if p.torrent, err = mi.Bencode(); err != nil {
		log.Fatal(err)
	}
	// The engine's scripts as the pod serves them (web's static handler:
	// minified, the Service Worker bundled with messages.js, the scope
	// header), from the tree this binary embeds: rebuild it after editing
	// them. client.wasm from -wasm.
	site := http.NewServeMux()
	web.Routes(site, web.Options{})
	mux.HandleFunc("/static/", func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.URL.Path, "/static/") {
		case "client.wasm":
			w.Header().Set("Content-Type", "application/wasm")
			if br := filepath.Join(*wasmDir, "client.wasm.br"); strings.Contains(r.Header.Get("Accept-Encoding"), "br") && exists(br) {
				w.Header().Set("Content-Encoding", "br")
				http.ServeFile(w, r, br)
				return
			}
			if gz := filepath.Join(*wasmDir, "client.wasm.gz"); strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && exists(gz) {
				w.Header().Set("Content-Encoding", "gzip")
				http.ServeFile(w, r, gz)
				return
			}
			http.ServeFile(w, r, filepath.Join(*wasmDir, "client.wasm"))
			return
		case "wasm_exec.js":
			http.ServeFile(w, r, filepath.Join(*wasmDir, "wasm_exec.js"))
			return
		}
		site.ServeHTTP(w, r)
	})
	nm := filepath.Join(*root, "scripts", "node", "node_modules", "webtorrent", "dist")
	mux.HandleFunc("/bench/webtorrent.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(nm, "webtorrent.min.js"))
	})
	mux.HandleFunc("/bench/sw.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(nm, "sw.min.js"))
	})
	headStart, err := os.ReadFile(filepath.Join(*root, "web", "static", "engine", "start.js"))
	if err != nil {
		log.Fatal(err)
	}
	ih, err := info.InfoHash()
	if err != nil {
		log.Fatal(err)
	}
	meta := fmt.Sprintf(`{"info_hash":"%x","torrent_url":"/t/video.torrent","webseed_url":"/webseed/video.mp4","size":%d,"duration":%g,"piece_length":%d}`,
		ih, p.size, p.duration, info.PieceLength)
	pages["ours.html"] = oursPage(string(headStart), meta)
	// Another page of the pod (its home page): start.js in its head, as
	// every page of the pod has.
	pages["home.html"] = "<!doctype html><head><script>" + string(headStart) + "</script><title>home</title></head>"
	pages["ours-module.html"] = oursPage("", meta)
	for name, html := range pages {
		mux.HandleFunc("/bench/"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, html)
		})
	}
	mux.HandleFunc("/t/video.torrent", func(w http.ResponseWriter, r *http.Request) { w.Write(p.torrent) })
	// The pod's web seed handler (cacheable, immutable, as the pod sends
	// it), and its start route for the engine's stream URLs: a first
	// visit's first request reaches it before the Service Worker controls
	// the page (webseed.StartHandler).
	ws := webseed.New(func(name string) (string, bool) { return path, name == "video.mp4" }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	counted := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if *debug {
				log.Printf("%s web seed %s %s %q", time.Now().Format("15:04:05.000"), r.URL.Path, r.Header.Get("User-Agent")[:min(10, len(r.Header.Get("User-Agent")))], r.Header.Get("Range"))
			}
			h.ServeHTTP(countingWriter{w, &p.webseedOut}, r)
		})
	}
	mux.Handle("/webseed/video.mp4", counted(ws))
	mux.Handle("/static/engine/stream/", counted(ws.StartHandler("/webseed/")))
	if withSeeder {
		dir, _ := os.MkdirTemp("", "wasmbench-seeder-")
		s, err := seeder.New(seeder.Config{DataDir: dir, ListenAddr: "127.0.0.1", WebRTC: true},
			slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err != nil {
			log.Fatal(err)
		}
		p.cleanup = append(p.cleanup, func() { s.Close(); os.RemoveAll(dir) })
		if err := s.Seed(context.Background(), p.torrent, path); err != nil {
			log.Fatal(err)
		}
		p.seeder = s
	}
	return p
}

// swConst reads `const NAME = A << B;` (or `= N;`) from sw.js, so the
// benchmark's viewers start exactly like the Service Worker does.
func swConst(name string) int64 {
	src, err := os.ReadFile(filepath.Join(*root, "web", "static", "engine", "sw.js"))
	if err != nil {
		log.Fatalf("sw.js: %v", err)
	}
	m := regexp.MustCompile(`(?m)^const ` + name + ` = (\d+)(?: << (\d+))?;`).FindSubmatch(src)
	if m == nil {
		log.Fatalf("sw.js: no %s constant", name)
	}
	v, _ := strconv.ParseInt(string(m[1]), 10, 64)
	if len(m[2]) > 0 {
		sh, _ := strconv.Atoi(string(m[2]))
		v <<= sh
	}
	return v
}

// jsFloat reads `const NAME = N;` from engine.js.
func jsFloat(name string) float64 {
	src, err := os.ReadFile(filepath.Join(*root, "web", "static", "engine", "engine.js"))
	if err != nil {
		log.Fatalf("engine.js: %v", err)
	}
	m := regexp.MustCompile(`(?m)^const ` + name + ` = ([0-9.]+);`).FindSubmatch(src)
	if m == nil {
		log.Fatalf("engine.js: no %s constant", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		log.Fatalf("engine.js %s: %v", name, err)
	}
	return v
}

// jsEarlyBudget runs engine.js's earlyBudget in node: the bytes of a
// viewer's first early request for this video, exactly as the page
// computes them.
func jsEarlyBudget(length int64, duration float64, pieceLength int64) int64 {
	abs, err := filepath.Abs(filepath.Join(*root, "web", "static", "engine", "engine.js"))
	if err != nil {
		log.Fatal(err)
	}
	engineJS, _ := json.Marshal(abs)
	script := fmt.Sprintf(`globalThis.self = globalThis; const { earlyBudget } = await import(%s);
console.log(earlyBudget({ length: %d, duration: %g, pieceLength: %d }));`, engineJS, length, duration, pieceLength)
	out, err := exec.Command("node", "--input-type=module", "-e", script).CombinedOutput()
	if err != nil {
		log.Fatalf("node earlyBudget: %v: %s", err, out)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		log.Fatalf("node earlyBudget: %q", out)
	}
	return v
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func startTracker(p *pod) string {
	cmd := exec.Command("node", "--input-type=module", "-e", `import Server from 'bittorrent-tracker/server';
const s = new Server({ udp: false, http: false, ws: true, stats: false });
s.on('listening', () => console.log('PORT ' + s.ws.address().port));
s.listen(0, '127.0.0.1');`)
	cmd.Dir = filepath.Join(*root, "scripts", "node")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	p.cleanup = append(p.cleanup, func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	var port int
	if _, err := fmt.Sscanf(line, "PORT %d", &port); err != nil {
		log.Fatalf("tracker: %q", line)
	}
	go io.Copy(io.Discard, stdout)
	return fmt.Sprintf("ws://127.0.0.1:%d", port)
}

// pages are the start-up benchmark's pages (benchPages adds the ours pages).
var pages = map[string]string{
	"plain.html": `<!doctype html><script>window.__st = { marks: { html: performance.now() } };</script>
<video id=v muted autoplay src="/webseed/video.mp4"></video>
<script>const v = document.getElementById('v');
` + markScript + `
v.addEventListener('playing', () => { window.__st.playingMs = performance.now(); }, { once: true });</script>`,
	// ours-late: the engine alone serves the Service Worker (no playEarly).
	"ours-late.html": `<!doctype html><video id=v muted autoplay></video>
<script type=module>
import { loadEngine } from '/static/engine/engine.js';
const st = window.__st = {};
const v = document.getElementById('v');
v.addEventListener('playing', () => { st.playingMs = performance.now(); }, { once: true });
try {
  const tb = fetch('/t/video.torrent').then((r) => r.arrayBuffer());
  const e = await loadEngine(); st.engineMs = performance.now(); st.engine = e;
  const t = await e.open(new Uint8Array(await tb)); st.openMs = performance.now(); st.torrent = t; t.play(v);
} catch (err) { st.err = String(err); }
</script>`,
	"webtorrent.html": `<!doctype html><video id=v muted autoplay></video>
<script type=module>
import WebTorrent from '/bench/webtorrent.min.js';
const st = window.__st = {};
const v = document.getElementById('v');
v.addEventListener('playing', () => { st.playingMs = performance.now(); }, { once: true });
try {
  const reg = await navigator.serviceWorker.register('/bench/sw.min.js', { scope: '/bench/' });
  await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener('controllerchange', r, { once: true }));
  const client = new WebTorrent();
  client.on('error', (e) => { st.err = String(e); });
  client.createServer({ controller: reg });
  const buf = new Uint8Array(await (await fetch('/t/video.torrent')).arrayBuffer());
  client.add(buf, (t) => { t.files[0].streamTo(v); v.play().catch(() => {}); });
} catch (err) { st.err = String(err); }
</script>`,
	"blank.html": `<!doctype html><title>blank</title>`,
}

// oursPage is the watch page's flow: the Service Worker registration
// (start.js, inlined at the top of the head as every page of the pod does,
// when headStart; else only the module's prepare, the flow before), the
// video's metadata (its API object meta, in the page as the watch page
// has it), then playEarly (the page fetches the first
// bytes while the worker starts; the Service Worker serves them, then the
// engine) while the .torrent loads; the wasm loads, compiles and starts
// once the video plays. After playing, the worker's start-up marks
// (engine.js startupMarks) join the timeline.
func oursPage(headStart, meta string) string {
	head := ""
	if headStart != "" {
		head = "<script>" + headStart + "</script>"
	}
	// The watch page preloads the engine's module from its head (web's
	// head.html) while its own modules load.
	return `<!doctype html><head><script>window.__st = { marks: { html: performance.now() } };</script>` + head +
		`<link rel="modulepreload" href="/static/engine/engine.js"></head>
<video id=v muted autoplay></video>
<script type="application/json" id="video-data">` + meta + `</script>
<script type=module>
import { loadEngine, playEarly, prepare, startupMarks } from '/static/engine/engine.js';
const st = window.__st;
const v = document.getElementById('v');
` + markScript + `
st.marks.module = performance.now();
v.addEventListener('playing', () => {
  st.playingMs = performance.now();
  startupMarks().then((m) => Object.assign(st.marks, m));
  // When the page's requests started and ended (resource timing).
  for (const e of performance.getEntriesByType('resource')) {
    const name = { 'engine.js': 'engineJs', 'messages.js': 'messagesJs', 'video.json': 'metaReq', 'video.mp4': 'prefetch' }[new URL(e.name).pathname.split('/').pop()];
    if (name && !(name + 'Start' in st.marks)) Object.assign(st.marks, { [name + 'Start']: e.startTime, [name + 'End']: e.responseEnd });
  }
}, { once: true });
try {
  prepare();
  navigator.serviceWorker.ready.then(() => { st.marks.swActive = performance.now(); });
  const meta = JSON.parse(document.getElementById('video-data').textContent); st.marks.meta = performance.now();
  const tb = fetch(meta.torrent_url).then((r) => r.arrayBuffer());
  st.early = await playEarly(v, { infoHash: meta.info_hash, webSeed: meta.webseed_url, name: 'video.mp4',
    length: meta.size, duration: meta.duration, pieceLength: meta.piece_length }); st.earlyMs = performance.now();
  const e = await loadEngine(); st.engineMs = performance.now(); st.engine = e;
  const t = await e.open(new Uint8Array(await tb), new URLSearchParams(location.search).has('debug') ? { logLevel: 'debug' } : {});
  st.openMs = performance.now(); st.torrent = t; t.play(v);
  st.marks.open = st.openMs;
  // For -debug: what the engine saw after open.
  st.trace = [];
  const tick = () => { const s = t.stats(); const b = v.buffered; if (s.peers > 0) st.marks.peer ??= performance.now();
    st.trace.push([Math.round(performance.now()), v.readyState, v.paused, +v.currentTime.toFixed(2), b.length ? +b.end(b.length - 1).toFixed(2) : 0,
      s.peers, s.piecesHave, s.bytesFromWebSeed, s.bytesFromPeers]); };
  tick(); setInterval(tick, 250);
} catch (err) { st.err = String(err); }
</script>`
}

// markScript records, in window.__st.marks (ms since navigation), when the
// video element reached each stage of its start; startup prints their
// medians to show where the time goes.
const markScript = `addEventListener('DOMContentLoaded', () => { window.__st.marks.domReady = performance.now(); });
addEventListener('load', () => { window.__st.marks.loaded = performance.now(); });
for (const e of ['loadstart', 'loadedmetadata', 'loadeddata', 'canplay', 'playing']) {
  document.getElementById('v').addEventListener(e, () => { window.__st.marks[e] ??= performance.now(); });
}`

// newBrowser starts headless Chromium with a fresh profile.
func newBrowser() (context.Context, func()) {
	dir, _ := os.MkdirTemp("", "wasmbench-chrome-")
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(*chromium), chromedp.UserDataDir(dir),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	bctx, cancelB := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		log.Fatalf("chromium: %v", err)
	}
	return bctx, func() { cancelB(); cancelA(); os.RemoveAll(dir) }
}

func evalJS[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

func waitPlaying(ctx context.Context) (float64, error) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ms, err := evalJS[float64](ctx, "window.__st && window.__st.playingMs || 0")
		if err == nil && ms > 0 {
			return ms, nil
		}
		if e, _ := evalJS[string](ctx, "String(window.__st && window.__st.err || '')"); e != "" {
			return 0, fmt.Errorf("page: %s", e)
		}
		time.Sleep(50 * time.Millisecond)
	}
	state, _ := evalJS[string](ctx, `(() => { const v = document.getElementById('v'); const st = window.__st || {};
		const b = []; for (let i = 0; i < v.buffered.length; i++) b.push([v.buffered.start(i), v.buffered.end(i)]);
		return JSON.stringify({ src: v.src, readyState: v.readyState, networkState: v.networkState, paused: v.paused, t: v.currentTime,
			buffered: b, error: v.error && v.error.message, early: st.early, engineMs: st.engineMs, openMs: st.openMs,
			stats: st.torrent ? st.torrent.stats() : null }); })()`)
	return 0, fmt.Errorf("no playing event in 20 s: %s", state)
}

func startup(p *pod) {
	results := map[string][]float64{}
	clients := strings.Split(*clientsF, ",")
	var engineMs, openMs, earlyMs, playOpenMs []float64
	marks := map[string]map[string][]float64{}
	webseed := map[string][]float64{}
	podWebSeed, podSeeder := map[string][]float64{}, map[string][]float64{}
	for r := 0; r < *runs; r++ {
		for _, c := range clients {
			bctx, stop := newBrowser()
			page := c
			switch c {
			case "ours-return":
				// A return visit, or a viewer who arrives from another
				// page of the pod: that page registered the Service Worker.
				if err := registerWorker(bctx, p.srv.URL+"/bench/home.html"); err != nil {
					log.Printf("startup %s run %d: %v", c, r, err)
				}
				page = "ours"
			case "ours-stored":
				// A return visit to a video this browser stored: a first
				// visit played it until its first piece was in storage.
				if err := storeVideo(bctx, p.srv.URL+"/bench/ours.html"); err != nil {
					log.Printf("startup %s run %d: %v", c, r, err)
				}
				page = "ours"
			}
			ws0, sd0 := p.webseedOut.Load(), p.seeder.UploadedBytes()
			ms, phases, err := waitPage(bctx, p.srv.URL+"/bench/"+page+".html")
			podWebSeed[c] = append(podWebSeed[c], float64(p.webseedOut.Load()-ws0)/1e6)
			podSeeder[c] = append(podSeeder[c], float64(p.seeder.UploadedBytes()-sd0)/1e6)
			if err != nil {
				log.Printf("startup %s run %d: %v", c, r, err)
			} else {
				results[c] = append(results[c], ms)
			}
			if strings.HasPrefix(c, "ours") {
				webseed[c] = append(webseed[c], phases["webseedMB"])
			}
			for k, v := range phases {
				if name, ok := strings.CutPrefix(k, "mark."); ok && err == nil {
					if marks[c] == nil {
						marks[c] = map[string][]float64{}
					}
					marks[c][name] = append(marks[c][name], v)
				}
			}
			if *timeline && err == nil {
				log.Printf("startup %s run %d: playing %.0f, %s", c, r, ms, timelineOf(phases))
			}
			if c == "ours" {
				earlyMs = append(earlyMs, phases["earlyMs"])
			}
			if c == "ours" && phases["engineMs"] > 0 {
				engineMs = append(engineMs, phases["engineMs"])
				openMs = append(openMs, phases["openMs"])
				if err == nil {
					playOpenMs = append(playOpenMs, phases["openMs"]-ms)
				}
			}
			stop()
		}
	}
	fmt.Printf("startup (navigation → first playing, median of %d, fresh profile each):\n", *runs)
	base := median(results["plain"])
	for _, c := range clients {
		m := median(results[c])
		fmt.Printf("  %-12s %7.0f ms  (%.2f× plain)  runs %v\n", c, m, m/base, round(results[c]))
	}
	fmt.Printf("  ours, phases (ms since navigation, medians): video on the stream (Service Worker controls; -1: no playEarly) %.0f, engine ready (wasm + Service Worker) %.0f, torrent open %.0f\n",
		median(earlyMs), median(engineMs), median(openMs))
	fmt.Printf("  ours, first playing → torrent open (offload's -engine-delay), median: %.0f ms, runs %v\n", median(playOpenMs), round(playOpenMs))
	fmt.Printf("  where the time goes (ms since navigation, medians):\n")
	for _, c := range []string{"plain", "ours", "ours-module", "ours-return", "ours-stored"} {
		if marks[c] == nil {
			continue
		}
		var names []string
		for k := range marks[c] {
			names = append(names, k)
		}
		sort.Slice(names, func(i, j int) bool { return median(marks[c][names[i]]) < median(marks[c][names[j]]) })
		fmt.Printf("    %-12s", c)
		for _, k := range names {
			fmt.Printf(" %s %.0f", k, median(marks[c][k]))
		}
		fmt.Println()
	}
	fmt.Printf("  MB from the web seed 2 s after open (page stats: Service Worker + engine, median): ours %.2f, ours-late %.2f\n",
		median(webseed["ours"]), median(webseed["ours-late"]))
	fmt.Printf("  pod upload per run (web seed + seeder MB, median; ours/ours-late: until 2 s after open): plain %.2f + %.2f, ours %.2f + %.2f, ours-stored (the return visit) %.2f + %.2f, ours-late %.2f + %.2f\n",
		median(podWebSeed["plain"]), median(podSeeder["plain"]), median(podWebSeed["ours"]), median(podSeeder["ours"]),
		median(podWebSeed["ours-stored"]), median(podSeeder["ours-stored"]), median(podWebSeed["ours-late"]), median(podSeeder["ours-late"]))
}

// timelineOf lists a run's marks (phases' "mark." entries) in time order.
func timelineOf(phases map[string]float64) string {
	var names []string
	for k := range phases {
		if strings.HasPrefix(k, "mark.") {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool { return phases[names[i]] < phases[names[j]] })
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, " %s %.0f", strings.TrimPrefix(k, "mark."), phases[k])
	}
	return strings.TrimSpace(b.String())
}

// registerWorker visits url, whose head registers the engine's Service
// Worker (start.js), and waits until the worker is active.
func registerWorker(bctx context.Context, url string) error {
	ctx, cancel := chromedp.NewContext(bctx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return err
	}
	_, err := evalJS[bool](ctx, `navigator.serviceWorker.ready.then(() => true)`)
	return err
}

// storeVideo plays the page at url until the engine has stored the
// video's first piece (OPFS: swarmtube-pieces/<infohash>/p0), then closes it.
func storeVideo(bctx context.Context, url string) error {
	ctx, cancel := chromedp.NewContext(bctx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return err
	}
	if _, err := waitPlaying(ctx); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ok, _ := evalJS[bool](ctx, `(async () => { try {
			const ih = JSON.parse(document.getElementById('video-data').textContent).info_hash;
			const d = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('swarmtube-pieces')).getDirectoryHandle(ih);
			await d.getFileHandle('p0'); return true; } catch (e) { return false; } })()`)
		if ok {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return errors.New("the video's first piece was not stored in 30 s")
}

func waitPage(bctx context.Context, url string) (float64, map[string]float64, error) {
	ctx, cancel := chromedp.NewContext(bctx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return 0, nil, err
	}
	ms, err := waitPlaying(ctx)
	if err == nil && strings.Contains(url, "/ours") {
		// The pod's cost of the start: web seed bytes 2 s after the engine opened the torrent.
		for i := 0; i < 200; i++ {
			if ok, _ := evalJS[bool](ctx, "!!window.__st.torrent"); ok {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
	}
	if *debug && strings.Contains(url, "/ours.html") {
		trace, _ := evalJS[string](ctx, `JSON.stringify({openMs: window.__st.openMs, playingMs: window.__st.playingMs, trace: window.__st.trace})`)
		log.Printf("ours trace [ms, readyState, paused, currentTime, bufferedEnd, peers, piecesHave, webseed, fromPeers]: %s", trace)
	}
	phases, _ := evalJS[map[string]float64](ctx, `({engineMs: window.__st.engineMs || 0, openMs: window.__st.openMs || 0, earlyMs: window.__st.early ? window.__st.earlyMs : -1,
		webseedMB: (window.__st.torrent ? window.__st.torrent.stats().bytesFromWebSeed : 0) / 1e6,
		...Object.fromEntries(Object.entries(window.__st.marks || {}).map(([k, v]) => ['mark.' + k, v]))})`)
	return ms, phases, err
}

func hashBench(p *pod) {
	bctx, stop := newBrowser()
	defer stop()
	ctx, cancel := chromedp.NewContext(bctx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(p.srv.URL+"/bench/blank.html")); err != nil {
		log.Fatal(err)
	}
	out, err := evalJS[map[string]float64](ctx, `(async () => {
  const { loadEngine } = await import('/static/engine/engine.js');
  const e = await loadEngine({ serviceWorker: false });
  return await e.hashBenchmark(256);
})()`)
	if err != nil {
		log.Fatalf("hash: %v", err)
	}
	fmt.Printf("piece verification in Chromium (256 KiB pieces, 256 MiB): SubtleCrypto from Go %.0f MB/s one at a time, %.0f MB/s eight at a time; Go crypto/sha1 in wasm %.0f MB/s\n",
		out["subtleMBps"], out["subtleParallelMBps"], out["goMBps"])
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func round(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x + 0.5)
	}
	return out
}

// offload runs N native viewers against one pod.
func offload() {
	earlyCap, earlyLow := swConst("EARLY_BUDGET"), jsFloat("EARLY_LOW")
	earlyStuck := time.Duration(jsFloat("EARLY_STUCK_MS")) * time.Millisecond
	dir, err := os.MkdirTemp("", "wasmbench-offload-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "video.mp4")
	byteRate := *bitrate / 8
	seconds := float64(*sizeMB<<20) / byteRate
	nBrowsers := min(max(*browsers, 0), *viewers)
	if nBrowsers > 0 {
		// Browsers must play it: a real video of about the size and bitrate asked.
		secs := int(math.Ceil(float64(*sizeMB<<20) / byteRate))
		path = encodeVideo(secs, int(*bitrate/1000)-128) // 128 kbit/s of AAC on top
		defer os.RemoveAll(filepath.Dir(path))
		fi, err := os.Stat(path)
		if err != nil {
			log.Fatal(err)
		}
		seconds = float64(secs)
		byteRate = float64(fi.Size()) / seconds
	} else {
		data := make([]byte, *sizeMB<<20)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			log.Fatal(err)
		}
	}
	p := newPod(path, seconds, true)
	defer p.close()
	mi, ih, err := torrentfile.Parse(p.torrent)
	if err != nil {
		log.Fatal(err)
	}
	budget := *early
	if budget < 0 {
		budget = jsEarlyBudget(p.size, seconds, mi.Info.PieceLength)
	}
	vs := make([]*viewer, *viewers)
	bs := make([]*browserViewer, *viewers)
	var wg sync.WaitGroup
	start := time.Now()
	for v := range vs {
		if v > 0 {
			time.Sleep(*join)
		}
		// Browsers at evenly spread places, from the second viewer on: each
		// gets from earlier viewers and serves later ones.
		if nBrowsers > 0 && v%(*viewers/nBrowsers) == min(1, *viewers/nBrowsers-1) && countBrowsers(bs) < nBrowsers {
			bs[v] = &browserViewer{id: v}
			url := p.srv.URL + "/bench/ours.html"
			if *debug {
				url += "?debug"
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				bs[v].watch(url, time.Duration(float64(p.size)/byteRate*float64(time.Second)))
			}()
			continue
		}
		acct := &podAccount{counts: &podCounts{why: map[string]int{}}}
		if *debug {
			acct.next = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
		}
		opt := engine.Options{Logger: slog.New(acct).With("viewer", v)}
		vs[v] = &viewer{acct: acct.counts,
			webSeed: p.srv.URL + "/webseed/video.mp4", size: p.size, byteRate: byteRate,
			early: min(budget, p.size), earlyCap: min(earlyCap, p.size), earlyLow: earlyLow, earlyStuck: earlyStuck,
			pieceLength: mi.Info.PieceLength, engineDelay: *engDelay,
			open: func() (*engine.Session, error) { return engine.Start(mi, ih, opt) },
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			vs[v].play()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	podBytes := p.seeder.UploadedBytes() + p.webseedOut.Load()
	kind := "random bytes"
	if nBrowsers > 0 {
		kind = "H.264/AAC MP4"
	}
	fmt.Printf("offload: %d viewers (%d Chromium pages with client.wasm, %d native) joining %v apart, %.1f MB %s at %.1f Mbit/s, %v total\n",
		*viewers, nBrowsers, *viewers-nBrowsers, *join, float64(p.size)/1e6, kind, byteRate*8/1e6, elapsed.Round(time.Second))
	fmt.Printf("  each viewer: %.2f MiB from the web seed in its first request (engine.js earlyBudget), then a piece at a time while its player holds under %g s and its engine has not opened, at most %.2f MiB; engine opens %v after the first frame\n",
		float64(budget)/(1<<20), earlyLow, float64(earlyCap)/(1<<20), *engDelay)
	for v, w := range vs {
		if b := bs[v]; b != nil {
			b.report(v)
			continue
		}
		if w.err != nil {
			fmt.Printf("  viewer %d: %v\n", v, w.err)
			continue
		}
		st := w.session.Torrent.Stats()
		fmt.Printf("  viewer %d: start %4d ms, first peer %5d ms, stalls %d (%4d ms), from viewers %5.1f MB, from seeder %5.1f MB, web seed %5.1f MB (early %.1f + engine %.1f), uploaded %5.1f MB\n",
			v, w.startup.Milliseconds(), w.firstPeer.Milliseconds(), w.stalls, w.stalledFor.Milliseconds(), float64(st.BytesFromPeers-st.BytesFromServers)/1e6,
			float64(st.BytesFromServers)/1e6, float64(st.BytesFromWebSeed)/1e6, float64(w.earlyRead)/1e6,
			float64(st.BytesFromWebSeed-w.earlyRead)/1e6, float64(st.BytesUploaded)/1e6)
		if v > 0 {
			fmt.Printf("            %s\n", w.acct)
		}
	}
	for v, w := range vs {
		if w != nil && w.session != nil {
			w.session.Close()
		}
		if b := bs[v]; b != nil && b.stop != nil {
			b.stop()
		}
	}
	fmt.Printf("  pod upload: seeder %.1f MB + web seed %.1f MB = %.1f MB; ÷ (N × size) = %.3f (target ≤ 0.25, limit 1/N = %.3f)\n",
		float64(p.seeder.UploadedBytes())/1e6, float64(p.webseedOut.Load())/1e6, float64(podBytes)/1e6,
		float64(podBytes)/float64(int64(*viewers)*p.size), 1/float64(*viewers))
}

func countBrowsers(bs []*browserViewer) int {
	n := 0
	for _, b := range bs {
		if b != nil {
			n++
		}
	}
	return n
}

// browserViewer is a viewer in headless Chromium: the watch page's flow
// (ours.html: playEarly, then client.wasm) playing the video to its end,
// its page left open until the run ends, so that it serves later viewers.
type browserViewer struct {
	id      int           // its place among the viewers (-debug: tags its engine's logs)
	acct    podCounts     // -debug: why its engine asked the pod, from its logs
	startup time.Duration // navigation → playing
	stalls  int           // waiting events after the start
	st      struct {
		BytesFromPeers, BytesFromServers, BytesFromWebSeed, BytesUploaded float64
		Peers                                                             int
	}
	err  error
	stop func()
}

func (b *browserViewer) watch(url string, length time.Duration) {
	bctx, stopBrowser := newBrowser()
	ctx, cancel := chromedp.NewContext(bctx)
	b.stop = func() { cancel(); stopBrowser() }
	if *debug {
		// The engine's logs (logLevel debug: Go's stderr is the console).
		msgs := chromedp.Console(ctx)
		go func() {
			for m, err := range msgs {
				if err != nil {
					return
				}
				log.Printf("viewer=%d (Chromium) %s", b.id, m.Text)
				b.acct.count(m.Text)
			}
		}()
	}
	begin := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		b.err = err
		return
	}
	_, _ = evalJS[bool](ctx, `(() => { const v = document.getElementById('v'); window.__waits = 0;
		v.addEventListener('waiting', () => { if (window.__st.playingMs) window.__waits++; }); return true; })()`)
	if _, err := waitPlaying(ctx); err != nil {
		b.err = err
		return
	}
	b.startup = time.Since(begin)
	deadline := time.Now().Add(2*length + 30*time.Second)
	for time.Now().Before(deadline) {
		if ended, _ := evalJS[bool](ctx, "document.getElementById('v').ended"); ended {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if ended, _ := evalJS[bool](ctx, "document.getElementById('v').ended"); !ended {
		state, _ := evalJS[string](ctx, `(() => { const v = document.getElementById('v'); const b = [];
			for (let i = 0; i < v.buffered.length; i++) b.push([+v.buffered.start(i).toFixed(2), +v.buffered.end(i).toFixed(2)]);
			return JSON.stringify({ t: v.currentTime, d: v.duration, readyState: v.readyState, networkState: v.networkState, paused: v.paused,
				buffered: b, error: v.error && v.error.message }); })()`)
		b.err = fmt.Errorf("the video did not end within %v: %s", 2*length+30*time.Second, state)
	}
	b.stalls, _ = evalJS[int](ctx, "window.__waits")
	raw, err := evalJS[string](ctx, "JSON.stringify(window.__st.torrent.stats())")
	if err == nil {
		err = json.Unmarshal([]byte(raw), &b.st)
	}
	if err != nil && b.err == nil {
		b.err = err
	}
}

func (b *browserViewer) report(v int) {
	if b.err != nil {
		fmt.Printf("  viewer %d (Chromium): %v\n", v, b.err)
	}
	fmt.Printf("  viewer %d (Chromium): start %4d ms, stalls %d, from viewers %5.1f MB, from seeder %5.1f MB, web seed %5.1f MB, uploaded %5.1f MB\n",
		v, b.startup.Milliseconds(), b.stalls, (b.st.BytesFromPeers-b.st.BytesFromServers)/1e6, b.st.BytesFromServers/1e6,
		b.st.BytesFromWebSeed/1e6, b.st.BytesUploaded/1e6)
	if *debug {
		fmt.Printf("            %s\n", &b.acct)
	}
}

// viewer simulates one watch page in offload: a simPlayer (reading ahead
// of the playhead up to 10 s, as Chromium's media buffer does) fed first by
// the page's early web seed reads (engine.js playEarly: the first request
// of early bytes, then one piece at a time while the player has not
// started or holds under earlyLow seconds, up to earlyCap), then, from
// engineDelay after its first frame, by the engine, which is given those
// early bytes and told the player's state.
type viewer struct {
	acct        *podCounts // offload: why its engine asked the pod
	webSeed     string
	size, early int64
	earlyCap    int64
	pieceLength int64
	earlyLow    float64
	earlyStuck  time.Duration
	chunk       int64 // viewers mode: the early reads' size (sw.js EARLY_CHUNK)
	byteRate    float64
	engineDelay time.Duration
	open        func() (*engine.Session, error)
	session     *engine.Session // set once play returns
	startup     time.Duration   // start → playing
	firstPeer   time.Duration   // start → first peer connected
	stalls      int
	stalledFor  time.Duration // total time stalled after the start
	earlyRead   int64
	err         error
}

// readEarly reads the first v.early bytes from the web seed as sw.js does:
// one whole range request of v.chunk bytes after the other (viewers mode).
func (v *viewer) readEarly(ctx context.Context, buffered *atomic.Int64) ([]byte, error) {
	out := make([]byte, 0, v.early)
	for off := int64(0); off < v.early; {
		n := min(v.chunk, v.early-off)
		b, err := v.readRange(ctx, off, n)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
		off += n
		buffered.Add(n)
	}
	return out, nil
}

// readRange reads [off, off+n) from the web seed in one range request.
func (v *viewer) readRange(ctx context.Context, off, n int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.webSeed, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("early web seed read at %d: %w", off, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusPartialContent || int64(len(b)) != n {
		return nil, fmt.Errorf("early web seed read at %d: status %d, %d bytes, %v", off, resp.StatusCode, len(b), err)
	}
	return b, nil
}

func (v *viewer) play() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seconds := float64(v.size) / v.byteRate
	p := newSimPlayer(plan{watch: seconds, pauseAt: -1, seekAt: -1}, v.size, v.byteRate, seconds)
	var sess atomic.Pointer[engine.Session]
	failed := make(chan error, 1)
	add := func(n int) {
		p.mu.Lock()
		p.buffered += int64(n)
		p.mu.Unlock()
	}
	go func() {
		// engine.js prefetchEarly and earlyFromPrefetch: the first request,
		// then a piece at a time while the player needs it, until the
		// engine opens (engineDelay after the first frame).
		earlyData, err := v.readRange(ctx, 0, v.early)
		if err != nil {
			failed <- err
			return
		}
		add(len(earlyData))
		for {
			p.mu.Lock()
			startedAt, ahead := p.startedAt, float64(p.buffered-p.pos)/v.byteRate
			p.mu.Unlock()
			if !startedAt.IsZero() && time.Since(startedAt) >= v.engineDelay {
				break
			}
			got := int64(len(earlyData))
			need := ahead < v.earlyLow
			if startedAt.IsZero() { // engine.js: not started EARLY_STUCK_MS after the first bytes
				need = time.Since(p.begin) >= v.earlyStuck
			}
			if !need || got >= v.earlyCap {
				select {
				case <-time.After(20 * time.Millisecond):
					continue
				case <-ctx.Done():
					return
				}
			}
			next := min(v.earlyCap, (got/v.pieceLength+1)*v.pieceLength)
			b, err := v.readRange(ctx, got, next-got)
			if err != nil {
				failed <- err
				return
			}
			earlyData = append(earlyData, b...)
			add(len(b))
		}
		v.earlyRead = int64(len(earlyData))
		s, err := v.open()
		if err != nil {
			failed <- err
			return
		}
		// engine.js on open: the early bytes first, then play() reports the
		// buffer at once.
		s.Torrent.AddWebSeedData(ctx, v.webSeed, 0, earlyData)
		s.Torrent.SetPlayback(p.playback())
		sess.Store(s)
		buf := make([]byte, 1<<20)
		for {
			p.mu.Lock()
			b, at := p.buffered, p.pos
			p.mu.Unlock()
			if b >= v.size {
				return
			}
			if float64(b-at) > 10*v.byteRate { // Chromium's media buffer
				time.Sleep(20 * time.Millisecond)
				continue
			}
			n, err := s.Torrent.ReadAt(ctx, "player", buf, b)
			if err != nil && n == 0 {
				return
			}
			add(n)
		}
	}()
	run(func(now time.Time, dt float64) bool {
		select {
		case v.err = <-failed:
			return true
		default:
		}
		s := sess.Load()
		if s != nil && v.firstPeer == 0 && s.Torrent.Stats().Peers > 0 {
			v.firstPeer = time.Since(p.begin)
		}
		_, _, done := p.step(now, dt)
		if s != nil {
			s.Torrent.SetPlayback(p.playback())
		}
		return done
	})
	v.session = sess.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	if v.err == nil {
		v.err = p.res.err
	}
	v.stalls, v.stalledFor = p.res.stalls, p.res.stalledFor
	if !p.startedAt.IsZero() {
		v.startup = p.startedAt.Sub(p.begin)
	}
}

// podAccount is a slog.Handler that counts, from a native viewer's engine
// debug records (wasm/swarm), the pieces its engine asked the web seed for,
// by the rule that allowed it ("web seed fetch" why: lead, fill, rescue,
// brought) and whether a browser peer held the piece then (holders), and
// the web seed pieces that arrived after peers had delivered them ("web
// seed piece arrived twice"): where the pod's bytes beyond the early start
// went. With next (-debug) every record is logged too.
type podAccount struct {
	counts *podCounts
	next   slog.Handler
}

type podCounts struct {
	mu    sync.Mutex
	why   map[string]int // pieces by rule
	held  int            // of them, pieces a connected browser peer held
	twice int            // pieces that came from the web seed after peers delivered them
}

// count counts a record the engine logged as text (slog's TextHandler, a
// Chromium page's console).
func (c *podCounts) count(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.why == nil {
		c.why = map[string]int{}
	}
	switch {
	case strings.Contains(line, `msg="web seed fetch"`):
		if m := regexp.MustCompile(` why=(\w+)`).FindStringSubmatch(line); m != nil {
			c.why[m[1]]++
		}
		if m := regexp.MustCompile(` holders=(\d+)`).FindStringSubmatch(line); m != nil && m[1] != "0" {
			c.held++
		}
	case strings.Contains(line, `msg="web seed piece arrived twice"`):
		c.twice++
	}
}

func (c *podCounts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var rules []string
	n := 0
	for _, k := range []string{"lead", "fill", "rescue", "brought"} {
		rules = append(rules, fmt.Sprintf("%s %d", k, c.why[k]))
		n += c.why[k]
	}
	return fmt.Sprintf("engine's web seed pieces: %d (%s), %d of them held by a browser peer, %d arrived after peers had sent them", n, strings.Join(rules, ", "), c.held, c.twice)
}

func (a *podAccount) Enabled(context.Context, slog.Level) bool { return true }

func (a *podAccount) Handle(ctx context.Context, r slog.Record) error {
	switch r.Message {
	case "web seed fetch":
		a.counts.mu.Lock()
		r.Attrs(func(at slog.Attr) bool {
			switch at.Key {
			case "why":
				a.counts.why[at.Value.String()]++
			case "holders":
				if at.Value.Int64() > 0 {
					a.counts.held++
				}
			}
			return true
		})
		a.counts.mu.Unlock()
	case "web seed piece arrived twice":
		a.counts.mu.Lock()
		a.counts.twice++
		a.counts.mu.Unlock()
	}
	if a.next != nil && a.next.Enabled(ctx, r.Level) {
		return a.next.Handle(ctx, r)
	}
	return nil
}

func (a *podAccount) WithAttrs(attrs []slog.Attr) slog.Handler {
	b := *a
	if b.next != nil {
		b.next = b.next.WithAttrs(attrs)
	}
	return &b
}

func (a *podAccount) WithGroup(name string) slog.Handler {
	b := *a
	if b.next != nil {
		b.next = b.next.WithGroup(name)
	}
	return &b
}
