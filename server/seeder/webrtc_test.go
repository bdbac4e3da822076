package seeder

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"nhooyr.io/websocket"

	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// relayTracker is the smallest WebTorrent WebSocket tracker that lets two
// peers meet: it relays each announced offer to the other peers of the
// swarm and each answer back to the offerer. It stands in for
// server/tracker so this package's WebRTC path is tested on its own.
type relayTracker struct {
	mu    sync.Mutex                       // guards peers
	peers map[string]map[string]*relayConn // info_hash → peer_id → conn
}

type relayConn struct {
	mu sync.Mutex // serialises writes
	c  *websocket.Conn
}

func (rc *relayConn) send(ctx context.Context, v any) {
	b, _ := json.Marshal(v)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.c.Write(ctx, websocket.MessageText, b)
}

func (rt *relayTracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	rc := &relayConn{c: c}
	ctx := r.Context()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		var m struct {
			Action   string            `json:"action"`
			InfoHash string            `json:"info_hash"`
			PeerID   string            `json:"peer_id"`
			ToPeerID string            `json:"to_peer_id"`
			OfferID  string            `json:"offer_id"`
			Answer   json.RawMessage   `json:"answer"`
			Offers   []json.RawMessage `json:"offers"`
		}
		if json.Unmarshal(b, &m) != nil || m.Action != "announce" {
			continue
		}
		rt.mu.Lock()
		if rt.peers[m.InfoHash] == nil {
			rt.peers[m.InfoHash] = map[string]*relayConn{}
		}
		rt.peers[m.InfoHash][m.PeerID] = rc
		var others []*relayConn
		for id, o := range rt.peers[m.InfoHash] {
			if id != m.PeerID {
				others = append(others, o)
			}
		}
		to := rt.peers[m.InfoHash][m.ToPeerID]
		rt.mu.Unlock()

		if m.Answer != nil && to != nil {
			to.send(ctx, map[string]any{"action": "announce", "info_hash": m.InfoHash, "peer_id": m.PeerID, "offer_id": m.OfferID, "answer": m.Answer})
			continue
		}
		for i, o := range others {
			if i >= len(m.Offers) {
				break
			}
			var offer struct {
				OfferID string          `json:"offer_id"`
				Offer   json.RawMessage `json:"offer"`
			}
			json.Unmarshal(m.Offers[i], &offer)
			o.send(ctx, map[string]any{"action": "announce", "info_hash": m.InfoHash, "peer_id": m.PeerID, "offer_id": offer.OfferID, "offer": offer.Offer})
		}
		rc.send(ctx, map[string]any{"action": "announce", "info_hash": m.InfoHash, "interval": 120, "complete": 0, "incomplete": 0})
	}
}

// TestWebRTC shows the seeder answering WebTorrent offers: a second
// anacrolix client with TCP and uTP disabled (so WebRTC is its only
// transport, so every byte it gets came over a data channel) downloads the
// file through a WebSocket tracker.
func TestWebRTC(t *testing.T) {
	srv := httptest.NewServer(&relayTracker{peers: map[string]map[string]*relayConn{}})
	t.Cleanup(srv.Close)
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/tracker/socket"

	s, err := New(Config{DataDir: t.TempDir(), ListenAddr: "127.0.0.1", WebRTC: true}, testLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	path, data := randomFile(t, 1<<20+99, 9)
	name := torrentfile.FileName("webrtc", "mp4")
	tb, _ := makeTorrent(t, data, name, wsURL)
	if err := s.Seed(context.Background(), tb, path); err != nil {
		t.Fatal(err)
	}

	cc := torrent.NewDefaultClientConfig()
	cc.DataDir = t.TempDir()
	cc.Logger = newAnacrolixLogger(testLogger(t))
	cc.NoDHT, cc.DisablePEX, cc.NoDefaultPortForwarding = true, true, true
	cc.DisableTCP, cc.DisableUTP = true, true
	cc.ListenPort = 0
	leecher, err := torrent.NewClient(cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { leecher.Close() })
	mi, err := metainfo.Load(bytes.NewReader(tb))
	if err != nil {
		t.Fatal(err)
	}
	lt, err := leecher.AddTorrent(mi)
	if err != nil {
		t.Fatal(err)
	}
	lt.DownloadAll()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	select {
	case <-lt.Complete().On():
	case <-ctx.Done():
		t.Fatalf("WebRTC download incomplete after 60 s: %d of %d bytes", lt.BytesCompleted(), len(data))
	}
	got, err := os.ReadFile(filepath.Join(cc.DataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("WebRTC download differs")
	}
	if up := s.UploadedBytes(); up < int64(len(data)) {
		t.Errorf("seeder uploaded %d bytes, want >= %d", up, len(data))
	}
}
