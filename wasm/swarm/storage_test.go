package swarm

import (
	"bytes"
	"context"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/wasm/piecestore"
)

// openStored opens fx in store as the engine does (the torrent is told of
// pieces the store drops).
func openStored(t *testing.T, store *piecestore.Store, fx fixture, id string, cfg Config) (*Torrent, *piecestore.Torrent) {
	t.Helper()
	st, err := store.Open(context.Background(), hex.EncodeToString(fx.ih[:]), fx.mi.Info.PieceLength, fx.mi.Info.Length)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Metainfo, cfg.InfoHash, cfg.PeerID, cfg.Storage = fx.mi, fx.ih, peerID(id), st
	tor := start(t, cfg)
	st.OnDrop(tor.Unstored)
	return tor, st
}

// persisted waits until every verified piece of tor is in its storage.
func persisted(t *testing.T, tor *Torrent) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, "every piece written to storage", func() bool {
		st := tor.Stats()
		return st.PiecesPersisted == st.PiecesHave
	})
}

// TestStoredPiecesSurviveReload: a page that watched a video is closed; the
// next page (same browser storage) starts with every piece verified,
// reads the video with no peer and no web seed, and seeds it to another
// viewer from storage.
func TestStoredPiecesSurviveReload(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 5*pieceLen+777)
	backend := piecestore.NewMemory()
	store, _ := piecestore.Load(context.Background(), backend, 1<<30)
	seed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-seed"), Source: bytes.NewReader(fx.data)})
	first, st := openStored(t, store, fx, "-ST0001-first", Config{})
	connect(t, first, seed)
	if got := readAll(t, first, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("first visit: data differs")
	}
	persisted(t, first)
	first.Close()
	st.Close(context.Background())

	store, _ = piecestore.Load(context.Background(), backend, 1<<30) // the reload
	again, _ := openStored(t, store, fx, "-ST0001-again", Config{MemoryBudget: 2 * pieceLen})
	if st := again.Stats(); st.PiecesHave != st.Pieces || st.PiecesPersisted != st.Pieces {
		t.Fatalf("after reload: %+v, want every piece verified from storage", st)
	}
	if got := readAll(t, again, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("second visit: data differs")
	}
	if st := again.Stats(); st.BytesFromPeers+st.BytesFromWebSeed != 0 || st.BytesStored > 2*pieceLen {
		t.Fatalf("second visit fetched or kept in memory: %+v", st)
	}
	other := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-other")})
	connect(t, other, again)
	if got := readAll(t, other, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("the viewer seeded from storage got other data")
	}
}

// TestCorruptStoredPieceIsFetchedAgain: a stored piece damaged between
// visits is detected when read back, deleted, and fetched again from a
// peer; the player never sees the damaged bytes.
func TestCorruptStoredPieceIsFetchedAgain(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 4*pieceLen)
	backend := piecestore.NewMemory()
	store, _ := piecestore.Load(context.Background(), backend, 1<<30)
	seed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-seed"), Source: bytes.NewReader(fx.data)})
	first, st := openStored(t, store, fx, "-ST0001-first", Config{})
	connect(t, first, seed)
	readAll(t, first, len(fx.data))
	persisted(t, first)
	first.Close()
	st.Close(context.Background())
	if !backend.Corrupt(hex.EncodeToString(fx.ih[:]), 2) {
		t.Fatal("piece 2 was not stored")
	}

	store, _ = piecestore.Load(context.Background(), backend, 1<<30)
	again, _ := openStored(t, store, fx, "-ST0001-again", Config{})
	connect(t, again, seed)
	if got := readAll(t, again, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("the damaged piece reached the reader")
	}
	s := again.Stats()
	if s.BadStored != 1 || s.BytesFromPeers != pieceLen {
		t.Fatalf("stats %+v: want 1 bad stored piece, fetched again (%d bytes) and nothing else", s, pieceLen)
	}
	persisted(t, again)
}

// TestStorageEvictionAndClearForgetPieces: pieces the store drops (the
// budget, or the viewer clearing it) are no longer claimed: missing again
// unless still in memory.
func TestStorageEvictionAndClearForgetPieces(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 6*pieceLen)
	store, _ := piecestore.Load(context.Background(), piecestore.NewMemory(), 3*pieceLen)
	seed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-seed"), Source: bytes.NewReader(fx.data)})
	tor, st := openStored(t, store, fx, "-ST0001-v", Config{MemoryBudget: 2 * pieceLen, ReadaheadBytes: 2 * pieceLen})
	connect(t, tor, seed)
	if got := readAll(t, tor, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("data differs")
	}
	// The writer works in the background: the budget can read 3 pieces
	// after the third write while later ones still wait in memory, so
	// wait for the state the writer settles in (and fail if it never does).
	var s Stats
	testenv.Eventually(t, 15*time.Second, "the budget holds 3 pieces, memory within budget, evicted pieces not claimed", func() bool {
		s = tor.Stats()
		return s.PiecesPersisted == 3 && st.Bytes() == 3*pieceLen && s.BytesStored <= 3*pieceLen && s.PiecesHave <= 5
	})
	if err := store.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Clear keeps a write that was in flight (piecestore.Store.Clear), so
	// what must hold is that the torrent claims exactly what the store
	// holds, and has no piece that is in neither memory nor the store.
	testenv.Eventually(t, 15*time.Second, "after clear, only the pieces in memory or still stored are claimed", func() bool {
		s = tor.Stats()
		return s.BytesPersisted == st.Bytes() && s.BytesPersisted < 3*pieceLen &&
			int64(s.PiecesHave)*pieceLen <= s.BytesStored+st.Bytes()
	})
}

// gatedBackend is a piecestore backend whose writes wait for the gate:
// a storage slower than the download.
type gatedBackend struct {
	*piecestore.Memory
	gate chan struct{}
}

func (g gatedBackend) WritePiece(ctx context.Context, torrent string, i int, data []byte) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Memory.WritePiece(ctx, torrent, i, data)
}

// TestSlowStorageKeepsMemoryBounded: while the storage takes no write,
// pieces waiting to be written are dropped from memory like any others
// (missing again) instead of piling up: memory stays within the budget
// and the read window, and what is written later is what remained.
func TestSlowStorageKeepsMemoryBounded(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 12*pieceLen)
	gate := make(chan struct{})
	store, _ := piecestore.Load(context.Background(), gatedBackend{piecestore.NewMemory(), gate}, 1<<30)
	seed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-seed"), Source: bytes.NewReader(fx.data)})
	tor, _ := openStored(t, store, fx, "-ST0001-v", Config{MemoryBudget: 2 * pieceLen, ReadaheadBytes: 2 * pieceLen})
	connect(t, tor, seed)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	buf := make([]byte, 64<<10)
	var peak int64
	for off := int64(0); off < int64(len(fx.data)); {
		n, err := tor.ReadAt(ctx, "s", buf, off)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		if !bytes.Equal(buf[:n], fx.data[off:off+int64(n)]) {
			t.Fatalf("data differs at %d", off)
		}
		off += int64(n)
		peak = max(peak, tor.Stats().BytesStored)
	}
	// The read window (a piece behind, the current one, ReadaheadBytes
	// ahead) and the piece being written stay; nothing else piles up.
	if limit := int64(5 * pieceLen); peak > limit {
		t.Fatalf("memory peaked at %d bytes with writes stalled, want ≤ %d", peak, limit)
	}
	close(gate)
	persisted(t, tor)
	if s := tor.Stats(); s.PiecesPersisted == 0 || s.PiecesPersisted == s.Pieces {
		t.Fatalf("stats %+v: want the pieces still in memory written, the dropped ones not", s)
	}
}

// TestFullMemoryStillServesTheReader: at 16× writes to storage wait
// (writeMinBuffer), so memory fills with pieces that cannot be dropped
// without loss; the pod horizon (after the playhead) is longer than the
// memory budget, and the player's read waits on a piece just behind the
// playhead (its buffer ended there: TestLongVideoBoundedMemory's stall).
// The read is served, and the pod does not send pieces that memory would
// drop on arrival (before, the web seed fetched the horizon's farthest
// piece, evicted it as it arrived, fetched it again, forever, and never
// got to the read's piece).
func TestFullMemoryStillServesTheReader(t *testing.T) {
	t.Parallel()
	const n, playhead = 40, 20
	fx := newFixture(t, n*pieceLen)
	ws := recordingWebSeed(fx)
	store, _ := piecestore.Load(context.Background(), piecestore.NewMemory(), 1<<30)
	// One piece per second of media: a 12-piece horizon, 6 pieces of memory.
	fx.mi = ws.mi
	tor, _ := openStored(t, store, fx, "-ST0001-v", Config{HTTPClient: ws.client,
		MemoryBudget: 6 * pieceLen, ReadaheadBytes: 2 * pieceLen, PodHorizon: 12 * time.Second})
	tor.SetPlayback(Playback{Position: playhead, Duration: n, Rate: 16, Buffer: 0})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	buf := make([]byte, 100)
	off := int64(playhead-1)*pieceLen + 7
	if _, err := tor.ReadAt(ctx, "player", buf, off); err != nil {
		t.Fatalf("read of piece %d behind the playhead: %v; stats %+v, %d web seed ranges", playhead-1, err, tor.Stats(), len(ws.Ranges()))
	}
	if !bytes.Equal(buf, fx.data[off:off+100]) {
		t.Fatal("data differs")
	}
	// Memory holds the budget and the read window; the pod sends each
	// piece once, at most the horizon and the read window.
	testenv.Eventually(t, 15*time.Second, "the web seed stops", func() bool {
		a := len(ws.Ranges())
		time.Sleep(time.Second) // timed: absence: no new web seed range in a second (one from memory takes microseconds)
		return len(ws.Ranges()) == a
	})
	st := tor.Stats()
	t.Logf("web seed ranges %d, pieces in memory %d", len(ws.Ranges()), st.BytesStored/pieceLen)
	if st.PiecesPersisted != 0 {
		t.Fatalf("pieces written while writes wait: %+v", st)
	}
	if got := len(ws.Ranges()); got > 12+1 || st.BytesStored > 6*pieceLen+4*pieceLen {
		t.Fatalf("the web seed served %d ranges (%d distinct pieces), memory holds %d pieces: %+v",
			got, len(slices.Compact(slices.Sorted(slices.Values(ws.Ranges())))), st.BytesStored/pieceLen, st)
	}
}
