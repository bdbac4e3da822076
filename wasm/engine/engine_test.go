package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"nhooyr.io/websocket"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// startTracker runs the reference WebTorrent tracker on a free port.
func startTracker(t *testing.T) string {
	t.Helper()
	nm := testenv.NodeModules(t)
	cmd := exec.Command("node", "--input-type=module", "-e", `import Server from 'bittorrent-tracker/server';
const s = new Server({ udp: false, http: false, ws: true, stats: false });
s.on('listening', () => console.log('PORT ' + s.ws.address().port));
s.listen(0, '127.0.0.1');`)
	cmd.Dir = filepath.Dir(nm)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var port int
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if _, err2 := fmt.Sscanf(line, "PORT %d", &port); err != nil || err2 != nil {
		t.Fatalf("tracker: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return fmt.Sprintf("ws://127.0.0.1:%d", port)
}

// TestNativePeersThroughTracker: a seeding session and a downloading one
// find each other through a WebSocket tracker and exchange the file over
// WebRTC data channels, exactly as two browsers do.
func TestNativePeersThroughTracker(t *testing.T) {
	tracker := startTracker(t)
	data := make([]byte, 3<<20+777)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	info, err := torrentfile.HashReader(context.Background(), bytes.NewReader(data), "v.webm", int64(len(data)), torrentfile.PieceLength(int64(len(data))), nil)
	if err != nil {
		t.Fatal(err)
	}
	ih, _ := info.InfoHash()
	mi := torrentfile.Metainfo{Info: info, AnnounceList: [][]string{{tracker}}}

	seed, err := Start(mi, ih, Options{Source: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(seed.Close)
	leech, err := Start(mi, ih, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(leech.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := make([]byte, 0, len(data))
	buf := make([]byte, 1<<20)
	for off := int64(0); ; {
		n, err := leech.Torrent.ReadAt(ctx, "s", buf, off)
		got = append(got, buf[:n]...)
		off += int64(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read at %d: %v (stats %+v)", off, err, leech.Torrent.Stats())
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("data differs")
	}
	st := leech.Torrent.Stats()
	if st.BytesFromPeers < int64(len(data)) || st.Peers != 1 || st.BytesFromServers != 0 {
		t.Fatalf("leech stats %+v", st)
	}
}

func TestIsServerPeer(t *testing.T) {
	for _, tc := range []struct {
		id     string
		server bool
	}{
		{"-ST0001-abcdefghijkl", false},
		{"-WW0300-abcdefghijkl", false},
		{"-GT0003-abcdefghijkl", true},
		{"-TR4050-abcdefghijkl", true},
	} {
		var id [20]byte
		copy(id[:], tc.id)
		if got := IsServerPeer(id); got != tc.server {
			t.Errorf("IsServerPeer(%s) = %v", tc.id, got)
		}
	}
	if id := NewPeerID(); string(id[:8]) != PeerIDPrefix || IsServerPeer(id) {
		t.Errorf("NewPeerID() = %q", id)
	}
}

func TestTrackerOrder(t *testing.T) {
	const (
		pod    = "ws://pod1.test/tracker/socket"
		origin = "ws://pod3.test/tracker/socket"
		mirror = "wss://pod2.test/tracker/socket"
	)
	list := [][]string{{origin}, {"http://pod3.test/tracker/announce"}, {mirror, "udp://other.test:80"}}
	for _, tc := range []struct {
		name     string
		pod      string
		trackers []string
		list     [][]string
		want     []string
	}{
		{"the page's pod first, then the announce-list's ws trackers", pod, nil, list, []string{pod, origin, mirror}},
		{"the page's pod is the origin: once", origin, nil, list, []string{origin, mirror}},
		{"the page's pod in the list further down: first, once", mirror, nil, list, []string{mirror, origin}},
		{"no pod tracker: the announce-list", "", nil, list, []string{origin, mirror}},
		{"Trackers replace the announce-list", pod, []string{"ws://x.test/t"}, list, []string{pod, "ws://x.test/t"}},
		{"empty Trackers: the pod's alone", pod, []string{}, list, []string{pod}},
		{"an http pod tracker is no WebSocket tracker", "http://pod1.test/tracker/announce", nil, list, []string{origin, mirror}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := trackerOrder(tc.pod, tc.trackers, tc.list); !slices.Equal(got, tc.want) {
				t.Fatalf("trackerOrder = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPodTrackerFirst: a session announces to the page's pod's tracker
// before the origin's and the mirror's: their connections arrive only
// once the pod's tracker has accepted its own.
func TestPodTrackerFirst(t *testing.T) {
	var mu sync.Mutex
	var arrivals []string
	all := make(chan struct{})
	tracker := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			arrivals = append(arrivals, name)
			if len(arrivals) == 3 {
				close(all)
			}
			mu.Unlock()
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			for {
				if _, _, err := c.Read(r.Context()); err != nil {
					return
				}
			}
		}))
		t.Cleanup(srv.Close)
		return "ws" + strings.TrimPrefix(srv.URL, "http") + "/tracker/socket"
	}
	origin, mirror, pod := tracker("origin"), tracker("mirror"), tracker("pod")
	data := make([]byte, 100<<10)
	info, err := torrentfile.HashReader(context.Background(), bytes.NewReader(data), "v.mp4", int64(len(data)), torrentfile.PieceLength(int64(len(data))), nil)
	if err != nil {
		t.Fatal(err)
	}
	ih, _ := info.InfoHash()
	s, err := Start(torrentfile.Metainfo{Info: info, AnnounceList: [][]string{{origin}, {mirror}}}, ih, Options{PodTracker: pod, Source: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("trackers reached: %v", arrivals)
	}
	mu.Lock()
	defer mu.Unlock()
	if arrivals[0] != "pod" {
		t.Fatalf("trackers reached in the order %v, want the pod's first", arrivals)
	}
}
