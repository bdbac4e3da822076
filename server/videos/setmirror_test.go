package videos

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/shared/torrentfile"
)

// setMirror is SetMirrorTx in a transaction of its own.
func (p *pod) setMirror(pod string, m fedproto.MirrorRef, add bool) (found bool, err error) {
	err = p.svc.st.Update(func(tx *bolt.Tx) error {
		found, err = p.svc.SetMirrorTx(tx, pod, m, add)
		return err
	})
	return found, err
}

// TestSetMirror: SetMirrorTx lists and unlists a pod's copy of a video,
// refuses another info hash
// with fedproto.ErrInvalid (changing nothing), and reports an unknown
// video as not found without error.
func TestSetMirror(t *testing.T) {
	fast, _ := clips(t)
	p := newPod(t)
	_, v, code := p.upload("alice", "mirrored", "", fast)
	if v.ID == "" {
		t.Fatal(code)
	}
	const mirror = "http://mirror.example"
	ref := fedproto.MirrorRef{VideoPod: p.svc.cfg.PodURL, VideoID: v.ID, InfoHash: v.InfoHash,
		WebseedURL: mirror + "/static/webseed/m.mp4", TorrentURL: mirror + "/api/v1/videos/m/torrent"}
	mirrorsOf := func() string {
		got, err := p.svc.Get(v.ID)
		if err != nil {
			t.Fatal(err)
		}
		var pods []string
		for _, m := range got.Mirrors {
			pods = append(pods, m.Pod)
		}
		if len(got.Mirrors) > 0 && !strings.Contains(got.Magnet, "m.mp4") {
			t.Errorf("magnet %s lacks the mirror's web seed", got.Magnet)
		}
		return strings.Join(pods, ",")
	}

	if found, err := p.setMirror(mirror, ref, true); !found || err != nil {
		t.Fatalf("add: found %v, %v", found, err)
	}
	if got := mirrorsOf(); got != mirror {
		t.Fatalf("mirrors after add: %q", got)
	}
	bad := ref
	bad.InfoHash = strings.Repeat("0", 40)
	if _, err := p.setMirror("http://other.example", bad, true); !errors.Is(err, fedproto.ErrInvalid) {
		t.Fatalf("another info hash: %v, want fedproto.ErrInvalid", err)
	}
	if got := mirrorsOf(); got != mirror {
		t.Fatalf("mirrors after a refused add: %q", got)
	}
	if found, err := p.setMirror(mirror, ref, false); !found || err != nil {
		t.Fatalf("remove: found %v, %v", found, err)
	}
	if got := mirrorsOf(); got != "" {
		t.Fatalf("mirrors after remove: %q", got)
	}
	unknown := ref
	unknown.VideoID = strings.Repeat("a", len(v.ID))
	if found, err := p.setMirror(mirror, unknown, true); found || err != nil {
		t.Fatalf("unknown video: found %v, %v", found, err)
	}
}

// TestMirrorResolutions: a mirror that lists lower resolutions (Files)
// is a web seed and tracker of each of those files only: in each file's
// magnet and in the url-list and announce-list of each file's .torrent at
// the origin; an announcement without files (a pod from before
// resolutions, or one that dropped them) means the best file only.
func TestMirrorResolutions(t *testing.T) {
	_, clip := testenv.MakeClip(t, testenv.Clip{Seconds: 1, Width: 640, Height: 360, Rate: 10, Faststart: true})
	p := newPod(t, withConfig(func(c *Config) { c.Ladder = []int{240} }))
	_, v, _ := p.upload("alice", "mirrored", "", clip)
	p.run()
	v = p.waitFiles(v.ID, 2, time.Minute)
	const mirror = "http://mirror.example"
	best, low := mirror+"/static/webseed/best.mp4", mirror+"/static/webseed/low.mp4"
	ref := fedproto.MirrorRef{VideoPod: p.svc.cfg.PodURL, VideoID: v.ID, InfoHash: v.InfoHash,
		WebseedURL: best, TorrentURL: mirror + "/api/v1/videos/m/torrent",
		Files: []api.MirrorFile{{InfoHash: v.Files[1].InfoHash, WebseedURL: low, TorrentURL: mirror + "/api/v1/videos/m/torrent?resolution=240"}}}
	// seeds returns, for each file, the mirror web seeds of its magnet
	// and of its .torrent's url-list, and whether its announce-list
	// names the mirror's tracker.
	seeds := func() (out [][]string) {
		t.Helper()
		got, err := p.svc.Get(v.ID)
		if err != nil || len(got.Files) != 2 {
			t.Fatalf("%+v %v", got.Files, err)
		}
		for _, f := range got.Files {
			var row []string
			m, err := torrentfile.ParseMagnet(f.Magnet)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range m.WebSeeds {
				if strings.HasPrefix(s, mirror) {
					row = append(row, "magnet:"+strings.TrimPrefix(s, mirror+"/static/webseed/"))
				}
			}
			r, tb := p.do("", "GET", strings.TrimPrefix(f.TorrentURL, p.svc.cfg.PodURL), nil, nil)
			mi, _, err := torrentfile.Parse(tb)
			if r.StatusCode != http.StatusOK || err != nil {
				t.Fatalf("%dp torrent: %d %v", f.Resolution, r.StatusCode, err)
			}
			for _, s := range mi.URLList {
				if strings.HasPrefix(s, mirror) {
					row = append(row, "torrent:"+strings.TrimPrefix(s, mirror+"/static/webseed/"))
				}
			}
			if slices.ContainsFunc(mi.AnnounceList, func(tier []string) bool { return slices.Contains(tier, mirror+"/tracker/announce") }) {
				row = append(row, "tracker")
			}
			out = append(out, row)
		}
		return out
	}
	if _, err := p.setMirror(mirror, ref, true); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"magnet:best.mp4", "torrent:best.mp4", "tracker"}, {"magnet:low.mp4", "torrent:low.mp4", "tracker"}}
	if got := seeds(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("with the mirror holding both files: %q, want %q", got, want)
	}
	ref.Files = nil
	if _, err := p.setMirror(mirror, ref, true); err != nil {
		t.Fatal(err)
	}
	want = [][]string{{"magnet:best.mp4", "torrent:best.mp4", "tracker"}, nil}
	if got := seeds(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("with the mirror holding the best file only: %q, want %q", got, want)
	}
}
