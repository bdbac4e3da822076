package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	jsonv2 "github.com/chromedp/cdproto/cdp/jsonv2"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/tracing"
	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
)

// TestWatchPageStartup measures the pod's real watch page, first visit, from
// navigation to the first "playing" of its <video>, against two pages that
// play the same file from the same pod with a plain <video src=webseed>,
// interleaved, a fresh browser profile per run (issue 12: time to first
// frame at most 1.2× a plain <video>, in the same run, on a quiet machine):
//   - plain: a page holding nothing but that <video>;
//   - same page: the watch page's own HTML and stylesheet, scripts taken
//     out, its <video> given autoplay: what the page costs to show with
//     no peer to peer, so the watch page's ratio to it is what the engine
//     and the page's scripts add.
//
// wasmbench -mode startup measures the engine's flow on a page of its own;
// this is the whole page, with its module graph, its layout and its
// player. It prints the ratios and checks nothing timed. A benchmark:
// SWARMTUBE_BENCH=1 runs it (BENCHMARKS.md; SWARMTUBE_BENCH_RUNS, default
// 7). Where the time goes: SWARMTUBE_BENCH_TIMELINE=1 prints each run's
// resources (size, queueing, server wait) and marks;
// SWARMTUBE_BENCH_BLOCK=pattern,... blocks URLs on the watch page (e.g.
// its modules, to see what they cost); SWARMTUBE_BENCH_TRACE=dir writes a
// Chrome trace of each run there (chrome://tracing, Perfetto).
func TestWatchPageStartup(t *testing.T) {
	if os.Getenv("SWARMTUBE_BENCH") == "" {
		t.Skip("a benchmark: SWARMTUBE_BENCH=1 runs it")
	}
	runs := 7
	if n, err := fmt.Sscan(os.Getenv("SWARMTUBE_BENCH_RUNS"), &runs); n != 1 || err != nil {
		runs = 7
	}
	p := startPodAt(t, "startup", "localhost") // localhost: a secure context, so the engine runs
	clip, _ := testenv.MakeClip(t, testenv.Clip{Seconds: 60, Width: 640, Height: 360, Rate: 30, Faststart: true,
		Args: []string{"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "1500k", "-pix_fmt", "yuv420p"}})
	id := uploadMultipart(t, p.URL, apiLogin(t, p.URL, "admin", adminPassword), clip, "Startup", "")
	var v api.Video
	if err := json.Unmarshal(get(t, p.Addr+"/api/v1/videos/"+id), &v); err != nil {
		t.Fatal(err)
	}
	// The plain page, from another origin (as an embed elsewhere would be),
	// named localhost as the pod is, so both pay the same name resolution.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>plain</title><video controls playsinline autoplay src="%s"></video>`, v.WebseedURL)
	}))
	t.Cleanup(plain.Close)
	// The same page: the watch page as the pod serves it, its scripts
	// (the inline start, the modules) taken out, its <video> playing its
	// web seed by itself, from another origin with <base> at the pod so
	// that its stylesheet, images and video come from the pod.
	samePage := string(get(t, p.URL+"/videos/"+id))
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?s)<script>.*?</script>`),
		regexp.MustCompile(`<script type="module"[^>]*></script>`),
		regexp.MustCompile(`<link rel="modulepreload"[^>]*>`),
	} {
		samePage = re.ReplaceAllString(samePage, "")
	}
	samePage = strings.Replace(samePage, `preload="none"`, `preload="auto" autoplay`, 1)
	samePage = strings.Replace(samePage, "<head>", `<head><base href="`+p.URL+`/">`, 1)
	if strings.Contains(samePage, "<script>") || strings.Contains(samePage, `type="module"`) || !strings.Contains(samePage, " autoplay") ||
		!strings.Contains(samePage, `src="`+v.WebseedURL+`"`) {
		t.Fatalf("the watch page's <video> or scripts are not where this benchmark expects them:\n%s", samePage)
	}
	same := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, samePage)
	}))
	t.Cleanup(same.Close)
	traceDir := os.Getenv("SWARMTUBE_BENCH_TRACE")
	watchURL := p.URL + "/videos/" + id

	firstPlaying := func(url string) (float64, error) {
		var ms float64
		var err error
		t.Run("", func(t *testing.T) { // a fresh profile, closed when the run ends
			b := newBrowser(t)
			if blk := os.Getenv("SWARMTUBE_BENCH_BLOCK"); blk != "" && url == watchURL {
				var pats []*network.BlockPattern
				for _, u := range strings.Split(blk, ",") {
					pats = append(pats, &network.BlockPattern{URLPattern: u, Block: true})
				}
				if _, e := chromedp.Call(b.ctx, network.Enable, network.EnableParams{}); e != nil {
					err = e
					return
				}
				if _, e := chromedp.Call(b.ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{URLPatterns: pats}); e != nil {
					err = e
					return
				}
			}
			if traceDir != "" {
				stop, e := startTrace(b.ctx, fmt.Sprintf("%s/%d.json", traceDir, time.Now().UnixNano()))
				if e != nil {
					err = e
					return
				}
				defer stop()
			}
			if _, e := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: `document.addEventListener('playing', () => { window.__playing ??= performance.now(); }, true);
window.__long = []; try { new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push([Math.round(e.startTime), Math.round(e.duration)]); }).observe({ type: 'longtask', buffered: true }); } catch (e) {}`,
			}); e != nil {
				err = e
				return
			}
			b.do("navigate", 20*time.Second, chromedp.Navigate(url))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if !testenv.Poll(ctx, func() bool { ms = eval[float64](b, "window.__playing || 0"); return ms > 0 }) {
				err = fmt.Errorf("%s: no playing event in 20 s", url)
				return
			}
			if os.Getenv("SWARMTUBE_BENCH_TIMELINE") != "" { // where the time went
				t.Logf("%s: playing %.0f ms; %s", url, ms, eval[string](b, `(async () => {
					const out = [];
					for (const e of performance.getEntriesByType('resource')) out.push([Math.round(e.startTime), Math.round(e.responseEnd), new URL(e.name).pathname.split('/').slice(-2).join('/') +
						' [' + e.encodedBodySize + ' B, queued ' + Math.round(e.requestStart - e.startTime) + ', wait ' + Math.round(e.responseStart - e.requestStart) + ']']);
					const nav = performance.getEntriesByType('navigation')[0];
					out.push([0, Math.round(nav.responseEnd), 'document'], [Math.round(nav.domInteractive), Math.round(nav.domContentLoadedEventEnd), 'domInteractive→DCL']);
					const marks = self.swarmtubeStart ? await import('/static/engine/engine.js').then((m) => m.startupMarks()).catch(() => ({})) : {};
					for (const [k, v] of Object.entries(marks)) out.push([Math.round(v), Math.round(v), k]);
					for (const [a, d] of window.__long || []) out.push([a, a + d, 'longtask']);
					for (const e of performance.getEntriesByType('mark')) out.push([Math.round(e.startTime), Math.round(e.startTime), e.name]);
					for (const e of performance.getEntriesByType('paint')) out.push([Math.round(e.startTime), Math.round(e.startTime), e.name]);
					out.sort((a, b) => a[0] - b[0]);
					return out.map(([a, b, n]) => a === b ? n + ' ' + a : n + ' ' + a + '→' + b).join(', ');
				})()`))
			}
		})
		return ms, err
	}
	var plainMs, sameMs, watchMs []float64
	for r := 0; r < runs; r++ {
		for _, c := range []struct {
			url string
			out *[]float64
		}{{strings.Replace(plain.URL, "127.0.0.1", "localhost", 1), &plainMs}, {strings.Replace(same.URL, "127.0.0.1", "localhost", 1), &sameMs}, {watchURL, &watchMs}} {
			ms, err := firstPlaying(c.url)
			if err != nil {
				t.Fatal(err)
			}
			*c.out = append(*c.out, ms)
		}
	}
	median := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	t.Logf("navigation → first playing, median of %d, fresh profile each: plain <video> %.0f ms %.0f, same page with a plain <video> %.0f ms %.0f, watch page %.0f ms %.0f: %.2f× plain, %.2f× the same page with a plain <video> (which is %.2f× plain)",
		runs, median(plainMs), plainMs, median(sameMs), sameMs, median(watchMs), watchMs,
		median(watchMs)/median(plainMs), median(watchMs)/median(sameMs), median(sameMs)/median(plainMs))
}

// startTrace records a Chrome trace of the page in ctx (the Performance
// panel's categories, and the media pipeline's) until stop, which writes it
// to file as a JSON array of trace events.
func startTrace(ctx context.Context, file string) (stop func(), err error) {
	var mu sync.Mutex
	var events []jsonv2.Value
	done := make(chan struct{})
	chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *tracing.EventDataCollected:
			mu.Lock()
			events = append(events, ev.Value...)
			mu.Unlock()
		case *tracing.EventTracingComplete:
			close(done)
		}
	})
	if _, err := chromedp.Call(ctx, tracing.Start, tracing.StartParams{TraceConfig: &tracing.TraceConfig{IncludedCategories: []string{
		"devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink", "loading", "toplevel", "media", "fonts"}}}); err != nil {
		return nil, err
	}
	return func() {
		if _, err := chromedp.Call(ctx, tracing.End, cdp.Empty{}); err != nil {
			return
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if out, err := json.Marshal(events); err == nil {
			os.WriteFile(file, out, 0o644)
		}
	}, nil
}
