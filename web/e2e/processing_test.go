package e2e_test

import (
	"net/http"
	"os/exec"
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
	ff := testenv.LookPath(t, "ffmpeg")
	clip := filepath.Join(t.TempDir(), "holiday.mkv")
	if out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=10",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", clip).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	p := startPod(t, "processing")
	requireVideos(t, p)
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"gina","password":"gina's password"}`, http.StatusCreated)
	b := newBrowser(t)
	b.do("log in", 20*time.Second,
		chromedp.Navigate(p.URL+"/login"),
		chromedp.WaitEnabled(chromedp.CSS("#login-form button[type=submit]")),
		chromedp.SendKeys(chromedp.CSS("#username"), "gina"),
		chromedp.SendKeys(chromedp.CSS("#password"), "gina's password"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	b.waitJS("logged in", `document.querySelector("#nav-user")?.textContent === "gina"`, 15*time.Second)
	b.do("upload an MKV", 20*time.Second,
		chromedp.Navigate(p.URL+"/upload"),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{clip}),
	)
	b.waitJS("file chosen", `document.querySelector("#file-chosen").textContent.includes("holiday.mkv")`, 5*time.Second)
	b.do("submit", 10*time.Second, chromedp.Click(chromedp.CSS("#upload-submit")))
	b.waitJS("told it is converted", `document.querySelector("#processing-note")?.textContent.startsWith("Converted")`, 90*time.Second)
	b.do("watch it", 20*time.Second, chromedp.Click(chromedp.CSS("#watch-link")), chromedp.WaitVisible(chromedp.CSS("#video-info")))
	b.waitJS("plays", `(() => { const v = document.querySelector("#player video"); return !!v && v.videoWidth === 320 && v.currentTime > 0.5; })()`, 30*time.Second)
}
