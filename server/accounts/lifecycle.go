package accounts

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/clientaddr"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
)

// An account's life beyond registration: its owner changes the password
// (the current one required; every other session ends) or deletes it with
// its videos; an admin suspends (no login, sessions end, videos stay) or
// removes a user. The last admin can be neither suspended nor removed.
//
//	PUT    /api/v1/users/me/password         {"password","new_password"} → 200 token (this session's new one)
//	DELETE /api/v1/users/me                  {"password"} → 204
//	PUT    /api/v1/users/{username}/suspended {"suspended": bool} (admin) → 200 user
//	DELETE /api/v1/users/{username}          (admin) → 204

var (
	// ErrWrongPassword answers a change that needs the current password.
	ErrWrongPassword = &httpx.Error{Status: http.StatusForbidden, Code: "wrong_password", Message: "the current password is not right"}
	// ErrSuspended refuses a suspended user's login.
	ErrSuspended = &httpx.Error{Status: http.StatusForbidden, Code: "suspended", Message: "this account is suspended; ask the pod's admin"}
	// ErrLastAdminGone refuses to suspend or remove the last admin.
	ErrLastAdminGone = &httpx.Error{Status: http.StatusConflict, Code: "last_admin", Message: "the last admin cannot be suspended or removed"}
)

// checkCurrentPassword verifies a logged-in user's password, throttled as
// a login from addr is.
func (s *Service) checkCurrentPassword(ctx context.Context, addr netip.Addr, username, password string) error {
	if _, err := s.LoginFrom(ctx, addr, username, password); err != nil {
		if errors.Is(err, ErrBadLogin) {
			return ErrWrongPassword
		}
		return err
	}
	return nil
}

// ChangePassword sets a new password for username and ends every session;
// the caller gets a fresh token for the session it came from.
func (s *Service) ChangePassword(ctx context.Context, username, newPassword string) (api.Token, error) {
	if _, err := s.SetPassword(ctx, username, newPassword); err != nil {
		return api.Token{}, err
	}
	return s.issueToken(username)
}

// SetSuspended suspends or reinstates username; a suspension ends the
// user's sessions.
func (s *Service) SetSuspended(ctx context.Context, username string, suspended bool) (User, error) {
	name := strings.ToLower(username)
	var u User
	err := s.st.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketUsers))
		if err := store.GetJSON(b, []byte(name), &u); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrNoSuchUser
			}
			return err
		}
		if suspended && u.Has(api.RightAdmin) {
			if err := lastAdminTx(b, name); err != nil {
				return err
			}
		}
		u.Suspended = suspended
		if err := store.PutJSON(b, []byte(name), u); err != nil {
			return err
		}
		if suspended {
			_, err := endSessionsTx(tx, name)
			return err
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	s.log.InfoContext(ctx, "suspension changed", "username", name, "suspended", suspended)
	return u, nil
}

// Delete removes username: first its videos, through Config.OnDelete (so
// friends are told), then the account and its sessions.
func (s *Service) Delete(ctx context.Context, username string) error {
	name := strings.ToLower(username)
	u, err := s.Get(name)
	if err != nil {
		return err
	}
	if u.Has(api.RightAdmin) {
		if err := s.st.View(func(tx *bolt.Tx) error { return lastAdminTx(tx.Bucket([]byte(bucketUsers)), name) }); err != nil {
			return err
		}
	}
	if s.cfg.OnDelete != nil {
		if err := s.cfg.OnDelete(ctx, name); err != nil {
			return err
		}
	}
	err = s.st.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte(bucketUsers)).Delete([]byte(name)); err != nil {
			return err
		}
		_, err := endSessionsTx(tx, name)
		return err
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "user deleted", "username", name)
	return nil
}

// lastAdminTx refuses when name is the only admin left.
func lastAdminTx(b *bolt.Bucket, name string) error {
	admins := 0
	if err := b.ForEach(func(k, _ []byte) error {
		var o User
		if err := store.GetJSON(b, k, &o); err != nil {
			return err
		}
		if o.Has(api.RightAdmin) && !o.Suspended && o.Username != name {
			admins++
		}
		return nil
	}); err != nil {
		return err
	}
	if admins == 0 {
		return ErrLastAdminGone
	}
	return nil
}

// endSessionsTx deletes every token of name and returns how many.
func endSessionsTx(tx *bolt.Tx, name string) (int, error) {
	tb := tx.Bucket([]byte(bucketTokens))
	var dead [][]byte
	if err := tb.ForEach(func(k, _ []byte) error {
		var rec tokenRecord
		if err := store.GetJSON(tb, k, &rec); err == nil && rec.Username == name {
			dead = append(dead, slices.Clone(k))
		}
		return nil
	}); err != nil {
		return 0, err
	}
	for _, k := range dead {
		if err := tb.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(dead), nil
}

type passwordChange struct {
	Password    string `json:"password"`
	NewPassword string `json:"new_password"`
}

func (h handlers) changePassword(w http.ResponseWriter, r *http.Request) {
	var req passwordChange
	if err := httpx.DecodeJSON(w, r, maxBody, &req); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	u, _ := UserFrom(r.Context())
	if err := checkPassword(req.NewPassword); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	if err := h.s.checkCurrentPassword(r.Context(), clientaddr.Addr(r), u.Username, req.Password); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	tok, err := h.s.ChangePassword(r.Context(), u.Username, req.NewPassword)
	if err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	h.s.setCookie(w, r, tok)
	httpx.WriteJSON(w, http.StatusOK, tok)
}

type deleteRequest struct {
	Password string `json:"password"`
}

func (h handlers) deleteMe(w http.ResponseWriter, r *http.Request) {
	var req deleteRequest
	if err := httpx.DecodeJSON(w, r, maxBody, &req); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	u, _ := UserFrom(r.Context())
	if err := h.s.checkCurrentPassword(r.Context(), clientaddr.Addr(r), u.Username, req.Password); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	if err := h.s.Delete(r.Context(), u.Username); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	h.s.clearCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}

type suspension struct {
	Suspended *bool `json:"suspended"`
}

func (h handlers) setSuspended(w http.ResponseWriter, r *http.Request) {
	var req suspension
	if err := httpx.DecodeJSON(w, r, maxBody, &req); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	if req.Suspended == nil {
		httpx.WriteError(w, r, h.log, httpx.Errorf(http.StatusBadRequest, "invalid_json", `send {"suspended": true} or false`))
		return
	}
	u, err := h.s.SetSuspended(r.Context(), r.PathValue("username"), *req.Suspended)
	if err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, h.s.public(u))
}

func (h handlers) deleteUser(w http.ResponseWriter, r *http.Request) {
	if err := h.s.Delete(r.Context(), r.PathValue("username")); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
