package swarm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
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
	out, eb := make(chan error, 1), make(chan error, 1)
	doneA := make(chan struct{})
	go func() {
		defer close(doneA)
		out <- a.AddConn(context.Background(), ca, "pipe-b")
	}()
	go func() { eb <- b.AddConn(context.Background(), cb, "pipe-a") }()
	t.Cleanup(func() { ca.Close(); cb.Close(); <-doneA; <-eb })
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
	t.Parallel()
	fx := newFixture(t, 5*pieceLen+12345)
	seed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-seed"), Source: bytes.NewReader(fx.data)})
	leech := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech")})
	connect(t, leech, seed)
	if got := readAll(t, leech, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("downloaded data differs")
	}
	testenv.Eventually(t, 15*time.Second, "the swarm state", leech.Complete)
	st := leech.Stats()
	if st.BytesFromPeers != int64(len(fx.data)) || st.BytesFromWebSeed != 0 || st.Peers != 1 {
		t.Fatalf("stats %+v", st)
	}
	testenv.Eventually(t, 15*time.Second, "the swarm state", func() bool { return seed.Stats().BytesUploaded == int64(len(fx.data)) })
}

func TestChainThroughLeecher(t *testing.T) {
	t.Parallel()
	// A browser that finished downloading uploads to the next one.
	fx := newFixture(t, 3*pieceLen)
	seed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-seed"), Source: bytes.NewReader(fx.data)})
	a := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-a")})
	b := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-b")})
	connect(t, a, seed)
	testenv.Eventually(t, 15*time.Second, "the swarm state", a.Complete)
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
	t.Parallel()
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
	testenv.Eventually(t, 15*time.Second, "the swarm state", leech.Complete)
	if got := readAll(t, leech, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("data differs after recovery")
	}
}

// webSeed serves a fixture's data as a web seed, in memory: no socket, so
// tests that use it can run in a synctest bubble.
type webSeed struct {
	mi     torrentfile.Metainfo // the fixture's, with the web seed's URL
	client *http.Client         // for Config.HTTPClient
	mu     sync.Mutex
	ranges []string // guarded by mu: the Range headers served
}

// recordingWebSeed serves fx's data as a web seed.
func recordingWebSeed(fx fixture) *webSeed {
	ws := &webSeed{mi: fx.mi}
	ws.mi.URLList = []string{"http://webseed.test/"}
	ws.client = &http.Client{Transport: handlerTransport(func(w http.ResponseWriter, r *http.Request) {
		ws.mu.Lock()
		ws.ranges = append(ws.ranges, r.Header.Get("Range"))
		ws.mu.Unlock()
		http.ServeContent(w, r, "video.mp4", time.Time{}, bytes.NewReader(fx.data))
	})}
	return ws
}

// Ranges lists the Range headers served so far.
func (ws *webSeed) Ranges() []string {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return slices.Clone(ws.ranges)
}

// handlerTransport answers each request with the handler, in the caller's
// goroutine.
type handlerTransport http.HandlerFunc

func (h handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	h(rec, r)
	return rec.Result(), nil
}

func TestWebSeedServesUrgentPiecesOnly(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Without playback reports, the pod horizon is ReadaheadBytes after
		// each read position.
		fx := newFixture(t, 6*pieceLen)
		ws := recordingWebSeed(fx)
		leech := start(t, Config{Metainfo: ws.mi, HTTPClient: ws.client, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ReadaheadBytes: 2 * pieceLen})
		// Bytes 3×pieceLen+7 on: at most 3 pieces, 2 of them only for the
		// horizon.
		time.Sleep(podFillDelay + time.Second)
		synctest.Wait()
		if r := ws.Ranges(); len(r) != 0 {
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
		// Pieces 3, 4 and 5 hold the two pieces' worth of bytes after off.
		testenv.Eventually(t, 15*time.Second, "the swarm state", func() bool { return leech.Stats().BytesFromWebSeed == 3*pieceLen })
		time.Sleep(podFillDelay + time.Second) // then nothing more
		synctest.Wait()
		st := leech.Stats()
		if st.BytesFromWebSeed != 3*pieceLen || st.PiecesHave != 3 {
			t.Fatalf("web seed fetched beyond its window: %+v, ranges %v", st, ws.Ranges())
		}
	})
}

func TestMemoryBudgetEvicts(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	fx := newFixture(t, pieceLen)
	other := newFixture(t, pieceLen+1)
	a := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-a")})
	b := start(t, Config{Metainfo: other.mi, InfoHash: other.ih, PeerID: peerID("-ST0001-b")})
	if err := <-connect(t, a, b); !errors.Is(err, ErrWrongTorrent) {
		t.Fatalf("err = %v", err)
	}
}

func isServer(id [20]byte) bool { return string(id[:3]) != "-ST" }

func TestServerPeerSpared(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 24*pieceLen)
	browserSeed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-browser"), Source: bytes.NewReader(fx.data)})
	serverSeed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-GT0003-pod"), Source: bytes.NewReader(fx.data)})
	leech := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ServerPeer: isServer})
	connect(t, leech, browserSeed)
	testenv.Eventually(t, 15*time.Second, "the swarm state", func() bool { return leech.Stats().BytesFromPeers > 0 })
	connect(t, leech, serverSeed)
	testenv.Eventually(t, 15*time.Second, "the swarm state", leech.Complete)
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

func TestServerPeerServesTheReader(t *testing.T) {
	t.Parallel()
	// Without browser peers, the pod's seeder sends what a reader reads.
	fx := newFixture(t, 4*pieceLen)
	serverSeed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-GT0003-pod"), Source: bytes.NewReader(fx.data)})
	leech := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ServerPeer: isServer})
	connect(t, leech, serverSeed)
	if got := readAll(t, leech, len(fx.data)); !bytes.Equal(got, fx.data) {
		t.Fatal("data differs")
	}
	if st := leech.Stats(); st.BytesFromServers != int64(len(fx.data)) {
		t.Fatalf("stats %+v", st)
	}
}

// podBytes is what the pod sent a torrent: its seeder peers and web seed.
func podBytes(tor *Torrent) int64 {
	st := tor.Stats()
	return st.BytesFromServers + st.BytesFromWebSeed
}

// readAhead reads the file from off on in the background like a player's
// range request, until the test ends.
func readAhead(t *testing.T, tor *Torrent, off int64) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := tor.ReadAt(ctx, "player", buf, off)
			if err != nil {
				return
			}
			off += int64(n)
		}
	}()
}

// steady returns f once it has not changed for a second longer than
// pieces wait in the horizon for a browser peer (at most 20 s). It runs in
// a synctest bubble: the clock is fake, and synctest.Wait lets every
// goroutine of the swarm finish what the elapsed time started.
func steady(t *testing.T, f func() int64) int64 {
	t.Helper()
	v := f()
	for range int(20 * time.Second / (podFillDelay + time.Second)) {
		time.Sleep(podFillDelay + time.Second)
		synctest.Wait()
		w := f()
		if w == v {
			return v
		}
		v = w
	}
	t.Fatalf("still changing after 20 s: %d", v)
	return 0
}

func TestPodSeederBoundedWithoutBrowserPeers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Only the pod's seeder in the swarm, a player reading the start and
		// reporting nothing: the pod sends the pieces within ReadaheadBytes of
		// the read, not the whole file (before the pod budget the picker took
		// everything from it, rarest first).
		fx := newFixture(t, 24*pieceLen)
		serverSeed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-GT0003-pod"), Source: bytes.NewReader(fx.data)})
		leech := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ServerPeer: isServer, ReadaheadBytes: 4 * pieceLen})
		connect(t, leech, serverSeed)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := leech.ReadAt(ctx, "s", make([]byte, 100), 0); err != nil {
			t.Fatal(err)
		}
		if got := steady(t, func() int64 { return podBytes(leech) }); got > 4*pieceLen {
			t.Fatalf("the pod sent %d bytes (%d pieces) for a read at 0 with a 4-piece horizon", got, got/pieceLen)
		}
	})
}

func TestPodHorizonPaused(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// A paused player that reads ahead as far as it may: the pod (web seed
		// and seeder together, no duplicates) fills the horizon after the
		// playhead, PodHorizon seconds of media at the file's bitrate, then
		// sends nothing more; moving the playhead moves the horizon.
		const n = 40
		fx := newFixture(t, n*pieceLen)
		ws := recordingWebSeed(fx)
		serverSeed := start(t, Config{Metainfo: ws.mi, HTTPClient: ws.client, InfoHash: fx.ih, PeerID: peerID("-GT0003-pod"), Source: bytes.NewReader(fx.data)})
		leech := start(t, Config{Metainfo: ws.mi, HTTPClient: ws.client, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ServerPeer: isServer, PodHorizon: 8 * time.Second})
		connect(t, leech, serverSeed)
		// One piece per second of media: the horizon is 8 pieces.
		leech.SetPlayback(Playback{Position: 0, Duration: n, Paused: true, Buffer: 0})
		readAhead(t, leech, 0)
		if got := steady(t, func() int64 { return podBytes(leech) }); got != 8*pieceLen {
			t.Fatalf("paused at 0 s with an 8 s horizon the pod sent %d bytes (%.1f pieces), want 8 pieces; web seed ranges %v, stats %+v",
				got, float64(got)/pieceLen, ws.Ranges(), leech.Stats())
		}
		if st := leech.Stats(); st.PiecesHave != 8 {
			t.Fatalf("have %d pieces, want the 8 of the horizon", st.PiecesHave)
		}
		leech.SetPlayback(Playback{Position: 3, Duration: n, Paused: true, Buffer: 0})
		if got := steady(t, func() int64 { return podBytes(leech) }); got != 11*pieceLen {
			t.Fatalf("paused at 3 s the pod sent %d bytes (%.1f pieces), want 11", got, float64(got)/pieceLen)
		}
	})
}

func TestBrowserPeersBeyondHorizon(t *testing.T) {
	t.Parallel()
	// Prefetching beyond the horizon (rarest first) is from browser peers
	// only, and they are asked first inside it too.
	const n = 24
	fx := newFixture(t, n*pieceLen)
	ws := recordingWebSeed(fx)
	browserSeed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-browser"), Source: bytes.NewReader(fx.data)})
	serverSeed := start(t, Config{Metainfo: ws.mi, HTTPClient: ws.client, InfoHash: fx.ih, PeerID: peerID("-GT0003-pod"), Source: bytes.NewReader(fx.data)})
	leech := start(t, Config{Metainfo: ws.mi, HTTPClient: ws.client, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ServerPeer: isServer, PodHorizon: 8 * time.Second})
	connect(t, leech, serverSeed)
	connect(t, leech, browserSeed)
	testenv.Eventually(t, 15*time.Second, "the swarm state", func() bool { return leech.Stats().Peers == 2 })
	leech.SetPlayback(Playback{Position: 0, Duration: n, Paused: true, Buffer: 0})
	readAhead(t, leech, 0)
	testenv.Eventually(t, 15*time.Second, "the swarm state", leech.Complete)
	// The piece under the playhead is needed now: the pod may send it
	// if the browser peer has not within podGrace.
	if got := podBytes(leech); got > pieceLen {
		t.Fatalf("the pod sent %d bytes with a browser peer holding everything: %+v", got, leech.Stats())
	}
}

// stallingPeer connects to tor as a browser peer that has every piece and
// unchokes, but never sends a block.
func stallingPeer(t *testing.T, tor *Torrent, fx fixture) {
	t.Helper()
	a, b := net.Pipe()
	go tor.AddConn(context.Background(), a, "stalling")
	done := make(chan struct{})
	t.Cleanup(func() { b.Close(); <-done })
	go func() {
		defer close(done)
		hs := peerwire.Handshake{InfoHash: fx.ih, PeerID: peerID("-ST0001-stall")}
		bf := peerwire.NewBitfield(tor.Info().NumPieces())
		for i := 0; i < tor.Info().NumPieces(); i++ {
			bf.Set(i)
		}
		out := hs.AppendBinary(nil)
		out = peerwire.Message{Type: peerwire.BitfieldMsg, Bitfield: bf}.AppendBinary(out)
		out = peerwire.Message{Type: peerwire.Unchoke}.AppendBinary(out)
		go b.Write(out) // one write: its parts stay in order
		if _, err := peerwire.ReadHandshake(b); err != nil {
			return
		}
		io.Copy(io.Discard, b)
	}()
}

func TestPodOnlyWhenPeersCannotDeliverInTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// A browser peer offers every piece but never delivers. Playing at
		// 1 s of media per piece, the pod sends a piece only once it is needed
		// within podRescue (and podGrace passed), never the horizon's far end.
		const n = 40
		fx := newFixture(t, n*pieceLen)
		ws := recordingWebSeed(fx)
		leech := start(t, Config{Metainfo: ws.mi, HTTPClient: ws.client, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ServerPeer: isServer})
		stallingPeer(t, leech, fx)
		testenv.Eventually(t, 15*time.Second, "the swarm state", func() bool { return leech.Stats().Peers == 1 })
		if got := leech.AddWebSeedData(context.Background(), "http://webseed.test/video.mp4", 0, fx.data[:4*pieceLen]); got != 4 {
			t.Fatalf("stored %d early pieces", got)
		}
		readAhead(t, leech, 0)
		begin := time.Now()
		for time.Since(begin) < 4500*time.Millisecond {
			pos := time.Since(begin).Seconds()
			leech.SetPlayback(Playback{Position: pos, Duration: n, Buffer: max(4-pos, 0)})
			time.Sleep(100 * time.Millisecond)
			// Pieces the pod may have sent by now: the early 4, and
			// those needed within podRescue of the playhead.
			limit := max(4, int64(math.Ceil(time.Since(begin).Seconds()+podRescue.Seconds())+1)) * pieceLen
			if got := podBytes(leech); got > limit {
				t.Fatalf("at %.1f s the pod sent %d bytes (%.1f pieces), want ≤ %d pieces: it may only help with pieces needed within %v",
					pos, got, float64(got)/pieceLen, limit/pieceLen, podRescue)
			}
		}
		// The player kept playing: everything it needed came from the pod.
		if st := leech.Stats(); st.PiecesHave < 6 {
			t.Fatalf("after 4.5 s of play the pod has not stepped in for the stalled peer: %+v", st)
		}
	})
}

func TestAddWebSeedData(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 6*pieceLen)
	ws := recordingWebSeed(fx)
	bad := append([]byte(nil), fx.data[4*pieceLen:6*pieceLen]...)
	bad[pieceLen+5] ^= 0xff
	tests := []struct {
		name       string
		url        string // where the page read the bytes
		off        int64
		data       []byte
		wantPieces int
		wantHave   []int
		wantSeeds  int // Stats.WebSeeds entries
	}{
		{"whole pieces and a partial one", "http://webseed.test/video.mp4", 0, fx.data[:2*pieceLen+100], 2, []int{0, 1}, 1},
		{"unaligned start", "http://webseed.test/", pieceLen / 2, fx.data[pieceLen/2 : 3*pieceLen], 2, []int{1, 2}, 1},
		{"corrupt second piece", "http://webseed.test/video.mp4", 4 * pieceLen, bad, 1, []int{4}, 1},
		{"past the end", "http://webseed.test/video.mp4", 6 * pieceLen, fx.data[:10], 0, nil, 1},
		{"shorter than a piece", "http://webseed.test/video.mp4", 0, fx.data[:pieceLen-1], 0, nil, 1},
		{"another address: an entry of its own", "http://mirror.test/video.mp4", 0, fx.data[:pieceLen], 1, []int{0}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leech := start(t, Config{Metainfo: ws.mi, HTTPClient: ws.client, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech")})
			if got := leech.AddWebSeedData(context.Background(), tc.url, tc.off, tc.data); got != tc.wantPieces {
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
			// The bytes count for the seed the page read them from.
			if len(st.WebSeeds) != tc.wantSeeds || st.WebSeeds[tc.wantSeeds-1].Bytes != wantBytes {
				t.Fatalf("web seeds %+v, want %d, the last with %d bytes", st.WebSeeds, tc.wantSeeds, wantBytes)
			}
			if st.BytesFromOrigin+st.BytesFromMirrors != st.BytesFromWebSeed {
				t.Fatalf("origin %d + mirrors %d != web seed %d", st.BytesFromOrigin, st.BytesFromMirrors, st.BytesFromWebSeed)
			}
			before := len(ws.Ranges())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			buf := make([]byte, 100)
			for _, i := range tc.wantHave {
				off := int64(i)*pieceLen + 3
				if _, err := leech.ReadAt(ctx, "s", buf, off); err != nil || !bytes.Equal(buf, fx.data[off:off+100]) {
					t.Fatalf("read piece %d: %v", i, err)
				}
			}
			if r := ws.Ranges(); len(r) != before {
				t.Fatalf("pieces given were fetched again: %v", r[before:])
			}
		})
	}
}

func TestRatesFallToZero(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Rates are over a sliding window: once nothing moves they read 0,
		// not a decaying remainder.
		fx := newFixture(t, 8*pieceLen)
		seed := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-seed"), Source: bytes.NewReader(fx.data)})
		leech := start(t, Config{Metainfo: fx.mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech")})
		connect(t, leech, seed)
		testenv.Eventually(t, 15*time.Second, "the swarm state", leech.Complete)
		testenv.Eventually(t, 15*time.Second, "the swarm state", func() bool { return leech.Stats().DownloadRate > 0 && seed.Stats().UploadRate > 0 })
		time.Sleep(rateWindow * time.Second)
		synctest.Wait()
		if d, u := leech.Stats().DownloadRate, seed.Stats().UploadRate; d != 0 || u != 0 {
			t.Fatalf("%d s after the download: download rate %v, upload rate %v", rateWindow, d, u)
		}
	})
}

func TestPodSendsAPieceOnceToViewersTogether(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Two viewers at the same place, both filling their pod horizon: the
		// pod sends each piece once, to one of them (the lower peer id at equal
		// playheads), and the other takes it from that viewer (issue 12: "when
		// several viewers need the same piece from the pod at the same moment,
		// the pod should send it once").
		const n = 40
		fx := newFixture(t, n*pieceLen)
		ws := recordingWebSeed(fx)
		a := start(t, Config{Metainfo: ws.mi, HTTPClient: ws.client, InfoHash: fx.ih, PeerID: peerID("-ST0001-a"), ServerPeer: isServer, PodHorizon: 8 * time.Second})
		b := start(t, Config{Metainfo: ws.mi, HTTPClient: ws.client, InfoHash: fx.ih, PeerID: peerID("-ST0001-b"), ServerPeer: isServer, PodHorizon: 8 * time.Second})
		connect(t, a, b)
		testenv.Eventually(t, 10*time.Second, "the two viewers connected", func() bool { return a.Stats().Peers == 1 && b.Stats().Peers == 1 })
		// One piece per second of media: each horizon is 8 pieces. The piece
		// at the playhead is needed at once by whoever is there; a gets it
		// before b arrives, the rest of the horizon is needed by both alike.
		a.SetPlayback(Playback{Position: 0, Duration: n, Paused: true, Buffer: 0})
		readAhead(t, a, 0)
		testenv.Eventually(t, 10*time.Second, "a's first piece", func() bool { return a.Stats().PiecesHave >= 1 })
		b.SetPlayback(Playback{Position: 0, Duration: n, Paused: true, Buffer: 0})
		readAhead(t, b, 0)
		both := func() int64 { return podBytes(a) + podBytes(b) }
		if got := steady(t, both); got != 8*pieceLen {
			t.Fatalf("the pod sent %.1f pieces to two viewers at one place with an 8-piece horizon, want 8 (a %+v, b %+v, ranges %v)",
				float64(got)/pieceLen, a.Stats(), b.Stats(), ws.Ranges())
		}
		for name, tor := range map[string]*Torrent{"a": a, "b": b} {
			if st := tor.Stats(); st.PiecesHave != 8 {
				t.Errorf("%s has %d pieces, want the horizon's 8: %+v", name, st.PiecesHave, st)
			}
		}
		// The viewer ahead asks the pod: b moves to 5 s and a to 2 s, so the
		// new pieces of both horizons (a's 8 and 9, b's 8 to 12) come from the
		// pod once, to b, and a takes its two from b.
		aBefore := podBytes(a)
		b.SetPlayback(Playback{Position: 5, Duration: n, Paused: true, Buffer: 0})
		a.SetPlayback(Playback{Position: 2, Duration: n, Paused: true, Buffer: 0})
		if got := steady(t, both); got != 13*pieceLen {
			t.Fatalf("after the move the pod sent %.1f pieces in all, want 13 (a %+v, b %+v)", float64(got)/pieceLen, a.Stats(), b.Stats())
		}
		if got := podBytes(a) - aBefore; got != 0 {
			t.Errorf("a, behind, got %.1f pieces from the pod after the move, want them from b", float64(got)/pieceLen)
		}
	})
}
