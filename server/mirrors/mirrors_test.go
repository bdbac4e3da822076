package mirrors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/store"
	"github.com/swarmtube/swarmtube/server/videos"
)

const origin = "http://origin.example"

// fakeCatalog holds friends' videos by id (the id here is the id at the
// origin, which VideoKey returns unchanged).
type fakeCatalog struct {
	mu       sync.Mutex
	vs       map[string]api.Video
	torrents map[string][]byte // this pod's own videos' torrents
	dropped  []string          // mirror pods SetMirrorTx took off
}

func (c *fakeCatalog) LocalTorrent(id string, resolution int) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if resolution > 0 {
		id = fmt.Sprintf("%s-%dp", id, resolution)
	}
	if tb, ok := c.torrents[id]; ok {
		return tb, nil
	}
	return nil, videos.ErrNotFound
}

func (c *fakeCatalog) Get(id string) (api.Video, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vs[id]
	if !ok {
		return v, videos.ErrNotFound
	}
	return v, nil
}

func (c *fakeCatalog) List(start, count int) (api.VideoList, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []api.Video
	for _, v := range c.vs {
		all = append(all, v)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	out := api.VideoList{Total: len(all)}
	if start < len(all) {
		out.Data = all[start:min(len(all), start+count)]
	}
	return out, nil
}

func (c *fakeCatalog) VideoKey(_, id string) (string, bool) { return id, true }
func (c *fakeCatalog) SetMirrorTx(_ *bolt.Tx, pod string, m fedproto.MirrorRef, add bool) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.vs[m.VideoID]
	if !ok {
		return false, nil
	}
	v.Mirrors = slices.DeleteFunc(slices.Clone(v.Mirrors), func(x api.Mirror) bool { return x.Pod == pod })
	if add {
		v.Mirrors = append(v.Mirrors, api.Mirror{Pod: pod, WebseedURL: m.WebseedURL, TorrentURL: m.TorrentURL, Files: m.Files})
	} else {
		c.dropped = append(c.dropped, pod)
	}
	c.vs[m.VideoID] = v
	return true, nil
}
func (c *fakeCatalog) DropMirrorsOfTx(*bolt.Tx, string) error { return nil }

type fakeOutbox struct {
	mu     sync.Mutex
	events []string // "mirror <id>", "unmirror <id>"
}

func (o *fakeOutbox) EnqueueMirrorTx(tx *bolt.Tx, kind string, m fedproto.MirrorRef) error {
	tx.OnCommit(func() {
		o.mu.Lock()
		o.events = append(o.events, kind+" "+m.VideoID)
		o.mu.Unlock()
	})
	return nil
}

func (o *fakeOutbox) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.events)
}

// fakeSeeder "fetches" by writing the file's size in zeros.
type fakeSeeder struct{ sizes map[string]int64 }

func (s *fakeSeeder) Fetch(_ context.Context, tb []byte, part string, _ []string) error {
	return os.WriteFile(part, make([]byte, s.sizes[string(tb)]), 0o600)
}
func (s *fakeSeeder) FetchProgress([20]byte) (int64, bool)    { return 0, false }
func (s *fakeSeeder) Register([20]byte, string, string) error { return nil }
func (s *fakeSeeder) Touch([20]byte)                          {}
func (s *fakeSeeder) Remove([20]byte) error                   { return nil }

type fixture struct {
	m   *Manager
	cat *fakeCatalog
	out *fakeOutbox
	now *time.Time
	dir string
	sd  *fakeSeeder
	// scores records the friends penalized (Config.Penalize).
	scores *fakeScores
}

func newFixture(t *testing.T, strategy string, maxBytes int64) *fixture {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	f := &fixture{cat: &fakeCatalog{vs: map[string]api.Video{}}, out: &fakeOutbox{}, now: &now, dir: t.TempDir(),
		sd: &fakeSeeder{sizes: map[string]int64{}}, scores: &fakeScores{}}
	f.m, err = New(Config{SelfURL: "http://self.example", Dir: f.dir, MaxBytes: maxBytes, Strategy: strategy,
		HTTPClient:  federation.NewClient(true), // the test's servers are on loopback
		MinLifetime: 24 * time.Hour, Now: func() time.Time { return *f.now }, Penalize: f.scores.Penalize},
		st, f.cat, f.out, f.sd, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// add publishes a friend's video of size bytes and views views.
func (f *fixture) add(t *testing.T, id string, size, views int64) {
	t.Helper()
	id = (id + strings.Repeat("a", 16))[:16]
	ih := fmt.Sprintf("%040x", len(f.cat.vs)+1)
	tb := "torrent-" + ih
	f.sd.sizes[tb] = size
	if err := os.WriteFile(filepath.Join(f.dir, ih+".torrent"), []byte(tb), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cat.mu.Lock()
	f.cat.vs[id] = api.Video{ID: id, Name: id, Size: size, Views: views, InfoHash: ih, Pod: origin, State: api.StatePublished,
		TorrentURL: origin + "/api/v1/videos/" + id + "/torrent", WebseedURL: origin + "/static/webseed/" + id + ".mp4",
		CreatedAt: *f.now}
	f.cat.mu.Unlock()
}

// held returns the ids of held mirrors, sorted.
func (f *fixture) held(t *testing.T) []string {
	t.Helper()
	st, err := f.m.Status()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var used int64
	for _, mi := range st.Data {
		used += mi.Size
		if mi.State == StateHeld {
			out = append(out, mi.VideoID[:1])
		}
	}
	if used > f.m.cfg.MaxBytes {
		t.Fatalf("%d bytes mirrored, over the budget of %d", used, f.m.cfg.MaxBytes)
	}
	slices.Sort(out)
	return out
}

func (f *fixture) onDisk(t *testing.T) int64 {
	var n int64
	entries, _ := os.ReadDir(f.dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".mp4") {
			info, _ := e.Info()
			n += info.Size()
		}
	}
	return n
}

// TestBudgetEviction: the budget holds on disk; a more useful video
// evicts the least useful mirror, but only once that mirror has been held
// for its minimum lifetime; a video its origin removes goes at once.
func TestBudgetEviction(t *testing.T) {
	f := newFixture(t, StrategyMostViewed, 250)
	f.add(t, "a", 100, 10)
	f.add(t, "b", 100, 5)
	f.add(t, "c", 100, 1)
	ctx := context.Background()
	f.m.pass(ctx)
	f.m.pass(ctx) // fetches
	if got := f.held(t); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("held %v, want the two most viewed that fit: a, b", got)
	}
	if n := f.onDisk(t); n != 200 {
		t.Fatalf("%d bytes on disk, want 200", n)
	}

	// A more viewed video arrives: nothing is old enough to make room.
	f.add(t, "d", 100, 20)
	*f.now = f.now.Add(23 * time.Hour)
	f.m.pass(ctx)
	if got := f.held(t); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("held %v before the minimum lifetime, want a, b kept", got)
	}
	// Past it, the least useful (b, 5 views; not a, 10) makes room for d.
	*f.now = f.now.Add(2 * time.Hour)
	f.m.pass(ctx)
	f.m.pass(ctx)
	if got := f.held(t); !slices.Equal(got, []string{"a", "d"}) {
		t.Fatalf("held %v, want b evicted for d: a, d", got)
	}
	testenv.Eventually(t, 5*time.Second, "b's file to go", func() bool { return f.onDisk(t) == 200 })

	// d's origin removes it the same day: it goes now, with an unmirror.
	f.cat.mu.Lock()
	delete(f.cat.vs, "d"+strings.Repeat("a", 15))
	f.cat.mu.Unlock()
	if err := f.m.st.Update(func(tx *bolt.Tx) error {
		return f.m.OriginRemovedTx(tx, origin, "d"+strings.Repeat("a", 15))
	}); err != nil {
		t.Fatal(err)
	}
	if got := f.held(t); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("held %v after d's removal at its origin, want a", got)
	}
	ev := f.out.all()
	want := []string{"mirror a", "mirror b", "unmirror b", "mirror d", "unmirror d"}
	for i := range ev {
		ev[i] = ev[i][:len(ev[i])-15]
	}
	if !slices.Equal(ev, want) {
		t.Fatalf("events %v, want %v", ev, want)
	}
}

// TestManualBudget: an admin's pick that cannot fit is refused (507), a
// younger mirror is never evicted for it, and an unpicked mirror goes
// only after its minimum lifetime.
func TestManualBudget(t *testing.T) {
	f := newFixture(t, StrategyManual, 150)
	f.add(t, "a", 100, 0)
	f.add(t, "b", 100, 50)
	ctx := context.Background()
	f.m.pass(ctx)
	if got := f.held(t); len(got) != 0 {
		t.Fatalf("manual strategy mirrored %v unasked", got)
	}
	if _, err := f.m.Pick("a" + strings.Repeat("a", 15)); err != nil {
		t.Fatal(err)
	}
	f.m.pass(ctx)
	if _, err := f.m.Pick("b" + strings.Repeat("a", 15)); err != errNoRoom {
		t.Fatalf("pick over budget: %v, want %v", err, errNoRoom)
	}
	if err := f.m.Unpick("a" + strings.Repeat("a", 15)); err != nil {
		t.Fatal(err)
	}
	f.m.pass(ctx)
	if got := f.held(t); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("held %v: an unpicked mirror went before its minimum lifetime", got)
	}
	*f.now = f.now.Add(25 * time.Hour)
	f.m.pass(ctx)
	if got := f.held(t); len(got) != 0 {
		t.Fatalf("held %v past the minimum lifetime of an unpicked mirror", got)
	}
	if _, err := f.m.Pick("b" + strings.Repeat("a", 15)); err != nil {
		t.Fatalf("pick once room was made: %v", err)
	}
}

// addFiles publishes a friend's video with files of sizes, best first:
// the best file, then 720p, 480p, 360p..., each with its own torrent. A
// video published already keeps its best file and gets the lower ones
// (as its origin makes them).
func (f *fixture) addFiles(t *testing.T, id string, views int64, sizes ...int64) api.Video {
	t.Helper()
	if _, err := f.cat.Get((id + strings.Repeat("a", 16))[:16]); err != nil {
		f.add(t, id, sizes[0], views)
	}
	id = (id + strings.Repeat("a", 16))[:16]
	f.cat.mu.Lock()
	defer f.cat.mu.Unlock()
	v := f.cat.vs[id]
	v.Files = []api.VideoFile{api.BestFile(v)}
	for i, size := range sizes[1:] {
		res := []int{720, 480, 360, 240}[i]
		ih := fmt.Sprintf("%032x%04d%04d", int(id[0])*100+len(f.cat.vs), i, res)
		tb := "torrent-" + ih
		f.sd.sizes[tb] = size
		if err := os.WriteFile(filepath.Join(f.dir, ih+".torrent"), []byte(tb), 0o600); err != nil {
			t.Fatal(err)
		}
		v.Files = append(v.Files, api.VideoFile{Resolution: res, Size: size, InfoHash: ih,
			TorrentURL: v.TorrentURL + fmt.Sprintf("?resolution=%d", res), WebseedURL: origin + "/static/webseed/" + id + fmt.Sprintf("-%dp.mp4", res)})
	}
	f.cat.vs[id] = v
	return v
}

// servable lists the web seed file names of v this pod serves, by
// resolution (0 for the best file), and checks each is on disk with its
// .torrent served.
func (f *fixture) servable(t *testing.T, m *Manager, v api.Video) []int {
	t.Helper()
	var out []int
	for i, file := range v.Files {
		p, ok := m.ResolveWebseed(file.InfoHash + ".mp4")
		if !ok {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%dp served from %s: %v", file.Resolution, p, err)
		}
		ih := file.InfoHash
		if i == 0 {
			ih = ""
		}
		if _, ok := m.Torrent(v.ID, ih); !ok {
			t.Fatalf("%dp served by the web seed but its .torrent is not", file.Resolution)
		}
		out = append(out, file.Resolution)
	}
	return out
}

// announced returns the info hashes of the lower files this pod's
// mirror of id lists (what its last mirror event said).
func (f *fixture) announced(t *testing.T, id string) []string {
	t.Helper()
	v, _ := f.cat.Get(id)
	var out []string
	for _, mi := range v.Mirrors {
		if mi.Pod != f.m.cfg.SelfURL {
			continue
		}
		for _, file := range mi.Files {
			if file.WebseedURL != f.m.cfg.SelfURL+"/static/webseed/"+file.InfoHash+".mp4" ||
				!strings.HasPrefix(file.TorrentURL, f.m.cfg.SelfURL+"/api/v1/videos/"+id+"/torrent?resolution=") {
				t.Errorf("announced %+v", file)
			}
			out = append(out, file.InfoHash)
		}
	}
	return out
}

// TestLowerResolutions: a mirror holds every resolution of its video
// that fits the budget, best first, fetched, seeded and served (web seed
// and .torrent) and announced, across a restart; a new video's best file takes the
// room of lower resolutions first (any mirror's, lowest first), even of
// a mirror younger than its minimum lifetime, whose best file stays.
func TestLowerResolutions(t *testing.T) {
	f := newFixture(t, StrategyMostViewed, 350)
	a := f.addFiles(t, "a", 10, 100, 80, 60, 40)
	ctx := context.Background()
	f.m.pass(ctx)
	if got := f.servable(t, f.m, a); !slices.Equal(got, []int{0, 720, 480, 360}) {
		t.Fatalf("serves resolutions %v of a, want all: [0 720 480 360]", got)
	}
	if n := f.onDisk(t); n != 280 {
		t.Fatalf("%d bytes on disk, want 280", n)
	}
	if got := f.announced(t, a.ID); !slices.Equal(got, []string{a.Files[1].InfoHash, a.Files[2].InfoHash, a.Files[3].InfoHash}) {
		t.Fatalf("announced lower files %v, want a's three", got)
	}
	if st, _ := f.m.Status(); st.UsedBytes != 280 || len(st.Data) != 1 || st.Data[0].Missing != 0 || len(st.Data[0].Lower) != 3 {
		t.Fatalf("status %+v, want 280 bytes used, one mirror with 3 lower resolutions, nothing missing", st)
	}

	// b (less viewed) fits once a's 360p goes; its own 480p does not.
	b := f.addFiles(t, "b", 5, 100, 50)
	f.m.pass(ctx)
	f.m.pass(ctx)
	if got := f.held(t); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("held %v, want a and b", got)
	}
	if got := f.servable(t, f.m, a); !slices.Equal(got, []int{0, 720, 480}) {
		t.Fatalf("serves %v of a, want its 360p evicted for b: [0 720 480]", got)
	}
	if got := f.servable(t, f.m, b); !slices.Equal(got, []int{0}) {
		t.Fatalf("serves %v of b, want its best file only: [0]", got)
	}
	testenv.Eventually(t, 5*time.Second, "a's 360p file to go", func() bool { return f.onDisk(t) == 340 })
	if got := f.announced(t, a.ID); !slices.Equal(got, []string{a.Files[1].InfoHash, a.Files[2].InfoHash}) {
		t.Fatalf("announced lower files %v after the 360p went, want a's 720p and 480p", got)
	}

	// After a restart the same files are served.
	m2, err := New(f.m.cfg, f.m.st, f.cat, f.out, f.sd, f.m.log, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.servable(t, m2, a); !slices.Equal(got, []int{0, 720, 480}) {
		t.Fatalf("after a restart serves %v of a, want [0 720 480]", got)
	}
}

// TestManualLowerResolutions: under manual, a picked mirror takes the
// lower resolutions its origin makes later; an unpicked one, waiting out
// its minimum lifetime, takes none.
func TestManualLowerResolutions(t *testing.T) {
	f := newFixture(t, StrategyManual, 1000)
	a := f.addFiles(t, "a", 0, 100)
	b := f.addFiles(t, "b", 0, 100)
	ctx := context.Background()
	for _, id := range []string{a.ID, b.ID} {
		if _, err := f.m.Pick(id); err != nil {
			t.Fatal(err)
		}
	}
	f.m.pass(ctx)
	if err := f.m.Unpick(b.ID); err != nil {
		t.Fatal(err)
	}
	// The origin makes a 720p of each.
	a = f.addFiles(t, "a", 0, 100, 50)
	b = f.addFiles(t, "b", 0, 100, 50)
	f.m.pass(ctx)
	if got := f.servable(t, f.m, a); !slices.Equal(got, []int{0, 720}) {
		t.Fatalf("serves %v of the picked a, want [0 720]", got)
	}
	if got := f.servable(t, f.m, b); !slices.Equal(got, []int{0}) {
		t.Fatalf("serves %v of the unpicked b, want its best file only: [0]", got)
	}
}
