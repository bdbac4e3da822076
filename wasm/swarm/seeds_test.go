package swarm

import (
	"container/heap"
	"math"
	"slices"
	"testing"
	"time"
)

const (
	kib  = 1 << 10
	mbps = 1e6 // bytes/s
	ms   = time.Millisecond
)

// TestSeedOrder: which web seed a fetch asks first, from injected
// measurements (no clock, no network).
func TestSeedOrder(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	const n = 256 * kib
	type seed struct {
		latency  time.Duration
		rate     float64         // bytes/s; 0: not measured
		inflight []time.Duration // how long ago each fetch in flight began
		bytes    int64           // verified bytes received
		rest     time.Duration   // > 0: failed, rests this much longer
		early    bool            // an address only early bytes came from
	}
	tests := []struct {
		name  string
		seeds []seed
		rank  []int // nil: 0, 1, 2...
		want  []int
	}{
		{"none measured: by the random rank", []seed{{}, {}, {}}, []int{2, 0, 1}, []int{1, 2, 0}},
		{"fastest first", []seed{{latency: 10 * ms, rate: 1 * mbps}, {latency: 10 * ms, rate: 8 * mbps}}, nil, []int{1, 0}},
		{"closest first", []seed{{latency: 300 * ms, rate: 4 * mbps}, {latency: 20 * ms, rate: 4 * mbps}}, nil, []int{1, 0}},
		{"comparable seeds: the least loaded first",
			[]seed{{latency: 10 * ms, rate: 4 * mbps, bytes: 5 << 20}, {latency: 12 * ms, rate: 3.5 * mbps, bytes: 1 << 20}}, nil, []int{1, 0}},
		{"a clearly faster seed goes first however loaded",
			[]seed{{latency: 10 * ms, rate: 8 * mbps, bytes: 50 << 20}, {latency: 10 * ms, rate: 1 * mbps}}, nil, []int{0, 1}},
		{"a busy seed shares its bandwidth: a free comparable one first",
			[]seed{{latency: 10 * ms, rate: 4 * mbps, inflight: []time.Duration{10 * ms}}, {latency: 10 * ms, rate: 2 * mbps}}, nil, []int{1, 0}},
		{"a stalled fetch counts against its seed",
			[]seed{{latency: 10 * ms, rate: 8 * mbps, inflight: []time.Duration{5 * time.Second}}, {latency: 10 * ms, rate: 1 * mbps}}, nil, []int{1, 0}},
		{"an idle seed not measured yet is tried first",
			[]seed{{latency: 5 * ms, rate: 10 * mbps}, {}}, nil, []int{1, 0}},
		{"one being measured waits like a busy one",
			[]seed{{latency: 5 * ms, rate: 10 * mbps}, {inflight: []time.Duration{ms}}}, nil, []int{0, 1}},
		{"resting seeds last, the longest rested first",
			[]seed{{latency: ms, rate: 50 * mbps, rest: 5 * time.Second}, {latency: ms, rate: 50 * mbps, rest: 2 * time.Second}, {latency: 100 * ms, rate: mbps}},
			nil, []int{2, 1, 0}},
		{"addresses only early bytes came from are never fetched", []seed{{latency: ms, rate: mbps}, {early: true}}, nil, []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			urls := make([]string, len(tc.seeds))
			rank := tc.rank
			for k := range tc.seeds {
				urls[k] = string(rune('a'+k)) + "/"
				if tc.rank == nil {
					rank = append(rank, k)
				}
			}
			s := newSeedSetRanked(urls, nil, rank)
			for k, sd := range tc.seeds {
				st := &s.seeds[k]
				st.fetch = !sd.early
				if sd.rate > 0 {
					st.measured, st.latency, st.rate = true, sd.latency, sd.rate
				}
				for _, ago := range sd.inflight {
					s.begin(k, n, now.Add(-ago))
				}
				st.bytes = sd.bytes
				if sd.rest > 0 {
					st.down = now.Add(sd.rest)
				}
			}
			if got := s.order(n, now); !slices.Equal(got, tc.want) {
				t.Fatalf("order %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSeedMeasurements: samples feed the moving averages, a failure rests
// a seed for webseedRetry and a success ends the rest, a fetch's end
// frees its slot.
func TestSeedMeasurements(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := newSeedSetRanked([]string{"https://origin.example/w/", "https://mirror.example/w/"}, sameOrigin("https://origin.example"), []int{0, 1})
	if !s.seeds[0].origin || s.seeds[1].origin {
		t.Fatalf("origin flags %v %v, want the first only", s.seeds[0].origin, s.seeds[1].origin)
	}
	s.begin(0, 100*kib, now)
	s.end(0, 100*kib, now)
	s.sample(0, seedSample{latency: 100 * ms, body: 100 * ms, bytes: 100 * kib})
	if st := s.seeds[0]; !st.measured || st.latency != 100*ms || st.rate != 100*kib/0.1 || len(st.inflight) != 0 || st.busyLen != 0 {
		t.Fatalf("after one sample: %+v", st)
	}
	s.sample(0, seedSample{latency: 200 * ms, body: 0, bytes: 100 * kib}) // no measurable body time: 1 ms
	if st := s.seeds[0]; st.latency != 130*ms || math.Abs(st.rate-(0.7*100*kib/0.1+0.3*100*kib/0.001)) > 1e-6 {
		t.Fatalf("after two samples: latency %v rate %v", st.latency, st.rate)
	}
	s.failed(0, now)
	if got := s.order(kib, now.Add(webseedRetry-ms)); !slices.Equal(got, []int{1, 0}) {
		t.Fatalf("a failed seed is not tried last: %v", got)
	}
	if got := s.order(kib, now.Add(webseedRetry)); got[0] != 1 { // 1 is idle and unmeasured
		t.Fatalf("order after the rest %v", got)
	}
	s.sample(0, seedSample{latency: ms, body: ms, bytes: kib})
	if !s.seeds[0].down.IsZero() || s.seeds[0].failures != 1 {
		t.Fatalf("a success did not end the rest: %+v", s.seeds[0])
	}
	s.received(0, 10)
	s.received(1, 32)
	st, origin, mirrors := s.stats(now)
	if origin != 10 || mirrors != 32 || len(st) != 2 || st[0].Failures != 1 || st[1].Origin {
		t.Fatalf("stats %+v origin %d mirrors %d", st, origin, mirrors)
	}
	// Early bytes from the file a directory seed names count for it;
	// another address gets an entry never fetched from.
	if k := s.early("https://mirror.example/w/video.mp4", "video.mp4", sameOrigin("https://origin.example")); k != 1 {
		t.Fatalf("early(file of seed 1) = %d", k)
	}
	if k := s.early("https://origin.example/other.mp4", "video.mp4", sameOrigin("https://origin.example")); k != 2 || !s.seeds[2].origin || s.seeds[2].fetch {
		t.Fatalf("early(unknown) = %d, %+v", k, s.seeds)
	}
}

// TestSeedSpread runs the chooser against simulated seeds on a fake
// clock: each fetch takes the seed's latency plus the piece at its rate
// (divided among the fetches in flight to it), a failing seed answers
// with errors. Seeds alike share the load; a clearly faster or closer
// one takes most of it; a dead one is skipped once it failed.
func TestSeedSpread(t *testing.T) {
	const n = 256 * kib
	type sim struct {
		latency time.Duration
		rate    float64
		dead    bool
	}
	tests := []struct {
		name      string
		seeds     []sim
		slots     int
		fetches   int
		minShare  []float64 // of the bytes, per seed
		maxShare  []float64
		maxFailed int // fetches that failed over to another seed
	}{
		{"two alike, one fetch at a time", []sim{{20 * ms, 4 * mbps, false}, {20 * ms, 4 * mbps, false}}, 1, 200,
			[]float64{0.45, 0.45}, []float64{0.55, 0.55}, 0},
		{"two alike, two at a time", []sim{{20 * ms, 4 * mbps, false}, {20 * ms, 4 * mbps, false}}, 2, 200,
			[]float64{0.4, 0.4}, []float64{0.6, 0.6}, 0},
		{"one 4× faster takes most, one at a time", []sim{{20 * ms, 1 * mbps, false}, {20 * ms, 4 * mbps, false}}, 1, 200,
			[]float64{0, 0.95}, []float64{0.05, 1}, 0},
		{"one far away: the close one takes most", []sim{{400 * ms, 4 * mbps, false}, {10 * ms, 4 * mbps, false}}, 1, 200,
			[]float64{0, 0.95}, []float64{0.05, 1}, 0},
		{"a dead origin: the mirrors share", []sim{{0, 0, true}, {20 * ms, 4 * mbps, false}, {20 * ms, 4 * mbps, false}}, 2, 200,
			[]float64{0, 0.4, 0.4}, []float64{0, 0.6, 0.6}, 3}, // tried again every webseedRetry
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			urls := make([]string, len(tc.seeds))
			rank := make([]int, len(tc.seeds))
			for k := range tc.seeds {
				urls[k], rank[k] = string(rune('a'+k))+"/", k
			}
			s := newSeedSetRanked(urls, nil, rank)
			now := time.Unix(1_000_000, 0)
			var q doneQueue
			started, failed := 0, 0
			start := func() {
				for _, k := range s.order(n, now) {
					if tc.seeds[k].dead {
						s.begin(k, n, now)
						s.end(k, n, now)
						s.failed(k, now)
						failed++
						continue
					}
					sd := tc.seeds[k]
					body := time.Duration(float64(n) / sd.rate * float64(len(s.seeds[k].inflight)+1) * float64(time.Second))
					s.begin(k, n, now)
					heap.Push(&q, fetchDone{at: now.Add(sd.latency + body), k: k, start: now, m: seedSample{latency: sd.latency, body: body, bytes: n}})
					break
				}
				started++
			}
			for started < tc.fetches || q.Len() > 0 {
				for started < tc.fetches && q.Len() < tc.slots {
					start()
				}
				d := heap.Pop(&q).(fetchDone)
				now = d.at
				s.end(d.k, n, d.start)
				s.sample(d.k, d.m)
				s.received(d.k, n)
			}
			var total int64
			for _, st := range s.seeds {
				total += st.bytes
			}
			for k, st := range s.seeds {
				share := float64(st.bytes) / float64(total)
				if share < tc.minShare[k] || share > tc.maxShare[k] {
					t.Errorf("seed %d took %.2f of the bytes, want %.2f–%.2f (shares %v)", k, share, tc.minShare[k], tc.maxShare[k], shares(s))
				}
			}
			if failed > tc.maxFailed {
				t.Errorf("%d fetches went to a dead seed first, want ≤ %d", failed, tc.maxFailed)
			}
		})
	}
}

func shares(s seedSet) []int64 {
	var out []int64
	for _, st := range s.seeds {
		out = append(out, st.bytes)
	}
	return out
}

// fetchDone is a simulated fetch's completion.
type fetchDone struct {
	at, start time.Time
	k         int
	m         seedSample
}

// doneQueue orders completions by time (container/heap).
type doneQueue []fetchDone

func (q doneQueue) Len() int           { return len(q) }
func (q doneQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q doneQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *doneQueue) Push(x any)        { *q = append(*q, x.(fetchDone)) }
func (q *doneQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
