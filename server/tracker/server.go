package tracker

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

// Server is the pod's tracker: one swarm registry behind the WebSocket
// tracker and the HTTP tracker. Its methods are safe for concurrent use.
type Server struct {
	cfg        Config
	log        *slog.Logger
	m          *metrics
	reg        *registry
	wsInterval int // seconds, told to WebSocket peers

	connDone sync.WaitGroup // one per WebSocket connection served

	loopsMu     sync.Mutex // guards loops and closedLoops
	loops       []*loop    // event loops serving WebSocket connections, started on the first
	closedLoops bool       // Close stopped the loops: start no more
	loopRR      atomic.Uint32

	connsMu sync.Mutex // guards the following fields
	conns   map[*wsConn]struct{}
	perIP   map[netip.Addr]int
	closed  bool
}

// New returns a tracker with cfg (zero fields take their documented
// defaults) that logs to log and registers its metrics on reg (nil: none).
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Server{
		cfg:        cfg,
		log:        log,
		m:          m,
		reg:        newRegistry(m),
		wsInterval: max(1, int((cfg.AnnounceInterval/5+time.Second-1)/time.Second)),
		conns:      make(map[*wsConn]struct{}),
		perIP:      make(map[netip.Addr]int),
	}, nil
}

// WebSocketHandler returns the handler of the WebTorrent WebSocket tracker,
// mounted at GET /tracker/socket. Each request it accepts is served for the
// connection's whole life.
func (s *Server) WebSocketHandler() http.Handler { return http.HandlerFunc(s.serveWS) }

// AnnounceHandler returns the HTTP tracker's announce handler (BEP 3, BEP 23),
// mounted at GET /tracker/announce.
func (s *Server) AnnounceHandler() http.Handler { return http.HandlerFunc(s.serveAnnounce) }

// ScrapeHandler returns the HTTP tracker's scrape handler (BEP 48), mounted
// at GET /tracker/scrape.
func (s *Server) ScrapeHandler() http.Handler { return http.HandlerFunc(s.serveScrape) }

// Run removes peers that stopped announcing (PeerTimeout) until ctx is
// done, then returns nil.
func (s *Server) Run(ctx context.Context) error {
	every := min(s.cfg.PeerTimeout/4, 30*time.Second)
	t := time.NewTicker(max(every, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			s.sweep(now)
		}
	}
}

// sweep drops the peers whose last announce is older than PeerTimeout.
func (s *Server) sweep(now time.Time) {
	deadline := now.Add(-s.cfg.PeerTimeout).Unix()
	var swarms []*swarm
	for i := range s.reg.shards {
		sh := &s.reg.shards[i]
		swarms = swarms[:0]
		sh.mu.RLock()
		for _, sw := range sh.swarms {
			swarms = append(swarms, sw)
		}
		sh.mu.RUnlock()
		for _, sw := range swarms {
			sw.mu.Lock()
			for i := len(sw.ws) - 1; i >= 0; i-- {
				if p := sw.ws[i]; p.seen < deadline {
					sw.removeWS(p)
					p.conn.leave(p)
					s.m.wsPeers.Add(-1)
				}
			}
			for i := len(sw.http) - 1; i >= 0; i-- {
				if sw.http[i].seen < deadline {
					sw.removeHTTP(i)
					s.m.httpPeers.Add(-1)
				}
			}
			s.reg.unlock(sw)
		}
	}
}

// Close closes every WebSocket with status 1001 (going away) and waits
// (up to WriteTimeout) for their handlers to return. New connections are
// refused afterwards. It is idempotent and returns nil.
func (s *Server) Close() error {
	s.connsMu.Lock()
	s.closed = true
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.connsMu.Unlock()
	for _, c := range conns {
		c.closeWith(ws.StatusGoingAway, "tracker shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.connDone.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(s.cfg.WriteTimeout):
		for _, c := range conns {
			c.kill()
		}
		<-done
	}
	s.stopLoops()
	return nil
}

// register adds c to the open connections; false if the server is closed.
// Every true is matched by connDone.Done when the connection is done.
func (s *Server) register(c *wsConn) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.closed {
		return false // Close may be waiting on connDone: no Add now
	}
	s.connDone.Add(1)
	s.conns[c] = struct{}{}
	s.m.conns.Add(1)
	return true
}

func (s *Server) unregister(c *wsConn) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.m.conns.Add(-1)
	}
}

// acquireIP counts a new connection from ip; ok is false if the server is
// closed or ip is at MaxConnsPerIP.
func (s *Server) acquireIP(ip netip.Addr) (ok, closed bool) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.closed {
		return false, true
	}
	if s.cfg.MaxConnsPerIP > 0 && s.perIP[ip] >= s.cfg.MaxConnsPerIP {
		return false, false
	}
	s.perIP[ip]++
	return true, false
}

func (s *Server) releaseIP(ip netip.Addr) {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	if s.perIP[ip] <= 1 {
		delete(s.perIP, ip)
	} else {
		s.perIP[ip]--
	}
}

// scrapeFiles appends the counts of each hash (unknown ones as zeros, as
// bittorrent-tracker does), or of up to maxScrapeAll swarms if none is named.
func (s *Server) scrapeFiles(hashes []trackerproto.ID, out []trackerproto.ScrapeFile) []trackerproto.ScrapeFile {
	if len(hashes) == 0 {
		for i := range s.reg.shards {
			sh := &s.reg.shards[i]
			sh.mu.RLock()
			for ih := range sh.swarms {
				if len(out) >= maxScrapeAll {
					break
				}
				out = append(out, trackerproto.ScrapeFile{InfoHash: ih})
			}
			sh.mu.RUnlock()
		}
		for i := range out {
			s.fillCounts(&out[i])
		}
		return out
	}
	for _, ih := range hashes {
		out = append(out, trackerproto.ScrapeFile{InfoHash: ih})
		s.fillCounts(&out[len(out)-1])
	}
	return out
}

func (s *Server) fillCounts(f *trackerproto.ScrapeFile) {
	sw := s.reg.lookup(f.InfoHash)
	if sw == nil {
		return
	}
	sw.mu.Lock()
	if !sw.dead {
		f.Complete, f.Incomplete, f.Downloaded = sw.complete, sw.incomplete, sw.downloaded
	}
	sw.mu.Unlock()
}

// Stats is a snapshot of the tracker's size, for tests and status pages.
type Stats struct {
	Connections int
	Swarms      int
	WSPeers     int
	HTTPPeers   int
}

// Stats returns current counts.
func (s *Server) Stats() Stats {
	return Stats{
		Connections: int(s.m.conns.Load()),
		Swarms:      int(s.m.swarms.Load()),
		WSPeers:     int(s.m.wsPeers.Load()),
		HTTPPeers:   int(s.m.httpPeers.Load()),
	}
}

// String describes the configuration, for logs.
func (s *Server) String() string {
	return fmt.Sprintf("tracker(interval %v, ws interval %ds, open=%v)", s.cfg.AnnounceInterval, s.wsInterval, s.cfg.Allow == nil)
}
