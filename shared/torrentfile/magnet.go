package torrentfile

import (
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Magnet returns a magnet link (BEP 9) for a torrent: xt (hex v1 info hash),
// dn, xl, one tr per tracker and one ws per web seed (BEP 19 full file URL),
// in that order. Values are percent-encoded like JavaScript's
// encodeURIComponent, which is what WebTorrent's magnet parser decodes.
func Magnet(infoHash [20]byte, name string, length int64, trackers, webSeeds []string) string {
	var b strings.Builder
	b.WriteString("magnet:?xt=urn:btih:")
	b.WriteString(hex.EncodeToString(infoHash[:]))
	if name != "" {
		b.WriteString("&dn=")
		b.WriteString(escape(name))
	}
	if length > 0 {
		b.WriteString("&xl=")
		b.WriteString(strconv.FormatInt(length, 10))
	}
	for _, tr := range trackers {
		b.WriteString("&tr=")
		b.WriteString(escape(tr))
	}
	for _, ws := range webSeeds {
		b.WriteString("&ws=")
		b.WriteString(escape(ws))
	}
	return b.String()
}

// escape percent-encodes all but RFC 3986 unreserved characters.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// MagnetLink is a parsed magnet link.
type MagnetLink struct {
	InfoHash [20]byte
	Name     string   // dn; may be empty
	Length   int64    // xl; 0 when absent
	Trackers []string // tr, in order
	WebSeeds []string // ws, in order
}

// maxMagnetLen bounds ParseMagnet's input.
const maxMagnetLen = 16 << 10

// ParseMagnet parses a magnet link with a BitTorrent v1 info hash (xt =
// urn:btih: with 40 hex or 32 base32 characters). Unknown parameters are
// ignored; a link with no or several v1 info hashes is refused.
func ParseMagnet(s string) (MagnetLink, error) {
	var m MagnetLink
	if len(s) > maxMagnetLen {
		return m, fmt.Errorf("%w: magnet link longer than %d bytes", ErrInvalid, maxMagnetLen)
	}
	rest, ok := strings.CutPrefix(s, "magnet:?")
	if !ok {
		return m, fmt.Errorf("%w: not a magnet link", ErrInvalid)
	}
	q, err := url.ParseQuery(rest)
	if err != nil {
		return m, fmt.Errorf("%w: magnet link: %w", ErrInvalid, err)
	}
	found := 0
	for _, xt := range q["xt"] {
		v, ok := strings.CutPrefix(strings.ToLower(xt), "urn:btih:")
		if !ok {
			continue // e.g. urn:btmh: (v2), which this package does not handle
		}
		var h []byte
		switch len(v) {
		case 40:
			h, err = hex.DecodeString(v)
		case 32:
			h, err = base32.StdEncoding.DecodeString(strings.ToUpper(v))
		default:
			err = fmt.Errorf("length %d", len(v))
		}
		if err != nil {
			return m, fmt.Errorf("%w: magnet info hash %q: %w", ErrInvalid, xt, err)
		}
		m.InfoHash = [20]byte(h)
		found++
	}
	if found != 1 {
		return m, fmt.Errorf("%w: magnet link has %d v1 info hashes, want 1", ErrInvalid, found)
	}
	m.Name = q.Get("dn")
	if xl := q.Get("xl"); xl != "" {
		if m.Length, err = strconv.ParseInt(xl, 10, 64); err != nil || m.Length < 0 {
			return m, fmt.Errorf("%w: magnet xl %q", ErrInvalid, xl)
		}
	}
	m.Trackers = q["tr"]
	m.WebSeeds = q["ws"]
	return m, nil
}

// String returns the link in Magnet's form.
func (m MagnetLink) String() string {
	return Magnet(m.InfoHash, m.Name, m.Length, m.Trackers, m.WebSeeds)
}

// PodTrackers returns the announce URLs of the pod at podURL (scheme,
// host and optional path prefix, no trailing slash): its WebSocket
// tracker, for browsers (wss:// under https, else ws://), and its HTTP
// tracker, for BitTorrent clients. Both the pod, which lists them in its
// torrents, and the browser engine, which seeds to its page's pod, build
// them here.
func PodTrackers(podURL string) (ws, http string) {
	ws = podURL
	if rest, ok := strings.CutPrefix(ws, "https://"); ok {
		ws = "wss://" + rest
	} else {
		ws = "ws://" + strings.TrimPrefix(ws, "http://")
	}
	return ws + "/tracker/socket", podURL + "/tracker/announce"
}
