package turn

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the TURN REST API scheme is HMAC-SHA1
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v2"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/swarmtube/swarmtube/server/api"
)

// Config configures a Server.
type Config struct {
	// Listen is host:port for both UDP and TCP. Port 0 picks a free port
	// that is free on both.
	Listen string
	// PublicIP is the IPv4 address advertised in the pages' URLs and as
	// the relay address. Empty: the Listen host if it names one, else the
	// first global unicast IPv4 address of this host's interfaces.
	PublicIP net.IP
	// RelayMinPort and RelayMaxPort bound the relay ports (inclusive);
	// both 0 lets the system pick any free port.
	RelayMinPort, RelayMaxPort int
	// MaxBitsPerSecond is the total relay budget, both directions
	// together. It must be positive.
	MaxBitsPerSecond float64
	// AllocationBitsPerSecond caps one allocation; 0 means 20 Mbit/s (a
	// 1080p stream needs about 5), at most MaxBitsPerSecond.
	AllocationBitsPerSecond float64
	// MaxAllocations caps concurrent allocations; 0 means 4096. Browsers
	// allocate for every peer connection they set up (each offer of each
	// announce, about 5 per viewer looking for peers, for up to 50 s), not
	// only for those that end up relayed.
	MaxAllocations int
	// MaxAllocationsPerIP caps what one client address holds at once:
	// allocations over UDP plus TCP connections (each carries at most one
	// allocation); 0 means 256, room for a few dozen viewers behind one
	// carrier-grade NAT looking for peers at once (a page holds one UDP
	// allocation, and possibly one TCP connection, per peer connection it
	// sets up).
	MaxAllocationsPerIP int
	// Realm is the TURN realm (RFC 8489 section 9.2); "swarmtube" if empty.
	Realm string
	// Secret is the HMAC key of the credentials (see LoadSecret).
	Secret []byte
	// AllowPeer decides which peer addresses a client may relay to
	// (CreatePermission, ChannelBind). Nil: only public unicast
	// addresses (see PublicPeer).
	AllowPeer func(net.IP) bool
}

// Server is the embedded STUN/TURN server. New binds its sockets, Run
// serves them until its context ends, Close releases everything; Close is
// idempotent and safe at any time.
type Server struct {
	cfg      Config
	log      *slog.Logger
	m        *metrics
	udp      net.PacketConn
	tcp      net.Listener
	port     int
	total    *rate.Limiter
	allocs   atomic.Int64
	perAlloc rate.Limit
	burst    int // of each allocation's bucket

	mu     sync.Mutex // guards the following fields
	srv    *pionturn.Server
	closed bool
	perIP  map[netip.Addr]int // allocations and TCP connections held per client address
}

const (
	defaultAllocationBPS = 20e6
	defaultMaxAllocs     = 4096
	defaultMaxPerIP      = 256
	secretFile           = "turn_secret"
)

// New binds the UDP and TCP listeners. reg may be nil.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if len(cfg.Secret) < 16 {
		return nil, errors.New("turn: secret missing or shorter than 16 bytes")
	}
	if cfg.MaxBitsPerSecond <= 0 {
		return nil, errors.New("turn: the relay budget must be positive")
	}
	if cfg.AllocationBitsPerSecond <= 0 {
		cfg.AllocationBitsPerSecond = defaultAllocationBPS
	}
	cfg.AllocationBitsPerSecond = min(cfg.AllocationBitsPerSecond, cfg.MaxBitsPerSecond)
	if cfg.MaxAllocations <= 0 {
		cfg.MaxAllocations = defaultMaxAllocs
	}
	if cfg.MaxAllocationsPerIP <= 0 {
		cfg.MaxAllocationsPerIP = defaultMaxPerIP
	}
	if cfg.Realm == "" {
		cfg.Realm = "swarmtube"
	}
	if cfg.AllowPeer == nil {
		cfg.AllowPeer = PublicPeer
	}
	if cfg.RelayMinPort < 0 || cfg.RelayMaxPort > 65535 || cfg.RelayMinPort > cfg.RelayMaxPort ||
		(cfg.RelayMinPort == 0) != (cfg.RelayMaxPort == 0) {
		return nil, fmt.Errorf("turn: bad relay port range %d-%d", cfg.RelayMinPort, cfg.RelayMaxPort)
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("turn: listen address %q: %w", cfg.Listen, err)
	}
	if cfg.PublicIP == nil {
		if cfg.PublicIP, err = defaultPublicIP(host); err != nil {
			return nil, err
		}
	}
	if cfg.PublicIP.To4() == nil {
		return nil, fmt.Errorf("turn: public IP %s is not IPv4 (relays are UDP over IPv4)", cfg.PublicIP)
	}
	cfg.PublicIP = cfg.PublicIP.To4()

	s := &Server{cfg: cfg, log: log, m: newMetrics(reg), perIP: map[netip.Addr]int{}}
	if s.m == nil {
		return nil, errors.New("turn: metrics already registered")
	}
	// Buckets hold half a second of their rate (at least 256 KiB): a data
	// channel's congestion window goes out in bursts at line rate, and
	// dropping those bursts while the average is well under the budget
	// (measured in the NAT lab: 14% of a relayed stream lost with 64 KiB
	// buckets at a third of the per-allocation rate) only slows the
	// transfer down; the long-run rate stays bounded by the rate.
	bucket := func(bitsPerSec float64) (rate.Limit, int) {
		return rate.Limit(bitsPerSec / 8), max(int(bitsPerSec/16), 256<<10)
	}
	total, totalBurst := bucket(cfg.MaxBitsPerSecond)
	s.total = rate.NewLimiter(total, totalBurst)
	s.perAlloc, s.burst = bucket(cfg.AllocationBitsPerSecond)
	if err := s.listen(); err != nil {
		return nil, err
	}
	log.Info("turn listening", "addr", net.JoinHostPort(host, strconv.Itoa(s.port)), "public_ip", cfg.PublicIP.String(),
		"relay_ports", fmt.Sprintf("%d-%d", cfg.RelayMinPort, cfg.RelayMaxPort), "max_mbps", cfg.MaxBitsPerSecond/1e6)
	return s, nil
}

// listen binds UDP and then TCP on the same port; with port 0 it retries
// a few times when the TCP side of the UDP port is taken.
func (s *Server) listen() error {
	host, port, _ := net.SplitHostPort(s.cfg.Listen)
	var lastErr error
	for try := 0; try < 8; try++ {
		udp, err := net.ListenPacket("udp4", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("turn: listen udp %s: %w", s.cfg.Listen, err)
		}
		p := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp4", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			udp.Close()
			lastErr = fmt.Errorf("turn: listen tcp %s: %w", net.JoinHostPort(host, strconv.Itoa(p)), err)
			if port != "0" {
				return lastErr
			}
			continue
		}
		s.udp, s.tcp, s.port = &countingConn{PacketConn: udp, m: s.m}, &limitListener{Listener: tcp, s: s}, p
		return nil
	}
	return lastErr
}

// take counts one more allocation or TCP connection for ip, unless ip
// holds its share already.
func (s *Server) take(ip netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip] >= s.cfg.MaxAllocationsPerIP {
		s.m.refused.WithLabelValues("ip_limit").Inc()
		return false
	}
	s.perIP[ip]++
	return true
}

func (s *Server) release(ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

// Port is the bound UDP and TCP port.
func (s *Server) Port() int { return s.port }

// PublicIP is the advertised address.
func (s *Server) PublicIP() net.IP { return s.cfg.PublicIP }

// Run serves STUN and TURN until ctx ends, then closes the server.
func (s *Server) Run(ctx context.Context) error {
	relay := func(source func() netip.Addr) pionturn.RelayAddressGenerator {
		host, _, _ := net.SplitHostPort(s.cfg.Listen)
		if host == "" || host == "::" {
			host = "0.0.0.0"
		}
		var g pionturn.RelayAddressGenerator = &pionturn.RelayAddressGeneratorStatic{RelayAddress: s.cfg.PublicIP, Address: host}
		if s.cfg.RelayMinPort != 0 {
			g = &pionturn.RelayAddressGeneratorPortRange{
				RelayAddress: s.cfg.PublicIP, Address: host,
				MinPort: uint16(s.cfg.RelayMinPort), MaxPort: uint16(s.cfg.RelayMaxPort), MaxRetries: 32,
			}
		}
		return &budgetGenerator{RelayAddressGenerator: g, s: s, source: source}
	}
	permit := func(client net.Addr, peer net.IP) bool {
		if s.cfg.AllowPeer(peer) {
			return true
		}
		s.m.refused.WithLabelValues("peer_address").Inc()
		s.log.Debug("turn peer refused", "client", client.String(), "peer", peer.String())
		return false
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	srv, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm:             s.cfg.Realm,
		AuthHandler:       s.authenticate,
		LoggerFactory:     pionLogger{s.log},
		PacketConnConfigs: []pionturn.PacketConnConfig{{PacketConn: s.udp, RelayAddressGenerator: relay(s.udp.(*countingConn).source), PermissionHandler: permit}},
		ListenerConfigs:   []pionturn.ListenerConfig{{Listener: s.tcp, RelayAddressGenerator: relay(nil), PermissionHandler: permit}},
	})
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("turn: start: %w", err)
	}
	s.srv = srv
	s.mu.Unlock()
	<-ctx.Done()
	return s.Close()
}

// Close stops serving and closes every socket, relays included.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.srv != nil {
		// Closing the listeners ends pion's read loops, which close their
		// allocation managers and with them every relay socket.
		if err := s.srv.Close(); err != nil {
			return fmt.Errorf("turn: close: %w", err)
		}
		return nil
	}
	return errors.Join(closeIf(s.udp), closeIf(s.tcp))
}

func closeIf(c interface{ Close() error }) error {
	if c == nil {
		return nil
	}
	return c.Close()
}

// Credentials returns a username and password valid for ttl, in the TURN
// REST API scheme: username "<expiry unix>:<id>", password
// base64(HMAC-SHA1(secret, username)). id may be empty.
func (s *Server) Credentials(id string, ttl time.Duration) (username, password string) {
	return Credentials(s.cfg.Secret, id, time.Now().Add(ttl))
}

// Credentials computes REST API credentials for secret expiring at exp.
func Credentials(secret []byte, id string, exp time.Time) (username, password string) {
	username = strconv.FormatInt(exp.Unix(), 10)
	if id != "" {
		username += ":" + id
	}
	return username, sign(secret, username)
}

func sign(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ICEServers returns the server's STUN URL and its TURN URLs (UDP and
// TCP) with fresh credentials valid for ttl, as RTCIceServer dictionaries.
func (s *Server) ICEServers(id string, ttl time.Duration) []api.ICEServer {
	hostport := net.JoinHostPort(s.cfg.PublicIP.String(), strconv.Itoa(s.port))
	user, pass := s.Credentials(id, ttl)
	return []api.ICEServer{
		{URLs: []string{"stun:" + hostport}},
		{URLs: []string{"turn:" + hostport + "?transport=udp", "turn:" + hostport + "?transport=tcp"}, Username: user, Credential: pass},
	}
}

// authenticate is pion's AuthHandler: it accepts a REST API username
// whose expiry has not passed and returns the long-term key (RFC 8489
// section 9.2.2: MD5(username:realm:password)).
func (s *Server) authenticate(username, realm string, src net.Addr) ([]byte, bool) {
	exp, _, _ := strings.Cut(username, ":")
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() > t {
		s.m.refused.WithLabelValues("auth").Inc()
		s.log.Debug("turn credentials refused", "username", username, "src", src.String())
		return nil, false
	}
	return pionturn.GenerateAuthKey(username, realm, sign(s.cfg.Secret, username)), true
}

// PublicPeer reports whether ip is a public unicast address: not loopback,
// private (RFC 1918, RFC 4193), link-local, multicast or unspecified. It
// is the default peer policy, so the relay cannot reach into networks of
// the pod's host.
func PublicPeer(ip net.IP) bool {
	return ip.IsGlobalUnicast() && !ip.IsPrivate()
}

// LoadSecret reads the secret at path, creating 32 random bytes there
// (mode 0600) on first use.
func LoadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < 16 {
			return nil, fmt.Errorf("turn: secret %s is shorter than 16 bytes", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("turn: read secret: %w", err)
	}
	b = make([]byte, 32)
	rand.Read(b)
	b = []byte(base64.RawStdEncoding.EncodeToString(b))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("turn: create secret: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("turn: write secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("turn: write secret: %w", err)
	}
	return b, nil
}

// SecretPath is where the pod keeps the secret in its data dir.
func SecretPath(dataDir string) string { return strings.TrimRight(dataDir, "/") + "/" + secretFile }

func defaultPublicIP(host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		return ip, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("turn: list interface addresses: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.To4(), nil
		}
	}
	return nil, errors.New("turn: no IPv4 address to advertise: set the public IP (--turn-public-ip)")
}
