package swarm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
	"github.com/swarmtube/swarmtube/wasm/peerwire"
)

const pieceLen = 256 << 10

// fixture is a test file and its torrent.
type fixture struct {
	data []byte
	mi   torrentfile.Metainfo
	ih   [20]byte
}

func newFixture(t testing.TB, size int) fixture {
	t.Helper()
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(1, uint64(size)))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	info, err := torrentfile.HashReader(context.Background(), bytes.NewReader(data), "video.mp4", int64(size), pieceLen, nil)
	if err != nil {
		t.Fatal(err)
	}
	ih, err := info.InfoHash()
	if err != nil {
		t.Fatal(err)
	}
	return fixture{data: data, mi: torrentfile.Metainfo{Info: info}, ih: ih}
}

func peerID(s string) (id [20]byte) {
	copy(id[:], s+"--------------------")
	return id
}

// start runs a torrent for the test's lifetime.
func start(t *testing.T, cfg Config) *Torrent {
	t.Helper()
	tor, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tor.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		tor.Close()
	})
	return tor
}

// connect joins two torrents with an in-memory pipe; the returned channel
// yields a's AddConn result.
func connect(t *testing.T, a, b *Torrent) <-chan error {
	t.Helper()
	ca, cb := net.Pipe()
	ea, eb := make(chan error, 1), make(chan error, 1)
	go func() { ea <- a.AddConn(context.Background(), ca, "pipe-b") }()
	go func() { eb <- b.AddConn(context.Background(), cb, "pipe-a") }()
	t.Cleanup(func() { ca.Close(); cb.Close(); <-ea; <-eb })
	out := make(chan error, 1)
	go func() { out <- <-ea; ea <- nil }()
	return out
}

func readAll(t *testing.T, tor *Torrent, size int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out := make([]byte, 0, size)
	buf := make([]byte, 64<<10)
	for off := int64(0); ; {
		n, err := tor.ReadAt(ctx, "s", buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
	}
}

func TestDownloadFromSeeder(t *testing.T) {
	fx := newFixture(t, 5*pieceLen+12345)
	seed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-seed"), Source: bytes.NewReader(fx.data)})
	leech := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech")})
	connect(t, leech, seed)
	if got := readAll(t, leech, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("downloaded data differs")
	}
	waitFor(t, leech.Complete)
	st := leech.Stats()
	if st.BytesFromPeers != int64(len(fx.data)) || st.BytesFromWebSeed != 0 || st.Peers != 1 {
		t.Fatalf("stats %+v", st)
	}
	waitFor(t, func() bool { return seed.Stats().BytesUploaded == int64(len(fx.data)) })
}

func TestChainThroughLeecher(t *testing.T) {
	// A browser that finished downloading uploads to the next one.
	fx := newFixture(t, 3*pieceLen)
	seed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-seed"), Source: bytes.NewReader(fx.data)})
	a := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-a")})
	b := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-b")})
	connect(t, a, seed)
	waitFor(t, a.Complete)
	connect(t, b, a)
	if got := readAll(t, b, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("b's data differs")
	}
	if up := a.Stats().BytesUploaded; up != int64(len(fx.data)) {
		t.Fatalf("a uploaded %d", up)
	}
}

// corruptReader flips a byte in every piece.
type corruptReader struct{ r io.ReaderAt }

func (c corruptReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	if n > 0 {
		p[0] ^= 0xff
	}
	return n, err
}

func TestCorruptPeerIsDropped(t *testing.T) {
	fx := newFixture(t, 2*pieceLen)
	bad := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-XX0001-bad"), Source: corruptReader{bytes.NewReader(fx.data)}})
	leech := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech")})
	res := connect(t, leech, bad)
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	go leech.ReadAt(rctx, "s", make([]byte, 1), 0) // a reader drives the picker
	select {
	case err := <-res:
		if !errors.Is(err, ErrBadData) {
			t.Fatalf("corrupt peer ended with %v, want ErrBadData", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("corrupt peer not dropped")
	}
	if st := leech.Stats(); st.BadPieces == 0 || st.PiecesHave != 0 {
		t.Fatalf("stats after corrupt peer: %+v", st)
	}
	// Banned: it cannot come back.
	if err := <-connect(t, leech, bad); !errors.Is(err, ErrRejected) {
		t.Fatalf("banned peer reconnect: %v", err)
	}
	good := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-good"), Source: bytes.NewReader(fx.data)})
	connect(t, leech, good)
	waitFor(t, leech.Complete)
	if got := readAll(t, leech, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("data differs after recovery")
	}
}

// recordingWebSeed serves fx's data as a web seed and returns fx's
// metainfo pointing at it, and a function listing the Range headers served.
func recordingWebSeed(t *testing.T, fx fixture) (torrentfile.Metainfo, func() []string) {
	var mu sync.Mutex
	var ranges []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		http.ServeContent(w, r, "video.mp4", time.Time{}, bytes.NewReader(fx.data))
	}))
	t.Cleanup(srv.Close)
	mi := fx.mi
	mi.URLList = []string{srv.URL + "/"}
	return mi, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ranges)
	}
}

func TestWebSeedServesUrgentPiecesOnly(t *testing.T) {
	fx := newFixture(t, 6*pieceLen)
	mi, ranges := recordingWebSeed(t, fx)
	leech := start(t, Config{Metainfo: mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech")})
	time.Sleep(500 * time.Millisecond)
	if r := ranges(); len(r) != 0 {
		t.Fatalf("web seed used with no reader: %v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]byte, 100)
	off := int64(3*pieceLen + 7)
	if _, err := leech.ReadAt(ctx, "s", buf, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, fx.data[off:off+100]) {
		t.Fatal("web seed data differs")
	}
	waitFor(t, func() bool { return leech.Stats().BytesFromWebSeed == 2*pieceLen })
	time.Sleep(300 * time.Millisecond)
	st := leech.Stats()
	if st.BytesFromWebSeed != 2*pieceLen || st.PiecesHave != 2 {
		t.Fatalf("web seed fetched beyond its window: %+v, ranges %v", st, ranges())
	}
}

func TestMemoryBudgetEvicts(t *testing.T) {
	fx := newFixture(t, 12*pieceLen)
	seed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-seed"), Source: bytes.NewReader(fx.data)})
	budget := int64(5 * pieceLen)
	leech := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"),
		MemoryBudget: budget, ReadaheadBytes: 2 * pieceLen})
	connect(t, leech, seed)
	if got := readAll(t, leech, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("data differs")
	}
	if st := leech.Stats(); st.BytesStored > budget {
		t.Fatalf("stored %d > budget %d", st.BytesStored, budget)
	}
	// Seeking back re-fetches an evicted piece.
	buf := make([]byte, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := leech.ReadAt(ctx, "s", buf, 5); err != nil || !bytes.Equal(buf, fx.data[5:15]) {
		t.Fatalf("re-read after eviction: %v", err)
	}
}

func TestWrongInfoHashRejected(t *testing.T) {
	fx := newFixture(t, pieceLen)
	other := newFixture(t, pieceLen+1)
	a := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-a")})
	b := start(t, Config{Metainfo: other.mi, InfoHash: other.ih, PeerID: peerID("-ST0001-b")})
	if err := <-connect(t, a, b); !errors.Is(err, ErrWrongTorrent) {
		t.Fatalf("err = %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var _ = peerwire.BlockSize

func isServer(id [20]byte) bool { return string(id[:3]) != "-ST" }

func TestServerPeerSpared(t *testing.T) {
	fx := newFixture(t, 24*pieceLen)
	browserSeed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-browser"), Source: bytes.NewReader(fx.data)})
	serverSeed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-GT0003-pod"), Source: bytes.NewReader(fx.data)})
	leech := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ServerPeer: isServer})
	connect(t, leech, browserSeed)
	waitFor(t, func() bool { return leech.Stats().BytesFromPeers > 0 })
	connect(t, leech, serverSeed)
	waitFor(t, leech.Complete)
	st := leech.Stats()
	if st.BytesFromServers != 0 || st.BytesFromPeers != int64(len(fx.data)) {
		t.Fatalf("server peer was asked for pieces a browser peer had: %+v", st)
	}
	for _, p := range st.PeerList {
		if p.Server != (p.ID[:3] == "-GT") {
			t.Errorf("peer %s server=%v", p.ID, p.Server)
		}
	}
}

func TestServerPeerFillsWhatBrowsersLack(t *testing.T) {
	// Without browser peers, the server is used like any peer.
	fx := newFixture(t, 4*pieceLen)
	serverSeed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-GT0003-pod"), Source: bytes.NewReader(fx.data)})
	leech := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ServerPeer: isServer})
	connect(t, leech, serverSeed)
	waitFor(t, leech.Complete)
	if st := leech.Stats(); st.BytesFromServers != int64(len(fx.data)) {
		t.Fatalf("stats %+v", st)
	}
}

func TestAddWebSeedData(t *testing.T) {
	fx := newFixture(t, 6*pieceLen)
	mi, ranges := recordingWebSeed(t, fx)
	bad := append([]byte(nil), fx.data[4*pieceLen:6*pieceLen]...)
	bad[pieceLen+5] ^= 0xff
	tests := []struct {
		name       string
		off        int64
		data       []byte
		wantPieces int
		wantHave   []int
	}{
		{"whole pieces and a partial one", 0, fx.data[:2*pieceLen+100], 2, []int{0, 1}},
		{"unaligned start", pieceLen / 2, fx.data[pieceLen/2 : 3*pieceLen], 2, []int{1, 2}},
		{"corrupt second piece", 4 * pieceLen, bad, 1, []int{4}},
		{"past the end", 6 * pieceLen, fx.data[:10], 0, nil},
		{"shorter than a piece", 0, fx.data[:pieceLen-1], 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leech := start(t, Config{Metainfo: mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech")})
			if got := leech.AddWebSeedData(context.Background(), tc.off, tc.data); got != tc.wantPieces {
				t.Fatalf("stored %d pieces, want %d", got, tc.wantPieces)
			}
			st := leech.Stats()
			wantBytes := int64(len(tc.data))
			if tc.off >= int64(len(fx.data)) {
				wantBytes = 0
			}
			if st.PiecesHave != tc.wantPieces || st.BytesFromWebSeed != wantBytes {
				t.Fatalf("stats %+v, want %d pieces, %d web seed bytes", st, tc.wantPieces, wantBytes)
			}
			before := len(ranges())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			buf := make([]byte, 100)
			for _, i := range tc.wantHave {
				off := int64(i)*pieceLen + 3
				if _, err := leech.ReadAt(ctx, "s", buf, off); err != nil || !bytes.Equal(buf, fx.data[off:off+100]) {
					t.Fatalf("read piece %d: %v", i, err)
				}
			}
			if r := ranges(); len(r) != before {
				t.Fatalf("pieces given were fetched again: %v", r[before:])
			}
		})
	}
}
