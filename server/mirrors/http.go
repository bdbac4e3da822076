package mirrors

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/server/videos"
	bolt "go.etcd.io/bbolt"
)

// Errors answered to admins; all are *httpx.Error.
var (
	errNotRemote = &httpx.Error{Status: http.StatusBadRequest, Code: "not_remote", Message: "this pod is the video's origin; only friends' videos are mirrored"}
	errOff       = &httpx.Error{Status: http.StatusConflict, Code: "mirrors_off", Message: "mirroring is off on this pod (--mirror-max-gb 0)"}
	errNoRoom    = &httpx.Error{Status: http.StatusInsufficientStorage, Code: "mirror_budget",
		Message: "the video does not fit the mirror budget, even after evicting every mirror past its minimum lifetime"}
	errNotMirrored = &httpx.Error{Status: http.StatusNotFound, Code: "not_mirrored", Message: "this pod does not mirror this video"}
)

// Routes mounts the admin routes (see the package documentation).
func (m *Manager) Routes(mux *http.ServeMux, log *slog.Logger) {
	base := "/api/" + api.Version + "/mirrors"
	mux.Handle("GET "+base, accounts.Require(log, api.RightAdmin, func(w http.ResponseWriter, r *http.Request) {
		start, count, err := httpx.ParsePaging(r)
		if err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		st, err := m.Status()
		if err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		st.Data, st.Total = httpx.Page(st.Data, start, count)
		httpx.WriteJSON(w, http.StatusOK, st)
	}))
	mux.Handle("PUT "+base+"/{id}", accounts.Require(log, api.RightAdmin, func(w http.ResponseWriter, r *http.Request) {
		mi, err := m.Pick(r.PathValue("id"))
		if err != nil {
			httpx.WriteError(w, r, log, videos.HTTPError(err)) // the catalogue's refusals: no such video, a bad id
			return
		}
		httpx.WriteJSON(w, http.StatusOK, mi)
	}))
	mux.Handle("DELETE "+base+"/{id}", accounts.Require(log, api.RightAdmin, func(w http.ResponseWriter, r *http.Request) {
		if err := m.Unpick(r.PathValue("id")); err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
}

// Pick makes the friend's video id (its id here) a mirror an admin
// chose: fetched now if it fits the budget, evicting less useful mirrors
// past their minimum lifetime.
func (m *Manager) Pick(id string) (MirrorInfo, error) {
	if !m.Enabled() {
		return MirrorInfo{}, errOff
	}
	v, err := m.cat.Get(id)
	if err != nil {
		return MirrorInfo{}, err
	}
	if v.State != api.StatePublished {
		return MirrorInfo{}, videos.ErrNotFound
	}
	rec, err := m.admit(v, true)
	switch {
	case errors.Is(err, errExists):
	case errors.Is(err, errBudget):
		return MirrorInfo{}, errNoRoom
	case err != nil:
		return MirrorInfo{}, err
	}
	m.signal()
	return m.info(*rec), nil
}

// Unpick withdraws an admin's pick: the copy is dropped at the next
// policy pass once its minimum lifetime has passed.
func (m *Manager) Unpick(id string) error {
	err := m.st.Update(func(tx *bolt.Tx) error {
		r, err := getTx(tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return errNotMirrored
		}
		if err != nil {
			return err
		}
		if r.State == StateWanted {
			return m.dropTx(tx, r) // nothing announced yet: no one relies on it
		}
		r.Picked = false
		return putTx(tx, r)
	})
	if err == nil {
		m.signal()
	}
	return err
}
