package swarm

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxWebSeedFetches bounds concurrent range requests per torrent.
const maxWebSeedFetches = 2

func (t *Torrent) webseedLoop(ctx context.Context) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-t.webseedWake:
		}
		for {
			t.mu.Lock()
			i, ok := t.webseedPickLocked(time.Now())
			if ok {
				t.pieces[i].webseed = true
				t.webseedBusy++
				t.announcePodLocked()
			}
			t.mu.Unlock()
			if !ok {
				break
			}
			t.wg.Add(1)
			go func() {
				defer t.wg.Done()
				t.webseedFetch(ctx, i)
			}()
		}
	}
}

// webseedPickLocked returns the first piece the pod may send now
// (podWantLocked) that is not being fetched already: by the web seed, or by
// a seeder peer of the pod that is not stalled.
func (t *Torrent) webseedPickLocked(now time.Time) (int, bool) {
	if t.webseedBusy >= maxWebSeedFetches || !now.After(t.webseedDown) {
		return 0, false
	}
	for _, pp := range t.podWantLocked(now) {
		pc := &t.pieces[pp.piece]
		if pc.webseed || t.serverFetchingLocked(pp.piece, now) {
			continue
		}
		t.log.Debug("web seed fetch", "piece", pp.piece, "need", pp.need, "offered", pp.offered, "browserRate", windowRate(t.stats.browsers), "playback", t.playback, "peers", len(t.peers))
		return pp.piece, true
	}
	return 0, false
}

func (t *Torrent) webseedFetch(ctx context.Context, i int) {
	defer func() {
		t.mu.Lock()
		t.pieces[i].webseed = false
		t.webseedBusy--
		t.announcePodLocked()
		t.mu.Unlock()
	}()
	var lastErr error
	t.mu.Lock()
	order := t.seeds.order(time.Now())
	t.mu.Unlock()
	for _, k := range order {
		u := t.webSeeds[k]
		data, err := t.fetchRange(ctx, webseedURL(u, t.info.Name), int64(i)*t.info.PieceLength, t.info.PieceSize(i))
		if err == nil && !t.verify(i, data, true) {
			err = fmt.Errorf("piece %d from %s failed verification", i, u)
		}
		t.mu.Lock()
		t.seeds.result(k, err == nil, time.Now())
		t.mu.Unlock()
		if err == nil {
			return
		}
		lastErr = err
	}
	t.log.Warn("web seed fetch failed", "piece", i, "err", lastErr)
	// The pod's seeder peers take over for a while (webseedUsableLocked),
	// and a broken web seed is not hammered.
	t.mu.Lock()
	t.webseedDown = time.Now().Add(webseedRetry)
	t.reprioritizeLocked()
	t.mu.Unlock()
}

// seedSet spreads the pod budget over several web seeds (the origin's and
// its mirrors', issue 18): each fetch starts at the next seed in turn, so
// n seeds share the load, and a seed whose fetch failed is tried last
// for webseedRetry. A piece is fetched from one seed at a time (its
// webseed flag), so no range is asked of two at once. Guarded by t.mu.
type seedSet struct {
	n    int
	next int
	down []time.Time // per seed: failed; tried last until then
}

// newSeedSet starts at a random seed, so that viewers' first fetches
// spread over the seeds too.
func newSeedSet(n int) seedSet {
	s := seedSet{n: n, down: make([]time.Time, n)}
	if n > 0 {
		s.next = rand.IntN(n)
	}
	return s
}

// order returns the seeds to try for one fetch: healthy ones from the
// next in turn, then resting ones.
func (s *seedSet) order(now time.Time) []int {
	var up, resting []int
	for j := range s.n {
		k := (s.next + j) % s.n
		if now.Before(s.down[k]) {
			resting = append(resting, k)
		} else {
			up = append(up, k)
		}
	}
	if s.n > 0 {
		s.next = (s.next + 1) % s.n
	}
	return append(up, resting...)
}

func (s *seedSet) result(k int, ok bool, now time.Time) {
	if ok {
		s.down[k] = time.Time{}
		return
	}
	s.down[k] = now.Add(webseedRetry)
}

// webseedRetry is how long the web seed rests after a failed fetch.
const webseedRetry = 10 * time.Second

// webseedURL applies BEP 19: a URL ending in "/" names a directory holding
// the file.
func webseedURL(u, name string) string {
	if strings.HasSuffix(u, "/") {
		return u + url.PathEscape(name)
	}
	return u
}

func (t *Torrent) fetchRange(ctx context.Context, u string, off, n int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("web seed %s: %w", u, err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	resp, err := t.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("web seed %s: %w", u, err)
	}
	defer resp.Body.Close()
	body := io.Reader(resp.Body)
	switch {
	case resp.StatusCode == http.StatusPartialContent:
	case resp.StatusCode == http.StatusOK && off == 0:
		// A server ignoring Range sends the whole file; the start is ours.
	default:
		return nil, fmt.Errorf("web seed %s: status %s", u, resp.Status)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(body, data); err != nil {
		return nil, fmt.Errorf("web seed %s: read %d bytes at %d: %w", u, n, off, err)
	}
	return data, nil
}

// AddWebSeedData hands the torrent bytes at off that the page already read
// from the web seed before the engine ran (the Service Worker's start-up
// reads, see web/static/engine/sw.js). All of them count in
// BytesFromWebSeed, since the pod served them; every whole piece among
// them that passes SHA-1 is stored as if the engine had fetched it, so it
// is fetched again from neither the web seed nor the pod's seeder, and
// other viewers can get it from this one. Partial pieces at either end
// are dropped. It returns how many pieces it stored.
func (t *Torrent) AddWebSeedData(ctx context.Context, off int64, data []byte) int {
	if off < 0 || off >= t.info.Length || len(data) == 0 {
		return 0
	}
	data = data[:min(int64(len(data)), t.info.Length-off)]
	t.mu.Lock()
	t.stats.fromWebSeed += int64(len(data))
	t.mu.Unlock()
	stored := 0
	pl := t.info.PieceLength
	for i := int((off + pl - 1) / pl); i < t.numPieces; i++ {
		begin := int64(i)*pl - off
		size := t.info.PieceSize(i)
		if begin+size > int64(len(data)) {
			break
		}
		piece := append([]byte(nil), data[begin:begin+size]...)
		sum, err := t.cfg.Hasher(ctx, piece)
		if err != nil || sum != t.info.PieceHash(i) {
			t.log.Warn("early web seed piece failed verification", "piece", i, "err", err)
			continue
		}
		t.mu.Lock()
		if t.pieces[i].state != pieceHave {
			t.pieceVerifiedLocked(i, piece)
			stored++
		}
		t.mu.Unlock()
	}
	return stored
}
