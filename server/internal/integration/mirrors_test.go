package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/mirrors"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// mirrorFlags make a pod mirror with an admin's picks (issue 18).
var mirrorFlags = []string{"--mirror-max-gb", "1", "--mirror-strategy", "manual", "--mirror-check-interval", "1s"}

// mirrorStatus reads a pod's GET /api/v1/mirrors.
func (p *pod) mirrorStatus() mirrors.Status {
	p.t.Helper()
	var st mirrors.Status
	if code := p.call(http.MethodGet, "/api/v1/mirrors", nil, &st); code != http.StatusOK {
		p.t.Fatalf("GET /api/v1/mirrors on %s: %d", p.name, code)
	}
	return st
}

// video returns the video named name in p's listing (zero if absent) and
// how many listed videos have that name.
func (p *pod) video(name string) (api.Video, int) {
	var found api.Video
	n := 0
	for _, v := range p.videos() {
		if v.Name == name {
			found = v
			n++
		}
	}
	return found, n
}

func get(t *testing.T, u string) ([]byte, error) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func mirrorPods(ms []api.Mirror) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Pod)
	}
	return out
}

// TestMirrors is issue 18's acceptance on real pod processes, less the
// browser (web/e2e's TestMirrorPlayback): pods 1, 2 and 3 are friends,
// pod 2 mirrors what its admin picks; a video uploaded on pod 3 reaches
// pod 2's disk and pod 3's url-list, pod 3 stops, aria2c downloads the
// video by pod 1's magnet byte for byte, and pod 3 restarts with nothing
// lost or duplicated.
func TestMirrors(t *testing.T) {
	aria2 := testenv.LookPath(t, "aria2c")
	a := startPod(t, "pod1", fast...)
	b := startPod(t, "pod2", append(slices.Clone(fast), mirrorFlags...)...)
	c := startPod(t, "pod3", append(slices.Clone(fast), "--mirror-check-interval", "1s")...) // the origin checks pod 2's copy
	requireFederation(t, a)
	data := clip(t)
	b.makeFriends(c)
	a.makeFriends(b)
	const name = "Mirrored on pod2"
	onC := c.upload(name, data)
	original, err := get(t, onC.WebseedURL)
	if err != nil {
		t.Fatal(err)
	}
	var onB api.Video
	testenv.Eventually(t, wait, "pod2 to list pod3's video", func() bool {
		v, n := b.video(name)
		onB = v
		return n == 1
	})

	// The admin of pod 2 picks it; it is fetched, verified and announced.
	var mi mirrors.MirrorInfo
	if code := b.call(http.MethodPut, "/api/v1/mirrors/"+onB.ID, nil, &mi); code != http.StatusOK || mi.VideoID != onB.ID {
		t.Fatalf("pick on pod2: %d %+v", code, mi)
	}
	var own api.Video
	if code := c.call(http.MethodPut, "/api/v1/mirrors/"+onC.ID, nil, nil); code != http.StatusConflict {
		t.Fatalf("pick on pod3 (mirrors off there): %d, want 409", code)
	}
	testenv.Eventually(t, 60*time.Second, "pod2 to hold the mirror", func() bool {
		st := b.mirrorStatus()
		return len(st.Data) == 1 && st.Data[0].State == mirrors.StateHeld
	})
	onDisk, err := os.ReadFile(filepath.Join(b.data, "mirrors", onC.InfoHash+".mp4"))
	if err != nil || !bytes.Equal(onDisk, original) {
		t.Fatalf("pod2's copy differs from pod3's file (%v)", err)
	}
	webseed := b.url + "/static/webseed/" + onC.InfoHash + ".mp4"
	if got, err := get(t, webseed); err != nil || !bytes.Equal(got, original) {
		t.Fatalf("pod2's web seed: %v", err)
	}
	// The mirror event was queued with "held". A friend confirms an event
	// in the transaction that applies it, so once pod 2's queues to pods
	// 3 and 1 are empty and pod 1 has the video (pod 3's own event or
	// catalogue page may come after pod 2's event, which then waits for
	// it), both list pod 2 now: a lost event fails here, not by a timeout.
	testenv.Eventually(t, wait, "pod2 to deliver its mirror event to pods 3 and 1, and pod1 to have the video", func() bool {
		fs := b.friends()
		_, n := a.video(name)
		return fs[a.url].Status == "active" && fs[a.url].Pending == 0 && fs[c.url].Status == "active" && fs[c.url].Pending == 0 && n == 1
	})
	if code := c.call(http.MethodGet, "/api/v1/videos/"+onC.ID, nil, &own); code != http.StatusOK {
		t.Fatalf("pod3's video: %d", code)
	}
	if onA, _ := a.video(name); !slices.Equal(mirrorPods(own.Mirrors), []string{b.url}) || !slices.Equal(mirrorPods(onA.Mirrors), []string{b.url}) {
		t.Fatalf("pod2's mirror event delivered, yet pod3 lists mirrors %v and pod1 %v, want [%s]", mirrorPods(own.Mirrors), mirrorPods(onA.Mirrors), b.url)
	}
	if own.Mirrors[0].WebseedURL != webseed {
		t.Fatalf("pod3 lists mirror %+v, want web seed %s", own.Mirrors[0], webseed)
	}
	tb, err := get(t, onC.TorrentURL)
	if err != nil {
		t.Fatal(err)
	}
	mi3, ih, err := torrentfile.Parse(tb)
	if err != nil || fmt.Sprintf("%x", ih) != onC.InfoHash {
		t.Fatalf("pod3's torrent: %v, info hash %x, want %s", err, ih, onC.InfoHash)
	}
	if !slices.Equal(mi3.URLList, []string{onC.WebseedURL, webseed}) {
		t.Fatalf("pod3's url-list %q, want the origin's and pod2's web seeds", mi3.URLList)
	}
	if !slices.ContainsFunc(mi3.AnnounceList, func(tier []string) bool { return slices.Contains(tier, b.url+"/tracker/announce") }) {
		t.Fatalf("pod3's announce-list %q lacks pod2's tracker", mi3.AnnounceList)
	}
	onA, _ := a.video(name)
	m, err := torrentfile.ParseMagnet(onA.Magnet)
	if err != nil || !slices.Contains(m.WebSeeds, webseed) || !slices.Contains(m.Trackers, b.url+"/tracker/announce") {
		t.Fatalf("pod1's magnet %q lacks pod2 (%v)", onA.Magnet, err)
	}

	// The origin stops: the video lives on.
	c.stop()
	t.Run("aria2c by magnet", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, aria2, "--dir="+dir, "--enable-dht=false", "--enable-dht6=false",
			"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--seed-time=0", "--bt-stop-timeout=60",
			"--listen-port="+testenv.Aria2ListenPorts(), "--disable-ipv6=true", "--file-allocation=none",
			"--summary-interval=0", "--console-log-level=warn", "--bt-tracker-connect-timeout=3",
			"--bt-tracker-timeout=3", "--bt-tracker-interval=1", "--bt-save-metadata=false", "--no-conf=true", onA.Magnet)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aria2c: %v\n%s", err, out)
		}
		got, err := os.ReadFile(filepath.Join(dir, m.Name))
		if err != nil || !bytes.Equal(got, original) {
			t.Fatalf("aria2c's download differs (%v)\n%s", err, out)
		}
	})

	// The origin comes back: nothing lost, nothing twice.
	c.start()
	testenv.Eventually(t, wait, "every pod to list the video once, mirrored once by pod2", func() bool {
		for _, p := range []*pod{a, b, c} {
			v, n := p.video(name)
			if n != 1 || !slices.Equal(mirrorPods(v.Mirrors), []string{b.url}) {
				return false
			}
		}
		st := b.mirrorStatus()
		return len(st.Data) == 1 && st.Data[0].State == mirrors.StateHeld
	})
	if tb2, err := get(t, onC.TorrentURL); err != nil || !bytes.Equal(tb2, tb) {
		t.Fatalf("pod3's torrent changed over its restart (%v)", err)
	}
	if got, err := get(t, webseed); err != nil || !bytes.Equal(got, original) {
		t.Fatalf("pod2's web seed after pod3's restart: %v", err)
	}
	if strings.Count(onA.Magnet, "&ws=") != 2 {
		t.Fatalf("pod1's magnet %q: want two web seeds", onA.Magnet)
	}

	// The mirror goes down: its range check fails at pod 3's next check
	// (every second here) and pod 3's url-list stops naming it; back up,
	// it passes and is listed again.
	urlList := func() []string {
		tb, err := get(t, onC.TorrentURL)
		if err != nil {
			t.Fatal(err)
		}
		mi, _, err := torrentfile.Parse(tb)
		if err != nil {
			t.Fatal(err)
		}
		return mi.URLList
	}
	// The mirror serves bad bytes: pod 3's check costs pod 2 score (the
	// mirrors' Penalize, which server/pod gives federation's) and takes
	// the copy off the url-list; with its bytes back, it is listed again.
	copyPath := filepath.Join(b.data, "mirrors", onC.InfoHash+".mp4")
	score := c.friends()[b.url].Score
	if err := os.WriteFile(copyPath, bytes.Repeat([]byte{0xAA}, len(original)), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, "pod3 to charge pod2 for its bad copy and drop it from the url-list", func() bool {
		return c.friends()[b.url].Score < score && slices.Equal(urlList(), []string{onC.WebseedURL})
	})
	if err := os.WriteFile(copyPath, original, 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, "pod3's url-list to name the repaired mirror again", func() bool {
		return slices.Equal(urlList(), []string{onC.WebseedURL, webseed})
	})

	b.stop()
	testenv.Eventually(t, wait, "pod3's url-list to drop the stopped mirror", func() bool {
		return slices.Equal(urlList(), []string{onC.WebseedURL})
	})
	b.start()
	testenv.Eventually(t, wait, "pod3's url-list to name the mirror again", func() bool {
		return slices.Equal(urlList(), []string{onC.WebseedURL, webseed})
	})
}

// TestMirrorsResolutions: a mirror holds every resolution of a video
// (issue 18 point 2). Pod 3 makes a 240p rendition of a 360p upload; pod
// 2 mirrors the video by its admin's pick, fetches both files byte for
// byte, serves each by its web seed and .torrent, and announces both:
// pod 3's .torrent of each file lists pod 2's web seed of that file.
func TestMirrorsResolutions(t *testing.T) {
	b := startPod(t, "pod2", append(slices.Clone(fast), mirrorFlags...)...)
	c := startPod(t, "pod3", append(slices.Clone(fast), "--resolutions", "240")...)
	requireFederation(t, b)
	_, data := testenv.MakeClip(t, testenv.Clip{Seconds: 1, Width: 640, Height: 360, Rate: 10, Faststart: true})
	b.makeFriends(c)
	const name = "Mirrored with its 240p"
	onC := c.upload(name, data)
	var onB api.Video
	testenv.Eventually(t, 2*time.Minute, "pod2 to list pod3's video with its 240p file", func() bool {
		v, n := b.video(name)
		onB = v
		return n == 1 && len(v.Files) == 2
	})
	if code := b.call(http.MethodPut, "/api/v1/mirrors/"+onB.ID, nil, nil); code != http.StatusOK {
		t.Fatalf("pick on pod2: %d", code)
	}
	testenv.Eventually(t, time.Minute, "pod2 to hold both files", func() bool {
		st := b.mirrorStatus()
		return len(st.Data) == 1 && st.Data[0].State == mirrors.StateHeld && len(st.Data[0].Lower) == 1 && st.Data[0].Lower[0].Held
	})
	testenv.Eventually(t, wait, "pod3 to list pod2's copy of both files", func() bool {
		var own api.Video
		c.call(http.MethodGet, "/api/v1/videos/"+onC.ID, nil, &own)
		onC = own
		return len(own.Mirrors) == 1 && len(own.Mirrors[0].Files) == 1
	})
	for i, f := range onC.Files {
		original, err := get(t, f.WebseedURL)
		if err != nil {
			t.Fatal(err)
		}
		webseed := b.url + "/static/webseed/" + f.InfoHash + ".mp4"
		if onDisk, err := os.ReadFile(filepath.Join(b.data, "mirrors", f.InfoHash+".mp4")); err != nil || !bytes.Equal(onDisk, original) {
			t.Fatalf("%dp: pod2's copy differs from pod3's file (%v)", f.Resolution, err)
		}
		if got, err := get(t, webseed); err != nil || !bytes.Equal(got, original) {
			t.Fatalf("%dp: pod2's web seed: %v", f.Resolution, err)
		}
		torrentOnB := b.url + "/api/v1/videos/" + onB.ID + "/torrent"
		if i > 0 {
			torrentOnB += fmt.Sprintf("?resolution=%d", f.Resolution)
		}
		for _, u := range []string{f.TorrentURL, torrentOnB} {
			tb, err := get(t, u)
			if err != nil {
				t.Fatal(err)
			}
			mi, ih, err := torrentfile.Parse(tb)
			if err != nil || fmt.Sprintf("%x", ih) != f.InfoHash || !slices.Contains(mi.URLList, webseed) || !slices.Contains(mi.URLList, f.WebseedURL) {
				t.Fatalf("%dp torrent at %s: %v, info hash %x, url-list %q; want %s with both pods' web seeds", f.Resolution, u, err, ih, mi.URLList, f.InfoHash)
			}
		}
		if m, err := torrentfile.ParseMagnet(f.Magnet); err != nil || !slices.Contains(m.WebSeeds, webseed) {
			t.Fatalf("%dp: pod3's magnet %q lacks pod2's web seed (%v)", f.Resolution, f.Magnet, err)
		}
	}
}
