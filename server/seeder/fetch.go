package seeder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
)

// Fetch downloads the single file of torrentBytes into partPath (created,
// or resumed where an earlier Fetch stopped) from the torrent's swarm
// (the trackers of its announce-list) and from webSeeds (BEP 19 full file
// URLs), for a mirror (issue 18). anacrolix checks every piece against
// its SHA-1 before it is marked complete (a piece that fails is fetched
// again, and a peer that keeps sending bad pieces is banned); completion
// is recorded in the piece-completion store, so after a crash or restart
// only the missing pieces are fetched. It returns nil once every piece is
// complete and the file is synced to disk, with the torrent no longer in
// the client: the caller moves partPath to its final place and calls Seed
// or Register, which then read nothing. It returns ctx's error when ctx
// ends first, and ErrConflict when the torrent is already seeded.
func (s *Seeder) Fetch(ctx context.Context, torrentBytes []byte, partPath string, webSeeds []string) error {
	mi, info, ih, err := parseTorrent(torrentBytes)
	if err != nil {
		return err
	}
	if partPath, err = filepath.Abs(partPath); err != nil {
		return fmt.Errorf("seeder: %w", err)
	}
	s.mu.Lock()
	_, seeded := s.torrents[ih]
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case seeded:
		return fmt.Errorf("%w: %x is seeded already", ErrConflict, ih)
	}
	spec, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		return fmt.Errorf("seeder: torrent %x: %w", ih, err)
	}
	spec.Storage = &partStorage{path: partPath, pc: sharedCompletion{s.pc}, readBytes: &s.readBytes}
	spec.Webseeds = webSeeds
	spec.DisallowDataDownload = false
	t, isNew, err := s.cl.AddTorrentSpec(spec)
	if err != nil {
		return fmt.Errorf("seeder: add %x: %w", ih, err)
	}
	if !isNew {
		return fmt.Errorf("%w: %x is in the client already", ErrConflict, ih)
	}
	defer t.Drop()
	t.DownloadAll()
	select {
	case <-t.Complete().On():
	case <-t.Closed():
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("seeder: fetch %x: %w", ih, ctx.Err())
	}
	f, err := os.OpenFile(partPath, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("seeder: fetch %x: %w", ih, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("seeder: fetch %x: sync: %w", ih, err)
	}
	s.log.Info("fetched", "info_hash", ih.HexString(), "name", info.Name, "bytes", info.TotalLength())
	return nil
}

// FetchProgress reports the bytes of infoHash's file still missing while
// Fetch runs; ok is false when no Fetch of it is under way.
func (s *Seeder) FetchProgress(infoHash [20]byte) (missing int64, ok bool) {
	t, ok := s.cl.Torrent(metainfo.Hash(infoHash))
	if !ok || t.Info() == nil {
		return 0, false
	}
	return t.BytesMissing(), true
}

// partStorage is a writable storage.ClientImpl for one file being fetched:
// the same single descriptor and pread as fileStorage, plus pwrite.
// Pieces without a recorded completion are reported incomplete (known),
// so a fresh file is fetched rather than hashed.
type partStorage struct {
	path      string
	pc        storage.PieceCompletion
	readBytes *atomic.Int64
}

var _ storage.ClientImpl = (*partStorage)(nil)

func (ps *partStorage) OpenTorrent(_ context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.TorrentImpl, error) {
	if err := os.MkdirAll(filepath.Dir(ps.path), 0o700); err != nil {
		return storage.TorrentImpl{}, fmt.Errorf("seeder: %w", err)
	}
	f, err := os.OpenFile(ps.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return storage.TorrentImpl{}, fmt.Errorf("seeder: %w", err)
	}
	if err := f.Truncate(info.TotalLength()); err != nil {
		f.Close()
		return storage.TorrentImpl{}, fmt.Errorf("seeder: size %s: %w", ps.path, err)
	}
	t := &fileTorrent{f: f, ih: ih, pc: ps.pc, readBytes: ps.readBytes}
	return storage.TorrentImpl{
		Piece: func(p metainfo.Piece) storage.PieceImpl { return partPiece{filePiece{t, p}} },
		Close: f.Close,
	}, nil
}

type partPiece struct{ filePiece }

// WriteAt writes a block of a piece; off is relative to the piece.
func (p partPiece) WriteAt(b []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(b)) > p.p.Length() {
		return 0, errors.New("seeder: write beyond the piece")
	}
	return p.t.f.WriteAt(b, p.p.Offset()+off)
}

func (p partPiece) Completion() storage.Completion {
	c, err := p.t.pc.Get(p.key())
	if err != nil {
		return storage.Completion{Err: err}
	}
	return storage.Completion{Complete: c.Ok && c.Complete, Ok: true}
}
