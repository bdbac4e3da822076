package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/swarmtube/swarmtube/internal/rawio"
	"github.com/swarmtube/swarmtube/internal/wsframe"
	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

// A load generator must cost much less than the servers it loads: at
// 40,000 announces/s, a goroutine per connection (a park and a wake-up
// per reply) took the generator's whole core. This driver serves every
// connection from one thread with epoll, like the tracker's own event
// loop: read what a socket has, count the offers, and on the reply send
// the next announce at once.

// epollPeer is one connection of the epoll driver.
type epollPeer struct {
	fd      int
	in      []byte // the start of a frame waiting for more input
	started []byte // the first announce frame, then update
	update  []byte
	out     []byte // the part of an announce frame not written yet
	waitOut bool   // waiting for the socket to take the rest of out
	sentAt  time.Time
	dead    bool
}

func runWSEpoll(target string, conns int, hashes []trackerproto.ID, nOffers, sdpBytes int, warmup, dur time.Duration, pid int) error {
	sdp := offerSDP(sdpBytes)
	peers := make([]*epollPeer, conns)
	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		connErr error
	)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := dialEpollPeer(target, hashes[i%len(hashes)], nOffers, sdp)
			if err != nil {
				errMu.Lock()
				connErr = errors.Join(connErr, err)
				errMu.Unlock()
				return
			}
			peers[i] = p
		}()
		if i%200 == 199 {
			time.Sleep(20 * time.Millisecond) // don't overflow the listen backlog
		}
	}
	wg.Wait()
	defer func() {
		for _, p := range peers {
			if p != nil {
				unix.Close(p.fd)
			}
		}
	}()
	if connErr != nil {
		return fmt.Errorf("connect: %w", connErr)
	}

	runtime.LockOSThread() // the loop blocks in epoll_wait: give it its own thread
	defer runtime.UnlockOSThread()
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(epfd)
	byFD := make(map[int32]*epollPeer, conns)
	for _, p := range peers {
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, p.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p.fd)}); err != nil {
			return err
		}
		byFD[int32(p.fd)] = p
	}
	var st stats
	now := time.Now()
	for _, p := range peers {
		p.send(epfd, now, &st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), warmup+dur)
	defer cancel()
	var win window
	var t0 time.Time
	measureAt := now.Add(warmup)
	buf := make([]byte, 256<<10)
	events := make([]unix.EpollEvent, 1024)
	lastCheck := now
	for ctx.Err() == nil {
		n, err := unix.EpollWait(epfd, events, 100)
		if err != nil && err != unix.EINTR {
			return err
		}
		now := time.Now()
		if !st.measuring.Load() && now.After(measureAt) {
			win.begin(pid)
			t0 = now
			st.measuring.Store(true)
		}
		for _, ev := range events[:max(n, 0)] {
			p := byFD[ev.Fd]
			if p == nil || p.dead {
				continue
			}
			if ev.Events&unix.EPOLLOUT != 0 {
				p.flush(epfd, &st)
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				p.read(epfd, buf, now, &st)
			}
		}
		if now.Sub(lastCheck) > time.Second {
			lastCheck = now
			for _, p := range peers {
				if !p.dead && p.out == nil && !p.sentAt.IsZero() && now.Sub(p.sentAt) > 30*time.Second {
					p.fail(&st) // no reply in 30 s
				}
			}
		}
	}
	st.measuring.Store(false)
	elapsed := time.Since(t0)
	win.end(elapsed)
	st.report("ws", conns, elapsed, pid, &win)
	return nil
}

// dialEpollPeer connects, and takes the socket out of Go's poller.
func dialEpollPeer(target string, ih trackerproto.ID, nOffers int, sdp string) (*epollPeer, error) {
	conn, br, err := dialWS(context.Background(), target)
	if err != nil {
		return nil, err
	}
	defer conn.Close() // the duplicate below keeps the socket
	if br != nil && br.Buffered() > 0 {
		return nil, errors.New("server sent data before the first announce")
	}
	fd, err := rawio.DupNonblock(conn.(*net.TCPConn))
	if err != nil {
		return nil, err
	}
	started, update := announceFrames(ih, nOffers, sdp)
	return &epollPeer{fd: fd, started: started, update: update}, nil
}

// send starts the next announce.
func (p *epollPeer) send(epfd int, now time.Time, st *stats) {
	frame := p.update
	if p.started != nil {
		frame, p.started = p.started, nil
	}
	p.sentAt, p.out = now, frame
	p.flush(epfd, st)
}

// flush writes what is left of the announce frame.
func (p *epollPeer) flush(epfd int, st *stats) {
	for len(p.out) > 0 {
		n, err := rawio.Write(p.fd, p.out)
		if err == unix.EAGAIN {
			if !p.waitOut {
				p.waitOut = true
				_ = unix.EpollCtl(epfd, unix.EPOLL_CTL_MOD, p.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT, Fd: int32(p.fd)})
			}
			return
		}
		if err != nil {
			p.fail(st)
			return
		}
		p.out = p.out[n:]
	}
	p.out = nil
	if p.waitOut {
		p.waitOut = false
		_ = unix.EpollCtl(epfd, unix.EPOLL_CTL_MOD, p.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(p.fd)})
	}
}

// read reads what the socket has and classifies the complete frames.
func (p *epollPeer) read(epfd int, buf []byte, now time.Time, st *stats) {
	n, err := rawio.Read(p.fd, buf)
	if err == unix.EAGAIN {
		return
	}
	if err != nil || n == 0 {
		p.fail(st)
		return
	}
	data := buf[:n]
	if len(p.in) > 0 {
		p.in = append(p.in, data...)
		data = p.in
	}
	for {
		h, hn := wsframe.ParseHeader(data)
		if hn == 0 || int64(len(data)-hn) < h.Length {
			break
		}
		payload := data[hn : hn+int(h.Length)]
		data = data[hn+int(h.Length):]
		if h.OpCode == ws.OpClose {
			p.fail(st)
			return
		}
		switch classify(payload) {
		case kindOffer:
			if st.measuring.Load() {
				st.relayed.Add(1)
			}
		case kindReply:
			st.record(now.Sub(p.sentAt))
			p.send(epfd, now, st)
		case kindFailure:
			st.errors.Add(1)
		}
	}
	p.in = append(p.in[:0], data...)
}

func (p *epollPeer) fail(st *stats) {
	if !p.dead {
		p.dead = true
		st.errors.Add(1)
	}
}
