package tracker

import (
	"bytes"
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

// httpAnnounce is a parsed HTTP announce query.
type httpAnnounce struct {
	infoHash, peerID id
	port             int
	left             int64 // -1: unknown
	event            trackerproto.Event
	compact          int // -1: not given
	numWant          int // -1: not given
	noPeerID         bool
	ip               netip.Addr // the ip parameter, if it was a valid literal
}

// HTTP failure reasons, with bittorrent-tracker's texts.
var (
	errHTTPInfoHash = errors.New("invalid info_hash")
	errHTTPPeerID   = errors.New("invalid peer_id")
)

// parseAnnounce parses a BEP 3 announce query without allocating.
// Unknown parameters are ignored; errors are in bittorrent-tracker's order.
func parseAnnounce(q string, a *httpAnnounce) error {
	*a = httpAnnounce{left: -1, compact: -1, numWant: -1}
	var ihOK, peerOK, portOK bool
	var buf [64]byte
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "info_hash":
			n, ok := unescape(buf[:], v)
			ihOK = ok && n == 20
			copy(a.infoHash[:], buf[:20])
		case "peer_id":
			n, ok := unescape(buf[:], v)
			peerOK = ok && n == 20
			copy(a.peerID[:], buf[:20])
		case "port":
			p, err := strconv.Atoi(v)
			portOK = err == nil && p > 0 && p <= 65535
			a.port = p
		case "left":
			a.left = -1
			if n, ok := unescape(buf[:], v); ok {
				if l, err := strconv.ParseInt(string(buf[:n]), 10, 64); err == nil && l >= 0 {
					a.left = l
				}
			}
		case "event":
			n, ok := unescape(buf[:], v)
			a.event = trackerproto.EventInvalid
			if ok {
				a.event = trackerproto.ParseEvent(string(buf[:n]))
			}
		case "compact":
			a.compact, _ = strconv.Atoi(v)
		case "no_peer_id":
			a.noPeerID = v != "" && v != "0"
		case "numwant":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				a.numWant = n
			}
		case "ip":
			if n, ok := unescape(buf[:], v); ok {
				if ip, err := netip.ParseAddr(string(buf[:n])); err == nil {
					a.ip = ip.Unmap()
				}
			}
		}
	}
	switch {
	case !ihOK:
		return errHTTPInfoHash
	case !peerOK:
		return errHTTPPeerID
	case !portOK:
		return ErrInvalidPort
	}
	return nil
}

// unescape percent-decodes s into dst ('+' is a space, as in forms); ok is
// false for a bad escape or if dst is too small.
func unescape(dst []byte, s string) (n int, ok bool) {
	for i := 0; i < len(s); i++ {
		if n == len(dst) {
			return n, false
		}
		switch c := s[i]; c {
		case '%':
			if i+2 >= len(s) {
				return n, false
			}
			h, l := hexVal(s[i+1]), hexVal(s[i+2])
			if h < 0 || l < 0 {
				return n, false
			}
			dst[n] = byte(h<<4 | l)
			i += 2
		case '+':
			dst[n] = ' '
		default:
			dst[n] = c
		}
		n++
	}
	return n, true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// httpScratch is pooled per request.
type httpScratch struct {
	a     httpAnnounce
	out   []byte
	idx   []int
	peers []peerAddr
	v4    []byte
	v6    []byte
	files []trackerproto.ScrapeFile
	ihs   []id
}

type peerAddr struct {
	id   id
	addr netip.AddrPort
}

// addSelf puts the peer Config.Self names first in peers, unless it is the
// announcer or already listed, keeping at most numWant peers.
func addSelf(peers []peerAddr, r *http.Request, ih id, announcer netip.AddrPort, numWant int, self func(*http.Request, [20]byte) ([20]byte, netip.AddrPort, bool)) []peerAddr {
	pid, sa, ok := self(r, ih)
	if !ok || sa == announcer {
		return peers
	}
	for i, p := range peers {
		if p.addr == sa {
			peers[0], peers[i] = peers[i], peers[0]
			return peers
		}
	}
	if len(peers) >= numWant {
		peers = peers[:numWant-1]
	}
	peers = append(peers, peerAddr{})
	copy(peers[1:], peers)
	peers[0] = peerAddr{id: pid, addr: sa}
	return peers
}

var httpPool = sync.Pool{New: func() any { return new(httpScratch) }}

func (s *Server) serveAnnounce(w http.ResponseWriter, r *http.Request) {
	x := httpPool.Get().(*httpScratch)
	defer httpPool.Put(x)
	a := &x.a
	if err := parseAnnounce(r.URL.RawQuery, a); err != nil {
		s.m.reject(rejectMalformed)
		writeBencode(w, appendFailure(x.out[:0], err.Error()))
		return
	}
	s.m.httpAnn.Inc()
	switch {
	case s.cfg.Allow != nil && !s.cfg.Allow(a.infoHash):
		s.m.reject(rejectNotTracked)
		writeBencode(w, appendFailure(x.out[:0], ErrNotTracked.Error()))
		return
	case a.event == trackerproto.EventInvalid:
		s.m.reject(rejectEvent)
		writeBencode(w, appendFailure(x.out[:0], ErrInvalidEvent.Error()))
		return
	}
	ip := clientIP(r)
	if a.ip.IsValid() && (s.cfg.TrustIPParam || ip.IsLoopback() || ip.IsPrivate()) {
		ip = a.ip
	}
	addr := netip.AddrPortFrom(ip, uint16(a.port))
	numWant := a.numWant
	if numWant < 0 {
		numWant = defaultNumWant
	}
	numWant = min(numWant, s.cfg.MaxNumWant)
	stopped := a.event == trackerproto.EventStopped

	x.peers = x.peers[:0]
	complete, incomplete := 0, 0
	if sw := s.reg.lockSwarm(a.infoHash, !stopped); sw != nil {
		i, present := sw.httpByAddr[addr]
		comp := present && sw.http[i].complete
		added, removed := applyEvent(sw, a.event, a.left, present, &comp)
		now := time.Now().Unix()
		self := -1 // the announcer's index, skipped when picking peers
		switch {
		case added:
			self = sw.addHTTP(httpPeer{id: a.peerID, addr: addr, complete: comp, seen: now})
			s.m.httpPeers.Add(1)
		case removed:
			sw.removeHTTP(i)
			s.m.httpPeers.Add(-1)
		case present:
			p := &sw.http[i]
			p.complete, p.seen, p.id = comp, now, a.peerID
			self = i
		}
		if !stopped {
			x.idx = pickIndexes(len(sw.http), numWant, func(j int) bool { return j == self }, x.idx[:0])
			for _, j := range x.idx {
				p := &sw.http[j]
				x.peers = append(x.peers, peerAddr{id: p.id, addr: p.addr})
			}
		}
		complete, incomplete = sw.complete, sw.incomplete
		s.reg.unlock(sw)
	}
	if !stopped {
		if s.cfg.OnAnnounce != nil {
			s.cfg.OnAnnounce(a.infoHash)
		}
		if s.cfg.Self != nil && numWant > 0 {
			x.peers = addSelf(x.peers, r, a.infoHash, addr, numWant, s.cfg.Self)
		}
	}

	interval := int(s.cfg.AnnounceInterval / time.Second)
	b := append(x.out[:0], "d8:completei"...)
	b = strconv.AppendInt(b, int64(complete), 10)
	b = append(b, "e10:incompletei"...)
	b = strconv.AppendInt(b, int64(incomplete), 10)
	b = append(b, "e8:intervali"...)
	b = strconv.AppendInt(b, int64(interval), 10)
	b = append(b, "e12:min intervali"...)
	b = strconv.AppendInt(b, int64(max(1, interval/2)), 10)
	b = append(b, "e5:peers"...)
	if a.compact == 0 {
		b = append(b, 'l')
		for _, p := range x.peers {
			b = append(b, "d2:ip"...)
			b = appendBString(b, p.addr.Addr().String())
			if !a.noPeerID {
				b = append(b, "7:peer id20:"...)
				b = append(b, p.id[:]...)
			}
			b = append(b, "4:porti"...)
			b = strconv.AppendInt(b, int64(p.addr.Port()), 10)
			b = append(b, "ee"...)
		}
		b = append(b, 'e')
	} else {
		v4, v6 := x.v4[:0], x.v6[:0]
		for _, p := range x.peers {
			ip := p.addr.Addr()
			if ip.Is4() {
				a4 := ip.As4()
				v4 = append(v4, a4[:]...)
				v4 = append(v4, byte(p.addr.Port()>>8), byte(p.addr.Port()))
			} else {
				a16 := ip.As16()
				v6 = append(v6, a16[:]...)
				v6 = append(v6, byte(p.addr.Port()>>8), byte(p.addr.Port()))
			}
		}
		b = strconv.AppendInt(b, int64(len(v4)), 10)
		b = append(b, ':')
		b = append(b, v4...)
		if len(v6) > 0 {
			b = append(b, "6:peers6"...)
			b = strconv.AppendInt(b, int64(len(v6)), 10)
			b = append(b, ':')
			b = append(b, v6...)
		}
		x.v4, x.v6 = v4, v6
	}
	b = append(b, 'e')
	x.out = b
	writeBencode(w, b)
}

func (s *Server) serveScrape(w http.ResponseWriter, r *http.Request) {
	x := httpPool.Get().(*httpScratch)
	defer httpPool.Put(x)
	s.m.scrapes.Inc()
	x.ihs = x.ihs[:0]
	var buf [64]byte
	for q := r.URL.RawQuery; q != ""; {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != "info_hash" {
			continue
		}
		n, ok := unescape(buf[:], v)
		if !ok || n != 20 {
			s.m.reject(rejectMalformed)
			writeBencode(w, appendFailure(x.out[:0], errHTTPInfoHash.Error()))
			return
		}
		if len(x.ihs) >= trackerproto.MaxScrapeHashes {
			s.m.reject(rejectMalformed)
			writeBencode(w, appendFailure(x.out[:0], trackerproto.ErrTooManyInfoHashes.Error()))
			return
		}
		x.ihs = append(x.ihs, id(buf[:20]))
	}
	x.files = s.scrapeFiles(x.ihs, x.files[:0])
	// Bencoded dictionary keys must be sorted and unique.
	slices.SortFunc(x.files, func(a, b trackerproto.ScrapeFile) int { return bytes.Compare(a.InfoHash[:], b.InfoHash[:]) })
	x.files = slices.CompactFunc(x.files, func(a, b trackerproto.ScrapeFile) bool { return a.InfoHash == b.InfoHash })
	b := append(x.out[:0], "d5:filesd"...)
	for _, f := range x.files {
		b = append(b, "20:"...)
		b = append(b, f.InfoHash[:]...)
		b = append(b, "d8:completei"...)
		b = strconv.AppendInt(b, int64(f.Complete), 10)
		b = append(b, "e10:downloadedi"...)
		b = strconv.AppendInt(b, int64(f.Downloaded), 10)
		b = append(b, "e10:incompletei"...)
		b = strconv.AppendInt(b, int64(f.Incomplete), 10)
		b = append(b, "ee"...)
	}
	b = append(b, "e5:flagsd20:min_request_intervali"...)
	b = strconv.AppendInt(b, int64(s.cfg.AnnounceInterval/time.Second), 10)
	b = append(b, "eee"...)
	x.out = b
	writeBencode(w, b)
}

func appendBString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// appendFailure appends a bencoded BEP 3 failure.
func appendFailure(b []byte, reason string) []byte {
	b = append(b, "d14:failure reason"...)
	b = appendBString(b, reason)
	return append(b, 'e')
}

// writeBencode sends a tracker reply; failures are also sent with status
// 200, since clients read the failure reason only from a 200 body.
func writeBencode(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h["Content-Type"] = textPlain
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	_, _ = w.Write(b)
}

var textPlain = []string{"text/plain"}
