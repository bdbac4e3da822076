package e2e_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestLoginNextStaysOnOrigin logs in through the form with ?next= set to
// the inputs that browsers turn into another host (issue 14, attack 7),
// and checks where Chromium lands: on the pod, always. The other host is a
// real loopback server, so a landing there would be seen, not guessed.
func TestLoginNextStaysOnOrigin(t *testing.T) {
	t.Parallel()
	p := startPod(t, "redirects")
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"alice","password":"alice's password"}`, http.StatusCreated)
	evil := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<!doctype html><title>elsewhere</title><p>another origin")
	}))
	host := strings.TrimPrefix(evil, "http://")
	podHost := strings.TrimPrefix(p.URL, "http://")
	b := newBrowser(t)

	for _, tc := range []struct {
		name, next, want string // want: path, query and fragment on the pod
	}{
		{"a path", "/upload?x=1#top", "/upload?x=1#top"},
		{"protocol-relative", "//" + host + "/", "/"},
		{"slash backslash", "/\\" + host + "/", "/"},
		{"backslash slash", "\\/" + host + "/", "/"},
		{"two backslashes", "\\\\" + host + "/", "/"},
		{"tab between slashes", "/\t/" + host + "/", "/"},
		{"newline between slashes", "/\n/" + host + "/", "/"},
		{"leading space", " //" + host + "/", "/"},
		{"leading control character", "\x01//" + host + "/", "/"},
		{"three slashes", "///" + host + "/", "/"},
		{"absolute URL", "http://" + host + "/", "/"},
		{"upper-case scheme", "HTTP://" + host + "/", "/"},
		{"other scheme, no slashes", "https:" + host, "/"},
		{"userinfo that looks like the pod", "http://" + podHost + "@" + host + "/", "/"},
		{"javascript", "javascript:alert(document.domain)", "/"},
		{"data", "data:text/html,<script>alert(1)</script>", "/"},
		{"dot segment", "/.//" + host + "/", "/" + host + "/"}, // a path on the pod (ServeMux cleans "//")
		{"percent-encoded slashes", "%2F%2F" + host, "/%2F%2F" + host},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.t = t
			b.submitLogin("log in", p.URL+"/login?next="+url.QueryEscape(tc.next), "alice", "alice's password")
			b.waitJS("left the login page", fmt.Sprintf(`location.origin !== %q || location.pathname !== "/login"`, p.URL), 15*time.Second)
			origin := eval[string](b, `location.origin`)
			if origin != p.URL {
				t.Fatalf("next=%q landed on %s (%s)", tc.next, eval[string](b, `location.href`), origin)
			}
			if got := eval[string](b, `location.pathname + location.search + location.hash`); got != tc.want {
				t.Errorf("next=%q landed on %s, want %s", tc.next, got, tc.want)
			}
		})
	}
	b.t = t
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range b.console {
		if strings.HasPrefix(line, "dialog:") {
			t.Errorf("a script from ?next= ran: %s", line)
		}
	}
}

// TestFormsNeedTheirScript is attack 8 of issue 14: the log-in and
// register forms, with their scripts not (yet) loaded, must not submit: a
// GET would put the password in the URL, the history and the logs.
// Pressing Enter and clicking the button do nothing; no request carries
// the password.
func TestFormsNeedTheirScript(t *testing.T) {
	t.Parallel()
	p := startPod(t, "forms")
	b := newBrowser(t)
	const secret = "secret-password-1234"
	var mu sync.Mutex
	var urls []string
	if err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			urls = append(urls, e.Request.URL+e.Request.URLFragment)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	// The pages' modules never arrive: as on a slow link before they load.
	if _, err := chromedp.Call(b.ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
		URLPatterns: []*network.BlockPattern{{URLPattern: p.URL + "/static/js/*", Block: true}},
	}); err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"login", "register"} {
		form := "#" + page + "-form"
		b.do("fill the "+page+" form", 20*time.Second,
			chromedp.Navigate(p.URL+"/"+page),
			chromedp.WaitVisible(chromedp.CSS(form)),
			chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
			chromedp.SendKeys(chromedp.CSS("#password"), secret),
		)
		if method := eval[string](b, `document.querySelector("`+form+`").method`); method != "post" {
			t.Errorf("%s form method %q, want post", page, method)
		}
		eval[chromedp.Void](b, `window.stillHere = true`)
		b.do("submit without the script", 10*time.Second,
			chromedp.SendKeys(chromedp.CSS("#password"), "\r"), // implicit submission
			chromedp.Click(chromedp.CSS(form+" button[type=submit]")),
		)
		time.Sleep(500 * time.Millisecond) // timed: absence: a submission would have left by now; the URL check below does not depend on it
		if !eval[bool](b, `window.stillHere === true && location.pathname === "/`+page+`" && location.search === ""`) {
			t.Errorf("%s: the form was submitted without its script: now at %s", page, eval[string](b, `location.href`))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range urls {
		if strings.Contains(u, secret) || strings.Contains(u, "password=") {
			t.Errorf("a request URL carries the password: %s", u)
		}
	}
}
