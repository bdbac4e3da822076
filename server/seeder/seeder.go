package seeder

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
	"github.com/pion/webrtc/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Seeder.
type Config struct {
	// DataDir holds the piece-completion store (.torrent.bolt.db). It must
	// not be shared with another Seeder (the store is locked while open).
	DataDir string
	// ListenAddr is the IP to listen on for TCP and uTP: "" for all
	// interfaces, "127.0.0.1" for loopback only.
	ListenAddr string
	// Port is the TCP and UDP (uTP) port; 0 picks a free one (see Port).
	Port int
	// PublicIP, if set, is the address reported to HTTP trackers ("ip=").
	PublicIP net.IP
	// WebRTC enables WebTorrent: announcing to ws:// trackers and exchanging
	// pieces with browsers over WebRTC data channels.
	WebRTC bool
	// ICEServers are the STUN/TURN servers of its WebRTC peer connections
	// (anacrolix ClientConfig.ICEServerList); fixed for the client's life.
	ICEServers []webrtc.ICEServer
	// MaxConnsPerTorrent bounds established peer connections per torrent;
	// 0 means 128.
	MaxConnsPerTorrent int
	// IdleTimeout unloads a registered torrent (see Register) that has had
	// no connected peer and no Touch or Wake for this long; 0 means 10
	// minutes.
	IdleTimeout time.Duration
	// MaxActive bounds the registered torrents loaded at once; loading one
	// more unloads the least recently active. 0 means 2000.
	MaxActive int
	// WebTransport carries the HTTP requests to web seeds of Fetch (BEP
	// 19; anacrolix ClientConfig.WebTransport); nil is net/http's default.
	// The pod gives federation's guarded transport: web seed URLs come
	// from friends.
	WebTransport http.RoundTripper
}

// Seeder seeds complete local files. It is safe for concurrent use.
type Seeder struct {
	log       *slog.Logger
	cl        *torrent.Client
	utp       *utpSocket
	pc        storage.PieceCompletion
	readBytes atomic.Int64

	mu       sync.Mutex // guards the following fields
	torrents map[metainfo.Hash]*entry
	closed   bool
	cold     map[metainfo.Hash]coldEntry // registered torrents, loaded or not
	byFile   map[string]metainfo.Hash    // registered file path -> info hash
	// dropping holds, per info hash, a channel closed once the torrent
	// taken out of torrents (unloaded or removed) is dropped from the
	// client and its completion settled: a new entry for that hash waits
	// for it (see add).
	dropping map[metainfo.Hash]chan struct{}

	idle      atomic.Int64 // IdleTimeout in nanoseconds
	maxActive int
	runCtx    context.Context // ends at Close; bounds background loads
	stop      context.CancelFunc
	wg        sync.WaitGroup // the reaper and background loads
	loads     atomic.Int64   // registered torrents loaded, since New
	unloads   atomic.Int64   // registered torrents unloaded, since New

	closeOnce sync.Once
	closeErr  error

	hooks testHooks
}

// testHooks let tests stop the seeder at the points where a wake and an
// unload interleave; nil in production.
type testHooks struct {
	reapDecided  func(ih metainfo.Hash) // reap found ih idle, before it takes s.mu to unload it
	retired      func(ih metainfo.Hash) // ih left s.torrents, before its torrent is dropped
	awaitingDrop func(ih metainfo.Hash) // a new entry for ih waits for the old one's drop
}

// entry is one torrent being verified or seeded. ready is closed once Seed
// has finished verifying; err is set before that.
type entry struct {
	t     *torrent.Torrent
	path  string
	ready chan struct{}
	err   error
	last  atomic.Int64 // unix nanoseconds of the last sign of activity (wake stores it under Seeder.mu)
	// after, if not nil, is closed once the previous torrent of this info
	// hash is dropped (Seeder.dropping when the entry was made).
	after chan struct{}
}

// TorrentStats describes one seeded torrent.
type TorrentStats struct {
	InfoHash      [20]byte
	Name          string
	Path          string
	UploadedBytes int64 // payload bytes sent to peers since Seed
	Peers         int   // connected peers
}

// New starts a client listening on cfg.ListenAddr:cfg.Port. reg may be nil.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Seeder, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("seeder: no data dir")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("seeder: %w", err)
	}
	s := &Seeder{log: log, torrents: map[metainfo.Hash]*entry{}, cold: map[metainfo.Hash]coldEntry{}, byFile: map[string]metainfo.Hash{},
		dropping:  map[metainfo.Hash]chan struct{}{},
		maxActive: cmp.Or(cfg.MaxActive, 2000)}
	s.idle.Store(int64(cmp.Or(cfg.IdleTimeout, 10*time.Minute)))
	s.runCtx, s.stop = context.WithCancel(context.Background())
	var err error
	if s.pc, err = storage.NewBoltPieceCompletion(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("seeder: open piece completion in %s: %w", cfg.DataDir, err)
	}

	cc := torrent.NewDefaultClientConfig()
	cc.Logger = newAnacrolixLogger(log)
	cc.DataDir = cfg.DataDir // unused: every torrent brings its own storage
	cc.DefaultStorage = &fileStorage{pc: sharedCompletion{s.pc}, readBytes: &s.readBytes}
	switch ip := net.ParseIP(cfg.ListenAddr); {
	case cfg.ListenAddr == "":
	case ip == nil:
		s.pc.Close()
		return nil, fmt.Errorf("seeder: listen address %q is not an IP", cfg.ListenAddr)
	case ip.To4() != nil:
		cc.DisableIPv6 = true
		cc.ListenHost = func(string) string { return cfg.ListenAddr }
	default:
		cc.DisableIPv4 = true
		cc.ListenHost = func(string) string { return cfg.ListenAddr }
	}
	if ip4 := cfg.PublicIP.To4(); ip4 != nil {
		cc.PublicIp4 = ip4
	} else if cfg.PublicIP != nil {
		cc.PublicIp6 = cfg.PublicIP
	}
	// Trackers are the only discovery: the pod knows who should find it.
	cc.NoDHT = true
	cc.DisablePEX = true
	cc.NoDefaultPortForwarding = true
	// Web seeds are given only to Fetch (mirrors); seeded torrents have
	// none (spec.Webseeds = nil) and may not download anyway.
	cc.DisableWebseeds = false
	cc.WebTransport = cfg.WebTransport
	cc.DisableWebtorrent = !cfg.WebRTC
	cc.ICEServerList = cfg.ICEServers
	cc.Seed = true
	// Accept both plain and obfuscated handshakes but prefer plain: on a
	// seeder RC4 only costs CPU per byte uploaded.
	cc.HeaderObfuscationPolicy = torrent.HeaderObfuscationPolicy{Preferred: false, RequirePreferred: false}
	cc.EstablishedConnsPerTorrent = cfg.MaxConnsPerTorrent
	if cc.EstablishedConnsPerTorrent == 0 {
		cc.EstablishedConnsPerTorrent = 128
	}
	// Both complete: nothing to exchange, so free the slot.
	cc.DropMutuallyCompletePeers = true

	// uTP is ours, not anacrolix's compile-time choice (see utp.go and the
	// package doc). Its socket is bound first so that with Port 0 the TCP
	// listener takes the port UDP got: trackers learn one port for both.
	cc.DisableUTP = true
	for attempt := 1; ; attempt++ {
		if s.utp, err = listenUTP(cfg.ListenAddr, cfg.Port); err != nil {
			s.pc.Close()
			return nil, err
		}
		cc.ListenPort = s.utp.port()
		if s.cl, err = torrent.NewClient(cc); err == nil {
			break
		}
		s.utp.Close()
		if cfg.Port != 0 || attempt == 5 { // with Port 0, TCP may hold UDP's port: retry
			s.pc.Close()
			return nil, fmt.Errorf("seeder: start client on %s:%d: %w", cfg.ListenAddr, cc.ListenPort, err)
		}
	}
	s.cl.AddDialer(s.utp)
	s.cl.AddListener(s.utp)
	if reg != nil {
		if err := reg.Register(collector{s}); err != nil {
			s.Close()
			return nil, fmt.Errorf("seeder: register metrics: %w", err)
		}
	}
	s.startReaper()
	log.Info("seeder listening", "addr", cfg.ListenAddr, "port", s.Port(), "utp", s.utp.network, "webrtc", cfg.WebRTC)
	return s, nil
}

// Port returns the TCP/uTP port the seeder listens on.
func (s *Seeder) Port() int { return s.cl.LocalPort() }

// Seed seeds the complete file at filePath under torrentBytes (a .torrent
// file). It returns once the torrent is being seeded: at once when piece
// completion is already recorded (after a restart), after hashing the file
// otherwise. Calling it again for a torrent already seeded from the same
// path returns nil; from another path, ErrConflict. If ctx ends during
// verification, the torrent is dropped and ctx's error returned.
func (s *Seeder) Seed(ctx context.Context, torrentBytes []byte, filePath string) error {
	return s.seed(ctx, torrentBytes, filePath, false)
}

// SeedVerified is Seed for a caller that has just computed torrentBytes
// from the very bytes at filePath (e.g. with torrentfile.HashReader during
// the upload): every piece is recorded complete without reading the file.
// Only the file's size is checked.
func (s *Seeder) SeedVerified(ctx context.Context, torrentBytes []byte, filePath string) error {
	return s.seed(ctx, torrentBytes, filePath, true)
}

// parseTorrent reads a .torrent (BEP 3) and its info dict, refusing what
// the seeder does not serve: multi-file and v2-only torrents.
func parseTorrent(torrentBytes []byte) (*metainfo.MetaInfo, metainfo.Info, metainfo.Hash, error) {
	mi, err := metainfo.Load(bytes.NewReader(torrentBytes))
	if err != nil {
		return nil, metainfo.Info{}, metainfo.Hash{}, fmt.Errorf("seeder: parse torrent: %w", err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return nil, metainfo.Info{}, metainfo.Hash{}, fmt.Errorf("seeder: parse torrent info: %w", err)
	}
	if info.IsDir() || !info.HasV1() {
		return nil, metainfo.Info{}, metainfo.Hash{}, fmt.Errorf("seeder: only single-file v1 torrents are supported")
	}
	return mi, info, mi.HashInfoBytes(), nil
}

func (s *Seeder) seed(ctx context.Context, torrentBytes []byte, filePath string, trusted bool) error {
	mi, info, ih, err := parseTorrent(torrentBytes)
	if err != nil {
		return err
	}
	if filePath, err = filepath.Abs(filePath); err != nil {
		return fmt.Errorf("seeder: %w", err)
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if e, ok := s.torrents[ih]; ok {
		s.mu.Unlock()
		if e.path != filePath {
			return fmt.Errorf("%w: %x from %s, not %s", ErrConflict, ih, e.path, filePath)
		}
		select {
		case <-e.ready:
			return e.err
		case <-ctx.Done():
			return fmt.Errorf("seeder: seed %x: %w", ih, ctx.Err())
		}
	}
	e := &entry{path: filePath, ready: make(chan struct{}), after: s.dropping[ih]}
	e.last.Store(time.Now().UnixNano())
	s.torrents[ih] = e
	s.mu.Unlock()

	e.err = s.add(ctx, mi, &info, ih, filePath, trusted, e)
	if e.err != nil {
		s.mu.Lock()
		if s.torrents[ih] == e { // Remove may have replaced it meanwhile
			delete(s.torrents, ih)
		}
		s.mu.Unlock()
		s.log.Warn("seeder: not seeding", "info_hash", ih.HexString(), "path", filePath, "err", e.err)
	} else {
		s.log.Debug("seeding", "info_hash", ih.HexString(), "name", info.Name, "path", filePath)
	}
	close(e.ready)
	if e.err == nil {
		s.evictOverflow(ih)
	}
	return e.err
}

// add adds the torrent to the client and waits until every piece is known
// complete. On error the torrent is not left in the client.
func (s *Seeder) add(ctx context.Context, mi *metainfo.MetaInfo, info *metainfo.Info, ih metainfo.Hash, filePath string, trusted bool, e *entry) error {
	// anacrolix keeps one torrent per info hash: added before the previous
	// one is dropped, AddTorrentSpec would return that one, which the drop
	// then closes under the new entry (and a Remove would clear the
	// completion recorded below).
	if e.after != nil {
		if s.hooks.awaitingDrop != nil {
			s.hooks.awaitingDrop(ih)
		}
		select {
		case <-e.after:
		case <-ctx.Done():
			return fmt.Errorf("seeder: add %x: %w", ih, ctx.Err())
		}
	}
	// Check the file before anything is recorded about it.
	st, err := os.Stat(filePath)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFileMismatch, err)
	}
	if st.Size() != info.TotalLength() {
		return fmt.Errorf("%w: %s is %d bytes, torrent %x says %d", ErrFileMismatch, filePath, st.Size(), ih, info.TotalLength())
	}
	if trusted {
		for i := range info.NumPieces() {
			if err := s.pc.Set(metainfo.PieceKey{InfoHash: ih, Index: i}, true); err != nil {
				return fmt.Errorf("seeder: record completion of %x: %w", ih, err)
			}
		}
	}
	spec, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		return fmt.Errorf("seeder: torrent %x: %w", ih, err)
	}
	spec.Storage = &fileStorage{path: filePath, pc: sharedCompletion{s.pc}, readBytes: &s.readBytes}
	spec.Webseeds = nil
	spec.DisallowDataDownload = true
	t, _, err := s.cl.AddTorrentSpec(spec)
	if err != nil {
		return fmt.Errorf("seeder: add %x: %w", ih, err)
	}
	s.mu.Lock()
	e.t = t
	s.mu.Unlock()
	if err := waitVerified(ctx, t); err != nil {
		t.Drop()
		return fmt.Errorf("seeder: seed %x: %w", ih, err)
	}
	return nil
}

// waitVerified returns nil once every piece is complete, ErrCorrupt once
// none is still being checked and some are incomplete.
func waitVerified(ctx context.Context, t *torrent.Torrent) error {
	sub := t.SubscribePieceStateChanges()
	defer sub.Close()
	for {
		checking, incomplete := 0, 0
		for _, run := range t.PieceStateRuns() {
			switch {
			case run.Checking || run.Marking:
				checking += run.Length
			case !run.Complete:
				incomplete += run.Length
			}
		}
		if checking == 0 {
			if incomplete > 0 {
				return fmt.Errorf("%w: %d of %d pieces fail their hash", ErrCorrupt, incomplete, t.NumPieces())
			}
			return nil
		}
		select {
		case <-sub.Values:
		case <-t.Closed():
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Remove stops seeding infoHash and forgets its piece completion. Removing
// a torrent that is not seeded does nothing.
func (s *Seeder) Remove(infoHash [20]byte) error {
	ih := metainfo.Hash(infoHash)
	s.mu.Lock()
	e, ok := s.torrents[ih]
	c, registered := s.cold[ih]
	if registered {
		delete(s.cold, ih)
		delete(s.byFile, c.filePath)
	}
	if !ok && !registered {
		s.mu.Unlock()
		return nil
	}
	finish := s.retireLocked(ih)
	s.mu.Unlock()
	defer finish()
	if !ok {
		return s.forgetCompletion(ih, c.torrentPath)
	}
	if s.hooks.retired != nil {
		s.hooks.retired(ih)
	}
	<-e.ready // a Seed still verifying finishes (or fails) first
	if e.err != nil {
		return nil
	}
	n := e.t.NumPieces()
	e.t.Drop()
	for i := range n {
		if err := s.pc.Set(metainfo.PieceKey{InfoHash: ih, Index: i}, false); err != nil {
			return fmt.Errorf("seeder: remove %x: forget completion: %w", ih, err)
		}
	}
	s.log.Info("stopped seeding", "info_hash", ih.HexString())
	return nil
}

// retireLocked takes ih out of s.torrents (if there) so that its torrent
// can be dropped outside s.mu, and returns the function to call once that
// is done: until then a new entry for ih waits (see add). s.mu is held.
func (s *Seeder) retireLocked(ih metainfo.Hash) (finish func()) {
	delete(s.torrents, ih)
	done := make(chan struct{})
	s.dropping[ih] = done
	return func() {
		s.mu.Lock()
		if s.dropping[ih] == done {
			delete(s.dropping, ih)
		}
		s.mu.Unlock()
		close(done)
	}
}

// UploadedBytes returns the payload bytes sent to peers since New, over all
// torrents including removed ones.
func (s *Seeder) UploadedBytes() int64 {
	stats := s.cl.ConnStats()
	return stats.BytesWrittenData.Int64()
}

// DiskReadBytes returns the bytes read from seeded files since New, by
// hashing and by serving peers.
func (s *Seeder) DiskReadBytes() int64 { return s.readBytes.Load() }

// Torrents returns the torrents being seeded, in no particular order.
func (s *Seeder) Torrents() []TorrentStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]TorrentStats, 0, len(s.torrents))
	for ih, e := range s.torrents {
		select {
		case <-e.ready:
		default:
			continue // still verifying
		}
		if e.err != nil {
			continue
		}
		st := e.t.Stats()
		out = append(out, TorrentStats{
			InfoHash:      ih,
			Name:          e.t.Name(),
			Path:          e.path,
			UploadedBytes: st.BytesWrittenData.Int64(),
			Peers:         st.ActivePeers,
		})
	}
	return out
}

// Close stops the client, closing every connection, and the completion
// store. It is idempotent.
func (s *Seeder) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.torrents = map[metainfo.Hash]*entry{}
		s.mu.Unlock()
		s.stop()
		s.wg.Wait()
		errs := s.cl.Close()
		errs = append(errs, s.utp.Close(), s.pc.Close())
		s.closeErr = errors.Join(errs...)
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("seeder: close: %w", s.closeErr)
		}
	})
	return s.closeErr
}
