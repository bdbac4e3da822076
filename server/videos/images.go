package videos

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
)

// kindImages makes a published local video's thumbnail, preview and
// storyboard (runImages). It is queued in the transaction that publishes
// the video (queueFollowUpsTx) and, for videos published before images
// existed or while the pod had no ffmpeg, by backfillImages.
const kindImages = "images"

func init() {
	registerJobKind(kindImages, func(s *Service, ctx, jctx context.Context, key []byte, j job) {
		s.runImages(ctx, jctx, key, j.Video)
	})
}

// ImagesPath is where images are served: ImagesPath + file name.
const ImagesPath = "/static/images/"

// images are the stored images of a local video: file names under
// DataDir/images, each "<video id>-<role>-<16 hex digits of its SHA-256>.<ext>",
// so a URL names one content for ever and may be cached as immutable.
type images struct {
	Thumbnail  string `json:"thumbnail,omitempty"`
	Preview    string `json:"preview,omitempty"`
	Sprite     string `json:"sprite,omitempty"`
	Storyboard string `json:"storyboard,omitempty"` // the grid, JSON (storyboardDoc)
	// None says why the video has no images (no picture, undecodable);
	// the job is not tried again.
	None string `json:"none,omitempty"`
}

func (im *images) files() []string {
	if im == nil {
		return nil
	}
	var out []string
	for _, n := range []string{im.Thumbnail, im.Preview, im.Sprite, im.Storyboard} {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// storyboardDoc is the storyboard file served at storyboard_url: the
// sprite's URL relative to the storyboard's own, and its grid.
type storyboardDoc struct {
	Sprite string `json:"sprite"`
	ffmpeg.Storyboard
}

// imageName matches the file names images use, and nothing else, so the
// image route can only ever open a file of this directory.
var imageName = regexp.MustCompile(`^[a-z2-7]{16}-(thumb|preview|sprite|storyboard)-[0-9a-f]{16}\.(jpg|json)$`)

// setImageURLs fills v's image URLs from im under the pod's URL.
func (s *Service) setImageURLs(v *api.Video, im *images) {
	url := func(name string) string {
		if name == "" {
			return ""
		}
		return s.cfg.PodURL + ImagesPath + name
	}
	v.ThumbnailURL, v.PreviewURL, v.StoryboardURL = "", "", ""
	if im != nil {
		v.ThumbnailURL, v.PreviewURL, v.StoryboardURL = url(im.Thumbnail), url(im.Preview), url(im.Storyboard)
	}
}

// queueFollowUpsTx queues, in the transaction that publishes rec, the
// background jobs of a newly published local video. Call wakeWorkers
// after the commit.
func (s *Service) queueFollowUpsTx(tx *bolt.Tx, rec *record, now time.Time) error {
	if !s.canTranscode() || rec.Origin != "" {
		return nil // without ffmpeg: backfillImages queues them once it is there
	}
	if _, err := enqueueTx(tx, now, job{Kind: kindImages, Video: rec.Video.ID}); err != nil {
		return err
	}
	return s.enqueueLadderTx(tx, rec, now.Add(time.Microsecond)) // after the images: they are quick
}

// imagesTimeLimit bounds one images job: decoding is cheap next to
// encoding, and the sprite of a long video reads key frames only.
func (s *Service) imagesTimeLimit(duration float64) time.Duration {
	if s.cfg.TranscodeTimeLimit > 0 {
		return s.cfg.TranscodeTimeLimit
	}
	return 3*time.Minute + time.Duration(duration/10*float64(time.Second))
}

// runImages makes the images of the published local video id. ffmpeg
// writes into DataDir/images/.tmp-<id>/; the files are synced, named by
// their content and moved into DataDir/images under names reserved from
// cleanup, then the record (with a federation "update" event, so friends
// show them) and the job's removal commit together. A crash before the
// commit leaves the job queued and the files unnamed by any record, which
// cleanup removes; nothing partial is ever named by a record.
func (s *Service) runImages(ctx, jctx context.Context, key []byte, id string) {
	log := s.log.With("video", id, "job", kindImages)
	var rec *record
	err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = getTx(tx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && (rec.Origin != "" || rec.Images != nil)) {
		s.dropJob(key) // removed, a friend's, or done already (a backfill's duplicate)
		return
	}
	if err != nil {
		log.Error("load video for images", "err", err)
		return // the pod's trouble: tried again at the next start
	}
	src := filepath.Join(s.videoDir, rec.File)
	tmp := ".tmp-" + id
	tmpDir := filepath.Join(s.imageDir, tmp)
	s.reserveImages(tmp)
	defer s.releaseImages(tmp)
	defer os.RemoveAll(tmpDir)
	if err := os.RemoveAll(tmpDir); err != nil {
		log.Error("images: clear temp dir", "err", err)
		return
	}
	if err := os.Mkdir(tmpDir, 0o700); err != nil {
		log.Error("images: temp dir", "err", err)
		return
	}
	s.setProgress(id, 0, "images")
	// The published file, not the upload: a transcoded video is upright
	// and scaled, and its first probe described its source.
	info, err := s.cfg.FFmpeg.Probe(jctx, src)
	var set ffmpeg.ImageSet
	limit := s.imagesTimeLimit(info.Duration)
	if err == nil {
		tctx, stop := context.WithTimeout(jctx, limit)
		set, err = s.cfg.FFmpeg.Images(tctx, src, info, tmpDir)
		stop()
	}
	var im images
	var fe *ffmpeg.Error
	switch {
	case err == nil:
	case ctx.Err() != nil:
		log.Info("images interrupted by shutdown; they are made at the next start")
		return
	case jctx.Err() != nil:
		return // the video was removed with its jobs
	case errors.Is(err, ffmpeg.ErrNoPicture):
		im.None = "the video has no picture"
	case errors.Is(err, ffmpeg.ErrUndecodable), errors.As(err, &fe):
		log.Warn("images failed", "err", err)
		im.None = "its frames could not be decoded"
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn("images took too long", "limit", limit)
		im.None = "making them took too long"
	default:
		log.Error("images", "err", err) // the pod's trouble (disk): tried again at the next start
		return
	}
	var names []string
	if im.None == "" {
		s.setProgress(id, 0.9, "images")
		im, names, err = s.keepImages(id, tmpDir, set)
		defer func() { s.releaseImages(names...) }()
		if err != nil {
			log.Error("images: store", "err", err)
			s.removeImageFiles(names)
			return
		}
	}
	err = s.st.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte(bucketJobs)).Delete(key); err != nil {
			return err
		}
		rec, err := getTx(tx, id)
		if err != nil {
			return err // removed meanwhile
		}
		rec.Images = &im
		s.setImageURLs(&rec.Video, rec.Images)
		// Only the record's JSON changes: no index holds these fields.
		if err := store.PutJSON(tx.Bucket([]byte(bucketVideos)), []byte(id), rec); err != nil {
			return err
		}
		if s.outbox != nil && im.None == "" {
			if err := s.outbox.EnqueueTx(tx, fedproto.EventUpdate, rec.Video); err != nil {
				return fmt.Errorf("videos: federation event: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		s.removeImageFiles(names)
		if !errors.Is(err, store.ErrNotFound) {
			log.Error("images: commit", "err", err)
		}
		return
	}
	if im.None != "" {
		s.jobFailed(id, "no images: "+im.None)
		log.Info("no images for this video", "why", im.None)
		return
	}
	log.Info("images made", "frame_at", set.FrameAt, "blank", set.Blank, "tiles", set.Storyboard.Count)
}

// keepImages moves the images ffmpeg wrote in tmpDir into the images
// directory under names derived from their content, and returns them with
// the names written so far (to remove on failure).
func (s *Service) keepImages(id, tmpDir string, set ffmpeg.ImageSet) (images, []string, error) {
	var names []string
	keep := func(role, file, ext string) (string, error) {
		sum, err := fileSum(filepath.Join(tmpDir, file))
		if err != nil {
			return "", err
		}
		name := id + "-" + role + "-" + sum + "." + ext
		s.reserveImages(name) // before it exists: cleanup must not take it
		names = append(names, name)
		if err := syncFile(filepath.Join(tmpDir, file)); err != nil {
			return "", err
		}
		if err := os.Rename(filepath.Join(tmpDir, file), filepath.Join(s.imageDir, name)); err != nil {
			return "", fmt.Errorf("videos: move image: %w", err)
		}
		return name, nil
	}
	var im images
	var err error
	if im.Thumbnail, err = keep("thumb", set.Thumbnail, "jpg"); err != nil {
		return im, names, err
	}
	if im.Preview, err = keep("preview", set.Preview, "jpg"); err != nil {
		return im, names, err
	}
	if im.Sprite, err = keep("sprite", set.Sprite, "jpg"); err != nil {
		return im, names, err
	}
	doc, err := json.Marshal(storyboardDoc{Sprite: im.Sprite, Storyboard: set.Storyboard})
	if err != nil {
		return im, names, err
	}
	if err := os.WriteFile(filepath.Join(tmpDir, "storyboard.json"), doc, 0o600); err != nil {
		return im, names, fmt.Errorf("videos: write storyboard: %w", err)
	}
	if im.Storyboard, err = keep("storyboard", "storyboard.json", "json"); err != nil {
		return im, names, err
	}
	return im, names, syncDir(s.imageDir)
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("videos: read image: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("videos: read image: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// removeImageFiles deletes image files (a removed video's, or a failed
// job's); one left behind is an orphan that cleanup removes.
func (s *Service) removeImageFiles(names []string) {
	for _, n := range names {
		if err := os.Remove(filepath.Join(s.imageDir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("remove image", "file", n, "err", err)
		}
	}
}

// reserveImages marks names under the images directory as being written
// (see cleanup); releaseImages undoes it. Image names never collide with
// names under videoDir, so they share the busy set.
func (s *Service) reserveImages(names ...string) { s.reserve(names...) }

func (s *Service) releaseImages(names ...string) { s.release(names...) }

// backfillBatch is how many images jobs backfillImages queues at a time:
// a new upload's transcode waits behind at most this many.
const backfillBatch = 8

// backfillImages queues images jobs for up to backfillBatch local videos
// that have none (published before images existed, or while the pod had no
// ffmpeg), walking the catalogue in id order from where its last call
// stopped. Workers call it when the queue has nothing for them, so the
// backfill of a large catalogue never holds up new work; the walk ends
// once per process (videos published later get their job when published).
// It reports whether it queued any.
func (s *Service) backfillImages() bool {
	s.backfill.Lock()
	defer s.backfill.Unlock()
	if s.backfill.done {
		return false
	}
	var ids []string
	after := s.backfill.after
	err := s.st.Update(func(tx *bolt.Tx) error {
		now := time.Now()
		c := tx.Bucket([]byte(bucketVideos)).Cursor()
		k, _ := c.Seek([]byte(after))
		for ; k != nil && len(ids) < backfillBatch; k, _ = c.Next() {
			after = string(k) + "\x00" // the next call starts past k
			if len(k) != idLen {
				continue // a friend's video
			}
			rec, err := getTx(tx, string(k))
			if err != nil {
				return err
			}
			if rec.Origin != "" || rec.Images != nil {
				continue
			}
			if _, err := enqueueTx(tx, now, job{Kind: kindImages, Video: rec.Video.ID}); err != nil {
				return err
			}
			ids = append(ids, rec.Video.ID)
		}
		if k == nil {
			s.backfill.done = true // set before the commit; harmless if it fails: the next start walks again
		}
		return nil
	})
	if err != nil {
		s.log.Error("images backfill", "err", err)
		s.backfill.done = true // do not spin on a broken store; the next start tries again
		return false
	}
	s.backfill.after = after
	if len(ids) > 0 {
		s.log.Info("images queued for older videos", "videos", len(ids))
	}
	return len(ids) > 0
}

// serveImage answers GET and HEAD ImagesPath{name}: a thumbnail, preview,
// sprite or storyboard. Names are content-addressed, so answers are
// immutable and cacheable for a year, with the content hash as ETag (a
// conditional GET is a 304). Anyone may read them, from any origin (a
// friend pod's pages show them); a request costs one open and a sendfile,
// and a name that is not an image name is refused before any file access.
func (s *Service) serveImage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	m := imageName.FindStringSubmatch(name)
	notFound := func() {
		httpx.WriteError(w, r, s.log, &httpx.Error{Status: http.StatusNotFound, Code: "image_not_found", Message: "no image has this name"})
	}
	if m == nil {
		notFound()
		return
	}
	f, err := os.Open(filepath.Join(s.imageDir, name))
	if err != nil {
		notFound()
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		notFound()
		return
	}
	h := w.Header()
	if m[2] == "json" {
		h.Set("Content-Type", "application/json")
	} else {
		h.Set("Content-Type", "image/jpeg")
	}
	h.Set("ETag", `"`+strings.TrimSuffix(name[strings.LastIndexByte(name, '-')+1:], "."+m[2])+`"`)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Allow-Origin", "*")
	http.ServeContent(w, r, "", time.Time{}, f)
}
