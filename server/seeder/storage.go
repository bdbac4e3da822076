package seeder

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
)

// fileStorage is a read-only storage.ClientImpl for one complete file, whose
// path is independent of info.name. anacrolix's own file storage derives
// the path from info.name and opens the file on every read; this one keeps a
// single descriptor and reads with pread.
type fileStorage struct {
	path      string
	pc        storage.PieceCompletion
	readBytes *atomic.Int64 // shared disk-read counter of the Seeder
}

var _ storage.ClientImpl = (*fileStorage)(nil)

func (fs *fileStorage) OpenTorrent(_ context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.TorrentImpl, error) {
	f, err := os.Open(fs.path)
	if err != nil {
		return storage.TorrentImpl{}, fmt.Errorf("%w: %w", ErrFileMismatch, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return storage.TorrentImpl{}, fmt.Errorf("%w: stat %s: %w", ErrFileMismatch, fs.path, err)
	}
	if st.Size() != info.TotalLength() {
		f.Close()
		return storage.TorrentImpl{}, fmt.Errorf("%w: %s is %d bytes, torrent says %d", ErrFileMismatch, fs.path, st.Size(), info.TotalLength())
	}
	t := &fileTorrent{f: f, ih: ih, pc: fs.pc, readBytes: fs.readBytes}
	return storage.TorrentImpl{
		Piece: func(p metainfo.Piece) storage.PieceImpl { return filePiece{t, p} },
		Close: f.Close,
	}, nil
}

type fileTorrent struct {
	f         *os.File
	ih        metainfo.Hash
	pc        storage.PieceCompletion
	readBytes *atomic.Int64
}

type filePiece struct {
	t *fileTorrent
	p metainfo.Piece
}

func (p filePiece) key() metainfo.PieceKey {
	return metainfo.PieceKey{InfoHash: p.t.ih, Index: p.p.Index()}
}

// ReadAt serves peers and hashing; off is relative to the piece, and the
// storage.Piece wrapper has already clamped b to the piece.
func (p filePiece) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.t.f.ReadAt(b, p.p.Offset()+off)
	p.t.readBytes.Add(int64(n))
	return n, err
}

func (p filePiece) WriteAt([]byte, int64) (int, error) { return 0, errReadOnly }

func (p filePiece) MarkComplete() error { return p.t.pc.Set(p.key(), true) }

func (p filePiece) MarkNotComplete() error { return p.t.pc.Set(p.key(), false) }

// Completion reports a piece complete only when the store says so. Anything
// else, including a stored "incomplete", is reported unknown (Ok false),
// which makes anacrolix verify the piece rather than try to download it.
func (p filePiece) Completion() storage.Completion {
	c, err := p.t.pc.Get(p.key())
	if err != nil || !c.Ok || !c.Complete {
		return storage.Completion{Err: err}
	}
	return storage.Completion{Complete: true, Ok: true}
}

// sharedCompletion keeps per-torrent storages from closing the store they
// share; the Seeder closes it once.
type sharedCompletion struct{ storage.PieceCompletion }

func (sharedCompletion) Close() error { return nil }
