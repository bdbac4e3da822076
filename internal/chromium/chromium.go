// Package chromium starts the headless Chromium of the browser tests
// (web/e2e, wasm/e2e, internal/nattest, server/webseed) with one set of
// flags, and turns its console events into log lines.
package chromium

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// Options are the allocator options every browser test starts Chromium
// with: chromedp's defaults (headless, no first run, no background
// throttling of timers or renderers, so a viewer in another tab keeps
// playing and seeding), the binary testenv finds (the test is skipped, or
// failed in CI, without one), no sandbox (CI runs as root), no GPU, no
// QUIC, no traffic of its own (component updates, sync), autoplay without
// a gesture, and a fresh profile in the directory profile. extra come last
// and win.
func Options(t testing.TB, profile string, extra ...chromedp.ExecAllocatorOption) []chromedp.ExecAllocatorOption {
	t.Helper()
	opts := append([]chromedp.ExecAllocatorOption(nil), chromedp.DefaultExecAllocatorOptions[:]...)
	opts = append(opts,
		chromedp.ExecPath(testenv.Chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(profile),
	)
	return append(opts, extra...)
}

// Start starts Chromium with opts and returns the context of its first
// tab; Chromium stops when the test ends.
func Start(t testing.TB, opts []chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelC()
		cancelA()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// ConsoleLine is the log line of a page's console call ("log: a b"),
// uncaught exception ("exception: …") or failed or refused load
// ("network: Failed to load resource: net::ERR_… <url>", "security: …",
// which a page's script sees only as an error event without the reason),
// and "" for any other event.
func ConsoleLine(ev any) string {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		return string(ev.Type) + ": " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		msg := ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
		return "exception: " + msg
	case *log.EventEntryAdded:
		if e := ev.Entry; e != nil && (e.Source == log.EntrySourceNetwork || e.Source == log.EntrySourceSecurity) {
			return string(e.Source) + ": " + e.Text + " " + e.URL
		}
	}
	return ""
}
