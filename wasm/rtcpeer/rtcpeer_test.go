package rtcpeer

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v2"
	"github.com/pion/webrtc/v3"

	"github.com/swarmtube/swarmtube/internal/testenv"
)

func TestOfferAnswerStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	off, err := NewOffer(ctx, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ans, err := NewAnswer(ctx, Config{}, off.SDP())
	if err != nil {
		t.Fatal(err)
	}
	if err := off.SetAnswer(ans.SDP()); err != nil {
		t.Fatal(err)
	}
	a, err := off.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ans.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// 3 MiB each way at once: more than HighWater, in odd-sized writes.
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	send := func(c *Conn) <-chan error {
		errc := make(chan error, 1)
		go func() {
			p := data
			for len(p) > 0 {
				n := min(len(p), 40000)
				if _, err := c.Write(p[:n]); err != nil {
					errc <- err
					return
				}
				p = p[n:]
			}
			errc <- nil
		}()
		return errc
	}
	ea, eb := send(a), send(b)
	for _, c := range []*Conn{b, a} {
		got := make([]byte, len(data))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("stream corrupted")
		}
	}
	if err := <-ea; err != nil {
		t.Fatal(err)
	}
	if err := <-eb; err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := io.ReadFull(b, make([]byte, 1)); err == nil {
		t.Fatal("read after remote close succeeded")
	}
}

// TestRelayedRoute connects two peers through a real TURN server (pion's,
// on loopback) with the offerer on relay candidates only: both ends must
// report the route as relayed; a direct connection must not.
func TestRelayedRoute(t *testing.T) {
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pionturn.NewServer(pionturn.ServerConfig{
		Realm: "test",
		AuthHandler: func(user, realm string, _ net.Addr) ([]byte, bool) {
			return pionturn.GenerateAuthKey(user, realm, "pass"), user == "user"
		},
		PacketConnConfigs: []pionturn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: &pionturn.RelayAddressGeneratorStatic{
			RelayAddress: net.ParseIP("127.0.0.1"), Address: "127.0.0.1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	servers := []webrtc.ICEServer{{URLs: []string{"turn:" + udp.LocalAddr().String()}, Username: "user", Credential: "pass"}}

	connect := func(t *testing.T, offerCfg, answerCfg Config) (*Conn, *Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		off, err := NewOffer(ctx, offerCfg)
		if err != nil {
			t.Fatal(err)
		}
		ans, err := NewAnswer(ctx, answerCfg, off.SDP())
		if err != nil {
			t.Fatal(err)
		}
		if err := off.SetAnswer(ans.SDP()); err != nil {
			t.Fatal(err)
		}
		a, err := off.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ans.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	}
	// The route is read when the connection opens, then every routeEvery.
	eventually := func(t *testing.T, what string, f func() bool) {
		t.Helper()
		testenv.Eventually(t, 3*routeEvery, what, f)
	}
	t.Run("relay", func(t *testing.T) {
		a, b := connect(t, Config{ICEServers: servers, RelayOnly: true}, Config{})
		eventually(t, "the offerer to see its relay", a.Relayed)
		eventually(t, "the answerer to see the remote relay", b.Relayed)
		if _, err := a.Write([]byte("through the relay")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 17)
		if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "through the relay" {
			t.Fatalf("read %q, %v", buf, err)
		}
	})
	t.Run("direct", func(t *testing.T) {
		a, b := connect(t, Config{ICEServers: servers}, Config{ICEServers: servers})
		if _, err := a.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(b, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the offerer to read its route", a.RouteKnown)
		eventually(t, "the answerer to read its route", b.RouteKnown)
		if a.Relayed() || b.Relayed() {
			t.Error("a loopback connection with host candidates reports a relay")
		}
	})
}
