//go:build !js

package e2e

import (
	"context"
	"encoding/hex"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// steadyEgress waits until the pod's egress has not moved for 8 s (the
// engine has filled its pod horizon: pieces may wait a few seconds for
// browser peers first) and returns it.
func steadyEgress(t *testing.T, p *pod) int64 {
	t.Helper()
	last, since := int64(-1), time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if !testenv.Poll(ctx, func() bool {
		if s, w := p.Egress(t); s+w != last {
			last, since = s+w, time.Now()
			return false
		}
		return time.Since(since) >= 8*time.Second
	}) {
		t.Fatalf("the pod's egress never settled (last %d)", last)
	}
	return last
}

// persistTab opens url in a new tab of the browser after setting how the
// browser answers the origin's navigator.storage.persist() (Chromium
// grants or denies it without asking, by the site's engagement: the test
// decides instead).
func persistTab(t *testing.T, bctx context.Context, origin, url string, answer cdpbrowser.PermissionSetting) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: "persistent-storage"}, Setting: answer, Origin: origin,
		})
		return err
	})); err != nil {
		t.Fatalf("set the persistent storage permission: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	return ctx
}

// persistCalls is how often the engine called navigator.storage.persist()
// in the page (test/watch.html counts).
func persistCalls(t *testing.T, pg context.Context) int {
	t.Helper()
	var n int
	eval(t, pg, "window.__st.persistCalls", &n)
	return n
}

// TestReloadPlaysFromBrowserStorage: a viewer plays the first 8 s of a
// 60 s clip (the watch page's flow) and pauses; the engine has written
// every verified piece to the browser's storage (OPFS). The page is
// reloaded and plays the first 6 s again: the pod (seeder uploaded + web
// seed served bytes, from its /metrics) sends nothing more, since the
// reloaded engine starts with those pieces and the Service Worker skips
// its web seed start for a stored video. The first visit asked the
// browser once to keep its storage (navigator.storage.persist(), granted
// here), after the engine had stored pieces; the reload, which stores
// nothing new, does not ask. Then the viewer clears the
// storage: nothing stays on disk, and the next reload fetches (and stores)
// again.
func TestReloadPlaysFromBrowserStorage(t *testing.T) {
	c := makeClip(t, 60, 3000)
	p := startPodWith(t, true, c)
	b := browser(t)
	const dump = "{st: window.__st, stats: window.__st.torrent && window.__st.torrent.stats(), t: document.getElementById('v').currentTime}"
	pg := persistTab(t, b, p.URL, p.URL+"/test/watch.html?torrent=/t/video.torrent&early="+hex.EncodeToString(p.InfoHash[:])+earlyMeta(p, 60), cdpbrowser.PermissionSettingGranted)
	playThenPause(t, pg, 8)
	persistedAll := "(s => s.piecesHave > 0 && s.piecesPersisted === s.piecesHave)(window.__st.torrent.stats())"
	waitJS(t, pg, persistedAll, "window.__st.err", dump, 60*time.Second)
	first := steadyEgress(t, p)
	waitJS(t, pg, persistedAll, "window.__st.err", dump, 60*time.Second)
	s1 := pageStats(t, pg)
	var usage struct {
		Backend   string `json:"backend"`
		Bytes     int64  `json:"bytes"`
		Budget    int64  `json:"budget"`
		Persisted bool   `json:"persisted"`
	}
	eval(t, pg, "window.__st.engine.storage()", &usage)
	t.Logf("first visit: pod sent %.2f MB; engine %+v; storage %+v", float64(first)/1e6, s1, usage)
	if usage.Backend != "opfs" || usage.Bytes < int64(s1.PiecesHave-1)*p.pieceLength() || usage.Budget <= 0 {
		t.Fatalf("storage after the first visit: %+v, want OPFS holding the %d verified pieces", usage, s1.PiecesHave)
	}
	if n := persistCalls(t, pg); n != 1 || !usage.Persisted {
		t.Errorf("first visit: persist() called %d times, storage persisted %v; want once, and granted", n, usage.Persisted)
	}

	reload := func() {
		t.Helper()
		if _, err := chromedp.Run(pg, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		waitJS(t, pg, "window.__st.ready", "window.__st.err", dump, 60*time.Second)
	}
	reload()
	var atOpen stats
	eval(t, pg, "window.__st.openStats", &atOpen)
	// playEarly looked for the stored start in IndexedDB too, where this
	// origin has no database: looking must not have made one.
	var idbs []string
	eval(t, pg, "indexedDB.databases().then(ds => ds.map(d => d.name))", &idbs)
	if len(idbs) != 0 {
		t.Errorf("IndexedDB databases after the reload: %q, want none (the engine stores in OPFS)", idbs)
	}
	if atOpen.PiecesHave < s1.PiecesHave {
		t.Errorf("the reloaded engine opened with %d pieces, want the %d stored", atOpen.PiecesHave, s1.PiecesHave)
	}
	playThenPause(t, pg, 6)
	playedFromStoredStart(t, pg)
	second := steadyEgress(t, p) - first
	s2 := pageStats(t, pg)
	t.Logf("second visit: pod sent %d bytes; engine %+v", second, s2)
	if n := persistCalls(t, pg); n != 0 {
		t.Errorf("the reload, which stored nothing new, called persist() %d times", n)
	}
	if second > p.pieceLength() {
		t.Errorf("the reload cost the pod %d bytes (web seed %d, seeder %d in the engine's stats), want about 0: everything played was stored",
			second, s2.BytesFromWebSeed, s2.BytesFromServers)
	}
	if s2.BadPieces != 0 || s2.BadStored != 0 {
		t.Errorf("bad pieces after the reload: %+v", s2)
	}

	eval(t, pg, "window.__st.engine.clearStorage()", &usage)
	var files int
	eval(t, pg, `(async ih => { let n = 0; try {
		const d = await (await (await navigator.storage.getDirectory()).getDirectoryHandle('swarmtube-pieces')).getDirectoryHandle(ih);
		for await (const name of d.keys()) if (name.startsWith('p')) n++;
	} catch (e) {} return n })('`+hex.EncodeToString(p.InfoHash[:])+`')`, &files)
	s3 := pageStats(t, pg)
	if usage.Bytes != 0 || files != 0 || s3.PiecesPersisted != 0 {
		t.Fatalf("after clearing: storage %+v, %d piece files left, engine %+v", usage, files, s3)
	}
	reload()
	playThenPause(t, pg, 6)
	steadyEgress(t, p)
	s4 := pageStats(t, pg)
	fetched := s4.BytesFromWebSeed + s4.BytesFromServers + s4.BytesFromPeers
	// The engine's web seed ranges are cacheable (server/webseed), so the
	// browser's HTTP cache may answer them instead of the pod: count what
	// the engine fetched, not the pod's egress.
	t.Logf("after clearing, the reloaded engine fetched %.2f MB: %+v", float64(fetched)/1e6, s4)
	if fetched < first/2 || s4.PiecesPersisted == 0 {
		t.Errorf("after clearing, the reloaded engine fetched only %d bytes (first visit %d) and stored %d pieces: was anything cleared?", fetched, first, s4.PiecesPersisted)
	}
}

// TestIndexedDBFallbackAndSeeding: the same with the IndexedDB store (what
// a browser whose pages cannot write OPFS gets): a reload plays the
// stored pieces without the pod sending a byte: playEarly finds the
// video's start in IndexedDB as in OPFS, and skips its web seed start.
// The browser denies persistent storage here (navigator.storage.persist()):
// the engine asks once, storage() says not persisted, and nothing else
// changes. Then a viewer in another browser, keeping nothing, joins: the
// reloaded page seeds it from storage.
func TestIndexedDBFallbackAndSeeding(t *testing.T) {
	c := makeClip(t, 30, 2000)
	p := startPodWith(t, true, c)
	b := browser(t)
	const dump = "{st: window.__st, stats: window.__st.torrent && window.__st.torrent.stats(), t: document.getElementById('v').currentTime}"
	early := "&early=" + hex.EncodeToString(p.InfoHash[:]) + earlyMeta(p, 30)
	pg := persistTab(t, b, p.URL, p.URL+"/test/watch.html?backend=indexeddb&torrent=/t/video.torrent"+early, cdpbrowser.PermissionSettingDenied)
	playThenPause(t, pg, 5)
	persistedAll := "(s => s.piecesHave === s.pieces && s.piecesPersisted === s.piecesHave)(window.__st.torrent.stats())"
	waitJS(t, pg, persistedAll, "window.__st.err", dump, 60*time.Second)
	first := steadyEgress(t, p)
	var usage struct {
		Backend   string `json:"backend"`
		Bytes     int64  `json:"bytes"`
		Persisted *bool  `json:"persisted"`
	}
	eval(t, pg, "window.__st.engine.storage()", &usage)
	if usage.Backend != "indexeddb" || usage.Bytes != int64(len(c.Data)) {
		t.Fatalf("storage %+v, want indexeddb holding the whole clip (%d bytes)", usage, len(c.Data))
	}
	if n := persistCalls(t, pg); n != 1 || usage.Persisted == nil || *usage.Persisted {
		t.Errorf("persist() called %d times, storage persisted %v; want once, and denied (false)", n, usage.Persisted)
	}
	if _, err := chromedp.Run(pg, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitJS(t, pg, "window.__st.ready", "window.__st.err", dump, 60*time.Second)
	var atOpen stats
	eval(t, pg, "window.__st.openStats", &atOpen)
	playThenPause(t, pg, 4)
	playedFromStoredStart(t, pg)
	second := steadyEgress(t, p) - first
	s2 := pageStats(t, pg)
	t.Logf("first visit: pod sent %.2f MB; reload: %d bytes; engine at open %+v", float64(first)/1e6, second, atOpen)
	if atOpen.PiecesHave != atOpen.Pieces {
		t.Errorf("the reloaded engine opened with %d of %d pieces from IndexedDB", atOpen.PiecesHave, atOpen.Pieces)
	}
	if second != 0 {
		t.Errorf("the reload cost the pod %d bytes, want 0: every piece was in IndexedDB (web seed %d, seeder %d in the engine's stats)",
			second, s2.BytesFromWebSeed, s2.BytesFromServers)
	}

	other, _ := tab(t, browser(t), p.URL+"/test/watch.html?storage=0&torrent=/t/video.torrent"+early)
	playThenPause(t, other, 5)
	waitJS(t, other, "(s => s.piecesHave === s.pieces)(window.__st.torrent.stats())", "window.__st.err", dump, 60*time.Second)
	so, sa := pageStats(t, other), pageStats(t, pg)
	t.Logf("new viewer %+v; reloaded page %+v", so, sa)
	if so.BytesFromPeers-so.BytesFromServers == 0 || sa.BytesUploaded == 0 {
		t.Errorf("the reloaded page seeded nothing from its storage: viewer %+v, page %+v", so, sa)
	}
}

// playedFromStoredStart checks that a reloaded page read the video's stored
// start itself (engine.js readStoredStart) and served the player from it:
// its first frame came before the engine had loaded (which waits for it),
// not from the engine once it had opened the torrent; and that the <video>
// got its stream before that look-up answered, not after (engine.js
// playLooking: they run side by side).
func playedFromStoredStart(t *testing.T, pg context.Context) {
	t.Helper()
	var order struct{ Playing, Engine float64 }
	eval(t, pg, "({playing: window.__st.firstPlayingMs, engine: window.__st.engineMs})", &order)
	if !(order.Playing > 0 && order.Playing < order.Engine) {
		t.Errorf("reload: first playing at %.0f ms, the engine ready at %.0f ms: the player waited for the engine instead of the page's stored start", order.Playing, order.Engine)
	}
	var marks struct{ Src, Stored float64 }
	eval(t, pg, "import('/static/engine/engine.js').then((m) => m.startupMarks()).then((m) => ({src: m.src || 0, stored: m.stored || 0}))", &marks)
	if !(marks.Src > 0 && marks.Stored > 0 && marks.Src <= marks.Stored) {
		t.Errorf("reload: the <video> got its stream at %.0f ms, the stored look-up answered at %.0f ms: the player waited for the look-up", marks.Src, marks.Stored)
	}
}
