package mirrors

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

type fakeScores struct {
	mu  sync.Mutex
	got []string
}

func (s *fakeScores) Penalize(friend, _ string) {
	s.mu.Lock()
	s.got = append(s.got, friend)
	s.mu.Unlock()
}

// TestRangeCheck: the origin checks a random piece of each friend's copy
// of its videos: a good mirror passes, an unreachable one costs its pod
// score, one serving bad bytes costs score and comes off the video's
// mirrors.
func TestRangeCheck(t *testing.T) {
	f := newFixture(t, StrategyManual, 0) // an origin that mirrors nothing itself
	scores := &fakeScores{}
	f.m.SetScores(scores)
	data := make([]byte, 3<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	info, err := torrentfile.HashReader(context.Background(), bytes.NewReader(data), "v.mp4", int64(len(data)), torrentfile.MinPieceLength, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := torrentfile.Metainfo{Info: info}.Bencode()
	if err != nil {
		t.Fatal(err)
	}
	serve := func(body []byte) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "v.mp4", time.Time{}, bytes.NewReader(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/static/webseed/v.mp4"
	}
	bad := make([]byte, len(data)) // every piece wrong
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	const id = "localvideoaaaaaa"
	f.cat.torrents = map[string][]byte{id: tb}
	f.cat.vs[id] = api.Video{ID: id, Local: true, State: api.StatePublished, Size: int64(len(data)), Mirrors: []api.Mirror{
		{Pod: "http://good.example", WebseedURL: serve(data)},
		{Pod: "http://bad.example", WebseedURL: serve(bad)},
		{Pod: "http://down.example", WebseedURL: dead.URL + "/static/webseed/v.mp4"},
	}}
	if err := f.m.st.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketChecked)).Put([]byte(id), []byte{1})
	}); err != nil {
		t.Fatal(err)
	}
	f.m.pass(context.Background())
	slices.Sort(scores.got)
	if want := []string{"http://bad.example", "http://down.example"}; !slices.Equal(scores.got, want) {
		t.Fatalf("penalized %v, want %v", scores.got, want)
	}
	if want := []string{"http://bad.example"}; !slices.Equal(f.cat.dropped, want) {
		t.Fatalf("dropped from the video's mirrors: %v, want %v", f.cat.dropped, want)
	}
}
