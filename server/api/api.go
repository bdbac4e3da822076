package api

import "time"

// Version is the API version this code speaks; routes live under /api/Version.
const Version = "v1"

// Rights a user may hold.
const (
	RightUpload = "upload"
	RightAdmin  = "admin"
)

// Limits of a video's text, in characters (Unicode code points). One
// definition for the API, federation and the pages' forms, so a form never
// takes what the pod then refuses.
const (
	MaxVideoNameRunes        = 120
	MaxVideoDescriptionRunes = 5000
)

// Error is the body of every 4xx/5xx answer.
type Error struct {
	Error   string `json:"error"`   // machine code, e.g. "invalid_username"
	Message string `json:"message"` // what is wrong, for a person
}

// PodInfo answers GET /api/v1/pod.
type PodInfo struct {
	Name             string   `json:"name"`
	URL              string   `json:"url"`
	SoftwareVersion  string   `json:"software_version"`
	APIVersions      []string `json:"api_versions"`
	PublicKey        string   `json:"public_key"` // PEM, PKIX RSA public key
	OpenRegistration bool     `json:"open_registration"`
	MaxUploadBytes   int64    `json:"max_upload_bytes,omitempty"`
}

// Credentials are posted to register and to log in.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Token answers a successful login.
type Token struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// User is the public view of an account.
type User struct {
	Username  string    `json:"username"`
	Rights    []string  `json:"rights"`
	CreatedAt time.Time `json:"created_at"`
	// VideoQuota is the total size in bytes the user's videos may take, and
	// VideoQuotaDaily what they may upload in any 24 hours; -1 means
	// unlimited. These are the figures in force: the user's own, else the
	// pod's defaults.
	VideoQuota      int64 `json:"video_quota"`
	VideoQuotaDaily int64 `json:"video_quota_daily"`
	// Suspended users cannot log in (an admin suspended them).
	Suspended bool `json:"suspended,omitempty"`
}

// Quota is the body of PUT /api/v1/users/{username}/quota (admin): bytes,
// -1 for unlimited, null (or absent) to go back to the pod's default.
type Quota struct {
	VideoQuota      *int64 `json:"video_quota"`
	VideoQuotaDaily *int64 `json:"video_quota_daily"`
}

// QuotaUsage answers GET /api/v1/users/me/quota: the quotas in force
// (bytes, -1 unlimited), what the user's videos take, what they uploaded in
// the last 24 hours, and their unfinished resumable uploads (counted
// against both quotas with their full length).
type QuotaUsage struct {
	VideoQuota      int64 `json:"video_quota"`
	VideoQuotaDaily int64 `json:"video_quota_daily"`
	Used            int64 `json:"video_quota_used"`
	UsedDaily       int64 `json:"video_quota_used_daily"`
	OpenUploads     int   `json:"open_uploads"`
	OpenUploadBytes int64 `json:"open_upload_bytes"`
	MaxOpenUploads  int   `json:"max_open_uploads"`
}

// Rights is the body of PUT /api/v1/users/{username}/rights.
type Rights struct {
	Rights []string `json:"rights"`
}

// UserList answers GET /api/v1/users (admin).
type UserList struct {
	Total int    `json:"total"`
	Data  []User `json:"data"`
}

// Video is the video object of the API.
type Video struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Size        int64     `json:"size"`
	InfoHash    string    `json:"info_hash"` // 40 lowercase hex digits
	Magnet      string    `json:"magnet"`
	TorrentURL  string    `json:"torrent_url"`
	WebseedURL  string    `json:"webseed_url"`
	Pod         string    `json:"pod"` // origin pod URL
	CreatedAt   time.Time `json:"created_at"`
	Owner       string    `json:"owner"`
	ContentType string    `json:"content_type,omitempty"`
	PieceLength int64     `json:"piece_length,omitempty"`
	Local       bool      `json:"local"` // true when this pod is the origin

	// Video pipeline (API.md). State is StatePublished, StateProcessing or
	// StateFailed; a video that is not published is seen by its owner (and
	// admins) only, and its torrent fields are empty.
	State      string      `json:"state"`
	Processing *Processing `json:"processing,omitempty"` // while processing
	Failure    string      `json:"failure,omitempty"`    // why processing failed, for a person
	Duration   float64     `json:"duration,omitempty"`   // seconds; 0 when unknown
	Width      int         `json:"width,omitempty"`      // of the best file, as displayed
	Height     int         `json:"height,omitempty"`

	// Images, on the origin pod, once made (absent before, and for videos
	// without a picture): a 320×180 JPEG thumbnail, an 854×480 JPEG
	// preview (the player's poster), and the storyboard, a JSON
	// {"sprite", "tile_width", "tile_height", "columns", "rows", "count",
	// "interval"} whose sprite (a URL relative to it) is a JPEG grid of
	// tiles, tile i showing the video at about i × interval seconds.
	// Their URLs are content-addressed: the bytes behind one never change.
	ThumbnailURL  string `json:"thumbnail_url,omitempty"`
	PreviewURL    string `json:"preview_url,omitempty"`
	StoryboardURL string `json:"storyboard_url,omitempty"`

	// Files are the video's resolutions, best first; each is a file of its
	// own with its own torrent, swarm and web seed. Files[0] is the file of
	// the top-level Size, InfoHash, Magnet, TorrentURL, WebseedURL,
	// ContentType and PieceLength (the original upload, or its conversion).
	// Lower resolutions are added as the pod makes them. Empty while the
	// video is not published.
	Files []VideoFile `json:"files,omitempty"`

	// Views counts viewers who watched at least 10 s (or to the end), once
	// per viewer session, as PeerTube counts them.
	Views int64 `json:"views"`

	// Mirrors are the friend pods that hold a verified copy of the video
	// and seed it (issue 18), each with its own web seed of the file.
	Mirrors []Mirror `json:"mirrors,omitempty"`
}

// Mirror is a pod holding a copy of a video it does not own: it seeds the
// same swarm (same info hash) and serves the file at WebseedURL, and the
// .torrent at TorrentURL, so the video outlives its origin.
type Mirror struct {
	Pod        string `json:"pod"`                   // the mirroring pod's URL
	WebseedURL string `json:"webseed_url"`           // its web seed of the best file (HTTP ranges)
	TorrentURL string `json:"torrent_url,omitempty"` // the best file's .torrent as it serves it
	// Files are the lower resolutions it holds too (Video.Files after the
	// first), by info hash; absent when it holds the best file only.
	Files []MirrorFile `json:"files,omitempty"`
}

// MirrorFile is a lower resolution a mirror holds (Mirror.Files): the
// file of InfoHash, served at WebseedURL, its .torrent at TorrentURL.
type MirrorFile struct {
	InfoHash   string `json:"info_hash"` // 40 lower-case hex digits: one of Video.Files
	WebseedURL string `json:"webseed_url"`
	TorrentURL string `json:"torrent_url"`
}

// VideoFile is one resolution of a video (Video.Files).
type VideoFile struct {
	// Resolution is the short side in pixels, as displayed: 720 for
	// 1280×720 and for a vertical 720×1280; 0 when unknown (a pod without
	// ffprobe). Distinct within a video.
	Resolution  int    `json:"resolution"`
	Width       int    `json:"width,omitempty"` // as displayed, pixels; 0 when unknown
	Height      int    `json:"height,omitempty"`
	Size        int64  `json:"size"`      // bytes
	InfoHash    string `json:"info_hash"` // 40 lowercase hex digits, BEP 3 (v1)
	Magnet      string `json:"magnet"`
	TorrentURL  string `json:"torrent_url"`
	WebseedURL  string `json:"webseed_url"` // BEP 19 url-list entry: the file itself
	ContentType string `json:"content_type,omitempty"`
	PieceLength int64  `json:"piece_length,omitempty"`
}

// BestFile returns v's top-level torrent fields as a VideoFile: the
// first of Files.
func BestFile(v Video) VideoFile {
	res := min(v.Width, v.Height)
	return VideoFile{Resolution: res, Width: v.Width, Height: v.Height, Size: v.Size, InfoHash: v.InfoHash,
		Magnet: v.Magnet, TorrentURL: v.TorrentURL, WebseedURL: v.WebseedURL, ContentType: v.ContentType, PieceLength: v.PieceLength}
}

// Uploaded answers an upload (POST /api/v1/videos, the tus finish): the
// video, and Duplicates, this pod's other videos with exactly the same
// bytes under another name (the same name too would be the same torrent,
// refused with 409 duplicate_video), oldest first, so the uploader is told.
type Uploaded struct {
	Video
	Duplicates []VideoRef `json:"duplicates,omitempty"`
}

// VideoRef names a video: its id, name and watch page.
type VideoRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Video states.
const (
	StatePublished  = "published"
	StateProcessing = "processing"
	StateFailed     = "failed"
)

// Processing is a processing video's progress: Progress from 0 to 1 over
// the whole job, Step a word for people ("queued", "transcoding 720p").
type Processing struct {
	Progress float64 `json:"progress"`
	Step     string  `json:"step"`
}

// Job is one job of the video pipeline, as GET /api/v1/jobs (admin)
// lists it: Kind is "transcode", "images", or another kind of background
// work; Name the video's name; Progress 0..1 and Step while running;
// Error why a failed job failed, for a person. Finished jobs are those of
// the pod's current run.
type Job struct {
	Kind       string    `json:"kind"`
	Video      string    `json:"video"`
	Name       string    `json:"name,omitempty"`
	Resolution int       `json:"resolution,omitempty"`
	State      string    `json:"state"`
	Progress   float64   `json:"progress"`
	Step       string    `json:"step,omitempty"`
	QueuedAt   time.Time `json:"queued_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Error      string    `json:"error,omitempty"`
}

// Job states. An interrupted job (a stop, or the pod's own trouble) is
// queued again and runs at the next start.
const (
	JobQueued      = "queued"
	JobRunning     = "running"
	JobDone        = "done"
	JobFailed      = "failed"
	JobInterrupted = "interrupted"
)

// JobList answers GET /api/v1/jobs: the running jobs, the first 100
// queued ones in the order workers take them, then the last 50 finished,
// newest first. Queued and Running count them all.
type JobList struct {
	Queued  int   `json:"queued"`
	Running int   `json:"running"`
	Total   int   `json:"total"` // jobs listed in all; Data is one page (?start=&count=)
	Data    []Job `json:"data"`
}

// VideoList answers listing and search.
type VideoList struct {
	Total int     `json:"total"`
	Data  []Video `json:"data"`
}

// Friend is one entry of GET /api/v1/pods: a friend, an introduction
// waiting for this pod's admin, or an ejected pod.
type Friend struct {
	URL   string `json:"url"`
	Name  string `json:"name"`
	Score int    `json:"score"`
	// Status is "pending" (an introduction waiting for this pod's admin),
	// "refused", "requested" (waiting for the other pod's admin),
	// "syncing", "active", "unreachable" or "ejected".
	Status      string    `json:"status"`
	LastSeen    time.Time `json:"last_seen,omitzero"`    // absent: never seen
	RequestedAt time.Time `json:"requested_at,omitzero"` // pending and refused
	Pending     int       `json:"pending_events"`
	Videos      int       `json:"videos"` // the friend's videos kept here
}

// FriendList answers GET /api/v1/pods.
type FriendList struct {
	Total int      `json:"total"` // all entries; Data is one page (?start=&count=)
	Data  []Friend `json:"data"`
}

// MakeFriends is the body of POST /api/v1/pods/makefriends.
type MakeFriends struct {
	Pods []string `json:"pods"`
}

// MakeFriendsResult reports, per named pod, whether friendship was set up.
type MakeFriendsResult struct {
	Friends []Friend `json:"friends"`
	// Requested lists pods that keep the introduction until their admin
	// accepts it.
	Requested []string          `json:"requested,omitempty"`
	Errors    map[string]string `json:"errors,omitempty"` // pod URL → reason
}

// ICEServer is a WebRTC RTCIceServer dictionary (W3C WebRTC section 4.2.4),
// as pages pass it to RTCPeerConnection and pion's webrtc.ICEServer decodes
// it: urls are stun:, stuns:, turn: or turns: URIs (RFC 7064, RFC 7065).
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ICEServers answers GET /api/v1/webrtc/ice-servers: the servers a page
// should give RTCPeerConnection, and for how many seconds their
// credentials stay valid (0: no credentials expire).
type ICEServers struct {
	ICEServers []ICEServer `json:"ice_servers"`
	TTL        int64       `json:"ttl"`
}
