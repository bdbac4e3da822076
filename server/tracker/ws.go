package tracker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/time/rate"

	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

// floodLimit is the number of consecutive rate-limited messages after
// which a connection is closed.
const floodLimit = 100

// wsConn is one WebSocket peer connection. Its reader runs in the HTTP
// handler's goroutine; its writer goroutine drains the out buffer, so a
// burst of messages to one peer leaves in one write.
type wsConn struct {
	srv  *Server
	nc   net.Conn
	br   *bufio.Reader
	ip   netip.Addr
	lim  *rate.Limiter // nil when unlimited
	wake chan struct{}
	done chan struct{}
	once sync.Once

	flood     int         // consecutive rate-limited messages; reader goroutine only
	closeSent atomic.Bool // a close frame is queued: stop extending the read deadline

	outMu   sync.Mutex // guards the following fields
	out     *[]byte    // framed messages waiting for the writer
	closing bool       // a close frame is queued (or the queue overflowed): accept nothing more

	mu      sync.Mutex // guards the following fields; taken after a swarm's lock, never before
	members []member
	gone    bool
}

// member is a swarm entry owned by the connection.
type member struct {
	sw   *swarm
	peer *wsPeer
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r)
	if ok, closed := s.acquireIP(ip); !ok {
		if closed {
			http.Error(w, "tracker shutting down", http.StatusServiceUnavailable)
			return
		}
		s.m.reject(rejectConnsPerIP)
		http.Error(w, "too many tracker connections from your address", http.StatusTooManyRequests)
		return
	}
	u := ws.HTTPUpgrader{}
	nc, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		s.releaseIP(ip)
		s.log.Debug("tracker: websocket upgrade", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := &wsConn{srv: s, nc: nc, ip: ip, wake: make(chan struct{}, 1), done: make(chan struct{})}
	// net/http's 4 KiB hijack buffer is dropped for a small one when empty:
	// payloads are read straight into message buffers, bypassing it.
	c.br = rw.Reader
	if c.br.Buffered() == 0 {
		c.br = bufio.NewReaderSize(nc, 256)
	}
	if s.cfg.AnnouncesPerSecond > 0 {
		c.lim = rate.NewLimiter(rate.Limit(s.cfg.AnnouncesPerSecond), max(1, int(2*s.cfg.AnnouncesPerSecond)))
	}
	if !s.register(c) {
		c.closeWith(ws.StatusGoingAway, "tracker shutting down")
	}
	defer s.connDone.Done()
	go c.writeLoop()
	err = c.readLoop()
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
		s.log.Debug("tracker: websocket closed", "remote", r.RemoteAddr, "err", err)
	}
	c.shutdown()
}

func clientIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// readLoop reads frames until the connection fails or closes.
func (c *wsConn) readLoop() error {
	s := c.srv
	var (
		msgp  *[]byte
		inMsg bool
		ctl   [125]byte
	)
	defer func() {
		if msgp != nil {
			putBuf(msgp)
		}
	}()
	for {
		if !c.closeSent.Load() {
			if err := c.nc.SetReadDeadline(time.Now().Add(s.cfg.PeerTimeout)); err != nil {
				return err
			}
		}
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return err
		}
		if h.Rsv != 0 || !h.Masked {
			c.closeWith(ws.StatusProtocolError, "unmasked frame or reserved bits set")
			return c.linger()
		}
		if h.OpCode.IsControl() {
			if h.Length > int64(len(ctl)) || !h.Fin {
				c.closeWith(ws.StatusProtocolError, "invalid control frame")
				return c.linger()
			}
			p := ctl[:h.Length]
			if _, err := io.ReadFull(c.br, p); err != nil {
				return err
			}
			ws.Cipher(p, h.Mask, 0)
			switch h.OpCode {
			case ws.OpPing:
				c.sendFrame(ws.OpPong, p, false)
			case ws.OpClose:
				c.sendFrame(ws.OpClose, p[:min(len(p), 2)], true)
				return nil
			}
			continue
		}
		switch {
		case h.OpCode == ws.OpContinuation && !inMsg, h.OpCode != ws.OpContinuation && inMsg:
			c.closeWith(ws.StatusProtocolError, "unexpected continuation frame")
			return c.linger()
		case h.OpCode != ws.OpContinuation && h.OpCode != ws.OpText && h.OpCode != ws.OpBinary:
			c.closeWith(ws.StatusProtocolError, "unknown opcode")
			return c.linger()
		}
		if msgp == nil {
			msgp = getBuf()
		}
		n := len(*msgp)
		if h.Length > int64(s.cfg.MaxMessageBytes-n) {
			s.m.reject(rejectTooBig)
			c.closeWith(ws.StatusMessageTooBig, fmt.Sprintf("message larger than %d bytes", s.cfg.MaxMessageBytes))
			return c.linger()
		}
		msg := grow(*msgp, int(h.Length))
		*msgp = msg
		if _, err := io.ReadFull(c.br, msg[n:]); err != nil {
			return err
		}
		ws.Cipher(msg[n:], h.Mask, 0)
		if !h.Fin {
			inMsg = true
			continue
		}
		inMsg = false
		if !c.handle(msg) {
			return c.linger()
		}
		putBuf(msgp)
		msgp = nil
	}
}

// closeLinger is how long a closing connection is drained, so that the
// peer reads our close frame before the socket goes (closing a socket with
// unread input makes the kernel reset the connection, losing the frame).
const closeLinger = 2 * time.Second

// linger discards input until the peer closes or closeLinger passes.
func (c *wsConn) linger() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(closeLinger))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.br, int64(c.srv.cfg.MaxQueuedBytes)))
	return nil
}

// grow extends b by n bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n+len(b)/2)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// work is the per-message scratch space, pooled so idle connections hold none.
type work struct {
	req     trackerproto.Request
	enc     []byte
	targets []*wsConn
	idx     []int
	files   []trackerproto.ScrapeFile
}

var workPool = sync.Pool{New: func() any { return new(work) }}

// handle processes one message; false means the connection must close.
func (c *wsConn) handle(msg []byte) bool {
	s := c.srv
	w := workPool.Get().(*work)
	defer workPool.Put(w)
	if c.lim != nil && !c.lim.Allow() {
		s.m.reject(rejectRate)
		c.flood++
		if c.flood >= floodLimit {
			c.closeWith(ws.StatusPolicyViolation, "rate limit exceeded")
			return false
		}
		c.send(trackerproto.AppendFailure(w.enc[:0], trackerproto.ActionNone, ErrRateLimited.Error(), nil))
		return true
	}
	c.flood = 0
	if err := trackerproto.DecodeRequest(msg, &w.req); err != nil {
		s.m.reject(rejectMalformed)
		w.enc = trackerproto.AppendFailure(w.enc[:0], trackerproto.ActionNone, err.Error(), nil)
		c.send(w.enc)
		return true
	}
	if w.req.Action == trackerproto.ActionScrape {
		c.scrape(w)
		return true
	}
	c.announce(w)
	return true
}

func (c *wsConn) fail(w *work, action trackerproto.Action, reason string, ih *id) {
	w.enc = trackerproto.AppendFailure(w.enc[:0], action, reason, ih)
	c.send(w.enc)
}

func (c *wsConn) scrape(w *work) {
	s := c.srv
	s.m.scrapes.Inc()
	w.files = s.scrapeFiles(w.req.InfoHashes, w.files[:0])
	w.enc = trackerproto.AppendScrapeReply(w.enc[:0], w.files, int(s.cfg.AnnounceInterval/time.Second))
	c.send(w.enc)
}

// announce handles an announce, with offers or an answer, the way
// bittorrent-tracker's server.js does.
func (c *wsConn) announce(w *work) {
	s := c.srv
	req := &w.req
	ih := req.InfoHash
	s.m.wsAnn.Inc()
	switch {
	case s.cfg.Allow != nil && !s.cfg.Allow(ih):
		s.m.reject(rejectNotTracked)
		c.fail(w, trackerproto.ActionAnnounce, ErrNotTracked.Error(), &ih)
		return
	case len(req.Offers) > s.cfg.MaxOffers:
		s.m.reject(rejectOffers)
		c.fail(w, trackerproto.ActionAnnounce, fmt.Sprintf("%s (max %d)", ErrTooManyOffers, s.cfg.MaxOffers), &ih)
		return
	case req.Event == trackerproto.EventInvalid:
		s.m.reject(rejectEvent)
		c.fail(w, trackerproto.ActionAnnounce, ErrInvalidEvent.Error(), &ih)
		return
	}
	stopped := req.Event == trackerproto.EventStopped
	w.targets = w.targets[:0]
	var answerTo *wsConn
	complete, incomplete := 0, 0
	if sw := s.reg.lockSwarm(ih, !stopped); sw != nil {
		p := sw.wsByID[req.PeerID]
		present := p != nil
		comp := present && p.complete
		added, removed := applyEvent(sw, req.Event, req.Left, present, &comp)
		switch {
		case added:
			p = &wsPeer{id: req.PeerID, conn: c, complete: comp, seen: time.Now().Unix()}
			if err := c.join(sw, p); err != nil {
				sw.count(comp, -1)
				s.reg.unlock(sw)
				if errors.Is(err, ErrTooManySwarms) {
					s.m.reject(rejectSwarms)
					c.fail(w, trackerproto.ActionAnnounce, err.Error(), &ih)
				}
				return
			}
			sw.addWS(p)
			s.m.wsPeers.Add(1)
		case removed:
			sw.removeWS(p)
			p.conn.leave(p)
			s.m.wsPeers.Add(-1)
		case present:
			p.complete = comp
			p.seen = time.Now().Unix()
			if p.conn != c {
				// The peer id reconnected: offers now go to the new connection.
				p.conn.leave(p)
				if err := c.join(sw, p); err != nil {
					sw.removeWS(p)
					s.m.wsPeers.Add(-1)
				} else {
					p.conn = c
				}
			}
		}
		if req.IsAnswer() {
			if to := sw.wsByID[req.ToPeerID]; to != nil {
				answerTo = to.conn
			}
		} else if !stopped && len(req.Offers) > 0 {
			// Only the announcer itself is skipped: clients share one socket
			// between torrents and peer ids (bittorrent-tracker's socket pool).
			w.idx = pickIndexes(len(sw.ws), len(req.Offers), func(j int) bool {
				return sw.ws[j].id == req.PeerID
			}, w.idx[:0])
			for _, j := range w.idx {
				w.targets = append(w.targets, sw.ws[j].conn)
			}
		}
		complete, incomplete = sw.complete, sw.incomplete
		s.reg.unlock(sw)
	}

	if req.IsAnswer() {
		// bittorrent-tracker sends no reply to an answer, only the relay.
		if answerTo == nil {
			s.m.lostAnswer.Inc()
			return
		}
		w.enc = trackerproto.AppendAnswerRelay(w.enc[:0], ih, req.PeerID, req.OfferID, req.Answer)
		if answerTo.send(w.enc) {
			s.m.answers.Inc()
		}
		return
	}
	w.enc = trackerproto.AppendAnnounceReply(w.enc[:0], ih, complete, incomplete, s.wsInterval)
	c.send(w.enc)
	for i, t := range w.targets {
		o := &req.Offers[i]
		w.enc = trackerproto.AppendOfferRelay(w.enc[:0], ih, req.PeerID, o.ID, o.SDP)
		if t.send(w.enc) {
			s.m.offers.Inc()
		}
	}
	clear(w.targets) // drop references to other connections while pooled
}

// join records p as a swarm entry of c; called with sw.mu held.
func (c *wsConn) join(sw *swarm, p *wsPeer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return net.ErrClosed
	}
	if len(c.members) >= c.srv.cfg.MaxSwarmsPerConn {
		return ErrTooManySwarms
	}
	c.members = append(c.members, member{sw: sw, peer: p})
	return nil
}

// leave forgets p; called with p's swarm locked.
func (c *wsConn) leave(p *wsPeer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.members {
		if c.members[i].peer == p {
			last := len(c.members) - 1
			c.members[i] = c.members[last]
			c.members[last] = member{}
			c.members = c.members[:last]
			return
		}
	}
}

// send queues one text message; it reports false if the connection is
// closing.
func (c *wsConn) send(p []byte) bool { return c.sendFrame(ws.OpText, p, false) }

// sendFrame queues a frame. last marks the final frame (a close): the writer
// closes the connection after writing it.
func (c *wsConn) sendFrame(op ws.OpCode, p []byte, last bool) bool {
	c.outMu.Lock()
	if c.closing {
		c.outMu.Unlock()
		return false
	}
	if c.out == nil {
		c.out = getBuf()
	}
	out := *c.out
	wasEmpty := len(out) == 0
	if len(out)+len(p) > c.srv.cfg.MaxQueuedBytes {
		// The peer reads slower than the swarm talks to it: drop it rather
		// than buffer without bound.
		c.closing = true
		c.outMu.Unlock()
		c.srv.m.reject(rejectSlow)
		c.nc.Close()
		return false
	}
	out = appendFrameHeader(out, op, len(p))
	*c.out = append(out, p...)
	c.closing = last
	c.outMu.Unlock()
	if wasEmpty {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// appendFrameHeader appends an unmasked, final frame header (RFC 6455 5.2).
func appendFrameHeader(b []byte, op ws.OpCode, n int) []byte {
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		return append(b, byte(n))
	case n < 1<<16:
		return append(b, 126, byte(n>>8), byte(n))
	}
	return append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// closeWith queues a close frame with a status and reason; the writer
// closes the connection once it is sent.
func (c *wsConn) closeWith(code ws.StatusCode, reason string) {
	var b [125]byte
	body := append(b[:0], byte(code>>8), byte(code))
	body = append(body, reason[:min(len(reason), len(b)-2)]...)
	if !c.sendFrame(ws.OpClose, body, true) {
		return
	}
	c.closeSent.Store(true)
	// The reader waits at most closeLinger for the peer's close frame.
	_ = c.nc.SetReadDeadline(time.Now().Add(closeLinger))
}

func (c *wsConn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		c.outMu.Lock()
		bp := c.out
		c.out = nil
		last := c.closing
		c.outMu.Unlock()
		if bp != nil {
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
			_, err := c.nc.Write(*bp)
			putBuf(bp)
			if err != nil {
				c.nc.Close() // the reader sees the error and cleans up
				return
			}
		}
		if last {
			// Half-close: the peer sees our close frame, then EOF; the
			// reader finishes the close when the peer answers.
			if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			} else {
				c.nc.Close()
			}
			return
		}
	}
}

// shutdown removes the connection from its swarms and the server; it runs
// once, in the reader's goroutine, after the read loop ends.
func (c *wsConn) shutdown() {
	c.once.Do(func() {
		s := c.srv
		c.mu.Lock()
		c.gone = true
		members := c.members
		c.members = nil
		c.mu.Unlock()
		for _, m := range members {
			m.sw.mu.Lock()
			if !m.sw.dead && m.sw.wsByID[m.peer.id] == m.peer && m.peer.conn == c {
				m.sw.removeWS(m.peer)
				s.m.wsPeers.Add(-1)
			}
			s.reg.unlock(m.sw)
		}
		c.outMu.Lock()
		c.closing = true
		if c.out != nil {
			putBuf(c.out)
			c.out = nil
		}
		c.outMu.Unlock()
		close(c.done)
		c.nc.Close()
		s.unregister(c)
		s.releaseIP(c.ip)
	})
}

// Buffers for messages in and out, pooled so that idle connections hold
// no buffer at all.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 256<<10 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
