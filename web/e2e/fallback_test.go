package e2e_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestWatchWithoutEngine blocks the engine's module: the watch page must
// still play the video from the pod's web seed and say so, with the panel
// counting the bytes from the pod.
func TestWatchWithoutEngine(t *testing.T) {
	t.Parallel()
	p := startPod(t, "fallback")
	requireVideos(t, p)
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"erin","password":"erin's password"}`, http.StatusCreated)
	id := uploadMultipart(t, p.URL, apiLogin(t, p.URL, "erin", "erin's password"), makeClip(t, 5), "Plain HTTP", "")

	b := newBrowser(t)
	b.do("block the engine", 10*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/static/engine/*", Block: true}},
		})
		return err
	}))
	b.do("open the watch page", 20*time.Second,
		chromedp.Navigate(p.URL+"/videos/"+id),
		chromedp.WaitVisible(chromedp.CSS("#video-info")),
	)
	b.waitJS("fallback player", `document.querySelector("#player video")?.src.includes("/static/webseed/")`, 20*time.Second)
	// Nobody presses play: the fallback starts by itself, as P2P does.
	b.waitJS("playback advances", `document.querySelector("#player video").currentTime > 1`, 30*time.Second)
	b.waitJS("bytes from the pod", `document.querySelector("#stat-from-pod").textContent !== "0 B"`, 10*time.Second)
	// The page tries the engine again a few times (player.js
	// ENGINE_RETRY_MS, about 20 s), saying meanwhile that it has not
	// started yet, then why the video comes from the pod.
	if mode := b.text("#stats-mode"); mode != "Peer-to-peer has not started yet, so this video plays straight from the pod meanwhile." {
		t.Errorf("stats mode %q while the engine is retried", mode)
	}
	b.waitJS("the page to give up on the engine", `document.querySelector("#stats-mode").textContent === "Peer-to-peer could not start in this browser, so this video plays straight from the pod."`, 90*time.Second)
	if got := b.text("#stat-from-peers"); got != "0 B" {
		t.Errorf("from peers %q without an engine", got)
	}
	b.screenshot("watch-fallback")
}

// TestWatchInsecureOrigin opens the pod under a name that is not localhost
// over plain http (pod.example.test, mapped to 127.0.0.1 by Chromium's
// host resolver rules), as a pod without HTTPS is seen from the internet:
// no Service Worker, so no engine. The page must say why in one sentence
// and play from the web seed by itself.
func TestWatchInsecureOrigin(t *testing.T) {
	t.Parallel()
	p := startPodAt(t, "insecure", "pod.example.test")
	if !strings.HasPrefix(p.URL, "http://pod.example.test:") {
		t.Fatalf("pod URL %s", p.URL)
	}
	apiCall(t, p.Addr, "", "POST", "/api/v1/users", `{"username":"ivan","password":"ivan's password"}`, http.StatusCreated)
	id := uploadMultipart(t, p.Addr, apiLogin(t, p.Addr, "ivan", "ivan's password"), makeClip(t, 5), "Over plain HTTP", "")

	b := newBrowser(t, chromedp.Flag("host-resolver-rules", "MAP pod.example.test 127.0.0.1"))
	b.do("open the watch page", 20*time.Second,
		chromedp.Navigate(p.URL+"/videos/"+id),
		chromedp.WaitVisible(chromedp.CSS("#video-info")),
	)
	if eval[bool](b, `window.isSecureContext`) {
		t.Fatal("the page is a secure context: the test does not test an insecure origin")
	}
	b.waitJS("fallback player", `document.querySelector("#player video")?.src.startsWith("http://pod.example.test:")`, 20*time.Second)
	b.waitJS("playback advances by itself", `document.querySelector("#player video").currentTime > 1`, 30*time.Second)
	want := "Peer-to-peer needs a secure (https) connection to this pod, so this video plays straight from the pod."
	if mode := b.text("#stats-mode"); mode != want {
		t.Errorf("stats mode %q, want %q", mode, want)
	}
	b.screenshot("watch-insecure-origin")
}

// TestWatchWithoutWebRTC removes RTCPeerConnection before the page's
// scripts run, as in a browser without WebRTC: the watch page must say so
// and play from the web seed by itself.
func TestWatchWithoutWebRTC(t *testing.T) {
	t.Parallel()
	p := startPod(t, "nowebrtc")
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"wendy","password":"wendy's password"}`, http.StatusCreated)
	id := uploadMultipart(t, p.URL, apiLogin(t, p.URL, "wendy", "wendy's password"), makeClip(t, 5), "No WebRTC here", "")

	b := newBrowser(t)
	b.do("remove WebRTC", 10*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;`,
		})
		return err
	}))
	b.do("open the watch page", 20*time.Second,
		chromedp.Navigate(p.URL+"/videos/"+id),
		chromedp.WaitVisible(chromedp.CSS("#video-info")),
	)
	b.waitJS("fallback player", `document.querySelector("#player video")?.src.includes("/static/webseed/")`, 20*time.Second)
	b.waitJS("playback advances by itself", `document.querySelector("#player video").currentTime > 1`, 30*time.Second)
	want := "This browser cannot share video with other viewers (no WebRTC or Service Worker), so this video plays straight from the pod."
	if mode := b.text("#stats-mode"); mode != want {
		t.Errorf("stats mode %q, want %q", mode, want)
	}
}

// TestWatchEngineStartsLate makes the engine's first start fail or run
// late, as on a slow or flaky link: the first request for wasm_exec.js is
// reset (a clean-clone CI run once lost it so, "cannot load
// /static/wasm_exec.js", and the page played from the pod for the whole
// visit), or the first request for client.wasm is held past the player's
// 12 s wait (ENGINE_TIMEOUT_MS; under load, the start once took longer).
// The page plays from the web seed meanwhile, says so, and moves to peer
// to peer when the engine is up, at the same place.
func TestWatchEngineStartsLate(t *testing.T) {
	t.Parallel()
	p := startPod(t, "latestart")
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"lena","password":"lena's password"}`, http.StatusCreated)
	id := uploadMultipart(t, p.URL, apiLogin(t, p.URL, "lena", "lena's password"), makeClip(t, 20), "Late start", "")
	for _, tc := range []struct {
		name, pattern string
		hold          time.Duration // hold the first request, then let it through; 0: reset it
		why           string        // the first start's error
	}{
		{"wasm_exec.js reset", "*/static/wasm_exec.js*", 0, "cannot load"},
		{"client.wasm held", "*/static/client.wasm*", 14 * time.Second, "took too long to start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBrowser(t)
			var hit atomic.Int32
			// The listener must not send commands: it hands each paused
			// request to a goroutine, which answers on the browser's context
			// (an action's ends with the action).
			ctx := b.ctx
			err := chromedp.Listen(ctx, func(ev any) {
				e, ok := ev.(*fetch.EventRequestPaused)
				if !ok {
					return
				}
				first := hit.Add(1) == 1
				go func() {
					switch {
					case first && tc.hold == 0:
						_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: e.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
					default:
						if first {
							time.Sleep(tc.hold) // timed: behaviour: a slow link, the wasm arriving after the player's 12 s wait
						}
						_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
					}
				}()
			})
			if err != nil {
				t.Fatal(err)
			}
			b.do("intercept "+tc.pattern, 10*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: tc.pattern}}})
				return err
			}))
			b.do("open the watch page", 20*time.Second,
				chromedp.Navigate(p.URL+"/videos/"+id),
				chromedp.WaitVisible(chromedp.CSS("#video-info")),
			)
			b.waitJS("peer to peer", `document.querySelector("#stats-mode").textContent.startsWith("Peer to peer")`, 90*time.Second)
			at := eval[float64](b, `document.querySelector("#player video").currentTime`)
			b.waitJS("playback to go on from the engine's stream", `document.querySelector("#player video").src.includes("/static/engine/stream/") && document.querySelector("#player video").currentTime > `+strconv.FormatFloat(at+1, 'f', 2, 64), 30*time.Second)
			// The page did fall back first, for the injected reason, and moved.
			b.mu.Lock()
			console := strings.Join(b.console, "\n")
			b.mu.Unlock()
			for _, want := range []string{"engine not started, playing from the web seed meanwhile", tc.why, "peer-to-peer started"} {
				if !strings.Contains(console, want) {
					t.Errorf("the console does not say %q:\n%s", want, console)
				}
			}
		})
	}
}
