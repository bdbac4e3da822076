package videos

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// relocate moves the local videos published under another pod URL to the
// current one. A pod first run as http://localhost:9000 and then put on
// the internet as https://pod.example.org would otherwise keep handing out
// torrents and magnets whose trackers are ws://localhost:9000 and whose web
// seed is http://localhost:9000: unreachable for viewers, and mixed content
// an https page may not load. Each such video's torrent gets the current
// announce-list and url-list (its info dictionary, hence its info hash, is
// kept byte for byte, so peers and seeded files stay valid) and its record
// the current torrent, web seed, magnet and pod URLs. Friends are not told:
// they know this pod by its URL, and a pod that changes it is a new pod to
// them. A video that cannot be moved is logged and left as it was.
//
// videos_meta remembers the URL every local video was moved to, so a start
// under the same URL reads no record (a new video is published under the
// current URL); it is written only once every video has moved.
func (s *Service) relocate() error {
	var at []byte
	if err := s.st.View(func(tx *bolt.Tx) error {
		at = bytes.Clone(tx.Bucket([]byte(bucketMeta)).Get([]byte(keyPodURL)))
		return nil
	}); err != nil {
		return err
	}
	if string(at) == s.cfg.PodURL {
		return nil
	}
	recs, err := s.localRecords()
	if err != nil {
		return err
	}
	var errs []error
	moved := 0
	for i := range recs {
		rec := &recs[i]
		if rec.Video.Pod == s.cfg.PodURL {
			continue
		}
		if err := s.relocateOne(rec); err != nil {
			errs = append(errs, err)
			s.log.Warn("video keeps its old URLs", "video", rec.Video.ID, "from", rec.Video.Pod, "err", err)
			continue
		}
		moved++
	}
	if moved > 0 {
		s.log.Info("local videos moved to the pod's URL", "count", moved, "url", s.cfg.PodURL)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return s.st.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(keyPodURL), []byte(s.cfg.PodURL))
	})
}

// keyPodURL is videos_meta's key of the URL local videos are published under.
const keyPodURL = "pod_url"

func (s *Service) relocateOne(rec *record) error {
	id := rec.Video.ID
	magnet, webseed, err := s.relocateTorrent(s.torrentPath(id), rec.File)
	if err != nil {
		return fmt.Errorf("videos: relocate %s: %w", id, err)
	}
	rec.Video.Magnet = magnet
	rec.Video.TorrentURL = s.torrentURL(id, 0)
	rec.Video.WebseedURL = webseed
	rec.Video.Pod = s.cfg.PodURL
	s.setImageURLs(&rec.Video, rec.Images)
	for i := range rec.Lower {
		f := &rec.Lower[i]
		magnet, webseed, err := s.relocateTorrent(filepath.Join(s.torrentDir, renditionTorrent(id, f.Resolution)), renditionFile(id, f.Resolution))
		if err != nil {
			return fmt.Errorf("videos: relocate %s at %dp: %w", id, f.Resolution, err)
		}
		f.Magnet, f.WebseedURL, f.TorrentURL = magnet, webseed, s.torrentURL(id, f.Resolution)
	}
	// Only the record's JSON changes: no index holds these URLs.
	return s.st.Update(func(tx *bolt.Tx) error {
		return store.PutJSON(tx.Bucket([]byte(bucketVideos)), []byte(id), rec)
	})
}

// relocateTorrent rewrites the torrent at path, of the local file named
// file, with the current trackers and web seed, and returns its new magnet
// and web seed URL.
func (s *Service) relocateTorrent(path, file string) (magnet, webseed string, err error) {
	tb, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	mi, ih, err := torrentfile.Parse(tb)
	if err != nil {
		return "", "", err
	}
	ws, httpTracker := s.trackers()
	webseed = s.cfg.PodURL + "/static/webseed/" + file
	mi.AnnounceList = [][]string{{ws}, {httpTracker}}
	mi.URLList = []string{webseed}
	nb, err := mi.Bencode()
	if err != nil {
		return "", "", err
	}
	dir, base := filepath.Split(path)
	if err := writeFileSync(filepath.Join(dir, ".tmp-"+base), path, nb); err != nil {
		return "", "", err
	}
	return torrentfile.Magnet(ih, mi.Info.Name, mi.Info.Length, []string{ws, httpTracker}, []string{webseed}), webseed, nil
}
