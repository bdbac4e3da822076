package videos

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
	"github.com/swarmtube/swarmtube/server/federation/fedproto"
	"github.com/swarmtube/swarmtube/server/ffmpeg"
)

// waitState polls the video as its owner until it leaves processing.
func (p *pod) waitState(user, id string, timeout time.Duration) api.Video {
	p.t.Helper()
	var v api.Video
	testenv.Eventually(p.t, timeout, id+" to leave processing", func() bool {
		v = api.Video{}
		if s := p.getJSON(user, "/api/v1/videos/"+id, &v); s != http.StatusOK {
			p.t.Fatalf("GET %s: %d", id, s)
		}
		return v.State != api.StateProcessing
	})
	return v
}

// TestTranscodeCorpus uploads every clip browsers cannot play as it is:
// each is accepted as processing (202), seen by its owner only, then
// published as an H.264/AAC MP4 with faststart, upright, with even
// dimensions; the pod leaves no temp or source file behind.
func TestTranscodeCorpus(t *testing.T) {
	corpus := testenv.Corpus(t, t.TempDir())
	// The converted best file only: the ladder has its own tests.
	p := newPod(t, withConfig(func(c *Config) { c.Ladder = []int{} }))
	p.run()
	ids := map[string]string{}
	for _, c := range corpus {
		data, err := os.ReadFile(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		status, v, code := p.upload("alice", c.Name, "", data)
		if status != http.StatusAccepted || v.State != api.StateProcessing || v.Processing == nil || v.InfoHash != "" {
			t.Fatalf("%s: %d %s %+v", c.Name, status, code, v)
		}
		for _, who := range []string{"", "bob"} {
			if s := p.getJSON(who, "/api/v1/videos/"+v.ID, &api.Video{}); s != http.StatusNotFound {
				t.Fatalf("%s: %q sees a processing video: %d", c.Name, who, s)
			}
		}
		ids[c.Name] = v.ID
	}
	var list api.VideoList
	p.getJSON("alice", "/api/v1/videos?count=100", &list)
	for _, v := range list.Data {
		if v.State != api.StatePublished {
			t.Fatalf("an unpublished video is listed: %+v", v)
		}
	}
	probe := ffmpeg.Find()
	for _, c := range corpus {
		v := p.waitState("alice", ids[c.Name], 3*time.Minute)
		if v.State != api.StatePublished || v.ContentType != "video/mp4" || !strings.HasSuffix(v.WebseedURL, ".mp4") || len(v.InfoHash) != 40 {
			t.Fatalf("%s: %+v", c.Name, v)
		}
		if v.Width != c.W || v.Height != c.H || v.Duration < 0.5 {
			t.Errorf("%s: published %dx%d %.2fs, want %dx%d", c.Name, v.Width, v.Height, v.Duration, c.W, c.H)
		}
		path, ok := p.svc.ResolveWebseed(filepath.Base(v.WebseedURL))
		if !ok {
			t.Fatalf("%s: no file", c.Name)
		}
		info, err := probe.Probe(t.Context(), path)
		if err != nil || !info.WebPlayable("mp4") || info.Audio == nil || info.Video.Width != c.W || info.Video.Height != c.H {
			t.Errorf("%s: output %+v %+v %v", c.Name, info.Video, info.Audio, err)
		}
		if s := p.getJSON("", "/api/v1/videos/"+v.ID, &api.Video{}); s != http.StatusOK {
			t.Errorf("%s: published but not public: %d", c.Name, s)
		}
		var ih [20]byte
		copy(ih[:], mustHex(t, v.InfoHash))
		if _, ok := p.seeder.path(ih); !ok {
			t.Errorf("%s: not seeded", c.Name)
		}
	}
	// A job removes its source just after its commit.
	if f := p.filesSettled("videos", len(corpus)); len(f) != len(corpus) {
		t.Errorf("videos/ holds %v", f)
	}
	for _, f := range p.files("videos") {
		if !strings.HasSuffix(f, ".mp4") || strings.HasPrefix(f, ".") {
			t.Errorf("left in videos/: %s", f)
		}
	}
	adds := 0
	for _, e := range p.outbox.all() {
		if e.kind == fedproto.EventAdd {
			adds++
		}
	}
	if adds != len(corpus) { // and an update per video once its images are made
		t.Errorf("%d federation add events, want one per video", adds)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var b []byte
	if err := json.Unmarshal([]byte(`"`+s+`"`), new(string)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(s); i += 2 {
		var x byte
		for _, c := range s[i : i+2] {
			x <<= 4
			switch {
			case c >= '0' && c <= '9':
				x |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				x |= byte(c-'a') + 10
			}
		}
		b = append(b, x)
	}
	return b
}

// TestTranscodeFailsPlainly: a job over its time limit ends as failed with
// a reason in plain words, its source removed; the owner can delete it.
func TestTranscodeFailsPlainly(t *testing.T) {
	data := clipsFFmpeg(t)(t, "mkv", "-c:v", "libx264", "-pix_fmt", "yuv420p")
	p := newPod(t, func(p *pod) { p.limit = time.Nanosecond })
	p.run()
	_, v, _ := p.upload("alice", "too slow", "", data)
	v = p.waitState("alice", v.ID, time.Minute)
	if v.State != api.StateFailed || !strings.Contains(v.Failure, "longer than this pod allows") || v.Processing != nil {
		t.Fatalf("%+v", v)
	}
	// The source goes just after the commit that marks the video failed.
	if f := p.filesSettled("videos", 0); len(f) != 0 {
		t.Fatalf("left behind: %v", f)
	}
	if r, _ := p.do("bob", "DELETE", "/api/v1/videos/"+v.ID, nil, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("bob deleted: %d", r.StatusCode)
	}
	if r, _ := p.do("alice", "DELETE", "/api/v1/videos/"+v.ID, nil, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if s := p.getJSON("alice", "/api/v1/videos/"+v.ID, &api.Video{}); s != http.StatusNotFound {
		t.Fatalf("after delete: %d", s)
	}
}

// TestTranscodeJobSurvivesRestart: a job interrupted by a stop (or a crash:
// its temp file is left) runs again at the next start and publishes, and
// nothing else remains.
func TestTranscodeJobSurvivesRestart(t *testing.T) {
	data := clipsFFmpeg(t)(t, "avi", "-c:v", "mpeg4")
	p := newPod(t)
	_, v, _ := p.upload("alice", "restarted", "", data) // no workers yet: queued
	p.close()
	// What kill -9 in the middle of ffmpeg leaves: a partial temp output.
	partial := filepath.Join(p.dir, "videos", ".tmp-"+v.ID+".mp4")
	if err := os.WriteFile(partial, []byte("half an mp4"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.open(p.seeder)
	p.run()
	v = p.waitState("alice", v.ID, time.Minute)
	if v.State != api.StatePublished {
		t.Fatalf("%+v", v)
	}
	if f := p.filesSettled("videos", 1); len(f) != 1 || f[0] != v.ID+".mp4" {
		t.Fatalf("videos/: %v", f)
	}
}

// filesSettled lists a data subdirectory once it holds n files, or after
// 10 s: a job removes its source just after the commit that publishes.
func (p *pod) filesSettled(sub string, n int) []string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var f []string
	testenv.Poll(ctx, func() bool { f = p.files(sub); return len(f) == n })
	return f
}

// TestJobCodec: jobs round-trip through their stored form, and a value
// stored before job kinds (a bare video id) is a transcode job.
func TestJobCodec(t *testing.T) {
	for _, tc := range []struct {
		stored string
		want   job
	}{
		{"abcdefghijklmnop", job{Kind: kindTranscode, Video: "abcdefghijklmnop"}},
		{`{"kind":"transcode","video":"abcdefghijklmnop"}`, job{Kind: kindTranscode, Video: "abcdefghijklmnop"}},
		{`{"kind":"future","video":"abcdefghijklmnop","resolution":360}`, job{Kind: "future", Video: "abcdefghijklmnop", Resolution: 360}},
	} {
		got, err := decodeJob([]byte(tc.stored))
		if err != nil || got != tc.want {
			t.Errorf("decodeJob(%s) = %+v, %v; want %+v", tc.stored, got, err, tc.want)
		}
	}
	if _, err := decodeJob([]byte(`{"kind":`)); err == nil {
		t.Error("a broken job decoded")
	}
	now := time.Now()
	a, b := jobKey(now, job{Kind: "x", Video: "v", Resolution: 360}), jobKey(now, job{Kind: "x", Video: "v", Resolution: 240})
	if string(a) == string(b) || string(a[:8]) != string(b[:8]) {
		t.Errorf("keys %q %q", a, b)
	}
}

// TestJobsListed: GET /api/v1/jobs shows admins the queue (kind, video,
// name, state), then the finished jobs; others are refused.
func TestJobsListed(t *testing.T) {
	data := clipsFFmpeg(t)(t, "avi", "-c:v", "mpeg4")
	p := newPod(t)
	_, v, _ := p.upload("alice", "listed job", "", data) // no workers yet: queued
	for user, want := range map[string]int{"": http.StatusUnauthorized, "alice": http.StatusForbidden} {
		if s := p.getJSON(user, "/api/v1/jobs", nil); s != want {
			t.Errorf("%q: %d, want %d", user, s, want)
		}
	}
	var list api.JobList
	if s := p.getJSON("admin", "/api/v1/jobs", &list); s != http.StatusOK || list.Queued != 1 || len(list.Data) != 1 {
		t.Fatalf("%d %+v", s, list)
	}
	if j := list.Data[0]; j.Kind != kindTranscode || j.Video != v.ID || j.Name != "listed job" || j.State != api.JobQueued || j.QueuedAt.IsZero() {
		t.Fatalf("%+v", j)
	}
	p.run()
	p.waitState("alice", v.ID, time.Minute)
	p.waitImages(v.ID, time.Minute)
	testenv.Eventually(t, 10*time.Second, "both jobs listed as done", func() bool {
		list = api.JobList{}
		p.getJSON("admin", "/api/v1/jobs", &list)
		done := map[string]bool{}
		for _, j := range list.Data {
			done[j.Kind] = j.State == api.JobDone && j.Video == v.ID && j.Name == "listed job" && !j.FinishedAt.IsZero()
		}
		return list.Queued == 0 && done[kindTranscode] && done[kindImages]
	})
}
