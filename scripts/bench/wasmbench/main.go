// Command wasmbench measures Swarmtube's browser peer (see
// scripts/bench/wasm.sh):
//
//   - offload: one pod (anacrolix seeder over WebRTC + web seed + WebSocket
//     tracker) and N viewers joining a few seconds apart, each playing the
//     video at its bitrate; prints pod upload bytes ÷ (N × video size).
//     Viewers are native builds of the browser engine (wasm/engine, the same
//     code as client.wasm) with a simulated player that reads ahead like
//     Chromium and reports its buffer, because 2 cores cannot hold 8
//     Chromium instances.
//   - startup: time from navigation to the first "playing" event in
//     headless Chromium, for a plain <video src=webseed>, our engine, and the
//     JavaScript webtorrent client on the same file, interleaved, fresh
//     browser profile per run; the median of -runs.
//   - hash: SHA-1 piece verification throughput in Chromium (SubtleCrypto,
//     which the engine uses, and Go's crypto/sha1 in wasm).
//   - size: client.wasm raw, gzip and brotli sizes.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/server/seeder"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
	"github.com/swarmtube/swarmtube/wasm/engine"
)

var (
	root     = flag.String("root", ".", "repository root")
	wasmDir  = flag.String("wasm", "web/static", "directory holding client.wasm and wasm_exec.js")
	mode     = flag.String("mode", "all", "offload, startup, hash, size or all")
	viewers  = flag.Int("viewers", 8, "offload: viewers")
	join     = flag.Duration("join", 3*time.Second, "offload: time between viewers joining")
	sizeMB   = flag.Int("size", 16, "offload: video size in MiB")
	bitrate  = flag.Float64("bitrate", 4e6, "offload: video bitrate in bit/s")
	runs     = flag.Int("runs", 3, "startup: runs per client")
	chromium = flag.String("chromium", "chromium", "Chromium binary")
	debug    = flag.Bool("debug", false, "offload: engine debug logs on stderr")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *mode == "size" || *mode == "all" {
		sizes()
	}
	if *mode == "hash" || *mode == "all" || *mode == "startup" {
		p := newPod(videoFile(), true)
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
func videoFile() string {
	dir, err := os.MkdirTemp("", "wasmbench-")
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "video.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=duration=60:size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine=duration=60", "-shortest",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "1500k", "-minrate", "1500k", "-maxrate", "1500k",
		"-bufsize", "750k", "-x264-params", "nal-hrd=cbr", "-pix_fmt", "yuv420p", "-c:a", "aac",
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

func newPod(path string, withSeeder bool) *pod {
	p := &pod{}
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
	static := http.FileServer(http.Dir(filepath.Join(*root, "web", "static")))
	mux.Handle("/static/", http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
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
		case "engine/sw.js":
			w.Header().Set("Service-Worker-Allowed", "/")
		}
		static.ServeHTTP(w, r)
	})))
	nm := filepath.Join(*root, "scripts", "node", "node_modules", "webtorrent", "dist")
	mux.HandleFunc("/bench/webtorrent.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(nm, "webtorrent.min.js"))
	})
	mux.HandleFunc("/bench/sw.min.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(nm, "sw.min.js"))
	})
	for name, html := range pages {
		mux.HandleFunc("/bench/"+name, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, html)
		})
	}
	mux.HandleFunc("/t/video.torrent", func(w http.ResponseWriter, r *http.Request) { w.Write(p.torrent) })
	mux.HandleFunc("/webseed/video.mp4", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(countingWriter{w, &p.webseedOut}, r, "video.mp4", time.Time{}, bytes.NewReader(data))
	})
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

var pages = map[string]string{
	"plain.html": `<!doctype html><video id=v muted autoplay src="/webseed/video.mp4"></video>
<script>const v = document.getElementById('v'); window.__st = {};
v.addEventListener('playing', () => { window.__st.playingMs = performance.now(); }, { once: true });</script>`,
	"ours.html": `<!doctype html><video id=v muted autoplay></video>
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
	deadline := time.Now().Add(60 * time.Second)
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
	return 0, fmt.Errorf("no playing event in 60 s")
}

func startup(p *pod) {
	results := map[string][]float64{}
	clients := []string{"plain", "ours", "webtorrent"}
	var engineMs, openMs []float64
	for r := 0; r < *runs; r++ {
		for _, c := range clients {
			bctx, stop := newBrowser()
			ms, phases, err := waitPage(bctx, p.srv.URL+"/bench/"+c+".html")
			if err != nil {
				log.Printf("startup %s run %d: %v", c, r, err)
			} else {
				results[c] = append(results[c], ms)
			}
			if c == "ours" && phases["engineMs"] > 0 {
				engineMs = append(engineMs, phases["engineMs"])
				openMs = append(openMs, phases["openMs"])
			}
			stop()
		}
	}
	fmt.Printf("startup (navigation → first playing, median of %d, fresh profile each):\n", *runs)
	base := median(results["plain"])
	for _, c := range clients {
		m := median(results[c])
		fmt.Printf("  %-10s %7.0f ms  (%.2f× plain)  runs %v\n", c, m, m/base, round(results[c]))
	}
	fmt.Printf("  ours, phases (ms since navigation, medians): engine ready (wasm + Service Worker) %.0f, torrent open %.0f\n",
		median(engineMs), median(openMs))
}

func waitPage(bctx context.Context, url string) (float64, map[string]float64, error) {
	ctx, cancel := chromedp.NewContext(bctx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return 0, nil, err
	}
	ms, err := waitPlaying(ctx)
	phases, _ := evalJS[map[string]float64](ctx, "({engineMs: window.__st.engineMs || 0, openMs: window.__st.openMs || 0})")
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
	dir, err := os.MkdirTemp("", "wasmbench-offload-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "video.mp4")
	data := make([]byte, *sizeMB<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		log.Fatal(err)
	}
	p := newPod(path, true)
	defer p.close()
	mi, ih, err := torrentfile.Parse(p.torrent)
	if err != nil {
		log.Fatal(err)
	}
	byteRate := *bitrate / 8
	var wg sync.WaitGroup
	type result struct {
		startup, firstPeer time.Duration
		stalls             int
	}
	results := make([]result, *viewers)
	sessions := make([]*engine.Session, *viewers)
	start := time.Now()
	for v := 0; v < *viewers; v++ {
		if v > 0 {
			time.Sleep(*join)
		}
		opt := engine.Options{}
		if *debug {
			opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("viewer", v)
		}
		s, err := engine.Start(mi, ih, opt)
		if err != nil {
			log.Fatal(err)
		}
		sessions[v] = s
		wg.Add(1)
		go func(v int) {
			defer wg.Done()
			su, fp, stalls := play(s, p.size, byteRate)
			results[v] = result{startup: su, firstPeer: fp, stalls: stalls}
		}(v)
	}
	wg.Wait()
	elapsed := time.Since(start)
	podBytes := p.seeder.UploadedBytes() + p.webseedOut.Load()
	fmt.Printf("offload: %d native viewers joining %v apart, %d MiB video at %.1f Mbit/s, %v total\n",
		*viewers, *join, *sizeMB, *bitrate/1e6, elapsed.Round(time.Second))
	for v, s := range sessions {
		st := s.Torrent.Stats()
		fmt.Printf("  viewer %d: start %4d ms, first peer %5d ms, stalls %d, from viewers %5.1f MB, from seeder %5.1f MB, web seed %5.1f MB, uploaded %5.1f MB\n",
			v, results[v].startup.Milliseconds(), results[v].firstPeer.Milliseconds(), results[v].stalls, float64(st.BytesFromPeers-st.BytesFromServers)/1e6,
			float64(st.BytesFromServers)/1e6, float64(st.BytesFromWebSeed)/1e6, float64(st.BytesUploaded)/1e6)
	}
	for _, s := range sessions {
		s.Close()
	}
	fmt.Printf("  pod upload: seeder %.1f MB + web seed %.1f MB = %.1f MB; ÷ (N × size) = %.3f (target ≤ 0.25, limit 1/N = %.3f)\n",
		float64(p.seeder.UploadedBytes())/1e6, float64(p.webseedOut.Load())/1e6, float64(podBytes)/1e6,
		float64(podBytes)/float64(int64(*viewers)*p.size), 1/float64(*viewers))
}

// play simulates a browser player: it reads ahead of the playhead up to
// 10 s (as Chromium's media buffer does), starts once 1 s is buffered,
// advances the playhead at the bitrate and reports its buffer to the
// engine. It returns the start-up time, the time to the first peer and
// the number of stalls.
func play(s *engine.Session, size int64, byteRate float64) (startup, firstPeer time.Duration, stalls int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	begin := time.Now()
	var buffered, pos atomic.Int64
	go func() {
		buf := make([]byte, 1<<20)
		for {
			b := buffered.Load()
			if b >= size {
				return
			}
			if float64(b) > float64(pos.Load())+10*byteRate {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			n, err := s.Torrent.ReadAt(ctx, "player", buf, b)
			if err != nil && n == 0 {
				return
			}
			buffered.Add(int64(n))
		}
	}()
	started, stalled := false, false
	last := time.Now()
	for pos.Load() < size {
		time.Sleep(50 * time.Millisecond)
		now := time.Now()
		dt := now.Sub(last).Seconds()
		last = now
		b, p := buffered.Load(), pos.Load()
		if firstPeer == 0 && s.Torrent.Stats().Peers > 0 {
			firstPeer = time.Since(begin)
		}
		if !started {
			if b < min(size, int64(byteRate)) {
				s.Torrent.SetBufferAhead(float64(b) / byteRate)
				continue
			}
			started, startup = true, time.Since(begin)
		}
		np := min(b, p+int64(dt*byteRate))
		switch {
		case np == b && b < size && !stalled:
			stalls++
			stalled = true
		case np < b:
			stalled = false
		}
		pos.Store(np)
		s.Torrent.SetBufferAhead(float64(b-np) / byteRate)
	}
	s.Torrent.SetBufferAhead(1e9)
	return startup, firstPeer, stalls
}
