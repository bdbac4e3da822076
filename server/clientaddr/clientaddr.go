// Package clientaddr finds the real client of an HTTP request: its address
// and whether it reached the pod over https, also when the pod sits behind
// reverse proxies.
//
// Proxy headers are honoured only from trusted peers (--trusted-proxies):
//
//   - Forwarded (RFC 7239), when present, wins; otherwise
//     X-Forwarded-For and X-Forwarded-Proto (the de-facto headers of nginx,
//     Caddy, HAProxy).
//   - The address list is walked from the right (the hop nearest the pod,
//     written by the proxy we trust) towards the left, skipping addresses
//     that are themselves trusted proxies; the first untrusted address is
//     the client. Entries to its left were written by the client and are
//     never believed.
//   - A hop that is not an IP address ("unknown", an obfuscated name,
//     garbage) ends the walk: the client is then the last trusted hop,
//     which is safe (it collapses into the proxy's bucket) but never
//     spoofable.
//
// From any other peer the headers are ignored: the client is the TCP peer
// and the request is secure when it arrived over TLS. Per-client limits
// (tracker sockets and message rates, federation, logins, connections)
// all take their key from Addr, and cookies and redirects their scheme from
// Secure.
package clientaddr

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefixes parses a comma-separated list of CIDR prefixes or single
// addresses ("10.0.0.0/8, 127.0.0.1, ::1"). A single address stands for
// itself (/32 or /128). IPv4-mapped IPv6 addresses are unmapped. An empty
// string gives no prefixes.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8 or fd00::/8", f)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Info is what the middleware learnt about a request's client.
type Info struct {
	Addr   netip.Addr // client address, unmapped; invalid only if RemoteAddr is not ip:port
	Secure bool       // the client's request was https
}

// Resolver decides a request's client from its peer and proxy headers. The
// zero Resolver trusts no proxy. It is immutable and safe for concurrent use.
type Resolver struct {
	trusted []netip.Prefix
}

// NewResolver returns a Resolver trusting proxy headers from peers inside
// the given prefixes.
func NewResolver(trusted []netip.Prefix) *Resolver {
	return &Resolver{trusted: trusted}
}

// Trusted reports whether a is inside a trusted proxy prefix.
func (rs *Resolver) Trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range rs.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Resolve returns r's client, reading proxy headers only when r's TCP peer
// is trusted.
func (rs *Resolver) Resolve(r *http.Request) Info {
	peer := peerAddr(r)
	info := Info{Addr: peer, Secure: r.TLS != nil}
	if !peer.IsValid() || !rs.Trusted(peer) {
		return info
	}
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		elems, ok := ParseForwarded(fwd)
		if !ok {
			return info // a header we cannot read from our own proxy: believe only the peer
		}
		// Each element is one hop; its proto is what that hop's client used.
		for i := len(elems) - 1; i >= 0; i-- {
			e := elems[i]
			if e.Proto != "" {
				info.Secure = strings.EqualFold(e.Proto, "https")
			}
			if !e.For.IsValid() {
				return info
			}
			info.Addr = e.For
			if !rs.Trusted(e.For) {
				return info
			}
		}
		return info
	}
	xff := r.Header.Values("X-Forwarded-For")
	protos := splitComma(r.Header.Values("X-Forwarded-Proto"))
	hops := splitComma(xff)
	// X-Forwarded-Proto is usually set (not appended) by the nearest proxy;
	// when it is appended hop by hop, the entry matching the client's
	// position is the one that client used.
	proto := ""
	if len(protos) > 0 {
		proto = protos[len(protos)-1]
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseNode(hops[i])
		if !ok {
			break
		}
		info.Addr = a
		if len(protos) == len(hops) {
			proto = protos[i]
		}
		if !rs.Trusted(a) {
			break
		}
	}
	if proto != "" {
		info.Secure = strings.EqualFold(proto, "https")
	}
	return info
}

// Middleware puts each request's Info into its context, for Addr and
// Secure. With no trusted proxy it passes requests through untouched (Addr
// and Secure then read the peer directly), so the hot paths pay nothing.
func (rs *Resolver) Middleware(next http.Handler) http.Handler {
	if len(rs.trusted) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := rs.Resolve(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, info)))
	})
}

type ctxKey struct{}

// FromContext returns the Info the middleware stored, if any.
func FromContext(ctx context.Context) (Info, bool) {
	info, ok := ctx.Value(ctxKey{}).(Info)
	return info, ok
}

// Addr is r's client address: the one the middleware resolved, or else r's
// TCP peer. It is the key of every per-client limit. The zero Addr means
// RemoteAddr was not ip:port (never so for requests net/http serves).
func Addr(r *http.Request) netip.Addr {
	if info, ok := FromContext(r.Context()); ok {
		return info.Addr
	}
	return peerAddr(r)
}

// Secure reports whether r's client used https: as a trusted proxy said,
// or else whether r itself came over TLS. Cookies get the Secure attribute
// and redirects keep the https scheme by it.
func Secure(r *http.Request) bool {
	if info, ok := FromContext(r.Context()); ok {
		return info.Secure
	}
	return r.TLS != nil
}

func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		// Not ip:port (a test's request, a Unix socket): maybe a bare address.
		a, err := netip.ParseAddr(r.RemoteAddr)
		if err != nil {
			return netip.Addr{}
		}
		return a.Unmap()
	}
	return ap.Addr().Unmap()
}

// splitComma splits header values on commas and trims each entry; empty
// entries are dropped.
func splitComma(values []string) []string {
	var out []string
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

// parseNode reads one X-Forwarded-For entry or one Forwarded "for" value
// (after unquoting): "192.0.2.1", "192.0.2.1:4711", "2001:db8::1",
// "[2001:db8::1]", "[2001:db8::1]:4711". Zones are refused: they mean
// nothing off the host.
func parseNode(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() && a.Zone() == "" {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}
