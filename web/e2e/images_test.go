package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// waitThumbnail polls the API until video id has its images and returns
// its thumbnail, preview and storyboard URLs.
func waitThumbnail(t *testing.T, base, id string) (thumb, preview, storyboard string) {
	t.Helper()
	var v struct {
		ThumbnailURL  string `json:"thumbnail_url"`
		PreviewURL    string `json:"preview_url"`
		StoryboardURL string `json:"storyboard_url"`
	}
	testenv.Eventually(t, 90*time.Second, "the video's images", func() bool {
		if err := json.Unmarshal(get(t, base+"/api/v1/videos/"+id), &v); err != nil {
			t.Fatal(err)
		}
		return v.ThumbnailURL != "" && v.PreviewURL != "" && v.StoryboardURL != ""
	})
	return v.ThumbnailURL, v.PreviewURL, v.StoryboardURL
}

// TestThumbnailsAndPoster: a video that opens on 3 s of black shows a real
// thumbnail on the home page (loaded, not all black), its preview is the
// watch page's poster and og:image, its storyboard previews the seek bar
// under the pointer, and the admin page lists its jobs as done. A friend
// pod's video shows its thumbnail (served by the friend) on this pod's list.
func TestThumbnailsAndPoster(t *testing.T) {
	t.Parallel()
	p := startPod(t, "pod-img")
	requireVideos(t, p)
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"ines","password":"ines's password"}`, http.StatusCreated)
	clip, _ := testenv.MakeClip(t, testenv.Clip{BlackLead: 3, Seconds: 5, Width: 320, Height: 180, Rate: 25, Audio: true, Faststart: true})
	id := uploadMultipart(t, p.URL, apiLogin(t, p.URL, "ines", "ines's password"), clip, "Fade in from black", "")
	thumb, preview, _ := waitThumbnail(t, p.URL, id)

	friend := startPodAt(t, "pod-img-friend", "localhost")
	apiCall(t, p.URL, apiLogin(t, p.URL, "admin", adminPassword), "POST", "/api/v1/pods/makefriends", fmt.Sprintf(`{"pods":[%q]}`, friend.PodURL), http.StatusOK)
	fclip, _ := testenv.MakeClip(t, testenv.Clip{Seconds: 3, Width: 320, Height: 180, Pattern: "smptehdbars", Faststart: true})
	fid := uploadMultipart(t, friend.URL, apiLogin(t, friend.URL, "admin", adminPassword), fclip, "From a friend", "")
	fthumb, _, _ := waitThumbnail(t, friend.URL, fid)
	testenv.Eventually(t, 60*time.Second, "the friend's video with its thumbnail on this pod's list", func() bool {
		var list struct {
			Data []struct {
				Name         string `json:"name"`
				ThumbnailURL string `json:"thumbnail_url"`
			} `json:"data"`
		}
		if err := json.Unmarshal(get(t, p.URL+"/api/v1/videos"), &list); err != nil {
			t.Fatal(err)
		}
		for _, v := range list.Data {
			if v.Name == "From a friend" && v.ThumbnailURL == fthumb {
				return true
			}
		}
		return false
	})

	b := newBrowser(t)
	b.do("home", 20*time.Second, chromedp.Navigate(p.URL+"/"))
	b.waitJS("the friend's thumbnail loaded", fmt.Sprintf(`[...document.querySelectorAll('.video-card .thumb img')].some((i) => i.src === %q && i.complete && i.naturalWidth === 320)`, fthumb), 20*time.Second)
	sel := fmt.Sprintf(`document.querySelector('.video-card a[href="/videos/%s"] .thumb img')`, id)
	b.waitJS("thumbnail loaded", sel+`?.complete && `+sel+`.naturalWidth > 0`, 20*time.Second)
	type pixels struct {
		Src                 string
		Width, Height       int
		MaxLuma, Distinct   int
		BoxWidth, BoxHeight int
	}
	px := eval[pixels](b, `(() => {
		const img = `+sel+`;
		const c = document.createElement('canvas');
		c.width = img.naturalWidth; c.height = img.naturalHeight;
		const g = c.getContext('2d');
		g.drawImage(img, 0, 0);
		const d = g.getImageData(0, 0, c.width, c.height).data;
		let max = 0; const seen = new Set();
		for (let i = 0; i < d.length; i += 4 * 7) {
			const l = Math.round(0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2]);
			max = Math.max(max, l); seen.add(l >> 3);
		}
		const r = img.getBoundingClientRect();
		return {src: img.src, width: img.naturalWidth, height: img.naturalHeight, maxLuma: max, distinct: seen.size,
			boxWidth: Math.round(r.width), boxHeight: Math.round(r.height)};
	})()`)
	t.Logf("thumbnail %dx%d, max luma %d, %d luma levels, shown %dx%d", px.Width, px.Height, px.MaxLuma, px.Distinct, px.BoxWidth, px.BoxHeight)
	if px.Src != thumb || px.Width != 320 || px.Height != 180 || px.MaxLuma < 60 || px.Distinct < 4 {
		t.Errorf("thumbnail %+v is not a real frame of the video", px)
	}
	if d := eval[string](b, fmt.Sprintf(`document.querySelector('.video-card a[href="/videos/%s"] .thumb .duration')?.textContent || ''`, id)); d != "0:08" {
		t.Errorf("card duration %q, want 0:08", d)
	}
	checkAccessible(t, b, "home with thumbnails")

	b.do("watch", 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+id))
	b.waitJS("player", `!!document.querySelector("#player video")`, 15*time.Second)
	if got := eval[string](b, `document.querySelector("#player video").poster`); got != preview {
		t.Errorf("poster %q, want %q", got, preview)
	}
	if got := eval[string](b, `document.querySelector('meta[property="og:image"]')?.content || ''`); got != preview {
		t.Errorf("og:image %q, want %q", got, preview)
	}
	// The pointer on the seek bar's band shows a storyboard tile.
	b.waitJS("storyboard ready", `!!document.querySelector("#storyboard-tile")`, 15*time.Second)
	type box struct{ X, Y, W, H float64 }
	r := eval[box](b, `(() => { const r = document.querySelector("#player video").getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; })()`)
	b.do("hover the seek bar", 10*time.Second, chromedp.MouseEvent(chromedp.MouseMoved, r.X+r.W*0.75, r.Y+r.H-20))
	b.waitJS("storyboard tile shown", `!document.querySelector("#storyboard-tile").hidden && /sprite-[0-9a-f]{16}\.jpg/.test(document.querySelector("#storyboard-tile").style.backgroundImage)`, 10*time.Second)
	if tile := eval[string](b, `document.querySelector("#storyboard-tile").dataset.tile`); tile != "5" && tile != "6" {
		t.Errorf("at 3/4 of an 8 s video the tile is %q, want 5 or 6", tile)
	}
	b.screenshot("watch-storyboard")

	// The admin page lists the video's jobs.
	b.login(p.URL, "admin", adminPassword, "/admin")
	b.waitJS("jobs listed", fmt.Sprintf(`!!document.querySelector('#jobs-table tr[data-kind="images"][data-state="done"][data-video="%s"]')`, id), 20*time.Second)
	checkAccessible(t, b, "admin with jobs")
}
