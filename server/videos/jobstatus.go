package videos

import (
	"context"
	"encoding/binary"
	"net/http"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// Bounds of GET /api/v1/jobs: the queue can hold a backfill of every
// video, so only its head is listed (and counted in full).
const (
	maxListedQueued = 100
	maxRecentJobs   = 50
)

// jobBoard is what the admin page shows of the queue besides bucketJobs:
// the running jobs and the last finished ones (since the pod started).
type jobBoard struct {
	mu       sync.Mutex
	running  map[string]api.Job // by job key
	recent   []api.Job          // newest last, at most maxRecentJobs
	failures map[string]string  // video → why its running job failed
}

// jobStarted records a claimed job as running.
func (s *Service) jobStarted(key []byte, j job) {
	b := &s.board
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running == nil {
		b.running, b.failures = map[string]api.Job{}, map[string]string{}
	}
	b.running[string(key)] = api.Job{Kind: j.Kind, Video: j.Video, Resolution: j.Resolution, State: api.JobRunning,
		QueuedAt: keyTime(key), StartedAt: time.Now().UTC()}
}

// jobFailed notes why the running job of video failed (for the board).
func (s *Service) jobFailed(video, reason string) {
	b := &s.board
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures != nil {
		b.failures[video] = reason
	}
}

// jobEnded moves a job from running to recent: done or failed when its
// runner removed it from the queue, interrupted (it runs again) when not.
func (s *Service) jobEnded(ctx context.Context, key []byte, j job) {
	queued := false
	_ = s.st.View(func(tx *bolt.Tx) error {
		queued = tx.Bucket([]byte(bucketJobs)).Get(key) != nil
		return nil
	})
	b := &s.board
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.running[string(key)]
	if !ok {
		return
	}
	delete(b.running, string(key))
	e.FinishedAt = time.Now().UTC()
	e.Progress, e.Step = 0, ""
	reason, failed := b.failures[j.Video]
	delete(b.failures, j.Video)
	switch {
	case queued || ctx.Err() != nil:
		e.State = api.JobInterrupted
	case failed:
		e.State, e.Error = api.JobFailed, reason
	default:
		e.State, e.Progress = api.JobDone, 1
	}
	if len(b.recent) == maxRecentJobs {
		b.recent = append(b.recent[:0], b.recent[1:]...)
	}
	b.recent = append(b.recent, e)
}

// keyTime is when the job with key was queued (its first 8 bytes).
func keyTime(key []byte) time.Time {
	if len(key) < 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(key[:8]))).UTC()
}

// Jobs lists the pipeline's jobs for the admin page: the running ones
// with their progress, the first maxListedQueued queued ones in the order
// workers take them, and the last maxRecentJobs finished since the start,
// newest first; Queued counts every queued job.
func (s *Service) Jobs() (api.JobList, error) {
	b := &s.board
	b.mu.Lock()
	out := api.JobList{Data: []api.Job{}}
	running := map[string]bool{}
	for k, e := range b.running {
		running[k] = true
		out.Data = append(out.Data, e)
	}
	recent := make([]api.Job, 0, len(b.recent))
	for i := len(b.recent) - 1; i >= 0; i-- {
		recent = append(recent, b.recent[i])
	}
	b.mu.Unlock()
	s.mu.RLock()
	for i := range out.Data {
		if p, ok := s.progress[out.Data[i].Video]; ok {
			out.Data[i].Progress, out.Data[i].Step = p.Progress, p.Step
		}
	}
	s.mu.RUnlock()
	out.Running = len(out.Data)
	err := s.st.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketJobs)).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if running[string(k)] {
				continue
			}
			out.Queued++
			if out.Queued > maxListedQueued {
				continue // counted, not listed
			}
			j, err := decodeJob(v)
			if err != nil {
				continue
			}
			out.Data = append(out.Data, api.Job{Kind: j.Kind, Video: j.Video, Resolution: j.Resolution, State: api.JobQueued, QueuedAt: keyTime(k)})
		}
		// Finished jobs are named too: an admin reads titles, not ids.
		out.Data = append(out.Data, recent...)
		for i := range out.Data {
			if rec, err := getTx(tx, out.Data[i].Video); err == nil {
				out.Data[i].Name = rec.Video.Name
			} else if rec, err := pendingTx(tx, out.Data[i].Video); err == nil {
				out.Data[i].Name = rec.Video.Name
			}
		}
		return nil
	})
	return out, err
}

// listJobs answers GET /api/v1/jobs (admin).
func (h handlers) listJobs(w http.ResponseWriter, r *http.Request) {
	start, count, err := httpx.ParsePaging(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out, err := h.s.Jobs()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out.Data, out.Total = httpx.Page(out.Data, start, count)
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, out)
}
