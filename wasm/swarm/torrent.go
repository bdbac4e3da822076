package swarm

import (
	"context"
	"crypto/sha1" //nolint:gosec // BitTorrent v1 piece hashes are SHA-1 by specification
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
	"github.com/swarmtube/swarmtube/wasm/peerwire"
)

// Hasher returns the SHA-1 of data. The default is SHA1; the browser build
// can pass one backed by SubtleCrypto (wasm/cmd/client, opts.hasher), which
// is not faster on every machine (BENCHMARKS.md, "Piece verification").
type Hasher func(ctx context.Context, data []byte) ([20]byte, error)

// SHA1 is the default Hasher (crypto/sha1).
func SHA1(_ context.Context, data []byte) ([20]byte, error) {
	return sha1.Sum(data), nil //nolint:gosec // see import
}

// Config configures a Torrent. Zero values take the documented defaults.
type Config struct {
	Metainfo torrentfile.Metainfo
	InfoHash [20]byte
	// PeerID is this client's BitTorrent peer id.
	PeerID [20]byte
	Logger *slog.Logger
	// Hasher verifies pieces; default SHA1.
	Hasher Hasher
	// HTTPClient fetches the web seed; default http.DefaultClient (Fetch
	// under js).
	HTTPClient *http.Client
	// Source, when set, holds the whole file, already hashed by the caller
	// (an uploader's File): the torrent starts complete and only seeds.
	Source io.ReaderAt
	// MemoryBudget bounds the bytes of verified pieces kept in memory;
	// default 512 MiB, or 32 MiB (at least 8 pieces) with Storage, where
	// pieces dropped from memory stay available.
	MemoryBudget int64
	// Storage, when set, keeps verified pieces across page loads (the
	// browser's storage, package piecestore): the pieces it holds start
	// verified (and are announced to peers), each is checked against its
	// SHA-1 again when read back, and one that fails is deleted and
	// fetched again. Call Unstored when it drops pieces by itself.
	Storage Storage
	// ReadaheadBytes is the urgent window after a stream position; default
	// 4 MiB, at least two pieces. It is also the pod horizon (in bytes,
	// after each stream position) while the page has not reported its
	// playhead and the media's duration (SetPlayback).
	ReadaheadBytes int64
	// PodHorizon is how far ahead of the playhead, in seconds of media,
	// the pod (its web seed and its seeder peers) may be asked for
	// pieces; default 30 s, about what a plain <video> buffers. Seconds
	// become bytes with the file's mean bitrate (Length ÷ the duration
	// the page reports).
	PodHorizon time.Duration
	// NoWebSeed ignores the torrent's url-list.
	NoWebSeed bool
	// OriginPod is the URL of the video's origin pod: web seeds with its
	// scheme, host and port are the origin's, the others mirrors'
	// (Stats.BytesFromOrigin, BytesFromMirrors). Empty: the first url-list
	// entry is the origin's (as in the .torrent the origin serves; a
	// mirror's lists its own first).
	OriginPod string
	// MaxPeers bounds connected peers; default 30.
	MaxPeers int
	// MaxRequests is the request pipeline depth per peer; default 48.
	MaxRequests int
	// AwaitPeers: the torrent has trackers that will report the swarm
	// (ExpectPeers); until the first report, for peerWait at most, the pod
	// sends no piece that no browser peer offers.
	AwaitPeers bool
	// ServerPeer reports whether a peer id belongs to a server seeder (the
	// pod) rather than a browser: such peers share the pod's budget with
	// the web seed (see the package doc). Nil: every peer is a browser.
	ServerPeer func(peerID [20]byte) bool
}

// Storage keeps verified pieces across page loads (piecestore.Torrent).
// It must be safe for concurrent use; errors are logged and cost only the
// piece (it is fetched again).
type Storage interface {
	// Pieces lists what it holds when the torrent starts.
	Pieces() []int
	// Get returns piece i as stored (verified by the caller).
	Get(ctx context.Context, i int) ([]byte, error)
	// Put stores piece i, verified.
	Put(ctx context.Context, i int, data []byte) error
	// Delete removes piece i.
	Delete(ctx context.Context, i int) error
	// Free is how many more bytes it takes without evicting this
	// torrent's own pieces.
	Free() int64
}

type pieceState uint8

const (
	pieceMissing pieceState = iota
	pieceDownloading
	pieceVerifying
	pieceHave
)

// piece is the download state of one piece; guarded by Torrent.mu.
type piece struct {
	state   pieceState
	buf     []byte      // while downloading
	got     []bool      // per block
	reqs    [][]*peer   // per block: peers with an outstanding request
	reqAt   []time.Time // per block: time of the first outstanding request
	from    map[*peer]bool
	webseed bool // a web seed fetch is in flight
	// stored: a verified copy is in Config.Storage; writing: it is queued
	// or being written there; loading: being read back from it.
	stored, writing, loading bool
	readers                  int // ReadAt calls waiting for it
	// horizonAt is when the piece entered the pod horizon, needAt when it
	// was first needed within podLead, gotAt when a block last arrived
	// (zero: not yet).
	horizonAt, needAt, gotAt time.Time
}

type stream struct {
	pos  int64
	used time.Time
}

// Torrent is one torrent's swarm. All methods are safe for concurrent use.
type Torrent struct {
	cfg       Config
	log       *slog.Logger
	info      torrentfile.Info
	numPieces int
	numBlocks int // blocks in a full piece
	webSeeds  []string
	// originSeed tells the origin's web seeds from mirrors'
	// (Config.OriginPod); nil: the first url-list entry is the origin's.
	originSeed func(url string) bool
	seeds      seedSet // the web seeds and their measurements; guarded by mu
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	closeOnce  sync.Once

	mu             sync.Mutex // guards the following fields
	pieces         []piece
	have           peerwire.Bitfield
	haveCount      int
	store          map[int][]byte // verified pieces in memory
	storeBytes     int64
	pendingBytes   int64 // of store: not (yet) in Config.Storage, so not droppable
	storedCount    int   // pieces in Config.Storage
	storedBytes    int64
	writeq         []int         // pieces to write to Config.Storage
	writingNow     int           // the piece being written, -1: none
	writeWake      chan struct{} // a piece joined writeq
	badStored      int           // stored pieces that failed verification on read-back
	avail          []int         // peers having each piece
	availBrowse    []int         // browser peers having each piece
	peers          map[*peer]bool
	peerIDs        map[[20]byte]bool
	banned         map[[20]byte]bool
	streams        map[string]*stream
	pieceDone      chan struct{} // closed and replaced when a piece is verified
	webseedWake    chan struct{}
	webseedBusy    int
	webseedDown    time.Time   // the last web seed fetch failed; retry after this
	playback       Playback    // as the page last reported it
	hasPlayback    bool        // SetPlayback was called
	expectPeers    int         // other viewers the tracker reports (ExpectPeers)
	expectSince    time.Time   // first report of some
	expectReported bool        // ExpectPeers was called
	started        time.Time   // New
	browserGotAt   time.Time   // when a block last came from a browser peer
	browserFirst   time.Time   // when the first block came from a browser peer
	browsersAt     []time.Time // when each sample of stats.browsers was taken
	stats          counters
	bad            int
	podSent        peerwire.PodState // what announcePodLocked last sent
	podSentOK      bool
}

// rateWindow is how many one-second samples the reported rates average:
// a rate is 0 once nothing moved for that long.
const rateWindow = 3

type counters struct {
	fromPeers, fromWebSeed, uploaded int64
	fromServers                      int64 // part of fromPeers sent by server peers
	// downs, ups and browsers (bytes from browser peers) are the byte
	// totals at the last rateWindow+1 ticks.
	downs, ups, browsers []int64
}

// New validates cfg and returns a Torrent; call Run to start it.
func New(cfg Config) (*Torrent, error) {
	info := cfg.Metainfo.Info
	if err := info.Validate(); err != nil {
		return nil, fmt.Errorf("swarm: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Hasher == nil {
		cfg.Hasher = SHA1
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.MemoryBudget <= 0 {
		cfg.MemoryBudget = 512 << 20
		if cfg.Storage != nil && cfg.Source == nil {
			cfg.MemoryBudget = max(32<<20, 8*info.PieceLength)
		}
	}
	if cfg.Source != nil {
		cfg.Storage = nil // the uploader's file is the storage
	}
	if cfg.ReadaheadBytes <= 0 {
		cfg.ReadaheadBytes = 4 << 20
	}
	cfg.ReadaheadBytes = max(cfg.ReadaheadBytes, 2*info.PieceLength)
	if cfg.PodHorizon <= 0 {
		cfg.PodHorizon = 30 * time.Second
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = 30
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 48
	}
	n := info.NumPieces()
	ctx, cancel := context.WithCancel(context.Background())
	t := &Torrent{
		cfg:         cfg,
		log:         cfg.Logger.With("infohash", fmt.Sprintf("%x", cfg.InfoHash)),
		info:        info,
		numPieces:   n,
		numBlocks:   int((info.PieceLength + peerwire.BlockSize - 1) / peerwire.BlockSize),
		ctx:         ctx,
		cancel:      cancel,
		pieces:      make([]piece, n),
		have:        peerwire.NewBitfield(n),
		store:       map[int][]byte{},
		avail:       make([]int, n),
		availBrowse: make([]int, n),
		peers:       map[*peer]bool{},
		peerIDs:     map[[20]byte]bool{},
		banned:      map[[20]byte]bool{},
		streams:     map[string]*stream{},
		pieceDone:   make(chan struct{}),
		webseedWake: make(chan struct{}, 1),
		writeWake:   make(chan struct{}, 1),
		writingNow:  -1,
		playback:    Playback{Buffer: -1},
		started:     time.Now(),
		browsersAt:  []time.Time{time.Now()},
		// Rates count from 0 at New, so the first tick has a window.
		stats: counters{downs: []int64{0}, ups: []int64{0}, browsers: []int64{0}},
	}
	t.originSeed = sameOrigin(cfg.OriginPod)
	if !cfg.NoWebSeed {
		t.webSeeds = cfg.Metainfo.URLList
		t.seeds = newSeedSet(t.webSeeds, t.originSeed)
	}
	if cfg.Source != nil {
		for i := range t.pieces {
			t.pieces[i].state = pieceHave
			t.have.Set(i)
		}
		t.haveCount = n
	}
	if cfg.Storage != nil {
		for _, i := range cfg.Storage.Pieces() {
			if i < 0 || i >= n || t.pieces[i].stored {
				continue
			}
			t.pieces[i].state, t.pieces[i].stored = pieceHave, true
			t.have.Set(i)
			t.haveCount++
			t.storedCount++
			t.storedBytes += info.PieceSize(i)
		}
	}
	return t, nil
}

// Info returns the torrent's info dictionary.
func (t *Torrent) Info() torrentfile.Info { return t.info }

// Run runs the web seed and the periodic housekeeping (rates, request
// timeouts) until ctx ends or Close is called, then closes every peer.
func (t *Torrent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.log.Debug("torrent runs", "peer", printableID(t.cfg.PeerID))
	go func() {
		select {
		case <-ctx.Done():
		case <-t.ctx.Done():
		}
		cancel()
	}()
	if t.cfg.Storage != nil {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.writeLoop(ctx)
		}()
	}
	if len(t.webSeeds) > 0 {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.webseedLoop(ctx)
		}()
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			t.Close()
			return nil
		case <-tick.C:
			t.housekeeping()
		}
	}
}

// Close disconnects every peer, stops Run and waits for the goroutines the
// Torrent owns. It is idempotent.
func (t *Torrent) Close() {
	t.closeOnce.Do(func() {
		t.cancel()
		t.mu.Lock()
		for p := range t.peers {
			p.closeLocked(ErrClosed)
		}
		t.mu.Unlock()
		t.wg.Wait()
	})
}

// housekeeping updates rates, expires stale requests and idle streams,
// and refills request pipelines.
func (t *Torrent) housekeeping() {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.stats
	s.downs = appendWindow(s.downs, s.fromPeers+s.fromWebSeed)
	s.ups = appendWindow(s.ups, s.uploaded)
	s.browsers = appendWindow(s.browsers, s.fromPeers-s.fromServers)
	t.browsersAt = append(t.browsersAt, time.Now())
	t.browsersAt = t.browsersAt[len(t.browsersAt)-len(s.browsers):]
	now := time.Now()
	for id, st := range t.streams {
		if now.Sub(st.used) > 30*time.Second {
			delete(t.streams, id)
		}
	}
	for p := range t.peers {
		p.expireRequestsLocked(now, 20*time.Second)
		t.fillRequestsLocked(p)
	}
}

// appendWindow keeps the last rateWindow+1 totals.
func appendWindow(w []int64, total int64) []int64 {
	w = append(w, total)
	if len(w) > rateWindow+1 {
		w = w[len(w)-rateWindow-1:]
	}
	return w
}

// windowRate is the mean rate (per second) over the window.
func windowRate(w []int64) float64 {
	if len(w) < 2 {
		return 0
	}
	return float64(w[len(w)-1]-w[0]) / float64(len(w)-1)
}

// Stats is a snapshot for the page.
type Stats struct {
	Peers    int         `json:"peers"`
	PeerList []PeerStats `json:"peerList"`
	// DownloadRate and UploadRate are bytes/s over the last few seconds
	// (rateWindow): 0 when nothing moved in that time.
	DownloadRate   float64 `json:"downloadRate"`
	UploadRate     float64 `json:"uploadRate"`
	BytesFromPeers int64   `json:"bytesFromPeers"`
	// BytesFromServers is the part of BytesFromPeers that server peers
	// (the pod's seeder, per Config.ServerPeer) sent.
	BytesFromServers int64 `json:"bytesFromServers"`
	BytesFromWebSeed int64 `json:"bytesFromWebSeed"`
	// BytesFromOrigin and BytesFromMirrors split BytesFromWebSeed between
	// the origin's web seeds and its mirrors' (Config.OriginPod); WebSeeds
	// details each seed, in url-list order (then addresses only early
	// bytes came from, AddWebSeedData).
	BytesFromOrigin  int64          `json:"bytesFromOrigin"`
	BytesFromMirrors int64          `json:"bytesFromMirrors"`
	WebSeeds         []WebSeedStats `json:"webSeeds"`
	BytesUploaded    int64          `json:"bytesUploaded"`
	PiecesHave       int            `json:"piecesHave"`
	Pieces           int            `json:"pieces"`
	// BytesStored is what verified pieces take in memory.
	BytesStored int64 `json:"bytesStored"`
	// PiecesPersisted and BytesPersisted are this torrent's pieces in the
	// browser's storage (Config.Storage); BadStored counts those that
	// failed verification when read back (deleted and fetched again).
	PiecesPersisted int   `json:"piecesPersisted"`
	BytesPersisted  int64 `json:"bytesPersisted"`
	BadStored       int   `json:"badStored"`
	Length          int64 `json:"length"`
	BadPieces       int   `json:"badPieces"`
}

// PeerStats describes one connected peer.
type PeerStats struct {
	ID         string `json:"id"` // peer id, printable prefix then hex
	Addr       string `json:"addr"`
	Server     bool   `json:"server"`
	Downloaded int64  `json:"downloaded"`
	Uploaded   int64  `json:"uploaded"`
	Pieces     int    `json:"pieces"`
}

// Stats returns current statistics.
func (t *Torrent) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := Stats{
		Peers:            len(t.peers),
		DownloadRate:     windowRate(t.stats.downs),
		UploadRate:       windowRate(t.stats.ups),
		BytesFromPeers:   t.stats.fromPeers,
		BytesFromServers: t.stats.fromServers,
		BytesFromWebSeed: t.stats.fromWebSeed,
		BytesUploaded:    t.stats.uploaded,
		PiecesHave:       t.haveCount,
		Pieces:           t.numPieces,
		BytesStored:      t.storeBytes,
		PiecesPersisted:  t.storedCount,
		BytesPersisted:   t.storedBytes,
		BadStored:        t.badStored,
		Length:           t.info.Length,
		BadPieces:        t.bad,
	}
	st.WebSeeds, st.BytesFromOrigin, st.BytesFromMirrors = t.seeds.stats(time.Now())
	for p := range t.peers {
		st.PeerList = append(st.PeerList, PeerStats{
			ID: printableID(p.id), Addr: p.addr, Server: p.server,
			Downloaded: p.downloaded, Uploaded: p.uploaded, Pieces: p.has.Count(t.numPieces),
		})
	}
	return st
}

func printableID(id [20]byte) string {
	n := 0
	for n < 8 && id[n] >= 0x20 && id[n] < 0x7f {
		n++
	}
	return fmt.Sprintf("%s%x", id[:n], id[n:])
}

// Complete reports whether every piece has been verified.
func (t *Torrent) Complete() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.haveCount == t.numPieces
}

// ReadAt reads up to len(p) bytes at off, all from one piece, waiting until
// that piece is verified. streamID names the reader (one per playing
// <video> range request): its position steers the picker. It returns
// io.EOF at the end of the file.
func (t *Torrent) ReadAt(ctx context.Context, streamID string, p []byte, off int64) (int, error) {
	if off >= t.info.Length {
		return 0, io.EOF
	}
	if off < 0 {
		return 0, fmt.Errorf("swarm: negative offset %d", off)
	}
	i := int(off / t.info.PieceLength)
	for {
		t.mu.Lock()
		st := t.streams[streamID]
		if st == nil {
			st = &stream{}
			t.streams[streamID] = st
		}
		moved := st.pos != off || st.used.IsZero()
		left := moved && int(st.pos/t.info.PieceLength) != i
		st.pos, st.used = off, time.Now()
		if left && t.storeBytes > t.cfg.MemoryBudget {
			// Pieces memory kept for the stream's old place may go now;
			// else a stream reading on from memory leaves it over budget
			// until the next piece arrives.
			t.evictLocked()
		}
		if t.pieces[i].state == pieceHave {
			if data, ok := t.store[i]; ok {
				n := copyPiece(p, data, off-int64(i)*t.info.PieceLength)
				t.mu.Unlock()
				return n, nil
			}
			if t.pieces[i].stored {
				t.mu.Unlock()
				if data, ok := t.load(ctx, i); ok {
					return copyPiece(p, data, off-int64(i)*t.info.PieceLength), nil
				}
				if err := ctx.Err(); err != nil {
					return 0, err
				}
				continue // it failed verification: wait for it again
			}
			t.mu.Unlock()
			return t.readSource(i, p, off)
		}
		t.pieces[i].readers++
		if moved {
			t.log.Debug("read waits", "stream", streamID, "piece", i, "offset", off, "playback", t.playback)
			t.reprioritizeLocked()
		}
		done := t.pieceDone
		t.mu.Unlock()
		var err error
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		case <-t.ctx.Done():
			err = ErrClosed
		}
		t.mu.Lock()
		t.pieces[i].readers--
		t.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
}

// Playback is the state of the page's player, which decides what the pod
// is asked for (see the package doc). Times are seconds of media.
type Playback struct {
	// Position is the playhead.
	Position float64 `json:"position"`
	// Duration of the media; 0 (or not finite) while unknown.
	Duration float64 `json:"duration"`
	// Rate is the playback rate; 0 means 1.
	Rate float64 `json:"rate"`
	// Paused: the playhead does not move, so nothing is needed soon.
	Paused bool `json:"paused"`
	// Buffer is how much the player holds after the playhead, < 0 unknown.
	// A player counts as starving while it holds less than HealthyBuffer.
	Buffer float64 `json:"buffer"`
}

// SetPlayback tells the engine where the page's player is (engine.js
// reports it every 250 ms). With the duration known, the pod horizon is
// PodHorizon seconds of media after Position, converted to bytes with the
// file's mean bitrate.
func (t *Torrent) SetPlayback(pb Playback) {
	if !(pb.Duration > 0) || math.IsInf(pb.Duration, 0) {
		pb.Duration = 0
	}
	if !(pb.Rate > 0) || math.IsInf(pb.Rate, 0) {
		pb.Rate = 1
	}
	if math.IsNaN(pb.Position) || pb.Position < 0 {
		pb.Position = 0
	}
	if math.IsNaN(pb.Buffer) {
		pb.Buffer = -1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.playback, t.hasPlayback = pb, true
	t.announcePodLocked()
	t.reprioritizeLocked()
}

// SetBufferAhead reports only the player's buffer (seconds after its
// playhead, negative: unknown), for players that know nothing else; see
// SetPlayback.
func (t *Torrent) SetBufferAhead(seconds float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.playback.Buffer = seconds
	t.reprioritizeLocked()
}

// CloseStream forgets a stream's position.
func (t *Torrent) CloseStream(streamID string) {
	t.mu.Lock()
	delete(t.streams, streamID)
	t.evictLocked() // what it kept in memory may go
	t.mu.Unlock()
}

// copyPiece copies piece data from offset rel on into p.
func copyPiece(p, data []byte, rel int64) int { return copy(p, data[rel:]) }

// readSource reads verified piece i from the uploader's file, off the lock
// (a Blob read is asynchronous under js).
func (t *Torrent) readSource(i int, p []byte, off int64) (int, error) {
	if t.cfg.Source == nil {
		return 0, fmt.Errorf("swarm: piece %d verified but not stored", i)
	}
	end := int64(i)*t.info.PieceLength + t.info.PieceSize(i)
	n := int(min(int64(len(p)), end-off))
	n, err := t.cfg.Source.ReadAt(p[:n], off)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// urgentLocked returns the pieces browser peers are asked for first,
// nearest first: the pod horizon after the playhead (podAnchorsLocked)
// and ReadaheadBytes after each stream position, with, for each, its
// distance in pieces from where it is needed.
func (t *Torrent) urgentLocked() (pieces []int, dist []int) {
	type window struct{ first, n int }
	var ws []window
	pl := t.info.PieceLength
	anchors, span := t.podAnchorsLocked()
	for _, a := range anchors {
		ws = append(ws, window{int(a / pl), int((a%pl + span + pl - 1) / pl)})
	}
	if t.hasPlayback && t.byteRateLocked() > 0 {
		for _, st := range t.streams {
			ws = append(ws, window{int(st.pos / pl), int((st.pos%pl + t.cfg.ReadaheadBytes + pl - 1) / pl)})
		}
	}
	seen := map[int]bool{}
	for d := 0; ; d++ {
		more := false
		for _, w := range ws {
			if d >= w.n {
				continue
			}
			more = true
			i := w.first + d
			if i >= t.numPieces || seen[i] {
				continue
			}
			seen[i] = true
			if t.pieces[i].state != pieceHave {
				pieces = append(pieces, i)
				dist = append(dist, d)
			}
		}
		if !more {
			return pieces, dist
		}
	}
}

// reprioritizeLocked refills every peer's pipeline and wakes the web seed
// after stream positions, the playback or piece states changed.
func (t *Torrent) reprioritizeLocked() {
	for p := range t.peers {
		t.fillRequestsLocked(p)
	}
	select {
	case t.webseedWake <- struct{}{}:
	default:
	}
}

// pieceVerified stores a verified piece and tells everyone.
func (t *Torrent) pieceVerifiedLocked(i int, data []byte) {
	pc := &t.pieces[i]
	for b, rs := range pc.reqs { // peers still fetching it (the web seed won the race)
		for _, q := range append([]*peer(nil), rs...) {
			q.releaseLocked(blockRef{i, b})
			q.sendLocked(peerwire.Message{Type: peerwire.Cancel, Index: uint32(i),
				Begin: uint32(b * peerwire.BlockSize), Length: uint32(t.blockSize(i, b))})
		}
	}
	pc.state = pieceHave
	pc.buf, pc.got, pc.reqs, pc.reqAt, pc.from = nil, nil, nil, nil, nil
	pc.horizonAt, pc.needAt, pc.gotAt = time.Time{}, time.Time{}, time.Time{}
	t.store[i] = data
	t.storeBytes += int64(len(data))
	if t.cfg.Storage != nil && !pc.stored {
		pc.writing = true
		t.pendingBytes += int64(len(data))
		t.writeq = append(t.writeq, i)
		select {
		case t.writeWake <- struct{}{}:
		default:
		}
	}
	t.have.Set(i)
	t.haveCount++
	t.broadcastLocked()
	for p := range t.peers {
		p.sendLocked(peerwire.Message{Type: peerwire.Have, Index: uint32(i)})
		p.updateInterestLocked()
	}
	t.evictLocked()
	t.reprioritizeLocked()
}

// evictLocked drops verified pieces farthest from every stream from
// memory until it fits MemoryBudget. A piece in Config.Storage stays
// verified (it is read back when needed); one being written there stays
// in memory until written; any other is missing again.
func (t *Torrent) evictLocked() {
	for t.storeBytes > t.cfg.MemoryBudget {
		victim, _ := t.victimLocked(t.keepLocked())
		if victim < 0 {
			return
		}
		t.storeBytes -= int64(len(t.store[victim]))
		delete(t.store, victim)
		pc := &t.pieces[victim]
		if pc.stored {
			continue
		}
		if pc.writing {
			pc.writing = false
			t.writeq = slices.DeleteFunc(t.writeq, func(i int) bool { return i == victim })
		}
		if t.cfg.Storage != nil {
			t.pendingBytes -= t.info.PieceSize(victim)
		}
		t.pieces[victim].state = pieceMissing
		t.have.Clear(victim)
		t.haveCount--
	}
}

// keepLocked returns the pieces memory never drops: each stream's read
// window, a piece behind its position to ReadaheadBytes after it.
func (t *Torrent) keepLocked() map[int]bool {
	keep := map[int]bool{}
	ahead := int(t.cfg.ReadaheadBytes / t.info.PieceLength)
	for _, st := range t.streams {
		c := int(st.pos / t.info.PieceLength)
		for i := c - 1; i <= c+ahead; i++ {
			keep[i] = true
		}
	}
	return keep
}

// evictRank orders pieces in memory for eviction, lowest first: pieces in
// Config.Storage go first (they stay verified), then others; last, pieces
// still waiting to be written (a writer slower than the download must not
// grow memory). Within a rank the farthest (distanceLocked) goes first.
type evictRank struct{ rank, dist, piece int }

// before reports whether r is evicted before o.
func (r evictRank) before(o evictRank) bool {
	if r.rank != o.rank {
		return r.rank < o.rank
	}
	if r.dist != o.dist {
		return r.dist > o.dist
	}
	return r.piece > o.piece
}

// rankLocked is piece i's evictRank, as if it were in memory.
func (t *Torrent) rankLocked(i int) evictRank {
	pc := &t.pieces[i]
	r := 1
	switch {
	case pc.stored:
		r = 0
	case pc.writing || (t.cfg.Storage != nil && pc.state != pieceHave):
		r = 2 // a piece not yet verified will wait to be written
	}
	return evictRank{r, t.distanceLocked(i), i}
}

// victimLocked returns the piece evictLocked drops next, or -1 when every
// piece in memory is kept or being written.
func (t *Torrent) victimLocked(keep map[int]bool) (int, evictRank) {
	victim, vr := -1, evictRank{}
	for i := range t.store {
		if keep[i] || i == t.writingNow {
			continue
		}
		if r := t.rankLocked(i); victim < 0 || r.before(vr) {
			victim, vr = i, r
		}
	}
	return victim, vr
}

// keepsLocked returns a test of whether a piece, once verified, would stay
// in memory rather than be evicted on arrival: there is room for it under
// MemoryBudget, it is in a stream's read window, or a piece evictLocked
// drops before it is in memory. Pieces that fail it are not fetched: with
// memory full of pieces it cannot drop without losing them (writes to
// Config.Storage wait at high playback rates, writeMinBuffer), fetching
// one evicts it as it arrives and makes it missing again, and the picker
// asked for the same piece over and over (TestFullMemoryStillServesTheReader:
// the web seed sent a piece hundreds of times a second, and never the one
// the player waited for). The test is only valid until the lock is released.
func (t *Torrent) keepsLocked() func(i int) bool {
	var keep map[int]bool
	victim := -2 // not yet computed
	var vr evictRank
	return func(i int) bool {
		if t.storeBytes+t.info.PieceSize(i) <= t.cfg.MemoryBudget {
			return true
		}
		if victim == -2 {
			keep = t.keepLocked()
			victim, vr = t.victimLocked(keep)
		}
		return keep[i] || (victim >= 0 && vr.before(t.rankLocked(i)))
	}
}

// distanceLocked is how far piece i is from the nearest stream position
// (pieces behind a position count double: they are less likely re-read).
func (t *Torrent) distanceLocked(i int) int {
	best := i
	if len(t.streams) == 0 {
		return best
	}
	best = 1 << 30
	for _, st := range t.streams {
		c := int(st.pos / t.info.PieceLength)
		d := i - c
		if d < 0 {
			d = -2 * d
		}
		best = min(best, d)
	}
	return best
}

// storeFullLocked reports whether non-urgent downloading must stop:
// memory holds MemoryBudget of pieces it cannot drop, or Storage has no
// room left without evicting this torrent's own pieces (prefetching more
// would only replace what it holds).
func (t *Torrent) storeFullLocked() bool {
	if t.cfg.Storage == nil {
		return t.storeBytes+t.info.PieceLength > t.cfg.MemoryBudget
	}
	return t.pendingBytes+t.info.PieceLength > t.cfg.MemoryBudget || t.cfg.Storage.Free() < t.info.PieceLength
}

// verify hashes a complete piece off the lock and records the result:
// seed is the web seed it came from (seedSet index), -1 when it came from
// peers (pc.from).
func (t *Torrent) verify(i int, data []byte, seed int) bool {
	fromWebSeed := seed >= 0
	sum, err := t.cfg.Hasher(t.ctx, data)
	ok := err == nil && sum == t.info.PieceHash(i)
	t.mu.Lock()
	defer t.mu.Unlock()
	pc := &t.pieces[i]
	if ok && fromWebSeed {
		t.stats.fromWebSeed += int64(len(data)) // a pod sent it, needed or not
		t.seeds.received(seed, int64(len(data)))
	}
	if pc.state == pieceHave {
		if fromWebSeed {
			t.log.Debug("web seed piece arrived twice", "piece", i) // paid for, not needed
		}
		return ok // a racing source delivered it first
	}
	if ok {
		if t.log.Enabled(t.ctx, slog.LevelDebug) {
			var from []string
			for p := range pc.from {
				from = append(from, printableID(p.id)[:14])
			}
			t.log.Debug("piece verified", "piece", i, "webseed", fromWebSeed, "from", from, "playback", t.playback)
		}
		t.pieceVerifiedLocked(i, data)
		return true
	}
	t.bad++
	t.log.Warn("piece failed verification", "piece", i, "webseed", fromWebSeed, "err", err)
	if fromWebSeed {
		return false // peers' progress on the piece, if any, stands
	}
	from := pc.from
	pc.state = pieceMissing
	pc.buf, pc.got, pc.reqs, pc.reqAt, pc.from = nil, nil, nil, nil, nil
	for p := range from {
		// A sole contributor is certainly guilty. When several peers
		// contributed, each gets a strike: the guilty one is in every bad
		// piece and reaches the limit long before an honest one.
		p.strikes++
		if len(from) == 1 || p.strikes >= 3 {
			t.banned[p.id] = true
			p.closeLocked(ErrBadData)
		}
	}
	t.reprioritizeLocked()
	return false
}

func randomPick(n int) int { return rand.IntN(n) } //nolint:gosec // tie-breaking, not security
