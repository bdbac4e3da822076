package mirrors

import (
	"bytes"
	"context"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
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
// of its videos: a good mirror passes; one that does not answer or serves
// bad bytes costs its pod score and comes off the video's mirrors at once
// (the url-list followed it only when the pod was ejected, hours later),
// is checked again at each pass, and is listed again once it passes; an
// unmirror event forgets a suspended copy. Every file a mirror lists is
// checked: a bad lower resolution fails the mirror as a bad best file
// does.
func TestRangeCheck(t *testing.T) {
	f := newFixture(t, StrategyManual, 0) // an origin that mirrors nothing itself
	scores := f.scores
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
	_, ih, _ := torrentfile.Parse(tb)
	// A 240p file of its own: mirrors that list it are checked on it too.
	low := data[:1<<20]
	lowInfo, err := torrentfile.HashReader(context.Background(), bytes.NewReader(low), "v-240p.mp4", int64(len(low)), torrentfile.MinPieceLength, nil)
	if err != nil {
		t.Fatal(err)
	}
	lowTB, err := torrentfile.Metainfo{Info: lowInfo}.Bencode()
	if err != nil {
		t.Fatal(err)
	}
	_, lowIH, _ := torrentfile.Parse(lowTB)
	// serve answers with body, or 503 while *down.
	serve := func(body []byte, down *atomic.Bool) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			http.ServeContent(w, r, "v.mp4", time.Time{}, bytes.NewReader(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/static/webseed/v.mp4"
	}
	var up, down, flaky atomic.Bool
	down.Store(true)
	bad := make([]byte, len(data)) // every piece wrong
	const id = "localvideoaaaaaa"
	f.cat.torrents = map[string][]byte{id: tb, id + "-240p": lowTB}
	lowFile := func(body []byte) []api.MirrorFile {
		return []api.MirrorFile{{InfoHash: hex.EncodeToString(lowIH[:]), WebseedURL: serve(body, &up)}}
	}
	f.cat.vs[id] = api.Video{ID: id, Local: true, State: api.StatePublished, Size: int64(len(data)), InfoHash: hex.EncodeToString(ih[:]),
		Files: []api.VideoFile{{InfoHash: hex.EncodeToString(ih[:])}, {Resolution: 240, InfoHash: hex.EncodeToString(lowIH[:])}},
		Mirrors: []api.Mirror{
			{Pod: "http://good.example", WebseedURL: serve(data, &up), Files: lowFile(low)},
			{Pod: "http://bad.example", WebseedURL: serve(bad, &up)},
			{Pod: "http://down.example", WebseedURL: serve(data, &down)},
			{Pod: "http://flaky.example", WebseedURL: serve(data, &flaky)},
			{Pod: "http://badlow.example", WebseedURL: serve(data, &up), Files: lowFile(bad[:len(low)])},
		}}
	if err := f.m.st.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketChecked)).Put([]byte(id), []byte{1})
	}); err != nil {
		t.Fatal(err)
	}
	pass := func() {
		*f.now = f.now.Add(f.m.cfg.Interval)
		f.m.pass(context.Background())
	}
	listed := func() []string {
		v, _ := f.cat.Get(id)
		var pods []string
		for _, m := range v.Mirrors {
			pods = append(pods, m.Pod)
		}
		slices.Sort(pods)
		return pods
	}
	penalized := func() []string {
		scores.mu.Lock()
		defer scores.mu.Unlock()
		got := slices.Clone(scores.got)
		scores.got = nil
		slices.Sort(got)
		return got
	}

	pass()
	if got, want := penalized(), []string{"http://bad.example", "http://badlow.example", "http://down.example"}; !slices.Equal(got, want) {
		t.Fatalf("penalized %v, want %v (badlow: its 240p is wrong)", got, want)
	}
	if got, want := listed(), []string{"http://flaky.example", "http://good.example"}; !slices.Equal(got, want) {
		t.Fatalf("listed %v after the first check, want %v", got, want)
	}

	// Checked again: still failing ones cost score again; flaky fails now
	// and goes; down is back and is listed again.
	down.Store(false)
	flaky.Store(true)
	pass()
	if got, want := penalized(), []string{"http://bad.example", "http://badlow.example", "http://flaky.example"}; !slices.Equal(got, want) {
		t.Fatalf("penalized %v at the second check, want %v", got, want)
	}
	if got, want := listed(), []string{"http://down.example", "http://good.example"}; !slices.Equal(got, want) {
		t.Fatalf("listed %v after the second check, want %v", got, want)
	}

	// bad withdraws its copy: no longer checked nor charged.
	if err := f.m.st.Update(func(tx *bolt.Tx) error {
		return f.m.MirrorTx(tx, "http://bad.example", fedproto.EventUnmirror,
			fedproto.MirrorRef{VideoPod: f.m.cfg.SelfURL, VideoID: id})
	}); err != nil {
		t.Fatal(err)
	}
	pass()
	if got, want := penalized(), []string{"http://badlow.example", "http://flaky.example"}; !slices.Equal(got, want) {
		t.Fatalf("penalized %v at the third check, want %v", got, want)
	}
	if got := f.keyCount(t, bucketSuspended); got != 2 {
		t.Fatalf("%d suspended copies, want flaky's and badlow's", got)
	}
}

// keyCount is how many keys the mirrors' bucket holds.
func (f *fixture) keyCount(t *testing.T, bucket string) int {
	t.Helper()
	n := 0
	if err := f.m.st.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte(bucket)).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
