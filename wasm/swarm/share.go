package swarm

import (
	"bytes"
	"slices"

	"github.com/swarmtube/swarmtube/wasm/peerwire"
)

// One piece from the pod, shared: browser peers that speak Swarmtube's
// BEP 10 extension (peerwire.PodStateExtension) tell each other where
// their playhead and pod horizon are and which pieces they are fetching
// from the pod. A piece that no browser peer offers yet, but that a
// connected one is fetching from the pod, or will fetch because it is in
// that peer's horizon and its playhead is ahead of ours (the viewer
// furthest ahead needs it first), is left to that peer like a piece a
// browser peer offers (podWantLocked): we take it from the peer once it
// has it, and the pod sends it to us only when it is due within podRescue.
// When several viewers need the same piece at the same moment, the pod
// sends it once.

// podStateExtID is the id under which we ask peers to send us their
// PodState (our BEP 10 "m" dictionary).
const podStateExtID = 1

// peerPod is what a peer told us of its use of the pod.
type peerPod struct {
	extID int               // its id for PodStateExtension; 0: it does not speak it
	state peerwire.PodState // the last one it sent
	got   bool              // it sent one
}

// extendedHandshake is our BEP 10 handshake.
func extendedHandshake() []byte {
	return peerwire.ExtendedHandshake{
		M: map[string]int{peerwire.PodStateExtension: podStateExtID},
		V: "Swarmtube 0.1", Reqq: maxQueuedUploads,
	}.Encode()
}

// onExtendedLocked handles a BEP 10 message: the peer's handshake (which
// says whether it speaks the pod-state extension) or its pod state.
// Malformed ones are ignored: they only cost us the sharing.
func (p *peer) onExtendedLocked(m peerwire.Message) {
	t := p.t
	switch m.ExtendedID {
	case 0:
		h, err := peerwire.ParseExtendedHandshake(m.Payload)
		if err != nil {
			t.log.Debug("extended handshake", "peer", printableID(p.id), "err", err)
			return
		}
		p.pod.extID = h.M[peerwire.PodStateExtension]
		if p.pod.extID > 0 && !p.server {
			p.sendPodStateLocked(t.podStateLocked())
		}
	case podStateExtID:
		if p.server {
			return
		}
		s, err := peerwire.ParsePodState(m.Payload, t.numPieces)
		if err != nil {
			t.log.Debug("pod state", "peer", printableID(p.id), "err", err)
			return
		}
		p.pod.state, p.pod.got = s, true
		// A piece it no longer fetches, or that left its horizon, may be
		// ours to ask the pod for now.
		t.reprioritizeLocked()
	}
}

func (p *peer) sendPodStateLocked(s peerwire.PodState) {
	p.sendLocked(peerwire.Message{Type: peerwire.Extended, ExtendedID: byte(p.pod.extID), Payload: s.Encode()})
}

// podStateLocked is what we tell peers: our playhead and pod horizon in
// bytes (none while the page has not reported a playhead and duration),
// pause, and the pieces the web seed is fetching for us.
func (t *Torrent) podStateLocked() peerwire.PodState {
	var s peerwire.PodState
	if rate := t.byteRateLocked(); t.hasPlayback && rate > 0 {
		anchors, span := t.podAnchorsLocked()
		s.At = anchors[0]
		s.End = min(s.At+span, t.info.Length)
		s.Paused = t.playback.Paused
	}
	for i := range t.pieces {
		if t.pieces[i].webseed {
			s.Fetching = append(s.Fetching, i)
		}
	}
	return s
}

// announcePodLocked sends our pod state to the peers that speak the
// extension when it changed: the playhead or horizon end moved to another
// piece, the pause changed, or a web seed fetch began or ended.
func (t *Torrent) announcePodLocked() {
	s := t.podStateLocked()
	pl := t.info.PieceLength
	last := t.podSent
	if t.podSentOK && s.At/pl == last.At/pl && s.End/pl == last.End/pl && s.Paused == last.Paused && slices.Equal(s.Fetching, last.Fetching) {
		return
	}
	t.podSent, t.podSentOK = s, true
	for p := range t.peers {
		if p.pod.extID > 0 && !p.server {
			p.sendPodStateLocked(s)
		}
	}
}

// peerBringsLocked reports whether a connected browser peer that does not
// offer piece i yet is fetching it from the pod, or will: i is in its
// horizon and its playhead is ahead of ours. Playheads are compared as
// both sides announced them, in pieces (the further piece is ahead; at
// one piece, the lower peer id), so that two viewers judge each other
// from the same two numbers and exactly one of them asks the pod.
func (t *Torrent) peerBringsLocked(i int) bool {
	if !t.podSentOK || !t.hasPlayback || t.byteRateLocked() <= 0 {
		return false
	}
	pl := t.info.PieceLength
	off := int64(i) * pl
	ours := t.podSent.At / pl
	for p := range t.peers {
		// Choking us or not: once it has the piece we are interested, and
		// browser peers unchoke every interested peer.
		if p.server || !p.pod.got {
			continue
		}
		s := p.pod.state
		if slices.Contains(s.Fetching, i) {
			return true
		}
		// Paused or not: a viewer fills its horizon from the pod after
		// podFillDelay, and while paused we need nothing soon either.
		if off < s.At || off >= s.End {
			continue
		}
		if theirs := s.At / pl; theirs > ours || (theirs == ours && bytes.Compare(p.id[:], t.cfg.PeerID[:]) < 0) {
			return true
		}
	}
	return false
}
