package e2e_test

import (
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
	tok := apiLogin(t, p.URL, "maya", "maya's password")
	clip := makeClip(t, 2)
	const hostile = `<img src=x> & "harbour"`
	uploadMultipart(t, p.URL, tok, clip, hostile, "Golden hour, see https://example.com/pier.")
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
		{"/users/nobody", "Videos by nobody", nil},
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
	if meta := b.text("#videos .empty"); !strings.Contains(meta, "nobody has no videos") {
		t.Errorf("a user without videos: %q", meta)
	}

	// Paging: 24 cards a page, and past the last page the pager says so.
	b.do("page 99", 20*time.Second, chromedp.Navigate(p.URL+"/?page=99"), chromedp.WaitReady(chromedp.CSS("footer")))
	if got := b.text("#pager"); !strings.Contains(got, "no page 99") {
		t.Errorf("page 99: pager %q", got)
	}
	if got := eval[string](b, `document.querySelector("#pager a")?.getAttribute("href") || ""`); got != "/" {
		t.Errorf("page 99 links to %q, want /", got)
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
