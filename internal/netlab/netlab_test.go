package netlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// echoUDP answers every datagram with the address it came from, as a
// STUN server's binding response does.
func echoUDP(t *testing.T, h *Host, port int) netip.AddrPort {
	t.Helper()
	pc, err := h.ListenPacket("udp4", fmt.Sprintf("%s:%d", h.Addr(), port))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(from.String()), from)
		}
	}()
	return netip.AddrPortFrom(h.Addr(), uint16(port))
}

// mappings sends from one UDP socket of h to each server and returns the
// source addresses the servers saw.
func mappings(t *testing.T, h *Host, servers []netip.AddrPort) []netip.AddrPort {
	t.Helper()
	pc, err := h.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var seen []netip.AddrPort
	for _, s := range servers {
		if _, err := pc.WriteTo([]byte("?"), net.UDPAddrFromAddrPort(s)); err != nil {
			t.Fatal(err)
		}
		pc.SetReadDeadline(time.Now().Add(20 * time.Second))
		buf := make([]byte, 64)
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("%s → %v: %v", h.Name(), s, err)
		}
		ap, err := netip.ParseAddrPort(string(buf[:n]))
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, ap)
	}
	return seen
}

// TestNATMapping checks the two NAT kinds from the outside, the way STUN
// does: the public address of one LAN socket as seen by three servers.
func TestNATMapping(t *testing.T) {
	lab := New(t)
	s1 := lab.Host("stun1")
	s2 := lab.Host("stun2")
	if s1.Addr() != netip.MustParseAddr("203.0.113.1") || s2.Addr() != netip.MustParseAddr("203.0.113.2") {
		t.Fatalf("addresses %v %v", s1.Addr(), s2.Addr())
	}
	servers := []netip.AddrPort{echoUDP(t, s1, 3478), echoUDP(t, s1, 3479), echoUDP(t, s2, 3478)}
	eim := lab.Router("home-a", EndpointIndependent)
	sym := lab.Router("home-b", Symmetric)
	a, b := eim.Host("a"), sym.Host("b")
	if a.Addr() != netip.MustParseAddr("192.168.1.2") || b.Addr() != netip.MustParseAddr("192.168.2.2") {
		t.Fatalf("LAN addresses %v %v", a.Addr(), b.Addr())
	}
	if eim.WAN().Addr() != netip.MustParseAddr("203.0.113.3") || a.PublicAddr() != eim.WAN().Addr() {
		t.Fatalf("router a at %v, a's public address %v", eim.WAN().Addr(), a.PublicAddr())
	}

	ma := mappings(t, a, servers)
	for _, m := range ma {
		if m != ma[0] || m.Addr() != eim.WAN().Addr() {
			t.Errorf("endpoint-independent NAT: mappings %v, want one port on %v", ma, eim.WAN().Addr())
		}
	}
	mb := mappings(t, b, servers)
	ports := map[uint16]bool{}
	for _, m := range mb {
		if m.Addr() != sym.WAN().Addr() {
			t.Errorf("symmetric NAT: mapped address %v, want %v", m.Addr(), sym.WAN().Addr())
		}
		ports[m.Port()] = true
	}
	if len(ports) == 1 { // random ports: all three equal by chance ~1 in 4e9
		t.Errorf("symmetric NAT: mappings %v, want a new port per destination", mb)
	}
}

// TestReachability: LAN hosts reach the internet through their router,
// the internet cannot open connections to a LAN host, and an address
// outside the lab's ranges has no route anywhere.
func TestReachability(t *testing.T) {
	lab := New(t)
	pod := lab.Host("pod")
	r := lab.Router("home", EndpointIndependent)
	viewer := r.Host("viewer")

	ln, err := pod.Listen("tcp", pod.Addr().String()+":8080")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		host, _, _ := net.SplitHostPort(req.RemoteAddr)
		io.WriteString(w, host)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	get := func(c *http.Client, url string) string {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get(viewer.HTTPClient(), "http://203.0.113.1:8080/"); got != r.WAN().Addr().String() {
		t.Errorf("the pod saw the viewer as %q, want the router's %v", got, r.WAN().Addr())
	}
	if got := get(http.DefaultClient, "http://"+pod.Forward("203.0.113.1:8080")+"/"); got != "203.0.113.1" {
		t.Errorf("through Forward the pod saw %q, want itself (the relay dials from inside)", got)
	}

	// The internet cannot reach into the LAN, not even the router's host.
	vln, err := viewer.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer vln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, target := range []string{viewer.Addr().String() + ":9000", r.WAN().Addr().String() + ":9000"} {
		if c, err := pod.DialContext(ctx, "tcp", target); err == nil {
			c.Close()
			t.Errorf("the pod opened a connection to %s behind the NAT", target)
		}
	}

	// Nothing outside the ranges is routed, from either side of a NAT.
	for _, h := range []*Host{pod, viewer} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := h.DialContext(ctx, "tcp", "192.0.2.1:80")
		cancel()
		if err == nil {
			c.Close()
			t.Fatalf("%s reached 192.0.2.1", h.Name())
		}
		var errno syscall.Errno
		if !errors.As(err, &errno) || (errno != syscall.ENETUNREACH && errno != syscall.EHOSTUNREACH) {
			t.Errorf("%s dialling 192.0.2.1: %v, want network unreachable", h.Name(), err)
		}
	}
}

// TestCommandAndCleanup: a command runs inside the host's namespace, and
// the lab's clean-up kills what the test left running and deletes every
// namespace.
func TestCommandAndCleanup(t *testing.T) {
	var nss []string
	var sleeper *exec.Cmd
	t.Run("lab", func(t *testing.T) {
		lab := New(t)
		h := lab.Router("home", Symmetric).Host("box")
		out, err := h.Command(context.Background(), "ip", "-4", "-o", "addr", "show", "dev", "eth0").Output()
		if err != nil || !strings.Contains(string(out), "192.168.1.2/24") {
			t.Fatalf("ip addr in the namespace: %q %v", out, err)
		}
		sleeper = h.Command(context.Background(), "sleep", "600")
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
		lab.mu.Lock()
		nss = append(nss, lab.namespaces...)
		lab.mu.Unlock()
	})
	if len(nss) != 3 { // inet, home, box
		t.Errorf("namespaces %v, want 3", nss)
	}
	if err := sleeper.Wait(); err == nil {
		t.Error("the process left in the lab was not killed")
	}
	for _, ns := range nss {
		if _, err := os.Stat(filepath.Join(netnsDir, ns)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s still exists (%v)", ns, err)
		}
	}
}

// TestRemoveStale: namespaces named after a dead process are deleted, those
// of a live one are kept.
func TestRemoveStale(t *testing.T) {
	New(t) // skips where namespaces cannot be made
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	staleNS := fmt.Sprintf("%s%d-1-x", NamePrefix, dead.Process.Pid)
	liveNS := fmt.Sprintf("%s%d-999-x", NamePrefix, os.Getpid())
	for _, ns := range []string{staleNS, liveNS} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", liveNS).Run() })
	removeStale(t)
	if _, err := os.Stat(filepath.Join(netnsDir, staleNS)); !errors.Is(err, os.ErrNotExist) {
		exec.Command("ip", "netns", "del", staleNS).Run()
		t.Errorf("stale namespace %s kept", staleNS)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, liveNS)); err != nil {
		t.Errorf("live process's namespace %s removed: %v", liveNS, err)
	}
}

func TestOwnerPid(t *testing.T) {
	for _, tc := range []struct {
		ns  string
		pid int
		ok  bool
	}{
		{"swlab-123-1-pod", 123, true},
		{"swlab-123-1-home-a", 123, true},
		{"swlab-x-1-pod", 0, false},
		{"swlab-0-1-pod", 0, false},
		{"other-123-1", 0, false},
		{"swlab-123", 0, false},
	} {
		pid, ok := ownerPid(tc.ns)
		if pid != tc.pid && tc.ok || ok != tc.ok {
			t.Errorf("ownerPid(%q) = %d, %v", tc.ns, pid, ok)
		}
	}
}
