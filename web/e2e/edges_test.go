package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestRoughEdges covers rough edges a first-time host hit (issue 17): each
// subtest failed before its fix.
func TestRoughEdges(t *testing.T) {
	closed := startPodWith(t, "closed", "127.0.0.1", "--open-registration=false")
	b := newBrowser(t)

	t.Run("closed registration offers no form", func(t *testing.T) { // item 3
		b.do("home", 20*time.Second, chromedp.Navigate(closed.URL+"/"))
		b.waitJS("menu", `!!document.querySelector("#nav-login")`, 15*time.Second)
		if eval[bool](b, `!!document.querySelector("#nav-register")`) {
			t.Error(`the header offers "Register" on a pod with registration closed`)
		}
		b.do("register", 20*time.Second, chromedp.Navigate(closed.URL+"/register"))
		b.waitJS("closed notice", `document.querySelector("#register-form").hidden`, 15*time.Second)
		if msg := b.text("#status"); !strings.Contains(msg, "does not take new accounts") {
			t.Errorf("register page says %q", msg)
		}
	})

	t.Run("a page past the last says so", func(t *testing.T) { // item 9
		b.do("page 99", 20*time.Second, chromedp.Navigate(closed.URL+"/?page=99"))
		b.waitJS("pager", `document.querySelector("#pager").textContent.trim() !== ""`, 15*time.Second)
		if got := b.text("#pager"); strings.Contains(got, "Page 99 of") || !strings.Contains(got, "no page 99") {
			t.Errorf("pager shows %q", got)
		}
	})

	t.Run("every page has a meta description", func(t *testing.T) { // item 24
		for _, path := range []string{"/", "/search?q=x", "/upload", "/login", "/register", "/admin"} {
			body := string(get(t, closed.URL+path))
			if !strings.Contains(body, `<meta name="description" content="`) {
				t.Errorf("%s has no meta description", path)
			}
		}
	})

	t.Run("an unknown video or route gets the 404 page", func(t *testing.T) { // items 4, 27
		for _, path := range []string{"/videos/aaaaaaaaaaaaaaaa", "/videos/<bad id>", "/no/such/page"} {
			resp, err := http.Get(closed.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("GET %s: %s %q, want a 404 page", path, resp.Status, resp.Header.Get("Content-Type"))
			}
		}
		b.do("unknown video", 20*time.Second, chromedp.Navigate(closed.URL+"/videos/aaaaaaaaaaaaaaaa"))
		b.waitJS("menu", `!!document.querySelector("#nav-login")`, 15*time.Second)
		if h1 := b.text("h1"); h1 != "Video not found" {
			t.Errorf("unknown video page heading %q", h1)
		}
		if eval[bool](b, `!!document.querySelector("#stats")`) {
			t.Error("the unknown video's page still shows a stats panel")
		}
	})

	t.Run("phone header links keep their names", func(t *testing.T) { // item 20
		b.do("phone", 20*time.Second,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
			chromedp.Navigate(closed.URL+"/"))
		defer b.do("desktop", 10*time.Second, chromedp.EmulateViewport(1280, 800))
		b.waitJS("menu", `!!document.querySelector("#nav-login")`, 15*time.Second)
		if got := axName(t, b, "#nav-upload"); got != "Upload" {
			t.Errorf("at 390 px the upload link's accessible name is %q, want \"Upload\"", got)
		}
	})

	t.Run("dark theme accent has AA contrast", func(t *testing.T) { // item 21
		b.do("dark", 20*time.Second,
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
					Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
				})
				return err
			}),
			chromedp.Navigate(closed.URL+"/"))
		ratio := eval[float64](b, contrastJS("#nav-upload"))
		if ratio < 4.5 {
			t.Errorf("upload link text contrast %.2f:1 in the dark theme, want at least 4.5:1", ratio)
		}
	})
}

// axName is the accessible name Chromium computes for the element sel.
func axName(t *testing.T, b *browser, sel string) string {
	t.Helper()
	var name string
	b.do("accessible name of "+sel, 10*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		res, err := chromedp.Call(ctx, runtime.Evaluate, runtime.EvaluateParams{Expression: fmt.Sprintf("document.querySelector(%q)", sel)})
		if err != nil {
			return err
		}
		if res.Result == nil || res.Result.ObjectID == "" {
			return fmt.Errorf("no element %s", sel)
		}
		ax, err := chromedp.Call(ctx, accessibility.QueryAXTree, accessibility.QueryAXTreeParams{ObjectID: res.Result.ObjectID, Role: "link"})
		if err != nil {
			return err
		}
		for _, n := range ax.Nodes {
			if n.Name != nil && !n.Ignored {
				return json.Unmarshal(n.Name.Value, &name)
			}
		}
		return nil
	}))
	return name
}

// contrastJS computes the WCAG 2 contrast ratio of an element's text
// colour against its background colour (both opaque rgb in this style).
func contrastJS(sel string) string {
	return fmt.Sprintf(`(() => {
		const cs = getComputedStyle(document.querySelector(%q));
		const lum = (c) => {
			const [r, g, b] = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map((v) => {
				v /= 255;
				return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
			});
			return 0.2126 * r + 0.7152 * g + 0.0722 * b;
		};
		const a = lum(cs.color), b = lum(cs.backgroundColor);
		return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
	})()`, sel)
}

// TestEditAndLinks: the owner edits a video's name and description on its
// page, and URLs in descriptions are links, the rest plain text (issue 17:
// editing, item 14).
func TestEditAndLinks(t *testing.T) {
	t.Parallel()
	p := startPod(t, "edit")
	tok := apiLogin(t, p.URL, "admin", adminPassword)
	id := uploadMultipart(t, p.URL, tok, makeClip(t, 2), "Before", "Docs at https://example.org/docs. And <b>not bold</b>.")
	b := newBrowser(t)
	b.login(p.URL, "admin", adminPassword, "/videos/"+id)
	b.waitJS("watch page", `location.pathname.startsWith("/videos/") && !!document.querySelector("#edit-video:enabled")`, 20*time.Second)
	link := eval[string](b, `(() => { const a = document.querySelector("#video-description a"); return a ? a.getAttribute("href") + "|" + a.textContent + "|" + a.rel : ""; })()`)
	if link != "https://example.org/docs|https://example.org/docs|nofollow ugc noopener" {
		t.Errorf("description link %q", link)
	}
	if eval[bool](b, `!!document.querySelector("#video-description b")`) {
		t.Error("markup in the description became HTML")
	}
	eval[chromedp.Void](b, `document.querySelector("#edit-video").click()`)
	b.waitJS("edit form", `!!document.querySelector("#edit-form")`, 5*time.Second)
	eval[chromedp.Void](b, `(() => {
		document.querySelector("#edit-name").value = "After";
		document.querySelector("#edit-description").value = "Now see https://example.org/new";
		document.querySelector("#edit-save").click();
	})()`)
	b.waitJS("saved", `document.querySelector("#video-title").textContent === "After" && !document.querySelector("#edit-form")`, 10*time.Second)
	var v struct{ Name, Description string }
	if err := json.Unmarshal(get(t, p.URL+"/api/v1/videos/"+id), &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "After" || v.Description != "Now see https://example.org/new" {
		t.Errorf("the pod has %+v", v)
	}

	// Nothing on the watch page (the info hash, long words) makes it
	// scroll sideways, at desktop, laptop and phone widths (issue 17 item 5).
	for _, w := range []int64{1280, 1024, 320} {
		b.do(fmt.Sprintf("width %d", w), 20*time.Second,
			chromedp.EmulateViewport(w, 800),
			chromedp.Navigate(p.URL+"/videos/"+id))
		b.waitJS("links", `!!document.querySelector("#bt-links code")`, 20*time.Second)
		if sw := eval[int64](b, `document.documentElement.scrollWidth`); sw > w {
			t.Errorf("at %d px the watch page is %d px wide", w, sw)
		}
	}
}

// TestViewCounted: the watch page reports one view after 10 s of playback,
// once per viewer session (a reload does not count again), and the card
// shows the count (issue 17: views).
func TestViewCounted(t *testing.T) {
	t.Parallel()
	p := startPodAt(t, "views", "localhost")
	tok := apiLogin(t, p.URL, "admin", adminPassword)
	id := uploadMultipart(t, p.URL, tok, makeClip(t, 14), "Counted", "")
	views := func() int64 {
		var v struct{ Views int64 }
		if err := json.Unmarshal(get(t, p.URL+"/api/v1/videos/"+id), &v); err != nil {
			t.Fatal(err)
		}
		return v.Views
	}
	b := newBrowser(t)
	// The player may load its source again (the early web seed bytes, then
	// the stream) and interrupt a play(): keep asking, at 4x, until 12 s of
	// the clip have played.
	played := `(v => {
		if (!v) return false;
		v.muted = true;
		if (v.playbackRate !== 4) { v.defaultPlaybackRate = 4; v.playbackRate = 4; }
		if (v.paused && !v.ended) v.play().catch(() => {});
		return v.currentTime > 12;
	})(document.querySelector("#player video"))`
	for round := range 2 {
		b.do("watch", 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+id))
		b.waitJS("watched 12 s", played, 60*time.Second)
		b.waitJS("count shown", `document.querySelector("#video-meta").textContent.includes("1 view")`, 10*time.Second)
		if meta := b.text("#video-meta"); strings.Count(meta, "By ") != 1 {
			t.Errorf("the info line repeats itself: %q", meta)
		}
		if n := views(); n != 1 {
			t.Fatalf("round %d: the pod counts %d views, want 1", round, n)
		}
	}
	b.do("home", 20*time.Second, chromedp.Navigate(p.URL+"/"))
	b.waitJS("card", `[...document.querySelectorAll(".video-card .meta")].some((m) => m.textContent.includes("1 view"))`, 15*time.Second)
}

// TestAccountPages: a user changes their password and deletes their
// account on /account; an admin suspends and removes a user on the admin
// page (issue 17 item 2).
func TestAccountPages(t *testing.T) {
	t.Parallel()
	p := startPod(t, "accounts")
	for _, u := range []string{"dora", "erin"} {
		resp, err := http.Post(p.URL+"/api/v1/users", "application/json", strings.NewReader(`{"username":"`+u+`","password":"`+u+` password"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	b := newBrowser(t)
	login := func(user, pass, next string) { b.login(p.URL, user, pass, next) }
	login("dora", "dora password", "/account")
	b.waitJS("forms ready", `!document.querySelector("#account").hidden && !document.querySelector("#password-submit").disabled`, 10*time.Second)
	b.do("change the password", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#current-password"), "dora password"),
		chromedp.SendKeys(chromedp.CSS("#new-password"), "dora's new password"),
		chromedp.SendKeys(chromedp.CSS("#new-password2"), "dora's new password"),
		chromedp.Click(chromedp.CSS("#password-submit")),
	)
	b.waitJS("changed", `document.querySelector("#status").textContent.includes("password is changed")`, 15*time.Second)
	if tok := apiLoginStatus(t, p.URL, "dora", "dora's new password"); tok != 200 {
		t.Errorf("login with the new password: %d", tok)
	}
	eval[chromedp.Void](b, `window.confirm = () => true`)
	b.do("delete the account", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#delete-password"), "dora's new password"),
		chromedp.Click(chromedp.CSS("#delete-submit")),
	)
	b.waitJS("deleted", `location.pathname === "/" && !!document.querySelector("#nav-login")`, 15*time.Second)
	if st := apiLoginStatus(t, p.URL, "dora", "dora's new password"); st != 401 {
		t.Errorf("login after deleting the account: %d, want 401", st)
	}

	login("admin", adminPassword, "/admin")
	row := `document.querySelector('#users-table tr[data-username="erin"]')`
	b.waitJS("erin listed", row, 20*time.Second)
	eval[chromedp.Void](b, `window.confirm = () => true; `+row+`.querySelector('[data-action="suspend"]').click()`)
	b.waitJS("suspended", row+`.querySelector('[data-action="suspend"]').textContent === "Reinstate"`, 10*time.Second)
	if st := apiLoginStatus(t, p.URL, "erin", "erin password"); st != 403 {
		t.Errorf("a suspended user's login: %d, want 403", st)
	}
	eval[chromedp.Void](b, row+`.querySelector('[data-action="remove"]').click()`)
	b.waitJS("removed", `!`+row, 10*time.Second)
	if st := apiLoginStatus(t, p.URL, "erin", "erin password"); st != 401 {
		t.Errorf("a removed user's login: %d, want 401", st)
	}
}

func apiLoginStatus(t *testing.T, base, user, pass string) int {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/users/token", "application/json", strings.NewReader(`{"username":"`+user+`","password":"`+pass+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
