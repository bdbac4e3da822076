package tracker

import (
	"math/rand/v2"
	"net/netip"
	"sync"

	"github.com/swarmtube/swarmtube/shared/trackerproto"
)

type id = trackerproto.ID

// numShards spreads the swarm map over independent locks; a swarm then has
// its own lock, so announces to different swarms never contend.
const numShards = 64

// registry is the swarm table shared by both trackers.
type registry struct {
	m      *metrics
	shards [numShards]shard
}

type shard struct {
	mu     sync.RWMutex // guards swarms
	swarms map[id]*swarm
}

func newRegistry(m *metrics) *registry {
	r := &registry{m: m}
	for i := range r.shards {
		r.shards[i].swarms = make(map[id]*swarm)
	}
	return r
}

func (r *registry) shard(ih id) *shard {
	// Info hashes are SHA-1 output: any byte is uniformly distributed.
	return &r.shards[ih[0]%numShards]
}

// lookup returns the swarm, or nil.
func (r *registry) lookup(ih id) *swarm {
	sh := r.shard(ih)
	sh.mu.RLock()
	sw := sh.swarms[ih]
	sh.mu.RUnlock()
	return sw
}

// unlock unlocks sw, first removing it from the registry if it has no
// peers left (so an announce/stop cycle leaves nothing behind).
func (r *registry) unlock(sw *swarm) {
	if sw.empty() {
		sw.dead = true
	}
	dead := sw.dead
	sw.mu.Unlock()
	if dead {
		r.remove(sw)
	}
}

func (r *registry) remove(sw *swarm) {
	sh := r.shard(sw.ih)
	sh.mu.Lock()
	if sh.swarms[sw.ih] == sw {
		delete(sh.swarms, sw.ih)
		r.m.swarms.Add(-1)
	}
	sh.mu.Unlock()
}

// lockSwarm returns the swarm for ih, locked, creating it if create is set
// (else it may return nil). The caller releases it with r.unlock(sw).
func (r *registry) lockSwarm(ih id, create bool) *swarm {
	for {
		sw := r.lookup(ih)
		if sw == nil {
			if !create {
				return nil
			}
			sh := r.shard(ih)
			sh.mu.Lock()
			sw = sh.swarms[ih]
			if sw == nil {
				sw = &swarm{ih: ih}
				sh.swarms[ih] = sw
				r.m.swarms.Add(1)
			}
			sh.mu.Unlock()
		}
		sw.mu.Lock()
		if !sw.dead {
			return sw
		}
		// Emptied by someone else between lookup and lock: make sure it is
		// out of the map, then look again.
		sw.mu.Unlock()
		r.remove(sw)
	}
}

// swarm is one info hash's peers: WebSocket peers keyed by peer id (as
// bittorrent-tracker does), HTTP peers keyed by address.
type swarm struct {
	mu         sync.Mutex // guards the following fields
	ih         id
	dead       bool // removed from the registry
	ws         []*wsPeer
	wsByID     map[id]*wsPeer
	http       []httpPeer             // by value: picking reads one entry, not a pointer and a peer
	httpByAddr map[netip.AddrPort]int // index in http
	complete   int
	incomplete int
	downloaded int // completed events seen
}

type wsPeer struct {
	id       id
	conn     *wsConn
	complete bool
	seen     int64 // unix seconds of the last announce
	idx      int   // index in swarm.ws
}

type httpPeer struct {
	id       id
	addr     netip.AddrPort
	complete bool
	seen     int64
}

func (sw *swarm) empty() bool { return len(sw.ws) == 0 && len(sw.http) == 0 }

func (sw *swarm) count(complete bool, delta int) {
	if complete {
		sw.complete += delta
	} else {
		sw.incomplete += delta
	}
}

// applyEvent updates a swarm's counts for a peer's announce as bittorrent-tracker's swarm.js does:
// started on a known peer is an update, completed/update/paused on an
// unknown peer is a start, and stopped removes. left < 0 means unknown.
// *complete is the peer's state, updated; added means the caller must add
// the peer, removed that it must remove it.
func applyEvent(sw *swarm, ev trackerproto.Event, left int64, present bool, complete *bool) (added, removed bool) {
	switch {
	case ev == trackerproto.EventStopped:
		// The caller removes the peer (removeWS/removeHTTP fix the counts).
		return false, present
	case !present:
		*complete = left == 0
		sw.count(*complete, 1)
		if ev == trackerproto.EventCompleted {
			sw.downloaded++
		}
		return true, false
	case ev == trackerproto.EventCompleted && !*complete, left == 0 && !*complete:
		if ev == trackerproto.EventCompleted {
			sw.downloaded++
		}
		sw.count(false, -1)
		sw.count(true, 1)
		*complete = true
	}
	return false, false
}

func (sw *swarm) addWS(p *wsPeer) {
	if sw.wsByID == nil {
		sw.wsByID = make(map[id]*wsPeer)
	}
	p.idx = len(sw.ws)
	sw.ws = append(sw.ws, p)
	sw.wsByID[p.id] = p
}

func (sw *swarm) removeWS(p *wsPeer) {
	last := sw.ws[len(sw.ws)-1]
	sw.ws[p.idx] = last
	last.idx = p.idx
	sw.ws[len(sw.ws)-1] = nil
	sw.ws = sw.ws[:len(sw.ws)-1]
	delete(sw.wsByID, p.id)
	sw.count(p.complete, -1)
}

// addHTTP adds p and returns its index in sw.http.
func (sw *swarm) addHTTP(p httpPeer) int {
	if sw.httpByAddr == nil {
		sw.httpByAddr = make(map[netip.AddrPort]int)
	}
	i := len(sw.http)
	sw.http = append(sw.http, p)
	sw.httpByAddr[p.addr] = i
	return i
}

// removeHTTP removes sw.http[i]; the last peer takes its index.
func (sw *swarm) removeHTTP(i int) {
	p := sw.http[i]
	last := len(sw.http) - 1
	if i != last {
		sw.http[i] = sw.http[last]
		sw.httpByAddr[sw.http[i].addr] = i
	}
	sw.http[last] = httpPeer{} // drop the address's handle reference
	sw.http = sw.http[:last]
	delete(sw.httpByAddr, p.addr)
	sw.count(p.complete, -1)
}

// pickIndexes appends to out up to n distinct random indexes in [0,total)
// for which skip is false: a random walk for small sets, rejection
// sampling for large ones, so picking is O(n), not O(swarm size).
func pickIndexes(total, n int, skip func(int) bool, out []int) []int {
	if n <= 0 || total == 0 {
		return out
	}
	if total <= 4*n {
		start := rand.IntN(total)
		for i := 0; i < total && len(out) < n; i++ {
			j := start + i
			if j >= total {
				j -= total
			}
			if !skip(j) {
				out = append(out, j)
			}
		}
		return out
	}
	base := len(out)
	for tries := 0; len(out)-base < n && tries < 8*n; tries++ {
		j := rand.IntN(total)
		if skip(j) {
			continue
		}
		dup := false
		for _, k := range out[base:] {
			if k == j {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, j)
		}
	}
	return out
}
