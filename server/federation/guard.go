package federation

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Fetches a pod makes on someone else's behalf (confirming an
// introduction's key, making friends, introductions learnt from a
// friend, deliveries to friends) must not reach the pod's own network:
// a hello naming http://127.0.0.1:6379 would otherwise make the pod a
// proxy and a port scanner into it. The check runs in the dialer's
// Control function, on the address actually dialled after DNS
// resolution, so no name (or DNS rebinding) can route around it; proxies
// from the environment are ignored for the same reason.

// nonPublic are ranges that publicAddr refuses beyond what netip's
// predicates name: "this network", carrier-grade NAT, IETF protocol
// assignments, benchmarking, reserved and broadcast, and the IPv6
// translation prefixes that embed IPv4 addresses.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/32"),
}

// publicAddr reports whether ip may be dialled on someone else's behalf:
// not loopback, private (RFC 1918, RFC 4193), link-local, multicast,
// unspecified, nor one of nonPublic.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// guardControl is a net.Dialer Control function refusing non-public
// addresses (errPrivateAddress).
func guardControl(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !publicAddr(ap.Addr()) {
		return errPrivateAddress
	}
	return nil
}

// NewClient returns the HTTP client of pod-to-pod requests and of every
// other fetch a pod makes on someone else's behalf (mirrors' .torrent
// fetches, range checks and web seeds): no redirects (a signed request is
// for one URL), no proxy from the environment, bounded answer headers,
// and unless allowPrivate, only public addresses. It has no overall
// timeout: each request needs a context deadline, and its caller bounds
// what it reads of the body.
func NewClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
