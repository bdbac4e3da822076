package tracker

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	anatracker "github.com/anacrolix/torrent/tracker"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestInteropJSClient runs two npm bittorrent-tracker clients (with a fake
// wrtc, see testdata/interop.mjs) against the WebSocket tracker: one's
// offer must reach the other, the answer must come back, and scrape must
// count both.
func TestInteropJSClient(t *testing.T) {
	nm := testenv.NodeModules(t)
	node := testenv.LookPath(t, "node")
	tt := newTestTracker(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/interop.mjs", tt.wsURL(), filepath.Join(nm, "bittorrent-tracker"))
	out, err := cmd.CombinedOutput()
	t.Logf("node output:\n%s", out)
	if err != nil {
		t.Fatalf("interop script: %v", err)
	}
	if !bytes.Contains(out, []byte(`{"ok":true}`)) {
		t.Fatal("script did not report success")
	}
	if v := counterValue(t, tt.srv.m.offers); v < 1 {
		t.Errorf("offers relayed = %v", v)
	}
	if v := counterValue(t, tt.srv.m.answers); v < 1 {
		t.Errorf("answers relayed = %v", v)
	}
	if v := counterValue(t, tt.srv.m.rejections[rejectMalformed]); v != 0 {
		t.Errorf("the JS client's messages were rejected %v times", v)
	}
}

// TestInteropHTTPClients announces with aria2c (a real BitTorrent client on
// loopback) and anacrolix/torrent's tracker client, which must get aria2c's
// loopback address in a compact peer list.
func TestInteropHTTPClients(t *testing.T) {
	aria2c := testenv.LookPath(t, "aria2c")
	tt := newTestTracker(t, Config{})
	dir := t.TempDir()

	// A one-piece torrent aria2c will try to download (nobody has it), so
	// it announces "started" and stays in the swarm.
	data := bytes.Repeat([]byte("swarmtube"), 1000)
	info := metainfo.Info{Name: "video.mp4", PieceLength: 16384, Length: int64(len(data))}
	h := sha1.Sum(data)
	info.Pieces = h[:]
	infoBytes, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	mi := metainfo.MetaInfo{InfoBytes: infoBytes, Announce: tt.http.URL + "/tracker/announce"}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		t.Fatal(err)
	}
	torrentPath := filepath.Join(dir, "v.torrent")
	if err := os.WriteFile(torrentPath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, aria2c, "--dir", filepath.Join(dir, "dl"), "--listen-port", fmt.Sprint(port),
		"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--seed-time=0", "--summary-interval=0", "--console-log-level=warn", torrentPath)
	var aout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &aout, &aout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	ctx15, cancel15 := context.WithTimeout(ctx, 15*time.Second)
	defer cancel15()
	if !testenv.Poll(ctx15, func() bool { return tt.srv.Stats().HTTPPeers > 0 }) {
		t.Fatalf("aria2c never announced; output:\n%s", aout.String())
	}

	var ih [20]byte = mi.HashInfoBytes()
	res, err := anatracker.Announce{
		TrackerUrl: tt.http.URL + "/tracker/announce",
		Request: anatracker.AnnounceRequest{
			InfoHash: ih, PeerId: [20]byte([]byte("-AZ0000-anacrolix-01")), Left: 0, NumWant: 50, Port: 50000,
			Event: anatracker.Started,
		},
		Context: ctx,
	}.Do()
	if err != nil {
		t.Fatal(err)
	}
	want := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	found := false
	for _, p := range res.Peers {
		ap, _ := p.ToNetipAddrPort()
		if netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) == want {
			found = true
		}
	}
	if !found || res.Leechers != 1 || res.Seeders != 1 {
		t.Fatalf("anacrolix got %+v, want aria2c at %v among 1 seeder/1 leecher", res, want)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
