package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
)

// startStoppablePod is newPod for the federation and mirror tests: on
// 127.0.0.1, retrying a silent friend every 300 ms and checking friends
// every second, so a stopped pod is found out (and ejected) quickly.
func startStoppablePod(t *testing.T, name string, extra ...string) (*testPod, func()) {
	t.Helper()
	return newPod(t, name, "127.0.0.1", append([]string{"--friend-retry-max", "300ms", "--friend-check-interval", "1s"}, extra...)...)
}

// panelBytes is the watch page's bytes by source (its stats panel's
// data-bytes): other viewers, pods (= origin + mirrors + seeders), the
// origin's web seed, mirrors' web seeds, pods' seeders.
type panelBytes struct{ Peers, Pod, Origin, Mirrors, Seeder int64 }

// readPanel reads the panel once, checking that the pods' part adds up.
func readPanel(t *testing.T, b *browser) panelBytes {
	t.Helper()
	p := eval[panelBytes](b, `(() => {
		const n = (id) => Number(document.querySelector("#stat-from-" + id).dataset.bytes);
		return {Peers: n("peers"), Pod: n("pod"), Origin: n("origin"), Mirrors: n("mirrors"), Seeder: n("seeder")};
	})()`)
	if p.Pod != p.Origin+p.Mirrors+p.Seeder {
		t.Errorf("panel: from pods %d != origin %d + mirrors %d + seeders %d", p.Pod, p.Origin, p.Mirrors, p.Seeder)
	}
	return p
}

// watchWebSockets records the WebSocket URLs the browser's page opens,
// in order; the returned func lists them so far.
func watchWebSockets(t *testing.T, b *browser) func() []string {
	t.Helper()
	var mu sync.Mutex
	var urls []string
	if err := chromedp.Listen(b.ctx, func(ev any) {
		if e, ok := ev.(*network.EventWebSocketCreated); ok {
			mu.Lock()
			urls = append(urls, e.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	b.do("watch WebSockets", 10*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
		return err
	}))
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(urls)
	}
}

// wsURL is a pod's http(s) URL as ws(s).
func wsURL(pod string) string { return "ws" + strings.TrimPrefix(pod, "http") }

func videoNamed(t *testing.T, base, name string) (api.Video, bool) {
	t.Helper()
	var vl api.VideoList
	if err := json.Unmarshal(apiCall(t, base, "", "GET", "/api/v1/videos?count=100", "", http.StatusOK), &vl); err != nil {
		t.Fatal(err)
	}
	for _, v := range vl.Data {
		if v.Name == name {
			return v, true
		}
	}
	return api.Video{}, false
}

// metricSum adds up the samples of a counter in a pod's /metrics.
func metricSum(t *testing.T, base, name string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + name + `(\{[^}]*\})? ([0-9.e+]+)$`)
	var sum float64
	for _, m := range re.FindAllStringSubmatch(string(get(t, base+"/metrics")), -1) {
		f, _ := strconv.ParseFloat(m[2], 64)
		sum += f
	}
	return sum
}

// playToEnd plays the watch page's video, muted at 4× speed (again
// whenever it pauses to buffer), and waits until it has played to its end;
// the video must be longer than 5 s, so a stub is not taken for the end.
func (b *browser) playToEnd(what string, timeout time.Duration) {
	b.t.Helper()
	b.waitJS(what, `(() => {
		const v = document.querySelector("#player video");
		if (!v) return false;
		if (!v.ended && v.paused) { v.muted = true; v.playbackRate = 4; v.play().catch(() => {}); }
		return v.ended || (v.duration > 5 && v.currentTime >= v.duration - 0.1);
	})()`, timeout)
}

// playerState describes the watch page's <video> for a log: its source,
// time, duration, error, network and ready states.
func playerState(b *browser) string {
	b.t.Helper()
	return eval[string](b, `(() => { const v = document.querySelector("#player video"); return v ? JSON.stringify({src: v.currentSrc, t: v.currentTime, d: v.duration, err: v.error && v.error.message, net: v.networkState, ready: v.readyState, paused: v.paused}) : "no video"; })()`)
}

// TestMirrorPlayback is the browser half of issue 18's acceptance (the
// rest is server/internal/integration's TestMirrors): pods 1, 2 and 3 are
// friends, pod 2 mirrors pod 3's video by its admin's pick, pod 3 stops,
// and a Chromium viewer on pod 1 plays the video to the end from pod 2;
// the page never says it plays from pod 3. Pod 3 then stays down past its
// ejection, and pod 1 still lists the video, mirrored by pod 2.
func TestMirrorPlayback(t *testing.T) {
	p1, _ := startStoppablePod(t, "pod1")
	p2, _ := startStoppablePod(t, "pod2", "--mirror-max-gb", "1", "--mirror-strategy", "manual", "--mirror-check-interval", "1s")
	p3, stop3 := startStoppablePod(t, "pod3")
	apiCall(t, p2.URL, apiLogin(t, p2.URL, "admin", adminPassword), "POST", "/api/v1/pods/makefriends", fmt.Sprintf(`{"pods":[%q]}`, p3.PodURL), http.StatusOK)
	apiCall(t, p1.URL, apiLogin(t, p1.URL, "admin", adminPassword), "POST", "/api/v1/pods/makefriends", fmt.Sprintf(`{"pods":[%q]}`, p2.PodURL), http.StatusOK)
	const name = "Kept alive by pod2"
	uploadMultipart(t, p3.URL, apiLogin(t, p3.URL, "admin", adminPassword), makeClip(t, 6), name, "mirrored")

	var onP2 api.Video
	testenv.Eventually(t, 30*time.Second, "pod2 to list pod3's video", func() bool {
		var ok bool
		onP2, ok = videoNamed(t, p2.URL, name)
		return ok && onP2.State == api.StatePublished
	})
	admin2 := apiLogin(t, p2.URL, "admin", adminPassword)
	apiCall(t, p2.URL, admin2, "PUT", "/api/v1/mirrors/"+onP2.ID, "", http.StatusOK)
	var onP1 api.Video
	testenv.Eventually(t, 60*time.Second, "pod1 to list pod2 as the video's mirror", func() bool {
		var ok bool
		onP1, ok = videoNamed(t, p1.URL, name)
		return ok && len(onP1.Mirrors) == 1 && onP1.Mirrors[0].Pod == p2.PodURL
	})
	stop3()
	served2WS := metricSum(t, p2.URL, "swarmtube_webseed_served_bytes_total")
	served := metricSum(t, p2.URL, "swarmtube_webseed_served_bytes_total") + metricSum(t, p2.URL, "swarmtube_seeder_uploaded_bytes_total")

	b := newBrowser(t)
	sockets := watchWebSockets(t, b)
	b.do("open the watch page on pod1", 30*time.Second, chromedp.Navigate(p1.URL+"/videos/"+onP1.ID))
	b.waitJS("video element", `!!document.querySelector("#player video")`, 30*time.Second)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("player at failure: %s; stats: %q", playerState(b), b.text("#stats-mode"))
		}
	})
	b.playToEnd("playback to the end", 120*time.Second)
	mode := b.text("#stats-mode")
	t.Logf("player: %s", playerState(b))
	host3 := strings.TrimPrefix(p3.PodURL, "http://")
	if strings.Contains(mode, host3) {
		t.Errorf("the page says %q: it names the stopped origin %s", mode, host3)
	}
	after := metricSum(t, p2.URL, "swarmtube_webseed_served_bytes_total") + metricSum(t, p2.URL, "swarmtube_seeder_uploaded_bytes_total")
	if after-served < float64(onP1.Size)/2 {
		t.Errorf("pod2 served %.0f bytes of a %d-byte video", after-served, onP1.Size)
	}
	t.Logf("stats: %q; pod2 served %.0f bytes of %d", mode, after-served, onP1.Size)

	// The panel's bytes by source add up to the whole video, none from
	// the stopped origin: the mirror's web seed sent its share (no more
	// than pod 2 served), other viewers and pods' seeders the rest.
	b.waitJS("the panel to count the whole video", fmt.Sprintf(`(() => {
		const n = (id) => Number(document.querySelector("#stat-from-" + id).dataset.bytes);
		return n("peers") + n("pod") >= %d;
	})()`, onP1.Size), 10*time.Second)
	pb := readPanel(t, b)
	t.Logf("panel: %+v (%q)", pb, b.text("#stats-caption"))
	if pb.Origin != 0 || pb.Mirrors == 0 {
		t.Errorf("with the origin down the panel shows origin %d, mirrors %d bytes; want 0 and some", pb.Origin, pb.Mirrors)
	}
	if served2 := metricSum(t, p2.URL, "swarmtube_webseed_served_bytes_total") - served2WS; float64(pb.Mirrors) > served2 {
		t.Errorf("the panel shows %d bytes from mirrors, pod2's web seed served %.0f", pb.Mirrors, served2)
	}
	// The page's pod's tracker first, then the mirror's (and the stopped
	// origin's): viewers on pod 1 find each other there.
	tracker1, tracker2 := wsURL(p1.PodURL)+"/tracker/socket", wsURL(p2.PodURL)+"/tracker/socket"
	if got := sockets(); len(got) == 0 || got[0] != tracker1 || !slices.Contains(got, tracker2) {
		t.Errorf("the page opened WebSockets %v, want %s first and %s", got, tracker1, tracker2)
	}
	if n := metricSum(t, p1.URL, "swarmtube_tracker_announces_total"); n == 0 {
		t.Errorf("pod1's tracker counted no announce")
	}
	if m := regexp.MustCompile(`(?m)^swarmtube_tracker_rejections_total\{reason="not_tracked"\} ([0-9.e+]+)$`).FindSubmatch(get(t, p1.URL+"/metrics")); m == nil || string(m[1]) != "0" {
		t.Errorf("pod1's tracker refused the video it lists as not tracked (%q)", m)
	}

	// Without the engine, the page's HTTP fallback plays it from pod 2's
	// web seed (the <source> list skips the dead origin's).
	hb := newBrowser(t)
	hb.do("block the engine", 10*time.Second, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "*://*:*/static/engine/*", Block: true}},
		})
		return err
	}))
	hb.do("open the watch page without the engine", 30*time.Second, chromedp.Navigate(p1.URL+"/videos/"+onP1.ID))
	hb.playToEnd("HTTP playback to the end", 120*time.Second)
	if src := eval[string](hb, `document.querySelector("#player video").currentSrc`); !strings.HasPrefix(src, p2.PodURL+"/static/webseed/") {
		t.Errorf("the HTTP fallback played %q, want pod2's web seed", src)
	}
	if mode := hb.text("#stats-mode"); strings.Contains(mode, host3) {
		t.Errorf("the fallback page says %q: it names the stopped origin %s", mode, host3)
	}

	// Pod 3 stays down past its ejection (fast here: retries every 300 ms
	// cost it its score within a minute): its mirrored video stays listed
	// on pod 1, with pod 2 as its mirror.
	admin1 := apiLogin(t, p1.URL, "admin", adminPassword)
	testenv.Eventually(t, 120*time.Second, "pod1 to eject the stopped pod3", func() bool {
		var fl api.FriendList
		if err := json.Unmarshal(apiCall(t, p1.URL, admin1, "GET", "/api/v1/pods", "", http.StatusOK), &fl); err != nil {
			t.Fatal(err)
		}
		for _, f := range fl.Data {
			if f.URL == p3.PodURL {
				return f.Status == "ejected"
			}
		}
		return false
	})
	if v, ok := videoNamed(t, p1.URL, name); !ok || len(v.Mirrors) != 1 || v.Mirrors[0].Pod != p2.PodURL {
		t.Fatalf("after pod3's ejection pod1 lists %+v (listed: %v), want the video with pod2 as its mirror", v, ok)
	}
}

// TestAdminPicksMirror: the admin page's Mirrors panel mirrors a friend's
// video named by its watch page address (the manual strategy), lists it
// held, and unpicks it.
func TestAdminPicksMirror(t *testing.T) {
	origin, _ := startStoppablePod(t, "origin")
	mirror, _ := startStoppablePod(t, "mirror", "--mirror-max-gb", "1", "--mirror-strategy", "manual", "--mirror-check-interval", "1s")
	apiCall(t, mirror.URL, apiLogin(t, mirror.URL, "admin", adminPassword), "POST", "/api/v1/pods/makefriends", fmt.Sprintf(`{"pods":[%q]}`, origin.PodURL), http.StatusOK)
	const name = "Picked on the admin page"
	uploadMultipart(t, origin.URL, apiLogin(t, origin.URL, "admin", adminPassword), makeClip(t, 2), name, "")
	var v api.Video
	testenv.Eventually(t, 30*time.Second, "the mirror pod to list the video", func() bool {
		var ok bool
		v, ok = videoNamed(t, mirror.URL, name)
		return ok
	})
	b := newBrowser(t)
	b.login(mirror.URL, "admin", adminPassword, "/admin")
	b.waitJS("admin page", `location.pathname === "/admin" && !document.querySelector("#admin").hidden`, 15*time.Second)
	b.do("pick the video", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS("#mirror-video"), mirror.URL+"/videos/"+v.ID),
		chromedp.Click(chromedp.CSS("#mirrors-form button[type=submit]")),
	)
	b.waitJS("picked", `document.querySelector("#mirrors-status .message.ok") !== null`, 10*time.Second)
	row := fmt.Sprintf(`#mirrors-table tr[data-video=%q]`, v.ID)
	testenv.Eventually(t, 60*time.Second, "the mirror to be held", func() bool {
		var st struct{ Data []struct{ State string } }
		_ = json.Unmarshal(apiCall(t, mirror.URL, apiLogin(t, mirror.URL, "admin", adminPassword), "GET", "/api/v1/mirrors", "", http.StatusOK), &st)
		return len(st.Data) == 1 && st.Data[0].State == "held"
	})
	b.do("reload", 20*time.Second, chromedp.Navigate(mirror.URL+"/admin"))
	b.waitJS("held in the table", fmt.Sprintf(`document.querySelector('%s')?.dataset.state === "held"`, row), 15*time.Second)
	checkAccessible(t, b, "admin-mirrors")
	b.do("unpick", 10*time.Second, chromedp.Click(chromedp.CSS(row+` button[data-action="unpick"]`)))
	b.waitJS("unpicked", `document.querySelector("#mirrors-status .message.ok")?.textContent.includes("no longer picked")`, 10*time.Second)
}

// TestMirrorLowerResolution: with the origin down, a viewer on pod 1
// picks a lower resolution of a mirrored video and plays it to the end
// from the mirror, which holds that file too (mirrors[].files): the page
// looks for each file's .torrent and web seed at the mirrors holding it,
// not only the best file's.
func TestMirrorLowerResolution(t *testing.T) {
	p1, _ := startStoppablePod(t, "pod1")
	p2, _ := startStoppablePod(t, "pod2", "--mirror-max-gb", "1", "--mirror-strategy", "manual", "--mirror-check-interval", "1s")
	p3, stop3 := startStoppablePod(t, "pod3", "--resolutions", "240")
	apiCall(t, p2.URL, apiLogin(t, p2.URL, "admin", adminPassword), "POST", "/api/v1/pods/makefriends", fmt.Sprintf(`{"pods":[%q]}`, p3.PodURL), http.StatusOK)
	apiCall(t, p1.URL, apiLogin(t, p1.URL, "admin", adminPassword), "POST", "/api/v1/pods/makefriends", fmt.Sprintf(`{"pods":[%q]}`, p2.PodURL), http.StatusOK)
	const name = "Both resolutions on pod2"
	clip, _ := testenv.MakeClip(t, testenv.Clip{Seconds: 4, Width: 640, Height: 360, Rate: 25, Audio: true, Faststart: true})
	uploadMultipart(t, p3.URL, apiLogin(t, p3.URL, "admin", adminPassword), clip, name, "")
	var onP2 api.Video
	testenv.Eventually(t, 2*time.Minute, "pod2 to list pod3's video with its 240p file", func() bool {
		var ok bool
		onP2, ok = videoNamed(t, p2.URL, name)
		return ok && onP2.State == api.StatePublished && len(onP2.Files) == 2
	})
	apiCall(t, p2.URL, apiLogin(t, p2.URL, "admin", adminPassword), "PUT", "/api/v1/mirrors/"+onP2.ID, "", http.StatusOK)
	var onP1 api.Video
	testenv.Eventually(t, 2*time.Minute, "pod1 to list pod2 as the mirror of both files", func() bool {
		var ok bool
		onP1, ok = videoNamed(t, p1.URL, name)
		return ok && len(onP1.Files) == 2 && len(onP1.Mirrors) == 1 && len(onP1.Mirrors[0].Files) == 1
	})
	stop3()

	b := newBrowser(t)
	b.do("open the watch page on pod1", 30*time.Second, chromedp.Navigate(p1.URL+"/videos/"+onP1.ID))
	b.waitJS("the quality menu", `!document.querySelector("#quality").hidden && document.querySelector("#player").getAttribute("aria-busy") === "false"`, 60*time.Second)
	eval[chromedp.Void](b, `(() => { const s = document.querySelector("#quality-select"); s.value = "240"; s.dispatchEvent(new Event("change")); })()`)
	b.waitJS("the 240p file to play", `document.querySelector("#quality-select").dataset.playing === "240"`, 30*time.Second)
	b.waitJS("playback to the end", `(() => {
		const v = document.querySelector("#player video");
		if (!v.ended && v.paused) { v.muted = true; v.playbackRate = 4; v.play().catch(() => {}); }
		return v.ended || (v.duration > 3 && v.currentTime >= v.duration - 0.1);
	})()`, 120*time.Second)
	if src := eval[string](b, `document.querySelector("#player video").currentSrc`); strings.Contains(src, strings.TrimPrefix(p3.PodURL, "http://")) {
		t.Errorf("the 240p file played from the stopped origin: %s", src)
	}
	if pb := readPanel(t, b); pb.Origin != 0 {
		t.Errorf("panel %+v: bytes from the stopped origin", pb)
	}
}
