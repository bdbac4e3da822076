package mirrors

import (
	"slices"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
)

// TestEarlyMirrorEvent: a friend's mirror event that comes before the
// video it names (events of different friends are not ordered; TestMirrors
// timed out so in CI: pod 1 had pod 2's event before pod 3's video and
// never listed the mirror) is kept and applied when the video arrives; a
// kept unmirror takes the copy off the list the origin sent; the mirror
// pod's leaving, the origin's removal or age forget kept events, and one
// friend cannot keep more than maxEarlyPerPod.
func TestEarlyMirrorEvent(t *testing.T) {
	f := newFixture(t, StrategyManual, 0)
	ref := func(id, pod string) fedproto.MirrorRef {
		return fedproto.MirrorRef{VideoPod: origin, VideoID: id, InfoHash: "ab" + id,
			WebseedURL: pod + "/static/webseed/ab" + id + ".mp4", TorrentURL: pod + "/api/v1/videos/x/torrent"}
	}
	event := func(pod, kind, id string) {
		t.Helper()
		if err := f.m.st.Update(func(tx *bolt.Tx) error { return f.m.MirrorTx(tx, pod, kind, ref(id, pod)) }); err != nil {
			t.Fatalf("%s event from %s for %s: %v", kind, pod, id, err)
		}
	}
	// arrive stores the video as its origin sends it, naming the mirrors
	// the origin knew of, and returns the mirrors listed here.
	arrive := func(id string, originList ...string) []string {
		t.Helper()
		var ms []api.Mirror
		for _, p := range originList {
			ms = append(ms, api.Mirror{Pod: p, WebseedURL: p + "/static/webseed/ab" + id + ".mp4"})
		}
		f.cat.mu.Lock()
		f.cat.vs[id] = api.Video{ID: id, Pod: origin, InfoHash: "ab" + id, State: api.StatePublished, Mirrors: ms}
		f.cat.mu.Unlock()
		if err := f.m.st.Update(func(tx *bolt.Tx) error { return f.m.VideoArrivedTx(tx, origin, id) }); err != nil {
			t.Fatal(err)
		}
		v, _ := f.cat.Get(id)
		var pods []string
		for _, m := range v.Mirrors {
			pods = append(pods, m.Pod)
		}
		slices.Sort(pods)
		return pods
	}
	const x, y, z = "http://x.example", "http://y.example", "http://z.example"

	event(x, fedproto.EventMirror, "video1")
	event(y, fedproto.EventMirror, "video1")
	event(y, fedproto.EventUnmirror, "video1") // y took it back before the video came
	event(z, fedproto.EventMirror, "video1")
	if err := f.m.st.Update(func(tx *bolt.Tx) error { return f.m.PodGoneTx(tx, z) }); err != nil {
		t.Fatal(err)
	}
	// The origin's list still names y, whose unmirror it has not had yet.
	if got := arrive("video1", y); !slices.Equal(got, []string{x}) {
		t.Fatalf("video1 arrived with mirrors %v, want %v", got, []string{x})
	}
	if n := f.keyCount(t, bucketEarly); n != 0 {
		t.Fatalf("%d early events left after their video arrived", n)
	}

	// Removed at its origin before it came here: forgotten.
	event(x, fedproto.EventMirror, "video2")
	if err := f.m.st.Update(func(tx *bolt.Tx) error { return f.m.OriginRemovedTx(tx, origin, "video2") }); err != nil {
		t.Fatal(err)
	}
	if got := arrive("video2"); len(got) != 0 {
		t.Fatalf("video2, removed at its origin meanwhile, arrived with mirrors %v", got)
	}

	// A friend keeps at most maxEarlyPerPod; old ones go at a pass.
	for i := range maxEarlyPerPod + 10 {
		event(y, fedproto.EventMirror, "many"+strconv.Itoa(i))
	}
	event(x, fedproto.EventMirror, "video3")
	if n := f.keyCount(t, bucketEarly); n != maxEarlyPerPod+1 {
		t.Fatalf("%d early events kept, want %d from y and x's one", n, maxEarlyPerPod+1)
	}
	*f.now = f.now.Add(earlyTTL + time.Minute)
	f.m.pass(t.Context())
	if n := f.keyCount(t, bucketEarly); n != 0 {
		t.Fatalf("%d early events kept past earlyTTL", n)
	}
}
