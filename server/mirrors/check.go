package mirrors

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // BitTorrent v1 piece hashes are SHA-1 (BEP 3)
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// errBadBytes is a mirror's range answered with bytes whose SHA-1 is not
// the piece's.
var errBadBytes = errors.New("mirrors: the piece's bytes fail its hash")

// bucketSuspended holds the copies of this pod's videos taken off their
// video's mirrors for a failed range check: video id, NUL, mirror pod →
// suspended JSON. They are checked again at every pass and listed again
// once one passes.
const bucketSuspended = "mirrors_suspended"

type suspended struct {
	Pod    string             `json:"pod"`
	Ref    fedproto.MirrorRef `json:"ref"`
	Since  time.Time          `json:"since"`
	Reason string             `json:"reason"`
}

func suspendedKey(id, pod string) []byte { return []byte(id + "\x00" + pod) }

// checkMirrors is the origin's side of issue 18's health rule: for each
// of this pod's own videos that friends mirror (bucketChecked, kept by
// MirrorTx), it asks each mirror's web seed for one random piece and
// checks its SHA-1 against the video's torrent. A mirror that fails (no
// answer, no range, bad bytes) costs its pod score, as a failed delivery
// does (federation ejects a pod that keeps failing, and its mirrors go
// with it), and comes off the video's mirrors at once, so the url-list,
// magnet and video object stop naming it; it is kept suspended
// (bucketSuspended) and checked again at every pass, and listed again
// once a check passes.
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
		sus := m.suspendedOf(id)
		if err == nil && v.Local && len(v.Mirrors)+len(sus) > 0 {
			m.checkVideo(ctx, v, sus)
			continue
		}
		// Removed, or no mirror left: nothing to check any more.
		_ = m.st.Update(func(tx *bolt.Tx) error {
			if err := forgetSuspendedTx(tx, id, ""); err != nil {
				return err
			}
			return tx.Bucket([]byte(bucketChecked)).Delete([]byte(id))
		})
	}
}

// suspendedOf returns the suspended copies of this pod's video id.
func (m *Manager) suspendedOf(id string) []suspended {
	var out []suspended
	_ = m.st.View(func(tx *bolt.Tx) error {
		prefix := []byte(id + "\x00")
		c := tx.Bucket([]byte(bucketSuspended)).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var s suspended
			if json.Unmarshal(v, &s) == nil {
				out = append(out, s)
			}
		}
		return nil
	})
	return out
}

// forgetSuspendedTx forgets the suspended copies of video id: pod's, or
// every one for pod "".
func forgetSuspendedTx(tx *bolt.Tx, id, pod string) error {
	b := tx.Bucket([]byte(bucketSuspended))
	if pod != "" {
		return b.Delete(suspendedKey(id, pod))
	}
	_, err := store.DeleteWhere(b, []byte(id+"\x00"), func(_, _ []byte) bool { return true })
	return err
}

func (m *Manager) checkVideo(ctx context.Context, v api.Video, sus []suspended) {
	// The pieces of each file: the best file's, and those of the lower
	// resolutions mirrors list (by info hash), read once.
	infos := map[string]*torrentfile.Info{}
	infoOf := func(ih string) *torrentfile.Info {
		if info, ok := infos[ih]; ok {
			return info
		}
		infos[ih] = nil
		i := slices.IndexFunc(v.Files, func(f api.VideoFile) bool { return f.InfoHash == ih })
		res := 0
		switch {
		case ih == v.InfoHash:
		case i > 0:
			res = v.Files[i].Resolution
		default:
			return nil // not one of the video's files
		}
		tb, err := m.cat.LocalTorrent(v.ID, res)
		if err != nil {
			return nil
		}
		mi, got, err := torrentfile.Parse(tb)
		if err != nil || mi.Info.NumPieces() == 0 || hex.EncodeToString(got[:]) != ih {
			return nil
		}
		infos[ih] = &mi.Info
		return &mi.Info
	}
	if infoOf(v.InfoHash) == nil {
		return
	}
	type target struct {
		pod       string
		ref       fedproto.MirrorRef
		suspended bool
	}
	var targets []target
	for _, mirror := range v.Mirrors {
		if mirror.Pod != m.cfg.SelfURL {
			targets = append(targets, target{mirror.Pod, fedproto.MirrorRef{VideoPod: m.cfg.SelfURL, VideoID: v.ID, InfoHash: v.InfoHash,
				WebseedURL: mirror.WebseedURL, TorrentURL: mirror.TorrentURL, Files: mirror.Files}, false})
		}
	}
	for _, s := range sus {
		if !slices.ContainsFunc(v.Mirrors, func(x api.Mirror) bool { return x.Pod == s.Pod }) {
			targets = append(targets, target{s.Pod, s.Ref, true})
		}
	}
	for _, t := range targets {
		// One random piece of every file the mirror lists: the best
		// file, and each lower resolution the video has.
		type check struct {
			webseed string
			info    *torrentfile.Info
		}
		checks := []check{{t.ref.WebseedURL, infoOf(v.InfoHash)}}
		for _, f := range t.ref.Files {
			if info := infoOf(f.InfoHash); info != nil {
				checks = append(checks, check{f.WebseedURL, info})
			}
		}
		var err error
		var i int
		var webseed string
		for _, c := range checks {
			i, webseed = rand.IntN(c.info.NumPieces()), c.webseed
			if err = m.checkPiece(ctx, c.webseed, *c.info, i); err != nil {
				break
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if t.suspended {
				m.setSuspended(t.pod, t.ref, false, "")
			}
			continue
		}
		m.metrics.checkFailures.Inc()
		m.log.Warn("mirrors: a mirror failed its range check", "video", v.ID, "mirror", t.pod, "piece", i, "webseed", webseed, "err", err)
		if m.cfg.Penalize != nil {
			m.cfg.Penalize(t.pod, "its mirror failed a range check")
		}
		if !t.suspended {
			m.setSuspended(t.pod, t.ref, true, err.Error())
		}
	}
}

// setSuspended takes pod's copy off its video's mirrors and keeps it
// suspended (on true), or lists it again (on false), in one transaction.
func (m *Manager) setSuspended(pod string, ref fedproto.MirrorRef, on bool, reason string) {
	err := m.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSuspended))
		k := suspendedKey(ref.VideoID, pod)
		if !on && b.Get(k) == nil {
			return nil // forgotten meanwhile (the pod unmirrored or went)
		}
		found, err := m.cat.SetMirrorTx(tx, pod, ref, !on)
		if err != nil && !errors.Is(err, fedproto.ErrInvalid) {
			return err
		}
		if !on || !found || err != nil {
			return b.Delete(k)
		}
		return store.PutJSON(b, k, suspended{Pod: pod, Ref: ref, Since: m.cfg.Now(), Reason: reason})
	})
	switch {
	case err != nil:
		m.log.Warn("mirrors: list or unlist a mirror after its range check", "video", ref.VideoID, "mirror", pod, "err", err)
	case on:
		m.log.Warn("took a mirror that failed its range check off the video", "video", ref.VideoID, "mirror", pod)
	default:
		m.log.Info("a suspended mirror passed its range check; listed again", "video", ref.VideoID, "mirror", pod)
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
