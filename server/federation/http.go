package federation

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// maxAdminBody bounds POST /api/v1/pods/makefriends, accept and refuse.
const maxAdminBody = 64 << 10

// adminError answers the admin operations' refusals (errors.go) with
// their status and code; failed is the route's code for "none of the
// named pods worked". Any other error is left as it is.
func adminError(err error, failed string) error {
	var status int
	var code string
	switch {
	case errors.Is(err, ErrInvalidPods):
		status, code = http.StatusBadRequest, "invalid_pods"
	case errors.Is(err, ErrNoRequest):
		status, code = http.StatusNotFound, "no_request"
	case errors.Is(err, ErrNoneSucceeded):
		status, code = http.StatusBadGateway, failed
	default:
		return err
	}
	return &httpx.Error{Status: status, Code: code, Message: httpx.UserText(err)}
}

// podsHandler serves an admin route whose body is {"pods": [URL...]}:
// it answers f's result as JSON with 200, or f's error (adminError, with
// failed as the code when no pod worked).
func podsHandler[R any](log *slog.Logger, failed string, f func(context.Context, []string) (R, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req api.MakeFriends
		if err := httpx.DecodeJSON(w, r, maxAdminBody, &req); err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		res, err := f(r.Context(), req.Pods)
		if err != nil {
			httpx.WriteError(w, r, log, adminError(err, failed))
			return
		}
		httpx.WriteJSON(w, http.StatusOK, res)
	}
}

// Routes mounts the admin routes of API.md and the signed pod-to-pod
// routes (see the package documentation).
func (s *Service) Routes(mux *http.ServeMux, log *slog.Logger) {
	mux.Handle("POST /api/"+api.Version+"/pods/makefriends", accounts.Require(log, api.RightAdmin, podsHandler(log, "makefriends_failed", s.MakeFriends)))
	mux.Handle("POST /api/"+api.Version+"/pods/accept", accounts.Require(log, api.RightAdmin, podsHandler(log, "accept_failed", s.Accept)))
	mux.Handle("POST /api/"+api.Version+"/pods/refuse", accounts.Require(log, api.RightAdmin, func(w http.ResponseWriter, r *http.Request) {
		var req api.MakeFriends
		if err := httpx.DecodeJSON(w, r, maxAdminBody, &req); err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		if err := s.Refuse(r.Context(), req.Pods); err != nil {
			httpx.WriteError(w, r, log, adminError(err, ""))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.Handle("POST /api/"+api.Version+"/pods/quitfriends", accounts.Require(log, api.RightAdmin, func(w http.ResponseWriter, r *http.Request) {
		if err := s.QuitFriends(r.Context()); err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	mux.Handle("GET /api/"+api.Version+"/pods", accounts.Require(log, api.RightAdmin, func(w http.ResponseWriter, r *http.Request) {
		start, count, err := httpx.ParsePaging(r)
		if err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		friends, err := s.Friends()
		if err != nil {
			httpx.WriteError(w, r, log, err)
			return
		}
		var out api.FriendList
		out.Data, out.Total = httpx.Page(friends, start, count)
		httpx.WriteJSON(w, http.StatusOK, out)
	}))
	mux.HandleFunc("POST "+fedproto.PathHello, s.handleHello(log))
	mux.HandleFunc("POST "+fedproto.PathCatalog, s.handleCatalog(log))
	mux.HandleFunc("POST "+fedproto.PathEvents, s.handleEvents(log))
	mux.HandleFunc("POST "+fedproto.PathQuit, s.handleQuit(log))
	mux.HandleFunc("POST "+fedproto.PathEject, s.handleEject(log))
}
