package piecestore

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

const pl = 100 // piece length in these tests

var ctx = context.Background()

func piece(i int) []byte { return bytes.Repeat([]byte{byte(i + 1)}, pl) }

// clockedLoad is Load with a clock the test moves.
func clockedLoad(t *testing.T, b Backend, budget int64, now *time.Time) *Store {
	t.Helper()
	s, err := Load(ctx, b, budget)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return *now }
	return s
}

func open(t *testing.T, s *Store, name string, length int64) *Torrent {
	t.Helper()
	tor, err := s.Open(ctx, name, pl, length)
	if err != nil {
		t.Fatal(err)
	}
	return tor
}

func put(t *testing.T, tor *Torrent, idx ...int) {
	t.Helper()
	for _, i := range idx {
		if err := tor.Put(ctx, i, piece(i)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
}

// dropLog records what a Torrent was told it lost.
type dropLog struct {
	mu  sync.Mutex
	got []int
}

func (d *dropLog) add(p []int) {
	d.mu.Lock()
	d.got = append(d.got, p...)
	slices.Sort(d.got)
	d.mu.Unlock()
}

func TestReloadFindsPieces(t *testing.T) {
	t.Parallel()
	b := NewMemory()
	now := time.Unix(1000, 0)
	s := clockedLoad(t, b, 10*pl, &now)
	tor := open(t, s, "aa", 5*pl-30) // last piece is short
	put(t, tor, 0, 2)
	if err := tor.Put(ctx, 4, piece(4)[:70]); err != nil {
		t.Fatal(err)
	}
	if err := tor.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := clockedLoad(t, b, 10*pl, &now)
	if u := s2.Usage(); u.Bytes != 2*pl+70 || u.Videos != 1 || u.Backend != "memory" {
		t.Fatalf("usage after reload %+v", u)
	}
	tor2 := open(t, s2, "aa", 5*pl-30)
	if got := tor2.Pieces(); !slices.Equal(got, []int{0, 2, 4}) {
		t.Fatalf("pieces after reload %v", got)
	}
	data, err := tor2.Get(ctx, 2)
	if err != nil || !bytes.Equal(data, piece(2)) {
		t.Fatalf("get 2: %v %v", data[:3], err)
	}
	if _, err := tor2.Get(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get 1: %v, want ErrNotFound", err)
	}
	// Opened again before its close ran (the page closes asynchronously):
	// the new handle takes over; the old one's late Close changes nothing.
	tor3, err := s2.Open(ctx, "aa", pl, 5*pl-30)
	if err != nil {
		t.Fatal(err)
	}
	if err := tor2.Put(ctx, 1, piece(1)); err == nil {
		t.Fatal("the replaced handle still stores")
	}
	if err := tor2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	put(t, tor3, 1)
	if got := tor3.Pieces(); !slices.Equal(got, []int{0, 1, 2, 4}) {
		t.Fatalf("pieces after take-over %v", got)
	}
	if u := s2.Usage(); u.Videos != 1 || u.Bytes != 3*pl+70 {
		t.Fatalf("usage after take-over %+v", u)
	}
}

// TestEvictsLeastRecentlyUsedVideoFirst: room is made by deleting whole
// videos not open, the one used longest ago first; then the open video's
// least recently used pieces, which its owner is told about.
func TestEvictsLeastRecentlyUsedVideoFirst(t *testing.T) {
	t.Parallel()
	b := NewMemory()
	now := time.Unix(1000, 0)
	s := clockedLoad(t, b, 6*pl, &now)
	for _, name := range []string{"old", "newer"} {
		tor := open(t, s, name, 10*pl)
		put(t, tor, 0, 1)
		now = now.Add(time.Minute)
		if err := tor.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s = clockedLoad(t, b, 6*pl, &now) // a later visit
	cur := open(t, s, "cur", 10*pl)
	var drops dropLog
	cur.OnDrop(drops.add)
	put(t, cur, 0, 1) // fits: 6 of 6
	if names, _ := b.Torrents(ctx); len(names) != 3 {
		t.Fatalf("evicted early: %v", names)
	}
	put(t, cur, 2)
	if _, err := b.ReadMeta(ctx, "old"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the least recently used video was not evicted: %v", err)
	}
	if p, _ := b.Pieces(ctx, "newer"); len(p) != 2 {
		t.Fatalf("the newer video lost pieces: %v", p)
	}
	put(t, cur, 3, 4)
	if p, _ := b.Pieces(ctx, "newer"); len(p) != 0 {
		t.Fatalf("the newer video was kept over the open one: %v", p)
	}
	if _, err := cur.Get(ctx, 0); err != nil { // 0 is now more recent than 1
		t.Fatal(err)
	}
	put(t, cur, 5, 6, 7)
	if got := cur.Pieces(); !slices.Equal(got, []int{0, 3, 4, 5, 6, 7}) {
		t.Fatalf("pieces %v, want the least recently used (1, 2) evicted", got)
	}
	if !slices.Equal(drops.got, []int{1, 2}) {
		t.Fatalf("told of dropped %v, want [1 2]", drops.got)
	}
	if u := s.Usage(); u.Bytes != 6*pl || u.Videos != 1 {
		t.Fatalf("usage %+v", u)
	}
	if err := cur.Put(ctx, 9, make([]byte, 7*pl)); !errors.Is(err, ErrFull) {
		t.Fatalf("a piece over the budget: %v, want ErrFull", err)
	}
}

func TestClear(t *testing.T) {
	t.Parallel()
	b := NewMemory()
	now := time.Unix(1000, 0)
	s := clockedLoad(t, b, 10*pl, &now)
	old := open(t, s, "old", 10*pl)
	put(t, old, 0)
	old.Close(ctx)
	cur := open(t, s, "cur", 10*pl)
	var drops dropLog
	cur.OnDrop(drops.add)
	put(t, cur, 3, 4)
	if err := s.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if u := s.Usage(); u.Bytes != 0 || u.Videos != 0 {
		t.Fatalf("usage after clear %+v", u)
	}
	if !slices.Equal(drops.got, []int{3, 4}) {
		t.Fatalf("open video told of %v, want [3 4]", drops.got)
	}
	if names, _ := b.Torrents(ctx); !slices.Equal(names, []string{"cur"}) {
		t.Fatalf("after clear the backend holds %v, want only the open video's record", names)
	}
	put(t, cur, 5) // storing goes on
	if got := cur.Pieces(); !slices.Equal(got, []int{5}) {
		t.Fatalf("pieces %v", got)
	}
}

func TestFailedWriteIsNotCounted(t *testing.T) {
	t.Parallel()
	b := NewMemory()
	s, _ := Load(ctx, b, 10*pl)
	tor := open(t, s, "aa", 10*pl)
	b.FailNextWrite(errors.New("quota exceeded"))
	if err := tor.Put(ctx, 1, piece(1)); err == nil {
		t.Fatal("write error not returned")
	}
	if u := s.Usage(); u.Bytes != 0 || len(tor.Pieces()) != 0 {
		t.Fatalf("a failed write is counted: %+v %v", u, tor.Pieces())
	}
}

func TestGeometryChangeEmpties(t *testing.T) {
	t.Parallel()
	b := NewMemory()
	s, _ := Load(ctx, b, 10*pl)
	tor := open(t, s, "aa", 10*pl)
	put(t, tor, 1)
	tor.Close(ctx)
	tor = open(t, s, "aa", 20*pl)
	if len(tor.Pieces()) != 0 || s.Usage().Bytes != 0 {
		t.Fatalf("pieces of another geometry kept: %v", tor.Pieces())
	}
}

func TestLoadDropsTorrentWithoutMeta(t *testing.T) {
	t.Parallel()
	b := NewMemory()
	b.WritePiece(ctx, "bb", 0, piece(0))
	b.WriteMeta(ctx, "cc", []byte("{not json"))
	s, err := Load(ctx, b, 10*pl)
	if err != nil {
		t.Fatal(err)
	}
	if names, _ := b.Torrents(ctx); len(names) != 0 || s.Usage().Bytes != 0 {
		t.Fatalf("unreadable torrents kept: %v", names)
	}
}

// slowBackend holds WritePiece until release is closed.
type slowBackend struct {
	*Memory
	started chan struct{}
	release chan struct{}
}

func (b slowBackend) WritePiece(ctx context.Context, torrent string, i int, data []byte) error {
	b.started <- struct{}{}
	<-b.release
	return b.Memory.WritePiece(ctx, torrent, i, data)
}

// TestClearDuringWrite: a piece being written when the viewer clears the
// store is not left behind, and its Put reports it dropped (the caller must
// not count it as stored).
func TestClearDuringWrite(t *testing.T) {
	t.Parallel()
	b := slowBackend{NewMemory(), make(chan struct{}), make(chan struct{})}
	s, _ := Load(ctx, b, 10*pl)
	tor := open(t, s, "aa", 10*pl)
	errc := make(chan error, 1)
	go func() { errc <- tor.Put(ctx, 1, piece(1)) }()
	<-b.started
	cleared := make(chan error, 1)
	go func() { cleared <- s.Clear(ctx) }()
	select {
	case err := <-cleared:
		t.Fatalf("Clear returned (%v) before the write in flight ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(b.release)
	if err := <-errc; !errors.Is(err, ErrDropped) {
		t.Fatalf("Put of a piece cleared meanwhile: %v, want ErrDropped", err)
	}
	if err := <-cleared; err != nil {
		t.Fatal(err)
	}
	if p, _ := b.Pieces(ctx, "aa"); len(p) != 0 {
		t.Fatalf("pieces left behind: %v", p)
	}
	if u := s.Usage(); u.Bytes != 0 {
		t.Fatalf("usage %+v", u)
	}
}
