package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestUploadSameFileWarns: uploading through the page a file the pod
// already has (under another name) ends with a warning that links to the
// copy; the same name too is refused with a link to it (issue 17 item 13:
// "uploading the same bytes twice gives two videos with no word").
func TestUploadSameFileWarns(t *testing.T) {
	t.Parallel()
	p := startPod(t, "dups")
	requireVideos(t, p)
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"maya","password":"maya's password"}`, http.StatusCreated)
	tok := apiLogin(t, p.URL, "maya", "maya's password")
	clip := makeClip(t, 2)
	firstID := uploadMultipart(t, p.URL, tok, clip, "The first copy", "")

	b := newBrowser(t)
	b.login(p.URL, "maya", "maya's password", "/upload")
	upload := func(name string) {
		t.Helper()
		b.do("upload "+name, 30*time.Second,
			chromedp.Navigate(p.URL+"/upload"),
			chromedp.WaitVisible(chromedp.CSS("#upload-form")),
			chromedp.WaitEnabled(chromedp.CSS("#upload-submit")),
			chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{clip}),
		)
		b.waitJS("file chosen", `document.querySelector("#file-chosen").textContent !== ""`, 5*time.Second)
		eval[chromedp.Void](b, `document.querySelector("#name").value = ""`)
		b.do("name "+name, 10*time.Second, chromedp.SendKeys(chromedp.CSS("#name"), name), chromedp.Click(chromedp.CSS("#upload-submit")))
	}

	upload("Another name")
	b.waitJS("upload done", `!document.querySelector("#upload-done").hidden`, 60*time.Second)
	if got := b.text("#duplicate-note"); !strings.Contains(got, "already on this pod") || !strings.Contains(got, "The first copy") {
		t.Errorf("no warning of the copy: %q", got)
	}
	if href := eval[string](b, `document.querySelector("#duplicate-note a")?.getAttribute("href") || ""`); href != "/videos/"+firstID {
		t.Errorf("the warning links to %q, want /videos/%s", href, firstID)
	}

	upload("The first copy")
	b.waitJS("refused", `!!document.querySelector("#status .message.error")`, 60*time.Second)
	if href := eval[string](b, `document.querySelector("#status .message.error a")?.getAttribute("href") || ""`); !strings.HasSuffix(href, "/videos/"+firstID) {
		t.Errorf("the refusal %q links to %q, want the copy %s", b.text("#status"), href, firstID)
	}
}

// TestNothingBlocksRender: no page waits for a stylesheet or script
// before its first paint (issue 17 item 23: style.css blocked rendering):
// Chromium's resource timing marks none render-blocking, and the
// scripts and styles arrive minified.
func TestNothingBlocksRender(t *testing.T) {
	t.Parallel()
	p := startPod(t, "render")
	b := newBrowser(t)
	for _, path := range []string{"/", "/search?q=x", "/upload", "/login", "/register", "/users/admin", "/no/such/page"} {
		b.do("open "+path, 20*time.Second, chromedp.Navigate(p.URL+path), chromedp.WaitReady(chromedp.CSS("footer")))
		blocking := eval[[]string](b, `performance.getEntriesByType("resource").filter((r) => r.renderBlockingStatus === "blocking").map((r) => r.name)`)
		if len(blocking) > 0 {
			t.Errorf("%s: render-blocking resources %q", path, blocking)
		}
		if n := eval[int](b, `document.querySelectorAll('link[rel="stylesheet"]').length`); n != 0 {
			t.Errorf("%s links %d stylesheets", path, n)
		}
		if !eval[bool](b, `getComputedStyle(document.querySelector(".site-header")).position !== "static" || getComputedStyle(document.body).margin === "0px"`) {
			t.Errorf("%s: the inlined stylesheet is not applied", path)
		}
	}
	js := string(get(t, p.URL+"/static/js/ui.js"))
	if strings.Contains(js, "\n  ") || strings.Contains(js, "/**") {
		t.Error("ui.js is served with its indentation and comments: not minified")
	}
}
