//go:build !js

package e2e

import (
	"context"
	"encoding/hex"
	"strconv"
	"testing"
	"time"
)

// playThenPause lets a page's video play until its playhead passes secs, then
// pauses it.
func playThenPause(t *testing.T, ctx context.Context, secs float64) {
	t.Helper()
	const dump = "{st: window.__st, t: document.getElementById('v').currentTime}"
	waitJS(t, ctx, "document.getElementById('v').currentTime >= "+ftoa(secs), "window.__st.err", dump, 60*time.Second)
	var ok bool
	eval(t, ctx, "(v => { v.pause(); return true })(document.getElementById('v'))", &ok)
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// TestPausedViewerCostsNoMoreThanPlainVideo: one viewer (the watch page's
// flow: playEarly, then the engine, with the pod's seeder and web seed)
// plays 5 s of a 60 s clip and pauses for 20 s. Beside it, on a second
// pod serving the same clip, a plain <video src=webseed> does the same.
// Each pod's egress (seeder uploaded + web seed served bytes, read from
// its /metrics) is compared: ours must be at most 1.1× the plain one.
// Before the pod budget the engine took the whole file from the pod's
// seeder (1.6×).
func TestPausedViewerCostsNoMoreThanPlainVideo(t *testing.T) {
	c := makeClip(t, 60, 3000)
	ours := startPodWith(t, true, c)
	plain := startPodWith(t, false, c)
	bo, bp := browser(t), browser(t)
	po, _ := tab(t, bo, ours.URL+"/test/watch.html?torrent=/t/video.torrent&early="+hex.EncodeToString(ours.InfoHash[:])+earlyMeta(ours, 60))
	pp, _ := tab(t, bp, plain.URL+"/test/plain.html?src=/webseed/clip.mp4")
	done := make(chan struct{})
	go func() {
		defer close(done)
		playThenPause(t, pp, 5)
	}()
	playThenPause(t, po, 5)
	<-done
	time.Sleep(20 * time.Second) // timed: behaviour: both viewers stay paused 20 s, whose cost is measured
	sO, wO := ours.Egress(t)
	ps, pw := plain.Egress(t)
	st := pageStats(t, po)
	var tOurs, tPlain float64
	eval(t, po, "document.getElementById('v').currentTime", &tOurs)
	eval(t, pp, "document.getElementById('v').currentTime", &tPlain)
	size := float64(len(c.Data))
	t.Logf("clip %.1f MB; ours: seeder %.2f MB + web seed %.2f MB (paused at %.1f s; engine: %+v); plain: web seed %.2f MB (paused at %.1f s)",
		size/1e6, float64(sO)/1e6, float64(wO)/1e6, tOurs, st, float64(pw)/1e6, tPlain)
	oursB, plainB := float64(sO+wO), float64(ps+pw)
	if plainB < 0.2*size {
		t.Fatalf("the plain video fetched only %.2f MB of %.2f: the comparison means nothing", plainB/1e6, size/1e6)
	}
	ratio := oursB / plainB
	t.Logf("pod egress: ours %.2f MB, plain %.2f MB: %.2f× (limit 1.1×)", oursB/1e6, plainB/1e6, ratio)
	if ratio > 1.1 {
		t.Errorf("the engine cost the pod %.2f× a plain <video> (%.2f MB vs %.2f MB), want ≤ 1.1×", ratio, oursB/1e6, plainB/1e6)
	}
}

// TestTwoViewersShareOneCopy: two viewers (the watch page's flow) start
// 3 s apart and watch a 60 s clip to the end at 4× speed: the pod
// (seeder + web seed, from /metrics) sends at most 1.1 copies of the file.
func TestTwoViewersShareOneCopy(t *testing.T) {
	c := makeClip(t, 60, 3000)
	p := startPodWith(t, true, c)
	watch := p.URL + "/test/watch.html?rate=4&torrent=/t/video.torrent&early=" + hex.EncodeToString(p.InfoHash[:]) + earlyMeta(p, 60)
	const dump = "{st: window.__st, stats: window.__st.torrent && window.__st.torrent.stats(), t: document.getElementById('v').currentTime}"
	ba, bb := browser(t), browser(t)
	a, _ := tab(t, ba, watch)
	time.Sleep(3 * time.Second) // timed: scenario: the second viewer arrives 3 s after the first
	b, _ := tab(t, bb, watch)
	for _, pg := range []context.Context{a, b} {
		waitJS(t, pg, "window.__st.events.includes('ended')", "window.__st.err", dump, 120*time.Second)
	}
	s, w := p.Egress(t)
	sa, sb := pageStats(t, a), pageStats(t, b)
	size := float64(len(c.Data))
	copies := float64(s+w) / size
	t.Logf("clip %.1f MB; pod: seeder %.2f MB + web seed %.2f MB = %.3f copies (limit 1.1); A %+v; B %+v",
		size/1e6, float64(s)/1e6, float64(w)/1e6, copies, sa, sb)
	if copies > 1.1 {
		t.Errorf("the pod sent %.3f copies of the file to two viewers 3 s apart, want ≤ 1.1", copies)
	}
	if sb.BadPieces+sa.BadPieces != 0 {
		t.Errorf("bad pieces: A %+v, B %+v", sa, sb)
	}
}
