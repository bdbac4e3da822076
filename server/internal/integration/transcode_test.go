package integration

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
)

// TestTranscodeSurvivesKill9 kills a pod process with SIGKILL while ffmpeg
// is transcoding an upload: after a restart the job runs again and
// publishes the video, and the data directory holds nothing else (no
// partial output, no source, no stray torrent).
func TestTranscodeSurvivesKill9(t *testing.T) {
	ff := testenv.LookPath(t, "ffmpeg")
	src := filepath.Join(t.TempDir(), "clip.avi")
	// MPEG-4 Part 2 in AVI, 1080p: must be transcoded, and takes seconds.
	if out, err := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=duration=5:size=1920x1080:rate=25",
		"-f", "lavfi", "-i", "sine=duration=5", "-c:v", "mpeg4", "-q:v", "8", "-c:a", "mp3", src).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	clip, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := startPod(t, "pod1")
	v := p.upload("big avi", clip)
	if v.State != api.StateProcessing {
		t.Fatalf("%+v", v)
	}
	partial := filepath.Join(p.data, "videos", ".tmp-"+v.ID+".mp4")
	testenv.Eventually(t, time.Minute, "ffmpeg writing its output", func() bool {
		var got api.Video
		p.call(http.MethodGet, "/api/v1/videos/"+v.ID, nil, &got)
		fi, err := os.Stat(partial)
		return got.Processing != nil && got.Processing.Progress > 0 && err == nil && fi.Size() > 0
	})
	p.kill()
	if _, err := os.Stat(partial); err != nil {
		t.Fatalf("the crash should have left the partial output: %v", err)
	}

	p.start()
	var got api.Video
	testenv.Eventually(t, 3*time.Minute, "the job to finish after the restart", func() bool {
		got = api.Video{}
		p.call(http.MethodGet, "/api/v1/videos/"+v.ID, nil, &got)
		return got.State == api.StatePublished || got.State == api.StateFailed
	})
	if got.State != api.StatePublished || got.Width != 1920 || got.Height != 1080 || !strings.HasSuffix(got.WebseedURL, ".mp4") {
		t.Fatalf("%+v", got)
	}
	for dir, want := range map[string]string{"videos": v.ID + ".mp4", "torrents": v.ID + ".torrent"} {
		var entries []os.DirEntry
		// The source goes just after the publishing commit.
		testenv.Eventually(t, 10*time.Second, dir+"/ to settle", func() bool {
			entries, _ = os.ReadDir(filepath.Join(p.data, dir))
			return len(entries) == 1
		})
		if len(entries) != 1 || entries[0].Name() != want {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s/ holds %v, want only %s", dir, names, want)
		}
	}
	resp, err := http.Get(got.WebseedURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength != got.Size {
		t.Fatalf("web seed: %d, %d bytes of %d", resp.StatusCode, resp.ContentLength, got.Size)
	}
}
