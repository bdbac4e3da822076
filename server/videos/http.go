package videos

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	tushandler "github.com/tus/tusd/v2/pkg/handler"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/shared/media"
)

// Form limits.
const (
	maxFieldBytes = 64 << 10 // a text field of the upload form
	maxFormParts  = 16
	formOverhead  = 1 << 20 // multipart framing and text fields on top of the file
	maxJSONBody   = 64 << 10
)

// Routes mounts every /api/v1/videos route, the resumable upload endpoint
// included, on mux.
func (s *Service) Routes(mux *http.ServeMux, log *slog.Logger) {
	upload := func(serve func(w http.ResponseWriter, r *http.Request, info tushandler.FileInfo)) http.Handler {
		return accounts.Require(log, api.RightUpload, s.tusUpload(serve))
	}
	h := handlers{s: s, log: log, tusHead: upload(func(w http.ResponseWriter, r *http.Request, _ tushandler.FileInfo) {
		s.tusRoutes.head.ServeHTTP(w, r)
	})}
	h.noRoute = &httpx.NoRoute{Mux: mux, NotFound: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, log, httpx.Errorf(http.StatusNotFound, "no_route", "no API route %s %s", r.Method, r.URL.Path))
	})}
	mux.Handle("POST /api/v1/videos", accounts.Require(log, api.RightUpload, h.upload))
	mux.HandleFunc("GET /api/v1/videos", h.list)
	mux.HandleFunc("GET /api/v1/videos/search", h.search)
	mux.Handle("GET /api/v1/users/me/quota", accounts.Require(log, "", h.quota))
	mux.HandleFunc("GET /api/v1/videos/{id}", h.get)
	mux.Handle("PATCH /api/v1/videos/{id}", accounts.Require(log, "", h.update))
	mux.Handle("DELETE /api/v1/videos/{id}", accounts.Require(log, "", h.remove))
	mux.HandleFunc("POST /api/v1/videos/{id}/views", h.view)
	mux.HandleFunc("GET "+ImagesPath+"{name}", s.serveImage)
	mux.Handle("GET /api/v1/jobs", accounts.Require(log, api.RightAdmin, h.listJobs))
	// GET .../{id}/torrent and HEAD on an upload share a path shape, and
	// ServeMux refuses overlapping patterns, so both go through sub.
	mux.Handle("GET /api/v1/videos/{id}/{sub}", subRoute{h})
	mux.Handle("HEAD /api/v1/videos/{id}/{sub}", subRoute{h})

	mux.Handle("POST /api/v1/videos/uploads/{$}", accounts.Require(log, api.RightUpload, s.tusCreate))
	mux.Handle("POST /api/v1/videos/uploads", http.RedirectHandler(UploadsPath, http.StatusPermanentRedirect))
	mux.Handle("PATCH /api/v1/videos/uploads/{uploadID}", upload(func(w http.ResponseWriter, r *http.Request, info tushandler.FileInfo) {
		r.Body = clientBody{r.Body}
		if err := s.sniffPatch(r, info); err != nil {
			writeError(w, r, s.log, err)
			return
		}
		s.tusRoutes.patch.ServeHTTP(w, r)
	}))
	mux.Handle("DELETE /api/v1/videos/uploads/{uploadID}", upload(func(w http.ResponseWriter, r *http.Request, _ tushandler.FileInfo) {
		s.tusRoutes.del.ServeHTTP(w, r)
	}))
	mux.HandleFunc("OPTIONS /api/v1/videos/uploads/", s.tusOptions)
	mux.Handle("POST /api/v1/videos/uploads/{uploadID}/finish", accounts.Require(log, api.RightUpload, h.finish))
}

// Refusals of the HTTP layer itself: the query's own shape.
var (
	// ErrBadPaging: start or count out of range (httpx.ParsePaging).
	ErrBadPaging = httpx.ErrBadPaging
	// ErrBadQuery: the search query is missing or too long.
	ErrBadQuery = &httpx.Error{Status: http.StatusBadRequest, Code: "invalid_query", Message: fmt.Sprintf("send the search text as q (at most %d bytes)", maxQueryBytes)}
)

// answer is how the API answers a refusal of the service: its status,
// its code and, unless the refusal says its own (refuse), its words.
type answer struct {
	status      int
	code, words string
}

// answers gives every refusal of errors.go its answer, as docs/API.md
// lists them.
var answers = map[refusalKind]answer{
	ErrNotFound:         {http.StatusNotFound, "video_not_found", "no video has this id"},
	ErrBadID:            {http.StatusBadRequest, "invalid_id", "a video id is 16 letters a-z and digits 2-7 (friends' videos: 'r' and 16 more)"},
	ErrNotVideo:         {http.StatusUnsupportedMediaType, "not_a_video", "the file is not a video this pod accepts: send a video file such as MP4 or WebM (the content is checked, not the name)"},
	ErrUndecodable:      {http.StatusUnsupportedMediaType, "invalid_video", "the file looks like a video but cannot be decoded: it may be truncated or damaged"},
	ErrEmptyFile:        {http.StatusBadRequest, "empty_file", "the file is empty"},
	ErrMissingFile:      {http.StatusBadRequest, "missing_file", `send the video in a multipart form field named "file"`},
	ErrTooLarge:         {http.StatusRequestEntityTooLarge, "too_large", "the video is larger than this pod accepts"},
	ErrDuplicate:        {http.StatusConflict, "duplicate_video", "this exact video, under the same name, is already published on this pod"},
	ErrNotOwner:         {http.StatusForbidden, "forbidden", "only the video's owner or an admin may do this"},
	ErrRemote:           {http.StatusForbidden, "remote_video", "this video belongs to another pod; it can only be changed there"},
	ErrBadName:          {http.StatusBadRequest, "invalid_name", "the name is not valid"},
	ErrBadDescription:   {http.StatusBadRequest, "invalid_description", "the description is not valid"},
	ErrNoResolution:     {http.StatusNotFound, "resolution_not_found", "this video has no file at this resolution"},
	ErrBadSession:       {http.StatusBadRequest, "bad_session", fmt.Sprintf("session must be 8 to %d characters", maxSessionLen)},
	ErrUploadNotFound:   {http.StatusNotFound, "upload_not_found", "no upload has this id; uploads expire when abandoned"},
	ErrNotUploader:      {http.StatusForbidden, "forbidden", "this upload belongs to another user"},
	ErrUploadIncomplete: {http.StatusConflict, "upload_incomplete", "the upload has not received all its bytes yet; resume it first"},
	ErrUploadBusy:       {http.StatusConflict, "upload_busy", "this upload is already being finished"},
	ErrTooManyUploads:   {http.StatusForbidden, "too_many_uploads", "you have as many unfinished uploads as this pod allows; finish or cancel one first"},
	ErrQuota:            {http.StatusRequestEntityTooLarge, "quota_exceeded", "this video does not fit in your quota"},
	ErrDailyQuota:       {http.StatusRequestEntityTooLarge, "daily_quota_exceeded", "this video does not fit in your daily quota"},
	ErrNoRoom:           {http.StatusInsufficientStorage, httpx.ErrInsufficientStorage.Code, httpx.ErrInsufficientStorage.Message},
}

// HTTPError is the one place where a refusal of the service (errors.go)
// becomes an HTTP answer: its status, code and plain words (answers), the
// refusal kept as the logged cause. Any other error is left as it is, for
// httpx.Public (a 500 unless it is an *httpx.Error or a full disk).
// Every video route answers through it (writeError), and so do the
// mirrors' routes, which answer about videos too.
func HTTPError(err error) error {
	var kind refusalKind
	if !errors.As(err, &kind) {
		return err
	}
	a, ok := answers[kind]
	if !ok {
		return err // a refusal without an answer is a bug: a 500, logged
	}
	words := a.words
	if r := (*refusal)(nil); errors.As(err, &r) {
		words = r.text
	}
	return &httpx.Error{Status: a.status, Code: a.code, Message: words, Cause: err}
}

// writeError answers err, in the API's words for a refusal (HTTPError).
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	httpx.WriteError(w, r, log, HTTPError(err))
}

type handlers struct {
	s       *Service
	log     *slog.Logger
	tusHead http.Handler
	noRoute http.Handler // 405 or 404 for what no route serves
}

func (h handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		err = ErrNotFound
	}
	writeError(w, r, h.log, err)
}

func (h handlers) list(w http.ResponseWriter, r *http.Request) {
	start, count, err := httpx.ParsePaging(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var out api.VideoList
	if owner := r.URL.Query().Get("owner"); owner != "" {
		if len(owner) > maxOwnerLen {
			h.fail(w, r, httpx.Errorf(http.StatusBadRequest, "bad_owner", "owner must be a username of at most %d characters", maxOwnerLen))
			return
		}
		out, err = h.s.ListByOwner(strings.ToLower(owner), start, count)
	} else {
		out, err = h.s.List(start, count)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// maxOwnerLen bounds the owner filter (usernames are at most 32 bytes).
const maxOwnerLen = 64

func (h handlers) search(w http.ResponseWriter, r *http.Request) {
	start, count, err := httpx.ParsePaging(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	qs, ok := r.URL.Query()["q"]
	if !ok || len(qs) != 1 || len(qs[0]) > maxQueryBytes {
		h.fail(w, r, ErrBadQuery)
		return
	}
	out, err := h.s.Search(qs[0], start, count)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

func (h handlers) get(w http.ResponseWriter, r *http.Request) {
	u, _ := accounts.UserFrom(r.Context())
	v, err := h.s.GetFor(r.PathValue("id"), u.Username, u.Has(api.RightAdmin))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, v)
}

// subRoute serves GET and HEAD /api/v1/videos/{id}/{sub}: a video's
// .torrent, and HEAD on an upload (tus). It is an httpx.Partial, so that
// GET on an upload or on .../{id}/views answers 405 with the methods that
// do have a route there.
type subRoute struct{ h handlers }

func (s subRoute) Serves(r *http.Request) bool {
	id, sub, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/v1/videos/"), "/")
	return (r.Method == http.MethodHead && id == "uploads") || sub == "torrent"
}

func (s subRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodHead && r.PathValue("id") == "uploads":
		s.h.tusHead.ServeHTTP(w, r)
	case r.PathValue("sub") == "torrent":
		s.h.torrent(w, r)
	default:
		s.h.noRoute.ServeHTTP(w, r)
	}
}

func (h handlers) torrent(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		h.fail(w, r, ErrBadID)
		return
	}
	// ?resolution=N picks one of the video's files (Video.Files); without
	// it, the best file.
	res := 0
	if q, ok := r.URL.Query()["resolution"]; ok {
		var err error
		res, err = strconv.Atoi(q[0])
		if len(q) != 1 || err != nil || res < 1 || res > maxRemoteDimension {
			h.fail(w, r, httpx.Errorf(http.StatusBadRequest, "invalid_resolution", "resolution must be a number of pixels, as in the video's files"))
			return
		}
	}
	t, err := h.s.Torrent(id, res)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if t.Redirect != "" {
		http.Redirect(w, r, t.Redirect, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "application/x-bittorrent")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": t.Name}))
	w.Header().Set("Content-Length", strconv.Itoa(len(t.Data)))
	// The info dictionary never changes, but the url-list and
	// announce-list follow the video's mirrors.
	w.Header().Set("Cache-Control", "public, max-age=60")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(t.Data)
}

type updateRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

func (h handlers) update(w http.ResponseWriter, r *http.Request) {
	var req updateRequest
	if err := httpx.DecodeJSON(w, r, maxJSONBody, &req); err != nil {
		h.fail(w, r, err)
		return
	}
	u, _ := accounts.UserFrom(r.Context())
	v, err := h.s.Update(r.Context(), r.PathValue("id"), u.Username, u.Has(api.RightAdmin), req.Name, req.Description)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, v)
}

func (h handlers) remove(w http.ResponseWriter, r *http.Request) {
	u, _ := accounts.UserFrom(r.Context())
	if err := h.s.Remove(r.Context(), r.PathValue("id"), u.Username, u.Has(api.RightAdmin)); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h handlers) finish(w http.ResponseWriter, r *http.Request) {
	var req finishRequest
	if r.ContentLength != 0 {
		if err := httpx.DecodeJSON(w, r, maxJSONBody, &req); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	u, _ := accounts.UserFrom(r.Context())
	v, err := h.s.FinishUpload(r.Context(), r.PathValue("uploadID"), u.Username, req.Name, req.Description)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.answerUpload(w, v)
}

func (h handlers) upload(w http.ResponseWriter, r *http.Request) {
	u, _ := accounts.UserFrom(r.Context())
	limit := h.s.cfg.MaxUploadBytes
	if r.ContentLength > limit+formOverhead {
		h.fail(w, r, errTooLarge(limit))
		return
	}
	// Room is reserved for the whole body (a few KiB of fields more than
	// the file) before reading it; with no Content-Length, for the file
	// once received.
	release, err := h.s.reserveRoom(u, max(r.ContentLength, 0), "form-"+randomID(uploadIDLen), false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer func() { release() }()
	r.Body = http.MaxBytesReader(w, r.Body, limit+formOverhead)
	mr, err := r.MultipartReader()
	if err != nil {
		h.fail(w, r, httpx.Errorf(http.StatusBadRequest, "invalid_form", "send the video as multipart/form-data with the fields file, name and description"))
		return
	}
	form, err := h.s.receiveForm(mr)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defer form.cleanup()
	if r.ContentLength <= 0 {
		st, err := os.Stat(form.path)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		release()
		if release, err = h.s.reserveRoom(u, st.Size(), "form-"+randomID(uploadIDLen), false); err != nil {
			release = func() {}
			h.fail(w, r, err)
			return
		}
	}
	v, err := h.s.Publish(r.Context(), Upload{Path: form.path, Name: form.name, Description: form.description, Owner: u.Username})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.answerUpload(w, v)
}

// answerUpload answers a finished upload with the video and the pod's
// other copies of the same bytes, if any (issue 17 item 13).
func (h handlers) answerUpload(w http.ResponseWriter, v api.Video) {
	out := api.Uploaded{Video: v}
	if v.State == api.StatePublished {
		dups, err := h.s.Duplicates(v.ID)
		if err != nil {
			h.log.Warn("duplicates of a new video", "video", v.ID, "err", err) // the upload itself succeeded
		}
		out.Duplicates = dups
	}
	httpx.WriteJSON(w, createdStatus(v), out)
}

// createdStatus is 201 for a published upload, 202 for one being processed.
func createdStatus(v api.Video) int {
	if v.State == api.StateProcessing {
		return http.StatusAccepted
	}
	return http.StatusCreated
}

// uploadForm is a received multipart upload: the file in a temp file of
// the video directory, and the text fields.
type uploadForm struct {
	path, name, description string
	release                 func()
}

// cleanup removes the temp file (a no-op once Publish moved it).
func (f *uploadForm) cleanup() {
	if f.path != "" {
		_ = os.Remove(f.path)
	}
	if f.release != nil {
		f.release()
	}
}

// receiveForm reads a multipart upload, streaming the "file" part to a
// temp file (at most MaxUploadBytes) and keeping the short text fields.
// Unknown fields are read and ignored. On error nothing is left on disk.
func (s *Service) receiveForm(mr *multipart.Reader) (form *uploadForm, err error) {
	form = &uploadForm{}
	defer func() {
		if err != nil {
			form.cleanup()
		}
	}()
	haveFile := false
	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return form, formError(err)
		}
		if parts == maxFormParts {
			return form, httpx.Errorf(http.StatusBadRequest, "invalid_form", "too many form fields")
		}
		switch p.FormName() {
		case "file":
			if haveFile {
				return form, httpx.Errorf(http.StatusBadRequest, "invalid_form", "send exactly one file")
			}
			haveFile = true
			if err := s.receiveFile(form, p); err != nil {
				return form, err
			}
		case "name", "description":
			b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
			if err != nil {
				return form, formError(err)
			}
			if len(b) > maxFieldBytes {
				return form, httpx.Errorf(http.StatusBadRequest, "invalid_form", "the %s field is too long", p.FormName())
			}
			if p.FormName() == "name" {
				form.name = string(b)
			} else {
				form.description = string(b)
			}
		default:
			if _, err := io.Copy(io.Discard, io.LimitReader(p, maxFieldBytes)); err != nil {
				return form, formError(err)
			}
		}
	}
	if !haveFile {
		return form, ErrMissingFile
	}
	return form, nil
}

func (s *Service) receiveFile(form *uploadForm, p *multipart.Part) error {
	name := ".tmp-upload-" + randomID(uploadIDLen)
	s.reserve(name)
	form.release = func() { s.release(name) }
	form.path = filepath.Join(s.videoDir, name)
	f, err := os.OpenFile(form.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("videos: create upload file: %w", err)
	}
	defer f.Close()
	src := &readErrors{r: io.LimitReader(p, s.cfg.MaxUploadBytes+1)}
	// The container is checked as soon as its head has arrived, so a file
	// that is not a video is refused before the rest is received.
	head := make([]byte, media.SniffLen)
	hn, err := io.ReadFull(src, head)
	if src.err != nil {
		return formError(src.err)
	}
	if hn == 0 {
		return nil // empty: Publish answers empty_file
	}
	if c, err := media.Sniff(head[:hn]); err != nil || !s.accepts(c) {
		return ErrNotVideo
	}
	if _, err := f.Write(head[:hn]); err != nil {
		return fmt.Errorf("videos: write upload file: %w", err)
	}
	n, err := io.Copy(f, src)
	n += int64(hn)
	if src.err != nil {
		return formError(src.err)
	}
	if err != nil {
		return fmt.Errorf("videos: write upload file: %w", err)
	}
	if n > s.cfg.MaxUploadBytes {
		return errTooLarge(s.cfg.MaxUploadBytes)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("videos: write upload file: %w", err)
	}
	return nil
}

// formError maps an error reading the request body: too large (413) or
// malformed or cut short by the client (400).
func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return httpx.Errorf(http.StatusBadRequest, "invalid_form", "the upload form is malformed or was cut short").Because(err)
}

// readErrors remembers the read error of r, to tell the client's faults
// from the disk's when copying.
type readErrors struct {
	r   io.Reader
	err error
}

func (e *readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}
