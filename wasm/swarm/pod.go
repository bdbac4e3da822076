package swarm

import (
	"math"
	"time"
)

// The pod budget (see the package doc): the pod's web seed and its seeder
// peers are one source, asked only for pieces within the horizon after the
// playhead, and for those only when browser peers cannot deliver in time.
const (
	// podLead: a piece no browser peer offers is sent by the pod at once
	// when the player needs it within podLead (wall time).
	podLead = 4 * time.Second
	// podRescue: a piece a browser peer offers is left to browser peers
	// until the player needs it within podRescue... (1 s: when a peer
	// stalls, the pod feeds the player through the stall, not 2 s ahead
	// of it with pieces the peer sends a moment later; a web seed piece
	// arrives well within it)
	podRescue = time.Second
	// podGrace: ...and then for podGrace more (their requests are in
	// flight; a healthy peer delivers a piece well within this).
	podGrace = time.Second
	// podFillDelay is how long a piece no browser peer offers waits in the
	// horizon for one to appear before the pod sends it, unless it is
	// needed within podLead: a viewer who just opened the torrent finds
	// its peers within about this, and the pod need not send what they
	// hold.
	podFillDelay = 3 * time.Second
	// peerWait: while the tracker reports other viewers none of whom is
	// connected yet, a piece no browser peer offers waits up to peerWait
	// (from the report) before the pod sends it, even if the player
	// starves meanwhile: a peer that connects a second later would have
	// sent what the pod pays for, several MB when the video plays fast.
	peerWait = 3 * time.Second
	// podMargin is kept in reserve when browser peers are judged fast
	// enough to deliver a piece in time.
	podMargin = 500 * time.Millisecond
	// podStall: a piece a seeder peer of the pod was asked for this long
	// ago and has not delivered may be fetched from the web seed.
	podStall = 3 * time.Second
	// HealthyBuffer is the playback buffer (seconds) under which a playing
	// player counts as starving: then a read waiting on a piece beyond the
	// horizon is served as if the piece were in it (the page has not yet
	// reported a seek, or knows no duration).
	HealthyBuffer = 2.0
)

// never is the time until a piece is needed while the player is paused.
const never = time.Duration(math.MaxInt64)

// byteRateLocked is the file's mean bitrate in bytes per second of media,
// 0 while the page has not reported the duration.
func (t *Torrent) byteRateLocked() float64 {
	if t.playback.Duration <= 0 {
		return 0
	}
	return float64(t.info.Length) / t.playback.Duration
}

// podAnchorsLocked returns where the pod horizon starts (byte offsets) and
// its length in bytes: the playhead and PodHorizon of media when the page
// reported both and the duration; else each stream position and
// ReadaheadBytes.
func (t *Torrent) podAnchorsLocked() (anchors []int64, span int64) {
	if rate := t.byteRateLocked(); t.hasPlayback && rate > 0 {
		pos := min(int64(t.playback.Position*rate), t.info.Length-1)
		return []int64{pos}, max(int64(t.cfg.PodHorizon.Seconds()*rate), 1)
	}
	for _, st := range t.streams {
		anchors = append(anchors, st.pos)
	}
	return anchors, t.cfg.ReadaheadBytes
}

// needInLocked estimates the wall time until the player needs piece i:
// from its distance to the playhead, the bitrate and the playback rate;
// never while paused. Without a duration it is the player's buffer (the
// next piece is needed when that runs out), or 0 when that is unknown too.
func (t *Torrent) needInLocked(i int) time.Duration {
	pb := t.playback
	if rate := t.byteRateLocked(); t.hasPlayback && rate > 0 {
		ahead := float64(int64(i)*t.info.PieceLength)/rate - pb.Position
		switch {
		case ahead <= 0:
			return 0
		case pb.Paused:
			return never
		}
		return time.Duration(ahead / pb.Rate * float64(time.Second))
	}
	switch {
	case t.hasPlayback && pb.Paused:
		return never
	case pb.Buffer > 0:
		return time.Duration(pb.Buffer * float64(time.Second))
	}
	return 0
}

// starvingLocked reports whether the player is playing (or about to) and
// holds less than HealthyBuffer.
func (t *Torrent) starvingLocked() bool {
	return !(t.hasPlayback && t.playback.Paused) && t.playback.Buffer < HealthyBuffer
}

// podPick is a piece the pod may be asked for and when it is needed.
type podPick struct {
	piece   int
	need    time.Duration
	offered bool   // a browser peer offers it (and is judged too slow)
	why     string // the rule that lets the pod send it (debug logs)
}

// podWantLocked returns the pieces the pod may be asked for now, nearest
// the playhead first: those in the horizon that no unchoked browser peer
// offers (once they waited podFillDelay there, or at once when needed
// within podLead), and those a browser peer offers but has not delivered
// podGrace after they came within podLead of being needed. While the
// player starves, pieces a read waits on count as in the horizon. None
// that memory would drop as it arrives (keepsLocked): when the horizon is
// longer than memory can hold, the pieces after what it holds wait.
func (t *Torrent) podWantLocked(now time.Time) []podPick {
	var out []podPick
	seen := map[int]bool{}
	waitPeers := t.waitPeersLocked(now)
	// Browser peers deliver at about browserRate: a piece they offer is
	// theirs when they can send it and every offered piece before it
	// before it is needed.
	browserRate := t.browserRateLocked(now)
	var offeredAhead int64
	keeps := t.keepsLocked()
	consider := func(i int, need time.Duration) {
		if seen[i] {
			return
		}
		seen[i] = true
		pc := &t.pieces[i]
		if pc.state == pieceHave || pc.state == pieceVerifying || !keeps(i) {
			return
		}
		if pc.horizonAt.IsZero() {
			pc.horizonAt = now
		}
		if need < podLead && pc.needAt.IsZero() {
			pc.needAt = now
		}
		ok := (need < podLead || now.Sub(pc.horizonAt) >= podFillDelay) && !waitPeers
		why := "lead"
		if need >= podLead {
			why = "fill"
		}
		if since, offered := t.browserOfferedSinceLocked(i); offered {
			// Browser peers first: the pod helps once the piece is due
			// within podRescue, podGrace passed since it was (and since a
			// browser peer could deliver it: a viewer whose peers connect
			// after its buffer ran low would otherwise pay the pod for
			// pieces they were about to send), and at their rate browser
			// peers would not deliver it in time.
			offeredAhead += t.missingBytesLocked(i)
			late := time.Duration(float64(offeredAhead)/browserRate*float64(time.Second))+podMargin > need
			if browserRate <= 0 { // just connected: judge by whether anything arrives
				late = now.Sub(latest(t.browserGotAt, since)) >= podGrace
			}
			ok = need < podRescue && now.Sub(latest(pc.needAt, since)) >= podGrace && now.Sub(pc.gotAt) >= podGrace && late
			why = "rescue"
		} else if t.peerBringsLocked(i) {
			// Another viewer is fetching it from the pod, or is ahead and
			// will (share.go): take it from that viewer, the pod only once
			// it is due within podRescue.
			ok = need < podRescue && now.Sub(pc.needAt) >= podGrace
			why = "brought"
		}
		if ok {
			out = append(out, podPick{i, need, offeredAhead > 0 && t.browserOfferedLocked(i), why})
		}
	}
	pl := t.info.PieceLength
	anchors, span := t.podAnchorsLocked()
	for d := 0; ; d++ {
		more := false
		for _, a := range anchors {
			i := int(a/pl) + d
			if int64(i)*pl >= a+span || i >= t.numPieces {
				continue
			}
			more = true
			consider(i, t.needInLocked(i))
		}
		if !more {
			break
		}
	}
	if t.starvingLocked() {
		for i := range t.pieces {
			if t.pieces[i].readers > 0 {
				consider(i, 0)
			}
		}
	}
	return out
}

// ExpectPeers tells the torrent how many other browser viewers the
// tracker knows in the swarm (its counts less ourselves and the pod's
// seeder). Until one of them is connected, for peerWait from the first
// such report, the pod sends no piece that no browser peer offers.
func (t *Torrent) ExpectPeers(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expectPeers, t.expectReported = n, true
	if n > 0 && t.expectSince.IsZero() {
		t.expectSince = time.Now()
	}
}

// waitPeersLocked reports whether the pod waits for expected viewers.
func (t *Torrent) waitPeersLocked(now time.Time) bool {
	switch {
	case t.cfg.AwaitPeers && t.expectSince.IsZero() && !t.expectReported:
		// No tracker reply yet: other viewers may be there.
		if now.Sub(t.started) >= peerWait {
			return false
		}
	case t.expectPeers <= 0 || now.Sub(t.expectSince) >= peerWait:
		return false
	}
	for p := range t.peers {
		if !p.server && !p.peerChoking {
			return false
		}
	}
	return true
}

// browserRateLocked is the rate (bytes/s) at which browser peers delivered
// over the last rateWindow seconds, up to now, counting only the time since
// the first of their blocks arrived (a peer that just connected is judged
// on what it sent since, not on the seconds before it was there); 0 before
// any.
func (t *Torrent) browserRateLocked(now time.Time) float64 {
	if t.browserFirst.IsZero() || len(t.stats.browsers) == 0 {
		return 0
	}
	from := t.browsersAt[0]
	if t.browserFirst.After(from) {
		from = t.browserFirst
	}
	span := max(now.Sub(from).Seconds(), 0.25)
	return float64(t.stats.fromPeers-t.stats.fromServers-t.stats.browsers[0]) / span
}

// missingBytesLocked is how much of piece i has not arrived.
func (t *Torrent) missingBytesLocked(i int) int64 {
	pc := &t.pieces[i]
	if pc.state != pieceDownloading {
		return t.info.PieceSize(i)
	}
	var n int64
	for b, got := range pc.got {
		if !got {
			n += t.blockSize(i, b)
		}
	}
	return n
}

// browserOfferedSinceLocked reports whether an unchoked browser peer has
// piece i, and since when one could deliver it: the earliest unchoke among
// those peers.
func (t *Torrent) browserOfferedSinceLocked(i int) (since time.Time, offered bool) {
	for p := range t.peers {
		if !p.server && !p.peerChoking && p.has.Has(i) && (!offered || p.unchokedAt.Before(since)) {
			since, offered = p.unchokedAt, true
		}
	}
	return since, offered
}

// latest returns the later of a and b.
func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// browserOfferedLocked reports whether an unchoked browser peer has piece i.
func (t *Torrent) browserOfferedLocked(i int) bool {
	for p := range t.peers {
		if !p.server && !p.peerChoking && p.has.Has(i) {
			return true
		}
	}
	return false
}

// webseedUsableLocked reports whether the web seed is the pod's source:
// the pod sends its share over HTTP ranges, which end on piece boundaries
// (nothing unwanted is in flight) and cost the pod far less CPU than its
// seeder's WebRTC; the seeder is used when there is no web seed, while it
// fails, and for pieces needed soon while both web seed slots are busy.
func (t *Torrent) webseedUsableLocked(now time.Time) bool {
	return len(t.webSeeds) > 0 && now.After(t.webseedDown)
}

// serverFetchingLocked reports whether a seeder peer of the pod was asked
// for a block of piece i less than podStall ago.
func (t *Torrent) serverFetchingLocked(i int, now time.Time) bool {
	pc := &t.pieces[i]
	for b, rs := range pc.reqs {
		for _, q := range rs {
			if q.server && now.Sub(pc.reqAt[b]) < podStall {
				return true
			}
		}
	}
	return false
}
