package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/swarmtube/swarmtube/wasm/peerwire"
)

// maxQueuedUploads bounds the requests a peer may have queued with us;
// more are dropped (WebTorrent asks for at most reqq=250... we say 250).
const maxQueuedUploads = 250

type blockRef struct{ piece, block int }

// peer is one connected remote peer. Its fields are guarded by Torrent.mu
// except conn (used by its reader and writer goroutines) and the
// immutable identity fields.
type peer struct {
	t      *Torrent
	conn   io.ReadWriteCloser
	id     [20]byte
	addr   string
	server bool
	ext    bool

	has            peerwire.Bitfield
	amChoking      bool
	amInterested   bool
	peerChoking    bool
	unchokedAt     time.Time // when the peer last unchoked us
	peerInterested bool
	reqs           map[blockRef]time.Time // our outstanding requests to the peer
	outq           []peerwire.Message     // to send; Piece with nil Block is read at send time
	queuedUploads  int
	wake           chan struct{}
	done           chan struct{}
	closed         bool
	err            error
	downloaded     int64
	uploaded       int64
	strikes        int
	pod            peerPod // its use of the pod (share.go)
}

// AddConn runs the peer wire protocol on conn until the peer disconnects,
// ctx ends or the Torrent closes, and returns why it ended. addr describes
// the peer for stats and logs. AddConn closes conn.
func (t *Torrent) AddConn(ctx context.Context, conn io.ReadWriteCloser, addr string) error {
	defer conn.Close()
	if t.ctx.Err() != nil {
		return ErrClosed
	}
	hctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	stop := context.AfterFunc(hctx, func() { conn.Close() })
	theirs, err := t.handshake(conn)
	stopped := stop()
	cancel()
	if !stopped {
		return fmt.Errorf("swarm: handshake with %s: %w", addr, context.Cause(hctx))
	}
	if err != nil {
		return fmt.Errorf("swarm: handshake with %s: %w", addr, err)
	}
	p, err := t.register(conn, theirs, addr)
	if err != nil {
		return err
	}
	stopCtx := context.AfterFunc(ctx, func() {
		t.mu.Lock()
		p.closeLocked(ctx.Err())
		t.mu.Unlock()
	})
	defer stopCtx()
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		p.writeLoop()
	}()
	err = p.readLoop(theirs)
	t.mu.Lock()
	p.closeLocked(err)
	err = p.err
	t.mu.Unlock()
	t.log.Debug("peer gone", "peer", printableID(p.id), "addr", addr, "err", err)
	return err
}

// handshake sends ours while reading theirs: both sides send at once, and
// a synchronous transport (net.Pipe) would deadlock otherwise.
func (t *Torrent) handshake(conn io.ReadWriter) (peerwire.Handshake, error) {
	ours := peerwire.Handshake{InfoHash: t.cfg.InfoHash, PeerID: t.cfg.PeerID}
	ours.SetExtended()
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Write(ours.AppendBinary(nil))
		errc <- err
	}()
	theirs, rerr := peerwire.ReadHandshake(conn)
	werr := <-errc
	if rerr != nil {
		return theirs, rerr
	}
	if werr != nil {
		return theirs, fmt.Errorf("write handshake: %w", werr)
	}
	if theirs.InfoHash != t.cfg.InfoHash {
		return theirs, fmt.Errorf("%w: %x", ErrWrongTorrent, theirs.InfoHash)
	}
	return theirs, nil
}

func (t *Torrent) register(conn io.ReadWriteCloser, hs peerwire.Handshake, addr string) (*peer, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.ctx.Err() != nil:
		return nil, ErrClosed
	case hs.PeerID == t.cfg.PeerID:
		return nil, fmt.Errorf("%w: connected to ourselves", ErrRejected)
	case t.banned[hs.PeerID]:
		return nil, fmt.Errorf("%w: banned peer %s", ErrRejected, printableID(hs.PeerID))
	case t.peerIDs[hs.PeerID]:
		return nil, fmt.Errorf("%w: duplicate peer %s", ErrRejected, printableID(hs.PeerID))
	case len(t.peers) >= t.cfg.MaxPeers:
		return nil, fmt.Errorf("%w: %d peers already", ErrRejected, len(t.peers))
	}
	p := &peer{
		t: t, conn: conn, id: hs.PeerID, addr: addr,
		server:      t.cfg.ServerPeer != nil && t.cfg.ServerPeer(hs.PeerID),
		ext:         hs.SupportsExtended(),
		has:         peerwire.NewBitfield(t.numPieces),
		amChoking:   true,
		peerChoking: true,
		reqs:        map[blockRef]time.Time{},
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	t.peers[p] = true
	t.peerIDs[p.id] = true
	if p.ext {
		p.sendLocked(peerwire.Message{Type: peerwire.Extended, ExtendedID: 0, Payload: extendedHandshake()})
	}
	if t.haveCount > 0 {
		p.sendLocked(peerwire.Message{Type: peerwire.BitfieldMsg, Bitfield: append([]byte(nil), t.have...)})
	}
	t.log.Debug("peer connected", "peer", printableID(p.id), "addr", addr, "server", p.server)
	return p, nil
}

// sendLocked queues m for the writer.
func (p *peer) sendLocked(m peerwire.Message) {
	if p.closed {
		return
	}
	p.outq = append(p.outq, m)
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// closeLocked disconnects the peer once and gives its requests back.
func (p *peer) closeLocked(err error) {
	if p.closed {
		return
	}
	t := p.t
	p.closed, p.err = true, err
	close(p.done)
	p.conn.Close()
	delete(t.peers, p)
	delete(t.peerIDs, p.id)
	for i := 0; i < t.numPieces; i++ {
		if p.has.Has(i) {
			t.avail[i]--
			if !p.server {
				t.availBrowse[i]--
			}
		}
	}
	for ref := range p.reqs {
		p.releaseLocked(ref)
	}
	p.outq = nil
	if t.ctx.Err() == nil {
		t.reprioritizeLocked()
	}
}

// releaseLocked forgets our request for ref to p.
func (p *peer) releaseLocked(ref blockRef) {
	delete(p.reqs, ref)
	pc := &p.t.pieces[ref.piece]
	if pc.reqs == nil {
		return
	}
	rs := pc.reqs[ref.block]
	for k, q := range rs {
		if q == p {
			rs = append(rs[:k], rs[k+1:]...)
			break
		}
	}
	pc.reqs[ref.block] = rs
}

func (p *peer) expireRequestsLocked(now time.Time, timeout time.Duration) {
	for ref, at := range p.reqs {
		if now.Sub(at) > timeout {
			p.releaseLocked(ref)
		}
	}
}

// updateInterestLocked sends interested / not interested as our needs change.
func (p *peer) updateInterestLocked() {
	t := p.t
	want := false
	if t.haveCount < t.numPieces {
		for i := 0; i < t.numPieces; i++ {
			if p.has.Has(i) && t.pieces[i].state != pieceHave {
				want = true
				break
			}
		}
	}
	if want != p.amInterested {
		p.amInterested = want
		typ := peerwire.NotInterested
		if want {
			typ = peerwire.Interested
		}
		p.sendLocked(peerwire.Message{Type: typ})
	}
}

func (p *peer) readLoop(hs peerwire.Handshake) error {
	t := p.t
	dec := peerwire.NewDecoder(p.conn)
	// A peer silent for two minutes (keep-alives come every minute) is dead.
	idle := time.AfterFunc(2*time.Minute, func() { p.conn.Close() })
	defer idle.Stop()
	first := true
	for {
		m, err := dec.Decode()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.EOF
			}
			return fmt.Errorf("swarm: read from %s: %w", p.addr, err)
		}
		idle.Reset(2 * time.Minute)
		t.mu.Lock()
		err = p.handleLocked(m, first)
		t.mu.Unlock()
		if err != nil {
			return err
		}
		if m.Type != peerwire.Extended && m.Type != peerwire.KeepAlive {
			first = false
		}
	}
}

func (p *peer) handleLocked(m peerwire.Message, first bool) error {
	t := p.t
	if p.closed {
		return p.err
	}
	switch m.Type {
	case peerwire.Choke:
		p.peerChoking = true
		for ref := range p.reqs {
			p.releaseLocked(ref)
		}
		t.reprioritizeLocked()
	case peerwire.Unchoke:
		if p.peerChoking {
			p.unchokedAt = time.Now()
			t.log.Debug("unchoked", "peer", printableID(p.id))
		}
		p.peerChoking = false
		t.fillRequestsLocked(p)
	case peerwire.Interested:
		p.peerInterested = true
		if p.amChoking {
			p.amChoking = false
			p.sendLocked(peerwire.Message{Type: peerwire.Unchoke})
		}
	case peerwire.NotInterested:
		p.peerInterested = false
	case peerwire.Have:
		i := int(m.Index)
		if i >= t.numPieces {
			return fmt.Errorf("%w: have %d of %d pieces", ErrProtocol, i, t.numPieces)
		}
		p.gainLocked(i)
		p.updateInterestLocked()
		t.fillRequestsLocked(p)
	case peerwire.BitfieldMsg:
		if !first {
			return fmt.Errorf("%w: late bitfield", ErrProtocol)
		}
		bf := peerwire.Bitfield(m.Bitfield)
		if !bf.ValidFor(t.numPieces) {
			return fmt.Errorf("%w: bitfield of %d bytes for %d pieces", ErrProtocol, len(bf), t.numPieces)
		}
		for i := 0; i < t.numPieces; i++ {
			if bf.Has(i) {
				p.gainLocked(i)
			}
		}
		p.updateInterestLocked()
		t.fillRequestsLocked(p)
	case peerwire.Request:
		return p.onRequestLocked(m)
	case peerwire.Cancel:
		for k, q := range p.outq {
			if q.Type == peerwire.Piece && q.Block == nil && q.Index == m.Index && q.Begin == m.Begin {
				p.outq = append(p.outq[:k], p.outq[k+1:]...)
				p.queuedUploads--
				break
			}
		}
	case peerwire.Piece:
		return p.onPieceLocked(m)
	case peerwire.Extended:
		p.onExtendedLocked(m)
	}
	return nil // keep-alive and unknown messages need no action
}

func (p *peer) gainLocked(i int) {
	if p.has.Has(i) {
		return
	}
	p.has.Set(i)
	p.t.avail[i]++
	if !p.server {
		p.t.availBrowse[i]++
	}
}

func (p *peer) onRequestLocked(m peerwire.Message) error {
	t := p.t
	i := int(m.Index)
	if i >= t.numPieces || m.Length == 0 || m.Length > 128<<10 ||
		int64(m.Begin)+int64(m.Length) > t.info.PieceSize(i) {
		return fmt.Errorf("%w: request %d+%d in piece %d", ErrProtocol, m.Begin, m.Length, i)
	}
	if p.amChoking || p.queuedUploads >= maxQueuedUploads {
		return nil
	}
	if t.pieces[i].state != pieceHave {
		// We evicted it after announcing it. Choke and unchoke: by BEP 3
		// that drops all the peer's requests, and it re-asks others.
		p.chokeCycleLocked()
		return nil
	}
	p.queuedUploads++
	p.sendLocked(peerwire.Message{Type: peerwire.Piece, Index: m.Index, Begin: m.Begin, Length: m.Length})
	return nil
}

func (p *peer) chokeCycleLocked() {
	q := p.outq[:0]
	for _, m := range p.outq {
		if m.Type != peerwire.Piece {
			q = append(q, m)
		}
	}
	p.outq = q
	p.queuedUploads = 0
	p.sendLocked(peerwire.Message{Type: peerwire.Choke})
	p.sendLocked(peerwire.Message{Type: peerwire.Unchoke})
}

func (p *peer) onPieceLocked(m peerwire.Message) error {
	t := p.t
	i := int(m.Index)
	if i >= t.numPieces || m.Begin%peerwire.BlockSize != 0 {
		return fmt.Errorf("%w: piece message %d at %d", ErrProtocol, i, m.Begin)
	}
	b := int(m.Begin / peerwire.BlockSize)
	ref := blockRef{i, b}
	if _, ok := p.reqs[ref]; ok {
		p.releaseLocked(ref)
	}
	pc := &t.pieces[i]
	if pc.state != pieceDownloading || b >= len(pc.got) || pc.got[b] ||
		int64(len(m.Block)) != t.blockSize(i, b) {
		t.fillRequestsLocked(p)
		return nil // late duplicate or unrequested: ignore
	}
	copy(pc.buf[m.Begin:], m.Block)
	pc.got[b] = true
	pc.gotAt = time.Now()
	pc.from[p] = true
	n := int64(len(m.Block))
	p.downloaded += n
	t.stats.fromPeers += n
	if p.server {
		t.stats.fromServers += n
	} else {
		t.browserGotAt = pc.gotAt
		if t.browserFirst.IsZero() {
			t.browserFirst = pc.gotAt
		}
	}
	for _, q := range append([]*peer(nil), pc.reqs[b]...) {
		q.releaseLocked(ref)
		q.sendLocked(peerwire.Message{Type: peerwire.Cancel, Index: m.Index, Begin: m.Begin, Length: uint32(n)})
	}
	complete := true
	for _, g := range pc.got {
		complete = complete && g
	}
	if complete {
		pc.state = pieceVerifying
		data := pc.buf
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.verify(i, data, -1)
		}()
	}
	t.fillRequestsLocked(p)
	return nil
}

// blockSize is the length of block b of piece i.
func (t *Torrent) blockSize(i, b int) int64 {
	return min(peerwire.BlockSize, t.info.PieceSize(i)-int64(b)*peerwire.BlockSize)
}

// readBlock returns the data for an upload, or false if the piece is gone.
func (t *Torrent) readBlock(i int, begin, length uint32) ([]byte, bool) {
	t.mu.Lock()
	data, ok := t.store[i]
	t.mu.Unlock()
	if !ok && t.cfg.Storage != nil {
		data, ok = t.load(t.ctx, i) // read back and verified again
	}
	if ok {
		return data[begin : begin+length], true
	}
	if t.cfg.Source == nil {
		return nil, false
	}
	buf := make([]byte, length)
	off := int64(i)*t.info.PieceLength + int64(begin)
	if _, err := t.cfg.Source.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		t.log.Warn("read source", "piece", i, "err", err)
		return nil, false
	}
	return buf, true
}

// writeLoop sends queued messages until the peer closes, with a keep-alive
// after a minute of silence.
func (p *peer) writeLoop() {
	t := p.t
	keepalive := time.NewTimer(time.Minute)
	defer keepalive.Stop()
	var buf []byte
	for {
		select {
		case <-p.done:
			return
		case <-p.wake:
		case <-keepalive.C:
			t.mu.Lock()
			p.sendLocked(peerwire.Message{Type: peerwire.KeepAlive})
			t.mu.Unlock()
			continue
		}
		t.mu.Lock()
		q := p.outq
		p.outq = nil
		t.mu.Unlock()
		buf = buf[:0]
		for k := 0; k < len(q); k++ {
			m := q[k]
			if m.Type == peerwire.Piece && m.Block == nil {
				data, ok := t.readBlock(int(m.Index), m.Begin, m.Length)
				t.mu.Lock()
				p.queuedUploads = max(0, p.queuedUploads-1)
				if !ok {
					p.chokeCycleLocked()
					t.mu.Unlock()
					q = dropUploads(q[k+1:])
					k = -1
					continue
				}
				p.uploaded += int64(len(data))
				t.stats.uploaded += int64(len(data))
				t.mu.Unlock()
				m.Block = data
			}
			buf = m.AppendBinary(buf)
			if len(buf) >= 64<<10 {
				if _, err := p.conn.Write(buf); err != nil {
					p.fail(err)
					return
				}
				buf = buf[:0]
			}
		}
		if len(buf) > 0 {
			if _, err := p.conn.Write(buf); err != nil {
				p.fail(err)
				return
			}
		}
		keepalive.Reset(time.Minute)
	}
}

func dropUploads(q []peerwire.Message) []peerwire.Message {
	out := q[:0]
	for _, m := range q {
		if m.Type != peerwire.Piece {
			out = append(out, m)
		}
	}
	return out
}

func (p *peer) fail(err error) {
	p.t.mu.Lock()
	p.closeLocked(fmt.Errorf("swarm: write to %s: %w", p.addr, err))
	p.t.mu.Unlock()
}
