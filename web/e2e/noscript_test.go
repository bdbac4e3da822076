package e2e_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestPagesWithoutScript: the lists (home, search, a user's page) come in
// the HTML, so they work before the pages' modules run, without script and
// for crawlers (issue 17 item 29). Chromium runs with JavaScript off.
func TestPagesWithoutScript(t *testing.T) {
	t.Parallel()
	p := startPod(t, "noscript")
	requireVideos(t, p)
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"maya","password":"maya's password"}`, http.StatusCreated)
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"ada","password":"ada's password"}`, http.StatusCreated)
	tok := apiLogin(t, p.URL, "maya", "maya's password")
	clip := makeClip(t, 2)
	const hostile = `<img src=x> & "harbour"`
	const desc = "Golden hour, see https://example.com/pier.\nAnd (https://example.org/a?b=1&c=2), <b>not bold</b>; javascript:alert(1)"
	watchID := uploadMultipart(t, p.URL, tok, clip, hostile, desc)
	uploadMultipart(t, p.URL, tok, clip, "Making bread", "Flour, water, salt.")

	b := newBrowser(t)
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	cards := func() []string {
		return eval[[]string](b, `[...document.querySelectorAll("#videos .video-card")].map((c) => c.querySelector("h2").textContent + " | " + c.querySelector("a").getAttribute("href"))`)
	}
	for _, tc := range []struct {
		path, heading string
		want          []string // card names, in order
	}{
		{"/", "Newest videos", []string{"Making bread", hostile}},
		{"/search?q=bread", "1 result for “bread”", []string{"Making bread"}},
		{"/search?q=nothing+matches", "0 results for “nothing matches”", nil},
		{"/users/maya", "Videos by maya", []string{"Making bread", hostile}},
		{"/users/ada", "Videos by ada", nil},
	} {
		b.do("open "+tc.path, 20*time.Second, chromedp.Navigate(p.URL+tc.path), chromedp.WaitReady(chromedp.CSS("footer")))
		if eval[int](b, `document.querySelector("#user-menu").childElementCount`) != 0 {
			t.Fatal("the layout's script ran") // it fills the account menu
		}
		if h := b.text("#page-title"); h != tc.heading {
			t.Errorf("%s: heading %q, want %q", tc.path, h, tc.heading)
		}
		got := cards()
		if len(got) != len(tc.want) {
			t.Errorf("%s: cards %q, want %q", tc.path, got, tc.want)
			continue
		}
		for i, c := range got {
			name, href, _ := strings.Cut(c, " | ")
			if name != tc.want[i] || !strings.HasPrefix(href, "/videos/") {
				t.Errorf("%s: card %d is %q, want %q", tc.path, i, c, tc.want[i])
			}
		}
		if len(tc.want) == 0 && b.text("#videos .empty") == "" {
			t.Errorf("%s: an empty list says nothing", tc.path)
		}
		noInjectedMarkup(t, b)
	}
	if meta := b.text("#videos .empty"); !strings.Contains(meta, "ada has no videos") {
		t.Errorf("a user without videos: %q", meta)
	}
	// A name no user has is the 404 page, not an empty list.
	b.do("open /users/nobody", 20*time.Second, chromedp.Navigate(p.URL+"/users/nobody"), chromedp.WaitReady(chromedp.CSS("footer")))
	if h := b.text("#page-title"); h != "Page not found" || eval[int](b, `document.querySelectorAll("#videos").length`) != 0 {
		t.Errorf("/users/nobody: heading %q, want the 404 page", h)
	}

	// Paging: 24 cards a page, and past the last page the pager says so.
	b.do("page 99", 20*time.Second, chromedp.Navigate(p.URL+"/?page=99"), chromedp.WaitReady(chromedp.CSS("footer")))
	if got := b.text("#pager"); !strings.Contains(got, "no page 99") {
		t.Errorf("page 99: pager %q", got)
	}
	if got := eval[string](b, `document.querySelector("#pager a")?.getAttribute("href") || ""`); got != "/" {
		t.Errorf("page 99 links to %q, want /", got)
	}

	// The watch page: title, details, description with its links, the
	// BitTorrent links and a <video> that plays from the web seed.
	b.do("watch", 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+watchID), chromedp.WaitReady(chromedp.CSS("footer")))
	if got := b.text("#video-title"); got != hostile {
		t.Errorf("watch title %q, want %q", got, hostile)
	}
	if eval[bool](b, `document.querySelector("#video-info").hidden`) {
		t.Error("the video's details are hidden without script")
	}
	if got := b.text("#video-meta"); !strings.HasPrefix(got, "By maya · ") || !strings.Contains(got, "KiB") {
		t.Errorf("watch meta %q", got)
	}
	if got := eval[string](b, `document.querySelector("#video-description").textContent`); got != desc {
		t.Errorf("description %q, want %q", got, desc)
	}
	if got := eval[[]string](b, `[...document.querySelectorAll("#video-description a")].map((a) => a.href + " " + a.rel)`); len(got) != 2 ||
		got[0] != "https://example.com/pier nofollow ugc noopener" || got[1] != "https://example.org/a?b=1&c=2 nofollow ugc noopener" {
		t.Errorf("description links %q", got)
	}
	noInjectedMarkup(t, b)
	if eval[int](b, `document.querySelectorAll("#video-description b").length`) != 0 {
		t.Error("the description's markup became elements")
	}
	video := eval[map[string]any](b, `(() => { const v = document.querySelector("#player video#video-player"); return v ? {src: v.src, controls: v.controls, label: v.getAttribute("aria-label")} : {}; })()`)
	if src, _ := video["src"].(string); !strings.Contains(src, "/static/webseed/") || video["controls"] != true || video["label"] != hostile {
		t.Errorf("the player element: %v", video)
	}
	for _, sel := range []string{"#magnet-link", "#torrent-link", "#bt-links code"} {
		if b.text(sel) == "" && eval[string](b, `document.querySelector("`+sel+`")?.getAttribute("href") || ""`) == "" {
			t.Errorf("no %s without script", sel)
		}
	}
	if !strings.HasPrefix(eval[string](b, `document.querySelector("#magnet-link")?.getAttribute("href") || ""`), "magnet:?xt=urn:btih:") {
		t.Error("the magnet link is not a magnet URI")
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
		t.Fatal(err)
	}

	// With script, the page binds what the pod rendered: the description
	// is what ui.js's linkify makes of the same text (after an edit the
	// page renders it itself), and the player starts in the same element.
	b.do("watch with script", 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+watchID))
	b.waitJS("player starts", `document.querySelector("#player").getAttribute("aria-busy") === "false"`, 30*time.Second)
	if same := eval[bool](b, `(async () => {
		const { linkify } = await import("/static/js/ui.js");
		const p = document.createElement("p");
		linkify(p, `+jsQuote(desc)+`);
		return p.innerHTML === document.querySelector("#video-description").innerHTML;
	})()`); !same {
		t.Errorf("the pod's description markup differs from linkify's: %s", b.text("#video-description"))
	}
	if n := eval[int](b, `document.querySelectorAll("video").length`); n != 1 {
		t.Errorf("%d video elements on the watch page, want 1", n)
	}

	// What a crawler reads: the cards' names are in the HTML itself.
	body := string(get(t, p.URL+"/search?q=harbour"))
	if !strings.Contains(body, `&lt;img src=x&gt; &amp; &#34;harbour&#34;`) {
		t.Errorf("the search page's HTML lacks the escaped card: %s", between(body, "<main", "</main>"))
	}
	if strings.Contains(body, "<img src=x>") {
		t.Error("a video name became markup")
	}
}

func jsQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
