package accounts

import (
	"context"
	"errors"
	"net/http"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
)

// Quotas, as PeerTube has them: a total (the size of a user's videos) and
// a daily one (what they upload in any 24 hours), each a number of bytes or
// -1 for unlimited. A user has their own figures, set by an admin, or the
// pod's defaults. server/videos enforces them; accounts only keeps them.

// ErrInvalidQuota: a quota that is neither -1 nor a size.
var ErrInvalidQuota = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_quota",
	Message: "a quota is a number of bytes, -1 for unlimited, or null for the pod's default"}

// Quotas returns the quotas in force for u: total and daily bytes, -1 for
// unlimited.
func (s *Service) Quotas(u User) (total, daily int64) {
	total, daily = s.cfg.DefaultVideoQuota, s.cfg.DefaultVideoQuotaDaily
	if total == 0 {
		total = -1
	}
	if daily == 0 {
		daily = -1
	}
	if u.VideoQuota != nil {
		total = *u.VideoQuota
	}
	if u.VideoQuotaDaily != nil {
		daily = *u.VideoQuotaDaily
	}
	return max(total, -1), max(daily, -1)
}

// public is the API view of u, with the quotas in force.
func (s *Service) public(u User) api.User {
	out := u.Public()
	out.VideoQuota, out.VideoQuotaDaily = s.Quotas(u)
	return out
}

// SetQuota sets a user's own quotas (bytes, -1 unlimited); nil returns that
// quota to the pod's default.
func (s *Service) SetQuota(ctx context.Context, username string, total, daily *int64) (User, error) {
	for _, q := range []*int64{total, daily} {
		if q != nil && *q < -1 {
			return User{}, ErrInvalidQuota
		}
	}
	var u User
	err := s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketUsers))
		if err := store.GetJSON(b, []byte(strings.ToLower(username)), &u); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrNoSuchUser
			}
			return err
		}
		u.VideoQuota, u.VideoQuotaDaily = total, daily
		return store.PutJSON(b, []byte(u.Username), u)
	})
	if err != nil {
		return User{}, err
	}
	t, d := s.Quotas(u)
	s.log.InfoContext(ctx, "quota changed", "username", u.Username, "video_quota", t, "video_quota_daily", d)
	return u, nil
}

func (h handlers) setQuota(w http.ResponseWriter, r *http.Request) {
	var req api.Quota
	if err := httpx.DecodeJSON(w, r, maxBody, &req); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	u, err := h.s.SetQuota(r.Context(), r.PathValue("username"), req.VideoQuota, req.VideoQuotaDaily)
	if err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, h.s.public(u))
}
