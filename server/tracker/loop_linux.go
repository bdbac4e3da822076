//go:build linux

package tracker

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/swarmtube/swarmtube/internal/rawio"
)

// An event loop serves many WebSocket connections from one goroutine:
// it waits (epoll, level-triggered) for readable sockets, reads and handles
// every ready one, and only then writes each connection that has output.
// Under load one wait returns hundreds of sockets, so the reply and the
// several offers relayed to a peer in that round leave in one write, and
// no read is spent discovering that a socket is empty: the system calls
// per announce fall from about ten to two or three. The loop's epoll
// descriptor is itself waited on through Go's poller, so an idle loop
// holds no thread.
//
// Connections are handed over after the HTTP upgrade: the socket is
// duplicated and the net.Conn closed (which removes it from Go's poller).

// loopReadSize is the loop's read buffer: a read takes all a socket has,
// up to this, so a whole announce (~4 KiB with 5 offers) is one read.
const loopReadSize = 64 << 10

// loopState is what the event loop keeps of a connection besides its
// connState; the loop's goroutine alone touches it.
type loopState struct {
	fd    int
	added bool // the loop has it in its epoll set

	in      *[]byte // the start of a frame waiting for more input
	pending *[]byte // output taken from the queue, not fully written
	woff    int     // bytes of pending written
	wantOut bool    // waiting for the socket to be writable

	lastRead time.Time // for PeerTimeout
	stalled  time.Time // output has waited since
	drainBy  time.Time // from closeQueued on: drop the connection at this time
}

// drainDeadline returns when a closing connection is dropped, starting
// its closeLinger the first time the loop sees it closing.
func (c *wsConn) drainDeadline(now time.Time) time.Time {
	if c.ev.drainBy.IsZero() {
		c.ev.drainBy = now.Add(closeLinger)
	}
	return c.ev.drainBy
}

type loop struct {
	srv  *Server
	epfd int
	evfd int // eventfd in the epoll set: other goroutines wake the loop with it
	file *os.File
	raw  interface {
		Read(func(fd uintptr) (done bool)) error
	}
	conns map[int32]*wsConn // loop goroutine only
	buf   []byte            // read buffer, loop goroutine only
	tick  time.Duration
	done  chan struct{}

	sleeping atomic.Bool // the loop may be waiting: wake it through evfd
	woken    atomic.Bool // evfd was written and not read yet

	mu       sync.Mutex // guards the following fields
	dirty    []*wsConn  // connections with output queued
	adds     []pendingAdd
	stopping bool
}

type pendingAdd struct {
	c     *wsConn
	early []byte
}

// attach assigns c to an event loop if nc is a TCP socket, with a
// duplicate of its descriptor; with an error (or a non-TCP nc), c stays
// goroutine-driven.
func (s *Server) attach(c *wsConn, nc net.Conn) error {
	tc, ok := nc.(*net.TCPConn)
	if !ok || s.cfg.noEventLoop {
		return nil
	}
	lp, err := s.pickLoop()
	if err != nil || lp == nil {
		return err
	}
	fd, err := rawio.DupNonblock(tc)
	if err != nil {
		return fmt.Errorf("tracker connection: %w", err)
	}
	// The caller closes tc once c is registered (detach undoes this).
	c.lp, c.ev.fd = lp, fd
	return nil
}

// detach undoes attach for a connection that will not be served.
func (s *Server) detach(c *wsConn) {
	if c.lp != nil {
		unix.Close(c.ev.fd)
		c.lp = nil
	}
}

// pickLoop returns an event loop, starting them (one per GOMAXPROCS) on
// first use; nil after Close.
func (s *Server) pickLoop() (*loop, error) {
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	if s.loops == nil {
		if s.closedLoops {
			return nil, nil
		}
		n := runtime.GOMAXPROCS(0)
		for range n {
			lp, err := newLoop(s)
			if err != nil {
				for _, l := range s.loops {
					l.stop()
				}
				s.loops = nil
				return nil, err
			}
			s.loops = append(s.loops, lp)
		}
	}
	return s.loops[int(s.loopRR.Add(1))%len(s.loops)], nil
}

// stopLoops stops the event loops once their connections are gone.
func (s *Server) stopLoops() {
	s.loopsMu.Lock()
	loops := s.loops
	s.loops, s.closedLoops = nil, true
	s.loopsMu.Unlock()
	for _, l := range loops {
		l.stop()
	}
}

func newLoop(s *Server) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("epoll add eventfd: %w", err)
	}
	// A non-blocking epoll descriptor is pollable: Go's poller parks the
	// loop's goroutine until it has events.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	f := os.NewFile(uintptr(epfd), "tracker-epoll")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		unix.Close(evfd)
		return nil, fmt.Errorf("epoll: %w", err)
	}
	l := &loop{
		srv:   s,
		epfd:  epfd,
		evfd:  evfd,
		file:  f,
		raw:   raw,
		conns: make(map[int32]*wsConn),
		buf:   make([]byte, loopReadSize),
		tick:  min(closeLinger/4, max(s.cfg.PeerTimeout/4, 10*time.Millisecond)),
		done:  make(chan struct{}),
	}
	go l.run()
	return l, nil
}

// add hands c (attached to l) to the loop with the input already read.
func (l *loop) add(c *wsConn, early []byte) {
	l.mu.Lock()
	l.adds = append(l.adds, pendingAdd{c: c, early: append([]byte(nil), early...)})
	l.mu.Unlock()
	l.wake()
}

// markDirty queues c for writing; any goroutine may call it.
func (l *loop) markDirty(c *wsConn) {
	l.mu.Lock()
	l.dirty = append(l.dirty, c)
	l.mu.Unlock()
	l.wake()
}

func (l *loop) wake() {
	// The loop sets sleeping before it checks its queues and waits, and
	// the queues were changed above: it either sees the change or is woken.
	if l.sleeping.Load() && l.woken.CompareAndSwap(false, true) {
		one := [8]byte{1}
		_, _ = unix.Write(l.evfd, one[:])
	}
}

// stop makes the loop return once it has no connections, and waits.
func (l *loop) stop() {
	l.mu.Lock()
	l.stopping = true
	l.mu.Unlock()
	l.sleeping.Store(true)
	l.wake()
	<-l.done
}

func (l *loop) run() {
	defer close(l.done)
	defer func() {
		l.file.Close()
		unix.Close(l.evfd)
	}()
	events := make([]unix.EpollEvent, 1024)
	var spare []*wsConn
	lastSweep := time.Now()
	for {
		l.sleeping.Store(true)
		l.mu.Lock()
		busy := len(l.dirty) > 0 || len(l.adds) > 0
		stop := l.stopping && !busy && len(l.conns) == 0
		l.mu.Unlock()
		if stop {
			return
		}
		n, err := l.wait(events, busy, lastSweep.Add(l.tick))
		l.sleeping.Store(false)
		if err != nil {
			l.srv.log.Error("tracker: event loop wait", "err", err)
			time.Sleep(l.tick) // not expected; do not spin
		}
		now := time.Now()
		l.handle(events[:n], now)
		l.mu.Lock()
		adds, dirty := l.adds, l.dirty
		l.adds, l.dirty = nil, spare[:0]
		l.mu.Unlock()
		for _, a := range adds {
			l.start(a.c, a.early, now)
		}
		for _, c := range dirty {
			if c.ev.added && c.state() != stateFinished {
				l.write(c, now)
			}
		}
		clear(dirty)
		spare = dirty
		if now.Sub(lastSweep) >= l.tick {
			lastSweep = now
			l.sweep(now)
		}
	}
}

// handle reads from and writes to the sockets of events.
func (l *loop) handle(events []unix.EpollEvent, now time.Time) {
	for i := range events {
		ev := &events[i]
		if int(ev.Fd) == l.evfd {
			var b [8]byte
			_, _ = unix.Read(l.evfd, b[:])
			l.woken.Store(false)
			continue
		}
		c := l.conns[ev.Fd]
		if c == nil {
			continue
		}
		if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			l.read(c, now)
		}
		if ev.Events&unix.EPOLLOUT != 0 && c.state() != stateFinished {
			l.write(c, now)
		}
	}
}

// wait returns ready events; it does not block when busy, and blocks at
// most until deadline otherwise.
func (l *loop) wait(events []unix.EpollEvent, busy bool, deadline time.Time) (int, error) {
	var n int
	var werr error
	poll := func(fd uintptr) bool {
		n, werr = rawio.EpollPoll(int(fd), events)
		return n > 0 || (werr != nil && werr != unix.EINTR)
	}
	if busy {
		poll(uintptr(l.epfd))
		if werr == unix.EINTR {
			werr = nil
		}
		return max(n, 0), werr
	}
	if err := l.file.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	err := l.raw.Read(poll)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = nil
	}
	return max(n, 0), errors.Join(err, werr)
}

// start puts an adopted connection in the epoll set and handles its
// early input and output.
func (l *loop) start(c *wsConn, early []byte, now time.Time) {
	fd := c.ev.fd
	c.ev.lastRead = now
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
		l.srv.log.Warn("tracker: event loop add", "err", err)
		unix.Close(fd)
		c.shutdown()
		l.srv.connDone.Done()
		return
	}
	l.conns[int32(fd)] = c
	c.ev.added = true
	if len(early) > 0 {
		l.consume(c, early, now)
	}
	if c.state() != stateFinished {
		l.write(c, now) // a close frame may be queued already
	}
}

// read reads what the socket has and handles the complete frames.
func (l *loop) read(c *wsConn, now time.Time) {
	in := c.ev.in
	var data []byte
	if in != nil {
		// The start of a frame is waiting: read behind it.
		if cap(*in)-len(*in) < 16<<10 {
			b := make([]byte, len(*in), len(*in)+max(len(*in), 16<<10))
			copy(b, *in)
			*in = b
		}
		n, err := rawio.Read(c.ev.fd, (*in)[len(*in):cap(*in)])
		if l.readFailed(c, n, err) {
			return
		}
		*in = (*in)[:len(*in)+n]
		data = *in
	} else {
		n, err := rawio.Read(c.ev.fd, l.buf)
		if l.readFailed(c, n, err) {
			return
		}
		data = l.buf[:n]
	}
	c.ev.lastRead = now
	l.consume(c, data, now)
}

// readFailed handles a read's end of stream or error, reporting whether
// there is no data to handle.
func (l *loop) readFailed(c *wsConn, n int, err error) bool {
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return true
	case err != nil || n == 0:
		l.finish(c)
		return true
	}
	return false
}

// consume feeds data (the loop's buffer or c.ev.in) to c and keeps an
// incomplete frame's bytes in c.ev.in.
func (l *loop) consume(c *wsConn, data []byte, now time.Time) {
	if c.state() >= stateCloseQueued {
		c.drainDeadline(now) // closing: input is drained unread
		return
	}
	used, ok := c.feed(data)
	if !ok {
		c.drainDeadline(now)
	}
	rest := data[used:]
	switch in := c.ev.in; {
	case in != nil && len(rest) == 0:
		putBuf(in)
		c.ev.in = nil
	case in != nil:
		*in = (*in)[:copy(*in, rest)]
	case len(rest) > 0:
		in = getBuf()
		*in = append(*in, rest...)
		c.ev.in = in
	}
}

// write writes c's queued output until done or the socket is full.
func (l *loop) write(c *wsConn, now time.Time) {
	if c.state() == stateDropping {
		l.finish(c)
		return
	}
	for {
		if c.ev.pending == nil {
			c.outMu.Lock()
			c.ev.pending, c.out = c.out, nil
			c.outMu.Unlock()
			c.ev.woff = 0
			if c.ev.pending == nil {
				break
			}
		}
		p := (*c.ev.pending)[c.ev.woff:]
		n, err := rawio.Write(c.ev.fd, p)
		if n > 0 {
			c.ev.woff += n
		}
		if err == unix.EAGAIN || (err == nil && n < len(p)) {
			if !c.ev.wantOut {
				c.ev.wantOut, c.ev.stalled = true, now
				l.interest(c, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLOUT)
			}
			return
		}
		if err != nil && err != unix.EINTR {
			l.finish(c)
			return
		}
		if err == unix.EINTR {
			continue
		}
		putBuf(c.ev.pending)
		c.ev.pending = nil
		if c.closeFrameWritten() && c.advance(stateDraining) {
			// Half-close: the peer reads our close frame, then EOF; we
			// drain its input until it closes or closeLinger passes.
			_ = unix.Shutdown(c.ev.fd, unix.SHUT_WR)
			c.drainDeadline(now)
			break
		}
	}
	if c.ev.wantOut {
		c.ev.wantOut = false
		l.interest(c, unix.EPOLLIN|unix.EPOLLRDHUP)
	}
}

func (l *loop) interest(c *wsConn, events uint32) {
	ev := unix.EpollEvent{Events: events, Fd: int32(c.ev.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.ev.fd, &ev); err != nil {
		l.finish(c)
	}
}

// sweep drops connections that are silent past PeerTimeout, that did not
// take their output within WriteTimeout, or that finished lingering.
func (l *loop) sweep(now time.Time) {
	cfg := &l.srv.cfg
	for _, c := range l.conns {
		switch st := c.state(); {
		case st == stateDropping:
		case st >= stateCloseQueued: // closeQueued or draining
			if now.Before(c.drainDeadline(now)) {
				continue
			}
		case c.ev.wantOut && now.Sub(c.ev.stalled) > cfg.WriteTimeout:
		case now.Sub(c.ev.lastRead) > cfg.PeerTimeout:
		default:
			continue
		}
		l.finish(c)
	}
}

// finish closes the socket and removes the connection from its swarms.
func (l *loop) finish(c *wsConn) {
	if !c.advance(stateFinished) {
		return
	}
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.ev.fd, nil)
	delete(l.conns, int32(c.ev.fd))
	unix.Close(c.ev.fd)
	for _, b := range []**[]byte{&c.ev.in, &c.ev.pending} {
		if *b != nil {
			putBuf(*b)
			*b = nil
		}
	}
	c.release()
	l.srv.connDone.Done()
}
