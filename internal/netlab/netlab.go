package netlab

import (
	"bytes"
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
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// NamePrefix starts the name of every namespace a Lab creates, followed by
// the creating process's pid: "swlab-<pid>-<lab>-<host>".
const NamePrefix = "swlab-"

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/var/run/netns"

// Address plan: the "internet" segment and the LANs behind routers.
var (
	internet = netip.MustParsePrefix("203.0.113.0/24") // RFC 5737 TEST-NET-3
	lanBase  = netip.MustParseAddr("192.168.0.0")      // LAN k is 192.168.k.0/24
)

// NAT is the mapping behaviour of a Router (RFC 4787 section 4.1).
type NAT int

const (
	// EndpointIndependent maps one LAN address and port to one public port
	// whatever the destination (nftables `masquerade`, which keeps the
	// source port when it is free): what STUN hole punching needs.
	EndpointIndependent NAT = iota + 1
	// Symmetric maps each new destination to a new random public port
	// (nftables `masquerade random,fully-random`): a STUN-learnt port is
	// useless towards any other peer, so ICE needs a relay (TURN) or the
	// other side's open mapping.
	Symmetric
)

func (n NAT) String() string {
	switch n {
	case EndpointIndependent:
		return "endpoint-independent"
	case Symmetric:
		return "symmetric"
	}
	return "NAT(" + strconv.Itoa(int(n)) + ")"
}

// Lab is one isolated network. It is safe for concurrent use; everything
// it created is deleted by tb.Cleanup.
type Lab struct {
	tb     testing.TB
	prefix string // "swlab-<pid>-<n>-"
	inet   string // namespace holding the internet bridge

	mu         sync.Mutex // guards the following fields
	namespaces []string   // in creation order, the bridge's first
	used       map[netip.Addr]bool
	nextLAN    int
	nextPort   int
	names      map[string]bool
}

var (
	labSeq    atomic.Int64
	staleOnce sync.Once
	validName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`)
)

// New creates an empty internet (a bridge in its own namespace) and
// registers its deletion with tb.Cleanup. It skips the test when network
// namespaces cannot be created: not root, or the kernel refuses. A missing
// `ip` skips too, except in CI where it fails (see package testenv).
// Namespaces left by an earlier test process that died without cleaning
// up are deleted first.
func New(tb testing.TB) *Lab {
	tb.Helper()
	if runtime.GOOS != "linux" {
		tb.Skip("netlab: network namespaces are Linux only")
	}
	if os.Geteuid() != 0 {
		tb.Skip("netlab: creating network namespaces needs root (CI runs the tests as root)")
	}
	testenv.LookPath(tb, "ip")
	staleOnce.Do(func() { removeStale(tb) })

	l := &Lab{
		tb:     tb,
		prefix: fmt.Sprintf("%s%d-%d-", NamePrefix, os.Getpid(), labSeq.Add(1)),
		used:   map[netip.Addr]bool{},
		names:  map[string]bool{},
	}
	l.inet = l.prefix + "inet"
	if out, err := exec.Command("ip", "netns", "add", l.inet).CombinedOutput(); err != nil {
		tb.Skipf("netlab: cannot create a network namespace here (%v: %s)", err, bytes.TrimSpace(out))
	}
	l.namespaces = append(l.namespaces, l.inet)
	tb.Cleanup(l.cleanup)
	l.ip("-n", l.inet, "link", "set", "lo", "up")
	l.ip("-n", l.inet, "link", "add", "br0", "type", "bridge")
	l.ip("-n", l.inet, "link", "set", "br0", "up")
	return l
}

// Host adds a host on the internet segment with the lowest free address of
// 203.0.113.0/24 (the first host of a lab is 203.0.113.1). name is short:
// lower-case letters, digits and '-'.
func (l *Lab) Host(name string) *Host {
	l.tb.Helper()
	return l.HostAt(name, netip.Addr{})
}

// HostAt adds a host on the internet segment at addr, which must be a free
// address of 203.0.113.0/24 (the zero Addr picks one as Host does).
func (l *Lab) HostAt(name string, addr netip.Addr) *Host {
	l.tb.Helper()
	ns := l.newNamespace(name)
	addr = l.claim(addr)
	l.mu.Lock()
	l.nextPort++
	port := fmt.Sprintf("p%d", l.nextPort)
	l.mu.Unlock()
	// The bridge end stays in the internet namespace; the host's end is
	// created directly in the host's namespace, so nothing ever appears in
	// the namespace the tests run in.
	l.ip("-n", l.inet, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
	l.ip("-n", l.inet, "link", "set", port, "master", "br0", "up")
	l.ip("-n", ns, "addr", "add", netip.PrefixFrom(addr, internet.Bits()).String(), "dev", "eth0")
	l.ip("-n", ns, "link", "set", "eth0", "up")
	return &Host{lab: l, name: name, ns: ns, addr: addr}
}

// Router adds a home router: its WAN side (eth0) is a host on the internet
// segment, its LAN side (eth1) is 192.168.k.1/24 for the next free k, and
// it forwards and translates LAN traffic with the given NAT. Needs `nft`
// (skipped, or failed in CI, without it).
func (l *Lab) Router(name string, nat NAT) *Router {
	l.tb.Helper()
	if nat != EndpointIndependent && nat != Symmetric {
		l.tb.Fatalf("netlab: unknown NAT %v", nat)
	}
	testenv.LookPath(l.tb, "nft")
	h := l.Host(name)
	l.mu.Lock()
	l.nextLAN++
	k := l.nextLAN
	l.mu.Unlock()
	if k > 254 {
		l.tb.Fatal("netlab: out of LANs")
	}
	b := lanBase.As4()
	b[2] = byte(k)
	lan := netip.PrefixFrom(netip.AddrFrom4(b), 24)
	r := &Router{wan: h, nat: nat, lan: lan, next: 1}
	gw := r.nextLANAddr()
	// LAN hosts hang off a bridge on the router, lan0.
	l.ip("-n", h.ns, "link", "add", "lan0", "type", "bridge")
	l.ip("-n", h.ns, "addr", "add", netip.PrefixFrom(gw, 24).String(), "dev", "lan0")
	l.ip("-n", h.ns, "link", "set", "lan0", "up")
	if err := h.Do(func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	}); err != nil {
		l.tb.Fatalf("netlab: router %s: enable forwarding: %v", name, err)
	}
	flags := ""
	if nat == Symmetric {
		flags = " random,fully-random"
	}
	rules := fmt.Sprintf(`table ip netlab {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth0" ip saddr %s masquerade%s
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan0" oifname "eth0" accept
	}
}
`, lan, flags)
	cmd := exec.Command("ip", "netns", "exec", h.ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.tb.Fatalf("netlab: router %s: nft: %v: %s", name, err, out)
	}
	return r
}

func (r *Router) nextLANAddr() netip.Addr {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.lan.Addr().As4()
	b[3] = byte(r.next)
	r.next++
	if r.next > 254 {
		r.wan.lab.tb.Fatal("netlab: LAN full")
	}
	return netip.AddrFrom4(b)
}

// Router is a home router doing NAT between the internet segment (its
// eth0) and its LAN (bridge lan0).
type Router struct {
	wan *Host
	nat NAT
	lan netip.Prefix

	mu   sync.Mutex // guards next
	next int
}

// WAN returns the router itself as a host of the internet segment, at its
// public address: run tcpdump or `nft list ruleset` there.
func (r *Router) WAN() *Host { return r.wan }

// NAT returns the router's mapping behaviour.
func (r *Router) NAT() NAT { return r.nat }

// LAN returns the router's LAN, 192.168.k.0/24; the router is .1.
func (r *Router) LAN() netip.Prefix { return r.lan }

// Host adds a host on the router's LAN with the next address
// (192.168.k.2, .3, ...), whose default route is the router.
func (r *Router) Host(name string) *Host {
	l := r.wan.lab
	l.tb.Helper()
	ns := l.newNamespace(name)
	addr := r.nextLANAddr()
	gw := r.lan.Addr().Next()
	l.mu.Lock()
	l.nextPort++
	port := fmt.Sprintf("p%d", l.nextPort)
	l.mu.Unlock()
	l.ip("-n", r.wan.ns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
	l.ip("-n", r.wan.ns, "link", "set", port, "master", "lan0", "up")
	l.ip("-n", ns, "addr", "add", netip.PrefixFrom(addr, 24).String(), "dev", "eth0")
	l.ip("-n", ns, "link", "set", "eth0", "up")
	l.ip("-n", ns, "route", "add", "default", "via", gw.String())
	return &Host{lab: l, name: name, ns: ns, addr: addr, router: r}
}

// Host is one machine of the lab: a network namespace with loopback and
// one interface, eth0.
type Host struct {
	lab    *Lab
	name   string
	ns     string
	addr   netip.Addr
	router *Router // nil on the internet segment
}

// Name returns the name the host was given.
func (h *Host) Name() string { return h.name }

// Namespace returns the host's network namespace, as `ip netns` names it.
func (h *Host) Namespace() string { return h.ns }

// Addr returns the host's address on eth0: 203.0.113.x on the internet
// segment, 192.168.k.x behind a router.
func (h *Host) Addr() netip.Addr { return h.addr }

// PublicAddr returns the address the internet sees for this host: its own
// on the internet segment, its router's WAN address behind a NAT.
func (h *Host) PublicAddr() netip.Addr {
	if h.router != nil {
		return h.router.wan.addr
	}
	return h.addr
}

// Command returns a command that runs name with args inside the host's
// namespace (`ip netns exec`, which execs the program: the process is the
// program itself, and ctx's cancellation kills it). The process shares the
// file system and user of the test. Processes still running in the
// namespace when the lab is cleaned up are killed.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.ns, name}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Do runs fn on an OS thread that has entered the host's namespace and
// returns its error. Sockets fn creates (net.Listen, net.Dial) belong to
// the namespace for their whole life and may be used from any goroutine
// afterwards; goroutines fn starts run outside it. The thread returns to
// the test's namespace before any other goroutine may run on it (if it
// cannot, it stays locked and Go retires it).
func (h *Host) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlab: open own namespace: %w", err)
			return
		}
		defer unix.Close(home)
		fd, err := unix.Open(filepath.Join(netnsDir, h.ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlab: open namespace %s: %w", h.ns, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netlab: enter namespace %s: %w", h.ns, err)
			return
		}
		defer func() {
			// Unlock only a thread that is back home; a thread still
			// locked when its goroutine ends is destroyed by the runtime.
			if unix.Setns(home, unix.CLONE_NEWNET) == nil {
				runtime.UnlockOSThread()
			}
		}()
		errc <- fn()
	}()
	return <-errc
}

// DialContext dials addr from inside the host's namespace, as net.Dialer
// does. Its signature fits http.Transport.DialContext.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() (err error) {
		c, err = new(net.Dialer).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens inside the host's namespace, as net.Listen does.
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := h.Do(func() (err error) {
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// ListenPacket listens inside the host's namespace, as net.ListenPacket
// does.
func (h *Host) ListenPacket(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := h.Do(func() (err error) {
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	return pc, err
}

// HTTPClient returns a client whose connections are dialled from inside
// the host's namespace (no proxy from the environment).
func (h *Host) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:       h.DialContext,
		DisableKeepAlives: true, // nothing idles after a test
	}}
}

// Forward listens on 127.0.0.1 in the test's own namespace and relays
// every connection to target (host:port), dialled from inside the host's
// namespace. It returns the loopback address; the listener and every
// relayed connection are closed by tb.Cleanup. Use it for programs that
// cannot dial into a namespace themselves, e.g. chromedp to a Chromium
// remote-debugging port.
func (h *Host) Forward(target string) string {
	tb := h.lab.tb
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("netlab: forward: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex // guards conns
	conns := map[net.Conn]struct{}{}
	track := func(c net.Conn, add bool) bool {
		mu.Lock()
		defer mu.Unlock()
		if add {
			if ctx.Err() != nil {
				return false
			}
			conns[c] = struct{}{}
		} else {
			delete(conns, c)
		}
		return true
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if !track(c, true) {
					return
				}
				defer track(c, false)
				up, err := h.DialContext(ctx, "tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				if !track(up, true) {
					return
				}
				defer track(up, false)
				relay(c, up)
			})
		}
	})
	tb.Cleanup(func() {
		cancel()
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// relay copies both ways until both directions end, passing half-closes on.
func relay(a, b net.Conn) {
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Go(func() { half(a, b) })
	half(b, a)
	wg.Wait()
}

func (l *Lab) newNamespace(name string) string {
	l.tb.Helper()
	if !validName.MatchString(name) {
		l.tb.Fatalf("netlab: bad host name %q (want [a-z0-9-], at most 31)", name)
	}
	l.mu.Lock()
	if l.names[name] || name == "inet" {
		l.mu.Unlock()
		l.tb.Fatalf("netlab: host name %q used twice", name)
	}
	l.names[name] = true
	ns := l.prefix + name
	l.namespaces = append(l.namespaces, ns)
	l.mu.Unlock()
	l.ip("netns", "add", ns)
	l.ip("-n", ns, "link", "set", "lo", "up")
	return ns
}

// claim reserves addr on the internet segment, or the lowest free one.
func (l *Lab) claim(addr netip.Addr) netip.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !addr.IsValid() {
		for a := internet.Addr().Next(); internet.Contains(a); a = a.Next() {
			if !l.used[a] && a != netip.MustParseAddr("203.0.113.255") {
				addr = a
				break
			}
		}
	}
	if !addr.Is4() || !internet.Contains(addr) || addr == internet.Addr() || addr.As4()[3] == 255 || l.used[addr] {
		l.tb.Fatalf("netlab: address %v is not a free host address of %v", addr, internet)
	}
	l.used[addr] = true
	return addr
}

// ip runs `ip args...`, failing the test with its output on error.
func (l *Lab) ip(args ...string) {
	l.tb.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.tb.Fatalf("netlab: ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// cleanup kills what still runs in the lab and deletes its namespaces.
func (l *Lab) cleanup() {
	l.mu.Lock()
	nss := l.namespaces
	l.mu.Unlock()
	for _, err := range deleteNamespaces(nss) {
		l.tb.Errorf("netlab: cleanup: %v", err)
	}
}

// deleteNamespaces SIGKILLs every process inside the namespaces, waits for
// them to go (they may hold sockets), and deletes the namespaces; veth
// pairs and bridges vanish with them.
func deleteNamespaces(nss []string) []error {
	var errs []error
	for _, ns := range nss {
		for _, pid := range nsPids(ns) {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("kill %d in %s: %w", pid, ns, err))
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ns := range nss {
		testenv.Poll(ctx, func() bool { return len(nsPids(ns)) == 0 }) // on timeout, "ip netns del" says what holds it
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", ns, err, bytes.TrimSpace(out)))
		}
	}
	return errs
}

// nsPids lists the live (not zombie) processes in namespace ns.
func nsPids(ns string) []int {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid == os.Getpid() {
			continue // never the test itself: a thread inside Do is not a lab process
		}
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// "pid (comm) S ...": zombies are gone for our purpose.
			if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// removeStale deletes the namespaces of labs whose process no longer
// exists: a test binary killed (or timed out) before its cleanup ran.
func removeStale(tb testing.TB) {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return // no named namespace yet
	}
	var stale []string
	for _, e := range entries {
		pid, ok := ownerPid(e.Name())
		if !ok || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			stale = append(stale, e.Name())
		}
	}
	if len(stale) == 0 {
		return
	}
	tb.Logf("netlab: deleting %d namespaces left by dead test processes", len(stale))
	for _, err := range deleteNamespaces(stale) {
		tb.Logf("netlab: stale cleanup: %v", err)
	}
}

// ownerPid parses the pid out of "swlab-<pid>-...".
func ownerPid(ns string) (int, bool) {
	rest, ok := strings.CutPrefix(ns, NamePrefix)
	if !ok {
		return 0, false
	}
	p, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(p)
	return pid, err == nil && pid > 0
}
