//go:build !js

package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/server/webseed"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// TestWatchFromSeederThenPeer: page A watches the video to the end from
// the pod's seeder over WebRTC (its torrent has no web seed, which the
// engine would prefer); page B then watches it, gets at least half its
// bytes from A, plays, and seeks.
func TestWatchFromSeederThenPeer(t *testing.T) {
	p := startPod(t, true)
	b := browser(t)
	watch := p.URL + "/test/watch.html?log=debug&torrent=/t/video.torrent"
	const dump = "{st: window.__st, stats: window.__st.torrent && window.__st.torrent.stats(), t: document.getElementById('v').currentTime}"

	// A keeps nothing in the browser's storage, which B (same browser)
	// would play from instead of from A.
	a, _ := tab(t, b, p.URL+"/test/watch.html?log=debug&torrent=/t/noseed.torrent&rate=8&storage=0")
	waitJS(t, a, "window.__st.ready", "window.__st.err", dump, 60*time.Second)
	waitJS(t, a, "window.__st.events.includes('ended')", "window.__st.err", dump, 60*time.Second)
	waitJS(t, a, "(s => s.piecesHave === s.pieces)(window.__st.torrent.stats())", "window.__st.err", dump, 30*time.Second)
	sa := pageStats(t, a)
	t.Logf("A: %+v", sa)
	if sa.BytesFromPeers == 0 {
		t.Errorf("A got nothing from the pod's seeder over WebRTC: %+v", sa)
	}

	bt, _ := tab(t, b, watch)
	waitJS(t, bt, "window.__st.events.includes('playing')", "window.__st.err", dump, 30*time.Second)
	var t1 float64
	eval(t, bt, "document.getElementById('v').currentTime", &t1)
	waitJS(t, bt, fmt.Sprintf("document.getElementById('v').currentTime > %v", t1), "window.__st.err", dump, 15*time.Second)
	var ok bool
	eval(t, bt, "(v => { v.currentTime = 30; return true })(document.getElementById('v'))", &ok)
	waitJS(t, bt, "window.__st.events.includes('seeked') && document.getElementById('v').currentTime > 30.3", "window.__st.err", dump, 30*time.Second)
	waitJS(t, bt, "(s => s.piecesHave === s.pieces)(window.__st.torrent.stats())", "window.__st.err", dump, 60*time.Second)
	sb := pageStats(t, bt)
	t.Logf("B: %+v", sb)
	fromA := sb.BytesFromPeers - sb.BytesFromServers
	if fromA*2 < int64(len(p.Data)) {
		t.Errorf("B got %d of %d bytes from A, want at least half (stats %+v)", fromA, len(p.Data), sb)
	}
	if sb.BadPieces != 0 {
		t.Errorf("bad pieces: %+v", sb)
	}
}

// earlyBudget is web/static/engine/sw.js's EARLY_BUDGET: at most what a
// page reads from the web seed before its engine runs, and all it reads
// in its first request when it does not know the video's bitrate.
const earlyBudget = 1 << 20

// earlyMeta is the query that gives test/watch.html the video's metadata
// (size, duration, piece length), as the watch page passes it to playEarly.
func earlyMeta(p *pod, seconds float64) string {
	return fmt.Sprintf("&length=%d&duration=%g&pl=%d", p.Length, seconds, torrentfile.PieceLength(p.Length))
}

// earlyFirst is what playEarly's first request fetches of a video of
// length bytes and seconds (engine.js earlyBudget): one second of media
// in whole pieces, at least one, at most earlyBudget and the file.
func earlyFirst(length int64, seconds float64) int64 {
	pl := torrentfile.PieceLength(length)
	want := int64(math.Ceil(float64(length)/seconds/float64(pl))) * pl
	return min(max(want, pl), earlyBudget, length)
}

// TestPlayEarlyHandsOverWebSeedBytes: the watch page's fast start. The
// video plays on the page's reads from the web seed before the engine
// runs (the first second of media, from the video's metadata, in one
// request); on open the engine is given those bytes (its first pieces,
// counted in its stats) and fetches none of them again.
func TestPlayEarlyHandsOverWebSeedBytes(t *testing.T) {
	p := startPod(t, false)
	b := browser(t)
	const dump = "{st: window.__st, stats: window.__st.torrent && window.__st.torrent.stats(), t: document.getElementById('v').currentTime}"
	const seconds = 40 // makeVideo
	pg, _ := tab(t, b, p.URL+"/test/watch.html?torrent=/t/video.torrent&early="+hex.EncodeToString(p.InfoHash[:])+earlyMeta(p, seconds))
	waitJS(t, pg, "window.__st.ready && window.__st.events.includes('playing')", "window.__st.err", dump, 60*time.Second)
	var early bool
	eval(t, pg, "window.__st.early === true", &early)
	if !early {
		t.Fatal("playEarly did not start the video (no Service Worker?)")
	}
	var raw string
	eval(t, pg, "JSON.stringify(window.__st.openStats)", &raw)
	var open stats
	if err := json.Unmarshal([]byte(raw), &open); err != nil {
		t.Fatal(err)
	}
	pieceLen := torrentfile.PieceLength(int64(len(p.Data)))
	first := earlyFirst(int64(len(p.Data)), seconds)
	if first >= earlyBudget {
		t.Fatalf("the test clip's first second (%d bytes) is the whole budget: the test would not see the first request's size", first)
	}
	if want := int(first / pieceLen); open.PiecesHave < want || open.BytesFromWebSeed < first {
		t.Errorf("at open the engine has %d pieces, %d bytes from the web seed; want at least the first request's %d pieces, %d bytes",
			open.PiecesHave, open.BytesFromWebSeed, want, first)
	}
	// Play on well past the early bytes.
	waitJS(t, pg, "document.getElementById('v').currentTime > 4", "window.__st.err", dump, 30*time.Second)
	// The browser may stop an idle Service Worker, which forgets what it
	// knew; the restarted one must learn from the page that the torrent is
	// open rather than read the start from the web seed again.
	stopWorkers := func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, serviceworker.Enable, cdp.Empty{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, serviceworker.StopAllWorkers, cdp.Empty{})
		return chromedp.Void{}, err
	}
	if _, err := chromedp.Run(pg, chromedp.Action[chromedp.Void](stopWorkers)); err != nil {
		t.Fatalf("stop the Service Worker: %v", err)
	}
	var reloaded bool
	eval(t, pg, `(() => {
		const v = document.getElementById('v');
		// A new URL (the same torrent), so that Chromium does not reuse its
		// media cache: a new request from byte 0, through a new worker.
		v.src = v.src + '&again=1';
		v.play().catch(() => {});
		return true;
	})()`, &reloaded)
	waitJS(t, pg, "document.getElementById('v').currentTime > 1", "window.__st.err", dump, 30*time.Second)
	// A first visit: the <video> went to its stream URL at once, and the
	// page fetched that URL's first second of media in one request (the
	// pod's start route, webseed.StartHandler), which the player read from
	// the HTTP cache while the worker started (engine.js prefetchEarly).
	// Whatever the page or the engine fetched after it (pieces the player
	// needed before the engine ran, then the engine's own), no byte came
	// from the web seed twice: the early bytes were handed over, and the
	// restarted worker read none of them again. The exception is what the
	// start route sent after the page's prefetch, while the worker did not
	// control the page yet: the HTTP cache's continuation of the player's
	// open-ended first request (which the cache drops), and the player's
	// own next requests until the worker took over (more of them on a
	// loaded machine). Each is cut to webseed.ContinueBytes, and the page
	// does not see them.
	ranges := p.WebSeedRanges()
	t.Logf("web seed ranges: %v", ranges)
	if want := (servedRange{"start", fmt.Sprintf("bytes=0-%d", first-1)}); len(ranges) == 0 || ranges[0] != want {
		t.Errorf("web seed ranges %v, want the page's prefetch %v first", ranges, want)
	}
	type span struct{ from, to int64 }
	var got []span
	var beforeWorker int64
	for i, r := range ranges {
		var s span
		if _, err := fmt.Sscanf(r.rng, "bytes=%d-%d", &s.from, &s.to); err != nil {
			t.Fatalf("web seed range %q: %v", r.rng, err)
		}
		if i > 0 && r.route == "start" {
			if s.to-s.from+1 > webseed.ContinueBytes {
				t.Errorf("the start route sent %v after the first request: more than webseed.ContinueBytes", r)
			}
			beforeWorker += s.to - s.from + 1
			continue
		}
		for _, o := range got {
			if s.from <= o.to && o.from <= s.to {
				t.Errorf("web seed bytes %d-%d fetched twice (ranges %v)", max(s.from, o.from), min(s.to, o.to), ranges)
			}
		}
		got = append(got, s)
	}
	t.Logf("the player read %d bytes from the start route before the worker controlled the page", beforeWorker)
	if st := pageStats(t, pg); st.BadPieces != 0 {
		t.Errorf("bad pieces: %+v", st)
	}
}

// TestUploadSeedAndWebTorrentInterop: a page hashes and seeds a file (same
// info hash as the pod computes); the JavaScript webtorrent client
// downloads it from that page only; then, with the uploader gone, our peer
// downloads it from the webtorrent page only.
func TestUploadSeedAndWebTorrentInterop(t *testing.T) {
	p := startPod(t, false)
	b := browser(t)
	up, closeUp := tab(t, b, p.URL+"/test/upload.html?file=/webseed/clip.mp4&name=clip.mp4&tracker="+p.Tracker)
	waitJS(t, up, "window.__st.ready", "window.__st.err", "window.__st", 30*time.Second)
	var ih string
	eval(t, up, "window.__st.infoHash", &ih)
	if ih != hex.EncodeToString(p.InfoHash[:]) {
		t.Fatalf("page hashed info hash %s, pod %x", ih, p.InfoHash)
	}
	var progressCalls int
	eval(t, up, "window.__st.progress.length", &progressCalls)
	if progressCalls == 0 {
		t.Error("no hashing progress reported")
	}

	wt, _ := tab(t, b, p.URL+"/test/webtorrent.html?torrent=/t/noseed.torrent")
	waitJS(t, wt, "window.__wt.done", "window.__wt.err", "window.__wt", 60*time.Second)
	su := pageStats(t, up)
	if su.BytesUploaded < int64(len(p.Data)) {
		t.Errorf("uploader sent %d bytes, want ≥ %d", su.BytesUploaded, len(p.Data))
	}
	closeUp()

	d, _ := tab(t, b, p.URL+"/test/watch.html?torrent=/t/noseed.torrent&webseed=0&rate=4")
	const dump = "{st: window.__st, stats: window.__st.torrent && window.__st.torrent.stats()}"
	waitJS(t, d, "window.__st.events.includes('playing')", "window.__st.err", dump, 60*time.Second)
	waitJS(t, d, "(s => s.piecesHave === s.pieces)(window.__st.torrent.stats())", "window.__st.err", dump, 60*time.Second)
	sd := pageStats(t, d)
	if sd.BytesFromPeers < int64(len(p.Data)) || sd.BytesFromWebSeed != 0 {
		t.Errorf("downloader stats %+v, want all %d bytes from the webtorrent peer", sd, len(p.Data))
	}
	var wtUp float64
	eval(t, wt, "window.__wt.live().uploaded", &wtUp)
	if wtUp < float64(len(p.Data)) {
		t.Errorf("webtorrent page uploaded %.0f bytes", wtUp)
	}
}
