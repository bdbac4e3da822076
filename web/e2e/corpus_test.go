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

// TestTranscodedCorpusPlays uploads every file of the transcoding corpus
// (HEVC, Theora, MKV, AVI, ProRes, 10-bit, 4:4:4, a rotated phone clip,
// 853x481, VFR, audio only): each must end up published and play in
// Chromium, with a picture (videoWidth > 0) and advancing time.
func TestTranscodedCorpusPlays(t *testing.T) {
	corpus := testenv.Corpus(t, t.TempDir())
	// The converted best file only, which the player then plays: with
	// lower resolutions, Auto would pick one for the player's size
	// (TestQualitySwitchKeepsPlace covers the ladder).
	p := startPodWith(t, "corpus", "127.0.0.1", "--resolutions", "")
	requireVideos(t, p)
	apiCall(t, p.URL, "", "POST", "/api/v1/users", `{"username":"frank","password":"frank's password"}`, http.StatusCreated)
	tok := apiLogin(t, p.URL, "frank", "frank's password")
	ids := make([]string, len(corpus))
	for i, c := range corpus {
		ids[i] = uploadMultipart(t, p.URL, tok, c.Path, c.Name, "")
	}
	b := newBrowser(t)
	for i, c := range corpus {
		testenv.Eventually(t, 3*time.Minute, c.Name+" to be published", func() bool {
			var v struct{ State, Failure string }
			req, _ := http.NewRequest("GET", p.URL+"/api/v1/videos/"+ids[i], nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			err = json.NewDecoder(res.Body).Decode(&v)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if v.State == "failed" {
				t.Fatalf("%s: state %q %s", c.Name, v.State, v.Failure)
			}
			return v.State == "published"
		})
		b.do("open "+c.Name, 20*time.Second, chromedp.Navigate(p.URL+"/videos/"+ids[i]), chromedp.WaitVisible(chromedp.CSS("#video-info")))
		b.waitJS(c.Name+" plays with a picture", fmt.Sprintf(`(() => { const v = document.querySelector("#player video");
			return !!v && v.videoWidth === %d && v.videoHeight === %d && v.currentTime > 0.2; })()`, c.W, c.H), 30*time.Second)
	}
}
