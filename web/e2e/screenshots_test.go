package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestScreenshots writes the README's screenshots. It runs only when asked:
//
//	SWARMTUBE_SCREENSHOTS=docs/screenshots go test ./web/e2e -run Screenshots
//
// (a relative directory is taken from the repository root).
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("SWARMTUBE_SCREENSHOTS")
	if dir == "" {
		t.Skip("set SWARMTUBE_SCREENSHOTS=<dir> to write the README screenshots")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(testenv.RepoRoot(t), dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startPod(t, "swarmtube.example")
	requireVideos(t, p)
	friend := startPodAt(t, "friend.example", "localhost")

	// A friend pod with a video of its own, so the lists show federation.
	adminTok := apiLogin(t, p.URL, "admin", adminPassword)
	apiCall(t, p.URL, adminTok, "POST", "/api/v1/pods/makefriends", fmt.Sprintf(`{"pods":[%q]}`, friend.PodURL), http.StatusOK)
	apiCall(t, friend.URL, "", "POST", "/api/v1/users", `{"username":"noor","password":"noor's password"}`, http.StatusCreated)

	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"maya","password":"maya's password"}`, http.StatusCreated)
	tok := apiLogin(t, p.URL, "maya", "maya's password")
	clip := makeClip(t, 8)
	var watchID string
	for i, v := range []struct{ name, desc string }{
		{"Sunset over the harbour", "Golden hour from the pier."},
		{"How peer-to-peer video works", "Every viewer shares what they watch."},
		{"Making bread at home", "Flour, water, salt, time."},
		{"Mountain bike descent (4K)", "Onboard camera, no music."},
		{"Cat vs. laser pointer", "A classic."},
		{"Test pattern and 440 Hz tone", "Generated with ffmpeg: testsrc and a sine wave.\nUseful to check audio/video sync."},
	} {
		id := uploadMultipart(t, p.URL, tok, clip, v.name, v.desc)
		if i == 5 {
			watchID = id
		}
		if i == 2 {
			uploadMultipart(t, friend.URL, apiLogin(t, friend.URL, "noor", "noor's password"), clip, "Street food tour (from a friend pod)", "")
		}
	}

	b := newBrowser(t)
	b.out = dir
	b.do("log in", 20*time.Second,
		chromedp.Navigate(p.URL+"/login"),
		chromedp.WaitEnabled(chromedp.CSS("#login-form button[type=submit]")), // enabled once its module is ready
		chromedp.SendKeys(chromedp.CSS("#username"), "maya"),
		chromedp.SendKeys(chromedp.CSS("#password"), "maya's password"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	b.waitJS("home", `location.pathname === "/" && document.querySelectorAll(".video-card").length === 7`, 30*time.Second)
	b.screenshot("home")

	// Another viewer in a second tab, so the panel has a peer to show.
	other, closeOther := chromedp.NewContext(b.ctx)
	defer closeOther()
	if err := chromedp.Do(other, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(p.URL+"/videos/"+watchID)); err != nil {
		t.Fatalf("second viewer: %v", err)
	}
	b.do("watch", 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+watchID))
	b.waitJS("player", `!!document.querySelector("#player video")`, 15*time.Second)
	eval[chromedp.Void](b, `(async () => { const v = document.querySelector("#player video"); v.muted = true; await v.play().catch(() => {}); })()`)
	b.waitJS("playing", `document.querySelector("#player video").currentTime > 3`, 30*time.Second)
	time.Sleep(6 * time.Second) // a few stats ticks for the chart
	t.Logf("watch: viewers %s, from peers %s, from pod %s", b.text("#stat-peers"), b.text("#stat-from-peers"), b.text("#stat-from-pod"))
	b.screenshot("watch")

	b.do("search", 20*time.Second, chromedp.Navigate(p.URL+"/search?q=peer"))
	b.waitJS("results", `document.querySelectorAll(".video-card").length > 0`, 15*time.Second)
	b.screenshot("search")

	b.do("upload", 20*time.Second,
		chromedp.Navigate(p.URL+"/upload"),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{clip}),
	)
	b.waitJS("file chosen", `document.querySelector("#file-chosen").textContent !== ""`, 5*time.Second)
	eval[chromedp.Void](b, `document.querySelector("#name").value = ""`)
	b.do("name", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#name"), "Harbour timelapse, part 2"),
		chromedp.SendKeys(chromedp.CSS("#description"), "Shot from the old lighthouse."),
		chromedp.Click(chromedp.CSS("#upload-submit")),
	)
	b.waitJS("upload done", `!document.querySelector("#upload-done").hidden`, 60*time.Second)
	b.waitJS("hashed", `document.querySelector("#hash-row").hidden || document.querySelector("#hash-text").textContent === "100%"`, 60*time.Second)
	b.fullScreenshot("upload")

	// The admin page with a friend.
	b.do("log out", 10*time.Second, chromedp.Click(chromedp.CSS("#nav-logout")))
	b.waitJS("logged out", `!!document.querySelector("#nav-login")`, 10*time.Second)
	b.do("admin", 20*time.Second,
		chromedp.Navigate(p.URL+"/login?next=/admin"),
		chromedp.WaitEnabled(chromedp.CSS("#login-form button[type=submit]")), // enabled once its module is ready
		chromedp.SendKeys(chromedp.CSS("#username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), adminPassword),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	b.waitJS("admin page", `location.pathname === "/admin" && !document.querySelector("#admin").hidden`, 15*time.Second)
	b.waitJS("friend listed", `document.querySelectorAll("#friends-table tbody tr[data-url]").length > 0`, 30*time.Second)
	b.screenshot("admin")

	// The dark theme follows the system's preference.
	b.do("dark", 20*time.Second,
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
			})
			return err
		}),
		chromedp.Navigate(p.URL+"/videos/"+watchID),
	)
	b.waitJS("player", `!!document.querySelector("#player video")`, 15*time.Second)
	eval[chromedp.Void](b, `(async () => { const v = document.querySelector("#player video"); v.muted = true; await v.play().catch(() => {}); })()`)
	b.waitJS("playing", `document.querySelector("#player video").currentTime > 2`, 30*time.Second)
	b.screenshot("watch-dark")

	// A phone-sized home page shows the layout is responsive.
	b.do("phone", 20*time.Second,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Navigate(p.URL+"/"),
	)
	b.waitJS("home", `document.querySelectorAll(".video-card").length > 0`, 15*time.Second)
	b.screenshot("home-phone")
	t.Logf("screenshots written to %s", dir)
}

// uploadMultipart posts a video with the simple multipart route and
// returns its id.
func uploadMultipart(t *testing.T, base, tok, path, name, desc string) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("name", name)
	_ = mw.WriteField("description", desc)
	fw, err := mw.CreateFormFile("file", filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/videos", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusAccepted { // 202: being transcoded
		t.Fatalf("upload %q: %d %s", name, res.StatusCode, out)
	}
	var v struct{ ID string }
	if err := json.Unmarshal(out, &v); err != nil || v.ID == "" {
		t.Fatalf("upload %q: %v %s", name, err, out)
	}
	return v.ID
}
