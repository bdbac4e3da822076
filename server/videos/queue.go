package videos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/swarmtube/swarmtube/server/store"
	bolt "go.etcd.io/bbolt"
)

// The job queue: bucketJobs holds one key per queued job, timeKey(queued,
// video id) plus a suffix that keeps a video's jobs apart, so workers take
// jobs oldest first and a restart finds every unfinished one. The value
// is the job as JSON. A job is removed in the transaction that commits its
// result, so a crash at any point leaves it queued and it runs again.
//
// Job kinds are separable: each kind registers its runner (registerJobKind)
// in the file that implements it. A worker runs one job of a video at a
// time, so a video's jobs never race each other; removing a video cancels
// its running job and drops its queued ones (dropJobsTx).

// job is one queued unit of work.
type job struct {
	Kind  string `json:"kind"`  // a registered kind: kindTranscode, kindRendition...
	Video string `json:"video"` // the video id
	// Resolution is the short side, in pixels, of the file a kindRendition
	// job makes.
	Resolution int `json:"resolution,omitempty"`
}

// jobRunner runs one job. It removes the job from bucketJobs (key) in the
// transaction that commits its result, or when the job cannot succeed; a
// job left queued (shutdown, the pod's own trouble) runs again at the next
// start. ctx ends at shutdown; jctx also ends when the video is removed.
type jobRunner func(s *Service, ctx, jctx context.Context, key []byte, j job)

// jobKinds maps each kind to its runner. Written only by init functions.
var jobKinds = map[string]jobRunner{}

// registerJobKind makes kind runnable; called from init.
func registerJobKind(kind string, run jobRunner) {
	if _, dup := jobKinds[kind]; dup {
		panic("videos: job kind registered twice: " + kind)
	}
	jobKinds[kind] = run
}

// decodeJob reads a bucketJobs value. Before job kinds, the value was the
// bare id of a video to transcode and publish.
func decodeJob(v []byte) (job, error) {
	if len(v) == 0 || v[0] != '{' {
		return job{Kind: kindTranscode, Video: string(v)}, nil
	}
	var j job
	if err := json.Unmarshal(v, &j); err != nil {
		return job{}, fmt.Errorf("videos: job %q: %w", v, err)
	}
	return j, nil
}

// jobKey is the key of job j queued at t. Keys of jobs queued for one
// video at the same instant differ by their kind and resolution.
func jobKey(t time.Time, j job) []byte {
	k := append(timeKey(t, j.Video), '/')
	k = append(k, j.Kind...)
	if j.Resolution > 0 {
		k = fmt.Appendf(k, "/%d", j.Resolution)
	}
	return k
}

// enqueueTx queues j at t inside tx and returns its key. Call
// wakeWorkers after the commit.
func enqueueTx(tx *bolt.Tx, t time.Time, j job) ([]byte, error) {
	v, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	key := jobKey(t, j)
	if err := tx.Bucket([]byte(bucketJobs)).Put(key, v); err != nil {
		return nil, fmt.Errorf("videos: queue %s job: %w", j.Kind, err)
	}
	return key, nil
}

// dropJobsTx removes every queued job of video id and returns how many.
func dropJobsTx(tx *bolt.Tx, id string) (int, error) {
	return store.DeleteWhere(tx.Bucket([]byte(bucketJobs)), nil, func(_, v []byte) bool {
		j, err := decodeJob(v)
		return err == nil && j.Video == id
	})
}

// wakeWorkers tells idle workers that a job is waiting.
func (s *Service) wakeWorkers() {
	for range cap(s.jobWake) {
		select {
		case s.jobWake <- struct{}{}:
		default:
			return
		}
	}
}

// runWorkers runs cfg.TranscodeWorkers workers until ctx is done, then
// waits for them (each stops its ffmpeg; the jobs stay queued).
func (s *Service) runWorkers(ctx context.Context) {
	if !s.canTranscode() {
		return
	}
	done := make(chan struct{})
	for range s.cfg.TranscodeWorkers {
		go func() {
			defer func() { done <- struct{}{} }()
			s.worker(ctx)
		}()
	}
	for range s.cfg.TranscodeWorkers {
		<-done
	}
}

func (s *Service) worker(ctx context.Context) {
	for ctx.Err() == nil {
		key, j, ok := s.claim()
		if !ok && s.backfillImages() {
			continue
		}
		if !ok {
			select {
			case <-ctx.Done():
			case <-s.jobWake:
			case <-time.After(time.Minute): // a missed wake-up costs at most this
			}
			continue
		}
		s.runClaimed(ctx, key, j)
	}
}

// claim takes the oldest queued job of a known kind whose video no worker
// is busy with. Jobs of unknown kinds (written by a newer pod) stay queued.
func (s *Service) claim() (key []byte, j job, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.st.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketJobs)).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			d, err := decodeJob(v)
			if err != nil || jobKinds[d.Kind] == nil {
				continue
			}
			if _, busy := s.running[d.Video]; !busy && !s.deferred[string(k)] {
				key, j, ok = bytes.Clone(k), d, true
				return nil
			}
		}
		return nil
	})
	if ok {
		s.running[j.Video] = func() {}
	}
	return key, j, ok
}

// runClaimed runs a claimed job with a context that Remove cancels, and
// forgets its progress when it ends.
func (s *Service) runClaimed(ctx context.Context, key []byte, j job) {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.running[j.Video] = cancel
	s.mu.Unlock()
	s.jobStarted(key, j)
	defer func() {
		s.jobEnded(ctx, key, j)
		s.mu.Lock()
		delete(s.running, j.Video)
		delete(s.progress, j.Video)
		s.mu.Unlock()
	}()
	jobKinds[j.Kind](s, ctx, jctx, key, j)
	if ctx.Err() != nil {
		return
	}
	// A job its runner left queued met the pod's own trouble (a full
	// disk...): it waits for the next start instead of running again at
	// once, in a loop.
	queued := false
	_ = s.st.View(func(tx *bolt.Tx) error {
		queued = tx.Bucket([]byte(bucketJobs)).Get(key) != nil
		return nil
	})
	if queued {
		s.log.Warn("job left queued until the next start", "job", string(key), "kind", j.Kind, "video", j.Video)
		s.mu.Lock()
		s.deferred[string(key)] = true
		s.mu.Unlock()
	}
}

// cancelJob stops the running job of video id, if any (it removes its own
// temp files).
func (s *Service) cancelJob(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cancel, ok := s.running[id]; ok {
		cancel()
	}
}

// dropJob removes one job from the queue.
func (s *Service) dropJob(key []byte) {
	if err := s.st.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucketJobs)).Delete(key) }); err != nil {
		s.log.Error("drop job", "job", string(key), "err", err)
	}
}
