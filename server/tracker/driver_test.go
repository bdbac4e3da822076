package tracker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

// TestGoroutineDriver runs the connection tests with a reader and a writer
// goroutine per connection, the driver of systems without the event loop.
//
// Not parallel: it sets the package's driver, which the other tests read;
// they run once it returns. Its own (parallel) subtests end within the
// group, before the driver is set back.
func TestGoroutineDriver(t *testing.T) {
	goroutineDriver = true
	defer func() { goroutineDriver = false }()
	t.Run("group", func(t *testing.T) {
		for name, test := range map[string]func(*testing.T){
			"OfferAnswerRelay": TestOfferAnswerRelay,
			"PolicyAndLimits":  TestPolicyAndLimits,
			"PeerTimeout":      TestPeerTimeout,
			"CloseGoingAway":   TestCloseGoingAway,
			"SlowReader":       TestSlowReader,
		} {
			t.Run(name, test)
		}
	})
}

// rawPeer is a WebSocket client that reads only when told to, so that the
// tracker's output to it backs up.
type rawPeer struct {
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, tt *testTracker) *rawPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, tt.wsURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if br == nil { // nothing buffered after the handshake
		br = bufio.NewReader(conn)
	}
	return &rawPeer{conn: conn, br: br}
}

func (p *rawPeer) send(t *testing.T, r *trackerproto.Request) {
	t.Helper()
	if err := wsutil.WriteClientText(p.conn, r.AppendJSON(nil)); err != nil {
		t.Fatal(err)
	}
}

func (p *rawPeer) read() ([]byte, error) {
	_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := ws.ReadFrame(p.br)
	if err == nil && f.Header.OpCode != ws.OpText {
		err = fmt.Errorf("frame with opcode %v", f.Header.OpCode)
	}
	return f.Payload, err
}

// TestSlowReader checks the output path when a peer stops reading: what
// the kernel cannot take waits in the connection's queue and arrives
// whole and in order once the peer reads again; beyond MaxQueuedBytes the
// peer is dropped while the others go on being served.
func TestSlowReader(t *testing.T) {
	t.Parallel()
	const sdpBytes = 16 << 10
	sdp := `{"type":"offer","sdp":"` + strings.Repeat("a", sdpBytes) + `"}`
	offerFrom := func(peer trackerproto.ID, i int) *trackerproto.Request {
		r := announce(ihA, peer, 1, trackerproto.EventUpdate, 0)
		r.NumWant = 1
		r.Offers = []trackerproto.Offer{{ID: ident(fmt.Sprintf("offer-%014d", i)), SDP: []byte(sdp)}}
		return r
	}
	// sendOffers has sender relay n offers to the only other peer of the
	// swarm, reading each reply, and reports whether all were answered.
	sendOffers := func(t *testing.T, sender *wsClient, from, n int) {
		for i := from; i < from+n; i++ {
			sender.send(offerFrom(peer2, i))
			if r, raw := sender.recv(); r.Complete+r.Incomplete != 2 {
				t.Fatalf("reply %d: %s", i, raw)
			}
		}
	}

	t.Run("queued output arrives in order", func(t *testing.T) {
		tt := newTestTracker(t, Config{AnnouncesPerSecond: -1, MaxQueuedBytes: 32 << 20})
		slow := dialRaw(t, tt)
		slow.send(t, announce(ihA, peer1, 1, trackerproto.EventStarted, 0))
		if msg, err := slow.read(); err != nil || !bytes.Contains(msg, []byte(`"complete"`)) {
			t.Fatalf("join reply %s, %v", msg, err)
		}
		sender := dial(t, tt)
		const n = 600 // ~10 MB: more than loopback socket buffers hold
		sendOffers(t, sender, 0, n)
		for i := range n {
			msg, err := slow.read()
			if err != nil {
				t.Fatalf("offer %d: %v", i, err)
			}
			var r trackerproto.Response
			if err := trackerproto.DecodeResponse(msg, &r); err != nil {
				t.Fatalf("offer %d: %v", i, err)
			}
			if want := ident(fmt.Sprintf("offer-%014d", i)); r.OfferID != want || len(r.Offer) != len(sdp) {
				t.Fatalf("message %d: offer %q with %d bytes, want %q with %d", i, r.OfferID[:], len(r.Offer), want[:], len(sdp))
			}
		}
	})

	t.Run("a peer past MaxQueuedBytes is dropped", func(t *testing.T) {
		tt := newTestTracker(t, Config{AnnouncesPerSecond: -1, MaxQueuedBytes: 256 << 10})
		slow := dialRaw(t, tt)
		slow.send(t, announce(ihA, peer1, 1, trackerproto.EventStarted, 0))
		if _, err := slow.read(); err != nil {
			t.Fatal(err)
		}
		sender := dial(t, tt)
		for i := 0; ; i++ {
			if i >= 2000 {
				t.Fatal("the slow peer was never dropped")
			}
			sender.send(offerFrom(peer2, i))
			if r, _ := sender.recv(); i > 0 && r.Complete+r.Incomplete == 1 {
				break // the slow peer left the swarm
			}
		}
		if v := counterValue(t, tt.srv.m.rejections[rejectSlow]); v != 1 {
			t.Fatalf("slow rejections = %v", v)
		}
		// The sender is served on, alone in the swarm now.
		sender.send(announce(ihA, peer2, 1, trackerproto.EventUpdate, 0))
		if r, raw := sender.recv(); r.Complete+r.Incomplete != 1 {
			t.Fatalf("after the drop: %s", raw)
		}
	})
}
