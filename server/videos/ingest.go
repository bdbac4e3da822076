package videos

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/shared/media"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// CreatedBy is written in every .torrent the pod makes.
const CreatedBy = "swarmtube"

// Upload describes a received file to publish.
type Upload struct {
	// Path is the file to publish, on the same file system as DataDir.
	// Publish moves it into the catalogue on success and removes it when
	// its content is refused; after any other error (cancellation, disk
	// trouble) it is left for the caller, so a resumable upload can be
	// finished again.
	Path        string
	Name        string
	Description string
	Owner       string
}

// tryReserve marks names busy unless one of them already is.
func (s *Service) tryReserve(names ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if _, ok := s.busy[n]; ok {
			return false
		}
	}
	for _, n := range names {
		s.busy[n] = struct{}{}
	}
	return true
}

// trackers returns the announce URLs of this pod: its WebSocket tracker
// (for browsers) and its HTTP tracker (for standard clients).
func (s *Service) trackers() (ws, http string) { return torrentfile.PodTrackers(s.cfg.PodURL) }

// Publish checks, prepares and publishes an uploaded file: it sniffs the
// container, moves an MP4's moov in front, hashes the result into a
// torrent, stores the file, torrent and record (with its index entries and
// federation event, in one transaction) and starts seeding. It is the single
// path of multipart uploads, resumable uploads and the import command.
func (s *Service) Publish(ctx context.Context, up Upload) (v api.Video, err error) {
	begin := time.Now()
	defer func() { s.metrics.observeIngest(begin, err) }()
	defer func() {
		if up.Path != "" && (err == nil || refused(err)) {
			_ = os.Remove(up.Path)
		}
	}()
	if up.Name, err = cleanName(up.Name); err != nil {
		return api.Video{}, err
	}
	if up.Description, err = cleanDescription(up.Description); err != nil {
		return api.Video{}, err
	}
	select {
	case s.ingestSlots <- struct{}{}:
		defer func() { <-s.ingestSlots }()
	case <-ctx.Done():
		return api.Video{}, ctx.Err()
	}

	src, err := os.Open(up.Path)
	if err != nil {
		return api.Video{}, fmt.Errorf("videos: open upload: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return api.Video{}, fmt.Errorf("videos: stat upload: %w", err)
	}
	size := st.Size()
	switch {
	case size == 0:
		return api.Video{}, ErrEmptyFile
	case size > s.cfg.MaxUploadBytes:
		return api.Video{}, errTooLarge(s.cfg.MaxUploadBytes)
	}
	head := make([]byte, media.SniffLen)
	n, err := src.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return api.Video{}, fmt.Errorf("videos: read upload: %w", err)
	}
	container, err := media.Sniff(head[:n])
	if err != nil || !s.accepts(container) {
		return api.Video{}, ErrNotVideo
	}
	probe, err := s.probe(ctx, up.Path)
	if err != nil {
		return api.Video{}, err
	}
	if probe != nil && !probe.WebPlayable(container.Ext()) {
		if err := src.Close(); err != nil {
			return api.Video{}, fmt.Errorf("videos: close upload: %w", err)
		}
		v, err := s.enqueue(up, size, probe)
		if err == nil {
			up.Path = "" // it is the job's source now
		}
		return v, err
	}

	id := newVideoID()
	file := id + "." + container.Ext()
	tmpVideo, tmpTorrent := ".tmp-"+file, ".tmp-"+id+".torrent"
	s.reserve(file, tmpVideo, id+".torrent", tmpTorrent)
	defer s.release(file, tmpVideo, id+".torrent", tmpTorrent)
	final := filepath.Join(s.videoDir, file)
	committed := false
	defer func() {
		if !committed {
			_ = os.Remove(final)
			_ = os.Remove(filepath.Join(s.videoDir, tmpVideo))
			_ = os.Remove(s.torrentPath(id))
			_ = os.Remove(filepath.Join(s.torrentDir, tmpTorrent))
		}
	}()

	log := s.log.With("video", id, "bytes", size, "container", container.String())
	info, size, err := s.storeFile(ctx, log, src, size, up.Name, filepath.Join(s.videoDir, tmpVideo), final)
	if err != nil {
		return api.Video{}, err
	}
	if err := src.Close(); err != nil {
		return api.Video{}, fmt.Errorf("videos: close upload: %w", err)
	}
	if err := os.Remove(up.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("remove upload", "err", err)
	}
	up.Path = ""

	rec := &record{File: file, Video: api.Video{
		ID:          id,
		Name:        up.Name,
		Description: up.Description,
		Pod:         s.cfg.PodURL,
		CreatedAt:   time.Now().UTC(),
		Owner:       up.Owner,
		ContentType: container.ContentType(),
		Local:       true,
		State:       api.StatePublished,
	}, Probe: probe, Content: contentKey(info)}
	tb, ih, err := s.torrentFor(&rec.Video, file, info)
	if err != nil {
		return api.Video{}, err
	}
	if err := writeFileSync(filepath.Join(s.torrentDir, tmpTorrent), s.torrentPath(id), tb); err != nil {
		return api.Video{}, err
	}
	if probe != nil {
		rec.Video.Duration = probe.Duration
		if probe.Video != nil {
			rec.Video.Width, rec.Video.Height = probe.Video.Width, probe.Video.Height
		}
	}
	rec.withFiles()
	err = s.st.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketByHash)).Cursor()
		for k, _ := c.Seek(ih[:]); k != nil && bytes.HasPrefix(k, ih[:]); k, _ = c.Next() {
			if other, err := getTx(tx, string(k[20:])); err == nil && other.Origin == "" {
				return errDuplicate(s.cfg.PodURL, other.Video.ID)
			}
		}
		if err := s.addTx(tx, rec); err != nil {
			return err
		}
		s.onCommitCounts(tx, rec, 1)
		return nil
	})
	if err != nil {
		return api.Video{}, err
	}
	committed = true
	s.wakeWorkers()
	log.Info("video published", "info_hash", rec.Video.InfoHash, "owner", up.Owner, "took", time.Since(begin))
	// Seeding failure does not undo the upload: the web seed serves the
	// file already, and Run retries seeding at the next start.
	s.seedNew(ctx, log, tb, ih, s.torrentPath(id), final)
	return rec.Video, nil
}

// addTx adds the published local video rec in tx: its record and
// indexes, its follow-up jobs (call wakeWorkers after the commit) and the
// federation event telling friends.
func (s *Service) addTx(tx *bolt.Tx, rec *record) error {
	if err := putTx(tx, rec); err != nil {
		return err
	}
	if err := s.queueFollowUpsTx(tx, rec, time.Now()); err != nil {
		return err
	}
	if s.outbox != nil {
		if err := s.outbox.EnqueueTx(tx, fedproto.EventAdd, rec.Video); err != nil {
			return fmt.Errorf("videos: federation event: %w", err)
		}
	}
	return nil
}

// accepts reports whether uploads in container c are taken: those browsers
// play, and the others when this pod can transcode them.
func (s *Service) accepts(c media.Container) bool {
	return c.Browser() || (c != media.Unknown && s.canTranscode())
}

// canTranscode reports whether files that are not web-playable can be
// turned into ones that are.
func (s *Service) canTranscode() bool {
	return s.cfg.FFmpeg.Available() && s.cfg.TranscodeWorkers > 0
}

// probe describes the upload at path with ffprobe; nil when the pod has no
// ffprobe. A file ffprobe cannot decode is refused (415 invalid_video).
func (s *Service) probe(ctx context.Context, path string) (*ffmpeg.Info, error) {
	if !s.cfg.FFmpeg.Available() {
		return nil, nil
	}
	info, err := s.cfg.FFmpeg.Probe(ctx, path)
	if errors.Is(err, ffmpeg.ErrUndecodable) {
		s.log.Info("upload refused by ffprobe", "err", err)
		return nil, ErrUndecodable
	}
	if err != nil {
		return nil, fmt.Errorf("videos: probe: %w", err)
	}
	return &info, nil
}

// torrentFor builds the .torrent of the local file named file (under
// videoDir) whose info dictionary is info, and sets v's torrent fields:
// size, info hash, magnet, torrent and web seed URLs, piece length.
func (s *Service) torrentFor(v *api.Video, file string, info torrentfile.Info) ([]byte, [20]byte, error) {
	tb, ih, f, err := s.torrentFile(file, s.cfg.PodURL+"/api/v1/videos/"+v.ID+"/torrent", info)
	if err != nil {
		return nil, ih, err
	}
	v.Size, v.InfoHash, v.Magnet, v.TorrentURL, v.WebseedURL, v.PieceLength = f.Size, f.InfoHash, f.Magnet, f.TorrentURL, f.WebseedURL, f.PieceLength
	return tb, ih, nil
}

// torrentFile builds the .torrent of the local file named file (under
// videoDir) whose info dictionary is info and whose torrent is served at
// torrentURL: announce-list [[ws tracker], [HTTP tracker]] and url-list
// [web seed] (BEP 12, BEP 19). It describes the file as a VideoFile
// without its resolution and size in pixels.
func (s *Service) torrentFile(file, torrentURL string, info torrentfile.Info) ([]byte, [20]byte, api.VideoFile, error) {
	ih, err := info.InfoHash()
	if err != nil {
		return nil, ih, api.VideoFile{}, fmt.Errorf("videos: info hash: %w", err)
	}
	ws, httpTracker := s.trackers()
	webseed := s.cfg.PodURL + "/static/webseed/" + file
	mi := torrentfile.Metainfo{
		Info:         info,
		AnnounceList: [][]string{{ws}, {httpTracker}},
		URLList:      []string{webseed},
		CreatedBy:    CreatedBy,
		CreationDate: time.Now().Unix(),
	}
	tb, err := mi.Bencode()
	if err != nil {
		return nil, ih, api.VideoFile{}, fmt.Errorf("videos: encode torrent: %w", err)
	}
	return tb, ih, api.VideoFile{
		Size:        info.Length,
		InfoHash:    hex.EncodeToString(ih[:]),
		Magnet:      torrentfile.Magnet(ih, info.Name, info.Length, []string{ws, httpTracker}, []string{webseed}),
		TorrentURL:  torrentURL,
		WebseedURL:  webseed,
		PieceLength: info.PieceLength,
	}, nil
}

// verifiedSeeder is a Seeder that can skip verifying a file whose pieces
// the caller has just hashed (server/seeder has it).
type verifiedSeeder interface {
	SeedVerified(ctx context.Context, torrentBytes []byte, filePath string) error
}

// registrar is a Seeder that seeds on demand (server/seeder has it):
// Register makes a stored torrent loadable without loading it.
type registrar interface {
	Register(infoHash [20]byte, torrentPath, filePath string) error
}

// storeFile puts the upload at final as its torrent covers it
// (media.Prepare: rewritten for faststart if it is an MP4 with moov last),
// hashed in the same pass. It returns the info dictionary and the stored size.
func (s *Service) storeFile(ctx context.Context, log *slog.Logger, src *os.File, size int64, title, tmp, final string) (torrentfile.Info, int64, error) {
	prep, err := media.Prepare(src, size)
	switch {
	case errors.Is(err, media.ErrUnknownContainer):
		return torrentfile.Info{}, 0, ErrNotVideo
	case errors.Is(err, media.ErrMalformed) || errors.Is(err, media.ErrTooLarge):
		return torrentfile.Info{}, 0, errInvalidVideo(err)
	case err != nil:
		return torrentfile.Info{}, 0, fmt.Errorf("videos: read upload: %w", err)
	}
	name := prep.FileName(title)
	progress := progressLogger(log, size)
	if !prep.Rewritten() {
		info, err := prep.Hash(ctx, name, nil, progress)
		if err != nil {
			return info, 0, fmt.Errorf("videos: %w", err)
		}
		if err := src.Sync(); err != nil {
			return info, 0, fmt.Errorf("videos: sync upload: %w", err)
		}
		if err := os.Rename(src.Name(), final); err != nil {
			return info, 0, fmt.Errorf("videos: move upload: %w", err)
		}
		return info, size, syncDir(filepath.Dir(final))
	}
	log.Info("moving moov to the front (faststart)", "new_bytes", prep.Size())
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return torrentfile.Info{}, 0, fmt.Errorf("videos: create: %w", err)
	}
	defer out.Close()
	info, err := prep.Hash(ctx, name, out, progress)
	if err != nil {
		return info, 0, fmt.Errorf("videos: faststart and %w", err)
	}
	if err := out.Sync(); err != nil {
		return info, 0, fmt.Errorf("videos: sync: %w", err)
	}
	if err := out.Close(); err != nil {
		return info, 0, fmt.Errorf("videos: close: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return info, 0, fmt.Errorf("videos: move: %w", err)
	}
	return info, prep.Size(), syncDir(filepath.Dir(final))
}

// progressLogger logs hashing progress of big files about every 10 s.
func progressLogger(log *slog.Logger, size int64) func(int64) {
	last := time.Now()
	return func(done int64) {
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			log.Info("hashing", "done", done, "percent", done*100/size)
		}
	}
}

// writeFileSync writes data to tmp, syncs it and renames it to path, so a
// crash leaves either nothing or the whole file.
func writeFileSync(tmp, path string, data []byte) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("videos: create %s: %w", filepath.Base(path), err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("videos: write %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("videos: sync %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("videos: close %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("videos: move %s: %w", filepath.Base(path), err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("videos: open dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("videos: sync dir: %w", err)
	}
	return nil
}

// Remove deletes a local video on behalf of user (its owner or an admin):
// the record, its index entries and a federation "remove" event commit
// together; then seeding stops and the files go.
func (s *Service) Remove(ctx context.Context, id, user string, admin bool) error {
	if !validID(id) {
		return ErrBadID
	}
	var rec *record
	pending := false
	err := s.st.Update(func(tx *bolt.Tx) error {
		var err error
		rec, err = ownedTx(tx, id, user, admin)
		if errors.Is(err, ErrNotFound) {
			pending = true
			return removePendingTx(tx, id, user, admin, &rec)
		}
		if err != nil {
			return err
		}
		if err := deleteTx(tx, rec); err != nil {
			return err
		}
		if _, err := dropJobsTx(tx, id); err != nil {
			return err
		}
		if s.outbox != nil {
			if err := s.outbox.EnqueueTx(tx, fedproto.EventRemove, rec.Video); err != nil {
				return fmt.Errorf("videos: federation event: %w", err)
			}
		}
		s.onCommitCounts(tx, rec, -1)
		return nil
	})
	if err != nil {
		return err
	}
	log := s.log.With("video", id)
	s.cancelJob(id) // the job removes its own temp files
	if pending {
		if rec.Source != "" {
			if err := os.Remove(filepath.Join(s.videoDir, rec.Source)); err != nil && !errors.Is(err, os.ErrNotExist) {
				log.Warn("remove transcoding source", "err", err)
			}
		}
		log.Info("unpublished video removed", "by", user, "state", rec.Video.State)
		return nil
	}
	ts, _ := rec.torrents(s.torrentDir) // checked by deleteTx
	for _, t := range ts {
		if s.seeder != nil {
			if err := s.seeder.Remove(t.ih); err != nil {
				log.Warn("stop seeding", "err", err)
			}
		}
		// Files left by a failure here are orphans that Run removes.
		for _, p := range []string{filepath.Join(s.videoDir, t.file), t.torrentPath} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				log.Warn("remove file", "path", p, "err", err)
			}
		}
	}
	s.removeImageFiles(rec.Images.files())
	log.Info("video removed", "by", user)
	return nil
}

// removePendingTx deletes a processing or failed video of user (or any,
// for an admin) and its job, and returns it in *out.
func removePendingTx(tx *bolt.Tx, id, user string, admin bool, out **record) error {
	rec, err := pendingTx(tx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case err != nil:
		return err
	case rec.Video.Owner != user && !admin:
		return ErrNotFound // not even its existence is shown to others
	}
	if _, err := dropJobsTx(tx, id); err != nil {
		return err
	}
	*out = rec
	return tx.Bucket([]byte(bucketPending)).Delete([]byte(id))
}

// Update changes the name and/or description of a local video (owner or
// admin) and federates the change. The torrent keeps its original file name.
func (s *Service) Update(ctx context.Context, id, user string, admin bool, name, description *string) (api.Video, error) {
	if !validID(id) {
		return api.Video{}, ErrBadID
	}
	var err error
	if name != nil {
		if *name, err = cleanName(*name); err != nil {
			return api.Video{}, err
		}
	}
	if description != nil {
		if *description, err = cleanDescription(*description); err != nil {
			return api.Video{}, err
		}
	}
	var out api.Video
	err = s.st.Update(func(tx *bolt.Tx) error {
		rec, err := ownedTx(tx, id, user, admin)
		if err != nil {
			return err
		}
		if err := deleteTx(tx, rec); err != nil {
			return err
		}
		if name != nil {
			rec.Video.Name = *name
		}
		if description != nil {
			rec.Video.Description = *description
		}
		if err := putTx(tx, rec); err != nil {
			return err
		}
		if s.outbox != nil {
			if err := s.outbox.EnqueueTx(tx, fedproto.EventUpdate, rec.Video); err != nil {
				return fmt.Errorf("videos: federation event: %w", err)
			}
		}
		out = rec.Video
		return nil
	})
	return out, err
}

// ownedTx loads local video id for a change by user: only its owner or an
// admin may change it, and friends' videos are changed only by their origin.
func ownedTx(tx *bolt.Tx, id, user string, admin bool) (*record, error) {
	rec, err := getTx(tx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrNotFound
	case err != nil:
		return nil, err
	case rec.Origin != "":
		return nil, ErrRemote
	case rec.Video.Owner != user && !admin:
		return nil, ErrNotOwner
	}
	return rec, nil
}
