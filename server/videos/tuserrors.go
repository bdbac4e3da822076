package videos

import (
	"context"
	"errors"
	"io"
	"log/slog"

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
	he := httpx.Public(err)
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
