package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
	"github.com/swarmtube/swarmtube/wasm/piecestore"
	"github.com/swarmtube/swarmtube/wasm/rtcpeer"
	"github.com/swarmtube/swarmtube/wasm/swarm"
	"github.com/swarmtube/swarmtube/wasm/trackerclient"
)

// PeerIDPrefix starts every peer id this engine uses.
const PeerIDPrefix = "-ST0001-"

// Options configure a Session. Zero values take swarm's defaults.
type Options struct {
	Logger       *slog.Logger
	HTTPClient   *http.Client
	Hasher       swarm.Hasher
	RTC          rtcpeer.Config
	MemoryBudget int64
	// Source, when set, is the complete file: the session only seeds.
	Source io.ReaderAt
	// NoWebSeed ignores the torrent's url-list.
	NoWebSeed bool
	// Trackers, if set, replaces the torrent's announce-list.
	Trackers []string
	// PodTracker is the WebSocket tracker of the pod whose page plays the
	// video (torrentfile.PodTrackers of its URL): announced to first,
	// then the announce-list (or Trackers), where it is not repeated
	// (issue 18: viewers on one pod find each other on its tracker, which
	// answers while the page's pod does, whoever else is down). The other
	// trackers start once its first connection attempt ended, or
	// podTrackerLead after it began.
	PodTracker string
	// OriginPod is the video's origin pod's URL: web seeds under it are
	// the origin's, the others mirrors' (swarm.Config.OriginPod).
	OriginPod string
	// Store, when set, keeps verified pieces across page loads (the
	// browser's OPFS or IndexedDB): what it holds is played and seeded
	// without fetching; MemoryBudget then bounds only the in-memory cache.
	Store *piecestore.Store
}

// Session is one torrent being streamed or seeded. Its methods are safe
// for concurrent use.
type Session struct {
	Torrent  *swarm.Torrent
	InfoHash [20]byte
	Meta     torrentfile.Metainfo
	PeerID   [20]byte

	log      *slog.Logger
	stored   *piecestore.Torrent // nil without Options.Store
	trackers []*trackerclient.Client
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once

	mu          sync.Mutex // guards the following fields
	conns       map[relayer]bool
	unreachable map[[20]byte]bool // browser peers whose connection failed, none since
}

// NewPeerID returns a random peer id with PeerIDPrefix.
func NewPeerID() [20]byte {
	var id [20]byte
	copy(id[:], PeerIDPrefix)
	rand.Read(id[len(PeerIDPrefix):])
	return id
}

// IsServerPeer reports whether a peer id is neither ours nor WebTorrent's:
// the pod's seeder (anacrolix, -GT…) or any other non-browser client. It
// is decided by who is known to be a browser, not by the pod's prefix:
// the pod pays for every byte a non-browser peer sends (its seeder, a
// friend pod's, a classic client bridged by the pod), so an unknown
// client is budgeted like the pod. Misjudging a browser as the pod only
// costs offload; misjudging the pod as a browser would lift its budget.
// A forged browser prefix gains a peer nothing but more requests.
func IsServerPeer(id [20]byte) bool {
	s := string(id[:3])
	return s != "-ST" && s != "-WW"
}

// Open parses torrentBytes and starts the session: the swarm, and one
// tracker client per ws:// tracker. It runs until Close.
func Open(torrentBytes []byte, opt Options) (*Session, error) {
	mi, ih, err := torrentfile.Parse(torrentBytes)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return Start(mi, ih, opt)
}

// Start is Open for an already parsed torrent.
func Start(mi torrentfile.Metainfo, ih [20]byte, opt Options) (*Session, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Session{InfoHash: ih, Meta: mi, PeerID: NewPeerID(), log: opt.Logger,
		conns: map[relayer]bool{}, unreachable: map[[20]byte]bool{}}
	cfg := swarm.Config{
		Metainfo: mi, InfoHash: ih, PeerID: s.PeerID, Logger: opt.Logger,
		Hasher: opt.Hasher, HTTPClient: opt.HTTPClient, Source: opt.Source,
		MemoryBudget: opt.MemoryBudget, NoWebSeed: opt.NoWebSeed,
		ServerPeer: IsServerPeer, OriginPod: opt.OriginPod,
	}
	urls := trackerOrder(opt.PodTracker, opt.Trackers, mi.AnnounceList)
	cfg.AwaitPeers = len(urls) > 0
	if opt.Store != nil && opt.Source == nil {
		st, err := opt.Store.Open(context.Background(), hex.EncodeToString(ih[:]), mi.Info.PieceLength, mi.Info.Length)
		if err != nil {
			// Playing matters more than keeping: go on without it.
			opt.Logger.Warn("browser storage unavailable for this video", "err", err)
		} else {
			s.stored, cfg.Storage = st, st
		}
	}
	t, err := swarm.New(cfg)
	if err != nil {
		if s.stored != nil {
			s.stored.Close(context.Background())
		}
		return nil, fmt.Errorf("engine: %w", err)
	}
	if s.stored != nil {
		s.stored.OnDrop(t.Unstored)
	}
	s.Torrent = t
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t.Run(ctx)
	}()
	// The page's pod's tracker first: the others wait for its first
	// connection attempt (it is the page's own origin, so that is quick).
	first := make(chan struct{})
	firstDone := sync.OnceFunc(func() { close(first) })
	if len(urls) == 0 || urls[0] != opt.PodTracker {
		firstDone()
	}
	var counts struct {
		sync.Mutex
		others []int // per tracker: other viewers it last reported
	}
	counts.others = make([]int, len(urls))
	for k, u := range urls {
		var onDial func(error)
		if k == 0 {
			onDial = func(error) { firstDone() }
		}
		tc := trackerclient.New(trackerclient.Config{
			URL: u, InfoHash: ih, PeerID: s.PeerID, Logger: opt.Logger, RTC: opt.RTC,
			Progress: func() (int64, int64, int64) {
				st := t.Stats()
				left := st.Length - int64(st.PiecesHave)*mi.Info.PieceLength
				return st.BytesUploaded, st.BytesFromPeers + st.BytesFromWebSeed, max(left, 0)
			},
			WantPeers: func() bool { return t.Stats().Peers < 4 },
			OnFail: func(peerID [20]byte) {
				if IsServerPeer(peerID) {
					return
				}
				s.mu.Lock()
				s.unreachable[peerID] = true
				s.mu.Unlock()
			},
			// The counts include us and, as a seeder, the pod's seeder:
			// the rest are other viewers, worth waiting for a moment
			// rather than paying the pod for what they hold. Each
			// tracker sees part of the swarm: the most any reports.
			OnCounts: func(complete, incomplete int) {
				counts.Lock()
				counts.others[k] = complete + incomplete - 2
				n := slices.Max(counts.others)
				counts.Unlock()
				t.ExpectPeers(n)
			},
			OnDial: onDial,
			OnConn: func(conn io.ReadWriteCloser, peerID [20]byte) {
				s.wg.Add(1)
				defer s.wg.Done()
				defer s.track(conn, peerID)()
				err := t.AddConn(ctx, conn, fmt.Sprintf("webrtc:%x", peerID[:]))
				s.log.Debug("peer ended", "err", err)
			},
		})
		s.trackers = append(s.trackers, tc)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if k > 0 {
				select {
				case <-first:
				case <-time.After(podTrackerLead):
				case <-ctx.Done():
					return
				}
			}
			tc.Run(ctx)
		}()
	}
	return s, nil
}

// podTrackerLead bounds how long the other trackers wait for the first
// connection attempt to the page's pod's tracker.
const podTrackerLead = 2 * time.Second

// trackerOrder returns the WebSocket trackers a session announces to, in
// order: pod (the page's pod's tracker, when it is ws:// or wss://), then
// trackers, or when that is nil every tier of the announce-list in
// order (BEP 12); each once.
func trackerOrder(pod string, trackers []string, announceList [][]string) []string {
	list := trackers
	if list == nil {
		for _, tier := range announceList {
			list = append(list, tier...)
		}
	}
	var out []string
	for _, u := range append([]string{pod}, list...) {
		if isWebSocket(u) && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}

// relayer is a connection that knows whether it goes through a TURN relay
// (rtcpeer.Conn).
type relayer interface{ Relayed() bool }

// track counts a connection while it lives; the returned func forgets it.
func (s *Session) track(conn io.ReadWriteCloser, peerID [20]byte) func() {
	r, ok := conn.(relayer)
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.unreachable, peerID)
	if !ok {
		return func() {}
	}
	s.conns[r] = true
	return func() {
		s.mu.Lock()
		delete(s.conns, r)
		s.mu.Unlock()
	}
}

// Routes returns how many open peer connections go through a TURN relay,
// and how many browser peers could not be reached at all (their
// connections failed ICE and none has succeeded since): with none
// connected, that is the sign that no ICE path exists from here.
func (s *Session) Routes() (relayed, unreachable int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.Relayed() {
			relayed++
		}
	}
	return relayed, len(s.unreachable)
}

func isWebSocket(u string) bool {
	return strings.HasPrefix(u, "ws://") || strings.HasPrefix(u, "wss://")
}

// Close stops the trackers and the swarm and waits for them. Idempotent.
func (s *Session) Close() {
	s.once.Do(func() {
		s.cancel()
		s.Torrent.Close()
		s.wg.Wait()
		if s.stored != nil {
			if err := s.stored.Close(context.Background()); err != nil {
				s.log.Warn("close browser storage", "err", err)
			}
		}
	})
}
