package videos

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
)

// TorrentFile is what GET /api/v1/videos/{id}/torrent answers: the
// .torrent's bytes and file name, or the URL it lives at (Redirect set,
// Data nil) when this pod does not serve it.
type TorrentFile struct {
	Data     []byte
	Name     string
	Redirect string
}

// Torrent returns the .torrent of video id's file at resolution (the
// short side in pixels, as in Video.Files; 0 for the best file). This
// pod's own files are served with the web seeds and trackers of the
// mirrors that hold them added; a friend's video's file redirects to its origin, unless
// this pod mirrors that file (issue 18). Errors: ErrBadID, ErrNotFound,
// 404 resolution_not_found.
func (s *Service) Torrent(id string, resolution int) (TorrentFile, error) {
	if !validID(id) {
		return TorrentFile{}, ErrBadID
	}
	var rec *record
	if err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = getTx(tx, id)
		return err
	}); err != nil {
		return TorrentFile{}, err
	}
	f, i := api.BestFile(rec.Video), 0
	if resolution != 0 {
		i = slices.IndexFunc(rec.Video.Files, func(f api.VideoFile) bool { return f.Resolution == resolution })
		if i < 0 {
			return TorrentFile{}, refuse(ErrNoResolution, "this video has no file at %dp", resolution)
		}
		f = rec.Video.Files[i]
	}
	name := id + ".torrent"
	if i > 0 {
		name = strings.TrimSuffix(renditionFile(id, f.Resolution), ".mp4") + ".torrent"
	}
	var stored []byte
	switch {
	case rec.Origin != "":
		// A file this pod mirrors is served from here, so the video does
		// not depend on its origin (issue 18); otherwise the origin's.
		var ok bool
		if s.cfg.MirrorTorrent != nil {
			stored, ok = s.cfg.MirrorTorrent(id, f.InfoHash)
		}
		if !ok {
			// cleanRemote checked the URL is on the origin pod.
			return TorrentFile{Redirect: f.TorrentURL}, nil
		}
	case i > 0:
		var err error
		stored, err = os.ReadFile(filepath.Join(s.torrentDir, renditionTorrent(id, f.Resolution)))
		if err != nil {
			return TorrentFile{}, fmt.Errorf("videos: read torrent %s at %dp: %w", id, f.Resolution, err)
		}
	default:
		var err error
		stored, err = os.ReadFile(s.torrentPath(id))
		if err != nil {
			return TorrentFile{}, fmt.Errorf("videos: read torrent %s: %w", id, err)
		}
		name = strings.TrimSuffix(filepath.Base(rec.File), filepath.Ext(rec.File)) + ".torrent"
	}
	data, err := mirroredTorrent(stored, rec.Video, f.InfoHash)
	if err != nil {
		return TorrentFile{}, err
	}
	return TorrentFile{Data: data, Name: name}, nil
}
