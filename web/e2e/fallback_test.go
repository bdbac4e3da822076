package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

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
	if mode := b.text("#stats-mode"); mode != "Peer-to-peer could not start in this browser, so this video plays straight from the pod." {
		t.Errorf("stats mode %q does not say why the video comes from the pod", mode)
	}
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
