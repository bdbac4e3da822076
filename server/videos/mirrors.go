package videos

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// Mirrors (issue 18): pods that hold a copy of a video are listed in its
// record (Video.Mirrors), at the origin and at every friend, so the video
// object, its magnet and (at the origin) its .torrent name them as extra
// web seeds and trackers. server/mirrors decides what is mirrored; this
// file keeps the lists.

// VideoKey returns the id under which this pod stores the video id of the
// pod at origin: id itself for this pod's own videos, the friend key
// otherwise. ok is false for a malformed origin or id.
func (s *Service) VideoKey(origin, id string) (key string, ok bool) {
	origin, err := normalizeOrigin(origin)
	if err != nil || !validLocalID(id) {
		return "", false
	}
	if origin == s.cfg.PodURL {
		return id, true
	}
	return remoteKey(origin, id), true
}

// SetMirrorTx adds (add true; it replaces what pod announced before) or
// removes, inside the caller's transaction, the copy pod holds of the
// video m names, with the lower resolutions it lists (m.Files; those of
// info hashes the video does not list are kept but used nowhere until it
// does). A video this pod does not know (removed meanwhile) is no error
// and reports found false; an info hash other than the best file's wraps
// fedproto.ErrInvalid.
func (s *Service) SetMirrorTx(tx *bolt.Tx, pod string, m fedproto.MirrorRef, add bool) (found bool, err error) {
	key, ok := s.VideoKey(m.VideoPod, m.VideoID)
	if !ok {
		return false, errRemote("mirror names no video")
	}
	rec, err := getTx(tx, key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if rec.Video.InfoHash != m.InfoHash {
		return true, errRemote("mirror info_hash %s is not the video's", m.InfoHash)
	}
	mirrors := slices.DeleteFunc(slices.Clone(rec.Video.Mirrors), func(x api.Mirror) bool { return x.Pod == pod })
	if add {
		if len(mirrors) >= fedproto.MaxMirrors {
			return true, errRemote("a video lists at most %d mirrors", fedproto.MaxMirrors)
		}
		mirrors = append(mirrors, api.Mirror{Pod: pod, WebseedURL: m.WebseedURL, TorrentURL: m.TorrentURL, Files: slices.Clone(m.Files)})
		slices.SortFunc(mirrors, func(a, b api.Mirror) int { return strings.Compare(a.Pod, b.Pod) })
	}
	if slices.EqualFunc(mirrors, rec.Video.Mirrors, sameMirror) {
		return true, nil
	}
	rec.Video.Mirrors = mirrors
	if len(mirrors) == 0 {
		rec.Video.Mirrors = nil
	}
	s.decorateMagnets(rec)
	return true, store.PutJSON(tx.Bucket([]byte(bucketVideos)), []byte(rec.Video.ID), rec)
}

func sameMirror(a, b api.Mirror) bool {
	return a.Pod == b.Pod && a.WebseedURL == b.WebseedURL && a.TorrentURL == b.TorrentURL && slices.Equal(a.Files, b.Files)
}

// DropMirrorsOfTx removes, inside the caller's transaction, every copy
// pod was listed as holding (it quit or was ejected).
func (s *Service) DropMirrorsOfTx(tx *bolt.Tx, pod string) error {
	b := tx.Bucket([]byte(bucketVideos))
	var ids []string
	needle := []byte(`"pod":"` + pod + `"`)
	if err := b.ForEach(func(k, v []byte) error {
		if bytes.Contains(v, []byte(`"mirrors"`)) && bytes.Contains(v, needle) {
			ids = append(ids, string(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, id := range ids { // collected first: writing under ForEach is not allowed
		rec, err := getTx(tx, id)
		if err != nil {
			return err
		}
		n := len(rec.Video.Mirrors)
		rec.Video.Mirrors = slices.DeleteFunc(rec.Video.Mirrors, func(x api.Mirror) bool { return x.Pod == pod })
		if len(rec.Video.Mirrors) == n {
			continue
		}
		if len(rec.Video.Mirrors) == 0 {
			rec.Video.Mirrors = nil
		}
		s.decorateMagnets(rec)
		if err := store.PutJSON(b, []byte(id), rec); err != nil {
			return err
		}
	}
	return nil
}

// holder is a mirror that holds one file of a video: its pod and its web
// seed of that file.
type holder struct{ pod, webseed string }

// holdersOf returns the mirrors of v that hold its file of infoHash:
// every mirror for the best file, those that list it in Files for a lower
// one.
func holdersOf(v api.Video, infoHash string) []holder {
	var out []holder
	for _, m := range v.Mirrors {
		if infoHash == v.InfoHash {
			out = append(out, holder{m.Pod, m.WebseedURL})
			continue
		}
		if i := slices.IndexFunc(m.Files, func(f api.MirrorFile) bool { return f.InfoHash == infoHash }); i >= 0 {
			out = append(out, holder{m.Pod, m.Files[i].WebseedURL})
		}
	}
	return out
}

// MirrorTrackers returns the trackers of v's mirrors, after the origin's
// own: the announce-list tiers a .torrent of v's best file carries.
func MirrorTrackers(v api.Video) [][]string { return mirrorTrackers(holdersOf(v, v.InfoHash)) }

func mirrorTrackers(hs []holder) [][]string {
	var tiers [][]string
	for _, h := range hs {
		ws, http := torrentfile.PodTrackers(h.pod)
		tiers = append(tiers, []string{ws}, []string{http})
	}
	return tiers
}

// decorateMagnets rewrites the magnets of rec's files (the best file's
// and every lower resolution's) so that each carries the origin's
// trackers and its web seed and then those of every mirror holding that
// file (BEP 9 tr, BEP 19 ws): trackers of other hosts and other web
// seeds, i.e. mirrors that went, are dropped. A magnet that does not
// parse is left alone.
func (s *Service) decorateMagnets(rec *record) {
	v := &rec.Video
	origin := v.Pod
	if v.Local || origin == "" {
		origin = s.cfg.PodURL
	}
	v.Magnet = decorateMagnet(v.Magnet, origin, v.WebseedURL, holdersOf(*v, v.InfoHash))
	for i, f := range rec.Lower {
		rec.Lower[i].Magnet = decorateMagnet(f.Magnet, origin, f.WebseedURL, holdersOf(*v, f.InfoHash))
	}
	rec.withFiles()
}

func decorateMagnet(magnet, origin, webseed string, hs []holder) string {
	m, err := torrentfile.ParseMagnet(magnet)
	if err != nil {
		return magnet
	}
	ows, ohttp := torrentfile.PodTrackers(origin)
	var trackers []string
	for _, tr := range m.Trackers {
		if tr == ows || tr == ohttp {
			trackers = append(trackers, tr)
		}
	}
	seeds := []string{webseed}
	for _, h := range hs {
		ws, http := torrentfile.PodTrackers(h.pod)
		trackers = append(trackers, ws, http)
		seeds = append(seeds, h.webseed)
	}
	return torrentfile.Magnet(m.InfoHash, m.Name, m.Length, trackers, seeds)
}

// keepMirrorsTx carries the mirrors this pod learnt for a friend's video
// over to a new copy of its record (an update event): the origin's list
// is taken only for a video this pod did not know yet, each entry checked
// like a mirror event.
func (s *Service) keepMirrorsTx(tx *bolt.Tx, rec *record) {
	if old, err := getTx(tx, rec.Video.ID); err == nil {
		rec.Video.Mirrors = old.Video.Mirrors
	} else {
		var ok []api.Mirror
		for _, m := range rec.Video.Mirrors {
			pod, err := fedproto.NormalizePodURL(m.Pod)
			if err != nil || pod == s.cfg.PodURL || len(ok) >= fedproto.MaxMirrors {
				continue
			}
			ref := fedproto.MirrorRef{VideoPod: rec.Origin, VideoID: rec.OriginID, InfoHash: rec.Video.InfoHash,
				WebseedURL: m.WebseedURL, TorrentURL: m.TorrentURL, Files: m.Files}
			if fedproto.CheckMirrorRef(pod, ref) == nil {
				ok = append(ok, api.Mirror{Pod: pod, WebseedURL: m.WebseedURL, TorrentURL: m.TorrentURL, Files: m.Files})
			}
		}
		rec.Video.Mirrors = ok
	}
	if len(rec.Video.Mirrors) == 0 {
		rec.Video.Mirrors = nil
	}
	s.decorateMagnets(rec)
}

// mirroredTorrent returns the stored .torrent of v's file of infoHash
// with the web seeds and trackers of the mirrors that hold that file
// added (outside the info dictionary: the info hash does not change).
func mirroredTorrent(data []byte, v api.Video, infoHash string) ([]byte, error) {
	hs := holdersOf(v, infoHash)
	if len(hs) == 0 {
		return data, nil
	}
	mi, _, err := torrentfile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("videos: parse stored torrent of %s: %w", v.ID, err)
	}
	for _, h := range hs {
		if !slices.Contains(mi.URLList, h.webseed) {
			mi.URLList = append(mi.URLList, h.webseed)
		}
	}
	for _, tier := range mirrorTrackers(hs) {
		if !slices.ContainsFunc(mi.AnnounceList, func(t []string) bool { return slices.Contains(t, tier[0]) }) {
			mi.AnnounceList = append(mi.AnnounceList, tier)
		}
	}
	return mi.Bencode()
}

// LocalTorrent returns the stored .torrent of this pod's own video id's
// file at resolution (0: the best file; else one of its lower
// resolutions, api.VideoFile.Resolution), as published: mirrors' range
// checks read piece hashes from it.
func (s *Service) LocalTorrent(id string, resolution int) ([]byte, error) {
	if !validLocalID(id) || resolution < 0 {
		return nil, ErrBadID
	}
	if resolution > 0 {
		return os.ReadFile(filepath.Join(s.torrentDir, renditionTorrent(id, resolution)))
	}
	return os.ReadFile(s.torrentPath(id))
}
