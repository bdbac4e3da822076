package pod

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	alog "github.com/anacrolix/log"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// TestColdVideoServedToAria2 (issue 20): after a restart the pod only
// registers its videos (nothing loaded in the seeder); aria2c, announcing
// once over HTTP to the pod's own tracker (aria2 waits the tracker's
// interval, 10 min, before announcing again), must get the seeder in that
// first response and download the whole file from it: no DHT, LPD, PEX or
// web seed. The torrent is loaded on that announce and unloaded once idle.
func TestColdVideoServedToAria2(t *testing.T) {
	aria2 := testenv.LookPath(t, "aria2c")
	_, clip := testenv.MakeClip(t, testenv.Clip{Seconds: 2, Width: 160, Height: 120, Rate: 10})
	dir, listen := t.TempDir(), freeAddr(t)
	start := func() (*Pod, func()) {
		p, stop := runPod(t, "--listen", listen, "--data", dir, "--turn-listen", "127.0.0.1:0", "--seed-idle", "1s")
		waitUp(t, p.URL())
		return p, stop
	}

	p, stop := start()
	tok := loginHTTP(t, p.URL(), "admin", "admin-password")
	v := uploadVideo(t, nil, p.URL(), tok, "cold", clip)
	stop()

	p, stop = start()
	defer stop()
	if l, r := p.seeder.Loaded(); l != 0 || r != 1 {
		t.Fatalf("after restart: %d torrents loaded, %d registered; want 0, 1", l, r)
	}
	resp, err := http.Get(p.URL() + "/api/v1/videos/" + v.ID + "/torrent")
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mi, _, err := torrentfile.Parse(tb)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile(filepath.Join(dir, "videos", filepath.Base(v.WebseedURL)))
	if err != nil {
		t.Fatal(err)
	}
	// One deadline for the aria2c download and the WebRTC one below.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	got, err := aria2FromSeeder(t, aria2, p.URL(), mi.Info, "30")
	if err != nil {
		t.Fatalf("aria2c: %v", err)
	}
	if !bytes.Equal(got, stored) {
		t.Fatalf("aria2c got %d bytes, want the %d stored", len(got), len(stored))
	}
	if up := p.seeder.UploadedBytes(); up < int64(len(stored)) {
		t.Fatalf("seeder uploaded %d bytes of %d", up, len(stored))
	}
	// aria2 is gone: the torrent goes cold again after --seed-idle.
	unloaded := func() bool { l, _ := p.seeder.Loaded(); return l == 0 }
	testenv.Eventually(t, 30*time.Second, "the idle torrent to unload", unloaded)

	// The first response to an announce for a cold video lists the seeder
	// (a client behind NAT cannot wait for the seeder to dial it).
	ih := mi.Info
	h, err := ih.InfoHash()
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"info_hash": {string(h[:])}, "peer_id": {"-XX0001-abcdefghijkl"}, "port": {"6881"}, "left": {"100"}, "compact": {"1"}}
	resp, err = http.Get(p.URL() + "/tracker/announce?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ann struct {
		Peers string `bencode:"peers"`
	}
	if err := bencode.Unmarshal(raw, &ann); err != nil {
		t.Fatalf("announce answer %q: %v", raw, err)
	}
	want := string(binary.BigEndian.AppendUint16([]byte{127, 0, 0, 1}, uint16(p.seeder.Port())))
	if !strings.Contains(ann.Peers, want) {
		t.Fatalf("first announce for a cold video: peers %x lack the seeder 127.0.0.1:%d", ann.Peers, p.seeder.Port())
	}

	// WebRTC: cold again, a WebRTC-only peer announcing once over the
	// pod's WebSocket tracker wakes the seeder, whose own announce then
	// brings its offer to that peer, which downloads everything over a data
	// channel. The peer is anacrolix's WebTorrent client, not the browser
	// engine.
	testenv.Eventually(t, 60*time.Second, "the torrent to unload after the HTTP announce", unloaded)
	ws := "ws" + strings.TrimPrefix(p.URL(), "http") + "/tracker/socket"
	wsOnly, err := torrentfile.Metainfo{Info: mi.Info, AnnounceList: [][]string{{ws}}}.Bencode()
	if err != nil {
		t.Fatal(err)
	}
	cc := torrent.NewDefaultClientConfig()
	cc.DataDir = t.TempDir()
	cc.Logger = alog.Default.FilterLevel(alog.Critical)
	cc.NoDHT, cc.DisablePEX, cc.NoDefaultPortForwarding = true, true, true
	cc.DisableTCP, cc.DisableUTP = true, true
	cc.ListenPort = 0
	leecher, err := torrent.NewClient(cc)
	if err != nil {
		t.Fatal(err)
	}
	defer leecher.Close()
	lmi, err := metainfo.Load(bytes.NewReader(wsOnly))
	if err != nil {
		t.Fatal(err)
	}
	lt, err := leecher.AddTorrent(lmi)
	if err != nil {
		t.Fatal(err)
	}
	lt.DownloadAll()
	select {
	case <-lt.Complete().On():
	case <-ctx.Done():
		t.Fatalf("WebRTC download of a cold video incomplete: %d of %d bytes", lt.BytesCompleted(), len(stored))
	}
	if got, err := os.ReadFile(filepath.Join(cc.DataDir, mi.Info.Name)); err != nil || !bytes.Equal(got, stored) {
		t.Fatalf("WebRTC download differs (%v)", err)
	}
}
