package main

// The viewer-behaviour benchmark (-mode viewers): viewers arrive on one
// video as a Poisson process, each watches a share of it drawn from a
// retention distribution, some pause and some seek, then leave (closing
// their engine: they stop seeding). It prints, for each N, the pod's bytes
// (seeder + web seed, measured) ÷ what plain <video> players doing the same
// cost a second pod in the same run (measured: a Chromium page with
// <video src> for each Chromium viewer, an HTTP client fetching like one
// for each native viewer, see watchPlainHTTP), the same against the older
// model (plainBytes), and the ideal: one copy of what anyone watched.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
	"github.com/swarmtube/swarmtube/wasm/engine"
	"github.com/swarmtube/swarmtube/wasm/swarm"
)

var (
	viewerNs   = flag.String("viewers-n", "1,2,8,32", "viewers: the N to run, comma-separated")
	vSeconds   = flag.Int("viewers-seconds", 60, "viewers: video length in seconds")
	vKbps      = flag.Int("viewers-kbps", 2000, "viewers: video bitrate (kbit/s of H.264)")
	arrivalWin = flag.Duration("arrivals", 60*time.Second, "viewers: mean time over which the N viewers arrive (Poisson, rate N/arrivals)")
	plainAhead = flag.Float64("plain-ahead", 32, "viewers: seconds of media a plain <video> fetches beyond its playhead "+
		"(measured: TestPausedViewerCostsNoMoreThanPlainVideo's plain page holds 14.1 of 23.0 MB of a 60 s clip paused at 5.1 s)")
	vSeed = flag.Uint64("seed", 1, "viewers: random seed of the scenario")
	// The native viewers here still start the old way (the worker's fixed
	// 1 MiB in 256 KiB reads, the engine 1.85 s after the start, measured
	// 2026-11-25); offload's -engine-delay (from the first frame, with the
	// page's start of now) is not this model's.
	vEngDelay = flag.Duration("viewers-engine-delay", 1850*time.Millisecond,
		"viewers: time from a native viewer's start to its engine opening the torrent")
)

// plan is one viewer's behaviour, in media seconds unless noted.
type plan struct {
	arrive   time.Duration // wall time after the run's start
	watch    float64       // media seconds it plays before leaving (at most to the end)
	pauseAt  float64       // media seconds played when it pauses; < 0: never
	pauseFor time.Duration // wall
	seekAt   float64       // media seconds played when it seeks; < 0: never
	seekTo   float64       // position it seeks to
	browser  bool
}

// watchShare draws the share of the video a viewer plays: 40% leave within
// the first 20%, 30% watch to the end, the rest leave uniformly in between
// — the retention shape issue 12 gives ("about 40% leave within the first
// 20% of the video and about 30% watch to the end").
func watchShare(r *rand.Rand) float64 {
	switch u := r.Float64(); {
	case u < 0.4:
		return 0.2 * r.Float64()
	case u < 0.7:
		return 1
	default:
		return 0.2 + 0.8*r.Float64()
	}
}

func makePlans(n int, seconds float64, browsers int, r *rand.Rand) []plan {
	ps := make([]plan, n)
	at := time.Duration(0)
	for i := range ps {
		if i > 0 { // exponential gaps: a Poisson process of rate n/arrivals
			at += time.Duration(r.ExpFloat64() * float64(*arrivalWin) / float64(n))
		}
		p := plan{arrive: at, watch: math.Max(1, watchShare(r)*seconds), pauseAt: -1, seekAt: -1}
		if r.Float64() < 0.3 { // some pause for a while
			p.pauseAt = r.Float64() * p.watch
			p.pauseFor = time.Duration(2+8*r.Float64()) * time.Second
		}
		if r.Float64() < 0.2 { // some seek forward
			p.seekAt = r.Float64() * p.watch / 2
			p.seekTo = math.Min(seconds-1, p.seekAt+r.Float64()*seconds/2)
		}
		ps[i] = p
	}
	// The Chromium pages are spread among the viewers, from the second on.
	for k := 0; k < browsers && n > 1; k++ {
		ps[1+k*(n-1)/browsers].browser = true
	}
	return ps
}

// interval is a played range [from, to) in media seconds.
type interval struct{ from, to float64 }

// result is what one viewer did.
type result struct {
	played     []interval
	stalls     int
	stalledFor time.Duration // simPlayer: wall time stalled after the start
	err        error
}

// simPlayer is the player of a native or plain-HTTP viewer, as Chromium's
// media element behaves: it starts once 1 s of media is buffered (or the
// whole file), then advances at the bitrate while bytes are buffered (a
// stall otherwise), and pauses and seeks where its plan says. Whatever
// feeds it adds to buffered under mu, counting only while gen is the one
// it read (a seek moves buffered to the new position and bumps gen).
type simPlayer struct {
	pl                plan
	size              int64
	byteRate, seconds float64
	begin             time.Time

	mu            sync.Mutex // guards pos, buffered, gen, paused
	pos, buffered int64
	gen           int
	paused        bool

	pausedUntil      time.Time
	startedAt        time.Time // its first frame; zero before
	started, stalled bool
	watched, from    float64
	res              result
}

func newSimPlayer(pl plan, size int64, byteRate, seconds float64) *simPlayer {
	return &simPlayer{pl: pl, size: size, byteRate: byteRate, seconds: seconds, begin: time.Now()}
}

// step plays dt seconds up to now. It returns the position after it (in
// bytes), whether the viewer seeked there, and whether it is done: it
// watched what its plan says or reached the end (its played intervals are
// complete then), or ran far past its plan (res.err says so).
func (p *simPlayer) step(now time.Time, dt float64) (at int64, seeked, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused && now.After(p.pausedUntil) {
		p.paused = false
	}
	if p.stalled {
		p.res.stalledFor += time.Duration(dt * float64(time.Second))
	}
	if !p.started {
		// It plays from its first frame on, not from the last tick
		// before: the playhead would lead the wall clock by a tick.
		if p.started = p.buffered >= min(p.size, int64(p.byteRate)); p.started {
			p.startedAt = now
		}
	} else if !p.paused {
		np := min(p.buffered, p.pos+int64(dt*p.byteRate))
		switch {
		case np == p.pos && p.pos < p.size && !p.stalled:
			p.res.stalls++
			p.stalled = true
		case np > p.pos:
			p.stalled = false
		}
		p.watched += float64(np-p.pos) / p.byteRate
		p.pos = np
	}
	cur := float64(p.pos) / p.byteRate
	switch {
	case p.pl.pauseAt >= 0 && p.watched >= p.pl.pauseAt:
		p.paused, p.pausedUntil = true, now.Add(p.pl.pauseFor)
		p.pl.pauseAt = -1
	case p.pl.seekAt >= 0 && p.watched >= p.pl.seekAt:
		p.res.played = append(p.res.played, interval{p.from, cur})
		p.from = p.pl.seekTo
		p.pos = int64(p.pl.seekTo * p.byteRate)
		p.buffered, p.gen = p.pos, p.gen+1
		p.pl.seekAt = -1
		seeked = true
	}
	switch {
	case p.watched >= p.pl.watch || p.pos >= p.size:
		p.res.played = append(p.res.played, interval{p.from, math.Min(p.seconds, float64(p.pos)/p.byteRate)})
		return p.pos, seeked, true
	case time.Since(p.begin) > time.Duration(3*p.seconds)*time.Second+p.pl.pauseFor+time.Minute:
		p.res.err = fmt.Errorf("did not finish its plan")
		p.res.played = append(p.res.played, interval{p.from, float64(p.pos) / p.byteRate})
		return p.pos, seeked, true
	}
	return p.pos, seeked, false
}

// playback is what engine.js reports for the player: a player holding the
// rest of the file is not starving, whatever is left of it.
func (p *simPlayer) playback() swarm.Playback {
	p.mu.Lock()
	defer p.mu.Unlock()
	buf := float64(p.buffered-p.pos) / p.byteRate
	if p.buffered >= p.size {
		buf = 1e9
	}
	return swarm.Playback{Position: float64(p.pos) / p.byteRate, Duration: p.seconds, Rate: 1, Paused: p.paused, Buffer: buf}
}

// run calls tick every 50 ms with the time elapsed since the last one,
// until it reports done.
func run(tick func(now time.Time, dt float64) (done bool)) {
	last := time.Now()
	for {
		time.Sleep(50 * time.Millisecond)
		now := time.Now()
		dt := now.Sub(last).Seconds()
		last = now
		if tick(now, dt) {
			return
		}
	}
}

func viewersBench() {
	path := encodeVideo(*vSeconds, *vKbps)
	defer os.RemoveAll(pathDir(path))
	fi, err := os.Stat(path)
	if err != nil {
		log.Fatal(err)
	}
	size := fi.Size()
	seconds := float64(*vSeconds)
	fmt.Printf("viewers: %d s H.264/AAC MP4, %.1f MB; arrivals Poisson over ~%v; watch share: 40%% < 20%%, 30%% to the end, 30%% between (issue 12); "+
		"30%% pause 2-10 s, 20%% seek forward; plain <video> modelled as fetching %.0f s beyond its playhead\n",
		*vSeconds, float64(size)/1e6, *arrivalWin, *plainAhead)
	for _, f := range strings.Split(*viewerNs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("-viewers-n: %q", f)
		}
		r := rand.New(rand.NewPCG(*vSeed, uint64(n)))
		nb := 0
		if n > 1 {
			nb = min(*browsers, n-1)
		}
		plans := makePlans(n, seconds, nb, r)
		runViewers(path, size, seconds, plans)
	}
}

func pathDir(p string) string { return p[:strings.LastIndex(p, "/")] }

func runViewers(path string, size int64, seconds float64, plans []plan) {
	p := newPod(path, seconds, true)
	defer p.close()
	mi, ih, err := torrentfile.Parse(p.torrent)
	if err != nil {
		log.Fatal(err)
	}
	byteRate := float64(size) / seconds
	// Plain <video> players doing the same, measured in the same run
	// against a pod of their own (web seed only): a Chromium page with
	// <video src> for each Chromium viewer, an HTTP client that fetches like
	// one (watchPlainHTTP) for each native viewer.
	plainPod := newPod(path, seconds, false)
	defer plainPod.close()
	plainRes := make([]result, len(plans))
	res := make([]result, len(plans))
	var wg sync.WaitGroup
	start := time.Now()
	for i, pl := range plans {
		time.Sleep(time.Until(start.Add(pl.arrive)))
		wg.Add(2)
		go func() {
			defer wg.Done()
			if pl.browser {
				plainRes[i] = watchInBrowser(plainPod.srv.URL+"/bench/plain.html", pl, seconds)
				return
			}
			plainRes[i] = watchPlainHTTP(plainPod.srv.URL+"/webseed/video.mp4", size, byteRate, seconds, pl)
		}()
		go func() {
			defer wg.Done()
			if pl.browser {
				res[i] = watchInBrowser(p.srv.URL+"/bench/ours.html", pl, seconds)
				return
			}
			opt := engine.Options{}
			if *debug {
				opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("viewer", i)
			}
			res[i] = watchNative(p.srv.URL+"/webseed/video.mp4", size, byteRate, seconds, pl,
				func() (*engine.Session, error) { return engine.Start(mi, ih, opt) })
		}()
	}
	wg.Wait()
	pod := p.seeder.UploadedBytes() + p.webseedOut.Load()
	var plain float64
	var all []interval
	stalls, errs := 0, 0
	for i, r := range res {
		if r.err != nil {
			errs++
			fmt.Printf("    viewer %d: %v\n", i, r.err)
		}
		plain += plainBytes(r.played, seconds, byteRate, size)
		all = append(all, r.played...)
		stalls += r.stalls
	}
	ideal := unionLen(all) * byteRate
	measured := float64(plainPod.webseedOut.Load())
	for i, r := range plainRes {
		if r.err != nil {
			errs++
			fmt.Printf("    plain viewer %d: %v\n", i, r.err)
		}
	}
	nb := 0
	for _, pl := range plans {
		if pl.browser {
			nb++
		}
	}
	fmt.Printf("  N=%-2d (%d Chromium, %d native) %4.0f s: pod %6.1f MB (seeder %.1f + web seed %.1f), plain <video> measured %6.1f MB (model %6.1f), ideal %5.1f MB: "+
		"pod/plain %.3f (model: %.3f), ideal/plain %.3f; stalls %d, errors %d\n",
		len(plans), nb, len(plans)-nb, time.Since(start).Seconds(), float64(pod)/1e6, float64(p.seeder.UploadedBytes())/1e6,
		float64(p.webseedOut.Load())/1e6, measured/1e6, plain/1e6, ideal/1e6, float64(pod)/measured, float64(pod)/plain, ideal/measured, stalls, errs)
}

// plainBytes models what a plain <video> playing those intervals would
// fetch from the pod: each interval's bytes plus plainAhead seconds beyond
// its end (the buffer it held when the viewer seeked, paused or left),
// ranges it already holds not fetched twice.
func plainBytes(played []interval, seconds, byteRate float64, size int64) float64 {
	var fetched []interval
	for _, iv := range played {
		fetched = append(fetched, interval{iv.from, math.Min(seconds, iv.to+*plainAhead)})
	}
	return math.Min(float64(size), unionLen(fetched)*byteRate)
}

// unionLen is the length of the union of intervals.
func unionLen(ivs []interval) float64 {
	s := append([]interval(nil), ivs...)
	sort.Slice(s, func(i, j int) bool { return s[i].from < s[j].from })
	total, end := 0.0, math.Inf(-1)
	for _, iv := range s {
		if iv.from > end {
			total += iv.to - iv.from
			end = iv.to
		} else if iv.to > end {
			total += iv.to - end
			end = iv.to
		}
	}
	return total
}

// watchNative plays pl with a native engine behind a simulated player (as
// in offload: the Service Worker's early bytes first, reads up to 10 s
// ahead, playback reports), then closes the engine.
func watchNative(webSeed string, size int64, byteRate, seconds float64, pl plan, open func() (*engine.Session, error)) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v := &viewer{webSeed: webSeed, size: size, early: min(swConst("EARLY_BUDGET"), size), chunk: swConst("EARLY_CHUNK")}
	p := newSimPlayer(pl, size, byteRate, seconds)
	earlyDone := make(chan []byte, 1)
	var early atomic.Int64
	var earlyErr error
	go func() {
		data, err := v.readEarly(ctx, &early)
		earlyErr = err // read after the channel receive
		earlyDone <- data
	}()
	var sess *engine.Session
	defer func() {
		if sess != nil {
			sess.Close()
		}
	}()
	report := func() {
		if sess != nil {
			sess.Torrent.SetPlayback(p.playback())
		}
	}
	reader := func(s *engine.Session) {
		buf := make([]byte, 1<<20)
		for ctx.Err() == nil {
			p.mu.Lock()
			b, at, g := p.buffered, p.pos, p.gen
			p.mu.Unlock()
			if b >= size || float64(b-at) > 10*byteRate {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			n, err := s.Torrent.ReadAt(ctx, "player", buf, b)
			if err != nil && n == 0 {
				if ctx.Err() == nil {
					time.Sleep(20 * time.Millisecond)
				}
				continue
			}
			p.mu.Lock()
			if p.gen == g && p.buffered == b {
				p.buffered += int64(n)
			}
			p.mu.Unlock()
		}
	}
	engineAt := p.begin.Add(*vEngDelay)
	var earlyData []byte
	run(func(now time.Time, dt float64) bool {
		if earlyData == nil {
			select {
			case earlyData = <-earlyDone:
				if earlyErr != nil {
					p.res.err = earlyErr
					return true
				}
				p.mu.Lock()
				p.buffered = max(p.buffered, int64(len(earlyData)))
				p.mu.Unlock()
			default:
			}
		}
		if sess == nil && earlyData != nil && now.After(engineAt) {
			s, err := open()
			if err != nil {
				p.res.err = err
				return true
			}
			s.Torrent.AddWebSeedData(ctx, webSeed, 0, earlyData)
			sess = s
			go reader(s)
		}
		_, _, done := p.step(now, dt)
		report()
		return done
	})
	return p.res
}

// watchInBrowser plays pl in a headless Chromium page running the watch
// page's flow (ours.html), then closes the page.
func watchInBrowser(url string, pl plan, seconds float64) result {
	var res result
	bctx, stop := newBrowser()
	defer stop()
	ctx, cancel := chromedp.NewContext(bctx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		res.err = err
		return res
	}
	_, _ = evalJS[bool](ctx, `(() => { const v = document.getElementById('v'); window.__waits = 0;
		v.addEventListener('waiting', () => { if (window.__st.playingMs) window.__waits++; }); return true; })()`)
	if _, err := waitPlaying(ctx); err != nil {
		res.err = err
		return res
	}
	cur := func() float64 { t, _ := evalJS[float64](ctx, "document.getElementById('v').currentTime"); return t }
	watched, from, last := 0.0, 0.0, 0.0
	deadline := time.Now().Add(time.Duration(3*seconds)*time.Second + pl.pauseFor + time.Minute)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		t := cur()
		if t > last {
			watched += t - last
		}
		last = t
		switch {
		case pl.pauseAt >= 0 && watched >= pl.pauseAt:
			_, _ = evalJS[bool](ctx, "(v => { v.pause(); return true })(document.getElementById('v'))")
			time.Sleep(pl.pauseFor)
			_, _ = evalJS[bool](ctx, "(v => { v.play(); return true })(document.getElementById('v'))")
			pl.pauseAt = -1
		case pl.seekAt >= 0 && watched >= pl.seekAt:
			res.played = append(res.played, interval{from, t})
			_, _ = evalJS[bool](ctx, fmt.Sprintf("(v => { v.currentTime = %f; return true })(document.getElementById('v'))", pl.seekTo))
			from, last = pl.seekTo, pl.seekTo
			pl.seekAt = -1
		}
		if ended, _ := evalJS[bool](ctx, "document.getElementById('v').ended"); ended || watched >= pl.watch {
			res.played = append(res.played, interval{from, math.Min(seconds, last)})
			res.stalls, _ = evalJS[int](ctx, "window.__waits")
			if *debug {
				raw, _ := evalJS[string](ctx, "JSON.stringify(window.__st.torrent && window.__st.torrent.stats())")
				var st map[string]any
				_ = json.Unmarshal([]byte(raw), &st)
				log.Printf("browser viewer done: %v", st)
			}
			return res
		}
	}
	res.err = fmt.Errorf("the page did not finish its plan")
	res.played = append(res.played, interval{from, last})
	return res
}

// watchPlainHTTP plays pl as a plain <video src=webSeed> does, with a
// real HTTP client against a pod of its own: one open-ended range request
// from the playhead, read as the data arrives while less than plainAhead
// seconds of media are held beyond the playhead (then it stops reading, and
// what TCP already carried is the pod's cost too, as for a browser), a new
// request after a seek, the connection closed on leaving. Its player is the
// native viewers' (starts at 1 s held, plays at the bitrate, pauses and
// seeks as planned); the pod's web seed counts the bytes.
func watchPlainHTTP(webSeed string, size int64, byteRate, seconds float64, pl plan) result {
	p := newSimPlayer(pl, size, byteRate, seconds) // gen counts the requests: a cancelled one's last read is not counted
	ahead := int64(*plainAhead * byteRate)
	fetch := func(ctx context.Context, from int64, g int) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, webSeed, nil)
		if err != nil {
			return
		}
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		buf := make([]byte, 64<<10)
		for ctx.Err() == nil {
			p.mu.Lock()
			full := p.buffered-p.pos >= ahead
			p.mu.Unlock()
			if full {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			n, err := resp.Body.Read(buf)
			p.mu.Lock()
			if p.gen == g {
				p.buffered += int64(n)
			}
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}
	// stop ends the current request (a seek starts another, leaving ends it).
	stop := func() {}
	request := func(at int64) {
		stop()
		ctx, cancel := context.WithCancel(context.Background())
		stop = cancel
		p.mu.Lock()
		g := p.gen
		p.mu.Unlock()
		go fetch(ctx, at, g)
	}
	request(0)
	defer func() { stop() }()
	run(func(now time.Time, dt float64) bool {
		at, seeked, done := p.step(now, dt)
		if seeked && !done {
			request(at)
		}
		return done
	})
	return p.res
}
