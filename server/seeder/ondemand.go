package seeder

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

// Seeding on demand (issue 20): a pod registers every local video at start,
// which costs a map entry and reads nothing; a registered torrent is loaded
// into anacrolix (goroutines, peer state, an open file) only while someone
// wants it, and unloaded after IdleTimeout without peers or activity.

// coldEntry is what loading a registered torrent needs.
type coldEntry struct {
	torrentPath, filePath string
}

// Register makes the torrent stored at torrentPath (a .torrent file) with
// its complete single file at filePath loadable by Wake and Touch, without
// reading either file. Registering an info hash again replaces its paths.
// Piece completion is expected to be recorded already (Seed or SeedVerified
// did it); otherwise the first load verifies the file.
func (s *Seeder) Register(infoHash [20]byte, torrentPath, filePath string) error {
	tp, err := filepath.Abs(torrentPath)
	if err != nil {
		return fmt.Errorf("seeder: %w", err)
	}
	fp, err := filepath.Abs(filePath)
	if err != nil {
		return fmt.Errorf("seeder: %w", err)
	}
	ih := metainfo.Hash(infoHash)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if old, ok := s.cold[ih]; ok {
		delete(s.byFile, old.filePath)
	}
	s.cold[ih] = coldEntry{torrentPath: tp, filePath: fp}
	s.byFile[fp] = ih
	return nil
}

// Reserve makes room for n more registrations (a pod's start registers
// every local video): the maps are then sized once instead of growing step
// by step.
func (s *Seeder) Reserve(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cold := make(map[metainfo.Hash]coldEntry, len(s.cold)+n)
	maps.Copy(cold, s.cold)
	byFile := make(map[string]metainfo.Hash, len(s.byFile)+n)
	maps.Copy(byFile, s.byFile)
	s.cold, s.byFile = cold, byFile
}

// Registered reports whether infoHash was registered (loaded or not).
func (s *Seeder) Registered(infoHash [20]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.cold[metainfo.Hash(infoHash)]
	return ok
}

// Touch records activity on infoHash and, if it is registered but not
// loaded, starts loading it in the background. It never blocks on I/O, so
// a tracker may call it for every announce. Unknown hashes are ignored.
func (s *Seeder) Touch(infoHash [20]byte) { s.wake(metainfo.Hash(infoHash)) }

// TouchFile is Touch for the registered torrent whose file is at path (a
// web seed read). Paths not registered are ignored.
func (s *Seeder) TouchFile(path string) {
	s.mu.Lock()
	ih, ok := s.byFile[path]
	s.mu.Unlock()
	if ok {
		s.wake(ih)
	}
}

// Wake is Touch that waits until the torrent is being seeded, or ctx ends,
// or loading fails. It returns nil at once for a torrent already loaded and
// ErrNotRegistered for one neither loaded nor registered.
func (s *Seeder) Wake(ctx context.Context, infoHash [20]byte) error {
	e := s.wake(metainfo.Hash(infoHash))
	if e == nil {
		return ErrNotRegistered
	}
	select {
	case <-e.ready:
		return e.err
	case <-ctx.Done():
		return fmt.Errorf("seeder: wake %x: %w", infoHash, ctx.Err())
	}
}

// wake returns the entry of ih after marking it active, starting a
// background load if needed; nil if ih is not known.
func (s *Seeder) wake(ih metainfo.Hash) *entry {
	now := time.Now().UnixNano()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	if e, ok := s.torrents[ih]; ok {
		// Under s.mu: the reaper decides under it too, so a torrent
		// woken here is not unloaded for being idle (see reap).
		e.last.Store(now)
		s.mu.Unlock()
		return e
	}
	c, ok := s.cold[ih]
	if !ok {
		s.mu.Unlock()
		return nil
	}
	// Claim the slot now, so concurrent wakes share one load.
	e := &entry{path: c.filePath, ready: make(chan struct{}), after: s.dropping[ih]}
	e.last.Store(now)
	s.torrents[ih] = e
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.load(ih, c, e)
	}()
	return e
}

// load adds a registered torrent to the client under the entry wake
// claimed, as seed does.
func (s *Seeder) load(ih metainfo.Hash, c coldEntry, e *entry) {
	begin := time.Now()
	mi, err := metainfo.LoadFromFile(c.torrentPath)
	var info metainfo.Info
	if err == nil {
		info, err = mi.UnmarshalInfo()
	}
	if err == nil && mi.HashInfoBytes() != ih {
		err = fmt.Errorf("%s holds torrent %x", c.torrentPath, mi.HashInfoBytes())
	}
	if err != nil {
		e.err = fmt.Errorf("seeder: load %x: %w", ih, err)
	} else {
		e.err = s.add(s.runCtx, mi, &info, ih, c.filePath, false, e)
	}
	if e.err != nil {
		s.mu.Lock()
		if s.torrents[ih] == e {
			delete(s.torrents, ih)
		}
		s.mu.Unlock()
		s.log.Warn("seeder: cannot load torrent", "info_hash", ih.HexString(), "err", e.err)
	} else {
		s.loads.Add(1)
		s.log.Debug("torrent loaded", "info_hash", ih.HexString(), "took", time.Since(begin))
	}
	close(e.ready)
	if e.err == nil {
		s.evictOverflow(ih)
	}
}

// evictOverflow unloads the least recently active registered torrents
// while more than maxActive are loaded, never keep itself.
func (s *Seeder) evictOverflow(keep metainfo.Hash) {
	for {
		s.mu.Lock()
		if len(s.torrents) <= s.maxActive {
			s.mu.Unlock()
			return
		}
		var victim metainfo.Hash
		var ve *entry
		for ih, e := range s.torrents {
			if ih == keep || !s.unloadable(ih, e) {
				continue
			}
			if ve == nil || e.last.Load() < ve.last.Load() {
				victim, ve = ih, e
			}
		}
		if ve == nil {
			s.mu.Unlock()
			return
		}
		finish := s.retireLocked(victim)
		s.mu.Unlock()
		s.unload(victim, ve, "max active")
		finish()
	}
}

// unloadable reports whether e may be unloaded: registered (so it can be
// loaded again) and done loading. s.mu is held.
func (s *Seeder) unloadable(ih metainfo.Hash, e *entry) bool {
	if _, ok := s.cold[ih]; !ok {
		return false
	}
	select {
	case <-e.ready:
		return e.err == nil
	default:
		return false
	}
}

// unload drops a torrent already removed from s.torrents; its registration
// and piece completion stay.
func (s *Seeder) unload(ih metainfo.Hash, e *entry, why string) {
	if s.hooks.retired != nil {
		s.hooks.retired(ih)
	}
	e.t.Drop()
	s.unloads.Add(1)
	s.log.Debug("torrent unloaded", "info_hash", ih.HexString(), "why", why)
}

// startReaper runs, until Close, the loop that unloads registered torrents
// idle for IdleTimeout. A torrent with a connected peer is active.
func (s *Seeder) startReaper() {
	tick := min(max(time.Duration(s.idle.Load())/4, 10*time.Millisecond), time.Minute)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-s.runCtx.Done():
				return
			case <-t.C:
			}
			s.reap()
		}
	}()
}

func (s *Seeder) reap() {
	type cand struct {
		ih metainfo.Hash
		e  *entry
	}
	var cands []cand
	s.mu.Lock()
	for ih, e := range s.torrents {
		if s.unloadable(ih, e) {
			cands = append(cands, cand{ih, e})
		}
	}
	s.mu.Unlock()
	now := time.Now()
	for _, c := range cands {
		if c.e.t.Stats().ActivePeers > 0 {
			c.e.last.Store(now.UnixNano())
			continue
		}
		idle := func() bool { return now.Sub(time.Unix(0, c.e.last.Load())) >= time.Duration(s.idle.Load()) }
		if !idle() {
			continue
		}
		if s.hooks.reapDecided != nil {
			s.hooks.reapDecided(c.ih)
		}
		// Decided again under s.mu, where wake marks activity: a wake
		// that returned this entry keeps it loaded, and one that comes
		// after finds it gone and loads it anew (after the drop).
		s.mu.Lock()
		if s.torrents[c.ih] != c.e || !idle() {
			s.mu.Unlock()
			continue
		}
		finish := s.retireLocked(c.ih)
		s.mu.Unlock()
		s.unload(c.ih, c.e, "idle")
		finish()
	}
}

// forgetCompletion clears the recorded completion of a registered torrent
// that is not loaded, reading its piece count from the .torrent.
func (s *Seeder) forgetCompletion(ih metainfo.Hash, torrentPath string) error {
	mi, err := metainfo.LoadFromFile(torrentPath)
	if os.IsNotExist(err) {
		return nil // nothing recorded can be found again without it
	}
	if err != nil {
		return fmt.Errorf("seeder: remove %x: %w", ih, err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return fmt.Errorf("seeder: remove %x: %w", ih, err)
	}
	for i := range info.NumPieces() {
		if err := s.pc.Set(metainfo.PieceKey{InfoHash: ih, Index: i}, false); err != nil {
			return fmt.Errorf("seeder: remove %x: forget completion: %w", ih, err)
		}
	}
	return nil
}

// Loaded reports the torrents loaded in the client (being seeded or
// verified) and those registered.
func (s *Seeder) Loaded() (loaded, registered int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.torrents), len(s.cold)
}

// PeerID is the seeder's BitTorrent peer ID (what trackers list it under).
func (s *Seeder) PeerID() [20]byte { return s.cl.PeerID() }
