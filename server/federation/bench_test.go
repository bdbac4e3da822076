package federation

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
)

// countingCatalog counts videos stored and signals when a target is met.
type countingCatalog struct {
	*fakeCatalog
	puts   *atomic.Int64
	target *atomic.Int64
	done   chan struct{}
}

func (c countingCatalog) PutRemoteTx(tx *bolt.Tx, origin string, v api.Video) error {
	if err := c.fakeCatalog.PutRemoteTx(tx, origin, v); err != nil {
		return err
	}
	tx.OnCommit(func() {
		if c.puts.Add(1) == c.target.Load() {
			c.done <- struct{}{}
		}
	})
	return nil
}

// BenchmarkFanOut measures the time from committing one video event on
// a pod until each of its friends (each a pod with its own store and
// HTTP server, in this process) has stored it: signing, HTTP, signature
// verification, and the receiver's transaction, MaxParallel at once.
//
//	go test -run '^$' -bench FanOut -benchtime 20x ./server/federation/
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{10, 50} {
		for _, par := range []int{16, 64} {
			b.Run(fmt.Sprintf("friends=%d/parallel=%d", n, par), func(b *testing.B) { benchFanOut(b, n, par) })
		}
	}
}

func benchFanOut(b *testing.B, friends, parallel int) {
	cfg := fastConfig()
	cfg.MaxParallel = parallel
	cfg.Rate, cfg.Burst = 1000, 1000
	origin := newTestPod(b, cfg, true)
	var puts, target atomic.Int64
	done := make(chan struct{}, 1)
	var urls []string
	for range friends {
		// Friends share a few keys: generating 50 RSA keys would take
		// longer than the benchmark and changes nothing it measures.
		p := newTestPod(b, fastConfig(), false)
		p.close()
		p.cfg.Rate, p.cfg.Burst = 1000, 1000
		p.open()
		cc := countingCatalog{fakeCatalog: p.cat, puts: &puts, target: &target, done: done}
		p.fed.cat = cc
		urls = append(urls, p.url)
	}
	res, err := origin.fed.MakeFriends(context.Background(), urls)
	if err != nil || len(res.Errors) > 0 {
		b.Fatalf("MakeFriends: %v %v", err, res.Errors)
	}
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		target.Store(int64((i + 1) * friends))
		v := origin.video(fmt.Sprintf("bench %d", i))
		start := time.Now()
		origin.cat.publish(b, fedproto.EventAdd, v)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Fatalf("only %d of %d deliveries after 30 s", puts.Load(), target.Load())
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/fanout")
}
