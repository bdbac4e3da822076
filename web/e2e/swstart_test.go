package e2e_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestServiceWorkerStartsEarly: every page registers the engine's Service
// Worker from its head (engine/start.js, inlined and allowed by its hash),
// before any module loads; the engine takes that registration over. On a
// first visit the <video> does not wait for the worker: it is pointed at
// the stream at once, its first request reaches the pod (the start route,
// webseed.StartHandler) and the requests it makes once the worker controls
// the page go through the worker. A viewer who arrives from another page of
// the pod finds the page controlled from its first byte. Only the stream
// goes through the worker (static routing): navigations and the pages'
// other requests go to the network without it (issue 12, time to first
// frame).
func TestServiceWorkerStartsEarly(t *testing.T) {
	t.Parallel()
	p := startPodAt(t, "swstart", "localhost")
	tok := apiLogin(t, p.URL, "admin", adminPassword)
	// 30 s: several pieces, so one second of media (the first request on a
	// first visit) is not the whole file, and the worker serves the rest.
	id := uploadMultipart(t, p.URL, tok, makeClip(t, 30), "Early", "")
	b := newBrowser(t)
	// Whether the page was controlled when its document started.
	if _, err := chromedp.Call(b.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__controlledAtStart = !!(navigator.serviceWorker && navigator.serviceWorker.controller);
document.addEventListener('loadeddata', () => { window.__firstFrame ??= performance.now(); }, true);`,
	}); err != nil {
		t.Fatalf("add script: %v", err)
	}
	played := `(v => {
		if (!v) return false;
		v.muted = true;
		if (v.paused && !v.ended) v.play().catch(() => {});
		return v.currentTime > 0.5;
	})(document.querySelector("#player video"))`
	marks := func() map[string]float64 {
		raw := eval[string](b, `import('/static/engine/engine.js').then((m) => m.startupMarks()).then((m) => JSON.stringify(m))`)
		var m map[string]float64
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("startupMarks %s: %v", raw, err)
		}
		return m
	}

	// A first visit, straight to the watch page, on a fresh profile.
	b.do("first visit", 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+id))
	b.waitJS("played", played, 60*time.Second)
	if eval[bool](b, "window.__controlledAtStart") {
		t.Fatal("a fresh profile's first page was controlled at its start")
	}
	m := marks()
	t.Logf("first visit (ms since navigation): %v", m)
	if !eval[bool](b, `!!self.swarmtubeStart && self.swarmtubeStart.register > 0`) {
		t.Fatal("the page's head did not register the Service Worker (start.js)")
	}
	if !(m["register"] > 0 && m["register"] == eval[float64](b, "self.swarmtubeStart.register")) {
		t.Errorf("the engine registered the worker itself (register %v), not taking over the head's registration", m["register"])
	}
	if !(m["register"] < m["engine"]) {
		t.Errorf("the worker was registered at %v ms, after the engine module ran (%v ms)", m["register"], m["engine"])
	}
	if !(m["controlled"] > 0 && m["src"] > 0) {
		t.Fatalf("marks: the worker never controlled the page, or the <video> never got the stream: %v", m)
	}
	// The video has one file, so the page's head script (start.js) pointed
	// the <video> at its stream as the parser reached the element: before
	// the page's modules ran (engine.js playEarly then kept it), and
	// without waiting for the worker.
	if !(m["src"] < m["engine"] && m["src"] < m["playEarly"]) {
		t.Errorf("the <video> was pointed at the stream at %v ms, not before the engine's module ran (%v ms)", m["src"], m["engine"])
	}
	direct := m["src"] < m["controlled"]
	// The stream went to the network only before the worker controlled the
	// page, through the worker after; what the page asked for once
	// controlled (the .torrent, the API) did not go through it.
	type entry struct {
		Name        string  `json:"name"`
		WorkerStart float64 `json:"workerStart"`
		StartTime   float64 `json:"startTime"`
		Matched     string  `json:"workerMatchedSourceType"`
	}
	entries := func() []entry {
		raw := eval[string](b, `JSON.stringify(performance.getEntriesByType('resource').map((e) => ({name: e.name, workerStart: e.workerStart, startTime: e.startTime, workerMatchedSourceType: e.workerMatchedSourceType || ''})))`)
		var es []entry
		if err := json.Unmarshal([]byte(raw), &es); err != nil {
			t.Fatalf("resource entries %s: %v", raw, err)
		}
		return es
	}
	// A request appears in resource timing once its answer ends: wait
	// until the player holds the whole file.
	b.waitJS("whole file buffered", `(v => v.duration > 0 && v.buffered.length > 0 && v.buffered.end(v.buffered.length - 1) >= v.duration - 0.1)(document.querySelector("#player video"))`, 60*time.Second)
	var viaWorker, viaNetwork int
	for _, e := range entries() {
		if !strings.Contains(e.Name, "/static/engine/stream/") {
			continue
		}
		if e.WorkerStart == 0 || e.Matched == "network" {
			viaNetwork++
			if e.StartTime >= m["controlled"] {
				t.Errorf("a stream request made once the worker controlled the page (at %v ms) did not go through it: %+v", m["controlled"], e)
			}
		} else {
			viaWorker++
		}
	}
	if viaWorker == 0 {
		t.Error("no stream request went through the worker")
	}
	if direct && viaNetwork == 0 {
		t.Error("playEarly ran before the worker controlled the page, yet no stream request went to the pod at once")
	}
	t.Logf("first visit: %d stream requests to the network, %d through the worker", viaNetwork, viaWorker)
	// The page's own work (its API calls first) waited for the video's
	// first frame, not competed with it for the main thread (start.js
	// firstFrame, watch.js).
	firstFrame := eval[float64](b, "window.__firstFrame || 0")
	for _, e := range entries() {
		if strings.Contains(e.Name, "/api/v1/") && !(firstFrame > 0 && e.StartTime > firstFrame) {
			t.Errorf("the page asked %s at %.0f ms, before the video's first frame (%.0f ms)", e.Name, e.StartTime, firstFrame)
		}
	}

	// The home page, then the watch page again: controlled from the start,
	// and its navigation did not wait for the worker.
	b.do("home", 20*time.Second, chromedp.Navigate(p.URL+"/"))
	b.waitJS("home controlled", "!!navigator.serviceWorker.controller", 20*time.Second)
	b.do("watch again", 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+id))
	b.waitJS("played again", played, 60*time.Second)
	if !eval[bool](b, "window.__controlledAtStart") {
		t.Error("a watch page visited after the home page was not controlled from its start")
	}
	// Static routing (Chromium 123+) reports where a request went.
	if eval[bool](b, `'workerMatchedSourceType' in PerformanceResourceTiming.prototype`) {
		if nav := eval[string](b, `performance.getEntriesByType('navigation')[0].workerMatchedSourceType`); nav != "network" {
			t.Errorf("the watch page's navigation went to the worker (matched %q), not straight to the network", nav)
		}
		for _, e := range entries() {
			isStream := strings.Contains(e.Name, "/static/engine/stream/")
			if isStream == (e.Matched == "network") {
				t.Errorf("%s: routed to %q (the worker must see the stream and nothing else)", e.Name, e.Matched)
			}
		}
	} else {
		t.Log("this Chromium does not report Service Worker static routing")
	}
	t.Logf("return visit (ms since navigation): %v", marks())

	// A hard reload bypasses the worker: the page starts uncontrolled
	// beside an active worker, which must take it when asked (it waited
	// for a controllerchange that never came, and fell back to plain HTTP
	// after the engine's 12 s timeout).
	if _, err := chromedp.Call(b.ctx, page.Reload, page.ReloadParams{IgnoreCache: new(true)}); err != nil {
		t.Fatalf("hard reload: %v", err)
	}
	b.waitJS("played after a hard reload", played, 60*time.Second)
	if eval[bool](b, "window.__controlledAtStart") {
		t.Error("the hard-reloaded page was controlled at its start: the reload did not bypass the worker")
	}
	if src := eval[string](b, `document.querySelector("#player video").src`); !strings.Contains(src, "/static/engine/stream/") {
		t.Errorf("after a hard reload the video plays %s, not the worker's stream", src)
	}
}
