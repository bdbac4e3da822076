package swarm

import (
	"math/rand/v2"
	"net/url"
	"time"
)

// Choosing a web seed (issue 18). A video's url-list holds its origin's
// web seed and every mirror's. Each fetch of a piece asks them in the
// order seedSet.order gives:
//
//  1. Seeds that answer, fastest first: the expected time to fetch the
//     piece is the seed's measured latency (time to the response
//     headers) plus the piece at its measured throughput (bytes/s of the
//     body), both moving averages of its recent fetches, times the fetches
//     in flight to it plus one (they share its bandwidth), plus the time
//     its oldest fetch in flight has overrun that. A seed not measured yet
//     and idle comes first, so each is measured early.
//  2. Among the seeds within seedComparable (×1.5, plus seedSlack) of the
//     best, the least loaded (verified bytes received plus bytes in
//     flight) first: seeds about as close and as fast share the pod
//     budget, a clearly faster or closer one takes all it can.
//  3. Seeds that failed (an HTTP error, a short body, a piece failing its
//     SHA-1) rest for webseedRetry and are tried last, the longest rested
//     first; a fetch falls back to the next seed in this order.
//
// Ties go by a rank drawn at random per torrent, so viewers' first
// fetches spread over the seeds. A piece is asked of one seed at a time
// (its webseed flag), so no range is ever asked of two at once.
const (
	seedComparable = 1.5
	seedSlack      = 50 * time.Millisecond
	// seedAlpha weighs a new sample in the moving averages.
	seedAlpha = 0.3
	// seedMinBody bounds the body time a sample divides by: a fetch that
	// took no measurable time (a local seed, a test's fake clock) counts
	// as 1 ms, not infinitely fast.
	seedMinBody = time.Millisecond
)

// seedSet is the state of a torrent's web seeds; guarded by Torrent.mu.
type seedSet struct {
	seeds []seedState
	rank  []int // tie-break per seed: a random permutation
}

// seedState is what is known of one web seed.
type seedState struct {
	url string
	// fetch: in the url-list (false: an address only early bytes came
	// from, counted but never fetched).
	fetch  bool
	origin bool
	// measured: latency and rate hold at least one sample.
	measured bool
	latency  time.Duration // moving average: request to response headers
	rate     float64       // moving average: body bytes/s
	inflight []time.Time   // start of each fetch in flight
	busyLen  int64         // bytes of the fetches in flight
	down     time.Time     // failed: tried last until then
	failures int
	bytes    int64 // verified bytes received
}

// seedSample is one fetch's measurement.
type seedSample struct {
	latency time.Duration // request to response headers
	body    time.Duration // response headers to the last byte
	bytes   int64
}

// newSeedSet returns the seeds of urls; origin tells which are the
// origin's (nil: the first is). Ties go by a random rank.
func newSeedSet(urls []string, origin func(string) bool) seedSet {
	return newSeedSetRanked(urls, origin, rand.Perm(len(urls)))
}

// newSeedSetRanked is newSeedSet with the tie-break rank given (tests).
func newSeedSetRanked(urls []string, origin func(string) bool, rank []int) seedSet {
	s := seedSet{rank: rank}
	for k, u := range urls {
		o := k == 0
		if origin != nil {
			o = origin(u)
		}
		s.seeds = append(s.seeds, seedState{url: u, fetch: true, origin: o})
	}
	return s
}

// sameOrigin returns a classifier of web seed URLs: true for those with
// the scheme, host and port of pod (RFC 6454 origins).
func sameOrigin(pod string) func(string) bool {
	p, err := url.Parse(pod)
	if err != nil || p.Host == "" {
		return nil
	}
	return func(u string) bool {
		q, err := url.Parse(u)
		return err == nil && q.Scheme == p.Scheme && q.Host == p.Host
	}
}

// estimate is the expected time to fetch n more bytes from seed k now;
// 0 for an idle seed not measured yet.
func (s *seedSet) estimate(k int, n int64, now time.Time) time.Duration {
	st := &s.seeds[k]
	var per time.Duration
	switch {
	case st.measured:
		per = st.latency + time.Duration(float64(n)/st.rate*float64(time.Second))
	case len(st.inflight) == 0:
		return 0
	default: // being measured: as fast as the best measured seed
		per = time.Second
		for j := range s.seeds {
			if j != k && s.seeds[j].measured {
				per = min(per, s.seeds[j].latency+time.Duration(float64(n)/s.seeds[j].rate*float64(time.Second)))
			}
		}
	}
	est := time.Duration(len(st.inflight)+1) * per
	if len(st.inflight) > 0 {
		if late := now.Sub(st.inflight[0]) - per; late > 0 {
			est += late
		}
	}
	return est
}

// order returns the seeds to ask for a fetch of n bytes, in turn (see
// the comment at the top of this file).
func (s *seedSet) order(n int64, now time.Time) []int {
	est := make([]time.Duration, len(s.seeds))
	var up, resting []int
	for k := range s.seeds {
		st := &s.seeds[k]
		switch {
		case !st.fetch:
		case now.Before(st.down):
			resting = append(resting, k)
		default:
			up = append(up, k)
			est[k] = s.estimate(k, n, now)
		}
	}
	byRank := func(a, b int) bool { return s.rank[a] < s.rank[b] }
	sortSeeds(up, func(a, b int) bool { return est[a] < est[b] || est[a] == est[b] && byRank(a, b) })
	if len(up) > 0 {
		limit := time.Duration(float64(est[up[0]])*seedComparable) + seedSlack
		if est[up[0]] == 0 {
			limit = 0 // idle unmeasured seeds first, measured ones after
		}
		j := 0
		for j < len(up) && est[up[j]] <= limit {
			j++
		}
		load := func(k int) int64 { return s.seeds[k].bytes + s.seeds[k].busyLen }
		sortSeeds(up[:j], func(a, b int) bool { return load(a) < load(b) || load(a) == load(b) && byRank(a, b) })
	}
	sortSeeds(resting, func(a, b int) bool {
		da, db := s.seeds[a].down, s.seeds[b].down
		return da.Before(db) || da.Equal(db) && byRank(a, b)
	})
	return append(up, resting...)
}

// sortSeeds sorts a few seed indexes by less, stably (insertion sort: a
// url-list names a handful of seeds, and each instantiation of the
// generic slices sorts cost the wasm tens of KB).
func sortSeeds(ks []int, less func(a, b int) bool) {
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && less(ks[j], ks[j-1]); j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
}

// begin records a fetch of n bytes from seed k starting at now; end must
// follow with the same start.
func (s *seedSet) begin(k int, n int64, now time.Time) {
	st := &s.seeds[k]
	st.inflight = append(st.inflight, now)
	st.busyLen += n
}

// end records that a fetch begun at start ended (sample or failed may
// follow).
func (s *seedSet) end(k int, n int64, start time.Time) {
	st := &s.seeds[k]
	for i, t := range st.inflight {
		if t.Equal(start) {
			st.inflight = append(st.inflight[:i], st.inflight[i+1:]...)
			break
		}
	}
	st.busyLen -= n
}

// failed rests seed k for webseedRetry.
func (s *seedSet) failed(k int, now time.Time) {
	st := &s.seeds[k]
	st.failures++
	st.down = now.Add(webseedRetry)
}

// sample adds a fetch that delivered verified data to seed k's moving
// averages, and ends its rest.
func (s *seedSet) sample(k int, m seedSample) {
	st := &s.seeds[k]
	st.down = time.Time{}
	rate := float64(m.bytes) / max(m.body, seedMinBody).Seconds()
	if !st.measured {
		st.measured, st.latency, st.rate = true, m.latency, rate
		return
	}
	st.latency += time.Duration(seedAlpha * float64(m.latency-st.latency))
	st.rate += seedAlpha * (rate - st.rate)
}

// received counts n verified bytes from seed k.
func (s *seedSet) received(k int, n int64) { s.seeds[k].bytes += n }

// early returns the seed that url names (a url-list entry, or the file
// it names as BEP 19 directory), adding a stats-only entry for an address
// not in the url-list; -1 for an empty url.
func (s *seedSet) early(u, name string, origin func(string) bool) int {
	if u == "" {
		return -1
	}
	for k, st := range s.seeds {
		if st.url == u || webseedURL(st.url, name) == u {
			return k
		}
	}
	o := len(s.seeds) == 0
	if origin != nil {
		o = origin(u)
	}
	s.seeds = append(s.seeds, seedState{url: u, origin: o})
	s.rank = append(s.rank, len(s.rank))
	return len(s.seeds) - 1
}

// WebSeedStats describes one web seed (Stats.WebSeeds).
type WebSeedStats struct {
	URL string `json:"url"`
	// Origin: the video's origin pod's (Config.OriginPod), else a
	// mirror's.
	Origin bool `json:"origin"`
	// Bytes are the verified bytes it sent (with those the page read from
	// it before the engine ran, AddWebSeedData).
	Bytes int64 `json:"bytes"`
	// Rate (bytes/s) and LatencyMs (to the response headers) are the
	// moving averages the chooser uses; 0 before its first fetch.
	Rate      float64 `json:"rate"`
	LatencyMs float64 `json:"latencyMs"`
	// Failures counts failed fetches; Resting: the last one is recent
	// enough that it is tried last.
	Failures int  `json:"failures"`
	Resting  bool `json:"resting"`
}

func (s *seedSet) stats(now time.Time) (out []WebSeedStats, origin, mirrors int64) {
	for _, st := range s.seeds {
		out = append(out, WebSeedStats{
			URL: st.url, Origin: st.origin, Bytes: st.bytes, Rate: st.rate,
			LatencyMs: float64(st.latency) / float64(time.Millisecond),
			Failures:  st.failures, Resting: now.Before(st.down),
		})
		if st.origin {
			origin += st.bytes
		} else {
			mirrors += st.bytes
		}
	}
	return out, origin, mirrors
}
