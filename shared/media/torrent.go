package media

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// Prepared is an uploaded video as its torrent covers it: the sniffed
// container and, for an MP4 with moov last, the faststart rewrite. It is
// the one definition of "what bytes a video's torrent covers", used by the
// pod (server/videos Publish) and the browser (wasm seedFile), so both get
// the same bytes and the same info hash.
type Prepared struct {
	Container Container
	layout    *Layout // nil unless MP4
	src       io.ReaderAt
	size      int64
}

// Prepare sniffs the file in src (size bytes) from its first SniffLen bytes
// and, for an MP4, plans the faststart rewrite. Errors wrap
// ErrUnknownContainer (not a video), ErrMalformed or ErrTooLarge (a broken
// MP4), or the read error.
func Prepare(src io.ReaderAt, size int64) (*Prepared, error) {
	head := make([]byte, min(size, SniffLen))
	if _, err := src.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("media: read head: %w", err)
	}
	c, err := Sniff(head)
	if err != nil {
		return nil, err
	}
	p := &Prepared{Container: c, src: src, size: size}
	if c == MP4 {
		if p.layout, err = PlanFaststart(src, size); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Rewritten reports whether the torrent's bytes differ from the source's
// (an MP4 whose moov had to move): then they exist only as Reader's stream
// and whoever seeds them must keep a copy.
func (p *Prepared) Rewritten() bool { return p.layout != nil && p.layout.NeedsRewrite() }

// Size is the length of the torrent's single file.
func (p *Prepared) Size() int64 {
	if p.layout != nil {
		return p.layout.Size()
	}
	return p.size
}

// Reader streams the torrent's bytes from the beginning.
func (p *Prepared) Reader() io.Reader {
	if p.layout != nil {
		return p.layout.Reader()
	}
	return io.NewSectionReader(p.src, 0, p.size)
}

// FileName is the torrent's file name for a video called title
// (torrentfile.FileName with the container's extension).
func (p *Prepared) FileName(title string) string {
	return torrentfile.FileName(title, p.Container.Ext())
}

// Hash hashes the torrent's bytes into an info dictionary for file name
// name, with torrentfile.PieceLength. When w is not nil the same bytes are
// written to it as they are hashed (one pass: the pod stores a rewritten
// MP4 this way). progress is as for torrentfile.HashReader.
func (p *Prepared) Hash(ctx context.Context, name string, w io.Writer, progress func(hashed int64)) (torrentfile.Info, error) {
	r := p.Reader()
	if w != nil {
		r = io.TeeReader(r, w)
	}
	size := p.Size()
	info, err := torrentfile.HashReader(ctx, r, name, size, torrentfile.PieceLength(size), progress)
	if err != nil {
		return info, fmt.Errorf("media: hash: %w", err)
	}
	return info, nil
}
