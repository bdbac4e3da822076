package videos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	tushandler "github.com/tus/tusd/v2/pkg/handler"
	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/server/store"
)

// Seeder seeds local videos over BitTorrent (server/seeder implements it).
type Seeder interface {
	// Seed starts seeding the torrent whose single file is at filePath. The
	// file is complete and verified, so no re-hashing is needed.
	Seed(ctx context.Context, torrentBytes []byte, filePath string) error
	// Remove stops seeding and forgets the torrent.
	Remove(infoHash [20]byte) error
}

// Outbox queues federation events (server/federation implements it). It is
// called inside the write transaction of the change, so the change and its
// event commit together or not at all. kind is fedproto.EventAdd,
// EventUpdate or EventRemove: the event kinds are defined once, with the
// wire protocol.
type Outbox interface {
	EnqueueTx(tx *bolt.Tx, kind string, v api.Video) error
}

// Config configures the service.
type Config struct {
	PodURL  string // public base URL, no trailing slash
	DataDir string // files under DataDir/videos, torrents under DataDir/torrents, resumable uploads under DataDir/uploads
	// MaxUploadBytes is the largest accepted video.
	MaxUploadBytes int64
	// UploadExpiry is how long an unfinished resumable upload is kept after
	// its last write (default 24 h).
	UploadExpiry time.Duration
	// Quota returns the quotas in force for a user, in bytes, -1 for
	// unlimited (accounts.Service.Quotas); nil: no quotas. MaxOpenUploads
	// bounds each user's unfinished resumable uploads (0: no bound).
	// FreeSpace reports the bytes free on the file system of DataDir
	// (DiskFree; nil: not checked), and an upload that would leave less
	// than MinFreeBytes is refused with 507. See quota.go.
	Quota func(accounts.User) (total, daily int64)
	// CheckUser says whether a local user has this name: nil, a 404
	// *httpx.Error (accounts.ErrNoSuchUser), or the store's error. Nil:
	// every name is taken to be a user's.
	CheckUser      func(username string) error
	MaxOpenUploads int
	FreeSpace      func(dir string) (int64, error)
	MinFreeBytes   int64
	// MaxConcurrentIngests bounds uploads processed (rewritten, hashed) at
	// once; others wait (default 2).
	MaxConcurrentIngests int
	// FFmpeg locates ffprobe and ffmpeg. Without them (the zero value) the
	// pod cannot probe: it accepts MP4, WebM and Ogg files as they are.
	FFmpeg ffmpeg.Tools
	// TranscodeWorkers is how many videos are transcoded at once (default 1).
	TranscodeWorkers int
	// TranscodeTimeLimit bounds one transcoding job; 0 means 10 minutes
	// plus 20 times the video's duration.
	TranscodeTimeLimit time.Duration
	// Ladder is the resolutions (short side, pixels) made of every video
	// below its best file (ladder.go); nil means DefaultLadder, empty none.
	Ladder []int
	// MirrorTorrent returns the .torrent of a friend's video this pod
	// mirrors (server/mirrors), by the video's id here and the info hash
	// of the file (one of Video.Files); false: not held here. Called
	// when serving requests only; nil: this pod mirrors nothing.
	MirrorTorrent func(id, infoHash string) ([]byte, bool)
	// Outbox queues the federation events of local changes
	// (server/federation/outbox, made before this service and the federation
	// that drains it); nil: a pod without federation.
	Outbox Outbox
}

// Service is the video catalogue: uploads, storage, the search index and
// the records of friends' videos. It is safe for concurrent use.
type Service struct {
	cfg     Config
	st      *store.Store
	seeder  Seeder
	outbox  Outbox
	log     *slog.Logger
	metrics *metrics

	videoDir, torrentDir, uploadDir string
	imageDir                        string // thumbnails, previews, storyboards (images.go)
	tus                             *tushandler.UnroutedHandler
	tusRoutes                       tusRoutes
	tusStore                        tusStore
	ingestSlots                     chan struct{}
	searchers                       sync.Pool // of *searcher
	quota                           quotaState
	views                           *viewTable

	// setsMu guards known and files, apart from mu: the clean-up holds mu
	// while it reads the whole catalogue, and the tracker asks Known for
	// every announce.
	setsMu sync.RWMutex
	// known counts videos (local and friends') per info hash: the tracker
	// tracks exactly these. Updated in commit handlers by ±1, which commute,
	// so concurrent commits cannot leave it wrong.
	known map[[20]byte]int
	// files counts committed local videos per file name, for the web seed.
	files map[string]int

	mu sync.RWMutex // guards the following fields
	// busy holds names under videoDir being written by an ingest that has
	// not committed yet, and upload ids being finished: the janitor skips them.
	busy map[string]struct{}
	// running maps the ids of videos being transcoded to their job's cancel.
	running map[string]context.CancelFunc
	// progress holds the progress of running jobs.
	progress map[string]api.Processing
	// deferred holds the keys of jobs that ended without leaving the
	// queue: they run again at the next start, not in a loop.
	deferred map[string]bool

	jobWake chan struct{} // a job was queued
	board   jobBoard      // running and recent jobs, for the admin page

	// backfill is where backfillImages' walk of the catalogue is.
	backfill struct {
		sync.Mutex
		after string // the next walk starts at this key
		done  bool
	}
}

// New opens the service's buckets and directories and loads the set of
// known info hashes. seeder may be nil (nothing is seeded).
func New(cfg Config, st *store.Store, seeder Seeder, log *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	cfg.PodURL = strings.TrimRight(cfg.PodURL, "/")
	if u, err := url.Parse(cfg.PodURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("videos: pod URL %q is not an http(s) URL", cfg.PodURL)
	}
	if cfg.MaxUploadBytes <= 0 {
		return nil, errors.New("videos: MaxUploadBytes must be positive")
	}
	if cfg.UploadExpiry <= 0 {
		cfg.UploadExpiry = 24 * time.Hour
	}
	if cfg.MaxConcurrentIngests <= 0 {
		cfg.MaxConcurrentIngests = 2
	}
	if cfg.TranscodeWorkers <= 0 {
		cfg.TranscodeWorkers = 1
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Service{
		cfg:         cfg,
		st:          st,
		seeder:      seeder,
		outbox:      cfg.Outbox,
		log:         log,
		videoDir:    filepath.Join(cfg.DataDir, "videos"),
		torrentDir:  filepath.Join(cfg.DataDir, "torrents"),
		uploadDir:   filepath.Join(cfg.DataDir, "uploads"),
		imageDir:    filepath.Join(cfg.DataDir, "images"),
		ingestSlots: make(chan struct{}, cfg.MaxConcurrentIngests),
		views:       newViewTable(),
		known:       make(map[[20]byte]int),
		files:       make(map[string]int),
		busy:        make(map[string]struct{}),
		quota:       newQuotaState(),
		running:     make(map[string]context.CancelFunc),
		progress:    make(map[string]api.Processing),
		deferred:    make(map[string]bool),
		jobWake:     make(chan struct{}, cfg.TranscodeWorkers),
	}
	for _, d := range []string{s.videoDir, s.torrentDir, s.uploadDir, s.imageDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("videos: create %s: %w", d, err)
		}
	}
	// Indexes added after the first release are built from the records the
	// first time a binary that has them opens an older store.
	// Counts of an index that exists are built from its keys.
	var missing []string
	var uncounted []keyIndex
	if err := st.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(bucketVideos)) == nil {
			return nil
		}
		for _, ix := range keyIndexes {
			switch {
			case tx.Bucket([]byte(ix.bucket)) == nil:
				missing = append(missing, ix.bucket)
			case ix.grouped != "" && tx.Bucket([]byte(ix.grouped)) == nil:
				uncounted = append(uncounted, ix)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := st.Buckets(bucketVideos, bucketByTime, bucketByHash, bucketByOrigin, bucketByDoc, bucketByOwner, bucketOwnerN, bucketByContent, bucketLocal, bucketMeta, bucketSearch, bucketPending, bucketJobs); err != nil {
		return nil, err
	}
	if len(missing) > 0 || len(uncounted) > 0 {
		if err := st.Update(func(tx *bolt.Tx) error {
			for _, ix := range uncounted {
				if err := ix.buildGroupsTx(tx); err != nil {
					return err
				}
			}
			if len(missing) == 0 {
				return nil
			}
			n, err := buildIndexesTx(tx, missing)
			if err == nil {
				log.Info("built video indexes", "indexes", missing, "videos", n)
			}
			return err
		}); err != nil {
			return nil, fmt.Errorf("videos: build indexes %v: %w", missing, err)
		}
	}
	if err := st.Update(func(tx *bolt.Tx) error {
		if !store.NeedsRebuild(tx, store.IndexSearch) {
			return nil
		}
		n, err := rebuildSearchTx(tx)
		if err == nil {
			log.Info("search index rebuilt for the new folding rules", "videos", n)
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("videos: rebuild search index: %w", err)
	}
	if err := st.View(s.loadTx); err != nil {
		return nil, fmt.Errorf("videos: load: %w", err)
	}
	m, err := newMetrics(reg, s)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if err := s.setupTus(); err != nil {
		return nil, err
	}
	if err := s.relocate(); err != nil {
		s.log.Warn("some local videos keep their old URLs", "err", err)
	}
	return s, nil
}

// loadTx fills the in-memory sets from the indexes, decoding no record:
// the info hashes the tracker knows from videos_by_hash (every video), the
// web seed's files and the quota use from videos_local (local videos).
func (s *Service) loadTx(tx *bolt.Tx) error {
	// Sized once for every video: grown step by step, the maps cost a
	// large part of a start.
	total := int(tx.Bucket([]byte(bucketByTime)).Sequence())
	s.known, s.files = make(map[[20]byte]int, total), make(map[string]int, total)
	c := tx.Bucket([]byte(bucketByHash)).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) <= 20 {
			return fmt.Errorf("videos: hash index key of %d bytes", len(k))
		}
		s.known[[20]byte(k[:20])]++
	}
	return forEachLocalTx(tx, func(id string, e localEntry) error {
		if e.file != "" {
			s.files[e.file]++
		}
		for _, r := range e.lower {
			s.files[renditionFile(id, r.resolution)]++
		}
		s.quota.add(e.owner, id, e.size, time.Unix(0, e.created), 1)
		return nil
	})
}

// forEachLocalTx calls fn with every local video's id and entry, in id
// order.
func forEachLocalTx(tx *bolt.Tx, fn func(id string, e localEntry) error) error {
	return tx.Bucket([]byte(bucketLocal)).ForEach(func(k, v []byte) error {
		e, err := parseLocalEntry(v)
		if err != nil {
			return fmt.Errorf("%w (video %s)", err, k)
		}
		return fn(string(k), e)
	})
}

// Known reports whether infoHash is a local or friend's video. It reads an
// in-memory set kept exact after every commit, so the tracker may call it
// for every announce.
func (s *Service) Known(infoHash [20]byte) bool {
	s.setsMu.RLock()
	defer s.setsMu.RUnlock()
	return s.known[infoHash] > 0
}

// onCommitCounts registers, on tx, the in-memory bookkeeping of adding
// (delta 1) or removing (delta -1) rec once tx commits.
func (s *Service) onCommitCounts(tx *bolt.Tx, rec *record, delta int) {
	ts, err := rec.torrents(s.torrentDir)
	if err != nil {
		return
	}
	tx.OnCommit(func() { s.quota.count(rec, delta) })
	tx.OnCommit(func() {
		for _, t := range ts {
			s.addCounts(t.ih, t.file, delta)
		}
	})
}

// addCounts is the bookkeeping of onCommitCounts.
func (s *Service) addCounts(ih [20]byte, file string, delta int) {
	s.setsMu.Lock()
	defer s.setsMu.Unlock()
	if s.known[ih] += delta; s.known[ih] <= 0 {
		delete(s.known, ih)
	}
	if file != "" {
		if s.files[file] += delta; s.files[file] <= 0 {
			delete(s.files, file)
		}
	}
}

// ResolveWebseed maps a web seed file name to the path of a committed local
// video (server/webseed serves it). Any other name is refused.
func (s *Service) ResolveWebseed(fileName string) (string, bool) {
	if fileName != filepath.Base(fileName) || strings.HasPrefix(fileName, ".") {
		return "", false
	}
	s.setsMu.RLock()
	ok := s.files[fileName] > 0
	s.setsMu.RUnlock()
	if !ok {
		return "", false
	}
	return filepath.Join(s.videoDir, fileName), true
}

// Get returns the video with id.
func (s *Service) Get(id string) (api.Video, error) {
	if !validID(id) {
		return api.Video{}, ErrBadID
	}
	var v api.Video
	err := s.st.View(func(tx *bolt.Tx) error {
		rec, err := getTx(tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		v = rec.Video
		return nil
	})
	return v, err
}

// GetFor returns the video with id as user sees it: published videos to
// anyone, processing and failed ones to their owner and admins only.
func (s *Service) GetFor(id, user string, admin bool) (api.Video, error) {
	if !validID(id) {
		return api.Video{}, ErrBadID
	}
	var rec *record
	err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		rec, err = getTx(tx, id)
		if errors.Is(err, store.ErrNotFound) {
			rec, err = pendingTx(tx, id)
			if err == nil && (user == "" || (rec.Video.Owner != user && !admin)) {
				err = store.ErrNotFound
			}
		}
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return api.Video{}, err
	}
	// Outside the transaction: s.mu is never taken inside one (cleanup
	// takes them in the other order).
	return s.withProgress(rec).Video, nil
}

// List returns count videos, newest first, after skipping start, with the
// total number of videos.
func (s *Service) List(start, count int) (api.VideoList, error) {
	var out api.VideoList
	err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		out.Data, out.Total, err = listTx(tx, start, count)
		return err
	})
	return out, err
}

// ListByOwner returns count of the local videos uploaded by owner, newest
// first, after skipping start, with how many owner has. An owner who is
// no user of this pod is Config.CheckUser's error (a 404 no_such_user),
// so a user page, feed or ?owner= of nobody is not an empty list.
func (s *Service) ListByOwner(owner string, start, count int) (api.VideoList, error) {
	if s.cfg.CheckUser != nil {
		if err := s.cfg.CheckUser(owner); err != nil {
			return api.VideoList{}, err
		}
	}
	return s.listByOwner(owner, start, count)
}

// listByOwner is ListByOwner for an owner who may be gone already.
func (s *Service) listByOwner(owner string, start, count int) (api.VideoList, error) {
	var out api.VideoList
	err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		out.Data, out.Total, err = listOwnerTx(tx, owner, start, count)
		return err
	})
	return out, err
}

// Search returns the videos matching q (see the package doc), best first.
func (s *Service) Search(q string, start, count int) (api.VideoList, error) {
	begin := time.Now()
	terms := queryTerms(q)
	var out api.VideoList
	sc, _ := s.searchers.Get().(*searcher)
	if sc == nil {
		sc = &searcher{}
	}
	err := s.st.View(func(tx *bolt.Tx) error {
		var err error
		out.Data, out.Total, err = sc.search(tx, terms, start, count)
		return err
	})
	s.searchers.Put(sc)
	s.metrics.search.Observe(time.Since(begin).Seconds())
	return out, err
}

// LocalVideos returns every video this pod is the origin of, for a new
// friend.
func (s *Service) LocalVideos() ([]api.Video, error) {
	out := []api.Video{}
	err := s.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketVideos)).ForEach(func(k, _ []byte) error {
			rec, err := getTx(tx, string(k))
			if err != nil {
				return err
			}
			if rec.Origin == "" {
				out = append(out, rec.Video)
			}
			return nil
		})
	})
	return out, err
}

// LocalVideosAfter lists at most n videos this pod is the origin of, in
// increasing id order, with ids above after ("" for the first page): the
// pages of federation's catalogue exchange. It walks videos_local, which
// holds local videos only, so a page costs a seek and n records however
// many friends' videos there are.
func (s *Service) LocalVideosAfter(after string, n int) ([]api.Video, error) {
	out := []api.Video{}
	err := s.st.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketLocal)).Cursor()
		k, _ := c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, _ = c.Next()
		}
		for ; k != nil && len(out) < n; k, _ = c.Next() {
			rec, err := getTx(tx, string(k))
			if err != nil {
				return err
			}
			out = append(out, rec.Video)
		}
		return nil
	})
	return out, err
}

// localRecords returns the records of every local video.
func (s *Service) localRecords() ([]record, error) {
	var out []record
	err := s.st.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketVideos)).ForEach(func(k, _ []byte) error {
			rec, err := getTx(tx, string(k))
			if err != nil {
				return err
			}
			if rec.Origin == "" {
				out = append(out, *rec)
			}
			return nil
		})
	})
	return out, err
}

// Run seeds every local video, cleans up files left by crashes and
// abandoned resumable uploads (then hourly), and runs the transcoding
// workers, until ctx is done. Queued jobs, those a crash interrupted
// included, start again once the first clean-up has removed their partial
// output.
func (s *Service) Run(ctx context.Context) error {
	if err := s.SeedAll(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("seeding local videos", "err", err)
	}
	// Abandoned uploads go within a quarter of their expiry, not an hour.
	t := time.NewTicker(min(time.Hour, max(s.cfg.UploadExpiry/4, time.Minute)))
	s.cleanup()
	workers := make(chan struct{})
	go func() {
		defer close(workers)
		s.runWorkers(ctx)
	}()
	defer func() { <-workers }()
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.cleanup()
	}
}

// SeedAll hands every local video to the seeder (at start, so a restarted
// pod seeds what it seeded before, from the stored .torrent, without
// hashing again). A seeder that seeds on demand (registrar) only
// registers them: nothing is read or loaded until a peer asks. It returns
// the errors of the videos that failed.
func (s *Service) SeedAll(ctx context.Context) error {
	if s.seeder == nil {
		return nil
	}
	type local struct {
		id string
		e  localEntry
	}
	// A registrar only records paths in memory: that is done during the
	// read. Seed may take long, and a read transaction held that long
	// would keep bbolt from reusing freed pages: read first, seed after.
	rs, registers := s.seeder.(registrar)
	var locals []local
	var errs []error
	n := 0
	if err := s.st.View(func(tx *bolt.Tx) error {
		if r, ok := rs.(reserver); ok {
			r.Reserve(int(tx.Bucket([]byte(bucketByTime)).Sequence()))
		}
		return forEachLocalTx(tx, func(id string, e localEntry) error {
			if !registers {
				locals = append(locals, local{id, e})
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := s.seed(ctx, id, e); err != nil {
				errs = append(errs, err)
			} else {
				n++
			}
			return nil
		})
	}); err != nil {
		return err
	}
	for _, l := range locals {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.seed(ctx, l.id, l.e); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	s.log.Info("seeding local videos", "count", n, "failed", len(errs))
	return errors.Join(errs...)
}

// reserver is a registrar that can make room for many registrations at
// once (server/seeder has it).
type reserver interface{ Reserve(n int) }

// seed hands every file of local video id, whose videos_local entry is
// e, to the seeder: its best file and each lower resolution, each a
// torrent of its own.
func (s *Service) seed(ctx context.Context, id string, e localEntry) error {
	type file struct {
		ih                [20]byte
		path, torrentPath string
	}
	// e.file is a name the pod gave, with no separator (see torrentPath).
	files := []file{{e.infoHash, s.videoDir + string(filepath.Separator) + e.file, s.torrentPath(id)}}
	for _, r := range e.lower {
		files = append(files, file{r.infoHash, filepath.Join(s.videoDir, renditionFile(id, r.resolution)), filepath.Join(s.torrentDir, renditionTorrent(id, r.resolution))})
	}
	for _, f := range files {
		if rs, ok := s.seeder.(registrar); ok {
			if err := rs.Register(f.ih, f.torrentPath, f.path); err != nil {
				return fmt.Errorf("videos: register %s: %w", filepath.Base(f.path), err)
			}
			continue
		}
		tb, err := os.ReadFile(f.torrentPath)
		if err != nil {
			return fmt.Errorf("videos: seed %s: %w", filepath.Base(f.path), err)
		}
		if err := s.seeder.Seed(ctx, tb, f.path); err != nil {
			return fmt.Errorf("videos: seed %s: %w", filepath.Base(f.path), err)
		}
	}
	return nil
}

// torrentPath is filepath.Join(s.torrentDir, id+".torrent") without its
// Clean (torrentDir is clean and ids have no separator): a start calls it
// for every local video.
func (s *Service) torrentPath(id string) string {
	return s.torrentDir + string(filepath.Separator) + id + ".torrent"
}

// cleanup removes what a crash or an abandoned upload left behind: temp
// files, video and torrent files without a committed record, and resumable
// uploads not written to for UploadExpiry.
func (s *Service) cleanup() {
	// Holding mu for the whole pass makes it exact: an ingest registers its
	// file names in busy (under mu) before creating them and unregisters
	// them only after its commit, so every file seen here is busy,
	// committed (visible to the View below), or an orphan.
	s.mu.Lock()
	defer s.mu.Unlock()
	torrents := make(map[string]bool)
	files := make(map[string]bool)
	imageFiles := make(map[string]bool)
	err := s.st.View(func(tx *bolt.Tx) error {
		err := tx.Bucket([]byte(bucketVideos)).ForEach(func(k, _ []byte) error {
			rec, err := getTx(tx, string(k))
			if err != nil {
				return err
			}
			torrents[rec.Video.ID+".torrent"] = true
			files[rec.File] = true
			for _, n := range rec.Images.files() {
				imageFiles[n] = true
			}
			ts, _ := rec.torrents(s.torrentDir)
			for _, t := range ts {
				if t.file != "" {
					files[t.file] = true
					torrents[filepath.Base(t.torrentPath)] = true
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketPending)).ForEach(func(k, _ []byte) error {
			rec, err := pendingTx(tx, string(k))
			if err != nil {
				return err
			}
			if rec.Source != "" {
				files[rec.Source] = true
			}
			return nil
		})
	})
	if err != nil {
		s.log.Warn("cleanup: read catalogue", "err", err)
		return
	}
	orphan := func(dir string, keep func(name string) bool) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			s.log.Warn("cleanup: list", "dir", dir, "err", err)
			return
		}
		for _, e := range entries {
			name := e.Name()
			if _, ok := s.busy[name]; ok || keep(name) {
				continue
			}
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				s.log.Warn("cleanup: remove", "path", filepath.Join(dir, name), "err", err)
				continue
			}
			s.log.Info("cleanup: removed orphan", "path", filepath.Join(dir, name))
		}
	}
	orphan(s.videoDir, func(name string) bool { return files[name] })
	orphan(s.imageDir, func(name string) bool { return imageFiles[name] })
	orphan(s.torrentDir, func(name string) bool { return torrents[name] })
	s.expireUploadsLocked()
}

// reserve marks names as being written (see cleanup); release undoes it.
func (s *Service) reserve(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		s.busy[n] = struct{}{}
	}
}

func (s *Service) release(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		delete(s.busy, n)
	}
}
