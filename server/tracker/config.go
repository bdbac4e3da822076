package tracker

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

// Config configures a Server. Zero values select the defaults named on
// each field.
type Config struct {
	// Allow reports whether the info hash may be tracked. nil allows every
	// hash (open tracker). Announces for other hashes get the failure
	// reason "info_hash is not tracked by this pod". It is called on every
	// announce, so it must be fast and safe for concurrent use.
	Allow func(infoHash [20]byte) bool

	// OnAnnounce, if set, is called with the info hash of every accepted
	// announce (HTTP and WebSocket, event stopped excluded), outside any
	// swarm lock, before the reply is sent. It must not block: the pod
	// uses it to wake its seeder for the torrent (issue 20).
	OnAnnounce func(infoHash [20]byte)
	// Self, if set, names a peer the HTTP tracker lists first for every
	// accepted announce of infoHash, whether it is in the swarm or not
	// (the pod's own seeder, which loads the torrent on demand, so a
	// desktop client finds it in its first response). ok false lists
	// nothing. It may block briefly (r's context bounds it).
	Self func(r *http.Request, infoHash [20]byte) (peerID [20]byte, addr netip.AddrPort, ok bool)

	// AnnounceInterval is the interval told to HTTP clients (default 10
	// minutes, as bittorrent-tracker). WebSocket clients are told a fifth of
	// it (2 minutes by default), as bittorrent-tracker does.
	AnnounceInterval time.Duration
	// MaxMessageBytes bounds one WebSocket message (default 64 KiB; a
	// 10-offer announce with full SDPs is about 20 KiB). Larger messages
	// close the connection with status 1009.
	MaxMessageBytes int
	// MaxOffers bounds the offers of one announce (default 10, as
	// bittorrent-tracker's clients; at most trackerproto.MaxOffers).
	MaxOffers int
	// MaxNumWant caps the peers returned to an HTTP announce (default 82,
	// bittorrent-tracker's MAX_ANNOUNCE_PEERS); an absent numwant means 50.
	MaxNumWant int
	// AnnouncesPerSecond is the rate of WebSocket messages (announces,
	// answers, scrapes) allowed per connection, with a burst of twice
	// that (default 10/s, burst 20). Excess messages get a failure
	// reply; a connection that keeps flooding is closed with status 1008.
	// A negative value disables the limit.
	AnnouncesPerSecond float64
	// MaxConnsPerIP bounds concurrent WebSocket connections per client IP
	// (default 128); excess upgrades get HTTP 429. Negative disables it.
	MaxConnsPerIP int
	// PeerTimeout removes a peer from a swarm it has not announced to for
	// this long, and closes a WebSocket that sent nothing for this long
	// (default 20 minutes, bittorrent-tracker's peer cache TTL).
	PeerTimeout time.Duration

	// MaxSwarmsPerConn bounds the swarms one WebSocket connection may
	// join (default 256).
	MaxSwarmsPerConn int
	// MaxQueuedBytes bounds the bytes waiting to be written to one
	// WebSocket; a peer that reads slower is disconnected (default 1 MiB).
	MaxQueuedBytes int
	// WriteTimeout bounds one write to a WebSocket (default 10 s).
	WriteTimeout time.Duration
	// TrustIPParam makes the HTTP tracker honour the `ip` parameter from
	// any client. By default it is honoured only from loopback and
	// private-network clients (a seeder announcing its public address), so
	// strangers cannot make the tracker advertise a third party's address.
	TrustIPParam bool

	// noEventLoop serves every WebSocket with a reader and a writer
	// goroutine, as on systems without the event loop (tests).
	noEventLoop bool
}

func (c Config) withDefaults() Config {
	if c.AnnounceInterval <= 0 {
		c.AnnounceInterval = 10 * time.Minute
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.MaxOffers <= 0 {
		c.MaxOffers = 10
	}
	c.MaxOffers = min(c.MaxOffers, trackerproto.MaxOffers)
	if c.MaxNumWant <= 0 {
		c.MaxNumWant = 82
	}
	if c.AnnouncesPerSecond == 0 {
		c.AnnouncesPerSecond = 10
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 128
	}
	if c.PeerTimeout <= 0 {
		c.PeerTimeout = 20 * time.Minute
	}
	if c.MaxSwarmsPerConn <= 0 {
		c.MaxSwarmsPerConn = 256
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = 1 << 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	return c
}

// defaultNumWant is the number of peers an HTTP announce without numwant gets.
const defaultNumWant = 50

// maxScrapeAll bounds a scrape that names no info hash ("all swarms").
const maxScrapeAll = 1000
