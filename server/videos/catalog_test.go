package videos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

const friend = "http://friend.test:9002"

// remoteVideo builds a valid video as the friend pod would send it.
func remoteVideo(name, description string, created time.Time) api.Video {
	var ih [20]byte
	_, _ = rand.Read(ih[:])
	id := newVideoID()
	return api.Video{
		ID: id, Name: name, Description: description, Size: 1234,
		InfoHash:   hex.EncodeToString(ih[:]),
		Magnet:     torrentfile.Magnet(ih, "x.mp4", 1234, []string{"ws://friend.test:9002/tracker/socket"}, nil),
		TorrentURL: friend + "/api/v1/videos/" + id + "/torrent",
		WebseedURL: friend + "/static/webseed/" + id + ".mp4",
		Pod:        friend, CreatedAt: created, Owner: "dave", ContentType: "video/mp4", PieceLength: 256 << 10, Local: true,
	}
}

func (p *pod) putRemote(origin string, vs ...api.Video) error {
	return p.st.Update(func(tx *bolt.Tx) error {
		for _, v := range vs {
			if err := p.svc.PutRemoteTx(tx, origin, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (p *pod) search(q string, extra string) (int, api.VideoList) {
	p.t.Helper()
	var out api.VideoList
	s := p.getJSON("", "/api/v1/videos/search?q="+url.QueryEscape(q)+extra, &out)
	return s, out
}

func names(l api.VideoList) string {
	var n []string
	for _, v := range l.Data {
		n = append(n, v.Name)
	}
	return strings.Join(n, "|")
}

func TestListingAndPaging(t *testing.T) {
	p := newPod(t)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var vs []api.Video
	for i := range 25 {
		vs = append(vs, remoteVideo(fmt.Sprintf("video %02d", i), "", base.Add(time.Duration(i)*time.Hour)))
	}
	if err := p.putRemote(friend, vs...); err != nil {
		t.Fatal(err)
	}
	var l api.VideoList
	if s := p.getJSON("", "/api/v1/videos", &l); s != 200 || l.Total != 25 || len(l.Data) != 20 || l.Data[0].Name != "video 24" || l.Data[19].Name != "video 05" {
		t.Fatalf("default page: %d total=%d %s", s, l.Total, names(l))
	}
	if s := p.getJSON("", "/api/v1/videos?start=20&count=10", &l); s != 200 || len(l.Data) != 5 || l.Data[4].Name != "video 00" {
		t.Fatalf("last page: %d %s", s, names(l))
	}
	if s := p.getJSON("", "/api/v1/videos?start=100", &l); s != 200 || len(l.Data) != 0 || l.Total != 25 {
		t.Fatalf("past the end: %d %+v", s, l)
	}
	v := l
	_ = v
	for _, q := range []string{"start=-1", "count=0", "count=101", "count=x", "start=1e3", "start=1&start=2", "start=99999999999999999999"} {
		resp, _ := p.do("", "GET", "/api/v1/videos?"+q, nil, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", q, resp.StatusCode)
		}
		resp, _ = p.do("", "GET", "/api/v1/videos/search?q=a&"+q, nil, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("search %s: %d", q, resp.StatusCode)
		}
	}
	// A friend's video: its own id space, origin URLs, torrent redirect.
	var got api.Video
	id := remoteKey(friend, vs[3].ID)
	if s := p.getJSON("", "/api/v1/videos/"+id, &got); s != 200 || got.Local || got.Pod != friend || got.Name != "video 03" {
		t.Fatalf("remote get: %d %+v", s, got)
	}
	resp, _ := p.do("", "GET", "/api/v1/videos/"+id+"/torrent", nil, nil)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != vs[3].TorrentURL {
		t.Fatalf("remote torrent: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, want := range map[string]int{
		"/api/v1/videos/NOTANID":                               400,
		"/api/v1/videos/aaaaaaaaaaaaaaaa":                      404,
		"/api/v1/videos/raaaaaaaaaaaaaaaa":                     404,
		"/api/v1/videos/aaaaaaaaaaaaaaaa/torrent":              404,
		"/api/v1/videos/" + id + "/other":                      404,
		"/api/v1/videos/..%2f..%2fpod.db/torrent":              400,
		"/api/v1/videos/search":                                400,
		"/api/v1/videos/search?q=" + strings.Repeat("a", 1001): 400,
	} {
		if resp, _ := p.do("", "GET", path, nil, nil); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestSearch(t *testing.T) {
	p := newPod(t)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	if err := p.putRemote(friend,
		remoteVideo("Crème Brûlée at the Café", "A French dessert", at(1)),
		remoteVideo("CAFE RACER build", "motorbike restoration", at(2)),
		remoteVideo("Garden tour", "we stop at a café for crème", at(3)),
		remoteVideo("Ølbryggeri i Køben­havn", "Brewing beer", at(4)),
		remoteVideo("東京の夜 Tokyo night", "ネオン", at(5)),
		remoteVideo("cafeteria reviews", "", at(6)),
		remoteVideo("Straße und Weg", "", at(7)),
	); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ q, want string }{
		// accents and case both ways
		{"cafe", "cafeteria reviews|CAFE RACER build|Crème Brûlée at the Café|Garden tour"},
		{"CAFÉ", "cafeteria reviews|CAFE RACER build|Crème Brûlée at the Café|Garden tour"},
		{"creme", "Crème Brûlée at the Café|Garden tour"},
		// prefixes of words
		{"brul", "Crème Brûlée at the Café"},
		{"caf rac", "CAFE RACER build|cafeteria reviews|Crème Brûlée at the Café|Garden tour"},
		// terms found in the name rank first, then terms found anywhere
		{"creme cafe", "Crème Brûlée at the Café|cafeteria reviews|CAFE RACER build|Garden tour"},
		{"restor", "CAFE RACER build"},
		{"東京", "東京の夜 Tokyo night"},
		{"ネオン", "東京の夜 Tokyo night"},
		{"strasse", "Straße und Weg"}, // ß has no decomposition: textfold spells it ss
		{"straße", "Straße und Weg"},
		{"!!!", ""},
		{"a", "Garden tour|Crème Brûlée at the Café"}, // one letter: whole words only
		{"zzz", ""},
	}
	for _, tc := range cases {
		s, l := p.search(tc.q, "")
		if s != 200 || names(l) != tc.want || l.Total != len(l.Data) {
			t.Errorf("search %q: %d total=%d\n got  %s\n want %s", tc.q, s, l.Total, names(l), tc.want)
		}
	}
	s, l := p.search("cafe", "&start=1&count=2")
	if s != 200 || l.Total != 4 || names(l) != "CAFE RACER build|Crème Brûlée at the Café" {
		t.Fatalf("paged search: %d %d %s", s, l.Total, names(l))
	}
}

func TestRemove(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t)
	_, v, code := p.upload("alice", "to be removed", "unique words zebra", fast)
	if v.ID == "" {
		t.Fatal(code)
	}
	var ih [20]byte
	hex.Decode(ih[:], []byte(v.InfoHash))
	for user, want := range map[string]int{"": 401, "bob": 403, "carol": 403} {
		if resp, _ := p.do(user, "DELETE", "/api/v1/videos/"+v.ID, nil, nil); resp.StatusCode != want {
			t.Fatalf("%q delete: %d, want %d", user, resp.StatusCode, want)
		}
	}
	if resp, _ := p.do("alice", "DELETE", "/api/v1/videos/"+v.ID, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("owner delete: %d", resp.StatusCode)
	}
	if resp, _ := p.do("", "GET", "/api/v1/videos/"+v.ID, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("get after delete: %d", resp.StatusCode)
	}
	if _, l := p.search("zebra", ""); l.Total != 0 {
		t.Fatalf("still found: %+v", l)
	}
	if p.svc.Known(ih) {
		t.Fatal("still known to the tracker")
	}
	if _, ok := p.seeder.path(ih); ok || len(p.seeder.removed) != 1 || p.seeder.removed[0] != ih {
		t.Fatal("seeding not stopped")
	}
	if f := append(p.files("videos"), p.files("torrents")...); len(f) != 0 {
		t.Fatalf("files left: %v", f)
	}
	if _, ok := p.svc.ResolveWebseed(v.ID + ".mp4"); ok {
		t.Fatal("web seed still serves it")
	}
	ev := p.outbox.all()
	if len(ev) != 2 || ev[1].kind != fedproto.EventRemove || ev[1].v.ID != v.ID {
		t.Fatalf("outbox: %+v", ev)
	}
	if resp, _ := p.do("alice", "DELETE", "/api/v1/videos/"+v.ID, nil, nil); resp.StatusCode != 404 {
		t.Fatalf("second delete: %d", resp.StatusCode)
	}

	// An admin may remove anyone's video; nobody removes a friend's video here.
	_, v2, _ := p.upload("bob", "bob's clip", "", fast)
	if resp, _ := p.do("admin", "DELETE", "/api/v1/videos/"+v2.ID, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("admin delete: %d", resp.StatusCode)
	}
	rv := remoteVideo("friend's", "", time.Now())
	if err := p.putRemote(friend, rv); err != nil {
		t.Fatal(err)
	}
	if resp, _ := p.do("admin", "DELETE", "/api/v1/videos/"+remoteKey(friend, rv.ID), nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("remote delete: %d", resp.StatusCode)
	}
	var l api.VideoList
	if p.getJSON("", "/api/v1/videos", &l); l.Total != 1 {
		t.Fatalf("total %d", l.Total)
	}
}

func TestUpdate(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t)
	_, v, _ := p.upload("alice", "old title", "old words", fast)
	resp, _ := p.do("bob", "PATCH", "/api/v1/videos/"+v.ID, strings.NewReader(`{"name":"hijack"}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("bob update: %d", resp.StatusCode)
	}
	resp, _ = p.do("alice", "PATCH", "/api/v1/videos/"+v.ID, strings.NewReader(`{"name":"new title","description":"fresh words"}`), map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	if _, l := p.search("old", ""); l.Total != 0 {
		t.Fatalf("old words still indexed: %s", names(l))
	}
	if _, l := p.search("fresh new", ""); l.Total != 1 || l.Data[0].Name != "new title" || l.Data[0].InfoHash != v.InfoHash {
		t.Fatalf("new words not indexed: %+v", l)
	}
	if ev := p.outbox.all(); len(ev) != 2 || ev[1].kind != fedproto.EventUpdate || ev[1].v.Name != "new title" {
		t.Fatalf("outbox %+v", ev)
	}
}

func TestRemoteVideos(t *testing.T) {
	p := newPod(t)
	good := remoteVideo("Friend clip", "from afar", time.Now().Add(-time.Hour))
	var ih [20]byte
	hex.Decode(ih[:], []byte(good.InfoHash))

	mutate := func(f func(v *api.Video)) api.Video { v := good; f(&v); return v }
	bad := map[string]api.Video{
		"bad id":              mutate(func(v *api.Video) { v.ID = "../../x" }),
		"remote-style id":     mutate(func(v *api.Video) { v.ID = "r" + v.ID }),
		"control in name":     mutate(func(v *api.Video) { v.Name = "a\nb" }),
		"no name":             mutate(func(v *api.Video) { v.Name = "" }),
		"bad hash":            mutate(func(v *api.Video) { v.InfoHash = "xyz" }),
		"magnet mismatch":     mutate(func(v *api.Video) { v.Magnet = torrentfile.Magnet([20]byte{9}, "x", 1, nil, nil) }),
		"torrent elsewhere":   mutate(func(v *api.Video) { v.TorrentURL = "http://evil.test/x.torrent" }),
		"webseed prefix":      mutate(func(v *api.Video) { v.WebseedURL = friend + ".evil.test/x" }),
		"javascript url":      mutate(func(v *api.Video) { v.TorrentURL = "javascript:alert(1)" }),
		"negative size":       mutate(func(v *api.Video) { v.Size = -1 }),
		"no owner":            mutate(func(v *api.Video) { v.Owner = "" }),
		"bad content type":    mutate(func(v *api.Video) { v.ContentType = "text/html" }),
		"bad piece length":    mutate(func(v *api.Video) { v.PieceLength = 1000 }),
		"processing":          mutate(func(v *api.Video) { v.State = api.StateProcessing }),
		"unknown state":       mutate(func(v *api.Video) { v.State = "<b>" }),
		"negative duration":   mutate(func(v *api.Video) { v.Duration = -1 }),
		"NaN duration":        mutate(func(v *api.Video) { v.Duration = math.NaN() }),
		"huge width":          mutate(func(v *api.Video) { v.Width = 1 << 30 }),
		"thumbnail elsewhere": mutate(func(v *api.Video) { v.ThumbnailURL = "http://evil.test/pixel.jpg" }),
		"preview script":      mutate(func(v *api.Video) { v.PreviewURL = "javascript:alert(1)" }),
		"storyboard prefix":   mutate(func(v *api.Video) { v.StoryboardURL = friend + ".evil.test/s.json" }),
	}
	for name, v := range bad {
		if err := p.putRemote(friend, v); !errors.Is(err, fedproto.ErrInvalid) {
			t.Errorf("%s: accepted or wrong error: %v", name, err)
		}
	}
	for _, origin := range []string{"ftp://x", "http://", "http://x/path", p.srv.URL} {
		if err := p.putRemote(origin, good); !errors.Is(err, fedproto.ErrInvalid) {
			t.Errorf("origin %q: %v", origin, err)
		}
	}
	if p.svc.Known(ih) {
		t.Fatal("known after refused puts")
	}

	// A failed transaction leaves Known untouched.
	boom := errors.New("boom")
	if err := p.st.Update(func(tx *bolt.Tx) error {
		if err := p.svc.PutRemoteTx(tx, friend, good); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) || p.svc.Known(ih) {
		t.Fatalf("rolled back put: %v known=%v", err, p.svc.Known(ih))
	}

	future := good
	future.CreatedAt = time.Now().Add(1000 * time.Hour)
	if err := p.putRemote(friend+"/", future); err != nil {
		t.Fatal(err)
	}
	if !p.svc.Known(ih) {
		t.Fatal("not known after commit")
	}
	got, err := p.svc.Get(remoteKey(friend, good.ID))
	if err != nil || got.CreatedAt.After(time.Now()) || got.Local || got.Pod != friend {
		t.Fatalf("stored %+v %v", got, err)
	}
	// Re-sending updates in place (idempotent), with the new text indexed;
	// images made later at the origin travel with it.
	upd := good
	upd.Name = "Renamed clip"
	upd.ThumbnailURL = friend + ImagesPath + good.ID + "-thumb-0123456789abcdef.jpg"
	if err := p.putRemote(friend, upd, upd); err != nil {
		t.Fatal(err)
	}
	if _, l := p.search("renamed", ""); l.Total != 1 {
		t.Fatalf("update not indexed: %+v", l)
	}
	if _, l := p.search("friend", ""); l.Total != 0 {
		t.Fatalf("old name still indexed: %+v", l)
	}
	var all api.VideoList
	if p.getJSON("", "/api/v1/videos", &all); all.Total != 1 || all.Data[0].ThumbnailURL != upd.ThumbnailURL {
		t.Fatalf("total %d after re-sends: %+v", all.Total, all.Data)
	}
	// Another pod's video with the same origin id is a different video.
	other := good
	other.TorrentURL = "http://other.test/api/v1/videos/" + good.ID + "/torrent"
	other.WebseedURL = "http://other.test/static/webseed/" + good.ID + ".mp4"
	if err := p.putRemote("http://other.test", other); err != nil {
		t.Fatal(err)
	}
	if remoteKey(friend, good.ID) == remoteKey("http://other.test", good.ID) {
		t.Fatal("remote keys collide")
	}
	locals, err := p.svc.LocalVideos()
	if err != nil || len(locals) != 0 {
		t.Fatalf("local videos: %v %v", locals, err)
	}

	if err := p.st.Update(func(tx *bolt.Tx) error { return p.svc.RemoveRemoteTx(tx, friend, good.ID) }); err != nil {
		t.Fatal(err)
	}
	if err := p.st.Update(func(tx *bolt.Tx) error { return p.svc.RemoveRemoteTx(tx, friend, good.ID) }); err != nil {
		t.Fatalf("replayed remove: %v", err)
	}
	if !p.svc.Known(ih) { // the other pod still has it
		t.Fatal("hash forgotten while another pod's video has it")
	}
	for range 3 {
		if err := p.putRemote(friend, remoteVideo("more", "", time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.st.Update(func(tx *bolt.Tx) error { return p.svc.DropPodTx(tx, "http://other.test") }); err != nil {
		t.Fatal(err)
	}
	if p.svc.Known(ih) {
		t.Fatal("known after the pod was dropped")
	}
	if p.getJSON("", "/api/v1/videos", &all); all.Total != 3 {
		t.Fatalf("after drop: %d", all.Total)
	}
	if err := p.st.Update(func(tx *bolt.Tx) error { return p.svc.DropPodTx(tx, friend) }); err != nil {
		t.Fatal(err)
	}
	if p.getJSON("", "/api/v1/videos", &all); all.Total != 0 {
		t.Fatalf("after second drop: %d", all.Total)
	}
	if _, l := p.search("more", ""); l.Total != 0 {
		t.Fatal("dropped videos still searchable")
	}
}

// TestOutboxFailureRollsBack: the video and its federation event commit
// together, so an outbox failure leaves no video and no file.
func TestOutboxFailureRollsBack(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t)
	p.outbox.fail = errors.New("outbox full")
	if status, _, _ := p.upload("alice", "doomed", "", fast); status != http.StatusInternalServerError {
		t.Fatalf("status %d", status)
	}
	var l api.VideoList
	if p.getJSON("", "/api/v1/videos", &l); l.Total != 0 {
		t.Fatalf("listed: %+v", l)
	}
	if f := append(p.files("videos"), p.files("torrents")...); len(f) != 0 {
		t.Fatalf("files left: %v", f)
	}
	if len(p.svc.known) != 0 {
		t.Fatal("known set changed")
	}
}

// TestRestartSeedsAndCleans restarts the service on the same data: every
// local video is seeded again from its stored torrent, and files a crash
// left behind are removed while committed ones stay.
func TestRestartSeedsAndCleans(t *testing.T) {
	fast, slow := clips(t)
	p := newPod(t)
	_, v1, _ := p.upload("alice", "one", "", fast)
	_, v2, _ := p.upload("alice", "two", "", slow)
	if err := p.putRemote(friend, remoteVideo("remote", "", time.Now())); err != nil {
		t.Fatal(err)
	}
	p.close()

	// What a crash between rename and commit, or an abandoned upload, leaves.
	old := time.Now().Add(-48 * time.Hour)
	orphans := []string{
		filepath.Join(p.dir, "videos", ".tmp-aaaaaaaaaaaaaaaa.mp4"),
		filepath.Join(p.dir, "videos", "bbbbbbbbbbbbbbbb.mp4"),
		filepath.Join(p.dir, "torrents", "bbbbbbbbbbbbbbbb.torrent"),
		filepath.Join(p.dir, "uploads", strings.Repeat("c", uploadIDLen)),
		filepath.Join(p.dir, "uploads", strings.Repeat("c", uploadIDLen)+".info"),
	}
	for _, o := range orphans {
		if err := os.WriteFile(o, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(o, old, old)
	}
	fresh := filepath.Join(p.dir, "uploads", strings.Repeat("d", uploadIDLen))
	os.WriteFile(fresh, []byte("x"), 0o600)

	seeder := &fakeSeeder{}
	p.open(seeder)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.svc.Run(ctx) }()
	testenv.Eventually(t, 10*time.Second, "two videos seeded and the orphan removed after restart", func() bool {
		_, err0 := os.Stat(orphans[0])
		seeder.mu.Lock()
		n := len(seeder.seeded)
		seeder.mu.Unlock()
		return n == 2 && errors.Is(err0, os.ErrNotExist)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, v := range []api.Video{v1, v2} {
		var ih [20]byte
		hex.Decode(ih[:], []byte(v.InfoHash))
		path, ok := seeder.path(ih)
		if !ok || path != filepath.Join(p.dir, "videos", v.ID+".mp4") {
			t.Fatalf("%s not seeded from its file: %q", v.ID, path)
		}
		if !p.svc.Known(ih) {
			t.Fatal("not known after restart")
		}
	}
	for _, o := range orphans {
		if _, err := os.Stat(o); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("orphan %s survived", o)
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a recent upload was removed: %v", err)
	}
	if got := p.files("videos"); len(got) != 2 {
		t.Fatalf("videos/: %v", got)
	}
}

func FuzzWords(f *testing.F) {
	for _, s := range []string{"Crème Brûlée", "ÉLAN vital", "東京の夜", "a\u0301b", "İstanbul", strings.Repeat("x", 100), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ws := words(s, maxVideoTokens)
		seen := map[string]bool{}
		for _, w := range ws {
			if w == "" || len(w) > maxTermBytes || strings.ContainsRune(w, 0) || seen[w] {
				t.Fatalf("bad word %q in %q", w, ws)
			}
			seen[w] = true
			if again := words(w, 2); len(again) != 1 || again[0] != w {
				t.Fatalf("word %q is not stable: %q", w, again)
			}
		}
	})
}
