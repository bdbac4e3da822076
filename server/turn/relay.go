package turn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// errIPLimit refuses an allocation to a client address holding
// Config.MaxAllocationsPerIP already.
var errIPLimit = errors.New("turn: too many allocations from one address")

// errAllocationLimit refuses an allocation over Config.MaxAllocations; pion
// answers the client with an error response.
var errAllocationLimit = errors.New("turn: too many allocations")

// budgetGenerator hands out relay sockets wrapped in relayConn, within the
// allocation cap.
type budgetGenerator struct {
	pionturn.RelayAddressGenerator
	s *Server
	// source, if set, names the client asking for the allocation. Over UDP
	// it is the source of the datagram just read: pion v2.1.6 handles each
	// datagram of its one UDP read loop to completion, allocation included,
	// before reading the next. Over TCP it is nil: limitListener counts
	// the connection itself, which carries at most one allocation.
	source func() netip.Addr
}

func (g *budgetGenerator) AllocatePacketConn(network string, port int) (net.PacketConn, net.Addr, error) {
	s := g.s
	var ip netip.Addr
	if g.source != nil {
		if ip = g.source(); !s.take(ip) {
			return nil, nil, errIPLimit
		}
	}
	conn, addr, err := g.allocate(network, port)
	if err != nil {
		if ip.IsValid() {
			s.release(ip)
		}
		return nil, nil, err
	}
	conn.ip = ip
	return conn, addr, nil
}

func (g *budgetGenerator) allocate(network string, port int) (*relayConn, net.Addr, error) {
	s := g.s
	if s.allocs.Add(1) > int64(s.cfg.MaxAllocations) {
		s.allocs.Add(-1)
		s.m.refused.WithLabelValues("allocation_limit").Inc()
		return nil, nil, errAllocationLimit
	}
	conn, addr, err := g.RelayAddressGenerator.AllocatePacketConn(network, port)
	if err != nil {
		s.allocs.Add(-1)
		return nil, nil, fmt.Errorf("turn: allocate relay: %w", err)
	}
	s.m.allocations.Inc()
	s.m.open.Inc()
	return &relayConn{PacketConn: conn, s: s, own: rate.NewLimiter(s.perAlloc, s.burst)}, addr, nil
}

// relayConn is one allocation's relay socket: what it sends goes to the
// peer, what it reads goes to the client. Both count against the budgets.
type relayConn struct {
	net.PacketConn
	s    *Server
	own  *rate.Limiter
	ip   netip.Addr // the client, when known (UDP)
	once sync.Once
}

// allow takes n bytes from the allocation's and the total budget.
func (c *relayConn) allow(n int) bool {
	now := time.Now()
	if !c.own.AllowN(now, n) || !c.s.total.AllowN(now, n) {
		c.s.m.dropped.Add(float64(n))
		return false
	}
	return true
}

// WriteTo relays a client's datagram to a peer, or drops it over budget
// (reporting success: UDP gives no delivery guarantee anyway, and an error
// would make pion log every dropped datagram).
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.allow(len(p)) {
		return len(p), nil
	}
	// Counted before the send, so a reader of the metric who saw the peer
	// receive the datagram sees it counted.
	c.s.m.toPeer.Add(float64(len(p)))
	return c.PacketConn.WriteTo(p, addr)
}

// ReadFrom returns the next datagram from a peer within budget; those
// over budget are dropped here, before pion forwards them to the client.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if c.allow(n) {
			c.s.m.toClient.Add(float64(n))
			return n, addr, nil
		}
	}
}

func (c *relayConn) Close() error {
	c.once.Do(func() {
		c.s.allocs.Add(-1)
		c.s.m.open.Dec()
		if c.ip.IsValid() {
			c.s.release(c.ip)
		}
	})
	return c.PacketConn.Close()
}

// countingConn is the UDP listener; it counts STUN binding requests
// (RFC 8489 section 5: message type 0x0001 and the magic cookie).
type countingConn struct {
	net.PacketConn
	m    *metrics
	last netip.Addr // source of the last datagram; only pion's read loop touches it
}

// source is the address of the datagram being handled (see budgetGenerator).
func (c *countingConn) source() netip.Addr { return c.last }

func (c *countingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if u, ok := addr.(*net.UDPAddr); ok {
		c.last = u.AddrPort().Addr().Unmap()
	}
	if n >= 20 && binary.BigEndian.Uint16(p) == 0x0001 && binary.BigEndian.Uint32(p[4:]) == 0x2112A442 {
		c.m.bindings.Inc()
	}
	return n, addr, err
}

// limitListener is the TCP listener: it closes connections from an address
// that holds its share of allocations and connections already.
type limitListener struct {
	net.Listener
	s *Server
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return &countedConn{Conn: c}, nil
		}
		ip := ap.Addr().Unmap()
		if !l.s.take(ip) {
			c.Close()
			continue
		}
		return &countedConn{Conn: c, release: func() { l.s.release(ip) }}, nil
	}
}

type countedConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *countedConn) Close() error {
	if c.release != nil {
		c.once.Do(c.release)
	}
	return c.Conn.Close()
}

type metrics struct {
	bindings, allocations, dropped, toPeer, toClient prometheus.Counter
	open                                             prometheus.Gauge
	refused                                          *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	relayed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "swarmtube_turn_relayed_bytes_total",
		Help: "Bytes relayed by TURN allocations, by direction (to_peer, to_client); all of it is pod egress.",
	}, []string{"direction"})
	m := &metrics{
		bindings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_turn_stun_binding_requests_total", Help: "STUN binding requests received over UDP."}),
		allocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_turn_allocations_total", Help: "TURN allocations created."}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "swarmtube_turn_allocations", Help: "TURN allocations open now."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swarmtube_turn_dropped_bytes_total", Help: "Relayed bytes dropped because the relay budget was spent."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmtube_turn_refused_total", Help: "TURN requests refused: bad or expired credentials (auth), allocation cap, per-address cap (ip_limit), peer address policy."},
			[]string{"reason"}),
		toPeer:   relayed.WithLabelValues("to_peer"),
		toClient: relayed.WithLabelValues("to_client"),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{relayed, m.bindings, m.allocations, m.open, m.dropped, m.refused} {
			if err := reg.Register(c); err != nil {
				return nil
			}
		}
	}
	return m
}

// pionLogger sends pion's logs to slog at debug level: what pion reports
// as errors are mostly clients' bad requests, which must not flood the log.
type pionLogger struct{ log *slog.Logger }

func (f pionLogger) NewLogger(scope string) logging.LeveledLogger {
	return leveled{f.log.With("pion", scope)}
}

type leveled struct{ log *slog.Logger }

func (l leveled) Trace(string)                  {}
func (l leveled) Tracef(string, ...interface{}) {}
func (l leveled) Debug(msg string)              { l.log.Debug(msg) }
func (l leveled) Debugf(f string, a ...any)     { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l leveled) Info(msg string)               { l.log.Debug(msg) }
func (l leveled) Infof(f string, a ...any)      { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l leveled) Warn(msg string)               { l.log.Debug(msg) }
func (l leveled) Warnf(f string, a ...any)      { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l leveled) Error(msg string)              { l.log.Debug(msg) }
func (l leveled) Errorf(f string, a ...any)     { l.log.Debug(fmt.Sprintf(f, a...)) }
