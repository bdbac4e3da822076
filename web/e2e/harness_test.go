package e2e_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/chromium"
	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/config"
	"github.com/swarmtube/swarmtube/server/pod"
)

const adminPassword = "admin-password"

// logLevel is the pods' log level: warn, or $SWARMTUBE_TEST_LOG (e.g. debug).
var logLevel = func() slog.Level {
	l := slog.LevelWarn
	if v := os.Getenv("SWARMTUBE_TEST_LOG"); v != "" {
		_ = l.UnmarshalText([]byte(v))
	}
	return l
}()

// testPod is one in-process pod.
type testPod struct {
	URL    string // where the browser goes
	PodURL string // the pod's own URL (what other pods call it); the same here
	Addr   string // http://127.0.0.1:port: where Go reaches it, whatever URL names
}

// startPod starts a pod on a free loopback port with a fresh data dir and
// stops it when the test ends.
func startPod(t *testing.T, name string) *testPod {
	t.Helper()
	return startPodAt(t, name, "127.0.0.1")
}

// startPodAt is startPod with the pod's URL naming host ("localhost" or
// "127.0.0.1"). Browsers share cookies between ports of one host, so two
// pods a browser logs in to need different host names, as real pods have.
func startPodAt(t *testing.T, name, host string) *testPod {
	t.Helper()
	return startPodWith(t, name, host)
}

// startPodWith is startPodAt with extra pod flags (later flags win).
func startPodWith(t *testing.T, name, host string, extra ...string) *testPod {
	t.Helper()
	p, _ := newPod(t, name, host, extra...)
	return p
}

// newPod starts a pod on a free loopback port with a fresh data dir, its
// URL naming host, and the extra flags (later flags win). It returns the
// function that stops it (idempotent; the test's end calls it too).
func newPod(t *testing.T, name, host string, extra ...string) (*testPod, func()) {
	t.Helper()
	cfg, err := config.Parse(append([]string{
		"--listen", "127.0.0.1:0",
		"--url", "http://" + host + ":0",
		"--data", t.TempDir(),
		"--name", name,
		"--admin-password", adminPassword,
		"--default-rights", "upload",
		"--log-level", logLevel.String(),
		"--turn-listen", "127.0.0.1:0",
		// Pods on loopback that befriend each other at once, as on a test network.
		"--federation-accept", "open", "--federation-allow-private",
	}, append(slices.Clip(testenv.PodFlags), extra...)...), func(string) string { return "" })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: logLevel})).With("pod", name)
	p, err := pod.New(cfg, log)
	if err != nil {
		t.Fatalf("pod.New: %v", err)
	}
	stop := runPod(t, name, p)
	return &testPod{URL: p.URL(), PodURL: p.URL(), Addr: "http://" + p.Addr().String()}, stop
}

// runPod runs p until the test ends or stop is called, and waits for it.
func runPod(t *testing.T, name string, p *pod.Pod) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("pod %s: %v", name, err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("pod %s did not stop", name)
			}
		})
	}
	t.Cleanup(stop)
	waitHTTP(t, "http://"+p.Addr().String()+"/api/v1/pod")
	return stop
}

func newLoopbackServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func waitHTTP(t *testing.T, u string) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, u+" to answer", func() bool {
		res, err := http.Get(u)
		if err == nil {
			res.Body.Close()
		}
		return err == nil
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// browser is one headless Chromium with a fresh profile, closed at cleanup.
type browser struct {
	t   *testing.T
	ctx context.Context
	out string // where screenshots go

	mu      sync.Mutex // guards the following fields
	console []string
}

// newBrowser starts Chromium (skipped locally when missing, failed in CI).
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := chromium.Options(t, t.TempDir(), append([]chromedp.ExecAllocatorOption{chromedp.WindowSize(1280, 800)}, extra...)...)
	b := &browser{t: t, out: outDir(t)}
	t.Cleanup(func() { // runs after chromium.Start's: the console is complete

		b.mu.Lock()
		for _, line := range b.console {
			// The Content-Security-Policy must never block the pod's own pages.
			if strings.Contains(line, "Content Security Policy") {
				t.Errorf("CSP violation: %s", line)
			}
		}
		if t.Failed() {
			t.Logf("browser console:\n%s", strings.Join(b.console, "\n"))
		}
		b.mu.Unlock()
	})
	ctx := chromium.Start(t, opts)
	b.ctx = ctx
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Report Content-Security-Policy violations on the console, where the
	// cleanup looks for them (CDP scripts are exempt from the page's CSP).
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `document.addEventListener('securitypolicyviolation', (e) => console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));`,
	}); err != nil {
		t.Fatalf("add script: %v", err)
	}
	dialogs := make(chan struct{}, 8)
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.logConsole("dialog: " + ev.Message)
			select {
			case dialogs <- struct{}{}:
			default:
			}
		default:
			if line := chromium.ConsoleLine(ev); line != "" {
				b.logConsole(line)
			}
		}
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	// Accept confirm() dialogs (removing a video, quitting friends) as a
	// person would; the listener itself must not send commands.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-dialogs:
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}
		}
	}()
	return b
}

func (b *browser) logConsole(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.console) < 500 {
		b.console = append(b.console, line)
	}
}

// do runs steps with a deadline, failing the test with what was asked.
func (b *browser) do(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.screenshot("failed-" + sanitize(what))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// waitJS waits until a JavaScript expression is truthy. It evaluates the
// expression itself rather than with a page-side poll, so it survives the
// navigations that the awaited action may cause.
func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	within, cancel := context.WithDeadline(b.ctx, deadline)
	defer cancel()
	if testenv.Poll(within, func() bool {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		lastErr = err
		return err == nil && ok
	}) {
		return
	}
	b.screenshot("failed-" + sanitize(what))
	b.t.Fatalf("%s: waiting for %s: last error %v", what, expr, lastErr)
}

// login signs user in through the login page, going on to next (a path,
// or "" for the default), and waits until the page it lands on names the
// user.
func (b *browser) login(base, user, pass, next string) {
	b.t.Helper()
	u := base + "/login"
	if next != "" {
		u += "?next=" + next
	}
	b.submitLogin("log in as "+user, u, user, pass)
	at := `document.querySelector("#nav-user")?.textContent === "` + user + `"`
	if next != "" {
		at += ` && location.pathname === "` + next + `"`
	}
	b.waitJS("logged in as "+user, at, 20*time.Second)
}

// submitLogin opens the login page u (with the ?next= under test, if any)
// and submits user and pass. The form's button is enabled once its module
// has bound it; what the submission leads to is the caller's to wait for.
func (b *browser) submitLogin(what, u, user, pass string) {
	b.t.Helper()
	b.do(what, 20*time.Second,
		chromedp.Navigate(u),
		chromedp.WaitEnabled(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), pass),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
}

// submitRegister opens the register page at base and registers user with
// pass (typed twice), which logs them in; what follows is the caller's to
// wait for.
func (b *browser) submitRegister(what, base, user, pass string) {
	b.t.Helper()
	b.do(what, 20*time.Second,
		chromedp.Navigate(base+"/register"),
		chromedp.WaitEnabled(chromedp.CSS("#register-form button[type=submit]")), // enabled once its module is ready
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), pass),
		chromedp.SendKeys(chromedp.CSS("#password2"), pass),
		chromedp.Click(chromedp.CSS("#register-form button[type=submit]")),
	)
}

// settledJS is true once a page's modules have filled in what they fill on
// load, the DOM state that tests wait on before they audit or measure a
// page (issue 13: never a settle window). Every page: the document, its
// fonts and its eager images loaded, the header's user menu and pod name
// filled. Then by the page's data-page: the form bound (login, register),
// the form or the page's message shown (upload, account), and the player
// started, its stats panel drawn once and the owner's buttons bound, or
// the player hidden with the page's message (watch, embed).
const settledJS = `(() => {
	const q = (s) => document.querySelector(s);
	if (document.readyState !== "complete" || document.fonts.status !== "loaded") return false;
	if (![...document.images].every((i) => i.complete || i.loading === "lazy")) return false;
	const menu = q("#user-menu");
	if (menu && !menu.querySelector("a, button")) return false;
	const pod = q("#pod-name");
	if (pod && pod.textContent === "") return false;
	const said = !!q("#status .message");
	switch (document.body.dataset.page) {
	case "login": case "register":
		return q("#login-form, #register-form")?.dataset.ready === "true";
	case "upload":
		return !q("#upload-form").hidden || said;
	case "account":
		return !q("#account").hidden || said;
	case "watch": case "embed": {
		const player = q("#player");
		if (player.hidden) return true; // an error said, or a video still processing
		if (player.getAttribute("aria-busy") !== "false") return false;
		const mode = q("#stats-mode"), overlay = q("#embed-stats");
		if (mode && mode.textContent === "Starting…") return false; // the template's text until the first tick
		if (overlay && overlay.textContent === "") return false;
		return !q("#video-actions button:disabled");
	}
	}
	return true;
})()`

// waitSettled waits until the page is settled (settledJS).
func (b *browser) waitSettled(what string, timeout time.Duration) {
	b.t.Helper()
	b.waitJS(what+": page settled", settledJS, timeout)
}

// text is the trimmed textContent of the first element matching a CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q)?.textContent || "").trim()`, sel))
}

// screenshot saves the viewport as <out>/<name>.png.
func (b *browser) screenshot(name string) string {
	return b.capture(name, chromedp.CaptureScreenshot())
}

// fullScreenshot saves the whole page as <out>/<name>.png.
func (b *browser) fullScreenshot(name string) string {
	eval[chromedp.Void](b, `window.scrollTo(0, 0)`) // a sticky header is drawn where the page is scrolled
	return b.capture(name, chromedp.FullScreenshot(100))
}

func (b *browser) capture(name string, shot chromedp.Action[[]byte]) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	p := filepath.Join(b.out, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Errorf("save screenshot: %v", err)
	}
	return p
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}

// outDir is $SWARMTUBE_TEST_OUT/<test> when set (kept for people to look
// at), else a temporary directory.
func outDir(t *testing.T) string {
	base := os.Getenv("SWARMTUBE_TEST_OUT")
	if base == "" {
		return t.TempDir()
	}
	dir := filepath.Join(base, sanitize(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// makeClip generates an H.264/AAC faststart MP4 of seconds.
func makeClip(t *testing.T, seconds int) string {
	t.Helper()
	path, _ := testenv.MakeClip(t, testenv.Clip{Seconds: seconds, Width: 320, Height: 240, Rate: 25, Audio: true, Faststart: true})
	return path
}

// get fetches a URL and returns the body, failing on a non-2xx status.
func get(t *testing.T, u string) []byte {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode/100 != 2 {
		t.Fatalf("GET %s: %d %s", u, res.StatusCode, body)
	}
	return body
}

// checkAccessible fails on the basic accessibility faults a script can see:
// a form control without a label, an image without alt, a button or link
// without a name, or a page without one h1.
func checkAccessible(t *testing.T, b *browser, page string) {
	t.Helper()
	problems := eval[[]string](b, `(() => {
		const out = [];
		const named = (el) => (el.getAttribute('aria-label') || el.textContent || el.title || '').trim() !== '';
		for (const c of document.querySelectorAll('input:not([type=hidden]), textarea, select')) {
			if (c.labels.length === 0 && !c.getAttribute('aria-label')) out.push('unlabelled ' + c.outerHTML.slice(0, 80));
		}
		for (const i of document.querySelectorAll('img')) if (!i.hasAttribute('alt')) out.push('img without alt ' + i.src);
		for (const e of document.querySelectorAll('button, a[href]')) if (!named(e) && !e.querySelector('img[alt]:not([alt=""])')) out.push('nameless ' + e.outerHTML.slice(0, 80));
		if (document.querySelectorAll('h1').length !== 1) out.push(document.querySelectorAll('h1').length + ' h1 elements');
		if (!document.documentElement.lang) out.push('no lang');
		return out;
	})()`)
	for _, p := range problems {
		t.Errorf("%s: %s", page, p)
	}
}
