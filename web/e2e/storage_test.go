package e2e_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestWatchStorageClear: the watch page shows what the browser keeps of
// the videos watched (the engine's OPFS store) and the viewer empties it
// with the panel's button, from the keyboard (issue 12 item 3).
func TestWatchStorageClear(t *testing.T) {
	t.Parallel()
	p := startPodAt(t, "storage", "localhost")
	tok := apiLogin(t, p.URL, "admin", adminPassword)
	id := uploadMultipart(t, p.URL, tok, makeClip(t, 14), "Kept", "")
	b := newBrowser(t)
	b.do("watch", 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+id))
	played := `(v => {
		if (!v) return false;
		v.muted = true;
		if (v.playbackRate !== 4) { v.defaultPlaybackRate = 4; v.playbackRate = 4; }
		if (v.paused && !v.ended) v.play().catch(() => {});
		return v.currentTime > 6;
	})(document.querySelector("#player video"))`
	b.waitJS("played 6 s", played, 60*time.Second)
	eval[bool](b, `(v => { v.pause(); return true })(document.querySelector("#player video"))`)
	b.waitJS("storage shown", `!document.querySelector("#storage").hidden && !document.querySelector("#storage-usage").textContent.startsWith("0 B")`, 30*time.Second)
	before := b.text("#storage-usage")
	if !strings.Contains(before, "1 video") {
		t.Errorf("storage line %q, want the video counted", before)
	}
	// Whether the browser granted persistent storage (a fresh headless
	// Chromium profile denies it), in words.
	kept := "may delete them when it runs short of space"
	if eval[bool](b, `navigator.storage.persisted()`) {
		kept = "keeps them until you clear them"
	}
	b.waitJS("the storage line says the browser "+kept, `document.querySelector("#storage-usage").textContent.includes(`+strconv.Quote(kept)+`)`, 15*time.Second)
	checkAccessible(t, b, "watch")
	if got := eval[string](b, `document.querySelector("#storage-clear").getAttribute("aria-describedby")`); got != "storage-usage" {
		t.Errorf("the clear button is described by %q, want the usage line", got)
	}
	b.do("clear from the keyboard", 10*time.Second,
		chromedp.Focus(chromedp.CSS("#storage-clear")),
		chromedp.KeyEvent(kb.Enter),
	)
	b.waitJS("clear done", `!document.querySelector("#storage-status").textContent.startsWith("Clearing")`, 30*time.Second)
	if got := b.text("#storage-status"); !strings.HasPrefix(got, "Cleared") {
		t.Fatalf("after pressing the button the page says %q", got)
	}
	after := b.text("#storage-usage")
	t.Logf("storage before: %q; after: %q", before, after)
	if !strings.HasPrefix(after, "0 B of ") || !strings.Contains(after, "0 videos") {
		t.Errorf("after clearing the page shows %q, want 0 B and 0 videos", after)
	}
	if role := eval[string](b, `document.querySelector("#storage-status").getAttribute("role")`); role != "status" {
		t.Errorf("the clear result is not announced (role %q)", role)
	}
}
