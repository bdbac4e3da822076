package swarm

import (
	"time"

	"github.com/swarmtube/swarmtube/wasm/peerwire"
)

// dupAfter is how long an urgent block waits on one peer before a second
// peer is asked for it too.
const dupAfter = time.Second

// dupSoon replaces dupAfter for a block of a piece the player needs within
// podRescue+podGrace: the pod may step in for it podGrace after that, so a
// second browser peer is asked well before (peers first). A lost packet
// holds a WebRTC data channel for SCTP's minimum retransmission timeout,
// 1 s (RFC 4960 section 6.3.1; pion/sctp and usrsctp), so one stalled
// peer is common on a busy machine, and a second one costs the pod
// nothing.
const dupSoon = 250 * time.Millisecond

// serverPipeline bounds the requests outstanding with a seeder peer of
// the pod: one 256 KiB piece.
const serverPipeline = 16

// fillRequestsLocked tops up p's request pipeline: a browser peer from
// the urgent pieces, then any piece it has; a seeder peer of the pod only
// from what the pod may send now (podWantLocked).
func (t *Torrent) fillRequestsLocked(p *peer) {
	if p.closed || p.peerChoking || !p.amInterested || len(p.reqs) >= t.cfg.MaxRequests {
		return
	}
	now := time.Now()
	if p.server {
		var want []int
		webseed := t.webseedUsableLocked(now)
		for _, pp := range t.podWantLocked(now) {
			// The web seed sends the pod's share when it can; the seeder
			// helps with pieces needed within a second while its slots
			// are busy (two sources for one piece waste the pod's bytes).
			if !webseed || (pp.need < podGrace && t.webseedBusy >= maxWebSeedFetches) {
				want = append(want, pp.piece)
			}
		}
		// A short pipeline and no second requests for blocks another peer
		// was asked for: whatever the pod sends after a piece arrived from
		// elsewhere (cancels come too late) is paid for and wasted.
		for len(p.reqs) < min(t.cfg.MaxRequests, serverPipeline) {
			ref, ok := t.pickLocked(p, want, now, false)
			if !ok {
				return
			}
			t.requestLocked(p, ref, now)
		}
		return
	}
	urgent, _ := t.urgentLocked()
	for len(p.reqs) < t.cfg.MaxRequests {
		ref, ok := t.pickLocked(p, urgent, now, true)
		if !ok {
			return
		}
		t.requestLocked(p, ref, now)
	}
}

func (t *Torrent) requestLocked(p *peer, ref blockRef, now time.Time) {
	pc := &t.pieces[ref.piece]
	if pc.state == pieceMissing {
		t.startPieceLocked(ref.piece)
	}
	if len(pc.reqs[ref.block]) == 0 {
		pc.reqAt[ref.block] = now
	}
	pc.reqs[ref.block] = append(pc.reqs[ref.block], p)
	p.reqs[ref] = now
	p.sendLocked(peerwire.Message{
		Type: peerwire.Request, Index: uint32(ref.piece),
		Begin: uint32(ref.block * peerwire.BlockSize), Length: uint32(t.blockSize(ref.piece, ref.block)),
	})
}

func (t *Torrent) startPieceLocked(i int) {
	pc := &t.pieces[i]
	size := t.info.PieceSize(i)
	nb := int((size + peerwire.BlockSize - 1) / peerwire.BlockSize)
	pc.state = pieceDownloading
	pc.buf = make([]byte, size)
	pc.got = make([]bool, nb)
	pc.reqs = make([][]*peer, nb)
	pc.reqAt = make([]time.Time, nb)
	pc.from = map[*peer]bool{}
}

// pickLocked chooses p's next block: urgent pieces nearest the playhead
// first (asking a second peer for blocks the first is slow with), then,
// when more is set, blocks of partial pieces, then the rarest piece p has;
// never a piece memory would drop as it arrives (keepsLocked).
func (t *Torrent) pickLocked(p *peer, urgent []int, now time.Time, more bool) (blockRef, bool) {
	keeps := t.keepsLocked()
	for _, i := range urgent {
		if !p.has.Has(i) || !keeps(i) {
			continue
		}
		if ref, ok := t.freeBlockLocked(p, i, now, !p.server); ok {
			return ref, true
		}
	}
	if !more || t.storeFullLocked() {
		return blockRef{}, false
	}
	for i := range t.pieces {
		if t.pieces[i].state == pieceDownloading && p.has.Has(i) && keeps(i) {
			if ref, ok := t.freeBlockLocked(p, i, now, false); ok {
				return ref, true
			}
		}
	}
	best, bestAvail, ties := -1, 0, 0
	for i := range t.pieces {
		pc := &t.pieces[i]
		if pc.state != pieceMissing || pc.webseed || !p.has.Has(i) || !keeps(i) {
			continue
		}
		switch a := t.avail[i]; {
		case best < 0 || a < bestAvail:
			best, bestAvail, ties = i, a, 1
		case a == bestAvail:
			ties++
			if randomPick(ties) == 0 {
				best = i
			}
		}
	}
	if best < 0 {
		return blockRef{}, false
	}
	return blockRef{best, 0}, true
}

// freeBlockLocked returns a block of piece i to request from p: one nobody
// has been asked for, or, when dup is set, one asked of a single other peer
// more than dupAfter ago.
func (t *Torrent) freeBlockLocked(p *peer, i int, now time.Time, dup bool) (blockRef, bool) {
	pc := &t.pieces[i]
	if pc.webseed && p.server {
		return blockRef{}, false // the pod sends it already
	}
	switch pc.state {
	case pieceMissing:
		if pc.webseed {
			return blockRef{}, false
		}
		return blockRef{i, 0}, true
	case pieceDownloading:
	default:
		return blockRef{}, false
	}
	for b, got := range pc.got {
		if !got && len(pc.reqs[b]) == 0 {
			return blockRef{i, b}, true
		}
	}
	if !dup {
		return blockRef{}, false
	}
	wait := dupAfter
	if t.needInLocked(i) < podRescue+podGrace {
		wait = dupSoon
	}
	for b, got := range pc.got {
		if !got && len(pc.reqs[b]) == 1 && pc.reqs[b][0] != p && now.Sub(pc.reqAt[b]) > wait {
			return blockRef{i, b}, true
		}
	}
	return blockRef{}, false
}
