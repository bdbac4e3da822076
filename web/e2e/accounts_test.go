package e2e_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAccounts registers, logs out and logs back in through the pages, and
// checks that API errors reach the user in words.
func TestAccounts(t *testing.T) {
	t.Parallel()
	p := startPod(t, "accounts")
	b := newBrowser(t)

	b.do("open register page", 20*time.Second,
		chromedp.Navigate(p.URL+"/register"),
		chromedp.WaitEnabled(chromedp.CSS("#register-form button[type=submit]")), // enabled once its module is ready
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse"),
		chromedp.SendKeys(chromedp.CSS("#password2"), "correct horse"),
	)
	b.screenshot("register")
	checkAccessible(t, b, "register")
	b.do("submit registration", 20*time.Second, chromedp.Click(chromedp.CSS("#register-form button[type=submit]")))
	b.waitJS("logged in after registering", `document.querySelector("#nav-user")?.textContent === "alice"`, 15*time.Second)
	if got := eval[string](b, `location.pathname`); got != "/" {
		t.Errorf("after registration the page is %q, want /", got)
	}
	b.screenshot("home-after-register")

	b.do("log out", 10*time.Second, chromedp.Click(chromedp.CSS("#nav-logout")))
	b.waitJS("logged out", `!!document.querySelector("#nav-login")`, 10*time.Second)

	// A wrong password shows the API's message.
	b.submitLogin("wrong password", p.URL+"/login?next=/upload", "alice", "wrong password")
	b.waitJS("error shown", `!!document.querySelector("#status .message.error")`, 10*time.Second)
	if msg := b.text("#status"); !strings.HasPrefix(msg, "Log in failed: ") || len(msg) < len("Log in failed: ")+5 {
		t.Errorf("error message %q does not explain the failure", msg)
	}
	b.screenshot("login-error")
	checkAccessible(t, b, "login")

	// The right password goes on to ?next=.
	eval[chromedp.Void](b, `document.querySelector("#password").value = ""`)
	b.do("log in", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	b.waitJS("back to next", `location.pathname === "/upload" && document.querySelector("#nav-user")?.textContent === "alice"`, 15*time.Second)
	b.waitJS("upload form shown", `!document.querySelector("#upload-form").hidden`, 10*time.Second)
	b.screenshot("upload-form")

	// A duplicate registration is refused with a message.
	b.do("log out again", 10*time.Second, chromedp.Click(chromedp.CSS("#nav-logout")))
	b.waitJS("logged out", `!!document.querySelector("#nav-login")`, 10*time.Second)
	b.submitRegister("register twice", p.URL, "alice", "another password")
	b.waitJS("duplicate refused", `!!document.querySelector("#status .message.error")`, 10*time.Second)
	t.Logf("duplicate registration: %s", b.text("#status"))

	// An anonymous visitor of /upload and /admin is told to log in.
	for _, page := range []string{"/upload", "/admin"} {
		b.do("anonymous "+page, 20*time.Second, chromedp.Navigate(p.URL+page))
		b.waitJS("asked to log in on "+page, `document.querySelector("#status a[href^='/login']") !== null`, 10*time.Second)
	}
}
