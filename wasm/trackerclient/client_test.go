package trackerclient

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/tracker"
)

// TestTwoClientsMeetThroughPodTracker: two clients announce the same info
// hash to the pod's tracker; offers and answers are relayed and each side
// gets an open data channel to the other, which carries bytes.
func TestTwoClientsMeetThroughPodTracker(t *testing.T) {
	tr, err := tracker.New(tracker.Config{}, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tr.WebSocketHandler())
	t.Cleanup(func() { tr.Close(); srv.Close() })
	url := "ws" + strings.TrimPrefix(srv.URL, "http")

	ih := [20]byte{1, 2, 3}
	type conn struct {
		rw   io.ReadWriteCloser
		peer [20]byte
	}
	conns := make(chan conn, 8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
	})
	for i, id := range []string{"-ST0001-aaaaaaaaaaaa", "-ST0001-bbbbbbbbbbbb"} {
		var pid [20]byte
		copy(pid[:], id)
		c := New(Config{URL: url, InfoHash: ih, PeerID: pid, Offers: 2,
			OnConn: func(rw io.ReadWriteCloser, peer [20]byte) { conns <- conn{rw, peer} }})
		go func() {
			c.Run(ctx)
			done <- struct{}{}
		}()
		// The second announce must find the first in the swarm.
		testenv.Eventually(t, 10*time.Second, "the tracker to hold the announce", func() bool { return tr.Stats().WSPeers == i+1 })
	}
	var got []conn
	timeout := time.After(20 * time.Second)
	for len(got) < 2 {
		select {
		case c := <-conns:
			got = append(got, c)
		case <-timeout:
			t.Fatalf("got %d connections, want 2", len(got))
		}
	}
	if got[0].peer == got[1].peer {
		t.Fatalf("both connections report peer %q", got[0].peer)
	}
	// The two ends belong to one data channel: bytes written on one arrive
	// on the other.
	go got[0].rw.Write([]byte("hello"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(got[1].rw, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
	for _, c := range got {
		c.rw.Close()
	}
}
