package videos

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	tushandler "github.com/tus/tusd/v2/pkg/handler"

	"github.com/swarmtube/swarmtube/server/httpx"
)

// publicStore wraps the tus file store so that every error it returns
// reaches the client through httpx.Public, in the API's JSON shape: tusd
// answers any other error with a 500 whose body is the error's text, which
// for a file store names the data directory ("write /data/uploads/…: no
// space left on device"). A full disk becomes 507 insufficient_storage.
// Errors tusd defines itself (not found, offset mismatch, …) pass through.
type publicStore struct {
	fs  *tusStore
	log *slog.Logger
}

func (p publicStore) public(err error) error {
	if err == nil {
		return nil
	}
	var te tushandler.Error
	if errors.As(err, &te) {
		return err
	}
	he := httpx.Public(HTTPError(err))
	if he.Status >= 500 {
		p.log.Error("resumable upload failed", "status", he.Status, "err", err)
	}
	return tusError(he)
}

func (p publicStore) NewUpload(ctx context.Context, info tushandler.FileInfo) (tushandler.Upload, error) {
	u, err := p.fs.NewUpload(ctx, info)
	if err != nil {
		return nil, p.public(err)
	}
	return publicUpload{u: u, p: p}, nil
}

func (p publicStore) GetUpload(ctx context.Context, id string) (tushandler.Upload, error) {
	u, err := p.fs.GetUpload(ctx, id)
	if err != nil {
		return nil, p.public(err)
	}
	return publicUpload{u: u, p: p}, nil
}

func (p publicStore) AsTerminatableUpload(u tushandler.Upload) tushandler.TerminatableUpload {
	return publicTerminatable{t: p.fs.AsTerminatableUpload(u.(publicUpload).u), p: p}
}

type publicUpload struct {
	u tushandler.Upload
	p publicStore
}

func (u publicUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	n, err := u.u.WriteChunk(ctx, offset, src)
	return n, u.p.public(err)
}

func (u publicUpload) GetInfo(ctx context.Context) (tushandler.FileInfo, error) {
	info, err := u.u.GetInfo(ctx)
	return info, u.p.public(err)
}

func (u publicUpload) GetReader(ctx context.Context) (io.ReadCloser, error) {
	r, err := u.u.GetReader(ctx)
	return r, u.p.public(err)
}

func (u publicUpload) FinishUpload(ctx context.Context) error {
	return u.p.public(u.u.FinishUpload(ctx))
}

type publicTerminatable struct {
	t tushandler.TerminatableUpload
	p publicStore
}

func (t publicTerminatable) Terminate(ctx context.Context) error {
	return t.p.public(t.t.Terminate(ctx))
}

// tusAnswer is the pod's answer to one of tusd's own errors.
type tusAnswer struct {
	status  int
	code    string
	message string
}

// tusAnswers gives every error value tusd v2 can send (pkg/handler's Err*
// values and the ERR_INTERNAL_SERVER_ERROR it makes of any other error) a
// deliberate status, code and plain words: TestTusAnswersTotal walks
// tusd's source, so a tusd upgrade that adds one fails until it is
// answered here. Where tusd's status is wrong for the pod it is replaced:
//
//   - ERR_LOCK_TIMEOUT (500) means another request holds the upload: 423,
//     as ERR_UPLOAD_LOCKED.
//   - ERR_UPLOAD_INTERRUPTED (400): a newer request for the upload took it
//     over, a conflict with its current state: 409.
//
// A body that failed on its way (ERR_READ_TIMEOUT: it stopped arriving,
// httpx.MinBodyRate's window or tusd's NetworkTimeout; ERR_CONNECTION_RESET
// and ERR_UNEXPECTED_EOF: it was cut short, and clientBody's other read
// errors) is the client's or the network's doing, yet it is answered 500,
// as tusd answers the first two "for backwards compatibility"
// (unrouted_handler.go): the bytes that came are kept, and standard tus
// clients resume from HEAD only after a network error, a 5xx, 409 or 423.
// tus-js-client (Uppy's; shouldRetry in its upload.js) and tus-java-client
// give up on any other 4xx, so a 408 Request Timeout, the status RFC 9110
// §15.5.9 names, stopped their uploads for good
// (TestTusReferenceClientResumesStall). The JSON code, upload_stalled or
// upload_cut_short, says what happened.
//
// ERR_MAX_SIZE_EXCEEDED and ERR_UPLOAD_NOT_FOUND take the service's words
// (tusWords); ERR_INTERNAL_SERVER_ERROR stays a 500, since publicStore
// and clientBody leave it only to the pod's own failures.
var tusAnswers = map[string]tusAnswer{
	"ERR_UNSUPPORTED_VERSION":  {http.StatusPreconditionFailed, "unsupported_tus_version", "send Tus-Resumable: 1.0.0; this pod speaks tus 1.0.0"},
	"ERR_MAX_SIZE_EXCEEDED":    {http.StatusRequestEntityTooLarge, "too_large", "the video is larger than this pod accepts"},
	"ERR_INVALID_CONTENT_TYPE": {http.StatusBadRequest, "invalid_content_type", "send the bytes with Content-Type: application/offset+octet-stream"},
	"ERR_INVALID_UPLOAD_LENGTH": {http.StatusBadRequest, "invalid_upload_length",
		"send Upload-Length: the file's size in bytes (a deferred length is not supported)"},
	"ERR_AMBIGUOUS_UPLOAD_LENGTH": {http.StatusBadRequest, "invalid_upload_length",
		"send Upload-Length: the file's size in bytes (a deferred length is not supported)"},
	"ERR_INVALID_UPLOAD_LENGTH_DEFER": {http.StatusBadRequest, "invalid_upload_length",
		"send Upload-Length: the file's size in bytes (a deferred length is not supported)"},
	"ERR_INVALID_OFFSET":   {http.StatusBadRequest, "invalid_offset", "send Upload-Offset: the number of bytes the upload already has"},
	"ERR_UPLOAD_NOT_FOUND": {http.StatusNotFound, "upload_not_found", "no upload has this id; uploads expire when abandoned"},
	"ERR_UPLOAD_LOCKED":    {http.StatusLocked, "upload_busy", "another request is writing this upload; send again once it ends"},
	"ERR_LOCK_TIMEOUT":     {http.StatusLocked, "upload_busy", "another request is writing this upload; send again once it ends"},
	"ERR_MISMATCHED_OFFSET": {http.StatusConflict, "offset_mismatch",
		"Upload-Offset is not where the upload stands; ask with HEAD and send from its Upload-Offset"},
	"ERR_UPLOAD_SIZE_EXCEEDED": {http.StatusRequestEntityTooLarge, "upload_size_exceeded",
		"the bytes sent go past the upload's length (its Upload-Length)"},
	"ERR_NOT_IMPLEMENTED": {http.StatusNotImplemented, "tus_unsupported",
		"this pod supports tus 1.0.0 with the creation and termination extensions only"},
	"ERR_UPLOAD_NOT_FINISHED": {http.StatusBadRequest, "tus_unsupported",
		"this pod supports tus 1.0.0 with the creation and termination extensions only"},
	"ERR_INVALID_CONCAT": {http.StatusBadRequest, "tus_unsupported",
		"this pod supports tus 1.0.0 with the creation and termination extensions only"},
	"ERR_CONCATENATION_UNSUPPORTED": {http.StatusBadRequest, "tus_unsupported",
		"this pod supports tus 1.0.0 with the creation and termination extensions only"},
	"ERR_MODIFY_FINAL": {http.StatusForbidden, "tus_unsupported",
		"this pod supports tus 1.0.0 with the creation and termination extensions only"},
	"ERR_UPLOAD_STOPPED":  {http.StatusBadRequest, "upload_stopped", "the pod stopped this upload; it takes no more bytes"},
	"ERR_UPLOAD_REJECTED": {http.StatusBadRequest, "upload_refused", "the pod refused to create this upload"},
	"ERR_UPLOAD_TERMINATION_REJECTED": {http.StatusBadRequest, "termination_refused",
		"the pod refused to cancel this upload"},
	"ERR_UPLOAD_INTERRUPTED": {http.StatusConflict, "upload_interrupted",
		"a newer request for this upload took it over, so this one was stopped; ask with HEAD where it stands"},
	"ERR_SERVER_SHUTDOWN":    {http.StatusServiceUnavailable, "unavailable", "the pod is restarting; resume the upload in a moment"},
	"ERR_ORIGIN_NOT_ALLOWED": {http.StatusForbidden, "origin_not_allowed", "uploads are taken from this pod's own pages only"},
	"ERR_UNEXPECTED_EOF": {http.StatusInternalServerError, "upload_cut_short",
		"the connection ended before the bytes announced arrived; ask with HEAD and resume"},
	"ERR_CONNECTION_RESET": {http.StatusInternalServerError, "upload_cut_short",
		"the connection ended before the bytes announced arrived; ask with HEAD and resume"},
	"ERR_READ_TIMEOUT": {http.StatusInternalServerError, "upload_stalled",
		"the upload's bytes stopped arriving, so the pod stopped waiting for them; ask with HEAD where it stands and resume"},
	"ERR_INTERNAL_SERVER_ERROR": {httpx.ErrInternal.Status, httpx.ErrInternal.Code, httpx.ErrInternal.Message},
}

// tusWords puts tusd's own refusals in the pod's words. tusd answers them
// in plain text, "ERR_CODE: words" (tusd v2 pkg/handler, the Err* values),
// and httpx.PlainErrors, wrapped around every tus route, calls this to
// answer the API's JSON instead, with tusAnswers' status, code and words.
// A code tusAnswers lacks (a tusd upgrade; TestTusAnswersTotal fails
// first) gets the words of its status.
func (s *Service) tusWords(status int, _ http.Header, text string) *httpx.Error {
	code, _, _ := strings.Cut(text, ":")
	switch code {
	case "ERR_MAX_SIZE_EXCEEDED":
		return httpx.Public(HTTPError(errTooLarge(s.cfg.MaxUploadBytes)))
	case "ERR_UPLOAD_NOT_FOUND":
		return httpx.Public(HTTPError(ErrUploadNotFound))
	}
	a, ok := tusAnswers[code]
	if !ok {
		return nil
	}
	return &httpx.Error{Status: a.status, Code: a.code, Message: a.message}
}

// clientBody is a PATCH's body as tusd should see it: every way a body can
// fail is one tusd names as a failed body (tusAnswers: stalled or cut
// short). tusd knows an early EOF, a timeout that is a net.Error itself, a
// reset by its text and an http.MaxBytesError; any other read error it
// answers ERR_INTERNAL_SERVER_ERROR, the pod's own failure, though a
// request body fails only by the client's or the network's doing (an HTTP/2 client that cancels its
// stream, "client disconnected"; a proxy's broken stream). Those become
// io.ErrUnexpectedEOF, and a wrapped timeout os.ErrDeadlineExceeded.
type clientBody struct{ io.ReadCloser }

func (b clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.Is(err, http.ErrBodyReadAfterClose):
		// tusd closed the body itself (a stopped upload); it compares
		// this one with ==.
		return n, http.ErrBodyReadAfterClose
	case err == nil, err == io.EOF, errors.As(err, &mbe):
		return n, err
	case errors.As(err, &ne) && ne.Timeout():
		return n, os.ErrDeadlineExceeded
	}
	return n, io.ErrUnexpectedEOF
}
