package mirrors

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/server/videos"
	"github.com/swarmtube/swarmtube/shared/media"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// Strategies (Config.Strategy, --mirror-strategy).
const (
	StrategyMostViewed = "most-viewed"
	StrategyNewest     = "newest"
	StrategyManual     = "manual"
)

// Mirror states.
const (
	StateWanted = "wanted"
	StateHeld   = "held"
)

const (
	bucketMirrors = "mirrors" // video id here → record JSON
	// bucketChecked holds this pod's own videos that friends mirror: the
	// ones checkMirrors visits (id → pod URLs, JSON).
	bucketChecked = "mirrors_checked"
)

const (
	// maxTorrentBytes bounds a .torrent fetched from an origin or mirror;
	// a larger one is refused.
	maxTorrentBytes = 4 << 20
	// requestTimeout bounds one .torrent fetch or range check: the
	// guarded client has no timeout of its own.
	requestTimeout = 30 * time.Second
)

// Config configures a Manager. Zero values take the defaults noted.
type Config struct {
	SelfURL string // this pod's public base URL
	Dir     string // where mirrored files and torrents live
	// MaxBytes bounds mirrored files on disk; 0 turns mirroring off.
	MaxBytes    int64
	Strategy    string        // StrategyMostViewed, StrategyNewest or StrategyManual (default)
	MinLifetime time.Duration // a held mirror is not evicted sooner (24 h)
	Interval    time.Duration // between policy passes (5 min)
	// FetchTimeout bounds one fetch attempt (1 h); a failed one is
	// retried at the next pass.
	FetchTimeout time.Duration
	// HTTPClient fetches .torrent files and checks friends' copies: the
	// pod's one guarded client (federation.NewClient; URLs come from
	// friends). Required.
	HTTPClient *http.Client
	// Penalize lowers a friend's score (federation's Service.Penalize): a
	// mirror that fails a check costs its pod score, as a failed delivery
	// does. Called from Run only; nil: failed checks are only logged.
	Penalize func(friend, reason string)
	Now      func() time.Time
}

// Catalog is what mirrors need from the video catalogue (server/videos).
type Catalog interface {
	Get(id string) (api.Video, error)
	List(start, count int) (api.VideoList, error)
	VideoKey(origin, id string) (string, bool)
	LocalTorrent(id string, resolution int) ([]byte, error)
	SetMirrorTx(tx *bolt.Tx, pod string, m fedproto.MirrorRef, add bool) (bool, error)
	DropMirrorsOfTx(tx *bolt.Tx, pod string) error
}

// Outbox queues federation events (server/federation).
type Outbox interface {
	EnqueueMirrorTx(tx *bolt.Tx, kind string, m fedproto.MirrorRef) error
}

// Seeder fetches and seeds files (server/seeder).
type Seeder interface {
	Fetch(ctx context.Context, torrentBytes []byte, partPath string, webSeeds []string) error
	FetchProgress(infoHash [20]byte) (missing int64, ok bool)
	Register(infoHash [20]byte, torrentPath, filePath string) error
	Touch(infoHash [20]byte)
	Remove(infoHash [20]byte) error
}

// record is one mirror.
type record struct {
	Key      string    `json:"key"` // the video's id here
	Origin   string    `json:"origin"`
	OriginID string    `json:"origin_id"`
	InfoHash string    `json:"info_hash"`
	Name     string    `json:"name"`
	Ext      string    `json:"ext"` // ".mp4", ".webm", ...
	Size     int64     `json:"size"`
	State    string    `json:"state"`
	Picked   bool      `json:"picked,omitempty"`
	AddedAt  time.Time `json:"added_at"`
	HeldAt   time.Time `json:"held_at,omitzero"`
	// Lower are the video's lower resolutions this mirror holds or
	// fetches, best first, within the budget (plan's grow step); they are
	// fetched once the best file is held. Records from before resolutions
	// have none.
	Lower []lowerFile `json:"lower,omitempty"`
}

// lowerFile is one lower resolution of a mirrored video (a rendition,
// api.Video.Files after the first): a file of its own, with its own
// torrent, swarm and web seed, stored as <dir>/<infohash>.<ext>.
type lowerFile struct {
	Resolution int    `json:"resolution"` // short side, pixels
	InfoHash   string `json:"info_hash"`
	Ext        string `json:"ext"`
	Size       int64  `json:"size"`
	Held       bool   `json:"held,omitempty"`
}

func (r *record) ih() [20]byte { return hexIH(r.InfoHash) }

func hexIH(s string) [20]byte {
	var ih [20]byte
	_, _ = hex.Decode(ih[:], []byte(s))
	return ih
}

// bytes is what r takes of the budget: its best file and its lower
// resolutions, fetched or not.
func (r *record) bytes() int64 {
	n := r.Size
	for _, f := range r.Lower {
		n += f.Size
	}
	return n
}

// files lists r's files (best first) by info hash and extension.
func (r *record) files() []fileName {
	out := []fileName{{r.InfoHash, r.Ext, r.Key}}
	for _, f := range r.Lower {
		out = append(out, fileName{f.InfoHash, f.Ext, fetchKey(r.Key, f.InfoHash)})
	}
	return out
}

// fileName names one mirrored file: <infohash><ext> on disk and on the
// web seed, <infohash>.torrent and .part beside it; Fetch is its key in
// Manager.fetching while it is fetched.
type fileName struct{ InfoHash, Ext, Fetch string }

// fetchKey names a fetch under way in Manager.fetching: the record's key
// for its best file, key/infohash for a lower resolution.
func fetchKey(key, lowerIH string) string {
	if lowerIH == "" {
		return key
	}
	return key + "/" + lowerIH
}

// Manager keeps this pod's mirrors. It is safe for concurrent use.
type Manager struct {
	cfg     Config
	st      *store.Store
	cat     Catalog
	out     Outbox
	seeder  Seeder
	log     *slog.Logger
	metrics *metrics
	kick    chan struct{}

	mu       sync.Mutex // guards the following fields
	fetching map[string]context.CancelFunc
	held     map[string]string // web seed file name → path, held mirrors
	failures map[string]int    // consecutive failed fetches by key

	lastCheck time.Time // of checkMirrors; Run's goroutine only
}

// New opens the mirrors bucket. cat, out and seeder are required.
func New(cfg Config, st *store.Store, cat Catalog, out Outbox, seeder Seeder, log *slog.Logger, reg prometheus.Registerer) (*Manager, error) {
	switch cfg.Strategy {
	case "":
		cfg.Strategy = StrategyManual
	case StrategyMostViewed, StrategyNewest, StrategyManual:
	default:
		return nil, fmt.Errorf("mirrors: strategy %q is not most-viewed, newest or manual", cfg.Strategy)
	}
	if cfg.MaxBytes < 0 {
		return nil, errors.New("mirrors: negative budget")
	}
	cfg.SelfURL = strings.TrimRight(cfg.SelfURL, "/")
	cfg.MinLifetime = cmp.Or(cfg.MinLifetime, 24*time.Hour)
	cfg.Interval = cmp.Or(cfg.Interval, 5*time.Minute)
	cfg.FetchTimeout = cmp.Or(cfg.FetchTimeout, time.Hour)
	if cfg.HTTPClient == nil {
		return nil, errors.New("mirrors: no HTTP client (federation.NewClient)")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("mirrors: %w", err)
	}
	if err := st.Buckets(bucketMirrors, bucketChecked, bucketEarly, bucketSuspended); err != nil {
		return nil, err
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Manager{cfg: cfg, st: st, cat: cat, out: out, seeder: seeder, log: log,
		kick: make(chan struct{}, 1), fetching: map[string]context.CancelFunc{}, held: map[string]string{}, failures: map[string]int{}}
	var err error
	if m.metrics, err = newMetrics(reg, m); err != nil {
		return nil, err
	}
	recs, err := m.records()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.State == StateHeld {
			m.held[r.InfoHash+r.Ext] = m.filePath(&r)
		}
		for _, f := range r.Lower {
			if f.Held {
				m.held[f.InfoHash+f.Ext] = filepath.Join(cfg.Dir, f.InfoHash+f.Ext)
			}
		}
	}
	return m, nil
}

// Enabled reports whether this pod mirrors at all (a budget is set).
func (m *Manager) Enabled() bool { return m.cfg.MaxBytes > 0 }

func (m *Manager) filePath(r *record) string {
	return m.filePathOf(fileName{InfoHash: r.InfoHash, Ext: r.Ext})
}
func (m *Manager) torrentPath(r *record) string {
	return filepath.Join(m.cfg.Dir, r.InfoHash+".torrent")
}
func (m *Manager) filePathOf(f fileName) string { return filepath.Join(m.cfg.Dir, f.InfoHash+f.Ext) }

func (m *Manager) webseedURL(r *record) string {
	return m.webseedOf(fileName{InfoHash: r.InfoHash, Ext: r.Ext})
}
func (m *Manager) webseedOf(f fileName) string {
	return m.cfg.SelfURL + "/static/webseed/" + f.InfoHash + f.Ext
}

// ref is how r is announced: its best file, and the lower resolutions
// it holds (none for a wanted mirror's unheld files).
func (m *Manager) ref(r *record) fedproto.MirrorRef {
	torrentURL := m.cfg.SelfURL + "/api/" + api.Version + "/videos/" + r.Key + "/torrent"
	ref := fedproto.MirrorRef{VideoPod: r.Origin, VideoID: r.OriginID, InfoHash: r.InfoHash,
		WebseedURL: m.webseedURL(r), TorrentURL: torrentURL}
	for _, f := range r.Lower {
		if f.Held && len(ref.Files) < fedproto.MaxMirrorFiles {
			ref.Files = append(ref.Files, api.MirrorFile{InfoHash: f.InfoHash,
				WebseedURL: m.webseedOf(fileName{InfoHash: f.InfoHash, Ext: f.Ext}),
				TorrentURL: torrentURL + "?resolution=" + strconv.Itoa(f.Resolution)})
		}
	}
	return ref
}

// ResolveWebseed maps a web seed file name to a held mirror's file
// (server/webseed serves it); wanted mirrors are never served.
func (m *Manager) ResolveWebseed(name string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.held[name]
	return p, ok
}

// Torrent returns the .torrent of the held mirror of the video id here:
// of its best file (infoHash empty or the best file's) or of a lower
// resolution it holds (infoHash that file's, 40 lower-case hex digits).
func (m *Manager) Torrent(id, infoHash string) ([]byte, bool) {
	var r *record
	_ = m.st.View(func(tx *bolt.Tx) error {
		r, _ = getTx(tx, id)
		return nil
	})
	if r == nil || r.State != StateHeld {
		return nil, false
	}
	if infoHash != "" && infoHash != r.InfoHash &&
		!slices.ContainsFunc(r.Lower, func(f lowerFile) bool { return f.Held && f.InfoHash == infoHash }) {
		return nil, false
	}
	data, err := os.ReadFile(filepath.Join(m.cfg.Dir, cmp.Or(infoHash, r.InfoHash)+".torrent"))
	if err != nil {
		m.log.Warn("mirrors: read torrent", "video", id, "err", err)
		return nil, false
	}
	return data, true
}

func getTx(tx *bolt.Tx, key string) (*record, error) {
	var r record
	if err := store.GetJSON(tx.Bucket([]byte(bucketMirrors)), []byte(key), &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func putTx(tx *bolt.Tx, r *record) error {
	return store.PutJSON(tx.Bucket([]byte(bucketMirrors)), []byte(r.Key), r)
}

// records returns every mirror.
func (m *Manager) records() ([]record, error) {
	var out []record
	err := m.st.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketMirrors))
		return b.ForEach(func(k, _ []byte) error {
			var r record
			if err := store.GetJSON(b, k, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// signal wakes the policy loop.
func (m *Manager) signal() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Run registers held mirrors with the seeder, then runs policy passes and
// fetches until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	recs, err := m.records()
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.State != StateHeld {
			continue
		}
		if _, err := os.Stat(m.filePath(&r)); err != nil {
			m.log.Warn("mirrors: a held file is gone; dropping the mirror", "video", r.Key, "err", err)
			m.drop(r.Key, "file gone", true)
			continue
		}
		if err := m.seeder.Register(r.ih(), m.torrentPath(&r), m.filePath(&r)); err != nil {
			m.log.Warn("mirrors: register with the seeder", "video", r.Key, "err", err)
		}
		for _, f := range r.Lower {
			if !f.Held {
				continue
			}
			fn := fileName{InfoHash: f.InfoHash, Ext: f.Ext}
			if _, err := os.Stat(m.filePathOf(fn)); err != nil {
				m.log.Warn("mirrors: a held file is gone; dropping it", "video", r.Key, "resolution", f.Resolution, "err", err)
				m.shedLower(r.Key, f.InfoHash, "file gone")
				continue
			}
			if err := m.seeder.Register(hexIH(f.InfoHash), filepath.Join(m.cfg.Dir, f.InfoHash+".torrent"), m.filePathOf(fn)); err != nil {
				m.log.Warn("mirrors: register with the seeder", "video", r.Key, "resolution", f.Resolution, "err", err)
			}
		}
	}
	tick := time.NewTicker(m.cfg.Interval)
	defer tick.Stop()
	for {
		m.pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-m.kick:
		}
	}
}

// Close cancels fetches under way. Run's context ending does too.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, cancel := range m.fetching {
		cancel()
	}
	return nil
}

// pass applies the policy once and fetches what is wanted, one file at a
// time: wanted mirrors' best files, and the lower resolutions of any
// mirror not fetched yet (a rendition its origin made later).
func (m *Manager) pass(ctx context.Context) {
	// An origin checks its friends' copies whether or not it mirrors.
	if now := m.cfg.Now(); now.Sub(m.lastCheck) >= m.cfg.Interval {
		m.lastCheck = now
		m.checkMirrors(ctx)
		m.pruneEarly()
	}
	if !m.Enabled() {
		return
	}
	if err := m.plan(); err != nil {
		m.log.Warn("mirrors: policy pass", "err", err)
	}
	recs, err := m.records()
	if err != nil {
		m.log.Warn("mirrors: read records", "err", err)
		return
	}
	for _, r := range recs {
		if ctx.Err() != nil {
			return
		}
		if r.State == StateWanted || slices.ContainsFunc(r.Lower, func(f lowerFile) bool { return !f.Held }) {
			m.fetch(ctx, r)
		}
	}
}

// score is how useful a mirror of v is under the strategy: higher is
// kept longer and mirrored first.
func (m *Manager) score(v api.Video, picked bool) float64 {
	switch m.cfg.Strategy {
	case StrategyNewest:
		return float64(v.CreatedAt.Unix())
	case StrategyManual:
		if picked {
			return 1e18 + float64(v.Views)
		}
	}
	return float64(v.Views)
}

// plan drops mirrors that are no longer wanted (unpicked under manual,
// past their minimum lifetime; their video gone here) and, under an
// automatic strategy, adds the most useful friends' videos that fit.
func (m *Manager) plan() error {
	recs, err := m.records()
	if err != nil {
		return err
	}
	now := m.cfg.Now()
	for _, r := range recs {
		if _, err := m.cat.Get(r.Key); errors.Is(err, videos.ErrNotFound) {
			m.drop(r.Key, "the video is gone", true)
			continue
		}
		if m.cfg.Strategy == StrategyManual && !r.Picked && m.evictable(&r, now) {
			m.drop(r.Key, "unpicked", false)
		}
	}
	if m.cfg.Strategy == StrategyManual {
		return m.grow()
	}
	var cands []api.Video
	for start := 0; ; start += 100 {
		page, err := m.cat.List(start, 100)
		if err != nil {
			return err
		}
		for _, v := range page.Data {
			if !v.Local && v.State == api.StatePublished && v.Size > 0 && v.Size <= m.cfg.MaxBytes {
				cands = append(cands, v)
			}
		}
		if len(page.Data) < 100 {
			break
		}
	}
	slices.SortStableFunc(cands, func(a, b api.Video) int { return cmp.Compare(m.score(b, false), m.score(a, false)) })
	for _, v := range cands {
		if _, err := m.admit(v, false); err != nil && !errors.Is(err, errBudget) && !errors.Is(err, errExists) {
			m.log.Warn("mirrors: admit", "video", v.ID, "err", err)
		}
	}
	return m.grow()
}

// grow adds to mirrors the lower resolutions of their videos that fit in
// the room left, after every best file (plan admits those first): most
// useful mirror first, each video's resolutions best first, a file that
// does not fit skipped. It evicts nothing, and under manual grows only
// picked mirrors (an unpicked one waits out its minimum lifetime).
func (m *Manager) grow() error {
	recs, err := m.records()
	if err != nil {
		return err
	}
	type cand struct {
		key   string
		f     api.VideoFile
		score float64
	}
	var cands []cand
	for _, r := range recs {
		if m.cfg.Strategy == StrategyManual && !r.Picked {
			continue
		}
		v, err := m.cat.Get(r.Key)
		if err != nil || v.InfoHash != r.InfoHash {
			continue
		}
		for _, f := range v.Files[min(1, len(v.Files)):] {
			if f.InfoHash != "" && !slices.ContainsFunc(r.Lower, func(x lowerFile) bool { return x.InfoHash == f.InfoHash }) {
				cands = append(cands, cand{r.Key, f, m.score(v, r.Picked)})
			}
		}
	}
	if len(cands) == 0 {
		return nil
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(b.score, a.score) })
	added := 0
	err = m.st.Update(func(tx *bolt.Tx) error {
		added = 0
		used, err := usedTx(tx)
		if err != nil {
			return err
		}
		for _, c := range cands {
			if used+c.f.Size > m.cfg.MaxBytes {
				continue
			}
			r, err := getTx(tx, c.key)
			if err != nil {
				continue //nolint:nilerr // dropped meanwhile
			}
			r.Lower = append(r.Lower, lowerFile{Resolution: c.f.Resolution, InfoHash: c.f.InfoHash, Ext: extOf(c.f.WebseedURL), Size: c.f.Size})
			slices.SortStableFunc(r.Lower, func(a, b lowerFile) int { return cmp.Compare(b.Resolution, a.Resolution) })
			if err := putTx(tx, r); err != nil {
				return err
			}
			used += c.f.Size
			added++
		}
		return nil
	})
	if err == nil && added > 0 {
		m.log.Info("mirroring lower resolutions of mirrored videos", "files", added)
	}
	return err
}

// usedTx sums the budget every mirror takes.
func usedTx(tx *bolt.Tx) (int64, error) {
	var used int64
	b := tx.Bucket([]byte(bucketMirrors))
	err := b.ForEach(func(k, _ []byte) error {
		var r record
		if err := store.GetJSON(b, k, &r); err != nil {
			return err
		}
		used += r.bytes()
		return nil
	})
	return used, err
}

// extOf returns the file extension of a web seed URL, ".mp4" when it has
// none a browser plays.
func extOf(webseed string) string {
	ext := strings.ToLower(path.Ext(urlPath(webseed)))
	if ext == "" || media.TypeByName("x"+ext) == "" {
		ext = ".mp4"
	}
	return ext
}

func (m *Manager) evictable(r *record, now time.Time) bool {
	since := r.HeldAt
	if r.State != StateHeld {
		since = r.AddedAt
	}
	return now.Sub(since) >= m.cfg.MinLifetime
}

var (
	errBudget = errors.New("mirrors: over budget")
	errExists = errors.New("mirrors: mirrored already")
)

// admit makes v (a friend's video, by its id here) a wanted mirror if it
// fits the budget, evicting less useful mirrors past their minimum
// lifetime, least useful first. It returns the record, or errExists /
// errBudget.
func (m *Manager) admit(v api.Video, picked bool) (*record, error) {
	if v.Local {
		return nil, errNotRemote
	}
	ext := extOf(v.WebseedURL)
	key := v.ID
	origin, originID, ok := m.originOf(v)
	if !ok {
		return nil, fmt.Errorf("mirrors: %s has no origin id", v.ID)
	}
	now := m.cfg.Now()
	rec := &record{Key: key, Origin: origin, OriginID: originID, InfoHash: v.InfoHash, Name: v.Name, Ext: ext,
		Size: v.Size, State: StateWanted, Picked: picked, AddedAt: now}
	var victims, shed []string // keys; key/infohash of lower files
	err := m.st.Update(func(tx *bolt.Tx) error {
		victims, shed = nil, nil
		if old, err := getTx(tx, key); err == nil {
			if picked && !old.Picked {
				old.Picked = true
				if err := putTx(tx, old); err != nil {
					return err
				}
				*rec = *old
				return nil
			}
			*rec = *old
			return errExists
		}
		// Room is made from lower resolutions first, any mirror's (least
		// useful mirror first, lowest resolution first): a best file is
		// worth more than another video's lower one, and the minimum
		// lifetime protects a mirror's best file. Then whole mirrors
		// less useful than v and past their minimum lifetime.
		var used int64
		type cand struct {
			key   string
			ih    string // a lower file's; "" for the whole mirror
			res   int
			size  int64
			score float64
		}
		var lower, whole []cand
		mine := m.score(v, picked)
		b := tx.Bucket([]byte(bucketMirrors))
		if err := b.ForEach(func(k, _ []byte) error {
			var r record
			if err := store.GetJSON(b, k, &r); err != nil {
				return err
			}
			used += r.bytes()
			score := -1.0
			if sv, err := m.cat.Get(r.Key); err == nil {
				score = m.score(sv, r.Picked)
			}
			for _, f := range r.Lower {
				lower = append(lower, cand{r.Key, f.InfoHash, f.Resolution, f.Size, score})
			}
			if r.State == StateHeld && m.evictable(&r, now) && score < mine {
				whole = append(whole, cand{key: r.Key, size: r.Size, score: score})
			}
			return nil
		}); err != nil {
			return err
		}
		slices.SortFunc(lower, func(a, b cand) int { return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.res, b.res)) })
		slices.SortFunc(whole, func(a, b cand) int { return cmp.Compare(a.score, b.score) })
		for _, c := range append(lower, whole...) {
			if used+v.Size <= m.cfg.MaxBytes {
				break
			}
			if c.ih != "" {
				shed = append(shed, fetchKey(c.key, c.ih))
			} else {
				victims = append(victims, c.key)
			}
			used -= c.size
		}
		if used+v.Size > m.cfg.MaxBytes {
			victims, shed = nil, nil
			return errBudget
		}
		for _, k := range shed { // in this transaction: the room is v's
			key, ih, _ := strings.Cut(k, "/")
			if err := m.shedLowerTx(tx, key, ih); err != nil {
				return err
			}
		}
		return putTx(tx, rec)
	})
	if err != nil {
		return rec, err
	}
	for _, k := range victims {
		m.drop(k, "evicted for a more useful video", false)
	}
	m.log.Info("mirroring a friend's video", "video", key, "origin", origin, "bytes", v.Size, "evicted", len(victims), "lower_resolutions_evicted", len(shed))
	m.signal()
	return rec, nil
}

func urlPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Path
}

// originOf finds the id a friend's video has at its origin: the key here
// is derived from it, so the origin's torrent URL names it.
func (m *Manager) originOf(v api.Video) (origin, id string, ok bool) {
	origin = v.Pod
	// The origin's torrent URL is <origin>/api/v1/videos/<id>/torrent.
	rest, found := strings.CutPrefix(v.TorrentURL, origin+"/api/"+api.Version+"/videos/")
	if !found {
		return "", "", false
	}
	id, _, _ = strings.Cut(rest, "/")
	if key, ok := m.cat.VideoKey(origin, id); !ok || key != v.ID {
		return "", "", false
	}
	return origin, id, true
}

// drop removes a mirror: its record, and for a held one, this pod from
// the video's mirrors with an unmirror event, in one transaction; then
// its files and seeding. force drops a mirror younger than its minimum
// lifetime (the video is gone); without it such a mirror is kept.
func (m *Manager) drop(key, why string, force bool) {
	var r *record
	err := m.st.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = getTx(tx, key); err != nil {
			r = nil
			return nil
		}
		if !force && !m.evictable(r, m.cfg.Now()) {
			r = nil
			return nil
		}
		return m.dropTx(tx, r)
	})
	if err != nil {
		m.log.Warn("mirrors: drop", "video", key, "err", err)
		return
	}
	if r != nil {
		m.log.Info("dropped a mirror", "video", key, "origin", r.Origin, "why", why)
	}
}

// dropTx deletes r inside tx; its files go once tx commits.
func (m *Manager) dropTx(tx *bolt.Tx, r *record) error {
	if err := tx.Bucket([]byte(bucketMirrors)).Delete([]byte(r.Key)); err != nil {
		return err
	}
	if r.State == StateHeld {
		ref := m.ref(r)
		if _, err := m.cat.SetMirrorTx(tx, m.cfg.SelfURL, ref, false); err != nil && !errors.Is(err, fedproto.ErrInvalid) {
			return err
		}
		if err := m.out.EnqueueMirrorTx(tx, fedproto.EventUnmirror, ref); err != nil {
			return err
		}
	}
	m.removeOnCommit(tx, r.Key, r.files())
	return nil
}

// removeOnCommit stops serving, fetching and seeding files of the mirror
// key and deletes them once tx commits.
func (m *Manager) removeOnCommit(tx *bolt.Tx, key string, files []fileName) {
	tx.OnCommit(func() {
		m.mu.Lock()
		for _, f := range files {
			delete(m.held, f.InfoHash+f.Ext)
			if cancel, ok := m.fetching[f.Fetch]; ok {
				cancel()
			}
		}
		m.mu.Unlock()
		go m.removeFiles(key, files)
	})
}

// removeFiles stops seeding files of the mirror key and deletes them.
func (m *Manager) removeFiles(key string, files []fileName) {
	for _, f := range files {
		// A fetch being cancelled drops its torrent from the client first.
		for range 50 {
			m.mu.Lock()
			_, busy := m.fetching[f.Fetch]
			m.mu.Unlock()
			if !busy {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := m.seeder.Remove(hexIH(f.InfoHash)); err != nil {
			m.log.Warn("mirrors: stop seeding", "video", key, "err", err)
		}
		for _, p := range []string{m.filePathOf(f), filepath.Join(m.cfg.Dir, f.InfoHash+".part"), filepath.Join(m.cfg.Dir, f.InfoHash+".torrent")} {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				m.log.Warn("mirrors: remove file", "err", err)
			}
		}
	}
}

// shedLower takes the lower resolution ih off the mirror key.
func (m *Manager) shedLower(key, ih, why string) {
	err := m.st.Update(func(tx *bolt.Tx) error { return m.shedLowerTx(tx, key, ih) })
	if err != nil {
		m.log.Warn("mirrors: drop a lower resolution", "video", key, "err", err)
		return
	}
	m.log.Info("dropped a lower resolution of a mirror", "video", key, "info_hash", ih, "why", why)
}

// shedLowerTx takes the lower resolution ih off the mirror key inside tx;
// a held one is announced gone (a new mirror event lists what is left)
// and its files go once tx commits. A record or file gone is no error.
func (m *Manager) shedLowerTx(tx *bolt.Tx, key, ih string) error {
	r, err := getTx(tx, key)
	if err != nil {
		return nil //nolint:nilerr // dropped meanwhile
	}
	i := slices.IndexFunc(r.Lower, func(f lowerFile) bool { return f.InfoHash == ih })
	if i < 0 {
		return nil
	}
	f := r.Lower[i]
	r.Lower = slices.Delete(r.Lower, i, i+1)
	if err := putTx(tx, r); err != nil {
		return err
	}
	if f.Held && r.State == StateHeld {
		if err := m.announceTx(tx, r); err != nil {
			return err
		}
	}
	m.removeOnCommit(tx, key, []fileName{{f.InfoHash, f.Ext, fetchKey(key, ih)}})
	return nil
}

// announceTx lists this pod's copy r (held) on its video and queues a
// mirror event for every friend, inside tx.
func (m *Manager) announceTx(tx *bolt.Tx, r *record) error {
	ref := m.ref(r)
	if _, err := m.cat.SetMirrorTx(tx, m.cfg.SelfURL, ref, true); err != nil {
		return err
	}
	return m.out.EnqueueMirrorTx(tx, fedproto.EventMirror, ref)
}

// fetch takes the best file of r (a wanted mirror), then, once that is
// held, the lower resolutions of r not held yet, best first.
func (m *Manager) fetch(ctx context.Context, r record) {
	v, err := m.cat.Get(r.Key)
	if err != nil {
		return // plan drops it
	}
	if r.State == StateWanted && !m.fetchFile(ctx, r, v, "") {
		return
	}
	for _, f := range r.Lower {
		if ctx.Err() != nil {
			return
		}
		if !f.Held {
			m.fetchFile(ctx, r, v, f.InfoHash)
		}
	}
}

// fetchFile takes one file of the mirror r, the best (lowerIH empty) or
// a lower resolution, and its .torrent, then makes it held: the best
// file makes the mirror held, and a held mirror's new file is announced
// again with every file it holds. It reports whether the file is held.
func (m *Manager) fetchFile(ctx context.Context, r record, v api.Video, lowerIH string) bool {
	fn := fileName{r.InfoHash, r.Ext, r.Key}
	src := api.BestFile(v)
	var res int
	if lowerIH != "" {
		i := slices.IndexFunc(r.Lower, func(f lowerFile) bool { return f.InfoHash == lowerIH })
		j := slices.IndexFunc(v.Files, func(f api.VideoFile) bool { return f.InfoHash == lowerIH })
		if i < 0 {
			return false
		}
		if j < 1 {
			m.shedLower(r.Key, lowerIH, "the origin no longer lists it")
			return false
		}
		fn, src, res = fileName{lowerIH, r.Lower[i].Ext, fetchKey(r.Key, lowerIH)}, v.Files[j], r.Lower[i].Resolution
	}
	log := m.log.With("video", r.Key, "resolution", res)
	ctx, cancel := context.WithTimeout(ctx, m.cfg.FetchTimeout)
	defer cancel()
	m.mu.Lock()
	m.fetching[fn.Fetch] = cancel
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.fetching, fn.Fetch)
		m.mu.Unlock()
	}()
	begin := time.Now()
	urls := []string{src.TorrentURL}
	seeds := []string{src.WebseedURL}
	for _, mi := range v.Mirrors {
		if mi.Pod == m.cfg.SelfURL {
			continue
		}
		if lowerIH == "" {
			seeds = append(seeds, mi.WebseedURL)
			if mi.TorrentURL != "" {
				urls = append(urls, mi.TorrentURL)
			}
			continue
		}
		for _, mf := range mi.Files {
			if mf.InfoHash == lowerIH {
				seeds, urls = append(seeds, mf.WebseedURL), append(urls, mf.TorrentURL)
			}
		}
	}
	part := filepath.Join(m.cfg.Dir, fn.InfoHash+".part")
	torrentPath := filepath.Join(m.cfg.Dir, fn.InfoHash+".torrent")
	tb, err := m.torrent(ctx, fn, r.Origin, urls, src.WebseedURL)
	if err == nil {
		err = m.seeder.Fetch(ctx, tb, part, seeds)
	}
	if err == nil {
		err = os.Rename(part, m.filePathOf(fn))
	}
	if err == nil {
		err = m.seeder.Register(hexIH(fn.InfoHash), torrentPath, m.filePathOf(fn))
	}
	if err != nil {
		m.mu.Lock()
		m.failures[fn.Fetch]++
		n := m.failures[fn.Fetch]
		m.mu.Unlock()
		m.metrics.failures.Inc()
		log.Warn("mirrors: fetch failed; retried at the next pass", "failures", n, "err", err)
		return false
	}
	// Servable before the record says held and the friends are told, so
	// no one who reads "held" gets a 404 from the web seed; taken back if
	// the record is not written.
	m.mu.Lock()
	m.held[fn.InfoHash+fn.Ext] = m.filePathOf(fn)
	m.mu.Unlock()
	err = m.st.Update(func(tx *bolt.Tx) error {
		cur, err := getTx(tx, r.Key)
		if err != nil {
			return errGone
		}
		if lowerIH == "" {
			cur.State, cur.HeldAt = StateHeld, m.cfg.Now()
		} else {
			i := slices.IndexFunc(cur.Lower, func(f lowerFile) bool { return f.InfoHash == lowerIH })
			if i < 0 {
				return errGone
			}
			cur.Lower[i].Held = true
		}
		if err := putTx(tx, cur); err != nil {
			return err
		}
		if cur.State != StateHeld {
			return nil
		}
		return m.announceTx(tx, cur)
	})
	if err != nil {
		m.mu.Lock()
		delete(m.held, fn.InfoHash+fn.Ext)
		m.mu.Unlock()
	}
	if errors.Is(err, errGone) {
		go m.removeFiles(r.Key, []fileName{fn}) // dropped while fetching
		return false
	}
	if err != nil {
		log.Warn("mirrors: record a fetched mirror", "err", err)
		return false
	}
	m.mu.Lock()
	delete(m.failures, fn.Fetch)
	m.mu.Unlock()
	m.seeder.Touch(hexIH(fn.InfoHash))
	m.metrics.fetched.Add(float64(src.Size))
	log.Info("mirror held: fetched, verified and seeded", "origin", r.Origin, "bytes", src.Size, "took", time.Since(begin))
	return true
}

var errGone = errors.New("mirrors: dropped meanwhile")

// torrent returns the stored .torrent of the file fn, or takes it from
// urls in turn (the origin's first, then mirrors'), checks its info hash,
// rewrites its trackers (this pod's, then the origin's) and web seeds
// (this pod's, then the origin's originSeed) and stores it.
func (m *Manager) torrent(ctx context.Context, fn fileName, origin string, urls []string, originSeed string) ([]byte, error) {
	p := filepath.Join(m.cfg.Dir, fn.InfoHash+".torrent")
	if data, err := os.ReadFile(p); err == nil {
		return data, nil
	}
	lastErr := errors.New("mirrors: no .torrent URL")
	for _, u := range urls {
		data, err := m.get(ctx, u)
		if err != nil {
			lastErr = err
			continue
		}
		mi, ih, err := torrentfile.Parse(data)
		if err != nil {
			lastErr = fmt.Errorf("mirrors: %s: %w", u, err)
			continue
		}
		if hex.EncodeToString(ih[:]) != fn.InfoHash {
			lastErr = fmt.Errorf("mirrors: %s holds another torrent", u)
			continue
		}
		ws, httpTr := torrentfile.PodTrackers(m.cfg.SelfURL)
		tiers := [][]string{{ws}, {httpTr}}
		ows, ohttp := torrentfile.PodTrackers(origin)
		tiers = append(tiers, []string{ows}, []string{ohttp})
		mi.AnnounceList = tiers
		mi.URLList = []string{m.webseedOf(fn), originSeed}
		out, err := mi.Bencode()
		if err != nil {
			return nil, err
		}
		if err := writeFileSync(p, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, lastErr
}

// get reads a .torrent at u through the guarded client, within
// requestTimeout and maxTorrentBytes.
func (m *Manager) get(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := m.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mirrors: get %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mirrors: get %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTorrentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("mirrors: get %s: %w", u, err)
	}
	if len(data) > maxTorrentBytes {
		return nil, fmt.Errorf("mirrors: get %s: more than %d bytes", u, maxTorrentBytes)
	}
	return data, nil
}

func writeFileSync(p string, data []byte) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// The federation side (federation.Mirrors).

// MirrorTx records friend pod's copy of a video, or its removal.
// A video not known here yet is kept for VideoArrivedTx (see
// bucketEarly).
func (m *Manager) MirrorTx(tx *bolt.Tx, pod, kind string, ref fedproto.MirrorRef) error {
	found, err := m.cat.SetMirrorTx(tx, pod, ref, kind == fedproto.EventMirror)
	if err != nil {
		return err
	}
	if !found {
		if key, ok := m.cat.VideoKey(ref.VideoPod, ref.VideoID); ok && ref.VideoPod != m.cfg.SelfURL {
			return m.keepEarlyTx(tx, key, pod, kind, ref)
		}
		return nil
	}
	if ref.VideoPod != m.cfg.SelfURL {
		return nil
	}
	// The copy's own news replaces what a range check concluded: a new
	// announcement is listed (and checked at the next pass), a withdrawn
	// one is forgotten.
	if err := forgetSuspendedTx(tx, ref.VideoID, pod); err != nil {
		return err
	}
	if kind == fedproto.EventMirror {
		return tx.Bucket([]byte(bucketChecked)).Put([]byte(ref.VideoID), []byte{1})
	}
	return nil // checkMirrors forgets videos without mirrors
}

// OriginRemovedTx drops this pod's copy of a video its origin removed,
// whatever its age.
func (m *Manager) OriginRemovedTx(tx *bolt.Tx, origin, id string) error {
	key, ok := m.cat.VideoKey(origin, id)
	if !ok {
		return nil
	}
	if err := forgetEarlyTx(tx, func(e earlyMirror) bool { return e.Ref.VideoPod == origin && e.Ref.VideoID == id }); err != nil {
		return err
	}
	r, err := getTx(tx, key)
	if err != nil {
		return nil //nolint:nilerr // not mirrored here
	}
	m.log.Info("the origin removed a mirrored video; dropping the copy", "video", key, "origin", origin)
	return m.dropTx(tx, r)
}

// PodGoneTx forgets the copies pod announced, early ones included.
func (m *Manager) PodGoneTx(tx *bolt.Tx, pod string) error {
	if err := forgetEarlyTx(tx, func(e earlyMirror) bool { return e.Pod == pod }); err != nil {
		return err
	}
	if _, err := store.DeleteWhere(tx.Bucket([]byte(bucketSuspended)), nil, func(k, _ []byte) bool {
		_, p, _ := bytes.Cut(k, []byte{0})
		return string(p) == pod
	}); err != nil {
		return err
	}
	return m.cat.DropMirrorsOfTx(tx, pod)
}

// Status is the answer of GET /api/v1/mirrors.
type Status struct {
	Strategy    string       `json:"strategy"`
	MaxBytes    int64        `json:"max_bytes"`
	UsedBytes   int64        `json:"used_bytes"`
	MinLifetime float64      `json:"min_lifetime"` // seconds
	Total       int          `json:"total"`        // mirrors in all; Data is one page of GET /api/v1/mirrors
	Data        []MirrorInfo `json:"data"`
}

// MirrorInfo describes one mirror to an admin.
type MirrorInfo struct {
	VideoID string    `json:"video_id"`
	Name    string    `json:"name"`
	Pod     string    `json:"pod"`
	Size    int64     `json:"size"`
	State   string    `json:"state"`
	Picked  bool      `json:"picked"`
	AddedAt time.Time `json:"added_at"`
	HeldAt  time.Time `json:"held_at,omitzero"`
	Missing int64     `json:"missing"`
	// Lower are the lower resolutions mirrored with the best file, best
	// first; Size and Missing count them too.
	Lower []LowerInfo `json:"lower,omitempty"`
}

// LowerInfo is one lower resolution of a mirror.
type LowerInfo struct {
	Resolution int   `json:"resolution"` // short side, pixels
	Size       int64 `json:"size"`
	Held       bool  `json:"held"`
}

func (m *Manager) info(r record) MirrorInfo {
	mi := MirrorInfo{VideoID: r.Key, Name: r.Name, Pod: r.Origin, Size: r.bytes(), State: r.State, Picked: r.Picked,
		AddedAt: r.AddedAt, HeldAt: r.HeldAt}
	missing := func(ih string, size int64) int64 {
		if n, ok := m.seeder.FetchProgress(hexIH(ih)); ok {
			return n
		}
		return size
	}
	if r.State == StateWanted {
		mi.Missing = missing(r.InfoHash, r.Size)
	}
	for _, f := range r.Lower {
		mi.Lower = append(mi.Lower, LowerInfo{Resolution: f.Resolution, Size: f.Size, Held: f.Held})
		if !f.Held {
			mi.Missing += missing(f.InfoHash, f.Size)
		}
	}
	return mi
}

// Status lists the mirrors, most recently added first.
func (m *Manager) Status() (Status, error) {
	recs, err := m.records()
	if err != nil {
		return Status{}, err
	}
	st := Status{Strategy: m.cfg.Strategy, MaxBytes: m.cfg.MaxBytes, MinLifetime: m.cfg.MinLifetime.Seconds(), Data: []MirrorInfo{}}
	slices.SortFunc(recs, func(a, b record) int { return b.AddedAt.Compare(a.AddedAt) })
	for _, r := range recs {
		st.UsedBytes += r.bytes()
		st.Data = append(st.Data, m.info(r))
	}
	return st, nil
}
