package turn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// errAllocationLimit refuses an allocation over Config.MaxAllocations; pion
// answers the client with an error response.
var errAllocationLimit = errors.New("turn: too many allocations")

// budgetGenerator hands out relay sockets wrapped in relayConn, within the
// allocation cap.
type budgetGenerator struct {
	pionturn.RelayAddressGenerator
	s *Server
}

func (g *budgetGenerator) AllocatePacketConn(network string, port int) (net.PacketConn, net.Addr, error) {
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
	})
	return c.PacketConn.Close()
}

// countingConn is the UDP listener; it counts STUN binding requests
// (RFC 8489 section 5: message type 0x0001 and the magic cookie).
type countingConn struct {
	net.PacketConn
	m *metrics
}

func (c *countingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if n >= 20 && binary.BigEndian.Uint16(p) == 0x0001 && binary.BigEndian.Uint32(p[4:]) == 0x2112A442 {
		c.m.bindings.Inc()
	}
	return n, addr, err
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
			Name: "swarmtube_turn_refused_total", Help: "TURN requests refused: bad or expired credentials (auth), allocation cap, peer address policy."},
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
