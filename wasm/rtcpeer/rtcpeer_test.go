package rtcpeer

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"
	"time"
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
