package videos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	tushandler "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	expslog "golang.org/x/exp/slog"

	"github.com/swarmtube/swarmtube/server/accounts"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/shared/media"
)

// UploadsPath is where the tus resumable upload endpoint is mounted.
const UploadsPath = "/api/v1/videos/uploads/"

// Upload-Metadata keys (tus) the service reads and stores.
const (
	metaName        = "name"
	metaDescription = "description"
	metaFilename    = "filename"
	metaOwner       = "owner" // set by the pod, never taken from the client
	maxMetaFilename = 255
)

type tusStore = filestore.FileStore

// tusRoutes are the tusd handlers, each wrapped in tusd's protocol
// middleware (Tus-Resumable checks, headers).
type tusRoutes struct {
	post, head, patch, del, options http.Handler
}

// relativeLocation turns the absolute Location of a created upload into a
// path. tusd builds it from the request's own scheme and Host, so behind a
// TLS reverse proxy it says http:// and a page on https would be sent to
// mixed content; tus 1.0.0 lets the URL be relative, and clients resolve it
// against the creation URL, which the client knows is right.
func relativeLocation(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(relLocWriter{w}, r)
	})
}

type relLocWriter struct{ http.ResponseWriter }

func (w relLocWriter) WriteHeader(code int) {
	if u, err := url.Parse(w.Header().Get("Location")); err == nil && u.IsAbs() {
		w.Header().Set("Location", u.RequestURI())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w relLocWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Service) setupTus() error {
	s.tusStore = filestore.New(s.uploadDir)
	s.tusStore.DirModePerm, s.tusStore.FileModePerm = 0o700, 0o600
	composer := tushandler.NewStoreComposer()
	public := publicStore{fs: &s.tusStore, log: s.log.With("component", "tus")}
	composer.UseCore(public)
	composer.UseTerminater(public)
	composer.UseLocker(memorylocker.New())
	h, err := tushandler.NewUnroutedHandler(tushandler.Config{
		StoreComposer:           composer,
		BasePath:                UploadsPath,
		MaxSize:                 s.cfg.MaxUploadBytes,
		DisableDownload:         true,
		DisableConcatenation:    true,
		Cors:                    &tushandler.CorsConfig{Disable: true}, // the pod's own pages only
		Logger:                  expslog.New(tusLogHandler{log: s.log.With("component", "tus")}),
		PreUploadCreateCallback: s.tusPreCreate,
	})
	if err != nil {
		return fmt.Errorf("videos: tus handler: %w", err)
	}
	s.tus = h
	// tusd answers its own refusals in plain text: tusWords puts them in
	// the API's JSON, in the pod's words.
	plain := httpx.PlainErrors(s.log, s.tusWords, nil)
	s.tusRoutes = tusRoutes{
		post: plain(relativeLocation(h.Middleware(http.HandlerFunc(h.PostFile)))), // outside: tusd keeps the writer Middleware saw
		// tusd takes the upload id from the path after its base path.
		head:    plain(h.Middleware(http.StripPrefix(UploadsPath, http.HandlerFunc(h.HeadFile)))),
		patch:   plain(h.Middleware(http.StripPrefix(UploadsPath, http.HandlerFunc(h.PatchFile)))),
		del:     plain(h.Middleware(http.StripPrefix(UploadsPath, http.HandlerFunc(h.DelFile)))),
		options: plain(h.Middleware(http.NotFoundHandler())), // answers OPTIONS itself
	}
	return nil
}

// tusError renders e in the API's JSON error shape for tusd to send.
func tusError(e *httpx.Error) tushandler.Error {
	body, _ := json.Marshal(api.Error{Error: e.Code, Message: e.Message})
	return tushandler.Error{ErrorCode: e.Code, Message: e.Message, HTTPResponse: tushandler.HTTPResponse{
		StatusCode: e.Status,
		Body:       string(body) + "\n",
		Header:     tushandler.HTTPHeader{"Content-Type": "application/json; charset=utf-8"},
	}}
}

// tusPreCreate validates a new upload's metadata, names it with a pod-made
// id and records its owner.
func (s *Service) tusPreCreate(hook tushandler.HookEvent) (tushandler.HTTPResponse, tushandler.FileInfoChanges, error) {
	var none tushandler.FileInfoChanges
	u, ok := accounts.UserFrom(hook.Context)
	if !ok {
		return tushandler.HTTPResponse{}, none, tusError(httpx.ErrUnauthorized)
	}
	meta, err := uploadMetadata(hook.Upload.MetaData, hook.Upload.Size)
	if err != nil {
		return tushandler.HTTPResponse{}, none, tusError(httpx.Public(HTTPError(err)))
	}
	meta[metaOwner] = u.Username
	id := newUploadID()
	if _, err := s.reserveRoom(u, hook.Upload.Size, id, true); err != nil {
		return tushandler.HTTPResponse{}, none, tusError(httpx.Public(HTTPError(err)))
	}
	s.log.Info("resumable upload created", "upload", id, "owner", u.Username, "bytes", hook.Upload.Size)
	return tushandler.HTTPResponse{}, tushandler.FileInfoChanges{ID: id, MetaData: meta}, nil
}

// uploadMetadata checks the client's tus metadata and returns what is kept.
// The name may be left for the finish request; if given it must be valid.
func uploadMetadata(in map[string]string, size int64) (map[string]string, error) {
	if size <= 0 {
		return nil, ErrEmptyFile
	}
	out := map[string]string{}
	if n, ok := in[metaName]; ok {
		clean, err := cleanName(n)
		if err != nil {
			return nil, err
		}
		out[metaName] = clean
	}
	if d, ok := in[metaDescription]; ok {
		clean, err := cleanDescription(d)
		if err != nil {
			return nil, err
		}
		out[metaDescription] = clean
	}
	// The client's file name is informational only (logs); the stored
	// file is named by the pod.
	if f, ok := in[metaFilename]; ok {
		if _, err := checkText(f, false); err == nil && len(f) <= maxMetaFilename {
			out[metaFilename] = f
		}
	}
	return out, nil
}

// The tus routes are dispatched by the mux, one handler per method
// (Routes): tusCreate, tusUpload for HEAD, PATCH and DELETE on one upload,
// and tusOptions. Each refuses X-HTTP-Method-Override, which would let a
// POST act as PATCH or DELETE behind the checks of another route.
func methodOverridden(w http.ResponseWriter, r *http.Request, log *slog.Logger) bool {
	if r.Header.Get("X-HTTP-Method-Override") == "" {
		return false
	}
	httpx.WriteError(w, r, log, httpx.Errorf(http.StatusBadRequest, "method_override", "X-HTTP-Method-Override is not supported"))
	return true
}

// tusCreate hands an upload's creation (POST UploadsPath) to tusd; the
// route requires the upload right.
func (s *Service) tusCreate(w http.ResponseWriter, r *http.Request) {
	if methodOverridden(w, r, s.log) {
		return
	}
	if _, err := parseUploadMetadata(r.Header.Values("Upload-Metadata")); err != nil {
		httpx.WriteError(w, r, s.log, err)
		return
	}
	s.tusRoutes.post.ServeHTTP(w, r)
	// The room the creation hook reserved covers the moment before tusd
	// writes the upload's .info. Once the upload exists its .info counts,
	// and stops counting the moment the upload is refused, cancelled or
	// finished; a reservation kept on would count it a minute longer.
	if id := path.Base(w.Header().Get("Location")); validUploadID(id) {
		s.quota.mu.Lock()
		delete(s.quota.reserved, id)
		s.quota.mu.Unlock()
	}
}

// tusUpload serves a request on one upload, UploadsPath+<id>, with serve,
// once it is known to exist and to belong to the request's user: only its
// creator may touch it.
func (s *Service) tusUpload(serve func(w http.ResponseWriter, r *http.Request, info tushandler.FileInfo)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if methodOverridden(w, r, s.log) {
			return
		}
		id := strings.TrimPrefix(r.URL.Path, UploadsPath)
		if !validUploadID(id) {
			writeError(w, r, s.log, ErrUploadNotFound)
			return
		}
		u, ok := accounts.UserFrom(r.Context())
		if !ok {
			writeError(w, r, s.log, httpx.ErrUnauthorized)
			return
		}
		info, err := s.ownUpload(r.Context(), id, u.Username)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		serve(w, r, info)
	}
}

// tusOptions answers OPTIONS on UploadsPath and on an upload's path
// (tusd's discovery of the protocol's capabilities), without
// authentication, as tus clients send it.
func (s *Service) tusOptions(w http.ResponseWriter, r *http.Request) {
	if methodOverridden(w, r, s.log) {
		return
	}
	if id := strings.TrimPrefix(r.URL.Path, UploadsPath); id != "" && !validUploadID(id) {
		writeError(w, r, s.log, ErrUploadNotFound)
		return
	}
	s.tusRoutes.options.ServeHTTP(w, r)
}

// ownUpload returns the upload id if it exists and belongs to user.
func (s *Service) ownUpload(ctx context.Context, id, user string) (tushandler.FileInfo, error) {
	up, err := s.tusStore.GetUpload(ctx, id)
	if err != nil {
		if errors.Is(err, tushandler.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return tushandler.FileInfo{}, ErrUploadNotFound
		}
		return tushandler.FileInfo{}, fmt.Errorf("videos: upload %s: %w", id, err)
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return tushandler.FileInfo{}, fmt.Errorf("videos: upload %s: %w", id, err)
	}
	if info.MetaData[metaOwner] != user {
		return tushandler.FileInfo{}, ErrNotUploader
	}
	return info, nil
}

// sniffPatch checks the container of an upload as soon as its first
// media.SniffLen bytes (or all of a smaller file) are known: the bytes
// already stored plus the head of this PATCH. A file that is not an
// accepted video is terminated and ErrNotVideo returned, so a client learns
// it on its first PATCH instead of after sending everything. The body bytes
// read are put back in front of r.Body for tusd.
func (s *Service) sniffPatch(r *http.Request, info tushandler.FileInfo) error {
	need := min(int64(media.SniffLen), info.Size)
	if info.Offset >= need || r.Header.Get("Upload-Offset") != strconv.FormatInt(info.Offset, 10) {
		return nil // decided already, or tusd will refuse the offset
	}
	head := make([]byte, need)
	if info.Offset > 0 {
		f, err := os.Open(filepath.Join(s.uploadDir, info.ID))
		if err != nil {
			return fmt.Errorf("videos: read upload head: %w", err)
		}
		_, err = io.ReadFull(f, head[:info.Offset])
		f.Close()
		if err != nil {
			return fmt.Errorf("videos: read upload head: %w", err)
		}
	}
	n, err := io.ReadFull(r.Body, head[info.Offset:])
	got := head[info.Offset : info.Offset+int64(n)]
	r.Body = readCloser{io.MultiReader(bytes.NewReader(got), r.Body), r.Body}
	if err != nil {
		return nil // a short chunk: the next PATCH decides
	}
	if c, err := media.Sniff(head); err == nil && s.accepts(c) {
		return nil
	}
	s.log.Info("resumable upload refused: not a video", "upload", info.ID)
	if up, err := s.tusStore.GetUpload(r.Context(), info.ID); err == nil {
		if err := s.tusStore.AsTerminatableUpload(up).Terminate(r.Context()); err != nil {
			s.log.Warn("terminate refused upload", "upload", info.ID, "err", err)
		}
	}
	return ErrNotVideo
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// finishRequest is the optional body of POST .../uploads/{id}/finish.
type finishRequest struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// FinishUpload publishes a complete resumable upload through the same path
// as a multipart upload. name and description, when not nil, override the
// upload's metadata; only user, who created it, may finish it. On a
// content error the upload is deleted; on a name error it is kept so the
// client can finish again with a better name.
func (s *Service) FinishUpload(ctx context.Context, id, user string, name, description *string) (api.Video, error) {
	if !validUploadID(id) {
		return api.Video{}, ErrUploadNotFound
	}
	if !s.tryReserve(id, id+".info") {
		return api.Video{}, ErrUploadBusy
	}
	defer s.release(id, id+".info")
	info, err := s.ownUpload(ctx, id, user)
	if err != nil {
		return api.Video{}, err
	}
	if info.Size <= 0 || info.Offset != info.Size {
		return api.Video{}, ErrUploadIncomplete
	}
	up := Upload{
		Path:        filepath.Join(s.uploadDir, id),
		Name:        info.MetaData[metaName],
		Description: info.MetaData[metaDescription],
		Owner:       info.MetaData[metaOwner],
	}
	if name != nil {
		up.Name = *name
	}
	if description != nil {
		up.Description = *description
	}
	// Checked before Publish, which consumes the file whatever happens.
	if _, err := cleanName(up.Name); err != nil {
		return api.Video{}, err
	}
	if _, err := cleanDescription(up.Description); err != nil {
		return api.Video{}, err
	}
	v, err := s.Publish(ctx, up)
	if err == nil || refused(err) { // the data moved in or was refused: the upload is over
		if err := os.Remove(filepath.Join(s.uploadDir, id+".info")); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("remove finished upload", "upload", id, "err", err)
		}
	}
	return v, err
}

// expireUploadsLocked removes resumable uploads untouched for UploadExpiry
// and stray files in the upload directory. s.mu must be held.
func (s *Service) expireUploadsLocked() {
	entries, err := os.ReadDir(s.uploadDir)
	if err != nil {
		s.log.Warn("cleanup: list uploads", "err", err)
		return
	}
	newest := map[string]time.Time{}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		id := strings.TrimSuffix(e.Name(), ".info")
		if t := fi.ModTime(); t.After(newest[id]) {
			newest[id] = t
		}
	}
	now := time.Now()
	for id, t := range newest {
		if _, ok := s.busy[id]; ok {
			continue
		}
		expiry := s.cfg.UploadExpiry
		if !validUploadID(id) {
			expiry = time.Minute // not ours; tusd may still be creating it if it is
		}
		if now.Sub(t) < expiry {
			continue
		}
		for _, p := range []string{filepath.Join(s.uploadDir, id), filepath.Join(s.uploadDir, id+".info")} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				s.log.Warn("cleanup: remove upload", "path", p, "err", err)
			}
		}
		s.log.Info("cleanup: removed abandoned upload", "upload", id, "last_write", t)
	}
}

// tusLogHandler forwards tusd's log records (golang.org/x/exp/slog) to the
// pod's logger. tusd logs every request at info level; those become debug.
type tusLogHandler struct {
	log   *slog.Logger
	attrs []any
}

func (h tusLogHandler) Enabled(ctx context.Context, l expslog.Level) bool {
	return h.log.Enabled(ctx, mapLevel(l))
}

func (h tusLogHandler) Handle(ctx context.Context, r expslog.Record) error {
	args := append([]any(nil), h.attrs...)
	r.Attrs(func(a expslog.Attr) bool {
		args = append(args, a.Key, a.Value.Any())
		return true
	})
	h.log.Log(ctx, mapLevel(r.Level), r.Message, args...)
	return nil
}

func (h tusLogHandler) WithAttrs(as []expslog.Attr) expslog.Handler {
	n := tusLogHandler{log: h.log, attrs: append([]any(nil), h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, a.Key, a.Value.Any())
	}
	return n
}

func (h tusLogHandler) WithGroup(name string) expslog.Handler {
	return tusLogHandler{log: h.log.WithGroup(name), attrs: h.attrs}
}

func mapLevel(l expslog.Level) slog.Level {
	if l <= expslog.LevelInfo {
		return slog.LevelDebug
	}
	return slog.Level(l)
}
