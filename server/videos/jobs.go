package videos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/shared/media"
)

// Buckets of the transcoding pipeline. A video that is not web-playable
// lives in bucketPending (processing or failed, seen by its owner only)
// until its kindTranscode job publishes it into bucketVideos; bucketJobs
// is the job queue (queue.go).
const (
	bucketPending = "videos_pending"
	bucketJobs    = "video_jobs"
)

// kindTranscode converts a pending upload browsers cannot play and
// publishes the result (runJob).
const kindTranscode = "transcode"

func init() {
	registerJobKind(kindTranscode, func(s *Service, ctx, jctx context.Context, key []byte, j job) {
		s.runJob(ctx, jctx, key, j.Video)
	})
}

// jobProgressShare is the part of a job's progress bar given to ffmpeg;
// hashing and publishing take the rest.
const jobProgressShare = 0.95

// enqueue turns the upload at up.Path into a processing video: the file
// becomes the job's source (moved into videoDir as <id>.source), and the
// pending record and its job commit in one transaction. The answer is the
// video in state processing.
func (s *Service) enqueue(up Upload, size int64, probe *ffmpeg.Info) (api.Video, error) {
	id := newVideoID()
	source := id + ".source"
	s.reserve(source)
	defer s.release(source)
	dst := filepath.Join(s.videoDir, source)
	if err := os.Rename(up.Path, dst); err != nil {
		return api.Video{}, fmt.Errorf("videos: keep upload for transcoding: %w", err)
	}
	if err := syncDir(s.videoDir); err != nil {
		return api.Video{}, err
	}
	now := time.Now().UTC()
	rec := &record{Source: source, Probe: probe, Video: api.Video{
		ID:          id,
		Name:        up.Name,
		Description: up.Description,
		Size:        size,
		Pod:         s.cfg.PodURL,
		CreatedAt:   now,
		Owner:       up.Owner,
		Local:       true,
		State:       api.StateProcessing,
		Duration:    probe.Duration,
	}}
	rec.Video.Width, rec.Video.Height = ffmpeg.OutputSize(*probe, ffmpeg.MaxShort)
	err := s.st.Update(func(tx *bolt.Tx) error {
		key, err := enqueueTx(tx, now, job{Kind: kindTranscode, Video: id})
		if err != nil {
			return err
		}
		rec.Job = string(key)
		return store.PutJSON(tx.Bucket([]byte(bucketPending)), []byte(id), rec)
	})
	if err != nil {
		_ = os.Remove(dst)
		return api.Video{}, fmt.Errorf("videos: queue transcoding: %w", err)
	}
	s.log.Info("video queued for transcoding", "video", id, "owner", up.Owner, "bytes", size,
		"video_codec", codec(probe), "format", probe.Format)
	s.wakeWorkers()
	return s.withProgress(rec).Video, nil
}

func codec(p *ffmpeg.Info) string {
	if p.Video == nil {
		return "none"
	}
	return p.Video.Codec + "/" + p.Video.PixFmt
}

// withProgress fills a pending record's Processing from the running job.
func (s *Service) withProgress(rec *record) *record {
	if rec.Video.State != api.StateProcessing {
		return rec
	}
	s.mu.RLock()
	p, ok := s.progress[rec.Video.ID]
	s.mu.RUnlock()
	if !ok {
		p = api.Processing{Step: "queued"}
	}
	rec.Video.Processing = &p
	return rec
}

func (s *Service) setProgress(id string, fraction float64, step string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.progress[id] = api.Processing{Progress: min(1, max(0, fraction)), Step: step}
}

// jobTimeLimit is a job's time limit: generous for 2 slow cores, and
// bounded so a pathological file cannot hold a worker forever.
func (s *Service) jobTimeLimit(p *ffmpeg.Info) time.Duration {
	if s.cfg.TranscodeTimeLimit > 0 {
		return s.cfg.TranscodeTimeLimit
	}
	return 10*time.Minute + time.Duration(20*p.Duration)*time.Second
}

// runJob transcodes one pending video and publishes the result. ffmpeg
// writes a temp file in videoDir, which is synced, hashed, and renamed to
// its final name inside the transaction that publishes the video, so a
// crash at any point leaves either the queued job (redone at the next
// start; cleanup removes the temp file) or the published video, never a
// partial file under a published name.
func (s *Service) runJob(ctx, jctx context.Context, key []byte, id string) {
	log := s.log.With("video", id)
	var rec *record
	err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = pendingTx(tx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) { // removed meanwhile
		s.dropJob(key)
		return
	}
	if err != nil || rec.Probe == nil {
		log.Error("load job", "err", err)
		s.fail(id, key, "the pod could not read this video's record")
		return
	}
	begin := time.Now()
	file := id + ".mp4"
	out := s.newOutput(file, id+".torrent")
	defer out.close()

	limit := s.jobTimeLimit(rec.Probe)
	tctx, stop := context.WithTimeout(jctx, limit)
	defer stop()
	s.setProgress(id, 0, "transcoding")
	log.Info("transcoding", "video_codec", codec(rec.Probe), "duration", rec.Probe.Duration, "limit", limit)
	err = s.cfg.FFmpeg.Transcode(tctx, filepath.Join(s.videoDir, rec.Source), *rec.Probe, out.tmpPath, ffmpeg.MaxShort,
		func(f float64) { s.setProgress(id, f*jobProgressShare, "transcoding") })
	if err == nil {
		err = syncFile(out.tmpPath)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil: // shutdown: the job stays queued
		log.Info("transcoding interrupted by shutdown; it restarts at the next start")
		return
	case jctx.Err() != nil: // the video was removed
		return
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		log.Warn("transcoding took too long", "limit", limit)
		s.fail(id, key, fmt.Sprintf("converting the video took longer than this pod allows (%s)", limit.Round(time.Minute)))
		return
	default:
		var fe *ffmpeg.Error
		if errors.As(err, &fe) {
			log.Warn("transcoding failed", "err", err)
			s.fail(id, key, "the video could not be converted: its content cannot be decoded")
			return
		}
		log.Error("transcoding", "err", err) // the pod's trouble (disk): retried at the next start
		return
	}
	s.setProgress(id, jobProgressShare, "publishing")
	info, err := out.hash(ctx, func(p *media.Prepared) string { return p.FileName(rec.Video.Name) })
	if err != nil {
		log.Error("check transcoded file", "err", err)
		if errors.Is(err, errBadOutput) {
			s.fail(id, key, "the converted video was not valid")
		}
		return
	}
	pub := &record{File: file, Probe: rec.Probe, Video: rec.Video}
	pub.Video.State, pub.Video.Processing, pub.Video.ContentType = api.StatePublished, nil, media.MP4.ContentType()
	pub.Video.Width, pub.Video.Height = ffmpeg.OutputSize(*rec.Probe, ffmpeg.MaxShort)
	tb, ih, err := s.torrentFor(&pub.Video, file, info)
	if err != nil {
		log.Error("torrent", "err", err)
		return
	}
	pub.withFiles()
	if err := out.writeTorrent(tb); err != nil {
		log.Error("write torrent", "err", err)
		return
	}
	// The owner is polling, and must not see the video published before
	// its web seed and tracker know it (publish counts it first).
	err = out.publish(ih, file, func(tx *bolt.Tx) error {
		if _, err := pendingTx(tx, id); err != nil {
			return err // removed while transcoding
		}
		if err := tx.Bucket([]byte(bucketPending)).Delete([]byte(id)); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucketJobs)).Delete(key); err != nil {
			return err
		}
		if err := s.addTx(tx, pub); err != nil {
			return err
		}
		tx.OnCommit(func() { s.quota.count(pub, 1) })
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			log.Error("publish transcoded video", "err", err)
		}
		return
	}
	if err := os.Remove(filepath.Join(s.videoDir, rec.Source)); err != nil {
		log.Warn("remove transcoding source", "err", err) // an orphan: cleanup removes it
	}
	log.Info("video published after transcoding", "info_hash", pub.Video.InfoHash, "width", pub.Video.Width,
		"height", pub.Video.Height, "took", time.Since(begin))
	s.wakeWorkers() // its follow-ups, for idle workers
	s.seedNew(ctx, log, tb, ih, out.finalTorrent, out.final)
}

// fail marks a pending video failed with a reason for its owner, drops its
// job and removes its source.
func (s *Service) fail(id string, key []byte, reason string) {
	s.jobFailed(id, reason)
	var source string
	err := s.st.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte(bucketJobs)).Delete(key); err != nil {
			return err
		}
		rec, err := pendingTx(tx, id)
		if err != nil {
			return err
		}
		source = rec.Source
		rec.Source, rec.Job = "", ""
		rec.Video.State, rec.Video.Processing, rec.Video.Failure = api.StateFailed, nil, reason
		return store.PutJSON(tx.Bucket([]byte(bucketPending)), []byte(id), rec)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("mark video failed", "video", id, "err", err)
		return
	}
	if source != "" {
		_ = os.Remove(filepath.Join(s.videoDir, source))
	}
}

// pendingTx loads a processing or failed video.
func pendingTx(tx *bolt.Tx, id string) (*record, error) {
	var rec record
	if err := store.GetJSON(tx.Bucket([]byte(bucketPending)), []byte(id), &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// syncFile flushes a written file to disk.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("videos: open %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("videos: sync %s: %w", filepath.Base(path), err)
	}
	return nil
}
