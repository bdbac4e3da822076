package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestAxe runs axe-core (npm, pinned in scripts/node) on every page, in
// both themes, at desktop and phone widths, logged out and in as a
// video's owner: no violation of WCAG 2.x A/AA and axe's best practices
// (issue 17: "axe-core with 0 violations in both themes and both widths,
// run in the browser tests"). axe is injected through CDP, which the
// pages' Content-Security-Policy does not govern.
func TestAxe(t *testing.T) {
	t.Parallel()
	axe, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "scripts", "node", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if testenv.InCI() {
			t.Fatalf("axe-core is not installed (scripts/install-test-deps.sh): %v", err)
		}
		t.Skipf("axe-core is not installed (scripts/install-test-deps.sh): %v", err)
	}
	p := startPod(t, "axe")
	requireVideos(t, p)
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"maya","password":"maya's password"}`, http.StatusCreated)
	tok := apiLogin(t, p.URL, "maya", "maya's password")
	id := uploadMultipart(t, p.URL, tok, makeClip(t, 3), "Harbour at dusk", "Filmed from the pier: https://example.com/pier")

	b := newBrowser(t)
	pages := []string{"/", "/search?q=harbour", "/search", "/users/maya", "/videos/" + id, "/videos/" + id + "/embed", "/upload", "/login", "/register", "/account", "/no/such/page"}
	run := func(label string) {
		for _, path := range pages {
			name := label + " " + path
			b.do(name, 20*time.Second, chromedp.Navigate(p.URL+path), chromedp.WaitReady(chromedp.CSS("body")))
			b.waitSettled(name, 30*time.Second)
			res := eval[[]string](b, string(axe)+`;
(async () => {
  const r = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] } });
  return r.violations.map((v) => v.id + " (" + v.impact + "): " + v.help + " — " + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
})()`)
			for _, v := range res {
				t.Errorf("%s: %s", name, v)
			}
		}
	}
	for _, in := range []bool{false, true} {
		if in {
			b.login(p.URL, "maya", "maya's password", "/")
		}
		for _, theme := range []string{"light", "dark"} {
			for _, w := range []struct{ width, height int64 }{{1280, 800}, {390, 844}} {
				b.do("emulate", 10*time.Second, chromedp.EmulateViewport(w.width, w.height),
					chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
						_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
							Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: theme}},
						})
						return err
					}))
				run(fmt.Sprintf("[%s, %d px, logged %s]", theme, w.width, map[bool]string{true: "in", false: "out"}[in]))
			}
		}
	}
}
