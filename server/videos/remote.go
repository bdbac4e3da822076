package videos

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// Limits on friends' video records.
const (
	maxRemoteURL  = 2048
	maxRemoteSize = 1 << 42 // 4 TiB: anything bigger is a lie
	// maxRemoteDuration (seconds, a year) and maxRemoteDimension (pixels,
	// 16K) bound a friend's video metadata.
	maxRemoteDuration  = 365 * 24 * 3600
	maxRemoteDimension = 16384
)

// errRemote builds the error for an unacceptable video from a friend. It
// wraps fedproto.ErrInvalid, the refusal federation's Catalog contract
// names: federation reports it to the sender and skips the video.
func errRemote(format string, args ...any) error {
	return fmt.Errorf("%w: %s", fedproto.ErrInvalid, fmt.Sprintf(format, args...))
}

// normalizeOrigin checks a pod URL and returns it without a trailing slash.
func normalizeOrigin(origin string) (string, error) {
	origin = strings.TrimRight(origin, "/")
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil || len(origin) > maxRemoteURL {
		return "", errRemote("origin %q is not a pod URL", origin)
	}
	return origin, nil
}

// underOrigin checks that raw is an absolute http(s) URL on the origin pod.
func underOrigin(raw, origin, field string) error {
	if len(raw) > maxRemoteURL || !strings.HasPrefix(raw, origin+"/") {
		return errRemote("%s must be a URL on %s", field, origin)
	}
	if _, err := url.Parse(raw); err != nil {
		return errRemote("%s is not a URL", field)
	}
	return nil
}

// cleanRemote validates a video received from the pod at origin and
// returns it as stored here: keyed by remoteKey, Pod set to origin, Local
// false, times in range. Nothing a friend sends is trusted.
func (s *Service) cleanRemote(origin string, v api.Video) (*record, error) {
	origin, err := normalizeOrigin(origin)
	if err != nil {
		return nil, err
	}
	if origin == s.cfg.PodURL {
		return nil, errRemote("a friend cannot send this pod's own videos")
	}
	if !validLocalID(v.ID) {
		return nil, errRemote("id %q is not a video id", v.ID)
	}
	if v.Name, err = cleanName(v.Name); err != nil {
		return nil, errRemote("%v", err)
	}
	if v.Description, err = cleanDescription(v.Description); err != nil {
		return nil, errRemote("%v", err)
	}
	if v.Size <= 0 || v.Size > maxRemoteSize {
		return nil, errRemote("size %d out of range", v.Size)
	}
	v.InfoHash = strings.ToLower(v.InfoHash)
	var ih [20]byte
	if n, err := hex.Decode(ih[:], []byte(v.InfoHash)); err != nil || n != 20 || len(v.InfoHash) != 40 {
		return nil, errRemote("info_hash must be 40 hex digits")
	}
	if len(v.Magnet) > maxRemoteURL*8 {
		return nil, errRemote("magnet too long")
	}
	m, err := torrentfile.ParseMagnet(v.Magnet)
	if err != nil || m.InfoHash != ih {
		return nil, errRemote("magnet must be a magnet link of info_hash")
	}
	if err := underOrigin(v.TorrentURL, origin, "torrent_url"); err != nil {
		return nil, err
	}
	if err := underOrigin(v.WebseedURL, origin, "webseed_url"); err != nil {
		return nil, err
	}
	for _, u := range []struct{ field, url string }{
		{"thumbnail_url", v.ThumbnailURL}, {"preview_url", v.PreviewURL}, {"storyboard_url", v.StoryboardURL}} {
		if u.url == "" {
			continue
		}
		if err := underOrigin(u.url, origin, u.field); err != nil {
			return nil, err
		}
	}
	if n, err := checkText(v.Owner, false); err != nil || n == 0 || n > maxOwnerRunes {
		return nil, errRemote("owner must be 1 to %d printable characters", maxOwnerRunes)
	}
	switch v.ContentType {
	case "", "video/mp4", "video/webm", "video/ogg":
	default:
		return nil, errRemote("content_type %q is not a video type", v.ContentType)
	}
	if p := v.PieceLength; p != 0 && (p < torrentfile.BlockSize || p&(p-1) != 0 || p > 1<<26) {
		return nil, errRemote("piece_length %d invalid", p)
	}
	// Only published videos travel; their metadata must be sane numbers.
	switch v.State {
	case "", api.StatePublished:
		v.State = api.StatePublished
	default:
		return nil, errRemote("state %q: only published videos are shared", v.State)
	}
	v.Processing, v.Failure = nil, ""
	if !(v.Duration >= 0 && v.Duration <= maxRemoteDuration) { // NaN fails too
		return nil, errRemote("duration %v out of range", v.Duration)
	}
	if v.Width < 0 || v.Height < 0 || v.Width > maxRemoteDimension || v.Height > maxRemoteDimension {
		return nil, errRemote("width and height must be 0 to %d", maxRemoteDimension)
	}
	// A friend's clock (or malice) must not pin its videos at the top of
	// the newest-first list.
	now := time.Now().UTC()
	if v.CreatedAt.IsZero() || v.CreatedAt.After(now) || v.CreatedAt.Year() < 2000 {
		v.CreatedAt = now
	}
	v.Views = max(v.Views, 0) // the origin's count; a negative one is nonsense
	lower, err := cleanRemoteFiles(origin, v)
	if err != nil {
		return nil, err
	}
	originID := v.ID
	v.ID = remoteKey(origin, originID)
	v.Pod = origin
	v.Local = false
	return (&record{Video: v, Origin: origin, OriginID: originID, Lower: lower}).withFiles(), nil
}

// maxRemoteFiles bounds a friend's video's files (resolutions).
const maxRemoteFiles = 8

// cleanRemoteFiles validates the files (resolutions) of a friend's video
// v, whose top-level fields are checked already, and returns those after
// the first (record.Lower). The first must be the top-level file; the
// others are checked as the top-level one is, with resolutions strictly
// decreasing and distinct info hashes. Absent files (a pod from before the
// ladder) are no error.
func cleanRemoteFiles(origin string, v api.Video) ([]api.VideoFile, error) {
	if len(v.Files) == 0 {
		return nil, nil
	}
	if len(v.Files) > maxRemoteFiles {
		return nil, errRemote("%d files: at most %d", len(v.Files), maxRemoteFiles)
	}
	if !strings.EqualFold(v.Files[0].InfoHash, v.InfoHash) {
		return nil, errRemote("files[0] must be the video's info_hash")
	}
	seen := map[string]bool{v.InfoHash: true}
	prev := v.Files[0].Resolution
	var lower []api.VideoFile
	for i, f := range v.Files[1:] {
		field := func(name string) string { return fmt.Sprintf("files[%d].%s", i+1, name) }
		if f.Resolution < 1 || f.Resolution > maxRemoteDimension || (prev > 0 && f.Resolution >= prev) {
			return nil, errRemote("%s %d: resolutions must decrease, best first", field("resolution"), f.Resolution)
		}
		prev = f.Resolution
		if f.Width < 0 || f.Height < 0 || f.Width > maxRemoteDimension || f.Height > maxRemoteDimension {
			return nil, errRemote("%s and height must be 0 to %d", field("width"), maxRemoteDimension)
		}
		if f.Size <= 0 || f.Size > maxRemoteSize {
			return nil, errRemote("%s %d out of range", field("size"), f.Size)
		}
		f.InfoHash = strings.ToLower(f.InfoHash)
		var ih [20]byte
		if n, err := hex.Decode(ih[:], []byte(f.InfoHash)); err != nil || n != 20 || len(f.InfoHash) != 40 || seen[f.InfoHash] {
			return nil, errRemote("%s must be 40 hex digits, distinct from the other files'", field("info_hash"))
		}
		seen[f.InfoHash] = true
		if len(f.Magnet) > maxRemoteURL*8 {
			return nil, errRemote("%s too long", field("magnet"))
		}
		if m, err := torrentfile.ParseMagnet(f.Magnet); err != nil || m.InfoHash != ih {
			return nil, errRemote("%s must be a magnet link of its info_hash", field("magnet"))
		}
		if err := underOrigin(f.TorrentURL, origin, field("torrent_url")); err != nil {
			return nil, err
		}
		if err := underOrigin(f.WebseedURL, origin, field("webseed_url")); err != nil {
			return nil, err
		}
		switch f.ContentType {
		case "", "video/mp4", "video/webm", "video/ogg":
		default:
			return nil, errRemote("%s %q is not a video type", field("content_type"), f.ContentType)
		}
		if p := f.PieceLength; p != 0 && (p < torrentfile.BlockSize || p&(p-1) != 0 || p > 1<<26) {
			return nil, errRemote("%s %d invalid", field("piece_length"), p)
		}
		lower = append(lower, f)
	}
	return lower, nil
}

// PutRemoteTx inserts or replaces, inside the caller's transaction, the
// video v of the friend pod at origin (v.ID is the id at the origin), with
// its index entries. It validates everything and returns an error wrapping
// fedproto.ErrInvalid for a bad video. Known reflects the change once tx commits.
func (s *Service) PutRemoteTx(tx *bolt.Tx, origin string, v api.Video) error {
	rec, err := s.cleanRemote(origin, v)
	if err != nil {
		return err
	}
	s.keepMirrorsTx(tx, rec)
	old, err := getTx(tx, rec.Video.ID)
	switch {
	case err == nil:
		if err := deleteTx(tx, old); err != nil {
			return err
		}
		s.onCommitCounts(tx, old, -1)
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if err := putTx(tx, rec); err != nil {
		return err
	}
	s.onCommitCounts(tx, rec, 1)
	return nil
}

// HasRemoteTx reports whether the video id of the friend pod at origin
// is stored.
func (s *Service) HasRemoteTx(tx *bolt.Tx, origin, id string) bool {
	origin, err := normalizeOrigin(origin)
	if err != nil || !validLocalID(id) {
		return false
	}
	return tx.Bucket([]byte(bucketVideos)).Get([]byte(remoteKey(origin, id))) != nil
}

// RemoveRemoteTx removes, inside the caller's transaction, the video id of
// the friend pod at origin. Removing an unknown video is not an error, so
// replayed events are harmless.
func (s *Service) RemoveRemoteTx(tx *bolt.Tx, origin string, id string) error {
	origin, err := normalizeOrigin(origin)
	if err != nil {
		return err
	}
	if !validLocalID(id) {
		return errRemote("id %q is not a video id", id)
	}
	rec, err := getTx(tx, remoteKey(origin, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := deleteTx(tx, rec); err != nil {
		return err
	}
	s.onCommitCounts(tx, rec, -1)
	return nil
}

// DropPodTx removes, inside the caller's transaction, every video of the
// pod at origin (a friend that quit or was ejected), except those other
// pods still mirror (issue 18): they stay listed, served by the mirrors.
func (s *Service) DropPodTx(tx *bolt.Tx, origin string) error {
	origin, err := normalizeOrigin(origin)
	if err != nil {
		return err
	}
	prefix := []byte(origin + "\x00")
	var ids []string
	c := tx.Bucket([]byte(bucketByOrigin)).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		ids = append(ids, string(v))
	}
	for _, id := range ids { // collected first: deleting under a cursor skips keys
		rec, err := getTx(tx, id)
		if err != nil {
			return fmt.Errorf("videos: drop %s: %s: %w", origin, id, err)
		}
		if slices.ContainsFunc(rec.Video.Mirrors, func(m api.Mirror) bool { return m.Pod != origin }) {
			continue
		}
		if err := deleteTx(tx, rec); err != nil {
			return err
		}
		s.onCommitCounts(tx, rec, -1)
	}
	return nil
}
