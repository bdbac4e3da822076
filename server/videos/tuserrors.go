package videos

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
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

// tusWords puts tusd's own refusals in the pod's words. tusd answers them
// in plain text, "ERR_CODE: words" (tusd v2 pkg/handler, the Err* values),
// and httpx.PlainErrors, wrapped around every tus route, calls this to
// answer the API's JSON instead; a code not listed here gets the words of
// its status.
func (s *Service) tusWords(status int, _ http.Header, text string) *httpx.Error {
	code, _, _ := strings.Cut(text, ":")
	e := func(code, msg string) *httpx.Error { return &httpx.Error{Status: status, Code: code, Message: msg} }
	switch code {
	case "ERR_MAX_SIZE_EXCEEDED":
		return httpx.Public(HTTPError(errTooLarge(s.cfg.MaxUploadBytes)))
	case "ERR_UPLOAD_SIZE_EXCEEDED":
		return e("upload_size_exceeded", "the bytes sent go past the upload's length (its Upload-Length)")
	case "ERR_MISMATCHED_OFFSET":
		return e("offset_mismatch", "Upload-Offset is not where the upload stands; ask with HEAD and send from its Upload-Offset")
	case "ERR_INVALID_OFFSET":
		return e("invalid_offset", "send Upload-Offset: the number of bytes the upload already has")
	case "ERR_INVALID_CONTENT_TYPE":
		return e("invalid_content_type", "send the bytes with Content-Type: application/offset+octet-stream")
	case "ERR_UNSUPPORTED_VERSION":
		return e("unsupported_tus_version", "send Tus-Resumable: 1.0.0; this pod speaks tus 1.0.0")
	case "ERR_INVALID_UPLOAD_LENGTH", "ERR_AMBIGUOUS_UPLOAD_LENGTH", "ERR_INVALID_UPLOAD_LENGTH_DEFER":
		return e("invalid_upload_length", "send Upload-Length: the file's size in bytes (a deferred length is not supported)")
	case "ERR_INVALID_CONCAT", "ERR_CONCATENATION_UNSUPPORTED", "ERR_NOT_IMPLEMENTED":
		return e("tus_unsupported", "this pod supports tus 1.0.0 with the creation and termination extensions only")
	case "ERR_UPLOAD_NOT_FOUND":
		nf := httpx.Public(HTTPError(ErrUploadNotFound))
		return e(nf.Code, nf.Message)
	case "ERR_UPLOAD_LOCKED", "ERR_UPLOAD_INTERRUPTED":
		return e("upload_busy", "another request is writing this upload; send again once it ends")
	case "ERR_UNEXPECTED_EOF":
		return e("upload_cut_short", "the connection ended before the bytes announced arrived; ask with HEAD and resume")
	case "ERR_SERVER_SHUTDOWN":
		return e("unavailable", "the pod is restarting; resume the upload in a moment")
	}
	return nil
}
