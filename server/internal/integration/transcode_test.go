package integration

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swarmtube/swarmtube/internal/testenv"
	"github.com/swarmtube/swarmtube/server/api"
)

// TestTranscodeSurvivesKill9 kills a pod process with SIGKILL while ffmpeg
// is transcoding an upload: after a restart the job runs again and
// publishes the video. It kills it again while ffmpeg makes a lower
// resolution of the published video: the partial rendition is never
// listed, and after a restart its job finishes. In the end the data
// directory holds exactly the video's files and torrents (no partial
// output, no source, no stray torrent).
func TestTranscodeSurvivesKill9(t *testing.T) {
	// MPEG-4 Part 2 in AVI, 1080p: must be transcoded, and takes seconds.
	_, clip := testenv.MakeClip(t, testenv.Clip{Seconds: 5, Width: 1920, Height: 1080, Rate: 25, Pattern: "testsrc2", Audio: true,
		Ext: ".avi", Args: []string{"-c:v", "mpeg4", "-q:v", "8", "-c:a", "mp3"}})
	p := startPod(t, "pod1", "--resolutions", "720,240")
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

	// The ladder follows: kill the pod while ffmpeg writes the 720p file.
	partial = filepath.Join(p.data, "videos", ".tmp-"+v.ID+"-720p.mp4")
	testenv.Eventually(t, 2*time.Minute, "ffmpeg writing the 720p rendition", func() bool {
		fi, err := os.Stat(partial)
		return err == nil && fi.Size() > 0
	})
	p.kill()
	got = api.Video{}
	p.start()
	p.call(http.MethodGet, "/api/v1/videos/"+v.ID, nil, &got)
	if len(got.Files) != 1 {
		t.Fatalf("a rendition listed before its job finished: %+v", got.Files)
	}
	testenv.Eventually(t, 3*time.Minute, "the lower resolutions after the restart", func() bool {
		got = api.Video{}
		p.call(http.MethodGet, "/api/v1/videos/"+v.ID, nil, &got)
		return len(got.Files) == 3
	})
	if got.Files[1].Resolution != 720 || got.Files[1].Width != 1280 || got.Files[2].Resolution != 240 || got.Files[2].Width != 426 {
		t.Fatalf("files %+v", got.Files)
	}
	for dir, want := range map[string][]string{
		"videos":   {v.ID + "-240p.mp4", v.ID + "-720p.mp4", v.ID + ".mp4"},
		"torrents": {v.ID + "-240p.torrent", v.ID + "-720p.torrent", v.ID + ".torrent"},
	} {
		var names []string
		// The source goes just after the publishing commit.
		testenv.Eventually(t, 10*time.Second, dir+"/ to settle", func() bool {
			entries, _ := os.ReadDir(filepath.Join(p.data, dir))
			names = names[:0]
			for _, e := range entries {
				names = append(names, e.Name())
			}
			return slices.Equal(names, want)
		})
	}
	// Its images (made before the ladder's jobs) survived both crashes:
	// exactly the four files the record names, nothing partial.
	if got.ThumbnailURL == "" || got.PreviewURL == "" || got.StoryboardURL == "" {
		t.Fatalf("no images: %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Join(p.data, "images"))
	var images []string
	for _, e := range entries {
		images = append(images, e.Name())
	}
	for _, u := range []string{got.ThumbnailURL, got.PreviewURL, got.StoryboardURL} {
		if !slices.Contains(images, u[strings.LastIndexByte(u, '/')+1:]) {
			t.Errorf("images/ %v lacks %s", images, u)
		}
	}
	if len(images) != 4 {
		t.Errorf("images/ holds %v, want the thumbnail, preview, sprite and storyboard", images)
	}
	for _, f := range got.Files {
		resp, err := http.Get(f.WebseedURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ContentLength != f.Size {
			t.Fatalf("%dp web seed: %d, %d bytes of %d", f.Resolution, resp.StatusCode, resp.ContentLength, f.Size)
		}
	}
}
