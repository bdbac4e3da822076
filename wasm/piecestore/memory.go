package piecestore

import (
	"context"
	"fmt"
	"sync"
)

// Memory is a Backend in memory: natively (benchmarks' viewers, tests)
// and in a browser that grants no storage. Pieces are copied in and out,
// as a browser backend would.
type Memory struct {
	mu       sync.Mutex
	meta     map[string][]byte
	pieces   map[string]map[int][]byte
	failNext error // WritePiece returns it once (tests)
}

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{meta: map[string][]byte{}, pieces: map[string]map[int][]byte{}}
}

// Kind implements Backend.
func (m *Memory) Kind() string { return "memory" }

// Torrents implements Backend.
func (m *Memory) Torrents(context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for name := range m.meta {
		seen[name] = true
		out = append(out, name)
	}
	for name := range m.pieces {
		if !seen[name] {
			out = append(out, name)
		}
	}
	return out, nil
}

// ReadMeta implements Backend.
func (m *Memory) ReadMeta(_ context.Context, torrent string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.meta[torrent]
	if !ok {
		return nil, fmt.Errorf("meta of %s: %w", torrent, ErrNotFound)
	}
	return append([]byte(nil), b...), nil
}

// WriteMeta implements Backend.
func (m *Memory) WriteMeta(_ context.Context, torrent string, meta []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.meta[torrent] = append([]byte(nil), meta...)
	return nil
}

// Pieces implements Backend.
func (m *Memory) Pieces(_ context.Context, torrent string) ([]int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int
	for i := range m.pieces[torrent] {
		out = append(out, i)
	}
	return out, nil
}

// ReadPiece implements Backend.
func (m *Memory) ReadPiece(_ context.Context, torrent string, index int) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.pieces[torrent][index]
	if !ok {
		return nil, fmt.Errorf("piece %d of %s: %w", index, torrent, ErrNotFound)
	}
	return append([]byte(nil), b...), nil
}

// WritePiece implements Backend.
func (m *Memory) WritePiece(_ context.Context, torrent string, index int, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.failNext; err != nil {
		m.failNext = nil
		return err
	}
	if m.pieces[torrent] == nil {
		m.pieces[torrent] = map[int][]byte{}
	}
	m.pieces[torrent][index] = append([]byte(nil), data...)
	return nil
}

// DeletePiece implements Backend.
func (m *Memory) DeletePiece(_ context.Context, torrent string, index int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pieces[torrent], index)
	return nil
}

// DeleteTorrent implements Backend.
func (m *Memory) DeleteTorrent(_ context.Context, torrent string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.meta, torrent)
	delete(m.pieces, torrent)
	return nil
}

// Corrupt flips a byte of a stored piece (tests: a disk or another
// program damaged it). It reports whether the piece was there.
func (m *Memory) Corrupt(torrent string, index int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.pieces[torrent][index]
	if ok && len(b) > 0 {
		b[len(b)/2] ^= 0xff
	}
	return ok
}

// FailNextWrite makes the next WritePiece return err (tests).
func (m *Memory) FailNextWrite(err error) {
	m.mu.Lock()
	m.failNext = err
	m.mu.Unlock()
}
