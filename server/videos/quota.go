package videos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	tushandler "github.com/tus/tusd/v2/pkg/handler"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// Room for uploads. Before an upload is accepted (a tus creation, or a
// multipart request before its body is read) the pod checks, under one
// lock, in this order:
//
//  1. the user's unfinished resumable uploads (tus only): at most
//     Config.MaxOpenUploads, else 403 too_many_uploads;
//  2. the total quota: the user's videos, their unfinished uploads (at
//     their full Upload-Length) and this upload must fit, else 413
//     quota_exceeded (as PeerTube answers);
//  3. the daily quota: the same with the videos of the last 24 hours, else
//     413 daily_quota_exceeded;
//  4. free disk space: what remains free once every unfinished upload is
//     complete, minus this upload, must stay above Config.MinFreeBytes,
//     else 507 insufficient_storage (logged with the figures; the answer
//     names no path).
//
// Quotas count the published size of local videos. The room taken is
// reserved at once, so concurrent requests cannot all pass the same check.

// reserveTTL is how long a tus reservation counts before its .info file
// exists (tusd writes it right after the creation hook).
const reserveTTL = time.Minute

// quotaState tracks what local videos take per owner.
type quotaState struct {
	mu sync.Mutex // guards the following fields
	// used is the bytes of each owner's local videos.
	used map[string]int64
	// recent holds each owner's local videos created in the last 24 hours
	// (pruned as it is read), for the daily quota.
	recent map[string][]sized
	// reserved is room taken by uploads whose files do not exist yet: tus
	// creations (by upload id) and multipart requests being received.
	reserved map[string]reservation
}

type sized struct {
	id   string
	at   time.Time
	size int64
}

type reservation struct {
	owner string
	size  int64
	at    time.Time
	tus   bool
}

func newQuotaState() quotaState {
	return quotaState{used: map[string]int64{}, recent: map[string][]sized{}, reserved: map[string]reservation{}}
}

// count adds (delta 1) or removes (delta -1) a local video from the usage.
func (q *quotaState) count(rec *record, delta int) {
	if rec.Origin != "" {
		return
	}
	q.add(rec.Video.Owner, rec.Video.ID, rec.Video.Size, rec.Video.CreatedAt, delta)
}

// add is count for the local video id of owner, size bytes, created at
// created.
func (q *quotaState) add(owner, id string, size int64, created time.Time, delta int) {
	if owner == "" {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.used[owner] += int64(delta) * size; q.used[owner] <= 0 {
		delete(q.used, owner)
	}
	if delta > 0 {
		if time.Since(created) < 24*time.Hour {
			q.recent[owner] = append(q.recent[owner], sized{id, created, size})
		}
		return
	}
	list := q.recent[owner][:0]
	for _, v := range q.recent[owner] {
		if v.id != id {
			list = append(list, v)
		}
	}
	q.recent[owner] = list
}

// usedDailyLocked sums owner's videos of the last 24 hours; q.mu is held.
func (q *quotaState) usedDailyLocked(owner string, now time.Time) int64 {
	var sum int64
	list := q.recent[owner][:0]
	for _, v := range q.recent[owner] {
		if now.Sub(v.at) < 24*time.Hour {
			list = append(list, v)
			sum += v.size
		}
	}
	if len(list) == 0 {
		delete(q.recent, owner)
	} else {
		q.recent[owner] = list
	}
	return sum
}

// openUploads are one owner's unfinished uploads.
type openUploads struct {
	count int
	bytes int64 // full lengths: they will take that much once complete
}

// openUploadsLocked reads the unfinished resumable uploads (their .info
// files, written by tusd) and the reservations: per owner, and the bytes
// all of them still have to write. q.mu is held.
func (s *Service) openUploadsLocked(now time.Time) (map[string]openUploads, int64) {
	out := map[string]openUploads{}
	var remaining int64
	seen := map[string]bool{}
	entries, err := os.ReadDir(s.uploadDir)
	if err != nil {
		s.log.Warn("quota: list uploads", "err", err)
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".info")
		if !ok || !validUploadID(id) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(s.uploadDir, e.Name()))
		if err != nil {
			continue // finished or removed meanwhile
		}
		var info tushandler.FileInfo
		if err := json.Unmarshal(data, &info); err != nil || info.Size < 0 {
			continue
		}
		seen[id] = true
		o := out[info.MetaData[metaOwner]]
		o.count++
		o.bytes += info.Size
		out[info.MetaData[metaOwner]] = o
		remaining += max(info.Size-info.Offset, 0)
	}
	for key, r := range s.quota.reserved {
		if r.tus && (seen[key] || now.Sub(r.at) > reserveTTL) {
			delete(s.quota.reserved, key) // its .info counts now (or it never came)
			continue
		}
		o := out[r.owner]
		if r.tus {
			o.count++
		}
		o.bytes += r.size
		out[r.owner] = o
		remaining += r.size
	}
	return out, remaining
}

// reserveRoom runs the checks above for an upload of size bytes by u and
// reserves the room under key. release gives it back (a multipart request
// calls it when done; a tus reservation also ends when its .info appears).
func (s *Service) reserveRoom(u accounts.User, size int64, key string, tus bool) (release func(), err error) {
	total, daily := int64(-1), int64(-1)
	if s.cfg.Quota != nil {
		total, daily = s.cfg.Quota(u)
	}
	now := time.Now()
	s.quota.mu.Lock()
	defer s.quota.mu.Unlock()
	open, remaining := s.openUploadsLocked(now)
	mine := open[u.Username]
	if tus && s.cfg.MaxOpenUploads > 0 && mine.count >= s.cfg.MaxOpenUploads {
		return nil, refuse(ErrTooManyUploads,
			"you have %d unfinished uploads, the most this pod allows; finish or cancel one first (unfinished uploads are removed after %s without progress)",
			mine.count, s.cfg.UploadExpiry)
	}
	used := s.quota.used[u.Username]
	if total >= 0 && used+mine.bytes+size > total {
		return nil, errQuota(ErrQuota, "your quota", size, used, mine.bytes, total)
	}
	if daily >= 0 {
		if usedDaily := s.quota.usedDailyLocked(u.Username, now); usedDaily+mine.bytes+size > daily {
			return nil, errQuota(ErrDailyQuota, "your daily quota (uploads of the last 24 hours)", size, usedDaily, mine.bytes, daily)
		}
	}
	if s.cfg.FreeSpace != nil {
		free, err := s.cfg.FreeSpace(s.cfg.DataDir)
		if err != nil {
			s.log.Warn("quota: free space unknown", "err", err)
		} else if free-remaining-size < s.cfg.MinFreeBytes {
			s.log.Warn("upload refused: the disk would fill", "user", u.Username, "bytes", size,
				"free", free, "unfinished_uploads_remaining", remaining, "min_free", s.cfg.MinFreeBytes)
			return nil, ErrNoRoom
		}
	}
	s.quota.reserved[key] = reservation{owner: u.Username, size: size, at: now, tus: tus}
	return func() {
		s.quota.mu.Lock()
		defer s.quota.mu.Unlock()
		delete(s.quota.reserved, key)
	}, nil
}

// errQuota says in plain words, in binary units, why an upload does not fit.
func errQuota(kind refusalKind, which string, size, used, pending, quota int64) error {
	msg := fmt.Sprintf("this video (%s) does not fit in %s of %s: your videos take %s", httpx.SizeText(size), which, httpx.SizeText(quota), httpx.SizeText(used))
	if pending > 0 {
		msg += fmt.Sprintf(" and your unfinished uploads %s", httpx.SizeText(pending))
	}
	return refuse(kind, "%s; remove videos or ask the pod's admin for more room", msg)
}

// QuotaUsage reports u's quotas and what counts against them.
func (s *Service) QuotaUsage(u accounts.User) api.QuotaUsage {
	out := api.QuotaUsage{VideoQuota: -1, VideoQuotaDaily: -1, MaxOpenUploads: s.cfg.MaxOpenUploads}
	if s.cfg.Quota != nil {
		out.VideoQuota, out.VideoQuotaDaily = s.cfg.Quota(u)
	}
	now := time.Now()
	s.quota.mu.Lock()
	defer s.quota.mu.Unlock()
	open, _ := s.openUploadsLocked(now)
	out.Used = s.quota.used[u.Username]
	out.UsedDaily = s.quota.usedDailyLocked(u.Username, now)
	out.OpenUploads, out.OpenUploadBytes = open[u.Username].count, open[u.Username].bytes
	return out
}

func (h handlers) quota(w http.ResponseWriter, r *http.Request) {
	u, _ := accounts.UserFrom(r.Context())
	httpx.WriteJSON(w, http.StatusOK, h.s.QuotaUsage(u))
}
