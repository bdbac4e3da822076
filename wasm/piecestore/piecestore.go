// Package piecestore keeps the verified pieces of the videos a browser
// has watched across page loads, within a byte budget, so a reload or a
// return visit takes them from the browser's storage instead of the pod,
// and the page seeds them to other viewers while it is open.
//
// A [Store] sits on a [Backend]: the Origin Private File System or
// IndexedDB in a browser (package jsutil), [Memory] natively and in
// tests. Each torrent (named by its info hash in hex) has one small
// metadata record (piece length, length, last use) and one entry per
// stored piece, so a piece is written and read whole.
//
// Eviction is least recently used per video: to make room, whole videos
// not open in this page go first, the one used longest ago first; only
// when none is left does a video lose its own pieces, the least recently
// written or read first. The store does not verify: the caller (package
// swarm) checks each piece's SHA-1 when it reads it back, and deletes a
// piece that fails ([Torrent.Delete]).
//
// Pages open one Store each; several tabs share the backend but each
// counts only what it has seen (other tabs' writes after its Load are
// counted when they open the same video, or at the next Load).
package piecestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned (wrapped) by a Backend for an entry it does not
// hold.
var ErrNotFound = errors.New("piecestore: not stored")

// ErrDropped is returned by Torrent.Put when the piece was evicted or
// cleared while it was being written.
var ErrDropped = errors.New("piecestore: piece dropped while being written")

// ErrFull is returned by Torrent.Put when the budget cannot hold the piece
// even after every other piece was evicted.
var ErrFull = errors.New("piecestore: budget too small for the piece")

// Backend is where pieces live. Torrent names are 40 lower-case hex
// digits; piece indexes are ≥ 0. Methods are safe for concurrent use.
type Backend interface {
	// Kind names the backend for the page: "opfs", "indexeddb", "memory".
	Kind() string
	// Torrents lists the torrents with a metadata record or pieces.
	Torrents(ctx context.Context) ([]string, error)
	// ReadMeta returns a torrent's metadata record, or ErrNotFound.
	ReadMeta(ctx context.Context, torrent string) ([]byte, error)
	WriteMeta(ctx context.Context, torrent string, meta []byte) error
	// Pieces lists a torrent's stored pieces, in any order.
	Pieces(ctx context.Context, torrent string) ([]int, error)
	// ReadPiece returns a stored piece, or ErrNotFound.
	ReadPiece(ctx context.Context, torrent string, index int) ([]byte, error)
	WritePiece(ctx context.Context, torrent string, index int, data []byte) error
	// DeletePiece removes a piece; removing a missing one is no error.
	DeletePiece(ctx context.Context, torrent string, index int) error
	// DeleteTorrent removes a torrent's metadata and pieces.
	DeleteTorrent(ctx context.Context, torrent string) error
}

// meta is a torrent's metadata record (JSON).
type meta struct {
	PieceLength int64 `json:"pieceLength"`
	Length      int64 `json:"length"`
	LastUsed    int64 `json:"lastUsed"` // Unix milliseconds
}

func (m meta) size(i int) int64 {
	return min(m.PieceLength, m.Length-int64(i)*m.PieceLength)
}

// entry is what the store knows of one torrent; guarded by Store.mu.
type entry struct {
	meta   meta
	pieces map[int]int64 // stored piece → its size
	bytes  int64
	open   *Torrent // open in this page, else nil
}

// Store is a page's view of its stored pieces. Methods are safe for
// concurrent use.
type Store struct {
	b   Backend
	now func() time.Time

	mu       sync.Mutex // guards the following
	budget   int64
	torrents map[string]*entry
	bytes    int64
	clock    uint64                   // for piece recency
	writes   map[string]chan struct{} // in-flight WritePiece calls (key: torrent/index), closed when done
}

// Usage is what the page shows: bytes stored (all videos), the budget,
// how many videos hold pieces, and the backend's Kind.
type Usage struct {
	Bytes   int64  `json:"bytes"`
	Budget  int64  `json:"budget"`
	Videos  int    `json:"videos"`
	Backend string `json:"backend"`
}

// Load reads what backend holds (every torrent's metadata and piece list)
// and returns a Store bounded by budget bytes. A torrent without a
// readable metadata record is deleted: its piece sizes are unknown.
func Load(ctx context.Context, b Backend, budget int64) (*Store, error) {
	s := &Store{b: b, now: time.Now, budget: budget, torrents: map[string]*entry{}, writes: map[string]chan struct{}{}}
	names, err := b.Torrents(ctx)
	if err != nil {
		return nil, fmt.Errorf("piecestore: list %s: %w", b.Kind(), err)
	}
	for _, name := range names {
		e, err := s.read(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			_ = b.DeleteTorrent(ctx, name)
			continue
		}
		s.torrents[name] = e
		s.bytes += e.bytes
	}
	return s, nil
}

func (s *Store) read(ctx context.Context, name string) (*entry, error) {
	raw, err := s.b.ReadMeta(ctx, name)
	if err != nil {
		return nil, err
	}
	var m meta
	if err := json.Unmarshal(raw, &m); err != nil || m.PieceLength <= 0 || m.Length <= 0 {
		return nil, fmt.Errorf("piecestore: bad metadata for %s", name)
	}
	idx, err := s.b.Pieces(ctx, name)
	if err != nil {
		return nil, err
	}
	e := &entry{meta: m, pieces: map[int]int64{}}
	n := int((m.Length + m.PieceLength - 1) / m.PieceLength)
	for _, i := range idx {
		if i < 0 || i >= n {
			continue
		}
		e.pieces[i] = m.size(i)
		e.bytes += m.size(i)
	}
	return e, nil
}

// Kind is the backend's Kind.
func (s *Store) Kind() string { return s.b.Kind() }

// SetBudget changes the budget; it evicts on the next Put.
func (s *Store) SetBudget(bytes int64) {
	s.mu.Lock()
	s.budget = bytes
	s.mu.Unlock()
}

// Usage reports the bytes stored, the budget and the videos.
func (s *Store) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := Usage{Bytes: s.bytes, Budget: s.budget, Backend: s.b.Kind()}
	for _, e := range s.torrents {
		if e.bytes > 0 {
			u.Videos++
		}
	}
	return u
}

// Clear deletes every stored piece of every video. Open torrents are told
// which pieces they lost (Torrent.OnDrop) and keep storing what comes
// next: for them Clear deletes piece by piece, after the writes in flight
// when it was called have finished (a file being written cannot be
// removed, and would be left behind uncounted); videos not open are
// deleted whole.
func (s *Store) Clear(ctx context.Context) error {
	s.mu.Lock()
	var closed []string
	open := map[string][]int{}
	var drops []func()
	for name, e := range s.torrents {
		if e.open != nil {
			pieces := slices.Collect(mapKeys(e.pieces))
			open[name] = pieces
			drops = append(drops, e.open.dropped(pieces))
		} else {
			closed = append(closed, name)
			delete(s.torrents, name)
		}
		s.bytes -= e.bytes
		e.pieces, e.bytes = map[int]int64{}, 0
	}
	var inflight []chan struct{}
	for key, done := range s.writes {
		inflight = append(inflight, done)
		name, idx, _ := strings.Cut(key, "/")
		if i, err := strconv.Atoi(idx); err == nil && s.torrents[name] != nil {
			open[name] = append(open[name], i) // counted again by its Put, unless it failed
		}
	}
	s.mu.Unlock()
	for _, f := range drops {
		f()
	}
	for _, done := range inflight {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var errs []error
	for _, name := range closed {
		if err := s.b.DeleteTorrent(ctx, name); err != nil {
			errs = append(errs, err)
		}
	}
	for name, pieces := range open {
		for _, i := range pieces {
			s.mu.Lock()
			e := s.torrents[name]
			_, rewritten := e.pieces[i] // stored again since: keep it
			s.mu.Unlock()
			if rewritten {
				continue
			}
			if err := s.b.DeletePiece(ctx, name, i); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("piecestore: clear: %w", err)
	}
	return nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// writeMetaLocked writes e's record; it holds s.mu across one small
// backend write, which keeps records in the order of their updates.
func (s *Store) writeMetaLocked(ctx context.Context, name string, e *entry) error {
	raw, _ := json.Marshal(e.meta)
	return s.b.WriteMeta(ctx, name, raw)
}

// Open opens a torrent's pieces (infoHash in hex, the torrent's piece
// length and file length) and marks the video used now. A torrent stored
// with another geometry is emptied. Close it when the page closes the
// video. Opening a video open already hands its pieces to the new handle:
// the old one's Puts fail from then on, its Close changes nothing.
func (s *Store) Open(ctx context.Context, infoHash string, pieceLength, length int64) (*Torrent, error) {
	if pieceLength <= 0 || length <= 0 {
		return nil, fmt.Errorf("piecestore: open %s: bad geometry %d/%d", infoHash, pieceLength, length)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.torrents[infoHash]
	if e != nil && e.open != nil {
		// Opened again before the page's close of it ran (closing is
		// asynchronous; the watch page reopens a resolution it switches
		// back to): the new handle takes over, the old one stores no more.
		e.open.closed = true
		e.open = nil
	}
	if e != nil && (e.meta.PieceLength != pieceLength || e.meta.Length != length) {
		if err := s.b.DeleteTorrent(ctx, infoHash); err != nil {
			return nil, fmt.Errorf("piecestore: open %s: %w", infoHash, err)
		}
		s.bytes -= e.bytes
		e = nil
	}
	if e == nil {
		e = &entry{pieces: map[int]int64{}}
		s.torrents[infoHash] = e
	}
	e.meta = meta{PieceLength: pieceLength, Length: length, LastUsed: s.now().UnixMilli()}
	if err := s.writeMetaLocked(ctx, infoHash, e); err != nil {
		if e.bytes == 0 {
			delete(s.torrents, infoHash)
		}
		return nil, fmt.Errorf("piecestore: open %s: %w", infoHash, err)
	}
	t := &Torrent{s: s, name: infoHash, e: e, used: map[int]uint64{}}
	for i := range e.pieces {
		t.used[i] = 0 // stored before this page: the oldest
	}
	e.open = t
	return t, nil
}

// Torrent is one open video's stored pieces.
type Torrent struct {
	s    *Store
	name string
	e    *entry

	used   map[int]uint64 // piece → recency (Store.clock); guarded by Store.mu
	onDrop func([]int)    // set once, before use
	closed bool
}

// OnDrop sets f, called (without locks held) with the pieces the store
// dropped on its own: evicted for other pieces, or cleared.
func (t *Torrent) OnDrop(f func(pieces []int)) {
	t.s.mu.Lock()
	t.onDrop = f
	t.s.mu.Unlock()
}

// dropped returns the call telling t's owner about lost pieces.
func (t *Torrent) dropped(pieces []int) func() {
	f := t.onDrop
	for _, i := range pieces {
		delete(t.used, i)
	}
	return func() {
		if f != nil && len(pieces) > 0 {
			f(pieces)
		}
	}
}

// Pieces returns the stored pieces, ascending.
func (t *Torrent) Pieces() []int {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	out := slices.Collect(mapKeys(t.e.pieces))
	slices.Sort(out)
	return out
}

// Bytes is what this video's stored pieces weigh.
func (t *Torrent) Bytes() int64 {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	return t.e.bytes
}

// Free is how many more bytes this video may store without evicting its
// own pieces: the budget less every open video's pieces.
func (t *Torrent) Free() int64 {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	var open int64
	for _, e := range t.s.torrents {
		if e.open != nil {
			open += e.bytes
		}
	}
	return t.s.budget - open
}

// Get reads piece i as stored (the caller verifies it); ErrNotFound when
// it is not.
func (t *Torrent) Get(ctx context.Context, i int) ([]byte, error) {
	t.s.mu.Lock()
	_, ok := t.e.pieces[i]
	if ok {
		t.s.clock++
		t.used[i] = t.s.clock
	}
	t.s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("piece %d: %w", i, ErrNotFound)
	}
	return t.s.b.ReadPiece(ctx, t.name, i)
}

// Put stores piece i, evicting first whole videos not open, least
// recently used first, then this video's least recently used pieces. It
// returns ErrFull when the budget cannot hold it.
func (t *Torrent) Put(ctx context.Context, i int, data []byte) error {
	size := int64(len(data))
	s := t.s
	s.mu.Lock()
	if t.closed {
		s.mu.Unlock()
		return fmt.Errorf("piecestore: %s is closed", t.name)
	}
	if _, ok := t.e.pieces[i]; ok {
		s.mu.Unlock()
		return nil
	}
	var victims []string // videos to delete
	var own []int        // own pieces to delete
	var drops []func()   // owners to tell
	for s.bytes+size > s.budget {
		if name := s.oldestClosedLocked(); name != "" {
			e := s.torrents[name]
			s.bytes -= e.bytes
			delete(s.torrents, name)
			victims = append(victims, name)
			continue
		}
		j, ok := t.oldestPieceLocked(i)
		if !ok {
			s.mu.Unlock()
			t.deleteAll(ctx, victims, own)
			return fmt.Errorf("piecestore: piece %d (%d bytes, budget %d): %w", i, size, s.budget, ErrFull)
		}
		sz := t.e.pieces[j]
		delete(t.e.pieces, j)
		t.e.bytes -= sz
		s.bytes -= sz
		own = append(own, j)
	}
	if len(own) > 0 {
		drops = append(drops, t.dropped(own))
	}
	// Reserve the space now, so concurrent Puts do not overshoot.
	t.e.pieces[i] = size
	t.e.bytes += size
	s.bytes += size
	s.clock++
	t.used[i] = s.clock
	key := t.name + "/" + strconv.Itoa(i)
	done := make(chan struct{})
	s.writes[key] = done
	s.mu.Unlock()
	for _, f := range drops {
		f()
	}
	t.deleteAll(ctx, victims, own)
	err := s.b.WritePiece(ctx, t.name, i, data)
	s.mu.Lock()
	delete(s.writes, key)
	close(done)
	if _, ok := t.e.pieces[i]; err == nil && !ok {
		// Evicted or cleared while being written: the file must go, and
		// the caller must not count it as stored.
		err = ErrDropped
	} else if err != nil {
		if _, ok := t.e.pieces[i]; ok {
			delete(t.e.pieces, i)
			delete(t.used, i)
			t.e.bytes -= size
			s.bytes -= size
		}
	}
	s.mu.Unlock()
	if err != nil {
		_ = s.b.DeletePiece(ctx, t.name, i) // a partial write must not stay
		return fmt.Errorf("piecestore: write piece %d: %w", i, err)
	}
	return nil
}

func (t *Torrent) deleteAll(ctx context.Context, videos []string, own []int) {
	for _, name := range videos {
		_ = t.s.b.DeleteTorrent(ctx, name)
	}
	for _, i := range own {
		_ = t.s.b.DeletePiece(ctx, t.name, i)
	}
}

// oldestClosedLocked names the stored video not open in this page that was
// used longest ago, "" when there is none.
func (s *Store) oldestClosedLocked() string {
	best, at := "", int64(0)
	for name, e := range s.torrents {
		if e.open == nil && (best == "" || e.meta.LastUsed < at || (e.meta.LastUsed == at && name < best)) {
			best, at = name, e.meta.LastUsed
		}
	}
	return best
}

// oldestPieceLocked returns t's least recently used piece other than keep.
func (t *Torrent) oldestPieceLocked(keep int) (int, bool) {
	best, at, ok := 0, uint64(0), false
	for i := range t.e.pieces {
		if i == keep {
			continue
		}
		if u := t.used[i]; !ok || u < at || (u == at && i > best) {
			best, at, ok = i, u, true
		}
	}
	return best, ok
}

// Delete removes piece i (it failed verification, or its owner gave it
// up).
func (t *Torrent) Delete(ctx context.Context, i int) error {
	t.s.mu.Lock()
	if sz, ok := t.e.pieces[i]; ok {
		delete(t.e.pieces, i)
		delete(t.used, i)
		t.e.bytes -= sz
		t.s.bytes -= sz
	}
	t.s.mu.Unlock()
	return t.s.b.DeletePiece(ctx, t.name, i)
}

// Close marks the video used now and no longer open: it may be evicted
// as a whole from then on. Idempotent.
func (t *Torrent) Close(ctx context.Context) error {
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.e.open != t {
		return nil // taken over by a later Open
	}
	t.e.open = nil
	if t.e.bytes == 0 {
		delete(s.torrents, t.name)
		return s.b.DeleteTorrent(ctx, t.name)
	}
	t.e.meta.LastUsed = s.now().UnixMilli()
	return s.writeMetaLocked(ctx, t.name, t.e)
}
