package tracker

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestSwarmHTTPIndex checks that removing HTTP peers (which moves the last
// peer into the hole) keeps httpByAddr pointing at each peer's index and
// the counts right.
func TestSwarmHTTPIndex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		n      int
		remove []int // indexes to remove, in order, at the time of removal
	}{
		{name: "last", n: 3, remove: []int{2}},
		{name: "first", n: 3, remove: []int{0}},
		{name: "middle then all", n: 4, remove: []int{1, 0, 1, 0}},
		{name: "only", n: 1, remove: []int{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sw := &swarm{}
			for i := range tc.n {
				addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), 6881)
				complete := i%2 == 0
				sw.count(complete, 1)
				if got := sw.addHTTP(httpPeer{addr: addr, complete: complete}); got != i {
					t.Fatalf("addHTTP index = %d, want %d", got, i)
				}
			}
			for _, i := range tc.remove {
				sw.removeHTTP(i)
				if len(sw.httpByAddr) != len(sw.http) {
					t.Fatalf("%d peers but %d in the address map", len(sw.http), len(sw.httpByAddr))
				}
				complete := 0
				for j, p := range sw.http {
					if k, ok := sw.httpByAddr[p.addr]; !ok || k != j {
						t.Fatalf("httpByAddr[%v] = %d, %v; want %d", p.addr, k, ok, j)
					}
					if p.complete {
						complete++
					}
				}
				if got := fmt.Sprint(sw.complete, sw.incomplete); got != fmt.Sprint(complete, len(sw.http)-complete) {
					t.Fatalf("counts complete, incomplete = %s, want %d, %d", got, complete, len(sw.http)-complete)
				}
			}
			if want := tc.n - len(tc.remove); len(sw.http) != want {
				t.Fatalf("%d peers left, want %d", len(sw.http), want)
			}
		})
	}
}
