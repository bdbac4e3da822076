package videos

import (
	"errors"
	"strings"
	"testing"

	"github.com/swarmtube/swarmtube/server/federation/fedproto"
)

// TestSetMirror: the service-level SetMirror lists and unlists a pod's
// copy of a video in a transaction of its own, refuses another info hash
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

	if found, err := p.svc.SetMirror(mirror, ref, true); !found || err != nil {
		t.Fatalf("add: found %v, %v", found, err)
	}
	if got := mirrorsOf(); got != mirror {
		t.Fatalf("mirrors after add: %q", got)
	}
	bad := ref
	bad.InfoHash = strings.Repeat("0", 40)
	if _, err := p.svc.SetMirror("http://other.example", bad, true); !errors.Is(err, fedproto.ErrInvalid) {
		t.Fatalf("another info hash: %v, want fedproto.ErrInvalid", err)
	}
	if got := mirrorsOf(); got != mirror {
		t.Fatalf("mirrors after a refused add: %q", got)
	}
	if found, err := p.svc.SetMirror(mirror, ref, false); !found || err != nil {
		t.Fatalf("remove: found %v, %v", found, err)
	}
	if got := mirrorsOf(); got != "" {
		t.Fatalf("mirrors after remove: %q", got)
	}
	unknown := ref
	unknown.VideoID = strings.Repeat("a", len(v.ID))
	if found, err := p.svc.SetMirror(mirror, unknown, true); found || err != nil {
		t.Fatalf("unknown video: found %v, %v", found, err)
	}
}
