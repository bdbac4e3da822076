package fedproto

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/swarmtube/swarmtube/server/api"
)

// Version is the federation API version this code speaks; its routes live
// under /api/Version/federation.
const Version = api.Version

// Routes of the pod-to-pod API (all POST, all signed), and the public pod
// info every pod serves at the same path whatever versions it speaks, so
// pods can learn which versions they share.
const (
	PathPodInfo = "/api/v1/pod"

	PathPrefix  = "/api/" + Version + "/federation"
	PathHello   = PathPrefix + "/hello"
	PathCatalog = PathPrefix + "/catalog"
	PathEvents  = PathPrefix + "/events"
	PathQuit    = PathPrefix + "/quit"
	PathEject   = PathPrefix + "/eject"
)

// Limits every pod enforces on what it receives.
const (
	MaxBatchEvents = 100     // events in one Batch
	MaxEventsBody  = 2 << 20 // bytes of a Batch
	// MaxHelloBody bounds a Hello: it comes from a key the receiver may
	// not know yet, so it is read before anything is verified and must
	// stay small. It carries no videos (they are paged with Catalog).
	MaxHelloBody = 64 << 10
	// MaxHelloAnswer bounds a HelloResult (its friends list).
	MaxHelloAnswer  = 2 << 20
	MaxHelloFriends = 1000 // friends in a HelloResult
	// MaxCatalogVideos and MaxCatalogPage bound one CatalogPage.
	MaxCatalogVideos = 500
	MaxCatalogPage   = 4 << 20
	MaxSmallBody     = 16 << 10 // bytes of Quit, Eject, CatalogRequest and answers other than HelloResult and CatalogPage
	MaxURLLen        = 2048     // bytes of any URL
	MaxClockSkew     = 5 * time.Minute
)

// Event types.
const (
	EventAdd    = "add"
	EventUpdate = "update"
	EventRemove = "remove"
	// EventMirror and EventUnmirror come from a pod that mirrors (or
	// stopped mirroring) another pod's video (issue 18): Mirror names the
	// video and the sender's own web seed and .torrent URLs.
	EventMirror   = "mirror"
	EventUnmirror = "unmirror"
)

// MaxMirrors bounds the mirrors a pod lists for one video.
const MaxMirrors = 16

// MaxMirrorFiles bounds the lower resolutions one mirror lists.
const MaxMirrorFiles = 8

// MirrorRef names a video by its origin and the id it has there, and the
// sending pod's copy of it: its web seed of the best file and its
// .torrent, and the lower resolutions it holds too (Files; absent from
// pods that mirror best files only, and then it means the best file only).
// A mirror event replaces what the sender announced before.
type MirrorRef struct {
	VideoPod   string           `json:"video_pod"`   // origin pod URL of the video
	VideoID    string           `json:"video_id"`    // the video's id at VideoPod
	InfoHash   string           `json:"info_hash"`   // of the best file: 40 lower-case hex digits
	WebseedURL string           `json:"webseed_url"` // on the sender
	TorrentURL string           `json:"torrent_url"` // on the sender
	Files      []api.MirrorFile `json:"files,omitempty"`
}

// CheckMirrorRef validates a mirror announced by the pod at sender: the
// video is another pod's, and both URLs are http(s) URLs on sender.
func CheckMirrorRef(sender string, m MirrorRef) error {
	pod, err := NormalizePodURL(m.VideoPod)
	if err != nil {
		return err
	}
	if pod == sender {
		return fmt.Errorf("%w: a pod does not mirror its own video", ErrInvalid)
	}
	if !ValidVideoID(m.VideoID) {
		return fmt.Errorf("%w: mirror video_id %q", ErrInvalid, m.VideoID)
	}
	if len(m.InfoHash) != 40 || strings.ToLower(m.InfoHash) != m.InfoHash {
		return fmt.Errorf("%w: mirror info_hash must be 40 lower-case hex digits", ErrInvalid)
	}
	if !validInfoHash(m.InfoHash) {
		return fmt.Errorf("%w: mirror info_hash must be 40 lower-case hex digits", ErrInvalid)
	}
	if err := checkMirrorURLs(sender, "", m.WebseedURL, m.TorrentURL); err != nil {
		return err
	}
	if len(m.Files) > MaxMirrorFiles {
		return fmt.Errorf("%w: a mirror lists at most %d files", ErrInvalid, MaxMirrorFiles)
	}
	seen := map[string]bool{m.InfoHash: true}
	for i, f := range m.Files {
		if !validInfoHash(f.InfoHash) || seen[f.InfoHash] {
			return fmt.Errorf("%w: mirror files[%d].info_hash must be 40 lower-case hex digits, distinct from the others", ErrInvalid, i)
		}
		seen[f.InfoHash] = true
		if err := checkMirrorURLs(sender, fmt.Sprintf("files[%d].", i), f.WebseedURL, f.TorrentURL); err != nil {
			return err
		}
	}
	return nil
}

func validInfoHash(s string) bool {
	if len(s) != 40 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// checkMirrorURLs checks a mirror's web seed and .torrent URLs are URLs
// on sender; prefix names the file in the error.
func checkMirrorURLs(sender, prefix, webseed, torrent string) error {
	for _, u := range []struct{ field, raw string }{{"webseed_url", webseed}, {"torrent_url", torrent}} {
		if len(u.raw) > MaxURLLen || !strings.HasPrefix(u.raw, sender+"/") {
			return fmt.Errorf("%w: mirror %s%s must be a URL on %s", ErrInvalid, prefix, u.field, sender)
		}
		if _, err := url.Parse(u.raw); err != nil {
			return fmt.Errorf("%w: mirror %s%s is not a URL", ErrInvalid, prefix, u.field)
		}
	}
	return nil
}

// Event is one change to a video, as its origin pod sends it.
type Event struct {
	Origin  string     `json:"origin"`             // URL of the pod that owns the video and sent the event
	Seq     uint64     `json:"seq"`                // > 0, increases with every event of Origin
	Type    string     `json:"type"`               // EventAdd, EventUpdate or EventRemove
	Video   *api.Video `json:"video,omitempty"`    // add and update: the whole video, ID as on Origin
	VideoID string     `json:"video_id,omitempty"` // remove: the id on Origin
	Mirror  *MirrorRef `json:"mirror,omitempty"`   // mirror and unmirror: Origin's copy of another pod's video
}

// ID is the event's unique id.
func (e Event) ID() string { return e.Origin + "#" + strconv.FormatUint(e.Seq, 10) }

// Batch is the body of POST PathEvents: events of the signing pod in
// increasing Seq order. An empty batch is a heartbeat.
type Batch struct {
	Nonce  string  `json:"nonce,omitempty"`
	Events []Event `json:"events"`
}

// Every request body carries a Nonce, random per request, so that two
// requests never have the same signature: receivers refuse a signature
// they have seen (a replay), and a legitimate retry or heartbeat within
// the same second as the previous one must not look like one. Receivers
// do not otherwise interpret it.

// BatchResult answers a Batch.
type BatchResult struct {
	// LastSeq is the highest sequence of the sender the receiver has
	// applied (or skipped as invalid); the sender may forget every event up
	// to it.
	LastSeq    uint64      `json:"last_seq"`
	Applied    int         `json:"applied"`
	Duplicates int         `json:"duplicates"`
	Rejected   []Rejection `json:"rejected,omitempty"`
}

// Rejection tells the sender why one of its events was skipped.
type Rejection struct {
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// PodRef describes a pod to another.
type PodRef struct {
	URL         string   `json:"url"`
	Name        string   `json:"name"`
	APIVersions []string `json:"api_versions"`
	PublicKey   string   `json:"public_key"` // PEM, PKIX RSA public key
}

// Hello is the body of POST PathHello, the introduction: "I'm new, talk
// to me too". It names the sender and its last event sequence; the
// catalogues follow, paged with PathCatalog, once both sides consented.
type Hello struct {
	Nonce string `json:"nonce,omitempty"`
	Pod   PodRef `json:"pod"`
	Seq   uint64 `json:"seq"` // sender's last event sequence when it started queuing events for the receiver
}

// Hello answer statuses.
const (
	// HelloAccepted (HTTP 200): the receiver consents; both are friends
	// and page each other's catalogue.
	HelloAccepted = "accepted"
	// HelloRequested (HTTP 202): the receiver keeps the introduction as a
	// request until its admin accepts or refuses it.
	HelloRequested = "requested"
)

// HelloResult answers a Hello with the receiver's side of the exchange.
type HelloResult struct {
	Status  string   `json:"status"` // HelloAccepted or HelloRequested
	Pod     PodRef   `json:"pod"`
	Seq     uint64   `json:"seq"`               // accepted: receiver's last event sequence
	Friends []string `json:"friends,omitempty"` // accepted: the receiver's other friends
}

// CatalogRequest is the body of POST PathCatalog: the next page of the
// receiver's own videos, in id order, after the id After ("" for the
// first page).
type CatalogRequest struct {
	Nonce string `json:"nonce,omitempty"`
	After string `json:"after"`
}

// CatalogPage answers a CatalogRequest: at most MaxCatalogVideos videos
// with ids above the request's After, in increasing id order, and Next,
// the After of the following page ("" when this was the last).
type CatalogPage struct {
	Videos []api.Video `json:"videos"`
	Next   string      `json:"next"`
}

// CheckPage validates a page answering after: ids strictly increasing
// above after, at most MaxCatalogVideos, and Next either "" or the last
// id (so paging always advances and ends).
func CheckPage(after string, p CatalogPage) error {
	if len(p.Videos) > MaxCatalogVideos {
		return fmt.Errorf("%w: a catalogue page holds at most %d videos", ErrInvalid, MaxCatalogVideos)
	}
	prev := after
	for _, v := range p.Videos {
		if v.ID <= prev {
			return fmt.Errorf("%w: catalogue ids must increase (%q after %q)", ErrInvalid, v.ID, prev)
		}
		prev = v.ID
	}
	if p.Next != "" && (len(p.Videos) == 0 || p.Next != prev) {
		return fmt.Errorf("%w: next must be the last id of the page", ErrInvalid)
	}
	return nil
}

// Eject is the body of POST PathEject: the sender ejected Pod.
type Eject struct {
	Nonce string `json:"nonce,omitempty"`
	Pod   string `json:"pod"`
}

// Quit is the body of POST PathQuit: the sender is leaving.
type Quit struct {
	Nonce string `json:"nonce,omitempty"`
}

// NewNonce returns a random 128-bit nonce in hex.
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// CommonVersion returns the newest API version both lists hold, or "".
// Versions are "v" followed by a number.
func CommonVersion(ours, theirs []string) string {
	best, bestN := "", -1
	for _, v := range ours {
		if !slices.Contains(theirs, v) {
			continue
		}
		n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
		if err != nil || !strings.HasPrefix(v, "v") {
			continue
		}
		if n > bestN {
			best, bestN = v, n
		}
	}
	return best
}

// NormalizePodURL checks that s is a pod base URL (http or https, a host,
// a port from 1 to 65535 if any, no path, query, fragment or credentials)
// and returns it without a trailing slash. url.Parse takes any digits as a
// port ("http://x:99999", "http://x:"), which only failed later as an
// unreachable pod.
func NormalizePodURL(s string) (string, error) {
	if len(s) > MaxURLLen {
		return "", fmt.Errorf("%w: pod URL longer than %d bytes", ErrInvalid, MaxURLLen)
	}
	s = strings.TrimRight(s, "/")
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" || !validPort(u) {
		return "", fmt.Errorf("%w: %q is not a pod URL (http(s)://host[:port])", ErrInvalid, s)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// validPort reports whether u has no port, or one from 1 to 65535.
func validPort(u *url.URL) bool {
	if !strings.HasSuffix(u.Host, ":"+u.Port()) {
		return true // no port: a bare IPv6 literal's colons are not one
	}
	n, err := strconv.Atoi(u.Port())
	return err == nil && n >= 1 && n <= 65535
}

// CheckPodRef validates a pod description received from another pod.
func CheckPodRef(p PodRef) error {
	if _, err := NormalizePodURL(p.URL); err != nil {
		return err
	}
	if err := checkText("pod name", p.Name, 1, 200, false); err != nil {
		return err
	}
	if len(p.APIVersions) == 0 || len(p.APIVersions) > 32 {
		return fmt.Errorf("%w: api_versions must list 1 to 32 versions", ErrInvalid)
	}
	for _, v := range p.APIVersions {
		if len(v) == 0 || len(v) > 16 {
			return fmt.Errorf("%w: api version %q", ErrInvalid, v)
		}
	}
	if len(p.PublicKey) == 0 || len(p.PublicKey) > 4096 {
		return fmt.Errorf("%w: public_key missing or too long", ErrInvalid)
	}
	return nil
}

// CheckEvent validates an event received from the pod at origin (already
// normalized): it must be origin's own, and its video must pass CheckVideo.
func CheckEvent(origin string, e Event) error {
	if e.Origin != origin {
		return fmt.Errorf("%w: event origin %q is not the sender %s", ErrInvalid, e.Origin, origin)
	}
	if e.Seq == 0 {
		return fmt.Errorf("%w: event seq must be positive", ErrInvalid)
	}
	switch e.Type {
	case EventAdd, EventUpdate:
		if e.Video == nil || e.VideoID != "" || e.Mirror != nil {
			return fmt.Errorf("%w: %s event needs video and no video_id", ErrInvalid, e.Type)
		}
		return CheckVideo(origin, *e.Video)
	case EventRemove:
		if e.Video != nil || !ValidVideoID(e.VideoID) {
			return fmt.Errorf("%w: remove event needs a valid video_id and no video", ErrInvalid)
		}
		return nil
	case EventMirror, EventUnmirror:
		if e.Video != nil || e.VideoID != "" || e.Mirror == nil {
			return fmt.Errorf("%w: %s event needs mirror and neither video nor video_id", ErrInvalid, e.Type)
		}
		return CheckMirrorRef(origin, *e.Mirror)
	default:
		return fmt.Errorf("%w: unknown event type %q", ErrInvalid, e.Type)
	}
}

// Video field limits, the same a pod applies to its own uploads.
const (
	MaxNameRunes        = api.MaxVideoNameRunes
	MaxDescriptionRunes = api.MaxVideoDescriptionRunes
	MaxOwnerRunes       = 64
	MaxVideoSize        = 1 << 42
	VideoIDLen          = 16
)

// ValidVideoID reports whether s has the form of a video id on its origin:
// 16 characters of lower-case base32 (a-z, 2-7).
func ValidVideoID(s string) bool {
	if len(s) != VideoIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// CheckVideo validates a video owned by the pod at origin: fixed-format id
// and info hash, bounded text, and torrent and web seed URLs on the
// origin's host. Nothing a friend sends is trusted.
func CheckVideo(origin string, v api.Video) error {
	if !ValidVideoID(v.ID) {
		return fmt.Errorf("%w: video id %q", ErrInvalid, v.ID)
	}
	if err := checkText("name", v.Name, 1, MaxNameRunes, false); err != nil {
		return err
	}
	if err := checkText("description", v.Description, 0, MaxDescriptionRunes, true); err != nil {
		return err
	}
	if err := checkText("owner", v.Owner, 1, MaxOwnerRunes, false); err != nil {
		return err
	}
	if v.Size <= 0 || v.Size > MaxVideoSize {
		return fmt.Errorf("%w: size %d out of range", ErrInvalid, v.Size)
	}
	if len(v.InfoHash) != 40 {
		return fmt.Errorf("%w: info_hash must be 40 hex digits", ErrInvalid)
	}
	if _, err := hex.DecodeString(v.InfoHash); err != nil {
		return fmt.Errorf("%w: info_hash must be 40 hex digits", ErrInvalid)
	}
	if len(v.Magnet) > 8*MaxURLLen || !strings.HasPrefix(v.Magnet, "magnet:?") ||
		!strings.Contains(strings.ToLower(v.Magnet), "urn:btih:"+strings.ToLower(v.InfoHash)) {
		return fmt.Errorf("%w: magnet must be a magnet link of info_hash", ErrInvalid)
	}
	if v.Pod != "" && v.Pod != origin {
		return fmt.Errorf("%w: video pod %q is not the sender %s", ErrInvalid, v.Pod, origin)
	}
	ou, err := url.Parse(origin)
	if err != nil {
		return fmt.Errorf("%w: origin %q", ErrInvalid, origin)
	}
	for _, f := range []struct{ name, val string }{{"torrent_url", v.TorrentURL}, {"webseed_url", v.WebseedURL}} {
		if len(f.val) > MaxURLLen {
			return fmt.Errorf("%w: %s too long", ErrInvalid, f.name)
		}
		u, err := url.Parse(f.val)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, ou.Host) || u.User != nil {
			return fmt.Errorf("%w: %s must be an http(s) URL on %s", ErrInvalid, f.name, ou.Host)
		}
	}
	if v.PieceLength < 0 || v.PieceLength > 1<<26 {
		return fmt.Errorf("%w: piece_length %d out of range", ErrInvalid, v.PieceLength)
	}
	if len(v.ContentType) > 64 {
		return fmt.Errorf("%w: content_type too long", ErrInvalid)
	}
	return nil
}

// checkText checks s is valid UTF-8 of min..max runes without control
// characters (line breaks and tabs allowed when multiline).
func checkText(field, s string, min, max int, multiline bool) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, field)
	}
	n := 0
	for _, r := range s {
		n++
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return fmt.Errorf("%w: %s holds control characters", ErrInvalid, field)
		}
	}
	if n < min || n > max {
		return fmt.Errorf("%w: %s must be %d to %d characters", ErrInvalid, field, min, max)
	}
	return nil
}
