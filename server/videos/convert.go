package videos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/shared/media"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// output is the file an ffmpeg job (runJob, runRendition) converts into,
// on its way to publication. ffmpeg writes a temporary file in videoDir,
// which is synced, hashed, and renamed to its final name inside the
// transaction that publishes it, so a crash at any point leaves either the
// queued job (redone at the next start; cleanup removes the temporary
// file) or the published file, never a partial file under a published
// name.
type output struct {
	s                        *Service
	reserved                 []string
	tmpPath, final           string // in videoDir
	tmpTorrent, finalTorrent string // in torrentDir
	committed                bool
}

// newOutput reserves file (in videoDir) and torrent (in torrentDir), with
// their temporary names, for one job; close gives them back.
func (s *Service) newOutput(file, torrent string) *output {
	tmp, tmpTorrent := ".tmp-"+file, ".tmp-"+torrent
	s.reserve(file, tmp, torrent, tmpTorrent)
	return &output{
		s: s, reserved: []string{file, tmp, torrent, tmpTorrent},
		tmpPath: filepath.Join(s.videoDir, tmp), final: filepath.Join(s.videoDir, file),
		tmpTorrent: filepath.Join(s.torrentDir, tmpTorrent), finalTorrent: filepath.Join(s.torrentDir, torrent),
	}
}

// close removes what the job wrote unless it was published, and releases
// the names.
func (o *output) close() {
	if !o.committed {
		_ = os.Remove(o.tmpPath)
		_ = os.Remove(o.final)
		_ = os.Remove(o.tmpTorrent)
		_ = os.Remove(o.finalTorrent)
	}
	o.s.release(o.reserved...)
}

// errBadOutput says the converted file is not a valid MP4 with its moov
// first (what ffmpeg's +faststart writes): the job failed, not the pod.
var errBadOutput = errors.New("videos: the converted file is not valid")

// hash checks the converted file and hashes its pieces into the info
// dictionary of a single-file torrent whose file is named by name (given
// the checked file). A file that is not valid is errBadOutput; other
// errors are the pod's (its disk) or ctx's.
func (o *output) hash(ctx context.Context, name func(*media.Prepared) string) (torrentfile.Info, error) {
	src, err := os.Open(o.tmpPath)
	if err != nil {
		return torrentfile.Info{}, fmt.Errorf("videos: open converted file: %w", err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return torrentfile.Info{}, fmt.Errorf("videos: stat converted file: %w", err)
	}
	prep, err := media.Prepare(src, st.Size())
	if err == nil && prep.Rewritten() {
		err = errors.New("ffmpeg wrote moov last despite +faststart")
	}
	if err != nil {
		return torrentfile.Info{}, fmt.Errorf("%w: %w", errBadOutput, err)
	}
	info, err := prep.Hash(ctx, name(prep), nil, nil)
	if err != nil {
		return torrentfile.Info{}, fmt.Errorf("videos: hash converted file: %w", err)
	}
	return info, nil
}

// writeTorrent writes the file's .torrent tb under its final name (close
// removes it unless the file is published).
func (o *output) writeTorrent(tb []byte) error {
	return writeFileSync(o.tmpTorrent, o.finalTorrent, tb)
}

// publish commits update and, last in the same transaction, renames the
// converted file to its final name: a failure in update leaves no file
// under that name, and if the commit itself fails close removes it. The
// file (named file, of info hash ih) is counted for the web seed and the
// tracker before the commit, not after: a client that sees it listed
// finds them ready; undone if the transaction fails.
func (o *output) publish(ih [20]byte, file string, update func(tx *bolt.Tx) error) error {
	o.s.addCounts(ih, file, 1)
	err := o.s.st.Update(func(tx *bolt.Tx) error {
		if err := update(tx); err != nil {
			return err
		}
		if err := os.Rename(o.tmpPath, o.final); err != nil {
			return fmt.Errorf("videos: move converted file: %w", err)
		}
		return syncDir(o.s.videoDir)
	})
	if err != nil {
		o.s.addCounts(ih, file, -1)
		return err
	}
	o.committed = true
	return nil
}
