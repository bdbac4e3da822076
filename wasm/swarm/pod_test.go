package swarm

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

// TestPodGivesALateBrowserPeerItsGrace: a viewer opens with 2 s of media
// buffered and waits for the viewers the tracker reported; one connects
// 1.5 s later, offering every piece. The pieces it offers have been due
// within podLead since the start, but it could not send them before it
// connected: the pod sends none of them until podGrace has passed since
// the peer unchoked us without a block arriving (issue 12: later viewers
// of "8 start 3 s apart" took 0.3-2 MB from the web seed at the start,
// pieces their peers were about to send), and then it does.
func TestPodGivesALateBrowserPeerItsGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 20 // pieces of 1 s of media each
		fx := newFixture(t, n*pieceLen)
		ws := recordingWebSeed(fx)
		leech := start(t, Config{Metainfo: ws.mi, HTTPClient: ws.client, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ServerPeer: isServer})
		if got := leech.AddWebSeedData(context.Background(), "", 0, fx.data[:2*pieceLen]); got != 2 {
			t.Fatalf("stored %d early pieces", got)
		}
		leech.ExpectPeers(1) // the tracker knows another viewer
		readAhead(t, leech, 0)
		begin := time.Now()
		play := func(until time.Duration) {
			for time.Since(begin) < until {
				pos := time.Since(begin).Seconds()
				leech.SetPlayback(Playback{Position: pos, Duration: n, Rate: 1, Buffer: max(2-pos, 0)})
				time.Sleep(100 * time.Millisecond)
			}
			synctest.Wait()
		}
		play(1500 * time.Millisecond)
		early := podBytes(leech)
		if early != 2*pieceLen {
			t.Fatalf("before any peer connected the pod sent %d bytes beyond the early pieces, want none (it waits for the reported viewer)", early-2*pieceLen)
		}
		stallingPeer(t, leech, fx)
		testenv.Eventually(t, 15*time.Second, "the browser peer", func() bool { return leech.Stats().Peers == 1 })
		joined := time.Since(begin)
		play(joined + podGrace - 200*time.Millisecond)
		if got := podBytes(leech); got != early {
			t.Fatalf("%v after the browser peer connected, the pod sent %d bytes (%d pieces) it offers, want none before podGrace (%v)",
				time.Since(begin)-joined, got-early, (got-early)/pieceLen, podGrace)
		}
		play(joined + podGrace + time.Second)
		if got := podBytes(leech); got == early {
			t.Fatalf("%v after the browser peer connected without sending a block, the pod has not stepped in; playhead %.1f s of 2 s buffered",
				time.Since(begin)-joined, time.Since(begin).Seconds())
		}
	})
}
