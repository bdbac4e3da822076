package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestQualitySwitchKeepsPlace (issue 16.7): a 720p video with 360p and
// 240p files plays on the watch page; the quality menu lists Auto and each
// resolution; choosing another one plays that file's own torrent (its
// stream, its picture size) from where playback was, still playing; while
// paused, a switch keeps the video paused at the same time.
func TestQualitySwitchKeepsPlace(t *testing.T) {
	t.Parallel()
	qualitySwitch(t, false)
}

// TestQualitySwitchWithoutEngine: the same with the engine blocked, so the
// page plays from the web seed: each resolution plays from its own file's
// web seed, with time and state kept.
func TestQualitySwitchWithoutEngine(t *testing.T) {
	t.Parallel()
	qualitySwitch(t, true)
}

func qualitySwitch(t *testing.T, blockEngine bool) {
	path, _ := testenv.MakeClip(t, testenv.Clip{Seconds: 12, Width: 1280, Height: 720, Rate: 10, Audio: true, Faststart: true})
	p := startPodWith(t, "quality", "127.0.0.1", "--resolutions", "360,240")
	requireVideos(t, p)
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"quinn","password":"quinn's password"}`, http.StatusCreated)
	tok := apiLogin(t, p.URL, "quinn", "quinn's password")
	id := uploadMultipart(t, p.URL, tok, path, "Quality clip", "")
	type file struct {
		Resolution, Width, Height int
		InfoHash                  string `json:"info_hash"`
		WebseedURL                string `json:"webseed_url"`
	}
	var v struct{ Files []file }
	testenv.Eventually(t, 4*time.Minute, "the 360p and 240p files", func() bool {
		v.Files = nil
		_ = json.Unmarshal(apiCall(t, p.URL, "", "GET", "/api/v1/videos/"+id, "", http.StatusOK), &v)
		return len(v.Files) == 3
	})

	b := newBrowser(t)
	if blockEngine {
		b.do("block the engine", 10*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
				URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/static/engine/*", Block: true}},
			})
			return err
		}))
	}
	b.do("open the watch page", 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+id), chromedp.WaitVisible(chromedp.CSS("#video-info")))
	b.waitJS("the quality menu", `!document.querySelector("#quality").hidden && !document.querySelector("#quality-select").disabled`, 30*time.Second)
	if got := eval[[]string](b, `[...document.querySelectorAll("#quality-select option")].map((o) => o.value)`); fmt.Sprint(got) != "[auto 720 360 240]" {
		t.Fatalf("menu %v", got)
	}
	playing := `(() => { const m = document.querySelector("#player video"); return m.currentTime > %v && !m.paused; })()`
	b.waitJS("playback", fmt.Sprintf(playing, 1.0), 60*time.Second)
	// With the engine built (make build) and not blocked, each file must
	// play peer to peer, through the engine's stream of its own torrent.
	p2p := eval[bool](b, `document.querySelector("#player video").src.includes("/static/engine/stream/")`)
	if res, err := http.Get(p.URL + "/static/client.wasm"); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK && !p2p && !blockEngine {
			t.Fatalf("the engine is built but the video plays from the web seed")
		}
	}
	if blockEngine && p2p {
		t.Fatal("the engine runs though it is blocked")
	}

	// Switch while playing: to the file Auto is not playing.
	cur := eval[string](b, `document.querySelector("#quality-select").dataset.playing`)
	target := v.Files[1]
	if cur == fmt.Sprint(target.Resolution) {
		target = v.Files[2]
	}
	before := eval[float64](b, `document.querySelector("#player video").currentTime`)
	eval[chromedp.Void](b, fmt.Sprintf(`(() => { const s = document.querySelector("#quality-select"); s.value = "%d"; s.dispatchEvent(new Event("change")); })()`, target.Resolution))
	// The engine plays each file from its own torrent's stream (the
	// stream URL names the info hash); without it, from the file's web seed.
	b.waitJS(fmt.Sprintf("%dp plays", target.Resolution), fmt.Sprintf(`(() => { const m = document.querySelector("#player video");
		return (m.src.includes(%q) || m.src === %q) && m.videoHeight === %d && m.readyState >= 2; })()`, target.InfoHash, target.WebseedURL, target.Height), 60*time.Second)
	after := eval[float64](b, `document.querySelector("#player video").currentTime`)
	if after < before-0.5 {
		t.Errorf("switching went back from %.2f s to %.2f s", before, after)
	}
	b.waitJS("playback goes on after the switch", fmt.Sprintf(playing, after+0.5), 60*time.Second)
	if got := eval[string](b, `document.querySelector("#quality-select").value`); got != fmt.Sprint(target.Resolution) {
		t.Errorf("menu shows %q after choosing %dp", got, target.Resolution)
	}

	// Switch while paused: it stays paused where it was.
	eval[chromedp.Void](b, `document.querySelector("#player video").pause()`)
	at := eval[float64](b, `document.querySelector("#player video").currentTime`)
	other := v.Files[0]
	eval[chromedp.Void](b, fmt.Sprintf(`(() => { const s = document.querySelector("#quality-select"); s.value = "%d"; s.dispatchEvent(new Event("change")); })()`, other.Resolution))
	b.waitJS(fmt.Sprintf("%dp loaded", other.Resolution), fmt.Sprintf(`(() => { const m = document.querySelector("#player video");
		return (m.src.includes(%q) || m.src === %q) && m.videoHeight === %d && m.readyState >= 1; })()`, other.InfoHash, other.WebseedURL, other.Height), 60*time.Second)
	time.Sleep(500 * time.Millisecond) // timed: absence: a switch that resumed playback would have by now
	state := eval[struct {
		Paused bool
		Time   float64
	}](b, `(() => { const m = document.querySelector("#player video"); return { paused: m.paused, time: m.currentTime }; })()`)
	if !state.Paused || state.Time < at-0.3 || state.Time > at+0.3 {
		t.Errorf("after a paused switch: paused %v at %.2f s, want paused at %.2f s", state.Paused, state.Time, at)
	}
	// The stats panel follows the file playing: its torrent's progress.
	b.waitJS("stats for the new file", `document.querySelector("#stat-progress").textContent !== "0%"`, 30*time.Second)
}
