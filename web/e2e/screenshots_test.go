package e2e_test

import (
	"context"
	"encoding/json"
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
	ids := map[string]*testPod{}
	// Each video its own picture (ffmpeg's generated sources), so the
	// thumbnails on the lists differ as real ones do.
	for i, v := range []struct{ name, desc, source string }{
		{"Sunset over the harbour", "Golden hour from the pier.", "gradients=size=640x360:rate=25:speed=0.03:c0=0xff8c1a:c1=0x8a2be2:c2=0x1e3a8a:n=3"},
		{"How peer-to-peer video works", "Every viewer shares what they watch.", "testsrc2=size=640x360:rate=25"},
		{"Making bread at home", "Flour, water, salt, time.", "cellauto=size=640x360:rate=25:rule=110:random_fill_ratio=0.5"},
		{"Mountain bike descent (4K)", "Onboard camera, no music.", "mandelbrot=size=640x360:rate=25:start_scale=2"},
		{"Cat vs. laser pointer", "A classic.", "life=size=640x360:rate=25:mold=10:life_color=0x22c55e:death_color=0x7f1d1d:ratio=0.3"},
		{"Test pattern and 440 Hz tone", "Generated with ffmpeg: testsrc and a sine wave.\nUseful to check audio/video sync.", ""},
	} {
		file := clip
		if v.source != "" {
			file = makeSourceClip(t, v.source, 8)
		}
		id := uploadMultipart(t, p.URL, tok, file, v.name, v.desc)
		ids[id] = p
		if i == 5 {
			watchID = id
		}
		if i == 2 {
			fid := uploadMultipart(t, friend.URL, apiLogin(t, friend.URL, "noor", "noor's password"),
				makeSourceClip(t, "smptehdbars=size=640x360:rate=25", 8), "Street food tour (from a friend pod)", "")
			ids[fid] = friend
		}
	}
	// Every card shows its thumbnail: wait for each video's images, the
	// friend's as this pod lists it too.
	for id, pod := range ids {
		waitThumbnail(t, pod.URL, id)
	}
	testenv.Eventually(t, 90*time.Second, "the friend's thumbnail on this pod's list", func() bool {
		var list struct {
			Data []struct {
				ThumbnailURL string `json:"thumbnail_url"`
			} `json:"data"`
		}
		if err := json.Unmarshal(get(t, p.URL+"/api/v1/videos"), &list); err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range list.Data {
			if v.ThumbnailURL != "" {
				n++
			}
		}
		return n == 7
	})

	b := newBrowser(t)
	b.out = dir
	b.login(p.URL, "maya", "maya's password", "")
	b.waitJS("home", `location.pathname === "/" && document.querySelectorAll(".video-card").length === 7`, 30*time.Second)
	b.waitJS("thumbnails", `[...document.querySelectorAll(".video-card img")].filter((i) => i.complete && i.naturalWidth > 0).length === 7`, 30*time.Second)
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
	// Five more stats ticks (each adds two points per area) for the chart.
	const points = `(document.querySelector("#stats-chart path.area-pod")?.getAttribute("d") || "").split("L").length`
	eval[int](b, `window.__points = `+points)
	b.waitJS("five more stats ticks", points+` >= window.__points + 10`, 15*time.Second)
	t.Logf("watch: viewers %s, from peers %s, from pod %s", b.text("#stat-peers"), b.text("#stat-from-peers"), b.text("#stat-from-pod"))
	b.screenshot("watch")

	b.do("search", 20*time.Second, chromedp.Navigate(p.URL+"/search?q=peer"))
	b.waitJS("results", `document.querySelectorAll(".video-card").length > 0`, 15*time.Second)
	b.screenshot("search")

	b.do("upload", 20*time.Second,
		chromedp.Navigate(p.URL+"/upload"),
		chromedp.WaitVisible(chromedp.CSS("#upload-form")),
		chromedp.WaitEnabled(chromedp.CSS("#upload-submit")),
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
	b.login(p.URL, "admin", adminPassword, "/admin")
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

// makeSourceClip writes seconds of an ffmpeg lavfi video source (with a
// sine tone) as a faststart H.264/AAC MP4.
func makeSourceClip(t *testing.T, source string, seconds int) string {
	t.Helper()
	path, _ := testenv.MakeClip(t, testenv.Clip{Source: source, Seconds: seconds, Audio: true, Faststart: true})
	return path
}

// uploadMultipart posts a video with the simple multipart route and
// returns its id.
func uploadMultipart(t *testing.T, base, tok, path, name, desc string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ ID string }
	testenv.Upload(t, http.DefaultClient, base, tok, name, desc, filepath.Base(path), data, &v)
	if v.ID == "" {
		t.Fatalf("upload %q: no id", name)
	}
	return v.ID
}
