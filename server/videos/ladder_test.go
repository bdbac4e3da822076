package videos

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

func TestRungsBelow(t *testing.T) {
	for _, tc := range []struct {
		short int
		want  []int
	}{
		{1080, []int{720, 480, 360, 240}},
		{720, []int{480, 360, 240}},
		{481, []int{480, 360, 240}},
		{240, nil},
		{120, nil},
		{2160, []int{1080, 720, 480, 360, 240}},
	} {
		if got := rungsBelow(DefaultLadder, tc.short); !slices.Equal(got, tc.want) {
			t.Errorf("rungsBelow(%d) = %v, want %v", tc.short, got, tc.want)
		}
	}
	if got := rungsBelow([]int{240, 720, 720, 0, -5}, 1080); !slices.Equal(got, []int{720, 240}) {
		t.Errorf("unsorted ladder: %v", got)
	}
}

// waitFiles polls the video until it has n files.
func (p *pod) waitFiles(id string, n int, timeout time.Duration) api.Video {
	p.t.Helper()
	var v api.Video
	testenv.Eventually(p.t, timeout, "the video's lower resolutions", func() bool {
		v = api.Video{}
		p.getJSON("", "/api/v1/videos/"+id, &v)
		return len(v.Files) >= n
	})
	return v
}

// TestLadderOfWebPlayable: a web-playable 720p upload is published at once
// with the info hash of its own bytes and a single file; 480p, 360p and
// 240p follow, each an upright H.264/AAC MP4 of even size with its own
// torrent (served by ?resolution=), web seed, tracker entry and seeding,
// and a federation update. Removing the video removes every file.
func TestLadderOfWebPlayable(t *testing.T) {
	_, clip := testenv.MakeClip(t, testenv.Clip{Seconds: 1, Width: 1280, Height: 720, Rate: 10, Audio: true, Faststart: true})
	p := newPod(t)
	status, v, code := p.upload("alice", "Ladder clip", "", clip)
	if status != http.StatusCreated || v.State != api.StatePublished {
		t.Fatalf("%d %s %+v", status, code, v)
	}
	// The original's info hash: the hash of the uploaded bytes as they are.
	size := int64(len(clip))
	info, err := torrentfile.HashReader(t.Context(), bytes.NewReader(clip), torrentfile.FileName("Ladder clip", "mp4"), size, torrentfile.PieceLength(size), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ih, _ := info.InfoHash(); hex.EncodeToString(ih[:]) != v.InfoHash {
		t.Fatalf("info hash %s is not the upload's own %x", v.InfoHash, ih)
	}
	if len(v.Files) != 1 || v.Files[0].Resolution != 720 || v.Files[0].InfoHash != v.InfoHash || v.Files[0].Width != 1280 {
		t.Fatalf("files at publication: %+v", v.Files)
	}
	p.run() // the workers start: the ladder follows
	v = p.waitFiles(v.ID, 4, 3*time.Minute)
	want := []struct{ res, w, h int }{{720, 1280, 720}, {480, 852, 480}, {360, 640, 360}, {240, 426, 240}}
	if len(v.Files) != len(want) {
		t.Fatalf("files: %+v", v.Files)
	}
	probe := ffmpeg.Find()
	for i, w := range want {
		f := v.Files[i]
		if f.Resolution != w.res || f.Width != w.w || f.Height != w.h || f.Size <= 0 || len(f.InfoHash) != 40 {
			t.Errorf("file %d: %+v, want %+v", i, f, w)
			continue
		}
		if i == 0 {
			if f.InfoHash != v.InfoHash || f.WebseedURL != v.WebseedURL || f.TorrentURL != v.TorrentURL {
				t.Errorf("files[0] is not the top-level file: %+v", f)
			}
			continue
		}
		path, ok := p.svc.ResolveWebseed(filepath.Base(f.WebseedURL))
		if !ok {
			t.Fatalf("%dp: no web seed for %s", w.res, f.WebseedURL)
		}
		pi, err := probe.Probe(t.Context(), path)
		if err != nil || !pi.WebPlayable("mp4") || pi.Audio == nil || pi.Video.Width != w.w || pi.Video.Height != w.h {
			t.Errorf("%dp: output %+v %+v %v", w.res, pi.Video, pi.Audio, err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() != f.Size {
			t.Errorf("%dp: size %v %v, listed %d", w.res, st, err, f.Size)
		}
		resp, tb := p.do("", "GET", strings.TrimPrefix(f.TorrentURL, p.srv.URL), nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%dp torrent: %d %s", w.res, resp.StatusCode, tb)
		}
		mi, ih, err := torrentfile.Parse(tb)
		if err != nil || hex.EncodeToString(ih[:]) != f.InfoHash || mi.Info.Length != f.Size ||
			!strings.HasSuffix(mi.Info.Name, "p.mp4") || len(mi.URLList) != 1 || mi.URLList[0] != f.WebseedURL {
			t.Errorf("%dp torrent %+v %x %v", w.res, mi, ih, err)
		}
		if m, err := torrentfile.ParseMagnet(f.Magnet); err != nil || m.InfoHash != ih {
			t.Errorf("%dp magnet %q", w.res, f.Magnet)
		}
		if !p.svc.Known(ih) {
			t.Errorf("%dp: the tracker would refuse its info hash", w.res)
		}
		if sp, ok := p.seeder.path(ih); !ok || sp != path {
			t.Errorf("%dp: not seeded (%q)", w.res, sp)
		}
	}
	if r, body := p.do("", "GET", "/api/v1/videos/"+v.ID+"/torrent?resolution=144", nil, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("a missing resolution: %d %s", r.StatusCode, body)
	}
	if r, body := p.do("", "GET", "/api/v1/videos/"+v.ID+"/torrent?resolution=x", nil, nil); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad resolution: %d %s", r.StatusCode, body)
	}
	// One "update" per rendition, the third with every file (images send
	// updates of their own).
	ev := p.outbox.all()
	withFiles, most := 0, 0
	for _, e := range ev[1:] {
		if e.kind == fedproto.EventUpdate && len(e.v.Files) > 1 {
			withFiles++
			most = max(most, len(e.v.Files))
		}
	}
	if ev[0].kind != fedproto.EventAdd || withFiles != 3 || most != 4 {
		t.Errorf("federation events: %d, %d with lower files", len(ev), withFiles)
	}
	// Listings carry the files too.
	var list api.VideoList
	p.getJSON("", "/api/v1/videos", &list)
	if len(list.Data) != 1 || len(list.Data[0].Files) != 4 {
		t.Errorf("list: %+v", list.Data)
	}

	// A restart reads the indexes, not the records: every file is known,
	// served and seeded again.
	p.close()
	p.seeder = &fakeSeeder{}
	p.open(p.seeder)
	p.run()
	for _, f := range v.Files {
		var ih [20]byte
		copy(ih[:], mustHex(t, f.InfoHash))
		if !p.svc.Known(ih) {
			t.Errorf("%dp unknown after a restart", f.Resolution)
		}
		if _, ok := p.svc.ResolveWebseed(filepath.Base(f.WebseedURL)); !ok {
			t.Errorf("%dp: no web seed after a restart", f.Resolution)
		}
		testenv.Eventually(t, 10*time.Second, "seeding after a restart", func() bool {
			_, ok := p.seeder.path(ih)
			return ok
		})
	}

	if r, _ := p.do("alice", "DELETE", "/api/v1/videos/"+v.ID, nil, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	for _, f := range v.Files {
		var ih [20]byte
		copy(ih[:], mustHex(t, f.InfoHash))
		if p.svc.Known(ih) {
			t.Errorf("%dp still known", f.Resolution)
		}
		if _, ok := p.seeder.path(ih); ok {
			t.Errorf("%dp still seeded", f.Resolution)
		}
	}
	if f := p.files("videos"); len(f) != 0 {
		t.Errorf("videos/ after delete: %v", f)
	}
	if f := p.files("torrents"); len(f) != 0 {
		t.Errorf("torrents/ after delete: %v", f)
	}
}

// TestLadderJobSurvivesRestart: a rendition job interrupted by a crash
// (its partial output left) runs again at the next start and adds its
// file; no partial file is ever listed or left.
func TestLadderJobSurvivesRestart(t *testing.T) {
	_, clip := testenv.MakeClip(t, testenv.Clip{Seconds: 1, Width: 640, Height: 360, Rate: 10, Audio: true, Faststart: true})
	p := newPod(t, withConfig(func(c *Config) { c.Ladder = []int{240} }))
	_, v, _ := p.upload("alice", "restarted ladder", "", clip) // no workers yet: queued
	p.close()
	partial := filepath.Join(p.dir, "videos", ".tmp-"+renditionFile(v.ID, 240))
	if err := os.WriteFile(partial, []byte("half an mp4"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.open(p.seeder)
	var got api.Video
	p.getJSON("", "/api/v1/videos/"+v.ID, &got)
	if len(got.Files) != 1 {
		t.Fatalf("a file before its job ran: %+v", got.Files)
	}
	p.run()
	got = p.waitFiles(v.ID, 2, time.Minute)
	if got.Files[1].Resolution != 240 || got.Files[1].Width != 426 {
		t.Fatalf("%+v", got.Files)
	}
	wantVideos := []string{renditionFile(v.ID, 240), v.ID + ".mp4"} // ReadDir's order
	if f := p.filesSettled("videos", 2); !slices.Equal(f, wantVideos) {
		t.Errorf("videos/: %v, want %v", f, wantVideos)
	}
	wantTorrents := []string{renditionTorrent(v.ID, 240), v.ID + ".torrent"}
	if f := p.files("torrents"); !slices.Equal(f, wantTorrents) {
		t.Errorf("torrents/: %v, want %v", f, wantTorrents)
	}
}

// TestLocalEntryLower: the start-up index entry keeps a video's lower
// resolutions (info hashes may hold zero bytes), and an entry from before
// the ladder has none.
func TestLocalEntryLower(t *testing.T) {
	var zero, ones [20]byte
	for i := range ones {
		ones[i] = 0xff
	}
	for _, lower := range [][]localRendition{nil, {{zero, 480}}, {{ones, 720}, {zero, 360}, {ones, 240}}} {
		e := localEntry{ones, 12345, 678, "alice", "abcdefghijklmnop.mp4", lower}
		got, err := parseLocalEntry(e.append(nil))
		if err != nil || got.file != e.file || got.owner != e.owner || got.size != e.size || !slices.Equal(got.lower, lower) {
			t.Errorf("%+v: got %+v, %v", e, got, err)
		}
	}
	if _, err := parseLocalEntry(append(localEntry{zero, 1, 2, "a", "f.mp4", nil}.append(nil), 0, 1, 2)); err == nil {
		t.Error("a truncated lower resolution parsed")
	}
}

// TestRemoteFiles: a friend's video carries its files (resolutions); each
// is checked as the top-level one is, the tracker knows every file's info
// hash once stored and forgets them when the friend removes the video,
// and a bad file refuses the whole video.
func TestRemoteFiles(t *testing.T) {
	p := newPod(t)
	good := remoteVideo("Friend ladder", "", time.Now().Add(-time.Hour))
	good.Width, good.Height = 1280, 720
	lower := func(res int) api.VideoFile {
		var ih [20]byte
		_, _ = rand.Read(ih[:])
		name := fmt.Sprintf("%s-%dp.mp4", good.ID, res)
		return api.VideoFile{Resolution: res, Width: res * 16 / 9, Height: res, Size: 999,
			InfoHash: hex.EncodeToString(ih[:]), Magnet: torrentfile.Magnet(ih, name, 999, nil, nil),
			TorrentURL: good.TorrentURL + fmt.Sprintf("?resolution=%d", res), WebseedURL: friend + "/static/webseed/" + name,
			ContentType: "video/mp4", PieceLength: 16 << 10}
	}
	good.Files = []api.VideoFile{api.BestFile(good), lower(480), lower(240)}
	mutate := func(f func(fs []api.VideoFile) []api.VideoFile) api.Video {
		v := good
		v.Files = f(slices.Clone(good.Files))
		return v
	}
	for name, v := range map[string]api.Video{
		"first is not the video": mutate(func(fs []api.VideoFile) []api.VideoFile { return fs[1:] }),
		"not decreasing":         mutate(func(fs []api.VideoFile) []api.VideoFile { fs[1], fs[2] = fs[2], fs[1]; return fs }),
		"same hash twice":        mutate(func(fs []api.VideoFile) []api.VideoFile { fs[2].InfoHash = fs[1].InfoHash; return fs }),
		"magnet of another":      mutate(func(fs []api.VideoFile) []api.VideoFile { fs[1].Magnet = fs[2].Magnet; return fs }),
		"web seed elsewhere":     mutate(func(fs []api.VideoFile) []api.VideoFile { fs[1].WebseedURL = "http://evil.test/x.mp4"; return fs }),
		"torrent elsewhere":      mutate(func(fs []api.VideoFile) []api.VideoFile { fs[2].TorrentURL = "javascript:alert(1)"; return fs }),
		"zero size":              mutate(func(fs []api.VideoFile) []api.VideoFile { fs[1].Size = 0; return fs }),
		"bad content type":       mutate(func(fs []api.VideoFile) []api.VideoFile { fs[1].ContentType = "text/html"; return fs }),
		"too many": mutate(func(fs []api.VideoFile) []api.VideoFile {
			for r := 200; len(fs) <= maxRemoteFiles; r -= 10 {
				fs = append(fs, lower(r))
			}
			return fs
		}),
	} {
		if err := p.putRemote(friend, v); !errors.Is(err, fedproto.ErrInvalid) {
			t.Errorf("%s: accepted or wrong error: %v", name, err)
		}
	}
	if err := p.putRemote(friend, good); err != nil {
		t.Fatal(err)
	}
	got, err := p.svc.Get(remoteKey(friend, good.ID))
	if err != nil || len(got.Files) != 3 || got.Files[1].Resolution != 480 || got.Files[0].InfoHash != good.InfoHash {
		t.Fatalf("stored %+v %v", got.Files, err)
	}
	hashes := func() [][20]byte {
		var out [][20]byte
		for _, f := range good.Files {
			var ih [20]byte
			copy(ih[:], mustHex(t, f.InfoHash))
			out = append(out, ih)
		}
		return out
	}()
	for _, ih := range hashes {
		if !p.svc.Known(ih) {
			t.Errorf("%x not known to the tracker", ih)
		}
	}
	// The torrent of a friend's lower file is its origin's.
	r, _ := p.do("", "GET", "/api/v1/videos/"+got.ID+"/torrent?resolution=240", nil, nil)
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != good.Files[2].TorrentURL {
		t.Errorf("friend's 240p torrent: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// A restart counts them from the indexes.
	p.close()
	p.open(p.seeder)
	for _, ih := range hashes {
		if !p.svc.Known(ih) {
			t.Errorf("%x not known after a restart", ih)
		}
	}
	if err := p.st.Update(func(tx *bolt.Tx) error { return p.svc.RemoveRemoteTx(tx, friend, good.ID) }); err != nil {
		t.Fatal(err)
	}
	for _, ih := range hashes {
		if p.svc.Known(ih) {
			t.Errorf("%x still known after removal", ih)
		}
	}
}

// TestRelocateMovesEveryFile: a pod restarted under another URL moves
// every file of its videos, lower resolutions included: torrents keep
// their info hashes and get the new trackers and web seed, and the video's
// files name the new URLs.
func TestRelocateMovesEveryFile(t *testing.T) {
	_, clip := testenv.MakeClip(t, testenv.Clip{Seconds: 1, Width: 640, Height: 360, Rate: 10, Faststart: true})
	newURL := ""
	p := newPod(t, withConfig(func(c *Config) {
		c.Ladder = []int{240}
		if newURL != "" {
			c.PodURL = newURL
		}
	}))
	_, v, _ := p.upload("alice", "moved", "", clip)
	p.run()
	v = p.waitFiles(v.ID, 2, time.Minute)
	p.close()
	newURL = "https://pod.example.org"
	p.open(p.seeder)
	got, err := p.svc.Get(v.ID)
	if err != nil || len(got.Files) != 2 {
		t.Fatalf("%+v %v", got.Files, err)
	}
	for i, f := range got.Files {
		if f.InfoHash != v.Files[i].InfoHash {
			t.Errorf("%dp: info hash changed", f.Resolution)
		}
		for _, u := range []string{f.TorrentURL, f.WebseedURL} {
			if !strings.HasPrefix(u, newURL+"/") {
				t.Errorf("%dp: %s is not under %s", f.Resolution, u, newURL)
			}
		}
		if m, err := torrentfile.ParseMagnet(f.Magnet); err != nil || len(m.WebSeeds) != 1 || m.WebSeeds[0] != f.WebseedURL {
			t.Errorf("%dp: magnet %s", f.Resolution, f.Magnet)
		}
		r, tb := p.do("", "GET", strings.TrimPrefix(f.TorrentURL, newURL), nil, nil)
		mi, ih, err := torrentfile.Parse(tb)
		if r.StatusCode != http.StatusOK || err != nil || hex.EncodeToString(ih[:]) != f.InfoHash ||
			!slices.Contains(mi.URLList, f.WebseedURL) || mi.AnnounceList[0][0] != "wss://pod.example.org/tracker/socket" {
			t.Errorf("%dp torrent: %d %+v %v", f.Resolution, r.StatusCode, mi, err)
		}
	}
}
