package videos

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/server/seeder"
	"github.com/swarmtube/swarmtube/server/store"
)

// BenchmarkIdleCost measures what an idle catalogue costs a started pod
// (issue 20): it publishes N tiny videos through Publish (the real write
// path, with the real seeder), closes everything, then opens store, seeder
// and service again as a restarted pod does and runs SeedAll. Reported per
// video: Go heap in use and goroutines added by that start; and the start
// time, as wall time and as the CPU time the whole process used (on a
// shared machine the wall time moves with the load). Sizes come from
// SWARMTUBE_IDLE_VIDEOS (comma separated, default 1000). Run with
// -benchtime=1x: each size is one measurement. With SWARMTUBE_IDLE_DIR set,
// each catalogue is built once into that directory and reused by later
// runs (to profile the start: building 100,000 videos takes minutes); a
// reused catalogue is started once before the measured start, so that a
// store written by an older binary is migrated first.
func BenchmarkIdleCost(b *testing.B) {
	sizes := []int{1000}
	if v := os.Getenv("SWARMTUBE_IDLE_VIDEOS"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("SWARMTUBE_IDLE_VIDEOS: %q is not a count", f)
			}
			sizes = append(sizes, n)
		}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("videos=%d", n), func(b *testing.B) {
			for range b.N {
				idleCost(b, n)
			}
		})
	}
}

// tinyOgg is a 64-byte file the pod takes for an Ogg video (an Opus
// header page), unique by i.
func tinyOgg(i int) []byte {
	b := make([]byte, 64)
	copy(b, "OggS")
	b[5] = 0x02 // beginning of stream
	b[26] = 1   // one segment
	b[27] = 36  // of 36 bytes
	copy(b[28:], "OpusHead")
	binary.BigEndian.PutUint64(b[40:], uint64(i))
	return b
}

func idleCost(b *testing.B, n int) {
	b.StopTimer()
	dir := b.TempDir()
	reuse := false
	if keep := os.Getenv("SWARMTUBE_IDLE_DIR"); keep != "" {
		dir = filepath.Join(keep, strconv.Itoa(n))
		_, err := os.Stat(filepath.Join(dir, "built"))
		reuse = err == nil
	}
	log := slog.New(slog.DiscardHandler)
	var took [3]time.Duration // store, seeder, service opened (last open)
	open := func() (*store.Store, *seeder.Seeder, *Service) {
		begin := time.Now()
		st, err := store.Open(filepath.Join(dir, "pod.db"))
		if err != nil {
			b.Fatal(err)
		}
		took[0] = time.Since(begin)
		sd, err := seeder.New(seeder.Config{DataDir: filepath.Join(dir, "seeder"), ListenAddr: "127.0.0.1"}, log, nil)
		if err != nil {
			b.Fatal(err)
		}
		took[1] = time.Since(begin) - took[0]
		svc, err := New(Config{PodURL: "http://127.0.0.1:1", DataDir: dir, MaxUploadBytes: 1 << 20, FFmpeg: ffmpeg.Tools{}}, st, sd, log, prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		took[2] = time.Since(begin) - took[0] - took[1]
		return st, sd, svc
	}

	if reuse {
		st, sd, svc := open()
		if err := svc.SeedAll(context.Background()); err != nil {
			b.Fatal(err)
		}
		sd.Close()
		st.Close()
	} else {
		build(b, dir, n, open)
	}

	heap0, g0 := settle()
	b.StartTimer()
	begin, beginCPU := time.Now(), processCPU()
	st, sd, svc := open()
	opened := time.Since(begin)
	if err := svc.SeedAll(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed, cpu := time.Since(begin), processCPU()-beginCPU
	b.StopTimer()
	heap1, g1 := settle()
	b.ReportMetric(float64(int64(heap1)-int64(heap0))/float64(n), "heap-B/video")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/video")
	b.ReportMetric(elapsed.Seconds(), "start-s")
	b.ReportMetric(cpu.Seconds(), "start-cpu-s")
	b.Logf("%d videos: heap %d -> %d B, goroutines %d -> %d, start %v, %v of CPU (store opened in %v, seeder %v, service %v, SeedAll %v)", n, heap0, heap1, g0, g1, elapsed, cpu, took[0], took[1], took[2], elapsed-opened)
	sd.Close()
	st.Close()
}

// build publishes n tiny videos into dir through services opened by open,
// and closes them.
func build(b *testing.B, dir string, n int, open func() (*store.Store, *seeder.Seeder, *Service)) {
	st, sd, svc := open()
	in := filepath.Join(dir, "incoming")
	if err := os.MkdirAll(in, 0o700); err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				p := filepath.Join(in, strconv.Itoa(i)+".ogg")
				if err := os.WriteFile(p, tinyOgg(i), 0o600); err != nil {
					errs <- err
					return
				}
				if _, err := svc.Publish(context.Background(), Upload{Path: p, Name: "clip " + strconv.Itoa(i), Owner: "alice"}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	sd.Close()
	st.Close()
	// Nothing of the build stays reachable once build returns, so the
	// caller's baseline heap does not count it.
	if err := os.WriteFile(filepath.Join(dir, "built"), nil, 0o600); err != nil {
		b.Fatal(err)
	}
}

// settle lets goroutines started by a start-up reach their idle state and
// returns the Go heap in use and the goroutine count.
func settle() (heapInuse uint64, goroutines int) {
	time.Sleep(2 * time.Second) // timed: scenario: a benchmark (not run by the suite) of what a pod costs at rest, 2 s after a start-up
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse, runtime.NumGoroutine()
}
