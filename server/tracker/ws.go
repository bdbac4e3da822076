package tracker

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/time/rate"

	"github.com/swarmtube/swarmtube/internal/wsframe"
	"github.com/swarmtube/swarmtube/server/clientaddr"
	"github.com/swarmtube/swarmtube/server/httpx"
	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

// wsKeepAlive is the TCP keep-alive of WebSocket connections (the pod's
// listener sets none).
var wsKeepAlive = net.KeepAliveConfig{Enable: true, Idle: time.Minute, Interval: 15 * time.Second, Count: 4}

// floodLimit is the number of consecutive rate-limited messages after
// which a connection is closed.
const floodLimit = 100

// wsConn is one WebSocket peer connection. Its input is parsed by feed and
// its output framed into the out queue, by one of two drivers: on Linux an
// event loop (loop_linux.go) serves many connections from one goroutine,
// reading every ready socket and then writing each connection's queue once;
// elsewhere, and for connections without a socket (tests), a reader
// goroutine and a writer goroutine per connection (readLoop, writeLoop).
type wsConn struct {
	srv  *Server
	nc   net.Conn // goroutine-driven connections only
	lp   *loop    // the event loop serving the connection, or nil
	ip   netip.Addr
	lim  *rate.Limiter // nil when unlimited
	wake chan struct{} // goroutine driver: output is queued
	done chan struct{}
	st   atomic.Int32 // connState: where the connection is in its life (connstate.go)

	// Reader state: only the reader (goroutine or loop) touches these.
	flood int     // consecutive rate-limited messages
	msg   *[]byte // fragments of a message not complete yet
	inMsg bool    // a fragmented message is in progress

	outMu sync.Mutex // guards out, and the moves to closeQueued that end it
	out   *[]byte    // framed messages waiting for the writer

	// mu guards members. Lock order: a swarm's lock, then mu; never the
	// other way round (join and leave run under the swarm's lock).
	mu      sync.Mutex
	members []member

	ev loopState // event loop driver's state
}

// member is a swarm entry owned by the connection.
type member struct {
	sw   *swarm
	peer *wsPeer
}

// Refusals of a WebSocket before it opens, in the API's JSON shape.
var (
	errShuttingDown = &httpx.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the tracker is shutting down; connect again in a moment"}
	errTooManyConns = &httpx.Error{Status: http.StatusTooManyRequests, Code: "too_many_connections", Message: "too many tracker connections from your address; close some first"}
)

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	// gobwas answers a bad handshake on the hijacked connection, in plain
	// text and past every ResponseWriter; check it first so the client
	// gets the API's JSON.
	if err := handshakeError(r); err != nil {
		if err.Status == http.StatusUpgradeRequired {
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		httpx.WriteError(w, r, s.log, err)
		return
	}
	ip := clientIP(r)
	if ok, closed := s.acquireIP(ip); !ok {
		if closed {
			httpx.WriteError(w, r, s.log, &httpx.RetryAfter{Err: errShuttingDown, After: 5 * time.Second})
			return
		}
		s.m.reject(rejectConnsPerIP)
		httpx.WriteError(w, r, s.log, errTooManyConns)
		return
	}
	u := ws.HTTPUpgrader{}
	nc, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		s.releaseIP(ip)
		s.log.Debug("tracker: websocket upgrade", "remote", r.RemoteAddr, "err", err)
		return
	}
	if tc, ok := tcpConn(nc); ok {
		// A peer whose network vanished sends no FIN: probes find it in
		// about two minutes, where PeerTimeout would take twenty.
		_ = tc.SetKeepAliveConfig(wsKeepAlive)
	}
	c := &wsConn{srv: s, ip: ip, done: make(chan struct{})}
	if s.cfg.AnnouncesPerSecond > 0 {
		c.lim = rate.NewLimiter(rate.Limit(s.cfg.AnnouncesPerSecond), max(1, int(2*s.cfg.AnnouncesPerSecond)))
	}
	// Bytes the client sent right after its upgrade request.
	early, _ := rw.Reader.Peek(rw.Reader.Buffered())
	if err := s.attach(c, nc); err != nil {
		s.log.Debug("tracker: event loop refused a connection, serving it with goroutines", "err", err)
	}
	if c.lp == nil {
		c.nc, c.wake = nc, make(chan struct{}, 1)
	}
	if !s.register(c) { // Close ran since acquireIP
		s.detach(c)
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_ = ws.WriteFrame(nc, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, "tracker shutting down")))
		nc.Close()
		s.releaseIP(ip)
		return
	}
	if c.lp != nil {
		nc.Close() // the loop has its own descriptor of the socket
		c.lp.add(c, early)
		return
	}
	defer s.connDone.Done()
	go c.writeLoop()
	err = c.readLoop(early)
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
		s.log.Debug("tracker: websocket closed", "remote", r.RemoteAddr, "err", err)
	}
	c.shutdown()
}

// tcpConn finds the TCP socket under nc, which is a *tls.Conn when the
// pod serves HTTPS itself.
func tcpConn(nc net.Conn) (*net.TCPConn, bool) {
	if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = u.NetConn()
	}
	tc, ok := nc.(*net.TCPConn)
	return tc, ok
}

// clientIP is the key of the per-address limits and the address an HTTP
// announce is tracked under: the peer, or the client a trusted reverse
// proxy names (server/clientaddr).
func clientIP(r *http.Request) netip.Addr { return clientaddr.Addr(r) }

// readLoop reads and handles input until the connection fails or closes;
// early is input already read from the connection.
func (c *wsConn) readLoop(early []byte) error {
	bp := getBuf()
	defer putBuf(bp)
	buf := append((*bp)[:0], early...)
	for {
		used, ok := c.feed(buf)
		buf = buf[:copy(buf, buf[used:])]
		if !ok {
			return c.linger()
		}
		if cap(buf)-len(buf) < 1024 {
			buf = slices.Grow(buf, len(buf)+4096)
		}
		if c.state() < stateCloseQueued {
			if err := c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.PeerTimeout)); err != nil {
				return err
			}
		}
		n, err := c.nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if n > 0 {
				if _, ok := c.feed(buf); !ok {
					return c.linger()
				}
			}
			return err
		}
		*bp = buf
	}
}

// feed handles the complete frames at the start of data (unmasking them in
// place) and returns how many bytes it used; the rest is an incomplete
// frame to be fed again with more input. ok false means a close frame is
// queued: the connection only drains its input from now on.
func (c *wsConn) feed(data []byte) (used int, ok bool) {
	s := c.srv
	if c.state() >= stateCloseQueued {
		return len(data), false
	}
	for {
		h, hn := wsframe.ParseHeader(data[used:])
		if hn == 0 {
			return used, true
		}
		// RFC 6455 5.2-5.5 as gobwas checks it: masked, no reserved bits
		// or opcodes, short and final control frames, continuations only
		// inside a fragmented message.
		st := ws.StateServerSide
		if c.inMsg {
			st = st.Set(ws.StateFragmented)
		}
		if err := ws.CheckHeader(h, st); err != nil {
			c.closeWith(ws.StatusProtocolError, err.Error())
			return len(data), false
		}
		if !h.OpCode.IsControl() {
			have := 0
			if c.msg != nil {
				have = len(*c.msg)
			}
			if h.Length > int64(s.cfg.MaxMessageBytes-have) {
				s.m.reject(rejectTooBig)
				c.closeWith(ws.StatusMessageTooBig, fmt.Sprintf("message larger than %d bytes", s.cfg.MaxMessageBytes))
				return len(data), false
			}
		}
		if int64(len(data)-used-hn) < h.Length {
			return used, true // wait for the rest of the payload
		}
		p := data[used+hn : used+hn+int(h.Length)]
		used += hn + int(h.Length)
		ws.Cipher(p, h.Mask, 0)
		switch {
		case h.OpCode == ws.OpPing:
			c.sendFrame(ws.OpPong, p, false)
		case h.OpCode == ws.OpClose:
			// Echo the status; the peer closes the connection once it reads it.
			c.sendFrame(ws.OpClose, p[:min(len(p), 2)], true)
			return len(data), false
		case h.OpCode == ws.OpPong:
		case h.Fin && !c.inMsg:
			if !c.handle(p) { // the common case: one frame, handled in place
				return len(data), false
			}
		default:
			if c.msg == nil {
				c.msg = getBuf()
			}
			*c.msg = append(*c.msg, p...)
			c.inMsg = !h.Fin
			if h.Fin {
				keep := c.handle(*c.msg)
				putBuf(c.msg)
				c.msg = nil
				if !keep {
					return len(data), false
				}
			}
		}
	}
}

// closeLinger is how long a closing connection is drained, so that the
// peer reads our close frame before the socket goes (closing a socket with
// unread input makes the kernel reset the connection, losing the frame).
const closeLinger = 2 * time.Second

// linger discards input until the peer closes or closeLinger passes.
func (c *wsConn) linger() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(closeLinger))
	_, _ = io.Copy(io.Discard, io.LimitReader(c.nc, int64(c.srv.cfg.MaxQueuedBytes)))
	return nil
}

// work is the per-message scratch space, pooled so idle connections hold none.
type work struct {
	req     trackerproto.Request
	enc     []byte
	tail    trackerproto.RelayTail
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
// bittorrent-tracker's server.js does: checks, then the swarm update under
// the swarm's lock, then the replies and relays with no lock held.
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
	u, err := c.updateSwarm(w)
	switch {
	case errors.Is(err, ErrTooManySwarms):
		s.m.reject(rejectSwarms)
		c.fail(w, trackerproto.ActionAnnounce, err.Error(), &ih)
		return
	case err != nil: // the connection is finished: nobody to answer
		return
	}
	if s.cfg.OnAnnounce != nil && req.Event != trackerproto.EventStopped {
		s.cfg.OnAnnounce(ih)
	}
	c.relay(w, u)
}

// swarmUpdate is what an announce's swarm update decided, for the relay
// step: the counts for the reply, the connection an answer goes to, and
// (in w.targets) the connections that get one offer each.
type swarmUpdate struct {
	complete, incomplete int
	answerTo             *wsConn
}

// updateSwarm applies the announce in w to its swarm under the swarm's
// lock and picks where its answer or offers go. It sends nothing. The
// error is ErrTooManySwarms, or net.ErrClosed when c finished meanwhile.
func (c *wsConn) updateSwarm(w *work) (swarmUpdate, error) {
	s := c.srv
	req := &w.req
	stopped := req.Event == trackerproto.EventStopped
	w.targets = w.targets[:0]
	var u swarmUpdate
	sw := s.reg.lockSwarm(req.InfoHash, !stopped)
	if sw == nil {
		return u, nil // stopped in a swarm that does not exist
	}
	defer s.reg.unlock(sw)
	p := sw.wsByID[req.PeerID]
	present := p != nil
	comp := present && p.complete
	added, removed := applyEvent(sw, req.Event, req.Left, present, &comp)
	switch {
	case added:
		p = &wsPeer{id: req.PeerID, conn: c, complete: comp, seen: time.Now().Unix()}
		if err := c.join(sw, p); err != nil {
			sw.count(comp, -1)
			return u, err
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
			u.answerTo = to.conn
		}
	} else if !stopped && len(req.Offers) > 0 {
		// Only the announcer itself is skipped: clients share one socket
		// between torrents and peer ids (bittorrent-tracker's socket pool).
		// The announcer is in sw.ws (just added or updated) unless it
		// could not join; skipping by index spares a load per probe.
		self := -1
		if q := sw.wsByID[req.PeerID]; q != nil {
			self = q.idx
		}
		w.idx = pickIndexes(len(sw.ws), len(req.Offers), func(j int) bool { return j == self }, w.idx[:0])
		for _, j := range w.idx {
			w.targets = append(w.targets, sw.ws[j].conn)
		}
	}
	u.complete, u.incomplete = sw.complete, sw.incomplete
	return u, nil
}

// relay sends what updateSwarm decided: an answer to its offerer (and no
// reply, as bittorrent-tracker), or the reply and one offer per target.
func (c *wsConn) relay(w *work, u swarmUpdate) {
	s := c.srv
	req := &w.req
	ih := req.InfoHash
	if req.IsAnswer() {
		if u.answerTo == nil {
			s.m.lostAnswer.Inc()
			return
		}
		w.enc = trackerproto.AppendAnswerRelay(w.enc[:0], ih, req.PeerID, req.OfferID, req.Answer)
		if u.answerTo.send(w.enc) {
			s.m.answers.Inc()
		}
		return
	}
	w.enc = trackerproto.AppendAnnounceReply(w.enc[:0], ih, u.complete, u.incomplete, s.wsInterval)
	c.send(w.enc)
	if len(w.targets) > 0 {
		w.tail = trackerproto.AppendRelayTail(w.tail[:0], ih, req.PeerID)
	}
	for i, t := range w.targets {
		o := &req.Offers[i]
		w.enc = trackerproto.AppendOfferRelayTail(w.enc[:0], o.ID, o.SDP, w.tail)
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
	if c.state() == stateFinished { // shutdown has taken, or will see, members
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

// sendFrame queues a frame. last marks the final frame (a close): the
// connection moves to closeQueued and the writer half-closes it once the
// frame is written.
func (c *wsConn) sendFrame(op ws.OpCode, p []byte, last bool) bool {
	c.outMu.Lock()
	if c.state() >= stateCloseQueued {
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
		c.outMu.Unlock()
		c.srv.m.reject(rejectSlow)
		c.kill()
		return false
	}
	out = wsframe.AppendHeader(out, op, len(p))
	*c.out = append(out, p...)
	if last {
		c.advance(stateCloseQueued)
	}
	c.outMu.Unlock()
	if wasEmpty {
		c.notify()
	}
	return true
}

// notify tells the connection's writer that output is queued.
func (c *wsConn) notify() {
	if c.lp != nil {
		c.lp.markDirty(c)
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// kill drops the connection without a goodbye: it moves to dropping, and
// the driver that owns the socket closes it.
func (c *wsConn) kill() {
	if !c.advance(stateDropping) {
		return
	}
	if c.lp != nil {
		c.lp.markDirty(c)
		return
	}
	c.nc.Close()
}

// closeFrameWritten reports whether the writer has written everything up
// to and including the close frame: the connection is closeQueued (so the
// close frame was the last thing queued) and nothing is left in the queue.
// The writer calls it once its pending output is fully written.
func (c *wsConn) closeFrameWritten() bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return c.out == nil && c.state() == stateCloseQueued
}

// closeWith queues a close frame with a status and reason; the writer
// closes the connection once it is sent.
func (c *wsConn) closeWith(code ws.StatusCode, reason string) {
	var b [ws.MaxControlFramePayloadSize]byte
	n := min(2+len(reason), len(b))
	ws.PutCloseFrameBody(b[:n], code, reason[:n-2])
	if !c.sendFrame(ws.OpClose, b[:n], true) {
		return
	}
	if c.nc != nil {
		// The reader waits at most closeLinger for the peer's close frame
		// (the event loop keeps its own deadline).
		_ = c.nc.SetReadDeadline(time.Now().Add(closeLinger))
	}
}

func (c *wsConn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return
		}
		// Let the goroutines already runnable (other peers' readers, which
		// may be relaying offers to this peer) run first, so that their
		// messages leave in this write: under load this turns several
		// write system calls per peer into one; when idle it returns at once.
		runtime.Gosched()
		if c.state() >= stateDropping {
			return // the socket is closed; the reader cleans up
		}
		c.outMu.Lock()
		bp := c.out
		c.out = nil
		c.outMu.Unlock()
		if bp != nil {
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
			_, err := c.nc.Write(*bp)
			putBuf(bp)
			if err != nil {
				c.kill() // the reader sees the error and cleans up
				return
			}
		}
		if c.closeFrameWritten() && c.advance(stateDraining) {
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

// shutdown moves the connection to finished and releases it; of several
// calls only the first does anything. The goroutine driver calls it in the
// reader's goroutine after the read loop ends; the event loop from finish.
func (c *wsConn) shutdown() {
	if c.advance(stateFinished) {
		c.release()
	}
}

// release removes a finished connection from its swarms and the server.
func (c *wsConn) release() {
	s := c.srv
	c.mu.Lock()
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
	if c.out != nil {
		putBuf(c.out)
		c.out = nil
	}
	c.outMu.Unlock()
	if c.msg != nil {
		putBuf(c.msg)
		c.msg = nil
	}
	close(c.done)
	if c.nc != nil {
		c.nc.Close()
	}
	s.unregister(c)
	s.releaseIP(c.ip)
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

// handshakeError checks a WebSocket opening handshake as RFC 6455 §4.2.1
// asks a server to (the checks ws.HTTPUpgrader makes after hijacking):
// HTTP/1.1 GET, "Upgrade: websocket", "Connection: Upgrade", a
// Sec-WebSocket-Key of 16 bytes in base64 and Sec-WebSocket-Version 13
// (426 Upgrade Required otherwise, §4.4). nil when the handshake may
// proceed.
func handshakeError(r *http.Request) *httpx.Error {
	bad := func(msg string) *httpx.Error {
		return &httpx.Error{Status: http.StatusBadRequest, Code: "websocket_required", Message: msg}
	}
	switch {
	case r.Method != http.MethodGet || r.ProtoMajor != 1 || r.ProtoMinor < 1:
		return bad("this is a WebSocket tracker: open it with an HTTP/1.1 GET upgrade (ws:// or wss://)")
	case !headerHasToken(r.Header, "Upgrade", "websocket"), !headerHasToken(r.Header, "Connection", "upgrade"):
		return bad("this is a WebSocket tracker: open it as a WebSocket (ws:// or wss://), not as a page")
	}
	if key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key")); err != nil || len(key) != 16 {
		return bad("the WebSocket handshake needs a Sec-WebSocket-Key of 16 bytes in base64")
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return &httpx.Error{Status: http.StatusUpgradeRequired, Code: "websocket_version", Message: "this tracker speaks WebSocket version 13"}
	}
	return nil
}

// headerHasToken reports whether a comma-separated header lists token,
// case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
