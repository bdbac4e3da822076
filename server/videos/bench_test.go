package videos

import (
	"cmp"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
)

// The search and catalogue benchmarks index benchVideos synthetic videos
// once per test binary: names of 3-8 words and descriptions of 10-40 words
// drawn with a Zipf distribution from a vocabulary of benchVocab words
// (some accented), so common words are very common, as in real titles. A
// fifth are friends' videos; local ones belong to benchOwners in turn.
const (
	benchVideos = 100_000
	benchVocab  = 20_000
)

var benchOwners = []string{"alice", "bob", "carol", "erin"}

var (
	benchOnce  sync.Once
	benchSvc   *Service
	benchWords []string
	benchDir   string
	benchKeep  string
	benchErr   error
	benchBuilt time.Duration
)

func benchVocabulary(r *rand.Rand) []string {
	syll := []string{"ka", "lo", "mi", "ré", "tu", "ba", "ché", "ni", "po", "sa", "vé", "do", "ri", "fu", "ga", "zé", "an", "or", "el", "us"}
	seen := map[string]bool{}
	out := []string{"the", "a", "of", "and", "video", "music", "live", "tutorial", "café", "crème", "über", "naïve"}
	for len(out) < benchVocab {
		var b strings.Builder
		for range 2 + r.IntN(3) {
			b.WriteString(syll[r.IntN(len(syll))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

func buildBenchIndex() {
	r := rand.New(rand.NewPCG(1, 2))
	benchWords = benchVocabulary(r)
	zipf := rand.NewZipf(r, 1.1, 2, uint64(len(benchWords)-1))
	phrase := func(lo, hi int) string {
		n := lo + r.IntN(hi-lo+1)
		ws := make([]string, n)
		for i := range ws {
			w := benchWords[zipf.Uint64()]
			if r.IntN(10) == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			ws[i] = w
		}
		return strings.Join(ws, " ")
	}
	// SWARMTUBE_BENCH_DIR keeps the index between runs (it takes a minute
	// to build); by default it lives in a temp dir removed at exit.
	reuse := false
	if d := os.Getenv("SWARMTUBE_BENCH_DIR"); d != "" {
		_, err := os.Stat(filepath.Join(d, "pod.db"))
		reuse = err == nil
		if benchErr = os.MkdirAll(d, 0o700); benchErr != nil {
			return
		}
		benchKeep = d
	} else if benchDir, benchErr = os.MkdirTemp("", "swarmtube-search-bench-"); benchErr != nil {
		return
	}
	dir := cmp.Or(benchKeep, benchDir)
	st, err := store.Open(filepath.Join(dir, "pod.db"))
	if err != nil {
		benchErr = err
		return
	}
	st.DB().NoSync = true // building only; queries are reads
	benchSvc, benchErr = New(Config{PodURL: "http://pod.test", DataDir: dir, MaxUploadBytes: 1 << 30}, st, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if benchErr != nil || reuse {
		return
	}
	begin := time.Now()
	base := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 5000
	for i := 0; i < benchVideos && benchErr == nil; i += batch {
		benchErr = st.Update(func(tx *bolt.Tx) error {
			for j := i; j < i+batch && j < benchVideos; j++ {
				var ih [20]byte
				for k := range ih {
					ih[k] = byte(r.UintN(256))
				}
				rec := &record{File: "x.mp4", Video: api.Video{
					ID: newVideoID(), Name: phrase(3, 8), Description: phrase(10, 40), Size: 1,
					InfoHash: fmt.Sprintf("%x", ih), CreatedAt: base.Add(time.Duration(j) * time.Minute), Local: true,
					Owner: benchOwners[j%len(benchOwners)],
				}}
				if j%5 == 4 { // a fifth are friends' videos
					rec.Origin, rec.OriginID, rec.File = "https://friend.test", rec.Video.ID, ""
					rec.Video.ID, rec.Video.Owner = remoteKey(rec.Origin, rec.OriginID), "dave"
				}
				if err := putTx(tx, rec); err != nil {
					return err
				}
			}
			return nil
		})
	}
	benchBuilt = time.Since(begin)
}

// benchQueries are typical searches: whole words, prefixes of 2-5
// characters, several words, rare and very common words, accents.
func benchQueries(r *rand.Rand) []string {
	var qs []string
	for range 200 {
		w := benchWords[r.IntN(len(benchWords))]
		switch r.IntN(4) {
		case 0:
			qs = append(qs, w)
		case 1:
			qs = append(qs, string([]rune(w)[:min(len([]rune(w)), 2+r.IntN(4))]))
		case 2:
			qs = append(qs, w+" "+string([]rune(benchWords[r.IntN(200)])[:3]))
		default:
			qs = append(qs, benchWords[r.IntN(50)]+" "+benchWords[r.IntN(len(benchWords))]+" "+benchWords[r.IntN(len(benchWords))])
		}
	}
	return append(qs, "the", "video", "cafe", "CRÈME", "ka", "lo", "the video music", "über naive")
}

// BenchmarkSearch100k measures searches over 100,000 indexed videos (first
// page of 20, as the page asks) and reports p50/p99/max latency.
//
//	go test -run '^$' -bench Search100k -benchtime 2000x ./server/videos/
func BenchmarkSearch100k(b *testing.B) {
	benchOnce.Do(buildBenchIndex)
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	queries := benchQueries(rand.New(rand.NewPCG(3, 4)))
	runtime.LockOSThread() // threadCPU measures this thread
	defer runtime.UnlockOSThread()
	lat := make([]time.Duration, 0, b.N)
	cpu := make([]time.Duration, 0, b.N)
	type slow struct {
		q    string
		d    time.Duration
		hits int
	}
	var slowest []slow
	totalHits := 0
	b.ResetTimer()
	for i := range b.N {
		q := queries[i%len(queries)]
		start, startCPU := time.Now(), threadCPU()
		l, err := benchSvc.Search(q, 0, 20)
		lat = append(lat, time.Since(start))
		cpu = append(cpu, threadCPU()-startCPU)
		if err != nil {
			b.Fatal(err)
		}
		totalHits += l.Total
		slowest = append(slowest, slow{q, lat[len(lat)-1], l.Total})
	}
	b.StopTimer()
	slices.SortFunc(slowest, func(a, b slow) int { return cmp.Compare(b.d, a.d) })
	slices.Sort(lat)
	slices.Sort(cpu)
	pct := func(ds []time.Duration, p float64) float64 {
		return float64(ds[int(float64(len(ds)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(lat, 0.50), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(pct(lat, 1), "max-ms")
	b.ReportMetric(pct(cpu, 0.50), "p50-cpu-ms")
	b.ReportMetric(pct(cpu, 0.99), "p99-cpu-ms")
	b.ReportMetric(float64(totalHits)/float64(b.N), "hits/op")
	for _, sq := range slowest[:min(5, len(slowest))] {
		b.Logf("slow: %q %v (%d hits)", sq.q, sq.d, sq.hits)
	}
	if benchBuilt > 0 {
		b.Logf("index of %d videos built in %v", benchVideos, benchBuilt.Round(time.Millisecond))
	}
}

// TestMain's cleanup removes the benchmark index too.
func benchCleanup() {
	if benchSvc != nil {
		benchSvc.st.Close()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
}

// BenchmarkCatalog100k measures what a page of the catalogue costs with
// benchVideos videos (issue 20): the listing newest first and a user's
// videos at several offsets, and the pages of federation's catalogue
// exchange (what a new friend's introduction reads), first page and the
// one that crosses the friends' ids. Each sub-benchmark is one page of 20
// (the exchange: fedproto.MaxCatalogVideos, 500). Besides time, each
// reports cpu-ms/op, the CPU its thread used: on this shared machine time
// per op moves with the load several-fold, CPU time much less.
//
//	go test -run '^$' -bench Catalog100k ./server/videos/
func BenchmarkCatalog100k(b *testing.B) {
	benchOnce.Do(buildBenchIndex)
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	svc := benchSvc
	all, err := svc.List(0, 1)
	if err != nil {
		b.Fatal(err)
	}
	n := all.Total
	for _, start := range []int{0, 1000, n / 2, n - 20} {
		b.Run(fmt.Sprintf("videos=%d/list/start=%d", n, start), func(b *testing.B) {
			defer cpuPerOp(b)()
			for range b.N {
				if l, err := svc.List(start, 20); err != nil || len(l.Data) != 20 {
					b.Fatalf("List(%d, 20): %d videos, %v", start, len(l.Data), err)
				}
			}
		})
	}
	owned, err := svc.ListByOwner("alice", 0, 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, start := range []int{0, owned.Total - 20} {
		b.Run(fmt.Sprintf("videos=%d/owner/start=%d", n, start), func(b *testing.B) {
			defer cpuPerOp(b)()
			for range b.N {
				if l, err := svc.ListByOwner("alice", start, 20); err != nil || len(l.Data) != 20 {
					b.Fatalf("ListByOwner(%d, 20): %d videos, %v", start, len(l.Data), err)
				}
			}
		})
	}
	// Friends' keys are "r" + 16 characters: the page after the last local
	// id below "r" is the one that passes them all.
	var beforeR string
	if err := svc.st.View(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketVideos)).Cursor()
		for k, _ := c.Seek([]byte("r")); k != nil; k, _ = c.Prev() {
			if len(k) == idLen && k[0] < 'r' {
				beforeR = string(k)
				return nil
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	for _, page := range []struct{ name, after string }{{"first", ""}, {"across-friends", beforeR}} {
		b.Run(fmt.Sprintf("videos=%d/catalog-page/%s", n, page.name), func(b *testing.B) {
			defer cpuPerOp(b)()
			for range b.N {
				if vs, err := svc.LocalVideosAfter(page.after, fedproto.MaxCatalogVideos); err != nil || len(vs) != fedproto.MaxCatalogVideos {
					b.Fatalf("LocalVideosAfter(%q): %d videos, %v", page.after, len(vs), err)
				}
			}
		})
	}
}

// cpuPerOp starts counting the CPU time of the benchmark's thread; the
// function it returns reports it per op as cpu-ms/op.
func cpuPerOp(b *testing.B) func() {
	runtime.LockOSThread()
	begin := threadCPU()
	return func() {
		b.ReportMetric(float64((threadCPU()-begin).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		runtime.UnlockOSThread()
	}
}
