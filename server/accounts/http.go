package accounts

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/clientaddr"
	"github.com/swarmtube/swarmtube/server/httpx"
)

// CookieName is the default name of the session cookie set at login for the
// web pages. Browsers do not separate cookies by port, so pods sharing a
// host (localhost:9001, :9002…) each need their own name: see Config.CookieName.
const CookieName = "swarmtube_session"

// maxBody bounds account request bodies: credentials are tiny.
const maxBody = 8 << 10

type ctxKey struct{}

type session struct {
	user  User
	token string
}

// UserFrom returns the authenticated user of the request, if any.
func UserFrom(ctx context.Context) (User, bool) {
	s, ok := ctx.Value(ctxKey{}).(session)
	return s.user, ok
}

// Middleware authenticates requests carrying a bearer token or session
// cookie and puts the user in the request context. Requests without
// credentials pass through anonymous; bad credentials get 401, so a client
// learns its token expired instead of silently acting anonymously.
func (s *Service) Middleware(log *slog.Logger) httpx.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, fromCookie := s.credentials(r)
			if tok == "" {
				next.ServeHTTP(w, r)
				return
			}
			u, err := s.Authenticate(tok)
			if err != nil {
				if fromCookie {
					// A stale cookie must not lock a viewer out of public pages.
					s.clearCookie(w, r)
					next.ServeHTTP(w, r)
					return
				}
				httpx.WriteError(w, r, log, err)
				return
			}
			if fromCookie && !safeMethod(r.Method) && !sameOrigin(r) {
				httpx.WriteError(w, r, log, &httpx.Error{Status: http.StatusForbidden, Code: "cross_origin",
					Message: "cookie-authenticated changes must come from this pod's own pages"})
				return
			}
			ctx := context.WithValue(r.Context(), ctxKey{}, session{user: u, token: tok})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func (s *Service) credentials(r *http.Request) (token string, fromCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		// The scheme is case-insensitive (RFC 9110 §11.1): "bearer" too.
		if scheme, t, ok := strings.Cut(strings.TrimSpace(h), " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(t), false
		}
		return badScheme, false // present but not a bearer token: refuse, don't ignore
	}
	if c, err := r.Cookie(s.cfg.CookieName); err == nil {
		return c.Value, true
	}
	return "", false
}

// badScheme stands for an Authorization header that is not a bearer
// token; Authenticate refuses it as such.
const badScheme = "\x00scheme"

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true // not a browser cross-origin request; SameSite still applies
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// Require wraps h so only users holding right reach it (401 anonymous,
// 403 without the right). An empty right requires only a login.
func Require(log *slog.Logger, right string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserFrom(r.Context())
		if !ok {
			httpx.WriteError(w, r, log, httpx.ErrUnauthorized)
			return
		}
		if right != "" && !u.Has(right) {
			httpx.WriteError(w, r, log, httpx.Errorf(http.StatusForbidden, "forbidden", "this needs the %q right; ask the pod's admin", right))
			return
		}
		h(w, r)
	})
}

// Routes mounts the account routes on mux.
func (s *Service) Routes(mux *http.ServeMux, log *slog.Logger) {
	h := handlers{s: s, log: log}
	mux.HandleFunc("POST /api/v1/users", h.register)
	mux.HandleFunc("POST /api/v1/users/token", h.login)
	mux.Handle("DELETE /api/v1/users/token", Require(log, "", h.logout))
	mux.HandleFunc("GET /api/v1/users/me", h.me)
	mux.Handle("GET /api/v1/users", Require(log, api.RightAdmin, h.list))
	mux.Handle("PUT /api/v1/users/{username}/rights", Require(log, api.RightAdmin, h.setRights))
	mux.Handle("PUT /api/v1/users/{username}/quota", Require(log, api.RightAdmin, h.setQuota))
	mux.Handle("PUT /api/v1/users/me/password", Require(log, "", h.changePassword))
	mux.Handle("DELETE /api/v1/users/me", Require(log, "", h.deleteMe))
	mux.Handle("PUT /api/v1/users/{username}/suspended", Require(log, api.RightAdmin, h.setSuspended))
	mux.Handle("DELETE /api/v1/users/{username}", Require(log, api.RightAdmin, h.deleteUser))
}

type handlers struct {
	s   *Service
	log *slog.Logger
}

type registerRequest struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	Rights   []string `json:"rights,omitempty"` // honoured for admins only
}

func (h handlers) register(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := httpx.DecodeJSON(w, r, maxBody, &req); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	caller, _ := UserFrom(r.Context())
	rights := h.s.cfg.DefaultRights
	switch {
	case caller.Has(api.RightAdmin):
		if req.Rights != nil {
			rights = req.Rights
		}
	case !h.s.cfg.OpenRegistration:
		httpx.WriteError(w, r, h.log, ErrClosed)
		return
	case req.Rights != nil:
		httpx.WriteError(w, r, h.log, httpx.Errorf(http.StatusForbidden, "forbidden", "only an admin may choose rights at registration"))
		return
	}
	u, err := h.s.Register(r.Context(), req.Username, req.Password, rights)
	if err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, h.s.public(u))
}

func (h handlers) login(w http.ResponseWriter, r *http.Request) {
	var req api.Credentials
	if err := httpx.DecodeJSON(w, r, maxBody, &req); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	tok, err := h.s.LoginFrom(r.Context(), clientaddr.Addr(r), req.Username, req.Password)
	if err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	h.s.setCookie(w, r, tok)
	httpx.WriteJSON(w, http.StatusOK, tok)
}

// setCookie makes tok the browser's session.
func (s *Service) setCookie(w http.ResponseWriter, r *http.Request, tok api.Token) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cfg.CookieName, Value: tok.Token, Path: "/", Expires: tok.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: clientaddr.Secure(r),
	})
}

func (h handlers) logout(w http.ResponseWriter, r *http.Request) {
	sess, _ := r.Context().Value(ctxKey{}).(session)
	if err := h.s.Logout(sess.token); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	h.s.clearCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: s.cfg.CookieName, Value: "", Path: "/", Expires: time.Unix(1, 0), MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: clientaddr.Secure(r)})
}

// me answers the logged-in user; anonymously 401, or with ?optional=true
// 204 No Content, so pages that only ask "who is this?" cause no error.
func (h handlers) me(w http.ResponseWriter, r *http.Request) {
	u, ok := UserFrom(r.Context())
	if !ok {
		if r.URL.Query().Get("optional") == "true" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		httpx.WriteError(w, r, h.log, httpx.ErrUnauthorized)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, h.s.public(u))
}

// list answers GET /api/v1/users?start=&count= (admin): one page of the
// users, paged as every list is (httpx.ParsePaging).
func (h handlers) list(w http.ResponseWriter, r *http.Request) {
	start, count, err := httpx.ParsePaging(r)
	if err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	users, err := h.s.List()
	if err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	page, total := httpx.Page(users, start, count)
	out := api.UserList{Total: total, Data: make([]api.User, 0, len(page))}
	for _, u := range page {
		out.Data = append(out.Data, h.s.public(u))
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h handlers) setRights(w http.ResponseWriter, r *http.Request) {
	var req api.Rights
	if err := httpx.DecodeJSON(w, r, maxBody, &req); err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	if req.Rights == nil {
		httpx.WriteError(w, r, h.log, httpx.Errorf(http.StatusBadRequest, "invalid_json", `send {"rights": [...]}`))
		return
	}
	u, err := h.s.SetRights(r.Context(), r.PathValue("username"), req.Rights)
	if err != nil {
		httpx.WriteError(w, r, h.log, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, h.s.public(u))
}
