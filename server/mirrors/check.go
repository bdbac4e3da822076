package mirrors

import (
	"context"
	"crypto/sha1" //nolint:gosec // BitTorrent v1 piece hashes are SHA-1 (BEP 3)
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// Scores is the friends' scoring (server/federation): a mirror that
// fails a check costs its pod score, as a failed delivery does.
type Scores interface {
	Penalize(friend, reason string)
}

// SetScores sets the friends' scoring. Call it once, before Run.
func (m *Manager) SetScores(s Scores) { m.scores = s }

// errBadBytes is a mirror's range answered with bytes whose SHA-1 is not
// the piece's.
var errBadBytes = errors.New("mirrors: the piece's bytes fail its hash")

// checkMirrors is the origin's side of issue 18's health rule: for each
// of this pod's own videos that friends mirror (bucketChecked, kept by
// MirrorTx), it asks each mirror's web
// seed for one random piece and checks its SHA-1 against the video's
// torrent. A mirror that cannot answer the range costs its pod score
// (federation ejects a pod that keeps failing, and its mirrors go with
// it); one that serves bad bytes also comes off the video's mirrors at
// once, so the url-list, magnet and video object stop naming it.
func (m *Manager) checkMirrors(ctx context.Context) {
	var ids []string
	if err := m.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketChecked)).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	}); err != nil {
		m.log.Warn("mirrors: list mirrored videos", "err", err)
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		v, err := m.cat.Get(id)
		if err == nil && v.Local && len(v.Mirrors) > 0 {
			m.checkVideo(ctx, v)
			continue
		}
		// Removed, or no mirror left: nothing to check any more.
		_ = m.st.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucketChecked)).Delete([]byte(id)) })
	}
}

func (m *Manager) checkVideo(ctx context.Context, v api.Video) {
	tb, err := m.cat.LocalTorrent(v.ID)
	if err != nil {
		return
	}
	mi, _, err := torrentfile.Parse(tb)
	if err != nil || mi.Info.NumPieces() == 0 {
		return
	}
	for _, mirror := range v.Mirrors {
		if mirror.Pod == m.cfg.SelfURL {
			continue
		}
		i := rand.IntN(mi.Info.NumPieces())
		err := m.checkPiece(ctx, mirror.WebseedURL, mi.Info, i)
		if err == nil || ctx.Err() != nil {
			continue
		}
		m.metrics.checkFailures.Inc()
		m.log.Warn("mirrors: a mirror failed its range check", "video", v.ID, "mirror", mirror.Pod, "piece", i, "err", err)
		if m.scores != nil {
			m.scores.Penalize(mirror.Pod, "its mirror failed a range check")
		}
		if !errors.Is(err, errBadBytes) {
			continue
		}
		ref := fedproto.MirrorRef{VideoPod: m.cfg.SelfURL, VideoID: v.ID, InfoHash: v.InfoHash,
			WebseedURL: mirror.WebseedURL, TorrentURL: mirror.TorrentURL}
		if _, err := m.cat.SetMirror(mirror.Pod, ref, false); err != nil {
			m.log.Warn("mirrors: drop a bad mirror", "video", v.ID, "mirror", mirror.Pod, "err", err)
		}
	}
}

// checkPiece fetches piece i from a web seed with a Range request,
// through the guarded client within requestTimeout, and checks its hash.
func (m *Manager) checkPiece(ctx context.Context, webseed string, info torrentfile.Info, i int) error {
	off, n := int64(i)*info.PieceLength, info.PieceSize(i)
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, webseed, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	resp, err := m.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("mirrors: range check: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		return fmt.Errorf("mirrors: range check: %s", resp.Status)
	}
	h := sha1.New() //nolint:gosec // see import
	if got, err := io.Copy(h, io.LimitReader(resp.Body, n)); err != nil || got != n {
		return fmt.Errorf("mirrors: range check: read %d of %d bytes: %v", got, n, err)
	}
	if [20]byte(h.Sum(nil)) != info.PieceHash(i) {
		return errBadBytes
	}
	return nil
}
