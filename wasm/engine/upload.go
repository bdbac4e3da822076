package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/swarmtube/swarmtube/shared/media"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// ErrTranscoded means the file's container is one browsers do not play
// (QuickTime, Matroska, AVI, ASF): the pod transcodes it, so the torrent it
// publishes covers other bytes and the browser cannot seed it.
var ErrTranscoded = errors.New("engine: this container is transcoded by the pod, so the browser cannot compute its torrent")

// Upload is a local file prepared for seeding: the torrent the pod makes
// of the same upload (media.Prepare, then the same file name and pieces).
type Upload struct {
	Meta     torrentfile.Metainfo
	InfoHash [20]byte
	// Source holds the torrent's bytes: the file itself, or a copy in
	// memory when the faststart rewrite changed them.
	Source io.ReaderAt
}

// PrepareUpload hashes the file in src (size bytes) as the pod does. name,
// when not empty, is the exact file name in the torrent; otherwise it is
// torrentfile.FileName(title, ext), as the pod names it. trackers become the
// announce-list. The browser's seedFile is this function behind the
// JavaScript boundary; tests compare it with the pod's Publish.
func PrepareUpload(ctx context.Context, src io.ReaderAt, size int64, name, title string, trackers []string, createdBy string, progress func(hashed int64)) (*Upload, error) {
	prep, err := media.Prepare(src, size)
	if err != nil {
		return nil, err
	}
	if !prep.Container.Browser() {
		return nil, ErrTranscoded
	}
	if name == "" {
		name = prep.FileName(title)
	}
	var copyOf *bytes.Buffer
	var w io.Writer
	if prep.Rewritten() {
		// The rewritten file exists only as a stream; keep it to seed it
		// (uploads are bounded by the pod anyway).
		copyOf = bytes.NewBuffer(make([]byte, 0, prep.Size()))
		w = copyOf
	}
	info, err := prep.Hash(ctx, name, w, progress)
	if err != nil {
		return nil, err
	}
	ih, err := info.InfoHash()
	if err != nil {
		return nil, fmt.Errorf("engine: info hash: %w", err)
	}
	up := &Upload{Meta: torrentfile.Metainfo{Info: info, CreatedBy: createdBy}, InfoHash: ih, Source: src}
	for _, u := range trackers {
		up.Meta.AnnounceList = append(up.Meta.AnnounceList, []string{u})
	}
	if copyOf != nil {
		up.Source = bytes.NewReader(copyOf.Bytes())
	}
	return up, nil
}
