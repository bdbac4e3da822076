package clientlab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/netlab"
)

// podLab is a lab with the pod at 203.0.113.1 publishing one clip, and two
// home routers (one of each NAT kind) for clients.
type podLab struct {
	lab    *netlab.Lab
	pod    *pod
	pub    published
	eim    *netlab.Router
	sym    *netlab.Router
	hostNo int
}

func newPodLab(t *testing.T, seconds int) *podLab {
	t.Helper()
	lab := netlab.New(t)
	pl := &podLab{lab: lab}
	pl.pod = startPod(t, lab.Host("pod"))
	pl.eim = lab.Router("home-a", netlab.EndpointIndependent)
	pl.sym = lab.Router("home-b", netlab.Symmetric)
	pl.pub = publish(t, pl.pod, seconds, 2)
	return pl
}

// download runs c on a new host behind r from the .torrent (magnet false)
// or the magnet, and checks the file it wrote is byte for byte the pod's.
func (pl *podLab) download(t *testing.T, c client, h *netlab.Host, magnet bool) time.Duration {
	t.Helper()
	dir := t.TempDir()
	src := pl.pub.magnet
	if !magnet {
		src = filepath.Join(dir, "video.torrent")
		if err := os.WriteFile(src, pl.pub.torrent, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientLimit)
	defer cancel()
	start := time.Now()
	path, err := c.get(ctx, h, src, dir, pl.pub.name)
	took := time.Since(start)
	if err != nil {
		logTail(t, c.name+" log", filepath.Join(dir, c.name+".log"))
		t.Fatalf("%s on %v (%s): %v after %v", c.name, h.Addr(), h.Name(), err, took.Round(time.Millisecond))
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pl.pub.data) {
		t.Fatalf("%s downloaded %d bytes that differ from the pod's %d", c.name, len(got), len(pl.pub.data))
	}
	return took
}

// TestClientMatrix: each desktop client, behind a home NAT, downloads the
// pod's clip from the .torrent and from the magnet link with the web seed
// removed, byte for byte. The rows run in parallel, each on its own host.
func TestClientMatrix(t *testing.T) {
	t.Parallel()
	for _, c := range clients {
		c.check(t)
	}
	pl := newPodLab(t, 6)
	t.Logf("clip: %d bytes", len(pl.pub.data))
	// The rows mostly wait (Transmission takes ~10 s to say "interested"),
	// so they all run at once rather than -parallel (GOMAXPROCS) at a time.
	var wg sync.WaitGroup
	i := 0
	for _, c := range clients {
		for _, magnet := range []bool{false, true} {
			r := pl.eim
			if i%2 == 1 {
				r = pl.sym
			}
			i++
			from := "torrent"
			if magnet {
				from = "magnet"
			}
			h := r.Host(fmt.Sprintf("%s-%s", c.name, from))
			wg.Go(func() {
				t.Run(c.name+"/"+from, func(t *testing.T) {
					took := pl.download(t, c, h, magnet)
					t.Logf("%s from the %s behind %v NAT: %v", c.name, from, r.NAT(), took.Round(time.Millisecond))
				})
			})
		}
	}
	wg.Wait()
}

// TestTransmissionUTP pins the fix of issue 19: Transmission 3.00 with
// uTP on stalled at 0% against the seeder (see package seeder's doc).
// Here its router drops TCP to the pod's BitTorrent port, so the download
// can only complete over uTP.
func TestTransmissionUTP(t *testing.T) {
	t.Parallel()
	clients[0].check(t)
	pl := newPodLab(t, 4)
	h := pl.eim.Host("transmission")
	rule := fmt.Sprintf("ip daddr %s tcp dport %d drop", podAddr, podBTPort)
	if out, err := pl.eim.WAN().Command(context.Background(), "nft", "insert rule ip netlab forward "+rule).CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if c, err := h.DialContext(ctx, "tcp", fmt.Sprintf("%s:%d", podAddr, podBTPort)); err == nil {
		c.Close()
		t.Fatal("TCP to the seeder is not blocked: the test would not show uTP works")
	}
	took := pl.download(t, clients[0], h, false)
	t.Logf("Transmission over uTP only: %v", took.Round(time.Millisecond))
}
