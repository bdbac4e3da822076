package trackerclient

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"nhooyr.io/websocket"

	"github.com/swarmtube/swarmtube/shared/trackerproto"
	"github.com/swarmtube/swarmtube/wasm/rtcpeer"
)

const (
	offerTimeout = 50 * time.Second
	maxMessage   = 1 << 20
)

// Config configures a Client.
type Config struct {
	URL      string // ws:// or wss:// tracker URL
	InfoHash [20]byte
	PeerID   [20]byte
	Logger   *slog.Logger
	RTC      rtcpeer.Config
	// Offers is how many offers each announce carries; default 5.
	Offers int
	// Progress reports uploaded, downloaded and left bytes for announces.
	Progress func() (uploaded, downloaded, left int64)
	// WantPeers reports whether more peers are welcome; announces come
	// every 15 s while it is true, else at the tracker's interval.
	WantPeers func() bool
	// OnConn receives each open data channel, with the remote peer id;
	// it owns the connection. It is called on its own goroutine.
	OnConn func(conn io.ReadWriteCloser, peerID [20]byte)
	// OnFail, if set, learns of each negotiated connection whose ICE
	// checks failed or timed out (not of those abandoned at shutdown):
	// the peer answered, but no path between the two was found.
	OnFail func(peerID [20]byte)
	// OnCounts, if set, receives each announce reply's swarm counts
	// (seeders, leechers; ourselves included). It must not block.
	OnCounts func(complete, incomplete int)
	// OnDial, if set, learns the outcome of each attempt to connect to
	// the tracker (nil: connected). It must not block.
	OnDial func(err error)
}

// Client is one tracker connection for one torrent.
type Client struct {
	cfg Config
	log *slog.Logger
	wg  sync.WaitGroup

	mu      sync.Mutex // guards the following fields
	ws      *websocket.Conn
	pending map[trackerproto.ID]*rtcpeer.Pending
}

// New returns a Client; Run connects it.
func New(cfg Config) *Client {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Offers <= 0 {
		cfg.Offers = 5
	}
	return &Client{cfg: cfg, log: cfg.Logger.With("tracker", cfg.URL), pending: map[trackerproto.ID]*rtcpeer.Pending{}}
}

// Run keeps announcing until ctx ends, then closes every connection still
// being negotiated and waits for its goroutines.
func (c *Client) Run(ctx context.Context) error {
	defer func() {
		c.mu.Lock()
		for id, p := range c.pending {
			p.Close()
			delete(c.pending, id)
		}
		c.mu.Unlock()
		c.wg.Wait()
	}()
	backoff := time.Second
	for {
		started := time.Now()
		err := c.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		c.log.Warn("tracker connection lost", "err", err, "retry", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

type sdp struct {
	Type string `json:"type"`
	SDP  string `json:"sdp"`
}

func (c *Client) session(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	ws, _, err := websocket.Dial(dctx, c.cfg.URL, nil)
	cancel()
	if c.cfg.OnDial != nil {
		c.cfg.OnDial(err)
	}
	if err != nil {
		return fmt.Errorf("dial %s: %w", c.cfg.URL, err)
	}
	ws.SetReadLimit(maxMessage)
	defer ws.Close(websocket.StatusNormalClosure, "")
	c.mu.Lock()
	c.ws = ws
	c.mu.Unlock()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	announces := make(chan time.Duration, 1)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.announceLoop(sctx, announces)
	}()
	var m trackerproto.Response
	for {
		_, data, err := ws.Read(sctx)
		if err != nil {
			return fmt.Errorf("read %s: %w", c.cfg.URL, err)
		}
		if err := trackerproto.DecodeResponse(data, &m); err != nil {
			c.log.Warn("bad tracker message", "err", err)
			continue
		}
		c.handle(sctx, &m, announces)
	}
}

func (c *Client) handle(ctx context.Context, m *trackerproto.Response, announces chan<- time.Duration) {
	switch {
	case m.FailureReason != "":
		c.log.Warn("tracker failure", "reason", m.FailureReason)
		return
	case m.WarningMessage != "":
		c.log.Debug("tracker warning", "warning", m.WarningMessage)
	}
	if m.HasInfoHash && m.InfoHash != c.cfg.InfoHash {
		return
	}
	peerID := [20]byte(m.PeerID)
	switch {
	case m.Offer != nil:
		if peerID == c.cfg.PeerID {
			return
		}
		var offer sdp
		if err := json.Unmarshal(m.Offer, &offer); err != nil || offer.SDP == "" {
			c.log.Debug("bad relayed offer", "err", err)
			return
		}
		offerID := m.OfferID
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.answer(ctx, offerID, offer.SDP, peerID)
		}()
	case m.Answer != nil:
		var answer sdp
		if err := json.Unmarshal(m.Answer, &answer); err != nil {
			c.log.Debug("bad relayed answer", "err", err)
			return
		}
		c.mu.Lock()
		p := c.pending[m.OfferID]
		delete(c.pending, m.OfferID)
		c.mu.Unlock()
		if p == nil {
			return
		}
		if err := p.SetAnswer(answer.SDP); err != nil {
			c.log.Debug("bad answer", "err", err)
			p.Close()
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.await(ctx, p, peerID)
		}()
	case m.HasCounts:
		if c.cfg.OnCounts != nil {
			c.cfg.OnCounts(m.Complete, m.Incomplete)
		}
		if m.Interval <= 0 {
			return
		}
		select {
		case announces <- time.Duration(m.Interval) * time.Second:
		default:
		}
	}
}

func (c *Client) await(ctx context.Context, p *rtcpeer.Pending, peerID [20]byte) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := p.Wait(wctx)
	if err != nil {
		c.log.Debug("peer connection failed", "err", err)
		if ctx.Err() == nil && c.cfg.OnFail != nil {
			c.cfg.OnFail(peerID)
		}
		return
	}
	c.cfg.OnConn(conn, peerID)
}

func (c *Client) answer(ctx context.Context, offerID trackerproto.ID, offerSDP string, peerID [20]byte) {
	p, err := rtcpeer.NewAnswer(ctx, c.cfg.RTC, offerSDP)
	if err != nil {
		c.log.Debug("answer offer", "err", err)
		return
	}
	answer, _ := json.Marshal(sdp{Type: "answer", SDP: p.SDP()})
	err = c.send(ctx, &trackerproto.Request{
		Action: trackerproto.ActionAnnounce, InfoHash: c.cfg.InfoHash, PeerID: c.cfg.PeerID,
		ToPeerID: peerID, OfferID: offerID, Answer: answer, Left: trackerproto.LeftUnknown,
	})
	if err != nil {
		p.Close()
		return
	}
	c.await(ctx, p, peerID)
}

func (c *Client) send(ctx context.Context, r *trackerproto.Request) error {
	data := r.AppendJSON(nil)
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws == nil {
		return errors.New("trackerclient: not connected")
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return ws.Write(wctx, websocket.MessageText, data)
}

func (c *Client) announceLoop(ctx context.Context, intervals <-chan time.Duration) {
	interval := 2 * time.Minute
	event := trackerproto.EventStarted
	for {
		if err := c.announce(ctx, event); err != nil {
			c.log.Debug("announce", "err", err)
		}
		event = trackerproto.EventUpdate
		wait := interval
		if c.cfg.WantPeers != nil && c.cfg.WantPeers() {
			wait = min(wait, 15*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case d := <-intervals:
			interval = max(d, 15*time.Second)
			// Wait for the next announce time from here.
			select {
			case <-ctx.Done():
				return
			case <-time.After(min(interval, wait)):
			}
		case <-time.After(wait):
		}
	}
}

func (c *Client) announce(ctx context.Context, event trackerproto.Event) error {
	r := &trackerproto.Request{
		Action: trackerproto.ActionAnnounce, InfoHash: c.cfg.InfoHash, PeerID: c.cfg.PeerID, Event: event,
	}
	// Offers gather ICE candidates concurrently: in a browser each takes
	// a noticeable time (mDNS host names), and peers wait for the announce.
	pending := make([]*rtcpeer.Pending, c.cfg.Offers)
	errs := make([]error, c.cfg.Offers)
	var wg sync.WaitGroup
	for i := range pending {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pending[i], errs[i] = rtcpeer.NewOffer(ctx, c.cfg.RTC)
		}()
	}
	wg.Wait()
	for i, p := range pending {
		if errs[i] != nil {
			for _, q := range pending {
				if q != nil {
					q.Close()
				}
			}
			return fmt.Errorf("create offer: %w", errs[i])
		}
		var id trackerproto.ID
		rand.Read(id[:])
		c.mu.Lock()
		c.pending[id] = p
		c.mu.Unlock()
		time.AfterFunc(offerTimeout, func() {
			c.mu.Lock()
			q := c.pending[id]
			delete(c.pending, id)
			c.mu.Unlock()
			if q != nil {
				q.Close()
			}
		})
		offer, _ := json.Marshal(sdp{Type: "offer", SDP: p.SDP()})
		r.Offers = append(r.Offers, trackerproto.Offer{ID: id, SDP: offer})
	}
	if c.cfg.Progress != nil {
		r.Uploaded, r.Downloaded, r.Left = c.cfg.Progress()
	} else {
		r.Left = trackerproto.LeftUnknown
	}
	r.NumWant = len(r.Offers)
	return c.send(ctx, r)
}
