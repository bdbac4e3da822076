package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestEmbedOnAnotherSite: a page on another origin frames the embeddable
// player, which plays there (issue 17: embed). It also checks the user
// page and the watch page's Embed button.
func TestEmbedOnAnotherSite(t *testing.T) {
	t.Parallel()
	p := startPodAt(t, "embed", "localhost")
	tok := apiLogin(t, p.URL, "admin", adminPassword)
	id := uploadMultipart(t, p.URL, tok, makeClip(t, 6), "Framed clip", "shown on another site")
	embedURL := p.URL + "/videos/" + id + "/embed"
	other := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>A blog</title><h1>My post</h1><iframe id="f" src="%s" width="640" height="360" allow="autoplay; fullscreen"></iframe>`, embedURL)
	}))
	if !strings.HasPrefix(other, "http://127.0.0.1:") || strings.HasPrefix(p.URL, "http://127.0.0.1:") {
		t.Fatalf("the two pages must be on different origins: %s and %s", other, p.URL)
	}
	b := newBrowser(t)
	b.do("open the blog", 20*time.Second, chromedp.Navigate(other+"/"))
	// The blog listens to the player's messages, as an embedder would; the
	// frame is muted-autoplayed by the player itself.
	eval[chromedp.Void](b, `window.__embed = []; addEventListener("message", (e) => { if (e.data && e.data.type === "swarmtube:state") window.__embed.push(e.data); })`)
	b.waitJS("the embedded player plays", `window.__embed.some((m) => m.currentTime > 1)`, 60*time.Second)
	if origin := eval[string](b, `location.origin`); !strings.HasPrefix(origin, "http://127.0.0.1:") {
		t.Fatalf("the blog runs at %s", origin)
	}

	// The player fills its frame exactly: no scrollbars at the iframe's size.
	b.do("embed alone at 560x315", 20*time.Second, chromedp.EmulateViewport(560, 315), chromedp.Navigate(embedURL))
	b.waitJS("player", `!!document.querySelector("#player video")`, 20*time.Second)
	if size := eval[string](b, `document.documentElement.scrollWidth + "x" + document.documentElement.scrollHeight`); size != "560x315" {
		t.Errorf("the embed page is %s in a 560x315 frame", size)
	}
	b.do("desktop", 10*time.Second, chromedp.EmulateViewport(1280, 800))

	// The user page lists the upload; the watch page offers the embed code.
	b.do("user page", 20*time.Second, chromedp.Navigate(p.URL+"/users/admin"))
	b.waitJS("user's videos", `[...document.querySelectorAll("#videos .video-card h2")].some((h) => h.textContent === "Framed clip")`, 20*time.Second)
	if h1 := b.text("h1"); h1 != "Videos by admin" {
		t.Errorf("user page heading %q", h1)
	}
	b.do("watch page", 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+id))
	b.waitJS("embed button", `!!document.querySelector("#embed-button:enabled")`, 20*time.Second)
	eval[chromedp.Void](b, `document.querySelector("#embed-button").click()`)
	b.waitJS("embed code", `document.querySelector("#status").textContent.includes("embed code") || !!document.querySelector("#embed-code")`, 10*time.Second)
	if code := eval[string](b, `navigator.clipboard.readText().catch(() => document.querySelector("#embed-code")?.value || "")`); !strings.Contains(code, `src="`+embedURL+`"`) {
		t.Errorf("embed code %q does not frame %s", code, embedURL)
	}
}
