package nattest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v3"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/turn"
	"github.com/swarmtube/swarmtube/wasm/rtcpeer"
)

// BenchmarkDataChannel measures a WebRTC data channel (pion, as the engine
// and seeder use it, rtcpeer's stream adapter) between two peers on
// loopback: directly over host candidates, through the pod's TURN server
// (server/turn, the offerer on relay candidates only) with a budget too
// large to matter, and through it with the pod's default per-allocation
// cap (20 Mbit/s). MB/s is payload.
//
//	go test -run XXX -bench DataChannel -benchtime 64x ./internal/nattest
func BenchmarkDataChannel(b *testing.B) {
	for _, tc := range []struct {
		name  string
		relay bool
		cap   float64 // per-allocation bits/s; 0: the default
	}{
		{"direct", false, 0},
		{"relay", true, 10e9},
		{"relay-default-cap", true, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			srv, err := turn.New(turn.Config{
				Listen: "127.0.0.1:0", Secret: []byte("bench-secret-0123456789"),
				MaxBitsPerSecond: 10e9, AllocationBitsPerSecond: tc.cap,
				AllowPeer: func(ip net.IP) bool { return ip.IsLoopback() },
			}, slog.New(slog.DiscardHandler), nil)
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go srv.Run(ctx)
			user, pass := srv.Credentials("bench", time.Hour)
			servers := []webrtc.ICEServer{{URLs: []string{"turn:127.0.0.1:" + strconv.Itoa(srv.Port()) + "?transport=udp"},
				Username: user, Credential: pass}}
			a, c := connect(b, rtcpeer.Config{ICEServers: servers, RelayOnly: tc.relay}, rtcpeer.Config{ICEServers: servers})
			defer a.Close()
			defer c.Close()
			const chunk = 1 << 20
			buf := make([]byte, chunk)
			b.SetBytes(chunk)
			b.ResetTimer()
			done := make(chan error, 1)
			go func() {
				_, err := io.CopyN(io.Discard, c, int64(b.N)*chunk)
				done <- err
			}()
			for i := 0; i < b.N; i++ {
				if _, err := a.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if a.Relayed() != tc.relay {
				b.Errorf("relayed = %v", a.Relayed())
			}
		})
	}
}

func connect(tb testing.TB, offerCfg, answerCfg rtcpeer.Config) (*rtcpeer.Conn, *rtcpeer.Conn) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	off, err := rtcpeer.NewOffer(ctx, offerCfg)
	if err != nil {
		tb.Fatal(err)
	}
	ans, err := rtcpeer.NewAnswer(ctx, answerCfg, off.SDP())
	if err != nil {
		tb.Fatal(err)
	}
	if err := off.SetAnswer(ans.SDP()); err != nil {
		tb.Fatal(err)
	}
	a, err := off.Wait(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := ans.Wait(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	testenv.Eventually(tb, 10*time.Second, "both ends to read their route", func() bool { return a.RouteKnown() && c.RouteKnown() })
	return a, c
}
