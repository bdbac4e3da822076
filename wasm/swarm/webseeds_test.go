package swarm

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestWebSeedsShareTheLoad: with the origin's web seed down and two
// mirrors' up (issue 18), the whole file comes from the mirrors, both of
// them, and no piece is asked of two seeds.
func TestWebSeedsShareTheLoad(t *testing.T) {
	t.Parallel()
	fx := newFixture(t, 12*pieceLen)
	var mu sync.Mutex
	got := map[string][]string{} // seed → ranges asked
	seed := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			got[name] = append(got[name], r.Header.Get("Range"))
			mu.Unlock()
			http.ServeContent(w, r, "video.mp4", time.Time{}, bytes.NewReader(fx.data))
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/"
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/"
	dead.Close() // the origin is down: connections are refused
	mi := fx.mi
	mi.URLList = []string{deadURL, seed("mirror1"), seed("mirror2")}
	leech := start(t, Config{Metainfo: mi, InfoHash: fx.ih, PeerID: peerID("-ST0001-leech"), ReadaheadBytes: int64(len(fx.data))})
	if data := readAll(t, leech, len(fx.data)); !bytes.Equal(data, fx.data) {
		t.Fatal("data differs")
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	for name, ranges := range got {
		if len(ranges) == 0 {
			t.Errorf("%s sent nothing", name)
		}
		for _, r := range ranges {
			if seen[r] {
				t.Errorf("range %s asked twice", r)
			}
			seen[r] = true
		}
	}
	if len(got["mirror1"]) == 0 || len(got["mirror2"]) == 0 {
		t.Fatalf("the mirrors did not share the load: %v", got)
	}
	if st := leech.Stats(); st.BytesFromWebSeed != int64(len(fx.data)) {
		t.Fatalf("from web seeds %d, want %d", st.BytesFromWebSeed, len(fx.data))
	}
}
