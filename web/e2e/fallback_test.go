package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
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
	eval[chromedp.Void](b, `(async () => { const v = document.querySelector("#player video"); v.muted = true; await v.play(); })()`)
	b.waitJS("playback advances", `document.querySelector("#player video").currentTime > 1`, 30*time.Second)
	b.waitJS("bytes from the pod", `document.querySelector("#stat-from-pod").textContent !== "0 B"`, 10*time.Second)
	if mode := b.text("#stats-mode"); !strings.Contains(mode, "playing from the pod") {
		t.Errorf("stats mode %q does not say the video comes from the pod", mode)
	}
	if got := b.text("#stat-from-peers"); got != "0 B" {
		t.Errorf("from peers %q without an engine", got)
	}
	b.screenshot("watch-fallback")
}
