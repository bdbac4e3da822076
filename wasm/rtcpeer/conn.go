package rtcpeer

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v3"
)

const (
	// MaxMessage is the largest data channel message Write sends.
	MaxMessage = 16 << 10
	// HighWater is the bufferedAmount above which Write waits.
	HighWater = 1 << 20
	// lowWater is the bufferedamountlow threshold that wakes it.
	lowWater = 256 << 10
	// gatherTimeout bounds ICE gathering.
	gatherTimeout = 10 * time.Second
)

// ErrClosed is returned by reads and writes on a closed Conn.
var ErrClosed = net.ErrClosed

// Config configures peer connections.
type Config struct {
	// ICEServers are STUN/TURN servers; none are needed on one machine.
	ICEServers []webrtc.ICEServer
	// RelayOnly sets the ICE transport policy "relay": only TURN relayed
	// candidates are used. For tests and relay measurements; pages leave
	// it off so ICE prefers direct paths.
	RelayOnly bool
}

func (c Config) configuration() webrtc.Configuration {
	conf := webrtc.Configuration{ICEServers: c.ICEServers}
	if c.RelayOnly {
		conf.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	return conf
}

// sender is the platform's data channel.
type sender interface {
	send(p []byte) error
	bufferedAmount() uint64
	close()
}

// Conn is a data channel as a byte stream.
type Conn struct {
	dc      sender
	pc      *webrtc.PeerConnection
	lowc    chan struct{} // signalled on bufferedamountlow
	wmu     sync.Mutex    // serialises writers
	closeMu sync.Once

	relayed atomic.Bool // the selected candidate pair uses a TURN relay (see watchRoute)
	routed  atomic.Bool // relayed has been read from the selected pair at least once
	watch   sync.Once

	mu     sync.Mutex // guards the following fields
	rbuf   []byte
	rcond  *sync.Cond
	closed bool
	done   chan struct{}
}

func newConn(pc *webrtc.PeerConnection) *Conn {
	c := &Conn{pc: pc, lowc: make(chan struct{}, 1), done: make(chan struct{})}
	c.rcond = sync.NewCond(&c.mu)
	return c
}

// deliver appends a received message; it never blocks for long, so the
// platform may call it from an event callback.
func (c *Conn) deliver(p []byte) {
	c.mu.Lock()
	if !c.closed {
		c.rbuf = append(c.rbuf, p...)
		c.rcond.Broadcast()
	}
	c.mu.Unlock()
}

func (c *Conn) bufferedLow() {
	select {
	case c.lowc <- struct{}{}:
	default:
	}
}

// Read reads received bytes in order, blocking until some arrive.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.rbuf) == 0 {
		if c.closed {
			return 0, io.EOF
		}
		c.rcond.Wait()
	}
	n := copy(p, c.rbuf)
	c.rbuf = c.rbuf[n:]
	if len(c.rbuf) == 0 {
		c.rbuf = nil // let a large backing array go
	}
	return n, nil
}

// Write sends p in messages of at most MaxMessage bytes, waiting while the
// channel's send buffer is above HighWater.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	written := 0
	for len(p) > 0 {
		for c.dc.bufferedAmount() > HighWater {
			select {
			case <-c.lowc:
			case <-c.done:
				return written, ErrClosed
			case <-time.After(time.Second): // in case an event was missed
			}
		}
		select {
		case <-c.done:
			return written, ErrClosed
		default:
		}
		n := min(len(p), MaxMessage)
		if err := c.dc.send(p[:n]); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// Close closes the data channel and the peer connection. It is idempotent.
func (c *Conn) Close() error {
	c.closeMu.Do(func() {
		c.mu.Lock()
		c.closed = true
		close(c.done)
		c.rcond.Broadcast()
		dc := c.dc
		c.mu.Unlock()
		if dc != nil {
			dc.close()
		}
		// Closing a pion peer connection can wait for its goroutines; do
		// it off the caller's path (the engine closes under its lock).
		go c.pc.Close()
	})
	return nil
}

// Relayed reports whether the connection's selected ICE candidate pair
// goes through a TURN relay on either side (candidate type "relay", RFC
// 8445 section 5.1.1.1), as last read; false until it is known.
func (c *Conn) Relayed() bool { return c.relayed.Load() }

// RouteKnown reports whether Relayed has been read from the selected
// candidate pair at least once, rather than being the false it starts as.
func (c *Conn) RouteKnown() bool { return c.routed.Load() }

// routeEvery is how often watchRoute reads the selected pair again: ICE may
// switch pairs after connecting (a relay first, a direct path later).
const routeEvery = 5 * time.Second

// watchRoute keeps Relayed current until the connection closes.
func (c *Conn) watchRoute() {
	c.watch.Do(func() {
		go func() {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() { <-c.done; cancel() }()
			t := time.NewTicker(routeEvery)
			defer t.Stop()
			for {
				if relayed, err := selectedRelay(ctx, c.pc); err == nil {
					c.relayed.Store(relayed)
					c.routed.Store(true)
				}
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				}
			}
		}()
	})
}

// markClosed is called when the channel or the connection goes away.
func (c *Conn) markClosed() { c.Close() }

// Pending is a peer connection being negotiated.
type Pending struct {
	pc   *webrtc.PeerConnection
	sdp  string
	conn *Conn
	open chan struct{} // closed when the data channel opens
	fail chan struct{} // closed when the connection fails
	once sync.Once
	fmu  sync.Once
}

// SDP is the local description to send through the tracker.
func (p *Pending) SDP() string { return p.sdp }

func (p *Pending) opened() { p.once.Do(func() { close(p.open) }) }
func (p *Pending) failed() { p.fmu.Do(func() { close(p.fail) }) }

// SetAnswer applies the remote answer to an offer.
func (p *Pending) SetAnswer(sdp string) error {
	return p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
}

// Wait blocks until the data channel opens and returns it as a stream.
// On failure or ctx end it closes the connection.
func (p *Pending) Wait(ctx context.Context) (*Conn, error) {
	select {
	case <-p.open:
		p.conn.watchRoute()
		return p.conn, nil
	case <-p.fail:
		p.Close()
		return nil, errors.New("rtcpeer: connection failed")
	case <-ctx.Done():
		p.Close()
		return nil, ctx.Err()
	}
}

// Close abandons the connection.
func (p *Pending) Close() { p.conn.Close() }

func (p *Pending) watchState() {
	p.pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			p.failed()
			p.conn.markClosed()
		case webrtc.PeerConnectionStateDisconnected:
			p.conn.markClosed()
		}
	})
}

func gather(ctx context.Context, pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (string, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return "", err
	}
	t := time.NewTimer(gatherTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C: // use what we have
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

// NewOffer creates a peer connection with one data channel and returns it
// with its complete offer.
func NewOffer(ctx context.Context, cfg Config) (*Pending, error) {
	pc, err := newPeerConnection(cfg)
	if err != nil {
		return nil, err
	}
	p := &Pending{pc: pc, conn: newConn(pc), open: make(chan struct{}), fail: make(chan struct{})}
	p.watchState()
	if err := createChannel(p); err != nil {
		p.Close()
		return nil, err
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		p.Close()
		return nil, err
	}
	if p.sdp, err = gather(ctx, pc, offer); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// NewAnswer accepts a remote offer and returns the connection with its
// complete answer.
func NewAnswer(ctx context.Context, cfg Config, offerSDP string) (*Pending, error) {
	pc, err := newPeerConnection(cfg)
	if err != nil {
		return nil, err
	}
	p := &Pending{pc: pc, conn: newConn(pc), open: make(chan struct{}), fail: make(chan struct{})}
	p.watchState()
	acceptChannel(p)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		p.Close()
		return nil, err
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		p.Close()
		return nil, err
	}
	if p.sdp, err = gather(ctx, pc, answer); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}
