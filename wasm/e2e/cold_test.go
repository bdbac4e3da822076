//go:build !js

package e2e

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/server/seeder"
)

// TestColdVideoOverWebRTC (issue 20): the pod's seeder has the video
// registered but not loaded, as after a restart; the torrent the page
// opens has no web seed, so every byte must come over WebRTC. The browser
// engine's first announce on the WebSocket tracker must wake the seeder
// (the pod's wiring: the tracker's OnAnnounce calls Seeder.Touch), whose
// own announce then brings its offer to the page: no later announce finds
// it cold, and the page plays to the end with every byte from the seeder.
func TestColdVideoOverWebRTC(t *testing.T) {
	c := makeVideo(t)
	p := startPodWith(t, false, c)
	quiet := slog.New(slog.DiscardHandler)
	dataDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// An upload seeds once, recording piece completion; the restarted
	// pod's seeder only registers the stored .torrent and file.
	first, err := seeder.New(seeder.Config{DataDir: dataDir, ListenAddr: "127.0.0.1"}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.SeedVerified(ctx, p.Torrent, c.Path); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	tp := filepath.Join(t.TempDir(), "video.torrent")
	if err := os.WriteFile(tp, p.Torrent, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := seeder.New(seeder.Config{DataDir: dataDir, ListenAddr: "127.0.0.1", WebRTC: true}, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Register(p.InfoHash, tp, c.Path); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var announces, cold int
	p.setAnnounce(func(ih [20]byte) {
		if l, _ := s.Loaded(); l == 0 {
			mu.Lock()
			cold++
			mu.Unlock()
		}
		mu.Lock()
		announces++
		mu.Unlock()
		s.Touch(ih)
	})
	if l, r := s.Loaded(); l != 0 || r != 1 {
		t.Fatalf("before the page: %d loaded, %d registered; want 0, 1", l, r)
	}

	b := browser(t)
	const dump = "{st: window.__st, stats: window.__st.torrent && window.__st.torrent.stats(), t: document.getElementById('v').currentTime}"
	page, _ := tab(t, b, p.URL+"/test/watch.html?log=debug&torrent=/t/noseed.torrent&rate=8")
	waitJS(t, page, "window.__st.ready", "window.__st.err", dump, 60*time.Second)
	waitJS(t, page, "window.__st.events.includes('ended')", "window.__st.err", dump, 90*time.Second)
	waitJS(t, page, "(st => st.piecesHave === st.pieces)(window.__st.torrent.stats())", "window.__st.err", dump, 60*time.Second)
	st := pageStats(t, page)
	mu.Lock()
	t.Logf("page: %+v; announces seen by the tracker: %d, %d of them while the seeder was cold; seeder uploaded %d bytes", st, announces, cold, s.UploadedBytes())
	if cold != 1 {
		t.Errorf("%d announces found the video cold, want 1: the first must wake the seeder", cold)
	}
	mu.Unlock()
	if st.BytesFromServers < int64(len(p.Data)) || st.BytesFromWebSeed != 0 {
		t.Errorf("the page got %d bytes from the pod's seeder and %d from a web seed, want all %d from the seeder", st.BytesFromServers, st.BytesFromWebSeed, len(p.Data))
	}
	if r := p.WebSeedRanges(); len(r) != 0 {
		t.Errorf("the web seed was read: %v", r)
	}
	if up := s.UploadedBytes(); up < int64(len(p.Data)) {
		t.Errorf("the seeder uploaded %d bytes of %d", up, len(p.Data))
	}
	if st.BadPieces != 0 {
		t.Errorf("bad pieces: %+v", st)
	}
}
