package turn

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// startServer runs a server on a free loopback port that may relay to
// loopback peers (the default policy would refuse them).
func startServer(t *testing.T, cfg Config) (*Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Listen = "127.0.0.1:0"
	cfg.Secret = []byte("0123456789abcdef0123456789abcdef")
	if cfg.MaxBitsPerSecond == 0 {
		cfg.MaxBitsPerSecond = 100e6
	}
	if cfg.AllowPeer == nil {
		cfg.AllowPeer = func(ip net.IP) bool { return ip.IsLoopback() }
	}
	s, err := New(cfg, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s, reg
}

// client is a pion TURN client with an allocation, talking to s over UDP.
func client(t *testing.T, s *Server, user, pass string) (*pionturn.Client, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: user, Password: pass, Realm: "swarmtube", RTO: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c, nil
}

func TestBindingAndRelay(t *testing.T) {
	s, reg := startServer(t, Config{})
	user, pass := s.Credentials("viewer", time.Minute)
	c, _ := client(t, s, user, pass)

	mapped, err := c.SendBindingRequest()
	if err != nil {
		t.Fatalf("binding: %v", err)
	}
	if !strings.HasPrefix(mapped.String(), "127.0.0.1:") {
		t.Errorf("mapped address %v", mapped)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	defer relay.Close()
	if got := relay.LocalAddr().(*net.UDPAddr).IP; !got.Equal(s.PublicIP()) {
		t.Errorf("relay address %v, want the public IP %v", got, s.PublicIP())
	}

	// A peer on loopback: the client sends through the relay, the peer
	// answers to the relay address, the client reads the answer.
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	msg := bytes.Repeat([]byte("x"), 1000)
	var got []byte
	for i := 0; i < 20 && got == nil; i++ { // the first datagram may race the permission
		if _, err := relay.WriteTo(msg, peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		peer.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
		n, from, err := peer.ReadFrom(buf)
		if err != nil {
			continue
		}
		if from.String() != relay.LocalAddr().String() && from.(*net.UDPAddr).Port != relay.LocalAddr().(*net.UDPAddr).Port {
			t.Errorf("peer got data from %v, want the relay %v", from, relay.LocalAddr())
		}
		got = buf[:n]
		if _, err := peer.WriteTo([]byte("pong"), from); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("peer got %d bytes, want %d", len(got), len(msg))
	}
	buf := make([]byte, 1500)
	relay.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := relay.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("client read %q, %v", buf[:n], err)
	}

	if v := testutil.ToFloat64(s.m.bindings); v < 1 {
		t.Errorf("binding requests = %v", v)
	}
	if v := testutil.ToFloat64(s.m.allocations); v != 1 {
		t.Errorf("allocations = %v", v)
	}
	if v := testutil.ToFloat64(s.m.toPeer); v < 1000 {
		t.Errorf("relayed to peer = %v", v)
	}
	if v := testutil.ToFloat64(s.m.toClient); v != 4 {
		t.Errorf("relayed to client = %v", v)
	}
	if n, err := testutil.GatherAndCount(reg, "swarmtube_turn_relayed_bytes_total"); err != nil || n != 2 {
		t.Errorf("relayed metric series %d, %v", n, err)
	}
}

func TestCredentials(t *testing.T) {
	s, _ := startServer(t, Config{})
	good, pass := s.Credentials("", time.Minute)
	expired, epass := s.Credentials("x", -time.Minute)
	tests := []struct {
		name, user, pass string
		ok               bool
	}{
		{"fresh", good, pass, true},
		{"wrong password", good, "AAAA" + pass[4:], false},
		{"expired", expired, epass, false},
		{"not a timestamp", "alice", pass, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := client(t, s, tc.user, tc.pass)
			relay, err := c.Allocate()
			if relay != nil {
				relay.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("allocate: %v, want ok=%v", err, tc.ok)
			}
		})
	}

	// The scheme is coturn's (and pion's own long-term handler's): the
	// same secret gives the same key.
	key, ok := pionturn.NewLongTermAuthHandler(string(s.cfg.Secret), nil)(good, "swarmtube", &net.UDPAddr{})
	mine, ok2 := s.authenticate(good, "swarmtube", &net.UDPAddr{})
	if !ok || !ok2 || !bytes.Equal(key, mine) {
		t.Errorf("keys differ from pion's REST API handler: %x %v, %x %v", key, ok, mine, ok2)
	}
}

func TestLimits(t *testing.T) {
	t.Run("allocation cap", func(t *testing.T) {
		s, _ := startServer(t, Config{MaxAllocations: 1})
		user, pass := s.Credentials("", time.Minute)
		c1, _ := client(t, s, user, pass)
		r1, err := c1.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		c2, _ := client(t, s, user, pass)
		if r2, err := c2.Allocate(); err == nil {
			r2.Close()
			t.Fatal("second allocation over the cap succeeded")
		}
		r1.Close() // frees the slot (pion deallocates on Refresh lifetime 0)
		testenv.Eventually(t, 5*time.Second, "the allocation to be freed", func() bool { return s.allocs.Load() == 0 })
		c3, _ := client(t, s, user, pass)
		r3, err := c3.Allocate()
		if err != nil {
			t.Fatalf("allocation after one was freed: %v", err)
		}
		r3.Close()
	})
	t.Run("per-address cap", func(t *testing.T) {
		// Two allocations per address: UDP clients on two ports take them,
		// a third port of the same address is refused, and a TCP
		// connection (which could carry one more) is closed at once.
		s, _ := startServer(t, Config{MaxAllocationsPerIP: 2})
		user, pass := s.Credentials("", time.Minute)
		var relays []net.PacketConn
		for i := 0; i < 2; i++ {
			c, _ := client(t, s, user, pass)
			r, err := c.Allocate()
			if err != nil {
				t.Fatalf("allocation %d: %v", i, err)
			}
			relays = append(relays, r)
		}
		c3, _ := client(t, s, user, pass)
		if r, err := c3.Allocate(); err == nil {
			r.Close()
			t.Fatal("a third allocation from one address succeeded")
		}
		tcp, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port())))
		if err != nil {
			t.Fatal(err)
		}
		tcp.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := tcp.Read(make([]byte, 1)); err == nil {
			t.Error("the TCP connection over the cap stayed open")
		}
		tcp.Close()
		if v := testutil.ToFloat64(s.m.refused.WithLabelValues("ip_limit")); v < 2 {
			t.Errorf("refused{ip_limit} = %v", v)
		}
		// Freeing one makes room again.
		relays[0].Close()
		testenv.Eventually(t, 5*time.Second, "one allocation to be freed", func() bool { return s.allocs.Load() == 1 })
		c4, _ := client(t, s, user, pass)
		r, err := c4.Allocate()
		if err != nil {
			t.Fatalf("allocation after one was freed: %v", err)
		}
		r.Close()
		relays[1].Close()
	})
	t.Run("peer policy", func(t *testing.T) {
		s, reg := startServer(t, Config{AllowPeer: PublicPeer})
		user, pass := s.Credentials("", time.Minute)
		c, _ := client(t, s, user, pass)
		relay, err := c.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		defer relay.Close()
		peer, _ := net.ListenPacket("udp4", "127.0.0.1:0")
		defer peer.Close()
		relay.WriteTo([]byte("to loopback"), peer.LocalAddr())
		peer.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, _, err := peer.ReadFrom(make([]byte, 100)); err == nil {
			t.Error("relayed to a loopback peer")
		}
		if v := testutil.ToFloat64(s.m.refused.WithLabelValues("peer_address")); v < 1 {
			t.Errorf("refused{peer_address} = %v", v)
		}
		_ = reg
	})
	t.Run("budget", func(t *testing.T) {
		// 1 Mbit/s in total, 10 allocations' worth each: 1 MB offered at
		// once to a relay socket must mostly be dropped, both ways.
		s, err := New(Config{Listen: "127.0.0.1:0", Secret: []byte("0123456789abcdef"), MaxBitsPerSecond: 1e6,
			AllocationBitsPerSecond: 1e6}, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		gen := &budgetGenerator{RelayAddressGenerator: &pionturn.RelayAddressGeneratorStatic{
			RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"}, s: s}
		if err := gen.Validate(); err != nil {
			t.Fatal(err)
		}
		relay, _, err := gen.AllocatePacketConn("udp4", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer relay.Close()
		peer, _ := net.ListenPacket("udp4", "127.0.0.1:0")
		defer peer.Close()
		start := time.Now()
		chunk := make([]byte, 1000)
		for i := 0; i < 1000; i++ {
			relay.WriteTo(chunk, peer.LocalAddr())
		}
		limit := float64(s.total.Burst()) + 125_000*time.Since(start).Seconds()
		if sent := testutil.ToFloat64(s.m.toPeer); sent > limit || sent < float64(s.total.Burst())/2 {
			t.Errorf("relayed %v bytes to the peer, want about the burst (limit %v)", sent, limit)
		}
		if d := testutil.ToFloat64(s.m.dropped); d < 1e6-limit {
			t.Errorf("dropped %v bytes of 1 MB", d)
		}

		// The budget is spent: what peers send back is dropped too.
		for i := 0; i < 100; i++ {
			peer.WriteTo(chunk, relay.LocalAddr())
		}
		relay.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 2000)
		got := 0
		for {
			n, _, err := relay.ReadFrom(buf)
			if err != nil {
				break
			}
			got += n
		}
		// Both directions draw on one budget: all that passed is at most
		// the burst plus the rate since the start.
		total := testutil.ToFloat64(s.m.toPeer) + testutil.ToFloat64(s.m.toClient)
		if limit := float64(s.total.Burst()) + 125_000*time.Since(start).Seconds(); total > limit || testutil.ToFloat64(s.m.toClient) != float64(got) {
			t.Errorf("relayed %v bytes both ways (%d to the client), over the budget's %v", total, got, limit)
		}
	})
}

func TestLoadSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "turn_secret")
	a, err := LoadSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadSecret(path)
	if err != nil || !bytes.Equal(a, b) || len(a) < 32 {
		t.Fatalf("secret not kept: %q %q %v", a, b, err)
	}
}

func TestPublicPeer(t *testing.T) {
	for ip, want := range map[string]bool{
		"203.0.113.7": true, "8.8.8.8": true, "127.0.0.1": false, "10.1.2.3": false, "192.168.1.2": false,
		"169.254.1.1": false, "0.0.0.0": false, "224.0.0.1": false, "::1": false, "fd00::1": false, "2001:db8::1": true,
	} {
		if got := PublicPeer(net.ParseIP(ip)); got != want {
			t.Errorf("PublicPeer(%s) = %v", ip, got)
		}
	}
}

// TestAllocateOverTCP: the turn:…?transport=tcp URL works (RFC 6062 framing
// of STUN over TCP; the relay itself is UDP).
func TestAllocateOverTCP(t *testing.T) {
	s, _ := startServer(t, Config{})
	user, pass := s.Credentials("tcp", time.Minute)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))
	tcp, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: pionturn.NewSTUNConn(tcp),
		Username: user, Password: pass, Realm: "swarmtube",
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate over TCP: %v", err)
	}
	relay.Close()
	if v := testutil.ToFloat64(s.m.allocations); v != 1 {
		t.Errorf("allocations = %v", v)
	}
}
