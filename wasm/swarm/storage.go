package swarm

import (
	"context"
	"errors"
	"time"

	"github.com/swarmtube/swarmtube/wasm/piecestore"
)

// The browser's storage (Config.Storage): every verified piece is written
// there once, in the background, by writeLoop; memory (MemoryBudget) is
// then only a cache of it. A piece read back is verified again before it
// is served to the player or to a peer.

// writeLoop writes queued verified pieces to Config.Storage, one at a
// time, until ctx ends.
func (t *Torrent) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.writeWake:
		}
		for {
			t.mu.Lock()
			if len(t.writeq) == 0 {
				t.mu.Unlock()
				break
			}
			if t.writeWaitLocked() {
				t.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-time.After(250 * time.Millisecond):
				}
				continue
			}
			i := t.writeq[0]
			t.writeq = t.writeq[1:]
			data, ok := t.store[i]
			t.writingNow = i
			t.mu.Unlock()
			var err error
			if ok {
				err = t.cfg.Storage.Put(ctx, i, data)
			}
			t.mu.Lock()
			t.writingNow = -1
			pc := &t.pieces[i]
			pc.writing = false
			switch {
			case !ok:
			case err != nil:
				// A piece dropped while written (the viewer cleared the
				// storage, or it made room) is simply not stored.
				if ctx.Err() == nil && !errors.Is(err, piecestore.ErrDropped) {
					t.log.Warn("store piece", "piece", i, "err", err)
				}
			case pc.state == pieceHave && !pc.stored:
				pc.stored = true
				t.pendingBytes -= int64(len(data))
				t.storedCount++
				t.storedBytes += int64(len(data))
			}
			t.evictLocked()
			t.mu.Unlock()
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// writeMinBuffer: while the player plays with less than this (wall time)
// buffered, writes to Config.Storage wait. Each write costs the page's
// main thread (copies, promise round trips), which a starving player and
// the peers feeding it need more: measured in TestTwoViewersShareOneCopy
// under load, writing during playback made the second viewer ask the pod
// for 2-3 MB more. Waiting pieces stay evictable, so memory stays bounded.
const writeMinBuffer = 2.0

// writeWaitLocked reports whether writes should wait (writeMinBuffer).
func (t *Torrent) writeWaitLocked() bool {
	pb := t.playback
	return t.hasPlayback && !pb.Paused && pb.Buffer >= 0 && pb.Buffer/pb.Rate < writeMinBuffer
}

// load returns verified piece i from memory or, read back and verified
// again, from Config.Storage. A stored piece that fails (unreadable,
// damaged) is deleted and missing again, to be fetched anew; load then
// returns false, as it does when the piece is not stored.
func (t *Torrent) load(ctx context.Context, i int) ([]byte, bool) {
	for {
		t.mu.Lock()
		pc := &t.pieces[i]
		if data, ok := t.store[i]; ok {
			t.mu.Unlock()
			return data, true
		}
		if pc.state != pieceHave || !pc.stored {
			t.mu.Unlock()
			return nil, false
		}
		if pc.loading { // another reader is at it
			done := t.pieceDone
			t.mu.Unlock()
			select {
			case <-done:
			case <-ctx.Done():
				return nil, false
			case <-t.ctx.Done():
				return nil, false
			}
			continue
		}
		pc.loading = true
		t.mu.Unlock()

		data, err := t.cfg.Storage.Get(ctx, i)
		if err == nil && int64(len(data)) != t.info.PieceSize(i) {
			err = errShortPiece
		}
		if err == nil {
			var sum [20]byte
			if sum, err = t.cfg.Hasher(ctx, data); err == nil && sum != t.info.PieceHash(i) {
				err = errBadStoredPiece
			}
		}
		t.mu.Lock()
		pc.loading = false
		gone := err != nil && ctx.Err() == nil && t.ctx.Err() == nil && pc.state == pieceHave && pc.stored
		switch {
		case err == nil && pc.state == pieceHave:
			if _, ok := t.store[i]; !ok {
				t.store[i] = data
				t.storeBytes += int64(len(data))
				t.evictLocked()
			}
		case gone:
			t.log.Warn("stored piece unusable: fetching it again", "piece", i, "err", err)
			t.badStored++
			t.unstoreLocked(i)
			t.lostLocked()
		}
		t.broadcastLocked()
		t.mu.Unlock()
		if gone {
			if derr := t.cfg.Storage.Delete(ctx, i); derr != nil {
				t.log.Warn("delete stored piece", "piece", i, "err", derr)
			}
		}
		return data, err == nil
	}
}

// broadcastLocked wakes every reader waiting on a piece.
func (t *Torrent) broadcastLocked() {
	close(t.pieceDone)
	t.pieceDone = make(chan struct{})
}

// unstoreLocked forgets that piece i is in Config.Storage: without a copy
// in memory it is missing again, and peers asking for it get a choke
// cycle (peer.onRequestLocked).
func (t *Torrent) unstoreLocked(i int) {
	pc := &t.pieces[i]
	if !pc.stored {
		return
	}
	pc.stored = false
	t.storedCount--
	t.storedBytes -= t.info.PieceSize(i)
	if _, inMemory := t.store[i]; inMemory {
		t.pendingBytes += t.info.PieceSize(i)
		return
	}
	if pc.state == pieceHave && t.cfg.Source == nil {
		pc.state = pieceMissing
		t.have.Clear(i)
		t.haveCount--
		pc.horizonAt, pc.needAt = time.Time{}, time.Time{}
	}
}

// Unstored tells the torrent that Config.Storage dropped pieces by itself
// (evicted for others, or cleared by the viewer): those not also in memory
// are missing again.
func (t *Torrent) Unstored(pieces []int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, i := range pieces {
		if i >= 0 && i < t.numPieces {
			t.unstoreLocked(i)
		}
	}
	t.evictLocked()
	t.lostLocked()
}

// lostLocked tells peers and the picker that verified pieces went missing.
func (t *Torrent) lostLocked() {
	for p := range t.peers {
		p.updateInterestLocked()
	}
	t.reprioritizeLocked()
}
