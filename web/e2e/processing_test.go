package e2e_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestUploadPageFollowsProcessing uploads an MKV from the upload page: the
// page says the pod converts it, follows the conversion to its end, and
// the watch page then plays it.
func TestUploadPageFollowsProcessing(t *testing.T) {
	t.Parallel()
	_, data := testenv.MakeClip(t, testenv.Clip{Seconds: 2, Width: 320, Height: 240, Ext: ".mkv"})
	clip := filepath.Join(t.TempDir(), "holiday.mkv") // the name the page shows
	if err := os.WriteFile(clip, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p := startPod(t, "processing")
	requireVideos(t, p)
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"gina","password":"gina's password"}`, http.StatusCreated)
	b := newBrowser(t)
	b.login(p.URL, "gina", "gina's password", "")
	b.do("upload an MKV", 20*time.Second,
		chromedp.Navigate(p.URL+"/upload"),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.WaitEnabled(chromedp.CSS("#upload-submit")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{clip}),
	)
	b.waitJS("file chosen", `document.querySelector("#file-chosen").textContent.includes("holiday.mkv")`, 5*time.Second)
	b.do("submit", 10*time.Second, chromedp.Click(chromedp.CSS("#upload-submit")))
	b.waitJS("told it is converted", `document.querySelector("#processing-note")?.textContent.startsWith("Converted")`, 90*time.Second)
	b.do("watch it", 20*time.Second, chromedp.Click(chromedp.CSS("#watch-link")), chromedp.WaitVisible(chromedp.CSS("#video-info")))
	b.waitJS("plays", `(() => { const v = document.querySelector("#player video"); return !!v && v.videoWidth === 320 && v.currentTime > 0.5; })()`, 30*time.Second)
}
