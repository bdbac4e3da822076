package pod

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/swarmtube/swarmtube/server/clientaddr"
)

// The seeder loads a video's torrent only while someone wants it (issue
// 20); these hooks tell it who does.

// resolveWebseed is videos.ResolveWebseed that also marks the video's
// torrent active: a web seed reader is a viewer the swarm may serve next.
func (p *Pod) resolveWebseed(name string) (string, bool) {
	path, ok := p.videos.ResolveWebseed(name)
	if !ok {
		path, ok = p.mirrors.ResolveWebseed(name) // friends' videos held here (issue 18)
	}
	if ok {
		p.seeder.TouchFile(path)
	}
	return path, ok
}

// seederSelf is tracker.Config.Self: for a local video, the seeder's
// address as the announcer reached the pod, so an HTTP announce for a
// cold video gets the seeder in its first response. The address is the
// local IP of the connection the announce came on (the pod's seeder
// listens where its HTTP server does) and the seeder's port; behind a
// proxy (a loopback local address for a client that is not on loopback)
// there is no address the client can reach, and nothing is listed. The
// torrent is loaded, waiting at most 2 s, so the client's connection
// finds it; a torrent that fails to load is not listed.
func (p *Pod) seederSelf(r *http.Request, infoHash [20]byte) (peerID [20]byte, addr netip.AddrPort, ok bool) {
	if !p.seeder.Registered(infoHash) {
		return peerID, addr, false
	}
	la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	ta, _ := la.(*net.TCPAddr)
	if ta == nil {
		return peerID, addr, false
	}
	ip, _ := netip.AddrFromSlice(ta.IP)
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsUnspecified() || (ip.IsLoopback() && !clientaddr.Addr(r).IsLoopback()) {
		return peerID, addr, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := p.seeder.Wake(ctx, infoHash); err != nil && ctx.Err() == nil {
		return peerID, addr, false // it cannot be loaded (file gone...)
	}
	// Loaded, or still loading after 2 s (a slow disk): listed either
	// way, as the client's connection may well arrive after it is done.
	return p.seeder.PeerID(), netip.AddrPortFrom(ip, uint16(p.seeder.Port())), true
}
