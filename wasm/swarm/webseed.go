package swarm

import (
	"context"
	"fmt"
	"io"
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
		t.log.Debug("web seed fetch", "piece", pp.piece, "need", pp.need, "why", pp.why, "offered", pp.offered, "holders", t.availBrowse[pp.piece], "partial", pc.state == pieceDownloading,
			"browserRate", windowRate(t.stats.browsers), "playback", t.playback, "peers", len(t.peers))
		return pp.piece, true
	}
	return 0, false
}

// webseedFetch fetches piece i from the web seeds, in the order the
// chooser gives (seeds.go), falling back to the next when one fails.
func (t *Torrent) webseedFetch(ctx context.Context, i int) {
	defer func() {
		t.mu.Lock()
		t.pieces[i].webseed = false
		t.webseedBusy--
		t.announcePodLocked()
		t.mu.Unlock()
	}()
	var lastErr error
	size := t.info.PieceSize(i)
	t.mu.Lock()
	order := t.seeds.order(size, time.Now())
	t.mu.Unlock()
	for _, k := range order {
		t.mu.Lock()
		u := t.seeds.seeds[k].url
		start := time.Now()
		t.seeds.begin(k, size, start)
		t.mu.Unlock()
		data, m, err := t.fetchRange(ctx, webseedURL(u, t.info.Name), int64(i)*t.info.PieceLength, size)
		if err == nil && !t.verify(i, data, k) {
			err = fmt.Errorf("piece %d from %s failed verification", i, u)
		}
		t.mu.Lock()
		t.seeds.end(k, size, start)
		switch {
		case ctx.Err() != nil: // shutting down: not the seed's fault
			err = nil
		case err == nil:
			t.seeds.sample(k, m)
		default:
			t.seeds.failed(k, time.Now())
		}
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

// fetchRange reads n bytes at off from the web seed at u (one HTTP range
// request, 30 s at most), with its measurement for the chooser.
func (t *Torrent) fetchRange(ctx context.Context, u string, off, n int64) ([]byte, seedSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, seedSample{}, fmt.Errorf("web seed %s: %w", u, err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	start := time.Now()
	resp, err := t.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, seedSample{}, fmt.Errorf("web seed %s: %w", u, err)
	}
	headers := time.Now()
	defer resp.Body.Close()
	body := io.Reader(resp.Body)
	switch {
	case resp.StatusCode == http.StatusPartialContent:
	case resp.StatusCode == http.StatusOK && off == 0:
		// A server ignoring Range sends the whole file; the start is ours.
	default:
		return nil, seedSample{}, fmt.Errorf("web seed %s: status %s", u, resp.Status)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(body, data); err != nil {
		return nil, seedSample{}, fmt.Errorf("web seed %s: read %d bytes at %d: %w", u, n, off, err)
	}
	return data, seedSample{latency: headers.Sub(start), body: time.Since(headers), bytes: n}, nil
}

// AddWebSeedData hands the torrent bytes at off that the page already read
// from the web seed at url before the engine ran (the Service Worker's
// start-up reads, see web/static/engine/sw.js). All of them count in
// BytesFromWebSeed, since a pod served them, and in that seed's
// Stats.WebSeeds entry (url is a url-list entry or the file it names; any
// other address gets an entry of its own, never fetched from; "" counts
// in no entry); every whole piece among
// them that passes SHA-1 is stored as if the engine had fetched it, so it
// is fetched again from neither the web seed nor the pod's seeder, and
// other viewers can get it from this one. Partial pieces at either end
// are dropped. It returns how many pieces it stored.
func (t *Torrent) AddWebSeedData(ctx context.Context, url string, off int64, data []byte) int {
	if off < 0 || off >= t.info.Length || len(data) == 0 {
		return 0
	}
	data = data[:min(int64(len(data)), t.info.Length-off)]
	t.mu.Lock()
	t.stats.fromWebSeed += int64(len(data))
	if k := t.seeds.early(url, t.info.Name, t.originSeed); k >= 0 {
		t.seeds.received(k, int64(len(data)))
	}
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
