package videos

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/shared/media"
)

// The resolution ladder. A published video's best file is the upload
// itself (web-playable) or its conversion; every resolution of the ladder
// below it is then made in the background, one kindRendition job each,
// from the best file (upright already: rotated uploads are converted
// first), as an H.264/AAC MP4 with faststart (ffmpeg.Transcode). Each
// rendition is a file of its own, <id>-<res>p.mp4, with its own torrent
// <id>-<res>p.torrent, swarm and web seed; it joins the video (record.Lower,
// Video.Files) in the transaction that drops its job, with a federation
// "update" event, and is then seeded. The rename of its file to its final
// name is in that transaction too, so a crash leaves either the queued job
// (cleanup removes the partial .tmp- output, and the job runs again) or
// the published file, never a partial file under a published name.

// kindRendition makes one lower resolution of a published video.
const kindRendition = "rendition"

func init() { registerJobKind(kindRendition, (*Service).runRendition) }

// DefaultLadder is the resolutions (short side, pixels) a pod makes of
// every video, best first: PeerTube's ladder from 240p to 1080p.
var DefaultLadder = []int{1080, 720, 480, 360, 240}

// ladder returns the configured resolutions, best first.
func (s *Service) ladder() []int {
	if s.cfg.Ladder == nil {
		return DefaultLadder
	}
	return s.cfg.Ladder
}

// rungsBelow returns the resolutions of ladder strictly below short, best
// first: none above the source, and none equal to the best file.
func rungsBelow(ladder []int, short int) []int {
	var out []int
	for _, r := range ladder {
		if r > 0 && r < short && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// renditionFile and renditionTorrent name the file and torrent of video
// id at resolution res (see the package doc).
func renditionFile(id string, res int) string { return id + "-" + strconv.Itoa(res) + "p.mp4" }
func renditionTorrent(id string, res int) string {
	return id + "-" + strconv.Itoa(res) + "p.torrent"
}

// enqueueLadderTx queues, inside the transaction that publishes rec, a
// rendition job for every rung below its best file (queueFollowUpsTx).
// Videos without a picture (audio-only: a still image) and pods that
// cannot transcode get none. Call wakeWorkers after the commit.
func (s *Service) enqueueLadderTx(tx *bolt.Tx, rec *record, now time.Time) error {
	if !s.canTranscode() || rec.Origin != "" || rec.Probe == nil || rec.Probe.Video == nil {
		return nil
	}
	for i, r := range rungsBelow(s.ladder(), min(rec.Video.Width, rec.Video.Height)) {
		// One nanosecond apart: the best resolution first.
		if _, err := enqueueTx(tx, now.Add(time.Duration(i)), job{Kind: kindRendition, Video: rec.Video.ID, Resolution: r}); err != nil {
			return err
		}
	}
	return nil
}

// runRendition makes resolution j.Resolution of a published video and
// adds it to the video (see the package doc of the ladder above).
func (s *Service) runRendition(ctx, jctx context.Context, key []byte, j job) {
	id, res := j.Video, j.Resolution
	log := s.log.With("video", id, "resolution", res)
	var rec *record
	err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = getTx(tx, id)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound): // removed meanwhile
		s.dropJob(key)
		return
	case err != nil:
		log.Error("load rendition job", "err", err)
		s.dropJob(key)
		return
	case rec.Origin != "" || res <= 0 || slices.ContainsFunc(rec.Lower, func(f api.VideoFile) bool { return f.Resolution == res }):
		s.dropJob(key) // nothing to do
		return
	}
	best := filepath.Join(s.videoDir, rec.File)
	probe, err := s.cfg.FFmpeg.Probe(jctx, best)
	if err != nil || probe.Video == nil {
		if jctx.Err() == nil {
			log.Warn("cannot probe the best file for a rendition", "err", err)
			s.dropJob(key)
		}
		return
	}
	w, h := ffmpeg.OutputSize(probe, res)
	if min(w, h) >= min(probe.Video.Width, probe.Video.Height) {
		s.dropJob(key) // not below the best file
		return
	}
	begin := time.Now()
	file := renditionFile(id, res)
	out := s.newOutput(file, renditionTorrent(id, res))
	defer out.close()
	limit := s.jobTimeLimit(&probe)
	tctx, stop := context.WithTimeout(jctx, limit)
	defer stop()
	err = s.cfg.FFmpeg.Transcode(tctx, best, probe, out.tmpPath, res, nil)
	if err == nil {
		err = syncFile(out.tmpPath)
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		log.Info("rendition interrupted by shutdown; it restarts at the next start")
		return
	case jctx.Err() != nil: // the video was removed
		return
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		log.Warn("rendition took too long; the video keeps its other resolutions", "limit", limit)
		s.dropJob(key)
		return
	default:
		log.Warn("rendition failed; the video keeps its other resolutions", "err", err)
		s.dropJob(key)
		return
	}
	f, tb, ih, err := s.hashRendition(ctx, rec, out, file, res, w, h)
	if err != nil {
		log.Error("rendition", "err", err)
		s.dropJob(key)
		return
	}
	if err := out.writeTorrent(tb); err != nil {
		log.Error("write rendition torrent", "err", err)
		return // the pod's trouble: left queued (see runClaimed)
	}
	var pub api.Video
	err = out.publish(ih, file, func(tx *bolt.Tx) error {
		cur, err := getTx(tx, id)
		if err != nil {
			return err // removed while transcoding
		}
		if slices.ContainsFunc(cur.Lower, func(x api.VideoFile) bool { return x.Resolution == res }) {
			return errors.New("videos: rendition already published")
		}
		// Out and in again, as Update does: the hash and local indexes
		// gain the new file.
		if err := deleteTx(tx, cur); err != nil {
			return err
		}
		cur.Lower = append(cur.Lower, f)
		slices.SortFunc(cur.Lower, func(a, b api.VideoFile) int { return b.Resolution - a.Resolution })
		if err := putTx(tx, cur); err != nil {
			return err
		}
		if err := tx.Bucket([]byte(bucketJobs)).Delete(key); err != nil {
			return err
		}
		pub = cur.withFiles().Video
		if s.outbox != nil {
			if err := s.outbox.EnqueueTx(tx, fedproto.EventUpdate, pub); err != nil {
				return fmt.Errorf("videos: federation event: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			log.Error("publish rendition", "err", err)
			s.dropJob(key)
		}
		return
	}
	log.Info("rendition published", "info_hash", f.InfoHash, "width", w, "height", h, "bytes", f.Size, "took", time.Since(begin))
	s.seedNew(ctx, log, tb, ih, out.finalTorrent, out.final)
}

// hashRendition checks and hashes the converted rendition res of rec
// (output.hash) into its torrent, named like the video with the
// resolution added.
func (s *Service) hashRendition(ctx context.Context, rec *record, out *output, file string, res, w, h int) (api.VideoFile, []byte, [20]byte, error) {
	var ih [20]byte
	info, err := out.hash(ctx, func(prep *media.Prepared) string {
		name := prep.FileName(rec.Video.Name)
		ext := filepath.Ext(name)
		return strings.TrimSuffix(name, ext) + "-" + strconv.Itoa(res) + "p" + ext
	})
	if err != nil {
		return api.VideoFile{}, nil, ih, err
	}
	tb, ih, f, err := s.torrentFile(file, s.torrentURL(rec.Video.ID, res), info)
	if err != nil {
		return api.VideoFile{}, nil, ih, err
	}
	f.Resolution, f.Width, f.Height, f.ContentType = res, w, h, media.MP4.ContentType()
	return f, tb, ih, nil
}

// torrentURL is the URL of local video id's torrent at resolution res
// (0: the best file).
func (s *Service) torrentURL(id string, res int) string {
	u := s.cfg.PodURL + "/api/v1/videos/" + id + "/torrent"
	if res > 0 {
		u += "?resolution=" + strconv.Itoa(res)
	}
	return u
}

// seedNew seeds a file whose pieces were just hashed and, with a seeder
// that seeds on demand, registers it so it is loaded again when wanted.
// A failure is logged: the web seed serves the file anyway, and Run seeds
// it at the next start.
func (s *Service) seedNew(ctx context.Context, log interface{ Error(string, ...any) }, tb []byte, ih [20]byte, torrentPath, path string) {
	if s.seeder == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	seed := s.seeder.Seed
	if vs, ok := s.seeder.(verifiedSeeder); ok {
		seed = vs.SeedVerified
	}
	if err := seed(sctx, tb, path); err != nil {
		log.Error("seed new file", "err", err)
		return
	}
	if rs, ok := s.seeder.(registrar); ok {
		if err := rs.Register(ih, torrentPath, path); err != nil {
			log.Error("register new file", "err", err)
		}
	}
}
